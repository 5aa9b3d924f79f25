import CDNNL
import XCTest
@testable import NICCore

/// The up networks' bfloat16 body: when it is chosen or refused, that oneDNN runs it on its
/// AVX512_BF16 kernels, and how close it stays to float32 on the shipped networks.
final class BFloat16InferenceTests: XCTestCase {
    let bf16CPU = CPUFeatures(avx512VNNI: true, avx512BF16: true)

    func skipWithoutBF16() throws {
        try XCTSkipUnless(CPUFeatures.current.avx512BF16, "this CPU has no AVX512_BF16")
    }

    func testBF16IsRefusedWithoutAVX512BF16() throws {
        for cpu in [CPUFeatures(), CPUFeatures(avx512VNNI: true), CPUFeatures(avxVNNI: true)] {
            XCTAssertThrowsError(try PrecisionPlan(requested: .bf16, cpu: cpu, hasInt8Ranges: false)) { error in
                XCTAssertTrue("\(error)".contains("AVX512_BF16"), "\(error)")
            }
            XCTAssertThrowsError(try PrecisionRequest.bf16.check(on: cpu))
        }
        XCTAssertNoThrow(try PrecisionRequest.bf16.check(on: bf16CPU))
        XCTAssertNoThrow(try PrecisionRequest.int8.check(on: CPUFeatures()))
        let plan = try PrecisionPlan(requested: .bf16, cpu: bf16CPU, hasInt8Ranges: true)
        XCTAssertEqual(plan, try PrecisionPlan(requested: .bf16, cpu: bf16CPU, hasInt8Ranges: false))
        XCTAssertEqual(plan.precision, .bf16)
    }

    /// auto: int8 where VNNI and ranges meet, else bf16 where the CPU has AVX512_BF16, else fp32.
    func testAutoTakesBF16WhereInt8DoesNotApply() throws {
        func auto(_ cpu: CPUFeatures, ranges: Bool) throws -> InferencePrecision {
            try PrecisionPlan(requested: .auto, cpu: cpu, hasInt8Ranges: ranges).precision
        }
        XCTAssertEqual(try auto(bf16CPU, ranges: true), .int8)
        XCTAssertEqual(try auto(bf16CPU, ranges: false), .bf16)
        XCTAssertEqual(try auto(CPUFeatures(avx512BF16: true), ranges: true), .bf16)
        XCTAssertEqual(try auto(CPUFeatures(avx512VNNI: true), ranges: false), .fp32)
        XCTAssertEqual(try auto(CPUFeatures(), ranges: false), .fp32)
        let reason = try PrecisionPlan(requested: .auto, cpu: bf16CPU, hasInt8Ranges: false).reason
        XCTAssertTrue(reason.contains("AVX512_BF16") && reason.contains("int8 ranges"), reason)
        XCTAssertEqual(try PrecisionPlan(requested: .fp32, cpu: bf16CPU, hasInt8Ranges: false).precision, .fp32)
        // A down network (bf16 not measured there): float32 in auto, bf16 when asked.
        let down = try PrecisionPlan(requested: .auto, cpu: bf16CPU, hasInt8Ranges: false, bf16Measured: false)
        XCTAssertEqual(down.precision, .fp32, down.reason)
        XCTAssertTrue(down.reason.contains("up networks only"), down.reason)
        XCTAssertEqual(
            try PrecisionPlan(requested: .bf16, cpu: bf16CPU, hasInt8Ranges: false, bf16Measured: false).precision, .bf16)
    }

    func testBFloat16BodyConvertsTheConvolutionsOnly() throws {
        let convs = try (0..<3).map { _ in
            try Conv2d(inChannels: 1, outChannels: 1, kernel: 3, padding: 1, weights: .init(repeating: 0.1, count: 9))
        }
        let body = Sequential([PixelUnshuffle(factor: 1)] + convs + [PixelShuffle(factor: 1)]).bfloat16()
        XCTAssertEqual(body.layers.count, 5)
        XCTAssertTrue(body.layers.first is PixelUnshuffle && body.layers.last is PixelShuffle)
        let converted = body.layers[1...3].compactMap { $0 as? BFloat16Conv2d }
        XCTAssertEqual(converted.map(\.floatOutput), [false, false, true])
        XCTAssertTrue(zip(converted, convs).allSatisfy { $0.source === $1 })
        let split = Sequential([convs[0], PixelShuffle(factor: 1), convs[1]]).bfloat16().layers
        XCTAssertEqual(split.compactMap { ($0 as? BFloat16Conv2d)?.floatOutput }, [true, true])
        XCTAssertTrue(split[1] is PixelShuffle)
    }

