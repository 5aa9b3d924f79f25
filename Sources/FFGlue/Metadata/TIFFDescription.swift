/// The TIFF structure that carries the metadata text in Exif (JPEG APP1 segments, WebP EXIF
/// chunks): a little-endian header and IFD0 with a single ImageDescription entry (tag 0x010E,
/// type ASCII), no further IFD. Readers that know Exif report the text as the image description.
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
}
