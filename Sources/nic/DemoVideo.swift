import FFGlue
import NICCore

/// The video half of `nic demo`: a generated clip through the AI route, the bicubic route and
/// plain full resolution at the same target bit rate (x264), PSNR of each against the source frames.
struct VideoDemo {
    let directory: String
    let width: Int
    let height: Int
    let frames: Int
    let bitRate: String
    let store: ModelStore
    let device: ComputeDevice

    struct Route {
        let name: String; let bytes: Int; let kbps: Double; let psnrY: Double; let psnrYUV: Double; let setting: Int?
        /// The name in text: "ai", "bicubic", "full-resolution".
        var label: String { name == "full" ? "full-resolution" : name }
    }

    func run() throws -> [Route] {
        let source = try makeClip()
        let sourcePath = directory + "/clip.y4m"
        try VideoFile.writeY4M(source, frameRate: 25, path: sourcePath)
        let encoder = VideoEncoderSettings(
            encoder: "libx264", bitRate: try VideoEncoderSettings.parseBitRate(bitRate),
            preset: "medium", threads: device.threads)
        var routes: [Route] = []
        let plans: [(String, Double, ResizeMethod?)] = [("ai", 2, nil), ("bicubic", 2, .bicubic), ("full", 1, nil)]
        for (name, scale, method) in plans {
            let small = directory + (scale == 1 ? "/full.mp4" : "/\(name)_small.mp4")
            let decoded = directory + "/\(name)_decoded.y4m"
            let encoded = try VideoAICodec.encode(
                input: sourcePath, output: small,
                options: .init(scale: .fixed(scale), encoder: encoder, classicDownscale: method),
                store: store, device: device, warn: printWarning)
            // Full resolution as a player without libnic shows it (no restoration setting).
            _ = try VideoAICodec.decode(
                input: small, output: decoded,
                options: .init(size: (width, height), forcedMethod: method ?? (scale == 1 ? .lanczos : nil)),
                store: store, device: device, warn: printWarning)
            let quality = try VideoFile.psnr(source, try VideoFile.readFrames(path: decoded))
            let kbps = Double(encoded.videoBytes * 8) / (Double(frames) / 25) / 1000
            routes.append(
                Route(
                    name: name, bytes: encoded.videoBytes, kbps: kbps, psnrY: quality.y, psnrYUV: quality.yuv,
                    setting: method == nil && scale != 1 ? encoded.setting?.id : nil))
        }
        return routes
    }

    /// The test pattern panning right by 4 pixels per frame, as yuv420p frames.
    func makeClip() throws -> [PlanarImage] {
        let step = 4
        let pattern = try TestPattern.make(width: width + step * frames, height: height)
        return try (0..<frames).map { f in
            var rgb = try PlanarImage(format: .rgb24, width: width, height: height)
            for y in 0..<height {
                let from = (y * pattern.width + step * f) * 3
                rgb.planes[0].replaceSubrange(
                    (y * width * 3)..<((y + 1) * width * 3),
                    with: pattern.planes[0][from..<(from + width * 3)])
            }
            return try PixelConversion.converted(rgb, to: .yuv420p)
        }
    }
}
