/// The layered `.nic` file (version 3): one picture at several sizes. A header lists the layers
/// (size and payload length each) and the LIFF model that predicts each layer from the one below,
/// with its own CRC-32; then one complete version 1 or 2 `.nic` stream per layer, smallest first.
/// Specified in docs/nic-format.md. Every field is checked before anything is allocated; a file
/// cut short still yields every layer it holds whole.
public struct NICLayeredBitstream: Equatable, Sendable {
    public static let version: UInt8 = 3
    public static let maxLayers = 8
    /// Largest factor between neighbouring layers on each axis (the LIFF up-scaler's range).
    public static let maxFactor = 4
    /// Magic, version, layer count, two reserved bytes, LIFF model ID.
    static let fixedBytes = 12
    static let entryBytes = 12
    /// The shortest single-layer stream: its header and CRC.
    static let minimumPayload = 36

    public struct Size: Equatable, Sendable, CustomStringConvertible {
        public var width: Int
        public var height: Int
        public init(width: Int, height: Int) { self.width = width; self.height = height }
        public var description: String { "\(width)x\(height)" }
    }

    /// First four bytes of the sha256 of the LIFF model's safetensors file, big-endian.
    public var liffModelID: UInt32
    /// Every layer's size, smallest first; the last is the picture's.
    public var sizes: [Size]
    /// The whole layer streams the bytes hold, layers 0..<payloads.count (all of them when the
    /// file is complete).
    public var payloads: [[UInt8]]
    /// Each layer's payload length as declared by the header.
    public private(set) var payloadLengths: [Int]

    public init(liffModelID: UInt32, sizes: [Size], payloads: [[UInt8]]) {
        self.liffModelID = liffModelID; self.sizes = sizes; self.payloads = payloads
        payloadLengths = payloads.map(\.count)
    }

    public var isComplete: Bool { payloads.count == sizes.count }

    static func headerBytes(layers: Int) -> Int { fixedBytes + entryBytes * layers + 4 }

    /// Checks a layer list: 1...`maxLayers` layers, each within the codec's size limits
    /// (`.dimensions`), each at least as large as the one below on both axes and larger on one, by
    /// at most `maxFactor` per axis (`.invalidArgument`).
    public static func checkSizes(_ sizes: [Size]) throws {
        guard (1...maxLayers).contains(sizes.count) else {
            throw NICError.invalidArgument("a layered file has 1...\(maxLayers) layers, not \(sizes.count)")
        }
        for s in sizes { try NICBitstream.checkImageSize(width: s.width, height: s.height) }
        for (k, (a, b)) in zip(sizes, sizes.dropFirst()).enumerated() {
            guard b.width >= a.width, b.height >= a.height, b != a else {
                throw NICError.invalidArgument(
                    "layer \(k + 1) (\(b)) must be at least as large as layer \(k) (\(a)) on both axes and larger on one")
            }
            guard b.width <= maxFactor * a.width, b.height <= maxFactor * a.height else {
                throw NICError.invalidArgument(
                    "layer \(k + 1) (\(b)) is more than \(maxFactor) times layer \(k) (\(a)) on an axis")
            }
        }
    }

    public func serialized() -> [UInt8] {
        var out = NICBitstream.magic + [NICLayeredBitstream.version, UInt8(sizes.count), 0, 0]
        out += (0..<4).reversed().map { UInt8(truncatingIfNeeded: liffModelID >> (8 * UInt32($0))) }
        for (s, p) in zip(sizes, payloads) { for v in [s.width, s.height, p.count] { out += littleEndian32(UInt32(v)) } }
        out += littleEndian32(CRC32.checksum(out))
        for p in payloads { out += p }
        return out
    }

