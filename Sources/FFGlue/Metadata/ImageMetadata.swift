import CFFmpeg
import Glibc
import NICCore

/// Where the metadata text goes in each format, and how it comes back.
///
/// Writing: FFmpeg's encoders write no image metadata, so the text is added to the encoded
/// file (`PNGText`, `JPEGExif`, `WebPContainer`). Reading: FFmpeg 5.1's decoders already
/// report it as frame metadata, the PNG decoder under the tEXt keyword, the JPEG and WebP
/// decoders under the Exif tag name "ImageDescription"; the value is used when it is valid
/// metadata text. Damaged metadata never stops decoding: FFmpeg skips Exif it cannot parse,
/// and the two kinds of damage it does not skip are repaired beforehand (`repairedForDecoding`).
enum ImageMetadata {
    /// Frame metadata keys that hold the text, tried in this order.
    static let frameMetadataKeys = [PNGText.keyword, "ImageDescription"]

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

    /// The metadata text of a decoded frame, nil when it has none or it is not valid text.
    static func text(of frame: UnsafeMutablePointer<AVFrame>) -> String? {
        for key in frameMetadataKeys {
            guard let entry = av_dict_get(frame.pointee.metadata, key, nil, 0) else { continue }
            guard let value = entry.pointee.value else { return nil }
            let bytes = UnsafeRawBufferPointer(start: value, count: strlen(value))
            return MetadataText.decoded(bytes)
        }
        return nil
    }
}
