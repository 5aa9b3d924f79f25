/// AI or classic scaling of 4:2:0 video frames in place in the caller's buffers, at any bit
/// depth: the player path. Luma goes through the setting's network (or the classic filter),
/// chroma through a classic filter; samples are read from the source planes straight into
/// the networks' float planes, with no intermediate 8-bit image.
public enum FrameScaler {
    /// Scales `source` onto `destination` (its size is the target) by `route`. A network
    /// whose natural output differs from the target by more than a pixel runs at its own
    /// size and Lanczos takes it the rest of the way.
    public static func scale(
        _ source: YUV420Frame, into destination: YUV420Frame, route: AIDecodePlan.Route,
        store: ModelStore?, device: ComputeDevice
    ) throws {
        let chromaKernel: ResampleKernel
        switch route {
        case .network(let id):
            guard let store else { throw NICError.model("no model directory for setting \(id)") }
            let network = try store.network(try store.setting(id: id), .up)
            try scaleLuma(source, into: destination, network: network, device: device)
            chromaKernel = .bicubic(a: -0.5)
        case .classic(let method):
            try resamplePlane(0, source, into: destination, kernel: method.kernel, device: device, luma: true)
            chromaKernel = method.kernel
        case .liff:
            throw NICError.invalidArgument("the LIFF up-scaler takes RGB pictures, not video frames")
        case .unscaled:
            guard source.width == destination.width && source.height == destination.height else {
                throw NICError.invalidArgument(
                    "an unscaled frame needs an output of its own size \(source.width)x\(source.height), not \(destination.width)x\(destination.height)"
                )
            }
            try resamplePlane(0, source, into: destination, kernel: .lanczos3, device: device, luma: true)
            chromaKernel = .lanczos3
        }
        for p in 1...2 { try resamplePlane(p, source, into: destination, kernel: chromaKernel, device: device) }
    }

    /// Luma in [0, 1] (limited range expanded) through the network, back to the destination's levels.
    static func scaleLuma(
        _ source: YUV420Frame, into destination: YUV420Frame, network: ScalerNetwork,
        device: ComputeDevice
    ) throws {
        let (w, h) = (destination.width, destination.height)
        let natural = (network.outputLength(source.width), network.outputLength(source.height))
        let exact = abs(natural.0 - w) <= 1 && abs(natural.1 - h) <= 1
        let input = try Tensor(zeros: [1, 1, source.height, source.width])
        input.withFloats {
            source.readPlane(0, gain: 1 / source.lumaGain, offset: -source.lumaOffset / source.lumaGain, into: $0.baseAddress!)
        }
        let (gain, offset) = (destination.lumaGain, destination.lumaOffset)
        if exact {
            try network.forward(input, outputHeight: h, outputWidth: w, on: device) { first, rows in
                destination.writeRows(first..<first + rows.count / w, of: 0, from: rows.baseAddress!, gain: gain, offset: offset)
            }
            return
        }
        let output = try network.forward(input, outputHeight: natural.1, outputWidth: natural.0, on: device)
        var resized = [Float](repeating: 0, count: w * h)
        output.withFloats { o in
            resized.withUnsafeMutableBufferPointer { r in
                Resampler.resample(
                    o.baseAddress!, srcWidth: natural.0, srcHeight: natural.1, srcStride: natural.0,
                    into: r.baseAddress!, dstWidth: w, dstHeight: h, dstStride: w,
                    kernel: .lanczos3, mode: .antialiased, workers: device.workers)
            }
        }
        resized.withUnsafeBufferPointer { destination.writePlane(0, from: $0.baseAddress!, gain: gain, offset: offset) }
    }

    /// One plane through a classic filter, converting between the two frames' depths and ranges.
    static func resamplePlane(
        _ p: Int, _ source: YUV420Frame, into destination: YUV420Frame, kernel: ResampleKernel,
        device: ComputeDevice, luma: Bool = false
    ) throws {
        let s = source.planes[p], d = destination.planes[p]
        var input = [Float](repeating: 0, count: s.width * s.height)
        // Luma in [0, 1] (ranges converted), chroma in 8-bit units (depth converted, range kept).
        let (inGain, inOffset): (Float, Float) =
            luma
            ? (1 / source.lumaGain, -source.lumaOffset / source.lumaGain)
            : (1 / source.levelScale, 0)
        let (outGain, outOffset): (Float, Float) = luma ? (destination.lumaGain, destination.lumaOffset) : (destination.levelScale, 0)
        input.withUnsafeMutableBufferPointer { source.readPlane(p, gain: inGain, offset: inOffset, into: $0.baseAddress!) }
        if s.width == d.width && s.height == d.height {  // same size: only depth and range change
            input.withUnsafeBufferPointer { destination.writePlane(p, from: $0.baseAddress!, gain: outGain, offset: outOffset) }
            return
        }
        let resampler = RowResampler(source: (s.width, s.height), output: (d.width, d.height), kernel: kernel, mode: .antialiased)
        // Each chunk of rows is written where it ends up, on the worker that resampled it.
        input.withUnsafeBufferPointer { i in
            resampler.resampleInChunks(from: i.baseAddress!, sourceStride: s.width, workers: device.workers) { rows, values in
                destination.writeRows(rows, of: p, from: values, gain: outGain, offset: outOffset)
            }
        }
    }
}
