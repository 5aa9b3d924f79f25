/// Horizontal bands of a feature map, run round-robin on single-threaded devices, one per
/// worker: no barrier inside a band, each band stays in its core's cache, and which worker runs
/// a band never changes its result.
struct Bands {
    let ranges: [Range<Int>]

    /// Bands of `rows` rows (the last one shorter) covering 0..<height.
    init(height: Int, rows: Int) {
        ranges = stride(from: 0, to: height, by: max(1, rows)).map { $0..<min(height, $0 + max(1, rows)) }
    }

    /// Calls `body(band, device)` for every band on the worker devices of `device`; the first
    /// error any band throws is rethrown after all workers have finished.
    func run(on device: ComputeDevice, _ body: (Range<Int>, ComputeDevice) throws -> Void) throws {
        let devices = try device.workerDevices()
        let failure = PthreadLocked<Error?>(nil)
        Workers(count: devices.count).parallelFor(devices.count) { workers in
            for w in workers {
                for b in stride(from: w, to: ranges.count, by: devices.count) {
                    do { try body(ranges[b], devices[w]) } catch { failure.withLock { if $0 == nil { $0 = error } } }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }
}

extension Sequential {
    /// The layers over horizontal bands of `x` (`rows` input rows each, `halo` extra rows on both
    /// sides whose results are dropped), giving an output `scale.num / scale.den` times the input's
    /// height with `outputChannels` channels. Identical to one pass over the whole input (bands at
    /// the top and bottom start there, so zero padding is the same) when `halo` covers the
    /// receptive field, with memory and cache footprint bounded by the band.
    func forwardInBands(
        _ x: Tensor, rows: Int, halo: Int, scale: (num: Int, den: Int), outputChannels: Int,
        on device: ComputeDevice
    ) throws -> Tensor {
        let (num, den) = scale
        let outWidth = x.width * num / den
        let out = try Tensor(zeros: [1, outputChannels, x.height * num / den, outWidth])
        try Bands(height: x.height, rows: rows).run(on: device) { band, worker in
            let from = max(0, band.lowerBound - halo), to = min(x.height, band.upperBound + halo)
            let result = try forward(try x.rows(from..<to), on: worker).plain(on: worker)
            guard result.channels == outputChannels, result.width == outWidth else {
                throw NICError.model("network gives \(result.shape) for a band, expected \(outputChannels) channels \(outWidth) wide")
            }
            result.copyRows(
                (band.lowerBound - from) * num / den, count: band.count * num / den,
                into: out, at: band.lowerBound * num / den)
        }
        return out
    }
}

extension Tensor {
    /// Copies `count` rows from row `source` of this plain (1, C, H, W) tensor into rows from
    /// `destinationRow` of `destination` (same C and W).
    func copyRows(_ source: Int, count: Int, into destination: Tensor, at destinationRow: Int) {
        let w = width, (h, dh) = (height, destination.height)
        withFloats { s in
            destination.withFloats { d in
                for c in 0..<channels {
                    (d.baseAddress! + (c * dh + destinationRow) * w).update(from: s.baseAddress! + (c * h + source) * w, count: count * w)
                }
            }
        }
    }
}
