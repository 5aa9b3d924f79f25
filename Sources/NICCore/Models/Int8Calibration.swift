/// The activation ranges of a network's 8-bit inference, as training/aicodec/calibrate_int8.py
/// writes them (`<weights stem>.int8.json`): for each convolution in order, the magnitude its
/// input is quantised over (a high percentile of |x| on training images), and the convolutions
/// kept out of 8 bits (`float_convolutions`, indices from 0; their ranges go unused), which the
/// int8 body runs in bfloat16 or float32 (`Int8FloatLayers`).
public struct Int8Calibration: Sendable, Equatable {
    public let convolutionInputs: [Float]
    /// Ascending, each below `convolutionInputs.count`, at least one convolution left in 8 bits.
    public let floatConvolutions: [Int]

    public init(convolutionInputs: [Float], floatConvolutions: [Int] = []) throws {
        guard !convolutionInputs.isEmpty, convolutionInputs.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw NICError.model("int8 ranges must be positive and finite")
        }
        guard floatConvolutions.allSatisfy(convolutionInputs.indices.contains) else {
            throw NICError.model(
                "int8 ranges: float_convolutions \(floatConvolutions) must be convolution indices below \(convolutionInputs.count)")
        }
        guard Set(floatConvolutions).count == floatConvolutions.count, floatConvolutions.count < convolutionInputs.count else {
            throw NICError.model("int8 ranges: float_convolutions must name distinct convolutions and leave one in 8 bits")
        }
        self.convolutionInputs = convolutionInputs
        self.floatConvolutions = floatConvolutions.sorted()
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
        var kept: [Int] = []
        if let field = json["float_convolutions"] {
            guard let list = field.arrayValue, case let indices = list.compactMap(\.intValue), indices.count == list.count else {
                throw NICError.model("int8 ranges: float_convolutions must be a list of convolution indices")
            }
            kept = indices
        }
        try self.init(convolutionInputs: values.map(Float.init), floatConvolutions: kept)
    }
}

extension Int8Calibration {
    /// `body` (a float network's layers) in 8-bit integers over these ranges, with the
    /// convolutions they keep out of 8 bits run as `Int8FloatLayers` decides for `cpu` (nil when
    /// they keep none). Shared by every network that runs an int8 body.
    func int8Body(of body: Sequential, cpu: CPUFeatures) throws -> (body: Sequential, floatLayers: Int8FloatLayers?) {
        let floatLayers =
            floatConvolutions.isEmpty
            ? nil : Int8FloatLayers(convolutions: floatConvolutions, of: convolutionInputs.count, cpu: cpu)
        return (try body.quantized(convolutionInputs: convolutionInputs, float: floatLayers), floatLayers)
    }
}
