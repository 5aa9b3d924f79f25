import CFFmpeg
import NICCore

// Moving pixels between NICCore's PlanarImage and FFmpeg's AVFrame, and converting between
// pixel formats with libswscale. Conventions: rgb24 and gray8 are full range; yuv420p and
// yuv444p are BT.601 limited ("TV") range, as FFmpeg means by those names.

extension PixelFormat {
    /// The FFmpeg pixel format with the same memory layout.
    var avPixelFormat: AVPixelFormat {
        switch self {
        case .yuv420p: return AV_PIX_FMT_YUV420P
        case .yuv444p: return AV_PIX_FMT_YUV444P
        case .rgb24: return AV_PIX_FMT_RGB24
        case .gray8: return AV_PIX_FMT_GRAY8
        }
    }

    var isYUV: Bool { self == .yuv420p || self == .yuv444p }
}

extension UnsafeMutablePointer where Pointee == AVFrame {
    /// Start of plane `i` (0..<8); the C array is a tuple in Swift.
    func plane(_ i: Int) -> UnsafeMutablePointer<UInt8>? {
        withUnsafeBytes(of: pointee.data) {
            $0.load(
                fromByteOffset: i * MemoryLayout<UnsafeMutablePointer<UInt8>?>.stride,
                as: UnsafeMutablePointer<UInt8>?.self)
        }
    }

    func linesize(_ i: Int) -> Int32 {
        withUnsafeBytes(of: pointee.linesize) { $0.load(fromByteOffset: i * MemoryLayout<Int32>.stride, as: Int32.self) }
    }

    var pixelFormat: AVPixelFormat { AVPixelFormat(rawValue: pointee.format) }
}

/// Name of an FFmpeg pixel format for messages.
func pixelFormatName(_ format: AVPixelFormat) -> String {
    av_get_pix_fmt_name(format).map { String(cString: $0) } ?? "unknown(\(format.rawValue))"
}

/// A new frame with its own aligned, padded buffers (SIMD code may read past the row end,
/// which tightly packed PlanarImage planes do not allow). Free it with av_frame_free.
func allocateFrame(
    format: AVPixelFormat, width: Int, height: Int,
    range: AVColorRange
) throws -> UnsafeMutablePointer<AVFrame> {
    guard let frame = av_frame_alloc() else { throw NICError.outOfMemory("cannot allocate a frame") }
    frame.pointee.format = format.rawValue
    frame.pointee.width = Int32(width)
    frame.pointee.height = Int32(height)
    frame.pointee.color_range = range
    let ret = av_frame_get_buffer(frame, 0)
    if ret < 0 {
        var owned: UnsafeMutablePointer<AVFrame>? = frame
        av_frame_free(&owned)
        throw nicError(ret, "cannot allocate a \(width)x\(height) \(pixelFormatName(format)) frame")
    }
    return frame
}

/// An AVFrame holding a copy of `image`. Free it with av_frame_free.
func makeFrame(from image: PlanarImage) throws -> UnsafeMutablePointer<AVFrame> {
    let frame = try allocateFrame(
        format: image.format.avPixelFormat, width: image.width, height: image.height,
        range: image.format.isYUV ? AVCOL_RANGE_MPEG : AVCOL_RANGE_JPEG)
    if image.format.isYUV { frame.pointee.colorspace = AVCOL_SPC_SMPTE170M }
    image.withPlaneViews { views in
        for (p, view) in views.enumerated() {
            av_image_copy_plane(
                frame.plane(p), frame.linesize(p), view.row(0), Int32(view.stride),
                Int32(view.width * view.channels), Int32(view.height))
        }
    }
    return frame
}

/// Copies a frame that is already in `format`'s layout into a new PlanarImage.
func makeImage(from frame: UnsafeMutablePointer<AVFrame>, format: PixelFormat) throws -> PlanarImage {
    guard frame.pixelFormat == format.avPixelFormat else {
        throw NICError.internal("a \(pixelFormatName(frame.pixelFormat)) frame cannot become a \(format) image")
    }
    var image = try PlanarImage(format: format, width: Int(frame.pointee.width), height: Int(frame.pointee.height))
    image.withMutablePlaneViews { views in
        for (p, view) in views.enumerated() {
            av_image_copy_plane(
                view.row(0), Int32(view.stride), frame.plane(p), frame.linesize(p),
                Int32(view.width * view.channels), Int32(view.height))
        }
    }
    return image
}

