@testable import FFGlue
import Glibc
import NICCore
import XCTest

/// Metadata text in PNG (tEXt), JPEG (APP1 Exif) and WebP (VP8X + EXIF) files: round trips,
/// file layout, validity for other tools, and robustness against damaged metadata.
final class ImageMetadataTests: XCTestCase {
    private var directory = ""
    private let text = "nicai1:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

    override func setUpWithError() throws {
        FFmpegLogging.silence()  // the corruption tests would flood the log otherwise
        directory = try TemporaryDirectory(prefix: "ffglue-metadata").path
    }

    override func tearDown() {
        TemporaryDirectory(path: directory).remove()
    }

    // MARK: Round trips

    func testPNGRoundTripKeepsTextAndPixels() throws {
        for format in [PixelFormat.rgb24, .gray8] {
            let image = try noiseImage(format, width: 29, height: 17, seed: 1)
            let path = file("text-\(format).png")
            try ImageFile.write(image, path: path, metadataText: text)
            let contents = try ImageFile.readWithMetadata(path: path)
            XCTAssertEqual(contents.metadataText, text, "\(format)")
            XCTAssertEqual(contents.image.format, format)
            XCTAssertEqual(contents.image.planes, image.planes, "the text leaves the pixels alone (\(format))")
            XCTAssertEqual(try ImageFile.read(path: path).planes, image.planes)
        }
    }

    func testJPEGRoundTripKeepsTextAndPixels() throws {
        let image = try smoothImage(width: 48, height: 40)
        let path = file("text.jpg")
        try ImageFile.write(image, path: path, quality: 85, metadataText: text)
        let contents = try ImageFile.readWithMetadata(path: path)
        XCTAssertEqual(contents.metadataText, text)
        let plain = try ImageFile.read(data: ImageFile.encode(image, format: .jpeg, quality: 85))
        XCTAssertEqual(contents.image.planes, plain.planes, "same pixels as the file without text")
    }

    func testWebPRoundTripKeepsTextAndDecodesWell() throws {
        let image = try smoothImage(width: 96, height: 64)
        let path = file("text.webp")
        try ImageFile.write(image, path: path, quality: 90, metadataText: text)
        let contents = try ImageFile.readWithMetadata(path: path)
        XCTAssertEqual(contents.metadataText, text)
        XCTAssertEqual(contents.image.format, .rgb24)
        XCTAssertEqual(contents.image.width, 96)
        XCTAssertEqual(contents.image.height, 64)
        let quality = psnr(contents.image.planes[0], image.planes[0])
        XCTAssertGreaterThan(quality, 30, "PSNR \(quality) dB at quality 90")
        let plain = try ImageFile.read(data: ImageFile.encode(image, format: .webp, quality: 90))
        XCTAssertEqual(contents.image.planes, plain.planes, "same pixels as the file without text")
        XCTAssertEqual(try ImageFile.readWithMetadata(path: path, as: .yuv420p).image.format, .yuv420p)
    }

    func testWebPQualityControlsSizeAndAcceptsEveryPixelFormat() throws {
        let image = try smoothImage(width: 64, height: 48)
        let low = try ImageFile.encode(image, format: .webp, quality: 5)
        let high = try ImageFile.encode(image, format: .webp, quality: 100)
        XCTAssertLessThan(low.count, high.count)
        XCTAssertGreaterThan(
            psnr(try ImageFile.read(data: high).planes[0], image.planes[0]),
            psnr(try ImageFile.read(data: low).planes[0], image.planes[0]))
        XCTAssertThrowsError(try ImageFile.encode(image, format: .webp, quality: 0)) { assertKind($0, "invalidArgument") }
        for format in [PixelFormat.gray8, .yuv420p, .yuv444p] {
            let converted = try ImageFile.read(data: ImageFile.encode(image, format: .png), as: format)
            let webp = try ImageFile.encode(converted, format: .webp, metadataText: "x")
            let back = try ImageFile.readWithMetadata(data: webp)
            XCTAssertEqual(back.metadataText, "x")
            XCTAssertEqual(back.image.width, 64, "\(format)")
            XCTAssertEqual(back.image.height, 48, "\(format)")
        }
        // Odd sizes survive 4:2:0.
        let odd = try smoothImage(width: 33, height: 7)
        let oddBack = try ImageFile.read(data: ImageFile.encode(odd, format: .webp, quality: 95))
        XCTAssertEqual(oddBack.width, 33)
        XCTAssertEqual(oddBack.height, 7)
    }

