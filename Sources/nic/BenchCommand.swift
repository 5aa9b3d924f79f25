import ArgumentParser
import NICCore

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks (measurements, not tests).",
        subcommands: [ConvBench.self])
}

struct ConvBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv",
        abstract: "3x3 32->32 convolution on 960x540: the engine vs. im2col + SGEMM, and the machine's peak.")

    @Option(help: "Worker threads (0 = one per core).") var threads: Int = 1
    @Option(help: "Timed repetitions per variant.") var repeats: Int = 10
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try runReportingErrors {
            let resolved = threads == 0 ? ComputeDevice.onlineCPUs : threads
            let bench = ConvBenchmark(threads: resolved, repeats: max(1, repeats))
            let engine = try bench.runEngine()
            let alternative = try bench.runIm2colGemm()
            let peak = PeakFLOPS.measure(threads: resolved)
            if json {
                print(JSONValue.object([
                    "gflops": .number(rounded(engine.gflops)),
                    "peak_gflops": .number(rounded(peak)),
                    "threads": .number(Double(resolved)),
                    "backend": .string(engine.name),
                    "ms": .number(rounded(engine.medianMs)),
                    "fraction_of_peak": .number(rounded(engine.gflops / peak, 3)),
                    "isa": .string(PeakFLOPS.instructionSet),
                    "alternative": .object(["name": .string(alternative.name), "gflops": .number(rounded(alternative.gflops)),
                                            "ms": .number(rounded(alternative.medianMs))]),
                    "speedup_vs_alternative": .number(rounded(engine.gflops / alternative.gflops, 2)),
                ]).serialized)
                return
            }
            print("3x3 conv 32->32 on 960x540, \(resolved) thread(s), median of \(bench.repeats):")
            for r in [engine, alternative] {
                print("  \(r.name): \(fmt(r.medianMs)) ms, \(fmt(r.gflops)) GFLOP/s")
            }
            print("  peak (\(PeakFLOPS.instructionSet) FMA micro-benchmark): \(fmt(peak)) GFLOP/s; engine reaches \(fmt(100 * engine.gflops / peak))%")
        }
    }
}

func rounded(_ x: Double, _ digits: Int = 1) -> Double {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    return (x * scale).rounded() / scale
}

func fmt(_ x: Double) -> String { String(rounded(x)) }
