/// The "AI data" of one still image or video frame: which NN setting made the small image,
/// how the small image relates to the original, and how it was coded.
///
/// docs/ai-data.md is the specification; this type, its byte form (`AIDataRecord+Bytes.swift`)
/// and its text form (`AIDataRecord+Text.swift`) implement exactly that. Codes this reader does
/// not know (codec, quality kind, content type, flag bits) are kept, so nothing is lost when a
/// record is parsed and written again.
public struct AIDataRecord: Equatable, Sendable {
    /// Codec of the small (downscaled) image. Equality compares the byte code.
    public enum Codec: Equatable, Sendable {
        case uncompressed, jpeg, png, webp, h264, hevc, other
        case unknown(UInt8)

        public init(rawValue: UInt8) {
            switch rawValue {
            case 0: self = .uncompressed
            case 1: self = .jpeg
            case 2: self = .png
            case 3: self = .webp
            case 4: self = .h264
            case 5: self = .hevc
            case 255: self = .other
            default: self = .unknown(rawValue)
            }
        }

        public var rawValue: UInt8 {
            switch self {
            case .uncompressed: return 0
            case .jpeg: return 1
            case .png: return 2
            case .webp: return 3
            case .h264: return 4
            case .hevc: return 5
            case .other: return 255
            case .unknown(let code): return code
            }
        }

        public static func == (a: Codec, b: Codec) -> Bool { a.rawValue == b.rawValue }

    }

    /// What `qualityValue` measures. Equality compares the byte code.
    public enum QualityKind: Equatable, Sendable {
        /// No quality information; `qualityValue` is 0.
        case unspecified
        /// The codec's 0–100 quality scale (JPEG, WebP), in hundredths: 0...10000.
        case quality
        /// Constant rate factor (x264, x265), in hundredths: -1200...10000.
        case crf
        /// Quantisation parameter, in hundredths: -1200...10000.
        case qp
        /// Target bit rate in kbit/s: 1...10_000_000.
        case bitrateKbps
        case unknown(UInt8)

        public init(rawValue: UInt8) {
            switch rawValue {
            case 0: self = .unspecified
            case 1: self = .quality
            case 2: self = .crf
            case 3: self = .qp
            case 4: self = .bitrateKbps
            default: self = .unknown(rawValue)
            }
        }

        public var rawValue: UInt8 {
            switch self {
            case .unspecified: return 0
            case .quality: return 1
            case .crf: return 2
            case .qp: return 3
            case .bitrateKbps: return 4
            case .unknown(let code): return code
            }
        }

        /// The allowed `qualityValue`s; nil means any (unknown kinds).
        public var valueRange: ClosedRange<Int32>? {
            switch self {
            case .unspecified: return 0...0
            case .quality: return 0...10000
            case .crf, .qp: return -1200...10000
            case .bitrateKbps: return 1...10_000_000
            case .unknown: return nil
            }
        }

        public static func == (a: QualityKind, b: QualityKind) -> Bool { a.rawValue == b.rawValue }
    }

    /// Content type the writer chose the setting for. Equality compares the byte code.
    public enum ContentType: Equatable, Sendable {
        case unspecified, natural, screen, animation
        case unknown(UInt8)

        public init(rawValue: UInt8) {
            switch rawValue {
            case 0: self = .unspecified
            case 1: self = .natural
            case 2: self = .screen
            case 3: self = .animation
            default: self = .unknown(rawValue)
            }
        }

        public var rawValue: UInt8 {
            switch self {
            case .unspecified: return 0
            case .natural: return 1
            case .screen: return 2
            case .animation: return 3
            case .unknown(let code): return code
            }
        }

        public static func == (a: ContentType, b: ContentType) -> Bool { a.rawValue == b.rawValue }
    }

    /// Flag bits; bits 3–7 are reserved (written as 0, ignored by readers, kept by this type).
    public struct Flags: OptionSet, Equatable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// Only luma went through the networks; chroma is resampled by a classic filter.
        public static let lumaOnly = Flags(rawValue: 1 << 0)
        /// A reader without this setting may use its generic AI up-scaling setting instead of Lanczos.
        public static let genericFallbackAllowed = Flags(rawValue: 1 << 1)
        /// Marks a repeat record (video SEI, docs/ai-data.md §5.1); never set in a full record.
        public static let repeatRecord = Flags(rawValue: 1 << 2)
    }

    /// NN setting that made the small image; 0 means none (a classic downscale).
    public var settingID: UInt16
    /// Scale factor original/downscaled as an exact fraction, e.g. 3/2; numerator >= denominator >= 1.
    public var scaleNumerator: UInt8
    public var scaleDenominator: UInt8
    /// Sizes in pixels, 1...16384; the downscaled size is at most the original size.
    public var originalWidth: Int
    public var originalHeight: Int
    public var downscaledWidth: Int
    public var downscaledHeight: Int
    public var codec: Codec
    public var qualityKind: QualityKind
    /// In the unit `qualityKind` gives, within its `valueRange`.
    public var qualityValue: Int32
    public var contentType: ContentType
    public var flags: Flags

    public init(
        settingID: UInt16, scaleNumerator: UInt8, scaleDenominator: UInt8,
        originalWidth: Int, originalHeight: Int, downscaledWidth: Int, downscaledHeight: Int,
        codec: Codec = .uncompressed, qualityKind: QualityKind = .unspecified, qualityValue: Int32 = 0,
        contentType: ContentType = .unspecified, flags: Flags = []
    ) {
        self.settingID = settingID
        self.scaleNumerator = scaleNumerator
        self.scaleDenominator = scaleDenominator
        self.originalWidth = originalWidth
        self.originalHeight = originalHeight
        self.downscaledWidth = downscaledWidth
        self.downscaledHeight = downscaledHeight
        self.codec = codec
        self.qualityKind = qualityKind
        self.qualityValue = qualityValue
        self.contentType = contentType
        self.flags = flags
    }

    /// The scale factor as a number, e.g. 1.5.
    public var scale: Double { Double(scaleNumerator) / Double(scaleDenominator) }

    public static let maxDimension = 16384

    /// SEI user-data-unregistered UUID 392df699-481f-491e-9525-3f00f4c4e7d9, in stream order.
    public static let seiUUID: [UInt8] = [
        0x39, 0x2D, 0xF6, 0x99, 0x48, 0x1F, 0x49, 0x1E, 0x95, 0x25, 0x3F, 0x00, 0xF4, 0xC4, 0xE7, 0xD9,
    ]

    /// What is out of range, or nil when every field is valid.
    var rangeProblem: String? {
        if flags.contains(.repeatRecord) { return "flag bit 2 (repeat record) is set in a full record" }
        guard scaleDenominator >= 1, scaleNumerator >= scaleDenominator else {
            return "scale \(scaleNumerator)/\(scaleDenominator) must satisfy numerator >= denominator >= 1"
        }
        let sizes = [
            ("original width", originalWidth), ("original height", originalHeight),
            ("downscaled width", downscaledWidth), ("downscaled height", downscaledHeight),
        ]
        for (name, value) in sizes where !(1...Self.maxDimension).contains(value) {
            return "\(name) \(value) is outside 1...\(Self.maxDimension)"
        }
        guard downscaledWidth <= originalWidth, downscaledHeight <= originalHeight else {
            return "downscaled size \(downscaledWidth)x\(downscaledHeight) exceeds original size \(originalWidth)x\(originalHeight)"
        }
        if let range = qualityKind.valueRange, !range.contains(qualityValue) {
            return "quality value \(qualityValue) is outside \(range) for quality kind \(qualityKind.rawValue)"
        }
        return nil
    }
}
