/// Device side of the AI codec: from the AI data found with a decoded image (or its
/// absence), decide how to upscale it and say why whenever the AI route is not taken.
/// Missing, corrupt or unusable AI data never fails: it selects the documented fallback
/// (docs/ai-data.md §4): the generic up-scaling setting when allowed, else Lanczos,
/// to the requested size, else the recorded original size, else twice the image size.
/// A full-resolution record (scale 1/1, no setting) is no fallback: the decoded image is the
/// picture, shown as it is.
public struct AIDecodePlan: Sendable {
    public enum Route: Sendable, Equatable {
        case network(settingID: Int)
        case classic(ResizeMethod)
        /// The LIFF up-scaler (`LIFFNetwork`, any factor from 1 to 4 per axis).
        case liff
        /// The decoded image as it is: its AI data says it was coded at full resolution.
        case unscaled
    }

    public let route: Route
    public let width: Int
    public let height: Int
    /// Why the AI data's own setting is not used; nil when it is.
    public let fallbackReason: String?
    /// The codec the AI data says coded the small image (nil without AI data): the setting's
    /// chroma network runs only behind the codecs it was trained for (`NNSetting.chromaNetwork(after:)`).
    public let smallImageCodec: AIDataRecord.Codec?

    /// What was found where the AI data should be.
    public enum Found: Sendable {
        case none
        case corrupt(String)
        case record(AIDataRecord)
    }

    public struct Options: Sendable {
        /// Output size wanted by the caller, overriding the recorded original size.
        public var size: (width: Int, height: Int)?
        /// Use the generic AI setting instead of Lanczos when falling back.
        public var allowGenericFallback = true
        /// Force a classic filter, ignoring AI data.
        public var forcedMethod: ResizeMethod?
        /// Force this NN setting's up network, ignoring the AI data's setting.
        public var forcedSetting: Int?
        /// Force the LIFF up-scaler, ignoring AI data; the size must be the image's times 1 to 4
        /// on each axis.
        public var forcedLIFF = false
        public init(
            size: (width: Int, height: Int)? = nil, allowGenericFallback: Bool = true,
            forcedMethod: ResizeMethod? = nil, forcedSetting: Int? = nil, forcedLIFF: Bool = false
        ) {
            self.size = size; self.allowGenericFallback = allowGenericFallback
            self.forcedMethod = forcedMethod; self.forcedSetting = forcedSetting; self.forcedLIFF = forcedLIFF
        }
    }

    public init(found: Found, imageWidth: Int, imageHeight: Int, manifest: SettingsManifest?, options: Options) throws {
        var record: AIDataRecord?
        var reason: String?
        switch found {
        case .none: reason = "no AI data"
        case .corrupt(let message): reason = "corrupt AI data (\(message))"
        case .record(let r): record = r
        }
        smallImageCodec = record?.codec
        let recorded = record.flatMap { AIDecodePlan.originalSize(of: $0, imageWidth: imageWidth, imageHeight: imageHeight) }
        if let record, reason == nil, recorded == nil {
            reason = "the AI data's sizes do not fit the decoded image (\(AIDecodePlan.sizeProblem(record, imageWidth, imageHeight)))"
        }
        let size = options.size ?? recorded ?? (2 * imageWidth, 2 * imageHeight)
        try ImageLimits.check(width: size.0, height: size.1)
        (width, height) = size
        if options.forcedLIFF {
            try LIFFNetwork.checkSizes(input: (imageWidth, imageHeight), output: size)
            (route, fallbackReason) = (.liff, nil)
            return
        }
        if let forced = options.forcedMethod {
            (route, fallbackReason) = (.classic(forced), nil)
            return
        }
        if let forced = options.forcedSetting {
            guard manifest?.setting(id: forced) != nil else {
                throw NICError.invalidArgument("unknown NN setting ID \(forced)")
            }
            (route, fallbackReason) = (.network(settingID: forced), nil)
            return
        }
        if let record, reason == nil, record.isFullResolution {
            // Only a requested size differing from the picture's (or an odd original size
            // coded one pixel smaller) needs a filter.
            let same = size.0 == imageWidth && size.1 == imageHeight
            (route, fallbackReason) = (same ? .unscaled : .classic(.lanczos), nil)
            return
        }
        if let record, reason == nil {
            reason = AIDecodePlan.problem(with: record, manifest: manifest)
            if reason == nil {
                (route, fallbackReason) = (.network(settingID: Int(record.settingID)), nil)
                return
            }
        }
        fallbackReason = reason
        let generic = manifest?.settings.first { $0.kind == .generic && abs($0.scale - Double(size.0) / Double(imageWidth)) < 0.3 }
        if options.allowGenericFallback, let generic { route = .network(settingID: generic.id) } else { route = .classic(.lanczos) }
    }