/// True when the source is a grey-only format (gray, gray+alpha, 1-bit, any depth).
func isGrayFormat(_ format: AVPixelFormat) -> Bool {
    guard let desc = av_pix_fmt_desc_get(format) else { return false }
    return !isRGBFormat(format) && desc.pointee.nb_components <= 2
}

/// True for packed/planar RGB and palette formats (alpha or not, any depth).
func isRGBFormat(_ format: AVPixelFormat) -> Bool {
    guard let desc = av_pix_fmt_desc_get(format) else { return false }
    return desc.pointee.flags & (UInt64(AV_PIX_FMT_FLAG_RGB) | UInt64(AV_PIX_FMT_FLAG_PAL)) != 0
}

/// True for a palette frame whose 256 entries are all grey: BMP and PNG store 8-bit grey
/// images that way, and they should read back as gray8.
func hasGrayPalette(_ frame: UnsafeMutablePointer<AVFrame>) -> Bool {
    guard frame.pixelFormat == AV_PIX_FMT_PAL8, let palette = frame.plane(1) else { return false }
    return UnsafeRawPointer(palette).withMemoryRebound(to: UInt32.self, capacity: 256) { entries in
        (0..<256).allSatisfy { i in  // native-endian 0xAARRGGBB
            let argb = entries[i]
            return (argb >> 16) & 0xFF == (argb >> 8) & 0xFF && (argb >> 8) & 0xFF == argb & 0xFF
        }
    }
}

/// The yuvj* formats are yuv* with full range; swscale wants the plain format plus an explicit
/// range (it warns about the deprecated ones), so split them.
private func withoutJPEGAlias(_ format: AVPixelFormat) -> (format: AVPixelFormat, fullRange: Bool) {
    switch format {
    case AV_PIX_FMT_YUVJ420P: return (AV_PIX_FMT_YUV420P, true)
    case AV_PIX_FMT_YUVJ422P: return (AV_PIX_FMT_YUV422P, true)
    case AV_PIX_FMT_YUVJ444P: return (AV_PIX_FMT_YUV444P, true)
    case AV_PIX_FMT_YUVJ440P: return (AV_PIX_FMT_YUV440P, true)
    case AV_PIX_FMT_YUVJ411P: return (AV_PIX_FMT_YUV411P, true)
    default: return (format, false)
    }
}

/// Whether a frame's samples span 0...255 (RGB, grey, yuvj*, or tagged full range).
private func isFullRange(_ frame: UnsafeMutablePointer<AVFrame>) -> Bool {
    let format = frame.pixelFormat
    if withoutJPEGAlias(format).fullRange { return true }
    if isRGBFormat(format) { return true }
    switch frame.pointee.color_range {
    case AVCOL_RANGE_JPEG: return true
    case AVCOL_RANGE_MPEG: return false
    default: return isGrayFormat(format)  // untagged grey images (PNG, PGM) are full range
    }
}

/// swscale coefficient table for a frame's YUV matrix; BT.601 unless tagged otherwise.
private func coefficients(_ frame: UnsafeMutablePointer<AVFrame>) -> UnsafePointer<Int32> {
    switch frame.pointee.colorspace {
    case AVCOL_SPC_BT709: return sws_getCoefficients(SWS_CS_ITU709)
    case AVCOL_SPC_BT2020_NCL, AVCOL_SPC_BT2020_CL: return sws_getCoefficients(SWS_CS_BT2020)
    default: return sws_getCoefficients(SWS_CS_ITU601)
    }
}

