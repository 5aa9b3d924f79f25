import ArgumentParser
import FFGlue
import NICCore
#if canImport(Glibc)
    import Glibc
#endif

/// The main job of `make run`: the AI codec on an image the project generates itself, side by
/// side with what users do today: the full-resolution picture in the same codec, and the
/// conventional down-scaled route (bicubic down, same codec, bicubic up).
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract:
            "The AI codec on a generated image (several JPEG qualities) and a generated clip (x264), against full resolution and the bicubic route."
    )

    @Option(help: "Folder for the files written.") var outputDirectory: String = "build/run"
    @Option(help: "JPEG qualities to try.") var qualities: [Int] = [20, 40, 60, 80, 95]
    @Option(help: "Scale factor of the AI route for the image (2 or 1.5).") var scale: Double = 2
    @Option(help: "What to run: image, video or both.") var media: String = "both"
    @Option(help: "Video: frame size WIDTHxHEIGHT of the generated clip.") var videoSize: String = "1280x720"
    @Option(help: "Video: number of frames (25 per second).") var frames: Int = 50
    @Option(help: "Video: target bit rate of both routes, FFmpeg style.") var bitrate: String = "500k"
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print one JSON object.") var json = false

    struct Point { let quality: Int; let bytes: Int; let psnr: Double }

    func run() throws {
        try runReportingErrors {
            guard ["image", "video", "both"].contains(media) else { throw NICError.invalidArgument("--media must be image, video or both") }
            try makeDirectory(outputDirectory)
            var fields: [String: JSONValue] = [:]
            if media != "video" { fields = try runImage() }
            if media != "image" { fields["video"] = try runVideo() }
            if json { print(JSONValue.object(fields).serialized) }
        }
    }

    func runVideo() throws -> JSONValue {
        guard let size = parseSize(videoSize), frames > 0, frames <= 1000 else {
            throw NICError.invalidArgument("--video-size must look like 1280x720 and --frames be 1...1000")
        }
        let demo = VideoDemo(
            directory: outputDirectory, width: size.0, height: size.1, frames: frames, bitRate: bitrate,
            store: try modelOptions.store(), device: try modelOptions.device())
        let routes = try demo.run()
        if !json {
            print("\n\(size.0)x\(size.1) generated clip, \(frames) frames, x2 around x264 at \(bitrate)bit/s; PSNR vs the source frames:")
            for r in routes {
                let setting = r.setting.map { " (setting \($0))" } ?? ""
                print(
                    "  \(r.label) route\(setting): \(format2(r.kbps)) kbit/s, PSNR Y \(format2(r.psnrY)) dB, YUV \(format2(r.psnrYUV)) dB"
                )
            }
            for other in routes.dropFirst() {
                let gain = routes[0].psnrY - other.psnrY
                print(
                    "AI route vs \(other.label) route: \(gain >= 0 ? "+" : "")\(format2(gain)) dB luma PSNR at \(format2(routes[0].kbps)) vs \(format2(other.kbps)) kbit/s"
                )
            }
            print("outputs: \(outputDirectory)/ (clip.y4m source, ai_small.mp4 with AI data per frame, full.mp4, *_decoded.y4m)")
        }
        return .array(
            routes.map { r in
                .object([
                    "route": .string(r.name), "bytes": .number(Double(r.bytes)), "kbps": .number(rounded(r.kbps, 2)),
                    "psnr_y_db": .number(rounded(r.psnrY, 3)), "psnr_yuv_db": .number(rounded(r.psnrYUV, 3)),
                    "setting_id": r.setting.map { .number(Double($0)) } ?? .null,
                ])
            })
    }

    func runImage() throws -> [String: JSONValue] {
        let original = try TestPattern.make(width: 1280, height: 720)
        try ImageFile.write(original, path: outputDirectory + "/original.png")
        let store = try modelOptions.store()
        let device = try modelOptions.device()
        var ai: [Point] = [], bicubic: [Point] = [], full: [Point] = []
        func fullResolution(_ q: Int) throws -> Point {
            let jpeg = try ImageFile.encode(original, format: .jpeg, quality: q)
            return Point(quality: q, bytes: jpeg.count, psnr: try Quality.psnr(original, try ImageFile.read(data: jpeg)))
        }
        for q in qualities {
            let encoded = try StillImageAICodec.encode(
                original, options: .init(codec: .jpeg, quality: q, scale: scale),
                store: store, device: device)
            let decoded = try StillImageAICodec.decode(
                try ImageFile.readWithMetadata(data: encoded.bytes),
                options: .init(), store: store, device: device)
            ai.append(Point(quality: q, bytes: encoded.bytes.count, psnr: try Quality.psnr(original, decoded.image)))
            let small = try ImageResize.resized(
                original, width: encoded.record.downscaledWidth,
                height: encoded.record.downscaledHeight, method: .bicubic, workers: device.workers)
            let smallJPEG = try ImageFile.encode(small, format: .jpeg, quality: q)
            let back = try ImageResize.resized(
                try ImageFile.read(data: smallJPEG), width: 1280, height: 720,
                method: .bicubic, workers: device.workers)
            bicubic.append(Point(quality: q, bytes: smallJPEG.count, psnr: try Quality.psnr(original, back)))
            full.append(try fullResolution(q))
            try writeFileBytes(encoded.bytes, path: outputDirectory + "/ai_q\(q).jpg")
            try ImageFile.write(decoded.image, path: outputDirectory + "/ai_q\(q)_decoded.png")
            try ImageFile.write(back, path: outputDirectory + "/bicubic_q\(q)_decoded.png")
        }
        // Full resolution reaches the AI route's rates only at low qualities: a few more points
        // so that the comparison at equal bytes covers them.
        for q in [2, 5, 10] where !qualities.contains(q) { full.append(try fullResolution(q)) }
        return report(ai: ai, bicubic: bicubic, full: full)
    }

    func report(ai: [Point], bicubic: [Point], full: [Point]) -> [String: JSONValue] {
        let pixels = 1280.0 * 720
        let gains = ai.compactMap { p in psnrAt(bytes: p.bytes, on: bicubic).map { p.psnr - $0 } }
        let gainsOverFull = ai.compactMap { p in psnrAt(bytes: p.bytes, on: full).map { p.psnr - $0 } }
        if json {
            func points(_ list: [Point]) -> JSONValue {
                .array(
                    list.map {
                        .object([
                            "quality": .number(Double($0.quality)), "bytes": .number(Double($0.bytes)),
                            "bpp": .number(rounded(Double($0.bytes * 8) / pixels, 4)),
                            "psnr_db": .number(rounded($0.psnr, 2)),
                        ])
                    })
            }
            return [
                "ai": points(ai), "bicubic": points(bicubic), "full_resolution": points(full),
                "output_directory": .string(outputDirectory),
                "gain_db_at_equal_bytes": .array(gains.map { .number(rounded($0, 2)) }),
                "gain_db_over_full_resolution_at_equal_bytes": .array(gainsOverFull.map { .number(rounded($0, 2)) }),
            ]
        }
        print("1280x720 generated image, x\(fmt(scale)) around JPEG; PSNR (RGB) vs the original:")
        print("  quality   AI route: bytes  bpp    PSNR     bicubic route: bytes  bpp    PSNR     full resolution: bytes  bpp    PSNR")
        func columns(_ p: Point, _ width: Int) -> String {
            "\(pad(p.bytes, width))  \(format3(Double(p.bytes * 8) / pixels))  \(format2(p.psnr))"
        }
        for ((a, b), f) in zip(zip(ai, bicubic), full.prefix(ai.count)) {
            print("  \(pad(a.quality, 7))   \(columns(a, 14))    \(columns(b, 19))    \(columns(f, 21))")
        }
        for (name, list) in [("bicubic route", gains), ("full resolution", gainsOverFull)] where !list.isEmpty {
            let mean = list.reduce(0, +) / Double(list.count)
            print("AI route vs \(name) at equal bytes: \(mean >= 0 ? "+" : "")\(format2(mean)) dB on average (\(list.count) points)")
        }
        print("outputs: \(outputDirectory)/ (original.png, ai_q*.jpg with AI data, *_decoded.png)")
        return [:]
    }

    /// PSNR of a rate-distortion curve at `bytes`, interpolated in log-rate; nil outside the curve.
    func psnrAt(bytes: Int, on curve: [Point]) -> Double? {
        let sorted = curve.sorted { $0.bytes < $1.bytes }
        for (lo, hi) in zip(sorted, sorted.dropFirst()) where lo.bytes <= bytes && bytes <= hi.bytes && lo.bytes < hi.bytes {
            let t = (log(Double(bytes)) - log(Double(lo.bytes))) / (log(Double(hi.bytes)) - log(Double(lo.bytes)))
            return lo.psnr + t * (hi.psnr - lo.psnr)
        }
        return nil
    }
}

func pad(_ n: Int, _ width: Int) -> String { String(repeating: " ", count: max(0, width - String(n).count)) + String(n) }
func format2(_ x: Double) -> String { fixed(x, 2) }
func format3(_ x: Double) -> String { fixed(x, 3) }

/// Fixed-point formatting without Foundation.
func fixed(_ x: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let v = (abs(x) * scale).rounded()
    let whole = Int(v / scale), frac = Int(v.truncatingRemainder(dividingBy: scale))
    let fracText = String(frac)
    return (x < 0 && v > 0 ? "-" : "") + "\(whole)." + String(repeating: "0", count: digits - fracText.count) + fracText
}

/// Creates a directory and its parents (like mkdir -p).
func makeDirectory(_ path: String) throws {
    var current = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
        current += "/" + part
        if mkdir(current, 0o755) != 0 && errno != EEXIST {
            throw NICError.io("cannot create directory \(current)")
        }
    }
}
