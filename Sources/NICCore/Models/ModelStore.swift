/// A model directory: its manifest and the networks loaded from it on first use.
/// Networks are verified against the manifest's sha256 and then shared read-only,
/// so one store serves any number of contexts and threads.
public final class ModelStore: Sendable {
    public let directory: String
    public let manifest: SettingsManifest
    private let loaded = PthreadLocked<[String: ScalerNetwork]>([:])
    private let loadedChroma = PthreadLocked<[String: ChromaNetwork]>([:])
    private let neural = PthreadLocked<[String: HyperpriorModel]>([:])
    private let neuralRanges = PthreadLocked<[NeuralCodecRange]?>(nil)
    private let liff = PthreadLocked<(network: LIFFNetwork, modelID: UInt32)?>(nil)
    private let residual = PthreadLocked<HyperpriorModel?>(nil)
    private let layeredBase = PthreadLocked<HyperpriorModel?>(nil)

    public init(directory: String) throws {
        self.directory = directory
        let text: [UInt8]
        do { text = try readFileBytes(path: directory + "/settings.json", limit: 1 << 20) } catch let error as NICError {
            throw NICError.model("model directory \(directory) is unusable: \(error.message)")
        }
        manifest = try SettingsManifest(json: try JSONValue.parse(text))
    }

    /// The models a decoder uses: those of `directory`, else none and the reason. A missing or
    /// broken model directory never stops decoding: every picture then takes the fallback of
    /// `AIDecodePlan` and says why. Encoding (which needs the down networks) uses `init` and fails.
    public static func forDecoding(directory: String?) -> (store: ModelStore?, problem: String?) {
        guard let directory else { return (nil, "no model directory was found") }
        do {
            return (try ModelStore(directory: directory), nil)
        } catch let error as NICError {
            return (nil, error.message)
        } catch {
            return (nil, "\(error)")
        }
    }

    public func setting(id: Int) throws -> NNSetting {
        guard let s = manifest.setting(id: id) else {
            throw NICError.invalidArgument("unknown NN setting ID \(id); the model directory's settings.json lists the available ones")
        }
        return s
    }

    /// The down (server side) or up (device side) network of a setting.
    public func network(_ setting: NNSetting, _ direction: ScalerNetwork.Direction) throws -> ScalerNetwork {
        guard let file = direction == .up ? setting.up : setting.down else {
            throw NICError.invalidArgument("setting \(setting.id) has no \(direction) network")
        }
        if let cached = loaded.withLock({ $0[file.weights] }) { return cached }
        let network = try load(file)
        loaded.withLock { $0[file.weights] = network }
        return network
    }

    /// A chroma network a setting names (`NNSetting.chromaNetwork(after:)`), with its int8 body
    /// when the entry has ranges (for its own weights: chroma entries name no separate int8 weights).
    public func chromaNetwork(_ file: NNSetting.NetworkFile) throws -> ChromaNetwork {
        if let cached = loadedChroma.withLock({ $0[file.weights] }) { return cached }
        let (weights, architecture) = try verifiedWeights(.init(weights: file.weights, sha256: file.sha256))
        let calibration = try file.int8.map { ranges in
            guard ranges.network == nil else {
                throw NICError.model("\(file.weights): a chroma network's int8 entry names no separate weights")
            }
            return try self.calibration(ranges, weightsSHA256: file.sha256)
        }
        let network: ChromaNetwork
        do {
            network = try ChromaNetwork(architecture: architecture, weights: weights, int8: calibration)
        } catch let error as NICError where calibration != nil {
            throw NICError.model("\(file.weights) with int8 ranges \(file.int8!.ranges): \(error.message)")
        }
        loadedChroma.withLock { $0[file.weights] = network }
        return network
    }

