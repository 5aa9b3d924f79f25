import NICCore

/// The AI codec for still images: the server side AI-downscales and codes
/// the small image with a conventional codec, the AI data riding in the file's
/// metadata; the device side decodes, reads the AI data and AI-upscales.
public enum StillImageAICodec {
    public struct EncodeOptions: Sendable {
        /// The codec the small image is (or will be) coded with: JPEG and WebP are coded here,
        /// PNG is lossless, H.264 and HEVC only recorded (the small image is written as PNG).
        public var codec: Codec
        public var quality: Int?
        public var scale: Double?
        public var settingID: Int?
        public var contentType: AIDataRecord.ContentType
        /// Encoder-side refinement steps of the small image (`SmallImageRefiner`): JPEG with a
        /// quality and a jointly trained setting only; 0 = the down network's output as it is.
        public var refineIterations: Int
        /// Store the small image losslessly as PNG, whatever codec will code it later
        /// (`nic downscale`); otherwise JPEG and WebP are coded here at `quality`.
        public var losslessOutput: Bool
        public init(
            codec: Codec, quality: Int? = nil, scale: Double? = nil, settingID: Int? = nil,
            contentType: AIDataRecord.ContentType = .unspecified, refineIterations: Int = 0,
            losslessOutput: Bool = false
        ) {
            self.codec = codec; self.quality = quality; self.scale = scale
            self.settingID = settingID; self.contentType = contentType; self.refineIterations = refineIterations
            self.losslessOutput = losslessOutput
        }
    }

    /// What the server side produced.
    public struct EncodeResult: Sendable {
        public let record: AIDataRecord
        public let bytes: [UInt8]
        public let setting: NNSetting
        /// The refinement's result, or why it did not run (nil: not asked for or not applicable).
        public let refinement: Result<SmallImageRefiner.Outcome, SmallImageRefiner.Skip>?
    }

    /// AI-downscales `image` and codes it as `options.codec` says (PNG for x264/x265, whose
    /// CRF is only recorded), returning the file bytes with the AI data inside.
    public static func encode(
        _ image: PlanarImage, options: EncodeOptions, store: ModelStore,
        device: ComputeDevice
    ) throws -> EncodeResult {
        let setting = try chooseSetting(image, options, store)
        let downscaler = try Downscaler(setting, store: store)
        let width = downscaler.outputLength(image.width), height = downscaler.outputLength(image.height)
        var small = try downscaler.scale(image, width: width, height: height, device: device)
        var refinement: Result<SmallImageRefiner.Outcome, SmallImageRefiner.Skip>?
        if options.refineIterations > 0, options.codec == .jpeg, let quality = options.quality, setting.kind == .joint {
            (small, refinement) = try refinedForJPEG(
                small, original: image, setting: setting, quality: quality,
                iterations: options.refineIterations, store: store, device: device)
        }
        guard Codec.smallImageCodecs.contains(options.codec) else {
            throw NICError.invalidArgument("a small image cannot be coded with codec \(options.codec.rawValue)")
        }
        let qualityKind = options.quality == nil ? .unspecified : options.codec.qualityKind
        let record = AIDataRecord(
            setting: setting, originalWidth: image.width, originalHeight: image.height,
            downscaledWidth: width, downscaledHeight: height, codec: options.codec,
            qualityKind: qualityKind, qualityValue: qualityKind == .unspecified ? 0 : Int32((options.quality ?? 0) * 100),
            contentType: options.contentType)
        let format = options.losslessOutput ? .png : options.codec.smallImageFileFormat
        let bytes = try ImageFile.encode(
            small, format: format, quality: format == .png ? nil : options.quality,
            metadataText: try record.textForm())
        return EncodeResult(record: record, bytes: bytes, setting: setting, refinement: refinement)
    }

