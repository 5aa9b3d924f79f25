import CFFmpeg
import NICCore

/// AI data in H.264/HEVC streams (docs/ai-data.md §5): one SEI *user data unregistered*
/// message per access unit, payload = libnic's UUID followed by the record.
///
/// Writers insert the SEI NAL unit themselves, before the first slice of each access unit
/// the encoder produced. This keeps our UUID in front (libx265's `udu_sei` would put its own
/// there) and works for any H.264/HEVC encoder whose packets are Annex B, as FFmpeg's
/// libx264 and libx265 wrappers produce; MP4/MKV muxers convert them to length prefixes.
/// `codec` arguments are `.h264` or `.hevc`; anything else is taken as HEVC.
public enum AIDataSEI {

    /// SEI payload type of user data unregistered, in both H.264 and HEVC.
    static let userDataUnregistered: UInt8 = 5

    /// The SEI payload: UUID || record.
    public static func payload(_ record: AIDataRecord) throws -> [UInt8] {
        AIDataRecord.seiUUID + (try record.serialized())
    }

    /// A complete SEI NAL unit (header, one message, trailing bits, emulation prevention),
    /// without start code, carrying the full record.
    public static func nalUnit(_ record: AIDataRecord, codec: Codec) throws -> [UInt8] {
        nalUnit(carrying: try record.serialized(), codec: codec)
    }

    /// What a key frame's AI data adds to the stream: a full record's NAL unit (HEVC's 2-byte
    /// header) behind a 4-byte start code or length prefix.
    static let bytesPerKeyFrame = 4 + nalUnit(carrying: [UInt8](repeating: 0xFF, count: AIDataRecord.version1Size), codec: .hevc).count

    /// The SEI NAL unit of one serialized record, full or repeat.
    static func nalUnit(carrying recordBytes: [UInt8], codec: Codec) -> [UInt8] {
        let payload = AIDataRecord.seiUUID + recordBytes
        var rbsp: [UInt8] = [userDataUnregistered]
        var size = payload.count
        while size >= 255 { rbsp.append(255); size -= 255 }  // ff bytes, as the standard codes sizes
        rbsp.append(UInt8(size))
        rbsp += payload
        rbsp.append(0x80)  // rbsp_stop_one_bit + alignment
        let header: [UInt8] = codec == .h264 ? [0x06] : [39 << 1, 0x01]  // SEI / PREFIX_SEI_NUT, layer 0, tid 0
        return header + addingEmulationPrevention(rbsp)
    }

    /// Inserts 0x03 after every two zero bytes that are followed by a byte <= 3, so that
    /// the payload can never imitate a start code.
    static func addingEmulationPrevention(_ rbsp: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(rbsp.count + rbsp.count / 64 + 1)
        var zeros = 0
        for byte in rbsp {
            if zeros >= 2 && byte <= 3 {
                out.append(3)
                zeros = 0
            }
            out.append(byte)
            zeros = byte == 0 ? zeros + 1 : 0
        }
        return out
    }

    /// `packet` (Annex B) with `nal` inserted, behind a 4-byte start code, just before its
    /// first slice NAL unit (after any access unit delimiter, parameter sets and other SEI).
    /// Returns nil when the packet holds no slice.
    public static func inserting(_ nal: [UInt8], intoAnnexB packet: UnsafeBufferPointer<UInt8>, codec: Codec) -> [UInt8]? {
        guard let position = firstSliceStartCode(packet, codec: codec) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(packet.count + nal.count + 4)
        out += packet[..<position]
        out += [0, 0, 0, 1]
        out += nal
        out += packet[position...]
        return out
    }

    /// Offset of the start code (including a leading zero byte of a 4-byte one) of the first
    /// VCL NAL unit.
    static func firstSliceStartCode(_ p: UnsafeBufferPointer<UInt8>, codec: Codec) -> Int? {
        var i = 0
        while i + 3 < p.count {
            if p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1 {
                let header = p[i + 3]
                let isSlice = codec == .h264 ? (1...5).contains(header & 0x1F) : (header >> 1) & 0x3F < 32
                if isSlice { return i > 0 && p[i - 1] == 0 ? i - 1 : i }
                i += 3
            } else {
                i += 1
            }
        }
        return nil
    }

