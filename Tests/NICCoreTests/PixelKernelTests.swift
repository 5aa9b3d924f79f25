import CKernels
import XCTest

@testable import NICCore

/// The C pixel kernels against the scalar arithmetic they stand for: equal bit for bit.
final class PixelKernelTests: XCTestCase {
    /// A plane of values with no pattern a mistake could hide behind.
    private func noise(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24) * 2 - 0.5
        }
    }

    /// Separable resampling written out: each output the bank's terms summed in tap order,
    /// horizontal pass first.
    private func scalarResample(
        _ source: [Float], _ size: (w: Int, h: Int), to out: (w: Int, h: Int), _ kernel: ResampleKernel, _ mode: ResampleMode
    )
        -> [Float]
    {
        let hb = FilterBank(inputSize: size.w, outputSize: out.w, kernel: kernel, mode: mode)
        let vb = FilterBank(inputSize: size.h, outputSize: out.h, kernel: kernel, mode: mode)
        var rows = [Float](repeating: 0, count: size.h * out.w)
        for y in 0..<size.h {
            for x in 0..<out.w {
                var sum: Float = 0
                for t in 0..<hb.taps { sum += hb.weights[x * hb.taps + t] * source[y * size.w + hb.first[x] + t] }
                rows[y * out.w + x] = sum
            }
        }
        var result = [Float](repeating: 0, count: out.h * out.w)
        for y in 0..<out.h {
            for t in 0..<vb.taps where vb.weights[y * vb.taps + t] != 0 {
                let w = vb.weights[y * vb.taps + t]
                for x in 0..<out.w { result[y * out.w + x] += w * rows[(vb.first[y] + t) * out.w + x] }
            }
        }
        return result
    }

    func testRowResamplerEqualsTheScalarSums() {
        let cases: [(source: (width: Int, height: Int), output: (width: Int, height: Int), ResampleKernel, ResampleMode)] = [
            ((96, 20), (192, 40), .bicubic(a: -0.75), .interpolate),  // network base, x2
            ((48, 10), (96, 20), .bicubic(a: -0.5), .antialiased),  // 4:2:0 chroma, x2
            ((142, 12), (213, 18), .bicubic(a: -0.75), .interpolate),  // x1.5
            ((60, 9), (90, 14), .lanczos3, .antialiased),
            ((64, 8), (128, 16), .lanczos3, .interpolate),
            ((100, 7), (163, 11), .bicubic(a: -0.5), .antialiased),  // no period
            ((200, 16), (100, 8), .lanczos3, .antialiased),  // shrinking
            ((5, 3), (10, 6), .bicubic(a: -0.75), .interpolate),  // too small to repeat
        ]
        for (i, c) in cases.enumerated() {
            let source = noise(c.source.width * c.source.height, seed: UInt64(i + 1))
            let resampler = RowResampler(source: c.source, output: c.output, kernel: c.2, mode: c.3)
            var result = [Float](repeating: .nan, count: c.output.width * c.output.height)
            source.withUnsafeBufferPointer { s in
                result.withUnsafeMutableBufferPointer { r in
                    // In two ranges of rows, as the band pipeline asks for them.
                    let half = c.output.height / 2
                    resampler.resample(rows: 0..<half, from: s.baseAddress!, sourceStride: c.source.width, into: r.baseAddress!)
                    resampler.resample(
                        rows: half..<c.output.height, from: s.baseAddress!, sourceStride: c.source.width,
                        into: r.baseAddress! + half * c.output.width)
                }
            }
            let expected = scalarResample(source, (c.source.width, c.source.height), to: (c.output.width, c.output.height), c.2, c.3)
            XCTAssertEqual(result.map(\.bitPattern), expected.map(\.bitPattern), "case \(i): \(c.source) -> \(c.output)")
        }
    }

    func testPeriodicBankCoversTheInteriorOfRationalScales() throws {
        func bank(_ n: Int, _ m: Int, _ kernel: ResampleKernel, _ mode: ResampleMode) -> PeriodicBank? {
            PeriodicBank(FilterBank(inputSize: n, outputSize: m, kernel: kernel, mode: mode), inputSize: n, outputSize: m)
        }
        let x2 = try XCTUnwrap(bank(960, 1920, .bicubic(a: -0.75), .interpolate))
        XCTAssertEqual([x2.period, x2.step], [2, 1])
        XCTAssertGreaterThanOrEqual(x2.blocks.count, 956)
        let x15 = try XCTUnwrap(bank(852, 1278, .bicubic(a: -0.5), .antialiased))
        XCTAssertEqual([x15.period, x15.step], [3, 2])
        XCTAssertGreaterThanOrEqual(x15.blocks.count, 420)
        XCTAssertNil(bank(100, 163, .bicubic(a: -0.5), .antialiased))
    }

    func testSampleConversionsEqualTheScalarExpressions() throws {
        let values: [Float] = [-1, -0.0, 0, 0.001, 0.5, 0.9999, 1, 1.2, .nan, .infinity, -.infinity] + noise(37, seed: 9)
        // 8-bit limited range: level = 219 v + 16, rounded and clamped to 0...255.
        let (gain, offset): (Float, Float) = (219, 16)
        var out = [UInt8](repeating: 7, count: values.count)
        values.withUnsafeBufferPointer { v in
            out.withUnsafeMutableBufferPointer { libnic_kernel_narrow_u8(v.baseAddress!, values.count, gain, offset, 255, $0.baseAddress!) }
        }
        for (i, v) in values.enumerated() {
            let level = v * gain + offset + 0.5
            XCTAssertEqual(out[i], level.isNaN ? 0 : UInt8(min(max(level, 0), 255)), "value \(v)")
        }
        let bytes = (0...255).map(UInt8.init) + [3, 250, 17]
        var floats = [Float](repeating: .nan, count: bytes.count)
        bytes.withUnsafeBufferPointer { b in
            floats.withUnsafeMutableBufferPointer {
                libnic_kernel_widen_u8(b.baseAddress!, bytes.count, 1 / gain, -offset / gain, $0.baseAddress!)
            }
        }
        XCTAssertEqual(floats.map(\.bitPattern), bytes.map { (Float($0) * (1 / gain) + -offset / gain).bitPattern })
    }

    func testPixelShuffleAndUnshuffleMoveEveryValue() throws {
        let device = try ComputeDevice(threads: 2)
        for r in 1...4 {
            let (c, h, w) = (2, 3, 5)
            let values = (0..<(c * r * r * h * w)).map(Float.init)
            let planar = try Tensor(shape: [1, c * r * r, h, w], values: values)
            let spread = try PixelShuffle(factor: r).forward(planar, on: device)
            XCTAssertEqual(spread.shape, [1, c, h * r, w * r])
            let s = try spread.toArray(on: device)
            for ch in 0..<c {
                for y in 0..<(h * r) {
                    for x in 0..<(w * r) {
                        let source = ((ch * r + y % r) * r + x % r) * h * w + (y / r) * w + x / r
                        XCTAssertEqual(s[(ch * h * r + y) * w * r + x], values[source], "r \(r) at \(ch),\(y),\(x)")
                    }
                }
            }
            XCTAssertEqual(try PixelUnshuffle(factor: r).forward(spread, on: device).toArray(on: device), values, "r \(r)")
        }
    }
}
