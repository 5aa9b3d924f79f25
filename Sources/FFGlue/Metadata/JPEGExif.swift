import NICCore

/// JPEG segment surgery: the metadata text as an APP1 `Exif\0\0` segment holding a
/// `TIFFDescription`, right after SOI as Exif asks (FFmpeg's encoder writes no JFIF APP0
/// segment when the picture has no aspect ratio, as here, so nothing else claims that place).
enum JPEGExif {
    static let exifIdentifier: [UInt8] = Array("Exif".utf8) + [0, 0]

    /// `jpeg` with the text inserted. `text` is validated already.
    static func inserting(_ text: [UInt8], into jpeg: [UInt8]) throws -> [UInt8] {
        guard jpeg.matches([0xFF, 0xD8], at: 0) else {
            throw NICError.internal("the JPEG encoder's output does not start with a start-of-image marker")
        }
        let payload = exifIdentifier + TIFFDescription.build(text)
        guard payload.count + 2 <= 0xFFFF else {
            throw NICError.invalidArgument("the metadata text is too long for a JPEG APP1 segment")
        }
        let segment: [UInt8] = [0xFF, 0xE1] + bigEndianBytes(UInt16(payload.count + 2)) + payload
        return Array(jpeg[..<2]) + segment + jpeg[2...]
    }

    /// The metadata text of a JPEG: the ImageDescription of the first APP1 `Exif` segment before
    /// the first scan, nil when there is none or its text is not valid metadata text.
    static func text(of jpeg: UnsafeRawBufferPointer) -> String? {
        guard let segments = jpegSegments(jpeg) else { return nil }
        for segment in segments where segment.marker == 0xE1 {
            let payload = jpeg[segment.payload]
            guard payload.starts(with: exifIdentifier) else { continue }
            return TIFFDescription.read(payload.dropFirst(exifIdentifier.count)).flatMap(MetadataText.decoded)
        }
        return nil
    }
}
