import CNicAPI
import NICCore
#if canImport(Glibc)
    import Glibc
#endif

// The exported C functions of nic.h. Each one validates its arguments, calls
// NICCore or FFGlue, and turns errors into a status code: no logic of its own.

@_cdecl("nic_version")
public func nic_version() -> UnsafePointer<CChar> { UnsafePointer(versionCString) }

/// nic_version()'s string: made once (thread-safe lazy global) and kept for the process's life.
private let versionCString: UnsafeMutablePointer<CChar> = strdup(LibraryInfo.version)

@_cdecl("nic_version_number")
public func nic_version_number() -> UInt32 {
    UInt32((NIC_VERSION_MAJOR << 16) | (NIC_VERSION_MINOR << 8) | NIC_VERSION_PATCH)
}

@_cdecl("nic_status_string")
public func nic_status_string(_ status: NicStatus) -> UnsafePointer<CChar> {
    StatusText.cString(StatusText.text(status))
}

@_cdecl("nic_config_init")
public func nic_config_init(_ config: UnsafeMutablePointer<NicConfig>?) {
    guard let config else { return }
    config.pointee = NicConfig(
        struct_size: MemoryLayout<NicConfig>.size, threads: 0, model_dir: nil,
        log_callback: nil, log_user_data: nil, log_level: NIC_LOG_WARNING, generic_ai_fallback: 1,
        precision: NIC_PRECISION_AUTO)
}

@_cdecl("nic_context_create")
public func nic_context_create(
    _ config: UnsafePointer<NicConfig>?,
    _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> NicStatus {
    guard let out else { return NIC_ERROR_NULL_POINTER }
    out.pointee = nil
    var settings = NicConfig()
    nic_config_init(&settings)
    if let config {
        // Read only as far as the caller's struct_size: a struct of the first layout (up to
        // generic_ai_fallback) keeps the defaults of later fields.
        let size = config.pointee.struct_size
        guard size >= MemoryLayout<NicConfig>.offset(of: \NicConfig.precision)! else { return NIC_ERROR_STRUCT_SIZE }
        withUnsafeMutableBytes(of: &settings) { $0.copyMemory(from: UnsafeRawBufferPointer(start: config, count: min(size, $0.count))) }
        settings.struct_size = MemoryLayout<NicConfig>.size
    }
    guard settings.threads >= 0, settings.threads <= 256,
        (NIC_LOG_ERROR.rawValue...NIC_LOG_DEBUG.rawValue).contains(settings.log_level.rawValue),
        (NIC_PRECISION_AUTO.rawValue...NIC_PRECISION_BF16.rawValue).contains(settings.precision.rawValue)
    else {
        return NIC_ERROR_INVALID_ARGUMENT
    }
    do {
        let context = try Context(config: settings)
        out.pointee = OpaquePointer(Unmanaged.passRetained(context).toOpaque())
        return NIC_OK
    } catch let error as NICError {
        return error.status
    } catch {
        return NIC_ERROR_INTERNAL
    }
}

@_cdecl("nic_context_destroy")
public func nic_context_destroy(_ context: OpaquePointer?) {
    guard let context else { return }
    Unmanaged<Context>.fromOpaque(UnsafeRawPointer(context)).release()
    TensorMemory.trim()
}

@_cdecl("nic_last_error")
public func nic_last_error(_ context: OpaquePointer?) -> UnsafePointer<CChar> {
    Context.from(context)?.lastErrorPointer ?? StatusText.cString("context is NULL")
}

@_cdecl("nic_context_threads")
public func nic_context_threads(_ context: OpaquePointer?) -> Int32 {
    Int32(Context.from(context)?.device.threads ?? 0)
}

@_cdecl("nic_image_init")
public func nic_image_init(_ image: UnsafeMutablePointer<NicImage>?) {
    guard let image else { return }
    image.pointee = NicImage()
    image.pointee.struct_size = MemoryLayout<NicImage>.size
}

@_cdecl("nic_resize")
public func nic_resize(
    _ context: OpaquePointer?, _ input: UnsafePointer<NicImage>?,
    _ output: UnsafeMutablePointer<NicImage>?, _ method: NicResizeMethod
) -> NicStatus {
    guard let ctx = Context.from(context) else { return NIC_ERROR_NULL_POINTER }
    return ctx.run {
        let src = try ImageBridge(input, role: "input")
        let dst = try ImageBridge(output.map { UnsafePointer($0) }, role: "output")
        guard src.format == dst.format else {
            throw NICError.unsupportedFormat("input is \(src.format) but output is \(dst.format); nic_resize does not convert formats")
        }
        let resizeMethod: ResizeMethod
        switch method {
        case NIC_RESIZE_BICUBIC: resizeMethod = .bicubic
        case NIC_RESIZE_LANCZOS: resizeMethod = .lanczos
        default: throw NICError.invalidArgument("unknown resize method \(method.rawValue)")
        }
        try ImageResize.resize(
            src.planes.map(\.readOnly), into: dst.planes, method: resizeMethod,
            workers: ctx.device.workers)
    }
}
