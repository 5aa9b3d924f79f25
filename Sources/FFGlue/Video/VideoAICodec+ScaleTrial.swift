import CFFmpeg
import Glibc
import NICCore

extension VideoAICodec {
    /// The scales `--scale auto` tries: full resolution and the AI routes.
    static let autoScales: [Double] = [1, 1.5, 2]
    /// The sample: up to this many windows of consecutive frames, spread over the stream.
    static let trialWindows = 3
    static let trialWindowFrames = 12

    /// `--scale auto`: the scale of every frame. Where the container of `output` carries a change
    /// of coded size (`VideoOutput.carriesSizeChanges`) and the stream has several scenes long
    /// enough (`ScalePlan.sceneRanges`), each scene is given its own choice from trials of a
    /// sample of its frames; otherwise one choice for the whole stream (`chooseScale`).
    static func planScales(
        input path: String, output: String, options: EncodeOptions, store: ModelStore, device: ComputeDevice,
        warn: @escaping (String) -> Void, progress: ProgressHandler? = nil, start: Double = monotonicSeconds()
    ) throws -> ScalePlan {
        var frames: Int?
        if VideoOutput.carriesSizeChanges(path: output) {
            let input = try VideoInput(path: path, threads: device.threads, warn: { _ in })
            let reporter = ProgressReporter(handler: progress, expected: input.declaredFrameCount, start: start)
            let scenes = try findScenes(input, device: device, reporter: reporter)
            let ranges = ScalePlan.sceneRanges(starts: scenes.starts.map(\.frame), frameCount: scenes.frames)
            if ranges.count > 1 {
                return try planPerScene(
                    path, ranges: ranges, complexity: scenes.starts, output: output, options: options, store: store,
                    device: device, warn: warn, reporter: reporter)
            }
            frames = scenes.frames
        }
        let choice = try chooseScale(
            input: path, output: output, options: options, store: store, device: device, warn: warn,
            progress: progress, start: start)
        return ScalePlan(wholeStream: choice, frames: frames)
    }

    /// The first pass of a per-scene plan: the frames of the stream and where its scenes start
    /// (`SceneAnalyzer`; a cut is confirmed one frame late, so a scene starts on the frame before
    /// the confirming one), each with the complexity `chooseSetting` takes.
    static func findScenes(
        _ input: VideoInput, device: ComputeDevice, reporter: ProgressReporter
    ) throws -> (frames: Int, starts: [(frame: Int, complexity: Double)]) {
        let parameters = input.videoStream.pointee.codecpar.pointee
        let (width, height) = (Int(parameters.width), Int(parameters.height))
        var analyzer = SceneAnalyzer()
        var starts: [(frame: Int, complexity: Double)] = []
        var index = 0
        try input.run(
            frame: { frame in
                let image = try streamImage(frame, width: width, height: height, device: device).image
                let scene = image.withPlaneViews { analyzer.observe(luma: $0[0]) }
                if scene.startsScene { starts.append((max(0, index - 1), scene.complexity)) }
                index += 1
                try reporter.report(framesDone: 0)
            }, otherPacket: { _ in })
        guard index > 0 else { throw NICError.corruptData("\(input.path): no video frame could be decoded") }
        return (index, starts)
    }

