#if canImport(Glibc)
    import Glibc
#endif

/// Separable resampling of interleaved planes: a horizontal pass into a float
/// buffer, then a vertical pass. Rows are split between workers by index, so the
/// result does not depend on the thread count.
enum Resampler {
    /// Resizes one float plane (`RowResampler`, in row chunks on the workers).
    static func resample(
        _ src: UnsafePointer<Float>, srcWidth: Int, srcHeight: Int, srcStride: Int,
        into dst: UnsafeMutablePointer<Float>, dstWidth: Int, dstHeight: Int, dstStride: Int,
        kernel: ResampleKernel, mode: ResampleMode, workers: Workers
    ) {
        let resampler = RowResampler(source: (srcWidth, srcHeight), output: (dstWidth, dstHeight), kernel: kernel, mode: mode)
        resampler.resampleInChunks(from: src, sourceStride: srcStride, workers: workers) { rows, values in
            for y in rows {
                (dst + y * dstStride).update(from: values + (y - rows.lowerBound) * dstWidth, count: dstWidth)
            }
        }
    }

    /// Resizes one 8-bit plane, rounding to nearest and clamping to 0...255.
    static func resample(
        _ src: PlaneView, into dst: MutablePlaneView,
        kernel: ResampleKernel, mode: ResampleMode, workers: Workers
    ) {
        resample(
            read: { y, x in Float(src.row(y)[x]) }, srcWidth: src.width, srcHeight: src.height,
            write: { y, x, v in dst.row(y)[x] = UInt8(min(max(v + 0.5, 0), 255)) },
            dstWidth: dst.width, dstHeight: dst.height,
            channels: src.channels, kernel: kernel, mode: mode, workers: workers)
    }

    /// The two-pass core of the 8-bit path (interleaved channels); `read`/`write` address (row,
    /// element-in-row). Same filter banks and order of additions as `RowResampler`.
    @inline(__always)
    private static func resample(
        read: (Int, Int) -> Float, srcWidth: Int, srcHeight: Int,
        write: (Int, Int, Float) -> Void, dstWidth: Int, dstHeight: Int,
        channels: Int, kernel: ResampleKernel, mode: ResampleMode, workers: Workers
    ) {
        let horizontal = FilterBank(inputSize: srcWidth, outputSize: dstWidth, kernel: kernel, mode: mode)
        let vertical = FilterBank(inputSize: srcHeight, outputSize: dstHeight, kernel: kernel, mode: mode)
        let rowLength = dstWidth * channels
        let temp = UnsafeMutablePointer<Float>.allocate(capacity: srcHeight * rowLength)
        defer { temp.deallocate() }
        workers.parallelFor(srcHeight) { rows in
            for y in rows {
                for x in 0..<dstWidth {
                    let start = horizontal.first[x]
                    for c in 0..<channels {
                        var sum: Float = 0
                        for t in 0..<horizontal.taps {
                            sum += horizontal.weights[x * horizontal.taps + t] * read(y, (start + t) * channels + c)
                        }
                        temp[y * rowLength + x * channels + c] = sum
                    }
                }
            }
        }
        workers.parallelFor(dstHeight) { rows in
            // Accumulate whole rows tap by tap: contiguous, vectorisable inner loops.
            let sum = UnsafeMutablePointer<Float>.allocate(capacity: rowLength)
            defer { sum.deallocate() }
            for y in rows {
                sum.update(repeating: 0, count: rowLength)
                for t in 0..<vertical.taps {
                    let w = vertical.weights[y * vertical.taps + t]
                    if w == 0 { continue }
                    let source = temp + (vertical.first[y] + t) * rowLength
                    for i in 0..<rowLength { sum[i] += w * source[i] }
                }
                for i in 0..<rowLength { write(y, i, sum[i]) }
            }
        }
    }
}