    func testWebPTooLargeIsDimensionsError() throws {
        let wide = try PlanarImage(format: .gray8, width: ImageFile.maxWebPDimension + 1, height: 1)
        XCTAssertThrowsError(try ImageFile.encode(wide, format: .webp)) { assertKind($0, "dimensions") }
    }

    func testWebPExtensionIsRecognised() throws {
        XCTAssertEqual(ImageFileFormat(path: "a/b.WebP"), .webp)
        XCTAssertEqual(ImageFileFormat(path: "x.webp"), .webp)
        XCTAssertFalse(ImageFileFormat.bmp.carriesMetadataText)
        XCTAssertTrue([ImageFileFormat.png, .jpeg, .webp].allSatisfy(\.carriesMetadataText))
    }

    func testTextsOfEveryLengthClassRoundTrip() throws {
        // 1...3 characters fit inside the TIFF entry itself (with the NUL); 4 is the first that
        // does not; odd and even lengths exercise the padding of WebP chunks.
        let image = try smoothImage(width: 16, height: 16)
        let printable = String((0x20...0x7E).map { Character(UnicodeScalar(UInt8($0))) })
        let long = String(repeating: printable, count: 11).prefix(ImageFile.maxMetadataTextBytes)
        for sample in ["a", "ab", "abc", "abcd", "abcde", " ", printable, String(long)] {
            for format in [ImageFileFormat.png, .jpeg, .webp] {
                let bytes = try ImageFile.encode(image, format: format, metadataText: sample)
                XCTAssertEqual(
                    try ImageFile.readWithMetadata(data: bytes).metadataText, sample,
                    "\(format), \(sample.utf8.count) bytes")
            }
        }
    }

    // MARK: Layout

    func testPNGTextChunkFollowsHeader() throws {
        let bytes = try ImageFile.encode(smoothImage(width: 8, height: 8), format: .png, metadataText: text)
        let chunk = try XCTUnwrap(pngTextChunk(bytes))
        XCTAssertEqual(chunk.start, 33, "right after the signature and IHDR")
        XCTAssertEqual(Array(bytes[chunk.data]), Array("nic-aidata".utf8) + [0] + Array(text.utf8))
        XCTAssertEqual(be32(bytes, chunk.data.upperBound), crc32(bytes[chunk.start + 4..<chunk.data.upperBound]))
    }

    func testJPEGExifSegmentLayout() throws {
        let bytes = try ImageFile.encode(smoothImage(width: 8, height: 8), format: .jpeg, metadataText: text)
        let segment = try XCTUnwrap(jpegExifSegment(bytes))
        XCTAssertEqual(segment.start, 2, "right after SOI")
        XCTAssertEqual(segment.payload.upperBound - segment.start, 4 + 6 + 26 + text.utf8.count + 1)
        XCTAssertEqual(Array(bytes[segment.payload.prefix(6)]), Array("Exif".utf8) + [0, 0])
        let tiff = Array(bytes[segment.payload.dropFirst(6)])
        XCTAssertEqual(imageDescription(tiff), text)
    }

