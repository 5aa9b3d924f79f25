import XCTest
@testable import FFGlue
@testable import NICCore
import NICBench

/// A small model directory with random networks of the exported shapes (settings 1: x2,
/// 2: x1.5, 9: generic x2; with `restoration`, also 3: x1 restoration behind x264), for tests
/// of the plumbing (selection, AI data carriage, fallbacks), not of the trained quality.
enum SyntheticModels {
    /// A tiny network of the exported shape: (un)shuffle → conv 3x3 → leaky ReLU → conv 3x3 → shuffle,
    /// on `planes` planes in and `outPlanes` out (a chroma network: 3 and 2, kind "chroma").
    static func network(
        kind: String, inBlock: Int, outBlock: Int, ratio: [Int], seed: UInt64, planes: Int = 1, outPlanes: Int = 1
    ) -> [UInt8] {
        let width = 4, inC = planes * inBlock * inBlock, outC = outPlanes * outBlock * outBlock
        var layers: [JSONValue] = []
        if inBlock > 1 { layers.append(.object(["op": .string("pixel_unshuffle"), "factor": .number(Double(inBlock))])) }
        for (i, (a, b)) in [(inC, width), (width, outC)].enumerated() {
            layers.append(
                .object([
                    "op": .string("conv2d"), "in_channels": .number(Double(a)), "out_channels": .number(Double(b)),
                    "kernel": .number(3), "padding": .number(1), "weight": .string("convs.\(i).weight"),
                    "bias_tensor": .string("convs.\(i).bias"),
                    "activation": i == 0 ? .string("leaky_relu") : .null, "negative_slope": .number(0.1),
                ]))
        }
        if outBlock > 1 { layers.append(.object(["op": .string("pixel_shuffle"), "factor": .number(Double(outBlock))])) }
        let architecture = JSONValue.object([
            "kind": .string(kind), "scale_rational": .array(ratio.map { .number(Double($0)) }), "layers": .array(layers),
            "residual_base": ratio[0] == ratio[1]
                ? .object(["op": .string("identity")]) : .object(["antialias": .bool(kind == "down")]),
        ])
        let w0 = ConvBenchmark.values(width * inC * 9, seed: seed).map { $0 * 0.1 }
        let w1 = ConvBenchmark.values(outC * width * 9, seed: seed + 1).map { $0 * 0.01 }
        return SafetensorsFile.serialize(
            [
                "convs.0.weight": ([width, inC, 3, 3], w0), "convs.0.bias": ([width], Array(repeating: 0, count: width)),
                "convs.1.weight": ([outC, width, 3, 3], w1), "convs.1.bias": ([outC], Array(repeating: 0, count: outC)),
            ],
            metadata: ["architecture": architecture.serialized])
    }

    static func write(to directory: String, restoration: Bool = false) throws {
        var files = [
            "x2_down.safetensors": network(kind: "down", inBlock: 2, outBlock: 1, ratio: [2, 1], seed: 1),
            "x2_up.safetensors": network(kind: "up", inBlock: 1, outBlock: 2, ratio: [2, 1], seed: 2),
            "x15_down.safetensors": network(kind: "down", inBlock: 3, outBlock: 2, ratio: [3, 2], seed: 3),
            "x15_up.safetensors": network(kind: "up", inBlock: 2, outBlock: 3, ratio: [3, 2], seed: 4),
            "generic_up.safetensors": network(kind: "up", inBlock: 1, outBlock: 2, ratio: [2, 1], seed: 5),
        ]
        if restoration { files["x1_up.safetensors"] = network(kind: "up", inBlock: 2, outBlock: 2, ratio: [1, 1], seed: 6) }
        for (name, bytes) in files { try writeFileBytes(bytes, path: directory + "/" + name) }
        func net(_ name: String) -> String { #"{"weights":"\#(name)","sha256":"\#(SHA256.hex(files[name]!))"}"# }
        let manifest = #"""
            {"format":"libnic-settings","version":1,"settings":[
             {"id":1,"kind":"joint","scale":[2,1],"bucket":"mid","quality_ranges":{"jpeg":[1,100],"webp":[1,100],"x264":[0,51],"x265":[0,51]},"down":\#(net("x2_down.safetensors")),"up":\#(net("x2_up.safetensors"))},
             {"id":2,"kind":"joint","scale":[3,2],"bucket":"mid","quality_ranges":{"jpeg":[1,100],"webp":[1,100],"x264":[0,51],"x265":[0,51]},"down":\#(net("x15_down.safetensors")),"up":\#(net("x15_up.safetensors"))},
             {"id":9,"kind":"generic","scale":[2,1],"bucket":"any","up":\#(net("generic_up.safetensors"))}\#(restoration ? "," : "")
             \#(restoration ? #"{"id":3,"kind":"restoration","scale":[1,1],"bucket":"mid","quality_ranges":{"x264":[0,51]},"up":"# + net("x1_up.safetensors") + "}" : "")]}
            """#
        try writeFileBytes(Array(manifest.utf8), path: directory + "/settings.json")
    }
}

/// A test case with a fresh folder holding the synthetic models, removed after each test.
class SyntheticModelTestCase: XCTestCase {
    var directory = ""
    var store: ModelStore!
    let device = try! ComputeDevice(threads: 1)

    override func setUpWithError() throws {
        FFmpegLogging.silence()
        directory = try TemporaryDirectory(prefix: "nic-test").path
        try SyntheticModels.write(to: directory)
        store = try ModelStore(directory: directory)
    }

    override func tearDown() { TemporaryDirectory(path: directory).remove() }

    func path(_ name: String) -> String { directory + "/" + name }
}
