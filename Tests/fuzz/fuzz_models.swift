// Model files: the settings manifest (settings.json → JSONValue.parse → SettingsManifest) and
// safetensors weights (SafetensorsFile and every tensor it lists, then the networks built from
// them: ScalerNetwork, ChromaNetwork, HyperpriorModel). The first input byte chooses:
// 0 = manifest, 1 = safetensors reader, 2 = safetensors reader and network construction
// (other values: their remainder by 3). The manifest's JSON must survive serialise and parse.
import Glibc
@testable import NICCore

func fuzzSetUp() {
    fuzzWriteSeedsIfAsked(modelSeeds)
}

func fuzzOne(_ input: [UInt8]) {
    guard let (mode, body) = fuzzModeAndBody(input) else { return }
    switch mode % 3 {
    case 0: fuzzManifest(body)
    default: fuzzSafetensors(body, buildNetworks: mode % 3 == 2)
    }
}

func fuzzManifest(_ bytes: [UInt8]) {
    guard let json = try? JSONValue.parse(bytes) else { return }
    guard let again = try? JSONValue.parse(json.serialized), again == json else {
        fuzzFail("JSON does not survive serialise and parse: \(json.serialized.prefix(200))")
    }
    guard let manifest = try? SettingsManifest(json: json) else { return }
    for setting in manifest.settings {
        guard manifest.setting(id: setting.id) != nil else { fuzzFail("setting \(setting.id) not found by ID") }
        _ = setting.scale
        for codec: AIDataRecord.Codec in [.jpeg, .webp, .h264, .hevc, .png, .other] {
            _ = setting.chromaNetwork(after: codec)
            _ = setting.covers(codec: codec, quality: 50)
        }
        _ = setting.chromaNetwork(after: nil)
    }
}

func fuzzSafetensors(_ bytes: [UInt8], buildNetworks: Bool) {
    guard let file = try? SafetensorsFile(bytes: bytes) else { return }
    for (name, entry) in file.entries {
        guard file.shape(name) == entry.shape else { fuzzFail("shape of \(name) differs") }
        let count = entry.shape.reduce(1, *)
        if entry.dtype == "I32" {
            guard let values = try? file.ints(name, shape: entry.shape), values.count == count else {
                fuzzFail("int32 tensor \(name) does not read back with its shape")
            }
        } else {
            guard let values = try? file.floats(name, shape: entry.shape), values.count == count else {
                fuzzFail("float tensor \(name) does not read back with its shape")
            }
        }
    }
    guard buildNetworks else { return }
    if let text = file.metadata["architecture"], let architecture = try? JSONValue.parse(Array(text.utf8)) {
        _ = try? ScalerNetwork(architecture: architecture, weights: file)
        _ = try? ChromaNetwork(architecture: architecture, weights: file)
    }
    _ = try? HyperpriorModel(bytes: bytes, name: "fuzz input")
}

/// The shipped manifest cut to two settings with only the fields the reader uses, a few
/// hand-made manifests, a shipped up network (as `nic` loads it) and small generated files.
func modelSeeds() throws -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = []
    guard let manifestBytes = fuzzReadFile(fuzzModelDirectory + "/settings.json") else {
        fuzzFail("no settings.json in \(fuzzModelDirectory) (set NIC_FUZZ_MODELS)")
    }
    let manifest = try JSONValue.parse(manifestBytes)
    let kept = ["id", "name", "kind", "scale", "bucket", "quality_ranges", "realtime", "down", "up", "chroma"]
    var settings: [JSONValue] = []
    for setting in manifest["settings"]?.arrayValue ?? [] {
        guard let members = setting.objectValue else { continue }
        settings.append(.object(members.filter { kept.contains($0.key) }))
    }
    func manifestSeed(_ list: [JSONValue]) -> [UInt8] {
        [0]
            + Array(
                JSONValue.object([
                    "format": .string("libnic-settings"), "version": .number(1),
                    "settings": .array(list),
                ]).serialized.utf8)
    }
    if let joint = settings.first(where: { $0["kind"]?.stringValue == "joint" }) {
        seeds.append(("manifest-joint", manifestSeed([joint])))
    }
    if let generic = settings.first(where: { $0["kind"]?.stringValue == "generic" }) {
        seeds.append(("manifest-generic", manifestSeed([generic])))
    }
    if let chroma = settings.first(where: { $0["chroma"] != nil }) { seeds.append(("manifest-chroma", manifestSeed([chroma]))) }
    seeds.append(("manifest-first-three", manifestSeed(Array(settings.prefix(3)))))
    seeds.append(("json-escapes", [0] + Array(#"{"a":[1.5e-3,-0,true,false,null,"\u00e9\n\"\\\/"],"b":{}}"#.utf8)))

    for name in ["x2t_high_up.safetensors"] {
        guard let weights = fuzzReadFile(fuzzModelDirectory + "/" + name) else { fuzzFail("no \(name) in \(fuzzModelDirectory)") }
        seeds.append(("safetensors-\(name)", [1] + weights))
        seeds.append(("network-\(name)", [2] + weights))
    }
    let small = SafetensorsFile.serialize(
        ["a": (shape: [2, 3], values: [1, 2, 3, 4, 5, 6]), "b": (shape: [], values: [7])],
        metadata: ["format": "x", "architecture": "{}"])
    seeds.append(("safetensors-small", [1] + small))
    return seeds
}
