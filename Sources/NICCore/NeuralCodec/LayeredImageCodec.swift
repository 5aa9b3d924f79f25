/// Spatially scalable coding: one `.nic` file (version 3, `NICLayeredBitstream`), several sizes of
/// one picture, each decodable from the layers up to it.
///
///     layer 0:      the image codec on the smallest version of the picture
///     layer k ≥ 1:  pred_k  = LIFF(recon_(k−1)) at layer k's size
///                   recon_k = 8 bits(clamp(pred_k + the residual codec's synthesis))
///
/// The residual codec is the image codec's architecture with its own weights, coding
/// version_k − pred_k; versions are the antialiased bicubic down-scales of the picture
/// (`ResizeMethod.bicubic`). The encoder predicts from the layer it decodes back exactly as a
/// decoder does. Like `NeuralImageCodec`, an object belongs to one thread at a time.
public final class LayeredImageCodec {
    public typealias Size = NICLayeredBitstream.Size
    public let base: NeuralImageCodec
    public let residual: NeuralImageCodec
    public let liff: LIFFNetwork
    /// First four bytes of the sha256 of the LIFF model's file, as layered files name it.
    public let liffModelID: UInt32
    let device: ComputeDevice

    public init(base: HyperpriorModel, residual: HyperpriorModel, liff: LIFFNetwork, liffModelID: UInt32, device: ComputeDevice) {
        self.base = NeuralImageCodec(model: base, device: device)
        self.residual = NeuralImageCodec(model: residual, device: device)
        self.liff = liff
        self.liffModelID = liffModelID
        self.device = device
    }

    /// The codec with the models of record of `store`: the base layer's image codec model (the one
    /// the residual codec was trained on), the residual codec, LIFF.
    public convenience init(store: ModelStore, device: ComputeDevice) throws {
        let liff = try store.liffModel()
        self.init(
            base: try store.layeredBaseModel(), residual: try store.residualCodecModel(), liff: liff.network,
            liffModelID: liff.modelID, device: device)
    }

    /// Layer sizes, smallest first, from the top size and the factor of each step (smallest
    /// first: `factors.last` relates the two largest layers): each size is the larger one divided
    /// by its factor and rounded half to even, at least 1 and at most `maxFactor` times smaller.
    public static func layerSizes(top: Size, factors: [Double]) throws -> [Size] {
        guard factors.count < NICLayeredBitstream.maxLayers else {
            throw NICError.invalidArgument("at most \(NICLayeredBitstream.maxLayers - 1) factors (\(NICLayeredBitstream.maxLayers) layers)")
        }
        var sizes = [top]
        for f in factors.reversed() {
            guard f.isFinite, f > 1, f <= Double(NICLayeredBitstream.maxFactor) else {
                throw NICError.invalidArgument(
                    "a factor between layers must be above 1 and at most \(NICLayeredBitstream.maxFactor), got \(f)")
            }
            func smaller(_ n: Int) -> Int { min(n, max(1, Int((Double(n) / f).rounded(.toNearestOrEven)), (n + 3) / 4)) }
            sizes.insert(Size(width: smaller(sizes[0].width), height: smaller(sizes[0].height)), at: 0)
        }
        try NICLayeredBitstream.checkSizes(sizes)
        return sizes
    }

    // MARK: encode

