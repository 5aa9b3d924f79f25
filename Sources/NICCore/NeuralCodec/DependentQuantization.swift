#if canImport(Glibc)
    import Glibc
#endif

/// Dependent scalar quantisation of the latents (docs/nic-format.md, "Dependent quantisation").
///
/// Two quantisers relative to the predicted mean, in latent units: Q0 codes symbol k as k (the
/// integer grid of plain rounding), Q1 as k − sign(k)/2 (zero and the half-integers). Which one
/// a latent uses follows a state machine over the latents of its channel in coding order,
/// starting in state 0, driven by the parity of each symbol. Together the two grids are twice as
/// fine as one, yet each symbol pays for one quantiser only; the encoder picks the whole chain of
/// symbols of a channel by a Viterbi search over the states (`trellis`), minimising
/// Σ (v − reconstruction)² + λ·bits.
///
/// On the integer grid (`IntegerGrid`) both quantisers are absolute: Q0 is the integers, Q1 the
/// half-integers (symbol k counted from the origin round(mean) stands for origin + k + ½), and the
/// state machine follows the parity of the integer the point sits on (origin + k), so that the same
/// points give the same path whatever the means.
public enum DependentQuantization {
    /// A state machine of 4 or 8 states on a shift register: the next state shifts the state
    /// right by one bit and puts on top the symbol's parity XOR the parity of the state's lowest
    /// bit (4 states) or two lowest bits (8 states); the top bit of a state names its quantiser.
    /// The 4-state machine is the one of H.266/VVC; the 8-state feedback was chosen among all
    /// feedback and quantiser bits by the search's squared error (docs/decisions/encoder-optimisation.md).
    public struct StateMachine: Equatable, Sendable {
        public let states: Int
        let bits: Int
        let feedback: Int

        /// nil for a number of states other than 4 or 8.
        public init?(states: Int) {
            guard states == 4 || states == 8 else { return nil }
            self.states = states
            (bits, feedback) = states == 4 ? (2, 0b1) : (3, 0b11)
        }

        /// 0 or 1.
        @inline(__always) func quantiser(_ state: Int) -> Int { state >> (bits - 1) }

        @inline(__always) func next(_ state: Int, _ symbol: Int32) -> Int {
            ((Int(symbol & 1) ^ ((state & feedback).nonzeroBitCount & 1)) << (bits - 1)) | (state >> 1)
        }
    }

    /// The walk along one channel's latents in coding order: the quantiser of the next latent
    /// (always Q0 without a machine), then `advance` past its symbol. The entropy coder, the
    /// entropy decoder and the reconstruction all follow the states through this one walk.
    struct Chain {
        let machine: StateMachine?
        private var state = 0

        /// Starts in state 0, as every channel does.
        init(_ machine: StateMachine?) { self.machine = machine }

        /// 0 or 1: the quantiser of the next latent.
        @inline(__always) var quantiser: Int { machine?.quantiser(state) ?? 0 }

        @inline(__always) mutating func advance(_ symbol: Int32) {
            if let machine { state = machine.next(state, symbol) }
        }
    }

    /// The state machine each channel's latents follow. The encoder may leave a channel on
    /// quantiser 0 alone where the trellis costs more than that channel's nearest points do (most
    /// often a channel of mostly zero latents: on the integer grid quantiser 1 has no point at
    /// zero); the file then holds a flag per channel (docs/nic-format.md).
    struct ChannelMachines: Equatable, Sendable {
        let machine: StateMachine?
        /// Per channel, whether it follows `machine`; nil when every channel does.
        let following: [Bool]?

        init(_ machine: StateMachine?, following: [Bool]? = nil) {
            self.machine = machine
            self.following = machine == nil ? nil : following
        }

        @inline(__always) func machine(channel c: Int) -> StateMachine? {
            guard let following else { return machine }
            return following[c] ? machine : nil
        }
    }

    /// The channel flags' table: 0 (quantiser 0 alone) and 1 (the state machine), a bit each.
    static let channelFlagTables = try! CDFTables(cdf: [0, 32767, 65534, 65536], offsets: [0, 4], symbolMin: [0])

