import XCTest
@testable import NICCore

/// rANS, bypass codes and CDF table validation, on tables made up here.
final class EntropyCodingTests: XCTestCase {
    /// `count` tables with random frequencies (some of them 1) and random ranges.
    func randomTables(_ count: Int, _ rng: inout SplitMix) throws -> CDFTables {
        var cdf: [Int32] = [], offsets: [Int32] = [0], mins: [Int32] = []
        for _ in 0..<count {
            let n = 1 + rng.below(40)
            var freqs = (0...n).map { _ in 1 + Int32(rng.below(rng.below(4) == 0 ? 2 : 5000)) }
            let sum = freqs.reduce(0, +)
            freqs = freqs.map { max(1, $0 * 60000 / sum) }
            freqs[rng.below(n + 1)] += 65536 - freqs.reduce(0, +)
            var running: Int32 = 0
            cdf.append(0)
            for f in freqs { running += f; cdf.append(running) }
            offsets.append(Int32(cdf.count))
            mins.append(Int32(rng.below(21)) - 10)
        }
        return try CDFTables(cdf: cdf, offsets: offsets, symbolMin: mins)
    }

    func testRoundTripWithEscapes() throws {
        var rng = SplitMix(seed: 7)
        let tables = try randomTables(12, &rng)
        var values: [(Int32, Int)] = []
        for _ in 0..<20000 {
            let t = rng.below(tables.count)
            let lo = Int(tables.symbolMin[t]), n = tables.inRange(t)
            let v: Int
            switch rng.below(50) {
            case 0: v = lo - 1 - rng.below(5000)  // below the range
            case 1: v = lo + n + rng.below(rng.below(2) == 0 ? 10 : 1 << 20)  // above it
            default: v = lo + rng.below(n)
            }
            values.append((Int32(v), t))
        }
        values += [(Int32.max / 2, 0), (-Int32.max / 2, 1)]
        var encoder = RANSEncoder()
        for (v, t) in values { encoder.encode(v, table: t, of: tables) }
        let bytes = encoder.finish()
        var decoder = RANSDecoder(bytes)
        for (i, (v, t)) in values.enumerated() {
            let decoded = try decoder.decode(table: t, of: tables)
            guard decoded == v else { return XCTFail("symbol \(i): decoded \(decoded), expected \(v)") }
        }
        XCTAssertTrue(decoder.isExhausted)
    }

    func testEmptyStreamAndOverrun() throws {
        var rng = SplitMix(seed: 3)
        let tables = try randomTables(1, &rng)
        let empty = RANSEncoder().finish()
        XCTAssertEqual(empty.count, 4)
        XCTAssertTrue(RANSDecoder(empty).isExhausted)
        var decoder = RANSDecoder([1, 2])
        for _ in 0..<1000 { _ = try? decoder.decode(table: 0, of: tables) }
        XCTAssertFalse(decoder.isExhausted)
    }

    func testBypassCodeExtremes() throws {
        for d in [0, 1, -1, 7, -8, 12345, -12345, 1 << 30 - 1, -(1 << 30)] {
            var digits = BypassCode.nibbles(distance: d)[...]
            XCTAssertEqual(try BypassCode.distance { digits.popFirst()! }, d)
        }
        var tooLong: [UInt8] = [8] + Array(repeating: 15, count: 9)
        XCTAssertThrowsError(try BypassCode.distance { tooLong.removeFirst() })
        var tooLarge: [UInt8] = [7] + Array(repeating: 15, count: 8)
        XCTAssertThrowsError(try BypassCode.distance { tooLarge.removeFirst() })
    }

    func testInvalidTablesAreRejected() {
        XCTAssertThrowsError(try CDFTables(cdf: [0, 65536], offsets: [0, 2], symbolMin: [0]))  // one symbol only
        XCTAssertThrowsError(try CDFTables(cdf: [0, 100, 100, 65536], offsets: [0, 4], symbolMin: [0]))  // zero frequency
        XCTAssertThrowsError(try CDFTables(cdf: [0, 100, 65535], offsets: [0, 3], symbolMin: [0]))  // wrong total
        XCTAssertThrowsError(try CDFTables(cdf: [0, 100, 65536], offsets: [0, 2], symbolMin: [0]))  // offsets
        XCTAssertNoThrow(try CDFTables(cdf: [0, 100, 65536], offsets: [0, 3], symbolMin: [0]))
    }
}
