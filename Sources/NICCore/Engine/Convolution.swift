import CDNNL

/// 2-D convolution (PyTorch `Conv2d` semantics: OIHW weights, symmetric zero padding),
/// with an optional activation fused into the same pass.
public final class Conv2d: Layer {
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int
    public let activation: FusedActivation
    let weights: [Float]
    let bias: [Float]

    public init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                weights: [Float], bias: [Float]? = nil, activation: FusedActivation = .none) throws {
        guard inChannels > 0, outChannels > 0, kernel > 0, stride > 0, padding >= 0 else {
            throw NICError.model("invalid convolution geometry")
        }
        try requireCount(weights, outChannels * inChannels * kernel * kernel, "convolution weights")
        try requireCount(bias ?? Array(repeating: 0, count: outChannels), outChannels, "convolution bias")
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernel = kernel
        self.stride = stride; self.padding = padding; self.activation = activation
        self.weights = weights; self.bias = bias ?? Array(repeating: 0, count: outChannels)
    }

    func outputShape(_ x: Tensor) throws -> [Int] {
        let h = (x.height + 2 * padding - kernel) / stride + 1
        let w = (x.width + 2 * padding - kernel) / stride + 1
        guard x.height + 2 * padding >= kernel, x.width + 2 * padding >= kernel else {
            throw NICError.dimensions("input \(x.shape) is smaller than the \(kernel)x\(kernel) kernel")
        }
        return [x.batch, outChannels, h, w]
    }

    public func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        try requireShape(x, channels: inChannels, "Conv2d")
        let plan = try device.cached(self, input: x.desc) { try ConvolutionPlan(conv: self, input: x, device: device) }
        return try plan.run(x, on: device)
    }
}

/// A convolution compiled for one input shape on one device: the primitive plus
/// weights already reordered into the layout it wants.
final class ConvolutionPlan {
    let primitive: Primitive
    let weights: Tensor
    let bias: Tensor
    let outputShape: [Int]

    init(conv: Conv2d, input x: Tensor, device: ComputeDevice) throws {
        outputShape = try conv.outputShape(x)
        let k = conv.kernel, p = conv.padding
        var src = try DNNL.desc(x.shape, tag: dnnl_format_tag_any)
        var wts = try DNNL.desc([conv.outChannels, conv.inChannels, k, k], tag: dnnl_format_tag_any)
        var bia = try DNNL.desc([conv.outChannels], tag: dnnl_a)
        var dst = try DNNL.desc(outputShape, tag: dnnl_format_tag_any)
        // Padding on the right makes the output size exactly PyTorch's floor formula.
        let padR = [(outputShape[2] - 1) * conv.stride + k - x.height - p,
                    (outputShape[3] - 1) * conv.stride + k - x.width - p].map(Int64.init)
        var op = dnnl_convolution_desc_t()
        try DNNL.check(dnnl_convolution_forward_desc_init(
            &op, dnnl_forward_inference, dnnl_convolution_direct, &src, &wts, &bia, &dst,
            [Int64(conv.stride), Int64(conv.stride)], [Int64(p), Int64(p)], padR), "convolution descriptor")
        let postOps = try PostOps()
        try postOps.append(conv.activation)
        try postOps.commit()
        primitive = try Primitive(opDesc: &op, attributes: postOps, engine: device.engine, what: "convolution")
        weights = try device.converted(try Tensor(shape: [conv.outChannels, conv.inChannels, k, k], values: conv.weights),
                                       to: primitive.md(arg: DNNL_ARG_WEIGHTS))
        bias = try Tensor(shape: [conv.outChannels], values: conv.bias)
    }

    func run(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        let src = try device.converted(x, to: primitive.md(arg: DNNL_ARG_SRC))
        let out = try Tensor(shape: outputShape, backendDesc: primitive.md(arg: DNNL_ARG_DST))
        try device.execute(primitive, [(DNNL_ARG_SRC, src), (DNNL_ARG_WEIGHTS, weights),
                                       (DNNL_ARG_BIAS, bias), (DNNL_ARG_DST, out)])
        return out
    }
}

/// Transposed 2-D convolution (PyTorch `ConvTranspose2d`: weights in (in, out, kH, kW)).
public final class ConvTranspose2d: Layer {
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, outputPadding: Int
    public let activation: FusedActivation
    let weights: [Float]
    let bias: [Float]

