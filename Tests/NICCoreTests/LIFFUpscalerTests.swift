import XCTest
@testable import NICCore

/// The LIFF up-scaler matches PyTorch (training/liff/make_golden.py) at factors 1 to 4 per axis,
/// gives the same result whatever its bands, evaluates its filter MLPs once per phase, and
/// refuses bad sizes with a clear error.
final class LIFFUpscalerTests: XCTestCase {
    static func tiny() throws -> (LIFFNetwork, SafetensorsFile) {
        let file = try SafetensorsFile(path: Fixture.directory + "/liff_tiny.safetensors")
        let architecture = try JSONValue.parse(try XCTUnwrap(file.metadata["architecture"]))
        return (try LIFFNetwork(architecture: architecture, weights: file), file)
    }

    static func device() throws -> ComputeDevice {
        let device = try ComputeDevice(threads: 2)
        device.precision = .fp32  // the reference arithmetic, whatever this CPU would choose
        return device
    }

    func testMatchesPyTorchGolden() throws {
        let (network, file) = try Self.tiny()
        let device = try Self.device()
        let input = try Tensor(shape: try XCTUnwrap(file.shape("input")), values: try file.floats("input"))
        let sizes = try XCTUnwrap(JSONValue.parse(try XCTUnwrap(file.metadata["sizes"])).arrayValue)
        XCTAssertEqual(sizes.count, 4)
        for size in sizes {
            let pair = try XCTUnwrap(size.arrayValue?.compactMap(\.intValue))
            let (h, w) = (pair[0], pair[1])
            let expected = try file.floats("output_\(h)x\(w)", shape: [1, 3, h, w])
            let output = try network.forward(input, outputHeight: h, outputWidth: w, on: device)
            let error = maxAbsDifference(try output.toArray(on: device), expected)
            XCTAssertLessThanOrEqual(error, 1e-4, "\(h)x\(w): max abs error \(error)")
        }
    }

    /// Many small bands (odd sizes, x2.4 by x1.9) give the one-band result.
    func testBandsDoNotChangeTheResult() throws {
        let (network, _) = try Self.tiny()
        let device = try Self.device()
        let (h, w, oh, ow) = (41, 33, 97, 63)
        let values = (0..<(3 * h * w)).map { i in Float((i * 7919) % 1000) / 1000 }
        let input = try Tensor(shape: [1, 3, h, w], values: values)
        let whole = try network.forward(input, outputHeight: oh, outputWidth: ow, on: device).toArray(on: device)
        var banded = [Float](repeating: .nan, count: 3 * oh * ow)
        var bands = 0
        let lock = NSLock()
        try network.forward(input, outputHeight: oh, outputWidth: ow, on: device, bandPixels: 1) { first, rows in
            lock.lock()
            defer { lock.unlock() }
            bands += 1
            let n = rows.count / 3
            for c in 0..<3 {
                for i in 0..<n { banded[c * oh * ow + first * ow + i] = rows[c * n + i] }
            }
        }
        XCTAssertGreaterThan(bands, 3)
        XCTAssertLessThanOrEqual(maxAbsDifference(banded, whole), 1e-5)
    }

    /// x1.5 repeats its column phases every 3 pixels, x2 every 2: the MLP runs that often.
    func testFilterMLPRunsOncePerPhase() throws {
        let (network, _) = try Self.tiny()
        let x15 = AxisFilters(lowRes: 512, output: 768, otherScale: 0.5, network.filterX)
        XCTAssertEqual(x15.phaseCount, 3)
        XCTAssertEqual(x15.table.count, 3 * 3 * network.taps)
        XCTAssertEqual(x15.index.prefix(4), [0, 1, 1, 2])
        XCTAssertEqual(AxisFilters(lowRes: 7, output: 14, otherScale: 1, network.filterY).phaseCount, 2)
        XCTAssertEqual(AxisFilters(lowRes: 9, output: 9, otherScale: 1, network.filterY).phaseCount, 1)
    }

    /// Any output size with odd sides, rgb24 and gray8; pixels are the rounded float output.
    func testOddSizesAndFormats() throws {
        let (network, _) = try Self.tiny()
        let device = try Self.device()
        let (w, h, ow, oh) = (13, 7, 29, 19)
        let rgb = (0..<(3 * w * h)).map { UInt8(($0 * 37) % 256) }
        let image = try PlanarImage(format: .rgb24, width: w, height: h, planes: [rgb])
        let up = try network.upscale(image, width: ow, height: oh, device: device)
        XCTAssertEqual([up.width, up.height, up.planes[0].count], [ow, oh, 3 * ow * oh])
        let tensor = try Tensor(shape: [1, 3, h, w], values: (0..<(3 * w * h)).map { Float(rgb[($0 % (w * h)) * 3 + $0 / (w * h)]) / 255 })
        let reference = try network.forward(tensor, outputHeight: oh, outputWidth: ow, on: device).toArray(on: device)
        for (i, byte) in up.planes[0].enumerated() {
            let expected = reference[(i % 3) * ow * oh + i / 3] * 255
            XCTAssertLessThanOrEqual(abs(Float(byte) - min(max(expected, 0), 255)), 0.51, "pixel \(i)")
        }
        let gray = try PlanarImage(format: .gray8, width: w, height: h, planes: [Array(rgb.prefix(w * h))])
        let grayUp = try network.upscale(gray, width: 40, height: 7, device: device)
        XCTAssertEqual([grayUp.width, grayUp.height, grayUp.planes[0].count], [40, 7, 280])
    }

