/// A down- or up-scaling network as exported by training/aicodec/export.py:
/// output = bicubic(input) + body(input), on one plane (luma) in [0, 1].
///
/// The body is pixel-unshuffle → 3x3 convolutions (leaky ReLU between) → pixel
/// shuffle, so it maps blocks of `inputBlock` pixels to blocks of `outputBlock`
/// pixels (x2 up: 1→2, x1.5 up: 2→3, x1.5 down: 3→2). Inputs whose size is not a
/// multiple of the block are padded by edge replication and the result cropped.
public final class ScalerNetwork: @unchecked Sendable {  // immutable after init
    public enum Direction: String, Sendable { case down, up }

    public let direction: Direction
    /// Output size = input size × numerator / denominator (per axis).
    public let numerator: Int
    public let denominator: Int
    public let macsPerLowResPixel: Double
    let inputBlock: Int
    let outputBlock: Int
    let body: Sequential
    /// The body in 8-bit integers (`Sequential.quantized`), when the network has calibrated int8
    /// ranges; `body` stays the float32 reference.
    let int8Body: Sequential?
    /// The convolutions the int8 body keeps out of 8 bits, and in what (when its ranges name any).
    let int8FloatLayers: Int8FloatLayers?
    /// The body with its convolutions in bfloat16 (`Sequential.bfloat16`), sharing `body`'s weights.
    let bf16Body: Sequential
    /// Input rows on each side that influence an output row: the convolutions' radii, counted
    /// at the input's resolution (they run after the unshuffle: one row there = inputBlock rows).
    let haloRows: Int
    let base: ResampleKernel
    let baseMode: ResampleMode

    /// Builds the network from its architecture description and weights, with its int8 body
    /// when `int8` ranges are given: from `int8Weights` when given (separate weights for 8 bits,
    /// of the same architecture), else from `weights`; the convolutions the ranges keep out of
    /// 8 bits run as `Int8FloatLayers` decides for `cpu`.
    public init(
        architecture a: JSONValue, weights: SafetensorsFile, int8: Int8Calibration? = nil,
        int8Weights: (architecture: JSONValue, weights: SafetensorsFile)? = nil, cpu: CPUFeatures = .current
    ) throws {
        guard let kind = a["kind"]?.stringValue, let direction = Direction(rawValue: kind) else {
            throw NICError.model("architecture has no valid 'kind' (down or up)")
        }
        // 1/1: a restoration network (up direction, identity base).
        guard let ratio = a["scale_rational"]?.arrayValue?.compactMap(\.intValue), ratio.count == 2,
            ratio[0] > ratio[1] || (ratio[0] == ratio[1] && direction == .up), ratio[1] > 0
        else {
            throw NICError.model("architecture has no valid 'scale_rational'")
        }
        let baseOp = a["residual_base"]?["op"]?.stringValue ?? "resize"
        guard baseOp == (ratio[0] == ratio[1] ? "identity" : "resize") else {
            throw NICError.model("residual_base '\(baseOp)' does not fit the scale \(ratio[0])/\(ratio[1])")
        }
        self.direction = direction
        (numerator, denominator) = direction == .up ? (ratio[0], ratio[1]) : (ratio[1], ratio[0])
        let stack = try LayerStack(a, weights, network: "a scaler network")
        let (inBlock, outBlock) = (stack.unshuffle ?? 1, stack.shuffle ?? 1)
        guard inBlock > 0, outBlock > 0, inBlock * numerator == outBlock * denominator else {
            throw NICError.model("pixel (un)shuffle factors \(inBlock)→\(outBlock) do not match the scale \(numerator)/\(denominator)")
        }
        inputBlock = inBlock; outputBlock = outBlock
        haloRows = stack.radius * inBlock
        let body = Sequential(stack.layers)
        self.body = body
        if let int8Weights {
            guard int8Weights.architecture == a else {
                throw NICError.model("the int8 weights have another architecture than the float network")
            }
            guard int8 != nil else { throw NICError.model("int8 weights without int8 ranges") }
        }
        let int8Source =
            try int8Weights.map { Sequential(try LayerStack($0.architecture, $0.weights, network: "int8 weights").layers) } ?? body
        let int8 = try int8.map { try $0.int8Body(of: int8Source, cpu: cpu) }
        int8Body = int8?.body
        int8FloatLayers = int8?.floatLayers
        bf16Body = body.bfloat16()
        let antialias = a["residual_base"]?["antialias"]?.boolValue ?? (direction == .down)
        base = .bicubic(a: Float(a["residual_base"]?["cubic_coeff_a"]?.numberValue ?? (antialias ? -0.5 : -0.75)))
        baseMode = antialias ? .antialiased : .interpolate
        macsPerLowResPixel = a["macs_per_lr_pixel"]?.numberValue ?? 0
    }

    /// The precision `forward` runs in for `request` on `cpu`.
    public func precisionPlan(_ request: PrecisionRequest, cpu: CPUFeatures = .current) throws -> PrecisionPlan {
        try PrecisionPlan(requested: request, cpu: cpu, hasInt8Ranges: int8Body != nil, bf16Measured: direction == .up)
            .with(int8FloatLayers)
    }

    /// Output size for an input of `size` pixels along one axis (exact for sizes on the block grid).
    public func outputLength(_ size: Int) -> Int { max(1, (size * numerator + denominator / 2) / denominator) }

