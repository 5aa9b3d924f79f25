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
        for spec in try LayerSpec.list(architecture["layers"], weights, network: network) {
            switch spec {
            case .pixelUnshuffle(let factor):
                unshuffle = factor
                layers.append(PixelUnshuffle(factor: factor))
            case .pixelShuffle(let factor):
                shuffle = factor
                layers.append(PixelShuffle(factor: factor))
            case .convolution(let conv) where !conv.transposed:
                layers.append(try conv.layer())
                if inputChannels == 0 { inputChannels = conv.inChannels }
                outputChannels = conv.outChannels
                radius += conv.kernel / 2
            default:
                throw NICError.model("unsupported layer in \(network): only conv2d, pixel_shuffle and pixel_unshuffle")
            }
        }
    }
}
