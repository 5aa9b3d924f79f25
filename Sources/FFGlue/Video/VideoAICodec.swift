import CFFmpeg
import Glibc
import NICCore

/// The AI codec for video: the server side AI-downscales every frame,
/// encodes with H.264/HEVC and puts each frame's AI data in an SEI message of its access
/// unit; the device side decodes, reads each frame's AI data, AI-upscales and re-encodes.
/// Every other stream is copied unchanged.
public enum VideoAICodec {
    public struct EncodeOptions: Sendable {
        /// The scale of the whole stream.
        public enum Scale: Sendable, Equatable {
            /// Chosen by trial encodes among full resolution, x1.5 and x2 (`chooseScale`).
            case auto
            /// 1 (full resolution, no network), 1.5 or 2.
            case fixed(Double)
        }
        public var scale: Scale
        /// NN setting; nil chooses one (`auto`). A setting fixes the scale.
        public var settingID: Int?
        public var encoder: VideoEncoderSettings
        public var contentType: AIDataRecord.ContentType
        /// The conventional route instead of the network, for comparisons: this filter at the
        /// chosen setting's size, AI data naming no setting (ID 0). Needs a fixed scale.
        public var classicDownscale: ResizeMethod?
        public init(
            scale: Scale = .auto, settingID: Int? = nil, encoder: VideoEncoderSettings = .init(),
            contentType: AIDataRecord.ContentType = .unspecified, classicDownscale: ResizeMethod? = nil
        ) {
            self.scale = scale; self.settingID = settingID; self.encoder = encoder; self.contentType = contentType
            self.classicDownscale = classicDownscale
        }
    }

    /// What a video job did, for reports.
    public struct Report: Sendable {
        public var frames = 0
        public var inputWidth = 0, inputHeight = 0
        public var outputWidth = 0, outputHeight = 0
        /// Frames per route: "setting 3", "lanczos", ...
        public var routes: [String: Int] = [:]
        public var copiedStreams = 0
        public var droppedStreams = 0
        public var videoBytes = 0
        /// Wall-clock seconds of the whole job and of the AI scaling inside it.
        public var seconds = 0.0
        public var scalingSeconds = 0.0
        public var setting: NNSetting?
        /// Decode: frames upscaled by the setting their AI data names (no fallback).
        public var aiDataFrames = 0
        /// Encode with a per-scene setting choice: the scenes found.
        public var scenes = 0
        /// Encode with `--scale auto`: the trials and the choices, one per scene or one for the
        /// stream, and the seconds they took.
        public var scalePlan: ScalePlan?
        public var trialSeconds = 0.0
        /// Encode with a per-scene scale: the changes of coded size in the stream.
        public var sizeChanges = 0
        /// Encode: original / coded size of the first frame (1/1: full resolution).
        public var codedScale: (numerator: Int, denominator: Int)?

        /// The choice of a plan with one scale for the whole stream.
        public var scaleChoice: ScaleChoice? { scalePlan?.scenes.count == 1 ? scalePlan?.scenes[0].choice : nil }

        /// Stream counts, bytes and time of a finished job.
        mutating func finish(input: VideoInput, output: VideoOutput, since start: Double) {
            copiedStreams = input.streamCount - 1 - output.droppedStreams.count
            droppedStreams = output.droppedStreams.count
            videoBytes = output.videoBytes
            seconds = monotonicSeconds() - start
        }
    }

