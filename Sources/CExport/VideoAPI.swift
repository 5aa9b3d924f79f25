import CNicAPI
import FFGlue
import NICCore
#if canImport(Glibc)
    import Glibc
#endif

// nic_video_*: the video AI codec on files, and the per-frame AI data of a file.

@_cdecl("nic_video_options_init")
public func nic_video_options_init(_ options: UnsafeMutablePointer<NicVideoOptions>?) {
    guard let options else { return }
    options.pointee = NicVideoOptions()
    options.pointee.struct_size = MemoryLayout<NicVideoOptions>.size
    options.pointee.crf = -1
}

@_cdecl("nic_video_ai_encode")
public func nic_video_ai_encode(
    _ context: OpaquePointer?, _ inPath: UnsafePointer<CChar>?, _ outPath: UnsafePointer<CChar>?,
    _ options: UnsafePointer<NicVideoOptions>?, _ report: UnsafeMutablePointer<NicVideoReport>?
) -> NicStatus {
    runVideoJob(context, inPath, outPath, options, report) { ctx, job in
        try VideoAICodec.encode(
            input: job.input, output: job.output, options: try job.encodeOptions(threads: ctx.device.threads),
            store: try ctx.models(), device: ctx.device,
            warn: { ctx.log(NIC_LOG_WARNING, $0) }, progress: ctx.progressHandler)
    }
}

@_cdecl("nic_video_choose_scale")
public func nic_video_choose_scale(
    _ context: OpaquePointer?, _ inPath: UnsafePointer<CChar>?, _ outPath: UnsafePointer<CChar>?,
    _ options: UnsafePointer<NicVideoOptions>?, _ numerator: UnsafeMutablePointer<Int32>?,
    _ denominator: UnsafeMutablePointer<Int32>?
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        guard let numerator, let denominator else { throw BoundaryError.nullPointer("scale pointers are NULL") }
        let job = try VideoJob(inPath, outPath, options, nil)
        let scale = try VideoAICodec.streamScale(
            input: job.input, output: job.output, options: try job.encodeOptions(threads: ctx.device.threads),
            store: try ctx.models(), device: ctx.device, warn: { ctx.log(NIC_LOG_WARNING, $0) },
            progress: ctx.progressHandler)
        // 1, 1.5 or 2 as a fraction of small integers.
        let denominatorValue = scale.rounded() == scale ? 1 : 2
        numerator.pointee = Int32((scale * Double(denominatorValue)).rounded())
        denominator.pointee = Int32(denominatorValue)
    }
}

@_cdecl("nic_video_ai_decode")
public func nic_video_ai_decode(
    _ context: OpaquePointer?, _ inPath: UnsafePointer<CChar>?, _ outPath: UnsafePointer<CChar>?,
    _ options: UnsafePointer<NicVideoOptions>?, _ report: UnsafeMutablePointer<NicVideoReport>?
) -> NicStatus {
    runVideoJob(context, inPath, outPath, options, report) { ctx, job in
        var size: (width: Int, height: Int)?
        if job.options.width > 0 && job.options.height > 0 { size = (Int(job.options.width), Int(job.options.height)) }
        let decodeOptions = VideoAICodec.DecodeOptions(
            size: size, encoder: try job.encoderSettings(threads: ctx.device.threads),
            allowGenericFallback: ctx.genericAIFallback)
        return try VideoAICodec.decode(
            input: job.input, output: job.output, options: decodeOptions,
            store: ctx.modelsIfAny(for: "video"),
            device: ctx.device, warn: { ctx.log(NIC_LOG_WARNING, $0) },
            progress: ctx.progressHandler)
    }
}

/// What the two video jobs share: the context, the checked arguments, the report filled in.
private func runVideoJob(
    _ context: OpaquePointer?, _ inPath: UnsafePointer<CChar>?, _ outPath: UnsafePointer<CChar>?,
    _ options: UnsafePointer<NicVideoOptions>?, _ report: UnsafeMutablePointer<NicVideoReport>?,
    _ body: (Context, VideoJob) throws -> VideoAICodec.Report
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        let job = try VideoJob(inPath, outPath, options, report)
        job.fill(try body(ctx, job))
    }
}

@_cdecl("nic_video_read_aidata")
public func nic_video_read_aidata(
    _ context: OpaquePointer?, _ path: UnsafePointer<CChar>?,
    _ frames: UnsafeMutablePointer<UnsafeMutablePointer<NicFrameAIData>?>?,
    _ count: UnsafeMutablePointer<Int>?
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        guard let path, let frames, let count else { throw BoundaryError.nullPointer("path, frames or count is NULL") }
        frames.pointee = nil
        count.pointee = 0
        let info = try VideoAICodec.inspect(
            String(cString: path), threads: ctx.device.threads,
            warn: { ctx.log(NIC_LOG_WARNING, $0) })
        guard !info.frames.isEmpty else { return }
        guard
            let list = malloc(info.frames.count * MemoryLayout<NicFrameAIData>.stride)?
                .bindMemory(to: NicFrameAIData.self, capacity: info.frames.count)
        else {
            throw NICError.outOfMemory("cannot allocate the list of \(info.frames.count) frames")
        }
        for (i, frame) in info.frames.enumerated() {
            var entry = NicFrameAIData()
            entry.pts = frame.pts
            entry.time = frame.seconds
            switch frame.found {
            case .none: entry.status = NIC_AIDATA_ABSENT
            case .corrupt: entry.status = NIC_AIDATA_CORRUPT
            case .record(let r): entry.status = NIC_AIDATA_PRESENT; entry.aidata = NicAIData(r)
            }
            (list + i).initialize(to: entry)
        }
        frames.pointee = list
        count.pointee = info.frames.count
    }
}

