#if canImport(Glibc)
    import Glibc
#endif

/// The learned image codec's networks and entropy tables, loaded from a record written by
/// training/neural/export_record.py (fp16 safetensors with the layer list as metadata).
///
/// Encoder side: `analysis` (g_a) and `hyperAnalysis` (h_a) run on oneDNN. Both sides:
/// `hyperSynthesis` (h_s) runs on `ExactConvolution`, because its output selects the entropy
/// decoder's tables. Decoder side: `synthesis` (g_s) on oneDNN.
public final class HyperpriorModel: @unchecked Sendable {  // immutable after init
    /// Identifies the weights in `.nic` files: the first four bytes of their sha256, big-endian.
    public let modelID: UInt32
    public let name: String
    /// Latent (M) and hyper-latent (N) channels; total stride of the transforms.
    public let latentChannels: Int, hyperChannels: Int, stride: Int
    let analysis: Sequential, hyperAnalysis: Sequential, synthesis: Sequential
    /// Latent rows of context each band of the synthesis gets on both sides (`LayerList.bandHalo`):
    /// 4 for the four stride-2 layers alone (they need 2), 5 with three residual blocks at 1/8.
    let synthesisHaloRows: Int
    static let minimumSynthesisHaloRows = 4
    let hyperSynthesis: [ExactConvolution]
    let gains: GainLadder
    let zTables: CDFTables, yTables: CDFTables
    /// The y tables of dependent quantisation's second quantiser, derived from `scaleTable`
    /// (`DependentQuantization.quantiserOneTables`).
    let yTablesQ1: CDFTables
    /// Bits per symbol of `yTables` and `yTablesQ1`, for the encoder's trellis search.
    let yBitCosts: (q0: DependentQuantization.BitCosts, q1: DependentQuantization.BitCosts)
    /// Gaussian scales of the y tables, ascending; `scaleBound` is the smallest scale.
    let scaleTable: [Float]
    let scaleBound: Float
    /// The rate-distortion weight λ each gain level was trained for (loss bpp + λ·255²·MSE);
    /// nil in records that do not list them (encoder-side optimisation then is unavailable).
    let lambdas: [Float]?

    /// The y tables of quantiser `q` (0 or 1, see `DependentQuantization.Chain`).
    @inline(__always) func yTables(quantiser q: Int) -> CDFTables { q == 0 ? yTables : yTablesQ1 }

    /// The y tables of the integer grid, built from `scaleTable` when a file first needs them
    /// (one per scale and offset bucket; most files do not use them).
    func integerGrid() throws -> IntegerGrid {
        try integerGridCache.withLock { cached in
            if let cached { return cached }
            let grid = try IntegerGrid(scaleTable: scaleTable)
            cached = grid
            return grid
        }
    }
    private let integerGridCache = PthreadLocked<IntegerGrid?>(nil)

    /// `digest` is the sha256 of `bytes` when the caller has it already.
    public init(bytes: [UInt8], name: String, digest known: [UInt8]? = nil) throws {
        let digest = known ?? SHA256.digest(bytes)
        modelID = digest[0..<4].reduce(0) { $0 << 8 | UInt32($1) }
        self.name = name
        let weights = try SafetensorsFile(bytes: bytes)
        guard weights.metadata["format"] == "libnic-neural-codec-1", let text = weights.metadata["architecture"] else {
            throw NICError.model("\(name) is not a libnic neural codec record")
        }
        let a = try JSONValue.parse(Array(text.utf8))
        guard let m = a["M"]?.intValue, let n = a["N"]?.intValue, let levels = a["levels"]?.intValue,
            let stride = a["stride"]?.intValue, m > 0, n > 0, levels >= 2, stride > 0
        else {
            throw NICError.model("\(name) has no valid N, M, levels and stride")
        }
        latentChannels = m; hyperChannels = n; self.stride = stride
        analysis = try LayerList.sequential(a["g_a"], weights)
        hyperAnalysis = try LayerList.sequential(a["h_a"], weights)
        let synthesisSpecs = try LayerSpec.list(a["g_s"], weights, network: "the neural codec")
        synthesis = try LayerList.sequential(synthesisSpecs)
        synthesisHaloRows = LayerList.bandHalo(synthesisSpecs, minimum: HyperpriorModel.minimumSynthesisHaloRows)
        hyperSynthesis = try LayerList.exact(a["h_s"], weights)
        guard hyperSynthesis.last?.outChannels == 2 * m else {
            throw NICError.model("hyper-synthesis must output \(2 * m) channels (means and scales)")
        }
        gains = try GainLadder(weights: weights, levels: levels, latent: m, hyper: n)
        zTables = try CDFTables(
            cdf: try weights.ints("entropy.z.cdf"), offsets: try weights.ints("entropy.z.cdf_offsets"),
            symbolMin: try weights.ints("entropy.z.symbol_min", shape: [n]))
        scaleTable = try weights.floats("entropy.y.scale_table")
        yTables = try CDFTables(
            cdf: try weights.ints("entropy.y.cdf"), offsets: try weights.ints("entropy.y.cdf_offsets"),
            symbolMin: try weights.ints("entropy.y.symbol_min", shape: [scaleTable.count]))
        guard let first = scaleTable.first, zip(scaleTable, scaleTable.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw NICError.model("the Gaussian scale table must be non-empty and ascending")
        }
        scaleBound = Float(a["scale_bound"]?.numberValue ?? Double(first))
        yTablesQ1 = try DependentQuantization.quantiserOneTables(scaleTable: scaleTable)
        yBitCosts = (DependentQuantization.BitCosts(yTables), DependentQuantization.BitCosts(yTablesQ1))
        if let list = a["lambdas"] {
            guard let values = list.arrayValue?.compactMap({ $0.numberValue }), values.count == levels,
                values.allSatisfy({ $0 > 0 && $0.isFinite })
            else { throw NICError.model("\(name): lambdas must list one positive weight per level") }
            lambdas = values.map { Float($0) }
        } else {
            lambdas = nil
        }
    }

