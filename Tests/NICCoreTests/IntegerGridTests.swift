import XCTest
@testable import NICCore

/// Latents on the integer grid: the offset buckets, the tables (valid and the same integers on
/// every machine), the header flag, `.nic` files end to end, and damaged grid files.
final class IntegerGridTests: XCTestCase {
    func testOriginAndOffsetBucket() {
        let b = IntegerGrid.offsetBuckets
        XCTAssertEqual(b, 9)
        for (mean, origin, bucket) in [
            (Float(2.49), Float(2), 8), (2.5, 2, 8), (3.5, 4, 0), (-0.01, 0, 4), (0.01, 0, 4), (0.06, 0, 5), (-0.06, 0, 3),
            (-7.3, -7, 1), (1.0, 1, 4), (0.4999, 0, 8), (-0.4999, 0, 0), (0.3, 0, 7),
        ] {
            let o = IntegerGrid.origin(mean: mean)
            XCTAssertEqual(o.origin, origin, "mean \(mean)")
            XCTAssertEqual(o.bucket, bucket, "mean \(mean)")
        }
        // Means only a damaged file can give: no trap, a valid bucket.
        for mean in [Float.nan, .infinity, -.infinity, 3e38, -3e38] {
            XCTAssertTrue((0..<b).contains(IntegerGrid.origin(mean: mean).bucket), "mean \(mean)")
        }
        // The symbol counts the integers from the origin; clamped like every symbol.
        XCTAssertEqual(IntegerGrid.symbol(3.6, origin: 2), 2)
        XCTAssertEqual(IntegerGrid.symbol(-0.4, origin: 1), -1)
        XCTAssertEqual(IntegerGrid.symbol(.nan, origin: 5), -5)
        XCTAssertEqual(IntegerGrid.symbol(1e30, origin: 0), Int32(NeuralImageCodec.symbolLimit))
    }

    /// Every table is a valid CDF (every frequency at least 1, summing to 2^16), the buckets mirror
    /// each other, the probability leans towards the side the mean's offset points to, and the
    /// integers are pinned: a change of the arithmetic changes the checksum (files would no
    /// longer decode).
    func testOffsetTablesAreValidAndTheSameIntegersEverywhere() throws {
        let scales: [Float] = [0.11, 0.5, 1, 3.7, 25, 256]
        let tables = try IntegerGrid.tables(scaleTable: scales)
        let b = IntegerGrid.offsetBuckets
        XCTAssertEqual(tables.count, scales.count * b)
        for t in 0..<tables.count {
            var sum: UInt32 = 0
            for s in 0...tables.inRange(t) {
                let f = tables.interval(t, s).freq
                XCTAssertGreaterThanOrEqual(f, 1)
                sum += f
            }
            XCTAssertEqual(sum, 1 << 16, "table \(t)")
        }
        XCTAssertEqual(
            tables.symbolMin.map { $0 },
            scales.flatMap { s in [Int32](repeating: -Int32((Double(s) * 6.1094102049).rounded(.up)) - 1, count: b) })
        IntegerGridTests.assertMirrored(tables, scales: scales)
        // Scale 0.5, the last bucket (offset about +0.44): +1 is far likelier than −1.
        let t = 1 * b + b - 1, zero = Int(-tables.symbolMin[t])
        XCTAssertGreaterThan(tables.interval(t, zero + 1).freq, 4 * tables.interval(t, zero - 1).freq)
        let again = try IntegerGrid.tables(scaleTable: scales)
        XCTAssertEqual(again.cdf, tables.cdf)
        var crc: UInt32 = 0
        tables.cdf.withUnsafeBytes { crc = CRC32.checksum(Array($0)) }
        XCTAssertEqual(crc, 3_354_720_540, "checksum of the flat CDF array: \(crc)")
    }

