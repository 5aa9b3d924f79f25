import XCTest
@testable import NICCore

final class JSONTests: XCTestCase {
    func testParsesAndSerializes() throws {
        let text = #"{"a": [1, 2.5, -3e2, true, false, null], "b": {"c": "x\"y\\z\n\u00e9\ud83d\ude00"}}"#
        let value = try JSONValue.parse(text)
        XCTAssertEqual(value["a"]?.arrayValue?.count, 6)
        XCTAssertEqual(value["a"]?.arrayValue?[2].intValue, -300)
        XCTAssertEqual(value["b"]?["c"]?.stringValue, "x\"y\\z\né😀")
        XCTAssertEqual(try JSONValue.parse(value.serialized), value)
        XCTAssertEqual(JSONValue.object(["k": .number(2), "a": .string("\u{01}")]).serialized, #"{"a":"\u0001","k":2}"#)
    }

    func testRejectsMalformedText() {
        for bad in [
            "", "{", "[1,]", "{\"a\" 1}", "tru", "\"abc", "1 2", "{\"a\":01x}", "\"\\q\"", "[\"\u{01}\"]",
            String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
            // beyond Double's range: no serialised form survives (the fuzzer's input 66E667)
            "66E667", "[-1e400]",
        ] {
            XCTAssertThrowsError(try JSONValue.parse(bad), bad)
        }
    }
}

final class SafetensorsTests: XCTestCase {
    func file(header: String, payload: [UInt8]) -> [UInt8] {
        let h = Array(header.utf8)
        return (0..<8).map { UInt8(truncatingIfNeeded: h.count >> (8 * $0)) } + h + payload
    }

    func testReadsF32AndF16() throws {
        let f32 = [Float(1.5), -2].flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        let f16 = [Float16(0.25)].flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        let bytes = file(
            header:
                #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[1,1],"data_offsets":[8,10]},"__metadata__":{"op":"x"}}"#,
            payload: f32 + f16)
        let st = try SafetensorsFile(bytes: bytes)
        XCTAssertEqual(try st.floats("a"), [1.5, -2])
        XCTAssertEqual(try st.floats("b", shape: [1, 1]), [0.25])
        XCTAssertEqual(st.metadata["op"], "x")
        XCTAssertThrowsError(try st.floats("b", shape: [2]))
        XCTAssertThrowsError(try st.floats("missing"))
    }

    func testEveryTruncationAndBadHeaderFailsCleanly() throws {
        let good = file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, payload: Array(repeating: 0, count: 8))
        XCTAssertNoThrow(try SafetensorsFile(bytes: good))
        for n in 0..<good.count { XCTAssertThrowsError(try SafetensorsFile(bytes: Array(good.prefix(n))), "length \(n)") }
        for header in [
            #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
            #"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#,
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
            #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#,
            #"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#,
            #"[1]"#,
        ] {
            XCTAssertThrowsError(try SafetensorsFile(bytes: file(header: header, payload: Array(repeating: 0, count: 8))), header)
        }
        var huge = good
        huge[7] = 0x7F
        XCTAssertThrowsError(try SafetensorsFile(bytes: huge))
        XCTAssertThrowsError(try SafetensorsFile(path: "/nonexistent/weights.safetensors")) { error in
            guard case NICError.io = error else { return XCTFail("expected .io, got \(error)") }
        }
    }
}

final class SHA256Tests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var chunked = SHA256()
        for _ in 0..<1000 { chunked.update([UInt8](repeating: 0x61, count: 1000)) }
        XCTAssertEqual(chunked.finalize().prefix(4), [0xcd, 0xc7, 0x6e, 0x5c])  // one million 'a'
    }
}