    /// The table for a predicted scale: the first whose scale is at least `scale`, so that a
    /// symbol is never coded with a narrower distribution than predicted.
    @inline(__always) func scaleIndex(_ scale: Float) -> Int {
        var lo = 0, hi = scaleTable.count - 1
        if scale >= scaleTable[hi] { return hi }
        while lo < hi {
            let mid = (lo + hi) >> 1
            if scaleTable[mid] >= scale { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}

/// Per-channel gains of the variable-rate model, one row per trained level, and their
/// interpolation at any quality 1...100 (docs/neural-codec.md).
struct GainLadder {
    let levels: Int
    let y: [[Float]], yInverse: [[Float]], z: [[Float]], zInverse: [[Float]]

    init(weights: SafetensorsFile, levels: Int, latent m: Int, hyper n: Int) throws {
        func rows(_ name: String, _ c: Int) throws -> [[Float]] {
            let v = try weights.floats(name, shape: [levels, c])
            guard v.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw NICError.model("\(name) holds a non-positive gain") }
            return (0..<levels).map { Array(v[$0 * c..<($0 + 1) * c]) }
        }
        self.levels = levels
        y = try rows("gain.y", m); yInverse = try rows("gain.y_inv", m)
        z = try rows("gain.z", n); zInverse = try rows("gain.z_inv", n)
    }

    /// Level `l` and weight `t` of quality `q`: s = (q − 1)·(L − 1)/99 computed exactly on integers.
    static func position(quality q: Int, levels: Int) -> (level: Int, t: Float) {
        let scaled = (q - 1) * (levels - 1)
        let l = min(scaled / 99, levels - 2)
        return (l, Float(scaled - 99 * l) / 99)
    }

    /// Geometric interpolation as in training, for the gains that only one side uses
    /// (the encoder's y and z, the decoder's y⁻¹): a 1-ulp difference of `exp` between
    /// machines changes a pixel, never the bitstream.
    static func geometric(_ rows: [[Float]], quality: Int) -> [Float] {
        let (l, t) = position(quality: quality, levels: rows.count)
        return zip(rows[l], rows[l + 1]).map { a, b -> Float in
            let logGain: Float = (1 - t) * logf(a) + t * logf(b)
            return expf(logGain)
        }
    }

    /// The trade-off λ of a quality between two trained levels: geometric, like the gains.
    static func lambda(_ lambdas: [Float], quality: Int) -> Float {
        let (l, t) = position(quality: quality, levels: lambdas.count)
        return expf((1 - t) * logf(lambdas[l]) + t * logf(lambdas[l + 1]))
    }

    /// Linear interpolation with plain IEEE operations, for z⁻¹, which feeds the
    /// hyper-synthesis and must be identical on every machine.
    static func linear(_ rows: [[Float]], quality: Int) -> [Float] {
        let (l, t) = position(quality: quality, levels: rows.count)
        return zip(rows[l], rows[l + 1]).map { a, b -> Float in a + t * (b - a) }
    }
}

/// Builds the codec's transforms from the record's layer lists (`LayerSpec`).
enum LayerList {
    static func sequential(_ list: JSONValue?, _ weights: SafetensorsFile) throws -> Sequential {
        try sequential(try LayerSpec.list(list, weights, network: "the neural codec"))
    }

    static func sequential(_ specs: [LayerSpec]) throws -> Sequential {
        guard !specs.isEmpty else { throw NICError.model("empty layer list in the neural codec") }
        return Sequential(try specs.map(layer))
    }

    private static func layer(_ spec: LayerSpec) throws -> Layer {
        switch spec {
        case .convolution(let conv): return try conv.layer()
        case .gdn(let beta, let gamma, let inverse): return try GDN(beta: beta, gamma: gamma, inverse: inverse)
        case .leakyReLU(let slope): return Activation(.leakyReLU(slope))
        case .pixelShuffle, .pixelUnshuffle: throw NICError.model("pixel (un)shuffle is not a layer of the neural codec")
        case .residual(let body):
            try checkShapeKeeping(body)
            return Residual(try sequential(body))
        }
    }

    /// A residual block's body must give its input's shape: convolutions of stride 1 that pad by
    /// half their kernel (odd kernels), channels chained from the input's count back to it.
    private static func checkShapeKeeping(_ body: [LayerSpec]) throws {
        var input: Int?, channels: Int?, convolutions = 0
        func arrive(_ count: Int, _ what: String) throws {
            guard channels == nil || channels == count else {
                throw NICError.model("a residual block's \(what) takes \(count) channels where \(channels ?? 0) arrive")
            }
            input = input ?? count
        }
        for spec in body {
            switch spec {
            case .convolution(let c):
                guard !c.transposed, c.stride == 1, c.kernel % 2 == 1, c.padding == c.kernel / 2 else {
                    throw NICError.model(
                        "a residual block may hold only shape-keeping convolutions (stride 1, odd kernel, padding kernel / 2)")
                }
                try arrive(c.inChannels, "convolution")
                channels = c.outChannels
                convolutions += 1
            case .gdn(let beta, _, _):
                try arrive(beta.count, "GDN")
                channels = beta.count
            case .leakyReLU: break
            default: throw NICError.model("a residual block may hold only convolutions, GDN and leaky ReLUs")
            }
        }
        guard convolutions > 0, channels == input else {
            throw NICError.model("a residual block must hold convolutions and give back its input's channels")
        }
    }

    /// Rows of context on each side of a band of `specs`' input that give the same result as one
    /// pass over the whole input: at least `minimum`, and as far as the layers reach, counted on
    /// the input's grid. A convolution reaches max(padding, kernel − 1 − padding) rows of its own
    /// input, a transposed one that divided by its stride (rounded up).
    static func bandHalo(_ specs: [LayerSpec], minimum: Int) -> Int {
        var scale = 1.0, reach = 0.0
        func walk(_ specs: [LayerSpec]) {
            for spec in specs {
                switch spec {
                case .convolution(let c):
                    let rows = Double(max(c.padding, c.kernel - 1 - c.padding))
                    reach += (c.transposed ? (rows / Double(c.stride)).rounded(.up) : rows) / scale
                    scale = c.transposed ? scale * Double(c.stride) : scale / Double(c.stride)
                case .residual(let body): walk(body)
                default: break
                }
            }
        }
        walk(specs)
        return max(minimum, Int(reach.rounded(.up)))
    }

    /// Convolutions with an optional leaky ReLU after each, as exact layers.
    static func exact(_ list: JSONValue?, _ weights: SafetensorsFile) throws -> [ExactConvolution] {
        var pending: LayerSpec.ConvolutionSpec?
        var layers: [ExactConvolution] = []
        func flush(slope: Float?) throws {
            guard let g = pending else { throw NICError.model("activation without a convolution in the hyper-synthesis") }
            guard let bias = g.bias, g.activation == .none else {
                throw NICError.model("a hyper-synthesis convolution needs a bias and no fused activation")
            }
            layers.append(
                try ExactConvolution(
                    inChannels: g.inChannels, outChannels: g.outChannels, kernel: g.kernel,
                    stride: g.stride, padding: g.padding, outputPadding: g.outputPadding,
                    transposed: g.transposed, weights: g.weights, bias: bias, leakySlope: slope))
            pending = nil
        }
        for spec in try LayerSpec.list(list, weights, network: "the hyper-synthesis") {
            switch spec {
            case .convolution(let conv):
                if pending != nil { try flush(slope: nil) }
                pending = conv
            case .leakyReLU(let slope):
                try flush(slope: slope)
            default:
                throw NICError.model("the hyper-synthesis holds only convolutions and leaky ReLUs")
            }
        }
        if pending != nil { try flush(slope: nil) }
        guard !layers.isEmpty else { throw NICError.model("empty hyper-synthesis") }
        return layers
    }
}
