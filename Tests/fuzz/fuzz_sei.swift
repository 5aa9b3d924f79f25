// The player path of nic_upscale_frame: decoded frames whose AV_FRAME_DATA_SEI_UNREGISTERED
// side data (UUID || AI data record, as FFmpeg's H.264/HEVC decoders attach it) go through
// FrameUpscaler (AIDataSEI.Reader, AIDataTracker, AIDecodePlan, the scaling itself) with the
// shipped models, one fresh upscaler per input, on one thread.
//
// Input: byte 0 = flags (bit 0: put libnic's UUID in front of every payload; bit 1: 10-bit
// frames, yuv420p10le, instead of yuv420p), byte 1 = frame size (width 8 + 2 * (low 4 bits),
// height 8 + 2 * (high 4 bits), so at most 38x38 and an output of at most 152x152), then
// entries of one length byte and that many payload bytes; each entry becomes one side data
// entry of the current frame, and a zero length starts the next frame (at most 4 frames of
// at most 4 entries each).
import CFFmpeg
import Glibc
@testable import FFGlue
@testable import NICCore

let maxFrames = 4, maxEntriesPerFrame = 4
let store: ModelStore = {
    do { return try ModelStore(directory: fuzzModelDirectory) } catch {
        fuzzFail("cannot open the model directory \(fuzzModelDirectory): \(error)")
    }
}()
let device: ComputeDevice = {
    do { return try ComputeDevice(threads: 1) } catch { fuzzFail("no compute device: \(error)") }
}()

func fuzzSetUp() {
    FFmpegLogging.silence()
    fuzzWriteSeedsIfAsked(seiSeeds)
    _ = (store, device)
}

/// The input cut into frames, each a list of side data payloads.
func frames(of input: [UInt8]) -> (flags: UInt8, width: Int, height: Int, frames: [[[UInt8]]]) {
    guard input.count >= 2 else { return (0, 8, 8, []) }
    let flags = input[0]
    let (width, height) = (8 + 2 * Int(input[1] & 15), 8 + 2 * Int(input[1] >> 4))
    var frames: [[[UInt8]]] = [[]]
    var i = 2
    while i < input.count, frames.count <= maxFrames {
        let length = Int(input[i])
        i += 1
        if length == 0 { frames.append([]); continue }
        let payload = Array(input[i..<min(i + length, input.count)])
        i += length
        if frames[frames.count - 1].count < maxEntriesPerFrame {
            frames[frames.count - 1].append(flags & 1 != 0 ? AIDataRecord.seiUUID + payload : payload)
        }
    }
    return (flags, width, height, Array(frames.prefix(maxFrames)))
}

/// A yuv420p or yuv420p10le frame with a gradient, carrying `payloads` as side data.
func makeFrame(width: Int, height: Int, tenBit: Bool, pts: Int64, payloads: [[UInt8]]) -> UnsafeMutablePointer<AVFrame> {
    guard let frame = av_frame_alloc() else { fuzzFail("no frame") }
    frame.pointee.format = (tenBit ? AV_PIX_FMT_YUV420P10LE : AV_PIX_FMT_YUV420P).rawValue
    frame.pointee.width = Int32(width)
    frame.pointee.height = Int32(height)
    frame.pointee.pts = pts
    guard av_frame_get_buffer(frame, 0) >= 0 else { fuzzFail("no frame buffers") }
    for p in 0..<3 {
        let (w, h) = p == 0 ? (width, height) : ((width + 1) / 2, (height + 1) / 2)
        guard let base = frame.plane(p) else { fuzzFail("no plane \(p)") }
        let stride = Int(frame.linesize(p))
        for y in 0..<h {
            for x in 0..<w {
                let value = p == 0 ? 16 + (x * 7 + y * 5) % 220 : 128 + (x - y) % 16
                if tenBit {
                    let word = UInt16(value * 4)
                    base[y * stride + 2 * x] = UInt8(truncatingIfNeeded: word)
                    base[y * stride + 2 * x + 1] = UInt8(word >> 8)
                } else {
                    base[y * stride + x] = UInt8(value)
                }
            }
        }
    }
    for payload in payloads {
        guard let side = av_frame_new_side_data(frame, AV_FRAME_DATA_SEI_UNREGISTERED, payload.count) else {
            fuzzFail("no side data")
        }
        if !payload.isEmpty { payload.withUnsafeBytes { _ = memcpy(side.pointee.data, $0.baseAddress!, payload.count) } }
    }
    return frame
}

