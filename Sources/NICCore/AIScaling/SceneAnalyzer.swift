/// Scene cuts and content complexity of a video, one frame at a time, from a luma thumbnail
/// about 160 pixels wide (box-averaged, so the measures hardly depend on the resolution).
///
/// - complexity: mean |horizontal| + |vertical| difference of neighbouring thumbnail pixels,
///   in 8-bit units. x264 at CRF 23 spends about 0.1 bit per coded pixel at complexity 14 and
///   roughly proportionally more or less elsewhere (fitted on six development clips: bits ∝
///   complexity^0.97, docs/video.md).
/// - cut: the mean absolute difference to the previous thumbnail exceeds `cutThreshold` and
///   twice its running average in the scene (noise and fast motion change every frame without
///   being cuts), at least `minimumSceneFrames` after the last cut, and the next frame differs as
///   much from the frame before the candidate (a one-frame flash is no cut). The cut is
///   therefore reported one frame late, on the first frame that confirms it.
public struct SceneAnalyzer: Sendable {
    public static let thumbnailWidth = 160
    public static let cutThreshold = 12.0
    public static let minimumSceneFrames = 12
    /// The complexity at which `VideoAICodec.estimatedCRF` assumes its 0.1 bit per pixel.
    public static let referenceComplexity = 14.0

    public struct Observation: Sendable, Equatable {
        /// True for the first frame and for the first frame of every later scene.
        public let startsScene: Bool
        public let complexity: Double
    }

    private var previous: [Float] = []
    /// The thumbnail before a candidate cut, while the next frame has not confirmed it.
    private var beforeCandidate: [Float]?
    private var framesSinceCut = 0
    private var averageDifference = 0.0

    public init() {}

    public mutating func observe(luma: PlaneView) -> Observation {
        let thumb = SceneAnalyzer.thumbnail(luma)
        defer { previous = thumb.pixels }
        let complexity = SceneAnalyzer.complexity(thumb.pixels, width: thumb.width, height: thumb.height)
        framesSinceCut += 1
        guard previous.count == thumb.pixels.count else {  // first frame, or a new size
            framesSinceCut = 0; averageDifference = 0; beforeCandidate = nil
            return Observation(startsScene: true, complexity: complexity)
        }
        if let reference = beforeCandidate {
            beforeCandidate = nil
            let confirmed = SceneAnalyzer.difference(reference, thumb.pixels) > SceneAnalyzer.cutThreshold
            if confirmed { framesSinceCut = 0; averageDifference = 0 }
            // either way this frame is no new candidate: it is measured against the one before the flash
            return Observation(startsScene: confirmed, complexity: complexity)
        }
        let difference = SceneAnalyzer.difference(previous, thumb.pixels)
        if framesSinceCut >= SceneAnalyzer.minimumSceneFrames && difference > SceneAnalyzer.cutThreshold
            && difference > 2 * averageDifference
        {
            beforeCandidate = previous
        } else {
            averageDifference += (difference - averageDifference) / Double(max(1, framesSinceCut))
        }
        return Observation(startsScene: false, complexity: complexity)
    }

    static func difference(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double(abs($1.0 - $1.1)) } / Double(max(1, a.count))
    }

    static func thumbnail(_ p: PlaneView) -> (pixels: [Float], width: Int, height: Int) {
        let block = max(1, p.width / thumbnailWidth)
        let (w, h) = (max(1, p.width / block), max(1, p.height / block))
        var out = [Float](repeating: 0, count: w * h)
        for ty in 0..<h {
            for by in 0..<min(block, p.height - ty * block) {
                let row = p.row(ty * block + by)
                for tx in 0..<w {
                    var sum = 0
                    for bx in 0..<block { sum += Int(row[(tx * block + bx) * p.channels]) }
                    out[ty * w + tx] += Float(sum)
                }
            }
        }
        let scale = 1 / Float(block * block)
        return (out.map { $0 * scale }, w, h)
    }

    static func complexity(_ t: [Float], width w: Int, height h: Int) -> Double {
        var horizontal = 0.0, vertical = 0.0
        for y in 0..<h {
            for x in 0..<w {
                if x + 1 < w { horizontal += Double(abs(t[y * w + x + 1] - t[y * w + x])) }
                if y + 1 < h { vertical += Double(abs(t[(y + 1) * w + x] - t[y * w + x])) }
            }
        }
        return horizontal / Double(max(1, (w - 1) * h)) + vertical / Double(max(1, w * (h - 1)))
    }
}
