import XCTest
@testable import FFGlue
@testable import NICCore
#if canImport(Glibc)
    import Glibc
#endif

/// The still-image AI codec end to end on a small synthetic model directory:
/// the plumbing (selection, AI data in files, fallbacks), not the trained quality.
final class StillImageAICodecTests: XCTestCase {
    var directory = ""
    let device = try! ComputeDevice(threads: 1)

    override func setUpWithError() throws {
        FFmpegLogging.silence()
        directory = try TemporaryDirectory(prefix: "nic-aicodec").path
        try SyntheticModels.write(to: directory)
    }

    override func tearDown() { TemporaryDirectory(path: directory).remove() }

    func decode(_ bytes: [UInt8], options: AIDecodePlan.Options = .init(), store: ModelStore? = nil) throws
        -> StillImageAICodec.DecodeResult
    {
        let contents = try ImageFile.readWithMetadata(data: bytes)
        return try StillImageAICodec.decode(
            contents, options: options, store: try store ?? ModelStore(directory: directory), device: device)
    }

    func testRoundTripEveryCodecAndScale() throws {
        let store = try ModelStore(directory: directory)
        let original = try TestPattern.make(width: 99, height: 61)
        for codec in [Codec.jpeg, .webp, .png] {
            for (scale, id) in [(2.0, 1), (1.5, 2)] {
                let result = try StillImageAICodec.encode(
                    original, options: .init(codec: codec, quality: 80, scale: scale),
                    store: store, device: device)
                XCTAssertEqual(result.setting.id, id)
                XCTAssertEqual(result.record.downscaledWidth, Int((99 / scale).rounded()))
                let decoded = try decode(result.bytes, store: store)
                XCTAssertEqual(decoded.record, result.record, "\(codec) x\(scale)")
                XCTAssertEqual(decoded.plan.route, .network(settingID: id))
                XCTAssertNil(decoded.plan.fallbackReason)
                XCTAssertEqual([decoded.image.width, decoded.image.height], [99, 61])
                XCTAssertGreaterThan(try Quality.psnr(original, decoded.image), 15, "\(codec) x\(scale)")
            }
        }
    }

    /// Refinement runs for JPEG (odd sizes, both scales), leaves a file that decodes as usual,
    /// and is not applied where it does not fit: WebP, or no quality to aim at.
    func testRefinementForJPEGOnly() throws {
        let store = try ModelStore(directory: directory)
        let original = try TestPattern.make(width: 99, height: 61)
        for scale in [2.0, 1.5] {
            let result = try StillImageAICodec.encode(
                original, options: .init(codec: .jpeg, quality: 70, scale: scale, refineIterations: 4),
                store: store, device: device)
            guard case .success(let outcome)? = result.refinement else {
                return XCTFail("x\(scale): \(String(describing: result.refinement))")
            }
            XCTAssertLessThanOrEqual(outcome.costAfter, outcome.costBefore * 1.05, "x\(scale)")
            let decoded = try decode(result.bytes, store: store)
            XCTAssertEqual(decoded.record, result.record)
            XCTAssertEqual([decoded.image.width, decoded.image.height], [99, 61])
        }
        for options in [
            StillImageAICodec.EncodeOptions(codec: .webp, quality: 70, scale: 2, refineIterations: 4),
            .init(codec: .jpeg, scale: 2, refineIterations: 4),
        ] {
            XCTAssertNil(try StillImageAICodec.encode(original, options: options, store: store, device: device).refinement)
        }
    }

