import XCTest
@testable import NICCore

/// Encoder-side refinement: the input gradient of the scaler networks, the JPEG proxy's rate
/// gradient, and the refinement loop on shipped networks.
final class SmallImageRefinerTests: XCTestCase {
    var store: ModelStore { get throws { try ModelStore(directory: ScalerNetworkGoldenTests.repository + "/models") } }

    /// A deterministic plane with edges and texture, values in [0, 1].
    func plane(_ w: Int, _ h: Int, seed: Int = 1) -> [Float] {
        (0..<(w * h)).map { i in
            let (y, x) = i.quotientAndRemainder(dividingBy: w)
            let wave = 0.5 + 0.3 * sin(Float(x) * 0.7 + Float(seed)) * cos(Float(y) * 0.45)
            return min(1, max(0, wave + (x > w / 2 ? 0.15 : 0) + Float((i * 7919 + seed) % 97) / 970))
        }
    }

    func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

    /// Directional derivatives of Σ output · r match central differences, for an x2 and an x1.5
    /// up network (sizes off the block grid), and the trace's output is the network's output.
    func testInputGradientMatchesFiniteDifferences() throws {
        let device = try ComputeDevice(threads: 1)
        device.precision = .fp32  // the trace is the float32 network; auto may take bf16 or int8
        for id in [2, 5] {
            let setting = try XCTUnwrap(try store.manifest.settings.first { $0.id == id })
            let network = try store.network(setting, .up)
            let gradientNet = try ScalerNetworkGradient(network)
            let (w, h) = (network.inputBlock * 7 + 1, network.inputBlock * 5 + 1)
            let (ow, oh) = (network.outputLength(w), network.outputLength(h))
            let x = plane(w, h), r = plane(ow, oh, seed: 3).map { $0 - 0.5 }, d = plane(w, h, seed: 5).map { $0 - 0.5 }
            let trace = try gradientNet.trace(x, width: w, height: h, outputWidth: ow, outputHeight: oh, on: device)
            let direct = try network.forward(try Tensor(shape: [1, 1, h, w], values: x), outputHeight: oh, outputWidth: ow, on: device)
            XCTAssertLessThanOrEqual(maxAbsDifference(trace.output, try direct.toArray(on: device)), 1e-5)
            let g = try gradientNet.inputGradient(trace, outputGradient: r, on: device)
            func f(_ t: Float) throws -> Double {
                let moved = zip(x, d).map { $0 + t * $1 }
                return dot(try gradientNet.trace(moved, width: w, height: h, outputWidth: ow, outputHeight: oh, on: device).output, r)
            }
            let eps: Float = 1e-3
            let numeric = (try f(eps) - f(-eps)) / Double(2 * eps), analytic = dot(g, d)
            XCTAssertEqual(analytic, numeric, accuracy: 2e-3 * max(1, abs(numeric)), "setting \(id)")
        }
    }

    func testProxyRateGradientMatchesSmoothBitsAndQualityOrdersRate() throws {
        let (w, h) = (21, 13)
        let x = plane(w, h), d = plane(w, h, seed: 9).map { $0 - 0.5 }
        let proxy = LumaJPEGProxy(quality: 50)
        let coded = proxy.code(x, width: w, height: h)
        let eps: Float = 1e-4
        let up = proxy.code(zip(x, d).map { $0 + eps * $1 }, width: w, height: h).smoothBits
        let down = proxy.code(zip(x, d).map { $0 - eps * $1 }, width: w, height: h).smoothBits
        XCTAssertEqual(dot(coded.rateGradient, d), (up - down) / Double(2 * eps), accuracy: 1e-2 * max(1, abs(up - down) / Double(2 * eps)))
        // Finer quantisation: more bits and a closer picture.
        let fine = LumaJPEGProxy(quality: 100).code(x, width: w, height: h)
        let coarse = LumaJPEGProxy(quality: 10).code(x, width: w, height: h)
        XCTAssertGreaterThan(fine.bits, coded.bits)
        XCTAssertGreaterThan(coded.bits, coarse.bits)
        XCTAssertLessThanOrEqual(maxAbsDifference(fine.decoded, x), 2.5 / 255)
        XCTAssertGreaterThan(maxAbsDifference(coarse.decoded, x), 4 / 255)
    }

