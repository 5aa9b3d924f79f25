import CNicAPI
import FFGlue
import NICCore

// nic_image_ai_encode: the AI codec for a still image, file to file (what `nic ai-encode` does
// for an image).

@_cdecl("nic_image_ai_options_init")
public func nic_image_ai_options_init(_ options: UnsafeMutablePointer<NicImageAIOptions>?) {
    guard let options else { return }
    options.pointee = NicImageAIOptions()
    options.pointee.struct_size = MemoryLayout<NicImageAIOptions>.size
}

@_cdecl("nic_image_ai_encode")
public func nic_image_ai_encode(
    _ context: OpaquePointer?, _ inPath: UnsafePointer<CChar>?, _ outPath: UnsafePointer<CChar>?,
    _ options: UnsafePointer<NicImageAIOptions>?, _ aidata: UnsafeMutablePointer<NicAIData>?
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        guard let inPath, let outPath else { throw BoundaryError.nullPointer("input or output path is NULL") }
        let (input, output) = (String(cString: inPath), String(cString: outPath))
        var o = NicImageAIOptions()
        nic_image_ai_options_init(&o)
        if let options {
            try ImageBridge.checkSize(options.pointee.struct_size, MemoryLayout<NicImageAIOptions>.size, "NicImageAIOptions")
            o = options.pointee
        }
        if let aidata { try ImageBridge.checkSize(aidata.pointee.struct_size, MemoryLayout<NicAIData>.size, "NicAIData") }
        let encodeOptions = try stillImageOptions(o, output: output)
        try OutputFile.refuseSameFile(output: output, inputs: [input])
        let image = try ImageFile.read(path: input)
        let result = try StillImageAICodec.encode(
            image, options: encodeOptions, store: try ctx.models(), device: ctx.device)
        try writeFileBytes(result.bytes, path: output, inputs: [input])
        if let aidata { aidata.pointee = NicAIData(result.record) }
    }
}

/// The checked options of an image job; the codec from `options.codec`, else `output`'s extension.
private func stillImageOptions(_ o: NicImageAIOptions, output: String) throws -> StillImageAICodec.EncodeOptions {
    let allowed: [Codec] = [.jpeg, .webp, .png]
    let named = o.codec.map { String(cString: $0) }
    let fromExtension = ImageFileFormat(path: output)?.stillImageCodec
    guard let codec = named.map({ Codec(name: $0) }) ?? fromExtension, allowed.contains(codec) else {
        throw NICError.invalidArgument("unknown codec \(named ?? "for \(output)"); use jpeg, webp or png")
    }
    guard o.quality == 0 || (1...100).contains(o.quality) else {
        throw NICError.invalidArgument("quality \(o.quality) is outside 1...100")
    }
    guard (0...1000).contains(o.refine_steps) else {
        throw NICError.invalidArgument("refine_steps \(o.refine_steps) is outside 0...1000")
    }
    guard (0...3).contains(o.content_type) else {
        throw NICError.invalidArgument("content_type \(o.content_type) is not a NicContentType")
    }
    var scale: Double?
    if o.scale_numerator != 0 || o.scale_denominator != 0 {
        guard o.scale_denominator > 0, o.scale_numerator >= o.scale_denominator else {
            throw NICError.invalidArgument("scale \(o.scale_numerator)/\(o.scale_denominator) is not 2/1 or 3/2")
        }
        scale = Double(o.scale_numerator) / Double(o.scale_denominator)
    }
    guard o.setting_id >= 0 else { throw NICError.invalidArgument("setting_id \(o.setting_id) is negative") }
    return StillImageAICodec.EncodeOptions(
        codec: codec, quality: o.quality > 0 ? Int(o.quality) : nil, scale: scale,
        settingID: o.setting_id > 0 ? Int(o.setting_id) : nil,
        contentType: AIDataRecord.ContentType(rawValue: UInt8(o.content_type)), refineIterations: Int(o.refine_steps))
}
