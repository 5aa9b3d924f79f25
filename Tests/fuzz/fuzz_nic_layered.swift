// The layered .nic reader (docs/nic-format.md, version 3): NICLayeredBitstream(parsing:),
// LayeredImageCodec.inspect (every whole layer stream's header), and with bit 2 of the mode
// LayeredImageCodec.decode of every whole layer (the image codec, LIFF and the residual codec of
// models/), on one thread. The first input byte is a mode, the rest the file:
//   bit 0  recompute the header's CRC-32 and that of every whole layer stream, so inputs get past
//          the checksums;
//   bit 1  also make the container header consistent (magic, version 3, a layer count of 1...8,
//          no flags, the loaded LIFF model's ID), so inputs reach the layer list's checks;
//   bit 2  decode the layers too (bounded: at most `maxFuzzPixels` over all layers).
import Glibc
@testable import NICCore

let maxFuzzPixels = 128 * 64

let codec: LayeredImageCodec = {
    do {
        return try LayeredImageCodec(store: try ModelStore(directory: fuzzModelDirectory), device: try ComputeDevice(threads: 1))
    } catch {
        fuzzFail("cannot load the layered codec's models from \(fuzzModelDirectory): \(error)")
    }
}()

func fuzzSetUp() {
    fuzzWriteSeedsIfAsked(layeredSeeds)
    _ = codec
}

func fuzzOne(_ input: [UInt8]) {
    guard let (mode, body) = fuzzModeAndBody(input) else { return }
    var file = body
    if mode & 2 != 0 { makeHeaderConsistent(&file) }
    if mode & 3 != 0 { repairChecksums(&file) }
    guard let parsed = try? NICLayeredBitstream(parsing: file) else { return }
    guard parsed.payloads.count <= parsed.sizes.count, !parsed.isComplete || parsed.serialized() == file else {
        fuzzFail("a whole parsed file does not serialise back to its bytes")
    }
    if let info = try? LayeredImageCodec.inspect(file) {
        guard info.layers.map(\.size) == parsed.sizes, info.layers.filter(\.whole).count == parsed.payloads.count else {
            fuzzFail("inspect disagrees with the parser")
        }
    }
    guard mode & 4 != 0, parsed.sizes.map({ $0.width * $0.height }).reduce(0, +) <= maxFuzzPixels else { return }
    for k in 0..<parsed.payloads.count {
        guard let image = try? codec.decode(file, layer: k) else { break }
        guard image.width == parsed.sizes[k].width, image.height == parsed.sizes[k].height, image.format == .rgb24 else {
            fuzzFail("layer \(k) decoded to \(image.width)x\(image.height), declared \(parsed.sizes[k])")
        }
    }
}

private func putLittleEndian32(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
    for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
}

private func littleEndian32(_ bytes: [UInt8], at offset: Int) -> Int {
    (0..<4).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
}

/// Magic, version, layer count, flags and LIFF model ID as a reader expects them.
func makeHeaderConsistent(_ file: inout [UInt8]) {
    guard file.count >= NICLayeredBitstream.fixedBytes else { return }
    file.replaceSubrange(0..<4, with: NICBitstream.magic)
    file[4] = NICLayeredBitstream.version
    file[5] = 1 + file[5] % UInt8(NICLayeredBitstream.maxLayers)
    file[6] = 0; file[7] = 0
    for i in 0..<4 { file[8 + i] = UInt8(truncatingIfNeeded: codec.liffModelID >> (8 * UInt32(3 - i))) }
}

/// The header's CRC-32, then each layer stream's trailer, over the bytes as they are.
func repairChecksums(_ file: inout [UInt8]) {
    guard file.count >= NICLayeredBitstream.fixedBytes, (1...NICLayeredBitstream.maxLayers).contains(Int(file[5])) else { return }
    let count = Int(file[5]), header = NICLayeredBitstream.headerBytes(layers: count)
    guard file.count >= header else { return }
    putLittleEndian32(CRC32.checksum(file[..<(header - 4)]), into: &file, at: header - 4)
    var start = header
    for k in 0..<count {
        let length = littleEndian32(file, at: NICLayeredBitstream.fixedBytes + NICLayeredBitstream.entryBytes * k + 8)
        guard length >= 4, length <= file.count - start else { return }
        putLittleEndian32(CRC32.checksum(file[start..<(start + length - 4)]), into: &file, at: start + length - 4)
        start += length
    }
}

/// Layered files from the codec's own encoder (two and three layers, odd sizes), whole and cut
/// after their first layer, in each mode.
func layeredSeeds() throws -> [(name: String, bytes: [UInt8])] {
    typealias Size = NICLayeredBitstream.Size
    var seeds: [(name: String, bytes: [UInt8])] = []
    let plain = NeuralEncoderSearch(refinementSteps: 0)
    for (sizes, quality) in [
        ([Size(width: 13, height: 9), Size(width: 40, height: 24)], 30),
        ([Size(width: 9, height: 7), Size(width: 17, height: 11), Size(width: 33, height: 21)], 70),
        ([Size(width: 64, height: 20), Size(width: 64, height: 64)], 10),
    ] {
        let file = try codec.encode(
            try TestPattern.make(width: sizes.last!.width, height: sizes.last!.height), sizes: sizes, quality: quality, search: plain)
        let name = "layered-" + sizes.map(\.description).joined(separator: "-")
        let cut = Array(
            file.prefix(NICLayeredBitstream.headerBytes(layers: sizes.count) + (try NICLayeredBitstream(parsing: file).payloads[0].count)))
        for mode: UInt8 in [0, 1, 3, 7] {
            seeds.append(("\(name)-mode\(mode)", [mode] + file))
            seeds.append(("\(name)-cut-mode\(mode)", [mode] + cut))
        }
    }
    return seeds
}