    /// Runs `body` on this plan. A network that cannot run (a model error: missing, damaged or
    /// unverifiable model file) never stops decoding: `body` then runs again on the Lanczos
    /// route to the same size, and the returned plan says why. Every decoding path (stills,
    /// frames, the C API) carries its plan out through here.
    public func carriedOut<T>(_ body: (AIDecodePlan) throws -> T) throws -> (result: T, plan: AIDecodePlan) {
        do {
            return (try body(self), self)
        } catch NICError.model(let message) {
            let fallback = fallingBack(because: message)
            return (try body(fallback), fallback)
        }
    }

    /// The Lanczos route to the same size, for when the chosen network cannot run.
    public func fallingBack(because reason: String) -> AIDecodePlan {
        AIDecodePlan(
            route: .classic(.lanczos), width: width, height: height,
            fallbackReason: fallbackReason.map { $0 + "; " + reason } ?? reason, smallImageCodec: smallImageCodec)
    }

    private init(route: Route, width: Int, height: Int, fallbackReason: String?, smallImageCodec: AIDataRecord.Codec?) {
        self.route = route; self.width = width; self.height = height; self.fallbackReason = fallbackReason
        self.smallImageCodec = smallImageCodec
    }

    /// Largest scale factor a record may claim. The output size a record asks for is used only
    /// when it follows from the decoded image, so that a small stream cannot make a player
    /// allocate for a huge picture.
    public static let maxScale = 4

    /// The record's original size when it is consistent with the decoded image: the record's
    /// downscaled size is the image's, its scale is at most `maxScale`, and the original size
    /// is the downscaled size times the scale up to rounding (two pixels of the small image).
    /// Else nil: the caller falls back to twice the image size.
    public static func originalSize(of r: AIDataRecord, imageWidth: Int, imageHeight: Int) -> (width: Int, height: Int)? {
        sizeProblem(r, imageWidth, imageHeight).isEmpty ? (r.originalWidth, r.originalHeight) : nil
    }

    static func sizeProblem(_ r: AIDataRecord, _ imageWidth: Int, _ imageHeight: Int) -> String {
        if r.downscaledWidth != imageWidth || r.downscaledHeight != imageHeight {
            return "decoded image is \(imageWidth)x\(imageHeight) but the AI data says \(r.downscaledWidth)x\(r.downscaledHeight)"
        }
        let (num, den) = (Int(r.scaleNumerator), max(1, Int(r.scaleDenominator)))
        if num > maxScale * den { return "scale \(num)/\(den) is above \(maxScale)" }
        let fits = { (small: Int, large: Int) in abs(small * num - large * den) <= 2 * num }
        if !fits(r.downscaledWidth, r.originalWidth) || !fits(r.downscaledHeight, r.originalHeight) {
            return
                "original size \(r.originalWidth)x\(r.originalHeight) is not \(r.downscaledWidth)x\(r.downscaledHeight) times \(num)/\(den)"
        }
        return ""
    }

    /// Why a well-formed record whose sizes fit the decoded image (`sizeProblem`) cannot drive
    /// the AI route, or nil when it can.
    static func problem(with r: AIDataRecord, manifest: SettingsManifest?) -> String? {
        if r.settingID == 0 { return "the AI data names no NN setting (classic downscale)" }
        guard let manifest else { return "no models are installed" }
        guard let setting = manifest.setting(id: Int(r.settingID)) else {
            return "unknown NN setting ID \(r.settingID)"
        }
        if Int(r.scaleNumerator) * setting.scaleDenominator != Int(r.scaleDenominator) * setting.scaleNumerator {
            return "AI data scale \(r.scaleNumerator)/\(r.scaleDenominator) does not match setting \(r.settingID)"
        }
        return nil
    }
}
