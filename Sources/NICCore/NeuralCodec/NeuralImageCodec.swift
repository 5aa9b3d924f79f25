/// The learned image codec: RGB image ⇄ `.nic` bytes with a `HyperpriorModel`.
///
///     encode: x → g_a → ×gain_y → h_a → ×gain_z → round → z symbols ──────────────┐ rANS
///             z → ×gain_z⁻¹ → h_s (exact) → means, scales → round(y − mean) ─────┘
///     decode: z symbols → h_s (exact) → y symbols + means → ×gain_y⁻¹ → g_s → crop → 8 bits
///
/// (On the integer grid, `IntegerGrid`, the symbols are round(y) − round(mean) and the decoder
/// adds round(mean) back; with dependent quantisation, `DependentQuantization`, a trellis picks them.)
///
/// A codec object belongs to one thread at a time (its device does); the model is shared.
public final class NeuralImageCodec {
    public let model: HyperpriorModel
    let device: ComputeDevice
    /// Seconds spent in each stage by the last `encode` or `decode`, in order (for benchmarks).
    public private(set) var stageSeconds: [(stage: String, seconds: Double)] = []
    private var stageStart = 0.0
    /// Latent values are clamped to this magnitude before coding (real latents stay far below).
    static let symbolLimit: Float = 1_048_576
    /// Largest `.nic` file read: more than any image within `NICBitstream.maxPixels` needs.
    public static let maxFileBytes = 1 << 28
    /// The synthesis runs over bands of this many latent rows (256 image rows), each with the
    /// model's `synthesisHaloRows` of context on both sides, on single-threaded workers: the
    /// decoded pixels are the same for any thread count, and memory is bounded by the band.
    static let synthesisBandRows = 16
    /// Tile side of the latent optimisation (tests make it small to exercise the tiling).
    var latentTileLatents = LatentOptimisation.defaultTileLatents

    public init(model: HyperpriorModel, device: ComputeDevice) {
        self.model = model
        self.device = device
    }

    // MARK: encode

    /// Codes `image` at `quality` (1...100), searching its latents as `search` says.
    public func encode(_ image: PlanarImage, quality: Int, search: NeuralEncoderSearch = .standard) throws -> [UInt8] {
        guard image.format == .rgb24 else { throw NICError.unsupportedFormat("the neural codec codes rgb24 images, got \(image.format)") }
        try NICBitstream.checkImageSize(width: image.width, height: image.height)
        startStages()
        return try encoded(try paddedInput(image), width: image.width, height: image.height, image: image, quality: quality, search: search)
    }

    /// Codes a signal that is not an image: `x` ([1, 3, H, W], padded to the stride by repeating
    /// the last row and column, any values) of which the top-left `width` x `height` counts.
    /// The decoder's `synthesisOutput` returns it unclamped. No colour correction; the searches
    /// that assume pixels in [0, 1] (substitution, fixed-point check) are refused.
    func encode(signal x: Tensor, width: Int, height: Int, quality: Int, search: NeuralEncoderSearch) throws -> [UInt8] {
        try NICBitstream.checkImageSize(width: width, height: height)
        let s = model.stride
        guard x.shape == [1, 3, (height + s - 1) / s * s, (width + s - 1) / s * s] else {
            throw NICError.internal("a coded signal must be padded to the stride")
        }
        guard search.substitutionSteps == 0, search.fixedPointPasses == 0 else {
            throw NICError.invalidArgument("substitution and the fixed-point check code pictures, not residuals")
        }
        startStages()
        return try encoded(x, width: width, height: height, image: nil, quality: quality, search: search)
    }

