import Glibc

/// A differentiable stand-in for coding a luma plane as baseline JPEG with nic's writer: 8x8
/// orthonormal DCT, the libjpeg-scaled luma table of a quality (DC step 8, as FFmpeg's MJPEG
/// encoder writes it), rounding, and a bit count fitted to libjpeg's Huffman coder. It is the
/// proxy the networks were trained through (training/aicodec/proxies.py `jpeg_proxy`).
struct LumaJPEGProxy {
    /// Quantiser step of each coefficient, natural (row-major) order.
    let steps: [Float]

    init(quality: Int) {
        var steps = JPEGQuantisation(quality: quality).luma.map(Float.init)
        steps[0] = 8
        self.steps = steps
    }

    /// Bits per coefficient: log2(1 + |q|) + nonzeroWeight · [q ≠ 0], a least-squares fit of
    /// libjpeg's bytes on training crops (about 6% rms error).
    static let nonzeroWeight: Float = 1.5

    struct Result {
        /// The decoded plane, 8-bit values as floats in [0, 1].
        var decoded: [Float]
        /// Estimated bits of the whole plane.
        var bits: Double
        /// The smooth bit count whose gradient `rateGradient` is (before rounding).
        var smoothBits: Double
        /// d bits / d sample, through a smooth version of the bit count (the rounding itself is
        /// passed straight through).
        var rateGradient: [Float]
    }

    /// Codes `plane` (`width` x `height` samples in [0, 1]); blocks past the edge repeat the last
    /// row and column, as JPEG encoders pad.
    func code(_ plane: [Float], width: Int, height: Int) -> Result {
        var result = Result(
            decoded: [Float](repeating: 0, count: plane.count), bits: 0, smoothBits: 0,
            rateGradient: [Float](repeating: 0, count: plane.count))
        let dct = Self.dct
        var block = [Float](repeating: 0, count: 64), coefficients = block, gradient = block, spatial = block
        for by in stride(from: 0, to: height, by: 8) {
            for bx in stride(from: 0, to: width, by: 8) {
                for y in 0..<8 {
                    for x in 0..<8 {
                        block[y * 8 + x] = plane[min(by + y, height - 1) * width + min(bx + x, width - 1)] * 255 - 128
                    }
                }
                Self.transform(block, dct, forward: true, into: &coefficients)
                for i in 0..<64 {
                    let v = coefficients[i] / steps[i], q = v.rounded(), a = abs(v)
                    result.bits += Double(log2(1 + abs(q)) + (q == 0 ? 0 : Self.nonzeroWeight))
                    result.smoothBits += Double(log2(1 + a) + Self.nonzeroWeight * min(a, 1))
                    let slope = 1 / ((1 + a) * Float(M_LN2)) + (a < 1 ? Self.nonzeroWeight : 0)
                    gradient[i] = (v < 0 ? -slope : slope) / steps[i]
                    coefficients[i] = q * steps[i]
                }
                Self.transform(coefficients, dct, forward: false, into: &spatial)
                Self.transform(gradient, dct, forward: false, into: &block)
                for y in 0..<8 {
                    for x in 0..<8 {
                        let (py, px) = (min(by + y, height - 1), min(bx + x, width - 1))
                        // Padding samples repeat an edge sample: their gradient belongs to it.
                        result.rateGradient[py * width + px] += block[y * 8 + x] * 255
                        guard by + y < height, bx + x < width else { continue }
                        result.decoded[py * width + px] = (min(255, max(0, spatial[y * 8 + x] + 128))).rounded() / 255
                    }
                }
            }
        }
        return result
    }

    /// D x Dᵀ (forward) or Dᵀ x D (inverse) of an 8x8 block; D is orthonormal, so the inverse is
    /// also the adjoint of the forward transform.
    private static func transform(_ x: [Float], _ d: [Float], forward: Bool, into out: inout [Float]) {
        var t = [Float](repeating: 0, count: 64)
        for k in 0..<8 {
            for j in 0..<8 {
                var s: Float = 0
                for i in 0..<8 { s += (forward ? d[k * 8 + i] : d[i * 8 + k]) * x[i * 8 + j] }
                t[k * 8 + j] = s
            }
        }
        for k in 0..<8 {
            for l in 0..<8 {
                var s: Float = 0
                for j in 0..<8 { s += t[k * 8 + j] * (forward ? d[l * 8 + j] : d[j * 8 + l]) }
                out[k * 8 + l] = s
            }
        }
    }

    /// The orthonormal 8-point DCT-II matrix, D[k][i].
    static let dct: [Float] = (0..<64).map { n in
        let (k, i) = n.quotientAndRemainder(dividingBy: 8)
        let a = k == 0 ? (1.0 / 8).squareRoot() : (2.0 / 8).squareRoot()
        return Float(a * cos(Double.pi * Double(2 * i + 1) * Double(k) / 16))
    }
}