    /// Parses a version 3 file, complete or cut short (`payloads` then holds the whole layers).
    public init(parsing bytes: [UInt8]) throws {
        let fixed = NICLayeredBitstream.fixedBytes
        guard bytes.count >= fixed else {
            throw NICError.corruptData("not a layered .nic file: \(bytes.count) bytes is shorter than its \(fixed)-byte start")
        }
        guard NICBitstream.hasMagic(bytes) else { throw NICError.unsupportedFormat("not a .nic file (wrong magic)") }
        guard bytes[4] == NICLayeredBitstream.version else {
            throw NICError.unsupportedFormat("not a layered .nic file (version \(bytes[4]))")
        }
        let count = Int(bytes[5])
        guard count >= 1 else { throw NICError.corruptData("the layered .nic file declares no layers") }
        guard count <= NICLayeredBitstream.maxLayers else {
            throw NICError.unsupportedFormat(
                "the layered .nic file declares \(count) layers; this library reads at most \(NICLayeredBitstream.maxLayers)")
        }
        guard bytes[6] == 0, bytes[7] == 0 else {
            throw NICError.unsupportedFormat("unknown layered .nic flags \(bytes[6]) \(bytes[7])")
        }
        let header = NICLayeredBitstream.headerBytes(layers: count)
        guard bytes.count >= header else {
            throw NICError.corruptData("the layered .nic file is truncated inside its \(header)-byte header")
        }
        guard CRC32.checksum(bytes[0..<header - 4]) == readLittleEndian32(bytes, at: header - 4) else {
            throw NICError.corruptData("layered .nic header checksum mismatch: the file is damaged")
        }
        var sizes: [Size] = [], lengths: [Int] = []
        for k in 0..<count {
            let at = fixed + NICLayeredBitstream.entryBytes * k
            sizes.append(Size(width: Int(readLittleEndian32(bytes, at: at)), height: Int(readLittleEndian32(bytes, at: at + 4))))
            let length = Int(readLittleEndian32(bytes, at: at + 8))
            guard length >= NICLayeredBitstream.minimumPayload, length <= NeuralImageCodec.maxFileBytes else {
                throw NICError.corruptData("layer \(k) declares a payload of \(length) bytes")
            }
            lengths.append(length)
        }
        do { try NICLayeredBitstream.checkSizes(sizes) } catch NICError.invalidArgument(let why) { throw NICError.corruptData(why) }
        let total = lengths.reduce(header, +)
        guard bytes.count <= total else {
            throw NICError.corruptData("the layered .nic file has \(bytes.count - total) bytes after its last layer")
        }
        var payloads: [[UInt8]] = [], start = header
        for (k, length) in lengths.enumerated() where start + length <= bytes.count {
            let payload = Array(bytes[start..<start + length])
            // The layer stream's own header: a single-layer .nic of the declared size.
            guard NICBitstream.hasMagic(payload), NICBitstream.readableVersions.contains(payload[4]),
                Int(readLittleEndian32(payload, at: 12)) == sizes[k].width, Int(readLittleEndian32(payload, at: 16)) == sizes[k].height
            else {
                throw NICError.corruptData("layer \(k) is not a single-layer .nic stream of \(sizes[k])")
            }
            payloads.append(payload)
            start += length
        }
        self.init(liffModelID: readBigEndian32(bytes, at: 8), sizes: sizes, payloads: payloads)
        payloadLengths = lengths
    }

    /// The stream of layer `k`; `.corruptData` when the file was cut short before its end.
    public func payload(layer k: Int) throws -> [UInt8] {
        guard sizes.indices.contains(k) else {
            throw NICError.invalidArgument("layer \(k) does not exist: the file has layers 0...\(sizes.count - 1)")
        }
        guard k < payloads.count else {
            throw NICError.corruptData(
                "the layered .nic file is truncated: layer \(k) is missing"
                    + (payloads.isEmpty ? " (no layer is whole)" : " (layers 0...\(payloads.count - 1) are whole)"))
        }
        return payloads[k]
    }

    /// True when `bytes` start like a layered file (magic, version 3).
    public static func isLayered(_ bytes: some Collection<UInt8>) -> Bool {
        NICBitstream.hasMagic(bytes) && bytes.count > 4 && bytes[bytes.index(bytes.startIndex, offsetBy: 4)] == version
    }
}

private func readBigEndian32(_ b: [UInt8], at i: Int) -> UInt32 { b[i..<i + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
