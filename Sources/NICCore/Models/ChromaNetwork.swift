/// A luma-guided chroma network as exported by training/aicodec/train_chroma.py: after the
/// up network has restored luma, it corrects the bicubic-upscaled chroma from the luma's
/// detail (colour edges sit on luma edges), on the output grid:
///
///     Cb, Cr += body(Y, Cb, Cr)     Y in [0, 1], chroma as (C − 128) / 255
///
/// The body is pixel-unshuffle → 3x3 convolutions (leaky ReLU between) → pixel shuffle with the
/// same factor, so it maps blocks of `block` x `block` pixels to blocks of the same size. Planes
/// off the block grid are padded by edge replication and the result cropped.
///
/// The body runs in the precision its `precisionPlan` chooses for the device's request, like the
/// up networks: in 8-bit integers where the network has calibrated ranges (`Int8Calibration`,
/// the same int8 body as theirs) and the CPU has VNNI, else in float32; bfloat16 only on request.
public final class ChromaNetwork: @unchecked Sendable {  // immutable after init
    let block: Int
    let body: Sequential
    /// The body in 8-bit integers, when the network has calibrated int8 ranges; `body` stays the reference.
    let int8Body: Sequential?
    /// The convolutions the int8 body keeps out of 8 bits, and in what (when its ranges name any).
    let int8FloatLayers: Int8FloatLayers?
    /// The body with its convolutions in bfloat16, sharing `body`'s weights.
    let bf16Body: Sequential
    /// Input rows on each side that influence an output row (the convolutions' radii at full resolution).
    let haloRows: Int

    /// Builds the network, with its int8 body when `int8` ranges are given (one per convolution).
    public init(architecture a: JSONValue, weights: SafetensorsFile, int8: Int8Calibration? = nil, cpu: CPUFeatures = .current) throws {
        guard a["kind"]?.stringValue == "chroma" else { throw NICError.model("architecture is not a chroma network") }
        let stack = try LayerStack(a, weights, network: "a chroma network")
        let (unshuffle, shuffle) = (stack.unshuffle ?? 0, stack.shuffle ?? 0)
        guard unshuffle > 0, unshuffle == shuffle, stack.inputChannels == 3 * unshuffle * unshuffle,
            stack.outputChannels == 2 * shuffle * shuffle
        else {
            throw NICError.model(
                "a chroma network maps (Y, Cb, Cr) blocks to (Cb, Cr) blocks of one size; got unshuffle \(unshuffle), shuffle \(shuffle), channels \(stack.inputChannels)→\(stack.outputChannels)"
            )
        }
        block = unshuffle
        let body = Sequential(stack.layers)
        self.body = body
        let int8 = try int8.map { try $0.int8Body(of: body, cpu: cpu) }
        int8Body = int8?.body
        int8FloatLayers = int8?.floatLayers
        bf16Body = body.bfloat16()
        haloRows = stack.radius * block
    }

    /// The precision `corrected` runs in for `request` on `cpu`: as for an up network, except that
    /// auto never takes bfloat16 (not measured on these networks) and int8 requested without
    /// ranges runs float32 (the up network of the request has its own).
    public func precisionPlan(_ request: PrecisionRequest, cpu: CPUFeatures = .current) throws -> PrecisionPlan {
        try PrecisionPlan(
            requested: request, cpu: cpu, hasInt8Ranges: int8Body != nil, bf16Measured: false, int8Optional: true
        ).with(int8FloatLayers)
    }