    /// Exif from other writers: a big-endian TIFF with several IFD0 entries before and after the
    /// description, and a WebP EXIF chunk that starts with the `Exif\0\0` prefix.
    func testTextIsReadFromExifOfEitherByteOrderAndPrefix() throws {
        let value = Array(text.utf8) + [0]
        var tiff: [UInt8] = [0x4D, 0x4D, 0x00, 0x2A] + bigEndianBytes(UInt32(8)) + bigEndianBytes(UInt16(3))
        let valueOffset = 8 + 2 + 3 * 12 + 4
        tiff += bigEndianBytes(UInt16(0x0100)) + bigEndianBytes(UInt16(4)) + bigEndianBytes(UInt32(1)) + bigEndianBytes(UInt32(8))
        tiff += bigEndianBytes(UInt16(0x010E)) + bigEndianBytes(UInt16(2)) + bigEndianBytes(UInt32(UInt32(value.count)))
        tiff += bigEndianBytes(UInt32(UInt32(valueOffset)))
        tiff += bigEndianBytes(UInt16(0x0112)) + bigEndianBytes(UInt16(3)) + bigEndianBytes(UInt32(1)) + [0, 1, 0, 0]
        tiff += bigEndianBytes(UInt32(0)) + value
        XCTAssertEqual(TIFFDescription.read(tiff), Array(text.utf8))
        XCTAssertNil(TIFFDescription.read(tiff.prefix(valueOffset + 10)), "the value runs past the end")
        XCTAssertEqual(TIFFDescription.read(TIFFDescription.build(Array("ab".utf8))), Array("ab".utf8), "inline value")

        let plain = try ImageFile.encode(smoothImage(width: 8, height: 8), format: .jpeg)
        let payload = JPEGExif.exifIdentifier + tiff
        let jpeg = Array(plain[..<2]) + [0xFF, 0xE1] + bigEndianBytes(UInt16(payload.count + 2)) + payload + plain[2...]
        XCTAssertEqual(try ImageFile.readWithMetadata(data: jpeg).metadataText, text)

        let webp = try ImageFile.encode(smoothImage(width: 8, height: 8), format: .webp, metadataText: "x")
        let chunks = try XCTUnwrap(WebPContainer.chunks(of: webp))
        let exif = try XCTUnwrap(chunks.first { $0.isType("EXIF") })
        var prefixed = Array(webp[..<(exif.data.lowerBound - 8)]) + Array("EXIF".utf8)
        prefixed += littleEndianBytes(UInt32(payload.count)) + payload + (payload.count % 2 == 1 ? [0] : [])
        prefixed.replaceSubrange(4..<8, with: littleEndianBytes(UInt32(prefixed.count - 8)))
        XCTAssertEqual(try ImageFile.readWithMetadata(data: prefixed).metadataText, text)
        XCTAssertEqual(ImageFile.header(data: prefixed), ImageFileHeader(width: 8, height: 8, metadataText: text))
    }

    func testWebPExtendedLayout() throws {
        for sample in [text, text + "0"] {  // odd and even EXIF chunk sizes
            let bytes = try ImageFile.encode(smoothImage(width: 70, height: 30), format: .webp, metadataText: sample)
            let chunks = riffChunks(bytes)
            XCTAssertEqual(chunks.map(\.type), ["VP8X", "VP8 ", "EXIF"])
            XCTAssertEqual(Int(le32(bytes, 4)), bytes.count - 8, "RIFF size")
            XCTAssertEqual(bytes.count % 2, 0)
            guard chunks.count == 3 else { continue }
            let vp8x = Array(bytes[chunks[0].data])
            XCTAssertEqual(vp8x.count, 10)
            XCTAssertEqual(vp8x[0], 0x08, "only the Exif flag")
            XCTAssertEqual(Int(vp8x[4]) | Int(vp8x[5]) << 8 | Int(vp8x[6]) << 16, 69, "canvas width - 1")
            XCTAssertEqual(Int(vp8x[7]) | Int(vp8x[8]) << 8 | Int(vp8x[9]) << 16, 29, "canvas height - 1")
            XCTAssertEqual(imageDescription(Array(bytes[chunks[2].data])), sample)
        }
    }

    func testWebPContainerTakesLosslessAndExtendedFiles() throws {
        // Lossless: the canvas and the alpha flag come from the VP8L header (only it is read).
        let (width, height) = (300, 200)
        let bits = UInt32(width - 1) | UInt32(height - 1) << 14 | 1 << 28
        let vp8l: [UInt8] = [0x2F] + le32Bytes(bits) + [1, 2, 3, 4, 5, 6]
        let lossless =
            Array("RIFF".utf8) + le32Bytes(UInt32(4 + 8 + vp8l.count)) + Array("WEBPVP8L".utf8)
            + le32Bytes(UInt32(vp8l.count)) + vp8l
        let extended = try WebPContainer.inserting(Array("abc".utf8), into: lossless)
        let chunks = riffChunks(extended)
        XCTAssertEqual(chunks.map(\.type), ["VP8X", "VP8L", "EXIF"])
        XCTAssertEqual(Int(le32(extended, 4)), extended.count - 8)
        if chunks.count == 3 {
            XCTAssertEqual(Array(extended[chunks[0].data]), [0x18, 0, 0, 0, 43, 1, 0, 199, 0, 0], "Exif and alpha flags, canvas")
            XCTAssertEqual(Array(extended[chunks[1].data]), vp8l)
            XCTAssertEqual(imageDescription(Array(extended[chunks[2].data])), "abc")
        }
        // Extended already: the old EXIF chunk gives way to the new one.
        let image = try smoothImage(width: 20, height: 12)
        let first = try ImageFile.encode(image, format: .webp, metadataText: "first")
        let second = try WebPContainer.inserting(Array("second text".utf8), into: first)
        XCTAssertEqual(riffChunks(second).map(\.type), ["VP8X", "VP8 ", "EXIF"])
        let contents = try ImageFile.readWithMetadata(data: second)
        XCTAssertEqual(contents.metadataText, "second text")
        XCTAssertEqual(contents.image.planes, try ImageFile.read(data: first).planes)
        // Anything else is refused.
        for bad in [Array("RIFF\u{4}\0\0\0WEBP".utf8), Array("not a webp file".utf8), Array(lossless.prefix(20))] {
            XCTAssertThrowsError(try WebPContainer.inserting([0x61], into: bad)) { assertKind($0, "internal") }
        }
    }

