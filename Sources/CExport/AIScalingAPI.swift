import CNicAPI
import NICCore

// nic_downscale / nic_upscale: AI scaling of caller-owned planar images.

@_cdecl("nic_downscaled_size")
public func nic_downscaled_size(
    _ context: OpaquePointer?, _ settingID: Int32, _ width: Int32, _ height: Int32,
    _ outWidth: UnsafeMutablePointer<Int32>?, _ outHeight: UnsafeMutablePointer<Int32>?
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        guard let outWidth, let outHeight else { throw BoundaryError.nullPointer("output size pointers are NULL") }
        try ImageLimits.check(width: Int(width), height: Int(height))
        let store = try ctx.models()
        let downscaler = try Downscaler(try store.setting(id: Int(settingID)), store: store)
        outWidth.pointee = Int32(downscaler.outputLength(Int(width)))
        outHeight.pointee = Int32(downscaler.outputLength(Int(height)))
    }
}

@_cdecl("nic_downscale")
public func nic_downscale(
    _ context: OpaquePointer?, _ input: UnsafePointer<NicImage>?, _ settingID: Int32,
    _ output: UnsafeMutablePointer<NicImage>?, _ aidata: UnsafeMutablePointer<NicAIData>?
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        let (src, dst) = try ImageBridge.sameFormatPair(input, output)
        if let aidata { try ImageBridge.checkSize(aidata.pointee.struct_size, MemoryLayout<NicAIData>.size, "NicAIData") }
        let store = try ctx.models()
        let setting = try store.setting(id: Int(settingID))
        let small = try Downscaler(setting, store: store).scale(
            try src.copy(), width: dst.width, height: dst.height,
            device: ctx.device)
        dst.store(small)
        if let aidata {
            let record = AIDataRecord(
                setting: setting, originalWidth: src.width, originalHeight: src.height,
                downscaledWidth: dst.width, downscaledHeight: dst.height)
            aidata.pointee = NicAIData(record)
        }
    }
}

@_cdecl("nic_upscale")
public func nic_upscale(
    _ context: OpaquePointer?, _ input: UnsafePointer<NicImage>?, _ aidata: UnsafePointer<NicAIData>?,
    _ output: UnsafeMutablePointer<NicImage>?
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        let (src, dst) = try ImageBridge.sameFormatPair(input, output)
        var found = AIDecodePlan.Found.none
        if let aidata {
            try ImageBridge.checkSize(aidata.pointee.struct_size, MemoryLayout<NicAIData>.size, "NicAIData")
            do { found = .record(try AIDataRecord(aidata.pointee)) } catch let e as NICError { found = .corrupt(e.message) }
        }
        let store = ctx.modelsIfAny(for: "images")
        let planned = try AIDecodePlan(
            found: found, imageWidth: src.width, imageHeight: src.height, manifest: store?.manifest,
            options: .init(size: (dst.width, dst.height), allowGenericFallback: ctx.genericAIFallback))
        let upscaled = try AIUpscaler.upscale(try src.copy(), plan: planned, store: store, device: ctx.device)
        let plan = upscaled.plan
        dst.store(upscaled.image)
        var settingID = 0
        if case .network(let id) = plan.route { settingID = id }
        ctx.setLastUpscale(settingID: settingID, usedAIData: plan.fallbackReason == nil, reason: plan.fallbackReason)
        if let reason = plan.fallbackReason { ctx.log(NIC_LOG_WARNING, "upscale fallback: \(reason)") }
    }
}

@_cdecl("nic_upscale_liff")
public func nic_upscale_liff(
    _ context: OpaquePointer?, _ input: UnsafePointer<NicImage>?, _ output: UnsafeMutablePointer<NicImage>?
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        let (src, dst) = try ImageBridge.sameFormatPair(input, output)
        guard src.format == .rgb24 || src.format == .gray8 else {
            throw NICError.unsupportedFormat("the LIFF up-scaler takes rgb24 or gray8 images, not \(src.format)")
        }
        try LIFFNetwork.checkSizes(input: (src.width, src.height), output: (dst.width, dst.height))
        let network = try ctx.models().liffNetwork()
        dst.store(try network.upscale(try src.copy(), width: dst.width, height: dst.height, device: ctx.device))
    }
}

@_cdecl("nic_last_upscale_info")
public func nic_last_upscale_info(_ context: OpaquePointer?, _ info: UnsafeMutablePointer<NicUpscaleInfo>?) -> NicStatus {
    guard let ctx = Context.from(context), let info else { return NIC_ERROR_NULL_POINTER }
    let size = info.pointee.struct_size
    guard size >= MemoryLayout<NicUpscaleInfo>.offset(of: \NicUpscaleInfo.precision)! else { return NIC_ERROR_STRUCT_SIZE }
    info.pointee.setting_id = Int32(ctx.lastUpscale.settingID)
    info.pointee.used_aidata = ctx.lastUpscale.usedAIData ? 1 : 0
    info.pointee.fallback_reason = ctx.lastUpscale.reason.map { UnsafePointer($0) }
    guard size >= MemoryLayout<NicUpscaleInfo>.size else { return NIC_OK }
    // A setting's network ran, so its models are loaded; 0 is a classic filter.
    return ctx.run {
        let setting = ctx.lastUpscale.settingID
        info.pointee.precision =
            setting == 0 ? NIC_PRECISION_FP32 : NicPrecision(try ctx.upPrecisionPlan(settingID: setting, in: try ctx.models()).precision)
    }
}

