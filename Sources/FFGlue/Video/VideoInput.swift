import CFFmpeg
import NICCore

/// The reading half of every video job: demuxes a file, decodes its main video stream to
/// frames in display order and hands every other stream's packets on untouched.
///
/// Damage is not fatal, as in FFmpeg's own tools: packets the decoder rejects are skipped and
/// a file that ends early is read up to its last complete frame; both are reported through
/// `warn` once per kind.
final class VideoInput {
    let path: String
    let format: UnsafeMutablePointer<AVFormatContext>
    let videoIndex: Int
    let decoder: UnsafeMutablePointer<AVCodecContext>
    private let warn: (String) -> Void
    private var warned = Set<String>()

    var videoStream: UnsafeMutablePointer<AVStream> { format.pointee.streams[videoIndex]! }
    var streamCount: Int { Int(format.pointee.nb_streams) }

    /// The file itself, read through FFmpeg's file protocol only (the demuxer may not open other
    /// files or URLs: see `openInput`).
    private var io: UnsafeMutablePointer<AVIOContext>?

    init(path: String, threads: Int, warn: @escaping (String) -> Void) throws {
        self.path = path
        self.warn = warn
        let (context, io) = try VideoInput.openInput(path)
        self.io = io
        format = context
        do {
            try check(
                avformat_find_stream_info(context, nil), "\(path): cannot read stream information",
                otherwise: NICError.corruptData)
            (videoIndex, decoder) = try VideoInput.openVideoDecoder(context, path: path, threads: threads)
        } catch {
            var owned: UnsafeMutablePointer<AVFormatContext>? = context
            avformat_close_input(&owned)
            avio_closep(&self.io)
            throw error
        }
    }

    deinit {
        var codec: UnsafeMutablePointer<AVCodecContext>? = decoder
        avcodec_free_context(&codec)
        var owned: UnsafeMutablePointer<AVFormatContext>? = format
        avformat_close_input(&owned)
        avio_closep(&io)
    }

    /// Opens `path` as a local file (never a URL: "http:..." is a file name here) and its demuxer,
    /// which may not open anything else: playlists (HLS, DASH), concat lists and external data
    /// references would otherwise make a crafted file read other local files or the network.
    static func openInput(_ path: String) throws -> (UnsafeMutablePointer<AVFormatContext>, UnsafeMutablePointer<AVIOContext>) {
        var io: UnsafeMutablePointer<AVIOContext>?
        let opened = avio_open2(&io, "file:" + path, AVIO_FLAG_READ, nil, nil)
        if opened == nic_averror(ENOENT) { throw NICError.io("\(path): no such file") }
        try check(opened, "\(path): cannot open", otherwise: NICError.io)
        guard let io else { throw NICError.internal("\(path): no I/O context") }
        guard var context = avformat_alloc_context() else {
            var pb: UnsafeMutablePointer<AVIOContext>? = io
            avio_closep(&pb)
            throw NICError.outOfMemory("cannot allocate a demuxer")
        }
        context.pointee.pb = io
        context.pointee.io_open = refuseNestedOpen
        var owned: UnsafeMutablePointer<AVFormatContext>? = context
        let ret = avformat_open_input(&owned, path, nil, nil)  // frees the context on failure
        if ret < 0 {
            var pb: UnsafeMutablePointer<AVIOContext>? = io
            avio_closep(&pb)
            try check(ret, "\(path): cannot open", otherwise: NICError.corruptData)
        }
        context = owned!
        return (context, io)
    }

