import CDNNL

/// A `Conv2d` run in bfloat16: input and weights rounded to bfloat16 (8 bits of mantissa), the
/// products summed in float32 inside oneDNN, the bias (float32) added and the activation applied
/// there too; the output is float32 or, for a next bfloat16 layer, bfloat16. The float32 weights
/// are converted once per device, when the plan is compiled; a float32 input is converted on the
/// way in. Pays only on CPUs with AVX512_BF16 (oneDNN's `avx512_core_bf16` kernels), which
/// `PrecisionPlan` requires.
public final class BFloat16Conv2d: Layer {
    public let source: Conv2d
    /// true: float32 output (the last of a chain); false: bfloat16 for the next bfloat16 layer.
    public let floatOutput: Bool

    public init(_ conv: Conv2d, floatOutput: Bool) {
        source = conv; self.floatOutput = floatOutput
    }

    /// `x` in float32 or bfloat16, in any layout.
    public func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        try requireShape(x, channels: source.inChannels, "BFloat16Conv2d")
        return try plan(for: x, on: device).run(x, on: device)
    }

    func plan(for x: Tensor, on device: ComputeDevice) throws -> WeightedPlan {
        try device.cached(self, input: x.desc) {
            try WeightedPlan.convolution(
                source, input: x, device: device, data: dnnl_bf16, output: floatOutput ? dnnl_f32 : dnnl_bf16)
        }
    }

    /// oneDNN's name for the implementation it picked for `x` (e.g. "brgconv:avx512_core_bf16";
    /// "ref" means no fast path on this CPU).
    public func implementation(for x: Tensor, on device: ComputeDevice) throws -> String {
        try plan(for: x, on: device).primitive.implementation
    }
}

extension Sequential {
    /// These layers with every convolution in bfloat16 (`BFloat16Conv2d`, activation fused): one
    /// followed by another convolution writes bfloat16 for it, any other float32, so the other
    /// layers (pixel shuffles) stay float.
    public func bfloat16() -> Sequential {
        Sequential(
            layers.indices.map { i in
                guard let conv = layers[i] as? Conv2d else { return layers[i] }
                return BFloat16Conv2d(conv, floatOutput: !(i + 1 < layers.count && layers[i + 1] is Conv2d))
            })
    }
}
