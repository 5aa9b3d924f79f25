import ArgumentParser
import FFGlue
import NICCore

struct AIEncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ai-encode",
        abstract: "AI-downscale an image or video and code it with its AI data (image metadata, or SEI per video frame).")

    @Argument(help: "Input image or video.") var input: String
    @Argument(help: "Output image (.jpg, .webp, .png) or video (.mp4, .mkv, .mov, .ts).") var output: String
    @Option(
        help:
            "Scale factor. Video: auto (default: chosen by trial encodes), 1 (full resolution), 1.5 or 2. Images: 2 or 1.5 (default: chosen from quality and resolution)."
    )
    var scale: String?
    @Option(help: "Images: jpeg, webp or png (default: from the output extension). Video: libx264 (default) or libx265.")
    var codec: String?
    @Option(help: "Codec quality 1-100 for JPEG/WebP.") var quality: Int?
    @Option(help: "NN setting ID, or auto (default; overrides --scale when an ID).") var setting: String?
    @Option(help: "Content type: natural, screen or animation.") var content: String?
    @Option(help: "JPEG: steps of encoder-side refinement of the small image through the setting's up network (0 = off).")
    var refine: Int = 0
    @OptionGroup var videoOptions: VideoEncoderOptions
    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try runReportingErrors {
            let settingID = try parseSettingChoice(setting)
            if VideoAICodec.isVideoFile(input) { return try encodeVideo(settingID: settingID) }
            let small = try resolveCodec(codec, output: output, allowed: [.jpeg, .webp, .png])
            let options = StillImageAICodec.EncodeOptions(
                codec: small, quality: quality, scale: try parseScale(scale), settingID: settingID,
                contentType: try parseContent(content),
                refineIterations: try checkedRefineSteps(refine))
            try OutputFile.refuseSameFile(output: output, inputs: [input])
            let image = try ImageFile.read(path: input)
            let result = try StillImageAICodec.encode(
                image, options: options, store: try modelOptions.store(),
                device: try modelOptions.device())
            try writeFileBytes(result.bytes, path: output, inputs: [input])
            report(result)
        }
    }

    func encodeVideo(settingID: Int?) throws {
        let options = VideoAICodec.EncodeOptions(
            scale: try parseScale(scale).map { .fixed($0) } ?? .auto, settingID: settingID,
            encoder: try videoOptions.settings(codec: codec ?? "libx264", threads: modelOptions.threads),
            contentType: try parseContent(content))
        let (progress, finish) = progressOptions.handler()
        let report = try VideoAICodec.encode(
            input: input, output: output, options: options, store: try modelOptions.store(),
            device: try modelOptions.device(), warn: printWarning, progress: progress)
        finish()
        if json { print(JSONValue.object(report.jsonFields(output: output)).serialized) } else { print("\(output): \(report.summary)") }
    }

    func report(_ r: StillImageAICodec.EncodeResult) {
        let bpp = Double(r.bytes.count * 8) / Double(r.record.originalWidth * r.record.originalHeight)
        let refinement = reportRefinement(r.refinement, steps: refine)
        if json {
            var fields = r.record.jsonFields
            fields["refinement"] = refinement
            fields["output"] = .string(output); fields["bytes"] = .number(Double(r.bytes.count))
            fields["bits_per_original_pixel"] = .number(rounded(bpp, 4))
            print(JSONValue.object(fields).serialized)
        } else {
            print(
                "\(output): \(r.record.downscaledWidth)x\(r.record.downscaledHeight) from \(r.record.originalWidth)x\(r.record.originalHeight), setting \(r.setting.id) (\(r.setting.name)), \(r.bytes.count) bytes, \(rounded(bpp, 3)) bits per original pixel"
                    + refinementNote(r))
        }
    }
}

/// ", refined (D + λR −x%)" when the small image was refined (docs/models.md).
private func refinementNote(_ r: StillImageAICodec.EncodeResult) -> String {
    guard case .success(let o) = r.refinement, o.costBefore > 0 else { return "" }
    return ", refined (D + λR \(rounded(100 * (o.costAfter / o.costBefore - 1), 1))%)"
}

/// The small-image codec from --codec or the output's extension.
func resolveCodec(_ name: String?, output: String, allowed: [Codec]) throws -> Codec {
    let fromExtension = ImageFileFormat(path: output)?.stillImageCodec
    let names = allowed.compactMap(\.name).joined(separator: ", ")
    guard let codec = name.map({ Codec(name: $0) }) ?? fromExtension else {
        throw NICError.invalidArgument("unknown codec \(name ?? "for \(output)"); use one of \(names)")
    }
    guard allowed.contains(codec) else {
        throw NICError.invalidArgument("codec \(codec.name ?? "\(codec.rawValue)") is not possible here; use one of \(names)")
    }
    return codec
}

/// `--scale`: a factor, or auto / absent for the automatic choice.
func parseScale(_ text: String?) throws -> Double? {
    guard let text, text.lowercased() != "auto" else { return nil }
    guard let scale = Double(text), scale.isFinite, scale >= 1 else { throw NICError.invalidArgument("--scale must be auto, 1, 1.5 or 2") }
    return scale
}

/// `--setting`: an ID, or auto / absent for the automatic choice.
func parseSettingChoice(_ text: String?) throws -> Int? {
    guard let text, text.lowercased() != "auto" else { return nil }
    guard let id = Int(text), id > 0 else { throw NICError.invalidArgument("--setting must be a setting ID or auto") }
    return id
}

func parseContent(_ name: String?) throws -> AIDataRecord.ContentType {
    switch name?.lowercased() {
    case nil: return .unspecified
    case "natural": return .natural
    case "screen": return .screen
    case "animation": return .animation
    case let other?: throw NICError.invalidArgument("unknown content type \(other); use natural, screen or animation")
    }
}

extension AIDataRecord {
    /// The record as JSON fields for `--json` output.
    var jsonFields: [String: JSONValue] {
        [
            "setting_id": .number(Double(settingID)), "scale": .number(scale),
            "scale_rational": .array([.number(Double(scaleNumerator)), .number(Double(scaleDenominator))]),
            "original_width": .number(Double(originalWidth)), "original_height": .number(Double(originalHeight)),
            "downscaled_width": .number(Double(downscaledWidth)), "downscaled_height": .number(Double(downscaledHeight)),
            "codec": .number(Double(codec.rawValue)), "quality_kind": .number(Double(qualityKind.rawValue)),
            "quality_value": .number(Double(qualityValue)), "content_type": .number(Double(contentType.rawValue)),
            "flags": .number(Double(flags.rawValue)),
        ]
    }
}
