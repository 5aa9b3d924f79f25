#if canImport(Glibc)
    import Glibc
#endif

/// Interpolation kernels used by both image resizing and the tensor resize layer.
public enum ResampleKernel: Sendable, Equatable {
    case bilinear
    /// Keys cubic convolution with parameter `a` (-0.5 for images, -0.75 as in PyTorch).
    case bicubic(a: Float)
    case lanczos3

    var support: Double {
        switch self {
        case .bilinear: return 1
        case .bicubic: return 2
        case .lanczos3: return 3
        }
    }

    func weight(_ x: Double) -> Double {
        let t = abs(x)
        switch self {
        case .bilinear:
            return t < 1 ? 1 - t : 0
        case .bicubic(let a32):
            let a = Double(a32)
            if t < 1 { return ((a + 2) * t - (a + 3)) * t * t + 1 }
            if t < 2 { return (((t - 5) * t + 8) * t - 4) * a }
            return 0
        case .lanczos3:
            if t < 1e-8 { return 1 }
            if t >= 3 { return 0 }
            let px = Double.pi * t
            return 3 * sin(px) * sin(px / 3) / (px * px)
        }
    }
}

/// How source positions and edges are treated.
public enum ResampleMode: Sendable, Equatable {
    /// Interpolation at pixel centres with edge pixels repeated; the kernel is not
    /// widened when shrinking (PyTorch `interpolate(..., antialias=False)`).
    case interpolate
    /// The kernel is widened by the shrink factor so every source pixel contributes,
    /// and weights falling outside the image are dropped and the rest renormalised
    /// (Pillow and PyTorch `antialias=True`). Right for photos.
    case antialiased
}

/// For each output position along one axis: the first source index and a fixed
/// number of weights (zero-padded), ready for a separable resampling pass.
struct FilterBank {
    let taps: Int
    let first: [Int]
    let weights: [Float]

    init(inputSize: Int, outputSize: Int, kernel: ResampleKernel, mode: ResampleMode) {
        let scale = Double(inputSize) / Double(outputSize)
        switch mode {
        case .interpolate: self = FilterBank.interpolating(inputSize, outputSize, scale, kernel)
        case .antialiased: self = FilterBank.antialiased(inputSize, outputSize, scale, kernel)
        }
    }

    private init(taps: Int, first: [Int], weights: [Float]) {
        self.taps = taps; self.first = first; self.weights = weights
    }

    /// Clamped taps around `scale * (i + 0.5) - 0.5`, the source position of output pixel i.
    private static func interpolating(_ n: Int, _ m: Int, _ scale: Double, _ kernel: ResampleKernel) -> FilterBank {
        let radius = Int(kernel.support)
        // Clamped indices repeat edge pixels; collapse them onto a window of at most 2*radius taps.
        let taps = min(2 * radius, n)
        var first = [Int](repeating: 0, count: m)
        var weights = [Float](repeating: 0, count: m * taps)
        for i in 0..<m {
            var position = scale * (Double(i) + 0.5) - 0.5
            if kernel == .bilinear { position = max(position, 0) }
            let base = Int(position.rounded(.down))
            let start = min(max(base - radius + 1, 0), n - taps)
            first[i] = start
            for j in (base - radius + 1)...(base + radius) {
                let w = kernel.weight(position - Double(j))
                let clamped = min(max(j, 0), n - 1)
                weights[i * taps + clamped - start] += Float(w)
            }
        }
        return FilterBank(taps: taps, first: first, weights: weights)
    }

    /// Pillow-style windows: kernel widened by max(scale, 1), weights renormalised inside the image.
    private static func antialiased(_ n: Int, _ m: Int, _ scale: Double, _ kernel: ResampleKernel) -> FilterBank {
        let stretch = max(scale, 1)
        let support = kernel.support * stretch
        let taps = min(Int(support.rounded(.up)) * 2 + 1, n)
        var first = [Int](repeating: 0, count: m)
        var weights = [Float](repeating: 0, count: m * taps)
        for i in 0..<m {
            let center = scale * (Double(i) + 0.5)
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), n)
            var window = (lo..<max(hi, lo + 1)).map { kernel.weight((Double($0) - center + 0.5) / stretch) }
            let total = window.reduce(0, +)
            if total != 0 { window = window.map { $0 / total } } else { window = [1] + Array(repeating: 0, count: window.count - 1) }
            let start = min(lo, n - taps)
            first[i] = start
            for (k, w) in window.enumerated() where lo + k < n {
                weights[i * taps + lo + k - start] = Float(w)
            }
        }
        return FilterBank(taps: taps, first: first, weights: weights)
    }
}