    /// One convolution against float32: bfloat16 keeps 8 significant bits of the input and the
    /// weights, so on values in [0, 1] the result differs by a few parts in a thousand, not more;
    /// oneDNN runs it on an AVX512_BF16 kernel, never a reference one.
    func testConvolutionIsCloseToFloatOnAVX512BF16() throws {
        try skipWithoutBF16()
        var rng = SplitMix(seed: 7)
        let weights = (0..<(16 * 8 * 9)).map { _ in (rng.open01() - 0.5) * 0.2 }
        let conv = try Conv2d(
            inChannels: 8, outChannels: 16, kernel: 3, padding: 1, weights: weights,
            bias: (0..<16).map { Float($0) / 16 }, activation: .leakyReLU(0.1))
        let x = try Tensor(shape: [1, 8, 24, 40], values: (0..<(8 * 24 * 40)).map { _ in rng.open01() })
        let device = try ComputeDevice(threads: 1)
        let reference = try conv.forward(x, on: device).toArray(on: device)
        let bf16 = BFloat16Conv2d(conv, floatOutput: true)
        let out = try bf16.forward(x, on: device)
        XCTAssertEqual(out.dataType, dnnl_f32)
        let values = try out.toArray(on: device)
        let worst = zip(values, reference).map { abs($0 - $1) }.max() ?? .infinity
        let scale = reference.map(abs).max() ?? 0
        XCTAssertGreaterThan(worst, 0, "identical to float32: the bfloat16 path did not run")
        XCTAssertLessThan(worst, 0.01 * scale, "largest error \(worst) of values up to \(scale)")
        let implementation = try bf16.implementation(for: x, on: device)
        XCTAssertTrue(implementation.contains("bf16") && !implementation.contains("ref"), implementation)
        let chained = try BFloat16Conv2d(conv, floatOutput: false).forward(x, on: device)
        XCTAssertEqual(chained.dataType, dnnl_bf16)
        XCTAssertEqual(try chained.plain(on: device).count, values.count)
    }

    var store: ModelStore { get throws { try ModelStore(directory: ScalerNetworkGoldenTests.repository + "/models") } }

    /// Shipped networks of each kind (x2 and x1.5, video and stills): the bf16 output stays above
    /// 55 dB PSNR against float32 on the synthetic test image (62–69 dB measured for settings 1,
    /// 4, 7 and 13 on an AVX512_BF16 CPU; int8 gives 43–46 dB there), and differs from it.
    func testShippedNetworksStayCloseToFloatOnAVX512BF16() throws {
        try skipWithoutBF16()
        let store = try store
        let x = try LumaChroma(try TestPattern.make(width: 192, height: 128)).luma
        for id in [1, 4, 7, 13] {
            let network = try store.network(try store.setting(id: id), .up)
            let reference = try network.output(for: x, precision: .fp32, threads: 2),
                bf16 = try network.output(for: x, precision: .bf16, threads: 2)
            XCTAssertEqual(bf16.count, reference.count)
            let mse = zip(bf16, reference).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +) / Double(reference.count)
            XCTAssertGreaterThan(mse, 0, "setting \(id): identical to float32")
            XCTAssertGreaterThan(Quality.psnr(mse: mse * 255 * 255), 55, "setting \(id)")
        }
    }

    /// A shipped setting without int8 ranges: auto runs its up network in bf16 on a CPU with
    /// AVX512_BF16 and its down network (the encoder's) in float32 on any CPU.
    func testShippedNetworksAutoPlans() throws {
        let store = try store
        let setting = try store.setting(id: 1)
        XCTAssertNil(setting.up.int8)
        XCTAssertEqual(try store.network(setting, .up).precisionPlan(.auto, cpu: bf16CPU).precision, .bf16)
        XCTAssertEqual(try store.network(setting, .up).precisionPlan(.auto, cpu: CPUFeatures()).precision, .fp32)
        XCTAssertEqual(try store.network(setting, .down).precisionPlan(.auto, cpu: bf16CPU).precision, .fp32)
    }

    /// The bands do not depend on the workers, each runs on one thread: one and two threads give
    /// the same bits in bf16 too (a frame tall enough for several bands).
    func testBF16OutputIsTheSameOnOneAndTwoThreads() throws {
        try skipWithoutBF16()
        let network = try store.network(try store.setting(id: 4), .up)
        let x = try LumaChroma(try TestPattern.make(width: 200, height: 410)).luma
        XCTAssertTrue(try network.output(for: x, precision: .bf16, threads: 1) == network.output(for: x, precision: .bf16, threads: 2))
    }
}
