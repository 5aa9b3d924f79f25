import CFFmpeg
import Glibc
import NICCore

/// FFmpeg's own text for an error code, e.g. "Invalid data found when processing input".
func ffmpegErrorString(_ code: Int32) -> String {
    // av_strerror always writes a terminated string (a generic one for unknown codes).
    var buffer = [CChar](repeating: 0, count: 128)
    return buffer.withUnsafeMutableBufferPointer { buf -> String in
        _ = nic_av_strerror(code, buf.baseAddress, buf.count)
        return String(cString: buf.baseAddress!)
    }
}

/// The `NICError` an FFmpeg error code stands for. Codes that do not tell what went wrong
/// by themselves (EINVAL, ERANGE, ...) become `otherwise`, chosen by the caller's context:
/// a failing decoder means corrupt input, a failing encoder an internal problem.
func nicError(
    _ code: Int32, _ what: String,
    otherwise: (String) -> NICError = NICError.internal
) -> NICError {
    let message = "\(what): \(ffmpegErrorString(code))"
    switch code {
    case nic_averror_invaliddata(), nic_averror_eof():
        return .corruptData(message)
    case nic_averror(ENOMEM):
        return .outOfMemory(message)
    // Not EPERM: AVERROR(EPERM) is -1, which many FFmpeg functions return for any failure.
    case nic_averror(ENOENT), nic_averror(EACCES), nic_averror(EISDIR),
        nic_averror(ENOTDIR), nic_averror(EIO), nic_averror(ENOSPC), nic_averror(EROFS):
        return .io(message)
    case nic_averror_stream_not_found(), nic_averror_decoder_not_found(),
        nic_averror_encoder_not_found(), nic_averror_demuxer_not_found(), nic_averror(ENOSYS):
        return .unsupportedFormat(message)
    default:
        return otherwise(message)
    }
}

/// Throws the matching `NICError` when an FFmpeg call returned a negative code.
func check(
    _ ret: Int32, _ what: String,
    otherwise: (String) -> NICError = NICError.internal
) throws {
    if ret < 0 { throw nicError(ret, what, otherwise: otherwise) }
}

/// The message of the C library's current `errno`, for failing POSIX calls.
