import XCTest
@testable import FFGlue
@testable import NICCore
#if canImport(Glibc)
import Glibc
#endif

/// The still-image AI codec end to end on a small synthetic model directory:
/// the plumbing (selection, AI data in files, fallbacks), not the trained quality.
final class StillImageAICodecTests: XCTestCase {
    var directory = ""
    let device = try! ComputeDevice(threads: 1)

    override func setUpWithError() throws {
        FFmpegLogging.silence()
        directory = try TemporaryDirectory(prefix: "nic-aicodec").path
        try writeModelDirectory()
    }

    override func tearDown() { TemporaryDirectory(path: directory).remove() }

    /// A tiny network of the exported shape: (un)shuffle → conv 3x3 → leaky ReLU → conv 3x3 → shuffle.
    func network(kind: String, inBlock: Int, outBlock: Int, ratio: [Int], seed: UInt64) -> [UInt8] {
        let width = 4, inC = inBlock * inBlock, outC = outBlock * outBlock
        var layers: [JSONValue] = []
        if inBlock > 1 { layers.append(.object(["op": .string("pixel_unshuffle"), "factor": .number(Double(inBlock))])) }
        for (i, (a, b)) in [(inC, width), (width, outC)].enumerated() {
            layers.append(.object(["op": .string("conv2d"), "in_channels": .number(Double(a)), "out_channels": .number(Double(b)),
                                   "kernel": .number(3), "padding": .number(1), "weight": .string("convs.\(i).weight"),
                                   "bias_tensor": .string("convs.\(i).bias"),
                                   "activation": i == 0 ? .string("leaky_relu") : .null, "negative_slope": .number(0.1)]))
        }
        if outBlock > 1 { layers.append(.object(["op": .string("pixel_shuffle"), "factor": .number(Double(outBlock))])) }
        let architecture = JSONValue.object([
            "kind": .string(kind), "scale_rational": .array(ratio.map { .number(Double($0)) }), "layers": .array(layers),
            "residual_base": .object(["antialias": .bool(kind == "down")])])
        let w0 = ConvBenchmark.values(width * inC * 9, seed: seed).map { $0 * 0.1 }
        let w1 = ConvBenchmark.values(outC * width * 9, seed: seed + 1).map { $0 * 0.01 }
        return SafetensorsFile.serialize(["convs.0.weight": ([width, inC, 3, 3], w0), "convs.0.bias": ([width], Array(repeating: 0, count: width)),
                                          "convs.1.weight": ([outC, width, 3, 3], w1), "convs.1.bias": ([outC], Array(repeating: 0, count: outC))],
                                         metadata: ["architecture": architecture.serialized])
    }

