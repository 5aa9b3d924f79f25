import XCTest
@testable import NICCore

/// An up network's int8 ranges file is checked like its weights: its sha256 in settings.json,
/// the weights it was calibrated for and the convolutions it keeps out of 8 bits; so are separate int8 weights (`"network"` in the int8
/// entry), which must also have the float network's architecture.
final class Int8ModelFilesTests: XCTestCase {
    var directory = ""
    let weights = SyntheticModels.network(kind: "up", inBlock: 1, outBlock: 2, ratio: [2, 1], seed: 5)

    override func setUpWithError() throws { directory = try TemporaryDirectory(prefix: "nic-int8").path }
    override func tearDown() { TemporaryDirectory(path: directory).remove() }

    /// Weights of the same architecture as `weights`, other values (as quantisation-aware
    /// fine-tuning gives).
    let qatWeights = SyntheticModels.network(kind: "up", inBlock: 1, outBlock: 2, ratio: [2, 1], seed: 11)

    /// A model directory with one generic x2 setting whose up network has the ranges file `ranges`;
    /// `recordedSHA` replaces the ranges' true sha256 in the manifest. With `int8Weights`, the int8
    /// entry names them as `up_qat.safetensors` (written unless `writeInt8Weights` is false), with
    /// `int8WeightsSHA` in place of their true sha256 when given.
    func store(
        ranges: String, recordedSHA: String? = nil, int8Weights: [UInt8]? = nil, int8WeightsSHA: String? = nil,
        writeInt8Weights: Bool = true
    ) throws -> ModelStore {
        try writeFileBytes(weights, path: directory + "/up.safetensors")
        try writeFileBytes(Array(ranges.utf8), path: directory + "/up.int8.json")
        let sha = recordedSHA ?? SHA256.hex(Array(ranges.utf8))
        var network = ""
        if let int8Weights {
            if writeInt8Weights { try writeFileBytes(int8Weights, path: directory + "/up_qat.safetensors") }
            network = #","network":{"weights":"up_qat.safetensors","sha256":"\#(int8WeightsSHA ?? SHA256.hex(int8Weights))"}"#
        }
        let manifest = #"""
            {"format":"libnic-settings","version":1,"settings":[{"id":9,"kind":"generic","scale":[2,1],"bucket":"any",
             "up":{"weights":"up.safetensors","sha256":"\#(SHA256.hex(weights))","int8":{"ranges":"up.int8.json","sha256":"\#(sha)"\#(network)}}}]}
            """#
        try writeFileBytes(Array(manifest.utf8), path: directory + "/settings.json")
        return try ModelStore(directory: directory)
    }

    func ranges(for sha: String, _ values: String = "[1.0, 0.5]", float: String? = nil) -> String {
        let kept = float.map { #","float_convolutions":\#($0)"# } ?? ""
        return #"{"format":"libnic-int8-ranges","version":1,"network_sha256":"\#(sha)","conv_inputs":\#(values)\#(kept)}"#
    }

    func network(_ store: ModelStore) throws -> ScalerNetwork { try store.network(try store.setting(id: 9), .up) }

    func testCalibratedNetworkRunsInInt8WhenAsked() throws {
        let network = try network(try store(ranges: ranges(for: SHA256.hex(weights))))
        XCTAssertEqual(try network.precisionPlan(.int8).precision, .int8)
        let device = try ComputeDevice(threads: 1)
        device.precision = .int8
        let x = try Tensor(shape: [1, 1, 8, 8], values: (0..<64).map { Float($0) / 64 })
        let out = try network.forward(x, outputHeight: 16, outputWidth: 16, on: device)
        XCTAssertEqual(out.shape, [1, 1, 16, 16])
    }

    func testRangesFileMustMatchItsSHA256() throws {
        let store = try store(ranges: ranges(for: SHA256.hex(weights)), recordedSHA: String(repeating: "0", count: 64))
        XCTAssertThrowsError(try network(store)) { XCTAssertTrue("\($0)".contains("sha256"), "\($0)") }
    }

    func testRangesOfOtherWeightsAreRefused() throws {
        let store = try store(ranges: ranges(for: String(repeating: "a", count: 64)))
        XCTAssertThrowsError(try network(store)) { XCTAssertTrue("\($0)".contains("other weights"), "\($0)") }
    }

    func testRangesMustCoverEveryConvolution() throws {
        let store = try store(ranges: ranges(for: SHA256.hex(weights), "[1.0]"))
        XCTAssertThrowsError(try network(store))
    }

    /// The network's output for a fixed 8×8 input in `precision`.
    func output(_ network: ScalerNetwork, _ precision: PrecisionRequest) throws -> [Float] {
        let device = try ComputeDevice(threads: 1)
        device.precision = precision
        let x = try Tensor(shape: [1, 1, 8, 8], values: (0..<64).map { Float(($0 * 37) % 64) / 64 })
        return try network.forward(x, outputHeight: 16, outputWidth: 16, on: device).toArray(on: device)
    }

    /// A convolution the ranges keep out of 8 bits: the int8 body runs it in bf16 where the CPU
    /// has AVX512_BF16 (else fp32) and says so; the output is then neither the all-int8 one nor
    /// float32's, and the same on one and two threads.
    func testFloatConvolutionRunsOutsideInt8() throws {
        let mixed = try network(try store(ranges: ranges(for: SHA256.hex(weights), float: "[0]")))
        let allInt8 = try ScalerNetwork(
            architecture: try JSONValue.parse(try SafetensorsFile(bytes: weights).metadata["architecture"]!),
            weights: try SafetensorsFile(bytes: weights), int8: try Int8Calibration(convolutionInputs: [1.0, 0.5]))
        let plan = try mixed.precisionPlan(.int8)
        XCTAssertEqual(plan.precision, .int8)
        let inFloat = CPUFeatures.current.avx512BF16 ? "bf16" : "fp32 (no AVX512_BF16)"
        XCTAssertTrue(plan.reason.hasSuffix("convolution 1 of 2 in \(inFloat)"), plan.reason)
        XCTAssertFalse(try allInt8.precisionPlan(.int8).reason.contains("convolution"))
        XCTAssertEqual(try mixed.precisionPlan(.fp32).reason, "fp32 requested", "only an int8 plan names them")
        let out = try output(mixed, .int8)
        XCTAssertNotEqual(out, try output(allInt8, .int8))
        XCTAssertNotEqual(out, try output(mixed, .fp32))
        // Tall enough for several bands (ScalerNetwork.bandPixels).
        let x = try Tensor(shape: [1, 1, 3000, 24], values: (0..<72000).map { Float(($0 * 53) % 97) / 97 })
        let outputs = try [1, 2].map { threads in
            let device = try ComputeDevice(threads: threads)
            device.precision = .int8
            return try mixed.forward(x, outputHeight: 6000, outputWidth: 48, on: device).toArray(on: device)
        }
        XCTAssertTrue(outputs[0] == outputs[1], "the mixed int8 body differs between 1 and 2 threads")
    }

    /// Without AVX512_BF16 the kept convolution runs in float32, close to the bf16 one.
    func testFloatConvolutionRunsInFP32WithoutBF16() throws {
        let architecture = try JSONValue.parse(try SafetensorsFile(bytes: weights).metadata["architecture"]!)
        let calibration = try Int8Calibration(convolutionInputs: [1.0, 0.5], floatConvolutions: [1])
        let fp32 = try ScalerNetwork(
            architecture: architecture, weights: try SafetensorsFile(bytes: weights), int8: calibration, cpu: CPUFeatures())
        XCTAssertTrue(try fp32.precisionPlan(.int8).reason.hasSuffix("convolution 2 of 2 in fp32 (no AVX512_BF16)"))
        guard CPUFeatures.current.avx512BF16 else { return }
        let bf16 = try ScalerNetwork(
            architecture: architecture, weights: try SafetensorsFile(bytes: weights), int8: calibration,
            cpu: CPUFeatures(avx512BF16: true))
        let (a, b) = (try output(fp32, .int8), try output(bf16, .int8))
        XCTAssertNotEqual(a, b)
        XCTAssertLessThan(zip(a, b).map { abs($0 - $1) }.max()!, 0.01)
    }

    func testBadFloatConvolutionsAreModelErrors() throws {
        for bad in ["[2]", "[-1]", "[0, 1]", "[0, 0]", "[0.5]", "\"0\"", "{}"] {
            let store = try store(ranges: ranges(for: SHA256.hex(weights), float: bad))
            XCTAssertThrowsError(try network(store), bad) { error in
                guard case NICError.model(let message) = error else { return XCTFail("\(bad): \(error)") }
                XCTAssertTrue(message.contains("up.int8.json") && message.contains("float_convolutions"), "\(bad): \(message)")
            }
        }
        XCTAssertNoThrow(try network(try store(ranges: ranges(for: SHA256.hex(weights), float: "[]"))))
    }

    func testSeparateInt8WeightsBuildTheInt8BodyAndLeaveTheFloatOne() throws {
        let separate = try network(try store(ranges: ranges(for: SHA256.hex(qatWeights)), int8Weights: qatWeights))
        let float = try ScalerNetwork(
            architecture: try JSONValue.parse(try SafetensorsFile(bytes: weights).metadata["architecture"]!),
            weights: try SafetensorsFile(bytes: weights))
        let fromQAT = try ScalerNetwork(
            architecture: try JSONValue.parse(try SafetensorsFile(bytes: qatWeights).metadata["architecture"]!),
            weights: try SafetensorsFile(bytes: qatWeights), int8: try Int8Calibration(convolutionInputs: [1.0, 0.5]))
        XCTAssertEqual(try separate.precisionPlan(.int8).precision, .int8)
        XCTAssertEqual(try output(separate, .fp32), try output(float, .fp32), "the float body is the float weights'")
        XCTAssertEqual(try output(separate, .int8), try output(fromQAT, .int8), "the int8 body is the int8 weights'")
        XCTAssertNotEqual(try output(separate, .int8), try output(fromQAT, .fp32))
    }

    func testSeparateInt8WeightsNeedTheirOwnRanges() throws {
        let store = try store(ranges: ranges(for: SHA256.hex(weights)), int8Weights: qatWeights)
        XCTAssertThrowsError(try network(store)) { XCTAssertTrue("\($0)".contains("other weights"), "\($0)") }
    }

    func testSeparateInt8WeightsMustMatchTheirSHA256() throws {
        let store = try store(
            ranges: ranges(for: SHA256.hex(qatWeights)), int8Weights: qatWeights, int8WeightsSHA: String(repeating: "0", count: 64))
        XCTAssertThrowsError(try network(store)) { error in
            XCTAssertTrue("\(error)".contains("up_qat.safetensors does not match its sha256"), "\(error)")
        }
    }

    func testMissingSeparateInt8WeightsAreAModelError() throws {
        let store = try store(ranges: ranges(for: SHA256.hex(qatWeights)), int8Weights: qatWeights, writeInt8Weights: false)
        XCTAssertThrowsError(try network(store)) { error in
            guard case NICError.model(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("up_qat.safetensors"), message)
        }
    }

    func testSeparateInt8WeightsMustHaveTheFloatArchitecture() throws {
        let other = SyntheticModels.network(kind: "up", inBlock: 2, outBlock: 3, ratio: [3, 2], seed: 5)
        let store = try store(ranges: ranges(for: SHA256.hex(other)), int8Weights: other)
        XCTAssertThrowsError(try network(store)) { error in
            guard case NICError.model(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("another architecture"), message)
        }
    }

    func testInt8WeightsEntryNeedsAFileAndSHA256() throws {
        try writeFileBytes(weights, path: directory + "/up.safetensors")
        let manifest = #"""
            {"format":"libnic-settings","version":1,"settings":[{"id":9,"kind":"generic","scale":[2,1],"bucket":"any",
             "up":{"weights":"up.safetensors","sha256":"\#(SHA256.hex(weights))",
                   "int8":{"ranges":"up.int8.json","sha256":"00","network":{"weights":"../up.safetensors","sha256":"00"}}}}]}
            """#
        try writeFileBytes(Array(manifest.utf8), path: directory + "/settings.json")
        XCTAssertThrowsError(try ModelStore(directory: directory)) { XCTAssertTrue("\($0)".contains("int8 weights"), "\($0)") }
    }

    func testNetworkWithoutRangesRefusesForcedInt8() throws {
        let network = try ScalerNetwork(
            architecture: try JSONValue.parse(try SafetensorsFile(bytes: weights).metadata["architecture"]!),
            weights: try SafetensorsFile(bytes: weights))
        XCTAssertEqual(try network.precisionPlan(.auto, cpu: CPUFeatures(avx512VNNI: true)).precision, .fp32)
        XCTAssertThrowsError(try network.precisionPlan(.int8))
    }
}

/// A chroma network's int8 entry (`"int8"` in a setting's `"chroma"` list) is checked like an up
/// network's: sha256, the weights it was calibrated for, one range per convolution; chroma entries
/// name no separate int8 weights. Every mismatch is a model error.
final class ChromaInt8ModelFilesTests: XCTestCase {
    var directory = ""
    let up = SyntheticModels.network(kind: "up", inBlock: 1, outBlock: 2, ratio: [2, 1], seed: 5)
    let chroma = SyntheticModels.network(kind: "chroma", inBlock: 2, outBlock: 2, ratio: [2, 1], seed: 7, planes: 3, outPlanes: 2)

    override func setUpWithError() throws { directory = try TemporaryDirectory(prefix: "nic-chroma-int8").path }
    override func tearDown() { TemporaryDirectory(path: directory).remove() }

    /// A model directory with one x2 setting whose chroma network (for JPEG) has the ranges file
    /// `ranges`, recorded with `recordedSHA` (default its true sha256) and the extra fields `extra`.
    func chromaNetwork(ranges: String, recordedSHA: String? = nil, extra: String = "") throws -> ChromaNetwork {
        try writeFileBytes(up, path: directory + "/up.safetensors")
        try writeFileBytes(chroma, path: directory + "/c.safetensors")
        try writeFileBytes(Array(ranges.utf8), path: directory + "/c.int8.json")
        let sha = recordedSHA ?? SHA256.hex(Array(ranges.utf8))
        let manifest = #"""
            {"format":"libnic-settings","version":1,"settings":[{"id":9,"kind":"generic","scale":[2,1],"bucket":"any",
             "up":{"weights":"up.safetensors","sha256":"\#(SHA256.hex(up))"},
             "chroma":[{"weights":"c.safetensors","sha256":"\#(SHA256.hex(chroma))","codecs":["jpeg"],
                        "int8":{"ranges":"c.int8.json","sha256":"\#(sha)"\#(extra)}}]}]}
            """#
        try writeFileBytes(Array(manifest.utf8), path: directory + "/settings.json")
        let store = try ModelStore(directory: directory)
        return try store.chromaNetwork(try XCTUnwrap(try store.setting(id: 9).chromaNetwork(after: .jpeg)))
    }

    func ranges(for sha: String, _ values: String = "[1.0, 0.5]") -> String {
        #"{"format":"libnic-int8-ranges","version":1,"network_sha256":"\#(sha)","conv_inputs":\#(values)}"#
    }

    /// The corrected chroma of a fixed 24x16 picture in `precision`.
    func corrected(_ network: ChromaNetwork, _ precision: PrecisionRequest) throws -> [Float] {
        let device = try ComputeDevice(threads: 1)
        device.precision = precision
        let n = 24 * 16
        let luma = try Tensor(shape: [1, 1, 16, 24], values: (0..<n).map { Float(($0 * 37) % 64) / 64 })
        let (cb, cr) = try network.corrected(
            cb: (0..<n).map { Float(($0 * 11) % 255) }, cr: (0..<n).map { Float(($0 * 29) % 255) }, luma: luma, on: device)
        return cb + cr
    }

    func testCalibratedChromaNetworkRunsInInt8() throws {
        let network = try chromaNetwork(ranges: ranges(for: SHA256.hex(chroma)))
        XCTAssertEqual(try network.precisionPlan(.int8).precision, .int8)
        XCTAssertEqual(try network.precisionPlan(.auto, cpu: CPUFeatures(avx512VNNI: true)).precision, .int8)
        XCTAssertEqual(try network.precisionPlan(.auto, cpu: CPUFeatures(avx512BF16: true)).precision, .fp32)
        let (int8, fp32) = (try corrected(network, .int8), try corrected(network, .fp32))
        XCTAssertNotEqual(int8, fp32)
        XCTAssertLessThan(zip(int8, fp32).map { abs($0 - $1) }.max()!, 2, "int8 and fp32 corrections (0...255 units)")
    }

    func testChromaRangesMustMatchTheirSHA256() throws {
        XCTAssertThrowsError(try chromaNetwork(ranges: ranges(for: SHA256.hex(chroma)), recordedSHA: String(repeating: "0", count: 64))) {
            assertKind($0, "model")
            XCTAssertTrue("\($0)".contains("c.int8.json does not match its sha256"), "\($0)")
        }
    }

    func testChromaRangesOfOtherWeightsAreRefused() throws {
        XCTAssertThrowsError(try chromaNetwork(ranges: ranges(for: SHA256.hex(up)))) {
            assertKind($0, "model")
            XCTAssertTrue("\($0)".contains("other weights"), "\($0)")
        }
    }

    func testChromaRangesMustCoverEveryConvolution() throws {
        for bad in ["[1.0]", "[1.0, 0.5, 0.25]", "[1.0, 0]", "[1.0, \"a\"]"] {
            XCTAssertThrowsError(try chromaNetwork(ranges: ranges(for: SHA256.hex(chroma), bad)), bad) { assertKind($0, "model") }
        }
    }

    func testChromaInt8EntryNamesNoSeparateWeights() throws {
        let extra = #","network":{"weights":"c.safetensors","sha256":"\#(SHA256.hex(chroma))"}"#
        XCTAssertThrowsError(try chromaNetwork(ranges: ranges(for: SHA256.hex(chroma)), extra: extra)) {
            assertKind($0, "model")
            XCTAssertTrue("\($0)".contains("no separate weights"), "\($0)")
        }
    }

    /// Without ranges, int8 requested leaves the chroma network in float32 (the up network of the
    /// request decides whether int8 can run at all).
    func testChromaNetworkWithoutRangesRunsFP32WhenInt8IsRequested() throws {
        let network = try ChromaNetwork(
            architecture: try JSONValue.parse(try SafetensorsFile(bytes: chroma).metadata["architecture"]!),
            weights: try SafetensorsFile(bytes: chroma))
        let plan = try network.precisionPlan(.int8)
        XCTAssertEqual(plan.precision, .fp32)
        XCTAssertTrue(plan.reason.contains("no calibrated int8 ranges"), plan.reason)
        XCTAssertEqual(try corrected(network, .int8), try corrected(network, .fp32))
    }
}
