import NICCore

/// RIFF surgery on a WebP file: turns a simple file (one `VP8 ` or `VP8L` chunk) into the
/// extended format, a `VP8X` chunk with the Exif flag and the canvas size taken from the
/// bitstream, the image chunk, then an `EXIF` chunk holding a `TIFFDescription`. A file that is
/// extended already keeps its chunks (an old EXIF chunk is replaced). Chunks of odd size are
/// padded to even, and the RIFF size is recomputed.
enum WebPContainer {
    private static let exifFlag: UInt8 = 0x08
    private static let alphaFlag: UInt8 = 0x10

    /// One chunk: its four-letter type and where its data lies in the file.
    struct Chunk {
        var type: [UInt8]
        var data: Range<Int>

        func isType(_ name: String) -> Bool { type.elementsEqual(name.utf8) }
    }

    /// `webp` with the text added. `text` is validated already.
    static func inserting(_ text: [UInt8], into webp: [UInt8]) throws -> [UInt8] {
        guard let chunks = chunks(of: webp), !chunks.isEmpty else {
            throw NICError.internal("the WebP encoder's output is not a RIFF WebP file")
        }
        var header: [UInt8]
        if chunks[0].isType("VP8X") {
            guard chunks[0].data.count >= 10 else { throw NICError.internal("the WebP encoder wrote a short VP8X chunk") }
            header = Array(webp[chunks[0].data])
            header[0] |= exifFlag
        } else {
            guard let image = chunks.first(where: { $0.isType("VP8 ") || $0.isType("VP8L") }),
                let canvas = canvas(of: image, in: webp)
            else {
                throw NICError.internal("the WebP encoder's output holds no image chunk with a readable size")
            }
            header = [exifFlag | (canvas.alpha ? alphaFlag : 0), 0, 0, 0]
            header += littleEndianBytes(UInt32(canvas.width - 1)).prefix(3)
            header += littleEndianBytes(UInt32(canvas.height - 1)).prefix(3)
        }
        var body: [UInt8] = Array("WEBP".utf8) + chunk(Array("VP8X".utf8), header[...])
        for chunk in chunks where !chunk.isType("VP8X") && !chunk.isType("EXIF") {
            body += self.chunk(chunk.type, webp[chunk.data])
        }
        body += chunk(Array("EXIF".utf8), TIFFDescription.build(text)[...])
        guard body.count <= 0xFFFF_FFF0 else { throw NICError.invalidArgument("the WebP file would be too large") }
        return Array("RIFF".utf8) + littleEndianBytes(UInt32(body.count)) + body
    }

    /// The chunks of a RIFF WebP file, or nil when it is not one or a chunk runs past the end.
    static func chunks<Bytes: Collection>(of webp: Bytes) -> [Chunk]? where Bytes.Element == UInt8, Bytes.Index == Int {
        let start = webp.startIndex
        guard webp.matches(Array("RIFF".utf8), at: start), webp.matches(Array("WEBP".utf8), at: start + 8),
            let riffSize = webp.littleEndian(at: start + 4, count: 4)
        else { return nil }
        let end = start + min(webp.count, 8 + Int(riffSize))
        var result: [Chunk] = []
        var position = start + 12
        while position + 8 <= end {
            guard let size = webp.littleEndian(at: position + 4, count: 4), Int(size) <= end - position - 8 else {
                return nil
            }
            result.append(Chunk(type: Array(webp[position..<position + 4]), data: position + 8..<position + 8 + Int(size)))
            position += 8 + Int(size) + Int(size & 1)
        }
        return result
    }