    /// Opposite offset buckets of one scale hold mirrored tables: symbol s of one is symbol n − 1 − s
    /// of the other (n symbols in range), up to the 16-bit rounding.
    static func assertMirrored(_ tables: CDFTables, scales: [Float], file: StaticString = #filePath, line: UInt = #line) {
        let b = IntegerGrid.offsetBuckets
        for (i, _) in scales.enumerated() {
            for bucket in 0..<b {
                let t = i * b + bucket, mirror = i * b + b - 1 - bucket, n = tables.inRange(t)
                for s in 0..<n {
                    let f = Int(tables.interval(t, s).freq), g = Int(tables.interval(mirror, n - 1 - s).freq)
                    XCTAssertLessThanOrEqual(abs(f - g), 2, "scale \(scales[i]) bucket \(bucket) symbol \(s)", file: file, line: line)
                }
            }
        }
    }

    /// The middle bucket is centred on the integers: its tables are the record's Gaussian y tables
    /// (exported in another language; one more symbol each side, so a few units apart at most).
    func testTheMiddleBucketIsTheRecordsGaussian() throws {
        let model = try XCTUnwrap(NeuralCodecTests.model, "no neural codec model")
        let grid = try model.integerGrid(), b = IntegerGrid.offsetBuckets
        XCTAssertEqual(IntegerGrid.bucketCentre(b / 2), 0)
        XCTAssertEqual(grid.tables.q0.count, model.scaleTable.count * b)
        for s in 0..<model.scaleTable.count {
            let t = s * b + b / 2
            for i in 0..<model.yTables.inRange(s) {
                let value = Int(model.yTables.symbolMin[s]) + i
                let f = Int(model.yTables.interval(s, i).freq)
                let g = Int(grid.tables.q0.interval(t, value - Int(grid.tables.q0.symbolMin[t])).freq)
                XCTAssertLessThanOrEqual(abs(f - g), 4 + f / 1000, "scale \(model.scaleTable[s]) symbol \(value)")
            }
        }
    }

    /// On the integer grid the coded point of a latent is round(y) whatever the means: two priors
    /// with other means quantise the same latents to the same points.
    func testCodedPointsDoNotMoveWithTheMeans() throws {
        let model = try XCTUnwrap(NeuralCodecTests.model, "no neural codec model")
        let grid = try model.integerGrid()
        let m = model.latentChannels, plane = 30
        var rng = SplitMix(seed: 11)
        func prior() -> Prior {
            var values = [Float](repeating: 0, count: plane * 2 * m)
            for p in 0..<plane {
                for c in 0..<m {
                    values[p * 2 * m + c] = Float(rng.below(2001)) / 100 - 10
                    values[p * 2 * m + m + c] = Float(rng.below(500)) / 100 + 0.11
                }
            }
            return Prior(model: model, values: values, grid: grid)
        }
        let (a, b) = (prior(), prior())
        var moved = 0
        for c in 0..<m {
            for p in 0..<plane {
                let y = Float(rng.below(4001)) / 100 - 20
                let points = [a, b].map { $0.origin(channel: c, position: p) + Float($0.roundedSymbol(y, channel: c, position: p)) }
                XCTAssertEqual(points, [y.rounded(.toNearestOrEven), y.rounded(.toNearestOrEven)], "y \(y)")
                let table = a.table(channel: c, position: p)
                XCTAssertTrue((0..<grid.tables.q0.count).contains(table))
                // The means' own grid moves the point with the mean.
                let plain = Prior(model: model, values: a.values, grid: nil)
                let point = plain.origin(channel: c, position: p) + Float(plain.roundedSymbol(y, channel: c, position: p))
                if point != y.rounded(.toNearestOrEven) { moved += 1 }
            }
        }
        XCTAssertGreaterThan(moved, m * plane / 2, "on the means' grid most points are off the integers")
    }