    /// `small` refined for JPEG at `quality` through `setting`'s up network, or unchanged with the
    /// reason the refinement could not run.
    static func refinedForJPEG(
        _ small: PlanarImage, original: PlanarImage, setting: NNSetting, quality: Int,
        iterations: Int, store: ModelStore, device: ComputeDevice
    )
        throws -> (PlanarImage, Result<SmallImageRefiner.Outcome, SmallImageRefiner.Skip>)
    {
        let up = try ScalerNetworkGradient(try store.network(setting, .up))
        do {
            let refined = try SmallImageRefiner(iterations: iterations)
                .refine(
                    small, original: original, up: up, quality: quality,
                    codec: { candidate in
                        // The decoder's own view: nic's JPEG writer, then the reader ai-decode uses.
                        try ImageFile.read(data: try ImageFile.encode(candidate, format: .jpeg, quality: quality))
                    }, on: device)
            return (refined.image, .success(refined.outcome))
        } catch let skip as SmallImageRefiner.Skip {
            return (small, .failure(skip))
        }
    }

    static func chooseSetting(_ image: PlanarImage, _ o: EncodeOptions, _ store: ModelStore) throws -> NNSetting {
        if let id = o.settingID { return try store.setting(id: id) }
        let request = SettingSelector.Request(
            codec: o.codec, quality: o.quality.map(Double.init), scale: o.scale,
            originalWidth: image.width, originalHeight: image.height,
            contentType: o.contentType)
        return try SettingSelector(manifest: store.manifest).select(request)
    }

    /// What the device side did with an image.
    public struct DecodeResult: Sendable {
        public let image: PlanarImage
        public let plan: AIDecodePlan
        public let record: AIDataRecord?
    }

    /// Reads the image file at `path` and decodes it as `decode(_:options:store:device:)` does,
    /// but plans from the file's header first: an output size over `ImageLimits` (asked for,
    /// recorded, or twice a large picture) is refused before any pixel is decoded. The plan
    /// carried out is made again from the decoded picture.
    public static func decode(
        path: String, options: AIDecodePlan.Options, store: ModelStore?, device: ComputeDevice
    ) throws -> DecodeResult {
        let bytes = try readFileBytes(path: path, limit: ImageFile.maxFileBytes)
        if let header = ImageFile.header(data: bytes) {
            _ = try AIDecodePlan(
                found: findAIData(header.metadataText), imageWidth: header.width, imageHeight: header.height,
                manifest: store?.manifest, options: options)
        }
        let contents = try ImageFile.readWithMetadata(data: bytes, name: "'\(path)'")
        return try decode(contents, options: options, store: store, device: device)
    }

    /// Reads the AI data of `contents` (if any) and upscales by the plan it leads to.
    public static func decode(
        _ contents: ImageFileContents, options: AIDecodePlan.Options, store: ModelStore?,
        device: ComputeDevice
    ) throws -> DecodeResult {
        let found = findAIData(contents.metadataText)
        let image = contents.image
        let plan = try AIDecodePlan(
            found: found, imageWidth: image.width, imageHeight: image.height,
            manifest: store?.manifest, options: options)
        var record: AIDataRecord?
        if case .record(let r) = found { record = r }
        let upscaled = try AIUpscaler.upscale(image, plan: plan, store: store, device: device)
        return DecodeResult(image: upscaled.image, plan: upscaled.plan, record: record)
    }

    /// Interprets a metadata text: our record, a corrupt one, or unrelated text (= none).
    public static func findAIData(_ text: String?) -> AIDecodePlan.Found {
        guard let text else { return .none }
        guard text.hasPrefix(AIDataRecord.textPrefix) else { return .none }
        do { return .record(try AIDataRecord(text: text)) } catch let error as NICError {
            return .corrupt(error.message)
        } catch { return .corrupt("\(error)") }
    }
}

extension ImageFileFormat {
    /// The still-image codec a file of this format holds for the AI codec (JPEG, WebP, PNG); nil
    /// for the others.
    public var stillImageCodec: AIDataRecord.Codec? {
        switch self {
        case .jpeg: return .jpeg
        case .webp: return .webp
        case .png: return .png
        default: return nil
        }
    }
}

extension AIDataRecord.Codec {
    /// The file format that holds a small image coded with this codec (video codecs: a PNG to
    /// code later).
    var smallImageFileFormat: ImageFileFormat {
        switch self {
        case .jpeg: return .jpeg
        case .webp: return .webp
        default: return .png
        }
    }
}
