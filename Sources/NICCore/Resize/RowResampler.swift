import CKernels

/// Separable resampling of one float plane, any range of output rows at a time, from any
/// thread: a band pipeline computes the rows it needs next to the data that uses them instead
/// of a whole resized plane. Each output value is the same whatever the ranges (same filter
/// banks, same order of additions as the 8-bit core of `Resampler`). Float planes of
/// `Resampler`, `TensorResize` and `FrameScaler` all go through it.
struct RowResampler: Sendable {
    let outputWidth: Int
    let outputHeight: Int
    let sourceHeight: Int
    private let horizontal: FilterBank
    private let vertical: FilterBank
    /// The horizontal bank as the row kernels take it: first indices in 32 bits, weights tap by
    /// tap, and its repeating interior where it has one.
    private let rowFirst: [Int32]
    private let rowWeights: [Float]
    private let periodic: PeriodicBank?

    init(source: (width: Int, height: Int), output: (width: Int, height: Int), kernel: ResampleKernel, mode: ResampleMode) {
        (outputWidth, outputHeight) = (output.width, output.height)
        sourceHeight = source.height
        horizontal = FilterBank(inputSize: source.width, outputSize: output.width, kernel: kernel, mode: mode)
        vertical = FilterBank(inputSize: source.height, outputSize: output.height, kernel: kernel, mode: mode)
        let (taps, width) = (horizontal.taps, output.width)
        rowFirst = horizontal.first.map { Int32($0) }
        rowWeights = (0..<taps * width).map { [horizontal] i in horizontal.weights[(i % width) * taps + i / width] }
        periodic = PeriodicBank(horizontal, inputSize: source.width, outputSize: width)
    }

    /// Output rows `rows` of the plane at `source` (rows `sourceStride` floats apart) into
    /// `output`, rows `outputWidth` floats apart.
    func resample(rows: Range<Int>, from source: UnsafePointer<Float>, sourceStride: Int, into output: UnsafeMutablePointer<Float>) {
        guard !rows.isEmpty else { return }
        let taps = vertical.taps
        let firstSource = rows.lazy.map { vertical.first[$0] }.min()!
        let endSource = rows.lazy.map { vertical.first[$0] + taps }.max()!
        // The horizontal pass over just the source rows these output rows read.
        let temp = UnsafeMutablePointer<Float>.allocate(capacity: (endSource - firstSource) * outputWidth)
        defer { temp.deallocate() }
        for y in firstSource..<endSource {
            resampleRow(source + y * sourceStride, into: temp + (y - firstSource) * outputWidth)
        }
        vertical.weights.withUnsafeBufferPointer { weights in
            for y in rows {
                let out = output + (y - rows.lowerBound) * outputWidth
                out.update(repeating: 0, count: outputWidth)
                for t in 0..<taps {
                    let w = weights[y * taps + t]
                    if w == 0 { continue }
                    libnic_kernel_accumulate(w, temp + (vertical.first[y] + t - firstSource) * outputWidth, outputWidth, out)
                }
            }
        }
    }

    /// Every output row, in chunks of `chunkRows` split between `workers`; each chunk is handed
    /// to `deliver(rows, values)` (rows packed, `outputWidth` floats apart) from its worker.
    func resampleInChunks(
        from source: UnsafePointer<Float>, sourceStride: Int, workers: Workers, chunkRows: Int = 16,
        deliver: (Range<Int>, UnsafePointer<Float>) -> Void
    ) {
        workers.parallelFor((outputHeight + chunkRows - 1) / chunkRows) { chunks in
            let values = UnsafeMutablePointer<Float>.allocate(capacity: chunkRows * outputWidth)
            defer { values.deallocate() }
            for chunk in chunks {
                let rows = chunk * chunkRows..<min(outputHeight, (chunk + 1) * chunkRows)
                resample(rows: rows, from: source, sourceStride: sourceStride, into: values)
                deliver(rows, values)
            }
        }
    }

