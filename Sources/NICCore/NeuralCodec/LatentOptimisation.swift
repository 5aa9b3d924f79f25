#if canImport(Glibc)
    import Glibc
#endif

/// Encoder-side optimisation of the latents through the frozen decoder.
///
/// The analysis transform is trained to be good on average; for one image the encoder can do
/// better by searching the latents y themselves for the lowest rate-distortion cost
///
///     L(y) = bits(ŷ) / pixels + κ · λ · 255² · MSE(x, g_s(ŷ · gain_y⁻¹)),  ŷ = o + round~(y − o)
///
/// where λ is the quality's trained trade-off and κ = `distortionEmphasis`, with the
/// hyper-latents, and so the means μ and scales σ of the entropy model, fixed to those the plain
/// encoder codes. The origin o is the coded grid's: μ on the means' grid, round(μ) on
/// the integer grid. The rate is the model's own: −log₂ of the Gaussian mass of the unit
/// bin around ŷ − μ. Rounding has no useful gradient, so round~ is stochastic annealed rounding:
/// v goes down or up to an integer with a relaxed (Gumbel-softmax) draw that favours the nearer
/// one, at a temperature τ falling geometrically from 1 to 0.1 over the steps, so that the
/// search ends close to the hard rounding the symbols then take; Adam moves y. The draws come
/// from a fixed seed, so an encode is repeatable. Adam's step size falls linearly to 0 over the
/// steps (its normalised steps would otherwise keep latents near a rounding boundary flipping to
/// the end). The bitstream and the decoder are unchanged.
///
/// Memory stays bounded for any image: the latent plane is optimised in tiles of at most
/// `defaultTileLatents`² latents, each with the problem's `haloLatents` of fixed context around it
/// whose pixels are not counted; a tile's latents see the already optimised latents of the tiles
/// before it.
struct LatentOptimisation {
    let steps: Int
    let learningRate: Float
    /// Tile side in latents (16 pixels each).
    var tileLatents = LatentOptimisation.defaultTileLatents
    static let defaultTileLatents = 48
    static let temperatureStart: Float = 1, temperatureEnd: Float = 0.1
    /// κ: the search weighs distortion by this multiple of the quality's λ. At a quality's gains
    /// the searched latents then land on a better rate-distortion curve than with λ itself
    /// (measured on the hold-out: docs/decisions/encoder-optimisation.md).
    static let distortionEmphasis: Float = 1.4
    /// Lowest bin probability, as in training: the rate of a bin is at most −log₂ of it.
    static let likelihoodBound: Float = 1e-9

    /// The temperature of step `i` of `steps`.
    func temperature(step i: Int) -> Float {
        let t = Float(i) / Float(max(steps - 1, 1))
        return LatentOptimisation.temperatureStart * powf(LatentOptimisation.temperatureEnd / LatentOptimisation.temperatureStart, t)
    }

    /// What one optimisation works on: the padded image, the gain-scaled latents to move, the
    /// prior they are coded with, and the rate-distortion trade-off.
    struct Problem {
        /// [3][16h][16w] image in [0, 1] (padded), and the part of it that is the real image.
        let image: Tensor
        let imageWidth: Int, imageHeight: Int
        let latentHeight: Int, latentWidth: Int
        /// Per-channel gain_y⁻¹ of the quality.
        let inverseGains: [Float]
        /// Means and scales (lower-bounded) of every latent, channels-first like y.
        let means: [Float], scales: [Float]
        /// The rounding origin of every latent on the coded grid (`means` on the means' grid).
        let origins: [Float]
        /// The weight of distortion (the quality's λ; the search raises it by `distortionEmphasis`).
        var lambda: Float
        /// Latents of context around a tile: as far as the synthesis reaches (its band halo).
        let haloLatents: Int
    }

    /// The optimised latents, started from `start` (gain-scaled analysis output, [M][h][w]).
    func optimised(_ start: [Float], _ problem: Problem, synthesis: Sequential, on device: ComputeDevice) throws -> [Float] {
        var y = start
        var problem = problem
        problem.lambda *= LatentOptimisation.distortionEmphasis
        let (h, w) = (problem.latentHeight, problem.latentWidth)
        let t = tileLatents
        for r0 in stride(from: 0, to: h, by: t) {
            for c0 in stride(from: 0, to: w, by: t) {
                try optimiseTile(&y, rows: r0..<min(r0 + t, h), columns: c0..<min(c0 + t, w), problem, synthesis, device)
            }
        }
        return y
    }

    private func optimiseTile(
        _ y: inout [Float], rows: Range<Int>, columns: Range<Int>, _ p: Problem, _ synthesis: Sequential,
        _ device: ComputeDevice
    ) throws {
        let tile = Tile(rows: rows, columns: columns, p)
        var ty = tile.latents(of: y)
        var adam = Adam(count: ty.count, learningRate: learningRate)
        for step in 0..<steps {
            let gradient = try tile.gradient(ty, step: step, temperature: temperature(step: step), p, synthesis, device)
            adam.learningRate = learningRate * (1 - Float(step) / Float(steps))
            adam.step(&ty, gradient)
        }
        tile.store(ty, into: &y)
    }

