// Checks on the raw bytes of PNG, JPEG, BMP and WebP files before FFmpeg sees them, for two
// things FFmpeg does not report clearly: absurd sizes (its decoders call them "invalid data")
// and JPEGs cut short (it pads the missing blocks and returns a picture without complaint).

/// Width and height declared by the file's header (PNG, JPEG, BMP, or the picture in a WebP file), or nil
/// when the format is another or the header is incomplete (FFmpeg then decides).
func declaredImageSize(_ bytes: UnsafeRawBufferPointer) -> (width: Int, height: Int)? {
    pngSize(bytes) ?? jpegSize(bytes) ?? bmpSize(bytes) ?? WebPContainer.pictureSize(of: bytes)
}

private func bigEndian(_ b: UnsafeRawBufferPointer, _ at: Int, _ count: Int) -> Int {
    (at..<at + count).reduce(0) { $0 << 8 | Int(b[$1]) }
}

private func littleEndian(_ b: UnsafeRawBufferPointer, _ at: Int, _ count: Int) -> Int {
    (at..<at + count).reversed().reduce(0) { $0 << 8 | Int(b[$1]) }
}

/// PNG: 8-byte signature, then the IHDR chunk whose data starts with width and height.
private func pngSize(_ b: UnsafeRawBufferPointer) -> (width: Int, height: Int)? {
    let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]
    guard b.count >= 24, signature.indices.allSatisfy({ b[$0] == signature[$0] }) else { return nil }
    return (bigEndian(b, 16, 4), bigEndian(b, 20, 4))
}

/// JPEG: the first start-of-frame segment (SOF0...SOF15, except DHT, JPG and DAC which share
/// that range).
private func jpegSize(_ b: UnsafeRawBufferPointer) -> (width: Int, height: Int)? {
    jpegFrame(b).map { ($0.width, $0.height) }
}

/// The first start-of-frame segment of a JPEG: its marker (which names the coding) and size.
private func jpegFrame(_ b: UnsafeRawBufferPointer) -> (marker: UInt8, width: Int, height: Int)? {
    let isFrame = { (marker: UInt8) in (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) }
    guard let frame = jpegSegments(b)?.first(where: { isFrame($0.marker) }), frame.payload.count >= 5 else { return nil }
    let height = bigEndian(b, frame.payload.lowerBound + 1, 2), width = bigEndian(b, frame.payload.lowerBound + 3, 2)
    return height == 0 ? nil : (frame.marker, width, height)  // 0: height comes later (DNL)
}

/// The marker segments of a JPEG after SOI, up to the first scan (SOS) or end of image: each
/// one's marker and the range of its payload (after the length field; the last one is cut at
/// the end of `b`). The walk stops at anything that is not a marker segment. nil when `b` does
/// not start with SOI.
func jpegSegments(_ b: UnsafeRawBufferPointer) -> [(marker: UInt8, payload: Range<Int>)]? {
    guard b.count >= 4, b[0] == 0xFF, b[1] == 0xD8 else { return nil }
    var segments: [(marker: UInt8, payload: Range<Int>)] = []
    var pos = 2
    while pos + 4 <= b.count {
        guard b[pos] == 0xFF else { break }
        let marker = b[pos + 1]
        if marker == 0xFF { pos += 1; continue }  // fill byte
        if marker == 0x01 || (0xD0...0xD8).contains(marker) { pos += 2; continue }  // no length
        if marker == 0xD9 || marker == 0xDA { break }  // EOI / SOS
        let length = bigEndian(b, pos + 2, 2)
        guard length >= 2 else { break }
        segments.append((marker, pos + 4..<min(pos + 2 + length, b.count)))
        pos += 2 + length
    }
    return segments
}

/// BMP: "BM", then a DIB header whose size tells its layout; negative height means top-down.
private func bmpSize(_ b: UnsafeRawBufferPointer) -> (width: Int, height: Int)? {
    guard b.count >= 26, b[0] == 0x42, b[1] == 0x4D else { return nil }
    let headerSize = littleEndian(b, 14, 4)
    if headerSize == 12 { return (littleEndian(b, 18, 2), littleEndian(b, 20, 2)) }  // OS/2 1.x
    guard headerSize >= 40 else { return nil }
    let width = Int(Int32(truncatingIfNeeded: littleEndian(b, 18, 4)))
    let height = Int(Int32(truncatingIfNeeded: littleEndian(b, 22, 4)))
    return (width, abs(height))
}

/// True when `b` is a JPEG whose data ends before the end-of-image marker. Walks the marker
/// segments and the entropy-coded scans (where 0xFF is always followed by 0x00 or a restart
/// marker). False for anything else, including malformed JPEGs, which FFmpeg then judges.
func jpegIsTruncated(_ b: UnsafeRawBufferPointer) -> Bool {
    guard b.count >= 3, b[0] == 0xFF, b[1] == 0xD8, b[2] == 0xFF else { return false }
    var pos = 2, inScan = false
    while pos + 1 < b.count {
        guard b[pos] == 0xFF else {
            if !inScan { return false }  // junk between segments
            pos += 1
            continue
        }
        let marker = b[pos + 1]
        switch marker {
        case 0xD9: return false  // EOI: complete
        case 0xFF: pos += 1  // fill byte
        case 0x00 where inScan, 0xD0...0xD7, 0x01, 0xD8: pos += 2  // stuffing, RSTn, TEM, SOI
        default:
            guard pos + 4 <= b.count else { return true }
            let length = bigEndian(b, pos + 2, 2)
            guard length >= 2 else { return false }
            pos += 2 + length
            inScan = marker == 0xDA  // SOS: entropy data follows
        }
    }
    return true
}

/// The least number of bytes that can code a picture of the size `b`'s header declares, when
/// that bound is known: a file below it is damaged or cut, and is refused before a decoder
/// allocates the declared picture (a 126-byte PNG declaring 16000x16000 cost 790 MB and 2 s).
/// - PNG: deflate codes at most 1032 bytes in one byte (a 258-byte match in about two bits), so
///   the IDAT chunks hold at least the filtered rows' bytes / 1032.
/// - Huffman-coded JPEG: every block's DC coefficient takes at least one bit, so a file holds at
///   least one bit per 8x8 block of the first component (arithmetic coding has no such bound).
/// nil for other formats, which FFmpeg then judges.
func leastCodedBytes(_ b: UnsafeRawBufferPointer) -> (needed: Int, found: Int)? {
    if let chunks = PNGText.chunks(of: b), let (width, height) = pngSize(b), b.count >= 29 {
        let depth = Int(b[24]), colourType = Int(b[25])
        let channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colourType] ?? 1
        let rowBytes = 1 + (width * channels * max(depth, 1) + 7) / 8
        let found = chunks.filter { $0.type == PNGText.pictureDataType }.reduce(0) { $0 + $1.data.count }
        return (height * rowBytes / 1032, found)
    }
    // Huffman-coded frames: SOF0...SOF3, SOF5...SOF7 (SOF9 and up are arithmetic-coded).
    if let frame = jpegFrame(b), frame.marker < 0xC8 {
        return (((frame.width + 7) / 8) * ((frame.height + 7) / 8) / 8, b.count)
    }
    return nil
}
