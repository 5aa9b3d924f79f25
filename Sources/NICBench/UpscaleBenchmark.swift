import NICCore
#if canImport(Glibc)
    import Glibc
#endif

/// The measurement behind `nic bench upscale`: a setting's AI up-scaling of 4:2:0 8-bit
/// frames (luma through the network, chroma bicubic) from caller-style buffers with padded
/// rows, as a player hands over decoded frames, into an output frame of the same kind, in the
/// precision the device asks for (`ComputeDevice.precision`).
public struct UpscaleBenchmark {
    public struct Result: Sendable {
        public let frames: Int
        public let medianMs: Double
        public let p95Ms: Double
        public let fps: Double
        /// Network FLOPs per frame (2 x MACs of the up network per low-resolution pixel).
        public let flopsPerFrame: Double
        public var gflops: Double { flopsPerFrame / (medianMs * 1e6) }
        /// Resident memory before the first frame (model loaded) and the peak during the run.
        public let residentBeforeBytes: Int
        public let peakResidentBytes: Int
        /// The precision the network ran in (the device's request on this CPU), and why.
        public let precision: PrecisionPlan
    }

    public let store: ModelStore
    public let settingID: Int
    public let width: Int
    public let height: Int
    public let frames: Int
    public let device: ComputeDevice

    public init(store: ModelStore, settingID: Int, width: Int, height: Int, frames: Int, device: ComputeDevice) {
        self.store = store; self.settingID = settingID; self.width = width; self.height = height
        self.frames = frames; self.device = device
    }

    public func run() throws -> Result {
        let network = try store.network(try store.setting(id: settingID), .up)
        let precision = try network.precisionPlan(device.precision)
        let outWidth = network.outputLength(width), outHeight = network.outputLength(height)
        let before = UpscaleBenchmark.resident().current
        var input = FrameBuffer(width: width, height: height)
        input.fill(with: try TestPattern.make(width: width, height: height))
        var output = FrameBuffer(width: outWidth, height: outHeight)
        var times: [Double] = []
        for _ in 0..<(frames + 1) {  // the first frame warms caches and primitive creation
            let start = monotonicSeconds()
            try input.withFrame { source in
                try output.withFrame { destination in
                    try FrameScaler.scale(
                        source, into: destination, route: .network(settingID: settingID),
                        store: store, device: device)
                }
            }
            times.append(monotonicSeconds() - start)
        }
        let timed = TimingSummary(Array(times.dropFirst()))
        return Result(
            frames: frames, medianMs: timed.median * 1e3, p95Ms: timed.p95 * 1e3,
            fps: 1 / timed.median, flopsPerFrame: 2 * network.macsPerLowResPixel * Double(width * height),
            residentBeforeBytes: before, peakResidentBytes: UpscaleBenchmark.resident().peak, precision: precision)
    }

    /// VmRSS and VmHWM of this process, in bytes (0 where /proc is missing).
    public static func resident() -> (current: Int, peak: Int) {
        guard let bytes = try? readFileBytes(path: "/proc/self/status", limit: 1 << 16) else { return (0, 0) }
        var current = 0, peak = 0
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let kb = Int(parts[1]) else { continue }
            if parts[0] == "VmRSS:" { current = kb * 1024 }
            if parts[0] == "VmHWM:" { peak = kb * 1024 }
        }
        return (current, peak)
    }
}

/// A yuv420p frame in one allocation with rows padded to 64 bytes, like a decoder's.
struct FrameBuffer {
    let width: Int, height: Int
    private(set) var bytes: [UInt8]
    private let strides: [Int], offsets: [Int]

    init(width: Int, height: Int) {
        self.width = width; self.height = height
        var strides: [Int] = [], offsets: [Int] = [], total = 0
        for p in 0..<3 {
            let size = PixelFormat.yuv420p.planeSize(plane: p, width: width, height: height)
            let stride = (size.width + 63) / 64 * 64
            strides.append(stride); offsets.append(total)
            total += stride * size.height
        }
        self.strides = strides; self.offsets = offsets
        bytes = [UInt8](repeating: 128, count: total)
    }

    /// Copies an image (converted to 4:2:0 by averaging when it is RGB) into the frame.
    mutating func fill(with rgb: PlanarImage) {
        guard let luma = try? LumaChroma(rgb) else { return }
        luma.luma.withFloats { y in
            for row in 0..<height {
                for x in 0..<width { bytes[offsets[0] + row * strides[0] + x] = UInt8(min(max(y[row * width + x] * 219 + 16.5, 0), 255)) }
            }
        }
    }

    mutating func withFrame<R>(_ body: (YUV420Frame) throws -> R) throws -> R {
        let (w, h, s, o) = (width, height, strides, offsets)
        return try bytes.withUnsafeMutableBytes { raw in
            let planes = (0..<3).map { p -> MutablePlaneView in
                let size = PixelFormat.yuv420p.planeSize(plane: p, width: w, height: h)
                return MutablePlaneView(base: raw.baseAddress! + o[p], width: size.width, height: size.height, channels: 1, stride: s[p])
            }
            return try body(try YUV420Frame(width: w, height: h, bitDepth: 8, planes: planes))
        }
    }
}
