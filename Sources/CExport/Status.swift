import CNicAPI
import NICCore

/// NICError -> NicStatus, and the static descriptions behind nic_status_string().
extension NICError {
    var status: NicStatus {
        switch self {
        case .invalidArgument: return NIC_ERROR_INVALID_ARGUMENT
        case .unsupportedFormat: return NIC_ERROR_UNSUPPORTED_FORMAT
        case .dimensions: return NIC_ERROR_DIMENSIONS
        case .outOfMemory: return NIC_ERROR_OUT_OF_MEMORY
        case .corruptData: return NIC_ERROR_CORRUPT_DATA
        case .io: return NIC_ERROR_IO
        case .model: return NIC_ERROR_MODEL
        case .cancelled: return NIC_ERROR_CANCELLED
        case .internal: return NIC_ERROR_INTERNAL
        }
    }
}

/// Errors of the C boundary itself, before any Swift value exists.
enum BoundaryError: Error {
    case nullPointer(String)
    case structSize(String)

    var status: NicStatus {
        switch self {
        case .nullPointer: return NIC_ERROR_NULL_POINTER
        case .structSize: return NIC_ERROR_STRUCT_SIZE
        }
    }

    var message: String {
        switch self {
        case .nullPointer(let m), .structSize(let m): return m
        }
    }
}

enum StatusText {
    static func text(_ status: NicStatus) -> StaticString {
        switch status {
        case NIC_OK: return "success"
        case NIC_ERROR_NULL_POINTER: return "null pointer"
        case NIC_ERROR_STRUCT_SIZE: return "struct size too small"
        case NIC_ERROR_INVALID_ARGUMENT: return "invalid argument"
        case NIC_ERROR_UNSUPPORTED_FORMAT: return "unsupported format"
        case NIC_ERROR_DIMENSIONS: return "invalid dimensions"
        case NIC_ERROR_OUT_OF_MEMORY: return "out of memory"
        case NIC_ERROR_CORRUPT_DATA: return "corrupt data"
        case NIC_ERROR_IO: return "input/output error"
        case NIC_ERROR_MODEL: return "model error"
        case NIC_ERROR_INTERNAL: return "internal error"
        case NIC_ERROR_CANCELLED: return "cancelled"
        default: return "unknown status"
        }
    }

    static func cString(_ s: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
    }
}
