import CFFmpeg
import NICCore

/// How the output video stream is coded.
public struct VideoEncoderSettings: Sendable {
    /// An FFmpeg encoder name such as libx264 or libx265; nil picks libx264, or raw frames
    /// for a .y4m output.
    public var encoder: String?
    /// Constant rate factor; used when no bit rate is given (default: the encoder's own).
    public var crf: Double?
    /// Target bit rate in bits per second.
    public var bitRate: Int?
    /// Encoder speed preset (x264/x265 names such as veryfast or medium).
    public var preset: String?
    /// Encoder threads; 0 lets the encoder decide.
    public var threads: Int

    public init(encoder: String? = nil, crf: Double? = nil, bitRate: Int? = nil, preset: String? = nil, threads: Int = 0) {
        self.encoder = encoder; self.crf = crf; self.bitRate = bitRate; self.preset = preset; self.threads = threads
    }

    /// The constant rate factors x264 and x265 take for 8-bit video.
    public static let crfRange: ClosedRange<Double> = 0...51
    /// The speed presets x264 and x265 share.
    public static let presets = [
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
        "veryslow", "placebo",
    ]

    /// Throws `invalidArgument` for a value no job could use; called before anything is opened.
    /// `rawFrames`: the output holds raw frames (.y4m, PNG frames), which take no encoder settings.
    public func validate(rawFrames: Bool) throws {
        if let crf, !(crf.isFinite && Self.crfRange.contains(crf)) {
            throw NICError.invalidArgument("crf \(crf) is outside \(Self.crfRange.lowerBound)...\(Self.crfRange.upperBound)")
        }
        if let bitRate, !(1000...10_000_000_000).contains(bitRate) {
            throw NICError.invalidArgument("bit rate \(bitRate) bit/s is outside 1 kbit/s...10 Gbit/s")
        }
        if let preset, !Self.presets.contains(preset) {
            throw NICError.invalidArgument("unknown encoder preset \"\(preset)\"; one of \(Self.presets.joined(separator: ", "))")
        }
        guard (0...256).contains(threads) else { throw NICError.invalidArgument("encoder threads \(threads) is outside 0...256") }
        if rawFrames && (encoder != nil || crf != nil || bitRate != nil || preset != nil) {
            throw NICError.invalidArgument("a .y4m or PNG-frames output holds raw frames: an encoder, rate or preset does not apply")
        }
    }

    /// The muxers whose outputs hold raw frames: Y4M, and image files named by a numbered pattern.
    static let rawFrameMuxers: Set<String> = ["yuv4mpegpipe", "image2"]

    /// The FFmpeg muxer that the name of `path` selects (as `VideoOutput` opens it); nil for none.
    static func muxerName(forOutput path: String) -> String? {
        av_guess_format(nil, path, nil).map { String(cString: $0.pointee.name) }
    }

    /// Whether `path` names an output of raw frames (.y4m, or PNG files with a numbered pattern).
    public static func isRawFrames(path: String) -> Bool {
        muxerName(forOutput: path).map(rawFrameMuxers.contains) ?? false
    }
}

/// The writing half of every video job: encodes the processed video frames (with AI data as
/// SEI when asked) and muxes them with the input's other streams copied unchanged, keeping
/// timestamps, frame rate, colour properties, dispositions and metadata.
final class VideoOutput {
    let path: String
    /// The new file, put in place of `path` by `finish()` (nil for PNG frames).
    private var file: OutputFile?
    /// PNG frames: the hidden folder the muxer writes them into, moved in place by `finish()`.
    private var frames: OutputFolder?
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var encoder: UnsafeMutablePointer<AVCodecContext>?
    private var videoOut: UnsafeMutablePointer<AVStream>!
    private let inputVideoTimeBase: AVRational
    /// Output stream index for each copied input stream.
    private var copiedStreams: [Int: Int] = [:]
    /// Input streams not written because the output holds raw frames only.
    private(set) var droppedStreams: [Int] = []
    private(set) var seiCodec: Codec?
    private var seiWriter: AIDataSEI.Writer?
    /// Per pts: the frame's AI data, whether it is the AI data of the frame before in display
    /// order, and its duration, until its packet comes out.
    private var pending: [Int64: (aiData: AIDataRecord?, sameAsBefore: Bool, duration: Int64)] = [:]
    /// The AI data of the last frame given to `write`.
    private var lastAIData: AIDataRecord?
    private var lastPTS: Int64 = .min
    private var renumbered = 0
    private var headerWritten = false
    /// Y4M holds no timestamps, only a frame rate: its packets are numbered 0, 1, 2, ... (rescaled
    /// timestamps of a stream with uneven frame durations could round two frames onto one number).
    private var numberedFrames = false
    private var packetsNumbered: Int64 = 0
    private let warn: (String) -> Void
    private(set) var framesWritten = 0
    private(set) var videoBytes = 0

