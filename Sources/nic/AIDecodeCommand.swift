import ArgumentParser
import FFGlue
import NICCore

/// `nic ai-decode` and `nic upscale` share this: decode, read AI data, upscale, write.
struct UpscaleRun {
    var input: String
    var output: String
    var size: String?
    var settingOverride: Int?
    var method: String?
    var quality: Int?
    var modelOptions: ModelOptions
    var json: Bool

    func run() throws {
        let requested = try size.map { text -> (width: Int, height: Int) in
            guard let s = parseSize(text) else { throw NICError.invalidArgument("--size must look like 1920x1080") }
            return (width: s.0, height: s.1)
        }
        var forced: ResizeMethod?
        let liff = method == "liff"
        if let method, !liff {
            guard let m = ResizeMethod(rawValue: method) else {
                throw NICError.invalidArgument("--method must be bicubic, lanczos or liff")
            }
            forced = m
        }
        try OutputFile.refuseSameFile(output: output, inputs: [input])
        if let requested { try ImageLimits.check(width: requested.width, height: requested.height) }
        let store = modelOptions.optionalStore()
        let device = try modelOptions.device()
        let options = AIDecodePlan.Options(
            size: requested, forcedMethod: forced, forcedSetting: settingOverride, forcedLIFF: liff)
        let result = try StillImageAICodec.decode(path: input, options: options, store: store, device: device)
        try ImageFile.write(result.image, path: output, quality: quality, inputs: [input])
        report(result)
    }

    func report(_ r: StillImageAICodec.DecodeResult) {
        let route = r.plan.routeName
        if let reason = r.plan.fallbackReason {
            printError("nic: warning: \(reason); upscaled with \(route)")
        }
        if json {
            var fields: [String: JSONValue] = [
                "output": .string(output), "width": .number(Double(r.plan.width)),
                "height": .number(Double(r.plan.height)), "route": .string(route),
                "fallback_reason": r.plan.fallbackReason.map { .string($0) } ?? .null,
            ]
            if let record = r.record { fields["ai_data"] = .object(record.jsonFields) }
            print(JSONValue.object(fields).serialized)
        } else {
            print("\(output): \(r.plan.width)x\(r.plan.height) via \(route)")
        }
    }
}

struct AIDecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ai-decode",
        abstract: "Decode an AI-encoded image or video, read its AI data and AI-upscale (fallback: see docs/ai-data.md).")

    @Argument(help: "AI-encoded image or video.") var input: String
    @Argument(help: "Output image (.png, .jpg, .webp) or video (.mp4, .mkv, .mov, .ts; .y4m for raw frames).") var output: String
    @Option(help: "Output size WIDTHxHEIGHT (default: the original size in the AI data).") var size: String?
    @Option(help: "Quality of a JPEG/WebP output.") var quality: Int?
    @Option(help: "Video: output encoder, libx264 (default) or libx265.") var codec: String?
    @OptionGroup var videoOptions: VideoEncoderOptions
    @OptionGroup var progressOptions: ProgressOptions
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try runReportingErrors {
            if VideoAICodec.isVideoFile(input) { return try decodeVideo() }
            try UpscaleRun(
                input: input, output: output, size: size, settingOverride: nil, method: nil, quality: quality,
                modelOptions: modelOptions, json: json
            ).run()
        }
    }
}

extension AIDecodeCommand {
    func decodeVideo() throws {
        let requested = try size.map { text -> (width: Int, height: Int) in
            guard let s = parseSize(text) else { throw NICError.invalidArgument("--size must look like 1920x1080") }
            return (width: s.0, height: s.1)
        }
        let options = VideoAICodec.DecodeOptions(
            size: requested,
            encoder: try videoOptions.settings(codec: codec, threads: modelOptions.threads))
        let (progress, finish) = progressOptions.handler()
        let report = try VideoAICodec.decode(
            input: input, output: output, options: options,
            store: modelOptions.optionalStore(), device: try modelOptions.device(),
            warn: printWarning, progress: progress)
        finish()
        if json { print(JSONValue.object(report.jsonFields(output: output)).serialized) } else { print("\(output): \(report.summary)") }
    }
}

struct UpscaleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upscale",
        abstract: "AI-upscale an image: by its AI data when present, else with the generic setting (or --method).")

    @Argument(help: "Input image (any codec; AI data is used when present).") var input: String
    @Argument(help: "Output image (.png, .jpg, .webp).") var output: String
    @Option(help: "Use this NN setting's up network regardless of the AI data.") var setting: Int?
    @Option(help: "Output size WIDTHxHEIGHT.") var size: String?
    @Option(help: "Force a classic filter (lanczos or bicubic) or the LIFF up-scaler (liff: any factor 1 to 4 per axis).")
    var method: String?
    @Option(help: "Quality of a JPEG/WebP output.") var quality: Int?
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try runReportingErrors {
            try UpscaleRun(
                input: input, output: output, size: size, settingOverride: setting, method: method, quality: quality,
                modelOptions: modelOptions, json: json
            ).run()
        }
    }
}