    public init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                outputPadding: Int = 0, weights: [Float], bias: [Float]? = nil,
                activation: FusedActivation = .none) throws {
        guard inChannels > 0, outChannels > 0, kernel > 0, stride > 0, padding >= 0,
              outputPadding >= 0, outputPadding < stride, outputPadding <= padding else {
            throw NICError.model("invalid transposed convolution geometry")
        }
        try requireCount(weights, inChannels * outChannels * kernel * kernel, "transposed convolution weights")
        try requireCount(bias ?? Array(repeating: 0, count: outChannels), outChannels, "transposed convolution bias")
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernel = kernel
        self.stride = stride; self.padding = padding; self.outputPadding = outputPadding
        self.activation = activation; self.weights = weights
        self.bias = bias ?? Array(repeating: 0, count: outChannels)
    }

    public func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        try requireShape(x, channels: inChannels, "ConvTranspose2d")
        let plan = try device.cached(self, input: x.desc) { try DeconvolutionPlan(layer: self, input: x, device: device) }
        return try plan.run(x, on: device)
    }
}

final class DeconvolutionPlan {
    let primitive: Primitive
    let weights: Tensor
    let bias: Tensor
    let outputShape: [Int]

    init(layer l: ConvTranspose2d, input x: Tensor, device: ComputeDevice) throws {
        let k = l.kernel
        let oh = (x.height - 1) * l.stride - 2 * l.padding + k + l.outputPadding
        let ow = (x.width - 1) * l.stride - 2 * l.padding + k + l.outputPadding
        guard oh > 0, ow > 0 else { throw NICError.dimensions("input \(x.shape) too small for ConvTranspose2d") }
        outputShape = [x.batch, l.outChannels, oh, ow]
        var src = try DNNL.desc(x.shape, tag: dnnl_format_tag_any)
        var wts = try DNNL.desc([l.outChannels, l.inChannels, k, k], tag: dnnl_format_tag_any)
        var bia = try DNNL.desc([l.outChannels], tag: dnnl_a)
        var dst = try DNNL.desc(outputShape, tag: dnnl_format_tag_any)
        let padL = [Int64(l.padding), Int64(l.padding)]
        let padR = [Int64(l.padding - l.outputPadding), Int64(l.padding - l.outputPadding)]
        var op = dnnl_deconvolution_desc_t()
        try DNNL.check(dnnl_deconvolution_forward_desc_init(
            &op, dnnl_forward_inference, dnnl_deconvolution_direct, &src, &wts, &bia, &dst,
            [Int64(l.stride), Int64(l.stride)], padL, padR), "deconvolution descriptor")
        let postOps = try PostOps()
        try postOps.append(l.activation)
        try postOps.commit()
        primitive = try Primitive(opDesc: &op, attributes: postOps, engine: device.engine, what: "deconvolution")
        // PyTorch stores (in, out, kH, kW); oneDNN's dims are (out, in, kH, kW): the iohw tag reads it as is.
        let source = try Tensor(shape: [l.outChannels, l.inChannels, k, k],
                                desc: try DNNL.desc([l.outChannels, l.inChannels, k, k], tag: dnnl_iohw), isPlain: false)
        l.weights.withUnsafeBytes { source.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        weights = try device.converted(source, to: primitive.md(arg: DNNL_ARG_WEIGHTS))
        bias = try Tensor(shape: [l.outChannels], values: l.bias)
    }

    func run(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        let src = try device.converted(x, to: primitive.md(arg: DNNL_ARG_SRC))
        let out = try Tensor(shape: outputShape, backendDesc: primitive.md(arg: DNNL_ARG_DST))
        try device.execute(primitive, [(DNNL_ARG_SRC, src), (DNNL_ARG_WEIGHTS, weights),
                                       (DNNL_ARG_BIAS, bias), (DNNL_ARG_DST, out)])
        return out
    }
}

extension PostOps {
    func append(_ activation: FusedActivation) throws {
        switch activation {
        case .none: break
        case .relu: try eltwise(dnnl_eltwise_relu)
        case .leakyReLU(let slope): try eltwise(dnnl_eltwise_relu, alpha: slope)
        }
    }
}
