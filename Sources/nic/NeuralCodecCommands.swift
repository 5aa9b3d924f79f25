import ArgumentParser
import FFGlue
import NICCore

/// `nic encode`: any image FFmpeg reads → `.nic` with the learned codec.
struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Compress an image with the neural image codec into a .nic file, optionally layered (several sizes in one file).")

    @Argument(help: "Input image (PNG, JPEG, WebP, BMP, or anything FFmpeg decodes).") var input: String
    @Argument(help: "Output .nic file.") var output: String
    @Option(help: "Quality 1 (smallest) to 100 (best).") var quality: Int = 75
    @Option(
        help:
            "A layered file: the layer sizes, smallest first, the last the input's size, e.g. 480x320,960x640 (each step 1 to 4 times larger per axis)."
    )
    var layers: String?
    @Option(
        help:
            "A layered file: the factor between neighbouring layers, smallest first, e.g. 2,1.5 (each above 1 and at most 4; sizes rounded)."
    )
    var scales: String?
    @OptionGroup var search: EncoderSearchOptions
    @OptionGroup var modelOptions: ModelOptions

    func validate() throws {
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be 1...100") }
        guard layers == nil || scales == nil else { throw ValidationError("give at most one of --layers and --scales") }
        if let layers, parseLayerSizes(layers) == nil {
            throw ValidationError("--layers must list sizes like 480x320,960x640")
        }
        if let scales, parseFactors(scales) == nil { throw ValidationError("--scales must list factors like 2,1.5") }
    }

    func run() throws {
        try runReportingErrors {
            try OutputFile.refuseSameFile(output: output, inputs: [input])
            let device = try modelOptions.device()
            let image = try ImageFile.read(path: input, as: .rgb24)
            let top = NICLayeredBitstream.Size(width: image.width, height: image.height)
            var sizes: [NICLayeredBitstream.Size]?
            if let layers, let parsed = parseLayerSizes(layers) { sizes = parsed }
            if let scales, let factors = parseFactors(scales) { sizes = try LayeredImageCodec.layerSizes(top: top, factors: factors) }
            let bytes: [UInt8]
            if let sizes {
                let codec = try LayeredImageCodec(store: try modelOptions.store(), device: device)
                bytes = try codec.encode(image, sizes: sizes, quality: quality, search: try search.search())
            } else {
                let codec = NeuralImageCodec(model: try modelOptions.store().neuralCodecModel(quality: quality), device: device)
                bytes = try codec.encode(image, quality: quality, search: try search.search())
            }
            try writeFileBytes(bytes, path: output, inputs: [input])
            let bpp = Double(bytes.count * 8) / Double(image.width * image.height)
            let layerList = sizes.map { ", layers " + $0.map(\.description).joined(separator: ",") } ?? ""
            print(
                "\(output): \(image.width)x\(image.height)\(layerList), quality \(quality), \(bytes.count) bytes, "
                    + fixed(bpp, 4) + " bpp")
        }
    }
}

/// Parses "480x320,960x640" into sizes (nil unless every item is a positive WIDTHxHEIGHT).
func parseLayerSizes(_ text: String) -> [NICLayeredBitstream.Size]? {
    let items = text.split(separator: ",", omittingEmptySubsequences: false).map { parseSize(String($0)) }
    guard !items.isEmpty, items.allSatisfy({ $0 != nil }) else { return nil }
    return items.map { NICLayeredBitstream.Size(width: $0!.0, height: $0!.1) }
}

/// Parses "2,1.5" into factors (nil unless every item is a finite number).
func parseFactors(_ text: String) -> [Double]? {
    let items = text.split(separator: ",", omittingEmptySubsequences: false).map { Double(String($0)) }
    guard !items.isEmpty, items.allSatisfy({ $0?.isFinite ?? false }) else { return nil }
    return items.map { $0! }
}

