import CDNNL

/// A layer that carries a gradient from its output back to its input, with its weights fixed:
/// the vector–Jacobian product gᵀ·∂y/∂x at the input x.
package protocol InputGradientLayer: Layer {
    /// The gradient with respect to `x` of Σ y·g, where `y` = forward(`x`) is the output the
    /// forward pass gave for `x` and `g` has y's shape. The result has x's shape, in a layout of
    /// the backend's choice (`toArray(on:)` reads it in NCHW order).
    func inputGradient(input x: Tensor, output y: Tensor, outputGradient g: Tensor, on device: ComputeDevice) throws -> Tensor
}

/// Checks that an output gradient fits the output it belongs to.
private func requireGradient(_ g: Tensor, for y: Tensor, _ layer: String) throws {
    guard g.shape == y.shape else {
        throw NICError.invalidArgument("\(layer): output gradient \(g.shape) does not match output \(y.shape)")
    }
}

/// Cache tags that keep a layer's gradient objects apart from its forward plan.
private enum GradientTag {
    static let data = Array("input gradient".utf8)
    static let activation = Array("activation gradient".utf8)
}

// MARK: - Sequential

/// A forward pass through a `Sequential` that kept every layer's input, so that the gradient
/// with respect to the input can be taken for any output gradient (weights fixed).
/// Memory: every intermediate activation of the pass, those inside residual blocks included.
package struct SequentialTape {
    let layers: [any InputGradientLayer]
    /// The input, then each layer's output.
    let activations: [Tensor]
    /// Per layer: a residual block's body's own tape, so that its gradient does not run the body
    /// again; nil for every other layer.
    let bodies: [SequentialTape?]
    let device: ComputeDevice

    /// The network's output, the same as `Sequential.forward` gives.
    package var output: Tensor { activations[activations.count - 1] }

    /// The gradient with respect to the input of Σ output · `outputGradient`.
    package func inputGradient(outputGradient: Tensor) throws -> Tensor {
        try requireGradient(outputGradient, for: output, "Sequential")
        var g = outputGradient
        for index in layers.indices.reversed() {
            if let body = bodies[index], let block = layers[index] as? Residual {
                g = try block.inputGradient(outputGradient: g, body: body)
            } else {
                g = try layers[index].inputGradient(
                    input: activations[index], output: activations[index + 1], outputGradient: g, on: device)
            }
        }
        return g
    }
}

extension Sequential {
    /// Runs the layers on `x` keeping every activation, for `SequentialTape.inputGradient`.
    /// Throws before running anything when a layer has no input gradient.
    package func forwardForGradient(_ x: Tensor, on device: ComputeDevice) throws -> SequentialTape {
        let differentiable = try layers.enumerated().map { index, layer -> any InputGradientLayer in
            guard let layer = layer as? any InputGradientLayer else {
                throw NICError.model("layer \(index) (\(type(of: layer))) has no input gradient")
            }
            return layer
        }
        var activations = [x], bodies: [SequentialTape?] = []
        for layer in differentiable {
            let input = activations[activations.count - 1]
            if let block = layer as? Residual {
                // Residual.forward, with the body's activations kept.
                let body = try block.body.forwardForGradient(input, on: device)
                activations.append(try block.add(input, body.output, on: device))
                bodies.append(body)
            } else {
                activations.append(try layer.forward(input, on: device))
                bodies.append(nil)
            }
        }
        return SequentialTape(layers: differentiable, activations: activations, bodies: bodies, device: device)
    }
}

// MARK: - Residual blocks

extension Residual: InputGradientLayer {
    /// g + the body's gradient for g; the body's forward pass runs again to keep its activations
    /// (within a `SequentialTape` the block's tape keeps them from the forward pass instead).
    package func inputGradient(input x: Tensor, output y: Tensor, outputGradient g: Tensor, on device: ComputeDevice) throws -> Tensor {
        try requireGradient(g, for: y, "Residual")
        return try inputGradient(outputGradient: g, body: try body.forwardForGradient(x, on: device))
    }

    /// g + the body's gradient for g, from the body's tape of the forward pass.
    func inputGradient(outputGradient g: Tensor, body tape: SequentialTape) throws -> Tensor {
        try add(g, try tape.inputGradient(outputGradient: g), on: tape.device)
    }
}

