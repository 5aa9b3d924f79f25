/// The NN settings a model directory offers (`settings.json`), as documented in
/// docs/models.md. A setting pairs a down-scaling network (server side) with an
/// up-scaling network (device side) for one scale factor and one codec-quality bucket;
/// a generic setting has only an up network, for images that carry no AI data; a
/// restoration setting has only an up network at scale 1/1, which removes the codec's
/// artefacts from pictures coded at full resolution.
public struct NNSetting: Sendable, Equatable {
    public enum Kind: String, Sendable { case joint, generic, restoration }

    /// Weights in safetensors; the architecture travels in its metadata ("architecture").
    public struct NetworkFile: Sendable, Equatable {
        public let weights: String
        public let sha256: String
        /// The activation ranges for 8-bit inference (`Int8Calibration`), when calibrated.
        public var int8: CalibrationFile? = nil
    }

    /// A file beside a network's weights, checked against its sha256 like them.
    public struct CalibrationFile: Sendable, Equatable {
        public let ranges: String
        public let sha256: String
        /// Separate weights the int8 body is built from (quantisation-aware fine-tuned), when the
        /// entry names them; the ranges are then those weights' and the float body keeps its own.
        public var network: WeightsFile? = nil
    }

    /// A weights file and its sha256.
    public struct WeightsFile: Sendable, Equatable {
        public let weights: String
        public let sha256: String
    }

    /// A quality range for one codec, e.g. JPEG quality 75...100 or x265 CRF 0...25.
    public struct QualityRange: Sendable, Equatable {
        public let codec: Codec
        public let low: Double
        public let high: Double
    }

    public let id: Int
    public let name: String
    public let kind: Kind
    public let scaleNumerator: Int
    public let scaleDenominator: Int
    public let bucket: String
    public let qualityRanges: [QualityRange]
    /// The up network keeps up with video playback (manifest `realtime`; by default joint and
    /// restoration settings do, generic ones do not). Video chooses only these; stills prefer the others when both cover
    /// a quality, because larger up networks restore more.
    public let realTime: Bool
    public let down: NetworkFile?
    public let up: NetworkFile
    /// A luma-guided chroma network (`ChromaNetwork`) and the codecs it was trained behind.
    public struct ChromaNetworkFile: Sendable, Equatable {
        public let file: NetworkFile
        public let codecs: [Codec]
    }

    /// Chroma networks run after `up` on stills, one per codec family; without one for the small
    /// image's codec, chroma takes the bicubic route.
    public let chroma: [ChromaNetworkFile]
    /// Everything else the manifest says (training command, validation figures), kept for `nic settings`.
    public let details: JSONValue

    public var scale: Double { Double(scaleNumerator) / Double(scaleDenominator) }

    /// The chroma network for a small image coded by `codec`, nil when none was trained behind it
    /// (nor for an uncoded image). Without a recorded codec (a small image decoded by another
    /// tool) the first one listed is trusted with it.
    public func chromaNetwork(after codec: AIDataRecord.Codec?) -> NetworkFile? {
        guard let codec else { return chroma.first?.file }
        return chroma.first { $0.codecs.contains(codec) }?.file
    }

    /// True when `quality` of `codec` falls in this setting's range for that codec.
    public func covers(codec: Codec, quality: Double) -> Bool {
        qualityRanges.contains { $0.codec == codec && quality >= $0.low && quality <= $0.high }
    }
}

public struct SettingsManifest: Sendable {
    public let settings: [NNSetting]

    public init(json: JSONValue) throws {
        guard json["format"]?.stringValue == "libnic-settings", json["version"]?.intValue == 1 else {
            throw NICError.model("settings.json is not a libnic-settings version 1 manifest")
        }
        settings = try (json["settings"]?.arrayValue ?? []).map(SettingsManifest.setting)
        var seen = Set<Int>()
        for s in settings where !seen.insert(s.id).inserted {
            throw NICError.model("settings.json lists setting ID \(s.id) twice")
        }
    }

    public func setting(id: Int) -> NNSetting? { settings.first { $0.id == id } }

