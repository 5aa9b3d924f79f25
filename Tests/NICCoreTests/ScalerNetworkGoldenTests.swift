import XCTest
@testable import NICCore

/// Every network the shipped model directory names matches PyTorch on its golden
/// fixture (training/aicodec/make_model_golden.py), max abs error ≤ 1e-4, and the
/// fixture belongs to exactly that weights file (sha256).
final class ScalerNetworkGoldenTests: XCTestCase {
    static var repository: String {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }

    /// `NIC_TEST_MODELS`/`NIC_TEST_MODEL_GOLDEN` override the shipped models and fixtures.
    var modelDirectory: String { ProcessInfoLite.environment("NIC_TEST_MODELS") ?? Self.repository + "/models" }
    var goldenDirectory: String {
        ProcessInfoLite.environment("NIC_TEST_MODEL_GOLDEN") ?? Self.repository + "/Tests/NICCoreTests/Fixtures/models"
    }

    func testEveryShippedNetworkMatchesPyTorch() throws {
        let store = try ModelStore(directory: modelDirectory)
        XCTAssertGreaterThanOrEqual(store.manifest.settings.count, 1)
        let device = try ComputeDevice(threads: 2)
        var checked = Set<String>()
        for setting in store.manifest.settings {
            for (direction, file) in [(ScalerNetwork.Direction.down, setting.down), (.up, setting.up)] {
                guard let file, checked.insert(file.weights).inserted else { continue }
                let stem = String(file.weights.prefix { $0 != "." })
                let golden = try SafetensorsFile(path: goldenDirectory + "/" + stem + ".safetensors")
                XCTAssertEqual(golden.metadata["weights_sha256"], file.sha256, "fixture of \(file.weights) is stale")
                let network = try store.network(setting, direction)
                let input = try Tensor(shape: golden.shape("input")!, values: try golden.floats("input"))
                let expected = golden.shape("output")!
                let output = try network.forward(input, outputHeight: expected[2], outputWidth: expected[3], on: device)
                let error = maxAbsDifference(try output.toArray(on: device), try golden.floats("output"))
                XCTAssertLessThanOrEqual(error, 1e-4, "\(file.weights): max abs error \(error)")
            }
        }
        XCTAssertFalse(checked.isEmpty)
    }

    /// Large frames run through the body in bands with a halo: the result must be what one
    /// pass gives, for every shipped network (small bands here, so that many seams are crossed).
    func testBandedBodyEqualsOnePass() throws {
        let store = try ModelStore(directory: modelDirectory)
        let device = try ComputeDevice(threads: 2)
        var checked = Set<String>()
        for setting in store.manifest.settings {
            for (direction, file) in [(ScalerNetwork.Direction.down, setting.down), (.up, setting.up)] {
                guard let file, checked.insert(file.weights).inserted else { continue }
                let network = try store.network(setting, direction)
                let (h, w) = (network.inputBlock * 37, network.inputBlock * 11)
                let values = (0..<(h * w)).map { i in Float((i * 7919) % 1000) / 1000 }
                let input = try Tensor(shape: [1, 1, h, w], values: values)
                let whole = try network.body.forward(input, on: device).toArray(on: device)
                let banded = try network.bodyInBands(input, on: device, bandPixels: w * network.inputBlock * 3)
                    .toArray(on: device)
                XCTAssertEqual(whole.count, banded.count)
                XCTAssertLessThanOrEqual(maxAbsDifference(whole, banded), 1e-5, file.weights)
            }
        }
    }
}

/// getenv without Foundation.
enum ProcessInfoLite {
    static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}
