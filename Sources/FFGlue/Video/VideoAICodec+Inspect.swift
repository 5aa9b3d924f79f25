import CFFmpeg
import NICCore

extension VideoAICodec {
    /// One video frame as `nic info` shows it.
    public struct FrameAIData: Sendable {
        /// Presentation time stamp in the stream's time base, and in seconds.
        public let pts: Int64
        public let seconds: Double
        public let width: Int
        public let height: Int
        /// This frame's own AI data (no carrying over from earlier frames; a repeat record
        /// completed from the last full record).
        public let found: AIDecodePlan.Found
    }

    /// Summary of a video file with the AI data of every frame, in display order.
    public struct StreamAIData: Sendable {
        public let formatName: String
        public let codecName: String
        public let width: Int
        public let height: Int
        public let frameRate: Double
        public let streamCount: Int
        public let frames: [FrameAIData]
    }

    /// Decodes `path` and collects each frame's AI data (`visit` also sees them as they come).
    public static func inspect(
        _ path: String, threads: Int = 0, warn: @escaping (String) -> Void,
        visit: (FrameAIData) throws -> Void = { _ in }
    ) throws -> StreamAIData {
        let input = try VideoInput(path: path, threads: threads, warn: warn)
        let timeBase = av_q2d(input.videoStream.pointee.time_base)
        var frames: [FrameAIData] = []
        var reader = AIDataSEI.Reader()
        try input.run(
            frame: { frame in
                let pts = frame.pointee.pts
                let entry = FrameAIData(
                    pts: pts, seconds: pts == nic_av_nopts_value() ? .nan : Double(pts) * timeBase,
                    width: Int(frame.pointee.width), height: Int(frame.pointee.height),
                    found: reader.read(frame))
                try visit(entry)
                frames.append(entry)
            }, otherPacket: { _ in })
        let parameters = input.videoStream.pointee.codecpar.pointee
        return StreamAIData(
            formatName: String(cString: input.format.pointee.iformat.pointee.name),
            codecName: String(cString: avcodec_get_name(parameters.codec_id)),
            width: Int(parameters.width), height: Int(parameters.height),
            frameRate: av_q2d(input.frameRate), streamCount: input.streamCount, frames: frames)
    }

    /// Names of video files, for files FFmpeg cannot open.
    static let videoExtensions = ["mp4", "m4v", "mov", "mkv", "webm", "ts", "m2ts", "mts", "avi", "y4m", "flv", "3gp"]

    /// Whether `path` holds a video (as opposed to a still image FFmpeg can also open):
    /// decided by the demuxer FFmpeg picks from the content, or by the name when FFmpeg cannot
    /// open the file.
    public static func isVideoFile(_ path: String) -> Bool {
        guard let (context, io) = try? VideoInput.openInput(path) else {
            // Unreadable: the name decides, so that a damaged video is reported as a video.
            let name = path.lowercased()
            return videoExtensions.contains { name.hasSuffix("." + $0) }
        }
        defer {
            var owned: UnsafeMutablePointer<AVFormatContext>? = context
            avformat_close_input(&owned)
            var pb: UnsafeMutablePointer<AVIOContext>? = io
            avio_closep(&pb)
        }
        let name = String(cString: context.pointee.iformat.pointee.name)
        return !(name.hasSuffix("_pipe") || name == "image2" || name == "bmp")
    }
}