    /// The encoder on the padded input `x`; `image` is the picture it holds (nil for a signal).
    private func encoded(
        _ x: Tensor, width: Int, height: Int, image: PlanarImage?, quality: Int, search: NeuralEncoderSearch
    ) throws -> [UInt8] {
        try NICBitstream.checkQuality(quality)
        try search.validate()
        if search.latentSteps > 0 || search.substitutionSteps > 0, model.lambdas == nil {
            throw NICError.model("\(model.name) does not list its rate-distortion weights: encoder-side optimisation needs them")
        }
        let m = model.latentChannels
        let grid = search.integerGrid ? try model.integerGrid() : nil
        var y = try model.analysis.forward(x, on: device).toArray(on: device)
        endStage("analysis")
        let (h, w) = ((x.height) / 16, (x.width) / 16)
        guard y.count == m * h * w else { throw NICError.internal("analysis output has an unexpected size") }
        scaleChannels(&y, by: GainLadder.geometric(model.gains.y, quality: quality), plane: h * w)
        let analysed = y
        if search.refinementSteps > 0 {
            y = try refinedLatents(y, steps: search.refinementSteps, height: h, width: w, quality: quality)
            endStage("refinement")
        }

        let zPlane = (h / 4) * (w / 4)
        var zSymbols = try hyperSymbols(y, height: h, width: w, quality: quality)
        endStage("hyper-analysis")

        var prior = try hyperSynthesis(zSymbols, height: h / 4, width: w / 4, quality: quality, grid: grid)
        endStage("hyper-synthesis")
        if search.latentSteps > 0 || search.substitutionSteps > 0, let lambdas = model.lambdas {
            let (means, scales, origins) = prior.channelsFirst(height: h, width: w)
            let problem = LatentOptimisation.Problem(
                image: x, imageWidth: width, imageHeight: height, latentHeight: h, latentWidth: w,
                inverseGains: GainLadder.geometric(model.gains.yInverse, quality: quality), means: means, scales: scales,
                origins: origins,
                lambda: GainLadder.lambda(lambdas, quality: quality), haloLatents: model.synthesisHaloRows)
            if search.substitutionSteps > 0 {
                // The substitute's latents replace the analysis' (and its refinement's).
                let gains = GainLadder.geometric(model.gains.y, quality: quality)
                var substitution = Substitution(
                    steps: search.substitutionSteps, stepSize: search.substitutionStepSize, block: search.substitutionBlock)
                substitution.tileLatents = latentTileLatents
                let substitute = try substitution.substituted(
                    problem, gains: gains, analysis: model.analysis, synthesis: model.synthesis, on: device)
                y = try model.analysis.forward(substitute, on: device).toArray(on: device)
                scaleChannels(&y, by: gains, plane: h * w)
                endStage("substitution")
            }
            if search.latentSteps > 0 {
                var optimisation = LatentOptimisation(steps: search.latentSteps, learningRate: search.latentStepSize)
                optimisation.tileLatents = latentTileLatents
                y = try optimisation.optimised(y, problem, synthesis: model.synthesis, on: device)
                endStage("latent optimisation")
            }
        }
        let machine = DependentQuantization.StateMachine(states: search.dependentQuantization)
        var (ySymbols, machines) = quantised(y, prior: prior, machine: machine, height: h, width: w, lambda: search.lambda)
        if search.consistencyPasses > 0 {
            // Hyper-latents that agree with the coded latents: a decoded image that re-encodes to
            // nearly these latents then gets the same means, so the same symbols.
            for _ in 0..<search.consistencyPasses {
                let coded = reconstructed(ySymbols, prior: prior, machines: machines, height: h, width: w)
                let agreeing = try hyperSymbols(coded, height: h, width: w, quality: quality)
                if agreeing == zSymbols { break }
                zSymbols = agreeing
                prior = try hyperSynthesis(zSymbols, height: h / 4, width: w / 4, quality: quality, grid: grid)
                (ySymbols, machines) = quantised(y, prior: prior, machine: machine, height: h, width: w, lambda: search.lambda)
            }
            endStage("consistency")
        }
        // The colour correction of the symbols coded, when the fixed-point check has measured it.
        var measured: LowFrequencyCorrection?
        if search.fixedPointPasses > 0, let image {
            (ySymbols, machines, measured) = try fixedPointChecked(
                ySymbols, target: analysed, image: image, padded: x, prior: prior,
                machines: machines, search: search, height: h, width: w, quality: quality)
            endStage("fixed-point check")
        }
        var zCoder = RANSEncoder(), yCoder = RANSEncoder()
        for (i, s) in zSymbols.enumerated() { zCoder.encode(s, table: i / zPlane, of: model.zTables) }
        for flag in machines.following ?? [] { yCoder.encode(flag ? 1 : 0, table: 0, of: DependentQuantization.channelFlagTables) }
        for c in 0..<m {
            var chain = DependentQuantization.Chain(machines.machine(channel: c))
            for p in 0..<h * w {
                let k = ySymbols[c * h * w + p]
                yCoder.encode(k, table: prior.table(channel: c, position: p), of: prior.yTables(quantiser: chain.quantiser))
                chain.advance(prior.stateSymbol(k, channel: c, position: p))
            }
        }
        let zPayload = zCoder.finish(), yPayload = yCoder.finish()
        endStage("entropy coding")
        var correction: [UInt8] = []
        if let image {
            let coded: LowFrequencyCorrection
            if let measured {
                coded = measured
            } else {
                coded = try lowFrequencyCorrection(
                    image, symbols: ySymbols, prior: prior, machines: machines, height: h, width: w, quality: quality)
                endStage("synthesis + colour correction")
            }
            correction = try coded.encoded()
        }
        return NICBitstream(
            quality: quality, modelID: model.modelID, width: width, height: height,
            zPayload: zPayload, yPayload: yPayload, correctionPayload: correction,
            dependentQuantization: search.dependentQuantization, integerGrid: search.integerGrid,
            channelFlags: machines.following != nil
        ).serialized()
    }