    /// Server side: `input` → AI-downscaled H.264/HEVC `output` with AI data per frame.
    public static func encode(
        input path: String, output: String, options: EncodeOptions, store: ModelStore,
        device: ComputeDevice, warn: @escaping (String) -> Void,
        progress: ProgressHandler? = nil
    ) throws -> Report {
        let start = monotonicSeconds()
        try checkBeforeOpening(input: path, output: output, encoder: options.encoder)
        if options.classicDownscale != nil && options.scale == .auto && options.settingID == nil {
            throw NICError.invalidArgument("a classic downscale needs a fixed scale or setting")
        }
        var plan: ScalePlan?
        if options.scale == .auto && options.settingID == nil {
            plan = try planScales(
                input: path, output: output, options: options, store: store, device: device, warn: warn,
                progress: progress, start: start)
        }
        let trialSeconds = monotonicSeconds() - start
        var streamOptions = options
        if let plan { streamOptions.scale = .fixed(plan.scenes[0].choice.chosen.scale) }
        // A plan of several scenes names each scene's route (scale and setting) itself.
        let scenePlan = (plan?.scenes.count ?? 0) > 1 ? plan : nil
        let input = try VideoInput(path: path, threads: device.threads, warn: warn)
        let parameters = input.videoStream.pointee.codecpar.pointee
        let (width, height) = (Int(parameters.width), Int(parameters.height))
        let fullResolution = streamOptions.scale == .fixed(1) && options.settingID == nil
        if fullResolution && options.classicDownscale != nil {
            throw NICError.invalidArgument("a classic downscale needs scale 1.5 or 2")
        }
        let setting =
            try scenePlan.map { try sceneSetting($0.scenes[0], store: store) }
            ?? (try chooseSetting(streamOptions, input: input, width: width, height: height, store: store))
        var route = try Route(setting: setting, width: width, height: height, store: store)
        let small = route.small
        let output = try VideoOutput(
            path: output, input: input, width: small.width, height: small.height,
            settings: videoShare(of: options.encoder, warn: warn),
            sizeChanges: (scenePlan?.sizeChanges ?? 0) > 0, warn: warn)
        guard output.seiCodec != nil else {
            throw NICError.invalidArgument("AI data rides in H.264/HEVC SEI: use the libx264 or libx265 encoder")
        }
        var record = route.record(options, codec: output.seiCodec ?? .h264)
        var report = Report(
            inputWidth: width, inputHeight: height, outputWidth: small.width, outputHeight: small.height,
            setting: setting, scalePlan: plan, trialSeconds: plan == nil ? 0 : trialSeconds,
            codedScale: setting.map { ($0.scaleNumerator, $0.scaleDenominator) } ?? (1, 1))
        let reporter = ProgressReporter(handler: progress, expected: input.declaredFrameCount, start: start)
        try reporter.report(framesDone: 0)
        var warnedResize = false
        // `auto` at a target bit rate: the setting follows each scene's content (at the stream's scale).
        let perScene =
            options.settingID == nil && options.encoder.bitRate != nil && options.classicDownscale == nil && setting != nil
            && scenePlan == nil
        var analyzer = SceneAnalyzer()
        var frameIndex = 0
        try input.run(
            frame: { frame in
                defer { frameIndex += 1 }
                if let scene = scenePlan?.scene(startingAt: frameIndex), frameIndex > 0 {
                    let next = try Route(setting: try sceneSetting(scene, store: store), width: width, height: height, store: store)
                    if next.small != route.small {
                        try output.restartEncoder(width: next.small.width, height: next.small.height)
                        report.sizeChanges += 1
                    }
                    route = next
                    record = route.record(options, codec: output.seiCodec ?? .h264)
                }
                let (image, resized) = try streamImage(frame, width: width, height: height, device: device)
                if resized && !warnedResize {
                    warn(
                        "\(path): the video changes size mid-stream to \(frame.pointee.width)x\(frame.pointee.height); such frames are resized to \(width)x\(height) first"
                    )
                    warnedResize = true
                }
                let scene = perScene ? image.withPlaneViews { analyzer.observe(luma: $0[0]) } : nil
                if let scene, scene.startsScene, let current = route.setting {
                    report.scenes += 1
                    var sceneOptions = streamOptions
                    sceneOptions.scale = .fixed(current.scale)
                    if let chosen = try chooseSetting(
                        sceneOptions, input: input, width: width, height: height, store: store,
                        complexity: scene.complexity)
                    {
                        let chosenRoute = try Route(setting: chosen, width: width, height: height, store: store)
                        if chosenRoute.small == small {
                            route = chosenRoute
                            record.settingID = UInt16(chosen.id)
                        }
                    }
                }
                let t0 = monotonicSeconds()
                let scaled = try route.scale(image, classic: options.classicDownscale, device: device)
                report.scalingSeconds += monotonicSeconds() - t0
                var out: UnsafeMutablePointer<AVFrame>? = try videoFrame(scaled, like: frame)
                defer { av_frame_free(&out) }
                try output.write(out!, aiData: record, inputDuration: frameDuration(frame, input: input))
                report.frames += 1
                let routeName = options.classicDownscale?.rawValue ?? (route.setting == nil ? "unscaled" : "setting \(record.settingID)")
                report.routes[routeName, default: 0] += 1
                try reporter.report(framesDone: report.frames)
            }, otherPacket: { try output.copy($0, from: input) })
        try output.finish()
        report.finish(input: input, output: output, since: start)
        return report
    }