    func testMissingCorruptAndUnusableAIDataFallBack() throws {
        let store = try ModelStore(directory: directory)
        let original = try TestPattern.make(width: 64, height: 48)
        let encoded = try StillImageAICodec.encode(original, options: .init(codec: .png), store: store, device: device)
        let small = try ImageFile.read(data: encoded.bytes)

        let plain = try ImageFile.encode(small, format: .png)
        var r = try decode(plain)
        XCTAssertEqual(r.plan.route, .network(settingID: 9), "no AI data: generic setting")
        XCTAssertEqual(r.plan.fallbackReason, "no AI data")
        r = try decode(plain, options: .init(allowGenericFallback: false))
        XCTAssertEqual(r.plan.route, .classic(.lanczos))

        var text = try encoded.record.textForm()
        text.removeLast(); text.append(text.last == "0" ? "1" : "0")
        r = try decode(try ImageFile.encode(small, format: .png, metadataText: text))
        XCTAssertTrue(r.plan.fallbackReason?.hasPrefix("corrupt AI data") ?? false, r.plan.fallbackReason ?? "")
        XCTAssertEqual([r.image.width, r.image.height], [2 * small.width, 2 * small.height], "no trusted size: twice")

        var unknown = encoded.record
        unknown.settingID = 77
        r = try decode(try ImageFile.encode(small, format: .png, metadataText: try unknown.textForm()))
        XCTAssertEqual(r.plan.fallbackReason, "unknown NN setting ID 77")
        XCTAssertEqual([r.image.width, r.image.height], [64, 48], "recorded original size is kept")

        let resized = try ImageResize.resized(small, width: 30, height: 20, method: .bicubic, workers: .serial)
        r = try decode(try ImageFile.encode(resized, format: .png, metadataText: text))
        XCTAssertNotNil(r.plan.fallbackReason)
        r = try decode(try ImageFile.encode(resized, format: .png, metadataText: try encoded.record.textForm()))
        XCTAssertTrue(r.plan.fallbackReason?.contains("30x20") ?? false)

        r = try decode(encoded.bytes, options: .init(size: (100, 75)))
        XCTAssertEqual([r.image.width, r.image.height], [100, 75])
    }

    /// A record's original size drives the output only when it follows from the decoded image:
    /// a small file claiming a huge original gets twice its size, not an allocation of gigabytes.
    func testClaimedOriginalSizeIsBoundByTheDecodedImage() throws {
        let store = try ModelStore(directory: directory)
        let small = try TestPattern.make(width: 32, height: 24)
        func record(_ num: UInt8, _ den: UInt8, _ width: Int, _ height: Int) -> AIDataRecord {
            AIDataRecord(
                settingID: 1, scaleNumerator: num, scaleDenominator: den, originalWidth: width, originalHeight: height,
                downscaledWidth: 32, downscaledHeight: 24, codec: .png)
        }
        for bomb in [record(2, 1, 16384, 8192), record(255, 1, 8160, 6120), record(2, 1, 64, 16384)] {
            let r = try decode(try ImageFile.encode(small, format: .png, metadataText: try bomb.textForm()), store: store)
            XCTAssertEqual([r.image.width, r.image.height], [64, 48], "\(bomb.originalWidth)x\(bomb.originalHeight)")
            XCTAssertTrue(r.plan.fallbackReason?.contains("sizes do not fit") ?? false, r.plan.fallbackReason ?? "")
        }
        // Rounding of odd sizes is within the rule: 65x49 at 2/1 codes as 32x24 (or 33x25).
        let odd = try decode(
            try ImageFile.encode(small, format: .png, metadataText: try record(2, 1, 65, 49).textForm()),
            store: store)
        XCTAssertEqual([odd.image.width, odd.image.height], [65, 49])
        XCTAssertNil(odd.plan.fallbackReason)
    }

    func testDamagedModelFileFallsBackToLanczos() throws {
        let original = try TestPattern.make(width: 40, height: 40)
        let encoded = try StillImageAICodec.encode(
            original, options: .init(codec: .png, scale: 2), store: try ModelStore(directory: directory),
            device: device)
        try writeFileBytes(Array(repeating: 7, count: 100), path: directory + "/x2_up.safetensors")
        let r = try decode(encoded.bytes)
        XCTAssertEqual(r.plan.route, .classic(.lanczos))
        XCTAssertTrue(r.plan.fallbackReason?.contains("sha256") ?? false, r.plan.fallbackReason ?? "")
    }

    /// A generic setting downscales with the classic bicubic its up network was trained behind,
    /// and its ID in the AI data drives the decoder to that up network.
    func testGenericSettingRoundTrip() throws {
        let store = try ModelStore(directory: directory)
        let image = try TestPattern.make(width: 40, height: 30)
        let encoded = try StillImageAICodec.encode(image, options: .init(codec: .png, settingID: 9), store: store, device: device)
        XCTAssertEqual(encoded.record.settingID, 9)
        XCTAssertEqual([encoded.record.downscaledWidth, encoded.record.downscaledHeight], [20, 15])
        let small = try ImageFile.readWithMetadata(data: encoded.bytes).image
        let bicubic = try ImageResize.resized(image, width: 20, height: 15, method: .bicubic, workers: .serial)
        XCTAssertEqual(small.planes, bicubic.planes)
        let r = try decode(encoded.bytes)
        XCTAssertEqual(r.plan.route, .network(settingID: 9))
        XCTAssertNil(r.plan.fallbackReason)
        XCTAssertEqual([r.image.width, r.image.height], [40, 30])
    }

