/// LIFF (local implicit filter function): up-scales an RGB picture to any size whose factor is
/// between 1 and 4 on each axis, as trained by training/liff:
///
///     out[o](x, y) = bicubic(lr)[o](x, y) + Σ_j Wx[px][o][j] · Wy[py][o][j] · U[j](ix, iy)
///
/// - U: the 3x3 neighbourhood (edge pixels repeated) of `featureChannels` maps that a few
///   convolutions compute from the low-resolution picture, at the output pixel's nearest
///   low-resolution pixel ix = ⌊(x + ½)·w / W⌋, iy likewise; j = (channel·3 + dy + 1)·3 + dx + 1;
/// - px: the column's phase, the offset of its centre from the centre of column ix (in
///   low-resolution pixels, in [-½, ½)); py likewise for the row;
/// - Wx, Wy: two small MLPs of (2·phase, own-axis scale, other-axis scale), scale = w / W.
///
/// The filter depends on the phases and the scale only, never on the picture: each MLP runs once
/// per distinct phase of its axis (`AxisFilters`), never per pixel. Per output pixel the work is
/// one dot product of J = 9·featureChannels values per channel. Output rows are produced in bands
/// (features computed with a halo of low-resolution rows), so memory stays bounded by the band.
public final class LIFFNetwork: @unchecked Sendable {  // immutable after init
    /// Factors (output size / input size) the network is trained for, per axis.
    public static let scaleRange: ClosedRange<Double> = 1...4

    let features: Sequential
    let featureChannels: Int
    /// Low-resolution rows on each side that influence a feature row (the convolutions' radii).
    let haloRows: Int
    let outputChannels: Int
    let filterX: FilterMLP
    let filterY: FilterMLP
    var taps: Int { 9 * featureChannels }

    /// Builds the network from its architecture (`kind` "liff": feature `layers`, `filter_x`,
    /// `filter_y` linear layers, `out_channels`) and weights.
    public init(architecture a: JSONValue, weights: SafetensorsFile) throws {
        guard a["kind"]?.stringValue == "liff", a["version"]?.intValue == 1 else {
            throw NICError.model("architecture is not a version 1 LIFF network")
        }
        guard a["unfold"]?.intValue == 3, a["unfold_padding"]?.stringValue == "replicate",
            a["residual_base"]?["cubic_coeff_a"]?.numberValue == -0.75, a["residual_base"]?["antialias"]?.boolValue == false
        else {
            throw NICError.model("LIFF network needs a 3x3 replicate unfold and a plain bicubic (a = -0.75) base")
        }
        let stack = try LayerStack(a, weights, network: "the LIFF network")
        guard stack.unshuffle == nil, stack.shuffle == nil, stack.inputChannels == 3, stack.outputChannels > 0 else {
            throw NICError.model("LIFF features must be convolutions from 3 channels")
        }
        features = Sequential(stack.layers)
        featureChannels = stack.outputChannels
        haloRows = stack.radius
        outputChannels = a["out_channels"]?.intValue ?? 0
        guard outputChannels == 3 else { throw NICError.model("LIFF network must predict 3 channels") }
        let filterSize = outputChannels * 9 * stack.outputChannels
        filterX = try FilterMLP(a["filter_x"], weights, inputs: 3, outputs: filterSize)
        filterY = try FilterMLP(a["filter_y"], weights, inputs: 3, outputs: filterSize)
    }

    /// Throws `NICError.invalidArgument` unless `output` is `input` times a factor in
    /// `scaleRange` on both axes (and `NICError.dimensions` outside `ImageLimits`).
    public static func checkSizes(input: (width: Int, height: Int), output: (width: Int, height: Int)) throws {
        try ImageLimits.check(width: input.width, height: input.height)
        try ImageLimits.check(width: output.width, height: output.height)
        let fx = Double(output.width) / Double(input.width), fy = Double(output.height) / Double(input.height)
        guard scaleRange.contains(fx), scaleRange.contains(fy) else {
            throw NICError.invalidArgument(
                "LIFF up-scales by 1 to 4 per axis; \(input.width)x\(input.height) to \(output.width)x\(output.height) is x\(fx) by x\(fy)"
            )
        }
    }