    /// The second pass of a per-scene plan: for each scene, the trials of `sampleIndices` of its
    /// frames, run as soon as its sample is read (one scene's sample in memory at a time).
    static func planPerScene(
        _ path: String, ranges: [Range<Int>], complexity starts: [(frame: Int, complexity: Double)], output: String,
        options: EncodeOptions, store: ModelStore, device: ComputeDevice, warn: @escaping (String) -> Void,
        reporter: ProgressReporter
    ) throws -> ScalePlan {
        let input = try VideoInput(path: path, threads: device.threads, warn: { _ in })
        let parameters = input.videoStream.pointee.codecpar.pointee
        let (width, height) = (Int(parameters.width), Int(parameters.height))
        let trials = try TrialSet(output: output, options: options, input: input, width: width, height: height)
        defer { trials.folder.discard() }
        let samples = ranges.map { range in
            sampleIndices(count: range.count).map { ($0.lowerBound + range.lowerBound)..<($0.upperBound + range.lowerBound) }
        }
        var scenes: [ScalePlan.Scene] = []
        var sample: [PlanarImage] = []
        var index = 0
        try input.run(
            frame: { frame in
                defer { index += 1 }
                let scene = scenes.count
                guard scene < ranges.count, samples[scene].contains(where: { $0.contains(index) }) else { return }
                sample.append(try streamImage(frame, width: width, height: height, device: device).image)
                guard index + 1 == samples[scene].last?.upperBound else { return }
                let range = ranges[scene]
                let sceneComplexity = starts.last { $0.frame <= range.lowerBound }?.complexity
                let choice = try trials.choose(
                    sample, name: "scene\(scene)", complexity: sceneComplexity, store: store, device: device, warn: warn,
                    reporter: reporter)
                scenes.append(ScalePlan.Scene(firstFrame: range.lowerBound, frames: range.count, choice: choice))
                sample = []
            }, otherPacket: { _ in })
        guard scenes.count == ranges.count else {
            throw NICError.corruptData("\(path): the second reading gave fewer frames than the first")
        }
        return try ScalePlan(scenes: scenes)
    }

    /// `--scale auto` for the whole stream: trial encodes of a sample of `path` at each of
    /// `autoScales` (each route as the job would code it, with the user's encoder, rate control,
    /// quality and preset (no slower than medium), decoded and upscaled as a player would
    /// (`FrameUpscaler`), compared against the source frames (`ScaleChoice`). The trial files go
    /// to a hidden folder beside `output`, removed afterwards. `progress` hears of each trial
    /// frame as no frame done yet, and may cancel.
    static func chooseScale(
        input path: String, output: String, options: EncodeOptions, store: ModelStore, device: ComputeDevice,
        warn: @escaping (String) -> Void, progress: ProgressHandler? = nil, start: Double = monotonicSeconds()
    ) throws -> ScaleChoice {
        let input = try VideoInput(path: path, threads: device.threads, warn: { _ in })
        let reporter = ProgressReporter(handler: progress, expected: input.declaredFrameCount, start: start)
        let parameters = input.videoStream.pointee.codecpar.pointee
        let (width, height) = (Int(parameters.width), Int(parameters.height))
        let sample = try sampleFrames(input, width: width, height: height, device: device)
        guard !sample.isEmpty else { throw NICError.corruptData("\(path): no video frame could be decoded") }
        let trials = try TrialSet(output: output, options: options, input: input, width: width, height: height)
        defer { trials.folder.discard() }
        return try trials.choose(
            sample, name: "stream", complexity: nil, store: store, device: device, warn: warn, reporter: reporter)
    }

    /// What the trials of one job share: the options, the trial encoder settings, the hidden
    /// folder beside the output and its container.
    struct TrialSet {
        let options: EncodeOptions
        let input: VideoInput
        let width: Int, height: Int
        let encoder: VideoEncoderSettings
        let folder: OutputFolder
        let containerExtension: String

        init(output: String, options: EncodeOptions, input: VideoInput, width: Int, height: Int) throws {
            self.options = options; self.input = input; self.width = width; self.height = height
            var encoder = options.encoder
            encoder.preset = trialPreset(encoder.preset)
            self.encoder = encoder
            folder = try OutputFolder(pattern: output)
            let name = OutputFile.baseName(of: output)
            containerExtension = name.lastIndex(of: ".").map { String(name[$0...]) } ?? ".mkv"
        }

        /// The choice among `autoScales` for `sample` (frames of one scene or of the whole
        /// stream); `complexity` refines the setting a target bit rate gives.
        func choose(
            _ sample: [PlanarImage], name: String, complexity: Double?, store: ModelStore, device: ComputeDevice,
            warn: @escaping (String) -> Void, reporter: ProgressReporter
        ) throws -> ScaleChoice {
            let trials = try autoScales.map { scale -> ScaleChoice.Trial in
                var routeOptions = options
                routeOptions.scale = .fixed(scale)
                let setting = try chooseSetting(
                    routeOptions, input: input, width: width, height: height, store: store, complexity: complexity)
                let file = "\(folder.staging)/trial-\(name)-x\(scale)\(containerExtension)"
                defer { unlink(file) }
                return try trial(
                    sample, input: input, setting: setting, encoder: encoder, options: options, file: file, store: store,
                    device: device, warn: warn, reporter: reporter)
            }
            let criterion: ScaleChoice.Criterion =
                options.encoder.bitRate != nil
                ? .distortionAtRate : .cost(lambda: ScaleChoice.lambda(qp: options.encoder.crf ?? defaultCRF(options.encoder)))
            return try ScaleChoice(trials: trials, criterion: criterion)
        }
    }

