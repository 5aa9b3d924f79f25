/// Conventional image resizing: the non-AI route and the fallback of every AI path.
public enum ResizeMethod: String, Sendable, CaseIterable {
    case bicubic, lanczos

    var kernel: ResampleKernel {
        switch self {
        case .bicubic: return .bicubic(a: -0.5)
        case .lanczos: return .lanczos3
        }
    }
}

public enum ImageResize {
    /// Resizes every plane of `src` onto the matching plane of `dst` (same pixel format;
    /// each plane on its own grid, centres aligned), anti-aliased when shrinking.
    public static func resize(
        _ src: [PlaneView], into dst: [MutablePlaneView], method: ResizeMethod,
        workers: Workers
    ) throws {
        guard src.count == dst.count else {
            throw NICError.invalidArgument("source has \(src.count) planes, destination \(dst.count)")
        }
        for (s, d) in zip(src, dst) {
            guard s.channels == d.channels else { throw NICError.invalidArgument("plane channel counts differ") }
            Resampler.resample(s, into: d, kernel: method.kernel, mode: .antialiased, workers: workers)
        }
    }

    /// Returns `image` resized to `width` x `height`.
    public static func resized(
        _ image: PlanarImage, width: Int, height: Int, method: ResizeMethod,
        workers: Workers
    ) throws -> PlanarImage {
        var out = try PlanarImage(format: image.format, width: width, height: height)
        try image.withPlaneViews { src in
            try out.withMutablePlaneViews { dst in try resize(src, into: dst, method: method, workers: workers) }
        }
        return out
    }
}