    func testFilesAreValidForSystemTools() throws {
        let image = try smoothImage(width: 40, height: 24)
        var checked: [String] = []
        for format in [ImageFileFormat.png, .jpeg, .webp] {
            let path = file("tool.\(format.rawValue)")
            try ImageFile.write(image, path: path, metadataText: text)
            let output = file("ffprobe-\(format.rawValue).txt")
            if let status = runTool(
                ["ffprobe", "-v", "error", "-show_entries", "frame_tags", "-of", "default=nw=1", path],
                stdout: output)
            {
                XCTAssertEqual(status, 0, "ffprobe on \(format)")
                let key = format == .png ? "nic-aidata" : "ImageDescription"
                XCTAssertTrue(readText(output).contains("TAG:\(key)=\(text)"), "ffprobe: \(readText(output))")
                checked.append("ffprobe")
            }
        }
        let webp = file("tool.webp"), jpeg = file("tool.jpeg")
        for (tool, arguments) in [
            ("dwebp", [webp, "-o", file("d.ppm")]), ("webpinfo", [webp]),
            ("djpeg", ["-outfile", file("j.ppm"), jpeg]),
        ] {
            if let status = runTool([tool] + arguments, stdout: file("\(tool).txt")) {
                XCTAssertEqual(status, 0, "\(tool): \(readText(file("\(tool).txt")))")
                checked.append(tool)
            }
        }
        if checked.contains("webpinfo") {
            XCTAssertTrue(readText(file("webpinfo.txt")).contains("EXIF: 1"), readText(file("webpinfo.txt")))
        }
        if checked.isEmpty { throw XCTSkip("none of ffprobe, dwebp, webpinfo, djpeg is installed") }
    }

    // MARK: Missing and invalid text

    func testFilesWithoutTextGiveNil() throws {
        let image = try smoothImage(width: 12, height: 10)
        for format in ImageFileFormat.allCases {
            let contents = try ImageFile.readWithMetadata(data: ImageFile.encode(image, format: format))
            XCTAssertNil(contents.metadataText, "\(format)")
            XCTAssertEqual(contents.image.width, 12)
        }
        // A PNG with another tEXt keyword carries no metadata text.
        let png = try ImageFile.encode(image, format: .png)
        let other = Array(png[..<33]) + pngChunk("tEXt", Array("Comment".utf8) + [0] + Array("hello".utf8)) + png[33...]
        XCTAssertNil(try ImageFile.readWithMetadata(data: other).metadataText)
    }

    func testInvalidTextIsRejected() throws {
        let image = try smoothImage(width: 8, height: 8)
        let tooLong = String(repeating: "a", count: ImageFile.maxMetadataTextBytes + 1)
        for bad in ["", tooLong, "caf\u{E9}", "line\nbreak", "tab\there", "nul\u{0}byte", "del\u{7F}"] {
            for format in [ImageFileFormat.png, .jpeg, .webp] {
                XCTAssertThrowsError(try ImageFile.encode(image, format: format, metadataText: bad)) {
                    assertKind($0, "invalidArgument")
                }
            }
            XCTAssertThrowsError(try ImageFile.write(image, path: file("bad.png"), metadataText: bad)) {
                assertKind($0, "invalidArgument")
            }
        }
        XCTAssertEqual(access(file("bad.png"), F_OK), -1, "nothing written")
        XCTAssertThrowsError(try ImageFile.encode(image, format: .bmp, metadataText: "ok")) {
            assertKind($0, "unsupportedFormat")
        }
    }