    func testHeaderFlag() throws {
        let stream = NICBitstream(
            quality: 30, modelID: 0x1234_5678, width: 20, height: 10, zPayload: [1, 2], yPayload: [3], integerGrid: true)
        let bytes = stream.serialized()
        XCTAssertEqual([bytes[4], bytes[7]], [2, 4], "version 2, flag bit 2")
        let parsed = try NICBitstream(parsing: bytes)
        XCTAssertEqual(parsed, stream)
        XCTAssertTrue(parsed.integerGrid)
        XCTAssertEqual(parsed.dependentQuantization, 0)
        XCTAssertFalse(
            try NICBitstream(parsing: NICBitstream(quality: 30, modelID: 1, width: 2, height: 2, zPayload: [], yPayload: []).serialized())
                .integerGrid)
        // With dependent quantisation: bits 0–1 as without the grid.
        for (states, flags) in [(4, UInt8(5)), (8, 6)] {
            var both = stream
            both.dependentQuantization = states
            let serialized = both.serialized()
            XCTAssertEqual([serialized[4], serialized[7]], [2, flags])
            XCTAssertEqual(try NICBitstream(parsing: serialized), both)
            XCTAssertEqual(NICBitstream.flags(dependentQuantization: states, integerGrid: true, channelFlags: false), flags)
            // Bit 3: the channel flags, with dependent quantisation only.
            both.channelFlags = true
            let flagged = both.serialized()
            XCTAssertEqual(flagged[7], flags | 8)
            XCTAssertEqual(try NICBitstream(parsing: flagged), both)
        }
        XCTAssertEqual(NICBitstream.flags(dependentQuantization: 8, integerGrid: false, channelFlags: true), 10)
        XCTAssertNil(NICBitstream.flags(dependentQuantization: 0, integerGrid: true, channelFlags: true))
        // Other bits are unknown, bit 3 needs dependent quantisation; version 1 has no flags.
        for (version, flags) in [(UInt8(2), UInt8(7)), (2, 3), (2, 8), (2, 12), (2, 15), (2, 0x84), (2, 0x16), (1, 4), (1, 6), (1, 14)] {
            var damaged = bytes
            damaged[4] = version; damaged[7] = flags
            XCTAssertThrowsError(try NICBitstream(parsing: NeuralCodecTests.withValidChecksum(damaged))) {
                XCTAssertTrue(($0 as? NICError)?.message.contains("flags") ?? false, "\($0)")
            }
        }
        XCTAssertNil(NICBitstream.flags(dependentQuantization: 6, integerGrid: true, channelFlags: false))
        XCTAssertEqual(NICBitstream.flags(dependentQuantization: 0, integerGrid: true, channelFlags: false), 4)
        XCTAssertEqual(NICBitstream.flags(dependentQuantization: 4, integerGrid: false, channelFlags: false), 1)
        var search = NeuralEncoderSearch.standard
        search.integerGrid = true
        XCTAssertNoThrow(try search.validate())
    }

    /// A grid file decodes to latents on the integers, the same pixels at 1 and 2 threads, and at
    /// nearly the quality of the means' grid.
    func testGridFilesRoundTrip() throws {
        let codec = try NeuralCodecTests.codec()
        let image = try NeuralCodecTests.testImage(width: 96, height: 80)
        var search = NeuralEncoderSearch.standard
        search.dependentQuantization = 0
        search.integerGrid = false
        let plain = try codec.encode(image, quality: 50, search: search)
        search.integerGrid = true
        let bytes = try codec.encode(image, quality: 50, search: search)
        XCTAssertEqual([bytes[4], bytes[7]], [2, 4])
        XCTAssertEqual([plain[4], plain[7]], [1, 0])
        let decoded = try codec.decode(bytes)
        XCTAssertEqual([decoded.width, decoded.height], [96, 80])
        XCTAssertEqual(try NeuralCodecTests.codec(threads: 2).decode(bytes).planes, decoded.planes)
        XCTAssertEqual(try codec.decode(bytes).planes, decoded.planes)
        let d = try codec.entropyDecoded(bytes)
        XCTAssertNotNil(d.prior.grid)
        let plane = d.latentHeight * d.latentWidth
        var nonZero = 0
        for (i, k) in d.ySymbols.enumerated() {
            let latent = d.prior.origin(channel: i / plane, position: i % plane) + Float(k)
            XCTAssertEqual(latent, latent.rounded(), "latent \(i) is not on the integers")
            if latent != 0 { nonZero += 1 }
        }
        XCTAssertGreaterThan(nonZero, 0)
        let (gridPSNR, plainPSNR) = (try Quality.psnr(image, decoded), try Quality.psnr(image, try codec.decode(plain)))
        print("grid \(bytes.count) bytes \(gridPSNR) dB, means' grid \(plain.count) bytes \(plainPSNR) dB")
        XCTAssertGreaterThan(gridPSNR, plainPSNR - 1)
        XCTAssertLessThan(Double(bytes.count), 1.2 * Double(plain.count))
    }

