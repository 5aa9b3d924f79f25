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
    @Option(help: "JPEG with --quality: steps of encoder-side refinement of the small image (0 = off).")
    var refine: Int = 0
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard ImageFileFormat(path: output) == .png else { throw ValidationError("the output of downscale is a .png file") }
    }

    func run() throws {
        try runReportingErrors {
            let codecName = codec ?? "png"
            guard let small = Codec(name: codecName) else {
                throw NICError.invalidArgument("unknown codec \(codecName); use jpeg, webp, x264 or x265")
            }
            // The small image is stored losslessly; the record says which codec will code it.
            let options = StillImageAICodec.EncodeOptions(
                codec: small, quality: quality, scale: scale, settingID: setting,
                refineIterations: try checkedRefineSteps(refine), losslessOutput: true)
            try OutputFile.refuseSameFile(output: output, inputs: [input])
            let image = try ImageFile.read(path: input)
            let result = try StillImageAICodec.encode(
                image, options: options, store: try modelOptions.store(),
                device: try modelOptions.device())
            try writeFileBytes(result.bytes, path: output, inputs: [input])
            let refinement = reportRefinement(result.refinement, steps: refine)
            if json {
                var fields = result.record.jsonFields
                fields["output"] = .string(output)
                fields["refinement"] = refinement
                print(JSONValue.object(fields).serialized)
            } else {
                print(
                    "\(output): \(result.record.downscaledWidth)x\(result.record.downscaledHeight), setting \(result.setting.id) (\(result.setting.name))"
                )
            }
        }
    }
}

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show an image's size and AI data, a .nic file's layers, or a video's AI data per frame.")

    @Argument(help: "Image or video file.") var input: String
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try runReportingErrors {
            if VideoAICodec.isVideoFile(input) { return try showVideo() }
            if let bytes = try? readFileBytes(path: input, limit: NeuralImageCodec.maxFileBytes), NICBitstream.hasMagic(bytes) {
                return try showNIC(bytes)
            }
            let contents = try ImageFile.readWithMetadata(path: input)
            var fields: [String: JSONValue] = [
                "file": .string(input), "width": .number(Double(contents.image.width)),
                "height": .number(Double(contents.image.height)),
            ]
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

extension InfoCommand {
    /// The layers of a `.nic` file (one for a single-layer file).
    func showNIC(_ bytes: [UInt8]) throws {
        let (liff, layers) = try LayeredImageCodec.inspect(bytes)
        let top = layers.last!.size
        if !json {
            let prediction = liff.map { ", predicted by LIFF model \(hex8($0))" } ?? ""
            print("\(input): .nic, \(top), \(bytes.count) bytes, \(layers.count) layer\(layers.count == 1 ? "" : "s")\(prediction)")
            for (k, layer) in layers.enumerated() {
                let state = layer.whole ? "quality \(layer.quality!), model \(hex8(layer.modelID!))" : "missing (file cut short)"
                print("  layer \(k): \(layer.size), \(layer.bytes) bytes, \(state)")
            }
            return
        }
        let list: [JSONValue] = layers.map { layer in
            var fields: [String: JSONValue] = [
                "width": .number(Double(layer.size.width)), "height": .number(Double(layer.size.height)),
                "bytes": .number(Double(layer.bytes)), "whole": .bool(layer.whole),
            ]
            if let q = layer.quality { fields["quality"] = .number(Double(q)) }
            if let m = layer.modelID { fields["model_id"] = .string(hex8(m)) }
            return .object(fields)
        }
        var fields: [String: JSONValue] = [
            "file": .string(input), "kind": .string("nic"), "version": .number(Double(bytes[4])),
            "width": .number(Double(top.width)), "height": .number(Double(top.height)), "bytes": .number(Double(bytes.count)),
            "layers": .array(list),
        ]
        if let liff { fields["liff_model_id"] = .string(hex8(liff)) }
        print(JSONValue.object(fields).serialized)
    }

    func showVideo() throws {
        var summary = (frames: 0, withAIData: 0, corrupt: 0)
        let info = try VideoAICodec.inspect(input, warn: printWarning) { frame in
            summary.frames += 1
            switch frame.found {
            case .record: summary.withAIData += 1
            case .corrupt: summary.corrupt += 1
            case .none: break
            }
            if !json { print("pts \(frame.pts): \(frame.found.jsonFields["ai_data_status"]!.serialized)") }
        }
        if !json {
            print(
                "\(input): \(info.codecName) \(info.width)x\(info.height), \(summary.frames) frames, \(summary.withAIData) with AI data, \(summary.corrupt) corrupt"
            )
            return
        }
        let frames: [JSONValue] = info.frames.map { frame in
            var fields = frame.found.jsonFields
            fields["pts"] = .number(Double(frame.pts))
            fields["time"] = frame.seconds.isNaN ? .null : .number(rounded(frame.seconds, 6))
            fields["width"] = .number(Double(frame.width))
            fields["height"] = .number(Double(frame.height))
            return .object(fields)
        }
        let fields: [String: JSONValue] = [
            "file": .string(input), "kind": .string("video"), "format": .string(info.formatName),
            "codec": .string(info.codecName), "width": .number(Double(info.width)), "height": .number(Double(info.height)),
            "frame_rate": .number(rounded(info.frameRate, 4)), "streams": .number(Double(info.streamCount)),
            "frame_count": .number(Double(info.frames.count)),
            "frames_with_ai_data": .number(Double(summary.withAIData)), "frames": .array(frames),
        ]
        print(JSONValue.object(fields).serialized)
    }
}

extension AIDecodePlan.Found {
    /// `ai_data_status` plus the record's fields when there is one.
    var jsonFields: [String: JSONValue] {
        switch self {
        case .none: return ["ai_data_status": .string("absent")]
        case .corrupt(let why): return ["ai_data_status": .string("corrupt: \(why)")]
        case .record(let r):
            var fields = r.jsonFields
            fields["ai_data_status"] = .string("present")
            return fields
        }
    }
}
