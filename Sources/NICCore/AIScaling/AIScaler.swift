/// AI down- and up-scaling of whole images: the luma plane goes through the
/// setting's network, chroma takes the conventional bicubic route (the networks
/// are trained on luma, where the eye sees detail), corrected on the way up by the
/// setting's luma-guided chroma network when it has one and the image is rgb24 (the
/// network's training domain: full-range chroma on the luma grid; yuv images keep bicubic chroma).
public enum AIScaler {
    /// Scales `image` to `width` x `height` with `network` (down or up). When the
    /// requested size is not the network's own output size (beyond rounding), the
    /// network runs at its own size and Lanczos takes the result the rest of the way.
    public static func scale(
        _ image: PlanarImage, with network: ScalerNetwork, chroma chromaNetwork: ChromaNetwork? = nil,
        width: Int, height: Int, device: ComputeDevice
    ) throws -> PlanarImage {
        try ImageLimits.check(width: width, height: height)
        let natural = (network.outputLength(image.width), network.outputLength(image.height))
        let exact = abs(natural.0 - width) <= 1 && abs(natural.1 - height) <= 1
        let (w, h) = exact ? (width, height) : natural
        try ImageLimits.check(width: w, height: h)
        var planes = try LumaChroma(image)
        planes.luma = try network.forward(planes.luma, outputHeight: h, outputWidth: w, on: device)
        let chromaKernel: ResampleKernel = .bicubic(a: -0.5)
        for c in planes.chroma.indices {
            let source = planes.chroma[c]
            let size = image.format.planeSize(plane: c + 1, width: w, height: h)
            var target = [Float](repeating: 0, count: size.width * size.height)
            source.samples.withUnsafeBufferPointer { s in
                target.withUnsafeMutableBufferPointer { t in
                    Resampler.resample(
                        s.baseAddress!, srcWidth: source.width, srcHeight: source.height, srcStride: source.width,
                        into: t.baseAddress!, dstWidth: size.width, dstHeight: size.height, dstStride: size.width,
                        kernel: chromaKernel, mode: .antialiased, workers: device.workers)
                }
            }
            planes.chroma[c] = .init(samples: target, width: size.width, height: size.height)
        }
        if let chromaNetwork, image.format == .rgb24 {
            let (cb, cr) = try chromaNetwork.corrected(
                cb: planes.chroma[0].samples, cr: planes.chroma[1].samples,
                luma: planes.luma, on: device)
            planes.chroma[0].samples = cb
            planes.chroma[1].samples = cr
        }
        let result = try planes.image(width: w, height: h)
        if exact { return result }
        return try ImageResize.resized(result, width: width, height: height, method: .lanczos, workers: device.workers)
    }
}