    /// Codes `image` (rgb24) as the layers `sizes` (smallest first, the last `image`'s size) at
    /// `quality`. The base layer searches its latents as `search` says; the enhancement layers
    /// likewise, without substitution and the fixed-point check, which need pictures, and on the
    /// means' grid, where the residual codec was trained (the integer grid is for re-encoding
    /// decoded pictures; it cost the residual 3–4% of rate, docs/decisions/layered-coding.md).
    public func encode(_ image: PlanarImage, sizes: [Size], quality: Int, search: NeuralEncoderSearch = .standard) throws -> [UInt8] {
        guard image.format == .rgb24 else { throw NICError.unsupportedFormat("the neural codec codes rgb24 images, got \(image.format)") }
        try NICLayeredBitstream.checkSizes(sizes)
        guard sizes.last == Size(width: image.width, height: image.height) else {
            throw NICError.invalidArgument(
                "the last layer (\(sizes.last!)) must be the picture's size (\(image.width)x\(image.height))")
        }
        try NICBitstream.checkQuality(quality)
        try search.validate()
        var residualSearch = search
        residualSearch.substitutionSteps = 0
        residualSearch.fixedPointPasses = 0
        residualSearch.integerGrid = false
        var payloads: [[UInt8]] = []
        var recon = image
        for (k, size) in sizes.enumerated() {
            let version =
                k == sizes.count - 1
                ? image : try ImageResize.resized(image, width: size.width, height: size.height, method: .bicubic, workers: device.workers)
            let bytes: [UInt8]
            if k == 0 {
                bytes = try base.encode(version, quality: quality, search: search)
                recon = try base.decode(bytes)
            } else {
                let prediction = try predicted(from: recon, size: size)
                let signal = try paddedResidual(version, minus: prediction)
                bytes = try residual.encode(
                    signal: signal, width: size.width, height: size.height, quality: quality, search: residualSearch)
                recon = try reconstructed(bytes, size: size) { values, pw, ph in
                    prediction.withUnsafeBufferPointer {
                        Self.add($0, width: size.width, firstRow: 0, to: values, paddedWidth: pw, paddedHeight: ph)
                    }
                }
            }
            payloads.append(bytes)
        }
        return NICLayeredBitstream(liffModelID: liffModelID, sizes: sizes, payloads: payloads).serialized()
    }

    /// version − prediction in [0, 1] scale, padded to the codec's stride by repeating the last
    /// row and column: [1, 3, H, W].
    private func paddedResidual(_ version: PlanarImage, minus prediction: [Float]) throws -> Tensor {
        let (w, h) = (version.width, version.height), s = residual.model.stride
        let (pw, ph) = ((w + s - 1) / s * s, (h + s - 1) / s * s)
        let x = try Tensor(zeros: [1, 3, ph, pw])
        version.withPlaneViews { views in
            x.withFloats { dst in
                for c in 0..<3 {
                    for yy in 0..<ph {
                        let r = min(yy, h - 1), row = views[0].row(r)
                        for xx in 0..<pw {
                            let q = min(xx, w - 1)
                            dst[(c * ph + yy) * pw + xx] = Float(row[q * 3 + c]) / 255 - prediction[(c * h + r) * w + q]
                        }
                    }
                }
            }
        }
        return x
    }

    // MARK: decode

    /// Layer `layer` (default: the top one) of a layered file, or the picture of a single-layer
    /// file (its only layer, 0). Reads only the layers up to `layer`: a file cut short decodes
    /// every layer it holds whole.
    public func decode(_ bytes: [UInt8], layer: Int? = nil) throws -> PlanarImage {
        guard NICLayeredBitstream.isLayered(bytes) else {
            if let layer, layer != 0 {
                throw NICError.invalidArgument("layer \(layer) does not exist: a single-layer .nic file has only layer 0")
            }
            return try base.decode(bytes)
        }
        let file = try NICLayeredBitstream(parsing: bytes)
        let top = layer ?? file.sizes.count - 1
        guard file.sizes.indices.contains(top) else {
            throw NICError.invalidArgument("layer \(top) does not exist: the file has layers 0...\(file.sizes.count - 1)")
        }
        if top > 0, file.liffModelID != liffModelID {
            throw NICError.model(
                "this file predicts its layers with LIFF model \(hex8(file.liffModelID)); the loaded one is \(hex8(liffModelID))")
        }
        let streams = try (0...top).map { try file.payload(layer: $0) }  // a missing layer fails before any work
        var recon = try base.decode(streams[0])
        for k in stride(from: 1, through: top, by: 1) {
            // The tensor blocks kept from the layer below have sizes this layer's bands do not
            // use: give them back rather than hold them beside this layer's.
            TensorMemory.trim()
            let (below, size) = (recon, file.sizes[k])
            recon = try reconstructed(streams[k], size: size) {
                try addPrediction(from: below, size: size, to: $0, paddedWidth: $1, paddedHeight: $2)
            }
        }
        return recon
    }

    /// LIFF's up-scale of `image` to `size`, unclamped: [3][height][width].
    private func predicted(from image: PlanarImage, size: Size) throws -> [Float] {
        var prediction = [Float](repeating: 0, count: 3 * size.width * size.height)
        try prediction.withUnsafeMutableBufferPointer {
            try addPrediction(from: image, size: size, to: $0.baseAddress!, paddedWidth: size.width, paddedHeight: size.height)
        }
        return prediction
    }

