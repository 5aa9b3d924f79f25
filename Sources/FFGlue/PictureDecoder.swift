import CFFmpeg
import Glibc
import NICCore

// Decoding the first picture of an in-memory file with libavformat + libavcodec.
// FFmpeg only ever sees the bytes through a custom AVIOContext: it opens no files or URLs
// itself (no protocol tricks, no "%d" file patterns, no playlists pointing elsewhere) and
// picks the demuxer from the content alone.

/// The byte buffer behind the custom AVIOContext.
private final class ByteSource {
    let bytes: UnsafeRawBufferPointer
    var position = 0
    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> ByteSource {
        Unmanaged<ByteSource>.fromOpaque(opaque!).takeUnretainedValue()
    }
}

private let readSource: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<UInt8>?, Int32) -> Int32 = {
    opaque, buffer, size in
    let source = ByteSource.from(opaque)
    let count = min(Int(size), source.bytes.count - source.position)
    guard count > 0, let buffer, let base = source.bytes.baseAddress else { return nic_averror_eof() }
    memcpy(buffer, base + source.position, count)
    source.position += count
    return Int32(count)
}

private let seekSource: @convention(c) (UnsafeMutableRawPointer?, Int64, Int32) -> Int64 = { opaque, offset, whence in
    let source = ByteSource.from(opaque)
    let size = Int64(source.bytes.count)
    let origin: Int64
    switch whence & ~AVSEEK_FORCE {
    case AVSEEK_SIZE: return size
    case SEEK_SET: origin = 0
    case SEEK_CUR: origin = Int64(source.position)
    case SEEK_END: origin = size
    default: return Int64(nic_averror(EINVAL))
    }
    // Offsets come from the file, so they may be anything: no overflow, no seeking outside.
    let (target, overflow) = origin.addingReportingOverflow(offset)
    guard !overflow, target >= 0, target <= size else { return Int64(nic_averror(EINVAL)) }
    source.position = Int(target)
    return target
}

/// io_open for demuxers that may not open other files or URLs (the input is its own AVIOContext).
let refuseNestedOpen:
    @convention(c) (
        UnsafeMutablePointer<AVFormatContext>?, UnsafeMutablePointer<UnsafeMutablePointer<AVIOContext>?>?,
        UnsafePointer<CChar>?, Int32, UnsafeMutablePointer<OpaquePointer?>?
    ) -> Int32 = { _, _, _, _, _ in nic_averror(ENOSYS) }

/// Records a picture size the decoder announced but ImageLimits refused.
private final class SizeGuard {
    var refused: NICError?
}

/// get_buffer2 that applies ImageLimits once the decoder knows the size (header parsed,
/// no pixels decoded yet) and otherwise allocates as FFmpeg would.
private let limitedGetBuffer:
    @convention(c) (
        UnsafeMutablePointer<AVCodecContext>?, UnsafeMutablePointer<AVFrame>?, Int32
    ) -> Int32 = { context, frame, flags in
        guard let context, let frame else { return nic_averror(EINVAL) }
        do {
            try ImageLimits.check(width: Int(context.pointee.width), height: Int(context.pointee.height))
        } catch {
            Unmanaged<SizeGuard>.fromOpaque(context.pointee.opaque).takeUnretainedValue().refused = error as? NICError
            return nic_averror(ERANGE)
        }
        return avcodec_default_get_buffer2(context, frame, flags)
    }

/// Checks a size against ImageLimits, naming the input in the message.
func checkLimits(width: Int, height: Int, name: String) throws {
    do {
        try ImageLimits.check(width: width, height: height)
    } catch let error as NICError {
        throw NICError.dimensions("\(name): \(error.message)")
    }
}

/// Packets read while looking for the first picture; a guard against endless demuxing.
private let maxPacketsBeforePicture = 10_000

/// Decodes the first picture in `bytes`. The frame is the caller's to free (av_frame_free).
func decodeFirstPicture(_ bytes: UnsafeRawBufferPointer, name: String) throws -> UnsafeMutablePointer<AVFrame> {
    guard !bytes.isEmpty else { throw NICError.corruptData("\(name) is empty") }
    if let size = declaredImageSize(bytes) { try checkLimits(width: size.width, height: size.height, name: name) }
    if jpegIsTruncated(bytes) { throw NICError.corruptData("\(name) is truncated: the JPEG data ends before its end marker") }
    if let (needed, found) = leastCodedBytes(bytes), found < needed, let size = declaredImageSize(bytes) {
        throw NICError.corruptData(
            "\(name) is damaged or cut: it declares \(size.width)x\(size.height) pixels, which take at least \(needed) bytes of coded data, but holds \(found)"
        )
    }

    let source = ByteSource(bytes)
    return try withExtendedLifetime(source) {
        var io = try makeIOContext(source)
        defer { av_free(io?.pointee.buffer); avio_context_free(&io) }
        var format = try openDemuxer(io!, name: name)
        defer { avformat_close_input(&format) }
        return try decodeFirstPicture(demuxer: format!, name: name)
    }
}

private func makeIOContext(_ source: ByteSource) throws -> UnsafeMutablePointer<AVIOContext>? {
    let bufferSize: Int32 = 1 << 16
    guard let buffer = av_malloc(Int(bufferSize)) else { throw NICError.outOfMemory("cannot allocate an I/O buffer") }
    let opaque = Unmanaged.passUnretained(source).toOpaque()
    guard
        let io = avio_alloc_context(
            buffer.assumingMemoryBound(to: UInt8.self), bufferSize, 0, opaque,
            readSource, nil, seekSource)
    else {
        av_free(buffer)
        throw NICError.outOfMemory("cannot allocate an I/O context")
    }
    return io
}

