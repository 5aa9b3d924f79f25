import ArgumentParser
import NICCore

struct SettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings", abstract: "List the NN settings of the model directory.")

    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try runReportingErrors {
            let store = try modelOptions.store()
            if json {
                print(
                    JSONValue.object([
                        "model_dir": .string(store.directory),
                        "settings": .array(store.manifest.settings.map(\.summary)),
                    ]).serialized)
                return
            }
            print("models: \(store.directory)")
            for s in store.manifest.settings {
                let ranges = s.qualityRanges.map { "\($0.codec.name ?? "?") \(rounded($0.low, 2))-\(rounded($0.high, 2))" }.joined(
                    separator: ", ")
                let use = s.kind == .restoration ? "video" : s.realTime ? "stills+video" : "stills"
                let codecs = s.chroma.flatMap(\.codecs).compactMap(\.name)
                let chroma = codecs.isEmpty ? "" : "; chroma networks after \(codecs.joined(separator: ", "))"
                print("  \(s.id)\t\(s.name)\tx\(fmt(s.scale))\t\(s.kind.rawValue)\t\(s.bucket)\t\(use)\t\(ranges)\(chroma)")
            }
        }
    }
}

extension NNSetting {
    /// The manifest entry plus the derived fields scripts rely on (`id`, `scale` as a number,
    /// `realtime` with its default applied).
    var summary: JSONValue {
        var fields = details.objectValue ?? [:]
        fields["id"] = .number(Double(id))
        fields["scale"] = .number(scale)
        fields["scale_rational"] = .array([.number(Double(scaleNumerator)), .number(Double(scaleDenominator))])
        fields["realtime"] = .bool(realTime)
        return .object(fields)
    }
}
