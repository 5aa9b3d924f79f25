import CFFmpeg
import NICCore

/// The player side of the AI codec, one decoded AVFrame at a time: reads the frame's AI data
/// from its side data, keeps the last AI data seen for frames without, plans the upscale and
/// scales straight from the frame's planes into the output frame's.
///
/// One per stream, used from one thread at a time. Call `reset()` after a seek or when a new
/// stream starts, so AI data of the old position is not carried over.
public final class FrameUpscaler {
    /// What happened to one frame.
    public struct Result: Sendable {
        /// The route taken, the output size and why the AI data's setting was not used.
        public let plan: AIDecodePlan
        /// The frame's own AI data (its side data only).
        public let frameAIData: AIDecodePlan.Found
        /// The AI data in force: the frame's own or the last one seen.
        public let record: AIDataRecord?
    }

    private let store: ModelStore?
    private let device: ComputeDevice
    private let options: AIDecodePlan.Options
    private var tracker: AIDataTracker
    private var reader = AIDataSEI.Reader()

    /// `options` apply to every frame (their size is replaced by the output frame's, see `upscale`).
    public init(
        store: ModelStore?, device: ComputeDevice, options: AIDecodePlan.Options = .init(),
        warn: @escaping (String) -> Void = { _ in }
    ) {
        self.store = store; self.device = device; self.options = options
        tracker = AIDataTracker(warn: warn)
    }

    /// Forgets the AI data seen so far.
    public func reset() {
        tracker = AIDataTracker(warn: tracker.warn)
        reader = AIDataSEI.Reader()
    }

    /// Upscales `input` (planar 4:2:0, 8 to 16 bits) into `output`. An output frame with
    /// buffers is used as it is (same pixel format as the input; its size is the target);
    /// one without gets buffers of the input's format, sized `output.width` x `output.height`
    /// when those are set, else the original size in the AI data, else twice the input's.
    /// Frame properties (timestamps, colour tags) are copied; AI data side data is not.
    public func upscale(_ input: UnsafePointer<AVFrame>, into output: UnsafeMutablePointer<AVFrame>) throws -> Result {
        let source = try frameView(UnsafeMutablePointer(mutating: input), role: "input")
        let found = reader.read(input)
        let inForce = tracker.update(with: found, pts: input.pointee.pts)
        let allocate = output.plane(0) == nil
        var size: (width: Int, height: Int)?
        if !allocate || (output.pointee.width > 0 && output.pointee.height > 0) {
            size = (Int(output.pointee.width), Int(output.pointee.height))
        }
        var frameOptions = options
        frameOptions.size = size
        let plan = try AIDecodePlan(
            found: inForce, imageWidth: source.width, imageHeight: source.height,
            manifest: store?.manifest, options: frameOptions)
        if allocate { try allocateBuffers(output, like: input, width: plan.width, height: plan.height) }
        let destination = try frameView(output, role: "output")
        guard output.pixelFormat == input.pointee.format.asPixelFormat else {
            throw NICError.unsupportedFormat(
                "output frame is \(pixelFormatName(output.pixelFormat)) but input is \(pixelFormatName(input.pointee.format.asPixelFormat)); libnic does not convert formats"
            )
        }
        let carried = try plan.carriedOut {
            try FrameScaler.scale(source, into: destination, route: $0.route, store: store, device: device)
        }
        try check(av_frame_copy_props(output, input), "cannot copy frame properties")
        av_frame_remove_side_data(output, AV_FRAME_DATA_SEI_UNREGISTERED)
        var record: AIDataRecord?
        if case .record(let r) = inForce { record = r }
        return Result(plan: carried.plan, frameAIData: found, record: record)
    }

    /// `upscale` for callers that hold AVFrames as opaque pointers (the C API, whose header
    /// declares AVFrame incompletely).
    public func upscale(opaqueInput: OpaquePointer, opaqueOutput: OpaquePointer) throws -> Result {
        try upscale(UnsafePointer<AVFrame>(opaqueInput), into: UnsafeMutablePointer<AVFrame>(opaqueOutput))
    }

    private func allocateBuffers(
        _ frame: UnsafeMutablePointer<AVFrame>, like input: UnsafePointer<AVFrame>,
        width: Int, height: Int
    ) throws {
        frame.pointee.format = input.pointee.format
        frame.pointee.width = Int32(width)
        frame.pointee.height = Int32(height)
        try check(
            av_frame_get_buffer(frame, 0), "cannot allocate a \(width)x\(height) output frame",
            otherwise: NICError.outOfMemory)
    }
}

private extension Int32 {
    var asPixelFormat: AVPixelFormat { AVPixelFormat(rawValue: self) }
}

/// The frame's planes as a YUV420Frame, for planar 4:2:0 YUV formats of 8 to 16 bits
/// (little-endian words above 8 bits); anything else is refused with its name.
func frameView(_ frame: UnsafeMutablePointer<AVFrame>, role: String) throws -> YUV420Frame {
    let format = frame.pixelFormat
    guard let desc = av_pix_fmt_desc_get(format) else {
        throw NICError.unsupportedFormat("\(role) frame has no pixel format")
    }
    let d = desc.pointee
    let planar = d.flags & UInt64(AV_PIX_FMT_FLAG_PLANAR) != 0
    let bigEndian = d.flags & UInt64(AV_PIX_FMT_FLAG_BE) != 0
    let rgbOrAlpha = d.flags & (UInt64(AV_PIX_FMT_FLAG_RGB) | UInt64(AV_PIX_FMT_FLAG_ALPHA) | UInt64(AV_PIX_FMT_FLAG_HWACCEL)) != 0
    guard planar, !bigEndian, !rgbOrAlpha, d.nb_components == 3, d.log2_chroma_w == 1, d.log2_chroma_h == 1,
        (8...16).contains(Int(d.comp.0.depth))
    else {
        throw NICError.unsupportedFormat(
            "\(role) frame is \(pixelFormatName(format)); frames must be planar 4:2:0 YUV such as yuv420p or yuv420p10le")
    }
    let width = Int(frame.pointee.width), height = Int(frame.pointee.height)
    try ImageLimits.check(width: width, height: height)
    var planes: [MutablePlaneView] = []
    for p in 0..<3 {
        guard let base = frame.plane(p) else { throw NICError.invalidArgument("\(role) frame has no plane \(p)") }
        let size = PixelFormat.yuv420p.planeSize(plane: p, width: width, height: height)
        planes.append(
            MutablePlaneView(
                base: base, width: size.width, height: size.height, channels: 1,
                stride: Int(frame.linesize(p))))
    }
    let fullRange = frame.pointee.color_range == AVCOL_RANGE_JPEG || format == AV_PIX_FMT_YUVJ420P
    return try YUV420Frame(width: width, height: height, bitDepth: Int(d.comp.0.depth), fullRange: fullRange, planes: planes)
}