/// Converts `src` into `dst` (same size, buffers allocated, format and color_range set).
/// No resizing happens, so the flags only ask for exact rounding and full-resolution
/// chroma handling, and pick the 4:2:0 chroma filter: bicubic, because with it
/// rgb -> yuv420p -> rgb -> yuv420p comes back unchanged (bilinear drifts by about one level
/// per round trip in FFmpeg 5.1, point sampling loses detail).
func convertFrame(_ src: UnsafeMutablePointer<AVFrame>, into dst: UnsafeMutablePointer<AVFrame>) throws {
    let from = withoutJPEGAlias(src.pixelFormat), to = withoutJPEGAlias(dst.pixelFormat)
    let width = src.pointee.width, height = src.pointee.height
    let flags = SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP
    guard let sws = sws_getContext(width, height, from.format, width, height, to.format, flags, nil, nil, nil) else {
        throw NICError.unsupportedFormat(
            "cannot convert \(pixelFormatName(src.pixelFormat)) to \(pixelFormatName(dst.pixelFormat))")
    }
    defer { sws_freeContext(sws) }
    // Fails (harmlessly) only when neither side is YUV or grey, where ranges do not apply.
    _ = sws_setColorspaceDetails(
        sws, coefficients(src), isFullRange(src) ? 1 : 0,
        coefficients(dst), isFullRange(dst) ? 1 : 0, 0, 1 << 16, 1 << 16)
    let srcPlanes: [UnsafePointer<UInt8>?] = (0..<4).map { UnsafePointer(src.plane($0)) }
    let srcStrides: [Int32] = (0..<4).map { src.linesize($0) }
    let dstPlanes: [UnsafeMutablePointer<UInt8>?] = (0..<4).map { dst.plane($0) }
    let dstStrides: [Int32] = (0..<4).map { dst.linesize($0) }
    let rows = sws_scale(sws, srcPlanes, srcStrides, 0, height, dstPlanes, dstStrides)
    guard rows == dst.pointee.height else {
        throw NICError.internal("swscale converted \(rows) of \(dst.pointee.height) rows")
    }
}

/// A new frame holding `src` converted to `format` with the given range. Free it with av_frame_free.
func convertedFrame(
    _ src: UnsafeMutablePointer<AVFrame>, to format: AVPixelFormat,
    range: AVColorRange
) throws -> UnsafeMutablePointer<AVFrame> {
    var dst: UnsafeMutablePointer<AVFrame>? = try allocateFrame(
        format: format, width: Int(src.pointee.width), height: Int(src.pointee.height), range: range)
    do {
        try convertFrame(src, into: dst!)
    } catch {
        av_frame_free(&dst)
        throw error
    }
    return dst!
}

/// Deep (9 to 16-bit) RGB and grey frames, as 16-bit PNGs and TIFFs give, reduced to rgb24 or
/// gray8 with v / 257 rounded to nearest, so 8-bit values stored as v * 257 come back exactly
/// (swscale computes (v + 128) >> 8, which turns 0xABAB into 0xAC). Alpha is dropped.
/// Returns nil for any other frame. Free the result with av_frame_free.
func reducedToEightBits(_ frame: UnsafeMutablePointer<AVFrame>) throws -> UnsafeMutablePointer<AVFrame>? {
    let format = frame.pixelFormat
    guard let desc = av_pix_fmt_desc_get(format), desc.pointee.comp.0.depth > 8,
        isGrayFormat(format) || isRGBFormat(format)
    else { return nil }
    let gray = isGrayFormat(format)
    var wide: UnsafeMutablePointer<AVFrame>? = try convertedFrame(
        frame, to: gray ? AV_PIX_FMT_GRAY16LE : AV_PIX_FMT_RGB48LE, range: AVCOL_RANGE_JPEG)
    defer { av_frame_free(&wide) }
    let narrow = try allocateFrame(
        format: gray ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB24, width: Int(frame.pointee.width),
        height: Int(frame.pointee.height), range: AVCOL_RANGE_JPEG)
    let samples = Int(frame.pointee.width) * (gray ? 1 : 3)
    for y in 0..<Int(frame.pointee.height) {
        let source = wide!.plane(0)! + y * Int(wide!.linesize(0))
        let target = narrow.plane(0)! + y * Int(narrow.linesize(0))
        for i in 0..<samples {
            let value = UInt32(source[2 * i]) | UInt32(source[2 * i + 1]) << 8  // little endian
            target[i] = UInt8((value + 128) / 257)
        }
    }
    return narrow
}

/// Pixel format conversion of whole images (libswscale, the conventions above).
public enum PixelConversion {
    public static func converted(_ image: PlanarImage, to format: PixelFormat) throws -> PlanarImage {
        if image.format == format { return image }
        var source: UnsafeMutablePointer<AVFrame>? = try makeFrame(from: image)
        defer { av_frame_free(&source) }
        var target: UnsafeMutablePointer<AVFrame>? = try convertedFrame(
            source!, to: format.avPixelFormat, range: format.isYUV ? AVCOL_RANGE_MPEG : AVCOL_RANGE_JPEG)
        defer { av_frame_free(&target) }
        return try makeImage(from: target!, format: format)
    }
}