/// Probes the content and reads the container header. On failure FFmpeg frees the context.
private func openDemuxer(_ io: UnsafeMutablePointer<AVIOContext>, name: String) throws -> UnsafeMutablePointer<AVFormatContext>? {
    var format = avformat_alloc_context()
    guard let context = format else { throw NICError.outOfMemory("cannot allocate a demuxer") }
    context.pointee.pb = io
    context.pointee.io_open = refuseNestedOpen
    let ret = avformat_open_input(&format, "", nil, nil)
    if ret == nic_averror_invaliddata() {
        throw NICError.corruptData("\(name) is not an image FFmpeg recognises (damaged, truncated or another kind of file)")
    }
    try check(ret, "\(name): cannot read the file header", otherwise: NICError.corruptData)
    return format
}

/// Finds the picture stream, opens its decoder and decodes one picture.
private func decodeFirstPicture(demuxer format: UnsafeMutablePointer<AVFormatContext>, name: String) throws -> UnsafeMutablePointer<AVFrame>
{
    var decoder: UnsafePointer<AVCodec>?
    let index = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0)
    if index == nic_averror_stream_not_found() { throw NICError.unsupportedFormat("\(name) contains no image") }
    try check(index, "\(name): no usable image stream", otherwise: NICError.unsupportedFormat)
    guard let decoder, let stream = format.pointee.streams[Int(index)], let parameters = stream.pointee.codecpar else {
        throw NICError.unsupportedFormat("\(name): no decoder for its image stream")
    }
    // Containers that state the size up front are checked before anything is decoded.
    if parameters.pointee.width != 0 || parameters.pointee.height != 0 {
        try checkLimits(width: Int(parameters.pointee.width), height: Int(parameters.pointee.height), name: name)
    }

    var codec = avcodec_alloc_context3(decoder)
    defer { avcodec_free_context(&codec) }
    guard let codec else { throw NICError.outOfMemory("cannot allocate a decoder") }
    try check(
        avcodec_parameters_to_context(codec, parameters), "\(name): bad stream parameters",
        otherwise: NICError.corruptData)
    let sizeGuard = SizeGuard()
    return try withExtendedLifetime(sizeGuard) {
        try configureDecoder(codec, sizeGuard: sizeGuard)
        try check(
            avcodec_open2(codec, decoder, nil), "\(name): cannot open the decoder",
            otherwise: NICError.unsupportedFormat)
        do {
            return try receiveFirstPicture(format, stream: index, codec: codec, name: name)
        } catch {
            throw sizeGuard.refused.map { NICError.dimensions("\(name): \($0.message)") } ?? error
        }
    }
}

private func configureDecoder(_ codec: UnsafeMutablePointer<AVCodecContext>, sizeGuard: SizeGuard) throws {
    codec.pointee.max_pixels = Int64(ImageLimits.maxPixels)
    // One thread, never frame threads: the get_buffer2 guard and its opaque pointer then live
    // on this context only (and FFmpeg does not warn about custom get_buffer2 with frame threads).
    codec.pointee.thread_count = 1
    codec.pointee.thread_type = FF_THREAD_SLICE
    // Verify checksums (PNG CRCs) and stop at the first error rather than conceal it.
    codec.pointee.err_recognition = AV_EF_CRCCHECK | AV_EF_EXPLODE
    codec.pointee.opaque = Unmanaged.passUnretained(sizeGuard).toOpaque()
    codec.pointee.get_buffer2 = limitedGetBuffer
}

/// Feeds packets of stream `stream` to the decoder until it returns a picture.
private func receiveFirstPicture(
    _ format: UnsafeMutablePointer<AVFormatContext>, stream: Int32,
    codec: UnsafeMutablePointer<AVCodecContext>, name: String
) throws -> UnsafeMutablePointer<AVFrame> {
    var packet = av_packet_alloc()
    defer { av_packet_free(&packet) }
    var frame = av_frame_alloc()
    var keepFrame = false
    defer { if !keepFrame { av_frame_free(&frame) } }
    guard let packet, let frame else { throw NICError.outOfMemory("cannot allocate a packet or frame") }

    var draining = false
    for _ in 0..<maxPacketsBeforePicture {
        let read = av_read_frame(format, packet)
        if read == nic_averror_eof() {
            draining = true
            try check(avcodec_send_packet(codec, nil), "\(name): cannot finish decoding", otherwise: NICError.corruptData)
        } else if read < 0 {
            throw nicError(read, "\(name): cannot read image data", otherwise: NICError.corruptData)
        } else {
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == stream else { continue }
            try check(avcodec_send_packet(codec, packet), "\(name): cannot decode the image", otherwise: NICError.corruptData)
        }
        let received = avcodec_receive_frame(codec, frame)
        if received == 0 {
            try validate(frame, name: name)
            keepFrame = true
            return frame
        }
        if received == nic_averror_eagain() && !draining { continue }
        if received == nic_averror_eof() || received == nic_averror_eagain() { break }
        throw nicError(received, "\(name): cannot decode the image", otherwise: NICError.corruptData)
    }
    throw NICError.corruptData("\(name) contains no complete picture")
}

/// Rejects pictures the decoder produced despite damage, or with sizes outside the limits.
private func validate(_ frame: UnsafeMutablePointer<AVFrame>, name: String) throws {
    if frame.pointee.flags & AV_FRAME_FLAG_CORRUPT != 0 || frame.pointee.decode_error_flags != 0 {
        throw NICError.corruptData("\(name) is damaged: the picture decoded with errors")
    }
    try checkLimits(width: Int(frame.pointee.width), height: Int(frame.pointee.height), name: name)
    guard frame.pixelFormat != AV_PIX_FMT_NONE else {
        throw NICError.unsupportedFormat("\(name): the decoder gave no pixel format")
    }
}