    /// Returns `image` (rgb24, or gray8 run as equal R, G, B and averaged back) up-scaled to
    /// `width` x `height`.
    public func upscale(_ image: PlanarImage, width: Int, height: Int, device: ComputeDevice) throws -> PlanarImage {
        guard image.format == .rgb24 || image.format == .gray8 else {
            throw NICError.invalidArgument("LIFF up-scales rgb24 or gray8 pictures, not \(image.format.rawValue)")
        }
        try Self.checkSizes(input: (image.width, image.height), output: (width, height))
        let (w, h) = (image.width, image.height), gray = image.format == .gray8
        let input = try Tensor(zeros: [1, 3, h, w])
        input.withFloats { x in
            let source = image.planes[0], stride = gray ? 1 : 3
            for c in 0..<3 {
                for i in 0..<w * h { x[c * w * h + i] = Float(source[i * stride + (gray ? 0 : c)]) / 255 }
            }
        }
        let channels = gray ? 1 : 3
        var bytes = [UInt8](repeating: 0, count: width * height * channels)
        try bytes.withUnsafeMutableBufferPointer { out in
            let out = out.baseAddress!
            try forward(input, outputHeight: height, outputWidth: width, on: device) { first, rows in
                let plane = rows.count / 3, count = plane
                for i in 0..<count {
                    let at = first * width + i
                    if gray {
                        out[at] = Self.byte((rows[i] + rows[plane + i] + rows[2 * plane + i]) / 3)
                    } else {
                        for c in 0..<3 { out[3 * at + c] = Self.byte(rows[c * plane + i]) }
                    }
                }
            }
        }
        return try PlanarImage(format: image.format, width: width, height: height, planes: [bytes])
    }

    @inline(__always) static func byte(_ v: Float) -> UInt8 { UInt8(min(max(v * 255 + 0.5, 0), 255)) }

    /// Runs the network on a (1, 3, h, w) tensor in [0, 1] and returns (1, 3, outH, outW).
    public func forward(_ x: Tensor, outputHeight: Int, outputWidth: Int, on device: ComputeDevice) throws -> Tensor {
        let out = try Tensor(zeros: [1, 3, outputHeight, outputWidth])
        let plane = outputHeight * outputWidth
        try out.withFloats { o in
            try forward(x, outputHeight: outputHeight, outputWidth: outputWidth, on: device) { first, rows in
                let n = rows.count / 3
                for c in 0..<3 { (o.baseAddress! + c * plane + first * outputWidth).update(from: rows.baseAddress! + c * n, count: n) }
            }
        }
        return out
    }

    /// Output pixels per band: the band's features and per-row buffers stay a few MB.
    public static let bandPixels = 64 * 1024

