#if canImport(Glibc)
    import Glibc
#endif

/// Reader for the safetensors container: an 8-byte little-endian header length,
/// a JSON header (name -> dtype, shape, byte offsets; optional `__metadata__`),
/// then the raw little-endian tensor bytes. Every field is validated before use.
public struct SafetensorsFile {
    public struct Entry: Sendable {
        public let dtype: String
        public let shape: [Int]
        let range: Range<Int>
    }

    public static let maxHeaderBytes = 16 << 20
    public static let maxFileBytes = 1 << 30

    public let entries: [String: Entry]
    public let metadata: [String: String]
    private let payload: [UInt8]

    public init(bytes: [UInt8]) throws {
        guard bytes.count >= 8 else { throw NICError.model("safetensors file is shorter than its 8-byte header length") }
        let headerLength = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(min(SafetensorsFile.maxHeaderBytes, bytes.count - 8)) else {
            throw NICError.model("safetensors header length \(headerLength) exceeds the file or the limit")
        }
        let header = try JSONValue.parse(bytes[8..<8 + Int(headerLength)])
        guard let members = header.objectValue else { throw NICError.model("safetensors header is not a JSON object") }
        payload = Array(bytes[(8 + Int(headerLength))...])
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in members {
            if name == "__metadata__" {
                for (k, v) in value.objectValue ?? [:] { metadata[k] = v.stringValue }
                continue
            }
            entries[name] = try SafetensorsFile.entry(name, value, payloadSize: payload.count)
        }
        self.entries = entries
        self.metadata = metadata
    }

    /// Reads and parses a file, refusing files over `maxFileBytes`.
    public init(path: String) throws {
        try self.init(bytes: try readFileBytes(path: path, limit: SafetensorsFile.maxFileBytes))
    }

    private static func entry(_ name: String, _ value: JSONValue, payloadSize: Int) throws -> Entry {
        guard let dtype = value["dtype"]?.stringValue,
            let shapeValues = value["shape"]?.arrayValue,
            let offsets = value["data_offsets"]?.arrayValue, offsets.count == 2,
            let begin = offsets[0].intValue, let end = offsets[1].intValue
        else {
            throw NICError.model("safetensors entry '\(name)' lacks dtype, shape or data_offsets")
        }
        let shape = shapeValues.compactMap(\.intValue)
        guard shape.count == shapeValues.count, shape.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else {
            throw NICError.model("safetensors entry '\(name)' has an invalid shape")
        }
        guard let width = elementSize(dtype) else {
            throw NICError.model("safetensors entry '\(name)' has unsupported dtype \(dtype)")
        }
        let count = shape.reduce(1) { $0 &* $1 }
        guard begin >= 0, begin <= end, end <= payloadSize, end - begin == count * width else {
            throw NICError.model("safetensors entry '\(name)' has offsets \(begin)..<\(end) inconsistent with its shape or the file")
        }
        return Entry(dtype: dtype, shape: shape, range: begin..<end)
    }

    static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F32", "I32": return 4
        case "F16", "BF16": return 2
        default: return nil
        }
    }

    /// The tensor `name` as float32 values, checking its shape when `shape` is given.
    public func floats(_ name: String, shape expected: [Int]? = nil) throws -> [Float] {
        guard let e = entries[name] else { throw NICError.model("tensor '\(name)' is missing from the weights") }
        guard e.dtype != "I32" else { throw NICError.model("tensor '\(name)' holds integers, not floats") }
        if let expected, expected != e.shape {
            throw NICError.model("tensor '\(name)' has shape \(e.shape), expected \(expected)")
        }
        let bytes = payload[e.range]
        let n = e.range.count / SafetensorsFile.elementSize(e.dtype)!
        return bytes.withUnsafeBytes { raw in
            (0..<n).map { i in
                switch e.dtype {
                case "F32": return Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian)
                case "F16": return Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian))
                default: return Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) << 16)
                }
            }
        }
    }

    /// The int32 tensor `name` (entropy-coder tables), checking its shape when `shape` is given.
    public func ints(_ name: String, shape expected: [Int]? = nil) throws -> [Int32] {
        guard let e = entries[name] else { throw NICError.model("tensor '\(name)' is missing from the weights") }
        guard e.dtype == "I32" else { throw NICError.model("tensor '\(name)' is \(e.dtype), expected I32") }
        if let expected, expected != e.shape {
            throw NICError.model("tensor '\(name)' has shape \(e.shape), expected \(expected)")
        }
        return payload[e.range].withUnsafeBytes { raw in
            (0..<e.range.count / 4).map { Int32(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian) }
        }
    }

    public func shape(_ name: String) -> [Int]? { entries[name]?.shape }
}

extension SafetensorsFile {
    /// Serializes float32 tensors (name → (shape, values)) and string metadata, names sorted.
    public static func serialize(
        _ tensors: [String: (shape: [Int], values: [Float])],
        metadata: [String: String] = [:]
    ) -> [UInt8] {
        var header: [String: JSONValue] = [:]
        var payload: [UInt8] = []
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            let start = payload.count
            for v in t.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { payload += $0 } }
            header[name] = .object([
                "dtype": .string("F32"), "shape": .array(t.shape.map { .number(Double($0)) }),
                "data_offsets": .array([.number(Double(start)), .number(Double(payload.count))]),
            ])
        }
        if !metadata.isEmpty { header["__metadata__"] = .object(metadata.mapValues { .string($0) }) }
        var text = Array(JSONValue.object(header).serialized.utf8)
        while text.count % 8 != 0 { text.append(0x20) }
        return (0..<8).map { UInt8(truncatingIfNeeded: text.count >> (8 * $0)) } + text + payload
    }
}
