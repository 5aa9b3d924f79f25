import ArgumentParser
import FFGlue
import NICCore
#if canImport(Glibc)
import Glibc
#endif

/// The main job of `make run`: the AI codec on an image the project generates itself,
/// side by side with the conventional route (bicubic down, same codec, bicubic up).
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "AI-encode and AI-decode a generated image at several JPEG qualities and compare with the bicubic route.")

    @Option(help: "Folder for the images written.") var outputDirectory: String = "build/run"
    @Option(help: "JPEG qualities to try.") var qualities: [Int] = [20, 40, 60, 80, 95]
    @Option(help: "Scale factor of the AI route (2 or 1.5).") var scale: Double = 2
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print one JSON object.") var json = false

    struct Point { let quality: Int; let bytes: Int; let psnr: Double }

    func run() throws {
        try runReportingErrors {
            try makeDirectory(outputDirectory)
            let original = try TestPattern.make(width: 1280, height: 720)
            try ImageFile.write(original, path: outputDirectory + "/original.png")
            let store = try modelOptions.store()
            let device = try modelOptions.device()
            var ai: [Point] = [], bicubic: [Point] = []
            for q in qualities {
                let encoded = try StillImageAICodec.encode(original, options: .init(codec: .jpeg, quality: q, scale: scale),
                                                           store: store, device: device)
                let decoded = try StillImageAICodec.decode(try ImageFile.readWithMetadata(data: encoded.bytes),
                                                           options: .init(), store: store, device: device)
                ai.append(Point(quality: q, bytes: encoded.bytes.count, psnr: try Quality.psnr(original, decoded.image)))
                let small = try ImageResize.resized(original, width: encoded.record.downscaledWidth,
                                                    height: encoded.record.downscaledHeight, method: .bicubic, workers: device.workers)
                let smallJPEG = try ImageFile.encode(small, format: .jpeg, quality: q)
                let back = try ImageResize.resized(try ImageFile.read(data: smallJPEG), width: 1280, height: 720,
                                                   method: .bicubic, workers: device.workers)
                bicubic.append(Point(quality: q, bytes: smallJPEG.count, psnr: try Quality.psnr(original, back)))
                try writeFileBytes(encoded.bytes, path: outputDirectory + "/ai_q\(q).jpg")
                try ImageFile.write(decoded.image, path: outputDirectory + "/ai_q\(q)_decoded.png")
                try ImageFile.write(back, path: outputDirectory + "/bicubic_q\(q)_decoded.png")
            }
            report(ai: ai, bicubic: bicubic)
        }
    }

    func report(ai: [Point], bicubic: [Point]) {
        let pixels = 1280.0 * 720
        let gains = ai.compactMap { p in psnrAt(bytes: p.bytes, on: bicubic).map { p.psnr - $0 } }
        if json {
            func points(_ list: [Point]) -> JSONValue {
                .array(list.map { .object(["quality": .number(Double($0.quality)), "bytes": .number(Double($0.bytes)),
                                           "bpp": .number(rounded(Double($0.bytes * 8) / pixels, 4)),
                                           "psnr_db": .number(rounded($0.psnr, 2))]) })
            }
            print(JSONValue.object(["ai": points(ai), "bicubic": points(bicubic), "output_directory": .string(outputDirectory),
                                    "gain_db_at_equal_bytes": .array(gains.map { .number(rounded($0, 2)) })]).serialized)
            return
        }
        print("1280x720 generated image, x\(fmt(scale)) around JPEG; PSNR (RGB) vs the original:")
        print("  quality   AI route: bytes  bpp    PSNR     bicubic route: bytes  bpp    PSNR")
        for (a, b) in zip(ai, bicubic) {
            print("  \(pad(a.quality, 7))   \(pad(a.bytes, 14))  \(String(format3(Double(a.bytes * 8) / pixels)))  \(String(format2(a.psnr)))    \(pad(b.bytes, 19))  \(String(format3(Double(b.bytes * 8) / pixels)))  \(String(format2(b.psnr)))")
        }
        if !gains.isEmpty {
            let mean = gains.reduce(0, +) / Double(gains.count)
            print("AI route vs bicubic route at equal bytes: \(mean >= 0 ? "+" : "")\(format2(mean)) dB on average (\(gains.count) points)")
        }
        print("outputs: \(outputDirectory)/ (original.png, ai_q*.jpg with AI data, *_decoded.png)")
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
