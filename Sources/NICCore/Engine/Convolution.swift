import CDNNL

/// 2-D convolution (PyTorch `Conv2d` semantics: OIHW weights, symmetric zero padding),
/// with an optional activation fused into the same pass.
public final class Conv2d: Layer {
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int
    public let activation: FusedActivation
    let weights: [Float]
    let bias: [Float]

    public init(
        inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
        weights: [Float], bias: [Float]? = nil, activation: FusedActivation = .none
    ) throws {
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

    /// oneDNN's right and bottom padding that makes the output size exactly PyTorch's floor formula.
    func rightPadding(input x: Tensor, output: [Int]) -> [Int64] {
        [(output[2] - 1) * stride + kernel - x.height - padding, (output[3] - 1) * stride + kernel - x.width - padding].map(Int64.init)
    }

    public func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        try requireShape(x, channels: inChannels, "Conv2d")
        let plan = try device.cached(self, input: x.desc) { try WeightedPlan.convolution(self, input: x, device: device) }
        return try plan.run(x, on: device)
    }
}

/// A convolution or deconvolution compiled for one input layout on one device:
/// the primitive plus weights already reordered into the layout it wants.
final class WeightedPlan {
    let primitive: Primitive
    let weights: Tensor
    let bias: Tensor
    let outputShape: [Int]

    /// `weightsSource` holds the weights in the layout they were given in (plain or PyTorch's).
    init(primitive: Primitive, weightsSource: Tensor, bias: [Float], outputShape: [Int], device: ComputeDevice) throws {
        self.primitive = primitive
        self.outputShape = outputShape
        weights = try device.converted(weightsSource, to: primitive.md(arg: DNNL_ARG_WEIGHTS))
        self.bias = try Tensor(shape: [bias.count], values: bias)
    }

    func run(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        let src = try device.converted(x, to: primitive.md(arg: DNNL_ARG_SRC))
        let out = try Tensor(shape: outputShape, backendDesc: primitive.md(arg: DNNL_ARG_DST))
        try device.execute(
            primitive,
            [
                (DNNL_ARG_SRC, src), (DNNL_ARG_WEIGHTS, weights),
                (DNNL_ARG_BIAS, bias), (DNNL_ARG_DST, out),
            ])
        return out
    }

    /// The descriptors every weighted layer starts from: layouts left to oneDNN ("any").
    struct Descriptors {
        var src: dnnl_memory_desc_t, weights: dnnl_memory_desc_t, bias: dnnl_memory_desc_t, dst: dnnl_memory_desc_t
        init(input: [Int], weights: [Int], output: [Int]) throws {
            src = try DNNL.desc(input, tag: dnnl_format_tag_any)
            self.weights = try DNNL.desc(weights, tag: dnnl_format_tag_any)
            bias = try DNNL.desc([weights[0]], tag: dnnl_a)
            dst = try DNNL.desc(output, tag: dnnl_format_tag_any)
        }
    }

    static func attributes(_ activation: FusedActivation) throws -> PostOps {
        let postOps = try PostOps()
        try postOps.append(activation)
        try postOps.commit()
        return postOps
    }

    static func convolution(_ conv: Conv2d, input x: Tensor, device: ComputeDevice) throws -> WeightedPlan {
        let outputShape = try conv.outputShape(x)
        let k = conv.kernel, p = conv.padding
        let weightShape = [conv.outChannels, conv.inChannels, k, k]
        var d = try Descriptors(input: x.shape, weights: weightShape, output: outputShape)
        let padR = conv.rightPadding(input: x, output: outputShape)
        var op = dnnl_convolution_desc_t()
        try DNNL.check(
            dnnl_convolution_forward_desc_init(
                &op, dnnl_forward_inference, dnnl_convolution_direct, &d.src, &d.weights, &d.bias, &d.dst,
                [Int64(conv.stride), Int64(conv.stride)], [Int64(p), Int64(p)], padR), "convolution descriptor")
        let primitive = try Primitive(
            opDesc: &op, attributes: try attributes(conv.activation),
            engine: device.engine, what: "convolution")
        return try WeightedPlan(
            primitive: primitive, weightsSource: try Tensor(shape: weightShape, values: conv.weights),
            bias: conv.bias, outputShape: outputShape, device: device)
    }

    static func deconvolution(_ l: ConvTranspose2d, input x: Tensor, device: ComputeDevice) throws -> WeightedPlan {
        let k = l.kernel
        let oh = (x.height - 1) * l.stride - 2 * l.padding + k + l.outputPadding
        let ow = (x.width - 1) * l.stride - 2 * l.padding + k + l.outputPadding
        guard oh > 0, ow > 0 else { throw NICError.dimensions("input \(x.shape) too small for ConvTranspose2d") }
        let outputShape = [x.batch, l.outChannels, oh, ow]
        let weightShape = [l.outChannels, l.inChannels, k, k]
        var d = try Descriptors(input: x.shape, weights: weightShape, output: outputShape)
        let padR = Int64(l.padding - l.outputPadding)
        var op = dnnl_deconvolution_desc_t()
        try DNNL.check(
            dnnl_deconvolution_forward_desc_init(
                &op, dnnl_forward_inference, dnnl_deconvolution_direct, &d.src, &d.weights, &d.bias, &d.dst,
                [Int64(l.stride), Int64(l.stride)], [Int64(l.padding), Int64(l.padding)], [padR, padR]),
            "deconvolution descriptor")
        let primitive = try Primitive(
            opDesc: &op, attributes: try attributes(l.activation),
            engine: device.engine, what: "deconvolution")
        // PyTorch stores (in, out, kH, kW); oneDNN's dims are (out, in, kH, kW): the iohw tag reads it as is.
        let source = try Tensor(shape: weightShape, desc: try DNNL.desc(weightShape, tag: dnnl_iohw), isPlain: false)
        l.weights.withUnsafeBytes { source.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return try WeightedPlan(
            primitive: primitive, weightsSource: source, bias: l.bias,
            outputShape: outputShape, device: device)
    }
}

/// Transposed 2-D convolution (PyTorch `ConvTranspose2d`: weights in (in, out, kH, kW)).
public final class ConvTranspose2d: Layer {
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, outputPadding: Int
    public let activation: FusedActivation
    let weights: [Float]
    let bias: [Float]

    public init(
        inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
        outputPadding: Int = 0, weights: [Float], bias: [Float]? = nil,
        activation: FusedActivation = .none
    ) throws {
        guard inChannels > 0, outChannels > 0, kernel > 0, stride > 0, padding >= 0,
            outputPadding >= 0, outputPadding < stride, outputPadding <= padding
        else {
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
        let plan = try device.cached(self, input: x.desc) { try WeightedPlan.deconvolution(self, input: x, device: device) }
        return try plan.run(x, on: device)
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