    func testDamagedGridFilesGiveAnErrorOrAnImage() throws {
        let codec = try NeuralCodecTests.codec()
        for states in [0, 8] {
            var search = NeuralEncoderSearch(refinementSteps: 1, dependentQuantization: states)
            search.integerGrid = true
            let bytes = try codec.encode(try NeuralCodecTests.testImage(width: 64, height: 48), quality: 40, search: search)
            for n in 0..<bytes.count { XCTAssertThrowsError(try codec.decode(Array(bytes[0..<n])), "cut at \(n)") }
            let decodedCount = NeuralCodecTests.assertFlippedPayloadBitsDecodeOrFail(codec, bytes, width: 64, height: 48, seed: 5)
            print("\(decodedCount) of 300 damaged grid files (\(states) states) decoded to an image")
        }
    }
}

/// Dependent quantisation on the integer grid: the half-integer tables, a trellis whose points and
/// path do not depend on the means, and files end to end.
final class IntegerGridDependentQuantizationTests: XCTestCase {
    /// Valid CDFs, mirrored between opposite buckets (symbol k's cell [k, k + 1] at offset c is
    /// symbol −1 − k's at −c), leaning towards the mean, and pinned integers.
    func testHalfIntegerTablesAreValidMirroredAndTheSameIntegersEverywhere() throws {
        let scales: [Float] = [0.11, 0.5, 1, 3.7, 25, 256]
        let tables = try IntegerGrid.tables(scaleTable: scales, quantiser: 1)
        let b = IntegerGrid.offsetBuckets
        XCTAssertEqual(tables.count, scales.count * b)
        XCTAssertEqual(
            tables.symbolMin.map { $0 },
            scales.flatMap { s in [Int32](repeating: -Int32((Double(s) * 6.1094102049).rounded(.up)) - 2, count: b) })
        for t in 0..<tables.count {
            var sum: UInt32 = 0
            for s in 0...tables.inRange(t) { sum += tables.interval(t, s).freq }
            XCTAssertEqual(sum, 1 << 16, "table \(t)")
        }
        IntegerGridTests.assertMirrored(tables, scales: scales)
        // Scale 0.11 in the middle bucket: the two points ±½ share the mass; in the last bucket
        // (offset about +0.44) the point +½ (symbol 0) takes nearly all of it.
        let zero = { (t: Int) in Int(-tables.symbolMin[t]) }
        let middle = b / 2, last = b - 1
        XCTAssertEqual(Double(tables.interval(middle, zero(middle)).freq), 32768, accuracy: 300)
        XCTAssertEqual(Double(tables.interval(middle, zero(middle) - 1).freq), 32768, accuracy: 300)
        XCTAssertGreaterThan(tables.interval(last, zero(last)).freq, 60000)
        var crc: UInt32 = 0
        tables.cdf.withUnsafeBytes { crc = CRC32.checksum(Array($0)) }
        XCTAssertEqual(crc, 4_032_295_012, "checksum of the flat CDF array: \(crc)")
    }

