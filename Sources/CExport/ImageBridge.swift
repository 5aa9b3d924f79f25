import CNicAPI
import NICCore

/// Validates a caller's NicImage and exposes its planes as NICCore views.
/// Nothing is copied: the views point into the caller's buffers.
struct ImageBridge {
    let format: PixelFormat
    let width: Int
    let height: Int
    let planes: [MutablePlaneView]

    init(_ pointer: UnsafePointer<NicImage>?, role: String) throws {
        guard let pointer else { throw BoundaryError.nullPointer("\(role) image is NULL") }
        try ImageBridge.checkSize(pointer.pointee.struct_size, MemoryLayout<NicImage>.size, "\(role) NicImage")
        let image = pointer.pointee
        guard let format = ImageBridge.format(image.format) else {
            throw NICError.unsupportedFormat("\(role) image has unknown pixel format \(image.format.rawValue)")
        }
        let width = Int(image.width), height = Int(image.height)
        try ImageLimits.check(width: width, height: height)
        let pointers = [image.planes.0, image.planes.1, image.planes.2]
        let strides = [image.strides.0, image.strides.1, image.strides.2]
        var planes: [MutablePlaneView] = []
        for p in 0..<format.planeCount {
            guard let base = pointers[p] else { throw BoundaryError.nullPointer("\(role) image plane \(p) is NULL") }
            let size = format.planeSize(plane: p, width: width, height: height)
            let rowBytes = size.width * format.channels(plane: p)
            guard strides[p] >= rowBytes else {
                throw NICError.invalidArgument("\(role) image plane \(p) stride \(strides[p]) is smaller than its row of \(rowBytes) bytes")
            }
            // The last byte of the plane must be addressable: stride x (rows - 1) + row fits in memory.
            let (span, overRows) = strides[p].multipliedReportingOverflow(by: size.height - 1)
            let (extent, overRow) = span.addingReportingOverflow(rowBytes)
            let (_, overAddress) = UInt(bitPattern: base).addingReportingOverflow(UInt(max(0, extent)))
            guard !overRows, !overRow, !overAddress, extent <= Int.max / 2 else {
                throw NICError.invalidArgument(
                    "\(role) image plane \(p) stride \(strides[p]) times \(size.height) rows overflows the address space")
            }
            planes.append(
                MutablePlaneView(
                    base: base, width: size.width, height: size.height,
                    channels: format.channels(plane: p), stride: strides[p]))
        }
        self.format = format; self.width = width; self.height = height; self.planes = planes
    }

    /// More than any struct of nic.h will grow to: a larger struct_size in an array is not a size.
    static let largestStruct = 1 << 16

    static func checkSize(_ given: Int, _ known: Int, _ what: String) throws {
        guard given >= known else {
            throw BoundaryError.structSize("\(what) struct_size is \(given), at least \(known) expected: call its init function")
        }
    }

    /// The stride of a caller's array of `count` structs of type `T` that start with
    /// `struct_size`: the elements' struct_size, the same in every one, at least `known` (the
    /// struct's first layout), a multiple of the struct's alignment and at most `largestStruct`.
    static func arrayStride<T>(_ base: UnsafeRawPointer, count: Int, of _: T.Type, known: Int, _ what: String) throws -> Int {
        let stride = count > 0 ? base.load(as: Int.self) : MemoryLayout<T>.stride
        try checkSize(stride, known, what)
        guard stride % MemoryLayout<T>.alignment == 0, stride <= largestStruct else {
            throw BoundaryError.structSize("\(what) struct_size \(stride) is not the size of a struct (set it to sizeof(\(what)))")
        }
        for k in 1..<max(1, count) where (base + k * stride).load(as: Int.self) != stride {
            throw BoundaryError.structSize(
                "\(what) element \(k) has struct_size \((base + k * stride).load(as: Int.self)), element 0 \(stride)")
        }
        return stride
    }

    static func format(_ f: NicPixelFormat) -> PixelFormat? {
        switch f {
        case NIC_PIXEL_FORMAT_YUV420P: return .yuv420p
        case NIC_PIXEL_FORMAT_YUV444P: return .yuv444p
        case NIC_PIXEL_FORMAT_RGB24: return .rgb24
        case NIC_PIXEL_FORMAT_GRAY8: return .gray8
        default: return nil
        }
    }
}
