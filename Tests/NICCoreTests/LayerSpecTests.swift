import XCTest
@testable import NICCore

/// The one reader of exported layer lists: both ways of naming a convolution's tensors give the
/// same layer, a list that does not fit its network is a model error, and residual blocks add
/// their body to their input and widen the synthesis' bands as far as they reach.
final class LayerSpecTests: XCTestCase {
    let weights: SafetensorsFile = {
        let w = (0..<(4 * 2 * 9)).map { Float($0) / 72 }
        let b: [Float] = [0.1, -0.2, 0.3, -0.4]
        let bytes = SafetensorsFile.serialize([
            "c.weight": ([4, 2, 3, 3], w), "c.bias": ([4], b),
            "scaler_w": ([4, 2, 3, 3], w), "scaler_b": ([4], b),
            "r.weight": ([2, 2, 3, 3], Array(w[0..<36])), "r.bias": ([2], [0.05, -0.05]),
            "g.beta": ([3], [1, 1, 1]), "g.gamma": ([3, 3], [0.1, 0, 0, 0, 0.1, 0, 0, 0, 0.1]),
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

    // MARK: - Residual blocks

    /// A shape-keeping body over the 2-channel tensors "r" (3x3).
    let block =
        #"{"op":"residual","layers":[{"op":"conv2d","in":2,"out":2,"kernel":3,"name":"r"},{"op":"leaky_relu"},"#
        + #"{"op":"conv2d","in":2,"out":2,"kernel":3,"name":"r"}]}"#

    func testResidualBlockAddsItsBodyToItsInput() throws {
        guard case .residual(let body) = try spec(block) else { return XCTFail("not a residual block") }
        XCTAssertEqual(body.count, 3)
        let device = try ComputeDevice(threads: 1)
        let x = try Tensor(shape: [1, 2, 5, 6], values: (0..<60).map { Float($0 % 7) / 3 - 1 })
        let out = try LayerList.sequential([try spec(block)]).forward(x, on: device).toArray(on: device)
        let inner = try LayerList.sequential(body).forward(x, on: device).toArray(on: device)
        let input = try x.toArray(on: device)
        XCTAssertGreaterThan(inner.map(abs).max() ?? 0, 0.1)
        for i in out.indices { XCTAssertEqual(out[i], input[i] + inner[i], accuracy: 1e-5) }
    }

    func testResidualBlocksThatCannotKeepTheShapeAreModelErrors() throws {
        let bad = [
            #"{"op":"residual","layers":[]}"#,
            #"{"op":"residual"}"#,
            #"{"op":"residual","layers":["# + block + "]}",  // nested
            #"{"op":"residual","layers":[{"op":"conv2d","in":2,"out":4,"kernel":3,"name":"c"}]}"#,  // 2 → 4 channels
            #"{"op":"residual","layers":[{"op":"conv2d","in":2,"out":2,"kernel":3,"stride":2,"name":"r"}]}"#,
            #"{"op":"residual","layers":[{"op":"conv2d","in":2,"out":2,"kernel":3,"padding":0,"name":"r"}]}"#,
            #"{"op":"residual","layers":[{"op":"leaky_relu"}]}"#,  // no convolution
            #"{"op":"residual","layers":[{"op":"pixel_shuffle","factor":2}]}"#,
            #"{"op":"residual","layers":[{"op":"gdn","name":"g","channels":3},{"op":"conv2d","in":2,"out":2,"kernel":3,"name":"r"}]}"#,
        ]
        for json in bad {
            XCTAssertThrowsError(try LayerList.sequential([try spec(json)]), json) { error in
                guard case NICError.model = error else { return XCTFail("\(json): \(error)") }
            }
        }
    }

    /// Bands of a synthesis with residual blocks give the one-pass result with the halo `bandHalo`
    /// gives, and not with one row less.
    func testResidualBlocksWidenTheSynthesisBands() throws {
        var values = LayerGradientTests.Values(seed: 5)
        func conv(_ cin: Int, _ cout: Int, kernel: Int, upsampling: Bool = false) -> LayerSpec {
            .convolution(
                .init(
                    inChannels: cin, outChannels: cout, kernel: kernel, stride: upsampling ? 2 : 1, padding: kernel / 2,
                    outputPadding: upsampling ? 1 : 0, transposed: upsampling,
                    weights: values.next(cin * cout * kernel * kernel, -0.3, 0.3),
                    bias: values.next(cout, -0.1, 0.1), activation: .none))
        }
        let block = LayerSpec.residual([conv(4, 4, kernel: 3), .leakyReLU(0.01), conv(4, 4, kernel: 3)])
        let plain = [conv(3, 4, kernel: 5, upsampling: true), conv(4, 3, kernel: 5, upsampling: true)]
        let deeper = [plain[0], block, block, block, plain[1]]
        XCTAssertEqual(LayerList.bandHalo(plain, minimum: 0), 2)  // 1 row, then 1 row at twice the resolution
        XCTAssertEqual(LayerList.bandHalo(plain, minimum: 4), 4)
        XCTAssertEqual(LayerList.bandHalo(deeper, minimum: 0), 5)  // and six 3x3 convolutions at twice the resolution
        XCTAssertEqual(LayerList.bandHalo([block] + plain, minimum: 0), 4)
        let net = try LayerList.sequential(deeper)
        let device = try ComputeDevice(threads: 2)
        let x = try Tensor(shape: [1, 3, 20, 6], values: values.next(360))
        let whole = try net.forward(x, on: device).toArray(on: device)
        func difference(halo: Int) throws -> Float {
            let banded = try net.forwardInBands(x, rows: 4, halo: halo, scale: (4, 1), outputChannels: 3, on: device)
            return zip(try banded.toArray(on: device), whole).map { abs($0 - $1) }.max() ?? .infinity
        }
        XCTAssertLessThan(try difference(halo: 5), 1e-5)
        XCTAssertGreaterThan(try difference(halo: 4), 1e-4)
        XCTAssertGreaterThan(try difference(halo: 2), 1e-3)
    }
}
