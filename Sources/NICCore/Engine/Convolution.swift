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

    /// Sizes and padding for input `x`: PyTorch's output size (floor formula), which oneDNN gets
    /// through the right and bottom padding.
    func geometry(input x: Tensor) throws -> WeightedGeometry { try geometry(inputShape: x.shape) }

    /// The geometry for an input of `shape` (N, C, H, W).
    func geometry(inputShape shape: [Int]) throws -> WeightedGeometry {
        let (height, width) = (shape[2], shape[3])
        guard height + 2 * padding >= kernel, width + 2 * padding >= kernel else {
            throw NICError.dimensions("input \(shape) is smaller than the \(kernel)x\(kernel) kernel")
        }
        let h = (height + 2 * padding - kernel) / stride + 1
        let w = (width + 2 * padding - kernel) / stride + 1
        return WeightedGeometry(
            inputShape: shape, outputShape: [shape[0], outChannels, h, w],
            weightShape: [outChannels, inChannels, kernel, kernel], stride: stride, padding: padding,
            paddingRight: [(h - 1) * stride + kernel - height - padding, (w - 1) * stride + kernel - width - padding],
            transposed: false)
    }

    /// The forward plan for `x`'s layout, compiled once per device.
    func plan(for x: Tensor, on device: ComputeDevice) throws -> WeightedPlan {
        try device.cached(self, input: x.desc) { try WeightedPlan.convolution(self, input: x, device: device) }
    }

    public func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        try requireShape(x, channels: inChannels, "Conv2d")
        return try plan(for: x, on: device).run(x, on: device)
    }
}

/// The sizes and padding of a convolution or deconvolution on one input, in oneDNN's terms
/// (dims of the weights: out, in, kH, kW): what its forward and input-gradient primitives share.
struct WeightedGeometry {
    let inputShape: [Int], outputShape: [Int], weightShape: [Int]
    let strides: [Int64], paddingLeft: [Int64], paddingRight: [Int64]
    /// A deconvolution (`ConvTranspose2d`) rather than a convolution.
    let transposed: Bool

    init(
        inputShape: [Int], outputShape: [Int], weightShape: [Int], stride: Int, padding: Int,
        paddingRight: [Int], transposed: Bool
    ) {
        self.inputShape = inputShape; self.outputShape = outputShape; self.weightShape = weightShape
        strides = [Int64(stride), Int64(stride)]
        paddingLeft = [Int64(padding), Int64(padding)]
        self.paddingRight = paddingRight.map(Int64.init)
        self.transposed = transposed
    }
}

/// A convolution or deconvolution compiled for one input layout on one device:
/// the primitive plus weights already reordered into the layout it wants.
final class WeightedPlan {
    let primitive: Primitive
    let weights: Tensor
    let bias: Tensor
    let geometry: WeightedGeometry
    var outputShape: [Int] { geometry.outputShape }

