import XCTest
@testable import NICCore
import NICBench

/// The neural image codec with the repository's model of record: round trip, determinism,
/// the `.nic` container, and damaged input.
final class NeuralCodecTests: XCTestCase {
    static let modelDirectory: String = {
        var path = Fixture.directory
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path + "/models"
    }()
    static let model: HyperpriorModel? = try? ModelStore(directory: modelDirectory).neuralCodecModel(quality: 1)

    func codec(threads: Int = 1) throws -> NeuralImageCodec { try Self.codec(threads: threads) }

    static func codec(threads: Int = 1) throws -> NeuralImageCodec {
        guard let model = NeuralCodecTests.model else { throw XCTSkip("no neural codec model in \(NeuralCodecTests.modelDirectory)") }
        return NeuralImageCodec(model: model, device: try ComputeDevice(threads: threads))
    }

    /// A smooth colour pattern with a few edges, not a multiple of the stride in either direction.
    func testImage(width: Int = 150, height: Int = 90) throws -> PlanarImage { try Self.testImage(width: width, height: height) }

    static func testImage(width: Int = 150, height: Int = 90) throws -> PlanarImage {
        var image = try PlanarImage(format: .rgb24, width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                image.planes[0][i] = UInt8(x * 255 / width)
                image.planes[0][i + 1] = UInt8(y * 255 / height)
                image.planes[0][i + 2] = (x / 20 + y / 15) % 2 == 0 ? 40 : 200
            }
        }
        return image
    }

    func testRoundTripKeepsSizeAndQualityGrowsWithRate() throws {
        let codec = try codec()
        let image = try testImage()
        var previous: (bytes: Int, psnr: Double)?
        for q in [1, 50, 100] {
            let bytes = try codec.encode(image, quality: q)
            let decoded = try codec.decode(bytes)
            XCTAssertEqual([decoded.width, decoded.height], [150, 90])
            let psnr = try Quality.psnr(image, decoded)
            XCTAssertGreaterThan(psnr, 18, "quality \(q)")
            if let previous {
                XCTAssertGreaterThan(bytes.count, previous.bytes, "quality \(q) should cost more bytes")
                XCTAssertGreaterThan(psnr, previous.psnr - 0.2, "quality \(q) should not look worse")
            }
            previous = (bytes.count, psnr)
        }
    }

    /// The encoder's refinement pass sharpens the first generation and keeps a decoded image close
    /// to itself when it is coded again (what makes re-compression stable).
    func testRefinementImprovesQualityAndRecompression() throws {
        let codec = try codec()
        let image = try testImage(width: 128, height: 128)
        func generations(refine: Int) throws -> (first: Double, second: Double) {
            let first = try codec.decode(try codec.encode(image, quality: 60, search: NeuralEncoderSearch(refinementSteps: refine)))
            let second = try codec.decode(try codec.encode(first, quality: 60, search: NeuralEncoderSearch(refinementSteps: refine)))
            return (try Quality.psnr(image, first), try Quality.psnr(image, second))
        }
        let plain = try generations(refine: 0), refined = try generations(refine: 1)
        XCTAssertGreaterThan(refined.first, plain.first)
        XCTAssertLessThan(refined.first - refined.second, plain.first - plain.second)
        print("refinement 0: \(plain), 1: \(refined)")
    }

    func testDecodingIsIdenticalForOneAndTwoThreads() throws {
        // 300 rows: the synthesis runs in several bands.
        let bytes = try codec(threads: 1).encode(try testImage(width: 96, height: 300), quality: 60)
        let one = try codec(threads: 1).decode(bytes), two = try codec(threads: 2).decode(bytes)
        XCTAssertEqual(one.planes, two.planes)
        XCTAssertEqual(try codec(threads: 1).decode(bytes).planes, one.planes)
    }

    /// The default encoder (dependent quantisation split over the workers, consistency and
    /// fixed-point passes) writes the same file whatever the number of threads.
    func testEncodingIsIdenticalForOneAndTwoThreads() throws {
        let image = try testImage(width: 96, height: 300)
        for quality in [10, 70] {
            XCTAssertEqual(
                try codec(threads: 1).encode(image, quality: quality), try codec(threads: 2).encode(image, quality: quality),
                "quality \(quality)")
        }
    }

    func testEveryTruncationIsRejected() throws {
        let bytes = try codec().encode(try testImage(width: 40, height: 24), quality: 20)
        for n in 0..<bytes.count {
            XCTAssertThrowsError(try codec().decode(Array(bytes[0..<n])), "truncated to \(n) bytes")
        }
    }

    func testRandomCorruptionsAreRejectedOrDecodeCleanly() throws {
        let codec = try codec()
        let bytes = try codec.encode(try testImage(width: 64, height: 48), quality: 40)
        var rng = SplitMix(seed: 11)
        var rejected = 0
        for trial in 0..<3000 {
            var damaged = bytes
            for _ in 0...rng.below(3) { damaged[rng.below(damaged.count)] ^= UInt8(1 << rng.below(8)) }
            if trial % 15 == 0 { damaged = NeuralCodecTests.withValidChecksum(damaged) }  // reach the payload decoders
            do {
                // A size flipped under a repaired checksum can declare another size whose padded latent grid is
                // the same (64x16 for 64x48): that file is whole, and its image has the declared size.
                let image = try codec.decode(damaged)
                let declared = try NICBitstream(parsing: damaged)
                XCTAssertEqual([image.width, image.height], [declared.width, declared.height])
            } catch let error as NICError {
                rejected += 1
                XCTAssertFalse(error.message.isEmpty)
            }
        }
        XCTAssertGreaterThan(rejected, 2799, "the checksum alone rejects 2800 of the trials")
    }

    func testHeaderErrors() throws {
        let codec = try codec()
        let bytes = try codec.encode(try testImage(width: 32, height: 32), quality: 10)
        var stream = try NICBitstream(parsing: bytes)
        XCTAssertEqual(stream.serialized(), bytes)

        var wrongMagic = bytes; wrongMagic[1] = 0x58
        XCTAssertThrowsError(try codec.decode(wrongMagic)) { XCTAssertEqual(($0 as? NICError).map(errorKind), "unsupportedFormat") }
        var wrongVersion = bytes; wrongVersion[4] = 9
        XCTAssertThrowsError(try codec.decode(NeuralCodecTests.withValidChecksum(wrongVersion))) {
            XCTAssertTrue(($0 as? NICError)?.message.contains("version 9") ?? false)
        }
        stream.width = 1 << 30
        XCTAssertThrowsError(try codec.decode(stream.serialized())) { XCTAssertEqual(($0 as? NICError).map(errorKind), "dimensions") }
        stream.width = 4096; stream.height = 4097  // within each side's limit, too many pixels
        XCTAssertThrowsError(try codec.decode(stream.serialized())) { XCTAssertEqual(($0 as? NICError).map(errorKind), "dimensions") }
        stream.width = 32; stream.height = 32; stream.modelID ^= 1
        XCTAssertThrowsError(try codec.decode(stream.serialized())) { XCTAssertEqual(($0 as? NICError).map(errorKind), "model") }
        XCTAssertThrowsError(try codec.encode(try testImage(width: 8, height: 8), quality: 0))
        XCTAssertThrowsError(try codec.encode(try testImage(width: 8, height: 8), quality: 101))
    }

    /// A file names the model that coded it, and the directory's other model (the layered base,
    /// once the record) still decodes the files it coded; a model the directory does not hold is
    /// a model error that names the ones it does.
    func testDecoderPicksTheModelTheFileNames() throws {
        let store = try ModelStore(directory: Self.modelDirectory)
        guard let record = try? store.neuralCodecModel(quality: 1), let base = try? store.layeredBaseModel() else {
            throw XCTSkip("no neural codec models in \(Self.modelDirectory)")
        }
        let device = try ComputeDevice(threads: 1)
        let image = try testImage(width: 40, height: 24)
        for model in [record, base] {
            let bytes = try NeuralImageCodec(model: model, device: device).encode(image, quality: 30)
            let chosen = try NeuralImageCodec.model(decoding: bytes, in: store)
            XCTAssertEqual(chosen.modelID, model.modelID, model.name)
            XCTAssertEqual(
                try NeuralImageCodec(model: chosen, device: device).decode(bytes).planes[0],
                try NeuralImageCodec(model: model, device: device).decode(bytes).planes[0])
        }
        var stream = try NICBitstream(parsing: try NeuralImageCodec(model: record, device: device).encode(image, quality: 30))
        stream.modelID = ~record.modelID
        if stream.modelID == base.modelID { stream.modelID ^= 1 }
        XCTAssertThrowsError(try NeuralImageCodec.model(decoding: stream.serialized(), in: store)) { error in
            guard case NICError.model(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains(hex8(stream.modelID)) && message.contains(record.name), message)
        }
        // A damaged header is reported as such, before any model is looked for.
        var damaged = stream.serialized()
        damaged[damaged.count / 2] ^= 0x10
        XCTAssertThrowsError(try NeuralImageCodec.model(decoding: damaged, in: store)) {
            XCTAssertEqual(($0 as? NICError).map(errorKind), "corruptData")
        }
    }

    /// `ranges` in `neural/codec.json` give the upper qualities a model of their own: the encoder
    /// codes each quality with its range's model and the decoder finds every listed model by the
    /// file's model ID; a malformed list is a model error.
    func testModelsByQualityRange() throws {
        let models = Self.modelDirectory
        let record = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: models + "/neural/codec.json"))))
        let residual = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: models + "/layered/residual.json"))))
        let recordName = try XCTUnwrap(record["model"]?.stringValue), recordSHA = try XCTUnwrap(record["sha256"]?.stringValue)
        let upperName = try XCTUnwrap(residual["base"]?["model"]?.stringValue)
        let upperSHA = try XCTUnwrap(residual["base"]?["sha256"]?.stringValue)
        guard upperName != recordName, FileManager.default.fileExists(atPath: models + "/neural/" + upperName) else {
            throw XCTSkip("no second neural codec model in \(models)")
        }
        let directory = try ScratchModelDirectory(folders: ["neural"])
        defer { directory.remove() }
        try directory.copy(models + "/settings.json", to: "settings.json")
        for name in [recordName, upperName] { try directory.link(models + "/neural/" + name, to: "neural/" + name) }
        func write(ranges: String) throws {
            try Data((#"{"model": "\#(recordName)", "sha256": "\#(recordSHA)""# + ranges + "}").utf8).write(
                to: URL(fileURLWithPath: directory.path + "/neural/codec.json"))
        }
        try write(ranges: #", "ranges": [{"from_quality": 60, "model": "\#(upperName)", "sha256": "\#(upperSHA)"}]"#)
        let store = try ModelStore(directory: directory.path)
        XCTAssertEqual(try store.neuralCodecModel(quality: 1).name, recordName)
        XCTAssertEqual(try store.neuralCodecModel(quality: 59).name, recordName)
        XCTAssertEqual(try store.neuralCodecModel(quality: 60).name, upperName)
        XCTAssertEqual(try store.neuralCodecModel(quality: 100).name, upperName)
        let device = try ComputeDevice(threads: 1)
        let image = try testImage(width: 40, height: 24)
        for quality in [30, 80] {
            let model = try store.neuralCodecModel(quality: quality)
            let bytes = try NeuralImageCodec(model: model, device: device).encode(image, quality: quality)
            XCTAssertEqual(try NICBitstream(parsing: bytes).modelID, model.modelID)
            XCTAssertTrue(try NeuralImageCodec.model(decoding: bytes, in: store) === model)
        }

        for bad in [
            #", "ranges": []"#, #", "ranges": {"from_quality": 60}"#,
            #", "ranges": [{"from_quality": 1, "model": "\#(upperName)", "sha256": "\#(upperSHA)"}]"#,
            #", "ranges": [{"from_quality": 101, "model": "\#(upperName)", "sha256": "\#(upperSHA)"}]"#,
            #", "ranges": [{"model": "\#(upperName)", "sha256": "\#(upperSHA)"}]"#,
            #", "ranges": [{"from_quality": 70, "model": "\#(upperName)", "sha256": "\#(upperSHA)"}, "#
                + #"{"from_quality": 70, "model": "\#(recordName)", "sha256": "\#(recordSHA)"}]"#,
        ] {
            try write(ranges: bad)
            XCTAssertThrowsError(try ModelStore(directory: directory.path).neuralCodecModel(quality: 1), bad) { error in
                guard case NICError.model(let message) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(message.contains("ranges"), message)
            }
        }
        // A range's model that does not match its sha256 is refused when that range is asked for.
        try write(ranges: #", "ranges": [{"from_quality": 60, "model": "\#(upperName)", "sha256": "\#(recordSHA)"}]"#)
        XCTAssertNoThrow(try ModelStore(directory: directory.path).neuralCodecModel(quality: 59))
        assertRefusedBySHA256(try ModelStore(directory: directory.path).neuralCodecModel(quality: 60))
        // The same file named twice, the second time with another sha256: the first load does not
        // vouch for the second entry.
        try write(ranges: #", "ranges": [{"from_quality": 60, "model": "\#(recordName)", "sha256": "\#(upperSHA)"}]"#)
        let twice = try ModelStore(directory: directory.path)
        XCTAssertNoThrow(try twice.neuralCodecModel(quality: 1))
        assertRefusedBySHA256(try twice.neuralCodecModel(quality: 60))
    }

    func testSmallestImages() throws {
        let codec = try codec()
        for (w, h) in [(1, 1), (1, 65), (65, 1)] {
            let image = try testImage(width: w, height: h)
            let decoded = try codec.decode(try codec.encode(image, quality: 90))
            XCTAssertEqual([decoded.width, decoded.height], [w, h])
        }
    }

    static func withValidChecksum(_ bytes: [UInt8]) -> [UInt8] {
        var out = Array(bytes[0..<bytes.count - 4])
        let crc = CRC32.checksum(out)
        out += (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * UInt32($0))) }
        return out
    }

    /// Flips one random bit of the payloads of `bytes` (after the 32-byte header, before the
    /// checksum), `count` times, each with a repaired checksum so that the payload decoders see the
    /// damage: every copy decodes to an image of the file's `width` x `height` or fails with a
    /// message. Returns how many decoded.
    @discardableResult
    static func assertFlippedPayloadBitsDecodeOrFail(
        _ codec: NeuralImageCodec, _ bytes: [UInt8], width: Int, height: Int, seed: UInt64, count: Int = 300
    ) -> Int {
        var rng = SplitMix(seed: seed)
        var decoded = 0
        for _ in 0..<count {
            var damaged = bytes
            damaged[32 + rng.below(damaged.count - 36)] ^= UInt8(1 << rng.below(8))
            do {
                let image = try codec.decode(withValidChecksum(damaged))
                XCTAssertEqual([image.width, image.height], [width, height])
                decoded += 1
            } catch let error as NICError {
                XCTAssertFalse(error.message.isEmpty)
            } catch {
                XCTFail("not an NICError: \(error)")
            }
        }
        return decoded
    }
}