    private static func setting(_ j: JSONValue) throws -> NNSetting {
        guard let id = j["id"]?.intValue, (1...65535).contains(id),
            let kind = j["kind"]?.stringValue.flatMap(NNSetting.Kind.init(rawValue:)),
            let scale = j["scale"]?.arrayValue?.compactMap(\.intValue), scale.count == 2, scale[1] > 0, scale[0] >= scale[1],
            scale[0] <= 255, let up = try network(j["up"])
        else {
            throw NICError.model("settings.json has an incomplete setting: \(j.serialized.prefix(200))")
        }
        // Only a restoration setting keeps the size, and it always does.
        guard (kind == .restoration) == (scale[0] == scale[1]) else {
            throw NICError.model("setting \(id): a \(kind.rawValue) setting cannot have scale \(scale[0])/\(scale[1])")
        }
        // Codec names libnic does not know are ignored (a newer manifest may list more).
        let ranges = (j["quality_ranges"]?.objectValue ?? [:]).sorted { $0.key < $1.key }.compactMap {
            name, range -> NNSetting.QualityRange? in
            guard let codec = Codec(name: name), let r = range.arrayValue?.compactMap(\.numberValue), r.count == 2 else {
                return nil
            }
            return .init(codec: codec, low: r[0], high: r[1])
        }
        let down = try network(j["down"])
        guard kind == .joint || down == nil else { throw NICError.model("\(kind.rawValue) setting \(id) has a down network") }
        guard kind != .joint || down != nil else { throw NICError.model("joint setting \(id) has no down network") }
        return NNSetting(
            id: id, name: j["name"]?.stringValue ?? "setting \(id)", kind: kind,
            scaleNumerator: scale[0], scaleDenominator: scale[1], bucket: j["bucket"]?.stringValue ?? "",
            qualityRanges: ranges, realTime: j["realtime"]?.boolValue ?? (kind != .generic),
            down: down, up: up, chroma: try chromaNetworks(j["chroma"]), details: j)
    }

    private static func network(_ j: JSONValue?) throws -> NNSetting.NetworkFile? {
        guard let j, j != .null else { return nil }
        guard let weights = j["weights"]?.stringValue, let sha = j["sha256"]?.stringValue, isPlainFileName(weights) else {
            throw NICError.model("settings.json has a network entry without a plain file name and sha256")
        }
        return .init(weights: weights, sha256: sha, int8: try calibration(j["int8"]))
    }

    /// `"int8": {"ranges": FILE, "sha256": HEX}` of a network entry, optionally with
    /// `"network": {"weights": FILE, "sha256": HEX}` (separate int8 weights), or nothing.
    private static func calibration(_ j: JSONValue?) throws -> NNSetting.CalibrationFile? {
        guard let j, j != .null else { return nil }
        guard let ranges = j["ranges"]?.stringValue, let sha = j["sha256"]?.stringValue, isPlainFileName(ranges) else {
            throw NICError.model("settings.json has an int8 entry without a plain file name and sha256")
        }
        var network: NNSetting.WeightsFile? = nil
        if let n = j["network"], n != .null {
            guard let weights = n["weights"]?.stringValue, let wsha = n["sha256"]?.stringValue, isPlainFileName(weights) else {
                throw NICError.model("settings.json has int8 weights (\"network\") without a plain file name and sha256")
            }
            network = .init(weights: weights, sha256: wsha)
        }
        return .init(ranges: ranges, sha256: sha, network: network)
    }

    /// `"chroma": [{"weights", "sha256", "codecs": [...]}, ...]`, or nothing.
    private static func chromaNetworks(_ j: JSONValue?) throws -> [NNSetting.ChromaNetworkFile] {
        guard let j, j != .null else { return [] }
        guard let entries = j.arrayValue else { throw NICError.model("settings.json: \"chroma\" must be a list of networks") }
        return try entries.map { entry in
            guard let file = try network(entry),
                let codecs = entry["codecs"]?.arrayValue?.compactMap({ $0.stringValue.flatMap(Codec.init(name:)) }),
                !codecs.isEmpty
            else {
                throw NICError.model("settings.json has a chroma network without weights, sha256 or codecs")
            }
            return .init(file: file, codecs: codecs)
        }
    }

    /// Model files live in the model directory itself: no paths, so a manifest cannot point elsewhere.
    static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && !name.contains("/") && name != "." && name != ".."
    }
}