func fuzzOne(_ input: [UInt8]) {
    let (flags, width, height, list) = frames(of: input)
    let upscaler = FrameUpscaler(store: store, device: device)
    for (index, payloads) in list.enumerated() {
        var input: UnsafeMutablePointer<AVFrame>? = makeFrame(
            width: width, height: height, tenBit: flags & 2 != 0,
            pts: Int64(index), payloads: payloads)
        var output = av_frame_alloc()
        defer { av_frame_free(&input); av_frame_free(&output) }
        // The upscaler's own parse of each payload, as the reader sees it.
        for payload in payloads { _ = payload.withUnsafeBufferPointer { AIDataSEI.parse(payload: $0) } }
        guard let result = try? upscaler.upscale(input!, into: output!) else { continue }
        let (w, h) = (Int(output!.pointee.width), Int(output!.pointee.height))
        guard result.plan.width == w, result.plan.height == h, w <= 4 * width, h <= 4 * height else {
            fuzzFail("a \(width)x\(height) frame became \(w)x\(h) (plan \(result.plan.width)x\(result.plan.height))")
        }
        if av_frame_get_side_data(output!, AV_FRAME_DATA_SEI_UNREGISTERED) != nil {
            fuzzFail("the output frame kept AI data side data")
        }
    }
}

/// Streams of frames with full, repeat, corrupt, foreign and missing AI data, as the writer
/// (`AIDataSEI.payload`, the repeat form) produces them, for the settings of the shipped models.
func seiSeeds() throws -> [(name: String, bytes: [UInt8])] {
    func entry(_ payload: [UInt8]) -> [UInt8] { [UInt8(payload.count)] + payload }
    var seeds: [(name: String, bytes: [UInt8])] = []
    let ids = store.manifest.settings.map(\.id)
    for (n, id) in ([0] + ids.prefix(6)).enumerated() {
        let setting = store.manifest.setting(id: id)
        let (num, den) = (UInt8(setting?.scaleNumerator ?? 2), UInt8(setting?.scaleDenominator ?? 1))
        let (w, h) = (24, 16)
        let record = AIDataRecord(
            settingID: UInt16(id), scaleNumerator: num, scaleDenominator: den,
            originalWidth: w * Int(num) / Int(den), originalHeight: h * Int(num) / Int(den),
            downscaledWidth: w, downscaledHeight: h, codec: n % 2 == 0 ? .h264 : .hevc,
            qualityKind: .crf, qualityValue: 2300, flags: [.lumaOnly, .genericFallbackAllowed])
        let full = try AIDataSEI.payload(record)
        let repeatRecord = AIDataRecord.seiUUID + record.repeated(settingID: UInt16(ids.last ?? 1), flags: record.flags).serializedRepeat()
        let sizeByte = UInt8((w - 8) / 2) | UInt8((h - 8) / 2) << 4
        // full, repeat, nothing, repeat
        seeds.append(("stream-setting\(id)", [0, sizeByte] + entry(full) + [0] + entry(repeatRecord) + [0, 0] + entry(repeatRecord)))
        // without the UUID in the bytes (flag bit 0), 10-bit frames (bit 1)
        seeds.append(
            (
                "stream-setting\(id)-uuid-10bit",
                [3, sizeByte] + entry(Array(full.dropFirst(16))) + [0]
                    + entry(Array(repeatRecord.dropFirst(16)))
            ))
    }
    let record = AIDataRecord(
        settingID: 1, scaleNumerator: 2, scaleDenominator: 1, originalWidth: 32, originalHeight: 32,
        downscaledWidth: 16, downscaledHeight: 16)
    let full = try AIDataSEI.payload(record)
    var corrupt = full
    corrupt[corrupt.count - 1] ^= 0x55
    let foreign = [UInt8](repeating: 0xA5, count: 16) + Array("x264 - core 164".utf8)
    seeds.append(("repeat-first", [0, 0x44] + entry(AIDataRecord.seiUUID + record.serializedRepeat()) + [0] + entry(full)))
    seeds.append(("foreign-corrupt-full", [0, 0x44] + entry(foreign) + entry(corrupt) + entry(full)))
    return seeds
}
