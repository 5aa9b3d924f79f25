import CFFmpeg
import NICCore

// Decoded video frames <-> NICCore images. The AI networks work on 8-bit BT.601-style
// limited-range yuv420p samples; other layouts are converted on the way in. The pixels keep
// the source's colour matrix, so the source's colour tags go on the way out unchanged.

/// `frame` converted to `format` and `range`, with its properties and side data (timestamps,
/// colour tags, AI data) and the new range; nil when it already is in that format and not full
/// range where limited range is asked for. Free it with av_frame_free.
func convertedKeepingProperties(
    _ frame: UnsafeMutablePointer<AVFrame>, to format: AVPixelFormat,
    range: AVColorRange
) throws -> UnsafeMutablePointer<AVFrame>? {
    let fullWhereLimited = range == AVCOL_RANGE_MPEG && frame.pointee.color_range == AVCOL_RANGE_JPEG
    if frame.pixelFormat == format && !fullWhereLimited { return nil }
    var converted: UnsafeMutablePointer<AVFrame>? = try convertedFrame(frame, to: format, range: range)
    let copied = av_frame_copy_props(converted, frame)
    converted!.pointee.color_range = range
    if copied < 0 { av_frame_free(&converted); throw nicError(copied, "cannot copy frame properties") }
    return converted
}

/// The frame as an 8-bit limited-range yuv420p image (converted when it is anything else).
func yuv420pImage(_ frame: UnsafeMutablePointer<AVFrame>) throws -> PlanarImage {
    var converted = try convertedKeepingProperties(frame, to: AV_PIX_FMT_YUV420P, range: AVCOL_RANGE_MPEG)
    defer { av_frame_free(&converted) }
    return try makeImage(from: converted ?? frame, format: .yuv420p)
}

/// The frame as an 8-bit yuv420p image of the stream's size `width` x `height`: a frame of
/// another size (the stream changes size mid-stream) is resized with Lanczos; `resized` says so.
func streamImage(
    _ frame: UnsafeMutablePointer<AVFrame>, width: Int, height: Int, device: ComputeDevice
) throws -> (image: PlanarImage, resized: Bool) {
    let image = try yuv420pImage(frame)
    if image.width == width && image.height == height { return (image, false) }
    return (try ImageResize.resized(image, width: width, height: height, method: .lanczos, workers: device.workers), true)
}

/// A new frame holding `image`, with the timing and colour tags of `source`. Free it with av_frame_free.
func videoFrame(_ image: PlanarImage, like source: UnsafeMutablePointer<AVFrame>) throws -> UnsafeMutablePointer<AVFrame> {
    let frame = try makeFrame(from: image)
    frame.pointee.pts = source.pointee.pts
    frame.pointee.pkt_duration = source.pointee.pkt_duration
    frame.pointee.color_range = AVCOL_RANGE_MPEG
    frame.pointee.color_primaries = source.pointee.color_primaries
    frame.pointee.color_trc = source.pointee.color_trc
    frame.pointee.colorspace = source.pointee.colorspace
    frame.pointee.chroma_location = source.pointee.chroma_location
    frame.pointee.sample_aspect_ratio = source.pointee.sample_aspect_ratio
    return frame
}

/// Frame duration in the input's video time base: the frame's own, else one frame period.
func frameDuration(_ frame: UnsafeMutablePointer<AVFrame>, input: VideoInput) -> Int64 {
    if frame.pointee.pkt_duration > 0 { return frame.pointee.pkt_duration }
    let period = av_inv_q(input.frameRate)
    return max(1, av_rescale_q(1, period, input.videoStream.pointee.time_base))
}

/// 4:2:0 encoders need even sizes; raw frames do not.
func evenSize(_ width: Int, _ height: Int) -> (width: Int, height: Int) {
    (max(2, width & ~1), max(2, height & ~1))
}
