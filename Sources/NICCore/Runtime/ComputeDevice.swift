import CDNNL
#if canImport(Glibc)
    import Glibc
#endif

/// Where a context runs its arithmetic: a oneDNN CPU engine and stream, a worker
/// count, and the primitives compiled for the shapes seen so far.
///
/// A device belongs to one context and is used from one thread at a time; the
/// layers it runs are shared read-only between devices.
public final class ComputeDevice {
    public let threads: Int
    /// The precision networks run in on this device (`PrecisionPlan` decides what `auto` means).
    public var precision: PrecisionRequest = .auto
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    /// Compiled objects with the use count at which each was last used (least recently used
    /// evicted beyond `cacheCapacity`, so a long-lived player that sees many sizes stays bounded).
    private var compiled: [CacheKey: (entry: AnyObject, lastUse: UInt64)] = [:]
    private var uses: UInt64 = 0
    /// Enough for every layer of several networks at a few sizes.
    static let cacheCapacity = 512
    private var scratchpad: UnsafeMutableRawPointer?
    private var scratchpadBytes = 0
    private var soloDevices: [ComputeDevice] = []

    struct CacheKey: Hashable {
        let owner: ObjectIdentifier
        let input: [UInt8]
    }

    /// `threads` = 0 uses one worker per online CPU.
    public init(threads: Int = 0) throws {
        guard threads >= 0, threads <= 256 else {
            throw NICError.invalidArgument("thread count \(threads) is out of range 0...256")
        }
        self.threads = threads == 0 ? ComputeDevice.onlineCPUs : threads
        var e: dnnl_engine_t?
        try DNNL.check(dnnl_engine_create(&e, dnnl_cpu, 0), "CPU engine")
        var s: dnnl_stream_t?
        let status = dnnl_stream_create(&s, e, dnnl_stream_default_flags.rawValue)
        guard status == dnnl_success, let s else {
            dnnl_engine_destroy(e)
            try DNNL.check(status, "stream")
            throw NICError.internal("oneDNN returned no stream")
        }
        engine = e!; stream = s
    }

    deinit {
        compiled.removeAll()
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
        free(scratchpad)
    }

    public static var onlineCPUs: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Returns the object compiled for (`owner`, `input`), building it once.
    /// The cache keeps `owner` alive, so its identity is never reused while cached.
    func cached<T: AnyObject>(
        _ owner: AnyObject, input: dnnl_memory_desc_t, extra: [UInt8] = [],
        build: () throws -> T
    ) throws -> T {
        let key = CacheKey(owner: ObjectIdentifier(owner), input: DNNL.fingerprint(input) + extra)
        uses += 1
        if let hit = compiled[key], let entry = hit.entry as? CachedEntry<T> {
            compiled[key]!.lastUse = uses
            return entry.value
        }
        // oneDNN fixes a primitive's thread count when it is created (OpenMP's count for the
        // calling thread), so set it as `execute` does: else a one-thread device whose thread
        // had not executed anything yet compiles primitives that fork a team of every CPU.
        omp_set_num_threads(Int32(threads))
        let value = try build()
        if compiled.count >= ComputeDevice.cacheCapacity, let oldest = compiled.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            compiled.removeValue(forKey: oldest.key)
        }
        compiled[key] = (CachedEntry(owner: owner, value: value), uses)
        return value
    }

    /// Objects compiled and kept (at most `cacheCapacity`).
    var compiledCount: Int { compiled.count }

    /// Runs `primitive` with tensors bound to DNNL_ARG_* slots, on this device's workers.
    func execute(_ primitive: Primitive, _ args: [(Int32, Tensor)]) throws {
        var memories: [dnnl_memory_t] = []
        defer { memories.forEach { dnnl_memory_destroy($0) } }
        var execArgs: [dnnl_exec_arg_t] = []
        for (slot, tensor) in args {
            var md = tensor.desc
            var m: dnnl_memory_t?
            try DNNL.check(dnnl_memory_create(&m, &md, engine, tensor.data), "memory object")
            memories.append(m!)
            execArgs.append(dnnl_exec_arg_t(arg: slot, memory: m!))
        }
        var scratchMD = primitive.md(dnnl_query_scratchpad_md)
        let scratchBytes = DNNL.size(scratchMD)
        if scratchBytes > 0 {
            try ensureScratchpad(scratchBytes)
            var m: dnnl_memory_t?
            try DNNL.check(dnnl_memory_create(&m, &scratchMD, engine, scratchpad), "scratchpad")
            memories.append(m!)
            execArgs.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: m!))
        }
        omp_set_num_threads(Int32(threads))
        try DNNL.check(dnnl_primitive_execute(primitive.primitive, stream, Int32(execArgs.count), execArgs), "execute")
        try DNNL.check(dnnl_stream_wait(stream), "stream wait")
    }

    private func ensureScratchpad(_ bytes: Int) throws {
        guard bytes > scratchpadBytes else { return }
        free(scratchpad)
        scratchpad = nil; scratchpadBytes = 0
        var p: UnsafeMutableRawPointer?
        guard posix_memalign(&p, 64, bytes) == 0, let p else {
            throw NICError.outOfMemory("cannot allocate a \(bytes)-byte scratchpad")
        }
        scratchpad = p; scratchpadBytes = bytes
    }

    /// Copies `src` into `dst` (same shape), converting between layouts.
    func reorder(_ src: Tensor, into dst: Tensor) throws {
        let primitive = try cached(ReorderOwner.shared, input: src.desc, extra: DNNL.fingerprint(dst.desc)) {
            try Primitive(reorderFrom: src.desc, to: dst.desc, engine: engine)
        }
        try execute(primitive, [(DNNL_ARG_FROM, src), (DNNL_ARG_TO, dst)])
    }

    /// `src` in layout `desc`: itself when it already is, else a reordered copy.
    package func converted(_ src: Tensor, to desc: dnnl_memory_desc_t) throws -> Tensor {
        if DNNL.equal(src.desc, desc) { return src }
        let dst = try Tensor(shape: src.shape, backendDesc: desc)
        try reorder(src, into: dst)
        return dst
    }

    /// One single-threaded device per worker (each with its own stream, primitives and
    /// scratchpad), for running independent pieces of one job side by side instead of
    /// splitting every primitive across the team; created on first use, kept for reuse.
    func workerDevices() throws -> [ComputeDevice] {
        if threads == 1 { return [self] }
        if soloDevices.isEmpty { soloDevices = try (0..<threads).map { _ in try ComputeDevice(threads: 1) } }
        return soloDevices
    }

    /// The worker split used by Swift-side loops (same count as oneDNN's team).
    public var workers: Workers { Workers(count: threads) }

    public func parallelFor(_ count: Int, _ body: (Range<Int>) -> Void) {
        workers.parallelFor(count, body)
    }
}

private final class CachedEntry<T: AnyObject> {
    let owner: AnyObject
    let value: T
    init(owner: AnyObject, value: T) { self.owner = owner; self.value = value }
}

/// Cache owner for reorder primitives, which belong to no layer.
private final class ReorderOwner {
    static let shared = ReorderOwner()
}
