/// Latents on the integer grid (docs/nic-format.md, "The integer grid"): the decoder's latent is
/// `round(mean) + k` for the coded symbol `k`, so the coded points are the integers whatever the
/// means, and a re-encode that derives other hyper-latents finds the same points again. The means
/// set only the probabilities: `k` is coded with the table of the latent's scale and of the bucket
/// of the mean's offset from its nearest integer, `d = mean − round(mean)`, the Gaussian's mass over
/// `k`'s cell seen from a mean `d` away. Under dependent quantisation the second quantiser's points
/// are the half-integers, `round(mean) + k + ½`, with tables of their own built the same way.
struct IntegerGrid: Sendable {
    /// Buckets of the offset d ∈ [−½, ½] (docs/decisions/encoder-optimisation.md: the rate against
    /// the count). Odd, so that one bucket is centred on the integers, where the means of the
    /// narrowest latents gather.
    static let offsetBuckets = 9

    /// Table `scaleIndex · offsetBuckets + bucket` for each scale of the model's scale table: of
    /// the integers (quantiser 0) and of the half-integers (quantiser 1).
    let tables: (q0: CDFTables, q1: CDFTables)
    /// Bits per symbol of `tables`, for the encoder's searches.
    let costs: (q0: DependentQuantization.BitCosts, q1: DependentQuantization.BitCosts)

    init(scaleTable: [Float]) throws {
        tables = (try IntegerGrid.tables(scaleTable: scaleTable), try IntegerGrid.tables(scaleTable: scaleTable, quantiser: 1))
        costs = (DependentQuantization.BitCosts(tables.q0), DependentQuantization.BitCosts(tables.q1))
    }

    @inline(__always) func tables(quantiser q: Int) -> CDFTables { q == 0 ? tables.q0 : tables.q1 }
    @inline(__always) func costs(quantiser q: Int) -> DependentQuantization.BitCosts { q == 0 ? costs.q0 : costs.q1 }

    /// The integer a latent's symbol counts from (round half to even of the mean) and the bucket of
    /// the mean's offset from it, `min(B − 1, ⌊(d + ½)·B⌋)` in single precision. A mean that is not
    /// finite (only a damaged file's hyper-latents can give one) takes bucket 0.
    @inline(__always) static func origin(mean: Float) -> (origin: Float, bucket: Int) {
        let origin = mean.rounded(.toNearestOrEven)
        let u = (mean - origin + 0.5) * Float(offsetBuckets)
        let bucket = u >= Float(offsetBuckets - 1) ? offsetBuckets - 1 : (u >= 1 ? Int(u) : 0)
        return (origin, bucket)
    }

    /// The parity of an origin (0 or 1); every float from 2^24 up is an even integer, and an origin
    /// that is not finite counts as even.
    @inline(__always) static func parity(origin: Float) -> Int32 {
        guard origin.isFinite, abs(origin) < 16_777_216 else { return 0 }
        return Int32(origin) & 1
    }

    /// The symbol of latent `y` on the integer grid: round(y) − round(mean), clamped as every
    /// symbol is (`NeuralImageCodec.symbol`).
    @inline(__always) static func symbol(_ y: Float, origin: Float) -> Int32 {
        NeuralImageCodec.symbol(Float(NeuralImageCodec.symbol(y)) - origin)
    }

    /// The centre of bucket `b` of the offset: −½ + (b + ½)/B.
    static func bucketCentre(_ b: Int) -> Double { (Double(b) + 0.5) / Double(offsetBuckets) - 0.5 }

    /// The tables for a Gaussian of each scale σ of `scaleTable` and each offset bucket b, in the
    /// layout of `CDFTables`. Quantiser 0: symbols −t...t with t = ⌈6.109·σ⌉ + 1, symbol k with the
    /// mass of N(0, σ) over [k − c − ½, k − c + ½] (c the bucket's centre). Quantiser 1: symbols
    /// −t−1...t, symbol k with the mass over [k − c, k + 1 − c], the cell of the point k + ½. The
    /// rest goes to the escape symbol, quantised to 16 bits as the other y tables are. Computed
    /// with +, −, ×, ÷ and square roots only (`DependentQuantization.normalCDF`), so that every
    /// machine derives the same integers.
    static func tables(scaleTable: [Float], quantiser q: Int = 0) throws -> CDFTables {
        var cdf: [Int32] = [], offsets: [Int32] = [0], symbolMin: [Int32] = []
        let (first, lowerEdge) = q == 0 ? (0, -0.5) : (-1, 0.0)
        for scale in scaleTable {
            let s = Double(scale)
            let t = Int((s * DependentQuantization.tailScales).rounded(.up)) + 1
            let count = 2 * t + 1 - first
            for b in 0..<offsetBuckets {
                let c = bucketCentre(b)
                var edges = [Double]()
                edges.reserveCapacity(count + 1)
                for k in (first - t)...(t + 1) { edges.append(DependentQuantization.normalCDF((Double(k) - c + lowerEdge) / s)) }
                var p = (0..<count).map { edges[$0 + 1] - edges[$0] }
                p.append(max(0, 1 - p.reduce(0, +)))
                cdf += DependentQuantization.quantisedCDF(p)
                offsets.append(Int32(cdf.count))
                symbolMin.append(Int32(first - t))
            }
        }
        return try CDFTables(cdf: cdf, offsets: offsets, symbolMin: symbolMin)
    }
}