@_cdecl("nic_setting_precision")
public func nic_setting_precision(
    _ context: OpaquePointer?, _ settingID: Int32, _ precision: UnsafeMutablePointer<NicPrecision>?,
    _ reason: UnsafeMutablePointer<UnsafePointer<CChar>?>?
) -> NicStatus {
    guard let ctx = Context.from(context), let precision else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        let plan = try ctx.upPrecisionPlan(settingID: Int(settingID), in: try ctx.models())
        precision.pointee = NicPrecision(plan.precision)
        reason?.pointee = ctx.keepPrecisionReason(plan.reason)
    }
}

extension NicPrecision {
    /// The C name of a precision a network runs in.
    init(_ precision: InferencePrecision) {
        switch precision {
        case .fp32: self = NIC_PRECISION_FP32
        case .bf16: self = NIC_PRECISION_BF16
        case .int8: self = NIC_PRECISION_INT8
        }
    }
}

extension ImageBridge {
    /// The caller's input and output images, which must share a pixel format.
    static func sameFormatPair(
        _ input: UnsafePointer<NicImage>?, _ output: UnsafeMutablePointer<NicImage>?
    ) throws -> (ImageBridge, ImageBridge) {
        let src = try ImageBridge(input, role: "input")
        let dst = try ImageBridge(output.map { UnsafePointer($0) }, role: "output")
        guard src.format == dst.format else {
            throw NICError.unsupportedFormat("input is \(src.format) but output is \(dst.format); libnic does not convert formats")
        }
        return (src, dst)
    }
}

extension ImageBridge {
    /// The caller's pixels as an owned PlanarImage (the networks work on whole planes).
    func copy() throws -> PlanarImage {
        var image = try PlanarImage(format: format, width: width, height: height)
        for (p, view) in planes.enumerated() {
            let row = view.width * view.channels
            var bytes = [UInt8](repeating: 0, count: row * view.height)
            for y in 0..<view.height {
                bytes.withUnsafeMutableBufferPointer { b in
                    (b.baseAddress! + y * row).update(from: view.readOnly.row(y), count: row)
                }
            }
            image.planes[p] = bytes
        }
        return image
    }

    /// Writes `image` (same format and size) into the caller's planes.
    func store(_ image: PlanarImage) {
        for (p, view) in planes.enumerated() {
            let row = view.width * view.channels
            image.planes[p].withUnsafeBufferPointer { b in
                for y in 0..<view.height { view.row(y).update(from: b.baseAddress! + y * row, count: row) }
            }
        }
    }
}

@_cdecl("nic_upscale_plane")
public func nic_upscale_plane(
    _ context: OpaquePointer?, _ settingID: Int32, _ input: UnsafePointer<Float>?,
    _ inWidth: Int32, _ inHeight: Int32, _ inStride: Int,
    _ output: UnsafeMutablePointer<Float>?, _ outWidth: Int32, _ outHeight: Int32,
    _ outStride: Int
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        guard let input, let output else { throw BoundaryError.nullPointer("input or output plane is NULL") }
        let (w, h, ow, oh) = (Int(inWidth), Int(inHeight), Int(outWidth), Int(outHeight))
        try ImageLimits.check(width: w, height: h)
        try ImageLimits.check(width: ow, height: oh)
        guard inStride >= w, outStride >= ow else {
            throw NICError.invalidArgument("strides \(inStride) / \(outStride) are below the widths \(w) / \(ow)")
        }
        let store = try ctx.models()
        let network = try store.network(try store.setting(id: Int(settingID)), .up)
        guard network.outputLength(w) == ow, network.outputLength(h) == oh else {
            throw NICError.invalidArgument(
                "setting \(settingID) makes \(network.outputLength(w))x\(network.outputLength(h)) from \(w)x\(h), not \(ow)x\(oh)")
        }
        let plane = try Tensor(zeros: [1, 1, h, w])
        plane.withFloats { p in for y in 0..<h { (p.baseAddress! + y * w).update(from: input + y * inStride, count: w) } }
        try network.forward(plane, outputHeight: oh, outputWidth: ow, on: ctx.device) { first, rows in
            for y in 0..<rows.count / ow { (output + (first + y) * outStride).update(from: rows.baseAddress! + y * ow, count: ow) }
        }
    }
}