    /// The neural image codec's model for `quality`: `neural/codec.json` names the model of record
    /// (`{"model": FILE, "sha256": HEX}`), which codes every quality unless the optional `ranges`
    /// list gives the upper qualities models of their own (`{"from_quality": Q, "model": FILE,
    /// "sha256": HEX}`: from Q up to the next entry's Q; Q in 2...100, increasing). Each model is
    /// verified and loaded once.
    public func neuralCodecModel(quality: Int) throws -> HyperpriorModel {
        let ranges = try neuralCodecRanges()
        return try neuralCodecModel(ranges.last { $0.fromQuality <= quality } ?? ranges[0])
    }

    /// The neural codec model of this directory whose model ID (the first four bytes of its
    /// file's sha256, big-endian, as `.nic` files name it) is `id`: a model of `neural/codec.json`
    /// (`neuralCodecModel(quality:)`), else the layered base (`layeredBaseModel`), so that files
    /// coded with a base that was once the record still decode after the record changes. A model
    /// error, naming the models the directory holds, when it is none of them.
    public func neuralCodecModel(id: UInt32) throws -> HyperpriorModel {
        var held: [HyperpriorModel] = []
        var problems: [String] = []
        var candidates: [() throws -> HyperpriorModel] = []
        do {
            candidates = try neuralCodecRanges().map { range in { try self.neuralCodecModel(range) } }
        } catch let error as NICError {
            problems.append(error.message)
        }
        for candidate in candidates + [layeredBaseModel] {
            do {
                let model = try candidate()
                if model.modelID == id { return model }
                if !held.contains(where: { $0 === model }) { held.append(model) }
            } catch let error as NICError {
                problems.append(error.message)
            }
        }
        let names = held.map { "\(hex8($0.modelID)) (\($0.name))" }
        throw NICError.model(
            "this file was coded with neural model \(hex8(id)), which \(directory) does not hold"
                + (names.isEmpty ? "" : "; it holds " + names.joined(separator: " and "))
                + (problems.isEmpty ? "" : "; " + problems.joined(separator: "; ")))
    }

    /// One entry of `neural/codec.json`: the model that codes the qualities from `fromQuality` up.
    struct NeuralCodecRange: Sendable {
        var fromQuality: Int
        var model: JSONValue
    }

    /// The entries of `neural/codec.json`, the model of record first (from quality 1), checked
    /// and read once.
    private func neuralCodecRanges() throws -> [NeuralCodecRange] {
        if let cached = neuralRanges.withLock({ $0 }) { return cached }
        let ranges = try readNeuralCodecRanges()
        neuralRanges.withLock { $0 = ranges }
        return ranges
    }

    private func readNeuralCodecRanges() throws -> [NeuralCodecRange] {
        let document = try manifestDocument(folder: "neural", name: "codec.json", what: "neural codec")
        var ranges = [NeuralCodecRange(fromQuality: 1, model: document)]
        guard let list = document["ranges"] else { return ranges }
        guard let items = list.arrayValue, (1...Self.maxNeuralCodecRanges).contains(items.count) else {
            throw NICError.model("neural/codec.json: \"ranges\" must list 1...\(Self.maxNeuralCodecRanges) models")
        }
        for item in items {
            guard let from = item["from_quality"]?.intValue, from > ranges.last!.fromQuality, from <= 100 else {
                throw NICError.model(
                    "neural/codec.json: each of \"ranges\" needs a \"from_quality\" in 2...100, above the one before")
            }
            ranges.append(NeuralCodecRange(fromQuality: from, model: item))
        }
        return ranges
    }

    /// At most this many `ranges` in `neural/codec.json` (more models than qualities make no sense).
    static let maxNeuralCodecRanges = 8

    private func neuralCodecModel(_ range: NeuralCodecRange) throws -> HyperpriorModel {
        // Keyed by file and declared sha256: an entry naming a loaded file with another digest is
        // verified on its own (and refused).
        let key = (range.model["model"]?.stringValue ?? "") + "\u{0}" + (range.model["sha256"]?.stringValue ?? "")
        if let cached = neural.withLock({ $0[key] }) { return cached }
        let (name, bytes, digest) = try verifiedModel(
            range.model, manifestPath: directory + "/neural/codec.json", modelFolder: "neural", what: "neural codec")
        let model = try HyperpriorModel(bytes: bytes, name: name, digest: digest)
        neural.withLock { $0[key] = model }
        return model
    }

