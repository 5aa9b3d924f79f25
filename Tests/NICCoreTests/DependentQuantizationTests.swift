import XCTest
@testable import NICCore

/// Dependent quantisation of the latents: the state machines, Q1's tables (the same integers on
/// every machine), the trellis search, and `.nic` version 2 files end to end.
final class DependentQuantizationTests: XCTestCase {
    func testStateMachines() throws {
        XCTAssertNil(DependentQuantization.StateMachine(states: 6))
        // The 4-state machine of H.266/VVC: from state s, parity 0 and 1 lead to ...
        let four = try XCTUnwrap(DependentQuantization.StateMachine(states: 4))
        XCTAssertEqual((0..<4).map { [four.next($0, 0), four.next($0, 1)] }, [[0, 2], [2, 0], [1, 3], [3, 1]])
        XCTAssertEqual((0..<4).map(four.quantiser), [0, 0, 1, 1])
        let eight = try XCTUnwrap(DependentQuantization.StateMachine(states: 8))
        XCTAssertEqual((0..<8).map(eight.quantiser), [0, 0, 0, 0, 1, 1, 1, 1])
        for s in 0..<8 {
            XCTAssertNotEqual(eight.next(s, 0), eight.next(s, 1))
            XCTAssertEqual(eight.next(s, -3), eight.next(s, 1), "parity of negative symbols")
        }
        XCTAssertEqual([0, 1, 2, -1, -2].map { DependentQuantization.reconstruction($0, quantiser: 1) }, [0, 0.5, 1.5, -0.5, -1.5])
        XCTAssertEqual([0, 1, -2].map { DependentQuantization.reconstruction($0, quantiser: 0) }, [0, 1, -2])
    }

    /// Φ from basic operations against values to 1e-12, and Q1's tables as integers: any change of
    /// the arithmetic (or a machine that computes it differently) changes the checksum, and files
    /// would no longer decode.
    func testQuantiserOneTablesAreTheSameIntegersEverywhere() throws {
        XCTAssertEqual(DependentQuantization.normalCDF(0), 0.5, accuracy: 1e-15)
        XCTAssertEqual(DependentQuantization.normalCDF(1), 0.841344746068543, accuracy: 1e-12)
        XCTAssertEqual(DependentQuantization.normalCDF(-2.5), 0.00620966532577613, accuracy: 1e-13)
        XCTAssertEqual(DependentQuantization.normalCDF(-6), 9.86587645037698e-10, accuracy: 1e-20)
        XCTAssertEqual(DependentQuantization.exponential(1), 2.718281828459045, accuracy: 1e-15)
        let scales: [Float] = [0.11, 0.5, 1, 3.7, 25, 256]
        let tables = try DependentQuantization.quantiserOneTables(scaleTable: scales)
        XCTAssertEqual(tables.symbolMin, [-2, -5, -8, -24, -154, -1566])
        var crc: UInt32 = 0
        tables.cdf.withUnsafeBytes { crc = CRC32.checksum(Array($0)) }
        XCTAssertEqual(crc, 2_485_442_137, "checksum of the flat CDF array: \(String(crc, radix: 16))")
        // A wide Gaussian gives Q1's narrow zero cell about half the mass of a unit cell.
        let wide = tables.interval(4, 154 + 0).freq, unit = tables.interval(4, 154 + 3).freq
        XCTAssertEqual(Double(wide) / Double(unit), 0.5, accuracy: 0.02)
    }

    /// The search against its own cost: for a tiny λ it reaches a finer reconstruction than plain
    /// rounding (the two grids together are twice as fine), and the symbols it returns follow a
    /// valid path whose squared error it can be held to.
    func testTrellisFindsFinerReconstructions() throws {
        let model = try XCTUnwrap(NeuralCodecTests.model, "no neural codec model")
        let values = (0..<1000).map { Float($0) * 0.0173 - 8.6 }
        let tables = [Int32](repeating: 40, count: values.count)
        let costs = model.yBitCosts
        for states in [4, 8] {
            let machine = try XCTUnwrap(DependentQuantization.StateMachine(states: states))
            let symbols = values.withUnsafeBufferPointer { v in
                tables.withUnsafeBufferPointer {
                    DependentQuantization.trellis(v, tables: $0, machine: machine, costs: costs, lambda: 1e-4).symbols
                }
            }
            var reconstructed = [Float](repeating: 0, count: values.count)
            symbols.withUnsafeBufferPointer { s in
                reconstructed.withUnsafeMutableBufferPointer { DependentQuantization.reconstruct(s, machine: machine, into: $0) { _ in 0 } }
            }
            let error = zip(values, reconstructed).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Float(values.count)
            let rounding = values.map { ($0 - $0.rounded()) * ($0 - $0.rounded()) }.reduce(0, +) / Float(values.count)
            print("\(states) states: squared error \(error), rounding \(rounding)")
            XCTAssertLessThan(error, 0.85 * rounding, "\(states) states")
        }
    }