    /// Adds LIFF's up-scale of `image` to `size`, unclamped, to `values` ([3][paddedHeight]
    /// [paddedWidth], of which the top-left `size` counts) band by band as LIFF finishes its rows:
    /// no picture of floats is needed besides `values`.
    private func addPrediction(
        from image: PlanarImage, size: Size, to values: UnsafeMutablePointer<Float>, paddedWidth pw: Int, paddedHeight ph: Int
    ) throws {
        try LIFFNetwork.checkSizes(input: (image.width, image.height), output: (size.width, size.height))
        let (w, h) = (image.width, image.height)
        let x = try Tensor(zeros: [1, 3, h, w])
        image.withPlaneViews { views in
            x.withFloats { dst in
                for yy in 0..<h {
                    let row = views[0].row(yy)
                    for xx in 0..<w { for c in 0..<3 { dst[(c * h + yy) * w + xx] = Float(row[xx * 3 + c]) / 255 } }
                }
            }
        }
        try liff.forward(x, outputHeight: size.height, outputWidth: size.width, on: device) { first, rows in
            Self.add(rows, width: size.width, firstRow: first, to: values, paddedWidth: pw, paddedHeight: ph)
        }
    }

    /// values[c][firstRow + r][x] += rows[c][r][x]: `rows` holds three planes of rows `width` wide,
    /// one after the other; `values` is [3][paddedHeight][paddedWidth].
    private static func add(
        _ rows: UnsafeBufferPointer<Float>, width: Int, firstRow: Int, to values: UnsafeMutablePointer<Float>, paddedWidth pw: Int,
        paddedHeight ph: Int
    ) {
        let plane = rows.count / 3
        for c in 0..<3 {
            let source = rows.baseAddress! + c * plane, target = values + (c * ph + firstRow) * pw
            for r in 0..<plane / width {
                for xx in 0..<width { target[r * pw + xx] += source[r * width + xx] }
            }
        }
    }

    /// A layer's picture: the residual stream's synthesis, to which `addPrediction(values,
    /// paddedWidth, paddedHeight)` adds the layer's prediction, clamped to [0, 1] and rounded to
    /// 8 bits (as the image codec's pictures).
    private func reconstructed(
        _ stream: [UInt8], size: Size,
        addPrediction: (_ values: UnsafeMutablePointer<Float>, _ paddedWidth: Int, _ paddedHeight: Int) throws -> Void
    ) throws -> PlanarImage {
        var out = try residual.synthesisOutput(stream)
        guard out.stream.width == size.width, out.stream.height == size.height else {
            throw NICError.corruptData("a layer's stream is \(out.stream.width)x\(out.stream.height), its layer \(size)")
        }
        let (pw, ph) = (out.paddedWidth, out.paddedHeight)
        try out.values.withUnsafeMutableBufferPointer { try addPrediction($0.baseAddress!, pw, ph) }
        return try NeuralImageCodec.croppedImage(out.values, paddedWidth: pw, paddedHeight: ph, width: size.width, height: size.height)
    }

    // MARK: inspect

    /// One layer of a file as its header declares it.
    public struct Layer: Equatable, Sendable {
        public var size: Size
        /// The layer stream's length; whether the bytes hold all of it.
        public var bytes: Int
        public var whole: Bool
        /// Quality and model ID of the layer's stream (nil when the layer is not whole).
        public var quality: Int?
        public var modelID: UInt32?
    }

    /// The layers of a `.nic` file, smallest first (one for a single-layer file), and the LIFF
    /// model a layered file predicts with. Checks the headers and checksums, decodes nothing.
    public static func inspect(_ bytes: [UInt8]) throws -> (liffModelID: UInt32?, layers: [Layer]) {
        guard NICLayeredBitstream.isLayered(bytes) else {
            let s = try NICBitstream(parsing: bytes)
            return (
                nil,
                [
                    Layer(
                        size: Size(width: s.width, height: s.height), bytes: bytes.count, whole: true, quality: s.quality,
                        modelID: s.modelID)
                ]
            )
        }
        let file = try NICLayeredBitstream(parsing: bytes)
        let layers = try file.sizes.indices.map { k -> Layer in
            guard k < file.payloads.count else {
                return Layer(size: file.sizes[k], bytes: file.payloadLengths[k], whole: false, quality: nil, modelID: nil)
            }
            let s = try NICBitstream(parsing: file.payloads[k])
            return Layer(size: file.sizes[k], bytes: file.payloadLengths[k], whole: true, quality: s.quality, modelID: s.modelID)
        }
        return (file.liffModelID, layers)
    }
}