    func writeModelDirectory() throws {
        let files = ["x2_down.safetensors": network(kind: "down", inBlock: 2, outBlock: 1, ratio: [2, 1], seed: 1),
                     "x2_up.safetensors": network(kind: "up", inBlock: 1, outBlock: 2, ratio: [2, 1], seed: 2),
                     "x15_down.safetensors": network(kind: "down", inBlock: 3, outBlock: 2, ratio: [3, 2], seed: 3),
                     "x15_up.safetensors": network(kind: "up", inBlock: 2, outBlock: 3, ratio: [3, 2], seed: 4),
                     "generic_up.safetensors": network(kind: "up", inBlock: 1, outBlock: 2, ratio: [2, 1], seed: 5)]
        for (name, bytes) in files { try writeFileBytes(bytes, path: directory + "/" + name) }
        func net(_ name: String) -> String { #"{"weights":"\#(name)","sha256":"\#(SHA256.hex(files[name]!))"}"# }
        let manifest = #"""
        {"format":"libnic-settings","version":1,"settings":[
         {"id":1,"kind":"joint","scale":[2,1],"bucket":"mid","quality_ranges":{"jpeg":[1,100],"webp":[1,100]},"down":\#(net("x2_down.safetensors")),"up":\#(net("x2_up.safetensors"))},
         {"id":2,"kind":"joint","scale":[3,2],"bucket":"mid","quality_ranges":{"jpeg":[1,100],"webp":[1,100]},"down":\#(net("x15_down.safetensors")),"up":\#(net("x15_up.safetensors"))},
         {"id":9,"kind":"generic","scale":[2,1],"bucket":"any","up":\#(net("generic_up.safetensors"))}]}
        """#
        try writeFileBytes(Array(manifest.utf8), path: directory + "/settings.json")
    }

    func decode(_ bytes: [UInt8], options: AIDecodePlan.Options = .init(), store: ModelStore? = nil) throws -> StillImageAICodec.DecodeResult {
        let contents = try ImageFile.readWithMetadata(data: bytes)
        return try StillImageAICodec.decode(contents, options: options, store: try store ?? ModelStore(directory: directory), device: device)
    }

    func testRoundTripEveryCodecAndScale() throws {
        let store = try ModelStore(directory: directory)
        let original = try TestPattern.make(width: 99, height: 61)
        for codec in [StillImageAICodec.SmallImageCodec.jpeg, .webp, .png] {
            for (scale, id) in [(2.0, 1), (1.5, 2)] {
                let result = try StillImageAICodec.encode(original, options: .init(codec: codec, quality: 80, scale: scale),
                                                          store: store, device: device)
                XCTAssertEqual(result.setting.id, id)
                XCTAssertEqual(result.record.downscaledWidth, Int((99 / scale).rounded()))
                let decoded = try decode(result.bytes, store: store)
                XCTAssertEqual(decoded.record, result.record, "\(codec) x\(scale)")
                XCTAssertEqual(decoded.plan.route, .network(settingID: id))
                XCTAssertNil(decoded.plan.fallbackReason)
                XCTAssertEqual([decoded.image.width, decoded.image.height], [99, 61])
                XCTAssertGreaterThan(try Quality.psnr(original, decoded.image), 15, "\(codec) x\(scale)")
            }
        }
    }

    func testMissingCorruptAndUnusableAIDataFallBack() throws {
        let store = try ModelStore(directory: directory)
        let original = try TestPattern.make(width: 64, height: 48)
        let encoded = try StillImageAICodec.encode(original, options: .init(codec: .png), store: store, device: device)
        let small = try ImageFile.read(data: encoded.bytes)

        let plain = try ImageFile.encode(small, format: .png)
        var r = try decode(plain)
        XCTAssertEqual(r.plan.route, .network(settingID: 9), "no AI data: generic setting")
        XCTAssertEqual(r.plan.fallbackReason, "no AI data")
        r = try decode(plain, options: .init(allowGenericFallback: false))
        XCTAssertEqual(r.plan.route, .classic(.lanczos))

        var text = try encoded.record.textForm()
        text.removeLast(); text.append(text.last == "0" ? "1" : "0")
        r = try decode(try ImageFile.encode(small, format: .png, metadataText: text))
        XCTAssertTrue(r.plan.fallbackReason?.hasPrefix("corrupt AI data") ?? false, r.plan.fallbackReason ?? "")
        XCTAssertEqual([r.image.width, r.image.height], [2 * small.width, 2 * small.height], "no trusted size: twice")

        var unknown = encoded.record
        unknown.settingID = 77
        r = try decode(try ImageFile.encode(small, format: .png, metadataText: try unknown.textForm()))
        XCTAssertEqual(r.plan.fallbackReason, "unknown NN setting ID 77")
        XCTAssertEqual([r.image.width, r.image.height], [64, 48], "recorded original size is kept")

        let resized = try ImageResize.resized(small, width: 30, height: 20, method: .bicubic, workers: .serial)
        r = try decode(try ImageFile.encode(resized, format: .png, metadataText: text))
        XCTAssertNotNil(r.plan.fallbackReason)
        r = try decode(try ImageFile.encode(resized, format: .png, metadataText: try encoded.record.textForm()))
        XCTAssertTrue(r.plan.fallbackReason?.contains("30x20") ?? false)

        r = try decode(encoded.bytes, options: .init(size: (100, 75)))
        XCTAssertEqual([r.image.width, r.image.height], [100, 75])
    }

    func testDamagedModelFileFallsBackToLanczos() throws {
        let original = try TestPattern.make(width: 40, height: 40)
        let encoded = try StillImageAICodec.encode(original, options: .init(codec: .png, scale: 2), store: try ModelStore(directory: directory),
                                                   device: device)
        try writeFileBytes(Array(repeating: 7, count: 100), path: directory + "/x2_up.safetensors")
        let r = try decode(encoded.bytes)
        XCTAssertEqual(r.plan.route, .classic(.lanczos))
        XCTAssertTrue(r.plan.fallbackReason?.contains("sha256") ?? false, r.plan.fallbackReason ?? "")
    }

    func testUnknownSettingOnEncodeIsAnError() throws {
        let store = try ModelStore(directory: directory)
        let image = try TestPattern.make(width: 32, height: 32)
        XCTAssertThrowsError(try StillImageAICodec.encode(image, options: .init(codec: .png, settingID: 5), store: store, device: device))
        XCTAssertThrowsError(try StillImageAICodec.encode(image, options: .init(codec: .png, settingID: 9), store: store, device: device))
        XCTAssertThrowsError(try StillImageAICodec.encode(image, options: .init(codec: .png, scale: 3), store: store, device: device))
    }
}
