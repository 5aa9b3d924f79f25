/// Encoder-side substitution of the input: the encoder codes the latents of a substitute x′
/// instead of those of the image x, x′ found by gradient descent through the frozen codec.
///
/// The loss is the latent optimisation's (`LatentOptimisation`): the rate of the rounded latents
/// of x′ under the prior the plain encoder codes, plus λ·255²·MSE between x and the decoder's
/// reconstruction of them; its gradient with respect to the latents goes on back through the
/// analysis to the pixels of x′ (`SequentialTape.inputGradient`). Adam moves the pixels, with
/// a step size falling linearly to 0, and keeps them in [0, 1]. The decoder and the bitstream
/// are unchanged: x′ is only ever seen by the encoder.
///
/// Step sizes per block: with `block` > 0 the image is cut into blocks of that many pixels a
/// side, and each block's step size is the base step size times the ratio of its standard
/// deviation to the whole image's (clamped to `blockFactors`): flat blocks, where a change of
/// the pixels shows most, move less than textured ones.
///
/// Memory and tiles: the image is worked on in the latent optimisation's tiles (their pixels,
/// halo included); a tile moves its interior's pixels, and sees the substituted pixels of the
/// tiles before it.
struct Substitution {
    let steps: Int
    let stepSize: Float
    /// Side in pixels of the blocks with a step size of their own; 0: one step size.
    let block: Int
    var tileLatents = LatentOptimisation.defaultTileLatents
    /// The range of a block's step size factor.
    static let blockFactors: ClosedRange<Float> = 0.25...2

    /// The substitute of `p.image` ([1, 3, H, W], padded), which `p` also takes as the target.
    /// `gains` are the quality's per-channel gain_y (the latents are the analysis output times them).
    func substituted(
        _ p: LatentOptimisation.Problem, gains: [Float], analysis: Sequential, synthesis: Sequential, on device: ComputeDevice
    ) throws -> Tensor {
        let (height, width) = (p.image.height, p.image.width)
        var x = p.image.withFloats { Array($0) }
        let rates = stepFactors(x, height: height, width: width)
        let schedule = LatentOptimisation(steps: steps, learningRate: stepSize)
        let t = tileLatents
        for r0 in stride(from: 0, to: p.latentHeight, by: t) {
            for c0 in stride(from: 0, to: p.latentWidth, by: t) {
                let tile = LatentOptimisation.Tile(
                    rows: r0..<min(r0 + t, p.latentHeight), columns: c0..<min(c0 + t, p.latentWidth), p)
                try substitute(&x, tile: tile, rates: rates, p, gains: gains, schedule, analysis, synthesis, device)
            }
        }
        return try Tensor(shape: [1, 3, height, width], values: x)
    }

    /// Moves the pixels of `tile`'s interior in `x` ([3][H][W]).
    private func substitute(
        _ x: inout [Float], tile: LatentOptimisation.Tile, rates: [Float], _ p: LatentOptimisation.Problem, gains: [Float],
        _ schedule: LatentOptimisation, _ analysis: Sequential, _ synthesis: Sequential, _ device: ComputeDevice
    ) throws {
        let (height, width) = (p.image.height, p.image.width)
        let (ph, pw) = (tile.pixelHeight, tile.pixelWidth)
        let (top, left) = (16 * tile.tileRows.lowerBound, 16 * tile.tileColumns.lowerBound)
        let interiorRows = (16 * tile.rows.lowerBound - top)..<(16 * tile.rows.upperBound - top)
        let interiorColumns = (16 * tile.columns.lowerBound - left)..<(16 * tile.columns.upperBound - left)
        let m = tile.channels
        var window = [Float](repeating: 0, count: 3 * ph * pw), windowRates = window
        for c in 0..<3 {
            for i in 0..<ph {
                for j in 0..<pw {
                    let k = (c * ph + i) * pw + j
                    window[k] = x[(c * height + top + i) * width + left + j]
                    if interiorRows.contains(i) && interiorColumns.contains(j) { windowRates[k] = rates[(top + i) * width + left + j] }
                }
            }
        }
        var adam = Adam(count: window.count, learningRate: stepSize)
        for step in 0..<steps {
            let tape = try analysis.forwardForGradient(try Tensor(shape: [1, 3, ph, pw], values: window), on: device)
            var latents = try tape.output.toArray(on: device)
            guard latents.count == m * tile.plane else { throw NICError.internal("analysis output has an unexpected size") }
            for c in 0..<m {
                for q in 0..<tile.plane { latents[c * tile.plane + q] *= gains[c] }
            }
            var gradient = try tile.gradient(
                latents, step: step, temperature: schedule.temperature(step: step), p, synthesis, device)
            for c in 0..<m {
                for q in 0..<tile.plane { gradient[c * tile.plane + q] *= gains[c] }
            }
            let pixelGradient = try tape.inputGradient(
                outputGradient: try Tensor(shape: [1, m, tile.height, tile.width], values: gradient)
            ).toArray(on: device)
            adam.learningRate = stepSize * (1 - Float(step) / Float(steps))
            adam.step(&window, pixelGradient, scaledBy: windowRates)
            for k in window.indices { window[k] = min(max(window[k], 0), 1) }
        }
        for c in 0..<3 {
            for i in interiorRows {
                for j in interiorColumns { x[(c * height + top + i) * width + left + j] = window[(c * ph + i) * pw + j] }
            }
        }
    }

    /// Each pixel's step size factor ([H][W]): 1 without blocks, else its block's (see above).
    func stepFactors(_ x: [Float], height: Int, width: Int) -> [Float] {
        guard block > 0 else { return [Float](repeating: 1, count: height * width) }
        func deviation(_ rows: Range<Int>, _ columns: Range<Int>) -> Float {
            var sum = 0.0, squares = 0.0
            for c in 0..<3 {
                for i in rows {
                    for j in columns {
                        let v = Double(x[(c * height + i) * width + j])
                        sum += v; squares += v * v
                    }
                }
            }
            let n = Double(3 * rows.count * columns.count)
            return Float(max(0, squares / n - (sum / n) * (sum / n)).squareRoot())
        }
        let whole = max(deviation(0..<height, 0..<width), 1e-6)
        var factors = [Float](repeating: 1, count: height * width)
        for top in stride(from: 0, to: height, by: block) {
            for left in stride(from: 0, to: width, by: block) {
                let rows = top..<min(top + block, height), columns = left..<min(left + block, width)
                let ratio = deviation(rows, columns) / whole
                let factor = min(max(ratio, Substitution.blockFactors.lowerBound), Substitution.blockFactors.upperBound)
                for i in rows {
                    for j in columns { factors[i * width + j] = factor }
                }
            }
        }
        return factors
    }
}
