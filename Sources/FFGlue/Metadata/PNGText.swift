import NICCore

/// PNG chunk surgery: the metadata text as a `tEXt` chunk with keyword `nic-aidata` right after
/// IHDR, and, before decoding, removal of ancillary chunks whose CRC is wrong (what libpng
/// does by default) so that damaged metadata never stops FFmpeg's CRC-checking decoder.
enum PNGText {
    static let keyword = "nic-aidata"
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// One chunk: where it starts in the file, its type (four letters, big-endian), and where
    /// its data lies.
    struct Chunk {
        var start: Int
        var type: UInt32
        var data: Range<Int>
        var end: Int { data.upperBound + 4 }  // after the CRC
        /// Lower-case first letter: a chunk decoders may ignore.
        var isAncillary: Bool { type & 0x2000_0000 != 0 }
    }

    /// "IHDR" as a chunk type.
    private static let headerType: UInt32 = 0x4948_4452
    /// "tEXt": a keyword, a NUL and Latin-1 text.
    private static let textType: UInt32 = 0x7445_5874
    /// IDAT: the compressed picture.
    static let pictureDataType: UInt32 = 0x4944_4154

    /// `png` with the text inserted after IHDR. `text` is validated already.
    static func inserting(_ text: [UInt8], into png: [UInt8]) throws -> [UInt8] {
        guard let chunks = chunks(of: png), let first = chunks.first, first.type == headerType else {
            throw NICError.internal("the PNG encoder's output does not start with a PNG header")
        }
        var result = Array(png[..<first.end])
        result += chunk(type: "tEXt", data: Array(keyword.utf8) + [0] + text)
        result += png[first.end...]
        return result
    }

    /// A complete chunk: length, type, data, CRC over type and data.
    static func chunk(type: String, data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndianBytes(UInt32(data.count)) + body + bigEndianBytes(CRC32.checksum(body))
    }

    /// `png` without its ancillary chunks whose CRC is wrong, or nil when it has none (or is
    /// not a PNG whose chunks can be followed; FFmpeg then judges it as it is).
    static func withoutDamagedAncillaryChunks(_ png: UnsafeRawBufferPointer) -> [UInt8]? {
        let bytes = UnsafeBufferPointer(start: png.baseAddress?.assumingMemoryBound(to: UInt8.self), count: png.count)
        guard let chunks = chunks(of: bytes) else { return nil }
        let damaged = chunks.filter { $0.isAncillary && !crcMatches($0, in: bytes) }
        guard !damaged.isEmpty else { return nil }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var position = 0
        for chunk in damaged {
            result += bytes[position..<chunk.start]
            position = chunk.end
        }
        result += bytes[position...]
        return result
    }

    /// The chunks of a PNG up to the end of the data, or nil when it has no PNG signature.
    /// Stops at the first chunk that does not fit in the bytes (a truncated file or a damaged
    /// length): what follows it cannot be located, so it is left as it is.
    static func chunks<Bytes: Collection>(of png: Bytes) -> [Chunk]? where Bytes.Element == UInt8, Bytes.Index == Int {
        guard png.matches(signature, at: png.startIndex) else { return nil }
        var result: [Chunk] = []
        var position = png.startIndex + signature.count
        // Each chunk takes at least 12 bytes, so the loop ends after count / 12 rounds.
        while let length = png.bigEndian(at: position, count: 4), length <= 0x7FFF_FFFF,
            png.endIndex - position - 12 >= Int(length)
        {
            let dataStart = position + 8
            let type = png.bigEndian(at: position + 4, count: 4) ?? 0  // always there: checked above
            result.append(Chunk(start: position, type: type, data: dataStart..<dataStart + Int(length)))
            position = dataStart + Int(length) + 4
        }
        return result
    }

    /// The metadata text of a PNG: that of its first `tEXt` chunk with keyword `nic-aidata` and a
    /// correct CRC (a chunk with a wrong one is skipped, as libpng does), nil when there is none
    /// or its text is not valid metadata text.
    static func text(of png: UnsafeRawBufferPointer) -> String? {
        let bytes = UnsafeBufferPointer(start: png.baseAddress?.assumingMemoryBound(to: UInt8.self), count: png.count)
        let prefix = Array(keyword.utf8) + [0]
        guard let chunks = chunks(of: bytes) else { return nil }
        for chunk in chunks where chunk.type == textType && bytes.matches(prefix, at: chunk.data.lowerBound) {
            guard crcMatches(chunk, in: bytes) else { continue }
            return MetadataText.decoded(bytes[chunk.data.lowerBound + prefix.count..<chunk.data.upperBound])
        }
        return nil
    }

    private static func crcMatches(_ chunk: Chunk, in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let stored = bytes.bigEndian(at: chunk.data.upperBound, count: 4)
        return stored == CRC32.checksum(bytes[chunk.start + 4..<chunk.data.upperBound])
    }
}