    /// The same latents under two priors with other means and scales: with the rate out of the
    /// cost (λ 0) the trellis picks the same absolute points (the grids and the states do not
    /// depend on the means), on the half-integer grid, finer than rounding.
    func testTrellisPointsDoNotMoveWithTheMeans() throws {
        let model = try XCTUnwrap(NeuralCodecTests.model, "no neural codec model")
        let grid = try model.integerGrid()
        let m = model.latentChannels, plane = 400
        var rng = SplitMix(seed: 3)
        // Multiples of 2^−16 within ±10: latent − origin is exact in single precision.
        let latents = (0..<plane).map { _ in Float(rng.below(1_310_721)) / 65536 - 10 }
        func prior() -> Prior {
            var values = [Float](repeating: 0, count: plane * 2 * m)
            for p in 0..<plane {
                values[p * 2 * m] = latents[p] + Float(rng.below(301)) / 100 - 1.5
                values[p * 2 * m + m] = Float(rng.below(300)) / 100 + 0.11
            }
            return Prior(model: model, values: values, grid: grid)
        }
        let machine = try XCTUnwrap(DependentQuantization.StateMachine(states: 8))
        var reconstructions: [[Float]] = []
        for prior in [prior(), prior()] {
            var values = [Float](), tables = [Int32](), origins = [UInt8]()
            for p in 0..<plane {
                let o = prior.origin(channel: 0, position: p)
                values.append(latents[p] - o)
                tables.append(Int32(prior.table(channel: 0, position: p)))
                origins.append(UInt8(IntegerGrid.parity(origin: o)) | (prior.mean(channel: 0, position: p) < o ? 2 : 0))
            }
            let symbols = values.withUnsafeBufferPointer { v in
                tables.withUnsafeBufferPointer { t in
                    origins.withUnsafeBufferPointer { o in
                        DependentQuantization.trellis(
                            v, tables: t, machine: machine, costs: grid.costs, lambda: 0, origins: o
                        ).symbols
                    }
                }
            }
            var latent = [Float](repeating: 0, count: plane)
            symbols.withUnsafeBufferPointer { s in
                latent.withUnsafeMutableBufferPointer {
                    DependentQuantization.reconstruct(s, machine: machine, integerGrid: true, into: $0) {
                        prior.origin(channel: 0, position: $0)
                    }
                }
            }
            reconstructions.append(latent)
        }
        XCTAssertEqual(reconstructions[0], reconstructions[1])
        let points = reconstructions[0]
        XCTAssertTrue(points.allSatisfy { ($0 * 2).rounded() == $0 * 2 }, "every point on the half-integers")
        XCTAssertGreaterThan(points.filter { $0.rounded() != $0 }.count, plane / 5, "both quantisers are used")
        let error = zip(latents, points).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Float(plane)
        let rounding = latents.map { ($0 - $0.rounded()) * ($0 - $0.rounded()) }.reduce(0, +) / Float(plane)
        XCTAssertLessThan(error, 0.85 * rounding)
    }