    func testBadArgumentsThrowClearErrors() throws {
        let (network, _) = try Self.tiny()
        let device = try Self.device()
        let image = try PlanarImage(format: .rgb24, width: 10, height: 8, planes: [[UInt8](repeating: 90, count: 240)])
        for (w, h) in [(9, 16), (41, 16), (20, 33), (20, 7)] {
            XCTAssertThrowsError(try network.upscale(image, width: w, height: h, device: device)) { error in
                guard case NICError.invalidArgument(let message) = error else { return XCTFail("\(w)x\(h): \(error)") }
                XCTAssertTrue(message.contains("1 to 4"), message)
            }
        }
        for (w, h) in [(0, 16), (20, 0), (-20, 16)] {
            XCTAssertThrowsError(try network.upscale(image, width: w, height: h, device: device)) { error in
                guard case NICError.dimensions = error else { return XCTFail("\(w)x\(h): \(error)") }
            }
        }
        let yuv = try PlanarImage(format: .yuv420p, width: 10, height: 8)
        XCTAssertThrowsError(try network.upscale(yuv, width: 20, height: 16, device: device)) { error in
            guard case NICError.invalidArgument = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try network.forward(try Tensor(zeros: [1, 1, 8, 10]), outputHeight: 16, outputWidth: 20, on: device))
    }

    /// The plan takes the LIFF route when forced and checks its factor range up front.
    func testPlanRoutesToLIFF() throws {
        let plan = try AIDecodePlan(
            found: .none, imageWidth: 100, imageHeight: 60, manifest: nil,
            options: .init(size: (330, 90), forcedLIFF: true))
        XCTAssertEqual(plan.route, .liff)
        XCTAssertNil(plan.fallbackReason)
        XCTAssertEqual([plan.width, plan.height], [330, 90])
        XCTAssertThrowsError(
            try AIDecodePlan(
                found: .none, imageWidth: 100, imageHeight: 60, manifest: nil,
                options: .init(size: (401, 90), forcedLIFF: true))
        ) { error in
            guard case NICError.invalidArgument = error else { return XCTFail("\(error)") }
        }
    }

    /// The shipped model loads through the model directory (sha256 checked) and beats bicubic
    /// (by 0.1 dB) on the synthetic test pattern, zone plate included, at x2 and at x1.5 by x3.
    func testShippedModelBeatsBicubic() throws {
        let store = try ModelStore(directory: ScalerNetworkGoldenTests.repository + "/models")
        let network = try store.liffNetwork()
        XCTAssertTrue(network === (try store.liffNetwork()), "loaded once")
        let device = try Self.device()
        let original = try TestPattern.make(width: 192, height: 144)
        for (w, h) in [(96, 72), (128, 48)] {
            let small = try ImageResize.resized(original, width: w, height: h, method: .bicubic, workers: device.workers)
            let liff = try network.upscale(small, width: 192, height: 144, device: device)
            let bicubic = try ImageResize.resized(small, width: 192, height: 144, method: .bicubic, workers: device.workers)
            let (gain, reference) = (try Quality.psnr(original, liff), try Quality.psnr(original, bicubic))
            XCTAssertGreaterThan(gain, reference + 0.1, "from \(w)x\(h): LIFF \(gain) dB, bicubic \(reference) dB")
        }
    }

    /// A model file that does not match its recorded sha256 is refused as a model error (the
    /// decoder then falls back to Lanczos).
    func testDamagedModelIsRefused() throws {
        let models = ScalerNetworkGoldenTests.repository + "/models/liff"
        let directory = try ScratchModelDirectory(folders: ["liff"])
        defer { directory.remove() }
        try directory.copy(models + "/../settings.json", to: "settings.json")
        try directory.copy(models + "/liff.json", to: "liff/liff.json")
        let record = try Data(contentsOf: URL(fileURLWithPath: models + "/liff.json"))
        let name = try XCTUnwrap(JSONValue.parse(Array(record))["model"]?.stringValue)
        try directory.writeDamaged(models + "/" + name, to: "liff/" + name)
        assertRefusedBySHA256(try ModelStore(directory: directory.path).liffNetwork())
    }
}
