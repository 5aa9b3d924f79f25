import XCTest
@testable import NICCore

/// Layered (spatially scalable) `.nic` files with the repository's models of record: round trips,
/// decoding a layer alone or from a file cut short, the version 3 header's checks.
final class LayeredCodecTests: XCTestCase {
    typealias Size = NICLayeredBitstream.Size
    static let store: ModelStore? = try? ModelStore(directory: NeuralCodecTests.modelDirectory)
    /// Plain rounding, no search: the tests measure the format, not the encoder.
    static let plain = NeuralEncoderSearch(refinementSteps: 0)

    func codec(threads: Int = 1) throws -> LayeredImageCodec {
        guard let store = Self.store, (try? store.residualCodecModel()) != nil else {
            throw XCTSkip("no layered models in \(NeuralCodecTests.modelDirectory)")
        }
        return try LayeredImageCodec(store: store, device: try ComputeDevice(threads: threads))
    }

    /// A smooth picture: gradients and slow waves, odd in both directions.
    static func smoothImage(width: Int, height: Int) throws -> PlanarImage {
        var image = try PlanarImage(format: .rgb24, width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                let (u, v) = (Double(x) / Double(width), Double(y) / Double(height))
                let values = [
                    128 + 90 * sin(6 * u + 2 * v), 60 + 150 * v, 128 + 70 * cos(5 * v - 3 * u) * sin(4 * u),
                ]
                for c in 0..<3 { image.planes[0][(y * width + x) * 3 + c] = UInt8(min(max(values[c], 0), 255).rounded()) }
            }
        }
        return image
    }

    func testLayerSizesFollowTheTrainingRule() throws {
        // training/layered/model.py layer_sizes((101, 157), [2, 1.5]): half to even, at most 4 times smaller.
        XCTAssertEqual(
            try LayeredImageCodec.layerSizes(top: Size(width: 157, height: 101), factors: [2, 1.5]),
            [Size(width: 52, height: 34), Size(width: 105, height: 67), Size(width: 157, height: 101)])
        XCTAssertEqual(
            try LayeredImageCodec.layerSizes(top: Size(width: 9, height: 2), factors: [4]),
            [Size(width: 3, height: 1), Size(width: 9, height: 2)])
        for bad in [[0.5], [1.0], [4.5], [Double.nan], Array(repeating: 1.1, count: 8)] {
            XCTAssertThrowsError(try LayeredImageCodec.layerSizes(top: Size(width: 640, height: 480), factors: bad), "\(bad)")
        }
    }

    func testThreeLayersRoundTripAndEachLayerDecodesAlone() throws {
        let codec = try codec()
        let image = try Self.smoothImage(width: 157, height: 101)
        let sizes = try LayeredImageCodec.layerSizes(top: Size(width: 157, height: 101), factors: [2, 1.5])
        let bytes = try codec.encode(image, sizes: sizes, quality: 60, search: Self.plain)
        let info = try LayeredImageCodec.inspect(bytes)
        XCTAssertEqual(info.layers.map(\.size), sizes)
        XCTAssertEqual(info.layers.map(\.whole), [true, true, true])
        XCTAssertEqual(info.layers.map(\.bytes).reduce(NICLayeredBitstream.headerBytes(layers: 3), +), bytes.count)
        XCTAssertEqual(info.liffModelID, codec.liffModelID)
        for (k, size) in sizes.enumerated() {
            let decoded = try codec.decode(bytes, layer: k)
            XCTAssertEqual([decoded.width, decoded.height], [size.width, size.height])
            let version =
                k == 2 ? image : try ImageResize.resized(image, width: size.width, height: size.height, method: .bicubic, workers: .serial)
            let psnr = try Quality.psnr(version, decoded)
            print("layer \(k) \(size): \(info.layers[k].bytes) bytes, \(psnr) dB")
            XCTAssertGreaterThan(psnr, k == 2 ? 25 : 22, "layer \(k)")
            // Layer k alone: the bytes of the layers above it cut off.
            let prefix = Array(bytes[0..<(NICLayeredBitstream.headerBytes(layers: 3) + info.layers[0...k].map(\.bytes).reduce(0, +))])
            XCTAssertEqual(try codec.decode(prefix, layer: k).planes, decoded.planes)
            if k == 2 { XCTAssertEqual(try codec.decode(bytes).planes, decoded.planes) }
        }
        XCTAssertThrowsError(try codec.decode(bytes, layer: 3)) { XCTAssertEqual(($0 as? NICError).map(errorKind), "invalidArgument") }
    }

    func testTwoLayersWithOneAxisUnchangedAndIdenticalForTwoThreads() throws {
        let image = try Self.smoothImage(width: 99, height: 71)
        let sizes = [Size(width: 61, height: 71), Size(width: 99, height: 71)]
        let one = try codec(threads: 1), two = try codec(threads: 2)
        let bytes = try one.encode(image, sizes: sizes, quality: 40, search: Self.plain)
        XCTAssertEqual(try two.encode(image, sizes: sizes, quality: 40, search: Self.plain), bytes)
        let decoded = try one.decode(bytes)
        XCTAssertEqual(try two.decode(bytes).planes, decoded.planes)
        XCTAssertEqual([decoded.width, decoded.height], [99, 71])
        XCTAssertGreaterThan(try Quality.psnr(image, decoded), 25)
    }

    func testTheStandardSearchCodesLayers() throws {
        let codec = try codec()
        let image = try Self.smoothImage(width: 80, height: 56)
        let bytes = try codec.encode(image, sizes: [Size(width: 40, height: 28), Size(width: 80, height: 56)], quality: 50)
        XCTAssertGreaterThan(try Quality.psnr(image, try codec.decode(bytes)), 25)
        // The base layer codes as a single picture does (the integer grid); the residual on the
        // means' grid, with the same dependent quantisation.
        let layers = try NICLayeredBitstream(parsing: bytes).payloads.map { try NICBitstream(parsing: $0) }
        XCTAssertEqual(layers.map(\.integerGrid), [true, false])
        XCTAssertEqual(layers.map(\.dependentQuantization), [8, 8])
    }

    func testEveryTruncationGivesAnErrorOrAWholeLowerLayer() throws {
        let codec = try codec()
        let image = try Self.smoothImage(width: 45, height: 33)
        let bytes = try codec.encode(
            image, sizes: [Size(width: 15, height: 11), Size(width: 27, height: 20), Size(width: 45, height: 33)], quality: 10,
            search: Self.plain)
        let full = try (0..<3).map { try codec.decode(bytes, layer: $0).planes }
        var decodedAt: Set<Int> = []
        for n in 0..<bytes.count {
            let cut = Array(bytes[0..<n])
            XCTAssertThrowsError(try codec.decode(cut), "truncated to \(n) bytes")
            guard let file = try? NICLayeredBitstream(parsing: cut) else { continue }
            XCTAssertFalse(file.isComplete)
            let whole = file.payloads.count
            if whole < 3 { XCTAssertThrowsError(try codec.decode(cut, layer: whole)) }
            if whole > 0, !decodedAt.contains(whole) {
                XCTAssertEqual(try codec.decode(cut, layer: whole - 1).planes, full[whole - 1], "truncated to \(n) bytes")
                decodedAt.insert(whole)
            }
        }
        XCTAssertEqual(decodedAt, [1, 2])
    }

    /// The base layer codes with the model the residual codec was trained on (`base` of
    /// `layered/residual.json`), whatever `neural/codec.json` names; a base that is missing or
    /// does not match its sha256 is a model error.
    func testBaseLayerModelIsTheResidualCodecsBase() throws {
        let models = NeuralCodecTests.modelDirectory
        let manifest = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: models + "/layered/residual.json"))))
        let baseName = try XCTUnwrap(manifest["base"]?["model"]?.stringValue)
        guard FileManager.default.fileExists(atPath: models + "/neural/" + baseName) else {
            throw XCTSkip("no layered base model in \(models)")
        }
        let directory = try ScratchModelDirectory(folders: ["neural", "layered", "liff"])
        defer { directory.remove() }
        try directory.copy(models + "/settings.json", to: "settings.json")
        for folder in ["layered", "liff"] {
            for name in try FileManager.default.contentsOfDirectory(atPath: models + "/" + folder) {
                try directory.link(models + "/" + folder + "/" + name, to: folder + "/" + name)
            }
        }
        try directory.link(models + "/neural/" + baseName, to: "neural/" + baseName)
        // The image codec's record names a file that is not there: the layered codec does not read it.
        try Data(#"{"model": "absent.safetensors", "sha256": "00"}"#.utf8).write(
            to: URL(fileURLWithPath: directory.path + "/neural/codec.json"))
        let store = try ModelStore(directory: directory.path)
        XCTAssertThrowsError(try store.neuralCodecModel(quality: 50))
        let codec = try LayeredImageCodec(store: store, device: try ComputeDevice(threads: 1))
        XCTAssertEqual(codec.base.model.name, baseName)

        // A damaged base is refused.
        try directory.writeDamaged(models + "/neural/" + baseName, to: "neural/" + baseName)
        assertRefusedBySHA256(try ModelStore(directory: directory.path).layeredBaseModel())
    }

    func testHeaderErrors() throws {
        let codec = try codec()
        let image = try Self.smoothImage(width: 40, height: 30)
        let bytes = try codec.encode(
            image, sizes: [Size(width: 20, height: 15), Size(width: 40, height: 30)], quality: 10, search: Self.plain)
        let file = try NICLayeredBitstream(parsing: bytes)
        XCTAssertEqual(file.serialized(), bytes)

        func expect(_ damaged: [UInt8], _ expected: String, _ text: String, line: UInt = #line) {
            XCTAssertThrowsError(try codec.decode(damaged), line: line) {
                XCTAssertEqual(($0 as? NICError).map(errorKind), expected, "\($0)", line: line)
                XCTAssertTrue("\($0)".contains(text), "\($0)", line: line)
            }
        }
        /// The file with `change` applied to its header and the header's checksum made valid again.
        func header(_ change: (inout [UInt8]) -> Void) -> [UInt8] {
            var out = bytes
            change(&out)
            let end = NICLayeredBitstream.headerBytes(layers: 2) - 4
            let crc = CRC32.checksum(out[0..<end])
            for i in 0..<4 { out[end + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
            return out
        }
        func set32(_ b: inout [UInt8], _ at: Int, _ v: Int) { for i in 0..<4 { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }

        var damaged = bytes; damaged[13] ^= 1
        expect(damaged, "corruptData", "header checksum")
        expect(Array(bytes.prefix(30)), "corruptData", "header")
        expect(bytes + [0], "corruptData", "after its last layer")
        expect(header { $0[5] = 0 }, "corruptData", "no layers")
        expect(header { $0[5] = 9 }, "unsupportedFormat", "at most 8")
        expect(header { $0[6] = 1 }, "unsupportedFormat", "flags")
        // Layer 1 smaller than layer 0; more than 4 times larger; equal; beyond the size limits.
        expect(header { set32(&$0, 24, 19) }, "corruptData", "at least as large")
        expect(header { set32(&$0, 12, 9) }, "corruptData", "more than 4 times")
        expect(
            header {
                set32(&$0, 12, 40); set32(&$0, 16, 30)
            }, "corruptData", "at least as large")
        expect(header { set32(&$0, 24, 1 << 20) }, "dimensions", "outside")
        // A declared length that does not match the layer stream, or names no stream at all.
        expect(header { set32(&$0, 20, 12) }, "corruptData", "payload of 12 bytes")
        expect(header { set32(&$0, 20, file.payloads[0].count + 1) }, "corruptData", "layer 1 is missing")
        // Layer 1 cut off: layer 0 decodes, layer 1 is missing.
        let base = Array(bytes.prefix(NICLayeredBitstream.headerBytes(layers: 2) + file.payloads[0].count))
        XCTAssertEqual(try codec.decode(base, layer: 0).planes, try codec.decode(bytes, layer: 0).planes)
        expect(base, "corruptData", "layer 1 is missing")
        // Another LIFF model; a layer stream coded with the wrong codec.
        expect(header { $0[11] ^= 1 }, "model", "LIFF")
        let swapped = NICLayeredBitstream(liffModelID: file.liffModelID, sizes: file.sizes, payloads: [file.payloads[0], file.payloads[0]])
        XCTAssertThrowsError(try NICLayeredBitstream(parsing: swapped.serialized())) {
            XCTAssertEqual(($0 as? NICError).map(errorKind), "corruptData")
        }
        // Encoder arguments.
        XCTAssertThrowsError(try codec.encode(image, sizes: [Size(width: 20, height: 15)], quality: 10)) {
            XCTAssertEqual(($0 as? NICError).map(errorKind), "invalidArgument")
        }
        XCTAssertThrowsError(try codec.encode(image, sizes: [Size(width: 9, height: 15), Size(width: 40, height: 30)], quality: 10)) {
            XCTAssertEqual(($0 as? NICError).map(errorKind), "invalidArgument")
        }
        XCTAssertThrowsError(try codec.encode(image, sizes: [], quality: 10))
        XCTAssertThrowsError(try codec.encode(image, sizes: [Size(width: 20, height: 15), Size(width: 40, height: 30)], quality: 0))
        // The single-layer reader names a layered file as such.
        XCTAssertThrowsError(try codec.base.decode(bytes)) { XCTAssertTrue("\($0)".contains("layered"), "\($0)") }
        // A single-layer file decodes as layer 0 only.
        let single = try codec.base.encode(image, quality: 10, search: Self.plain)
        XCTAssertEqual(try codec.decode(single).planes, try codec.base.decode(single).planes)
        XCTAssertThrowsError(try codec.decode(single, layer: 1)) { XCTAssertEqual(($0 as? NICError).map(errorKind), "invalidArgument") }
        XCTAssertEqual(try LayeredImageCodec.inspect(single).layers.count, 1)
    }
}