/// The exact layers against oneDNN (same arithmetic up to summation order) and against themselves
/// with another worker count (bit for bit).
final class ExactConvolutionTests: XCTestCase {
    func check(transposed: Bool, stride: Int, kernel: Int, padding: Int, outputPadding: Int = 0) throws {
        let (inC, outC, h, w) = (5, 12, 7, 9)
        let weights = ConvBenchmark.values(inC * outC * kernel * kernel, seed: 3).map { $0 * 0.3 }
        let bias = ConvBenchmark.values(outC, seed: 4)
        let input = ConvBenchmark.values(inC * h * w, seed: 5)  // NCHW
        let exact = try ExactConvolution(
            inChannels: inC, outChannels: outC, kernel: kernel, stride: stride, padding: padding,
            outputPadding: outputPadding, transposed: transposed, weights: weights, bias: bias,
            leakySlope: 0.01)
        var hwc = [Float](repeating: 0, count: input.count)
        for c in 0..<inC { for p in 0..<h * w { hwc[p * inC + c] = input[c * h * w + p] } }
        let one = try exact.apply(hwc, height: h, width: w, workers: Workers(count: 1))
        let two = try exact.apply(hwc, height: h, width: w, workers: Workers(count: 2))
        XCTAssertEqual(one.values, two.values)

        let device = try ComputeDevice(threads: 1)
        let layer: Layer =
            transposed
            ? try ConvTranspose2d(
                inChannels: inC, outChannels: outC, kernel: kernel, stride: stride, padding: padding,
                outputPadding: outputPadding, weights: weights, bias: bias, activation: .leakyReLU(0.01))
            : try Conv2d(
                inChannels: inC, outChannels: outC, kernel: kernel, stride: stride, padding: padding,
                weights: weights, bias: bias, activation: .leakyReLU(0.01))
        let reference = try layer.forward(try Tensor(shape: [1, inC, h, w], values: input), on: device).toArray(on: device)
        XCTAssertEqual(reference.count, one.values.count)
        let plane = one.height * one.width
        var worst: Float = 0
        for c in 0..<outC { for p in 0..<plane { worst = max(worst, abs(reference[c * plane + p] - one.values[p * outC + c])) } }
        XCTAssertLessThan(worst, 1e-4)
    }

