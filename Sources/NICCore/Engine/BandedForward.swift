import Synchronization

extension Sequential {
    /// The layers over horizontal bands of `x` (`rows` input rows each, `halo` extra rows on both
    /// sides whose results are dropped), giving an output `scale.num / scale.den` times the input's
    /// height with `outputChannels` channels. Identical to one pass over the whole input (bands at
    /// the top and bottom start there, so zero padding is the same) when `halo` covers the
    /// receptive field, with memory and cache footprint bounded by the band.
    ///
    /// Bands go round-robin to single-threaded devices, one per worker: no barrier inside a band,
    /// and the result of a band never depends on the number of workers.
    func forwardInBands(_ x: Tensor, rows: Int, halo: Int, scale: (num: Int, den: Int), outputChannels: Int,
                        on device: ComputeDevice) throws -> Tensor {
        let (num, den) = scale
        let outWidth = x.width * num / den
        let out = try Tensor(zeros: [1, outputChannels, x.height * num / den, outWidth])
        let bands = stride(from: 0, to: x.height, by: rows).map { ($0, min(x.height, $0 + rows)) }
        let devices = try device.workerDevices()
        let failure = Mutex<Error?>(nil)
        Workers(count: devices.count).parallelFor(devices.count) { workers in
            for w in workers {
                for b in stride(from: w, to: bands.count, by: devices.count) {
                    do {
                        let (start, end) = bands[b]
                        let from = max(0, start - halo), to = min(x.height, end + halo)
                        let band = try forward(try x.rows(from..<to), on: devices[w]).plain(on: devices[w])
                        guard band.channels == outputChannels, band.width == outWidth else {
                            throw NICError.model("network gives \(band.shape) for a band, expected \(outputChannels) channels \(outWidth) wide")
                        }
                        band.copyRows((start - from) * num / den, count: (end - start) * num / den,
                                      into: out, at: start * num / den)
                    } catch {
                        failure.withLock { if $0 == nil { $0 = error } }
                    }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return out
    }
}

extension Tensor {
    /// Copies `count` rows from row `source` of this plain (1, C, H, W) tensor into rows from
    /// `destinationRow` of `destination` (same C and W).
    func copyRows(_ source: Int, count: Int, into destination: Tensor, at destinationRow: Int) {
        let w = width, (h, dh) = (height, destination.height)
        withFloats { s in destination.withFloats { d in
            for c in 0..<channels {
                (d.baseAddress! + (c * dh + destinationRow) * w).update(from: s.baseAddress! + (c * h + source) * w, count: count * w)
            }
        } }
    }
}
