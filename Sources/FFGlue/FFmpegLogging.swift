import CFFmpeg
import NICCore
#if canImport(Glibc)
    import Glibc
#endif

/// FFmpeg's log output, which is process-wide. Programs that report errors themselves (the
/// `nic` tool) silence it; a library caller routes the messages FFmpeg and its encoders print
/// during one of its calls to its own sink with `routing(to:_:)`.
public enum FFmpegLogging {
    public static func silence() { av_log_set_level(AV_LOG_QUIET) }

    /// How much an FFmpeg message matters to the caller: libnic reports every failure itself,
    /// so FFmpeg's errors and warnings are details (`.info`), its information `.debug`, and
    /// anything more verbose is dropped.
    public enum Level: Sendable { case info, debug }

    public typealias Sink = (Level, String) -> Void

    /// Runs `body` with the FFmpeg messages of the calling thread going to `sink`. While any
    /// such call runs, messages from threads without a sink (FFmpeg's and the encoders' worker
    /// threads) are dropped; outside them FFmpeg prints as it would without libnic. The router
    /// is installed on first use and stays for the life of the process.
    public static func routing<T>(to sink: @escaping Sink, _ body: () throws -> T) rethrows -> T {
        _ = installed
        let previous = pthread_getspecific(sinkKey)
        let box = Unmanaged.passRetained(SinkBox(sink))
        pthread_setspecific(sinkKey, box.toOpaque())
        adjustCallsInFlight(+1)
        defer {
            adjustCallsInFlight(-1)
            pthread_setspecific(sinkKey, previous)
            box.release()
        }
        return try body()
    }

    private final class SinkBox {
        let sink: Sink
        init(_ sink: @escaping Sink) { self.sink = sink }
    }

    nonisolated(unsafe) private static var sinkKey = pthread_key_t()
    nonisolated(unsafe) private static var callsInFlight = 0
    nonisolated(unsafe) private static var lock = pthread_mutex_t()

    private static let installed: Bool = {
        pthread_key_create(&sinkKey, nil)
        pthread_mutex_init(&lock, nil)
        av_log_set_callback { context, level, format, arguments in
            FFmpegLogging.deliver(context, level, format, arguments)
        }
        return true
    }()

    private static func adjustCallsInFlight(_ delta: Int) {
        pthread_mutex_lock(&lock)
        callsInFlight += delta
        pthread_mutex_unlock(&lock)
    }

    private static func deliver(
        _ context: UnsafeMutableRawPointer?, _ level: Int32, _ format: UnsafePointer<CChar>?,
        _ arguments: CVaListPointer?
    ) {
        guard let arguments else { return }
        guard let raw = pthread_getspecific(sinkKey) else {
            pthread_mutex_lock(&lock)
            let busy = callsInFlight > 0
            pthread_mutex_unlock(&lock)
            if !busy { av_log_default_callback(context, level, format, arguments) }
            return
        }
        guard level <= AV_LOG_INFO, level <= av_log_get_level() else { return }
        var line = [CChar](repeating: 0, count: 1024)
        var printPrefix: Int32 = 1
        _ = av_log_format_line2(context, level, format, arguments, &line, Int32(line.count), &printPrefix)
        var text = String(cString: line)
        while text.last == "\n" || text.last == "\r" { text.removeLast() }
        guard !text.isEmpty else { return }
        let box = Unmanaged<SinkBox>.fromOpaque(raw).takeUnretainedValue()
        box.sink(level <= AV_LOG_WARNING ? .info : .debug, "ffmpeg: " + text)
    }
}
