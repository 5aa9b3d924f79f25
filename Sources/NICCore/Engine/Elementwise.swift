import CDNNL

/// ReLU or leaky ReLU as a layer of its own (prefer fusing into the convolution before it).
public final class Activation: Layer {
    public let kind: FusedActivation
    public init(_ kind: FusedActivation) { self.kind = kind }

    public func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        let slope: Float
        switch kind {
        case .none: return x
        case .relu: slope = 0
        case .leakyReLU(let s): slope = s
        }
        let primitive = try device.cached(self, input: x.desc) {
            var md = x.desc
            var op = dnnl_eltwise_desc_t()
            try DNNL.check(
                dnnl_eltwise_forward_desc_init(&op, dnnl_forward_inference, dnnl_eltwise_relu, &md, slope, 0),
                "eltwise descriptor")
            return try Primitive(opDesc: &op, engine: device.engine, what: "relu")
        }
        let out = try Tensor(shape: x.shape, backendDesc: x.desc)
        try device.execute(primitive, [(DNNL_ARG_SRC, x), (DNNL_ARG_DST, out)])
        return out
    }
}

/// PReLU with one learned slope per channel.
public final class PReLU: Layer {
    let slopes: [Float]
    public init(slopes: [Float]) { self.slopes = slopes }

    public func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        try requireShape(x, channels: slopes.count, "PReLU")
        let plan = try device.cached(self, input: x.desc) { () -> PReLUPlan in
            var data = x.desc
            var wts = try DNNL.desc([1, slopes.count, 1, 1], tag: dnnl_format_tag_any)
            var op = dnnl_prelu_desc_t()
            try DNNL.check(dnnl_prelu_forward_desc_init(&op, dnnl_forward_inference, &data, &wts), "prelu descriptor")
            let primitive = try Primitive(opDesc: &op, engine: device.engine, what: "prelu")
            let weights = try device.converted(
                try Tensor(shape: [1, slopes.count, 1, 1], values: slopes),
                to: primitive.md(arg: DNNL_ARG_WEIGHTS))
            return PReLUPlan(primitive: primitive, weights: weights)
        }
        let out = try Tensor(shape: x.shape, backendDesc: x.desc)
        try device.execute(plan.primitive, [(DNNL_ARG_SRC, x), (DNNL_ARG_WEIGHTS, plan.weights), (DNNL_ARG_DST, out)])
        return out
    }
}

final class PReLUPlan {
    let primitive: Primitive
    let weights: Tensor
    init(primitive: Primitive, weights: Tensor) { self.primitive = primitive; self.weights = weights }
}

/// Element-wise sum of two tensors of the same shape (residual connections).
/// The result takes the layout of `a`.
public final class Add {
    public init() {}

    public func callAsFunction(_ a: Tensor, _ b: Tensor, on device: ComputeDevice) throws -> Tensor {
        guard a.shape == b.shape else { throw NICError.invalidArgument("cannot add tensors \(a.shape) and \(b.shape)") }
        let primitive = try device.cached(self, input: a.desc, extra: DNNL.fingerprint(b.desc)) {
            var s0 = a.desc, s1 = b.desc, dst = a.desc
            var op = dnnl_binary_desc_t()
            try DNNL.check(dnnl_binary_desc_init(&op, dnnl_binary_add, &s0, &s1, &dst), "binary descriptor")
            return try Primitive(opDesc: &op, engine: device.engine, what: "add")
        }
        let out = try Tensor(shape: a.shape, backendDesc: a.desc)
        try device.execute(primitive, [(DNNL_ARG_SRC_0, a), (DNNL_ARG_SRC_1, b), (DNNL_ARG_DST, out)])
        return out
    }
}

/// A residual block: x + body(x), the body keeping the shape.
public final class Residual: Layer {
    public let body: Sequential
    let add = Add()
    public init(_ body: Sequential) { self.body = body }

    public func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        try add(x, try body.forward(x, on: device), on: device)
    }
}