    /// Encoder-side online optimisation without gradients. The analysis is only an approximate
    /// inverse of the synthesis: g_a(g_s(y)) misses part of y. Each pass moves the latents by what
    /// the analysis of their own reconstruction misses, y ← y + (t − g_a(g_s(y))) with t = g_a(x)
    /// (gain-scaled), a fixed-point step whose fixed points reconstruct to an image with the same
    /// analysis as x. It sharpens what the plain analysis blurs, and a decoded image re-encodes to
    /// nearly its own latents (re-compression drifts less). Costs one synthesis and one analysis.
    private func refinedLatents(_ target: [Float], steps: Int, height h: Int, width w: Int, quality: Int) throws -> [Float] {
        let gains = GainLadder.geometric(model.gains.y, quality: quality)
        var y = target
        for _ in 0..<steps {
            let reconstruction = try synthesised(latents: y, height: h, width: w, quality: quality)
            var analysed = try model.analysis.forward(reconstruction, on: device).toArray(on: device)
            guard analysed.count == y.count else { throw NICError.internal("refinement analysis has an unexpected size") }
            scaleChannels(&analysed, by: gains, plane: h * w)
            for i in y.indices { y[i] += target[i] - analysed[i] }
        }
        return y
    }

    /// The fixed-point check: from the coded latents ŷ, passes of y ← ŷ + (t − g_a(g_s(ŷ))) (t the
    /// image's analysis), each quantised again, until the symbols repeat; of the symbols met, those
    /// of the lowest bits + λ·255²·MSE of their synthesis against the image (MSE alone in a model
    /// without λ). A decoded image is a fixed point of this step, so a decoded image re-encodes to
    /// its own symbols more often than after the refinement alone. Returns the chosen symbols with
    /// the colour correction measured on their synthesis.
    private func fixedPointChecked(
        _ symbols: [Int32], target: [Float], image: PlanarImage, padded x: Tensor, prior: Prior,
        machines: DependentQuantization.ChannelMachines, search: NeuralEncoderSearch, height h: Int, width w: Int, quality: Int
    ) throws -> (symbols: [Int32], machines: DependentQuantization.ChannelMachines, correction: LowFrequencyCorrection) {
        let gains = GainLadder.geometric(model.gains.y, quality: quality)
        let lambda = model.lambdas.map { GainLadder.lambda($0, quality: quality) * 255 * 255 }
        let pixels = try x.toArray(on: device)
        let (imageWidth, imageHeight) = (image.width, image.height)
        var (candidate, candidateMachines) = (symbols, machines)
        // Pass 0's candidate is `symbols` itself: kept, with its correction, unless a pass costs less.
        var best: (symbols: [Int32], machines: DependentQuantization.ChannelMachines, correction: LowFrequencyCorrection?, cost: Float) =
            (symbols, machines, nil, .infinity)
        for pass in 0...search.fixedPointPasses {
            let coded = reconstructed(candidate, prior: prior, machines: candidateMachines, height: h, width: w)
            // What the decoder shows: the synthesis with its colour correction.
            var decoded = try synthesised(latents: coded, height: h, width: w, quality: quality).toArray(on: device)
            let correction = LowFrequencyCorrection.measure(original: image, decoded: decoded, paddedWidth: w * 16, paddedHeight: h * 16)
            if !correction.isZero { correction.apply(to: &decoded, paddedWidth: w * 16, paddedHeight: h * 16, workers: device.workers) }
            for i in decoded.indices { decoded[i] = (min(max(decoded[i], 0), 1) * 255).rounded(.toNearestOrEven) / 255 }
            var squared: Float = 0
            for c in 0..<3 {
                for r in 0..<imageHeight {
                    let o = (c * h * 16 + r) * w * 16
                    for q in o..<(o + imageWidth) {
                        let d = decoded[q] - pixels[q]
                        squared += d * d
                    }
                }
            }
            let mse = squared / Float(3 * imageWidth * imageHeight)
            let cost =
                lambda.map {
                    bits(candidate, prior: prior, machines: candidateMachines, plane: h * w) / Float(imageWidth * imageHeight) + $0 * mse
                }
                ?? mse
            if pass == 0 { best.correction = correction }
            if cost < best.cost { best = (candidate, candidateMachines, correction, cost) }
            if pass == search.fixedPointPasses { break }
            let shown = try Tensor(shape: [1, 3, h * 16, w * 16], values: decoded)
            var analysed = try model.analysis.forward(shown, on: device).toArray(on: device)
            guard analysed.count == coded.count else { throw NICError.internal("fixed-point analysis has an unexpected size") }
            scaleChannels(&analysed, by: gains, plane: h * w)
            var next = coded
            for i in next.indices { next[i] += target[i] - analysed[i] }
            let requantised = quantised(
                next, prior: prior, machine: machines.machine, height: h, width: w, lambda: search.lambda)
            if requantised.symbols == candidate && requantised.machines == candidateMachines { break }
            (candidate, candidateMachines) = requantised
        }
        guard let correction = best.correction else { throw NICError.internal("the fixed-point check measured no pass") }
        return (best.symbols, best.machines, correction)
    }