    /// The scale `encode` gives the whole stream of `path` with `options`: the setting's scale,
    /// the fixed scale, else the trials' choice (`chooseScale`). A caller that codes the stream
    /// in pieces gives each piece this scale, so that they share one coded size.
    public static func streamScale(
        input path: String, output: String, options: EncodeOptions, store: ModelStore, device: ComputeDevice,
        warn: @escaping (String) -> Void, progress: ProgressHandler? = nil
    ) throws -> Double {
        try checkBeforeOpening(input: path, output: output, encoder: options.encoder)
        if let id = options.settingID { return try store.setting(id: id).scale }
        if case .fixed(let scale) = options.scale { return scale }
        return try chooseScale(
            input: path, output: output, options: options, store: store, device: device, warn: warn, progress: progress
        ).chosen.scale
    }

    /// The CRF x264 (23) and x265 (28) use when given neither a CRF nor a bit rate.
    static func defaultCRF(_ e: VideoEncoderSettings) -> Double { e.encoder == "libx265" ? 28 : 23 }

    /// The user's preset, but none slower than medium (x264's and x265's default). Trials at
    /// veryfast mispredicted full resolution on smooth gradients, and the networks, not the
    /// encoder, take most of the trials' time (docs/decisions/video-scale-auto.md).
    static func trialPreset(_ preset: String?) -> String? {
        let presets = VideoEncoderSettings.presets
        guard let preset, let asked = presets.firstIndex(of: preset), let slowest = presets.firstIndex(of: "medium") else {
            return preset
        }
        return presets[min(asked, slowest)]
    }

    /// Frame indices of the sample of a stream of `count` frames (nil: unknown, the first
    /// windows' worth of frames): `trialWindows` windows of `trialWindowFrames` spread evenly
    /// from the first frame to the last; fewer windows for a short stream, all its frames for
    /// one shorter than a window.
    static func sampleIndices(count: Int?) -> [Range<Int>] {
        let n = trialWindowFrames
        guard let count else { return [0..<(trialWindows * n)] }
        guard count > n else { return [0..<max(1, count)] }
        let windows = min(trialWindows, count / n)
        if windows == 1 { return [0..<n] }
        return (0..<windows).map { i in
            let start = i * (count - n) / (windows - 1)
            return start..<(start + n)
        }
    }

    /// The frames of `sampleIndices` as 8-bit yuv420p images of the stream's size (frames of
    /// another size resized, as the job does).
    static func sampleFrames(_ input: VideoInput, width: Int, height: Int, device: ComputeDevice) throws -> [PlanarImage] {
        let windows = sampleIndices(count: input.declaredFrameCount)
        var frames: [PlanarImage] = []
        var index = 0
        try input.run(
            frame: { frame in
                defer { index += 1 }
                guard windows.contains(where: { $0.contains(index) }) else { return }
                frames.append(try streamImage(frame, width: width, height: height, device: device).image)
            }, otherPacket: { _ in })
        return frames
    }

