/// Server-side choice of an NN setting: from the requested
/// quality or compression, the original resolution and the content type.
///
/// 1. Scale: an explicit request wins. Otherwise strong compression (low codec quality,
///    or a target below 0.25 bits per original pixel) and large originals (more than
///    1920x1080) take x2; everything else takes x1.5, so that small or high-quality
///    images are not shrunk more than the rate needs. Screen content keeps x1.5
///    (thin strokes do not survive x2).
/// 2. Bucket: the setting of that scale whose quality range for the codec covers the
///    requested quality; without a quality, the middle bucket of the settings that list
///    the codec (else of all); a lossless codec (PNG) takes the highest bucket. Only
///    settings that list quality ranges take part (one without is kept so that files
///    naming it still decode). A generic one (classic bicubic down, its up network)
///    covers compression too strong for any down network's detail to survive (see
///    `Downscaler`).
/// 3. Video needs up networks that keep up with playback (`NNSetting.realTime`); stills
///    take a larger up network where one covers the quality.
/// 4. Scale 1 (only when asked for) selects among the restoration settings trained behind the
///    codec (`restoration`).
public struct SettingSelector {
    public struct Request: Sendable {
        public var codec: Codec
        public var quality: Double?
        public var scale: Double?
        public var targetBitsPerPixel: Double?
        public var originalWidth: Int
        public var originalHeight: Int
        public var contentType: AIDataRecord.ContentType
        /// Only real-time settings may be chosen. Video turns this on: the larger up networks of
        /// still-image settings (38k MACs per small-image pixel) cannot keep up with playback, the
        /// video settings' (5k) can.
        public var needsRealTime: Bool

        public init(
            codec: Codec, quality: Double? = nil, scale: Double? = nil, targetBitsPerPixel: Double? = nil,
            originalWidth: Int, originalHeight: Int, contentType: AIDataRecord.ContentType = .unspecified,
            needsRealTime: Bool = false
        ) {
            self.codec = codec; self.quality = quality; self.scale = scale
            self.targetBitsPerPixel = targetBitsPerPixel
            self.originalWidth = originalWidth; self.originalHeight = originalHeight; self.contentType = contentType
            self.needsRealTime = needsRealTime
        }
    }

    public let manifest: SettingsManifest
    public init(manifest: SettingsManifest) { self.manifest = manifest }

    public func select(_ request: Request) throws -> NNSetting {
        // A setting without quality ranges is kept only so that older files naming it still decode.
        let selectable = manifest.settings.filter {
            !$0.qualityRanges.isEmpty && ($0.realTime || !request.needsRealTime)
        }
        let scale = request.scale ?? chooseScale(request)
        var candidates = selectable.filter { abs($0.scale - scale) < 1e-6 }
        // A restoration network learnt one codec's artefacts: it serves no other codec.
        if scale == 1 { candidates = candidates.filter { $0.qualityRanges.contains { $0.codec == request.codec } } }
        guard !candidates.isEmpty else {
            let offered = Set(selectable.map(\.scale)).sorted().map { "\($0)" }.joined(separator: ", ")
            throw NICError.invalidArgument("no NN setting for scale \(scale); available scales: \(offered)")
        }
        if let quality = request.quality {
            if let hit = largest(candidates.filter { $0.covers(codec: request.codec, quality: quality) }) { return hit }
        }
        // Settings trained for this codec come first (x1.5 has JPEG- and HEVC-tuned networks).
        let forCodec = candidates.filter { $0.qualityRanges.contains { $0.codec == request.codec } }
        let pool = forCodec.isEmpty ? candidates : forCodec
        let bucket = request.codec == .png ? "high" : (request.quality == nil ? "mid" : nil)
        if let bucket, let hit = largest(pool.filter { $0.bucket == bucket }) { return hit }
        // A quality outside every listed range: the nearest range of the codec, else the middle bucket.
        if let quality = request.quality {
            let scored = candidates.compactMap { s -> (NNSetting, Double)? in
                let ranges = s.qualityRanges.filter { $0.codec == request.codec }
                guard let d = ranges.map({ max($0.low - quality, quality - $0.high, 0) }).min() else { return nil }
                return (s, d)
            }
            if let nearest = scored.map(\.1).min() { return largest(scored.filter { $0.1 == nearest }.map(\.0))! }
        }
        return largest(pool.filter { $0.bucket == "mid" }) ?? pool[0]
    }

    /// The restoration setting (scale 1/1) for a picture coded at full resolution by
    /// `request.codec`, chosen by the bucket rules above; nil when none was trained behind that
    /// codec: the picture is then shown as decoded.
    public func restoration(_ request: Request) -> NNSetting? {
        var atFullSize = request
        atFullSize.scale = 1
        return try? select(atFullSize)
    }

    /// Of equally fitting settings, one with a larger (not real-time) up network if any: the
    /// caller has already excluded those when it needs real time.
    func largest(_ settings: [NNSetting]) -> NNSetting? {
        settings.first { !$0.realTime } ?? settings.first
    }

    /// Step 1 of the rules above.
    func chooseScale(_ r: Request) -> Double {
        if r.contentType == .screen { return 1.5 }
        if let bpp = r.targetBitsPerPixel { return bpp < 0.25 ? 2 : 1.5 }
        if r.originalWidth * r.originalHeight > 1920 * 1080 { return 2 }
        if let q = r.quality, isStrongCompression(codec: r.codec, quality: q) { return 2 }
        return 1.5
    }

    /// Low JPEG/WebP quality or high x264/x265 CRF.
    func isStrongCompression(codec: Codec, quality: Double) -> Bool {
        switch codec {
        case .h264, .hevc: return quality >= 30
        case .png: return false
        default: return quality < 50
        }
    }
}
