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
/// float32, bfloat16 for a next bfloat16 layer, or, for a next 8-bit layer, 8-bit integers of
/// `output`. The arithmetic is oneDNN's int8 convolution (VNNI or AVX-512/AVX2 integer
/// instructions, chosen by oneDNN at run time).
public final class QuantizedConv2d: Layer {
    public let source: Conv2d
    public let input: Quantization
    /// nil: float output (float32, or bfloat16 with `bfloat16Output`).
    public let output: Quantization?
    /// With no `output`: bfloat16 instead of float32 (the rounding a next `BFloat16Conv2d` would
    /// apply to its input, done by this layer's output instead of a separate reorder).
    public let bfloat16Output: Bool
    /// Per output channel: real weight = weightScales[c] × integer weight.
    let weightScales: [Float]
    let integerWeights: [Float]

    public init(_ conv: Conv2d, input: Quantization, output: Quantization?, bfloat16Output: Bool = false) throws {
        guard input.scale > 0, input.scale.isFinite, output.map({ $0.scale > 0 && $0.scale.isFinite }) ?? true else {
            throw NICError.invalidArgument("quantisation scales must be positive and finite")
        }
        guard output == nil || !bfloat16Output else {
            throw NICError.invalidArgument("an int8 convolution writes either 8-bit integers or bfloat16")
        }
        source = conv; self.input = input; self.output = output; self.bfloat16Output = bfloat16Output
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

    /// `x` as 8-bit integers of this layer's input quantisation (rounded, saturated), in one pass
    /// straight into the layout this layer's primitive reads for `x`'s shape.
    public func quantized(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        try requireShape(x, channels: source.inChannels, "QuantizedConv2d")
        let md = try plan(for: x.shape, on: device).primitive.md(arg: DNNL_ARG_SRC)
        let out = try Tensor(shape: x.shape, backendDesc: md)
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
        return try plan(for: x.shape, on: device).run(x, on: device)
    }

    /// The compiled convolution for inputs of `shape` (one per shape, whatever the input's layout).
    private func plan(for shape: [Int], on device: ComputeDevice) throws -> WeightedPlan {
        let key = try DNNL.desc(shape, tag: DNNL.plainTag(rank: shape.count), type: input.dataType)
        return try device.cached(self, input: key) { try compile(for: shape, device: device) }
    }

    private func compile(for shape: [Int], device: ComputeDevice) throws -> WeightedPlan {
        let conv = source
        let g = try conv.geometry(inputShape: shape)
        var src = try DNNL.desc(shape, tag: dnnl_format_tag_any, type: input.dataType)
        var weights = try DNNL.desc(g.weightShape, tag: dnnl_format_tag_any, type: dnnl_s8)
        var bias = try DNNL.desc([conv.outChannels], tag: dnnl_a)
        let floatType = bfloat16Output ? dnnl_bf16 : dnnl_f32
        var dst = try DNNL.desc(g.outputShape, tag: dnnl_format_tag_any, type: output?.dataType ?? floatType)
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
        try plan(for: x.shape, on: device).primitive.md(arg: DNNL_ARG_SRC)
    }

    /// oneDNN's name for the implementation it picked for `x` (e.g. "brg:avx512_core_vnni",
    /// "jit_int8:avx2"; "ref" means no fast path on this CPU).
    public func implementation(for x: Tensor, on device: ComputeDevice) throws -> String {
        try plan(for: x.shape, on: device).primitive.implementation
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
    ///
    /// `float`: convolutions kept out of 8 bits, run in its precision (`BFloat16Conv2d`, or the
    /// float32 `Conv2d` itself); the int8 one before such a layer writes that precision, and the
    /// one after it quantises its float32 input again (`Quantize`).
    public func quantized(convolutionInputs ranges: [Float], float: Int8FloatLayers? = nil) throws -> Sequential {
        let positions = layers.indices.filter { layers[$0] is Conv2d }
        guard let first = positions.first, let last = positions.last, positions == Array(first...last) else {
            throw NICError.model("int8 inference needs consecutive convolutions")
        }
        guard ranges.count == positions.count else {
            throw NICError.model("\(ranges.count) int8 ranges for \(positions.count) convolutions")
        }
        let kept = Set(float?.convolutions ?? [])
        guard kept.allSatisfy(ranges.indices.contains), kept.count < ranges.count else {
            throw NICError.model("convolutions \(kept.sorted()) kept out of int8 in a body of \(ranges.count)")
        }
        guard kept.isEmpty || float?.precision == .bf16 || float?.precision == .fp32 else {
            throw NICError.internal("convolutions kept out of int8 run in bf16 or fp32")
        }
        let convs = positions.map { layers[$0] as! Conv2d }
        var body: [Layer] = []
        for i in convs.indices {
            let next = i + 1 < convs.count ? i + 1 : nil
            if kept.contains(i) {
                if float?.precision == .bf16 {
                    // bfloat16 output only for a next bfloat16 layer; int8 layers quantise float32.
                    body.append(BFloat16Conv2d(convs[i], floatOutput: !(next.map(kept.contains) ?? false)))
                } else {
                    body.append(convs[i])
                }
                continue
            }
            let output = next.flatMap { kept.contains($0) ? nil : Quantization(maxAbs: ranges[$0]) }
            let conv = try QuantizedConv2d(
                convs[i], input: Quantization(maxAbs: ranges[i]), output: output,
                bfloat16Output: next.map(kept.contains) == true && float?.precision == .bf16)
            if i == 0 || kept.contains(i - 1) { body.append(Quantize(into: conv)) }
            body.append(conv)
        }
        return Sequential(Array(layers[..<first]) + body + Array(layers[(last + 1)...]))
    }
}
