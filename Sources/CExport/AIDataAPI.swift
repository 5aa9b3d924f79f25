import CNicAPI
import NICCore

// nic_aidata_*: the AI data record between C structs and NICCore's AIDataRecord.

@_cdecl("nic_aidata_init")
public func nic_aidata_init(_ data: UnsafeMutablePointer<NicAIData>?) {
    guard let data else { return }
    data.pointee = NicAIData()
    data.pointee.struct_size = MemoryLayout<NicAIData>.size
}

@_cdecl("nic_aidata_parse")
public func nic_aidata_parse(
    _ context: OpaquePointer?, _ bytes: UnsafePointer<UInt8>?, _ size: Int,
    _ out: UnsafeMutablePointer<NicAIData>?
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        guard let bytes, let out else { throw BoundaryError.nullPointer("bytes or output is NULL") }
        try ImageBridge.checkSize(out.pointee.struct_size, MemoryLayout<NicAIData>.size, "NicAIData")
        guard size >= 0 else {
            throw NICError.invalidArgument("size \(UInt(bitPattern: size)) is larger than any AI data record")
        }
        let record = try AIDataRecord(parsing: UnsafeBufferPointer(start: bytes, count: size))
        out.pointee = NicAIData(record)
    }
}

@_cdecl("nic_aidata_serialize")
public func nic_aidata_serialize(
    _ context: OpaquePointer?, _ data: UnsafePointer<NicAIData>?,
    _ buffer: UnsafeMutablePointer<UInt8>?, _ capacity: Int,
    _ written: UnsafeMutablePointer<Int>?
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        guard let data, let buffer, let written else { throw BoundaryError.nullPointer("data, buffer or written is NULL") }
        try ImageBridge.checkSize(data.pointee.struct_size, MemoryLayout<NicAIData>.size, "NicAIData")
        let bytes = try AIDataRecord(data.pointee).serialized()
        guard bytes.count <= capacity else {
            throw NICError.invalidArgument("buffer of \(capacity) bytes is too small for the \(bytes.count)-byte record")
        }
        buffer.update(from: bytes, count: bytes.count)
        written.pointee = bytes.count
    }
}

extension NicAIData {
    init(_ r: AIDataRecord) {
        self.init(
            struct_size: MemoryLayout<NicAIData>.size, setting_id: Int32(r.settingID),
            scale_numerator: Int32(r.scaleNumerator), scale_denominator: Int32(r.scaleDenominator),
            original_width: Int32(r.originalWidth), original_height: Int32(r.originalHeight),
            downscaled_width: Int32(r.downscaledWidth), downscaled_height: Int32(r.downscaledHeight),
            codec: Int32(r.codec.rawValue), quality_kind: Int32(r.qualityKind.rawValue),
            quality_value: r.qualityValue, content_type: Int32(r.contentType.rawValue), flags: UInt32(r.flags.rawValue))
    }
}

extension AIDataRecord {
    /// From the C struct; every narrowing is checked so that nothing wraps silently.
    init(_ d: NicAIData) throws {
        func byte(_ v: Int32, _ name: String) throws -> UInt8 {
            guard let b = UInt8(exactly: v) else { throw NICError.invalidArgument("\(name) \(v) is out of range 0...255") }
            return b
        }
        guard let setting = UInt16(exactly: d.setting_id) else {
            throw NICError.invalidArgument("setting_id \(d.setting_id) is out of range 0...65535")
        }
        guard d.flags <= 0xFF else { throw NICError.invalidArgument("flags 0x\(String(d.flags, radix: 16)) use unknown bits") }
        self.init(
            settingID: setting, scaleNumerator: try byte(d.scale_numerator, "scale_numerator"),
            scaleDenominator: try byte(d.scale_denominator, "scale_denominator"),
            originalWidth: Int(d.original_width), originalHeight: Int(d.original_height),
            downscaledWidth: Int(d.downscaled_width), downscaledHeight: Int(d.downscaled_height),
            codec: Codec(rawValue: try byte(d.codec, "codec")),
            qualityKind: QualityKind(rawValue: try byte(d.quality_kind, "quality_kind")),
            qualityValue: d.quality_value, contentType: ContentType(rawValue: try byte(d.content_type, "content_type")),
            flags: Flags(rawValue: UInt8(d.flags)))
    }
}
