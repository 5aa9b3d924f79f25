import NICCore

/// The short text ImageFile stores in (and reads from) PNG, JPEG and WebP files, such as the
/// AI data record in its text form. FFGlue treats it as opaque: printable ASCII, 1...1024 bytes.
enum MetadataText {
    static let maxBytes = 1024

    /// True for a non-empty string of at most `maxBytes` printable ASCII characters (0x20...0x7E).
    static func isValid<Bytes: Collection>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        !bytes.isEmpty && bytes.count <= maxBytes && bytes.allSatisfy { (0x20...0x7E).contains($0) }
    }

    /// The text's bytes, or `.invalidArgument` saying what is wrong with it.
    static func validated(_ text: String) throws -> [UInt8] {
        let bytes = Array(text.utf8)
        if bytes.isEmpty { throw NICError.invalidArgument("the metadata text is empty; pass nil to write none") }
        if bytes.count > maxBytes {
            throw NICError.invalidArgument("the metadata text is \(bytes.count) bytes; at most \(maxBytes) fit")
        }
        if let bad = bytes.firstIndex(where: { !(0x20...0x7E).contains($0) }) {
            throw NICError.invalidArgument(
                "the metadata text must be printable ASCII; byte \(bad) is 0x\(String(bytes[bad], radix: 16))")
        }
        return bytes
    }

    /// `bytes` as a String when they are valid metadata text, nil otherwise (never throws:
    /// damaged metadata in a file is reported as absent).
    static func decoded<Bytes: Collection>(_ bytes: Bytes) -> String? where Bytes.Element == UInt8 {
        isValid(bytes) ? String(decoding: Array(bytes), as: UTF8.self) : nil
    }
}