    /// Runs the network on a (1, 1, H, W) tensor and returns (1, 1, outH, outW).
    public func forward(_ x: Tensor, outputHeight: Int, outputWidth: Int, on device: ComputeDevice) throws -> Tensor {
        let out = try Tensor(zeros: [1, 1, outputHeight, outputWidth])
        try out.withFloats { o in
            try forward(x, outputHeight: outputHeight, outputWidth: outputWidth, on: device) { first, rows in
                (o.baseAddress! + first * outputWidth).update(from: rows.baseAddress!, count: rows.count)
            }
        }
        return out
    }

    /// Runs the network on a (1, 1, H, W) tensor in horizontal bands and hands each band's
    /// finished output rows (base + detail, `outputWidth` floats per row) to `rowsDone(firstRow,
    /// rows)`, called concurrently from the workers with disjoint rows. Each band computes its own
    /// share of the bicubic base next to its detail, so no whole-frame intermediate exists and
    /// every step runs on all workers; the result does not depend on the bands or the workers.
    /// The body runs in the precision `precisionPlan(device.precision)` chooses.
    public func forward(
        _ x: Tensor, outputHeight: Int, outputWidth: Int, on device: ComputeDevice,
        bandPixels: Int = ScalerNetwork.bandPixels,
        rowsDone: (_ firstRow: Int, _ rows: UnsafeBufferPointer<Float>) -> Void
    ) throws {
        guard x.shape.count == 4, x.batch == 1, x.channels == 1 else {
            throw NICError.invalidArgument("scaler networks take one plane, got \(x.shape)")
        }
        try ImageLimits.check(width: outputWidth, height: outputHeight)
        let body: Sequential
        switch try precisionPlan(device.precision).precision {
        case .fp32: body = self.body
        case .bf16: body = bf16Body
        case .int8: body = int8Body ?? self.body
        }
        let input = try x.plain(on: device)
        let padded = try Self.padded(input, toMultipleOf: inputBlock)
        let base = RowResampler(
            source: (input.width, input.height), output: (outputWidth, outputHeight),
            kernel: self.base, mode: baseMode)
        let (detailHeight, detailWidth) = (padded.height * outputBlock / inputBlock, padded.width * outputBlock / inputBlock)
        let bandRows = max(inputBlock, bandPixels / max(1, padded.width) / inputBlock * inputBlock)
        let halo = (haloRows + inputBlock - 1) / inputBlock * inputBlock
        try input.withFloats { source in
            try Bands(height: padded.height, rows: bandRows).run(on: device) { band, worker in
                // This band's output rows; the last band also takes rows below the detail (edge rows).
                let first = min(band.lowerBound * outputBlock / inputBlock, outputHeight)
                let end = band.upperBound == padded.height ? outputHeight : min(band.upperBound * outputBlock / inputBlock, outputHeight)
                guard first < end else { return }
                let from = max(0, band.lowerBound - halo), to = min(padded.height, band.upperBound + halo)
                let detail = try body.forward(try padded.rows(from..<to), on: worker).plain(on: worker)
                guard detail.channels == 1, detail.width == detailWidth else {
                    throw NICError.model("network gives \(detail.shape) for a band, expected 1 channel \(detailWidth) wide")
                }
                let rows = UnsafeMutablePointer<Float>.allocate(capacity: (end - first) * outputWidth)
                defer { rows.deallocate() }
                base.resample(rows: first..<end, from: source.baseAddress!, sourceStride: input.width, into: rows)
                Self.add(
                    detail, firstRow: from * outputBlock / inputBlock, lastRow: detailHeight - 1,
                    to: rows, rows: first..<end, width: outputWidth)
                rowsDone(first, UnsafeBufferPointer(start: rows, count: (end - first) * outputWidth))
            }
        }
    }

    /// `out` (rows `rows` of the output) += the detail band holding output rows from `firstRow`:
    /// rows beyond `lastRow` repeat it and columns beyond the detail's width repeat its last one
    /// (the output may exceed the block grid by a pixel); extra detail columns are cropped.
    static func add(
        _ detail: Tensor, firstRow: Int, lastRow: Int, to out: UnsafeMutablePointer<Float>,
        rows: Range<Int>, width: Int
    ) {
        let detailWidth = detail.width, common = min(width, detailWidth)
        detail.withFloats { d in
            for y in rows {
                let line = d.baseAddress! + (min(y, lastRow) - firstRow) * detailWidth
                let row = out + (y - rows.lowerBound) * width
                for i in 0..<common { row[i] += line[i] }
                for i in common..<width { row[i] += line[detailWidth - 1] }
            }
        }
    }

    /// Input pixels per band: intermediate tensors of a 16-channel network stay near 2 MB,
    /// whatever the frame size (64k-pixel bands measured slower at 960x540, 31-32 instead of
    /// 38 frames/s, and needed 93-101 MB instead of 49 MB; nic bench upscale, setting 7, 2 workers).
    public static let bandPixels = 32 * 1024

    /// `x` extended by edge replication so that height and width are multiples of `block`.
    static func padded(_ x: Tensor, toMultipleOf block: Int) throws -> Tensor {
        let h = (x.height + block - 1) / block * block, w = (x.width + block - 1) / block * block
        if h == x.height && w == x.width { return x }
        let out = try Tensor(zeros: [1, x.channels, h, w])
        x.withFloats { s in
            out.withFloats { d in
                for c in 0..<x.channels {
                    for y in 0..<h {
                        let sy = min(y, x.height - 1)
                        for xx in 0..<w { d[(c * h + y) * w + xx] = s[(c * x.height + sy) * x.width + min(xx, x.width - 1)] }
                    }
                }
            }
        }
        return out
    }
}