    /// What a video job refuses before it opens anything: encoder settings no job could use, and
    /// an output that is the input.
    static func checkBeforeOpening(input: String, output: String, encoder: VideoEncoderSettings) throws {
        try encoder.validate(rawFrames: VideoEncoderSettings.isRawFrames(path: output))
        try OutputFile.refuseSameFile(output: output, inputs: [input])
    }

    /// The setting a scene of a scale plan is coded with: its winning trial's (nil: full
    /// resolution without a restoration setting).
    static func sceneSetting(_ scene: ScalePlan.Scene, store: ModelStore) throws -> NNSetting? {
        let id = scene.choice.chosen.settingID
        return id == 0 ? nil : try store.setting(id: id)
    }

    /// The setting of `o`, or the selector's choice; `complexity` (SceneAnalyzer) refines the
    /// quality a target bit rate will give. At scale 1: the restoration setting trained behind
    /// the encoder's codec, nil when there is none.
    static func chooseSetting(
        _ o: EncodeOptions, input: VideoInput, width: Int, height: Int,
        store: ModelStore, complexity: Double? = nil
    ) throws -> NNSetting? {
        if let id = o.settingID { return try store.setting(id: id) }
        var fixedScale: Double?
        if case .fixed(let scale) = o.scale { fixedScale = scale }
        let codec = o.encoder.encoder.flatMap(Codec.init(name:)) ?? .h264
        var bitsPerPixel: Double?
        if let bitRate = o.encoder.bitRate {
            let fps = av_q2d(input.frameRate)
            bitsPerPixel = Double(bitRate) / max(1, fps) / Double(width * height)
        }
        let request = SettingSelector.Request(
            codec: codec,
            quality: o.encoder.crf
                ?? bitsPerPixel.map {
                    estimatedCRF(bitsPerOriginalPixel: $0, scale: fixedScale ?? 2, complexity: complexity)
                },
            scale: fixedScale, targetBitsPerPixel: bitsPerPixel, originalWidth: width, originalHeight: height,
            contentType: o.contentType, needsRealTime: true)
        let selector = SettingSelector(manifest: store.manifest)
        return fixedScale == 1 ? selector.restoration(request) : try selector.select(request)
    }

    /// The encoder's settings with the AI data's share taken off a target bit rate, so that the
    /// stream, SEI included, comes out at the rate asked for (AI data never takes more than half).
    static func videoShare(of e: VideoEncoderSettings, warn: (String) -> Void) -> VideoEncoderSettings {
        guard let target = e.bitRate else { return e }
        // A full record per key frame and per change of record: counted as one a second, more
        // than x264's and x265's key frames (at most one every 250 frames plus scene cuts).
        let aiData = AIDataSEI.bytesPerKeyFrame * 8
        var video = e
        video.bitRate = max(target / 2, target - aiData)
        if aiData > target / 4 {
            warn(
                "AI data takes about \(Double(aiData) / 1000) kbit/s of the \(Double(target) / 1000) kbit/s asked for; the video gets \(Double(video.bitRate!) / 1000) kbit/s"
            )
        }
        return video
    }

    /// The CRF an x264/x265 encode of the downscaled video will roughly settle at for a
    /// target rate: about 0.1 bit per coded pixel at CRF 23 on content of complexity 14
    /// (`SceneAnalyzer`; typical camera content when unknown), bits proportional to the
    /// complexity, and half the bits for every 6 CRF steps. Used only to pick the quality bucket.
    static func estimatedCRF(bitsPerOriginalPixel bpp: Double, scale: Double, complexity: Double? = nil) -> Double {
        let perCodedPixel = max(1e-6, bpp * scale * scale)
        let relative = max(1e-3, (complexity ?? SceneAnalyzer.referenceComplexity) / SceneAnalyzer.referenceComplexity)
        return min(51, max(0, 23 - 6 * log2(perCodedPixel / 0.1) + 6 * log2(relative)))
    }

    static func qualityKind(_ e: VideoEncoderSettings) -> AIDataRecord.QualityKind {
        e.bitRate != nil ? .bitrateKbps : e.crf != nil ? .crf : .unspecified
    }

    static func qualityValue(_ e: VideoEncoderSettings) -> Int32 {
        if let bitRate = e.bitRate { return Int32(clamping: max(1, bitRate / 1000)) }
        if let crf = e.crf, crf.isFinite { return Int32(clamping: Int(max(-1e6, min(1e6, crf * 100)).rounded())) }
        return 0
    }
}
