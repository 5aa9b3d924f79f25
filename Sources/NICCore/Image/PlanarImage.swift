/// Pixel layouts understood by NICCore; the same set as `NicPixelFormat` in nic.h.
public enum PixelFormat: String, Sendable, CaseIterable {
    case yuv420p, yuv444p, rgb24, gray8

    /// Number of planes and, per plane, interleaved channels and subsampling shift.
    public var planeCount: Int {
        switch self {
        case .yuv420p, .yuv444p: return 3
        case .rgb24, .gray8: return 1
        }
    }

    public func channels(plane: Int) -> Int { self == .rgb24 ? 3 : 1 }

    /// Size of plane `plane` for an image of `width` x `height`.
    public func planeSize(plane: Int, width: Int, height: Int) -> (width: Int, height: Int) {
        if self == .yuv420p && plane > 0 { return ((width + 1) / 2, (height + 1) / 2) }
        return (width, height)
    }
}

/// Limits every entry point enforces before allocating anything.
public enum ImageLimits {
    public static let maxDimension = 16384
    /// 16000 x 16000: every picture within both limits is one FFmpeg can code, whose frames must
    /// satisfy (width + 128) x (height + 128) < 2^31 / 8 (16255 x 16255 for a square).
    public static let maxPixels = 16000 * 16000

    /// Throws `NICError.dimensions` unless 1...maxDimension on both axes and within the pixel budget.
    public static func check(width: Int, height: Int) throws {
        guard width > 0, height > 0 else {
            throw NICError.dimensions("image size \(width)x\(height) is empty or negative")
        }
        guard width <= maxDimension, height <= maxDimension, width * height <= maxPixels else {
            throw NICError.dimensions(
                "image size \(width)x\(height) exceeds the limit of \(maxDimension) pixels per side and \(maxPixels) pixels (16000x16000)")
        }
    }
}

/// A read-only view of one plane in memory owned by someone else.
public struct PlaneView {
    public var base: UnsafeRawPointer
    public var width: Int
    public var height: Int
    public var channels: Int
    public var stride: Int

    public init(base: UnsafeRawPointer, width: Int, height: Int, channels: Int, stride: Int) {
        self.base = base; self.width = width; self.height = height
        self.channels = channels; self.stride = stride
    }

    @inline(__always) public func row(_ y: Int) -> UnsafePointer<UInt8> {
        (base + y * stride).assumingMemoryBound(to: UInt8.self)
    }
}

/// A writable view of one plane in memory owned by someone else.
public struct MutablePlaneView {
    public var base: UnsafeMutableRawPointer
    public var width: Int
    public var height: Int
    public var channels: Int
    public var stride: Int

    public init(base: UnsafeMutableRawPointer, width: Int, height: Int, channels: Int, stride: Int) {
        self.base = base; self.width = width; self.height = height
        self.channels = channels; self.stride = stride
    }

    @inline(__always) public func row(_ y: Int) -> UnsafeMutablePointer<UInt8> {
        (base + y * stride).assumingMemoryBound(to: UInt8.self)
    }

    public var readOnly: PlaneView {
        PlaneView(base: UnsafeRawPointer(base), width: width, height: height, channels: channels, stride: stride)
    }
}

/// An image that owns its pixels: one tightly packed byte array per plane.
public struct PlanarImage: Sendable {
    public let format: PixelFormat
    public let width: Int
    public let height: Int
    /// Plane bytes, rows packed without padding (stride = width * channels).
    public var planes: [[UInt8]]

    /// A black (or mid-grey chroma) image; throws on invalid dimensions.
    public init(format: PixelFormat, width: Int, height: Int) throws {
        try ImageLimits.check(width: width, height: height)
        self.format = format; self.width = width; self.height = height
        planes = (0..<format.planeCount).map { p in
            let size = format.planeSize(plane: p, width: width, height: height)
            let fill: UInt8 = (p > 0 && format != .rgb24) ? 128 : 0
            return [UInt8](repeating: fill, count: size.width * size.height * format.channels(plane: p))
        }
    }

    /// Wraps existing plane bytes; throws if their sizes do not match the format.
    public init(format: PixelFormat, width: Int, height: Int, planes: [[UInt8]]) throws {
        try ImageLimits.check(width: width, height: height)
        guard planes.count == format.planeCount else {
            throw NICError.invalidArgument("\(format) needs \(format.planeCount) planes, got \(planes.count)")
        }
        for (p, bytes) in planes.enumerated() {
            let size = format.planeSize(plane: p, width: width, height: height)
            guard bytes.count == size.width * size.height * format.channels(plane: p) else {
                throw NICError.invalidArgument(
                    "plane \(p) has \(bytes.count) bytes, expected \(size.width * size.height * format.channels(plane: p))")
            }
        }
        self.format = format; self.width = width; self.height = height; self.planes = planes
    }

    public func planeSize(_ p: Int) -> (width: Int, height: Int) {
        format.planeSize(plane: p, width: width, height: height)
    }

    public func stride(_ p: Int) -> Int { planeSize(p).width * format.channels(plane: p) }

    /// Calls `body` with read-only views of all planes.
    public func withPlaneViews<R>(_ body: ([PlaneView]) throws -> R) rethrows -> R {
        var views: [PlaneView] = []
        func collect(_ p: Int) throws -> R {
            if p == planes.count { return try body(views) }
            return try planes[p].withUnsafeBytes { raw in
                let size = planeSize(p)
                views.append(
                    PlaneView(
                        base: raw.baseAddress!, width: size.width, height: size.height,
                        channels: format.channels(plane: p), stride: stride(p)))
                return try collect(p + 1)
            }
        }
        return try collect(0)
    }

    /// Calls `body` with writable views of all planes (at most three).
    public mutating func withMutablePlaneViews<R>(_ body: ([MutablePlaneView]) throws -> R) rethrows -> R {
        let count = planes.count
        // Move the planes into separate variables so that their buffers can be
        // borrowed mutably at the same time without overlapping array accesses.
        var p0 = count > 0 ? planes[0] : [], p1 = count > 1 ? planes[1] : [], p2 = count > 2 ? planes[2] : []
        planes = []
        defer { planes = Array([p0, p1, p2].prefix(count)) }
        return try p0.withUnsafeMutableBytes { r0 in
            try p1.withUnsafeMutableBytes { r1 in
                try p2.withUnsafeMutableBytes { r2 in
                    let raws = [r0, r1, r2]
                    let views = (0..<count).map { p -> MutablePlaneView in
                        let size = planeSize(p)
                        return MutablePlaneView(
                            base: raws[p].baseAddress!, width: size.width, height: size.height,
                            channels: format.channels(plane: p), stride: stride(p))
                    }
                    return try body(views)
                }
            }
        }
    }
}