    /// Runs the network on a (1, 3, h, w) tensor in bands of output rows and hands each band's
    /// finished rows to `rowsDone(firstRow, values)` (three planes of rows × `outputWidth`
    /// floats, one after the other), called concurrently from the workers with disjoint rows.
    /// The result does not depend on the bands or the workers.
    public func forward(
        _ x: Tensor, outputHeight: Int, outputWidth: Int, on device: ComputeDevice,
        bandPixels: Int = LIFFNetwork.bandPixels,
        rowsDone: (_ firstRow: Int, _ values: UnsafeBufferPointer<Float>) -> Void
    ) throws {
        guard x.shape.count == 4, x.batch == 1, x.channels == 3 else {
            throw NICError.invalidArgument("LIFF takes one RGB picture (1, 3, H, W), got \(x.shape)")
        }
        try Self.checkSizes(input: (x.width, x.height), output: (outputWidth, outputHeight))
        let input = try x.plain(on: device)
        let (w, h) = (input.width, input.height)
        let columns = AxisFilters(lowRes: w, output: outputWidth, otherScale: Float(Double(h) / Double(outputHeight)), filterX)
        let rows = AxisFilters(lowRes: h, output: outputHeight, otherScale: Float(Double(w) / Double(outputWidth)), filterY)
        let base = RowResampler(
            source: (w, h), output: (outputWidth, outputHeight), kernel: .bicubic(a: -0.75), mode: .interpolate)
        // At least 8 low-resolution rows per band, so the halo stays a fraction of the work.
        let minimumRows = (8 * outputHeight + h - 1) / h
        let bandRows = max(minimumRows, bandPixels / outputWidth)
        try input.withFloats { source in
            try Bands(height: outputHeight, rows: bandRows).run(on: device) { band, worker in
                let firstLow = max(0, Int(rows.index[band.lowerBound]) - 1)
                let lastLow = min(h - 1, Int(rows.index[band.upperBound - 1]) + 1)
                let from = max(0, firstLow - haloRows), to = min(h, lastLow + 1 + haloRows)
                let feature = try features.forward(try input.rows(from..<to), on: worker).plain(on: worker)
                guard feature.channels == featureChannels, feature.width == w, feature.height == to - from else {
                    throw NICError.model("LIFF features give \(feature.shape), expected \(featureChannels) channels \(w) wide")
                }
                let n = band.count * outputWidth
                let values = UnsafeMutablePointer<Float>.allocate(capacity: 3 * n)
                defer { values.deallocate() }
                for c in 0..<3 {
                    base.resample(rows: band, from: source.baseAddress! + c * w * h, sourceStride: w, into: values + c * n)
                }
                feature.withFloats { f in
                    addResidual(
                        features: f.baseAddress!, firstFeatureRow: from, featureRows: to - from, lowRes: (w, h),
                        columns: columns, rows: rows, band: band, into: values, outputWidth: outputWidth)
                }
                rowsDone(band.lowerBound, UnsafeBufferPointer(start: values, count: 3 * n))
            }
        }
    }

    /// values[c][y][x] += Σ_j Wx[px][c][j] · Wy[py][c][j] · U[j](ix, iy) for the band's rows.
    /// Per output row: the neighbourhoods U of its low-resolution row (when that changes), then
    /// V[ix][c][j] = Wy[py][c][j] · U[j](ix) (when the row or its phase changes), then one dot
    /// product per output pixel and channel with the column's filter part.
    private func addResidual(
        features f: UnsafePointer<Float>, firstFeatureRow: Int, featureRows: Int, lowRes: (w: Int, h: Int),
        columns: AxisFilters, rows: AxisFilters, band: Range<Int>, into values: UnsafeMutablePointer<Float>,
        outputWidth: Int
    ) {
        let (w, h) = lowRes, j = taps, c3 = outputChannels * j, planeSize = w * featureRows
        let u = UnsafeMutablePointer<Float>.allocate(capacity: w * j)
        let v = UnsafeMutablePointer<Float>.allocate(capacity: w * c3)
        defer { u.deallocate(); v.deallocate() }
        var current: (low: Int, phase: Int) = (-1, -1)
        let n = band.count * outputWidth
        columns.table.withUnsafeBufferPointer { columnTable in
            rows.table.withUnsafeBufferPointer { rowTable in
                for y in band {
                    let iy = Int(rows.index[y]), py = Int(rows.phase[y])
                    if iy != current.low {
                        for dy in -1...1 {
                            let line = min(max(iy + dy, 0), h - 1) - firstFeatureRow
                            for ix in 0..<w {
                                let left = max(ix - 1, 0), right = min(ix + 1, w - 1)
                                let target = u + ix * j + (dy + 1) * 3
                                for c in 0..<featureChannels {
                                    let row = f + c * planeSize + line * w
                                    target[c * 9] = row[left]
                                    target[c * 9 + 1] = row[ix]
                                    target[c * 9 + 2] = row[right]
                                }
                            }
                        }
                    }
                    if iy != current.low || py != current.phase {
                        let wy = rowTable.baseAddress! + py * c3
                        for ix in 0..<w {
                            for c in 0..<outputChannels {
                                let target = v + ix * c3 + c * j, filter = wy + c * j, neighbourhood = u + ix * j
                                for k in 0..<j { target[k] = filter[k] * neighbourhood[k] }
                            }
                        }
                        current = (iy, py)
                    }
                    let out = values + (y - band.lowerBound) * outputWidth
                    for x in 0..<outputWidth {
                        let wx = columnTable.baseAddress! + Int(columns.phase[x]) * c3
                        let vx = v + Int(columns.index[x]) * c3
                        for c in 0..<outputChannels { out[c * n + x] += dot(wx + c * j, vx + c * j, j) }
                    }
                }
            }
        }
    }
}