    /// One tile of the latent plane: its interior (the latents it moves) and a halo of fixed
    /// context, their prior, and the pixels of the interior inside the real image, which its
    /// distortion counts.
    struct Tile {
        let rows: Range<Int>, columns: Range<Int>
        /// The tile with its halo, in latents, and the pixels that covers (16 per latent).
        let tileRows: Range<Int>, tileColumns: Range<Int>
        let channels: Int, plane: Int
        /// The whole latent plane's size.
        let latentHeight: Int, latentWidth: Int
        let mean: [Float], scale: [Float], origin: [Float]
        let movable: [Bool]
        let pixelRows: Range<Int>, pixelColumns: Range<Int>
        /// The image over the tile's pixels ([3][16·rows][16·columns]), zero outside `pixelRows` × `pixelColumns`.
        let target: [Float]
        /// Seeds the tile's rounding draws.
        let key: UInt64

        var height: Int { tileRows.count }
        var width: Int { tileColumns.count }
        var pixelHeight: Int { 16 * tileRows.count }
        var pixelWidth: Int { 16 * tileColumns.count }

        init(rows: Range<Int>, columns: Range<Int>, _ p: Problem) {
            let halo = p.haloLatents
            let (h, w) = (p.latentHeight, p.latentWidth)
            self.rows = rows; self.columns = columns
            let tr = max(0, rows.lowerBound - halo)..<min(h, rows.upperBound + halo)
            let tc = max(0, columns.lowerBound - halo)..<min(w, columns.upperBound + halo)
            tileRows = tr; tileColumns = tc
            latentHeight = h; latentWidth = w
            let (th, tw) = (tr.count, tc.count)
            channels = p.inverseGains.count; plane = th * tw
            var mean = [Float](repeating: 0, count: channels * plane), scale = mean, origin = mean
            for c in 0..<channels {
                for (i, row) in tr.enumerated() {
                    for (j, col) in tc.enumerated() {
                        let g = (c * h + row) * w + col, l = (c * th + i) * tw + j
                        mean[l] = p.means[g]; scale[l] = p.scales[g]; origin[l] = p.origins[g]
                    }
                }
            }
            self.mean = mean; self.scale = scale; self.origin = origin
            var movable = [Bool](repeating: false, count: plane)
            for (i, row) in tr.enumerated() where rows.contains(row) {
                for (j, col) in tc.enumerated() where columns.contains(col) { movable[i * tw + j] = true }
            }
            self.movable = movable
            // The interior's pixels inside the real image (none where the interior lies in the
            // padding: only its rate counts there).
            func pixels(_ interior: Range<Int>, _ tile: Range<Int>, imageSize: Int) -> Range<Int> {
                let lower = 16 * (interior.lowerBound - tile.lowerBound)
                return lower..<max(lower, min(16 * (interior.upperBound - tile.lowerBound), imageSize - 16 * tile.lowerBound))
            }
            pixelRows = pixels(rows, tr, imageSize: p.imageHeight)
            pixelColumns = pixels(columns, tc, imageSize: p.imageWidth)
            let (ph, pw) = (16 * th, 16 * tw)
            var target = [Float](repeating: 0, count: 3 * ph * pw)
            let (fullH, fullW) = (p.image.height, p.image.width)
            let (pixelRows, pixelColumns) = (self.pixelRows, self.pixelColumns)
            p.image.withFloats { x in
                for c in 0..<3 {
                    for i in pixelRows {
                        for j in pixelColumns {
                            target[(c * ph + i) * pw + j] = x[(c * fullH + 16 * tr.lowerBound + i) * fullW + 16 * tc.lowerBound + j]
                        }
                    }
                }
            }
            self.target = target
            var seed = SplitMix(seed: UInt64(rows.lowerBound) << 32 | UInt64(columns.lowerBound))
            key = seed.next()
        }

        /// The tile's latents out of the whole plane `y` ([M][h][w]).
        func latents(of y: [Float]) -> [Float] {
            var ty = [Float](repeating: 0, count: channels * plane)
            for c in 0..<channels {
                for (i, row) in tileRows.enumerated() {
                    for (j, col) in tileColumns.enumerated() {
                        ty[(c * height + i) * width + j] = y[(c * latentHeight + row) * latentWidth + col]
                    }
                }
            }
            return ty
        }

        /// Writes the interior of `ty` back into the whole plane `y`.
        func store(_ ty: [Float], into y: inout [Float]) {
            for c in 0..<channels {
                for (i, row) in tileRows.enumerated() where rows.contains(row) {
                    for (j, col) in tileColumns.enumerated() where columns.contains(col) {
                        y[(c * latentHeight + row) * latentWidth + col] = ty[(c * height + i) * width + j]
                    }
                }
            }
        }