    /// Effort 0 on the grid: flags 6, the decoder's latents on the half-integer grid, the same
    /// pixels at 1 and 2 threads, and about the quality of the grid without the trellis.
    func testGridFilesWithDependentQuantizationRoundTrip() throws {
        let codec = try NeuralCodecTests.codec()
        let image = try NeuralCodecTests.testImage(width: 96, height: 80)
        var search = NeuralEncoderSearch.standard
        search.integerGrid = true
        let bytes = try codec.encode(image, quality: 50, search: search)
        XCTAssertEqual([bytes[4], bytes[7] & ~8], [2, 6], "8 states on the integer grid (bit 3: channel flags, by the image)")
        let decoded = try codec.decode(bytes)
        XCTAssertEqual(try NeuralCodecTests.codec(threads: 2).decode(bytes).planes, decoded.planes)
        let d = try codec.entropyDecoded(bytes)
        XCTAssertEqual(d.machines.machine?.states, 8)
        let plane = d.latentHeight * d.latentWidth
        var latents = [Float](repeating: 0, count: d.ySymbols.count)
        d.ySymbols.withUnsafeBufferPointer { all in
            latents.withUnsafeMutableBufferPointer { out in
                for c in 0..<codec.model.latentChannels {
                    DependentQuantization.reconstruct(
                        UnsafeBufferPointer(rebasing: all[(c * plane)..<((c + 1) * plane)]), machine: d.machines.machine(channel: c),
                        integerGrid: true,
                        into: UnsafeMutableBufferPointer(rebasing: out[(c * plane)..<((c + 1) * plane)])
                    ) { d.prior.origin(channel: c, position: $0) }
                }
            }
        }
        XCTAssertTrue(latents.allSatisfy { ($0 * 2).rounded() == $0 * 2 })
        XCTAssertGreaterThan(latents.filter { $0.rounded() != $0 }.count, 0, "some latents on the half-integers")
        search.dependentQuantization = 0
        let plain = try codec.encode(image, quality: 50, search: search)
        let (psnr, plainPSNR) = (try Quality.psnr(image, decoded), try Quality.psnr(image, try codec.decode(plain)))
        print("grid with 8 states \(bytes.count) bytes \(psnr) dB, without \(plain.count) bytes \(plainPSNR) dB")
        XCTAssertGreaterThan(psnr, plainPSNR - 1)
        XCTAssertLessThan(Double(bytes.count), 1.2 * Double(plain.count))
    }
}

/// Files written before the integer grid existed (by the encoder of the commit before it, with the
/// record n64m96_104k: `Fixtures/nic/`, a version 1 file and a version 2 file with 8-state
/// dependent quantisation) still decode to the same symbols and latents (pinned checksums: the
/// hyper-synthesis and the entropy decoding are exact on every machine).
final class EarlierNICFilesTests: XCTestCase {
    func testEarlierFilesDecodeAsBefore() throws {
        let path = NeuralCodecTests.modelDirectory + "/neural/n64m96_104k.safetensors"
        guard let bytes = FileManager.default.contents(atPath: path) else { throw XCTSkip("no record at \(path)") }
        let model = try HyperpriorModel(bytes: [UInt8](bytes), name: "n64m96_104k")
        let codec = NeuralImageCodec(model: model, device: try ComputeDevice(threads: 1))
        for (name, version, flags, symbolsCRC, latentsCRC) in [
            ("v1_q40", UInt8(1), UInt8(0), UInt32(227_963_497), UInt32(1_623_679_394)),
            ("v2_dsq8_q40", 2, 2, 3_559_251_681, 568_947_319),
        ] {
            let file = try XCTUnwrap(FileManager.default.contents(atPath: Fixture.directory + "/nic/\(name).nic"), name)
            let data = [UInt8](file)
            XCTAssertEqual([data[4], data[7]], [version, flags], name)
            let d = try codec.entropyDecoded(data)
            XCTAssertNil(d.prior.grid, name)
            let plane = d.latentHeight * d.latentWidth
            var latents = [Float](repeating: 0, count: d.ySymbols.count)
            d.ySymbols.withUnsafeBufferPointer { all in
                latents.withUnsafeMutableBufferPointer { out in
                    for c in 0..<model.latentChannels {
                        DependentQuantization.reconstruct(
                            UnsafeBufferPointer(rebasing: all[(c * plane)..<((c + 1) * plane)]), machine: d.machines.machine(channel: c),
                            into: UnsafeMutableBufferPointer(rebasing: out[(c * plane)..<((c + 1) * plane)])
                        ) { d.prior.origin(channel: c, position: $0) }
                    }
                }
            }
            var crcs: [UInt32] = []
            d.ySymbols.withUnsafeBytes { crcs.append(CRC32.checksum(Array($0))) }
            latents.withUnsafeBytes { crcs.append(CRC32.checksum(Array($0))) }
            XCTAssertEqual(crcs, [symbolsCRC, latentsCRC], "\(name): checksums of the symbols and the latents")
            let image = try codec.decode(data)
            XCTAssertEqual([image.width, image.height], [96, 80], name)
        }
    }
}
