// Still images and their metadata text: the PNG chunk walker and the repair of damaged
// ancillary chunks (PNGText), the WebP RIFF walker and trailing-chunk repair (WebPContainer),
// the header read before decoding (ImageFile.header: declared size and text, whose text must be
// the decode's), then, for inputs of at most 64 KiB, ImageFile.readWithMetadata(data:) (FFmpeg's demuxer and
// decoder behind the in-memory AVIOContext, the PNG tEXt / JPEG and WebP Exif description)
// and what the still-image AI decoder makes of the text (findAIData, AIDecodePlan).
// FFmpeg allocations are capped at `maxFFmpegAllocation` (av_max_alloc), so that a few bytes
// declaring a picture of up to ImageLimits' 16384x16384 fail to allocate instead of taking
// seconds to decode; the library must handle that failure like any other.
import CFFmpeg
import Glibc
@testable import FFGlue
@testable import NICCore

let maxDecodedInput = 64 << 10
let maxFFmpegAllocation = 4 << 20
let store = try? ModelStore(directory: fuzzModelDirectory)

func fuzzSetUp() {
    FFmpegLogging.silence()
    av_max_alloc(maxFFmpegAllocation)
    fuzzWriteSeedsIfAsked(imageSeeds)
    if store == nil { fuzzFail("no model directory at \(fuzzModelDirectory) (set NIC_FUZZ_MODELS)") }
}

func fuzzOne(_ input: [UInt8]) {
    if let chunks = PNGText.chunks(of: input) {
        for chunk in chunks where chunk.end > input.count || chunk.data.lowerBound < chunk.start {
            fuzzFail("PNG chunk \(chunk) lies outside the \(input.count) bytes")
        }
    }
    _ = WebPContainer.chunks(of: input)
    let repaired = input.withUnsafeBytes { raw in
        (PNGText.withoutDamagedAncillaryChunks(raw), WebPContainer.withoutBrokenTrailingChunk(raw))
    }
    if let png = repaired.0, png.count > input.count { fuzzFail("PNG repair grew the file") }
    if let webp = repaired.1, webp.count > input.count { fuzzFail("WebP repair grew the file") }

    let header = ImageFile.header(data: input)
    guard input.count <= maxDecodedInput, let contents = try? ImageFile.readWithMetadata(data: input) else { return }
    if let text = contents.metadataText, !MetadataText.isValid(Array(text.utf8)) {
        fuzzFail("readWithMetadata returned text that is not valid metadata text")
    }
    // The still-image decoder plans from the header before decoding, then again from the decoded
    // picture: the text must be the same (the size may differ in a damaged JPEG, whose markers
    // FFmpeg finds by scanning, not by their lengths; the second plan is the one carried out).
    if let header, header.metadataText != contents.metadataText {
        fuzzFail("the header's metadata text differs from the decode's")
    }
    let found = StillImageAICodec.findAIData(contents.metadataText)
    _ = try? AIDecodePlan(
        found: found, imageWidth: contents.image.width, imageHeight: contents.image.height,
        manifest: store?.manifest, options: .init())
}

/// Small PNG, JPEG, WebP and BMP files from the library's encoder, with and without AI data
/// text, colour and grey, plus the two kinds of damage the reader repairs.
func imageSeeds() throws -> [(name: String, bytes: [UInt8])] {
    let colour = try TestPattern.make(width: 24, height: 16)
    let grey = try PlanarImage(
        format: .gray8, width: 17, height: 9,
        planes: [(0..<(17 * 9)).map { UInt8(truncatingIfNeeded: $0 * 7) }])
    let record = AIDataRecord(
        settingID: 1, scaleNumerator: 2, scaleDenominator: 1, originalWidth: 48, originalHeight: 32,
        downscaledWidth: 24, downscaledHeight: 16, codec: .png, flags: [.genericFallbackAllowed])
    let text = try record.textForm()
    var seeds: [(name: String, bytes: [UInt8])] = []
    for format in ImageFileFormat.allCases {
        for (imageName, image) in [("colour", colour), ("grey", grey)] {
            let name = "\(format.rawValue)-\(imageName)"
            seeds.append((name, try ImageFile.encode(image, format: format, quality: 50)))
            if format.carriesMetadataText {
                var withText = record
                withText.codec = format == .jpeg ? .jpeg : format == .webp ? .webp : .png
                withText.downscaledWidth = image.width; withText.downscaledHeight = image.height
                withText.originalWidth = 2 * image.width; withText.originalHeight = 2 * image.height
                seeds.append(
                    (
                        name + "-aidata",
                        try ImageFile.encode(
                            image, format: format, quality: 50,
                            metadataText: try withText.textForm())
                    ))
            }
        }
    }
    seeds.append(("png-other-text", try ImageFile.encode(colour, format: .png, metadataText: "not AI data")))
    // A PNG whose tEXt chunk has a wrong CRC: dropped before decoding.
    var damagedPNG = try ImageFile.encode(colour, format: .png, metadataText: text)
    if let chunk = PNGText.chunks(of: damagedPNG)?.first(where: { $0.type == 0x7445_5874 }) {
        damagedPNG[chunk.end - 1] ^= 0xFF
        seeds.append(("png-damaged-text", damagedPNG))
    }
    // A WebP file with a chunk after the picture whose size runs past the end.
    let webp = try ImageFile.encode(colour, format: .webp, metadataText: text)
    var broken = webp + Array("JUNK".utf8) + [0xFF, 0xFF, 0xFF, 0xFF, 1, 2]
    let riff = UInt32(broken.count - 8)
    for i in 0..<4 { broken[4 + i] = UInt8(truncatingIfNeeded: riff >> (8 * UInt32(i))) }
    seeds.append(("webp-broken-trailer", broken))
    return seeds
}