    /// What symbol `k` stands for under quantiser `q`, relative to the mean (on the integer grid:
    /// relative to the origin round(mean)).
    @inline(__always) static func reconstruction(_ k: Int32, quantiser q: Int, integerGrid: Bool = false) -> Float {
        if integerGrid { return q == 0 ? Float(k) : Float(k) + 0.5 }
        return q == 0 ? Float(k) : Float(k) - Float(k.signum()) * 0.5
    }

    /// The symbol whose parity drives the state machine: `k` itself, or on the integer grid `k`
    /// with its origin's parity added (the parity of the integer origin + k).
    @inline(__always) static func stateSymbol(_ k: Int32, originParity: Int32) -> Int32 { k ^ originParity }

    /// The latents the symbols of one channel stand for, following the state machine from state 0
    /// (nil: plain rounding). `origin(p)` is what symbol 0 counts from: the mean, or on the integer
    /// grid the mean rounded.
    static func reconstruct(
        _ symbols: UnsafeBufferPointer<Int32>, machine: StateMachine?, integerGrid: Bool = false,
        into latents: UnsafeMutableBufferPointer<Float>, origin: (Int) -> Float
    ) {
        var chain = Chain(machine)
        for p in symbols.indices {
            let o = origin(p), k = symbols[p]
            latents[p] = o + reconstruction(k, quantiser: chain.quantiser, integerGrid: integerGrid)
            chain.advance(integerGrid ? stateSymbol(k, originParity: IntegerGrid.parity(origin: o)) : k)
        }
    }

    // MARK: - The tables of Q1

    /// Tail mass left to the escape symbol, as the exported Q0 tables (training/neural/export_record.py).
    static let tailMass = 1e-9
    /// Φ⁻¹(1 − tailMass/2): a table covers the mean ± this many scales.
    static let tailScales = 6.1094102049

    /// The cell of Q1's symbol k (≥ 0): the values closer to its reconstruction than to its neighbours'.
    static func cell(_ k: Int) -> (lower: Double, upper: Double) {
        switch k {
        case 0: return (-0.25, 0.25)
        case 1: return (0.25, 1)
        default: return (Double(k - 1), Double(k))
        }
    }

    /// Q1's tables for a Gaussian of each scale of `scaleTable`, in the layout of `CDFTables`:
    /// symbols −t...t with t = ⌈6.109·scale⌉ + 1, each the Gaussian's mass over its cell, the rest
    /// to the escape symbol, quantised to 16 bits as the Q0 tables are. Computed with +, −, ×, ÷
    /// and square roots only (`normalCDF`), so that every machine derives the same integers.
    static func quantiserOneTables(scaleTable: [Float]) throws -> CDFTables {
        var cdf: [Int32] = [], offsets: [Int32] = [0], symbolMin: [Int32] = []
        for scale in scaleTable {
            let s = Double(scale)
            let t = Int((s * tailScales).rounded(.up)) + 1
            var p: [Double] = []
            for k in -t...t {
                let (a, b) = k >= 0 ? cell(k) : (-cell(-k).upper, -cell(-k).lower)
                p.append(normalCDF(b / s) - normalCDF(a / s))
            }
            p.append(max(0, 1 - p.reduce(0, +)))
            let table = quantisedCDF(p)
            cdf += table
            offsets.append(Int32(cdf.count))
            symbolMin.append(Int32(-t))
        }
        return try CDFTables(cdf: cdf, offsets: offsets, symbolMin: symbolMin)
    }

    /// Probabilities → a CDF from 0 to 2^16 with every frequency at least 1: rounded frequencies,
    /// the difference to 2^16 taken from (or given to) the largest ones in turn.
    static func quantisedCDF(_ probabilities: [Double]) -> [Int32] {
        let total = 1 << CDFTables.precisionBits
        let clipped = probabilities.map { max($0, 0) }
        let sum = clipped.reduce(0, +)
        var f = clipped.map { max(1, Int(($0 / sum * Double(total)).rounded(.toNearestOrEven))) }
        var difference = total - f.reduce(0, +)
        let order = f.indices.sorted { f[$0] != f[$1] ? f[$0] > f[$1] : $0 < $1 }
        var i = 0
        while difference != 0 {
            let j = order[i % f.count]
            if difference > 0 {
                f[j] += 1; difference -= 1
            } else if f[j] > 1 {
                f[j] -= 1; difference += 1
            }
            i += 1
        }
        var cdf: [Int32] = [0]
        for v in f { cdf.append(cdf.last! + Int32(v)) }
        return cdf
    }

