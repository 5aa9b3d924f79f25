// The AI data record (docs/ai-data.md): byte form and text form. The first input byte
// chooses: even = the rest is a binary record (AIDataMessage / AIDataRecord(parsing:)),
// odd = the rest is the text form (AIDataRecord(text:)). A record that parses must
// serialize without error and parse back to itself, in both forms.
import Glibc
@testable import NICCore

func fuzzSetUp() {
    fuzzWriteSeedsIfAsked(aiDataSeeds)
}

func fuzzOne(_ input: [UInt8]) {
    guard let (mode, body) = fuzzModeAndBody(input) else { return }
    let record: AIDataRecord?
    if mode & 1 == 0 {
        let message = try? AIDataMessage(parsing: body)
        record = try? AIDataRecord(parsing: body)
        if case .full(let full)? = message, full != record { fuzzFail("AIDataMessage and AIDataRecord disagree") }
        if case .repeated(let settingID, let flags)? = message {
            guard record == nil else { fuzzFail("a repeat record parsed as a full record") }
            let base = AIDataRecord(
                settingID: 1, scaleNumerator: 2, scaleDenominator: 1, originalWidth: 64,
                originalHeight: 64, downscaledWidth: 32, downscaledHeight: 32)
            let repeated = base.repeated(settingID: settingID, flags: flags)
            guard
                (try? AIDataMessage(parsing: repeated.serializedRepeat()))
                    == .repeated(settingID: settingID, flags: flags.union(.repeatRecord))
            else {
                fuzzFail("a repeat record does not survive serializedRepeat")
            }
        }
    } else {
        record = try? AIDataRecord(text: String(decoding: body, as: UTF8.self))
    }
    guard let record else { return }
    guard let bytes = try? record.serialized(), let text = try? record.textForm() else {
        fuzzFail("a parsed record does not serialize")
    }
    guard (try? AIDataRecord(parsing: bytes)) == record else { fuzzFail("byte form round trip differs") }
    guard (try? AIDataRecord(text: text)) == record else { fuzzFail("text form round trip differs") }
}

/// Valid records of every kind, both forms, plus a longer 1.1 record and a repeat record.
func aiDataSeeds() throws -> [(name: String, bytes: [UInt8])] {
    let records = [
        AIDataRecord(
            settingID: 3, scaleNumerator: 2, scaleDenominator: 1, originalWidth: 1920, originalHeight: 1080,
            downscaledWidth: 960, downscaledHeight: 540, codec: .hevc, qualityKind: .crf, qualityValue: 2800,
            contentType: .natural, flags: [.lumaOnly, .genericFallbackAllowed]),
        AIDataRecord(
            settingID: 0, scaleNumerator: 3, scaleDenominator: 2, originalWidth: 33, originalHeight: 17,
            downscaledWidth: 22, downscaledHeight: 12, codec: .jpeg, qualityKind: .quality, qualityValue: 9000),
        AIDataRecord(
            settingID: 65535, scaleNumerator: 4, scaleDenominator: 1, originalWidth: 16384, originalHeight: 16384,
            downscaledWidth: 4096, downscaledHeight: 4096, codec: .unknown(77), qualityKind: .bitrateKbps,
            qualityValue: 2500, contentType: .unknown(9), flags: [.genericFallbackAllowed]),
        AIDataRecord(
            settingID: 12, scaleNumerator: 2, scaleDenominator: 1, originalWidth: 1, originalHeight: 1,
            downscaledWidth: 1, downscaledHeight: 1, codec: .h264, qualityKind: .qp, qualityValue: -1200,
            contentType: .screen),
    ]
    var seeds: [(name: String, bytes: [UInt8])] = []
    for (i, record) in records.enumerated() {
        let bytes = try record.serialized()
        seeds.append(("bytes-\(i)", [0] + bytes))
        seeds.append(("text-\(i)", [1] + Array(try record.textForm().utf8)))
        seeds.append(("repeat-\(i)", [0] + record.serializedRepeat()))
        // A later 1.x record: four more bytes of fields, length and CRC to match.
        var longer = Array(bytes.dropLast(4)) + [1, 2, 3, 4]
        longer[5] = 3
        longer[6] = UInt8(longer.count + 4)
        let crc = CRC32.checksum(longer)
        longer += (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * UInt32($0))) }
        seeds.append(("bytes-1.3-\(i)", [0] + longer))
    }
    let upper = AIDataRecord.textPrefix + String(try records[0].textForm().dropFirst(AIDataRecord.textPrefix.count)).uppercased()
    seeds.append(("text-padded", [1] + Array(" \t\(upper)\r\n\0".utf8)))
    return seeds
}
