/// An image split into float planes for the scaling networks: luma in [0, 1]
/// (BT.601 full range, as JPEG) and, for colour images, two chroma planes in
/// 0...255 on their own grids.
package struct LumaChroma {
    package var luma: Tensor
    var chroma: [PlanarImageChroma]
    let format: PixelFormat

    /// One chroma plane as 8-bit samples (kept on the format's chroma grid).
    struct PlanarImageChroma {
        var samples: [Float]
        var width: Int
        var height: Int
    }

    /// Splits `image`; rgb24 is converted to YCbCr 4:4:4 with JPEG's matrix, yuv formats
    /// keep their chroma planes and have limited-range luma expanded to full range.
    package init(_ image: PlanarImage) throws {
        format = image.format
        let w = image.width, h = image.height
        luma = try Tensor(zeros: [1, 1, h, w])
        chroma = []
        switch image.format {
        case .gray8:
            luma.withFloats { y in for i in 0..<w * h { y[i] = Float(image.planes[0][i]) / 255 } }
        case .rgb24:
            var cb = [Float](repeating: 0, count: w * h), cr = cb
            let rgb = image.planes[0]
            luma.withFloats { y in
                for i in 0..<w * h {
                    let r = Float(rgb[3 * i]), g = Float(rgb[3 * i + 1]), b = Float(rgb[3 * i + 2])
                    y[i] = (0.299 * r + 0.587 * g + 0.114 * b) / 255
                    cb[i] = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
                    cr[i] = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
                }
            }
            chroma = [PlanarImageChroma(samples: cb, width: w, height: h), PlanarImageChroma(samples: cr, width: w, height: h)]
        case .yuv420p, .yuv444p:
            luma.withFloats { y in for i in 0..<w * h { y[i] = (Float(image.planes[0][i]) - 16) / 219 } }
            for p in 1...2 {
                let size = image.planeSize(p)
                chroma.append(PlanarImageChroma(samples: image.planes[p].map(Float.init), width: size.width, height: size.height))
            }
        }
    }

    /// Rows `rows` of the image with `luma` as their luma plane (chroma rows cut to match;
    /// subsampled chroma needs `rows` to start on an even row).
    func rows(_ rows: Range<Int>, luma: Tensor) throws -> LumaChroma {
        let height = self.luma.height
        var out = self
        out.luma = luma
        out.chroma = chroma.map { plane in
            let sub = plane.height == height ? 1 : 2
            let first = rows.lowerBound / sub, end = rows.upperBound == height ? plane.height : rows.upperBound / sub
            return PlanarImageChroma(
                samples: Array(plane.samples[first * plane.width..<end * plane.width]),
                width: plane.width, height: end - first)
        }
        return out
    }

    /// Reassembles an 8-bit image of `format` (rounding and clamping).
    func image(width: Int, height: Int) throws -> PlanarImage {
        var out = try PlanarImage(format: format, width: width, height: height)
        let n = width * height
        luma.withFloats { y in
            switch format {
            case .gray8:
                out.planes[0] = (0..<n).map { LumaChroma.byte(y[$0] * 255) }
            case .rgb24:
                var rgb = [UInt8](repeating: 0, count: 3 * n)
                let cb = chroma[0].samples, cr = chroma[1].samples
                for i in 0..<n {
                    let l = y[i] * 255, u = cb[i] - 128, v = cr[i] - 128
                    rgb[3 * i] = LumaChroma.byte(l + 1.402 * v)
                    rgb[3 * i + 1] = LumaChroma.byte(l - 0.344136 * u - 0.714136 * v)
                    rgb[3 * i + 2] = LumaChroma.byte(l + 1.772 * u)
                }
                out.planes[0] = rgb
            case .yuv420p, .yuv444p:
                out.planes[0] = (0..<n).map { LumaChroma.byte(y[$0] * 219 + 16) }
                out.planes[1] = chroma[0].samples.map(LumaChroma.byte)
                out.planes[2] = chroma[1].samples.map(LumaChroma.byte)
            }
        }
        return out
    }

    @inline(__always) static func byte(_ v: Float) -> UInt8 { UInt8(min(max(v + 0.5, 0), 255)) }
}