    /// `webp` cut before a chunk that follows the picture but claims more bytes than the file
    /// holds (a damaged EXIF chunk, say), with the RIFF size made to fit; nil when there is no
    /// such chunk. FFmpeg ignores most such chunks but fails on a size of 0xFFFFFFFF.
    static func withoutBrokenTrailingChunk(_ webp: UnsafeRawBufferPointer) -> [UInt8]? {
        let bytes = UnsafeBufferPointer(start: webp.baseAddress?.assumingMemoryBound(to: UInt8.self), count: webp.count)
        guard bytes.matches(Array("RIFF".utf8), at: 0), bytes.matches(Array("WEBP".utf8), at: 8),
            let riffSize = bytes.littleEndian(at: 4, count: 4), Int(riffSize) <= bytes.count - 8
        else { return nil }
        let end = 8 + Int(riffSize)
        var position = 12, sawPicture = false
        while position + 8 <= end, let size = bytes.littleEndian(at: position + 4, count: 4) {
            if Int(size) > end - position - 8 {
                guard sawPicture else { return nil }
                return Array("RIFF".utf8) + littleEndianBytes(UInt32(position - 8)) + bytes[8..<position]
            }
            sawPicture =
                sawPicture || bytes.matches(Array("VP8 ".utf8), at: position)
                || bytes.matches(Array("VP8L".utf8), at: position)
            position += 8 + Int(size) + Int(size & 1)
        }
        return nil
    }

    /// The size of the picture a WebP file holds: that of its first `VP8 ` or `VP8L` chunk (what
    /// FFmpeg decodes, whatever a VP8X chunk says of the canvas); nil when it is not a WebP file
    /// whose chunks can be followed.
    static func pictureSize<Bytes: Collection>(of webp: Bytes) -> (width: Int, height: Int)?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        guard let picture = chunks(of: webp)?.first(where: { $0.isType("VP8 ") || $0.isType("VP8L") }),
            let canvas = canvas(of: picture, in: webp)
        else { return nil }
        return (canvas.width, canvas.height)
    }

    /// Width, height and alpha of the picture in a `VP8 ` (key frame header) or `VP8L`
    /// (14-bit sizes after the 0x2F signature) chunk of `webp`.
    private static func canvas<Bytes: Collection>(of chunk: Chunk, in webp: Bytes) -> (width: Int, height: Int, alpha: Bool)?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        let start = chunk.data.lowerBound
        if chunk.isType("VP8 ") {
            guard chunk.data.count >= 10, webp[start] & 1 == 0, webp.matches([0x9D, 0x01, 0x2A], at: start + 3),
                let width = webp.littleEndian(at: start + 6, count: 2),
                let height = webp.littleEndian(at: start + 8, count: 2)
            else { return nil }
            let size = (Int(width & 0x3FFF), Int(height & 0x3FFF))
            return size.0 > 0 && size.1 > 0 ? (size.0, size.1, false) : nil
        }
        guard chunk.data.count >= 5, webp[start] == 0x2F, let bits = webp.littleEndian(at: start + 1, count: 4) else {
            return nil
        }
        return (Int(bits & 0x3FFF) + 1, Int(bits >> 14 & 0x3FFF) + 1, bits >> 28 & 1 == 1)
    }

    /// The metadata text of a WebP file: the ImageDescription in its EXIF chunk (a TIFF
    /// structure, with or without the `Exif\0\0` prefix some writers put in front).
    static func text<Bytes: Collection>(of webp: Bytes) -> String? where Bytes.Element == UInt8, Bytes.Index == Int {
        guard let exif = chunks(of: webp)?.first(where: { $0.isType("EXIF") }) else { return nil }
        let data = webp[exif.data]
        let tiff = data.starts(with: JPEGExif.exifIdentifier) ? data.dropFirst(JPEGExif.exifIdentifier.count) : data
        return TIFFDescription.read(tiff).flatMap(MetadataText.decoded)
    }

    /// A chunk: type, little-endian size, data, one zero byte of padding when the size is odd.
    private static func chunk(_ type: [UInt8], _ data: ArraySlice<UInt8>) -> [UInt8] {
        var bytes = type + littleEndianBytes(UInt32(data.count)) + data
        if data.count % 2 == 1 { bytes.append(0) }
        return bytes
    }
}
