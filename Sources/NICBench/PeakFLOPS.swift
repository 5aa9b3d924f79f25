import NICCore
import CPUInfo

/// Measures the machine's peak single-precision FLOP rate with independent FMA
/// streams on every worker (the widest vector ISA the CPU has, chosen at run time).
public enum PeakFLOPS {
    public static var instructionSet: String { String(cString: cpuinfo_fma_isa()) }

    /// GFLOP/s over `threads` workers, best of `rounds` bursts of about 0.1 s.
    public static func measure(threads: Int, rounds: Int = 5) -> Double {
        let iterations: UInt64 = 20_000_000
        var best = 0.0
        for _ in 0..<rounds {
            let start = monotonicSeconds()
            var flops = [UInt64](repeating: 0, count: threads)
            flops.withUnsafeMutableBufferPointer { out in
                Workers(count: threads).parallelFor(threads) { range in
                    for t in range { out[t] = cpuinfo_fma_burst(iterations) }
                }
            }
            let seconds = monotonicSeconds() - start
            best = max(best, Double(flops.reduce(0, +)) / seconds / 1e9)
        }
        return best
    }
}
