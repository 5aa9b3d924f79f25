/// The codecs of the AI codec, in every layer: the AI data record's codec field (its wire code),
/// the names settings.json and the `nic` tool use, the FFmpeg encoder of a video codec, the file
/// format that holds a small image, and what a codec's quality number measures.
public typealias Codec = AIDataRecord.Codec

extension AIDataRecord.Codec {
    /// The codecs a small image can be coded with (stills: JPEG, WebP, PNG; video: H.264, HEVC).
    public static let smallImageCodecs: [Codec] = [.jpeg, .webp, .png, .h264, .hevc]

    /// The codec's name: in settings.json (`quality_ranges`, chroma `codecs`) and on the command
    /// line. nil for codes that have no name.
    public var name: String? {
        switch self {
        case .uncompressed: return "none"
        case .jpeg: return "jpeg"
        case .png: return "png"
        case .webp: return "webp"
        case .h264: return "x264"
        case .hevc: return "x265"
        case .other, .unknown: return nil
        }
    }

    /// A codec from its name or an alias (case-insensitive): jpeg or jpg, webp, png, x264, h264
    /// or libx264, x265, hevc, h265 or libx265.
    public init?(name: String) {
        switch name.lowercased() {
        case "jpeg", "jpg": self = .jpeg
        case "webp": self = .webp
        case "png": self = .png
        case "x264", "h264", "libx264": self = .h264
        case "x265", "hevc", "h265", "libx265": self = .hevc
        default: return nil
        }
    }

    /// The FFmpeg encoder libnic codes a video codec with; nil for image codecs.
    public var videoEncoder: String? {
        switch self {
        case .h264: return "libx264"
        case .hevc: return "libx265"
        default: return nil
        }
    }

    /// What the codec's quality setting measures in an AI data record.
    public var qualityKind: AIDataRecord.QualityKind {
        switch self {
        case .jpeg, .webp: return .quality
        case .h264, .hevc: return .crf
        default: return .unspecified
        }
    }
}