// MARK: - Convolutions

extension Conv2d: InputGradientLayer {
    package func inputGradient(input x: Tensor, output y: Tensor, outputGradient g: Tensor, on device: ComputeDevice) throws -> Tensor {
        try requireShape(x, channels: inChannels, "Conv2d")
        return try weightedInputGradient(self, activation, x, y, g, "Conv2d", device) { try plan(for: x, on: device) }
    }
}

extension ConvTranspose2d: InputGradientLayer {
    package func inputGradient(input x: Tensor, output y: Tensor, outputGradient g: Tensor, on device: ComputeDevice) throws -> Tensor {
        try requireShape(x, channels: inChannels, "ConvTranspose2d")
        return try weightedInputGradient(self, activation, x, y, g, "ConvTranspose2d", device) { try plan(for: x, on: device) }
    }
}

/// A weighted layer's gradient: back through its fused activation, then through the
/// backward-data primitive made from its forward plan (cached per input layout).
private func weightedInputGradient(
    _ layer: AnyObject, _ activation: FusedActivation, _ x: Tensor, _ y: Tensor, _ g: Tensor, _ name: String,
    _ device: ComputeDevice, forwardPlan: () throws -> WeightedPlan
) throws -> Tensor {
    try requireGradient(g, for: y, name)
    let backward = try device.cached(layer, input: x.desc, extra: GradientTag.data) {
        try InputGradientPlan(forward: try forwardPlan(), device: device)
    }
    return try backward.run(try ActivationGradient.apply(activation, owner: layer, output: y, gradient: g, on: device), on: device)
}

/// oneDNN's backward-data primitive of a convolution or deconvolution for one input layout,
/// made with the forward primitive as its hint, plus the weights in the layout it wants.
final class InputGradientPlan {
    let primitive: Primitive
    let weights: Tensor
    let inputShape: [Int]

    init(forward: WeightedPlan, device: ComputeDevice) throws {
        let g = forward.geometry
        var diffSrc = try DNNL.desc(g.inputShape, tag: dnnl_format_tag_any)
        var wts = try DNNL.desc(g.weightShape, tag: dnnl_format_tag_any)
        var diffDst = try DNNL.desc(g.outputShape, tag: dnnl_format_tag_any)
        if g.transposed {
            var op = dnnl_deconvolution_desc_t()
            try DNNL.check(
                dnnl_deconvolution_backward_data_desc_init(
                    &op, dnnl_deconvolution_direct, &diffSrc, &wts, &diffDst, g.strides, g.paddingLeft, g.paddingRight),
                "deconvolution input-gradient descriptor")
            primitive = try Primitive(opDesc: &op, hint: forward.primitive, engine: device.engine, what: "deconvolution input gradient")
        } else {
            var op = dnnl_convolution_desc_t()
            try DNNL.check(
                dnnl_convolution_backward_data_desc_init(
                    &op, dnnl_convolution_direct, &diffSrc, &wts, &diffDst, g.strides, g.paddingLeft, g.paddingRight),
                "convolution input-gradient descriptor")
            primitive = try Primitive(opDesc: &op, hint: forward.primitive, engine: device.engine, what: "convolution input gradient")
        }
        weights = try device.converted(forward.weights, to: primitive.md(arg: DNNL_ARG_WEIGHTS))
        inputShape = g.inputShape
    }

    func run(_ g: Tensor, on device: ComputeDevice) throws -> Tensor {
        let diffDst = try device.converted(g, to: primitive.md(arg: DNNL_ARG_DIFF_DST))
        let out = try Tensor(shape: inputShape, backendDesc: primitive.md(arg: DNNL_ARG_DIFF_SRC))
        try device.execute(primitive, [(DNNL_ARG_DIFF_DST, diffDst), (DNNL_ARG_WEIGHTS, weights), (DNNL_ARG_DIFF_SRC, out)])
        return out
    }
}

// MARK: - Activations

extension Activation: InputGradientLayer {
    package func inputGradient(input x: Tensor, output y: Tensor, outputGradient g: Tensor, on device: ComputeDevice) throws -> Tensor {
        try requireGradient(g, for: y, "Activation")
        return try ActivationGradient.apply(kind, owner: self, output: y, gradient: g, on: device)
    }
}

