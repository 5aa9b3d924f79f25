import ArgumentParser
import NICCore
import NICBench

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the library and backend versions.")

    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let info: [String: JSONValue] = [
            "version": .string(LibraryInfo.version),
            "onednn": .string(ConvBenchmark.oneDNNVersion),
            "isa": .string(PeakFLOPS.instructionSet),
        ]
        if json { print(JSONValue.object(info).serialized); return }
        print("nic \(LibraryInfo.version) (oneDNN \(ConvBenchmark.oneDNNVersion), \(PeakFLOPS.instructionSet))")
    }
}
