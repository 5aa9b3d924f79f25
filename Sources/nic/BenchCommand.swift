import ArgumentParser
import NICCore
import NICBench

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks (measurements, not tests).",
        subcommands: [ConvBench.self, UpscaleBench.self, CodecBench.self])
}

struct UpscaleBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upscale",
        abstract: "AI up-scaling of 4:2:0 frames with a setting: frames/s, ms per frame, GFLOP/s, share of peak, memory.")

    @Option(help: "NN setting whose up network runs.") var setting: Int = 1
    @Option(help: "Input frame size WIDTHxHEIGHT.") var size: String = "960x540"
    @Option(help: "Timed frames (after one warm-up frame).") var frames: Int = 30
    @Option(help: "Models directory (default: as the other commands).") var models: String?
    @Option(help: "Worker threads (0 = one per core).") var threads: Int = 0
    @Option(
        help:
            "Network arithmetic: auto, fp32, bf16 or int8 (auto: int8 on CPUs with VNNI when the network has int8 ranges, else bf16 on CPUs with AVX512_BF16)."
    )
    var precision: String = "auto"
    @Flag(help: "Print one JSON object (last line).") var json = false

    func run() throws {
        try runReportingErrors {
            guard let (width, height) = parseSize(size) else { throw NICError.invalidArgument("--size must look like 960x540") }
            guard (1...100_000).contains(frames) else { throw NICError.invalidArgument("--frames must be 1...100000") }
            let options = try ModelOptions.parse(
                (models.map { ["--models", $0] } ?? []) + ["--threads", "\(threads)", "--precision", precision])
            let device = try options.device()
            let bench = UpscaleBenchmark(
                store: try options.store(), settingID: setting, width: width, height: height,
                frames: frames, device: device)
            let r = try bench.run()
            let peak = PeakFLOPS.measure(threads: device.threads)
            let growth = max(0, r.peakResidentBytes - r.residentBeforeBytes)
            if json {
                print(
                    JSONValue.object([
                        "setting": .number(Double(setting)), "input": .string(size), "threads": .number(Double(device.threads)),
                        "precision": .string(r.precision.precision.rawValue), "precision_reason": .string(r.precision.reason),
                        "frames": .number(Double(frames)), "fps": .number(rounded(r.fps, 2)),
                        "ms_median": .number(rounded(r.medianMs, 2)), "ms_p95": .number(rounded(r.p95Ms, 2)),
                        "gflops": .number(rounded(r.gflops, 1)), "peak_gflops": .number(rounded(peak, 1)),
                        "fraction_of_peak": .number(rounded(r.gflops / peak, 3)), "isa": .string(PeakFLOPS.instructionSet),
                        "network_gflop_per_frame": .number(rounded(r.flopsPerFrame / 1e9, 3)),
                        "resident_before_mb": .number(rounded(Double(r.residentBeforeBytes) / 1048576, 1)),
                        "peak_resident_mb": .number(rounded(Double(r.peakResidentBytes) / 1048576, 1)),
                        "resident_growth_mb": .number(rounded(Double(growth) / 1048576, 1)),
                    ]).serialized)
                return
            }
            print("setting \(setting), \(size) yuv420p, \(device.threads) thread(s), \(frames) frames:")
            print("  \(r.precision.precision.rawValue): \(r.precision.reason)")
            print("  \(fmt(r.fps)) frames/s, \(fmt(r.medianMs)) ms median, \(fmt(r.p95Ms)) ms p95")
            print(
                "  network \(fmt(r.gflops)) GFLOP/s = \(fmt(100 * r.gflops / peak))% of \(fmt(peak)) GFLOP/s peak (\(PeakFLOPS.instructionSet))"
            )
            print("  resident memory growth \(fmt(Double(growth) / 1048576)) MB (peak \(fmt(Double(r.peakResidentBytes) / 1048576)) MB)")
        }
    }
}

struct ConvBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv",
        abstract:
            "3x3 32->32 convolution on 960x540: the engine (fp32, int8, and bf16 on AVX512_BF16 CPUs) vs. im2col + SGEMM, and the machine's peak."
    )

    @Option(help: "Worker threads (0 = one per core).") var threads: Int = 1
    @Option(help: "Timed repetitions per variant.") var repeats: Int = 10
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try runReportingErrors {
            let resolved = threads == 0 ? ComputeDevice.onlineCPUs : threads
            let bench = ConvBenchmark(threads: resolved, repeats: max(1, repeats))
            let engine = try bench.runEngine()
            let alternative = try bench.runIm2colGemm()
            let int8 = try bench.runEngineInt8()
            let bf16 = CPUFeatures.current.avx512BF16 ? try bench.runEngineBF16() : nil
            let peak = PeakFLOPS.measure(threads: resolved)
            if json {
                print(
                    JSONValue.object([
                        "gflops": .number(rounded(engine.gflops)),
                        "peak_gflops": .number(rounded(peak)),
                        "threads": .number(Double(resolved)),
                        "backend": .string(engine.name),
                        "ms": .number(rounded(engine.medianMs)),
                        "fraction_of_peak": .number(rounded(engine.gflops / peak, 3)),
                        "isa": .string(PeakFLOPS.instructionSet),
                        "alternative": .object([
                            "name": .string(alternative.name), "gflops": .number(rounded(alternative.gflops)),
                            "ms": .number(rounded(alternative.medianMs)),
                        ]),
                        "speedup_vs_alternative": .number(rounded(engine.gflops / alternative.gflops, 2)),
                        "int8": .object([
                            "name": .string(int8.name), "giga_ops": .number(rounded(int8.gflops)),
                            "ms": .number(rounded(int8.medianMs)),
                            "speedup_vs_fp32": .number(rounded(engine.medianMs / int8.medianMs, 2)),
                        ]),
                        "bf16": bf16.map { b in
                            .object([
                                "name": .string(b.name), "gflops": .number(rounded(b.gflops)), "ms": .number(rounded(b.medianMs)),
                                "speedup_vs_fp32": .number(rounded(engine.medianMs / b.medianMs, 2)),
                            ])
                        } ?? .null,
                    ]).serialized)
                return
            }
            print("3x3 conv 32->32 on 960x540, \(resolved) thread(s), median of \(bench.repeats):")
            for r in [engine, alternative] {
                print("  \(r.name): \(fmt(r.medianMs)) ms, \(fmt(r.gflops)) GFLOP/s")
            }
            print(
                "  \(int8.name): \(fmt(int8.medianMs)) ms, \(fmt(int8.gflops)) giga-ops/s, \(rounded(engine.medianMs / int8.medianMs, 2))x fp32"
            )
            if let bf16 {
                print(
                    "  \(bf16.name): \(fmt(bf16.medianMs)) ms, \(fmt(bf16.gflops)) GFLOP/s, \(rounded(engine.medianMs / bf16.medianMs, 2))x fp32"
                )
            }
            print(
                "  peak (\(PeakFLOPS.instructionSet) FMA micro-benchmark): \(fmt(peak)) GFLOP/s; engine reaches \(fmt(100 * engine.gflops / peak))%"
            )
        }
    }
}

func rounded(_ x: Double, _ digits: Int = 1) -> Double {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    return (x * scale).rounded() / scale
}

func fmt(_ x: Double) -> String { String(rounded(x)) }
