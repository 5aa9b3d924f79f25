/// The layer list of an exported network's architecture (`layers`: pixel_unshuffle, conv2d with
/// activation, pixel_shuffle), as the scaler and chroma networks both store it.
struct LayerStack {
    var layers: [Layer] = []
    /// The (un)shuffle factors, nil when the list has none.
    var unshuffle: Int?, shuffle: Int?
    /// Sum of the convolutions' radii, counted on the grid they run on.
    var radius = 0
    /// Input channels of the first convolution and output channels of the last (0 without any).
    var inputChannels = 0, outputChannels = 0

    init(_ architecture: JSONValue, _ weights: SafetensorsFile, network: String) throws {
        for layer in architecture["layers"]?.arrayValue ?? [] {
            switch layer["op"]?.stringValue {
            case "pixel_unshuffle":
                let factor = layer["factor"]?.intValue ?? 0
                unshuffle = factor
                layers.append(PixelUnshuffle(factor: factor))
            case "pixel_shuffle":
                let factor = layer["factor"]?.intValue ?? 0
                shuffle = factor
                layers.append(PixelShuffle(factor: factor))
            case "conv2d":
                layers.append(try Self.convolution(layer, weights))
                if inputChannels == 0 { inputChannels = layer["in_channels"]?.intValue ?? 0 }
                outputChannels = layer["out_channels"]?.intValue ?? 0
                radius += (layer["kernel"]?.intValue ?? 0) / 2
            default:
                throw NICError.model("unsupported layer \(layer.serialized) in \(network)")
            }
        }
    }

    private static func convolution(_ layer: JSONValue, _ weights: SafetensorsFile) throws -> Conv2d {
        guard let inC = layer["in_channels"]?.intValue, let outC = layer["out_channels"]?.intValue,
              let kernel = layer["kernel"]?.intValue, let weightName = layer["weight"]?.stringValue else {
            throw NICError.model("conv2d layer lacks channels, kernel or weight name: \(layer.serialized)")
        }
        let activation: FusedActivation
        switch layer["activation"]?.stringValue {
        case nil: activation = .none
        case "relu": activation = .relu
        case "leaky_relu": activation = .leakyReLU(Float(layer["negative_slope"]?.numberValue ?? 0.01))
        case let other?: throw NICError.model("unsupported activation \(other)")
        }
        let biasName = layer["bias_tensor"]?.stringValue
        return try Conv2d(inChannels: inC, outChannels: outC, kernel: kernel, stride: layer["stride"]?.intValue ?? 1,
                          padding: layer["padding"]?.intValue ?? kernel / 2,
                          weights: weights.floats(weightName, shape: [outC, inC, kernel, kernel]),
                          bias: try biasName.map { try weights.floats($0, shape: [outC]) }, activation: activation)
    }
}