    /// Φ(x), the standard normal distribution function, from IEEE-exact operations only.
    static func normalCDF(_ x: Double) -> Double { 0.5 * complementaryError(-x / 2.0.squareRoot()) }

    /// erfc(x): 1 − the Taylor series of erf below 2, the continued fraction of erfc above.
    static func complementaryError(_ x: Double) -> Double {
        if x < 0 { return 2 - complementaryError(-x) }
        let rootPi = 1.7724538509055160273
        if x < 2 {
            var term = x, sum = x, n = 0.0
            while n < 80 {
                n += 1
                term *= -x * x / n
                let add = term / (2 * n + 1)
                sum += add
                if abs(add) < 1e-18 { break }
            }
            return 1 - 2 / rootPi * sum
        }
        var f = x
        for n in stride(from: 60.0, through: 1, by: -1) { f = x + (n / 2) / f }
        return exponential(-x * x) / rootPi / f
    }

    /// e^x by range reduction to |r| ≤ ln 2 / 2 and a Taylor polynomial.
    static func exponential(_ x: Double) -> Double {
        if x < -745 { return 0 }
        let ln2 = 0.69314718055994530942
        let n = (x / ln2).rounded(.toNearestOrEven)
        let r = x - n * ln2
        var term = 1.0, sum = 1.0
        for i in 1...20 {
            term *= r / Double(i)
            sum += term
        }
        return Double(sign: .plus, exponent: Int(n), significand: sum)
    }

    // MARK: - The encoder's search

    /// Bits of each symbol index of each table (−log2 of its frequency), for the search. A model
    /// builds those of its two quantisers' y tables once (`HyperpriorModel.yBitCosts`).
    struct BitCosts: Sendable {
        let tables: CDFTables
        let bits: [Float]

        init(_ tables: CDFTables) {
            self.tables = tables
            var bits: [Float] = []
            let total = Float(1 << CDFTables.precisionBits)
            for t in 0..<tables.count {
                for s in 0...tables.inRange(t) { bits.append(-log2(Float(tables.interval(t, s).freq) / total)) }
                bits.append(0)  // keeps one entry per CDF entry: index offsets[t] + s
            }
            self.bits = bits
        }

        /// Bits of value `k` in table `t`; an escaped value costs its escape symbol and 16 bits.
        @inline(__always) func cost(_ k: Int32, table t: Int) -> Float {
            let index = Int(k - tables.symbolMin[t]), n = tables.inRange(t)
            if index >= 0 && index < n { return bits[tables.offsets[t] + index] }
            return bits[tables.offsets[t] + n] + 16
        }
    }