    /// Bits of the latents' symbols under `prior` (the tables' frequencies, as the trellis counts them).
    private func bits(_ symbols: [Int32], prior: Prior, machines: DependentQuantization.ChannelMachines, plane: Int) -> Float {
        // The channel flags cost a bit each (their table's two halves).
        var total = Float(machines.following?.count ?? 0)
        for c in 0..<model.latentChannels {
            var chain = DependentQuantization.Chain(machines.machine(channel: c))
            for p in 0..<plane {
                let k = symbols[c * plane + p], t = prior.table(channel: c, position: p)
                total += prior.bitCosts(quantiser: chain.quantiser).cost(k, table: t)
                chain.advance(prior.stateSymbol(k, channel: c, position: p))
            }
        }
        return total
    }

    /// The hyper-latents' symbols of gain-scaled latents [M][h][w]: h_a, ×gain_z, rounding.
    private func hyperSymbols(_ y: [Float], height h: Int, width w: Int, quality: Int) throws -> [Int32] {
        var z = try model.hyperAnalysis.forward(try Tensor(shape: [1, model.latentChannels, h, w], values: y), on: device)
            .toArray(on: device)
        let zPlane = (h / 4) * (w / 4)
        guard z.count == model.hyperChannels * zPlane else { throw NICError.internal("hyper-analysis output has an unexpected size") }
        scaleChannels(&z, by: GainLadder.geometric(model.gains.z, quality: quality), plane: zPlane)
        return z.map(NeuralImageCodec.symbol)
    }

    /// The symbols of latents y under `prior` and the machine each channel follows: rounding (on
    /// its grid), or the dependent quantisation's search.
    private func quantised(
        _ y: [Float], prior: Prior, machine: DependentQuantization.StateMachine?, height h: Int, width w: Int, lambda: Float
    ) -> (symbols: [Int32], machines: DependentQuantization.ChannelMachines) {
        if let machine { return quantisedDependently(y, prior: prior, machine: machine, height: h, width: w, lambda: lambda) }
        return ((0..<y.count).map { prior.roundedSymbol(y[$0], channel: $0 / (h * w), position: $0 % (h * w)) }, .init(nil))
    }

