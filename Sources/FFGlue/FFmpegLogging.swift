import CFFmpeg

/// FFmpeg's own log output (stderr, process-wide). The library never changes it;
/// programs such as the `nic` tool that report errors themselves silence it.
public enum FFmpegLogging {
    public static func silence() { av_log_set_level(AV_LOG_QUIET) }
}