    /// Chooses the form of each access unit's record, in decode order (docs/ai-data.md §5.1):
    /// a full record on key frames, so that a player can start at any of them; a repeat record
    /// when only the setting (and flags) differ from the last full record; after any other
    /// change, full records up to the next key frame, so that a repeat record never meets,
    /// in display order, a full record other than the one it repeats.
    struct Writer {
        let codec: Codec
        private var lastFull: AIDataRecord?
        private var changedSinceKeyFrame = false

        init(codec: Codec) { self.codec = codec }

        mutating func nalUnit(for record: AIDataRecord, keyFrame: Bool) throws -> [UInt8] {
            let full = try record.serialized()
            if keyFrame {
                changedSinceKeyFrame = false
            } else if let lastFull, !record.differsOnlyInSetting(from: lastFull) {
                changedSinceKeyFrame = true
            }
            if !keyFrame, !changedSinceKeyFrame, lastFull != nil {
                return AIDataSEI.nalUnit(carrying: record.serializedRepeat(), codec: codec)
            }
            lastFull = record
            return AIDataSEI.nalUnit(carrying: full, codec: codec)
        }
    }

    /// Reads the AI data of a stream's decoded frames, in display order: a repeat record
    /// takes every field but the setting from the last full record read. One per stream;
    /// start a new one after a seek.
    public struct Reader: Sendable {
        private var lastFull: AIDataRecord?

        public init() {}

        /// The frame's own AI data (its `AV_FRAME_DATA_SEI_UNREGISTERED` side data): `.corrupt`
        /// also for a repeat record before any full one (a stream cut between key frames).
        public mutating func read(_ frame: UnsafePointer<AVFrame>) -> AIDecodePlan.Found {
            switch AIDataSEI.message(in: frame) {
            case .message(.full(let record)):
                lastFull = record
                return .record(record)
            case .message(.repeated(let settingID, let flags)):
                guard let lastFull else {
                    return .corrupt(
                        "AI data: a repeat record (setting \(settingID)) before any full record; the stream does not start at a key frame")
                }
                return .record(lastFull.repeated(settingID: settingID, flags: flags))
            case .corrupt(let message):
                return .corrupt(message)
            case .absent:
                return .none
            }
        }
    }

    /// What one frame's side data holds for libnic.
    enum Payload: Equatable {
        case absent
        case corrupt(String)
        case message(AIDataMessage)
    }

    /// The first message with our UUID that parses; `.corrupt` when messages with our UUID
    /// exist but none parses; `.absent` without any (other UUIDs are ignored).
    static func message(in frame: UnsafePointer<AVFrame>) -> Payload {
        var problem: String?
        let count = Int(frame.pointee.nb_side_data)
        for i in 0..<count {
            guard let entry = frame.pointee.side_data[i], entry.pointee.type == AV_FRAME_DATA_SEI_UNREGISTERED,
                let data = entry.pointee.data
            else { continue }
            let bytes = UnsafeBufferPointer(start: data, count: Int(entry.pointee.size))
            switch parse(payload: bytes) {
            case .message(let message): return .message(message)
            case .corrupt(let message): problem = problem ?? message
            case .absent: continue
            }
        }
        return problem.map { .corrupt($0) } ?? .absent
    }

    /// Interprets one user-data-unregistered payload (UUID || record).
    static func parse(payload: UnsafeBufferPointer<UInt8>) -> Payload {
        let uuid = AIDataRecord.seiUUID
        guard payload.count >= uuid.count, payload.prefix(uuid.count).elementsEqual(uuid) else { return .absent }
        do {
            return .message(try AIDataMessage(parsing: payload[uuid.count...]))
        } catch let error as NICError {
            return .corrupt(error.message)
        } catch {
            return .corrupt("\(error)")
        }
    }
}
