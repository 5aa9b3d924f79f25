/// The activation ranges of a network's 8-bit inference, as training/aicodec/calibrate_int8.py
/// writes them (`<weights stem>.int8.json`): for each convolution in order, the magnitude its
/// input is quantised over (a high percentile of |x| on training images).
public struct Int8Calibration: Sendable, Equatable {
    public let convolutionInputs: [Float]

    public init(convolutionInputs: [Float]) throws {
        guard !convolutionInputs.isEmpty, convolutionInputs.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw NICError.model("int8 ranges must be positive and finite")
        }
        self.convolutionInputs = convolutionInputs
    }

    /// Parses the file and checks that it was calibrated for the weights of `weightsSHA256`.
    public init(json: JSONValue, weightsSHA256: String) throws {
        guard json["format"]?.stringValue == "libnic-int8-ranges", json["version"]?.intValue == 1 else {
            throw NICError.model("not a libnic-int8-ranges version 1 file")
        }
        guard json["network_sha256"]?.stringValue?.lowercased() == weightsSHA256.lowercased() else {
            throw NICError.model("int8 ranges calibrated for other weights than these")
        }
        let entries = json["conv_inputs"]?.arrayValue ?? []
        let values = entries.compactMap(\.numberValue)
        guard values.count == entries.count else { throw NICError.model("int8 ranges: conv_inputs must be numbers") }
        try self.init(convolutionInputs: values.map(Float.init))
    }
}