    /// The gain-scaled latents the decoder reconstructs from `symbols`.
    private func reconstructed(
        _ symbols: [Int32], prior: Prior, machines: DependentQuantization.ChannelMachines, height h: Int, width w: Int
    ) -> [Float] {
        var y = [Float](repeating: 0, count: symbols.count)
        let plane = h * w
        symbols.withUnsafeBufferPointer { all in
            y.withUnsafeMutableBufferPointer { out in
                for c in 0..<model.latentChannels {
                    DependentQuantization.reconstruct(
                        UnsafeBufferPointer(rebasing: all[(c * plane)..<((c + 1) * plane)]), machine: machines.machine(channel: c),
                        integerGrid: prior.grid != nil, into: UnsafeMutableBufferPointer(rebasing: out[(c * plane)..<((c + 1) * plane)])
                    ) { prior.origin(channel: c, position: $0) }
                }
            }
        }
        return y
    }

    /// The latents' symbols under dependent quantisation: one trellis search per channel, the
    /// channels split over the workers (each channel's search is independent of the others'). A
    /// channel whose latents cost less on quantiser 0 alone (`DependentQuantization.quantiserZero`,
    /// by the trellis' own measure) is left off the state machine, when the channels so left save
    /// more than the flags that say so cost (a bit each, weighted by λ).
    private func quantisedDependently(
        _ y: [Float], prior: Prior, machine: DependentQuantization.StateMachine, height h: Int, width w: Int, lambda: Float
    ) -> (symbols: [Int32], machines: DependentQuantization.ChannelMachines) {
        let plane = h * w, m = model.latentChannels, costs = (prior.bitCosts(quantiser: 0), prior.bitCosts(quantiser: 1))
        typealias Search = (symbols: [Int32], cost: Float)
        var searched = [(trellis: Search, alone: Search)?](repeating: nil, count: m)
        searched.withUnsafeMutableBufferPointer { all in
            let out = UnsafeSendable(all.baseAddress!)
            device.parallelFor(m) { channels in
                var values = [Float](repeating: 0, count: plane), tables = [Int32](repeating: 0, count: plane)
                var origins = [UInt8](repeating: 0, count: prior.grid == nil ? 0 : plane)
                for c in channels {
                    for p in 0..<plane {
                        let origin = prior.origin(channel: c, position: p)
                        values[p] = y[c * plane + p] - origin
                        tables[p] = Int32(prior.table(channel: c, position: p))
                        if prior.grid != nil {
                            let below: UInt8 = prior.mean(channel: c, position: p) < origin ? 2 : 0
                            origins[p] = UInt8(IntegerGrid.parity(origin: origin)) | below
                        }
                    }
                    out.pointer[c] = values.withUnsafeBufferPointer { v in
                        tables.withUnsafeBufferPointer { t in
                            origins.withUnsafeBufferPointer { o in
                                (
                                    DependentQuantization.trellis(
                                        v, tables: t, machine: machine, costs: costs, lambda: lambda,
                                        origins: prior.grid == nil ? nil : o),
                                    DependentQuantization.quantiserZero(v, tables: t, costs: costs.0, lambda: lambda)
                                )
                            }
                        }
                    }
                }
            }
        }
        let channels = searched.map { $0! }
        let following = channels.map { $0.trellis.cost <= $0.alone.cost }
        let saved = channels.reduce(Float(0)) { $0 + max(0, $1.trellis.cost - $1.alone.cost) }
        let flagged = saved > lambda * Float(m)
        let symbols = channels.indices.flatMap { c in !flagged || following[c] ? channels[c].trellis.symbols : channels[c].alone.symbols }
        return (symbols, flagged ? .init(machine, following: following) : .init(machine))
    }

    /// Rounds half to even, as in training, and clamps; non-finite values code as 0.
    @inline(__always) static func symbol(_ v: Float) -> Int32 {
        guard v.isFinite else { return 0 }
        return Int32(min(max(v, -symbolLimit), symbolLimit).rounded(.toNearestOrEven))
    }

    /// The image as a [1, 3, H, W] tensor in [0, 1], padded on the right and bottom to the
    /// transforms' stride by repeating the last row and column.
    private func paddedInput(_ image: PlanarImage) throws -> Tensor {
        let s = model.stride
        let (pw, ph) = ((image.width + s - 1) / s * s, (image.height + s - 1) / s * s)
        let x = try Tensor(zeros: [1, 3, ph, pw])
        image.withPlaneViews { views in
            let src = views[0]
            x.withFloats { dst in
                for c in 0..<3 {
                    for yy in 0..<ph {
                        let row = src.row(min(yy, image.height - 1))
                        let o = (c * ph + yy) * pw
                        for xx in 0..<pw { dst[o + xx] = Float(row[min(xx, image.width - 1) * 3 + c]) / 255 }
                    }
                }
            }
        }
        return x
    }