    /// The LIFF arbitrary-scale up-scaler of record, named by `liff/liff.json`
    /// (`{"model": FILE, "sha256": HEX}`), verified and loaded once.
    public func liffNetwork() throws -> LIFFNetwork { try liffModel().network }

    /// The LIFF network of record and its model ID (the first four bytes of its file's sha256,
    /// big-endian), as layered `.nic` files name it.
    public func liffModel() throws -> (network: LIFFNetwork, modelID: UInt32) {
        if let cached = liff.withLock({ $0 }) { return cached }
        let (file, bytes, digest) = try recordedModel(folder: "liff", manifest: "liff.json", what: "LIFF")
        let weights = try SafetensorsFile(bytes: bytes)
        guard let architecture = weights.metadata["architecture"] else {
            throw NICError.model("\(file) has no architecture in its metadata")
        }
        let network = try LIFFNetwork(architecture: try JSONValue.parse(architecture), weights: weights)
        let loaded = (network: network, modelID: digest[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        liff.withLock { $0 = loaded }
        return loaded
    }

    /// The residual codec of layered coding, named by `layered/residual.json`
    /// (`{"model": FILE, "sha256": HEX}`), verified and loaded once.
    public func residualCodecModel() throws -> HyperpriorModel {
        if let cached = residual.withLock({ $0 }) { return cached }
        let (file, bytes, digest) = try recordedModel(folder: "layered", manifest: "residual.json", what: "layered residual codec")
        let model = try HyperpriorModel(bytes: bytes, name: file, digest: digest)
        residual.withLock { $0 = model }
        return model
    }

    /// The image codec model of layered coding's base layer: the one its residual codec was
    /// trained on, named by the `base` entry of `layered/residual.json` (`{"model": FILE, "sha256":
    /// HEX}`, FILE in `neural/`), verified and loaded once. It need not be the image codec's
    /// model of record (`neuralCodecModel`), so a new record leaves layered coding unchanged.
    public func layeredBaseModel() throws -> HyperpriorModel {
        if let cached = layeredBase.withLock({ $0 }) { return cached }
        let (file, bytes, digest) = try recordedModel(
            folder: "layered", manifest: "residual.json", entry: "base", modelFolder: "neural", what: "layered base codec")
        let model = try HyperpriorModel(bytes: bytes, name: file, digest: digest)
        layeredBase.withLock { $0 = model }
        return model
    }

    /// The bytes and digest of the model file that `FOLDER/MANIFEST` (`{"model": FILE,
    /// "sha256": HEX}`, or that object under the key `entry`) names, in `modelFolder` (default
    /// `folder`), checked against that digest.
    private func recordedModel(
        folder: String, manifest name: String, entry: String? = nil, modelFolder: String? = nil, what: String
    ) throws -> (String, [UInt8], [UInt8]) {
        let document = try manifestDocument(folder: folder, name: name, what: what)
        return try verifiedModel(
            entry.map { document[$0] ?? .null } ?? document, manifestPath: directory + "/" + folder + "/" + name,
            entry: entry, modelFolder: modelFolder ?? folder, what: what)
    }

    /// The JSON of the manifest `FOLDER/NAME`.
    private func manifestDocument(folder: String, name: String, what: String) throws -> JSONValue {
        do {
            return try JSONValue.parse(try readFileBytes(path: directory + "/" + folder + "/" + name, limit: 1 << 16))
        } catch let error as NICError {
            throw NICError.model("no \(what) model in \(directory): \(error.message)")
        }
    }

    /// The name, bytes and digest of the model file that `manifest` (`{"model": FILE, "sha256":
    /// HEX}`, from the file `manifestPath`, under the key `entry` if given) names in `modelFolder`,
    /// checked against that digest.
    private func verifiedModel(
        _ manifest: JSONValue, manifestPath: String, entry: String? = nil, modelFolder: String, what: String
    ) throws -> (String, [UInt8], [UInt8]) {
        guard let file = manifest["model"]?.stringValue, !file.contains("/"), let sha = manifest["sha256"]?.stringValue else {
            throw NICError.model("\(manifestPath) lacks \(entry.map { "\"\($0)\": " } ?? "")\"model\" or \"sha256\"")
        }
        let bytes: [UInt8]
        do {
            bytes = try readFileBytes(path: directory + "/" + modelFolder + "/" + file, limit: SafetensorsFile.maxFileBytes)
        } catch let error as NICError {
            throw NICError.model("\(what) model unusable: \(error.message)")
        }
        let digest = SHA256.digest(bytes)
        guard SHA256.hex(digest: digest) == sha.lowercased() else {
            throw NICError.model("\(file) does not match its sha256 in \(manifestPath.split(separator: "/").last ?? "")")
        }
        return (file, bytes, digest)
    }

