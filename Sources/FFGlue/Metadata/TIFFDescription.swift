/// The TIFF structure that carries the metadata text in Exif (JPEG APP1 segments, WebP EXIF
/// chunks): a little-endian header and IFD0 with a single ImageDescription entry (tag 0x010E,
/// type ASCII), no further IFD. Readers that know Exif report the text as the image description.
/// `read` takes any TIFF structure, of either byte order, with any entries in IFD0.
enum TIFFDescription {
    static let imageDescriptionTag: UInt16 = 0x010E
    static let asciiType: UInt16 = 2

    /// The TIFF bytes holding `text` (printable ASCII, already validated).
    static func build(_ text: [UInt8]) -> [UInt8] {
        let value = text + [0]  // ASCII values end with NUL
        let headerSize = 8, entriesStart = headerSize + 2, entrySize = 12
        let valueOffset = entriesStart + entrySize + 4  // after IFD0's next-IFD offset
        var tiff: [UInt8] = [0x49, 0x49, 0x2A, 0x00] + littleEndianBytes(UInt32(headerSize))
        tiff += littleEndianBytes(UInt16(1))  // one entry
        tiff += littleEndianBytes(imageDescriptionTag) + littleEndianBytes(asciiType)
        tiff += littleEndianBytes(UInt32(value.count))
        if value.count <= 4 {
            // Values of up to four bytes sit in the entry itself, left-justified.
            tiff += value + [UInt8](repeating: 0, count: 4 - value.count)
            tiff += littleEndianBytes(UInt32(0))  // no next IFD
        } else {
            tiff += littleEndianBytes(UInt32(valueOffset))
            tiff += littleEndianBytes(UInt32(0))  // no next IFD
            tiff += value
        }
        return tiff
    }

    /// The ImageDescription value in IFD0 of `tiff` up to its first NUL, or nil when the
    /// structure has none, or when it or the value does not lie within the bytes. Every offset is
    /// checked before it is followed, and the walk ends at IFD0's last entry (at most 65535).
    static func read<Bytes: Collection>(_ tiff: Bytes) -> [UInt8]? where Bytes.Element == UInt8, Bytes.Index == Int {
        let start = tiff.startIndex
        let littleEndian: Bool
        if tiff.matches([0x49, 0x49, 0x2A, 0x00], at: start) {
            littleEndian = true
        } else if tiff.matches([0x4D, 0x4D, 0x00, 0x2A], at: start) {
            littleEndian = false
        } else {
            return nil
        }
        /// The number of `count` bytes at `offset` from the start of the structure.
        func number(_ offset: Int, _ count: Int) -> Int? {
            let at = start + offset
            return (littleEndian ? tiff.littleEndian(at: at, count: count) : tiff.bigEndian(at: at, count: count)).map(Int.init)
        }
        guard let ifd = number(4, 4), let entries = number(ifd, 2) else { return nil }
        for index in 0..<entries {
            let entry = ifd + 2 + 12 * index
            guard let tag = number(entry, 2), let type = number(entry + 2, 2), let count = number(entry + 4, 4) else {
                return nil
            }
            guard tag == Int(imageDescriptionTag) else { continue }
            guard type == Int(asciiType), let offset = count <= 4 ? entry + 8 : number(entry + 8, 4),
                offset <= tiff.count, count <= tiff.count - offset
            else { return nil }
            return Array(tiff[start + offset..<start + offset + count].prefix { $0 != 0 })
        }
        return nil
    }
}
