import XCTest
@testable import NICCore

/// The one reader of exported layer lists: both ways of naming a convolution's tensors give the
/// same layer, and a list that does not fit its network is a model error.
final class LayerSpecTests: XCTestCase {
    let weights: SafetensorsFile = {
        let w = (0..<(4 * 2 * 9)).map { Float($0) / 72 }
        let b: [Float] = [0.1, -0.2, 0.3, -0.4]
        let bytes = SafetensorsFile.serialize([
            "c.weight": ([4, 2, 3, 3], w), "c.bias": ([4], b),
            "scaler_w": ([4, 2, 3, 3], w), "scaler_b": ([4], b),
        ])
        return try! SafetensorsFile(bytes: bytes)
    }()

    func spec(_ json: String) throws -> LayerSpec {
        try LayerSpec(try JSONValue.parse(json), weights, network: "a test network")
    }

    func testBothNamingStylesReadTheSameConvolution() throws {
        guard case .convolution(let a) = try spec(#"{"op":"conv2d","in":2,"out":4,"kernel":3,"stride":1,"padding":1,"name":"c"}"#),
            case .convolution(let b) = try spec(
                #"{"op":"conv2d","in_channels":2,"out_channels":4,"kernel":3,"weight":"scaler_w","bias_tensor":"scaler_b"}"#)
        else { return XCTFail("not read as convolutions") }
        XCTAssertEqual(a.weights, b.weights)
        XCTAssertEqual(a.bias, b.bias)
        XCTAssertEqual(
            [a.inChannels, a.outChannels, a.kernel, a.stride, a.padding], [b.inChannels, b.outChannels, b.kernel, b.stride, b.padding])
        XCTAssertEqual(a.activation, .none)
    }

    func testFusedActivationsAndDefaults() throws {
        guard
            case .convolution(let c) = try spec(
                #"{"op":"conv2d","in_channels":2,"out_channels":4,"kernel":3,"weight":"scaler_w","activation":"leaky_relu","negative_slope":0.2}"#
            )
        else { return XCTFail("not a convolution") }
        XCTAssertEqual(c.activation, .leakyReLU(0.2))
        XCTAssertNil(c.bias)
        XCTAssertEqual(c.padding, 1)
    }

    func testMismatchesAreModelErrors() throws {
        let bad = [
            #"{"op":"conv2d","in":3,"out":4,"kernel":3,"name":"c"}"#,  // shape differs
            #"{"op":"conv2d","in":2,"out":4,"kernel":3,"name":"missing"}"#,  // no such tensor
            #"{"op":"conv2d","in":2,"out":4,"kernel":3,"name":"c","activation":"gelu"}"#,  // unknown activation
            #"{"op":"conv2d","in":2,"kernel":3,"name":"c"}"#,  // no output channels
            #"{"op":"attention"}"#,
        ]
        for json in bad {
            XCTAssertThrowsError(try spec(json), json) { error in
                guard case NICError.model = error else { return XCTFail("\(json): \(error)") }
            }
        }
    }
}
