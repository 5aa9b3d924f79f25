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
        device.precision = .fp32  // the reference arithmetic, whatever this CPU would choose
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

    /// Large frames run in bands with a halo, each band computing its own share of the bicubic
    /// base: the result must be base + body of one pass over the whole frame, for every shipped
    /// network (small bands here, so that many seams are crossed; sizes off the block grid).
    func testBandedForwardEqualsOnePass() throws {
        let store = try ModelStore(directory: modelDirectory)
        let device = try ComputeDevice(threads: 2)
        device.precision = .fp32  // the reference arithmetic, whatever this CPU would choose
        var checked = Set<String>()
        for setting in store.manifest.settings {
            for (direction, file) in [(ScalerNetwork.Direction.down, setting.down), (.up, setting.up)] {
                guard let file, checked.insert(file.weights).inserted else { continue }
                let network = try store.network(setting, direction)
                let (h, w) = (network.inputBlock * 37 - 1, network.inputBlock * 11 + 1)
                let values = (0..<(h * w)).map { i in Float((i * 7919) % 1000) / 1000 }
                let input = try Tensor(shape: [1, 1, h, w], values: values)
                let (oh, ow) = (network.outputLength(h), network.outputLength(w))
                let whole = try onePass(network, input, outputHeight: oh, outputWidth: ow, on: device)
                var banded = [Float](repeating: .nan, count: oh * ow)
                try network.forward(
                    input, outputHeight: oh, outputWidth: ow, on: device,
                    bandPixels: (w + network.inputBlock) * network.inputBlock * 3
                ) { first, rows in
                    for i in rows.indices { banded[first * ow + i] = rows[i] }
                }
                XCTAssertLessThanOrEqual(maxAbsDifference(whole, banded), 1e-5, file.weights)
            }
        }
    }

    /// Every chroma network matches PyTorch on its fixture (chroma there as (C − 128) / 255, here in
    /// 0...255), in one band and in many small ones.
    func testEveryShippedChromaNetworkMatchesPyTorch() throws {
        let store = try ModelStore(directory: modelDirectory)
        let device = try ComputeDevice(threads: 2)
        device.precision = .fp32  // the reference arithmetic, whatever this CPU would choose
        var checked = Set<String>()
        for setting in store.manifest.settings {
            for file in setting.chroma.map(\.file) where checked.insert(file.weights).inserted {
                let stem = String(file.weights.prefix { $0 != "." })
                let golden = try SafetensorsFile(path: goldenDirectory + "/" + stem + ".safetensors")
                XCTAssertEqual(golden.metadata["weights_sha256"], file.sha256, "fixture of \(file.weights) is stale")
                let network = try store.chromaNetwork(file)
                let shape = golden.shape("input")!, (h, w) = (shape[2], shape[3]), n = h * w
                let input = try golden.floats("input"), expected = try golden.floats("output")
                let luma = try Tensor(shape: [1, 1, h, w], values: Array(input[0..<n]))
                let cb = input[n..<2 * n].map { $0 * 255 + 128 }, cr = input[2 * n..<3 * n].map { $0 * 255 + 128 }
                let want = expected.map { $0 * 255 + 128 }
                for bandPixels in [ChromaNetwork.bandPixels, w * 2] {
                    let out = try network.corrected(cb: cb, cr: cr, luma: luma, on: device, bandPixels: bandPixels)
                    let error = maxAbsDifference(out.cb + out.cr, want)
                    XCTAssertLessThanOrEqual(error, 255e-4, "\(file.weights), bands of \(bandPixels) pixels: max abs error \(error)")
                }
            }
        }
    }

    /// Reference: bicubic base of the whole plane + the body over the whole edge-padded plane.
    private func onePass(
        _ network: ScalerNetwork, _ x: Tensor, outputHeight oh: Int, outputWidth ow: Int,
        on device: ComputeDevice
    ) throws -> [Float] {
        var out = try TensorResize(.size(height: oh, width: ow), kernel: network.base, mode: network.baseMode)
            .forward(x, on: device).toArray(on: device)
        let padded = try ScalerNetwork.padded(x, toMultipleOf: network.inputBlock)
        let detail = try network.body.forward(padded, on: device).plain(on: device)
        let detailRows = try detail.toArray(on: device)
        for y in 0..<oh {
            for i in 0..<ow { out[y * ow + i] += detailRows[min(y, detail.height - 1) * detail.width + min(i, detail.width - 1)] }
        }
        return out
    }
}

/// getenv without Foundation.
enum ProcessInfoLite {
    static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}