/// g ⊙ f'(x) for ReLU or leaky ReLU, read from the output y = f(x): with a slope ≥ 0, y > 0
/// exactly where x > 0. One oneDNN eltwise backward pass in y's layout.
final class ActivationGradient {
    let primitive: Primitive

    init(slope: Float, output y: Tensor, device: ComputeDevice) throws {
        var data = y.desc, diff = y.desc
        var forward = dnnl_eltwise_desc_t()
        try DNNL.check(
            dnnl_eltwise_forward_desc_init(&forward, dnnl_forward_training, dnnl_eltwise_relu_use_dst_for_bwd, &data, slope, 0),
            "relu descriptor")
        let hint = try Primitive(opDesc: &forward, engine: device.engine, what: "relu")
        var op = dnnl_eltwise_desc_t()
        try DNNL.check(
            dnnl_eltwise_backward_desc_init(&op, dnnl_eltwise_relu_use_dst_for_bwd, &diff, &data, slope, 0),
            "relu gradient descriptor")
        primitive = try Primitive(opDesc: &op, hint: hint, engine: device.engine, what: "relu gradient")
    }

    /// `g` through `activation` (itself for none); the plan is cached under `owner`, the layer
    /// the activation belongs to.
    static func apply(
        _ activation: FusedActivation, owner: AnyObject, output y: Tensor, gradient g: Tensor, on device: ComputeDevice
    ) throws -> Tensor {
        let slope: Float
        switch activation {
        case .none: return g
        case .relu: slope = 0
        case .leakyReLU(let s): slope = s
        }
        guard slope >= 0 else {
            throw NICError.model("the input gradient of a leaky ReLU needs a slope ≥ 0, got \(slope)")
        }
        let plan = try device.cached(owner, input: y.desc, extra: GradientTag.activation) {
            try ActivationGradient(slope: slope, output: y, device: device)
        }
        let diffDst = try device.converted(g, to: y.desc)
        let out = try Tensor(shape: y.shape, backendDesc: y.desc)
        try device.execute(plan.primitive, [(DNNL_ARG_DST, y), (DNNL_ARG_DIFF_DST, diffDst), (DNNL_ARG_DIFF_SRC, out)])
        return out
    }
}

// MARK: - GDN

extension GDN: InputGradientLayer {
    package func inputGradient(input x: Tensor, output y: Tensor, outputGradient g: Tensor, on device: ComputeDevice) throws -> Tensor {
        try requireShape(x, channels: channels, inverse ? "IGDN" : "GDN")
        try requireGradient(g, for: y, inverse ? "IGDN" : "GDN")
        let backward = try device.cached(self, input: x.desc, extra: GradientTag.data) {
            try GDNGradientPlan(gdn: self, forward: try plan(for: x, on: device), input: x, device: device)
        }
        return try backward.run(x, g, on: device)
    }
}

/// The input gradient of GDN or IGDN for one input layout. With n_i = β_i + Σ_j γ_ij x_j² and
/// r = √n:
///   IGDN (y_i = x_i r_i):  gx_j = g_j r_j + x_j Σ_i γ_ij g_i x_i / r_i
///   GDN  (y_i = x_i / r_i): gx_j = g_j / r_j − x_j Σ_i γ_ij g_i x_i / r_i³
/// Four oneDNN passes in x's layout: x²; r, the forward's 1x1 convolution with √ as post-op;
/// u = g x / r (or / r³), a product whose divisions are post-ops; and the 1x1 convolution with
/// ±γᵀ whose post-ops turn t = ±γᵀu into (t x / r + g) r, or (t x r + g) / r.
/// (Only √ and divisions: oneDNN's pow with exponent −½ runs a slow path.)
final class GDNGradientPlan {
    /// The second operand of a binary post-op.
    enum Operand { case x, r, g }
    typealias Steps = [(alg: dnnl_alg_kind_t, operand: Operand)]

    let squarer: Primitive
    let norm: Primitive
    let normWeights: Tensor, normBias: Tensor
    let product: Primitive, productSteps: Steps
    let back: Primitive, backSteps: Steps
    let backWeights: Tensor, zeroBias: Tensor

