import XCTest

@testable import NICCore

/// `ExactConvolution` bit for bit against a plain scalar loop: bias, then `+ x * w` over
/// (ky, kx, input channel), each product and sum rounded on its own, for the convolution
/// geometries of the codec's hyper networks, awkward channel counts and sizes, 1 and 2 workers
/// and every instruction set the kernel has that the CPU runs.
final class ExactConvolutionBitTests: XCTestCase {
    struct Geometry {
        let kernel: Int, stride: Int, padding: Int, outputPadding: Int, transposed: Bool
    }
    static let geometries = [
        Geometry(kernel: 3, stride: 1, padding: 1, outputPadding: 0, transposed: false),
        Geometry(kernel: 5, stride: 2, padding: 2, outputPadding: 0, transposed: false),
        Geometry(kernel: 5, stride: 2, padding: 2, outputPadding: 1, transposed: true),
    ]

    /// SplitMix64 values in -1...1, some exact zeros of either sign.
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            switch z % 29 {
            case 0: return 0
            case 1: return -0.0
            default: return Float(z >> 40) / Float(1 << 23) - 1
            }
        }
    }

    /// The definition, one output at a time; weights in PyTorch's layout.
    static func reference(
        _ g: Geometry, _ x: [Float], height h: Int, width w: Int, inChannels: Int, outChannels: Int,
        weights: [Float], bias: [Float], slope: Float?
    ) -> [Float] {
        let k = g.kernel
        let oh = g.transposed ? (h - 1) * g.stride - 2 * g.padding + k + g.outputPadding : (h + 2 * g.padding - k) / g.stride + 1
        let ow = g.transposed ? (w - 1) * g.stride - 2 * g.padding + k + g.outputPadding : (w + 2 * g.padding - k) / g.stride + 1
        func source(_ o: Int, _ t: Int, _ limit: Int) -> Int? {
            if g.transposed {
                let d = o + g.padding - t
                guard d >= 0, d % g.stride == 0, d / g.stride < limit else { return nil }
                return d / g.stride
            }
            let i = o * g.stride - g.padding + t
            return i >= 0 && i < limit ? i : nil
        }
        var out = [Float](repeating: 0, count: oh * ow * outChannels)
        for oy in 0..<oh {
            for ox in 0..<ow {
                for o in 0..<outChannels {
                    var acc = bias[o]
                    for ky in 0..<k {
                        guard let iy = source(oy, ky, h) else { continue }
                        for kx in 0..<k {
                            guard let ix = source(ox, kx, w) else { continue }
                            for i in 0..<inChannels {
                                let weight =
                                    g.transposed
                                    ? weights[((i * outChannels + o) * k + ky) * k + kx]
                                    : weights[((o * inChannels + i) * k + ky) * k + kx]
                                let product = x[(iy * w + ix) * inChannels + i] * weight
                                acc = acc + product
                            }
                        }
                    }
                    if let slope, acc < 0 { acc = acc * slope }
                    out[(oy * ow + ox) * outChannels + o] = acc
                }
            }
        }
        return out
    }

    func check(_ g: Geometry, inChannels: Int, outChannels: Int, height: Int, width: Int, slope: Float?) throws {
        let seed = UInt64(inChannels * 1_000_003 + outChannels * 1009 + height * 31 + width)
        let x = Self.values(height * width * inChannels, seed: seed)
        let weights = Self.values(outChannels * inChannels * g.kernel * g.kernel, seed: seed + 1).map { $0 * 0.25 }
        let bias = Self.values(outChannels, seed: seed + 2)
        let expected = Self.reference(
            g, x, height: height, width: width, inChannels: inChannels, outChannels: outChannels, weights: weights,
            bias: bias, slope: slope
        ).map(\.bitPattern)
        for instructionSet: Int32 in [0, 1, 2] {
            let layer = try ExactConvolution(
                inChannels: inChannels, outChannels: outChannels, kernel: g.kernel, stride: g.stride,
                padding: g.padding, outputPadding: g.outputPadding, transposed: g.transposed, weights: weights,
                bias: bias, leakySlope: slope, instructionSet: instructionSet)
            for workers in [1, 2] {
                let got = try layer.apply(x, height: height, width: width, workers: Workers(count: workers))
                let bits = got.values.map(\.bitPattern)
                let context =
                    "\(g) \(inChannels)->\(outChannels) \(width)x\(height) slope \(String(describing: slope)) "
                    + "workers \(workers) instruction set \(instructionSet)"
                XCTAssertEqual(bits.count, expected.count, context)
                let wrong = zip(bits, expected).filter { $0 != $1 }.count
                XCTAssertEqual(wrong, 0, "\(wrong) outputs differ: " + context)
            }
        }
    }

    func run(_ g: Geometry) throws {
        let channels = [(1, 1), (3, 17), (5, 12), (8, 16), (13, 70), (16, 144), (7, 200)]
        let sizes = [(1, 1), (1, 3), (3, 1), (5, 7), (6, 9)]
        for (inC, outC) in channels {
            for (h, w) in sizes {
                for slope: Float? in [nil, 0.01] { try check(g, inChannels: inC, outChannels: outC, height: h, width: w, slope: slope) }
            }
        }
        // the model's channel counts at a size with an interior
        try check(g, inChannels: 64, outChannels: 96, height: 6, width: 11, slope: 0.01)
    }

    func testConvolution3x3() throws { try run(Self.geometries[0]) }
    func testStridedConvolution5x5() throws { try run(Self.geometries[1]) }
    func testTransposedConvolution5x5() throws { try run(Self.geometries[2]) }
}
