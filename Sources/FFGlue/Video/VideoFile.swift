import CFFmpeg
import NICCore

/// Whole short videos as frames, for demos, tests and measurements (not for playback: every
/// frame is held in memory).
public enum VideoFile {
    /// Decodes up to `maxFrames` frames of `path` as 8-bit yuv420p images, in display order.
    public static func readFrames(path: String, maxFrames: Int = 10_000, threads: Int = 0) throws -> [PlanarImage] {
        let input = try VideoInput(path: path, threads: threads, warn: { _ in })
        var frames: [PlanarImage] = []
        try input.run(
            frame: { frame in
                guard frames.count < maxFrames else { return }
                frames.append(try yuv420pImage(frame))
            }, otherPacket: { _ in })
        return frames
    }

    /// Writes yuv420p images as a Y4M file (raw frames) at `frameRate` frames per second.
    public static func writeY4M(_ frames: [PlanarImage], frameRate: Int, path: String) throws {
        guard let first = frames.first else { throw NICError.invalidArgument("no frames to write") }
        var bytes = Array("YUV4MPEG2 W\(first.width) H\(first.height) F\(frameRate):1 Ip A1:1 C420jpeg\n".utf8)
        for frame in frames {
            guard frame.format == .yuv420p, frame.width == first.width, frame.height == first.height else {
                throw NICError.invalidArgument("Y4M frames must all be yuv420p of the first frame's size")
            }
            bytes += Array("FRAME\n".utf8)
            for plane in frame.planes { bytes += plane }
        }
        try writeFileBytes(bytes, path: path)
    }

    /// Mean luma PSNR and mean YUV PSNR (Y, U, V weighted 4:1:1) over frame pairs.
    public static func psnr(_ reference: [PlanarImage], _ distorted: [PlanarImage]) throws -> (y: Double, yuv: Double) {
        guard reference.count == distorted.count, !reference.isEmpty else {
            throw NICError.invalidArgument("cannot compare \(reference.count) frames with \(distorted.count)")
        }
        var y = 0.0, yuv = 0.0
        for (a, b) in zip(reference, distorted) {
            guard a.width == b.width, a.height == b.height, a.format == .yuv420p, b.format == .yuv420p else {
                throw NICError.invalidArgument("frames differ in size or format")
            }
            let mse = (0..<3).map { p in meanSquaredError(a.planes[p], b.planes[p]) }
            y += Quality.psnr(mse: mse[0])
            yuv += Quality.psnr(mse: (4 * mse[0] + mse[1] + mse[2]) / 6)
        }
        return (y / Double(reference.count), yuv / Double(reference.count))
    }

    static func meanSquaredError(_ a: [UInt8], _ b: [UInt8]) -> Double {
        var sum = 0.0
        for i in a.indices { let d = Double(a[i]) - Double(b[i]); sum += d * d }
        return sum / Double(max(1, a.count))
    }
}
