import XCTest
@testable import NICCore

/// Input gradients of the engine's layers (weights fixed): vector–Jacobian products checked
/// against finite differences of the forward pass, and small codec-shaped stacks against
/// PyTorch's autograd (fixtures from training/make_golden.py).
final class LayerGradientTests: XCTestCase {
    /// Deterministic values in [lo, hi) (a 64-bit LCG; the top bits are the value).
    struct Values {
        var state: UInt64
        init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
        mutating func next(_ count: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
            (0..<count).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return lo + (hi - lo) * Float(state >> 40) / Float(1 << 24)
            }
        }
    }

    func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
    func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// A function of a tensor with its vector–Jacobian product (x, g) ↦ Jᵀg.
    struct Function {
        let name: String
        let forward: (Tensor) throws -> Tensor
        let inputGradient: (Tensor, Tensor) throws -> Tensor
    }

    func function(_ layer: any InputGradientLayer, _ name: String, on device: ComputeDevice) -> Function {
        Function(
            name: name, forward: { try layer.forward($0, on: device) },
            inputGradient: { x, g in
                try layer.inputGradient(input: x, output: try layer.forward(x, on: device), outputGradient: g, on: device)
            })
    }

    func function(_ net: Sequential, _ name: String, on device: ComputeDevice) -> Function {
        Function(
            name: name, forward: { try net.forward($0, on: device) },
            inputGradient: { x, g in try net.forwardForGradient(x, on: device).inputGradient(outputGradient: g) })
    }

    func check(
        _ layer: any InputGradientLayer, _ name: String, inputShape: [Int], eps: Float = 1e-2, tolerance: Double = 1e-3,
        seed: UInt64, on device: ComputeDevice, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        try check(
            function(layer, name, on: device), inputShape: inputShape, eps: eps, tolerance: tolerance, seed: seed, on: device,
            file: file, line: line)
    }

    func check(
        _ net: Sequential, _ name: String, inputShape: [Int], eps: Float = 1e-2, tolerance: Double = 1e-3,
        seed: UInt64, on device: ComputeDevice, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        try check(
            function(net, name, on: device), inputShape: inputShape, eps: eps, tolerance: tolerance, seed: seed, on: device,
            file: file, line: line)
    }

    /// ⟨g, J·v⟩ (central difference of ⟨g, f⟩ along v) against ⟨Jᵀg, v⟩, and central differences
    /// along a few single inputs (corners, edges and the middle) against the matching entries of Jᵀg.
    /// `eps` is the step; `tolerance` is relative to the magnitude of the terms summed.
    func check(
        _ f: Function, inputShape: [Int], eps: Float = 1e-2, tolerance: Double = 1e-3, seed: UInt64, on device: ComputeDevice,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        var values = Values(seed: seed)
        let x = values.next(count(inputShape), -2, 2), v = values.next(count(inputShape))
        let y = try f.forward(try Tensor(shape: inputShape, values: x))
        let g = values.next(y.count)
        let gradient = try f.inputGradient(try Tensor(shape: inputShape, values: x), try Tensor(shape: y.shape, values: g))
        XCTAssertEqual(gradient.shape, inputShape, f.name, file: file, line: line)
        let gx = try gradient.toArray(on: device)
        XCTAssertTrue(gx.allSatisfy(\.isFinite), "\(f.name): gradient not finite", file: file, line: line)

        func loss(_ point: [Float]) throws -> Double {
            dot(try f.forward(try Tensor(shape: inputShape, values: point)).toArray(on: device), g)
        }
        func moved(_ t: Float, along d: [Float]) -> [Float] { zip(x, d).map { $0 + t * $1 } }

        let numeric = (try loss(moved(eps, along: v)) - loss(moved(-eps, along: v))) / Double(2 * eps)
        let analytic = dot(gx, v)
        let scale = zip(gx, v).reduce(0) { $0 + abs(Double($1.0) * Double($1.1)) }
        XCTAssertEqual(
            analytic, numeric, accuracy: tolerance * max(1, scale),
            "\(f.name): ⟨Jᵀg, v⟩ \(analytic) vs ⟨g, Jv⟩ \(numeric)", file: file, line: line)

        // A single input's difference quotient also carries the float32 rounding of Σ y·g over
        // the whole output, divided by the step.
        let rounding = 1e-8 * zip(try y.toArray(on: device), g).reduce(0) { $0 + abs(Double($1.0) * Double($1.1)) } / Double(eps)
        let (h, w) = (inputShape[2], inputShape[3]), plane = h * w, channels = inputShape[1]
        let picks = [0, w - 1, plane - 1, (h / 2) * w + w / 2, (channels - 1) * plane + w, count(inputShape) - 1]
        for i in picks {
            var unit = [Float](repeating: 0, count: x.count)
            unit[i] = 1
            let numeric = (try loss(moved(eps, along: unit)) - loss(moved(-eps, along: unit))) / Double(2 * eps)
            XCTAssertEqual(
                Double(gx[i]), numeric, accuracy: tolerance * max(1, abs(numeric)) + rounding,
                "\(f.name): ∂/∂x[\(i)] \(gx[i]) vs \(numeric)", file: file, line: line)
        }
    }

    func conv(_ cin: Int, _ cout: Int, kernel k: Int, stride: Int, seed: UInt64, activation: FusedActivation = .none) throws -> Conv2d {
        var values = Values(seed: seed)
        let scale = (2 / Float(cin * k * k)).squareRoot()
        return try Conv2d(
            inChannels: cin, outChannels: cout, kernel: k, stride: stride, padding: k / 2,
            weights: values.next(cout * cin * k * k).map { $0 * scale * 1.7 }, bias: values.next(cout, -0.1, 0.1),
            activation: activation)
    }

    func deconv(_ cin: Int, _ cout: Int, seed: UInt64, activation: FusedActivation = .none) throws -> ConvTranspose2d {
        var values = Values(seed: seed)
        let scale = (2 / Float(cin * 25 / 4)).squareRoot()
        return try ConvTranspose2d(
            inChannels: cin, outChannels: cout, kernel: 5, stride: 2, padding: 2, outputPadding: 1,
            weights: values.next(cin * cout * 25).map { $0 * scale * 1.7 }, bias: values.next(cout, -0.1, 0.1),
            activation: activation)
    }

    /// γ with off-diagonal terms as large as a trained model's, not symmetric.
    func gdn(_ c: Int, inverse: Bool, seed: UInt64) throws -> GDN {
        var values = Values(seed: seed)
        let gamma = values.next(c * c, 0, 0.1).enumerated().map { $0.offset % (c + 1) == 0 ? $0.element + 0.1 : $0.element }
        return try GDN(beta: values.next(c, 0.5, 1), gamma: gamma, inverse: inverse)
    }

    func testConvolutions() throws {
        for threads in [1, 2] {
            let device = try ComputeDevice(threads: threads)
            try check(conv(5, 6, kernel: 5, stride: 2, seed: 1), "conv 5x5/2", inputShape: [1, 5, 9, 7], seed: 11, on: device)
            try check(conv(6, 4, kernel: 3, stride: 1, seed: 2), "conv 3x3/1", inputShape: [1, 6, 9, 7], seed: 12, on: device)
            try check(conv(8, 8, kernel: 5, stride: 2, seed: 3), "conv 5x5/2, batch 2", inputShape: [2, 8, 8, 11], seed: 13, on: device)
            let fused = try conv(4, 6, kernel: 3, stride: 1, seed: 4, activation: .leakyReLU(0.1))
            try check(fused, "conv 3x3 + leaky ReLU", inputShape: [1, 4, 9, 7], eps: 1e-3, seed: 14, on: device)
        }
    }

    func testTransposedConvolutions() throws {
        for threads in [1, 2] {
            let device = try ComputeDevice(threads: threads)
            try check(deconv(6, 5, seed: 5), "deconv 6→5", inputShape: [1, 6, 9, 7], seed: 15, on: device)
            try check(deconv(8, 16, seed: 6), "deconv 8→16", inputShape: [1, 8, 5, 6], seed: 16, on: device)
            let fused = try deconv(5, 3, seed: 7, activation: .leakyReLU(0.01))
            try check(fused, "deconv + leaky ReLU", inputShape: [1, 5, 7, 9], eps: 1e-3, seed: 17, on: device)
        }
    }

    func testGDN() throws {
        let device = try ComputeDevice(threads: 2)
        for inverse in [false, true] {
            let name = inverse ? "IGDN" : "GDN"
            for c in [6, 8] {
                let layer = try gdn(c, inverse: inverse, seed: UInt64(20 + c))
                try check(layer, "\(name) \(c) plain", inputShape: [1, c, 9, 7], seed: 21, on: device)
                // After a convolution, x arrives in oneDNN's channel-blocked layout.
                let net = Sequential([try conv(3, c, kernel: 3, stride: 1, seed: 22), layer])
                try check(net, "conv → \(name) \(c)", inputShape: [1, 3, 9, 7], seed: 23, on: device)
            }
        }
    }

    func testActivations() throws {
        let device = try ComputeDevice(threads: 1)
        for kind in [FusedActivation.leakyReLU(0.01), .leakyReLU(0.2), .relu, .none] {
            // Steps far smaller than the distance of the inputs to the kink at 0.
            try check(Activation(kind), "\(kind)", inputShape: [1, 4, 9, 7], eps: 1e-4, tolerance: 2e-3, seed: 31, on: device)
            let net = Sequential([try conv(3, 5, kernel: 3, stride: 1, seed: 32), Activation(kind)])
            try check(net, "conv → \(kind)", inputShape: [1, 3, 9, 7], eps: 1e-4, tolerance: 2e-3, seed: 33, on: device)
        }
        XCTAssertThrowsError(
            try Activation(.leakyReLU(-0.5)).inputGradient(
                input: try Tensor(zeros: [1, 1, 2, 2]), output: try Tensor(zeros: [1, 1, 2, 2]),
                outputGradient: try Tensor(zeros: [1, 1, 2, 2]), on: device))
    }

    /// Stacks shaped like the codec's synthesis, analysis and hyper transforms, on both thread counts.
    func testStacks() throws {
        for threads in [1, 2] {
            let device = try ComputeDevice(threads: threads)
            let synthesis = Sequential([
                try deconv(6, 5, seed: 41), try gdn(5, inverse: true, seed: 42), try deconv(5, 8, seed: 43),
                try gdn(8, inverse: true, seed: 44), try deconv(8, 3, seed: 45),
            ])
            try check(synthesis, "synthesis", inputShape: [1, 6, 5, 7], seed: 46, on: device)
            let block = Residual(
                Sequential([
                    try conv(5, 5, kernel: 3, stride: 1, seed: 47), Activation(.leakyReLU(0.01)),
                    try conv(5, 5, kernel: 3, stride: 1, seed: 48),
                ]))
            let deeper = Sequential([try deconv(6, 5, seed: 41), try gdn(5, inverse: true, seed: 42), block, try deconv(5, 3, seed: 49)])
            try check(deeper, "synthesis with a residual block", inputShape: [1, 6, 5, 7], seed: 50, on: device)
            try check(block, "residual block", inputShape: [1, 5, 6, 7], seed: 57, on: device)
            let analysis = Sequential([
                try conv(3, 6, kernel: 5, stride: 2, seed: 51), try gdn(6, inverse: false, seed: 52),
                try conv(6, 8, kernel: 5, stride: 2, seed: 53), try gdn(8, inverse: false, seed: 54),
                try conv(8, 5, kernel: 3, stride: 1, seed: 55),
            ])
            try check(analysis, "analysis", inputShape: [1, 3, 19, 27], seed: 56, on: device)
            let hyper = Sequential([
                try conv(5, 6, kernel: 3, stride: 1, seed: 61), Activation(.leakyReLU(0.01)),
                try conv(6, 6, kernel: 5, stride: 2, seed: 62), Activation(.leakyReLU(0.01)), try deconv(6, 7, seed: 63),
            ])
            try check(hyper, "hyper", inputShape: [1, 5, 9, 11], eps: 1e-3, tolerance: 2e-3, seed: 64, on: device)
        }
    }

    func testTapeKeepsTheForwardOutputAndRefusesWhatItCannotDo() throws {
        let device = try ComputeDevice(threads: 1)
        let net = Sequential([try deconv(6, 5, seed: 71), try gdn(5, inverse: true, seed: 72)])
        var values = Values(seed: 73)
        let x = try Tensor(shape: [1, 6, 5, 7], values: values.next(6 * 35))
        let tape = try net.forwardForGradient(x, on: device)
        XCTAssertEqual(try tape.output.toArray(on: device), try net.forward(x, on: device).toArray(on: device))
        XCTAssertThrowsError(try tape.inputGradient(outputGradient: try Tensor(zeros: [1, 5, 10, 13])))
        XCTAssertThrowsError(try Sequential([try deconv(6, 8, seed: 74), PixelShuffle(factor: 2)]).forwardForGradient(x, on: device)) {
            XCTAssertTrue("\($0)".contains("PixelShuffle"), "\($0)")
        }
    }

    // MARK: - Against PyTorch

    func stack(_ f: Fixture) throws -> Sequential {
        try stack(try XCTUnwrap(f.params["layers"]?.arrayValue), f, prefix: "")
    }

    /// The layers of `specs`; layer i's tensors are `<prefix><i>.*` (a residual's inner layers `<i>.<j>.*`).
    func stack(_ specs: [JSONValue], _ f: Fixture, prefix: String) throws -> Sequential {
        Sequential(
            try specs.enumerated().map { index, spec -> Layer in
                func int(_ key: String) -> Int { spec[key]?.intValue ?? 0 }
                let floats = { (name: String) in try f.file.floats("\(prefix)\(index).\(name)") }
                switch spec["type"]?.stringValue {
                case "conv2d":
                    return try Conv2d(
                        inChannels: int("in_channels"), outChannels: int("out_channels"), kernel: int("kernel"),
                        stride: int("stride"), padding: int("padding"), weights: floats("weight"), bias: floats("bias"))
                case "conv_transpose2d":
                    return try ConvTranspose2d(
                        inChannels: int("in_channels"), outChannels: int("out_channels"), kernel: int("kernel"),
                        stride: int("stride"), padding: int("padding"), outputPadding: int("output_padding"),
                        weights: floats("weight"), bias: floats("bias"))
                case "gdn":
                    return try GDN(beta: floats("beta"), gamma: floats("gamma"), inverse: spec["inverse"]?.boolValue ?? false)
                case "leaky_relu":
                    return Activation(.leakyReLU(Float(try XCTUnwrap(spec["negative_slope"]?.numberValue))))
                case "residual":
                    return Residual(try stack(try XCTUnwrap(spec["layers"]?.arrayValue), f, prefix: "\(prefix)\(index)."))
                default:
                    throw NICError.invalidArgument("fixture \(f.name) has an unknown layer \(spec)")
                }
            })
    }

    func testStacksMatchPyTorch() throws {
        for name in ["gradient_synthesis", "gradient_synthesis_residual", "gradient_analysis"] {
            let f = try Fixture(name)
            XCTAssertEqual(f.op, "input_gradient")
            let net = try stack(f)
            for threads in [1, 2] {
                let device = try ComputeDevice(threads: threads)
                let tape = try net.forwardForGradient(try f.tensor("input"), on: device)
                let output = try tape.output.toArray(on: device), expectedOutput = try f.file.floats("output")
                XCTAssertLessThanOrEqual(maxAbsDifference(output, expectedOutput), 1e-4, "\(name): output")
                let gradient = try tape.inputGradient(outputGradient: try f.tensor("output_gradient"))
                let expected = try f.file.floats("input_gradient")
                let range = expected.map(abs).max() ?? 0
                let error = maxAbsDifference(try gradient.toArray(on: device), expected)
                XCTAssertGreaterThan(range, 0.1, name)
                XCTAssertLessThanOrEqual(error, 1e-5 * max(1, range), "\(name): input gradient, max abs error \(error), largest \(range)")
            }
        }
    }
}
