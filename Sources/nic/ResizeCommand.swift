import ArgumentParser
import FFGlue
import NICCore

struct ResizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resize",
        abstract: "Resize a PNG/JPEG image with bicubic or Lanczos filtering (the non-AI route).")

    @Argument(help: "Input image (PNG, JPEG, or anything FFmpeg decodes).") var input: String
    @Argument(help: "Output image (.png or .jpg).") var output: String
    @Option(help: "Scale factor, e.g. 0.5 or 2.") var scale: Double?
    @Option(help: "Output size as WIDTHxHEIGHT.") var size: String?
    @Option(help: "bicubic or lanczos.") var method: String = "bicubic"
    @Option(help: "Worker threads (0 = one per core).") var threads: Int = 0
    @Option(help: "JPEG quality 1-100.") var quality: Int?

    func validate() throws {
        guard (scale == nil) != (size == nil) else { throw ValidationError("give exactly one of --scale or --size") }
        if let scale, !(scale > 0 && scale.isFinite) { throw ValidationError("--scale must be a positive number") }
        if let size, parseSize(size) == nil { throw ValidationError("--size must look like 1920x1080") }
        guard ResizeMethod(rawValue: method) != nil else { throw ValidationError("--method must be bicubic or lanczos") }
    }

    func run() throws {
        try runReportingErrors {
            try OutputFile.refuseSameFile(output: output, inputs: [input])
            if let size, let (width, height) = parseSize(size) { try ImageLimits.check(width: width, height: height) }
            let image = try ImageFile.read(path: input)
            let (width, height) = try targetSize(image)
            let device = try ComputeDevice(threads: threads)
            let result = try ImageResize.resized(
                image, width: width, height: height,
                method: ResizeMethod(rawValue: method)!, workers: device.workers)
            try ImageFile.write(result, path: output, quality: quality, inputs: [input])
        }
    }

    func targetSize(_ image: PlanarImage) throws -> (Int, Int) {
        if let size, let parsed = parseSize(size) { return parsed }
        let s = scale ?? 1
        let w = (Double(image.width) * s).rounded(), h = (Double(image.height) * s).rounded()
        guard w >= 1, h >= 1, w <= Double(ImageLimits.maxDimension), h <= Double(ImageLimits.maxDimension) else {
            throw NICError.dimensions("scaling \(image.width)x\(image.height) by \(s) gives an invalid size")
        }
        try ImageLimits.check(width: Int(w), height: Int(h))
        return (Int(w), Int(h))
    }
}

/// Parses "WIDTHxHEIGHT" into positive integers.
func parseSize(_ text: String) -> (Int, Int)? {
    let parts = text.lowercased().split(separator: "x")
    guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0 else { return nil }
    return (w, h)
}
