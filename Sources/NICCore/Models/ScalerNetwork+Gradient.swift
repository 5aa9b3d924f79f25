/// Gradients through a scaler network with respect to its input, for encoder-side refinement
/// (`SmallImageRefiner`): the server adjusts the small image so that the up network's output
/// comes closer to the original. Weights stay fixed; only vector–Jacobian products are needed.
///
/// The adjoint of each layer is again a layer the engine already runs: a stride-1 "same"
/// convolution's adjoint is the convolution with the kernel flipped and the channel axes swapped,
/// pixel shuffle and unshuffle are each other's adjoint, and the bicubic base's adjoint
/// scatters with the same filter taps (`RowResampler.accumulateAdjoint`).
public final class ScalerNetworkGradient {
    public let network: ScalerNetwork
    /// The adjoint of each body layer, in the body's order.
    private let adjoints: [Layer]

    public init(_ network: ScalerNetwork) throws {
        self.network = network
        adjoints = try network.body.layers.map { layer in
            switch layer {
            case let shuffle as PixelShuffle: return PixelUnshuffle(factor: shuffle.factor)
            case let unshuffle as PixelUnshuffle: return PixelShuffle(factor: unshuffle.factor)
            case let conv as Conv2d: return try Self.transposed(conv)
            default: throw NICError.model("no gradient for layer \(type(of: layer))")
            }
        }
    }

    /// Bytes of the activations `trace` keeps for a `width` x `height` input (plus as much again
    /// while the backward pass runs).
    public func activationBytes(width: Int, height: Int) -> Int {
        let block = network.inputBlock
        var channels = 1, pixels = ((width + block - 1) / block * block) * ((height + block - 1) / block * block)
        var total = pixels
        for layer in network.body.layers {
            switch layer {
            case let u as PixelUnshuffle: channels *= u.factor * u.factor; pixels /= u.factor * u.factor
            case let s as PixelShuffle: channels /= s.factor * s.factor; pixels *= s.factor * s.factor
            case let c as Conv2d: channels = c.outChannels
            default: break
            }
            total += channels * pixels
        }
        return 2 * total * MemoryLayout<Float>.size
    }

    /// The activations of one forward pass, kept for the backward pass.
    public struct Trace {
        /// The network's output, `outputWidth` floats per row.
        public let output: [Float]
        public let outputWidth: Int, outputHeight: Int
        let inputWidth: Int, inputHeight: Int
        /// The padded input and every body layer's output (plain tensors).
        let activations: [Tensor]
    }

