/// One entry of an exported network's layer list, read from its JSON with the weights it names
/// checked against their shapes. The one reader of layer lists: the scaler and chroma networks
/// (`LayerStack`) and the neural codec's transforms (`HyperpriorModel`) build their layers from it.
///
/// Entries (`op`):
/// - `conv2d`, `conv_transpose2d`: channels as `in_channels`/`out_channels` or `in`/`out`,
///   `kernel`, `stride` (default 1), `padding` (default kernel / 2), `output_padding`
///   (transposed only, default 0); tensors named by `weight` and optional `bias_tensor`, or by
///   `name` (then `NAME.weight` and `NAME.bias`); an optional fused `activation`
///   (`relu`, `leaky_relu` with `negative_slope`, default 0.01).
/// - `leaky_relu` (`negative_slope`, default 0.01): a separate activation.
/// - `gdn`: `name`, `channels`, `inverse` (default false); tensors `NAME.beta`, `NAME.gamma`.
/// - `pixel_shuffle`, `pixel_unshuffle`: `factor`.
/// - `residual`: `layers`, a list of the entries above (not another `residual`) whose output is
///   added to their input: x + layers(x).
enum LayerSpec {
    case convolution(ConvolutionSpec)
    case leakyReLU(Float)
    case gdn(beta: [Float], gamma: [Float], inverse: Bool)
    case pixelShuffle(Int)
    case pixelUnshuffle(Int)
    case residual([LayerSpec])

    struct ConvolutionSpec {
        let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, outputPadding: Int
        let transposed: Bool
        let weights: [Float]
        let bias: [Float]?
        let activation: FusedActivation
    }

    /// Every entry of `list` (nil or not an array: none). `network` names the network in errors.
    static func list(_ list: JSONValue?, _ weights: SafetensorsFile, network: String) throws -> [LayerSpec] {
        try (list?.arrayValue ?? []).map { try LayerSpec($0, weights, network: network) }
    }

    init(_ entry: JSONValue, _ weights: SafetensorsFile, network: String, nested: Bool = false) throws {
        switch entry["op"]?.stringValue {
        case "conv2d", "conv_transpose2d":
            self = .convolution(try ConvolutionSpec(entry, weights))
        case "leaky_relu":
            self = .leakyReLU(Float(entry["negative_slope"]?.numberValue ?? 0.01))
        case "gdn":
            guard let name = entry["name"]?.stringValue, let c = entry["channels"]?.intValue else {
                throw NICError.model("gdn layer lacks name or channels in \(network)")
            }
            self = .gdn(
                beta: try weights.floats(name + ".beta", shape: [c]),
                gamma: try weights.floats(name + ".gamma", shape: [c, c]),
                inverse: entry["inverse"]?.boolValue ?? false)
        case "pixel_shuffle":
            self = .pixelShuffle(entry["factor"]?.intValue ?? 0)
        case "pixel_unshuffle":
            self = .pixelUnshuffle(entry["factor"]?.intValue ?? 0)
        case "residual" where !nested:
            guard let list = entry["layers"]?.arrayValue, !list.isEmpty else {
                throw NICError.model("residual block without layers in \(network)")
            }
            self = .residual(try list.map { try LayerSpec($0, weights, network: network, nested: true) })
        case "residual":
            throw NICError.model("a residual block inside a residual block in \(network)")
        default:
            throw NICError.model("unsupported layer \(entry.serialized) in \(network)")
        }
    }
}

extension LayerSpec.ConvolutionSpec {
    init(_ e: JSONValue, _ w: SafetensorsFile) throws {
        guard let inC = (e["in_channels"] ?? e["in"])?.intValue, let outC = (e["out_channels"] ?? e["out"])?.intValue,
            let kernel = e["kernel"]?.intValue,
            let weightName = e["weight"]?.stringValue ?? e["name"]?.stringValue.map({ $0 + ".weight" })
        else {
            throw NICError.model("convolution lacks channels, kernel or weight name: \(e.serialized)")
        }
        let biasName = e["bias_tensor"]?.stringValue ?? e["name"]?.stringValue.map { $0 + ".bias" }
        inChannels = inC; outChannels = outC; self.kernel = kernel
        stride = e["stride"]?.intValue ?? 1
        padding = e["padding"]?.intValue ?? kernel / 2
        transposed = e["op"]?.stringValue == "conv_transpose2d"
        outputPadding = transposed ? e["output_padding"]?.intValue ?? 0 : 0
        weights = try w.floats(weightName, shape: transposed ? [inC, outC, kernel, kernel] : [outC, inC, kernel, kernel])
        bias = try biasName.map { try w.floats($0, shape: [outC]) }
        switch e["activation"]?.stringValue {
        case nil: activation = .none
        case "relu": activation = .relu
        case "leaky_relu": activation = .leakyReLU(Float(e["negative_slope"]?.numberValue ?? 0.01))
        case let other?: throw NICError.model("unsupported activation \(other)")
        }
    }

    /// The engine's layer for this convolution.
    func layer() throws -> Layer {
        transposed
            ? try ConvTranspose2d(
                inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride,
                padding: padding, outputPadding: outputPadding, weights: weights, bias: bias,
                activation: activation)
            : try Conv2d(
                inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride,
                padding: padding, weights: weights, bias: bias, activation: activation)
    }
}
