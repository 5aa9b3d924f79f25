import NICCore

/// A golden fixture written by training/make_golden.py: tensors plus the op and its parameters.
struct Fixture {
    let name: String
    let file: SafetensorsFile
    let op: String
    let params: JSONValue

    static var directory: String {
        let here = #filePath
        return String(here[..<here.lastIndex(of: "/")!]) + "/Fixtures"
    }

    init(_ name: String) throws {
        self.name = name
        file = try SafetensorsFile(path: Fixture.directory + "/" + name + ".safetensors")
        op = file.metadata["op"] ?? ""
        params = try JSONValue.parse(file.metadata["params"] ?? "{}")
    }

    func tensor(_ key: String, on device: ComputeDevice? = nil) throws -> Tensor {
        try Tensor(shape: file.shape(key)!, values: try file.floats(key))
    }

    func int(_ key: String) -> Int { params[key]?.intValue ?? 0 }
    func double(_ key: String) -> Double { params[key]?.numberValue ?? 0 }
    func bool(_ key: String) -> Bool { params[key]?.boolValue ?? false }
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// The case of a `NICError` by name (`"other"` for the rest), for asserting which error a call throws.
func errorKind(_ e: NICError) -> String {
    switch e {
    case .invalidArgument: return "invalidArgument"
    case .unsupportedFormat: return "unsupportedFormat"
    case .dimensions: return "dimensions"
    case .model: return "model"
    case .corruptData: return "corruptData"
    default: return "other"
    }
}