    func testInvalidTextInFilesGivesNil() throws {
        let image = try smoothImage(width: 8, height: 8)
        // PNG: Latin-1 and control characters in a tEXt chunk with a correct CRC.
        let png = try ImageFile.encode(image, format: .png)
        for body in [
            Array("caf".utf8) + [0xE9], Array("a\u{1}b".utf8), [],
            [UInt8](repeating: 0x61, count: ImageFile.maxMetadataTextBytes + 1),
        ] {
            let bytes = Array(png[..<33]) + pngChunk("tEXt", Array("nic-aidata".utf8) + [0] + body) + png[33...]
            let contents = try ImageFile.readWithMetadata(data: bytes)
            XCTAssertNil(contents.metadataText, "\(body.prefix(8))")
            XCTAssertEqual(contents.image.planes, image.planes)
        }
    }

    // MARK: Damaged metadata

    func testEveryCutInsideTheMetadataIsAnErrorNotACrash() throws {
        // The file ends inside the metadata: the picture is missing, so reading fails cleanly.
        for format in [ImageFileFormat.png, .jpeg, .webp] {
            let bytes = try ImageFile.encode(smoothImage(width: 16, height: 16), format: format, metadataText: text)
            let region = try XCTUnwrap(metadataRegion(bytes, format))
            for length in region.start...region.end {
                let cut = Array(bytes.prefix(length))
                if format == .webp && length == region.end { continue }  // the EXIF chunk is last: complete file
                XCTAssertThrowsError(try ImageFile.readWithMetadata(data: cut), "\(format) cut to \(length)") {
                    assertKind($0, "corruptData", "unsupportedFormat")
                }
            }
        }
    }

    func testShortenedMetadataNeverStopsDecoding() throws {
        // The metadata itself ends early but is framed correctly (lengths and CRC agree):
        // the picture decodes unchanged and the text is nil or some valid text.
        for format in [ImageFileFormat.png, .jpeg, .webp] {
            let image = try smoothImage(width: 16, height: 16)
            let bytes = try ImageFile.encode(image, format: format, metadataText: text)
            let expected = try ImageFile.read(data: bytes).planes
            let region = try XCTUnwrap(metadataRegion(bytes, format))
            for keep in 0..<region.payload.count {
                let shortened = reframed(bytes, format, payload: Array(bytes[region.payload.prefix(keep)]))
                expectPicture(shortened, planes: expected, "\(format) payload cut to \(keep)")
            }
        }
    }

    func testRandomCorruptionOfTheMetadataNeverStopsDecoding() throws {
        var random = SplitMix(seed: 7)
        for format in [ImageFileFormat.png, .jpeg, .webp] {
            let bytes = try ImageFile.encode(smoothImage(width: 24, height: 16), format: format, metadataText: text)
            let expected = try ImageFile.read(data: bytes).planes
            let region = try XCTUnwrap(metadataRegion(bytes, format))
            var texts = 0
            for trial in 0..<300 {
                // Only the content changes; lengths, and for PNG the chunk type, stay as they are
                // (the CRC is now wrong, which is exactly what PNG readers must survive).
                var damaged = bytes
                for _ in 0...(random.next() % 4) {
                    let at = region.payload.lowerBound + Int(random.next() % UInt64(region.payload.count))
                    damaged[at] = UInt8(truncatingIfNeeded: random.next())
                }
                if expectPicture(damaged, planes: expected, "\(format) trial \(trial)") != nil { texts += 1 }
            }
            XCTAssertLessThan(texts, 300, "\(format): some corruptions must lose the text")
        }
    }

    func testRandomCorruptionOfTheMetadataFramingNeverCrashes() throws {
        // Lengths, chunk types and CRCs too: the picture may become unreadable, but reading
        // gives a clear error or a picture, never a crash or an internal error.
        var random = SplitMix(seed: 11)
        for format in [ImageFileFormat.png, .jpeg, .webp] {
            let bytes = try ImageFile.encode(smoothImage(width: 24, height: 16), format: format, metadataText: text)
            let region = try XCTUnwrap(metadataRegion(bytes, format))
            for trial in 0..<200 {
                var damaged = bytes
                for _ in 0...(random.next() % 3) {
                    let at = region.start + Int(random.next() % UInt64(region.end - region.start))
                    damaged[at] = UInt8(truncatingIfNeeded: random.next())
                }
                expectErrorOrPicture(damaged, "\(format) trial \(trial)")
            }
        }
    }