        /// The gradient of the loss L (see `LatentOptimisation`) with respect to the tile's latents
        /// `ty` at step `step` (its rounding draws) and temperature `tau`; zero outside the interior.
        func gradient(
            _ ty: [Float], step: Int, temperature tau: Float, _ p: Problem, _ synthesis: Sequential, _ device: ComputeDevice
        ) throws -> [Float] {
            let (m, plane, th, tw, ph, pw) = (channels, plane, height, width, pixelHeight, pixelWidth)
            let pixels = Float(p.imageWidth * p.imageHeight)
            let distortionWeight = p.lambda * 255 * 255 * 2 / (3 * pixels)
            var slope = [Float](repeating: 0, count: ty.count), rateGradient = slope, input = slope
            // ŷ = o + round~(y − o), dŷ/dy, and d bits / dŷ.
            let draws = UInt64(step) << 32 ^ key
            slope.withUnsafeMutableBufferPointer { slope in
                rateGradient.withUnsafeMutableBufferPointer { rateGradient in
                    input.withUnsafeMutableBufferPointer { input in
                        // Each worker writes its own channels' elements only.
                        device.parallelFor(m) { channels in
                            for c in channels {
                                for q in 0..<plane {
                                    let l = c * plane + q
                                    var noise = SplitMix(seed: draws ^ UInt64(l))
                                    let (offset, derivative) = LatentOptimisation.annealedRounding(
                                        ty[l] - origin[l], tau: tau, uniform: noise.open01())
                                    let coded = origin[l] + offset
                                    slope[l] = movable[q] ? derivative : 0
                                    rateGradient[l] =
                                        movable[q] ? LatentOptimisation.bitsGradient(coded - mean[l], scale: scale[l]) / pixels : 0
                                    input[l] = coded * p.inverseGains[c]
                                }
                            }
                        }
                    }
                }
            }
            let tape = try synthesis.forwardForGradient(try Tensor(shape: [1, m, th, tw], values: input), on: device)
            let outputGradient = try Tensor(zeros: [1, 3, ph, pw])
            let reconstruction = try tape.output.plain(on: device)
            reconstruction.withFloats { xh in
                outputGradient.withFloats { g in
                    for c in 0..<3 {
                        for i in pixelRows {
                            for j in pixelColumns {
                                let k = (c * ph + i) * pw + j
                                g[k] = distortionWeight * (xh[k] - target[k])
                            }
                        }
                    }
                }
            }
            let synthesisGradient = try tape.inputGradient(outputGradient: outputGradient).toArray(on: device)
            var gradient = rateGradient
            for c in 0..<m {
                for q in 0..<plane {
                    let l = c * plane + q
                    gradient[l] = (gradient[l] + synthesisGradient[l] * p.inverseGains[c]) * slope[l]
                }
            }
            return gradient
        }
    }
    /// Stochastic annealed rounding of `v` and its derivative: ⌊v⌋ + w with
    /// w = σ((atanh(r) − atanh(1 − r))/τ² + logit(u)/τ), r = v − ⌊v⌋ (kept off 0 and 1), u uniform:
    /// the two-way Gumbel-softmax between rounding down (logit −atanh(r)/τ) and up
    /// (−atanh(1 − r)/τ) at temperature τ.
    @inline(__always) static func annealedRounding(_ v: Float, tau: Float, uniform u: Float) -> (value: Float, derivative: Float) {
        let fl = v.rounded(.down)
        let r = min(max(v - fl, 1e-5), 1 - 1e-5)
        let d = (atanhf(r) - atanhf(1 - r)) / (tau * tau) + logf(u / (1 - u)) / tau
        let w = 1 / (1 + expf(-d))
        return (fl + w, w * (1 - w) / (tau * tau) * (1 / (1 - r * r) + 1 / (1 - (1 - r) * (1 - r))))
    }

    /// d/dv of −log₂ P(v), P(v) = Φ((½ − |v|)/σ) − Φ((−½ − |v|)/σ), the rate of a latent `v` away
    /// from its mean; 0 where P is below the likelihood bound (the rate is flat there).
    static func bitsGradient(_ v: Float, scale sigma: Float) -> Float {
        let u = abs(v)
        let a = (0.5 - u) / sigma, b = (-0.5 - u) / sigma
        let p = normalCDF(a) - normalCDF(b)
        guard p > likelihoodBound else { return 0 }
        let dPdu = (normalDensity(b) - normalDensity(a)) / sigma
        let d = -dPdu / (p * Float(M_LN2))
        return v < 0 ? -d : d
    }

    /// −log₂ P(v) with the same bound (for tests and reports).
    static func bits(_ v: Float, scale sigma: Float) -> Float {
        let u = abs(v)
        let p = normalCDF((0.5 - u) / sigma) - normalCDF((-0.5 - u) / sigma)
        return -log2f(max(p, likelihoodBound))
    }

    @inline(__always) static func normalCDF(_ t: Float) -> Float { 0.5 * erfcf(-t * 0.707_106_78) }
    @inline(__always) static func normalDensity(_ t: Float) -> Float { expf(-0.5 * t * t) * 0.398_942_28 }
}
