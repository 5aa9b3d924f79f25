/// The binary record of docs/ai-data.md: a fixed envelope (magic, major, minor, length at
/// offsets 0-6, CRC-32 in the last 4 bytes) around the fields of version 1, little-endian.
extension AIDataRecord {
    public static let magic: [UInt8] = Array("NICA".utf8)
    public static let majorVersion: UInt8 = 1
    public static let minorVersion: UInt8 = 0
    /// Bytes before the first field: magic, major, minor, length.
    public static let headerSize = 7
    /// The smallest length field any version may carry: header + CRC.
    public static let envelopeSize = headerSize + 4
    /// Length of a version 1.0 record; later 1.x records are longer.
    public static let version1Size = 31

    /// The record as written by this version (1.0). Throws `NICError.invalidArgument` for
    /// out-of-range fields.
    public func serialized() throws -> [UInt8] {
        if let problem = rangeProblem { throw NICError.invalidArgument("AI data: \(problem)") }
        var out = Self.magic + [Self.majorVersion, Self.minorVersion, UInt8(Self.version1Size), flags.rawValue]
        out.appendLittleEndian(settingID)
        out += [scaleNumerator, scaleDenominator]
        for size in [originalWidth, originalHeight, downscaledWidth, downscaledHeight] {
            out.appendLittleEndian(UInt16(size))
        }
        out += [codec.rawValue, contentType.rawValue, qualityKind.rawValue]
        out.appendLittleEndian(UInt32(bitPattern: qualityValue))
        out.appendLittleEndian(CRC32.checksum(out))
        return out
    }

    /// Parses exactly one full record (the carrier delivers its bytes, nothing before or after).
    /// Accepts any 1.x record and ignores fields after those of 1.0. Throws
    /// `NICError.corruptData` saying what is wrong, also for a repeat record, which only a
    /// video stream's last full record completes (`AIDataMessage`).
    public init(parsing bytes: some Collection<UInt8>) throws {
        switch try AIDataMessage(parsing: bytes) {
        case .full(let record):
            self = record
        case .repeated(let settingID, _):
            throw NICError.corruptData(
                "AI data: a repeat record (setting \(settingID)) holds no sizes; only a video stream's last full record completes it")
        }
    }

    /// Length of a repeat record: the envelope around flags and setting ID.
    public static let repeatSize = headerSize + 3 + 4
    /// Repeat records came with version 1.1.
    public static let repeatMinorVersion: UInt8 = 1

    /// The repeat form of this record (docs/ai-data.md §5.1): flags and setting ID only.
    public func serializedRepeat() -> [UInt8] {
        var out =
            Self.magic + [
                Self.majorVersion, Self.repeatMinorVersion, UInt8(Self.repeatSize),
                flags.union(.repeatRecord).rawValue,
            ]
        out.appendLittleEndian(settingID)
        out.appendLittleEndian(CRC32.checksum(out))
        return out
    }

    /// Whether `other` differs from this record in its setting ID and flags at most, so
    /// that a repeat record can carry it.
    public func differsOnlyInSetting(from other: AIDataRecord) -> Bool {
        var same = other
        same.settingID = settingID
        same.flags = flags
        return same == self
    }

    /// The record a repeat record stands for when this is the stream's last full record.
    public func repeated(settingID: UInt16, flags: Flags) -> AIDataRecord {
        var record = self
        record.settingID = settingID
        record.flags = flags.subtracting(.repeatRecord)
        return record
    }