    func testPNGPixelsStayCRCChecked() throws {
        // Ancillary chunks with a wrong CRC are dropped before decoding; IDAT ones are not.
        let image = try noiseImage(.rgb24, width: 16, height: 16, seed: 3)
        let bytes = try ImageFile.encode(image, format: .png, metadataText: text)
        var badText = bytes
        badText[try XCTUnwrap(pngTextChunk(bytes)).data.lowerBound + 3] ^= 0x01
        let contents = try ImageFile.readWithMetadata(data: badText)
        XCTAssertNil(contents.metadataText)
        XCTAssertEqual(contents.image.planes, image.planes)
        var badPixels = bytes
        badPixels[try XCTUnwrap(pngTextChunk(bytes, type: "IDAT")).data.upperBound - 1] ^= 0x01
        XCTAssertThrowsError(try ImageFile.readWithMetadata(data: badPixels)) { assertKind($0, "corruptData") }
    }

    func testHugeLengthClaimsAreHandled() throws {
        let image = try smoothImage(width: 16, height: 16)
        for format in [ImageFileFormat.png, .jpeg, .webp] {
            let bytes = try ImageFile.encode(image, format: format, metadataText: text)
            let expected = try ImageFile.read(data: bytes).planes
            let region = try XCTUnwrap(metadataRegion(bytes, format))
            // The container's length field of the metadata segment.
            for huge: UInt32 in [0x7FFF_FFFF, 0xFFFF_FFFF, 0x8000_0000, UInt32(bytes.count)] {
                var damaged = bytes
                switch format {
                case .png: damaged.replaceSubrange(region.start..<region.start + 4, with: be32Bytes(huge))
                case .jpeg: damaged.replaceSubrange(region.start + 2..<region.start + 4, with: [0xFF, 0xFF])
                default: damaged.replaceSubrange(region.start + 4..<region.start + 8, with: le32Bytes(huge))
                }
                let result = expectErrorOrPicture(damaged, "\(format) length \(huge)")
                if format == .webp {
                    // The EXIF chunk follows the picture, which therefore stays readable.
                    XCTAssertEqual(result?.image.planes, expected, "WebP with EXIF size \(huge)")
                    XCTAssertNil(result?.metadataText)
                }
            }
            // Lengths inside the TIFF structure (JPEG, WebP) with the framing intact.
            guard format != .png else { continue }
            let tiffStart = region.payload.lowerBound + (format == .jpeg ? 6 : 0)
            // Header: "II", 42, IFD0 offset (4); IFD0: entry count (8), tag (10), type (12), value
            // count (14), value offset (18); next IFD offset (22). Some damage still leaves the text.
            let fields: [(offset: Int, value: [UInt8], losesText: Bool)] = [
                (4, [0xFF, 0xFF, 0xFF, 0x7F], true), (8, [0xFF, 0xFF], false), (10, [0x0F, 0x01], true),
                (14, [0xFF, 0xFF, 0xFF, 0xFF], true), (18, [0xF0, 0xFF, 0xFF, 0xFF], true), (22, [0xFF, 0xFF, 0xFF, 0xFF], false),
            ]
            for field in fields {
                var damaged = bytes
                damaged.replaceSubrange(tiffStart + field.offset..<tiffStart + field.offset + field.value.count, with: field.value)
                let found = expectPicture(damaged, planes: expected, "\(format) TIFF field at \(field.offset)")
                if field.losesText { XCTAssertNil(found, "\(format) TIFF field at \(field.offset)") }
            }
        }
    }

    // MARK: Reading helpers

    /// Reads `bytes`, which must decode to `planes`; returns the text (nil or valid text).
    @discardableResult
    private func expectPicture(_ bytes: [UInt8], planes: [[UInt8]], _ label: String) -> String? {
        do {
            let contents = try ImageFile.readWithMetadata(data: bytes)
            XCTAssertEqual(contents.image.planes, planes, "\(label): pixels changed")
            if let found = contents.metadataText { checkValidText(found, label) }
            return contents.metadataText
        } catch {
            XCTFail("\(label): \(error)")
            return nil
        }
    }

