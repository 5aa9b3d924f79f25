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
        struct_size: MemoryLayout<NicEncodeOptions>.size, quality: 75, refine_steps: -1,
        effort: Int32(NeuralEncoderSearch.defaultEffort), latent_steps: -1, latent_step_size: 0, dsq_states: -1,
        dsq_lambda: 0, substitute_steps: -1, substitute_step_size: 0, substitute_block: -1, integer_grid: -1)
}

/// Quality and search of `NicEncodeOptions`, read only as far as the caller's `struct_size`:
/// a struct of the first layout (quality, refine_steps) gets the defaults of later fields.
func encodeSettings(_ options: UnsafePointer<NicEncodeOptions>?) throws -> (quality: Int, search: NeuralEncoderSearch) {
    guard let options else { return (75, .standard) }
    let raw = UnsafeRawPointer(options)
    let firstLayout = MemoryLayout<NicEncodeOptions>.offset(of: \NicEncodeOptions.effort)!
    let size = raw.load(as: Int.self)
    try ImageBridge.checkSize(size, firstLayout, "NicEncodeOptions")
    let quality = Int(raw.load(fromByteOffset: MemoryLayout<NicEncodeOptions>.offset(of: \NicEncodeOptions.quality)!, as: Int32.self))
    let refine = Int(raw.load(fromByteOffset: MemoryLayout<NicEncodeOptions>.offset(of: \NicEncodeOptions.refine_steps)!, as: Int32.self))
    var (effort, steps, stepSize) = (NeuralEncoderSearch.defaultEffort, -1, Float(0))
    var (dsq, dsqLambda) = (-1, Float(0))
    var (substitute, substituteStepSize, block) = (-1, Float(0), -1)
    var grid = -1
    if size >= MemoryLayout<NicEncodeOptions>.offset(of: \NicEncodeOptions.dsq_states)! {
        (effort, steps, stepSize) = (Int(options.pointee.effort), Int(options.pointee.latent_steps), options.pointee.latent_step_size)
    }
    if size >= MemoryLayout<NicEncodeOptions>.offset(of: \NicEncodeOptions.substitute_steps)! {
        (dsq, dsqLambda) = (Int(options.pointee.dsq_states), options.pointee.dsq_lambda)
    }
    if size >= MemoryLayout<NicEncodeOptions>.offset(of: \NicEncodeOptions.integer_grid)! {
        (substitute, substituteStepSize, block) = (
            Int(options.pointee.substitute_steps), options.pointee.substitute_step_size, Int(options.pointee.substitute_block)
        )
    }
    if size >= MemoryLayout<NicEncodeOptions>.size { grid = Int(options.pointee.integer_grid) }
    var search = try NeuralEncoderSearch.effort(effort)
    if refine != -1 { search.refinementSteps = refine }
    if steps != -1 { search.latentSteps = steps }
    if stepSize != 0 { search.latentStepSize = stepSize }
    if dsq != -1 { search.dependentQuantization = dsq }
    if dsqLambda != 0 { search.dependentQuantizationLambda = dsqLambda }
    if substitute != -1 { search.substitutionSteps = substitute }
    if substituteStepSize != 0 { search.substitutionStepSize = substituteStepSize }
    if block != -1 { search.substitutionBlock = block }
    switch grid {
    case -1: break
    case 0, 1: search.integerGrid = grid == 1
    default: throw NICError.invalidArgument("integer_grid must be -1, 0 or 1, got \(grid)")
    }
    try search.validate()
    return (quality, search)
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
        let (quality, search) = try encodeSettings(options)
        let image = try ImageBridge(input, role: "input")
        guard image.format == .rgb24 else { throw NICError.unsupportedFormat("nic_image_encode takes RGB24 images") }
        let bytes = try ctx.neuralCodec(quality: quality).encode(try image.copy(), quality: quality, search: search)
        let buffer = try mallocBytes(bytes.count)
        bytes.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: bytes.count) }
        data.pointee = buffer; size.pointee = bytes.count
    }
}

