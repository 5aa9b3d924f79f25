/// Convolution and transposed convolution whose every output value is computed by the same
/// sequence of IEEE-754 single-precision multiplies and adds on every machine, build and
/// thread count: for each output, `bias`, then `+ x * w` over (ky, kx, input channel) in that
/// order; never fused multiply-add, never reassociated. Lanes of the SIMD vectors are
/// independent outputs, so the vector width does not change any result.
///
/// The neural codec runs its hyper-synthesis with these layers, because the entropy decoder
/// selects its probability tables from that network's output and must agree with the encoder
/// bit for bit (docs/neural-codec.md). They are slower than oneDNN, which is fine for a
/// network that runs at 1/16 of the image resolution.
///
/// Tensors are channels-last (`[height][width][channels]`) `Float` arrays.
final class ExactConvolution: @unchecked Sendable {  // immutable after init
    let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int
    let transposed: Bool
    let outputPadding: Int
    let leakySlope: Float?
    /// `[ky][kx][in][out]`, out padded to a multiple of 8.
    private let weights: [Float]
    private let bias: [Float]
    private let paddedOut: Int

    /// `weights` in PyTorch's layout: OIHW for a convolution, (in, out, kH, kW) when transposed.
    init(
        inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, outputPadding: Int = 0,
        transposed: Bool, weights w: [Float], bias: [Float], leakySlope: Float? = nil
    ) throws {
        try requireCount(w, inChannels * outChannels * kernel * kernel, "exact convolution weights")
        try requireCount(bias, outChannels, "exact convolution bias")
        guard stride >= 1, padding >= 0, outputPadding >= 0, outputPadding < stride || outputPadding == 0 else {
            throw NICError.model("invalid exact convolution geometry")
        }
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernel = kernel
        self.stride = stride; self.padding = padding; self.outputPadding = outputPadding
        self.transposed = transposed; self.leakySlope = leakySlope
        paddedOut = (outChannels + 7) / 8 * 8
        var packed = [Float](repeating: 0, count: kernel * kernel * inChannels * paddedOut)
        for o in 0..<outChannels {
            for i in 0..<inChannels {
                for ky in 0..<kernel {
                    for kx in 0..<kernel {
                        let source =
                            transposed
                            ? ((i * outChannels + o) * kernel + ky) * kernel + kx
                            : ((o * inChannels + i) * kernel + ky) * kernel + kx
                        packed[((ky * kernel + kx) * inChannels + i) * paddedOut + o] = w[source]
                    }
                }
            }
        }
        weights = packed
        self.bias = bias + [Float](repeating: 0, count: paddedOut - outChannels)
    }

    func outputSize(height h: Int, width w: Int) -> (height: Int, width: Int) {
        if transposed {
            return (
                (h - 1) * stride - 2 * padding + kernel + outputPadding,
                (w - 1) * stride - 2 * padding + kernel + outputPadding
            )
        }
        return ((h + 2 * padding - kernel) / stride + 1, (w + 2 * padding - kernel) / stride + 1)
    }

    /// Applies the layer to `x` (`height` x `width` x `inChannels`); rows are split over `workers`.
    func apply(_ x: [Float], height: Int, width: Int, workers: Workers) throws -> (values: [Float], height: Int, width: Int) {
        guard x.count == height * width * inChannels else {
            throw NICError.internal("exact convolution input has \(x.count) values, expected \(height * width * inChannels)")
        }
        let (oh, ow) = outputSize(height: height, width: width)
        guard oh > 0, ow > 0 else { throw NICError.dimensions("input \(width)x\(height) too small for the hyper-synthesis") }
        var out = [Float](repeating: 0, count: oh * ow * outChannels)
        x.withUnsafeBufferPointer { src in
            weights.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { dst in
                    let dstBase = UnsafeSendable(dst.baseAddress!)
                    workers.parallelFor(oh) { rows in
                        var acc = [Float](repeating: 0, count: paddedOut)
                        for oy in rows {
                            for ox in 0..<ow {
                                computePixel(
                                    oy, ox, src: src.baseAddress!, height: height, width: width,
                                    w: w.baseAddress!, acc: &acc)
                                let o = dstBase.pointer + (oy * ow + ox) * outChannels
                                for c in 0..<outChannels { o[c] = activate(acc[c]) }
                            }
                        }
                    }
                }
            }
        }
        return (out, oh, ow)
    }

    @inline(__always) private func activate(_ v: Float) -> Float {
        guard let slope = leakySlope, v < 0 else { return v }
        return v * slope
    }

    /// One output pixel into `acc`: bias, then the taps in (ky, kx, channel) order.
    @inline(__always)
    private func computePixel(
        _ oy: Int, _ ox: Int, src: UnsafePointer<Float>, height: Int, width: Int,
        w: UnsafePointer<Float>, acc: inout [Float]
    ) {
        let blocks = paddedOut / 8
        acc.withUnsafeMutableBufferPointer { a in
            let accV = UnsafeMutableRawPointer(a.baseAddress!).bindMemory(to: SIMD8<Float>.self, capacity: blocks)
            bias.withUnsafeBufferPointer { b in
                let biasV = UnsafeRawPointer(b.baseAddress!).bindMemory(to: SIMD8<Float>.self, capacity: blocks)
                for j in 0..<blocks { accV[j] = biasV[j] }
            }
            let wV = UnsafeRawPointer(w).bindMemory(to: SIMD8<Float>.self, capacity: weights.count / 8)
            for ky in 0..<kernel {
                guard let iy = sourceIndex(oy, ky, limit: height) else { continue }
                for kx in 0..<kernel {
                    guard let ix = sourceIndex(ox, kx, limit: width) else { continue }
                    let pixel = src + (iy * width + ix) * inChannels
                    var tap = (ky * kernel + kx) * inChannels * blocks
                    for i in 0..<inChannels {
                        let v = SIMD8<Float>(repeating: pixel[i])
                        for j in 0..<blocks {
                            let product = v * wV[tap + j]  // rounded on its own: no fused multiply-add
                            accV[j] = accV[j] + product
                        }
                        tap += blocks
                    }
                }
            }
        }
    }

    /// The input index that tap `k` of output `o` reads, or nil when it falls outside or
    /// (transposed) between the stride's input positions.
    @inline(__always) private func sourceIndex(_ o: Int, _ k: Int, limit: Int) -> Int? {
        if transposed {
            let t = o + padding - k
            guard t >= 0, t % stride == 0 else { return nil }
            let i = t / stride
            return i < limit ? i : nil
        }
        let i = o * stride - padding + k
        return i >= 0 && i < limit ? i : nil
    }
}

/// A pointer handed to parallel workers that write disjoint parts of one buffer.
struct UnsafeSendable<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}
