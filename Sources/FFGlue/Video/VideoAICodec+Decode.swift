import CFFmpeg
import NICCore

extension VideoAICodec {
    public struct DecodeOptions: Sendable {
        /// Output size; nil takes the original size from the first frame's AI data (else 2x).
        public var size: (width: Int, height: Int)?
        public var encoder: VideoEncoderSettings
        /// Generic AI setting (else Lanczos) for frames the AI data cannot drive.
        public var allowGenericFallback: Bool
        public var forcedMethod: ResizeMethod?
        public var forcedSetting: Int?
        public init(
            size: (width: Int, height: Int)? = nil, encoder: VideoEncoderSettings = .init(),
            allowGenericFallback: Bool = true, forcedMethod: ResizeMethod? = nil, forcedSetting: Int? = nil
        ) {
            self.size = size; self.encoder = encoder; self.allowGenericFallback = allowGenericFallback
            self.forcedMethod = forcedMethod; self.forcedSetting = forcedSetting
        }
    }

    /// Device side: decodes `input`, upscales every frame by its AI data and encodes `output`
    /// (MP4/MKV/... with the other streams copied, or raw frames for .y4m).
    ///
    /// A frame without AI data keeps the last AI data seen; frames before the first one take
    /// the fallback (docs/ai-data.md §4). Corrupt records are reported and skipped.
    public static func decode(
        input path: String, output: String, options: DecodeOptions, store: ModelStore?,
        device: ComputeDevice, warn: @escaping (String) -> Void,
        progress: ProgressHandler? = nil
    ) throws -> Report {
        let start = monotonicSeconds()
        try checkBeforeOpening(input: path, output: output, encoder: options.encoder)
        let size = try outputSize(path, options: options, device: device, output: output, warn: warn)
        let input = try VideoInput(path: path, threads: device.threads, warn: warn)
        let writer = try VideoOutput(
            path: output, input: input, width: size.width, height: size.height,
            settings: options.encoder, warn: warn)
        let parameters = input.videoStream.pointee.codecpar.pointee
        var report = Report(
            inputWidth: Int(parameters.width), inputHeight: Int(parameters.height),
            outputWidth: size.width, outputHeight: size.height)
        var reasonsSeen = Set<String>()
        let reporter = ProgressReporter(handler: progress, expected: input.declaredFrameCount, start: start)
        try reporter.report(framesDone: 0)
        let planOptions = AIDecodePlan.Options(
            allowGenericFallback: options.allowGenericFallback,
            forcedMethod: options.forcedMethod, forcedSetting: options.forcedSetting)
        let upscaler = FrameUpscaler(store: store, device: device, options: planOptions, warn: warn)
        try input.run(
            frame: { frame in
                var converted = try asPlanar420(frame)
                defer { av_frame_free(&converted) }
                let source = converted ?? frame
                var out: UnsafeMutablePointer<AVFrame>? = try allocateFrame(
                    format: source.pixelFormat, width: size.width, height: size.height, range: source.pointee.color_range)
                defer { av_frame_free(&out) }
                let t0 = monotonicSeconds()
                let result = try upscaler.upscale(source, into: out!)
                report.scalingSeconds += monotonicSeconds() - t0
                let route = result.plan.routeName
                if let reason = result.plan.fallbackReason, reasonsSeen.insert(reason).inserted {
                    warn("\(path): frame at pts \(frame.pointee.pts): \(reason); upscaled with \(route) (reported once)")
                }
                report.routes[route, default: 0] += 1
                if result.plan.fallbackReason == nil { report.aiDataFrames += 1 }
                try writer.write(out!, aiData: nil, inputDuration: frameDuration(frame, input: input))
                report.frames += 1
                try reporter.report(framesDone: report.frames)
            }, otherPacket: { try writer.copy($0, from: input) })
        try writer.finish()
        if !writer.droppedStreams.isEmpty {
            warn("\(output): raw frames hold video only; \(writer.droppedStreams.count) other stream(s) not written")
        }
        report.finish(input: input, output: writer, since: start)
        return report
    }

    /// The requested size, else the original size in the first frame's AI data, else twice
    /// the coded size; made even for 4:2:0 encoders.
    static func outputSize(
        _ path: String, options: DecodeOptions, device: ComputeDevice, output: String,
        warn: @escaping (String) -> Void
    ) throws -> (width: Int, height: Int) {
        var size = options.size
        if size == nil {
            let probe = try VideoInput(path: path, threads: device.threads, warn: { _ in })
            size = try probe.firstFrame { frame -> (width: Int, height: Int) in
                var reader = AIDataSEI.Reader()
                let (width, height) = (Int(frame.pointee.width), Int(frame.pointee.height))
                if case .record(let r) = reader.read(frame),
                    let original = AIDecodePlan.originalSize(of: r, imageWidth: width, imageHeight: height)
                {
                    return original
                }
                return (2 * width, 2 * height)
            }
            guard size != nil else { throw NICError.corruptData("\(path): no video frame could be decoded") }
        }
        try ImageLimits.check(width: size!.width, height: size!.height)
        if VideoEncoderSettings.isRawFrames(path: output) { return size! }
        let even = evenSize(size!.width, size!.height)
        if even != size! {
            warn("\(output): 4:2:0 video needs even sizes; writing \(even.width)x\(even.height) instead of \(size!.width)x\(size!.height)")
        }
        return even
    }
}

/// nil when `frame` is planar 4:2:0 YUV already, else a limited-range yuv420p copy with its
/// properties and side data (the AI data). Free it with av_frame_free.
func asPlanar420(_ frame: UnsafeMutablePointer<AVFrame>) throws -> UnsafeMutablePointer<AVFrame>? {
    if (try? frameView(frame, role: "input")) != nil { return nil }
    return try convertedKeepingProperties(frame, to: AV_PIX_FMT_YUV420P, range: AVCOL_RANGE_MPEG)
}

/// The AI data in force for each frame: a frame without AI data keeps the last record seen,
/// a corrupt record is reported and does not replace it.
struct AIDataTracker {
    private(set) var last: AIDataRecord?
    private var firstProblem: String?
    private var corruptCount = 0
    let warn: (String) -> Void

    init(warn: @escaping (String) -> Void) { self.warn = warn }

    mutating func update(with found: AIDecodePlan.Found, pts: Int64) -> AIDecodePlan.Found {
        switch found {
        case .record(let record):
            last = record
        case .corrupt(let message):
            corruptCount += 1
            if corruptCount <= 3 {
                let more = corruptCount == 3 ? "; further corrupt records are not reported" : ""
                warn("frame at pts \(pts): skipped corrupt AI data (\(message))\(more)")
            }
            if last == nil { firstProblem = message }
        case .none:
            break
        }
        if let last { return .record(last) }
        return firstProblem.map { .corrupt($0) } ?? .none
    }
}

extension AIDecodePlan {
    /// "setting 3", "lanczos", "bicubic", "liff": how frames went, for reports.
    public var routeName: String {
        switch route {
        case .network(let id): return "setting \(id)"
        case .classic(let method): return method.rawValue
        case .unscaled: return "unscaled"
        case .liff: return "liff"
        }
    }
}