/// The encoder's search (`nic encode`, `nic bench codec`): a preset by effort, each knob of which
/// an option may override.
struct EncoderSearchOptions: ParsableArguments {
    @Option(
        help:
            "Encoder effort 0-\(NeuralEncoderSearch.effortRange.upperBound): 0 is fast (one refinement pass, 8-state dependent quantisation, consistency and fixed-point passes), higher levels search the latents longer (smaller files, slower encoding)."
    )
    var effort: Int = NeuralEncoderSearch.defaultEffort
    @Option(help: "Override: refinement passes 0-4 (each costs a synthesis and an analysis; 0 = plain analysis).")
    var refine: Int?
    @Option(help: "Override: steps of latent optimisation through the decoder (0 = off; each costs about two syntheses).")
    var steps: Int?
    @Option(name: .customLong("step-size"), help: "Override: Adam step size of the latent optimisation.")
    var stepSize: Float?
    @Option(help: "Override: dependent quantisation of the latents with 4 or 8 states (0 = off; a version 2 file).")
    var dsq: Int?
    @Option(
        name: .customLong("dsq-lambda"),
        help: "Override: weight of bits against squared latent error in the dependent quantisation (default 0.05, with --grid 0.08).")
    var dsqLambda: Float?
    @Option(
        help: "Override: steps of substitution of the input through the codec (0 = off; each costs about two analyses and two syntheses).")
    var substitute: Int?
    @Option(name: .customLong("substitute-step-size"), help: "Override: Adam step size of the substitution (pixel values in 0...1).")
    var substituteStepSize: Float?
    @Option(help: "Override: substitution blocks of this many pixels a side, each with a step size from its variance (0 = one step size).")
    var block: Int?
    @Option(
        help:
            "Override: passes that re-derive the hyper-latents from the coded latents until both agree (0 = off; steadier re-encoding).")
    var consistency: Int?
    @Option(
        name: .customLong("fixed-point"),
        help:
            "Override: passes of the fixed-point check after quantisation (0 = off; each costs a synthesis and an analysis; steadier re-encoding)."
    )
    var fixedPoint: Int?
    @Flag(
        inversion: .prefixedNo,
        help:
            "Override: latents on the integer grid, whose points do not move with the hyper-latents (steadier re-encoding; a version 2 file)."
    )
    var grid: Bool?

    func validate() throws {
        do { _ = try search() } catch let error as NICError { throw ValidationError(error.message) }
    }

    func search() throws -> NeuralEncoderSearch {
        var s = try NeuralEncoderSearch.effort(effort)
        if let refine { s.refinementSteps = refine }
        if let steps { s.latentSteps = steps }
        if let stepSize { s.latentStepSize = stepSize }
        if let dsq { s.dependentQuantization = dsq }
        if let dsqLambda { s.dependentQuantizationLambda = dsqLambda }
        if let substitute { s.substitutionSteps = substitute }
        if let substituteStepSize { s.substitutionStepSize = substituteStepSize }
        if let block { s.substitutionBlock = block }
        if let consistency { s.consistencyPasses = consistency }
        if let fixedPoint { s.fixedPointPasses = fixedPoint }
        if let grid { s.integerGrid = grid }
        try s.validate()
        return s
    }
}

/// `nic decode`: `.nic` → PNG (or any format `ImageFile.write` knows).
struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode a .nic file made by `nic encode` into an image (.png, .bmp, .jpg, .webp).")

    @Argument(help: "Input .nic file.") var input: String
    @Argument(help: "Output image; .png keeps every decoded pixel.") var output: String
    @Option(help: "The layer to decode of a layered file, 0 = the smallest (default: the largest).") var layer: Int?
    @OptionGroup var modelOptions: ModelOptions

    func validate() throws {
        if let layer, layer < 0 { throw ValidationError("--layer must be 0 or more") }
    }

    func run() throws {
        try runReportingErrors {
            try OutputFile.refuseSameFile(output: output, inputs: [input])
            let bytes = try readFileBytes(path: input, limit: NeuralImageCodec.maxFileBytes)
            let image: PlanarImage
            if NICLayeredBitstream.isLayered(bytes) {
                image = try LayeredImageCodec(store: try modelOptions.store(), device: try modelOptions.device()).decode(
                    bytes, layer: layer)
            } else {
                if let layer, layer != 0 {
                    throw NICError.invalidArgument("layer \(layer) does not exist: \(input) is a single-layer .nic file (layer 0)")
                }
                let model = try NeuralImageCodec.model(decoding: bytes, in: try modelOptions.store())
                image = try NeuralImageCodec(model: model, device: try modelOptions.device()).decode(bytes)
            }
            try ImageFile.write(image, path: output, inputs: [input])
        }
    }
}