/// Σ a[i]·b[i] over `count` floats, eight lanes at a time.
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    var lanes = SIMD8<Float>()
    var i = 0
    while i + 8 <= count {
        lanes +=
            UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var sum = lanes.sum()
    while i < count {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
}

/// The filter part of every output position along one axis: the nearest low-resolution index,
/// and the row of `table` (the MLP's output for that position's phase) it uses. Each distinct
/// phase is evaluated once: a factor p/q repeats its phases every p output pixels.
struct AxisFilters {
    let index: [Int32]
    let phase: [Int32]
    let table: [Float]
    let phaseCount: Int

    /// `lowRes` input and `output` pixels on this axis; `otherScale` = input / output size on
    /// the other axis. Integer arithmetic for the grid, as training/liff/model.py `nearest_grid`.
    init(lowRes n: Int, output m: Int, otherScale: Float, _ mlp: FilterMLP) {
        var index = [Int32](repeating: 0, count: m), phase = index
        var seen: [Int: Int32] = [:]
        var inputs: [Float] = []
        let scale = Float(Double(n) / Double(m))
        for i in 0..<m {
            let position = (2 * i + 1) * n  // output centre × 2m, in low-resolution pixels
            let (low, remainder) = position.quotientAndRemainder(dividingBy: 2 * m)
            index[i] = Int32(low)
            if let known = seen[remainder] {
                phase[i] = known
            } else {
                let id = Int32(seen.count)
                seen[remainder] = id
                phase[i] = id
                let offset = Float(remainder - m) / Float(2 * m)
                inputs += [2 * offset, scale, otherScale]
            }
        }
        self.index = index; self.phase = phase; phaseCount = seen.count
        table = mlp.evaluate(inputs, count: seen.count)
    }
}

/// A small multi-layer perceptron (`linear` entries: `name`, `in`, `out`, optional `activation`
/// "relu"; tensors NAME.weight (out, in) and NAME.bias).
struct FilterMLP {
    struct Linear {
        let inputs: Int, outputs: Int
        let weights: [Float], bias: [Float]
        let relu: Bool
    }
    let layers: [Linear]

    init(_ list: JSONValue?, _ w: SafetensorsFile, inputs: Int, outputs: Int) throws {
        var layers: [Linear] = []
        var width = inputs
        for e in list?.arrayValue ?? [] {
            guard e["op"]?.stringValue == "linear", let name = e["name"]?.stringValue, let i = e["in"]?.intValue,
                let o = e["out"]?.intValue, i == width
            else {
                throw NICError.model("bad LIFF filter layer \(e.serialized)")
            }
            let activation = e["activation"]?.stringValue
            guard activation == nil || activation == "relu" else { throw NICError.model("unsupported activation in \(e.serialized)") }
            layers.append(
                Linear(
                    inputs: i, outputs: o, weights: try w.floats(name + ".weight", shape: [o, i]),
                    bias: try w.floats(name + ".bias", shape: [o]), relu: activation == "relu"))
            width = o
        }
        guard !layers.isEmpty, width == outputs else {
            throw NICError.model("LIFF filter MLP must map \(inputs) to \(outputs) values")
        }
        self.layers = layers
    }

    /// The outputs of `count` input vectors stored one after the other.
    func evaluate(_ input: [Float], count: Int) -> [Float] {
        var x = input
        for layer in layers {
            var y = [Float](repeating: 0, count: count * layer.outputs)
            for s in 0..<count {
                for o in 0..<layer.outputs {
                    var sum = layer.bias[o]
                    for i in 0..<layer.inputs { sum += layer.weights[o * layer.inputs + i] * x[s * layer.inputs + i] }
                    y[s * layer.outputs + o] = layer.relu ? max(sum, 0) : sum
                }
            }
            x = y
        }
        return x
    }
}
