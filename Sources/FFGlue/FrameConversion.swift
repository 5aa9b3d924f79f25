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
        withUnsafeBytes(of: pointee.data) { $0.load(fromByteOffset: i * MemoryLayout<UnsafeMutablePointer<UInt8>?>.stride,
                                                    as: UnsafeMutablePointer<UInt8>?.self) }
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
func allocateFrame(format: AVPixelFormat, width: Int, height: Int,
                   range: AVColorRange) throws -> UnsafeMutablePointer<AVFrame> {
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
    let frame = try allocateFrame(format: image.format.avPixelFormat, width: image.width, height: image.height,
                                  range: image.format.isYUV ? AVCOL_RANGE_MPEG : AVCOL_RANGE_JPEG)
    if image.format.isYUV { frame.pointee.colorspace = AVCOL_SPC_SMPTE170M }
    image.withPlaneViews { views in
        for (p, view) in views.enumerated() {
            av_image_copy_plane(frame.plane(p), frame.linesize(p), view.row(0), Int32(view.stride),
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
            av_image_copy_plane(view.row(0), Int32(view.stride), frame.plane(p), frame.linesize(p),
                                Int32(view.width * view.channels), Int32(view.height))
        }
    }
    return image
}

/// True when the source is a grey-only format (gray, gray+alpha, 1-bit, any depth).
func isGrayFormat(_ format: AVPixelFormat) -> Bool {
    guard let desc = av_pix_fmt_desc_get(format) else { return false }
    let colourFlags = UInt64(AV_PIX_FMT_FLAG_RGB) | UInt64(AV_PIX_FMT_FLAG_PAL)
    return desc.pointee.flags & colourFlags == 0 && desc.pointee.nb_components <= 2
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
    if let desc = av_pix_fmt_desc_get(format),
       desc.pointee.flags & (UInt64(AV_PIX_FMT_FLAG_RGB) | UInt64(AV_PIX_FMT_FLAG_PAL)) != 0 { return true }
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
/// chroma handling; bilinear is the chroma up/down-sampling filter.
func convertFrame(_ src: UnsafeMutablePointer<AVFrame>, into dst: UnsafeMutablePointer<AVFrame>) throws {
    let from = withoutJPEGAlias(src.pixelFormat), to = withoutJPEGAlias(dst.pixelFormat)
    let width = src.pointee.width, height = src.pointee.height
    let flags = SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP
    guard let sws = sws_getContext(width, height, from.format, width, height, to.format, flags, nil, nil, nil) else {
        throw NICError.unsupportedFormat(
            "cannot convert \(pixelFormatName(src.pixelFormat)) to \(pixelFormatName(dst.pixelFormat))")
    }
    defer { sws_freeContext(sws) }
    // Fails (harmlessly) only when neither side is YUV or grey, where ranges do not apply.
    _ = sws_setColorspaceDetails(sws, coefficients(src), isFullRange(src) ? 1 : 0,
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
func convertedFrame(_ src: UnsafeMutablePointer<AVFrame>, to format: AVPixelFormat,
                    range: AVColorRange) throws -> UnsafeMutablePointer<AVFrame> {
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
