import ArgumentParser
import NICCore

/// `--models DIR` and `--threads N`, shared by the commands that run networks.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model directory holding settings.json (default: NIC_MODEL_DIR, the installed models, or ./models of a checkout).")
    var models: String?

    @Option(help: "Worker threads (0 = one per core).") var threads: Int = 0

    /// The model store, or an error naming where it looked.
    func store() throws -> ModelStore {
        guard let directory = models ?? ModelLocator.defaultDirectory(binaryPath: ModelLocator.executablePath) else {
            throw NICError.model("no model directory found: pass --models DIR or set NIC_MODEL_DIR")
        }
        return try ModelStore(directory: directory)
    }

    /// Like `store()`, but nil when no models are installed (decoding then falls back).
    func optionalStore() throws -> ModelStore? {
        if models == nil, ModelLocator.defaultDirectory(binaryPath: ModelLocator.executablePath) == nil { return nil }
        return try store()
    }

    func device() throws -> ComputeDevice { try ComputeDevice(threads: threads) }
}
