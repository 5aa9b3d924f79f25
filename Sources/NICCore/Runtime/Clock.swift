#if canImport(Glibc)
    import Glibc
#endif

/// Monotonic wall-clock time in seconds, for benchmarks and progress reports.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Median and 95th percentile of a list of timings.
public struct TimingSummary: Sendable {
    public let median: Double
    public let p95: Double
    public let best: Double

    public init(_ samples: [Double]) {
        let sorted = samples.sorted()
        median = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        p95 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.95).rounded(.up)) - 1)]
        best = sorted.first ?? 0
    }
}