    /// `cb` and `cr` (chroma in 0...255, `luma`'s grid) corrected from `luma` ((1, 1, H, W) in
    /// [0, 1]), in bands of rows run on the device's workers. The inputs are only read (bands read
    /// their neighbours' rows as context), the corrections go to new planes. The body runs in the
    /// precision `precisionPlan(device.precision)` chooses.
    func corrected(
        cb: [Float], cr: [Float], luma: Tensor, on device: ComputeDevice,
        bandPixels: Int = ChromaNetwork.bandPixels
    ) throws -> (cb: [Float], cr: [Float]) {
        let (w, h) = (luma.width, luma.height)
        guard cb.count == w * h, cr.count == w * h else {
            throw NICError.invalidArgument("chroma planes must be on the luma's \(w)x\(h) grid")
        }
        let paddedHeight = (h + block - 1) / block * block, paddedWidth = (w + block - 1) / block * block
        let bandRows = max(block, bandPixels / paddedWidth / block * block)
        let halo = (haloRows + block - 1) / block * block
        let body: Sequential
        switch try precisionPlan(device.precision).precision {
        case .fp32: body = self.body
        case .bf16: body = bf16Body
        case .int8: body = int8Body ?? self.body
        }
        var outCb = cb, outCr = cr
        try luma.withFloats { y in
            try outCb.withUnsafeMutableBufferPointer { cbOut in
                try outCr.withUnsafeMutableBufferPointer { crOut in
                    let planes = Planes(y: UnsafeBufferPointer(y), cb: cb, cr: cr, cbOut: cbOut, crOut: crOut, width: w, height: h)
                    try Bands(height: paddedHeight, rows: bandRows).run(on: device) { band, worker in
                        let from = max(0, band.lowerBound - halo), to = min(paddedHeight, band.upperBound + halo)
                        let delta = try body.forward(
                            try planes.input(rows: from..<to, paddedWidth: paddedWidth),
                            on: worker
                        ).plain(on: worker)
                        guard delta.channels == 2, delta.width == paddedWidth, delta.height == to - from else {
                            throw NICError.model("chroma network gives \(delta.shape) for a \(to - from)-row band")
                        }
                        planes.add(delta, rows: band.lowerBound..<min(band.upperBound, h), firstRow: from)
                    }
                }
            }
        }
        return (outCb, outCr)
    }

    /// Output pixels per band. The halo (20 rows for five 3x3 convolutions after a 4x unshuffle)
    /// is recomputed by both neighbours, so bands are taller than the up networks' (`ScalerNetwork.
    /// bandPixels`): about 170 rows of a 768-pixel-wide image, 1.2x the rows computed, with
    /// intermediate tensors near 2 MB.
    public static let bandPixels = 128 * 1024

    /// The planes of one image: bands read the inputs anywhere and write only their own output rows.
    private struct Planes: @unchecked Sendable {
        let y: UnsafeBufferPointer<Float>
        let cb: [Float], cr: [Float]
        let cbOut: UnsafeMutableBufferPointer<Float>
        let crOut: UnsafeMutableBufferPointer<Float>
        let width: Int
        let height: Int

        /// Rows `rows` of (Y, (Cb − 128)/255, (Cr − 128)/255), `paddedWidth` wide, edges replicated.
        func input(rows: Range<Int>, paddedWidth: Int) throws -> Tensor {
            let n = rows.count
            let t = try Tensor(zeros: [1, 3, n, paddedWidth])
            t.withFloats { d in
                for (r, row) in rows.enumerated() {
                    let sy = min(row, height - 1) * width
                    for x in 0..<paddedWidth {
                        let s = sy + min(x, width - 1)
                        d[r * paddedWidth + x] = y[s]
                        d[(n + r) * paddedWidth + x] = (cb[s] - 128) / 255
                        d[(2 * n + r) * paddedWidth + x] = (cr[s] - 128) / 255
                    }
                }
            }
            return t
        }

        /// Adds the network's correction (back in 0...255 units) to output rows `rows`.
        func add(_ delta: Tensor, rows: Range<Int>, firstRow: Int) {
            let n = delta.height, pw = delta.width
            delta.withFloats { d in
                for row in rows {
                    let r = row - firstRow
                    for x in 0..<width {
                        cbOut[row * width + x] += 255 * d[r * pw + x]
                        crOut[row * width + x] += 255 * d[(n + r) * pw + x]
                    }
                }
            }
        }
    }
}
