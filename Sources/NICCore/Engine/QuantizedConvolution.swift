import CDNNL

/// How an 8-bit tensor's integers map to the real values they stand for: value = scale × integer,
/// integers in −127...127. Always signed: on CPUs without VNNI, oneDNN multiplies unsigned 8-bit
/// inputs with 16-bit saturating pair sums, which overflow for inputs near 255 (measured: 12%
/// relative error on a full-range input), while it keeps signed inputs exact.
public struct Quantization: Equatable, Sendable {
    public var scale: Float

    public init(scale: Float) { self.scale = scale }

    /// The quantisation that covers values in −maxAbs...maxAbs.
    public init(maxAbs: Float) { scale = max(maxAbs, .leastNormalMagnitude) / 127 }

    var dataType: dnnl_data_type_t { dnnl_s8 }
}

/// A `Conv2d` run in 8-bit integers: the weights as integers with one scale per output
/// channel, the input as integers of a given `Quantization`, the products summed in 32
/// bits, then scaled back, the bias added and the activation applied in float; the output is
/// float32 or, for a next 8-bit layer, 8-bit integers of `output`. The arithmetic is oneDNN's
/// int8 convolution (VNNI or AVX-512/AVX2 integer instructions, chosen by oneDNN at run time).
public final class QuantizedConv2d: Layer {
    public let source: Conv2d
    public let input: Quantization
    /// nil: float32 output.
    public let output: Quantization?
    /// Per output channel: real weight = weightScales[c] × integer weight.
    let weightScales: [Float]
    let integerWeights: [Float]

    public init(_ conv: Conv2d, input: Quantization, output: Quantization?) throws {
        guard input.scale > 0, input.scale.isFinite, output.map({ $0.scale > 0 && $0.scale.isFinite }) ?? true else {
            throw NICError.invalidArgument("quantisation scales must be positive and finite")
        }
        source = conv; self.input = input; self.output = output
        let perChannel = conv.inChannels * conv.kernel * conv.kernel
        var scales: [Float] = [], integers: [Float] = []
        for c in 0..<conv.outChannels {
            let w = conv.weights[(c * perChannel)..<((c + 1) * perChannel)]
            let scale = max(w.map(abs).max() ?? 0, .leastNormalMagnitude) / 127
            scales.append(scale)
            integers += w.map { ($0 / scale).rounded() }
        }
        weightScales = scales; integerWeights = integers
    }

    /// `x` as 8-bit integers of this layer's input quantisation (rounded, saturated).
    public func quantized(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        var md = try DNNL.desc(x.shape, tag: DNNL.plainTag(rank: x.shape.count), type: input.dataType)
        let out = try Tensor(shape: x.shape, backendDesc: md)
        md = out.desc
        let primitive = try device.cached(self, input: x.desc, extra: [1]) {
            try Primitive(reorderFrom: x.desc, to: md, scale: 1 / input.scale, engine: device.engine)
        }
        try device.execute(primitive, [(DNNL_ARG_FROM, x), (DNNL_ARG_TO, out)])
        return out
    }