@_cdecl("nic_free")
public func nic_free(_ pointer: UnsafeMutableRawPointer?) { free(pointer) }

/// The checked arguments of a nic_video_* job.
private struct VideoJob {
    let input: String
    let output: String
    let options: NicVideoOptions
    let report: UnsafeMutablePointer<NicVideoReport>?

    init(
        _ inPath: UnsafePointer<CChar>?, _ outPath: UnsafePointer<CChar>?, _ options: UnsafePointer<NicVideoOptions>?,
        _ report: UnsafeMutablePointer<NicVideoReport>?
    ) throws {
        guard let inPath, let outPath else { throw BoundaryError.nullPointer("input or output path is NULL") }
        input = String(cString: inPath)
        output = String(cString: outPath)
        if let options {
            try ImageBridge.checkSize(options.pointee.struct_size, MemoryLayout<NicVideoOptions>.size, "NicVideoOptions")
            self.options = options.pointee
        } else {
            var defaults = NicVideoOptions()
            nic_video_options_init(&defaults)
            self.options = defaults
        }
        if let report {
            let firstLayout = MemoryLayout<NicVideoReport>.offset(of: \NicVideoReport.scale_numerator)!
            try ImageBridge.checkSize(report.pointee.struct_size, firstLayout, "NicVideoReport")
        }
        self.report = report
    }

    /// The options of the encode side: scale, setting, encoder.
    func encodeOptions(threads: Int) throws -> VideoAICodec.EncodeOptions {
        var scale = VideoAICodec.EncodeOptions.Scale.auto
        if options.scale_numerator > 0 && options.scale_denominator > 0 {
            scale = .fixed(Double(options.scale_numerator) / Double(options.scale_denominator))
        }
        return VideoAICodec.EncodeOptions(
            scale: scale, settingID: options.setting_id > 0 ? Int(options.setting_id) : nil,
            encoder: try encoderSettings(threads: threads))
    }

    func encoderSettings(threads: Int) throws -> VideoEncoderSettings {
        guard options.bit_rate >= 0, options.bit_rate <= 10_000_000_000 else {
            throw NICError.invalidArgument("bit_rate \(options.bit_rate) is outside 0...10^10")
        }
        return VideoEncoderSettings(
            encoder: options.encoder.map { String(cString: $0) },
            crf: options.crf >= 0 ? options.crf : nil,
            bitRate: options.bit_rate > 0 ? Int(options.bit_rate) : nil,
            preset: options.preset.map { String(cString: $0) }, threads: threads)
    }

    func fill(_ r: VideoAICodec.Report) {
        guard let report else { return }
        report.pointee.frames = Int64(r.frames)
        report.pointee.width = Int32(r.outputWidth)
        report.pointee.height = Int32(r.outputHeight)
        let mostUsed = r.routes.max { $0.value < $1.value }?.key
        let settingFromRoute = mostUsed.flatMap { $0.hasPrefix("setting ") ? Int($0.dropFirst(8)) : nil }
        report.pointee.setting_id = Int32(r.setting?.id ?? settingFromRoute ?? 0)
        report.pointee.ai_frames = Int64(r.aiDataFrames)
        report.pointee.seconds = r.seconds
        report.pointee.scaling_seconds = r.scalingSeconds
        guard report.pointee.struct_size >= MemoryLayout<NicVideoReport>.size else { return }
        report.pointee.scale_numerator = Int32(r.codedScale?.numerator ?? 0)
        report.pointee.scale_denominator = Int32(r.codedScale?.denominator ?? 0)
        report.pointee.scale_scenes = Int32(r.scalePlan?.scenes.count ?? 0)
        report.pointee.size_changes = Int32(r.sizeChanges)
    }
}

extension Context {
    /// The caller's progress callback (`nic_set_progress`) as the codec's progress handler.
    var progressHandler: VideoAICodec.ProgressHandler? {
        guard let (callback, userData) = progress else { return nil }
        return { p in
            var info = NicProgress(
                struct_size: MemoryLayout<NicProgress>.size, frames_done: Int64(p.framesDone),
                frames_expected: Int64(p.framesExpected ?? 0), elapsed_seconds: p.elapsedSeconds)
            return callback(userData, &info) == 0
        }
    }
}

@_cdecl("nic_set_progress")
public func nic_set_progress(
    _ context: OpaquePointer?, _ callback: NicProgressCallback?,
    _ userData: UnsafeMutableRawPointer?
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    ctx.progress = callback.map { ($0, userData) }
    return NIC_OK
}
