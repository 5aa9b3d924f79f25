import XCTest
@testable import NICCore

/// The up networks' 8-bit body: when it is chosen, how close it stays to float32 on the shipped
/// networks, and that its output does not depend on the thread count.
final class Int8InferenceTests: XCTestCase {
    var store: ModelStore { get throws { try ModelStore(directory: ScalerNetworkGoldenTests.repository + "/models") } }

    /// The shipped settings whose up network has int8 ranges, with the network.
    func calibrated() throws -> [(NNSetting, ScalerNetwork)] {
        let store = try store
        return try store.manifest.settings.filter { $0.up.int8 != nil }.map { ($0, try store.network($0, .up)) }
    }

    /// Luma of the synthetic photo-like test image in [0, 1].
    func luma(width: Int, height: Int) throws -> Tensor {
        try LumaChroma(try TestPattern.make(width: width, height: height)).luma
    }

    func testAutoTakesInt8OnlyWithVNNIAndRanges() throws {
        let vnni = CPUFeatures(avx512VNNI: true), avxVNNI = CPUFeatures(avxVNNI: true), plain = CPUFeatures()
        XCTAssertEqual(try PrecisionPlan(requested: .auto, cpu: vnni, hasInt8Ranges: true).precision, .int8)
        XCTAssertEqual(try PrecisionPlan(requested: .auto, cpu: avxVNNI, hasInt8Ranges: true).precision, .int8)
        XCTAssertEqual(try PrecisionPlan(requested: .auto, cpu: plain, hasInt8Ranges: true).precision, .fp32)
        XCTAssertEqual(try PrecisionPlan(requested: .auto, cpu: vnni, hasInt8Ranges: false).precision, .fp32)
        XCTAssertEqual(try PrecisionPlan(requested: .fp32, cpu: vnni, hasInt8Ranges: true).precision, .fp32)
        XCTAssertEqual(try PrecisionPlan(requested: .int8, cpu: plain, hasInt8Ranges: true).precision, .int8)
        XCTAssertTrue(try PrecisionPlan(requested: .auto, cpu: plain, hasInt8Ranges: true).reason.contains("VNNI"))
        XCTAssertThrowsError(try PrecisionPlan(requested: .int8, cpu: vnni, hasInt8Ranges: false))
    }

    func testPrecisionNames() throws {
        XCTAssertEqual(try PrecisionRequest(parsing: "INT8"), .int8)
        XCTAssertEqual(try PrecisionRequest(parsing: "bf16"), .bf16)
        XCTAssertThrowsError(try PrecisionRequest(parsing: "fp16")) { error in
            XCTAssertTrue("\(error)".contains("choose auto, fp32, bf16 or int8"), "\(error)")
        }
    }

    func testQuantizedBodyNeedsOneRangePerConvolution() throws {
        let convs = try (0..<2).map { _ in
            try Conv2d(inChannels: 1, outChannels: 1, kernel: 3, padding: 1, weights: .init(repeating: 0.1, count: 9))
        }
        let body = Sequential([PixelUnshuffle(factor: 1)] + convs + [PixelShuffle(factor: 1)])
        XCTAssertThrowsError(try body.quantized(convolutionInputs: [1]))
        XCTAssertEqual(try body.quantized(convolutionInputs: [1, 1]).layers.count, 5)
        XCTAssertThrowsError(try Sequential([convs[0], PixelShuffle(factor: 1), convs[1]]).quantized(convolutionInputs: [1, 1]))
        XCTAssertThrowsError(try Int8Calibration(convolutionInputs: [1, 0]))
    }

    /// Every calibrated network: the int8 output stays close to float32 (PSNR against it above
    /// 35 dB on the synthetic test image, whose sharp edges and zone plate drive the activations
    /// further than photos do: 43–46 dB for settings 7–9 with the shipped ranges on an AVX2 CPU,
    /// 33–37 dB with ranges at the 99.999th percentile), and differs from it (the integer path ran).
    func testShippedInt8NetworksStayCloseToFloat() throws {
        let networks = try calibrated()
        XCTAssertFalse(networks.isEmpty, "no shipped network has int8 ranges")
        let x = try luma(width: 192, height: 128)
        for (setting, network) in networks {
            let reference = try network.output(for: x, precision: .fp32, threads: 2)
            let int8 = try network.output(for: x, precision: .int8, threads: 2)
            XCTAssertEqual(int8.count, reference.count)
            let mse = zip(int8, reference).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +) / Double(reference.count)
            XCTAssertGreaterThan(mse, 0, "setting \(setting.id): identical to float32")
            XCTAssertGreaterThan(Quality.psnr(mse: mse * 255 * 255), 35, "setting \(setting.id)")
        }
    }

    /// Integer sums are exact and the bands do not depend on the workers: one and two threads
    /// give the same bits (a frame tall enough for several bands).
    func testInt8OutputIsTheSameOnOneAndTwoThreads() throws {
        let x = try luma(width: 200, height: 410)
        for (setting, network) in try calibrated() {
            let one = try network.output(for: x, precision: .int8, threads: 1)
            let two = try network.output(for: x, precision: .int8, threads: 2)
            XCTAssertTrue(one == two, "setting \(setting.id): int8 output differs between 1 and 2 threads")
        }
    }

    /// The shipped networks whose ranges keep convolutions out of 8 bits (`float_convolutions`):
    /// their int8 body runs exactly those in bf16 (fp32 without AVX512_BF16) and the plan says
    /// so; the bound against float32 and the thread independence are the tests above, which
    /// cover them too.
    func testMixedNetworksRunTheirFloatConvolutionsOutsideInt8() throws {
        let mixed = try calibrated().filter { $0.1.int8FloatLayers != nil }
        XCTAssertFalse(mixed.isEmpty, "no shipped int8 network keeps a convolution out of 8 bits")
        for (setting, network) in mixed {
            let kept = network.int8FloatLayers!
            XCTAssertEqual(kept.precision, CPUFeatures.current.avx512BF16 ? .bf16 : .fp32)
            XCTAssertTrue(try network.precisionPlan(.int8).reason.hasSuffix(kept.reason), "setting \(setting.id)")
            let convolutions = network.int8Body!.layers.filter { $0 is Conv2d || $0 is BFloat16Conv2d || $0 is QuantizedConv2d }
            let inFloat = convolutions.indices.filter { !(convolutions[$0] is QuantizedConv2d) }
            XCTAssertEqual(inFloat, kept.convolutions, "setting \(setting.id)")
            XCTAssertTrue(
                inFloat.allSatisfy { (convolutions[$0] is BFloat16Conv2d) == (kept.precision == .bf16) }, "setting \(setting.id)")
        }
    }

    func testIntegerPathIsTheOneAutoReports() throws {
        for (_, network) in try calibrated() {
            let plan = try network.precisionPlan(.auto)
            XCTAssertEqual(plan.precision, CPUFeatures.current.hasVNNI ? .int8 : .fp32, plan.reason)
        }
    }
}

extension ScalerNetwork {
    /// The network's output for `x` at its natural size, on a device of `threads` workers asking for `precision`.
    func output(for x: Tensor, precision: PrecisionRequest, threads: Int) throws -> [Float] {
        let device = try ComputeDevice(threads: threads)
        device.precision = precision
        let out = try forward(x, outputHeight: outputLength(x.height), outputWidth: outputLength(x.width), on: device)
        return try out.toArray(on: device)
    }
}
