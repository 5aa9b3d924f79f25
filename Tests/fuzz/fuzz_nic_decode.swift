// The .nic decoder (docs/nic-format.md): NICBitstream(parsing:), the entropy decoding of both
// payloads and the colour correction (NeuralImageCodec.entropyDecoded), and with bit 2 of the
// mode the whole NeuralImageCodec.decode, with the shipped model (models/neural), on one thread.
// The first input byte is a mode, the rest the file:
//   bit 0  recompute the CRC-32 trailer over the mutated bytes, so inputs get past the checksum;
//   bit 1  also make the header consistent (magic, version, the loaded model's ID, payload
//          lengths that add up to the file), so inputs reach the entropy decoders;
//   bit 2  run the synthesis too (the whole decode), which costs about 40 ms per 64x64 block
//          here: without it, the fuzzer spends its time on the parsers and entropy decoders.
// Images above `maxFuzzPixels` (8192, e.g. 128x64: two 64x64 blocks) are not decoded, the parser
// still runs: a decode must stay well below libFuzzer's 1 s timeout.
import Glibc
@testable import NICCore

let maxFuzzPixels = 128 * 64

let codec: NeuralImageCodec = {
    do {
        let model = try ModelStore(directory: fuzzModelDirectory).neuralCodecModel(quality: 1)
        return NeuralImageCodec(model: model, device: try ComputeDevice(threads: 1))
    } catch {
        fuzzFail("cannot load the neural codec model from \(fuzzModelDirectory): \(error)")
    }
}()

func fuzzSetUp() {
    fuzzWriteSeedsIfAsked(nicSeeds)
    _ = codec
}

func fuzzOne(_ input: [UInt8]) {
    guard let (mode, body) = fuzzModeAndBody(input) else { return }
    var file = body
    if mode & 2 != 0 { makeHeaderConsistent(&file) }
    if mode & 3 != 0 { repairChecksum(&file) }
    guard let stream = try? NICBitstream(parsing: file) else { return }
    guard stream.width * stream.height <= maxFuzzPixels else { return }
    if mode & 4 == 0 {
        if let decoded = try? codec.entropyDecoded(file), decoded.stream.width != stream.width {
            fuzzFail("entropy decoding changed the header")
        }
        return
    }
    if let image = try? codec.decode(file) {
        guard image.width == stream.width, image.height == stream.height, image.format == .rgb24 else {
            fuzzFail("decoded \(image.width)x\(image.height) \(image.format) from a \(stream.width)x\(stream.height) file")
        }
    }
}

private func putLittleEndian32(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
    for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
}

private func littleEndian32(_ bytes: [UInt8], at offset: Int) -> Int {
    (0..<4).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
}

/// Magic, version, model ID and payload lengths as a reader expects them; the z and y lengths
/// are kept where they fit and the colour-correction length takes the rest.
func makeHeaderConsistent(_ file: inout [UInt8]) {
    let minimum = NICBitstream.headerBytes + NICBitstream.trailerBytes
    guard file.count >= minimum else { return }
    file.replaceSubrange(0..<4, with: NICBitstream.magic)
    file[4] = NICBitstream.version
    let id = codec.model.modelID
    for i in 0..<4 { file[8 + i] = UInt8(truncatingIfNeeded: id >> (8 * UInt32(3 - i))) }
    let available = file.count - minimum
    let z = min(littleEndian32(file, at: 20), available)
    let y = min(littleEndian32(file, at: 24), available - z)
    putLittleEndian32(UInt32(z), into: &file, at: 20)
    putLittleEndian32(UInt32(y), into: &file, at: 24)
    putLittleEndian32(UInt32(available - z - y), into: &file, at: 28)
}

/// The CRC-32 trailer recomputed over everything before it.
func repairChecksum(_ file: inout [UInt8]) {
    guard file.count >= NICBitstream.headerBytes + NICBitstream.trailerBytes else { return }
    putLittleEndian32(CRC32.checksum(file[..<(file.count - 4)]), into: &file, at: file.count - 4)
}

/// Files from the codec's own encoder (as `nic encode` writes them) at a few sizes and
/// qualities, in each mode, and with dependent quantisation.
func nicSeeds() throws -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = []
    for (width, height, quality) in [(16, 16, 10), (40, 24, 50), (64, 64, 90), (100, 60, 30), (1, 3, 1)] {
        let file = try codec.encode(
            try TestPattern.make(width: width, height: height), quality: quality, search: NeuralEncoderSearch(refinementSteps: 0))
        for mode: UInt8 in [0, 1, 3, 7] { seeds.append(("nic-\(width)x\(height)-q\(quality)-mode\(mode)", [mode] + file)) }
    }
    // Version 2 files: dependent quantisation with 4 and 8 states.
    for states in [4, 8] {
        let file = try codec.encode(
            try TestPattern.make(width: 40, height: 24), quality: 50,
            search: NeuralEncoderSearch(refinementSteps: 0, dependentQuantization: states))
        for mode: UInt8 in [0, 3, 7] { seeds.append(("nic-dsq\(states)-mode\(mode)", [mode] + file)) }
    }
    // Effort 0: the integer grid, and channel flags (flag bit 3) where the encoder leaves channels
    // off the state machine.
    for (width, height, quality) in [(64, 48, 30), (96, 64, 70)] {
        let file = try codec.encode(try TestPattern.make(width: width, height: height), quality: quality)
        for mode: UInt8 in [0, 3, 7] { seeds.append(("nic-e0-\(width)x\(height)-flags\(file[7])-mode\(mode)", [mode] + file)) }
    }
    return seeds
}
