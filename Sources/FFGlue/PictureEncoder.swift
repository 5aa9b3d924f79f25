import CFFmpeg
import NICCore

// Encoding one picture with libavcodec; the caller writes the bytes wherever it likes.

/// Encodes `frame` with the encoder for `codecID`, or the one named `encoderName` (which must
/// be for `codecID`) when several exist. `configure` sets codec-specific options
/// before the encoder is opened; `release` frees what it allocated, just before the context
/// is freed. Returns the concatenated packet bytes.
func encodePicture(
    _ frame: UnsafeMutablePointer<AVFrame>, codecID: AVCodecID, codecName: String,
    encoderName: String? = nil,
    configure: (UnsafeMutablePointer<AVCodecContext>) -> Void = { _ in },
    release: (UnsafeMutablePointer<AVCodecContext>) -> Void = { _ in }
) throws -> [UInt8] {
    let found = encoderName.map { avcodec_find_encoder_by_name($0) } ?? avcodec_find_encoder(codecID)
    guard let encoder = found, encoder.pointee.id == codecID else {
        throw NICError.unsupportedFormat("this FFmpeg build has no \(codecName) encoder")
    }
    var context = avcodec_alloc_context3(encoder)
    defer {
        if let context { release(context) }
        avcodec_free_context(&context)
    }
    guard let codec = context else { throw NICError.outOfMemory("cannot allocate the \(codecName) encoder") }
    codec.pointee.width = frame.pointee.width
    codec.pointee.height = frame.pointee.height
    codec.pointee.pix_fmt = frame.pixelFormat
    codec.pointee.color_range = frame.pointee.color_range
    codec.pointee.time_base = AVRational(num: 1, den: 25)
    // Same bytes from every FFmpeg version: no encoder version string in the file.
    codec.pointee.flags |= AV_CODEC_FLAG_BITEXACT
    configure(codec)
    try check(avcodec_open2(codec, encoder, nil), "cannot open the \(codecName) encoder")

    frame.pointee.pts = 0
    try check(avcodec_send_frame(codec, frame), "\(codecName) encoding failed")
    try check(avcodec_send_frame(codec, nil), "\(codecName) encoding failed")
    return try receivePackets(codec, codecName: codecName)
}

/// Drains the encoder after the flush and concatenates its packets.
private func receivePackets(_ codec: UnsafeMutablePointer<AVCodecContext>, codecName: String) throws -> [UInt8] {
    var packet = av_packet_alloc()
    defer { av_packet_free(&packet) }
    guard let packet else { throw NICError.outOfMemory("cannot allocate a packet") }
    var bytes: [UInt8] = []
    while true {
        let ret = avcodec_receive_packet(codec, packet)
        if ret == nic_averror_eof() { break }
        try check(ret, "\(codecName) encoding failed")
        if let data = packet.pointee.data {
            bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(packet.pointee.size)))
        }
        av_packet_unref(packet)
    }
    guard !bytes.isEmpty else { throw NICError.internal("the \(codecName) encoder produced no data") }
    return bytes
}
