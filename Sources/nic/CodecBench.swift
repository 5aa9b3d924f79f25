import ArgumentParser
import FFGlue
import NICCore

/// `nic bench codec`: in-process encode and decode times of the neural image codec
/// (model loading excluded), with the rate and quality of the result.
struct CodecBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "Neural image codec: encode and decode ms (median of repeats), bpp, PSNR, time per stage.")

    @Argument(help: "Input image.") var input: String
    @Option(help: "Quality 1-100.") var quality: Int = 75
    @Option(help: "Timed repetitions.") var repeats: Int = 5
    @Flag(
        inversion: .prefixedNo,
        help: "Encode and decode once, untimed, before the timed repetitions (--no-warmup: not, for slow searches).")
    var warmup = true
    @OptionGroup var searchOptions: EncoderSearchOptions
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print one JSON object (last line).") var json = false

    func run() throws {
        try runReportingErrors {
            guard (1...1000).contains(repeats) else { throw NICError.invalidArgument("--repeats must be 1...1000") }
            let search = try searchOptions.search()
            let device = try modelOptions.device()
            let codec = NeuralImageCodec(model: try modelOptions.store().neuralCodecModel(quality: quality), device: device)
            let image = try ImageFile.read(path: input, as: .rgb24)
            var bytes: [UInt8] = [], decoded = image
            var encodeTimes: [Double] = [], decodeTimes: [Double] = []
            var encodeStages = codec.stageSeconds, decodeStages = codec.stageSeconds
            for i in (warmup ? 0 : 1)...repeats {
                var t = monotonicSeconds()
                bytes = try codec.encode(image, quality: quality, search: search)
                if i > 0 { encodeTimes.append(monotonicSeconds() - t) }
                encodeStages = codec.stageSeconds
                t = monotonicSeconds()
                decoded = try codec.decode(bytes)
                if i > 0 { decodeTimes.append(monotonicSeconds() - t) }
                decodeStages = codec.stageSeconds
            }
            let bpp = Double(bytes.count * 8) / Double(image.width * image.height)
            let psnr = try Quality.psnr(image, decoded)
            let (enc, dec) = (TimingSummary(encodeTimes).median * 1000, TimingSummary(decodeTimes).median * 1000)
            if json {
                func stages(_ list: [(stage: String, seconds: Double)]) -> JSONValue {
                    .object(Dictionary(uniqueKeysWithValues: list.map { ($0.stage, JSONValue.number(rounded($0.seconds * 1000, 2))) }))
                }
                print(
                    JSONValue.object([
                        "image": .string(input), "width": .number(Double(image.width)), "height": .number(Double(image.height)),
                        "quality": .number(Double(quality)), "effort": .number(Double(searchOptions.effort)),
                        "refine": .number(Double(search.refinementSteps)),
                        "steps": .number(Double(search.latentSteps)), "step_size": .number(Double(search.latentStepSize)),
                        "dsq": .number(Double(search.dependentQuantization)),
                        "grid": .bool(search.integerGrid),
                        "consistency": .number(Double(search.consistencyPasses)),
                        "fixed_point": .number(Double(search.fixedPointPasses)),
                        "threads": .number(Double(device.threads)),
                        "repeats": .number(Double(repeats)), "warmup": .bool(warmup),
                        "bytes": .number(Double(bytes.count)), "bpp": .number(rounded(bpp, 5)), "psnr": .number(rounded(psnr, 3)),
                        "encode_ms": .number(rounded(enc, 1)), "decode_ms": .number(rounded(dec, 1)),
                        "encode_stages_ms": stages(encodeStages), "decode_stages_ms": stages(decodeStages),
                    ]).serialized)
                return
            }
            print("\(input) \(image.width)x\(image.height), quality \(quality), \(device.threads) thread(s), median of \(repeats):")
            print("  \(bytes.count) bytes = \(fixed(bpp, 4)) bpp, RGB PSNR \(fixed(psnr, 2)) dB")
            print("  encode \(fmt(enc)) ms: " + encodeStages.map { "\($0.stage) \(fmt($0.seconds * 1000))" }.joined(separator: ", "))
            print("  decode \(fmt(dec)) ms: " + decodeStages.map { "\($0.stage) \(fmt($0.seconds * 1000))" }.joined(separator: ", "))
        }
    }
}