    /// The checked bytes of one record of the known major version: envelope, length and CRC.
    fileprivate static func checkedEnvelope(_ bytes: some Collection<UInt8>) throws -> [UInt8] {
        func corrupt(_ message: String) -> NICError { .corruptData("AI data: \(message)") }
        let count = bytes.count
        guard count >= Self.headerSize else {
            throw corrupt("too short: \(count) bytes, the header alone needs \(Self.headerSize)")
        }
        guard count <= Int(UInt8.max) else { throw corrupt("too long: \(count) bytes, a record has at most 255") }
        let b = Array(bytes)
        guard b.prefix(4).elementsEqual(Self.magic) else {
            throw corrupt("bad magic \(hexString(b.prefix(4))) (expected \(hexString(Self.magic)), \"NICA\")")
        }
        let length = Int(b[6])
        guard length >= Self.envelopeSize else {
            throw corrupt("length field \(length) is below the \(Self.envelopeSize)-byte minimum")
        }
        guard count >= length else { throw corrupt("truncated: the record declares \(length) bytes, got \(count)") }
        guard count == length else { throw corrupt("\(count - length) unexpected bytes after the \(length)-byte record") }
        var crcReader = ByteReader(bytes: b, offset: length - 4)
        let stored = crcReader.uint32(), computed = CRC32.checksum(b[..<(length - 4)])
        guard stored == computed else {
            throw corrupt("CRC mismatch: stored 0x\(hexString(stored)), computed 0x\(hexString(computed))")
        }
        guard b[4] == Self.majorVersion else {
            throw corrupt("unsupported major version \(b[4]) (this reader knows \(Self.majorVersion))")
        }
        return b
    }

    /// The fields of a full version 1 record whose envelope is checked.
    fileprivate init(fields b: [UInt8]) throws {
        var r = ByteReader(bytes: b, offset: 7)
        let flags = Flags(rawValue: r.uint8())
        let settingID = r.uint16()
        let numerator = r.uint8(), denominator = r.uint8()
        let originalWidth = Int(r.uint16()), originalHeight = Int(r.uint16())
        let downscaledWidth = Int(r.uint16()), downscaledHeight = Int(r.uint16())
        let codec = Codec(rawValue: r.uint8())
        let contentType = ContentType(rawValue: r.uint8())
        let qualityKind = QualityKind(rawValue: r.uint8())
        let qualityValue = Int32(bitPattern: r.uint32())
        self.init(
            settingID: settingID, scaleNumerator: numerator, scaleDenominator: denominator,
            originalWidth: originalWidth, originalHeight: originalHeight,
            downscaledWidth: downscaledWidth, downscaledHeight: downscaledHeight,
            codec: codec, qualityKind: qualityKind, qualityValue: qualityValue,
            contentType: contentType, flags: flags)
        if let problem = rangeProblem { throw NICError.corruptData("AI data: field out of range: \(problem)") }
    }
}

/// What one AI data payload holds (docs/ai-data.md §1, §5.1): a full record, or a repeat
/// record, which names a video frame's setting and takes every other field from the last full
/// record of its stream.
public enum AIDataMessage: Equatable, Sendable {
    case full(AIDataRecord)
    case repeated(settingID: UInt16, flags: AIDataRecord.Flags)

    /// Parses exactly one record, full or repeat. Throws `NICError.corruptData` saying what is wrong.
    public init(parsing bytes: some Collection<UInt8>) throws {
        let b = try AIDataRecord.checkedEnvelope(bytes)
        let length = Int(b[6])
        let flags = length > AIDataRecord.envelopeSize ? AIDataRecord.Flags(rawValue: b[7]) : []
        if flags.contains(.repeatRecord) {
            guard length >= AIDataRecord.repeatSize else {
                throw NICError.corruptData(
                    "AI data: too short for a repeat record: \(length) bytes, need \(AIDataRecord.repeatSize)")
            }
            self = .repeated(settingID: UInt16(b[8]) | UInt16(b[9]) << 8, flags: flags)
            return
        }
        guard length >= AIDataRecord.version1Size else {
            throw NICError.corruptData(
                "AI data: too short for version 1.\(b[5]): \(length) bytes, need \(AIDataRecord.version1Size)")
        }
        self = .full(try AIDataRecord(fields: b))
    }
}

/// Little-endian reads from an array whose length the caller has already checked.
private struct ByteReader {
    let bytes: [UInt8]
    var offset: Int

    mutating func uint8() -> UInt8 {
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16() -> UInt16 { UInt16(uint8()) | UInt16(uint8()) << 8 }

    mutating func uint32() -> UInt32 { UInt32(uint16()) | UInt32(uint16()) << 16 }
}

extension Array where Element == UInt8 {
    fileprivate mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        for shift in stride(from: 0, to: T.bitWidth, by: 8) { append(UInt8(truncatingIfNeeded: value >> shift)) }
    }
}
