import ArgumentParser
import FFGlue
import NICCore
#if canImport(Glibc)
import Glibc
#endif

struct DownscaleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "downscale",
        abstract: "AI-downscale an image to a PNG carrying AI data, for coding with any codec afterwards.")

    @Argument(help: "Input image.") var input: String
    @Argument(help: "Output PNG.") var output: String
    @Option(help: "Scale factor 2 or 1.5.") var scale: Double?
    @Option(help: "Codec the small image will be coded with: jpeg, webp, x264 or x265.") var codec: String?
    @Option(help: "Its quality (JPEG/WebP) or CRF (x264/x265).") var quality: Int?
    @Option(help: "NN setting ID (instead of --codec/--quality).") var setting: Int?
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard ImageFileFormat(path: output) == .png else { throw ValidationError("the output of downscale is a .png file") }
    }

    func run() throws {
        try runReportingErrors {
            let codecName = codec ?? "png"
            guard let small = StillImageAICodec.SmallImageCodec(rawValue: codecName.lowercased()) else {
                throw NICError.invalidArgument("unknown codec \(codecName); use jpeg, webp, x264 or x265")
            }
            // The small image is stored losslessly; the record says which codec will code it.
            let options = StillImageAICodec.EncodeOptions(codec: small, quality: quality, scale: scale, settingID: setting)
            let image = try ImageFile.read(path: input)
            let result = try StillImageAICodec.encode(image, options: options, store: try modelOptions.store(),
                                                      device: try modelOptions.device())
            try writeFileBytes(result.bytes, path: output)
            if json {
                var fields = result.record.jsonFields
                fields["output"] = .string(output)
                print(JSONValue.object(fields).serialized)
            } else {
                print("\(output): \(result.record.downscaledWidth)x\(result.record.downscaledHeight), setting \(result.setting.id) (\(result.setting.name))")
            }
        }
    }
}

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Show an image's size and AI data.")

    @Argument(help: "Image file.") var input: String
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try runReportingErrors {
            let contents = try ImageFile.readWithMetadata(path: input)
            var fields: [String: JSONValue] = ["file": .string(input), "width": .number(Double(contents.image.width)),
                                               "height": .number(Double(contents.image.height))]
            switch StillImageAICodec.findAIData(contents.metadataText) {
            case .none: fields["ai_data_status"] = .string("absent")
            case .corrupt(let why): fields["ai_data_status"] = .string("corrupt: \(why)")
            case .record(let r):
                fields["ai_data_status"] = .string("present")
                fields.merge(r.jsonFields) { a, _ in a }
            }
            if json { print(JSONValue.object(fields).serialized); return }
            for key in fields.keys.sorted() { print("\(key): \(fields[key]!.serialized)") }
        }
    }
}
