/// A small deterministic generator (SplitMix64): the encoder's stochastic rounding and the
/// benchmarks' and tests' pseudo-random data, the same on every run and machine.
public struct SplitMix {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in 0..<n.
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// A number strictly between 0 and 1 (24 random bits, centred in their interval).
    public mutating func open01() -> Float { (Float(next() >> 40) + 0.5) / 16_777_216 }
}