/// Generalized divisive normalization (Ballé et al.):
/// GDN  y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2),  IGDN  y_i = x_i * sqrt(...).
/// Runs as x² followed by one 1x1 convolution whose post-ops take the (inverse)
/// square root and multiply by x, so x stays in the backend's layout.
public final class GDN: Layer {
    public let channels: Int
    public let inverse: Bool
    let normConv: Conv2d

    public init(beta: [Float], gamma: [Float], inverse: Bool) throws {
        channels = beta.count
        try requireCount(gamma, channels * channels, "GDN gamma")
        self.inverse = inverse
        normConv = try Conv2d(inChannels: channels, outChannels: channels, kernel: 1, weights: gamma, bias: beta)
    }

    public func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        try requireShape(x, channels: channels, inverse ? "IGDN" : "GDN")
        return try plan(for: x, on: device).run(x, on: device)
    }

    /// The forward plan for `x`'s layout, compiled once per device.
    func plan(for x: Tensor, on device: ComputeDevice) throws -> GDNPlan {
        try device.cached(self, input: x.desc) { try GDNPlan(gdn: self, input: x, device: device) }
    }
}

final class GDNPlan {
    let squarer: Primitive
    let conv: Primitive
    let weights: Tensor
    let bias: Tensor
    /// The index of the post-op that multiplies by x.
    let inputPostOp: Int32

    init(gdn: GDN, input x: Tensor, device: ComputeDevice) throws {
        var md = x.desc
        var sq = dnnl_eltwise_desc_t()
        try DNNL.check(
            dnnl_eltwise_forward_desc_init(&sq, dnnl_forward_inference, dnnl_eltwise_square, &md, 0, 0),
            "square descriptor")
        squarer = try Primitive(opDesc: &sq, engine: device.engine, what: "square")
        let postOps = try PostOps()
        try postOps.eltwise(dnnl_eltwise_sqrt)
        // 1/√ as √ then x⁻¹: oneDNN's pow with exponent −½ calls a scalar routine per element
        // (GDN on a 64-channel 384x256 map, 2 threads: 236 ms, against 55 ms with exponent −1).
        if !gdn.inverse { try postOps.eltwise(dnnl_eltwise_pow, alpha: 1, beta: -1) }
        inputPostOp = postOps.count
        try postOps.binary(dnnl_binary_mul, x.desc)
        try postOps.commit()
        conv = try GDNPlan.pointwise(channels: gdn.channels, layout: x.desc, postOps: postOps, device: device)
        let c = gdn.channels
        weights = try device.converted(
            try Tensor(shape: [c, c, 1, 1], values: gdn.normConv.weights),
            to: conv.md(arg: DNNL_ARG_WEIGHTS))
        bias = try Tensor(shape: [c], values: gdn.normConv.bias)
    }

    /// A 1x1 convolution with bias over `channels` channels that reads and writes `layout`.
    static func pointwise(channels c: Int, layout: dnnl_memory_desc_t, postOps: PostOps, device: ComputeDevice) throws -> Primitive {
        var src = layout, dst = layout
        var wts = try DNNL.desc([c, c, 1, 1], tag: dnnl_format_tag_any)
        var bia = try DNNL.desc([c], tag: dnnl_a)
        var op = dnnl_convolution_desc_t()
        try DNNL.check(
            dnnl_convolution_forward_desc_init(
                &op, dnnl_forward_inference, dnnl_convolution_direct, &src, &wts, &bia, &dst,
                [1, 1], [0, 0], [0, 0]), "GDN convolution descriptor")
        return try Primitive(opDesc: &op, attributes: postOps, engine: device.engine, what: "GDN convolution")
    }

    func run(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        let squared = try Tensor(shape: x.shape, backendDesc: x.desc)
        try device.execute(squarer, [(DNNL_ARG_SRC, x), (DNNL_ARG_DST, squared)])
        let out = try Tensor(shape: x.shape, backendDesc: x.desc)
        try device.execute(
            conv,
            [
                (DNNL_ARG_SRC, squared), (DNNL_ARG_WEIGHTS, weights), (DNNL_ARG_BIAS, bias),
                (nic_dnnl_arg_post_op(inputPostOp) | DNNL_ARG_SRC_1, x), (DNNL_ARG_DST, out),
            ])
        return out
    }
}
