import CNicAPI
import NICCore
#if canImport(Glibc)
    import Glibc
#endif

// nic_image_encode / nic_image_decode: the neural image codec, memory to memory.

@_cdecl("nic_encode_options_init")
public func nic_encode_options_init(_ options: UnsafeMutablePointer<NicEncodeOptions>?) {
    guard let options else { return }
    options.pointee = NicEncodeOptions(
        struct_size: MemoryLayout<NicEncodeOptions>.size, quality: 75,
        refine_steps: Int32(NeuralImageCodec.defaultRefinementSteps))
}

@_cdecl("nic_image_encode")
public func nic_image_encode(
    _ context: OpaquePointer?, _ input: UnsafePointer<NicImage>?,
    _ options: UnsafePointer<NicEncodeOptions>?,
    _ data: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?,
    _ size: UnsafeMutablePointer<Int>?
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        guard let data, let size else { throw BoundaryError.nullPointer("output data or size pointer is NULL") }
        data.pointee = nil; size.pointee = 0
        var (quality, refine) = (75, NeuralImageCodec.defaultRefinementSteps)
        if let options {
            try ImageBridge.checkSize(options.pointee.struct_size, MemoryLayout<NicEncodeOptions>.size, "NicEncodeOptions")
            (quality, refine) = (Int(options.pointee.quality), Int(options.pointee.refine_steps))
        }
        let image = try ImageBridge(input, role: "input")
        guard image.format == .rgb24 else { throw NICError.unsupportedFormat("nic_image_encode takes RGB24 images") }
        let bytes = try ctx.neuralCodec().encode(try image.copy(), quality: quality, refinementSteps: refine)
        let buffer = try mallocBytes(bytes.count)
        bytes.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: bytes.count) }
        data.pointee = buffer; size.pointee = bytes.count
    }
}

@_cdecl("nic_image_decode")
public func nic_image_decode(
    _ context: OpaquePointer?, _ data: UnsafePointer<UInt8>?, _ size: Int,
    _ output: UnsafeMutablePointer<NicImage>?
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        guard let data, let output else { throw BoundaryError.nullPointer("input data or output image is NULL") }
        try ImageBridge.checkSize(output.pointee.struct_size, MemoryLayout<NicImage>.size, "output NicImage")
        guard output.pointee.planes.0 == nil else {
            throw NICError.invalidArgument("the output image already holds pixels: release them with nic_image_free() first")
        }
        guard size >= 0, size <= NeuralImageCodec.maxFileBytes else {
            throw NICError.invalidArgument("input size \(size) is outside 0...\(NeuralImageCodec.maxFileBytes) bytes")
        }
        let image = try ctx.neuralCodec().decode(Array(UnsafeBufferPointer(start: data, count: size)))
        let pixels = image.planes[0]
        let buffer = try mallocBytes(pixels.count)
        pixels.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: pixels.count) }
        var described = NicImage()
        nic_image_init(&described)
        described.format = NIC_PIXEL_FORMAT_RGB24
        described.width = Int32(image.width); described.height = Int32(image.height)
        described.planes.0 = buffer
        described.strides.0 = image.width * 3
        output.pointee = described
    }
}

@_cdecl("nic_image_free")
public func nic_image_free(_ image: UnsafeMutablePointer<NicImage>?) {
    guard let image, image.pointee.struct_size >= MemoryLayout<NicImage>.size else { return }
    free(image.pointee.planes.0)
    nic_image_init(image)
}

private func mallocBytes(_ count: Int) throws -> UnsafeMutablePointer<UInt8> {
    guard let p = malloc(max(1, count)) else { throw NICError.outOfMemory("cannot allocate \(count) bytes") }
    return p.assumingMemoryBound(to: UInt8.self)
}