    /// Runs the network on one plane (`width` x `height` floats) in one piece, keeping what
    /// `inputGradient` needs. Memory: every layer's activations of the whole plane.
    public func trace(
        _ plane: [Float], width: Int, height: Int, outputWidth: Int, outputHeight: Int,
        on device: ComputeDevice
    ) throws -> Trace {
        let input = try Tensor(shape: [1, 1, height, width], values: plane)
        var activations = [try ScalerNetwork.padded(input, toMultipleOf: network.inputBlock)]
        for layer in network.body.layers {
            activations.append(try layer.forward(activations.last!, on: device).plain(on: device))
        }
        var output = [Float](repeating: 0, count: outputWidth * outputHeight)
        let base = RowResampler(
            source: (width, height), output: (outputWidth, outputHeight),
            kernel: network.base, mode: network.baseMode)
        let detail = activations.last!
        plane.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { out in
                base.resample(rows: 0..<outputHeight, from: source.baseAddress!, sourceStride: width, into: out.baseAddress!)
                ScalerNetwork.add(
                    detail, firstRow: 0, lastRow: detail.height - 1, to: out.baseAddress!,
                    rows: 0..<outputHeight, width: outputWidth)
            }
        }
        return Trace(
            output: output, outputWidth: outputWidth, outputHeight: outputHeight,
            inputWidth: width, inputHeight: height, activations: activations)
    }

    /// The gradient with respect to the input plane of Σ output · `outputGradient`.
    public func inputGradient(_ trace: Trace, outputGradient: [Float], on device: ComputeDevice) throws -> [Float] {
        let (w, h) = (trace.inputWidth, trace.inputHeight)
        guard outputGradient.count == trace.outputWidth * trace.outputHeight else {
            throw NICError.invalidArgument(
                "output gradient has \(outputGradient.count) values, expected \(trace.outputWidth * trace.outputHeight)")
        }
        var gradient = [Float](repeating: 0, count: w * h)
        let base = RowResampler(
            source: (w, h), output: (trace.outputWidth, trace.outputHeight),
            kernel: network.base, mode: network.baseMode)
        outputGradient.withUnsafeBufferPointer { g in
            gradient.withUnsafeMutableBufferPointer { s in
                base.accumulateAdjoint(of: g.baseAddress!, into: s.baseAddress!, sourceStride: w)
            }
        }
        var g = try detailGradient(trace, outputGradient)
        for index in adjoints.indices.reversed() {
            if let conv = network.body.layers[index] as? Conv2d {
                try Self.scaleByActivationSlope(g, output: trace.activations[index + 1], conv.activation)
            }
            g = try adjoints[index].forward(g, on: device).plain(on: device)
        }
        // The padded input repeated the last row and column: their gradients fold back onto them.
        g.withFloats { p in
            for y in 0..<g.height {
                for x in 0..<g.width {
                    gradient[min(y, h - 1) * w + min(x, w - 1)] += p[y * g.width + x]
                }
            }
        }
        return gradient
    }

    /// The gradient on the body's output grid: the adjoint of `ScalerNetwork.add` (extra detail
    /// rows or columns were cropped, a missing last row or column repeated the previous one).
    private func detailGradient(_ trace: Trace, _ outputGradient: [Float]) throws -> Tensor {
        let detail = trace.activations.last!
        let (dw, dh) = (detail.width, detail.height)
        let g = try Tensor(zeros: detail.shape)
        g.withFloats { d in
            for y in 0..<trace.outputHeight {
                let row = min(y, dh - 1) * dw
                for x in 0..<trace.outputWidth { d[row + min(x, dw - 1)] += outputGradient[y * trace.outputWidth + x] }
            }
        }
        return g
    }

    /// g ×= f'(pre-activation), read from the layer's output (leaky ReLU and ReLU keep the sign).
    private static func scaleByActivationSlope(_ g: Tensor, output: Tensor, _ activation: FusedActivation) throws {
        let negativeSlope: Float
        switch activation {
        case .none: return
        case .relu: negativeSlope = 0
        case .leakyReLU(let s): negativeSlope = s
        }
        guard g.shape == output.shape else { throw NICError.internal("gradient \(g.shape) vs activation \(output.shape)") }
        let count = g.count
        g.withFloats { gv in
            output.withFloats { a in
                let (gp, ap) = (gv.baseAddress!, a.baseAddress!)
                // A select instead of a branch, so that the loop vectorises.
                for i in 0..<count { gp[i] = ap[i] > 0 ? gp[i] : gp[i] * negativeSlope }
            }
        }
    }

    /// The adjoint of a stride-1 convolution with "same" padding: kernel flipped, channels swapped.
    private static func transposed(_ conv: Conv2d) throws -> Conv2d {
        let k = conv.kernel
        guard conv.stride == 1, k % 2 == 1, conv.padding == k / 2 else {
            throw NICError.model(
                "gradient needs stride-1 'same' convolutions, got kernel \(k) stride \(conv.stride) padding \(conv.padding)")
        }
        let (inC, outC) = (conv.inChannels, conv.outChannels)
        var flipped = [Float](repeating: 0, count: conv.weights.count)
        for o in 0..<outC {
            for i in 0..<inC {
                for y in 0..<k {
                    for x in 0..<k {
                        flipped[((i * outC + o) * k + (k - 1 - y)) * k + (k - 1 - x)] = conv.weights[((o * inC + i) * k + y) * k + x]
                    }
                }
            }
        }
        return try Conv2d(inChannels: outC, outChannels: inC, kernel: k, stride: 1, padding: k / 2, weights: flipped)
    }
}
