import CFFmpeg
import Glibc
import NICCore

/// Where the metadata text goes in each format, and how it comes back.
///
/// Writing: FFmpeg's encoders write no image metadata, so the text is added to the encoded
/// file (`PNGText`, `JPEGExif`, `WebPContainer`). Reading takes the same places from the file's
/// bytes, before and without decoding the picture (`text(ofFile:)`), so that what the text asks
/// for can be checked first; the value is used when it is valid metadata text. Damaged metadata
/// never stops decoding: it reads as no text, and the two kinds of damage FFmpeg's decoders
/// would refuse are repaired before they see the file (`repairedForDecoding`).
enum ImageMetadata {
    /// `file`, a complete file of `format`, with `text` (validated already) added.
    static func embedding(_ text: [UInt8], in file: [UInt8], format: ImageFileFormat) throws -> [UInt8] {
        switch format {
        case .png: return try PNGText.inserting(text, into: file)
        case .jpeg: return try JPEGExif.inserting(text, into: file)
        case .webp: return try WebPContainer.inserting(text, into: file)
        case .bmp: throw NICError.unsupportedFormat("BMP files cannot carry metadata text; use PNG, JPEG or WebP")
        }
    }

    /// The bytes FFmpeg should decode instead of `file`, or nil for `file` itself: a PNG loses
    /// its ancillary chunks with a wrong CRC, which FFmpeg's CRC-checking decoder would refuse,
    /// and a WebP file a chunk after the picture whose size runs past the end of the file.
    static func repairedForDecoding(_ file: UnsafeRawBufferPointer) -> [UInt8]? {
        PNGText.withoutDamagedAncillaryChunks(file) ?? WebPContainer.withoutBrokenTrailingChunk(file)
    }

    /// The metadata text of a PNG, JPEG or WebP file, nil when it has none, it is not valid
    /// text, or the file is of another format.
    static func text(ofFile file: UnsafeRawBufferPointer) -> String? {
        PNGText.text(of: file) ?? JPEGExif.text(of: file) ?? WebPContainer.text(of: file)
    }
}