    // MARK: decode

    /// The model of `store` that decodes the single-layer file `bytes`: the one its header names
    /// (`ModelStore.neuralCodecModel(id:)`). A damaged header is reported before any model is
    /// looked for, as `decode` reports it.
    public static func model(decoding bytes: [UInt8], in store: ModelStore) throws -> HyperpriorModel {
        try store.neuralCodecModel(id: try NICBitstream(parsing: bytes).modelID)
    }

    public func decode(_ bytes: [UInt8]) throws -> PlanarImage {
        let out = try synthesisOutput(bytes)
        let image = try Self.croppedImage(
            out.values, paddedWidth: out.paddedWidth, paddedHeight: out.paddedHeight, width: out.stream.width,
            height: out.stream.height)
        endStage("synthesis")
        return image
    }

    /// What the decoder shows before clamping and rounding: the synthesis with its colour
    /// correction, [3][paddedHeight][paddedWidth] in [0, 1] scale, of which the top-left
    /// `stream.width` x `stream.height` counts.
    func synthesisOutput(_ bytes: [UInt8]) throws -> (stream: NICBitstream, values: [Float], paddedWidth: Int, paddedHeight: Int) {
        startStages()
        let d = try entropyDecoded(bytes)
        let (h, w) = (d.latentHeight, d.latentWidth)
        var xHat = try synthesis(
            d.ySymbols, prior: d.prior, machines: d.machines, height: h, width: w, quality: d.stream.quality)
        if !d.correction.isZero { d.correction.apply(to: &xHat, paddedWidth: w * 16, paddedHeight: h * 16, workers: device.workers) }
        return (d.stream, xHat, w * 16, h * 16)
    }

    /// What a file holds before the synthesis: its header, the symbols of both payloads, the
    /// prior they were decoded with, and the colour correction.
    struct EntropyDecoded {
        let stream: NICBitstream
        let latentHeight: Int, latentWidth: Int
        let prior: Prior
        let machines: DependentQuantization.ChannelMachines
        let ySymbols: [Int32]
        let correction: LowFrequencyCorrection
    }

    /// Parses `bytes` and decodes every symbol (all of the format's checks but the synthesis).
    func entropyDecoded(_ bytes: [UInt8]) throws -> EntropyDecoded {
        let stream = try NICBitstream(parsing: bytes)
        guard stream.modelID == model.modelID else {
            throw NICError.model(
                "this file was coded with neural model \(hex8(stream.modelID)); "
                    + "the loaded model is \(hex8(model.modelID)) (\(model.name))")
        }
        let s = model.stride, m = model.latentChannels
        let (h, w) = ((stream.height + s - 1) / s * (s / 16), (stream.width + s - 1) / s * (s / 16))
        let zPlane = (h / 4) * (w / 4)
        var zDecoder = RANSDecoder(stream.zPayload)
        var zSymbols = [Int32](repeating: 0, count: model.hyperChannels * zPlane)
        for i in zSymbols.indices { zSymbols[i] = try zDecoder.decode(table: i / zPlane, of: model.zTables) }
        guard zDecoder.isExhausted else { throw NICError.corruptData("the hyper-latent payload is damaged") }

        endStage("entropy decoding (z)")
        let grid = stream.integerGrid ? try model.integerGrid() : nil
        let prior = try hyperSynthesis(zSymbols, height: h / 4, width: w / 4, quality: stream.quality, grid: grid)
        endStage("hyper-synthesis")
        var yDecoder = RANSDecoder(stream.yPayload)
        var ySymbols = [Int32](repeating: 0, count: m * h * w)
        let machine = DependentQuantization.StateMachine(states: stream.dependentQuantization)
        var following: [Bool]?
        if stream.channelFlags {
            following = try (0..<m).map { _ in
                let flag = try yDecoder.decode(table: 0, of: DependentQuantization.channelFlagTables)
                guard flag == 0 || flag == 1 else {
                    throw NICError.corruptData("the latent payload is damaged (a channel flag of \(flag))")
                }
                return flag == 1
            }
        }
        let machines = DependentQuantization.ChannelMachines(machine, following: following)
        for c in 0..<m {
            var chain = DependentQuantization.Chain(machines.machine(channel: c))
            for p in 0..<h * w {
                let k = try yDecoder.decode(table: prior.table(channel: c, position: p), of: prior.yTables(quantiser: chain.quantiser))
                ySymbols[c * h * w + p] = k
                chain.advance(prior.stateSymbol(k, channel: c, position: p))
            }
        }
        guard yDecoder.isExhausted else { throw NICError.corruptData("the latent payload is damaged") }
        let correction = try LowFrequencyCorrection.decoded(stream.correctionPayload, paddedWidth: w * 16, paddedHeight: h * 16)
        endStage("entropy decoding (y)")
        return EntropyDecoded(
            stream: stream, latentHeight: h, latentWidth: w, prior: prior, machines: machines, ySymbols: ySymbols,
            correction: correction)
    }