    init(gdn: GDN, forward: GDNPlan, input x: Tensor, device: ComputeDevice) throws {
        let c = gdn.channels, layout = x.desc
        squarer = forward.squarer
        let root = try PostOps()
        try root.eltwise(dnnl_eltwise_sqrt)
        try root.commit()
        norm = try GDNPlan.pointwise(channels: c, layout: layout, postOps: root, device: device)
        normWeights = try device.converted(forward.weights, to: norm.md(arg: DNNL_ARG_WEIGHTS))
        normBias = forward.bias
        if gdn.inverse {
            productSteps = [(dnnl_binary_div, .r)]
            backSteps = [(dnnl_binary_mul, .x), (dnnl_binary_div, .r), (dnnl_binary_add, .g), (dnnl_binary_mul, .r)]
        } else {
            productSteps = Array(repeating: (dnnl_binary_div, .r), count: 3)
            backSteps = [(dnnl_binary_mul, .x), (dnnl_binary_mul, .r), (dnnl_binary_add, .g), (dnnl_binary_div, .r)]
        }
        var a = layout, b = layout, dst = layout
        var op = dnnl_binary_desc_t()
        try DNNL.check(dnnl_binary_desc_init(&op, dnnl_binary_mul, &a, &b, &dst), "binary descriptor")
        product = try Primitive(
            opDesc: &op, attributes: try Self.postOps(productSteps, layout: layout), engine: device.engine, what: "GDN gradient product")
        back = try GDNPlan.pointwise(channels: c, layout: layout, postOps: try Self.postOps(backSteps, layout: layout), device: device)
        // oneDNN's dims are (out = j, in = i) and the iohw tag reads γ[i][j] as stored: γᵀ.
        let shape = [c, c, 1, 1]
        let transposed = try Tensor(shape: shape, desc: try DNNL.desc(shape, tag: dnnl_iohw), isPlain: false)
        let sign: Float = gdn.inverse ? 1 : -1
        transposed.data.assumingMemoryBound(to: Float.self).update(from: gdn.normConv.weights.map { sign * $0 }, count: c * c)
        backWeights = try device.converted(transposed, to: back.md(arg: DNNL_ARG_WEIGHTS))
        zeroBias = try Tensor(zeros: [c])
    }

    static func postOps(_ steps: Steps, layout: dnnl_memory_desc_t) throws -> PostOps {
        let postOps = try PostOps()
        for step in steps { try postOps.binary(step.alg, layout) }
        try postOps.commit()
        return postOps
    }

    func run(_ x: Tensor, _ g: Tensor, on device: ComputeDevice) throws -> Tensor {
        let g = try device.converted(g, to: x.desc)
        // `work` holds x², then u.
        let work = try Tensor(shape: x.shape, backendDesc: x.desc), r = try Tensor(shape: x.shape, backendDesc: x.desc)
        func operands(_ steps: Steps) -> [(Int32, Tensor)] {
            steps.enumerated().map { index, step in
                let tensor: Tensor
                switch step.operand {
                case .x: tensor = x
                case .r: tensor = r
                case .g: tensor = g
                }
                return (nic_dnnl_arg_post_op(Int32(index)) | DNNL_ARG_SRC_1, tensor)
            }
        }
        try device.execute(squarer, [(DNNL_ARG_SRC, x), (DNNL_ARG_DST, work)])
        try device.execute(norm, [(DNNL_ARG_SRC, work), (DNNL_ARG_WEIGHTS, normWeights), (DNNL_ARG_BIAS, normBias), (DNNL_ARG_DST, r)])
        try device.execute(product, [(DNNL_ARG_SRC_0, g), (DNNL_ARG_SRC_1, x), (DNNL_ARG_DST, work)] + operands(productSteps))
        let out = try Tensor(shape: x.shape, backendDesc: x.desc)
        try device.execute(
            back,
            [(DNNL_ARG_SRC, work), (DNNL_ARG_WEIGHTS, backWeights), (DNNL_ARG_BIAS, zeroBias), (DNNL_ARG_DST, out)] + operands(backSteps))
        return out
    }
}