    @discardableResult
    private func expectErrorOrPicture(_ bytes: [UInt8], _ label: String) -> ImageFileContents? {
        do {
            let contents = try ImageFile.readWithMetadata(data: bytes)
            XCTAssertEqual(
                contents.image.planes[0].count,
                contents.image.width * contents.image.height * contents.image.format.channels(plane: 0), label)
            if let found = contents.metadataText { checkValidText(found, label) }
            return contents
        } catch let error as NICError {
            XCTAssertFalse(error.message.isEmpty, label)
            if case .internal = error { XCTFail("\(label): internal error \(error)") }
        } catch {
            XCTFail("\(label): unexpected error type \(error)")
        }
        return nil
    }

    private func checkValidText(_ found: String, _ label: String) {
        XCTAssertFalse(found.isEmpty, label)
        XCTAssertLessThanOrEqual(found.utf8.count, ImageFile.maxMetadataTextBytes, label)
        XCTAssertTrue(found.utf8.allSatisfy { (0x20...0x7E).contains($0) }, "\(label): \(found)")
    }

    // MARK: Container helpers (independent of FFGlue's own parsing)

    /// Where the metadata sits: the whole segment (start..<end) and its payload (PNG: keyword
    /// and text; JPEG: after the length; WebP: the EXIF chunk's data).
    private struct Region {
        var start: Int
        var end: Int
        var payload: Range<Int>
    }

    private func metadataRegion(_ bytes: [UInt8], _ format: ImageFileFormat) -> Region? {
        switch format {
        case .png:
            return pngTextChunk(bytes).map { Region(start: $0.start, end: $0.data.upperBound + 4, payload: $0.data) }
        case .jpeg:
            return jpegExifSegment(bytes).map { Region(start: $0.start, end: $0.payload.upperBound, payload: $0.payload) }
        default:
            return riffChunks(bytes).first { $0.type == "EXIF" }.map {
                Region(start: $0.data.lowerBound - 8, end: $0.data.upperBound + $0.data.count % 2, payload: $0.data)
            }
        }
    }

    /// `bytes` with the metadata payload replaced and every length (and PNG CRC) made to fit.
    private func reframed(_ bytes: [UInt8], _ format: ImageFileFormat, payload: [UInt8]) -> [UInt8] {
        let region = metadataRegion(bytes, format)!
        let before = Array(bytes[..<region.start]), after = Array(bytes[region.end...])
        switch format {
        case .png:
            return before + pngChunk("tEXt", payload) + after
        case .jpeg:
            return before + [0xFF, 0xE1] + [UInt8((payload.count + 2) >> 8), UInt8((payload.count + 2) & 0xFF)] + payload + after
        default:
            var file = before + Array("EXIF".utf8) + le32Bytes(UInt32(payload.count)) + payload
            if payload.count % 2 == 1 { file.append(0) }
            file += after
            file.replaceSubrange(4..<8, with: le32Bytes(UInt32(file.count - 8)))
            return file
        }
    }

    private func pngTextChunk(_ bytes: [UInt8], type: String = "tEXt") -> (start: Int, data: Range<Int>)? {
        var position = 8
        while position + 12 <= bytes.count {
            let length = Int(be32(bytes, position))
            guard length <= bytes.count - position - 12 else { return nil }
            if Array(bytes[position + 4..<position + 8]) == Array(type.utf8) {
                return (position, position + 8..<position + 8 + length)
            }
            position += 12 + length
        }
        return nil
    }

    private func jpegExifSegment(_ bytes: [UInt8]) -> (start: Int, payload: Range<Int>)? {
        var position = 2
        while position + 4 <= bytes.count, bytes[position] == 0xFF, bytes[position + 1] != 0xDA {
            let length = Int(bytes[position + 2]) << 8 | Int(bytes[position + 3])
            guard length >= 2, position + 2 + length <= bytes.count else { return nil }
            if bytes[position + 1] == 0xE1 { return (position, position + 4..<position + 2 + length) }
            position += 2 + length
        }
        return nil
    }