    /// `x` must hold 8-bit integers of `input` (see `quantized(_:on:)`), in any layout.
    public func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        guard x.dataType == input.dataType else {
            throw NICError.internal("QuantizedConv2d takes 8-bit integer input; quantise it first")
        }
        try requireShape(x, channels: source.inChannels, "QuantizedConv2d")
        let plan = try device.cached(self, input: x.desc) { try compile(for: x, device: device) }
        return try plan.run(x, on: device)
    }

    private func compile(for x: Tensor, device: ComputeDevice) throws -> WeightedPlan {
        let conv = source
        let g = try conv.geometry(input: x)
        var src = try DNNL.desc(x.shape, tag: dnnl_format_tag_any, type: input.dataType)
        var weights = try DNNL.desc(g.weightShape, tag: dnnl_format_tag_any, type: dnnl_s8)
        var bias = try DNNL.desc([conv.outChannels], tag: dnnl_a)
        var dst = try DNNL.desc(g.outputShape, tag: dnnl_format_tag_any, type: output?.dataType ?? dnnl_f32)
        var op = dnnl_convolution_desc_t()
        try DNNL.check(
            dnnl_convolution_forward_desc_init(
                &op, dnnl_forward_inference, dnnl_convolution_direct, &src, &weights, &bias, &dst,
                g.strides, g.paddingLeft, g.paddingRight), "int8 convolution descriptor")
        // oneDNN: dst = activation(outputScale[c] × (Σ integer products + bias[c])), so the bias
        // goes in at the accumulator's scale.
        let accumulatorScales = weightScales.map { $0 * input.scale }
        let outputScales = accumulatorScales.map { $0 / (output?.scale ?? 1) }
        let attributes = try PostOps()
        try attributes.outputScales(outputScales, mask: 1 << 1)
        try attributes.append(conv.activation)
        try attributes.commit()
        let primitive = try Primitive(opDesc: &op, attributes: attributes, engine: device.engine, what: "int8 convolution")
        let plainWeights = try Tensor(
            shape: g.weightShape,
            desc: try DNNL.desc(g.weightShape, tag: dnnl_abcd, type: dnnl_s8), isPlain: true)
        integerWeights.withUnsafeBufferPointer { w in
            let bytes = plainWeights.data.assumingMemoryBound(to: Int8.self)
            for i in w.indices { bytes[i] = Int8(w[i]) }
        }
        return try WeightedPlan(
            primitive: primitive, weightsSource: plainWeights,
            bias: zip(conv.bias, accumulatorScales).map { $0 / $1 }, geometry: g, device: device)
    }

    /// The layout the primitive for `x` wants its input in (a tensor already in it is used as is).
    package func sourceDesc(for x: Tensor, on device: ComputeDevice) throws -> dnnl_memory_desc_t {
        let plan = try device.cached(self, input: x.desc) { try compile(for: x, device: device) }
        return plan.primitive.md(arg: DNNL_ARG_SRC)
    }

    /// oneDNN's name for the implementation it picked for `x` (e.g. "brg:avx512_core_vnni",
    /// "jit_int8:avx2"; "ref" means no fast path on this CPU).
    public func implementation(for x: Tensor, on device: ComputeDevice) throws -> String {
        let plan = try device.cached(self, input: x.desc) { try compile(for: x, device: device) }
        return plan.primitive.implementation
    }
}

/// Float32 values to the 8-bit integers a `QuantizedConv2d` takes: the step into a quantised chain.
final class Quantize: Layer {
    let into: QuantizedConv2d
    init(into: QuantizedConv2d) { self.into = into }

    func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor { try into.quantized(x, on: device) }
}

extension Sequential {
    /// These layers with their convolutions in 8-bit integers: the input of the `i`-th
    /// convolution quantised over −ranges[i]...ranges[i] (per tensor; weights per output channel),
    /// each one writing its output straight as the next one's integers (activation fused), the
    /// last one float32. The convolutions must follow one another; layers before the first and
    /// after the last (pixel shuffles) stay float.
    public func quantized(convolutionInputs ranges: [Float]) throws -> Sequential {
        let positions = layers.indices.filter { layers[$0] is Conv2d }
        guard let first = positions.first, let last = positions.last, positions == Array(first...last) else {
            throw NICError.model("int8 inference needs consecutive convolutions")
        }
        guard ranges.count == positions.count else {
            throw NICError.model("\(ranges.count) int8 ranges for \(positions.count) convolutions")
        }
        let convs = positions.map { layers[$0] as! Conv2d }
        let quantized = try convs.indices.map { i in
            try QuantizedConv2d(
                convs[i], input: Quantization(maxAbs: ranges[i]),
                output: i + 1 < convs.count ? Quantization(maxAbs: ranges[i + 1]) : nil)
        }
        return Sequential(Array(layers[..<first]) + [Quantize(into: quantized[0])] + quantized + Array(layers[(last + 1)...]))
    }
}
