import FFGlue
import Glibc
import NICCore
import XCTest

final class ImageFileTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        FFmpegLogging.silence()  // the corruption tests would flood the log otherwise
        directory = try TemporaryDirectory(prefix: "ffglue-tests").path
    }

    override func tearDown() {
        TemporaryDirectory(path: directory).remove()
    }

    // MARK: Round trips

    func testPNGRoundTripRGBIsExact() throws {
        let image = try randomImage(.rgb24, width: 37, height: 23, seed: 1)
        let path = file("rgb.png")
        try ImageFile.write(image, path: path)
        let back = try ImageFile.read(path: path)
        XCTAssertEqual(back.format, .rgb24)
        XCTAssertEqual(back.width, 37)
        XCTAssertEqual(back.height, 23)
        XCTAssertEqual(back.planes, image.planes)
    }

    func testPNGRoundTripGrayIsExact() throws {
        let image = try randomImage(.gray8, width: 19, height: 31, seed: 2)
        let path = file("gray.PNG")
        try ImageFile.write(image, path: path)
        let back = try ImageFile.read(path: path)
        XCTAssertEqual(back.format, .gray8, "a greyscale PNG reads as gray8 by default")
        XCTAssertEqual(back.planes, image.planes)
    }

    func testGrayReadAsRGBKeepsLevels() throws {
        let image = try randomImage(.gray8, width: 16, height: 8, seed: 3)
        try ImageFile.write(image, path: file("g.png"))
        let rgb = try ImageFile.read(path: file("g.png"), as: .rgb24)
        let expected = image.planes[0].flatMap { [$0, $0, $0] }
        XCTAssertEqual(rgb.planes[0], expected)
    }

    func testBMPRoundTripIsExact() throws {
        for format in [PixelFormat.rgb24, .gray8] {
            let image = try randomImage(format, width: 13, height: 7, seed: 4)
            try ImageFile.write(image, path: file("x.bmp"))
            let back = try ImageFile.read(path: file("x.bmp"))
            XCTAssertEqual(back.format, format, "grey BMPs (a grey palette) read as gray8")
            XCTAssertEqual(back.planes, image.planes, "\(format)")
        }
    }

    func testJPEGRoundTripOfSmoothImageIsClose() throws {
        let image = try gradientImage(width: 96, height: 64)
        for extensionName in ["jpg", "JPEG"] {
            let path = file("smooth.\(extensionName)")
            try ImageFile.write(image, path: path)
            let back = try ImageFile.read(path: path)
            XCTAssertEqual(back.format, .rgb24)
            XCTAssertEqual(back.width, 96)
            XCTAssertEqual(back.height, 64)
            let quality = psnr(back.planes[0], image.planes[0])
            XCTAssertGreaterThan(quality, 35, "PSNR \(quality) dB")
        }
    }

    func testJPEGQualityControlsSize() throws {
        let image = try gradientImage(width: 96, height: 64)
        let low = try ImageFile.encode(image, format: .jpeg, quality: 20)
        let high = try ImageFile.encode(image, format: .jpeg, quality: 98)
        XCTAssertLessThan(low.count, high.count)
        let lowImage = try ImageFile.read(data: low), highImage = try ImageFile.read(data: high)
        XCTAssertGreaterThan(psnr(highImage.planes[0], image.planes[0]), psnr(lowImage.planes[0], image.planes[0]))
        XCTAssertThrowsError(try ImageFile.encode(image, format: .jpeg, quality: 0)) { assertKind($0, "invalidArgument") }
        XCTAssertThrowsError(try ImageFile.encode(image, format: .jpeg, quality: 101)) { assertKind($0, "invalidArgument") }
    }

    func testJPEGUsesLibjpegQualityTables() throws {
        let image = try gradientImage(width: 16, height: 16)
        // Quality 50 writes the example tables of the JPEG standard; 90 scales them by 0.2.
        let annexKLuma = [
            16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
            14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
            18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
            49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
        ]
        for (quality, percent) in [(50, 100), (90, 20)] {
            let tables = quantisationTables(try ImageFile.encode(image, format: .jpeg, quality: quality))
            XCTAssertEqual(tables.count, 2, "luma and chroma tables")
            guard let luma = tables.first else { continue }
            let expected = annexKLuma.map { max(1, ($0 * percent + 50) / 100) }
            XCTAssertEqual(Array(luma.dropFirst()), Array(expected.dropFirst()), "AC of quality \(quality)")
        }
    }

    func testGrayAndYUVImagesWriteAsJPEG() throws {
        let gray = try PlanarImage(
            format: .gray8, width: 20, height: 10,
            planes: [(0..<200).map { UInt8(truncatingIfNeeded: $0 % 20 * 12) }])
        let back = try ImageFile.read(data: ImageFile.encode(gray, format: .jpeg, quality: 95), as: .gray8)
        XCTAssertGreaterThan(psnr(back.planes[0], gray.planes[0]), 35)

        let yuv = try ImageFile.read(data: ImageFile.encode(gradientImage(width: 33, height: 17), format: .png), as: .yuv444p)
        let rgbBack = try ImageFile.read(data: ImageFile.encode(yuv, format: .jpeg))
        XCTAssertEqual(rgbBack.width, 33)
        XCTAssertEqual(rgbBack.height, 17)
    }

    func testAlphaPaletteAndSixteenBitPNGSources() throws {
        // RGBA: alpha is dropped, colours are kept as stored (not blended).
        let rgba = makePNG(width: 2, height: 1, colorType: 6, depth: 8, rows: [[10, 20, 30, 0, 200, 100, 50, 255]])
        XCTAssertEqual(try ImageFile.read(data: rgba).planes[0], [10, 20, 30, 200, 100, 50])
        // 16-bit RGB: v * 257 is exactly v in 8 bits.
        let deep = makePNG(
            width: 2, height: 1, colorType: 2, depth: 16,
            rows: [[0, 0, 0x80, 0x80, 0xFF, 0xFF, 0x12, 0x12, 0x34, 0x34, 0xAB, 0xAB]])
        XCTAssertEqual(try ImageFile.read(data: deep).planes[0], [0, 0x80, 0xFF, 0x12, 0x34, 0xAB])
        // Palette: colours come from PLTE; a grey palette reads as gray8.
        let palette = makePNG(
            width: 3, height: 1, colorType: 3, depth: 8, rows: [[1, 0, 1]],
            palette: [255, 0, 0, 0, 0, 255])
        let fromPalette = try ImageFile.read(data: palette)
        XCTAssertEqual(fromPalette.format, .rgb24)
        XCTAssertEqual(fromPalette.planes[0], [0, 0, 255, 255, 0, 0, 0, 0, 255])
        let greyPalette = makePNG(
            width: 3, height: 1, colorType: 3, depth: 8, rows: [[1, 0, 1]],
            palette: [7, 7, 7, 250, 250, 250])
        let fromGreyPalette = try ImageFile.read(data: greyPalette)
        XCTAssertEqual(fromGreyPalette.format, .gray8)
        XCTAssertEqual(fromGreyPalette.planes[0], [250, 7, 250])
        // 16-bit grey and 8-bit grey + alpha stay grey.
        let grey16 = makePNG(width: 2, height: 1, colorType: 0, depth: 16, rows: [[0x42, 0x42, 0xFE, 0xFE]])
        XCTAssertEqual(try ImageFile.read(data: grey16).planes, [[0x42, 0xFE]])
        let greyAlpha = makePNG(width: 2, height: 1, colorType: 4, depth: 8, rows: [[9, 0, 99, 128]])
        let fromGreyAlpha = try ImageFile.read(data: greyAlpha)
        XCTAssertEqual(fromGreyAlpha.format, .gray8)
        XCTAssertEqual(fromGreyAlpha.planes, [[9, 99]])
        // The same files read as other formats.
        XCTAssertEqual(try ImageFile.read(data: rgba, as: .gray8).planes[0].count, 2)
        XCTAssertEqual(try ImageFile.read(data: grey16, as: .rgb24).planes[0], [0x42, 0x42, 0x42, 0xFE, 0xFE, 0xFE])
    }

    func testReadAsYUV420pUsesLimitedRangeBT601() throws {
        // Mid grey 128 is Y = 16 + 219 * 128 / 255 = 125.9 in limited range; chroma neutral.
        let grey = try PlanarImage(
            format: .rgb24, width: 17, height: 9,
            planes: [[UInt8](repeating: 128, count: 17 * 9 * 3)])
        try ImageFile.write(grey, path: file("grey.png"))
        let yuv = try ImageFile.read(path: file("grey.png"), as: .yuv420p)
        XCTAssertEqual(yuv.format, .yuv420p)
        XCTAssertEqual(yuv.planes[0].count, 17 * 9)
        XCTAssertEqual(yuv.planes[1].count, 9 * 5)
        XCTAssertTrue(yuv.planes[0].allSatisfy { $0 == 126 }, "\(Set(yuv.planes[0]))")
        XCTAssertTrue(yuv.planes[1].allSatisfy { $0 == 128 })
        XCTAssertTrue(yuv.planes[2].allSatisfy { $0 == 128 })
    }

    func testYUVImageWrittenAsPNGReadsBackClose() throws {
        let rgb = try gradientImage(width: 40, height: 30)
        let yuv = try ImageFile.read(data: ImageFile.encode(rgb, format: .png), as: .yuv420p)
        try ImageFile.write(yuv, path: file("from-yuv.png"))
        let again = try ImageFile.read(path: file("from-yuv.png"), as: .yuv420p)
        XCTAssertEqual(again.format, .yuv420p)
        for p in 0..<3 {
            let errors = zip(again.planes[p], yuv.planes[p]).map { abs(Int($0) - Int($1)) }
            XCTAssertLessThanOrEqual(errors.max() ?? 0, 1, "plane \(p)")
            XCTAssertLessThan(Double(errors.reduce(0, +)) / Double(errors.count), 0.1, "plane \(p)")
        }
        XCTAssertGreaterThan(psnr(try ImageFile.read(path: file("from-yuv.png")).planes[0], rgb.planes[0]), 35)
    }

    func testReadFromMemoryMatchesFile() throws {
        let image = try randomImage(.rgb24, width: 8, height: 8, seed: 5)
        let bytes = try ImageFile.encode(image, format: .png)
        XCTAssertEqual(try ImageFile.read(data: bytes).planes, image.planes)
    }

    func testWriteRejectsUnknownExtension() throws {
        let image = try randomImage(.rgb24, width: 4, height: 4, seed: 6)
        for name in ["x.tiff", "noextension", ".png", "dir.png/file"] {
            XCTAssertThrowsError(try ImageFile.write(image, path: file(name))) { error in
                assertKind(error, "invalidArgument")
                XCTAssertTrue("\(error)".contains(".png"), "lists the supported extensions: \(error)")
            }
        }
        XCTAssertThrowsError(try ImageFile.write(image, path: file("missing-dir/x.png"))) { assertKind($0, "io") }
    }

    // MARK: Bad input

    func testMissingFileIsIOError() {
        XCTAssertThrowsError(try ImageFile.read(path: file("does-not-exist.png"))) { assertKind($0, "io") }
        XCTAssertThrowsError(try ImageFile.read(path: directory)) { assertKind($0, "io") }
    }

    func testEmptyFileIsCorruptDataNamingTheFile() throws {
        let path = file("empty.png")
        try writeFileBytes([], path: path)
        XCTAssertThrowsError(try ImageFile.read(path: path)) { error in
            assertKind(error, "corruptData")
            XCTAssertTrue("\(error)".contains(path), "\(error)")
        }
    }

    func testGarbageIsRejected() throws {
        let text = Array("this is not an image at all, just some words\n".utf8)
        XCTAssertThrowsError(try ImageFile.read(data: text)) { assertKind($0, "corruptData", "unsupportedFormat") }
        XCTAssertThrowsError(try ImageFile.read(data: [UInt8](repeating: 0, count: 4096))) {
            assertKind($0, "corruptData", "unsupportedFormat")
        }
    }

    func testTruncatedPNGAtSelectedLengths() throws {
        let bytes = try ImageFile.encode(randomImage(.rgb24, width: 40, height: 30, seed: 7), format: .png)
        for length in [0, 1, 8, 16, 33, bytes.count / 2, bytes.count - 1] {
            let path = file("cut\(length).png")
            try writeFileBytes(Array(bytes.prefix(length)), path: path)
            XCTAssertThrowsError(try ImageFile.read(path: path), "length \(length)") { error in
                assertKind(error, "corruptData")
                XCTAssertTrue("\(error)".contains(path), "\(error)")
            }
        }
    }

    func testEveryTruncationOfTinyImagesIsHandled() throws {
        for format in [ImageFileFormat.png, .jpeg, .bmp] {
            let bytes = try ImageFile.encode(randomImage(.rgb24, width: 8, height: 8, seed: 8), format: format)
            // A PNG without its (empty) IEND chunk still holds the whole picture.
            let mustFail = format == .png ? bytes.count - 12 : bytes.count
            for length in 0..<bytes.count {
                let cut = Array(bytes.prefix(length))
                expectErrorOrValidImage(cut, "\(format) cut to \(length)")
                if length < mustFail {
                    XCTAssertThrowsError(try ImageFile.read(data: cut), "\(format) cut to \(length)") {
                        assertKind($0, "corruptData")
                    }
                }
            }
        }
    }

    func testRandomCorruptionNeverCrashes() throws {
        var random = SplitMix(seed: 42)
        let sources = [
            try ImageFile.encode(randomImage(.rgb24, width: 16, height: 12, seed: 9), format: .png),
            try ImageFile.encode(gradientImage(width: 24, height: 16), format: .jpeg),
            try ImageFile.encode(randomImage(.gray8, width: 9, height: 5, seed: 10), format: .bmp),
        ]
        for source in sources {
            for trial in 0..<300 {
                var bytes = source
                for _ in 0...(random.next() % 4) {
                    bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
                }
                expectErrorOrValidImage(bytes, "trial \(trial)")
            }
        }
    }

    func testHugePNGHeaderIsDimensionsError() throws {
        let path = file("huge.png")
        try writeFileBytes(pngHeader(width: 100_000, height: 100_000), path: path)
        XCTAssertThrowsError(try ImageFile.read(path: path)) { assertKind($0, "dimensions") }
        // Within FFmpeg's own limits but over ours: caught before any pixel is decoded.
        XCTAssertThrowsError(try ImageFile.read(data: pngHeader(width: 20_000, height: 1))) { assertKind($0, "dimensions") }
    }

    func testHugeJPEGHeaderIsDimensionsError() {
        // SOI, then SOF0: length 17, 8 bits, height 60000, width 60000, three components.
        let sof: [UInt8] = [
            0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0xEA, 0x60, 0xEA, 0x60, 0x03,
            1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
        ]
        XCTAssertThrowsError(try ImageFile.read(data: sof)) { assertKind($0, "dimensions") }
    }

    func testTinyFilesDeclaringLargePicturesAreRefusedBeforeDecoding() throws {
        // A PNG header of 16000x16000 with one row of compressed data: a decoder would allocate
        // the whole picture (790 MB) before finding the data missing.
        let row = [UInt8](repeating: 0, count: 16)
        let idat = Array("IDAT".utf8) + [0x78, 0x01, 0x01, 0x10, 0x00, 0xEF, 0xFF] + row + be32(0x1000_0001)
        let iend = Array("IEND".utf8)
        let png =
            pngHeader(width: 16000, height: 16000) + be32(UInt32(idat.count - 4)) + idat + be32(crc32(idat))
            + be32(0) + iend + be32(crc32(iend))
        XCTAssertThrowsError(try ImageFile.read(data: png)) { error in
            assertKind(error, "corruptData")
            XCTAssertTrue("\(error)".contains("declares 16000x16000"), "\(error)")
        }
        // A baseline JPEG header of 12000x12000 (one component) with a few scan bytes.
        let jpeg: [UInt8] =
            [0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x2E, 0xE0, 0x2E, 0xE0, 0x01, 1, 0x11, 0]
            + [0xFF, 0xDA, 0x00, 0x08, 0x01, 1, 0x00, 0x00, 0x3F, 0x00, 0x12, 0x34, 0xFF, 0xD9]
        XCTAssertThrowsError(try ImageFile.read(data: jpeg)) { error in
            assertKind(error, "corruptData")
            XCTAssertTrue("\(error)".contains("declares 12000x12000"), "\(error)")
        }
        // The most compressible real pictures are far above the bounds and still decode.
        let flat = try PlanarImage(format: .rgb24, width: 2000, height: 1500)
        for format in [ImageFileFormat.png, .jpeg] {
            let bytes = try ImageFile.encode(flat, format: format)
            let back = try ImageFile.read(data: bytes)
            XCTAssertEqual([back.width, back.height], [2000, 1500], "\(format)")
        }
    }

    func testFileWithoutPictureIsUnsupported() {
        // A valid WAV file: audio only.
        var wav = Array("RIFF".utf8) + le32(36 + 800) + Array("WAVEfmt ".utf8) + le32(16)
        wav += [1, 0, 1, 0] + le32(8000) + le32(16000) + [2, 0, 16, 0] + Array("data".utf8) + le32(800)
        wav += [UInt8](repeating: 0, count: 800)
        XCTAssertThrowsError(try ImageFile.read(data: wav)) { assertKind($0, "unsupportedFormat") }
    }

    // MARK: Helpers

    private func file(_ name: String) -> String { directory + "/" + name }

    private func expectErrorOrValidImage(_ bytes: [UInt8], _ label: String) {
        do {
            let image = try ImageFile.read(data: bytes)
            XCTAssertTrue(image.width > 0 && image.height > 0, label)
            XCTAssertEqual(image.planes[0].count, image.width * image.height * image.format.channels(plane: 0), label)
        } catch let error as NICError {
            XCTAssertFalse(error.message.isEmpty, label)
            if case .internal = error { XCTFail("\(label): internal error \(error)") }
        } catch {
            XCTFail("\(label): unexpected error type \(error)")
        }
    }

    private func randomImage(_ format: PixelFormat, width: Int, height: Int, seed: UInt64) throws -> PlanarImage {
        var random = SplitMix(seed: seed)
        let planes = (0..<format.planeCount).map { p -> [UInt8] in
            let size = format.planeSize(plane: p, width: width, height: height)
            return (0..<size.width * size.height * format.channels(plane: p)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        }
        return try PlanarImage(format: format, width: width, height: height, planes: planes)
    }

    /// Smooth colour ramps: what JPEG codes well.
    private func gradientImage(width: Int, height: Int) throws -> PlanarImage {
        var bytes: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                let fx = Double(x) / Double(width - 1), fy = Double(y) / Double(height - 1)
                bytes += [UInt8(40 + 180 * fx), UInt8(30 + 200 * fy), UInt8(60 + 120 * (1 - fx) * fy)]
            }
        }
        return try PlanarImage(format: .rgb24, width: width, height: height, planes: [bytes])
    }

    /// The DQT tables of a baseline JPEG, each reordered from zigzag to row-major order.
    private func quantisationTables(_ jpeg: [UInt8]) -> [[Int]] {
        var zigzag: [Int] = []
        for diagonal in 0..<15 {
            let rows = max(0, diagonal - 7)...min(diagonal, 7)
            for row in diagonal % 2 == 0 ? Array(rows.reversed()) : Array(rows) {
                zigzag.append(row * 8 + diagonal - row)
            }
        }
        var tables: [[Int]] = [], pos = 2
        while pos + 4 <= jpeg.count, jpeg[pos] == 0xFF, jpeg[pos + 1] != 0xDA {
            let length = Int(jpeg[pos + 2]) << 8 | Int(jpeg[pos + 3])
            if jpeg[pos + 1] == 0xDB {
                var at = pos + 4
                while at + 65 <= pos + 2 + length {
                    var table = [Int](repeating: 0, count: 64)
                    for k in 0..<64 { table[zigzag[k]] = Int(jpeg[at + 1 + k]) }
                    tables.append(table)
                    at += 65
                }
            }
            pos += 2 + length
        }
        return tables
    }

    private func psnr(_ a: [UInt8], _ b: [UInt8]) -> Double {
        let squared = zip(a, b).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) }
        let mse = squared / Double(a.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }

    /// A complete PNG; the image data is zlib with stored (uncompressed) blocks.
    private func makePNG(
        width: UInt32, height: UInt32, colorType: UInt8, depth: UInt8,
        rows: [[UInt8]], palette: [UInt8]? = nil
    ) -> [UInt8] {
        let raw: [UInt8] = rows.flatMap { [UInt8(0)] + $0 }  // filter type 0 on every row
        var zlib: [UInt8] = [0x78, 0x01]
        var rest = raw[...]
        repeat {
            let block = rest.prefix(65535)
            rest = rest.dropFirst(block.count)
            let length = UInt16(block.count), inverse = ~UInt16(block.count)
            let header: [UInt8] = [
                rest.isEmpty ? 1 : 0, UInt8(length & 0xFF), UInt8(length >> 8),
                UInt8(inverse & 0xFF), UInt8(inverse >> 8),
            ]
            zlib += header
            zlib += block
        } while !rest.isEmpty
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        zlib += be32(b << 16 | a)

        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            return be32(UInt32(data.count)) + body + be32(crc32(body))
        }
        let header: [UInt8] = be32(width) + be32(height) + [depth, colorType, 0, 0, 0]
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png += chunk("IHDR", header)
        if let palette { png += chunk("PLTE", palette) }
        return png + chunk("IDAT", zlib) + chunk("IEND", [])
    }

    /// PNG signature and an IHDR chunk (8-bit RGB) with a correct CRC, nothing more.
    private func pngHeader(width: UInt32, height: UInt32) -> [UInt8] {
        let chunk = Array("IHDR".utf8) + be32(width) + be32(height) + [8, 2, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + be32(13) + chunk + be32(crc32(chunk))
    }

    private func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    private func be32(_ v: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) } }
    private func le32(_ v: UInt32) -> [UInt8] { [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: v >> $0) } }
}