    /// `weightsSource` holds the weights in the layout they were given in (plain or PyTorch's).
    init(primitive: Primitive, weightsSource: Tensor, bias: [Float], geometry: WeightedGeometry, device: ComputeDevice) throws {
        self.primitive = primitive
        self.geometry = geometry
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

    /// The descriptors every weighted layer starts from: layouts left to oneDNN ("any"); input
    /// and weights of type `data`, the output of type `output`, the bias always float32.
    struct Descriptors {
        var src: dnnl_memory_desc_t, weights: dnnl_memory_desc_t, bias: dnnl_memory_desc_t, dst: dnnl_memory_desc_t
        init(_ g: WeightedGeometry, data: dnnl_data_type_t = dnnl_f32, output: dnnl_data_type_t = dnnl_f32) throws {
            src = try DNNL.desc(g.inputShape, tag: dnnl_format_tag_any, type: data)
            weights = try DNNL.desc(g.weightShape, tag: dnnl_format_tag_any, type: data)
            bias = try DNNL.desc([g.weightShape[0]], tag: dnnl_a)
            dst = try DNNL.desc(g.outputShape, tag: dnnl_format_tag_any, type: output)
        }
    }

    static func attributes(_ activation: FusedActivation) throws -> PostOps {
        let postOps = try PostOps()
        try postOps.append(activation)
        try postOps.commit()
        return postOps
    }

    /// `conv` on `x`'s shape with input and weights of type `data` and an output of type `output`
    /// (float32 by default; bfloat16 for `BFloat16Conv2d`, which oneDNN sums in float32). The
    /// float32 weights are converted to `data` once, in the reorder into the primitive's layout; an
    /// input of another type is converted on each run (`run`).
    static func convolution(
        _ conv: Conv2d, input x: Tensor, device: ComputeDevice,
        data: dnnl_data_type_t = dnnl_f32, output: dnnl_data_type_t = dnnl_f32
    ) throws -> WeightedPlan {
        let g = try conv.geometry(input: x)
        var d = try Descriptors(g, data: data, output: output)
        var op = dnnl_convolution_desc_t()
        try DNNL.check(
            dnnl_convolution_forward_desc_init(
                &op, dnnl_forward_inference, dnnl_convolution_direct, &d.src, &d.weights, &d.bias, &d.dst,
                g.strides, g.paddingLeft, g.paddingRight), "convolution descriptor")
        let primitive = try Primitive(
            opDesc: &op, attributes: try attributes(conv.activation),
            engine: device.engine, what: "convolution")
        return try WeightedPlan(
            primitive: primitive, weightsSource: try Tensor(shape: g.weightShape, values: conv.weights),
            bias: conv.bias, geometry: g, device: device)
    }

    static func deconvolution(_ l: ConvTranspose2d, input x: Tensor, device: ComputeDevice) throws -> WeightedPlan {
        let g = try l.geometry(input: x)
        var d = try Descriptors(g)
        var op = dnnl_deconvolution_desc_t()
        try DNNL.check(
            dnnl_deconvolution_forward_desc_init(
                &op, dnnl_forward_inference, dnnl_deconvolution_direct, &d.src, &d.weights, &d.bias, &d.dst,
                g.strides, g.paddingLeft, g.paddingRight), "deconvolution descriptor")
        let primitive = try Primitive(
            opDesc: &op, attributes: try attributes(l.activation),
            engine: device.engine, what: "deconvolution")
        // PyTorch stores (in, out, kH, kW); oneDNN's dims are (out, in, kH, kW): the iohw tag reads it as is.
        let source = try Tensor(shape: g.weightShape, desc: try DNNL.desc(g.weightShape, tag: dnnl_iohw), isPlain: false)
        l.weights.withUnsafeBytes { source.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return try WeightedPlan(primitive: primitive, weightsSource: source, bias: l.bias, geometry: g, device: device)
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
        return try plan(for: x, on: device).run(x, on: device)
    }

    /// Sizes and padding for input `x` (PyTorch's output size; `outputPadding` extra rows and
    /// columns at the bottom and right).
    func geometry(input x: Tensor) throws -> WeightedGeometry {
        let oh = (x.height - 1) * stride - 2 * padding + kernel + outputPadding
        let ow = (x.width - 1) * stride - 2 * padding + kernel + outputPadding
        guard oh > 0, ow > 0 else { throw NICError.dimensions("input \(x.shape) too small for ConvTranspose2d") }
        return WeightedGeometry(
            inputShape: x.shape, outputShape: [x.batch, outChannels, oh, ow],
            weightShape: [outChannels, inChannels, kernel, kernel], stride: stride, padding: padding,
            paddingRight: [padding - outputPadding, padding - outputPadding], transposed: true)
    }

    /// The forward plan for `x`'s layout, compiled once per device.
    func plan(for x: Tensor, on device: ComputeDevice) throws -> WeightedPlan {
        try device.cached(self, input: x.desc) { try WeightedPlan.deconvolution(self, input: x, device: device) }
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
