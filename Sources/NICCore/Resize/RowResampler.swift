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

    init(source: (width: Int, height: Int), output: (width: Int, height: Int), kernel: ResampleKernel, mode: ResampleMode) {
        (outputWidth, outputHeight) = (output.width, output.height)
        sourceHeight = source.height
        horizontal = FilterBank(inputSize: source.width, outputSize: output.width, kernel: kernel, mode: mode)
        vertical = FilterBank(inputSize: source.height, outputSize: output.height, kernel: kernel, mode: mode)
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
                    let line = temp + (vertical.first[y] + t - firstSource) * outputWidth
                    for i in 0..<outputWidth { out[i] += w * line[i] }
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
        let taps = horizontal.taps
        horizontal.weights.withUnsafeBufferPointer { weights in
            horizontal.first.withUnsafeBufferPointer { first in
                for x in 0..<outputWidth {
                    let s = source + first[x], w = weights.baseAddress! + x * taps
                    var sum: Float = 0
                    for t in 0..<taps { sum += w[t] * s[t] }
                    out[x] = sum
                }
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
