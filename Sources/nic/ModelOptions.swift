import ArgumentParser
import NICCore

/// `--models DIR`, `--threads N` and `--precision P`, shared by the commands that run networks.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model directory holding settings.json (default: NIC_MODEL_DIR, the installed models, or ./models of a checkout).")
    var models: String?

    @Option(help: "Worker threads (0 = one per core).") var threads: Int = 0

    @Option(
        help:
            "Network arithmetic: auto (int8 on CPUs with VNNI for networks with int8 ranges, else bf16 on CPUs with AVX512_BF16, else fp32), fp32, bf16 or int8."
    )
    var precision: String = "auto"

    /// The model store, or an error naming where it looked.
    func store() throws -> ModelStore {
        guard let directory = models ?? ModelLocator.defaultDirectory(binaryPath: ModelLocator.executablePath) else {
            throw NICError.model("no model directory found: pass --models DIR or set NIC_MODEL_DIR")
        }
        return try ModelStore(directory: directory)
    }

    /// The models for decoding, or nil when there are none usable (`ModelStore.forDecoding`):
    /// decoding then falls back. A directory that exists but cannot be used is reported.
    func optionalStore() -> ModelStore? {
        let directory = models ?? ModelLocator.defaultDirectory(binaryPath: ModelLocator.executablePath)
        let (store, problem) = ModelStore.forDecoding(directory: directory)
        if let problem, directory != nil { printWarning("upscaling without AI: \(problem)") }
        return store
    }

    func device() throws -> ComputeDevice {
        let device = try ComputeDevice(threads: threads)
        device.precision = try PrecisionRequest(parsing: precision)
        try device.precision.check(on: .current)
        return device
    }
}
