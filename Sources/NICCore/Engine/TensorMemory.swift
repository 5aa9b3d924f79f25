#if canImport(Glibc)
    import Glibc
#endif

/// Keeps the buffers of recently freed tensors for reuse. A band pipeline allocates the same
/// few sizes for every band; fresh multi-megabyte blocks come from the kernel as new pages, and
/// their page faults cost more than the convolutions that fill them (measured: 40% of an x2
/// up-scaling frame in the kernel before this cache, nic bench upscale under perf).
/// Bounded: at most `retainedLimit` bytes are kept; small blocks go straight back to malloc.
public enum TensorMemory {
    static let retainedLimit = 32 << 20
    static let smallest = 64 << 10

    private struct Cache {
        var free: [Int: [UnsafeMutableRawPointer]] = [:]
        var retained = 0
    }
    /// Every worker allocates here: a lock ThreadSanitizer sees (`PthreadLocked`).
    private static let shared = PthreadLocked(Cache())

    /// 64-byte aligned memory of `bytes` bytes (contents undefined), or nil when out of memory.
    static func allocate(_ bytes: Int) -> UnsafeMutableRawPointer? {
        if bytes >= smallest,
            let reused = shared.withLock({ c -> UnsafeMutableRawPointer? in
                guard let pointer = c.free[bytes]?.popLast() else { return nil }
                c.retained -= bytes
                return pointer
            })
        {
            return reused
        }
        var pointer: UnsafeMutableRawPointer?
        guard posix_memalign(&pointer, 64, bytes) == 0 else { return nil }
        return pointer
    }

    /// Frees every kept block (a library user destroying its context gets the memory back).
    public static func trim() {
        let blocks = shared.withLock { c -> [UnsafeMutableRawPointer] in
            defer { c = Cache() }
            return c.free.values.flatMap { $0 }
        }
        for block in blocks { free(block) }
    }

    /// Bytes currently kept for reuse.
    static var retainedBytes: Int { shared.withLock { $0.retained } }

    /// Returns memory from `allocate` of the same size.
    static func release(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        let kept =
            bytes >= smallest
            && shared.withLock { c -> Bool in
                guard c.retained + bytes <= retainedLimit else { return false }
                c.free[bytes, default: []].append(pointer)
                c.retained += bytes
                return true
            }
        if !kept { free(pointer) }
    }
}
