/// A family of quantised cumulative distributions for the rANS coder, as exported by
/// training/neural/export_record.py: table `t` covers the symbol values
/// `symbolMin[t] ..< symbolMin[t] + n_t` plus one escape symbol (index `n_t`) for values
/// outside that range, which are then sent in bypass. Every CDF starts at 0, ends at
/// 2^16 and gives every symbol a frequency of at least 1, so any value can be coded.
public struct CDFTables: Sendable {
    public static let precisionBits = 16
    static let total = Int32(1 << precisionBits)

    let cdf: [Int32]
    let offsets: [Int]
    let symbolMin: [Int32]

    public var count: Int { symbolMin.count }

    /// Validates the flat layout so that coding can index it without further checks.
    public init(cdf: [Int32], offsets: [Int32], symbolMin: [Int32]) throws {
        guard offsets.count == symbolMin.count + 1, offsets.first == 0, Int(offsets.last ?? -1) == cdf.count else {
            throw NICError.model("CDF table offsets do not match the tables")
        }
        for t in 0..<symbolMin.count {
            let lo = Int(offsets[t]), hi = Int(offsets[t + 1])
            guard hi - lo >= 3, cdf[lo] == 0, cdf[hi - 1] == CDFTables.total else {
                throw NICError.model("CDF table \(t) does not run from 0 to 2^16 over at least two symbols")
            }
            for i in lo..<hi - 1 where cdf[i + 1] <= cdf[i] {
                throw NICError.model("CDF table \(t) has a symbol of zero frequency")
            }
        }
        self.cdf = cdf
        self.offsets = offsets.map(Int.init)
        self.symbolMin = symbolMin
    }

    /// Number of in-range symbols of table `t` (the escape symbol has index `inRange(t)`).
    @inline(__always) func inRange(_ t: Int) -> Int { offsets[t + 1] - offsets[t] - 2 }

    /// (start, frequency) of symbol index `s` of table `t`.
    @inline(__always) func interval(_ t: Int, _ s: Int) -> (start: UInt32, freq: UInt32) {
        let base = offsets[t] + s
        return (UInt32(cdf[base]), UInt32(cdf[base + 1] - cdf[base]))
    }

    /// The symbol index of table `t` whose interval holds `slot` (0 ..< 2^16), by binary search.
    @inline(__always) func symbol(_ t: Int, slot: UInt32) -> Int {
        var lo = offsets[t], hi = offsets[t + 1] - 1  // cdf[lo] <= slot < cdf[hi]
        let s = Int32(slot)
        while hi - lo > 1 {
            let mid = (lo + hi) >> 1
            if cdf[mid] <= s { lo = mid } else { hi = mid }
        }
        return lo - offsets[t]
    }
}