    /// The Viterbi search against every path: on short chains, over both grids and both machines,
    /// no sequence of the quantisers' candidates (the two nearest points and the one nearest the
    /// mean) costs less than the path the trellis returns, and that path is a valid one.
    func testTrellisReturnsTheCheapestPath() throws {
        let model = try XCTUnwrap(NeuralCodecTests.model, "no neural codec model")
        let costs = model.yBitCosts
        var rng = SplitMix(seed: 5)
        for trial in 0..<24 {
            let machine = try XCTUnwrap(DependentQuantization.StateMachine(states: trial % 2 == 0 ? 4 : 8))
            let integerGrid = trial % 4 >= 2
            let n = 7, lambda: Float = [0.01, 0.05, 0.2][trial % 3]
            let values = (0..<n).map { _ in (Float(rng.below(1000)) / 1000 - 0.5) * 6 }
            let tables = (0..<n).map { _ in Int32(20 + rng.below(40)) }
            let origins: [UInt8]? = integerGrid ? (0..<n).map { _ in UInt8(rng.below(4)) } : nil
            func candidates(_ v: Float, quantiser q: Int, flags: UInt8) -> [Int32] {
                if q == 0 { let k = Int32(v.rounded(.down)); return [k, k + 1, 0] }
                if integerGrid { let k = Int32((v - 0.5).rounded(.down)); return [k, k + 1, flags & 2 == 0 ? 0 : -1] }
                let k = Int32((abs(v) + 0.5).rounded(.down)) * (v < 0 ? -1 : 1)
                return [k, k + (v < 0 ? -1 : 1), 0]
            }
            /// The cost of a path, or nil when a symbol is not a candidate of its state's quantiser.
            func cost(_ symbols: [Int32]) -> Float? {
                var state = 0, total: Float = 0
                for p in 0..<n {
                    let q = machine.quantiser(state), flags = origins?[p] ?? 0
                    guard candidates(values[p], quantiser: q, flags: flags).contains(symbols[p]) else { return nil }
                    let e = values[p] - DependentQuantization.reconstruction(symbols[p], quantiser: q, integerGrid: integerGrid)
                    let bits = q == 0 ? costs.q0.cost(symbols[p], table: Int(tables[p])) : costs.q1.cost(symbols[p], table: Int(tables[p]))
                    total += e * e + lambda * bits
                    state = machine.next(state, DependentQuantization.stateSymbol(symbols[p], originParity: Int32(flags & 1)))
                }
                return total
            }
            var cheapest = Float.infinity
            func search(_ prefix: [Int32], state: Int) {
                guard prefix.count < n else { cheapest = min(cheapest, cost(prefix) ?? .infinity); return }
                let p = prefix.count, flags = origins?[p] ?? 0
                for k in candidates(values[p], quantiser: machine.quantiser(state), flags: flags) {
                    search(prefix + [k], state: machine.next(state, DependentQuantization.stateSymbol(k, originParity: Int32(flags & 1))))
                }
            }
            search([], state: 0)
            let found = values.withUnsafeBufferPointer { v in
                tables.withUnsafeBufferPointer { t in
                    (origins ?? []).withUnsafeBufferPointer { o in
                        DependentQuantization.trellis(
                            v, tables: t, machine: machine, costs: costs, lambda: lambda, origins: integerGrid ? o : nil)
                    }
                }
            }
            let foundCost = try XCTUnwrap(cost(found.symbols), "trial \(trial): the trellis returned an invalid path \(found)")
            XCTAssertEqual(foundCost, cheapest, accuracy: 1e-4 * max(1, cheapest), "trial \(trial)")
            XCTAssertEqual(found.cost, foundCost, accuracy: 1e-4 * max(1, cheapest), "trial \(trial): the cost it reports")

            // Quantiser 0 alone (a channel that does not follow the machine): each latent's
            // cheapest candidate of quantiser 0, and the sum of their costs.
            let alone = values.withUnsafeBufferPointer { v in
                tables.withUnsafeBufferPointer { DependentQuantization.quantiserZero(v, tables: $0, costs: costs.q0, lambda: lambda) }
            }
            var aloneCost: Float = 0
            for p in 0..<n {
                let options = candidates(values[p], quantiser: 0, flags: 0).map { k -> (Int32, Float) in
                    let e = values[p] - Float(k)
                    return (k, e * e + lambda * costs.q0.cost(k, table: Int(tables[p])))
                }
                let best = options.min { $0.1 < $1.1 }!
                XCTAssertEqual(options.first { $0.0 == alone.symbols[p] }?.1 ?? .infinity, best.1, "trial \(trial), latent \(p)")
                aloneCost += best.1
            }
            XCTAssertEqual(alone.cost, aloneCost, accuracy: 1e-4 * max(1, aloneCost), "trial \(trial)")
        }
    }