    func testConvolution() throws { try check(transposed: false, stride: 1, kernel: 3, padding: 1) }
    func testStridedConvolution() throws { try check(transposed: false, stride: 2, kernel: 5, padding: 2) }
    func testTransposedConvolution() throws { try check(transposed: true, stride: 2, kernel: 5, padding: 2, outputPadding: 1) }
}

/// The encoder-side low-frequency colour correction: measuring, coding, applying.
final class LowFrequencyCorrectionTests: XCTestCase {
    func testMeasuresAShiftAndRemovesIt() throws {
        let (w, h, pw, ph) = (100, 70, 128, 128)
        var image = try PlanarImage(format: .rgb24, width: w, height: h)
        for i in 0..<w * h * 3 { image.planes[0][i] = UInt8(60 + (i % 97)) }
        // a decoded image 3 levels too dark in red, 1.5 too bright in blue, everywhere
        var decoded = [Float](repeating: 0, count: 3 * ph * pw)
        for c in 0..<3 {
            for y in 0..<ph {
                for x in 0..<pw {
                    let v = Float(image.planes[0][(min(y, h - 1) * w + min(x, w - 1)) * 3 + c])
                    decoded[(c * ph + y) * pw + x] = (v + [-3, 0, 1.5][c]) / 255
                }
            }
        }
        let correction = LowFrequencyCorrection.measure(original: image, decoded: decoded, paddedWidth: pw, paddedHeight: ph)
        XCTAssertEqual([correction.blocksWide, correction.blocksHigh], [2, 2])
        XCTAssertEqual(Set(correction.offsets[0..<4]), [6])  // +3 levels in half-level units
        XCTAssertEqual(Set(correction.offsets[4..<8]), [0])
        XCTAssertTrue(Set(correction.offsets[8..<12]).isSubset(of: [-3, -4]))  // −1.5 levels (rounding of .5 ties)
        correction.apply(to: &decoded, paddedWidth: pw, paddedHeight: ph, workers: Workers(count: 2))
        XCTAssertEqual(decoded[0] * 255, Float(image.planes[0][0]), accuracy: 0.01)
    }

    func testCodingRoundTripWithOutliers() throws {
        let offsets: [Int32] = [0, 1, -1, 5, -24, 24, 25, -200, 512, 0, 0, 3]
        let c = LowFrequencyCorrection(blocksWide: 2, blocksHigh: 2, offsets: offsets)
        let back = try LowFrequencyCorrection.decoded(c.encoded(), paddedWidth: 128, paddedHeight: 128)
        XCTAssertEqual(back, c)
        XCTAssertTrue(LowFrequencyCorrection(blocksWide: 1, blocksHigh: 1, offsets: [0, 0, 0]).encoded().isEmpty)
        XCTAssertThrowsError(try LowFrequencyCorrection.decoded([1, 2, 3], paddedWidth: 64, paddedHeight: 64))
    }
}