    private static func openVideoDecoder(
        _ format: UnsafeMutablePointer<AVFormatContext>, path: String,
        threads: Int
    ) throws -> (Int, UnsafeMutablePointer<AVCodecContext>) {
        var codec: UnsafePointer<AVCodec>?
        let index = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0)
        if index == nic_averror_stream_not_found() { throw NICError.unsupportedFormat("\(path) has no video stream") }
        if index == nic_averror_decoder_not_found() {
            throw NICError.unsupportedFormat("\(path): this FFmpeg build cannot decode its video stream")
        }
        try check(index, "\(path): no usable video stream", otherwise: NICError.unsupportedFormat)
        guard let codec, let parameters = format.pointee.streams[Int(index)]?.pointee.codecpar else {
            throw NICError.unsupportedFormat("\(path): no decoder for its video stream")
        }
        try checkLimits(width: Int(parameters.pointee.width), height: Int(parameters.pointee.height), name: path)
        guard let context = avcodec_alloc_context3(codec) else { throw NICError.outOfMemory("cannot allocate a decoder") }
        var owned: UnsafeMutablePointer<AVCodecContext>? = context
        do {
            try check(
                avcodec_parameters_to_context(context, parameters), "\(path): bad video parameters",
                otherwise: NICError.corruptData)
            context.pointee.pkt_timebase = format.pointee.streams[Int(index)]!.pointee.time_base
            context.pointee.max_pixels = Int64(ImageLimits.maxPixels)
            context.pointee.thread_count = Int32(max(1, threads))
            try check(
                avcodec_open2(context, codec, nil), "\(path): cannot open the video decoder",
                otherwise: NICError.unsupportedFormat)
        } catch {
            avcodec_free_context(&owned)
            throw error
        }
        return (Int(index), context)
    }

    /// Reads the whole file: every decoded video frame goes to `frame` (display order, pts in
    /// the video stream's time base, valid until the call returns), every packet of another
    /// stream to `otherPacket`.
    func run(
        frame: (UnsafeMutablePointer<AVFrame>) throws -> Void,
        otherPacket: (UnsafeMutablePointer<AVPacket>) throws -> Void
    ) throws {
        var packet = av_packet_alloc(), decoded = av_frame_alloc()
        defer { av_packet_free(&packet); av_frame_free(&decoded) }
        guard let packet, let decoded else { throw NICError.outOfMemory("cannot allocate a packet or frame") }
        var dataEnd = -Double.infinity
        while true {
            let read = av_read_frame(format, packet)
            if read == nic_averror_eof() {
                warnIfShort(dataEnd: dataEnd)
                break
            }
            if read < 0 {
                warnOnce("\(path) ends early or is damaged (\(ffmpegErrorString(read))); kept the frames read so far")
                break
            }
            defer { av_packet_unref(packet) }
            dataEnd = max(dataEnd, packetEnd(packet))
            if Int(packet.pointee.stream_index) == videoIndex {
                let sent = avcodec_send_packet(decoder, packet)
                if sent < 0 && sent != nic_averror_eagain() {
                    warnOnce("\(path): skipped damaged video data (\(ffmpegErrorString(sent)))")
                }
                try receiveFrames(into: decoded, deliver: frame)
            } else {
                try otherPacket(packet)
            }
        }
        _ = avcodec_send_packet(decoder, nil)
        try receiveFrames(into: decoded, deliver: frame)
    }

    /// Decodes up to the first frame and returns what `body` makes of it; nil for a stream
    /// without any decodable frame. Reads at most `maxPackets` packets.
    func firstFrame<T>(maxPackets: Int = 2000, _ body: (UnsafeMutablePointer<AVFrame>) throws -> T) throws -> T? {
        var packet = av_packet_alloc(), decoded = av_frame_alloc()
        defer { av_packet_free(&packet); av_frame_free(&decoded) }
        guard let packet, let decoded else { throw NICError.outOfMemory("cannot allocate a packet or frame") }
        var result: T?
        let take: (UnsafeMutablePointer<AVFrame>) throws -> Void = { if result == nil { result = try body($0) } }
        for _ in 0..<maxPackets where result == nil {
            guard av_read_frame(format, packet) >= 0 else { break }
            defer { av_packet_unref(packet) }
            guard Int(packet.pointee.stream_index) == videoIndex else { continue }
            _ = avcodec_send_packet(decoder, packet)
            try receiveFrames(into: decoded, deliver: take)
        }
        if result == nil {
            _ = avcodec_send_packet(decoder, nil)
            try receiveFrames(into: decoded, deliver: take)
        }
        return result
    }

    private func receiveFrames(
        into decoded: UnsafeMutablePointer<AVFrame>,
        deliver: (UnsafeMutablePointer<AVFrame>) throws -> Void
    ) throws {
        while true {
            let ret = avcodec_receive_frame(decoder, decoded)
            if ret == nic_averror_eagain() || ret == nic_averror_eof() { return }
            if ret < 0 {
                warnOnce("\(path): skipped a frame that failed to decode (\(ffmpegErrorString(ret)))")
                return
            }
            defer { av_frame_unref(decoded) }
            try checkLimits(width: Int(decoded.pointee.width), height: Int(decoded.pointee.height), name: path)
            decoded.pointee.pts = decoded.pointee.best_effort_timestamp
            try deliver(decoded)
        }
    }

    /// Seconds at which `packet` ends (its timestamp plus its duration), or -infinity without one.
    private func packetEnd(_ packet: UnsafeMutablePointer<AVPacket>) -> Double {
        let time = packet.pointee.pts != nic_av_nopts_value() ? packet.pointee.pts : packet.pointee.dts
        guard time != nic_av_nopts_value(), let stream = format.pointee.streams[Int(packet.pointee.stream_index)] else {
            return -.infinity
        }
        return Double(time + max(0, packet.pointee.duration)) * av_q2d(stream.pointee.time_base)
    }

    /// A container that declares its duration (Matroska, MP4, ...) but whose data stops well
    /// before it was cut short: its demuxer reports a plain end of file, so say it here.
    private func warnIfShort(dataEnd: Double) {
        let duration = format.pointee.duration, start = format.pointee.start_time
        guard duration > 0, duration != nic_av_nopts_value(), dataEnd.isFinite else { return }
        let declaredEnd = Double(duration + (start == nic_av_nopts_value() ? 0 : start)) / Double(AV_TIME_BASE)
        let frameSeconds = 1 / max(1, av_q2d(frameRate))
        if dataEnd + max(0.25, 2 * frameSeconds) < declaredEnd {
            warnOnce(
                "\(path) ends early: its header declares \(Int(declaredEnd * 1000)) ms but the data stops at \(Int(dataEnd * 1000)) ms; kept the frames read so far"
            )
        }
    }

    private func warnOnce(_ message: String) {
        if warned.insert(message).inserted { warn(message) }
    }

    /// Frames per second the container states for the video stream (average, else nominal).
    var frameRate: AVRational {
        let stream = videoStream.pointee
        if stream.avg_frame_rate.num > 0 && stream.avg_frame_rate.den > 0 { return stream.avg_frame_rate }
        if stream.r_frame_rate.num > 0 && stream.r_frame_rate.den > 0 { return stream.r_frame_rate }
        return AVRational(num: 25, den: 1)
    }
}
