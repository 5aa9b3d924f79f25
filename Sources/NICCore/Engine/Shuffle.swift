import CKernels

/// Depth-to-space: (N, C*r*r, H, W) -> (N, C, H*r, W*r), PyTorch `PixelShuffle`.
public final class PixelShuffle: Layer {
    public let factor: Int
    public init(factor: Int) { self.factor = factor }

    public func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        let r = factor
        guard x.shape.count == 4, x.channels % (r * r) == 0 else {
            throw NICError.invalidArgument("PixelShuffle(\(r)) needs channels divisible by \(r * r), got \(x.shape)")
        }
        let c = x.channels / (r * r), h = x.height, w = x.width
        let out = try Tensor(zeros: [x.batch, c, h * r, w * r])
        try ShuffleRows.copy(x, into: out, c: c, h: h, w: w, r: r, shuffle: true, on: device) { planar, spread in
            libnic_kernel_interleave(planar, h * w, Int32(r), w, spread)
        }
        return out
    }
}

/// Space-to-depth: (N, C, H*r, W*r) -> (N, C*r*r, H, W), PyTorch `PixelUnshuffle`.
public final class PixelUnshuffle: Layer {
    public let factor: Int
    public init(factor: Int) { self.factor = factor }

    public func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        let r = factor
        guard x.shape.count == 4, x.height % r == 0, x.width % r == 0 else {
            throw NICError.invalidArgument("PixelUnshuffle(\(r)) needs height and width divisible by \(r), got \(x.shape)")
        }
        let c = x.channels, h = x.height / r, w = x.width / r
        let out = try Tensor(zeros: [x.batch, c * r * r, h, w])
        try ShuffleRows.copy(x, into: out, c: c, h: h, w: w, r: r, shuffle: false, on: device) { spread, planar in
            libnic_kernel_deinterleave(spread, Int32(r), w, h * w, planar)
        }
        return out
    }
}

/// The index walk both shuffles share: for every batch-channel `nc` of the spread tensor
/// (N, C, H*r, W*r), row `y` of the planar one and sub-row `i`, the spread row y·r + i pairs with
/// the rows `y` of the r planar channels (nc·r + i)·r + j (H·W values apart), whose values it
/// interleaves. `row(source, destination)` gets the planar rows and the spread row, in the
/// direction of the copy: planar to spread for a shuffle, spread to planar for an unshuffle.
enum ShuffleRows {
    static func copy(
        _ x: Tensor, into out: Tensor, c: Int, h: Int, w: Int, r: Int, shuffle: Bool, on device: ComputeDevice,
        row: (_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>) -> Void
    ) throws {
        let src = try x.plain(on: device)
        src.withFloats { s in
            out.withFloats { d in
                device.parallelFor(x.batch * c * h) { rows in
                    for index in rows {
                        let (nc, y) = index.quotientAndRemainder(dividingBy: h)
                        for i in 0..<r {
                            let planar = (nc * r + i) * r * h * w + y * w
                            let spread = nc * h * r * w * r + (y * r + i) * w * r
                            if shuffle {
                                row(s.baseAddress! + planar, d.baseAddress! + spread)
                            } else {
                                row(s.baseAddress! + spread, d.baseAddress! + planar)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Resizes the spatial dimensions of a tensor (PyTorch `interpolate`, align_corners=False).
public final class TensorResize: Layer {
    public enum Target: Sendable { case size(height: Int, width: Int), scale(Double) }
    public let target: Target
    public let kernel: ResampleKernel
    public let mode: ResampleMode

    public init(_ target: Target, kernel: ResampleKernel, mode: ResampleMode = .interpolate) {
        self.target = target; self.kernel = kernel; self.mode = mode
    }

    func outputSize(_ x: Tensor) -> (Int, Int) {
        switch target {
        case .size(let h, let w): return (h, w)
        case .scale(let s): return (Int((Double(x.height) * s).rounded(.down)), Int((Double(x.width) * s).rounded(.down)))
        }
    }

    public func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        let (oh, ow) = outputSize(x)
        try ImageLimits.check(width: ow, height: oh)
        let src = try x.plain(on: device)
        let out = try Tensor(zeros: [x.batch, x.channels, oh, ow])
        // One plane per task; each plane is resampled serially so workers never nest.
        src.withFloats { s in
            out.withFloats { d in
                device.parallelFor(x.batch * x.channels) { planes in
                    for p in planes {
                        Resampler.resample(
                            UnsafePointer(s.baseAddress! + p * x.height * x.width),
                            srcWidth: x.width, srcHeight: x.height, srcStride: x.width,
                            into: d.baseAddress! + p * oh * ow, dstWidth: ow, dstHeight: oh,
                            dstStride: ow, kernel: kernel, mode: mode, workers: .serial)
                    }
                }
            }
        }
        return out
    }
}
