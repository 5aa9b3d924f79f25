import ArgumentParser
import FFGlue
import NICCore
#if canImport(Glibc)
import Glibc
#endif

/// The main job of `make run` for now: the conventional down/up route on an image the
/// project generates itself. The AI route joins here when the AI codec lands.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Generate a test image, downscale it by 2 and upscale it back, and report PSNR per method.")

    @Option(help: "Folder for the images written.") var outputDirectory: String = "build/run"
    @Option(help: "Worker threads (0 = one per core).") var threads: Int = 0
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try runReportingErrors {
            try makeDirectory(outputDirectory)
            let original = try TestPattern.make(width: 1280, height: 720)
            let device = try ComputeDevice(threads: threads)
            try ImageFile.write(original, path: outputDirectory + "/original.png")
            var results: [String: JSONValue] = [:]
            for method in ResizeMethod.allCases {
                let small = try ImageResize.resized(original, width: 640, height: 360, method: method, workers: device.workers)
                let restored = try ImageResize.resized(small, width: 1280, height: 720, method: method, workers: device.workers)
                let path = outputDirectory + "/\(method.rawValue)_x2.png"
                try ImageFile.write(restored, path: path)
                let psnr = try Quality.psnr(original, restored)
                results[method.rawValue] = .object(["psnr_db": .number(rounded(psnr, 2)), "output": .string(path)])
                if !json { print("\(method.rawValue) down x2 + up x2: PSNR \(rounded(psnr, 2)) dB -> \(path)") }
            }
            if json { print(JSONValue.object(["routes": .object(results), "original": .string(outputDirectory + "/original.png")]).serialized) }
        }
    }
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