    /// One route on the sample: downscaled by `setting` (nil: full resolution), coded into
    /// `file` with AI data, decoded and upscaled by `FrameUpscaler` to the original size.
    static func trial(
        _ sample: [PlanarImage], input: VideoInput, setting: NNSetting?, encoder: VideoEncoderSettings,
        options: EncodeOptions, file: String, store: ModelStore, device: ComputeDevice,
        warn: @escaping (String) -> Void, reporter: ProgressReporter
    ) throws -> ScaleChoice.Trial {
        let (width, height) = (sample[0].width, sample[0].height)
        let route = try Route(setting: setting, width: width, height: height, store: store)
        let output = try VideoOutput(
            path: file, input: input, width: route.small.width, height: route.small.height,
            settings: videoShare(of: encoder, warn: { _ in }), warn: warn)
        let record = route.record(options, codec: output.seiCodec ?? .h264)
        let period = max(1, av_rescale_q(1, av_inv_q(input.frameRate), input.videoStream.pointee.time_base))
        for (i, image) in sample.enumerated() {
            var frame: UnsafeMutablePointer<AVFrame>? = try makeFrame(from: try route.scale(image, device: device))
            defer { av_frame_free(&frame) }
            frame!.pointee.pts = Int64(i) * period
            try output.write(frame!, aiData: record, inputDuration: period)
            try reporter.report(framesDone: 0)
        }
        try output.finish()
        let coded = try VideoInput(path: file, threads: device.threads, warn: warn)
        let upscaler = FrameUpscaler(store: store, device: device, warn: warn)
        var sse = 0.0, index = 0
        try coded.run(
            frame: { frame in
                guard index < sample.count else { return }
                var out: UnsafeMutablePointer<AVFrame>? = try allocateFrame(
                    format: frame.pixelFormat, width: width, height: height, range: frame.pointee.color_range)
                defer { av_frame_free(&out) }
                _ = try upscaler.upscale(frame, into: out!)
                let luma = (sample[index].planes[0], try makeImage(from: out!, format: .yuv420p).planes[0])
                sse += VideoFile.meanSquaredError(luma.0, luma.1) * Double(luma.0.count)
                index += 1
                try reporter.report(framesDone: 0)
            }, otherPacket: { _ in })
        guard index == sample.count else {
            throw NICError.internal("\(file): the trial encode gave \(index) of \(sample.count) frames back")
        }
        return ScaleChoice.Trial(
            scale: setting?.scale ?? 1, settingID: setting?.id ?? 0, bits: output.videoBytes * 8, sse: sse,
            samples: sample.count * width * height)
    }

    /// How the job codes each frame: downscaled by a setting's down network to its (even) size,
    /// or at full resolution (made even for 4:2:0 encoders), where the record may name a
    /// restoration setting for the player.
    struct Route {
        var setting: NNSetting?
        var downscaler: Downscaler?
        let original: (width: Int, height: Int)
        let small: (width: Int, height: Int)

        init(setting: NNSetting?, width: Int, height: Int, store: ModelStore) throws {
            self.setting = setting
            original = (width, height)
            // Full resolution, with or without a restoration setting for the player.
            guard let setting, setting.kind != .restoration else {
                small = evenSize(width, height)
                return
            }
            let downscaler = try Downscaler(setting, store: store)
            self.downscaler = downscaler
            small = evenSize(downscaler.outputLength(width), downscaler.outputLength(height))
        }

        /// The frame as coded: `classic` (a comparison route) instead of the network.
        func scale(_ image: PlanarImage, classic: ResizeMethod? = nil, device: ComputeDevice) throws -> PlanarImage {
            if let method = classic ?? (downscaler == nil ? ResizeMethod.lanczos : nil) {
                if image.width == small.width && image.height == small.height { return image }
                return try ImageResize.resized(image, width: small.width, height: small.height, method: method, workers: device.workers)
            }
            return try downscaler!.scale(image, width: small.width, height: small.height, device: device)
        }

        /// The AI data of every frame coded this way.
        func record(_ o: EncodeOptions, codec: Codec) -> AIDataRecord {
            guard let setting else {
                return .fullResolution(
                    originalWidth: original.width, originalHeight: original.height, codedWidth: small.width,
                    codedHeight: small.height, codec: codec, qualityKind: qualityKind(o.encoder),
                    qualityValue: qualityValue(o.encoder), contentType: o.contentType)
            }
            return AIDataRecord(
                setting: setting, originalWidth: original.width, originalHeight: original.height,
                downscaledWidth: small.width, downscaledHeight: small.height, codec: codec,
                qualityKind: qualityKind(o.encoder), qualityValue: qualityValue(o.encoder), contentType: o.contentType,
                classicDownscale: o.classicDownscale != nil)
        }
    }
}
