import ArgumentParser
import FFGlue
import NICCore

/// `nic encode`: any image FFmpeg reads → `.nic` with the learned codec.
struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Compress an image with the neural image codec into a .nic file.")

    @Argument(help: "Input image (PNG, JPEG, WebP, BMP, or anything FFmpeg decodes).") var input: String
    @Argument(help: "Output .nic file.") var output: String
    @Option(help: "Quality 1 (smallest) to 100 (best).") var quality: Int = 75
    @OptionGroup var search: EncoderSearchOptions
    @OptionGroup var modelOptions: ModelOptions

    func validate() throws {
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be 1...100") }
    }

    func run() throws {
        try runReportingErrors {
            let codec = NeuralImageCodec(model: try modelOptions.store().neuralCodecModel(), device: try modelOptions.device())
            try OutputFile.refuseSameFile(output: output, inputs: [input])
            let image = try ImageFile.read(path: input, as: .rgb24)
            let bytes = try codec.encode(image, quality: quality, search: try search.search())
            try writeFileBytes(bytes, path: output, inputs: [input])
            let bpp = Double(bytes.count * 8) / Double(image.width * image.height)
            print(
                "\(output): \(image.width)x\(image.height), quality \(quality), \(bytes.count) bytes, "
                    + fixed(bpp, 4) + " bpp")
        }
    }
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
    @Option(name: .customLong("dsq-lambda"), help: "Override: weight of bits against squared latent error in the dependent quantisation.")
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
    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        try runReportingErrors {
            let codec = NeuralImageCodec(model: try modelOptions.store().neuralCodecModel(), device: try modelOptions.device())
            try OutputFile.refuseSameFile(output: output, inputs: [input])
            let image = try codec.decode(try readFileBytes(path: input, limit: NeuralImageCodec.maxFileBytes))
            try ImageFile.write(image, path: output, inputs: [input])
        }
    }
}
