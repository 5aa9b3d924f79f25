/// The text form of docs/ai-data.md for still-image metadata (PNG tEXt, EXIF ImageDescription):
/// `nicai1:` followed by the record's bytes as hex digits.
extension AIDataRecord {
    /// PNG tEXt keyword (and FFmpeg frame-metadata key) under which the text form is stored.
    public static let textKeyword = "nic-aidata"
    public static let textPrefix = "nicai1:"
    /// Longer inputs are rejected before any other work (the longest valid form has 517 characters).
    public static let maxTextLength = 1024

    /// `nicai1:` + lowercase hex of `serialized()`.
    public func textForm() throws -> String { Self.textPrefix + hexString(try serialized()) }

    /// Parses the text form. Leading and trailing spaces, tabs, CR, LF and NUL are ignored;
    /// hex digits may be upper or lower case. Throws `NICError.corruptData`.
    public init(text: String) throws {
        func corrupt(_ message: String) -> NICError { .corruptData("AI data text: \(message)") }
        guard text.utf8.count <= Self.maxTextLength else {
            throw corrupt("too long: \(text.utf8.count) bytes, at most \(Self.maxTextLength)")
        }
        let all = Array(text.utf8)
        let isBlank: (UInt8) -> Bool = { [0x20, 0x09, 0x0A, 0x0D, 0x00].contains($0) }
        guard let first = all.firstIndex(where: { !isBlank($0) }), let last = all.lastIndex(where: { !isBlank($0) }) else {
            throw corrupt("empty")
        }
        let trimmed = all[first...last], prefix = Array(Self.textPrefix.utf8)
        guard trimmed.starts(with: prefix) else { throw corrupt("does not start with \"\(Self.textPrefix)\"") }
        let digits = trimmed.dropFirst(prefix.count)
        guard digits.count % 2 == 0 else { throw corrupt("odd number of hex digits (\(digits.count))") }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = digits.startIndex
        while index < digits.endIndex {
            guard let high = hexDigitValue(digits[index]), let low = hexDigitValue(digits[index + 1]) else {
                let bad = hexDigitValue(digits[index]) == nil ? index : index + 1
                throw corrupt("byte 0x\(hexString([all[bad]])) at offset \(bad) is not a hex digit")
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        try self.init(parsing: bytes)
    }
}

/// Lowercase hex, two digits per byte.
func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in bytes { out += [digits[Int(byte >> 4)], digits[Int(byte & 15)]] }
    return String(decoding: out, as: UTF8.self)
}

/// Eight lowercase hex digits, most significant first.
func hexString(_ value: UInt32) -> String {
    hexString(stride(from: 24, through: 0, by: -8).map { UInt8(truncatingIfNeeded: value >> UInt32($0)) })
}

private func hexDigitValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}