    /// A scaler network with its int8 body when the entry has ranges: built from the float
    /// weights, or from the entry's separate int8 weights, whose ranges they must then be.
    private func load(_ file: NNSetting.NetworkFile) throws -> ScalerNetwork {
        let (weights, architecture) = try verifiedWeights(.init(weights: file.weights, sha256: file.sha256))
        guard let ranges = file.int8 else { return try ScalerNetwork(architecture: architecture, weights: weights) }
        let int8Network = try ranges.network.map { try verifiedWeights($0) }
        let calibration = try self.calibration(ranges, weightsSHA256: ranges.network?.sha256 ?? file.sha256)
        do {
            return try ScalerNetwork(
                architecture: architecture, weights: weights, int8: calibration,
                int8Weights: int8Network.map { (architecture: $0.1, weights: $0.0) })
        } catch let error as NICError where ranges.network != nil {
            throw NICError.model("\(file.weights) with int8 weights \(ranges.network!.weights): \(error.message)")
        }
    }

    /// An int8 ranges file checked against its sha256 and parsed, calibrated for the weights of `weightsSHA256`.
    private func calibration(_ ranges: NNSetting.CalibrationFile, weightsSHA256: String) throws -> Int8Calibration {
        let bytes = try verifiedBytes(ranges.ranges, sha256: ranges.sha256, limit: 1 << 16)
        do {
            return try Int8Calibration(json: try JSONValue.parse(bytes), weightsSHA256: weightsSHA256)
        } catch let error as NICError {
            throw NICError.model("\(ranges.ranges): \(error.message)")
        }
    }

    /// A file of the model directory checked against its sha256 in the manifest.
    private func verifiedBytes(_ name: String, sha256: String, limit: Int) throws -> [UInt8] {
        let bytes: [UInt8]
        do { bytes = try readFileBytes(path: directory + "/" + name, limit: limit) } catch let error as NICError {
            throw NICError.model("model file unusable: \(error.message)")
        }
        guard SHA256.hex(bytes) == sha256.lowercased() else {
            throw NICError.model("\(name) does not match its sha256 in settings.json")
        }
        return bytes
    }

    /// A weights file checked against its sha256, and the architecture from its metadata.
    private func verifiedWeights(_ file: NNSetting.WeightsFile) throws -> (SafetensorsFile, JSONValue) {
        let bytes = try verifiedBytes(file.weights, sha256: file.sha256, limit: SafetensorsFile.maxFileBytes)
        let weights = try SafetensorsFile(bytes: bytes)
        guard let architecture = weights.metadata["architecture"] else {
            throw NICError.model("\(file.weights) has no architecture in its metadata")
        }
        return (weights, try JSONValue.parse(architecture))
    }
}