    /// The decoder's image before cropping: latents from symbols and means, ×gain_y⁻¹, g_s in
    /// bands. [3][16h][16w] floats in [0, 1] scale.
    private func synthesis(
        _ symbols: [Int32], prior: Prior, machines: DependentQuantization.ChannelMachines, height h: Int, width w: Int, quality: Int
    ) throws -> [Float] {
        let y = reconstructed(symbols, prior: prior, machines: machines, height: h, width: w)
        return try synthesised(latents: y, height: h, width: w, quality: quality).toArray(on: device)
    }

    /// g_s of gain-scaled latents [M][h][w]: ×gain_y⁻¹, then the synthesis in bands.
    private func synthesised(latents: [Float], height h: Int, width w: Int, quality: Int) throws -> Tensor {
        var y = latents
        scaleChannels(&y, by: GainLadder.geometric(model.gains.yInverse, quality: quality), plane: h * w)
        return try model.synthesis.forwardInBands(
            try Tensor(shape: [1, model.latentChannels, h, w], values: y), rows: NeuralImageCodec.synthesisBandRows,
            halo: model.synthesisHaloRows, scale: (16, 1), outputChannels: 3, on: device)
    }

    /// Encoder side: decodes what it coded and measures the low-frequency colour error.
    private func lowFrequencyCorrection(
        _ image: PlanarImage, symbols: [Int32], prior: Prior, machines: DependentQuantization.ChannelMachines, height h: Int,
        width w: Int, quality: Int
    ) throws -> LowFrequencyCorrection {
        let xHat = try synthesis(symbols, prior: prior, machines: machines, height: h, width: w, quality: quality)
        return LowFrequencyCorrection.measure(original: image, decoded: xHat, paddedWidth: w * 16, paddedHeight: h * 16)
    }

    /// The top-left `width` x `height` of `x` ([3][ph][pw] in [0, 1] scale), clamped and rounded to
    /// 8 bits: a decoded picture.
    static func croppedImage(_ x: [Float], paddedWidth pw: Int, paddedHeight ph: Int, width: Int, height: Int) throws -> PlanarImage {
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for c in 0..<3 {
            for yy in 0..<height {
                for xx in 0..<width {
                    let v = x[(c * ph + yy) * pw + xx] * 255
                    rgb[(yy * width + xx) * 3 + c] = v.isNaN ? 0 : UInt8(min(max(v, 0), 255).rounded(.toNearestOrEven))
                }
            }
        }
        return try PlanarImage(format: .rgb24, width: width, height: height, planes: [rgb])
    }

    // MARK: shared

    /// Means and table indices of the latents, from the hyper-latent symbols; identical on
    /// encoder and decoder by construction (`ExactConvolution`, exact gain interpolation).
    /// `grid`: the integer grid's tables when the latents are on it.
    private func hyperSynthesis(_ zSymbols: [Int32], height: Int, width: Int, quality: Int, grid: IntegerGrid?) throws -> Prior {
        let n = model.hyperChannels, plane = height * width
        let zInverse = GainLadder.linear(model.gains.zInverse, quality: quality)
        var hwc = [Float](repeating: 0, count: zSymbols.count)
        for c in 0..<n {
            for p in 0..<plane { hwc[p * n + c] = Float(zSymbols[c * plane + p]) * zInverse[c] }
        }
        var (values, h, w) = (hwc, height, width)
        for layer in model.hyperSynthesis { (values, h, w) = try layer.apply(values, height: h, width: w, workers: device.workers) }
        guard h == height * 4, w == width * 4 else { throw NICError.internal("hyper-synthesis output has an unexpected size") }
        return Prior(model: model, values: values, grid: grid)
    }