    func testVersionTwoFilesRoundTripAndVersionOneStays() throws {
        let codec = try NeuralCodecTests.codec()
        let image = try NeuralCodecTests.testImage(width: 96, height: 80)
        let plain = try codec.encode(image, quality: 50, search: NeuralEncoderSearch(refinementSteps: 1))
        XCTAssertEqual([plain[4], plain[7]], [1, 0], "a file without dependent quantisation stays version 1")
        let standard = try codec.encode(image, quality: 50)
        XCTAssertEqual([standard[4], standard[7] & ~8], [2, 6], "effort 0 quantises with 8 states on the integer grid")
        let plainPSNR = try Quality.psnr(image, try codec.decode(plain))
        for (states, flags) in [(4, UInt8(1)), (8, 2)] {
            let bytes = try codec.encode(image, quality: 50, search: NeuralEncoderSearch(refinementSteps: 1, dependentQuantization: states))
            XCTAssertEqual([bytes[4], bytes[7] & ~8], [2, flags])
            XCTAssertEqual(try NICBitstream(parsing: bytes).dependentQuantization, states)
            let decoded = try codec.decode(bytes)
            XCTAssertEqual(try NeuralCodecTests.codec(threads: 2).decode(bytes).planes, decoded.planes)
            XCTAssertGreaterThan(try Quality.psnr(image, decoded), plainPSNR - 1.5, "\(states) states")
            // Flags a version 1 reader never wrote, or unknown ones: refused.
            var v1 = bytes; v1[4] = 1
            XCTAssertThrowsError(try codec.decode(NeuralCodecTests.withValidChecksum(v1))) {
                XCTAssertTrue(($0 as? NICError)?.message.contains("flags") ?? false, "\($0)")
            }
            var unknown = bytes; unknown[7] = 3 | (bytes[7] & 8)
            XCTAssertThrowsError(try codec.decode(NeuralCodecTests.withValidChecksum(unknown)))
            for n in stride(from: 0, to: bytes.count, by: 7) { XCTAssertThrowsError(try codec.decode(Array(bytes[0..<n]))) }
        }
        XCTAssertThrowsError(
            try codec.encode(image, quality: 50, search: NeuralEncoderSearch(refinementSteps: 1, dependentQuantization: 5)))
    }

    /// Channels left on quantiser 0: the file says which (bit 3 and a flag per channel), the
    /// decoder follows it (the same pixels at 1 and 2 threads; those channels' latents on the
    /// integers), and a flag that is neither 0 nor 1 is a clear error.
    func testChannelsOffTheStateMachine() throws {
        let codec = try NeuralCodecTests.codec()
        var flagged: [UInt8]?
        for (size, quality) in [(96, 30), (128, 60), (160, 90)] where flagged == nil {
            let bytes = try codec.encode(try NeuralCodecTests.testImage(width: size, height: size * 3 / 4), quality: quality)
            if bytes[7] & 8 != 0 { flagged = bytes }
        }
        let bytes = try XCTUnwrap(flagged, "effort 0 left no channel off the state machine on any test image")
        let d = try codec.entropyDecoded(bytes)
        let following = try XCTUnwrap(d.machines.following)
        XCTAssertEqual(following.count, codec.model.latentChannels)
        XCTAssertTrue(following.contains(false) && following.contains(true), "\(following)")
        let plane = d.latentHeight * d.latentWidth
        var latents = [Float](repeating: 0, count: plane)
        for c in following.indices where !following[c] {
            d.ySymbols[(c * plane)..<((c + 1) * plane)].withUnsafeBufferPointer { s in
                latents.withUnsafeMutableBufferPointer {
                    DependentQuantization.reconstruct(s, machine: d.machines.machine(channel: c), integerGrid: true, into: $0) {
                        d.prior.origin(channel: c, position: $0)
                    }
                }
            }
            XCTAssertTrue(latents.allSatisfy { $0.rounded() == $0 }, "channel \(c) off the machine codes integers")
        }
        XCTAssertEqual(try NeuralCodecTests.codec(threads: 2).decode(bytes).planes, try codec.decode(bytes).planes)

        // A flag the table can only escape to: refused with a message that says so.
        var stream = try NICBitstream(parsing: bytes)
        var coder = RANSEncoder()
        coder.encode(2, table: 0, of: DependentQuantization.channelFlagTables)
        stream.yPayload = coder.finish()
        XCTAssertThrowsError(try codec.decode(stream.serialized())) {
            XCTAssertTrue(($0 as? NICError)?.message.contains("channel flag") ?? false, "\($0)")
        }
        // The same file without bit 3 reads its flags as symbols: an error or an image, never a crash.
        var unflagged = bytes
        unflagged[7] &= ~8
        _ = try? codec.decode(NeuralCodecTests.withValidChecksum(unflagged))
    }

    func testDamagedVersionTwoPayloadsGiveAnErrorOrAnImage() throws {
        let codec = try NeuralCodecTests.codec()
        let bytes = try codec.encode(
            try NeuralCodecTests.testImage(width: 64, height: 48), quality: 40,
            search: NeuralEncoderSearch(refinementSteps: 1, dependentQuantization: 8))
        NeuralCodecTests.assertFlippedPayloadBitsDecodeOrFail(codec, bytes, width: 64, height: 48, seed: 3)
    }
}
