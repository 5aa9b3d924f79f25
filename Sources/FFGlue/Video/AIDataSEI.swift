import CFFmpeg
import NICCore

/// AI data in H.264/HEVC streams (docs/ai-data.md §5): one SEI *user data unregistered*
/// message per access unit, payload = libnic's UUID followed by the record.
///
/// Writers insert the SEI NAL unit themselves, before the first slice of each access unit
/// the encoder produced. This keeps our UUID in front (libx265's `udu_sei` would put its own
/// there) and works for any H.264/HEVC encoder whose packets are Annex B, as FFmpeg's
/// libx264 and libx265 wrappers produce; MP4/MKV muxers convert them to length prefixes.
public enum AIDataSEI {
    public enum Codec: Sendable { case h264, hevc }

    /// SEI payload type of user data unregistered, in both H.264 and HEVC.
    static let userDataUnregistered: UInt8 = 5

    /// The SEI payload: UUID || record.
    public static func payload(_ record: AIDataRecord) throws -> [UInt8] {
        AIDataRecord.seiUUID + (try record.serialized())
    }

    /// A complete SEI NAL unit (header, one message, trailing bits, emulation prevention),
    /// without start code.
    public static func nalUnit(_ record: AIDataRecord, codec: Codec) throws -> [UInt8] {
        let payload = try payload(record)
        var rbsp: [UInt8] = [userDataUnregistered]
        var size = payload.count
        while size >= 255 { rbsp.append(255); size -= 255 }   // ff bytes, as the standard codes sizes
        rbsp.append(UInt8(size))
        rbsp += payload
        rbsp.append(0x80)   // rbsp_stop_one_bit + alignment
        let header: [UInt8] = codec == .h264 ? [0x06] : [39 << 1, 0x01]   // SEI / PREFIX_SEI_NUT, layer 0, tid 0
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
                let isSlice: Bool
                switch codec {
                case .h264: isSlice = (1...5).contains(header & 0x1F)
                case .hevc: isSlice = (header >> 1) & 0x3F < 32
                }
                if isSlice { return i > 0 && p[i - 1] == 0 ? i - 1 : i }
                i += 3
            } else {
                i += 1
            }
        }
        return nil
    }

    /// The AI data a decoded frame carries in its `AV_FRAME_DATA_SEI_UNREGISTERED` side data:
    /// the first message with our UUID that parses; `.corrupt` when messages with our UUID
    /// exist but none parses; `.none` without any (other UUIDs are ignored).
    public static func find(in frame: UnsafePointer<AVFrame>) -> AIDecodePlan.Found {
        var problem: String?
        let count = Int(frame.pointee.nb_side_data)
        for i in 0..<count {
            guard let entry = frame.pointee.side_data[i], entry.pointee.type == AV_FRAME_DATA_SEI_UNREGISTERED,
                  let data = entry.pointee.data else { continue }
            let bytes = UnsafeBufferPointer(start: data, count: Int(entry.pointee.size))
            switch parse(payload: bytes) {
            case .record(let record): return .record(record)
            case .corrupt(let message): problem = problem ?? message
            case .none: continue
            }
        }
        return problem.map { .corrupt($0) } ?? .none
    }

    /// Interprets one user-data-unregistered payload (UUID || data).
    public static func parse(payload: UnsafeBufferPointer<UInt8>) -> AIDecodePlan.Found {
        let uuid = AIDataRecord.seiUUID
        guard payload.count >= uuid.count, payload.prefix(uuid.count).elementsEqual(uuid) else { return .none }
        do {
            return .record(try AIDataRecord(parsing: payload[uuid.count...]))
        } catch let error as NICError {
            return .corrupt(error.message)
        } catch {
            return .corrupt("\(error)")
        }
    }
}