    private func startStages() {
        stageSeconds = []
        stageStart = monotonicSeconds()
    }

    private func endStage(_ name: String) {
        let now = monotonicSeconds()
        stageSeconds.append((name, now - stageStart))
        stageStart = now
    }

    private func scaleChannels(_ v: inout [Float], by gains: [Float], plane: Int) {
        for c in gains.indices {
            for p in c * plane..<(c + 1) * plane { v[p] *= gains[c] }
        }
    }
}

/// The hyper-synthesis output (channels-last: M means, then M scales per position), and the grid
/// the latents' symbols are coded on: the means' (`grid` nil) or the integers'.
struct Prior {
    let model: HyperpriorModel
    let values: [Float]
    let grid: IntegerGrid?

    @inline(__always) func mean(channel c: Int, position p: Int) -> Float { values[p * 2 * model.latentChannels + c] }

    /// The latent that symbol 0 stands for: the mean, or on the integer grid the mean rounded.
    @inline(__always) func origin(channel c: Int, position p: Int) -> Float {
        grid == nil ? mean(channel: c, position: p) : IntegerGrid.origin(mean: mean(channel: c, position: p)).origin
    }

    /// The symbol of latent `y` rounded on this prior's grid: round(y − mean), or round(y) − round(mean).
    @inline(__always) func roundedSymbol(_ y: Float, channel c: Int, position p: Int) -> Int32 {
        grid == nil
            ? NeuralImageCodec.symbol(y - mean(channel: c, position: p))
            : IntegerGrid.symbol(y, origin: origin(channel: c, position: p))
    }

    /// The y tables symbols under quantiser `q` are coded with (`table` indexes them).
    @inline(__always) func yTables(quantiser q: Int) -> CDFTables { grid?.tables(quantiser: q) ?? model.yTables(quantiser: q) }

    /// Bits per symbol of `yTables(quantiser:)`.
    @inline(__always) func bitCosts(quantiser q: Int) -> DependentQuantization.BitCosts {
        grid?.costs(quantiser: q) ?? (q == 0 ? model.yBitCosts.q0 : model.yBitCosts.q1)
    }

    /// What the dependent quantisation's state machine advances on after symbol `k` of latent
    /// (c, p) (`DependentQuantization.stateSymbol`).
    @inline(__always) func stateSymbol(_ k: Int32, channel c: Int, position p: Int) -> Int32 {
        grid == nil ? k : DependentQuantization.stateSymbol(k, originParity: IntegerGrid.parity(origin: origin(channel: c, position: p)))
    }

    /// Means, lower-bounded scales and origins (`origin(channel:position:)`) of all latents,
    /// channels-first ([M][h][w] each).
    func channelsFirst(height h: Int, width w: Int) -> (means: [Float], scales: [Float], origins: [Float]) {
        let m = model.latentChannels, plane = h * w
        var means = [Float](repeating: 0, count: m * plane), scales = means, origins = means
        for p in 0..<plane {
            for c in 0..<m {
                means[c * plane + p] = values[p * 2 * m + c]
                scales[c * plane + p] = max(values[p * 2 * m + m + c], model.scaleBound)
                origins[c * plane + p] = origin(channel: c, position: p)
            }
        }
        return (means, scales, origins)
    }

    /// The table of latent (c, p): by its scale, and on the integer grid by its mean's offset bucket too.
    @inline(__always) func table(channel c: Int, position p: Int) -> Int {
        let m = model.latentChannels
        let scale = model.scaleIndex(max(values[p * 2 * m + m + c], model.scaleBound))
        guard grid != nil else { return scale }
        return scale * IntegerGrid.offsetBuckets + IntegerGrid.origin(mean: mean(channel: c, position: p)).bucket
    }
}

/// A model ID as 8 hex digits.
public func hex8(_ v: UInt32) -> String {
    let hex = String(v, radix: 16)
    return String(repeating: "0", count: 8 - hex.count) + hex
}