    /// The symbols of one channel (`values[p]` = latent − mean, `tables[p]` its table, in coding
    /// order) that minimise Σ (value − reconstruction)² + λ·bits over every path of `machine`
    /// from state 0. Candidates per latent: the two nearest reconstructions of the state's
    /// quantiser, and its point nearest the mean (symbol 0).
    ///
    /// On the integer grid `origins` is given: `values[p]` = latent − round(mean), and per latent
    /// bit 0 is the parity of round(mean), bit 1 set when the mean lies below it (Q1's point
    /// nearest the mean is then symbol −1).
    static func trellis(
        _ values: UnsafeBufferPointer<Float>, tables: UnsafeBufferPointer<Int32>, machine: StateMachine,
        costs: (q0: BitCosts, q1: BitCosts), lambda: Float, origins: UnsafeBufferPointer<UInt8>? = nil
    ) -> (symbols: [Int32], cost: Float) {
        let integerGrid = origins != nil
        let n = values.count, states = machine.states
        var cost = [Float](repeating: .infinity, count: states), next = cost
        cost[0] = 0
        var previous = [UInt8](repeating: 0, count: n * states)
        var chosen = [Int32](repeating: 0, count: n * states)
        // The latent's candidates, three per quantiser (index 3q + j), with their squared error
        // and weighted bits: computed once and shared by every state of that quantiser.
        var symbol = [Int32](repeating: 0, count: 6), driving = symbol
        var error = [Float](repeating: 0, count: 6), weightedBits = error
        for p in 0..<n {
            let v = searchValue(values[p])
            let t = Int(tables[p])
            let flags = origins?[p] ?? 0, parity = Int32(flags & 1)
            for q in 0..<2 {
                var candidates: (Int32, Int32, Int32)
                if q == 0 {
                    candidates = quantiserZeroCandidates(v)
                } else if integerGrid {
                    // The half-integers k + ½ either side of v, and the one nearest the mean.
                    let k = Int32((v - 0.5).rounded(.down))
                    candidates = (k, k + 1, flags & 2 == 0 ? 0 : -1)
                } else {
                    // Q1's reconstructions k − ½ (k ≥ 1) and k + ½ (k ≤ −1) around v, and zero.
                    let k = Int32((abs(v) + 0.5).rounded(.down)) * (v < 0 ? -1 : 1)
                    candidates = (k, k + (v < 0 ? -1 : 1), 0)
                }
                for j in 0..<3 {
                    let k = j == 0 ? candidates.0 : j == 1 ? candidates.1 : candidates.2
                    let e = v - reconstruction(k, quantiser: q, integerGrid: integerGrid)
                    symbol[3 * q + j] = k
                    error[3 * q + j] = e * e
                    weightedBits[3 * q + j] = lambda * (q == 0 ? costs.q0.cost(k, table: t) : costs.q1.cost(k, table: t))
                    driving[3 * q + j] = stateSymbol(k, originParity: parity)
                }
            }
            for s in 0..<states { next[s] = .infinity }
            for s in 0..<states where cost[s] < .infinity {
                let first = 3 * machine.quantiser(s)
                for i in first..<(first + 3) {
                    // The same sum, in the same order, as a cost computed per state.
                    let c = cost[s] + error[i] + weightedBits[i]
                    let ns = machine.next(s, driving[i])
                    if c < next[ns] {
                        next[ns] = c
                        previous[p * states + ns] = UInt8(s)
                        chosen[p * states + ns] = symbol[i]
                    }
                }
            }
            swap(&cost, &next)
        }
        var state = cost.indices.min { cost[$0] < cost[$1] } ?? 0
        let total = cost[state]
        var symbols = [Int32](repeating: 0, count: n)
        for p in stride(from: n - 1, through: 0, by: -1) {
            symbols[p] = chosen[p * states + state]
            state = Int(previous[p * states + state])
        }
        return (symbols, total)
    }

    /// The symbols of one channel on quantiser 0 alone, each the cheapest of the trellis' candidates
    /// of quantiser 0 (the two nearest points and symbol 0) by the same cost, and their total cost:
    /// what the channel codes when it does not follow the state machine.
    static func quantiserZero(
        _ values: UnsafeBufferPointer<Float>, tables: UnsafeBufferPointer<Int32>, costs: BitCosts, lambda: Float
    ) -> (symbols: [Int32], cost: Float) {
        var symbols = [Int32](repeating: 0, count: values.count), total: Float = 0
        for p in values.indices {
            let v = searchValue(values[p]), t = Int(tables[p]), candidates = quantiserZeroCandidates(v)
            var best: (k: Int32, cost: Float) = (0, .infinity)
            for j in 0..<3 {
                let k = j == 0 ? candidates.0 : j == 1 ? candidates.1 : candidates.2
                let e = v - reconstruction(k, quantiser: 0)
                let c = e * e + lambda * costs.cost(k, table: t)
                if c < best.cost { best = (k, c) }
            }
            symbols[p] = best.k
            total += best.cost
        }
        return (symbols, total)
    }

    /// A latent's offset from its mean as the search takes it: clamped so that its candidates stay
    /// far inside Int32, a non-finite one as 0.
    @inline(__always) static func searchValue(_ v: Float) -> Float { v.isFinite ? min(max(v, -1e6), 1e6) : 0 }

    /// Quantiser 0's candidates for `v`, in the order the search tries them: the two nearest
    /// integers, then symbol 0.
    @inline(__always) static func quantiserZeroCandidates(_ v: Float) -> (Int32, Int32, Int32) {
        let k = Int32(v.rounded(.down))
        return (k, k + 1, 0)
    }
}