    /// The refinement lowers the proxy route's D + λR, keeps the plane on the 8-bit grid, and
    /// reports a plane too large for its memory budget instead of running it.
    func testRefinementLowersTheRouteCost() throws {
        let device = try ComputeDevice(threads: 2)
        let setting = try XCTUnwrap(try store.manifest.settings.first { $0.id == 2 })
        let down = try store.network(setting, .down), up = try ScalerNetworkGradient(try store.network(setting, .up))
        let (W, H) = (96, 192)
        let original = plane(W, H)
        let small = try down.forward(
            try Tensor(shape: [1, 1, H, W], values: original), outputHeight: H / 2,
            outputWidth: W / 2, on: device
        ).toArray(on: device).map(SmallImageRefiner.onGrid)
        let quality = 60
        func cost(_ s: [Float], lambda: Double) throws -> Double {
            let coded = LumaJPEGProxy(quality: quality).code(s, width: W / 2, height: H / 2)
            let out = try up.trace(coded.decoded, width: W / 2, height: H / 2, outputWidth: W, outputHeight: H, on: device).output
            let mse = zip(out, original).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(W * H)
            return mse + lambda * coded.bits / Double(s.count)
        }
        let refiner = SmallImageRefiner(iterations: 12)
        let outcome = try refiner.refine(
            small: small, width: W / 2, height: H / 2, original: original, originalWidth: W,
            originalHeight: H, up: up, quality: quality, on: device)
        let refined = outcome.plane
        XCTAssertEqual(refined, refined.map(SmallImageRefiner.onGrid))
        XCTAssertNotEqual(refined, small)
        XCTAssertGreaterThan(outcome.lambda, 0)
        let lambda = Double(outcome.lambda)
        XCTAssertEqual(try cost(small, lambda: lambda), outcome.costBefore, accuracy: 1e-9)
        XCTAssertEqual(try cost(refined, lambda: lambda), outcome.costAfter, accuracy: 1e-9)
        XCTAssertLessThan(outcome.costAfter, outcome.costBefore)
        // A budget below the whole plane's need: bands of 16 rows with context, same kind of result.
        var banded = refiner
        banded.memoryBudget = up.activationBytes(width: W / 2, height: 16 + 2 * 16)
        XCTAssertLessThan(banded.memoryBudget, up.activationBytes(width: W / 2, height: H / 2))
        let inBands = try banded.refine(
            small: small, width: W / 2, height: H / 2, original: original, originalWidth: W,
            originalHeight: H, up: up, quality: quality, on: device)
        XCTAssertEqual(inBands.plane, inBands.plane.map(SmallImageRefiner.onGrid))
        XCTAssertNotEqual(inBands.plane, small)
        XCTAssertLessThan(try cost(inBands.plane, lambda: lambda), try cost(small, lambda: lambda))
        let changedWhole = zip(refined, small).filter { $0 != $1 }.count
        let disagree = zip(refined, inBands.plane).filter { $0 != $1 }.count
        XCTAssertLessThan(disagree, changedWhole / 4, "bands should mostly agree with the whole-plane refinement")
        var tight = refiner
        tight.memoryBudget = 1000
        XCTAssertThrowsError(
            try tight.refine(
                small: small, width: W / 2, height: H / 2, original: original, originalWidth: W,
                originalHeight: H, up: up, quality: quality, on: device)
        ) { error in
            guard case SmallImageRefiner.Skip.tooLarge = error else { return XCTFail("\(error)") }
        }
    }
}