    private func resampleRow(_ source: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        if let p = periodic,
            libnic_kernel_resample_periodic(
                source, p.weights, p.offsets, Int32(p.period), Int32(p.step), Int32(horizontal.taps),
                p.blocks.lowerBound, p.blocks.upperBound, out) != 0
        {
            // The periodic kernel did the repeating interior; the edges are left to the general one.
            general(source, 0..<p.blocks.lowerBound * p.period, into: out)
            general(source, p.blocks.upperBound * p.period..<outputWidth, into: out)
        } else {
            general(source, 0..<outputWidth, into: out)
        }
    }

    private func general(_ source: UnsafePointer<Float>, _ columns: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        guard !columns.isEmpty else { return }
        let x = columns.lowerBound
        rowFirst.withUnsafeBufferPointer { first in
            rowWeights.withUnsafeBufferPointer { weights in
                libnic_kernel_resample_row(
                    source, first.baseAddress! + x, weights.baseAddress! + x, Int32(horizontal.taps), outputWidth,
                    columns.count, out + x)
            }
        }
    }

    /// The adjoint (transpose) of resampling the whole plane: `source` += Rᵀ `gradient`, where
    /// `gradient` holds a value per output pixel (`outputWidth` floats per row). Encoder-side
    /// refinement uses it to pass a gradient back through a network's bicubic base.
    func accumulateAdjoint(of gradient: UnsafePointer<Float>, into source: UnsafeMutablePointer<Float>, sourceStride: Int) {
        let temp = UnsafeMutablePointer<Float>.allocate(capacity: sourceHeight * outputWidth)
        defer { temp.deallocate() }
        temp.initialize(repeating: 0, count: sourceHeight * outputWidth)
        for y in 0..<outputHeight {
            let g = gradient + y * outputWidth
            for t in 0..<vertical.taps {
                let w = vertical.weights[y * vertical.taps + t]
                if w == 0 { continue }
                let line = temp + (vertical.first[y] + t) * outputWidth
                for i in 0..<outputWidth { line[i] += w * g[i] }
            }
        }
        let taps = horizontal.taps
        for y in 0..<sourceHeight {
            let line = temp + y * outputWidth, row = source + y * sourceStride
            for x in 0..<outputWidth {
                let g = line[x], s = row + horizontal.first[x]
                for t in 0..<taps { s[t] += horizontal.weights[x * taps + t] * g }
            }
        }
    }
}

/// The interior of a filter bank that repeats: outputs period·i + f, for blocks i in `blocks`,
/// read source samples step·i + offsets[f] ... with the weights of phase f (weights[f·taps + t]),
/// bit for bit the bank's own. Resampling by period/step (2/1, 3/2) has one; the outputs near
/// the edges, whose windows are clamped, fall outside it.
struct PeriodicBank: Sendable {
    let period: Int, step: Int
    let offsets: [Int32]
    let weights: [Float]
    let blocks: Range<Int>

    /// nil when the bank does not repeat with a period of at most 4 outputs over 3 blocks or more.
    init?(_ bank: FilterBank, inputSize: Int, outputSize: Int) {
        var (a, b) = (inputSize, outputSize)
        while b != 0 { (a, b) = (b, a % b) }
        let (period, step, taps) = (outputSize / a, inputSize / a, bank.taps)
        let count = outputSize / period
        guard period <= 4, count >= 3 else { return nil }
        let middle = count / 2
        // Block i repeats the middle block, shifted by (i - middle) steps.
        func repeats(_ i: Int) -> Bool {
            (0..<period).allSatisfy { f in
                let (x, m) = (i * period + f, middle * period + f)
                return bank.first[x] == bank.first[m] + (i - middle) * step
                    && (0..<taps).allSatisfy { bank.weights[x * taps + $0].bitPattern == bank.weights[m * taps + $0].bitPattern }
            }
        }
        var (low, high) = (middle, middle + 1)
        while low > 0 && repeats(low - 1) { low -= 1 }
        while high < count && repeats(high) { high += 1 }
        guard high - low >= 3 else { return nil }
        self.period = period; self.step = step; blocks = low..<high
        offsets = (0..<period).map { Int32(bank.first[middle * period + $0] - middle * step) }
        weights = (0..<period * taps).map { bank.weights[middle * period * taps + $0] }
    }
}
