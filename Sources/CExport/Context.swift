import CNicAPI
import FFGlue
import NICCore
#if canImport(Glibc)
    import Glibc
#endif

/// What a NicContext handle points to: the compute device, the configuration and
/// the last error message. Used from one thread at a time (see nic.h).
final class Context {
    let device: ComputeDevice
    let modelDirectory: String?
    private let logCallback: NicLogCallback?
    private let logUserData: UnsafeMutableRawPointer?
    private let logLevel: NicLogLevel
    private var lastError: UnsafeMutablePointer<CChar>
    let genericAIFallback: Bool
    /// `nic_set_progress`: the long jobs' progress callback and its user data.
    var progress: (NicProgressCallback, UnsafeMutableRawPointer?)?
    private var modelStore: ModelStore?
    private var upscaler: FrameUpscaler?
    /// The neural image codecs made on this context, by model ID: the record's, and those of
    /// any other model of the directory that files named.
    private var imageCodecs: [UInt32: NeuralImageCodec] = [:]
    private var layeredImageCodec: LayeredImageCodec?
    /// The last upscale's setting, whether AI data drove it, and the fallback reason (C string or nil).
    var lastUpscale: (settingID: Int, usedAIData: Bool, reason: UnsafeMutablePointer<CChar>?) = (0, false, nil)
    /// The reason nic_setting_precision returned last (C string or nil).
    private var precisionReason: UnsafeMutablePointer<CChar>?

    init(config: NicConfig) throws {
        let device = try ComputeDevice(threads: Int(config.threads))
        device.precision = Context.precisionRequest(config.precision)
        self.device = device
        modelDirectory = config.model_dir.map { String(cString: $0) }
        logCallback = config.log_callback
        logUserData = config.log_user_data
        logLevel = config.log_level
        lastError = strdup("")
        genericAIFallback = config.generic_ai_fallback != 0
    }

    deinit {
        free(lastError)
        free(lastUpscale.reason)
        free(precisionReason)
    }

    /// A NicPrecision (validated by nic_context_create) as the engine's request.
    static func precisionRequest(_ p: NicPrecision) -> PrecisionRequest {
        switch p {
        case NIC_PRECISION_FP32: return .fp32
        case NIC_PRECISION_BF16: return .bf16
        case NIC_PRECISION_INT8: return .int8
        default: return .auto
        }
    }

    /// The models of `model_dir`, else of the default location beside the installed library; loaded once.
    func models() throws -> ModelStore {
        if let modelStore { return modelStore }
        guard let directory else {
            throw NICError.model("no model directory: set NicConfig.model_dir or NIC_MODEL_DIR, or install the models")
        }
        let store = try ModelStore(directory: directory)
        modelStore = store
        return store
    }

    private var directory: String? { modelDirectory ?? ModelLocator.defaultDirectory(binaryPath: Context.libraryPath) }

    /// The models for decoding, or nil with a logged warning when there are none usable
    /// (`ModelStore.forDecoding`): upscaling then falls back instead of failing. `what` names
    /// what is upscaled, for the warning.
    func modelsIfAny(for what: String) -> ModelStore? {
        if let modelStore { return modelStore }
        let (store, problem) = ModelStore.forDecoding(directory: directory)
        if let problem { log(NIC_LOG_WARNING, "\(what) will be upscaled without AI: \(problem)") }
        modelStore = store
        return store
    }

    /// The stream state of nic_upscale_frame: created on first use. Without usable models it
    /// still works (frames then take Lanczos, and say why).
    func frameUpscaler() throws -> FrameUpscaler {
        if let upscaler { return upscaler }
        let made = FrameUpscaler(
            store: modelsIfAny(for: "frames"), device: device,
            options: .init(allowGenericFallback: genericAIFallback),
            warn: { [weak self] in self?.log(NIC_LOG_WARNING, $0) })
        upscaler = made
        return made
    }

    /// The neural image codec that codes `quality` (`ModelStore.neuralCodecModel(quality:)`) on
    /// this context's device: created on first use.
    func neuralCodec(quality: Int) throws -> NeuralImageCodec { codec(for: try models().neuralCodecModel(quality: quality)) }

    /// The neural image codec that decodes the single-layer file `bytes`, with the model its
    /// header names (`NeuralImageCodec.model(decoding:in:)`), on this context's device.
    func neuralCodec(decoding bytes: [UInt8]) throws -> NeuralImageCodec {
        codec(for: try NeuralImageCodec.model(decoding: bytes, in: try models()))
    }

    private func codec(for model: HyperpriorModel) -> NeuralImageCodec {
        if let made = imageCodecs[model.modelID] { return made }
        let made = NeuralImageCodec(model: model, device: device)
        imageCodecs[model.modelID] = made
        return made
    }

    /// The layered codec (image codec, residual codec, LIFF) on this context's device: created on first use.
    func layeredCodec() throws -> LayeredImageCodec {
        if let layeredImageCodec { return layeredImageCodec }
        let made = try LayeredImageCodec(store: try models(), device: device)
        layeredImageCodec = made
        return made
    }

    func resetFrames() { upscaler?.reset() }

    /// Path of the loaded libnic.so, to find `<prefix>/share/nic` beside `<prefix>/lib`.
    static var libraryPath: String? { ModelLocator.mappedFile(containing: #dsohandle) }

    func setLastUpscale(settingID: Int, usedAIData: Bool, reason: String?) {
        free(lastUpscale.reason)
        lastUpscale = (settingID, usedAIData, reason.map { strdup($0) })
    }

    /// The precision plan of the up network of `settingID` in `store` on this context.
    func upPrecisionPlan(settingID: Int, in store: ModelStore) throws -> PrecisionPlan {
        try store.network(try store.setting(id: settingID), .up).precisionPlan(device.precision)
    }

    /// `reason` as a C string owned by the context until the next call that replaces it.
    func keepPrecisionReason(_ reason: String) -> UnsafePointer<CChar>? {
        free(precisionReason)
        precisionReason = strdup(reason)
        return precisionReason.map { UnsafePointer($0) }
    }

    var lastErrorPointer: UnsafePointer<CChar> { UnsafePointer(lastError) }

    func setLastError(_ message: String) {
        free(lastError)
        lastError = strdup(message)
    }

    func log(_ level: NicLogLevel, _ message: String) {
        guard let logCallback, level.rawValue <= logLevel.rawValue else { return }
        message.withCString { logCallback(logUserData, level, $0) }
    }

    /// Runs `body`, turning thrown errors into a status and the context's last error.
    func run(_ body: () throws -> Void) -> NicStatus {
        do {
            try FFmpegLogging.routing(
                to: { [self] level, message in
                    log(level == .info ? NIC_LOG_INFO : NIC_LOG_DEBUG, message)
                }, body)
            setLastError("")
            return NIC_OK
        } catch let error as NICError {
            setLastError(error.message)
            log(NIC_LOG_ERROR, error.message)
            return error.status
        } catch let error as BoundaryError {
            setLastError(error.message)
            log(NIC_LOG_ERROR, error.message)
            return error.status
        } catch {
            setLastError("unexpected error: \(error)")
            return NIC_ERROR_INTERNAL
        }
    }

    static func from(_ handle: OpaquePointer?) -> Context? {
        handle.map { Unmanaged<Context>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
    }
}
