import CDNNL
#if canImport(Glibc)
    import Glibc
#endif

/// An NCHW tensor in 64-byte aligned memory that it owns: float32, or 8-bit integers between
/// quantised layers (`QuantizedConv2d`), or bfloat16 between bfloat16 layers (`BFloat16Conv2d`).
///
/// Its layout is whatever the backend chose (`desc`): plain NCHW for tensors that
/// Swift code reads or writes, or oneDNN's channel-blocked layouts between
/// convolutions, so that consecutive backend layers never reorder.
public final class Tensor {
    /// Largest tensor the engine allocates; larger requests fail cleanly instead of
    /// relying on the kernel's overcommit (huge images are rejected earlier anyway).
    public static let maxBytes = 6 << 30

    public let shape: [Int]
    package let desc: dnnl_memory_desc_t
    let data: UnsafeMutableRawPointer
    let byteCount: Int
    public let isPlain: Bool

    init(shape: [Int], desc: dnnl_memory_desc_t, isPlain: Bool) throws {
        let bytes = DNNL.size(desc)
        guard bytes > 0, bytes <= Tensor.maxBytes else {
            throw NICError.outOfMemory("tensor \(shape) needs \(bytes) bytes, more than the limit of \(Tensor.maxBytes)")
        }
        guard let pointer = TensorMemory.allocate(bytes) else {
            throw NICError.outOfMemory("cannot allocate \(bytes) bytes for tensor \(shape)")
        }
        memset(pointer, 0, bytes)
        self.shape = shape; self.desc = desc; self.data = pointer
        self.byteCount = bytes; self.isPlain = isPlain
    }

    /// A zero-filled tensor in plain NCHW layout.
    public convenience init(zeros shape: [Int]) throws {
        guard !shape.isEmpty, shape.count <= 5, shape.allSatisfy({ $0 > 0 }) else {
            throw NICError.invalidArgument("invalid tensor shape \(shape)")
        }
        let (count, overflow) = shape.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d); return (p, acc.1 || o)
        }
        guard !overflow, count <= Tensor.maxBytes / 4 else {
            throw NICError.outOfMemory("tensor \(shape) is too large")
        }
        try self.init(shape: shape, desc: try DNNL.desc(shape, tag: DNNL.plainTag(rank: shape.count)), isPlain: true)
    }

    /// A plain tensor holding `values` in NCHW order.
    public convenience init(shape: [Int], values: [Float]) throws {
        try self.init(zeros: shape)
        guard values.count == count else {
            throw NICError.invalidArgument("tensor \(shape) needs \(count) values, got \(values.count)")
        }
        values.withUnsafeBytes { data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// A tensor with the same shape laid out as `desc` (chosen by a primitive).
    convenience init(shape: [Int], backendDesc: dnnl_memory_desc_t) throws {
        let plain = DNNL.equal(backendDesc, try DNNL.desc(shape, tag: DNNL.plainTag(rank: shape.count)))
        try self.init(shape: shape, desc: backendDesc, isPlain: plain)
    }

    deinit { TensorMemory.release(data, bytes: byteCount) }

    public var count: Int { shape.reduce(1, *) }

    /// The element type (dnnl_f32 unless the tensor holds quantised integers or bfloat16).
    var dataType: dnnl_data_type_t { desc.data_type }

    /// Calls `body` with the values in NCHW order, keeping the tensor alive meanwhile.
    /// Only for plain tensors (see `plain(on:)`).
    public func withFloats<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(isPlain && dataType == dnnl_f32, "values of a blocked or integer tensor: call plain(on:) first")
        return try withExtendedLifetime(self) {
            try body(UnsafeMutableBufferPointer(start: data.assumingMemoryBound(to: Float.self), count: count))
        }
    }

    /// The same values in plain NCHW float32 layout (self when already so); the integers of a
    /// quantised tensor become floats without their scale, bfloat16 values exact floats.
    public func plain(on device: ComputeDevice) throws -> Tensor {
        if isPlain && dataType == dnnl_f32 { return self }
        let out = try Tensor(zeros: shape)
        try device.reorder(self, into: out)
        return out
    }

    /// The values in NCHW order as an array.
    public func toArray(on device: ComputeDevice) throws -> [Float] {
        try plain(on: device).withFloats { Array($0) }
    }

    public var batch: Int { shape[0] }
    public var channels: Int { shape[1] }
    public var height: Int { shape[2] }
    public var width: Int { shape[3] }
}

extension Tensor {
    /// A copy of rows `range` of a plain (1, C, H, W) tensor.
    func rows(_ range: Range<Int>) throws -> Tensor {
        guard isPlain, batch == 1, range.lowerBound >= 0, range.upperBound <= height, !range.isEmpty else {
            throw NICError.internal("cannot take rows \(range) of tensor \(shape)")
        }
        let out = try Tensor(zeros: [1, channels, range.count, width])
        let (h, w, n) = (height, width, range.count)
        withFloats { s in
            out.withFloats { d in
                for c in 0..<channels {
                    (d.baseAddress! + c * n * w).update(from: s.baseAddress! + (c * h + range.lowerBound) * w, count: n * w)
                }
            }
        }
        return out
    }
}