    private func riffChunks(_ bytes: [UInt8]) -> [(type: String, data: Range<Int>)] {
        var chunks: [(type: String, data: Range<Int>)] = []
        var position = 12
        while position + 8 <= bytes.count {
            let size = Int(le32(bytes, position + 4))
            guard size <= bytes.count - position - 8 else { break }
            chunks.append((String(decoding: bytes[position..<position + 4], as: UTF8.self), position + 8..<position + 8 + size))
            position += 8 + size + size % 2
        }
        return chunks
    }

    /// The ImageDescription of IFD0 in a little-endian TIFF structure.
    private func imageDescription(_ tiff: [UInt8]) -> String? {
        guard tiff.count >= 14, tiff[0] == 0x49, tiff[1] == 0x49 else { return nil }
        let ifd = Int(le32(tiff, 4))
        guard ifd + 2 <= tiff.count else { return nil }
        let count = Int(tiff[ifd]) | Int(tiff[ifd + 1]) << 8
        for entry in 0..<count {
            let at = ifd + 2 + 12 * entry
            guard at + 12 <= tiff.count else { return nil }
            guard tiff[at] == 0x0E, tiff[at + 1] == 0x01, tiff[at + 2] == 2 else { continue }
            let length = Int(le32(tiff, at + 4))
            let start = length <= 4 ? at + 8 : Int(le32(tiff, at + 8))
            guard length >= 1, start + length <= tiff.count, tiff[start + length - 1] == 0 else { return nil }
            return String(decoding: tiff[start..<start + length - 1], as: UTF8.self)
        }
        return nil
    }

    private func pngChunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32Bytes(UInt32(data.count)) + body + be32Bytes(crc32(body[...]))
    }

    private func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    private func be32(_ b: [UInt8], _ at: Int) -> UInt32 { (at..<at + 4).reduce(0) { $0 << 8 | UInt32(b[$1]) } }
    private func le32(_ b: [UInt8], _ at: Int) -> UInt32 { (at..<at + 4).reversed().reduce(0) { $0 << 8 | UInt32(b[$1]) } }
    private func be32Bytes(_ v: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) } }
    private func le32Bytes(_ v: UInt32) -> [UInt8] { [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: v >> $0) } }

    // MARK: Images, files, tools

    private func file(_ name: String) -> String { directory + "/" + name }

    private func noiseImage(_ format: PixelFormat, width: Int, height: Int, seed: UInt64) throws -> PlanarImage {
        var random = SplitMix(seed: seed)
        let size = width * height * format.channels(plane: 0)
        return try PlanarImage(
            format: format, width: width, height: height,
            planes: [(0..<size).map { _ in UInt8(truncatingIfNeeded: random.next()) }])
    }

    /// Smooth colour ramps and a soft blob: what lossy codecs code well.
    private func smoothImage(width: Int, height: Int) throws -> PlanarImage {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let fx = Double(x) / Double(max(1, width - 1)), fy = Double(y) / Double(max(1, height - 1))
                let blob = 60 * exp(-((fx - 0.6) * (fx - 0.6) + (fy - 0.4) * (fy - 0.4)) * 8)
                bytes += [UInt8(30 + 150 * fx + blob), UInt8(40 + 160 * fy), UInt8(70 + 110 * (1 - fx) * fy + blob / 2)]
            }
        }
        return try PlanarImage(format: .rgb24, width: width, height: height, planes: [bytes])
    }

    private func psnr(_ a: [UInt8], _ b: [UInt8]) -> Double {
        let squared = zip(a, b).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) }
        let mse = squared / Double(a.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }

    /// Runs a program found on PATH with stdout to `stdout` and stderr appended to it; returns
    /// its exit status, or nil when the program is not installed.
    private func runTool(_ arguments: [String], stdout: String) -> Int32? {
        var searchPath = "/usr/bin:/bin"
        if let value = getenv("PATH") { searchPath = String(cString: value) }
        let candidates: [String] = searchPath.split(separator: ":").map { String($0) + "/" + arguments[0] }
        let path = candidates.first { (candidate: String) -> Bool in access(candidate, X_OK) == 0 }
        guard let path else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        guard posix_spawn(&pid, path, &actions, nil, argv, environ) == 0 else { return nil }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    private func readText(_ path: String) -> String {
        guard let handle = fopen(path, "rb") else { return "" }
        defer { fclose(handle) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, handle)
            if count <= 0 { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
