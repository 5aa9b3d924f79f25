import CNicAPI
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

    init(config: NicConfig) throws {
        device = try ComputeDevice(threads: Int(config.threads))
        modelDirectory = config.model_dir.map { String(cString: $0) }
        logCallback = config.log_callback
        logUserData = config.log_user_data
        logLevel = config.log_level
        lastError = strdup("")
    }

    deinit { free(lastError) }

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
            try body()
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