    func testUnknownSettingOnEncodeIsAnError() throws {
        let store = try ModelStore(directory: directory)
        let image = try TestPattern.make(width: 32, height: 32)
        XCTAssertThrowsError(try StillImageAICodec.encode(image, options: .init(codec: .png, settingID: 5), store: store, device: device))
        XCTAssertThrowsError(try StillImageAICodec.encode(image, options: .init(codec: .png, scale: 3), store: store, device: device))
    }

    /// The output size is planned from the file's header: a picture whose output would pass the
    /// limits (twice 16000x16000 here) is refused as too large before its pixels are decoded.
    /// The files below cannot be decoded at all (a PNG whose IDAT is not deflate data, a JPEG
    /// without scan data), so decoding first would report them as damaged instead.
    func testOutputOverTheLimitsIsRefusedBeforeDecoding() throws {
        var ihdr = bigEndianBytes(UInt32(16000)) + bigEndianBytes(UInt32(16000))
        ihdr += [8, 2, 0, 0, 0]  // 8-bit RGB
        let png =
            PNGText.signature + PNGText.chunk(type: "IHDR", data: ihdr)
            + PNGText.chunk(type: "IDAT", data: [UInt8](repeating: 0, count: 800_000)) + PNGText.chunk(type: "IEND", data: [])
        var jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8] + bigEndianBytes(UInt16(16000)) + bigEndianBytes(UInt16(16000))
        jpeg += [1, 1, 0x11, 0]
        for _ in 0..<9 { jpeg += [0xFF, 0xFE, 0xFF, 0xFF] + [UInt8](repeating: 0x20, count: 0xFFFD) }  // comments
        jpeg += [0xFF, 0xD9]
        for (name, bytes) in [("big.png", png), ("big.jpg", jpeg)] {
            let path = directory + "/" + name
            try writeFileBytes(bytes, path: path)
            XCTAssertEqual(ImageFile.header(data: bytes), ImageFileHeader(width: 16000, height: 16000, metadataText: nil))
            XCTAssertThrowsError(
                try StillImageAICodec.decode(path: path, options: .init(), store: nil, device: device), name
            ) { error in
                assertKind(error, "dimensions")
                XCTAssertTrue("\(error)".contains("32000"), "\(error)")
            }
            // Asked for a size within the limits, the same file goes on to decoding (and fails there).
            XCTAssertThrowsError(
                try StillImageAICodec.decode(path: path, options: .init(size: (16000, 16000)), store: nil, device: device)
            ) { error in assertKind(error, "corruptData") }
        }
    }

    /// The plan from the header and the plan from the decoded picture agree on files with AI data.
    func testDecodingFromAPathMatchesDecodingTheContents() throws {
        let store = try ModelStore(directory: directory)
        let original = try TestPattern.make(width: 99, height: 61)
        for codec in [Codec.jpeg, .webp, .png] {
            let encoded = try StillImageAICodec.encode(
                original, options: .init(codec: codec, quality: 80, scale: 2), store: store, device: device)
            let path = directory + "/small." + (codec == .jpeg ? "jpg" : codec == .webp ? "webp" : "png")
            try writeFileBytes(encoded.bytes, path: path)
            let header = try XCTUnwrap(ImageFile.header(data: encoded.bytes))
            XCTAssertEqual([header.width, header.height], [encoded.record.downscaledWidth, encoded.record.downscaledHeight])
            XCTAssertEqual(header.metadataText, try ImageFile.readWithMetadata(data: encoded.bytes).metadataText)
            let fromPath = try StillImageAICodec.decode(path: path, options: .init(), store: store, device: device)
            let fromContents = try decode(encoded.bytes, store: store)
            XCTAssertEqual(fromPath.plan.route, fromContents.plan.route)
            XCTAssertEqual([fromPath.plan.width, fromPath.plan.height], [99, 61])
            XCTAssertEqual(fromPath.image.planes, fromContents.image.planes)
        }
    }
}
