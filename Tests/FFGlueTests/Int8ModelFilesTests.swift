import XCTest
@testable import NICCore

/// An up network's int8 ranges file is checked like its weights: its sha256 in settings.json,
/// and the weights it was calibrated for.
final class Int8ModelFilesTests: XCTestCase {
    var directory = ""
    let weights = SyntheticModels.network(kind: "up", inBlock: 1, outBlock: 2, ratio: [2, 1], seed: 5)

    override func setUpWithError() throws { directory = try TemporaryDirectory(prefix: "nic-int8").path }
    override func tearDown() { TemporaryDirectory(path: directory).remove() }

    /// A model directory with one generic x2 setting whose up network has the ranges file `ranges`;
    /// `recordedSHA` replaces the ranges' true sha256 in the manifest.
    func store(ranges: String, recordedSHA: String? = nil) throws -> ModelStore {
        try writeFileBytes(weights, path: directory + "/up.safetensors")
        try writeFileBytes(Array(ranges.utf8), path: directory + "/up.int8.json")
        let sha = recordedSHA ?? SHA256.hex(Array(ranges.utf8))
        let manifest = #"""
            {"format":"libnic-settings","version":1,"settings":[{"id":9,"kind":"generic","scale":[2,1],"bucket":"any",
             "up":{"weights":"up.safetensors","sha256":"\#(SHA256.hex(weights))","int8":{"ranges":"up.int8.json","sha256":"\#(sha)"}}}]}
            """#
        try writeFileBytes(Array(manifest.utf8), path: directory + "/settings.json")
        return try ModelStore(directory: directory)
    }

    func ranges(for sha: String, _ values: String = "[1.0, 0.5]") -> String {
        #"{"format":"libnic-int8-ranges","version":1,"network_sha256":"\#(sha)","conv_inputs":\#(values)}"#
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

    func testNetworkWithoutRangesRefusesForcedInt8() throws {
        let network = try ScalerNetwork(
            architecture: try JSONValue.parse(try SafetensorsFile(bytes: weights).metadata["architecture"]!),
            weights: try SafetensorsFile(bytes: weights))
        XCTAssertEqual(try network.precisionPlan(.auto, cpu: CPUFeatures(avx512VNNI: true)).precision, .fp32)
        XCTAssertThrowsError(try network.precisionPlan(.int8))
    }
}
