import NICCore
import CDNNL

/// The convolution benchmark behind `nic bench conv`: a 3x3, 32->32 convolution on
/// a 960x540 feature map, through the engine (oneDNN, blocked layout kept between
/// layers) and through the usual alternative (im2col + SGEMM on plain NCHW).
public struct ConvBenchmark {
    public struct Result: Sendable {
        public let name: String
        public let medianMs: Double
        public let gflops: Double
    }

    public let channels = 32, height = 540, width = 960, kernel = 3
    public let threads: Int
    public let repeats: Int

    public init(threads: Int, repeats: Int) { self.threads = threads; self.repeats = repeats }

    public var flopsPerRun: Double { 2.0 * Double(channels * channels * kernel * kernel * height * width) }

    /// Deterministic pseudo-random values in [-1, 1) (the benchmarks' data; tests use them too).
    public static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
    }

    /// The device, the convolution and its input, the same for every variant.
    private func setUp() throws -> (ComputeDevice, Conv2d, Tensor) {
        let conv = try Conv2d(
            inChannels: channels, outChannels: channels, kernel: kernel, padding: 1,
            weights: ConvBenchmark.values(channels * channels * 9, seed: 1),
            bias: ConvBenchmark.values(channels, seed: 2))
        let input = try Tensor(
            shape: [1, channels, height, width],
            values: ConvBenchmark.values(channels * height * width, seed: 3))
        return (try ComputeDevice(threads: threads), conv, input)
    }

    public func runEngine() throws -> Result {
        let (device, conv, input) = try setUp()
        // Steady state between layers: the input already sits in the layout the convolution wants.
        let warm = try conv.forward(input, on: device)
        let blockedInput = try device.converted(input, to: warm.desc)
        return try measure("onednn \(ConvBenchmark.oneDNNVersion) (\(warm.isPlain ? "plain" : "blocked") layout)") {
            _ = try conv.forward(blockedInput, on: device)
        }
    }

    /// The same convolution in 8-bit integers (`QuantizedConv2d`), between two 8-bit layers:
    /// integer input already in the primitive's layout, integer output.
    public func runEngineInt8() throws -> Result {
        let (device, conv, input) = try setUp()
        let q = try QuantizedConv2d(conv, input: Quantization(maxAbs: 1), output: Quantization(maxAbs: 8))
        let integers = try q.quantized(input, on: device)
        let implementation = try q.implementation(for: integers, on: device)
        let steady = try device.converted(integers, to: try q.sourceDesc(for: integers, on: device))
        return try measure("onednn \(ConvBenchmark.oneDNNVersion) int8 (\(implementation))") {
            _ = try q.forward(steady, on: device)
        }
    }

    /// The same convolution in bfloat16 (`BFloat16Conv2d`), between two bfloat16 layers: bfloat16
    /// input already in the primitive's layout, bfloat16 output. For CPUs with AVX512_BF16.
    public func runEngineBF16() throws -> Result {
        let (device, conv, input) = try setUp()
        let b = BFloat16Conv2d(conv, floatOutput: false)
        let warm = try b.forward(input, on: device)
        let steady = try device.converted(input, to: warm.desc)
        let implementation = try b.implementation(for: steady, on: device)
        return try measure("onednn \(ConvBenchmark.oneDNNVersion) bf16 (\(implementation))") {
            _ = try b.forward(steady, on: device)
        }
    }

    public func runIm2colGemm() throws -> Result {
        let k = kernel, c = channels, h = height, w = width
        let weights = ConvBenchmark.values(c * c * k * k, seed: 1)
        let input = ConvBenchmark.values(c * h * w, seed: 3)
        var columns = [Float](repeating: 0, count: c * k * k * h * w)
        var output = [Float](repeating: 0, count: c * h * w)
        let workers = Workers(count: threads)
        return try measure("im2col + oneDNN sgemm (plain NCHW)") {
            columns.withUnsafeMutableBufferPointer { col in
                workers.parallelFor(c * k * k) { rows in
                    for row in rows { ConvBenchmark.im2colRow(row, input, col.baseAddress!, c: c, h: h, w: w, k: k) }
                }
            }
            omp_set_num_threads(Int32(threads))
            // Row-major C[c_out][hw] = W[c_out][c*k*k] x col[c*k*k][hw].
            let status = dnnl_sgemm(
                78, 78, Int64(c), Int64(h * w), Int64(c * k * k), 1, weights, Int64(c * k * k),
                columns, Int64(h * w), 0, &output, Int64(h * w))
            try DNNL.check(status, "sgemm")
        }
    }

    /// Fills row `row` (= channel, ky, kx) of the im2col matrix with zero padding 1.
    static func im2colRow(_ row: Int, _ input: [Float], _ col: UnsafeMutablePointer<Float>, c: Int, h: Int, w: Int, k: Int) {
        let (channel, offset) = row.quotientAndRemainder(dividingBy: k * k)
        let (ky, kx) = offset.quotientAndRemainder(dividingBy: k)
        let out = col + row * h * w
        for y in 0..<h {
            let sy = y + ky - 1
            for x in 0..<w {
                let sx = x + kx - 1
                out[y * w + x] = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? input[(channel * h + sy) * w + sx] : 0
            }
        }
    }

    private func measure(_ name: String, _ body: () throws -> Void) throws -> Result {
        try body()  // warm-up: primitive creation, page faults
        var samples: [Double] = []
        for _ in 0..<repeats {
            let start = monotonicSeconds()
            try body()
            samples.append(monotonicSeconds() - start)
        }
        let median = TimingSummary(samples).median
        return Result(name: name, medianMs: median * 1000, gflops: flopsPerRun / median / 1e9)
    }

    public static var oneDNNVersion: String {
        let v = dnnl_version().pointee
        return "\(v.major).\(v.minor).\(v.patch)"
    }
}
