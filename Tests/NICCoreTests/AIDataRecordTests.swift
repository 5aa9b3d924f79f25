import XCTest
@testable import NICCore

final class AIDataRecordTests: XCTestCase {
    /// 1920x1080 -> 1280x720 with setting 12, HEVC at CRF 28.5, natural content, luma only.
    let sample = AIDataRecord(
        settingID: 12, scaleNumerator: 3, scaleDenominator: 2,
        originalWidth: 1920, originalHeight: 1080, downscaledWidth: 1280, downscaledHeight: 720,
        codec: .hevc, qualityKind: .crf, qualityValue: 2850, contentType: .natural, flags: [.lumaOnly])
    /// The same record as docs/ai-data.md spells it out.
    let sampleHex = "4e49434101001f010c000302800738040005d002050102220b00007bfb3474"

    func hex(_ s: String) -> [UInt8] {
        let c = Array(s.utf8)
        return stride(from: 0, to: c.count, by: 2).map { UInt8(String(decoding: c[$0...$0 + 1], as: UTF8.self), radix: 16)! }
    }

    func assertCorrupt(_ bytes: [UInt8], _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try AIDataRecord(parsing: bytes), file: file, line: line) { error in
            guard case NICError.corruptData(let message) = error else {
                return XCTFail("expected .corruptData, got \(error)", file: file, line: line)
            }
            XCTAssertTrue(message.contains(needle), "\"\(message)\" lacks \"\(needle)\"", file: file, line: line)
        }
    }

    /// `body` (everything before the CRC) with its length byte set and a correct CRC appended.
    func sealed(_ body: [UInt8]) -> [UInt8] {
        var b = body
        b[6] = UInt8(b.count + 4)
        let crc = CRC32.checksum(b)
        return b + (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * $0)) }
    }

    // MARK: CRC

    func testCRC32KnownVectors() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum([UInt8]()), 0)
        XCTAssertEqual(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)), 0x414F_A339)
        XCTAssertEqual(CRC32.checksum([UInt8](repeating: 0, count: 32)), 0x190A_55AD)
    }

    // MARK: Layout and round trips

    func testGoldenBytesMatchTheSpecification() throws {
        let bytes = try sample.serialized()
        XCTAssertEqual(bytes.count, AIDataRecord.version1Size)
        XCTAssertEqual(hexString(bytes), sampleHex)
        XCTAssertEqual(try AIDataRecord(parsing: hex(sampleHex)), sample)
        XCTAssertEqual(AIDataRecord.seiUUID.count, 16)
        XCTAssertEqual(hexString(AIDataRecord.seiUUID), "392df699481f491e95253f00f4c4e7d9")
    }

    func testRoundTripsEdgeValues() throws {
        let max = AIDataRecord.maxDimension
        let codecs: [AIDataRecord.Codec] = [.uncompressed, .jpeg, .png, .webp, .h264, .hevc, .other, .unknown(6), .unknown(254)]
        let contents: [AIDataRecord.ContentType] = [.unspecified, .natural, .screen, .animation, .unknown(4), .unknown(255)]
        let qualities: [(AIDataRecord.QualityKind, Int32)] = [
            (.unspecified, 0), (.quality, 0), (.quality, 10000), (.quality, 7500), (.crf, -1200), (.crf, 10000),
            (.qp, 0), (.qp, 5100), (.bitrateKbps, 1), (.bitrateKbps, 10_000_000),
            (.unknown(5), .min), (.unknown(255), .max), (.unknown(200), -1),
        ]
        let scales: [(UInt8, UInt8)] = [(1, 1), (2, 1), (3, 2), (4, 3), (255, 1), (255, 254), (255, 255)]
        let sizes: [(Int, Int, Int, Int)] = [
            (1, 1, 1, 1), (max, max, max, max), (max, max, 1, 1), (1279, 719, 640, 360), (max, 1, 8192, 1),
        ]
        var count = 0
        for codec in codecs {
            for content in contents {
                for (kind, value) in qualities {
                    for (num, den) in scales {
                        for (ow, oh, dw, dh) in sizes {
                            for (setting, flags) in [(UInt16(0), UInt8(0)), (65535, 0xFB)] {  // every bit but repeat
                                let record = AIDataRecord(
                                    settingID: setting, scaleNumerator: num, scaleDenominator: den,
                                    originalWidth: ow, originalHeight: oh, downscaledWidth: dw, downscaledHeight: dh,
                                    codec: codec, qualityKind: kind, qualityValue: value,
                                    contentType: content, flags: .init(rawValue: flags))
                                let bytes = try record.serialized()
                                XCTAssertEqual(bytes.count, 31)
                                XCTAssertEqual(try AIDataRecord(parsing: bytes), record)
                                XCTAssertEqual(try AIDataRecord(text: record.textForm()), record)
                                count += 1
                            }
                        }
                    }
                }
            }
        }
        XCTAssertEqual(count, 9 * 6 * 13 * 7 * 5 * 2)
    }

    func testUnknownCodesAreKeptAndCompareByCode() throws {
        XCTAssertEqual(AIDataRecord.Codec.unknown(1), .jpeg)
        XCTAssertEqual(AIDataRecord.Codec(rawValue: 255), .other)
        XCTAssertEqual(AIDataRecord.QualityKind(rawValue: 9).rawValue, 9)
        XCTAssertEqual(AIDataRecord.ContentType(rawValue: 3), .animation)
        var record = sample
        record.codec = .unknown(77)
        record.flags = .init(rawValue: 0b1111_1001)
        let parsed = try AIDataRecord(parsing: record.serialized())
        XCTAssertEqual(parsed.codec.rawValue, 77)
        XCTAssertEqual(parsed.flags.rawValue, 0b1111_1001)
        XCTAssertTrue(parsed.flags.contains(.lumaOnly))
        XCTAssertFalse(parsed.flags.contains(.genericFallbackAllowed))
        XCTAssertEqual(sample.scale, 1.5)
    }

    func testSerializeRejectsOutOfRangeFields() {
        func assertInvalid(_ change: (inout AIDataRecord) -> Void, _ needle: String, line: UInt = #line) {
            var record = sample
            change(&record)
            XCTAssertThrowsError(try record.serialized(), line: line) { error in
                guard case NICError.invalidArgument(let message) = error else { return XCTFail("got \(error)", line: line) }
                XCTAssertTrue(message.contains(needle), message, line: line)
            }
            XCTAssertThrowsError(try record.textForm(), line: line)
        }
        assertInvalid({ $0.scaleDenominator = 0 }, "scale")
        assertInvalid({ $0.scaleNumerator = 1 }, "scale 1/2")
        assertInvalid({ $0.originalWidth = 0 }, "original width 0")
        assertInvalid({ $0.originalHeight = 16385 }, "original height 16385")
        assertInvalid({ $0.downscaledWidth = -1 }, "downscaled width -1")
        assertInvalid({ $0.downscaledHeight = 70000 }, "downscaled height 70000")
        assertInvalid({ $0.downscaledWidth = 1921 }, "exceeds original size")
        assertInvalid({ $0.qualityValue = 10001 }, "quality value 10001")
        assertInvalid({ $0.qualityValue = -1201 }, "quality value -1201")
        assertInvalid({ $0.qualityKind = .unspecified }, "quality value 2850")
        assertInvalid(
            {
                $0.qualityKind = .quality; $0.qualityValue = -1
            }, "quality value -1")
        assertInvalid(
            {
                $0.qualityKind = .bitrateKbps; $0.qualityValue = 0
            }, "quality value 0")
        assertInvalid(
            {
                $0.qualityKind = .bitrateKbps; $0.qualityValue = 10_000_001
            }, "quality value 10000001")
        assertInvalid({ $0.flags.insert(.repeatRecord) }, "repeat record")
    }

    // MARK: Damage

    func testEveryTruncationIsRejected() throws {
        let good = try sample.serialized()
        for n in 0..<good.count {
            assertCorrupt(Array(good.prefix(n)), n < AIDataRecord.headerSize ? "too short" : "truncated")
        }
        let longer = sealed(Array(good.prefix(27)) + [1, 2, 3])
        for n in 0..<longer.count { XCTAssertThrowsError(try AIDataRecord(parsing: Array(longer.prefix(n))), "length \(n)") }
    }

    func testEverySingleBitFlipIsCaughtByTheCRC() throws {
        let good = try sample.serialized()
        let covered = good.count - 4
        for bit in 0..<(good.count * 8) {
            var bad = good
            bad[bit / 8] ^= 1 << UInt8(bit % 8)
            // The CRC alone detects the flip, wherever it is (covered bytes or the CRC field) ...
            var stored = UInt32(0)
            for i in 0..<4 { stored |= UInt32(bad[covered + i]) << (8 * UInt32(i)) }
            XCTAssertNotEqual(CRC32.checksum(bad[..<covered]), stored, "bit \(bit)")
            // ... and the parser rejects it: magic and length flips are caught earlier, with their own message.
            let expected = bit < 32 ? "bad magic" : (48..<56).contains(bit) ? "bytes" : "CRC mismatch"
            assertCorrupt(bad, expected)
        }
    }

    func testEveryDoubleBitFlipAndByteSubstitutionIsRejected() throws {
        let good = try sample.serialized()
        let bits = good.count * 8
        for a in 0..<bits {
            for b in (a + 1)..<bits {
                var bad = good
                bad[a / 8] ^= 1 << UInt8(a % 8)
                bad[b / 8] ^= 1 << UInt8(b % 8)
                XCTAssertThrowsError(try AIDataRecord(parsing: bad), "bits \(a), \(b)")
            }
        }
        for i in good.indices {
            for value in 0...255 where value != good[i] {
                var bad = good
                bad[i] = UInt8(value)
                XCTAssertThrowsError(try AIDataRecord(parsing: bad), "byte \(i) = \(value)")
            }
        }
    }

    func testTrailingAndOversizedInputsAreRejected() throws {
        let good = try sample.serialized()
        assertCorrupt(good + [0], "1 unexpected bytes after the 31-byte record")
        assertCorrupt(good + [UInt8](repeating: 0, count: 300), "too long: 331 bytes")
        var short = good
        short[6] = 10
        assertCorrupt(short, "length field 10 is below the 11-byte minimum")
    }

    /// Fields 7..<27 set at random with a valid CRC: the parser either rejects them as out of range
    /// or accepts them, and then writes back exactly the same bytes.
    func testRandomFieldsWithValidCRCParseExactlyOrFailCleanly() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt8 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        let header = Array(try sample.serialized().prefix(7))
        var accepted = 0, rejected = 0
        for _ in 0..<20000 {
            let bytes = sealed(header + (0..<20).map { _ in next() })
            do {
                let record = try AIDataRecord(parsing: bytes)
                XCTAssertEqual(try record.serialized(), bytes)
                accepted += 1
            } catch NICError.corruptData(let message) {
                // Flag bit 2 makes it a repeat record, which holds no full record.
                XCTAssertTrue(message.contains("field out of range") || message.contains("repeat record"), message)
                rejected += 1
            }
        }
        XCTAssertGreaterThan(rejected, 0)
        // Random small sizes that happen to be valid.
        for _ in 0..<2000 {
            var fields = (0..<20).map { _ in next() }
            fields[0] &= ~AIDataRecord.Flags.repeatRecord.rawValue
            fields[4] |= 1; fields[3] = max(fields[3], fields[4])  // numerator >= denominator >= 1
            for i in [5, 7, 9, 11] { fields[i] = fields[i] | 1; fields[i + 1] = 0 }
            fields[9] = min(fields[9], fields[5]); fields[11] = min(fields[11], fields[7])
            fields[15] = 0; fields[16...19] = [0, 0, 0, 0]  // unspecified quality, value 0
            XCTAssertNoThrow(try AIDataRecord(parsing: sealed(header + fields)))
            accepted += 1
        }
        XCTAssertGreaterThan(accepted, 2000)
    }

    // MARK: Repeat records (video SEI, §5.1)

    func testRepeatRecordCarriesSettingAndFlagsOnly() throws {
        var next = sample
        next.settingID = 513
        let bytes = next.serializedRepeat()
        XCTAssertEqual(bytes.count, AIDataRecord.repeatSize)
        XCTAssertEqual(bytes.count, 14)
        XCTAssertEqual(Array(bytes.prefix(10)), AIDataRecord.magic + [1, 1, 14, 0x05, 0x01, 0x02])
        XCTAssertEqual(try AIDataMessage(parsing: bytes), .repeated(settingID: 513, flags: [.lumaOnly, .repeatRecord]))
        XCTAssertEqual(try AIDataMessage(parsing: sample.serialized()), .full(sample))
        XCTAssertEqual(sample.repeated(settingID: 513, flags: [.lumaOnly, .repeatRecord]), next)
        XCTAssertTrue(next.differsOnlyInSetting(from: sample))
        next.qualityValue += 1
        XCTAssertFalse(next.differsOnlyInSetting(from: sample))
        // Alone, a repeat record describes no image.
        assertCorrupt(bytes, "a repeat record (setting 513) holds no sizes")
    }

    func testDamagedRepeatRecordsAreRejected() throws {
        let good = sample.serializedRepeat()
        for n in 0..<good.count { XCTAssertThrowsError(try AIDataMessage(parsing: Array(good.prefix(n))), "length \(n)") }
        for bit in 0..<(good.count * 8) {
            var bad = good
            bad[bit / 8] ^= 1 << UInt8(bit % 8)
            XCTAssertThrowsError(try AIDataMessage(parsing: bad), "bit \(bit)")
        }
        // The repeat flag on a record too short to hold a setting ID.
        XCTAssertThrowsError(try AIDataMessage(parsing: sealed(AIDataRecord.magic + [1, 1, 0, 0x04, 12]))) { error in
            XCTAssertTrue("\(error)".contains("too short for a repeat record: 13 bytes, need 14"), "\(error)")
        }
    }

    // MARK: Versions

    func testLaterMinorVersionWithExtraFieldsIsAccepted() throws {
        let good = try sample.serialized()
        let fields = Array(good[7..<27])
        for extra in [1, 5, 255 - 31] {
            var body = AIDataRecord.magic + [1, 9, 0] + fields + (0..<extra).map { UInt8(truncatingIfNeeded: $0 &* 37) }
            body[5] = UInt8(extra % 256)
            let later = sealed(body)
            XCTAssertEqual(later.count, 31 + extra)
            XCTAssertEqual(try AIDataRecord(parsing: later), sample)
            XCTAssertEqual(try AIDataRecord(parsing: later).serialized(), good, "written back as 1.0")
        }
        // A 1.x record shorter than 1.0 is damaged, whatever its minor version says.
        assertCorrupt(sealed(AIDataRecord.magic + [1, 3, 0] + fields.prefix(10)), "too short for version 1.3")
    }

    func testUnknownMajorVersionIsRejectedWithItsNumber() {
        for major: UInt8 in [0, 2, 7, 255] {
            assertCorrupt(sealed(AIDataRecord.magic + [major, 0, 0]), "unsupported major version \(major)")
            assertCorrupt(
                sealed(AIDataRecord.magic + [major, 4, 0] + [UInt8](repeating: 0xAB, count: 60)), "unsupported major version \(major)")
        }
    }

    // MARK: Text form

    func testTextFormRoundTrip() throws {
        let text = try sample.textForm()
        XCTAssertEqual(text, "nicai1:" + sampleHex)
        XCTAssertEqual(try AIDataRecord(text: text), sample)
        XCTAssertEqual(try AIDataRecord(text: "nicai1:" + sampleHex.uppercased()), sample)
        XCTAssertEqual(try AIDataRecord(text: " \t\r\n" + text + "\n\0\0\0"), sample)
        XCTAssertEqual(AIDataRecord.textKeyword, "nic-aidata")
    }

    func testMalformedTextIsRejected() throws {
        let text = try sample.textForm()
        let digits = String(text.dropFirst(7))
        func assertBad(_ input: String, _ needle: String, line: UInt = #line) {
            XCTAssertThrowsError(try AIDataRecord(text: input), line: line) { error in
                guard case NICError.corruptData(let message) = error else { return XCTFail("got \(error)", line: line) }
                XCTAssertTrue(message.contains(needle), "\"\(message)\" lacks \"\(needle)\"", line: line)
            }
        }
        assertBad("", "empty")
        assertBad(" \0\n", "empty")
        assertBad(digits, "does not start with")
        assertBad("nicai2:" + digits, "does not start with")
        assertBad("NICAI1:" + digits, "does not start with")
        assertBad("nicai1" + digits, "does not start with")
        assertBad("x nicai1:" + digits, "does not start with")
        assertBad("nicai1:" + digits.dropLast(), "odd number of hex digits (61)")
        assertBad("nicai1:" + digits + "0", "odd number")
        assertBad("nicai1:" + digits.dropLast() + "g", "byte 0x67 at offset 68 is not a hex digit")
        assertBad("nicai1:" + "g" + digits.dropFirst(), "offset 7")
        assertBad("nicai1:" + digits.prefix(30) + " " + digits.dropFirst(31), "byte 0x20 at offset 37")
        assertBad("nicai1:" + digits.prefix(30) + "é" + digits.dropFirst(32), "not a hex digit")
        assertBad("nicai1:0x" + digits.dropFirst(2), "not a hex digit")
        assertBad("nicai1:", "too short: 0 bytes")
        assertBad("nicai1:" + digits + "00", "unexpected bytes")
        assertBad("nicai1:" + digits.dropLast(2) + "00", "CRC mismatch")
        assertBad("nicai1:" + String(repeating: "0", count: 1018), "too long: 1025 bytes")
        assertBad(String(repeating: " ", count: 2000) + text, "too long")
        assertBad("nicai1:" + String(repeating: "ab", count: 300), "too long: 300 bytes")
    }
}