@_cdecl("nic_image_encode_layered")
public func nic_image_encode_layered(
    _ context: OpaquePointer?, _ input: UnsafePointer<NicImage>?,
    _ options: UnsafePointer<NicEncodeOptions>?, _ layers: UnsafePointer<NicLayerSize>?, _ layerCount: Int,
    _ data: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?,
    _ size: UnsafeMutablePointer<Int>?
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        guard let data, let size, let layers else { throw BoundaryError.nullPointer("layers, output data or size pointer is NULL") }
        data.pointee = nil; size.pointee = 0
        guard (1...NICLayeredBitstream.maxLayers).contains(layerCount) else {
            throw NICError.invalidArgument("layer_count \(layerCount) is outside 1...\(NICLayeredBitstream.maxLayers)")
        }
        let stride = try ImageBridge.arrayStride(
            layers, count: layerCount, of: NicLayerSize.self, known: MemoryLayout<NicLayerSize>.size, "NicLayerSize")
        let sizes = (0..<layerCount).map { k in
            let layer = (UnsafeRawPointer(layers) + k * stride).assumingMemoryBound(to: NicLayerSize.self).pointee
            return NICLayeredBitstream.Size(width: Int(layer.width), height: Int(layer.height))
        }
        let (quality, search) = try encodeSettings(options)
        let image = try ImageBridge(input, role: "input")
        guard image.format == .rgb24 else { throw NICError.unsupportedFormat("nic_image_encode_layered takes RGB24 images") }
        let bytes = try ctx.layeredCodec().encode(try image.copy(), sizes: sizes, quality: quality, search: search)
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
    decodeImage(context, data, size, layer: -1, output)
}

@_cdecl("nic_image_decode_layer")
public func nic_image_decode_layer(
    _ context: OpaquePointer?, _ data: UnsafePointer<UInt8>?, _ size: Int, _ layer: Int32,
    _ output: UnsafeMutablePointer<NicImage>?
) -> NicStatus {
    decodeImage(context, data, size, layer: Int(layer), output)
}

/// Layer `layer` (-1: the largest) of a single-layer or layered file into `output`.
private func decodeImage(
    _ context: OpaquePointer?, _ data: UnsafePointer<UInt8>?, _ size: Int, layer: Int, _ output: UnsafeMutablePointer<NicImage>?
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        guard let data, let output else { throw BoundaryError.nullPointer("input data or output image is NULL") }
        try ImageBridge.checkSize(output.pointee.struct_size, MemoryLayout<NicImage>.size, "output NicImage")
        guard output.pointee.planes.0 == nil else {
            throw NICError.invalidArgument("the output image already holds pixels: release them with nic_image_free() first")
        }
        let bytes = try inputBytes(data, size)
        guard layer >= -1 else { throw NICError.invalidArgument("layer \(layer) is not a layer (0 and up, or -1 for the largest)") }
        let image: PlanarImage
        if NICLayeredBitstream.isLayered(bytes) {
            image = try ctx.layeredCodec().decode(bytes, layer: layer == -1 ? nil : layer)
        } else {
            guard layer <= 0 else {
                throw NICError.invalidArgument("layer \(layer) does not exist: a single-layer .nic file has only layer 0")
            }
            image = try ctx.neuralCodec(decoding: bytes).decode(bytes)
        }
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

@_cdecl("nic_image_read_layers")
public func nic_image_read_layers(
    _ context: OpaquePointer?, _ data: UnsafePointer<UInt8>?, _ size: Int,
    _ layers: UnsafeMutablePointer<NicLayerInfo>?, _ capacity: Int, _ count: UnsafeMutablePointer<Int>?
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        guard let data, let count, layers != nil || capacity == 0 else {
            throw BoundaryError.nullPointer("input data, count or layers (with a capacity) is NULL")
        }
        count.pointee = 0
        // Only the elements a file can fill are read and written (capacity is a size_t).
        let usable = Int(min(UInt(bitPattern: capacity), UInt(NICLayeredBitstream.maxLayers)))
        let list = UnsafeMutableRawPointer(layers)
        let stride =
            try list.map {
                try ImageBridge.arrayStride(
                    $0, count: usable, of: NicLayerInfo.self, known: MemoryLayout<NicLayerInfo>.size, "NicLayerInfo")
            } ?? 0
        let info = try LayeredImageCodec.inspect(try inputBytes(data, size))
        for (k, layer) in info.layers.prefix(usable).enumerated() {
            (list! + k * stride).assumingMemoryBound(to: NicLayerInfo.self).pointee = NicLayerInfo(
                struct_size: stride, width: Int32(layer.size.width), height: Int32(layer.size.height), bytes: layer.bytes,
                whole: layer.whole ? 1 : 0, quality: Int32(layer.quality ?? 0))
        }
        count.pointee = info.layers.count
    }
}

/// A .nic file's bytes from the caller's buffer, within the largest file libnic reads.
private func inputBytes(_ data: UnsafePointer<UInt8>, _ size: Int) throws -> [UInt8] {
    guard size >= 0, size <= NeuralImageCodec.maxFileBytes else {
        throw NICError.invalidArgument("input size \(size) is outside 0...\(NeuralImageCodec.maxFileBytes) bytes")
    }
    return Array(UnsafeBufferPointer(start: data, count: size))
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