    /// For `restartEncoder`: what the encoder was opened with.
    private let settings: VideoEncoderSettings
    private let input: VideoInput
    /// Whether the coded size may change mid-stream (`restartEncoder`): every key frame then
    /// carries its parameter sets.
    let sizeChanges: Bool
    /// The video stream's last decoding timestamp written, in the stream's time base.
    private var lastDTS: Int64 = .min

    /// The muxers whose streams carry a change of coded size: parameter sets travel in band
    /// with the key frame that starts the new size (MP4 and MOV keep one set in the header).
    static let sizeChangingMuxers: Set<String> = ["matroska", "mpegts"]

    /// Whether the output `path` names (.mkv, .ts) can change its coded size mid-stream.
    static func carriesSizeChanges(path: String) -> Bool {
        VideoEncoderSettings.muxerName(forOutput: path).map(sizeChangingMuxers.contains) ?? false
    }

    /// `width` x `height` is the size of the frames `write` will get, in yuv420p. `sizeChanges`:
    /// the size may change at a key frame (`restartEncoder`), only where `carriesSizeChanges`.
    init(
        path: String, input: VideoInput, width: Int, height: Int, settings: VideoEncoderSettings,
        sizeChanges: Bool = false, warn: @escaping (String) -> Void
    ) throws {
        self.path = path
        self.warn = warn
        self.settings = settings
        self.input = input
        self.sizeChanges = sizeChanges
        if sizeChanges && !VideoOutput.carriesSizeChanges(path: path) {
            throw NICError.internal("\(path): this container cannot change its coded size mid-stream")
        }
        inputVideoTimeBase = input.videoStream.pointee.time_base
        var context: UnsafeMutablePointer<AVFormatContext>?
        try check(
            avformat_alloc_output_context2(&context, nil, nil, path),
            "\(path): cannot tell the output format from the name (use .mp4, .mkv, .mov, .ts or .y4m)",
            otherwise: NICError.invalidArgument)
        guard let context else { throw NICError.internal("no output context") }
        format = context
        let muxer = String(cString: context.pointee.oformat.pointee.name)
        let rawFrames = VideoEncoderSettings.rawFrameMuxers.contains(muxer)
        numberedFrames = muxer == "yuv4mpegpipe"
        let pngName = path.lowercased().hasSuffix(".png")
        if (muxer == "image2" || pngName) && !(muxer == "image2" && pngName) {
            throw NICError.invalidArgument("\(path): write frames as PNG files with a numbered pattern such as frames_%05d.png")
        }
        do {
            if context.pointee.oformat.pointee.flags & AVFMT_NOFILE == 0 {
                file = try OutputFile(path: path, inputs: [input.path])
            } else if muxer == "image2" {
                let folder = try OutputFolder(pattern: path)
                frames = folder
                av_free(context.pointee.url)
                context.pointee.url = av_strdup(folder.stagingPattern)
            }
            let (codec, sei) = try VideoOutput.openEncoder(
                settings, rawFrames: rawFrames, input: input, width: width, height: height, output: context,
                repeatHeaders: sizeChanges)
            encoder = codec
            seiCodec = sei
            seiWriter = sei.map { AIDataSEI.Writer(codec: $0) }
            guard let stream = avformat_new_stream(context, nil) else { throw NICError.outOfMemory("cannot add a stream") }
            videoOut = stream
            try check(avcodec_parameters_from_context(stream.pointee.codecpar, codec), "cannot set stream parameters")
            // Y4M has no timestamps: its header states the rate as 1 / time base.
            stream.pointee.time_base = muxer == "yuv4mpegpipe" ? av_inv_q(input.frameRate) : codec.pointee.time_base
            stream.pointee.avg_frame_rate = input.frameRate
            stream.pointee.disposition = input.videoStream.pointee.disposition
            av_dict_copy(&stream.pointee.metadata, input.videoStream.pointee.metadata, 0)
            try addCopiedStreams(input, rawFrames: rawFrames)
            av_dict_copy(&context.pointee.metadata, input.format.pointee.metadata, 0)
            try openFile()
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    private func close() {
        if let format {
            if format.pointee.oformat.pointee.flags & AVFMT_NOFILE == 0 { avio_closep(&format.pointee.pb) }
            avformat_free_context(format)
        }
        format = nil
        avcodec_free_context(&encoder)
        file?.discard()
        file = nil
        frames?.discard()
        frames = nil
    }

    private static func openEncoder(
        _ s: VideoEncoderSettings, rawFrames: Bool, input: VideoInput, width: Int, height: Int,
        output: UnsafeMutablePointer<AVFormatContext>, repeatHeaders: Bool = false
    )
        throws -> (UnsafeMutablePointer<AVCodecContext>, Codec?)
    {
        let muxer = String(cString: output.pointee.oformat.pointee.name)
        let frameCodec = muxer == "image2" ? "png" : "wrapped_avframe"
        let name = s.encoder ?? (rawFrames ? frameCodec : "libx264")
        if rawFrames && name != frameCodec {
            throw NICError.invalidArgument("a .y4m or PNG-frames output holds raw frames; an encoder does not apply")
        }
        guard let codec = avcodec_find_encoder_by_name(name), av_codec_is_encoder(codec) != 0,
            codec.pointee.type == AVMEDIA_TYPE_VIDEO
        else {
            throw NICError.unsupportedFormat("this FFmpeg build has no video encoder named \(name)")
        }
        // Checked with valgrind on Debian 12's libx265 3.5: pictures narrower than 56 pixels make
        // its lookahead write out of bounds.
        if name == "libx265" && width < 64 {
            throw NICError.invalidArgument(
                "libx265 cannot code pictures narrower than 64 pixels (this one is \(width)x\(height)); use libx264")
        }
        guard let context = avcodec_alloc_context3(codec) else { throw NICError.outOfMemory("cannot allocate the encoder") }
        var owned: UnsafeMutablePointer<AVCodecContext>? = context
        do {
            try configure(context, s, input: input, width: width, height: height, output: output)
            if repeatHeaders { try repeatParameterSets(context) }
            try check(
                avcodec_open2(context, codec, nil), "cannot open the \(name) encoder for \(width)x\(height)",
                otherwise: NICError.invalidArgument)
        } catch {
            avcodec_free_context(&owned)
            throw error
        }
        let sei: Codec? = codec.pointee.id == AV_CODEC_ID_H264 ? .h264 : codec.pointee.id == AV_CODEC_ID_HEVC ? .hevc : nil
        return (context, sei)
    }

    private static func configure(
        _ c: UnsafeMutablePointer<AVCodecContext>, _ s: VideoEncoderSettings, input: VideoInput,
        width: Int, height: Int, output: UnsafeMutablePointer<AVFormatContext>
    ) throws {
        let source = input.videoStream.pointee.codecpar.pointee
        c.pointee.width = Int32(width)
        c.pointee.height = Int32(height)
        // PNG frames are RGB; everything else takes the 4:2:0 frames as they come.
        c.pointee.pix_fmt = c.pointee.codec_id == AV_CODEC_ID_PNG ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_YUV420P
        c.pointee.time_base = input.videoStream.pointee.time_base
        c.pointee.framerate = input.frameRate
        c.pointee.sample_aspect_ratio = source.sample_aspect_ratio
        c.pointee.color_range = AVCOL_RANGE_MPEG  // frames are converted to limited range
        c.pointee.color_primaries = source.color_primaries
        c.pointee.color_trc = source.color_trc
        c.pointee.colorspace = source.color_space
        c.pointee.chroma_sample_location = source.chroma_location
        c.pointee.thread_count = Int32(max(0, s.threads))
        if output.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 {
            c.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
        if let bitRate = s.bitRate {
            c.pointee.bit_rate = Int64(bitRate)
        } else if let crf = s.crf {
            try setOption(c, "crf", "\(crf)")
        }
        if let preset = s.preset { try setOption(c, "preset", preset) }
        if String(cString: avcodec_get_name(c.pointee.codec_id)) == "hevc",
            av_opt_find(c.pointee.priv_data, "x265-params", nil, 0, 0) != nil
        {
            _ = av_opt_set(c.pointee.priv_data, "x265-params", "log-level=error", 0)
        }
    }

    /// Makes x264/x265 put their parameter sets before every key frame, also with a global
    /// header: a player that starts or seeks anywhere finds the coded size of that part.
    private static func repeatParameterSets(_ c: UnsafeMutablePointer<AVCodecContext>) throws {
        switch c.pointee.codec_id {
        case AV_CODEC_ID_H264: try setOption(c, "x264-params", "repeat-headers=1")
        case AV_CODEC_ID_HEVC: try setOption(c, "x265-params", "log-level=error:repeat-headers=1")
        default: throw NICError.invalidArgument("a change of coded size needs the libx264 or libx265 encoder")
        }
    }

    /// Ends the coded sequence so far (every frame given to `write` is coded and written) and
    /// goes on at `width` x `height` with a new encoder of the same settings, starting with a key
    /// frame and its parameter sets. Only for an output opened with `sizeChanges`.
    func restartEncoder(width: Int, height: Int) throws {
        guard sizeChanges, let format, encoder != nil else {
            throw NICError.internal("\(path): opened without size changes")
        }
        try check(avcodec_send_frame(encoder, nil), "\(path): encoding failed")
        try drainEncoder()
        let (codec, _) = try VideoOutput.openEncoder(
            settings, rawFrames: false, input: input, width: width, height: height, output: format, repeatHeaders: true)
        avcodec_free_context(&encoder)
        encoder = codec
    }

    private static func setOption(_ c: UnsafeMutablePointer<AVCodecContext>, _ key: String, _ value: String) throws {
        guard let priv = c.pointee.priv_data, av_opt_find(priv, key, nil, 0, 0) != nil else {
            throw NICError.invalidArgument("the encoder has no option \(key)")
        }
        try check(av_opt_set(priv, key, value, 0), "encoder option \(key)=\(value)", otherwise: NICError.invalidArgument)
    }

    /// Adds an output stream for every input stream except the processed video one.
    private func addCopiedStreams(_ input: VideoInput, rawFrames: Bool) throws {
        guard let format else { return }
        for i in 0..<input.streamCount where i != input.videoIndex {
            let source = input.format.pointee.streams[i]!
            if rawFrames { droppedStreams.append(i); continue }
            let id = source.pointee.codecpar.pointee.codec_id
            // 0: the muxer cannot hold it; a negative answer means the muxer does not say
            // (MPEG-TS), and its header is the judge.
            if avformat_query_codec(format.pointee.oformat, id, FF_COMPLIANCE_NORMAL) == 0 {
                let kind = av_get_media_type_string(source.pointee.codecpar.pointee.codec_type).map { String(cString: $0) } ?? "data"
                throw NICError.unsupportedFormat(
                    "\(path): the \(String(cString: format.pointee.oformat.pointee.name)) container cannot hold input stream \(i) (\(kind), \(String(cString: avcodec_get_name(id)))); use .mkv to keep it"
                )
            }
            guard let stream = avformat_new_stream(format, nil) else { throw NICError.outOfMemory("cannot add a stream") }
            try check(avcodec_parameters_copy(stream.pointee.codecpar, source.pointee.codecpar), "cannot copy stream parameters")
            stream.pointee.codecpar.pointee.codec_tag = 0
            stream.pointee.time_base = source.pointee.time_base
            stream.pointee.disposition = source.pointee.disposition
            av_dict_copy(&stream.pointee.metadata, source.pointee.metadata, 0)
            copiedStreams[i] = Int(stream.pointee.index)
        }
    }

    private func openFile() throws {
        guard let format else { return }
        if format.pointee.oformat.pointee.flags & AVFMT_NOFILE == 0 {
            try check(
                avio_open(&format.pointee.pb, file?.writablePath ?? path, AVIO_FLAG_WRITE),
                "\(path): cannot create the file", otherwise: NICError.io)
        }
        try check(avformat_write_header(format, nil), "\(path): cannot write the container header", otherwise: NICError.io)
        headerWritten = true
    }

    /// Encodes one 4:2:0 frame of the size given at init (converted to what the encoder takes
    /// when its format or range differ). `frame.pts` is in the input video
    /// stream's time base; `aiData` becomes this frame's SEI.
    func write(_ frame: UnsafeMutablePointer<AVFrame>, aiData: AIDataRecord?, inputDuration: Int64) throws {
        guard let encoder else { return }
        var pts = frame.pointee.pts == nic_av_nopts_value() ? lastPTS &+ max(1, inputDuration) : frame.pointee.pts
        if lastPTS != .min && pts <= lastPTS {
            if renumbered == 0 {
                warn("\(path): input timestamps go backwards at pts \(pts); such frames are renumbered to keep every frame (reported once)")
            }
            renumbered += 1
            pts = lastPTS + 1
        }
        lastPTS = pts
        frame.pointee.pts = pts
        frame.pointee.pict_type = AV_PICTURE_TYPE_NONE
        // The encoder takes limited-range yuv420p (PNG frames: rgb24); 10-bit or full-range frames are converted.
        var converted = try convertedKeepingProperties(
            frame, to: encoder.pointee.pix_fmt,
            range: encoder.pointee.pix_fmt == AV_PIX_FMT_RGB24 ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG)
        defer { av_frame_free(&converted) }
        if aiData != nil && seiWriter == nil { throw NICError.invalidArgument("AI data needs an H.264 or HEVC encoder") }
        pending[pts] = (aiData, aiData != nil && aiData == lastAIData, max(1, inputDuration))
        lastAIData = aiData
        try check(avcodec_send_frame(encoder, converted ?? frame), "\(path): encoding failed")
        try drainEncoder()
        framesWritten += 1
    }

    /// A packet of a copied stream, in its input time base.
    func copy(_ packet: UnsafeMutablePointer<AVPacket>, from input: VideoInput) throws {
        guard let format, let outIndex = copiedStreams[Int(packet.pointee.stream_index)] else { return }
        let inStream = input.format.pointee.streams[Int(packet.pointee.stream_index)]!
        av_packet_rescale_ts(packet, inStream.pointee.time_base, format.pointee.streams[outIndex]!.pointee.time_base)
        packet.pointee.stream_index = Int32(outIndex)
        packet.pointee.pos = -1
        try check(av_interleaved_write_frame(format, packet), "\(path): cannot write a copied packet", otherwise: NICError.io)
    }

    /// Flushes the encoder and writes the trailer.
    func finish() throws {
        guard let encoder, let format, headerWritten else { return }
        try check(avcodec_send_frame(encoder, nil), "\(path): encoding failed")
        try drainEncoder()
        try check(av_write_trailer(format), "\(path): cannot finish the file", otherwise: NICError.io)
        headerWritten = false
        if format.pointee.oformat.pointee.flags & AVFMT_NOFILE == 0 {
            let pending = format.pointee.pb?.pointee.error ?? 0
            let closed = avio_closep(&format.pointee.pb)
            try check(pending < 0 ? pending : closed, "\(path): cannot write the file", otherwise: NICError.io)
        }
        try file?.commit()
        file = nil
        try frames?.commit()
        frames = nil
    }

    private func drainEncoder() throws {
        guard let encoder, let format else { return }
        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        guard let packet else { throw NICError.outOfMemory("cannot allocate a packet") }
        while true {
            let ret = avcodec_receive_packet(encoder, packet)
            if ret == nic_averror_eagain() || ret == nic_averror_eof() { return }
            try check(ret, "\(path): encoding failed")
            let entry = pending.removeValue(forKey: packet.pointee.pts)
            // AI data on key frames and where it changes (docs/ai-data.md §5.1); the frames between
            // keep the record before them in display order.
            let keyFrame = packet.pointee.flags & AV_PKT_FLAG_KEY != 0
            if let entry, let aiData = entry.aiData, seiWriter != nil, keyFrame || !entry.sameAsBefore {
                try insert(try seiWriter!.nalUnit(for: aiData, keyFrame: keyFrame), into: packet)
            }
            if packet.pointee.duration == 0, let duration = entry?.duration { packet.pointee.duration = duration }
            videoBytes += Int(packet.pointee.size)
            if numberedFrames {
                (packet.pointee.pts, packet.pointee.dts, packet.pointee.duration) = (packetsNumbered, packetsNumbered, 1)
                packetsNumbered += 1
            } else {
                av_packet_rescale_ts(packet, encoder.pointee.time_base, videoOut.pointee.time_base)
            }
            packet.pointee.stream_index = videoOut.pointee.index
            if sizeChanges && packet.pointee.dts != nic_av_nopts_value() {
                // A restarted encoder's decoding delay must not reach back behind the last sequence.
                if packet.pointee.dts <= lastDTS {
                    throw NICError.internal("\(path): the encoder restarted with decoding timestamps before the last ones")
                }
                lastDTS = packet.pointee.dts
            }
            try check(av_interleaved_write_frame(format, packet), "\(path): cannot write a video packet", otherwise: NICError.io)
        }
    }

    /// Replaces the packet's data by the same bytes with the SEI NAL unit before the first slice.
    private func insert(_ sei: [UInt8], into packet: UnsafeMutablePointer<AVPacket>) throws {
        guard let seiCodec, let data = packet.pointee.data else { return }
        guard
            let bytes = AIDataSEI.inserting(
                sei, intoAnnexB: UnsafeBufferPointer(start: data, count: Int(packet.pointee.size)),
                codec: seiCodec)
        else {
            throw NICError.internal("\(path): the encoder produced a packet without a slice; cannot attach AI data")
        }
        var replacement = av_packet_alloc()
        defer { av_packet_free(&replacement) }
        guard let replacement else { throw NICError.outOfMemory("cannot allocate a packet") }
        try check(av_new_packet(replacement, Int32(bytes.count)), "cannot allocate a packet")
        bytes.withUnsafeBufferPointer { _ = memcpy(replacement.pointee.data, $0.baseAddress!, bytes.count) }
        try check(av_packet_copy_props(replacement, packet), "cannot copy packet properties")
        av_packet_unref(packet)
        av_packet_move_ref(packet, replacement)
    }
}

extension VideoEncoderSettings {
    /// Parses an FFmpeg-style bit rate: "800k", "2M", "1.5M", "250000" (k = 1000, M = 10^6,
    /// G = 10^9). Throws `invalidArgument` for anything else or a rate outside 1 kbit/s...10 Gbit/s.
    public static func parseBitRate(_ text: String) throws -> Int {
        let trimmed = text.trimmingCharacters(in: " ")
        var digits = Substring(trimmed), factor = 1.0
        switch trimmed.last {
        case "k", "K": factor = 1e3; digits = digits.dropLast()
        case "M": factor = 1e6; digits = digits.dropLast()
        case "G": factor = 1e9; digits = digits.dropLast()
        default: break
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isNumber || $0 == "." }), let value = Double(digits) else {
            throw NICError.invalidArgument("bit rate \"\(text)\" is not a number with an optional k, M or G suffix (e.g. 800k, 2M)")
        }
        let bits = value * factor
        guard bits >= 1000, bits <= 1e10 else {
            throw NICError.invalidArgument("bit rate \(text) is outside 1k...10G")
        }
        return Int(bits.rounded())
    }
}

private extension String {
    func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}
