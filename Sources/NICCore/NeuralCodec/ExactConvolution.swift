import CKernels

/// Convolution and transposed convolution whose every output value is computed by the same
/// sequence of IEEE-754 single-precision multiplies and adds on every machine, build and
/// thread count: for each output, `bias`, then `+ x * w` over (ky, kx, input channel) in that
/// order; never fused multiply-add, never reassociated. Lanes of the SIMD vectors are
/// independent outputs, so the vector width does not change any result.
///
/// The loops are C (`libnic_exact_conv_rows`, compiled without contraction for AVX-512, AVX2 and
/// baseline x86-64): groups of up to 4 output pixels (6 with AVX2) that read the same taps keep
/// their accumulators for a block of output channels (64 with AVX-512, 16 with AVX2) in registers
/// across the whole tap loop and share each weight load; the weights are packed per block, so a
/// block reads them as one sequential stream; a transposed convolution groups pixels of one output
/// parity, so no tap between the stride's input positions is ever visited.
///
/// The neural codec runs its hyper-synthesis with these layers, because the entropy decoder
/// selects its probability tables from that network's output and must agree with the encoder
/// bit for bit (docs/neural-codec.md).
///
/// Tensors are channels-last (`[height][width][channels]`) `Float` arrays.
final class ExactConvolution: @unchecked Sendable {  // immutable after init
    let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int
    let transposed: Bool
    let outputPadding: Int
    let leakySlope: Float?
    /// The weights in the layout the kernel of `instructionSet` reads (`libnic_exact_conv_pack`).
    private let weights: [Float]
    private let bias: [Float]
    private let paddedOut: Int
    /// The kernel's instruction set (`libnic_exact_conv_isa`).
    let instructionSet: Int32

    /// `weights` in PyTorch's layout: OIHW for a convolution, (in, out, kH, kW) when transposed.
    /// `instructionSet` caps the kernel's (tests): 0 the best the CPU has, 1 baseline x86-64, 2 AVX2.
    init(
        inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, outputPadding: Int = 0,
        transposed: Bool, weights w: [Float], bias: [Float], leakySlope: Float? = nil, instructionSet: Int32 = 0
    ) throws {
        try requireCount(w, inChannels * outChannels * kernel * kernel, "exact convolution weights")
        try requireCount(bias, outChannels, "exact convolution bias")
        guard stride >= 1, padding >= 0, outputPadding >= 0, outputPadding < stride || outputPadding == 0 else {
            throw NICError.model("invalid exact convolution geometry")
        }
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernel = kernel
        self.stride = stride; self.padding = padding; self.outputPadding = outputPadding
        self.transposed = transposed; self.leakySlope = leakySlope
        paddedOut = (outChannels + 15) / 16 * 16
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
        self.bias = bias + [Float](repeating: 0, count: paddedOut - outChannels)
        self.instructionSet = libnic_exact_conv_isa(instructionSet)
        weights = Self.pack(
            packed, inChannels: inChannels, kernel: kernel, paddedOut: paddedOut, isa: self.instructionSet)
    }

    /// `weights` (`[ky][kx][in][paddedOut]`) in the layout the kernel of `isa` reads.
    private static func pack(_ weights: [Float], inChannels: Int, kernel: Int, paddedOut: Int, isa: Int32) -> [Float] {
        var geometry = libnic_exact_conv_geometry()
        geometry.in_channels = Int32(inChannels)
        geometry.kernel = Int32(kernel)
        geometry.padded_out = Int32(paddedOut)
        let count = libnic_exact_conv_packed_count(&geometry, isa)
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            weights.withUnsafeBufferPointer { w in
                libnic_exact_conv_pack(&geometry, w.baseAddress!, buffer.baseAddress!, isa)
            }
            initialized = count
        }
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
        var geometry = libnic_exact_conv_geometry(
            in_height: Int32(height), in_width: Int32(width), in_channels: Int32(inChannels),
            out_height: Int32(oh), out_width: Int32(ow), out_channels: Int32(outChannels),
            padded_out: Int32(paddedOut), kernel: Int32(kernel), stride: Int32(stride), padding: Int32(padding),
            transposed: transposed ? 1 : 0, leaky: leakySlope == nil ? 0 : 1, slope: leakySlope ?? 0)
        var status = [Int32](repeating: 0, count: oh)  // per first row of a part: nonzero when it failed
        x.withUnsafeBufferPointer { src in
            weights.withUnsafeBufferPointer { w in
                bias.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { dst in
                        status.withUnsafeMutableBufferPointer { st in
                            let (dstBase, stBase) = (UnsafeSendable(dst.baseAddress!), UnsafeSendable(st.baseAddress!))
                            withUnsafePointer(to: &geometry) { g in
                                workers.parallelFor(oh) { rows in
                                    stBase.pointer[rows.lowerBound] = libnic_exact_conv_rows(
                                        g, src.baseAddress!, w.baseAddress!, b.baseAddress!, Int32(rows.lowerBound),
                                        Int32(rows.upperBound), dstBase.pointer, instructionSet)
                                }
                            }
                        }
                    }
                }
            }
        }
        if status.contains(where: { $0 != 0 }) { throw NICError.internal("out of memory in the exact convolution") }
        return (out, oh, ow)
    }
}

/// A pointer handed to parallel workers that write disjoint parts of one buffer.
struct UnsafeSendable<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}
