import CKernels

/// The three planes of a 4:2:0 video frame in memory owned by someone else (an AVFrame's,
/// say), read and written in place. Samples are bytes for 8-bit video and little-endian
/// 16-bit words holding `bitDepth` bits (yuv420p10le and the like) above that.
public struct YUV420Frame {
    public var width: Int
    public var height: Int
    public var bitDepth: Int
    /// Luma spans the whole sample range (yuvj420p, "PC" range) instead of 16...235 (scaled to the depth).
    public var fullRange: Bool
    /// Y, U, V; a view's `width` counts samples and its `stride` bytes.
    public var planes: [MutablePlaneView]

    /// Checks the views against the frame size (chroma rounds up) and the depth.
    public init(width: Int, height: Int, bitDepth: Int, fullRange: Bool = false, planes: [MutablePlaneView]) throws {
        try ImageLimits.check(width: width, height: height)
        guard (8...16).contains(bitDepth) else { throw NICError.unsupportedFormat("\(bitDepth)-bit samples are not supported") }
        guard planes.count == 3 else { throw NICError.invalidArgument("a 4:2:0 frame has 3 planes, got \(planes.count)") }
        let bytesPerSample = bitDepth > 8 ? 2 : 1
        for (p, view) in planes.enumerated() {
            let size = PixelFormat.yuv420p.planeSize(plane: p, width: width, height: height)
            guard view.width == size.width, view.height == size.height, view.stride >= size.width * bytesPerSample else {
                throw NICError.invalidArgument(
                    "plane \(p) is \(view.width)x\(view.height) with stride \(view.stride); a \(width)x\(height) frame needs \(size.width)x\(size.height) and stride >= \(size.width * bytesPerSample)"
                )
            }
        }
        self.width = width; self.height = height; self.bitDepth = bitDepth; self.fullRange = fullRange; self.planes = planes
    }

    var maxValue: Float { Float((1 << bitDepth) - 1) }
    /// 1 for 8-bit samples, 4 for 10-bit, ...: limited-range levels scale with the depth.
    var levelScale: Float { Float(1 << (bitDepth - 8)) }

    /// Luma sample = lumaGain * value in [0, 1] + lumaOffset.
    var lumaGain: Float { fullRange ? maxValue : 219 * levelScale }
    var lumaOffset: Float { fullRange ? 0 : 16 * levelScale }

    /// Plane `p` as floats, each sample multiplied by `gain` and `offset` added.
    func readPlane(_ p: Int, gain: Float, offset: Float, into out: UnsafeMutablePointer<Float>) {
        let view = planes[p]
        for y in 0..<view.height {
            let row = out + y * view.width
            if bitDepth > 8 {
                let src = UnsafeRawPointer(view.base + y * view.stride).assumingMemoryBound(to: UInt16.self)
                for x in 0..<view.width { row[x] = Float(UInt16(littleEndian: src[x])) * gain + offset }
            } else {
                libnic_kernel_widen_u8(view.row(y), view.width, gain, offset, row)
            }
        }
    }

    /// Writes floats (times `gain` plus `offset`) into plane `p`, rounded and clamped to the depth.
    func writePlane(_ p: Int, from values: UnsafePointer<Float>, gain: Float, offset: Float) {
        writeRows(0..<planes[p].height, of: p, from: values, gain: gain, offset: offset)
    }

    /// Writes rows `rows` of plane `p` from floats (row `rows.lowerBound` first, rows packed),
    /// like `writePlane`; disjoint rows may be written from different threads.
    func writeRows(_ rows: Range<Int>, of p: Int, from values: UnsafePointer<Float>, gain: Float, offset: Float) {
        let view = planes[p], top = maxValue
        for y in rows {
            let row = values + (y - rows.lowerBound) * view.width
            if bitDepth > 8 {
                let dst = UnsafeMutableRawPointer(view.base + y * view.stride).assumingMemoryBound(to: UInt16.self)
                for x in 0..<view.width { dst[x] = UInt16(min(max(row[x] * gain + offset + 0.5, 0), top)).littleEndian }
            } else {
                libnic_kernel_narrow_u8(row, view.width, gain, offset, top, view.row(y))
            }
        }
    }
}
