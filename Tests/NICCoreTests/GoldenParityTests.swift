import XCTest
@testable import NICCore

/// Every op of the engine against PyTorch's output for the same inputs and weights
/// (fixtures from training/make_golden.py); max abs error must stay within 1e-4.
final class GoldenParityTests: XCTestCase {
    let tolerance: Float = 1e-4

    func layer(for f: Fixture) throws -> Layer {
        switch f.op {
        case "conv2d":
            return try Conv2d(
                inChannels: f.int("in_channels"), outChannels: f.int("out_channels"), kernel: f.int("kernel"),
                stride: f.int("stride"), padding: f.int("padding"), weights: f.file.floats("weight"),
                bias: f.bool("bias") ? f.file.floats("bias") : nil)
        case "conv_transpose2d":
            return try ConvTranspose2d(
                inChannels: f.int("in_channels"), outChannels: f.int("out_channels"),
                kernel: f.int("kernel"), stride: f.int("stride"), padding: f.int("padding"),
                outputPadding: f.int("output_padding"), weights: f.file.floats("weight"),
                bias: f.bool("bias") ? f.file.floats("bias") : nil)
        case "pixel_shuffle": return PixelShuffle(factor: f.int("factor"))
        case "pixel_unshuffle": return PixelUnshuffle(factor: f.int("factor"))
        case "relu": return Activation(.relu)
        case "leaky_relu": return Activation(.leakyReLU(Float(f.double("negative_slope"))))
        case "prelu": return PReLU(slopes: try f.file.floats("weight"))
        case "gdn": return try GDN(beta: f.file.floats("beta"), gamma: f.file.floats("gamma"), inverse: f.bool("inverse"))
        case "resize":
            let size = f.params["size"]!.arrayValue!.compactMap(\.intValue)
            let kernel: ResampleKernel =
                f.params["mode"]?.stringValue == "bilinear"
                ? .bilinear : .bicubic(a: Float(f.double("cubic_coeff_a")))
            return TensorResize(
                .size(height: size[0], width: size[1]), kernel: kernel,
                mode: f.bool("antialias") ? .antialiased : .interpolate)
        default:
            throw NICError.invalidArgument("fixture \(f.name) has unknown op \(f.op)")
        }
    }

    func check(_ name: String, threads: Int = 1) throws {
        let f = try Fixture(name)
        let device = try ComputeDevice(threads: threads)
        let output = try layer(for: f).forward(try f.tensor("input"), on: device)
        let expected = try f.tensor("output")
        XCTAssertEqual(output.shape, expected.shape, name)
        let error = maxAbsDifference(try output.toArray(on: device), expected.withFloats { Array($0) })
        XCTAssertLessThanOrEqual(error, tolerance, "\(name): max abs error \(error)")
    }

    func testConvolutions() throws {
        for name in [
            "conv_k1_s1", "conv_k3_s1_p1", "conv_k5_s1_p2", "conv_k3_s2_p1", "conv_k5_s2_p2",
            "conv_k3_s1_p0_nobias", "conv_k3_s1_p1_batch2",
        ] {
            try check(name)
            try check(name, threads: 2)
        }
    }

    func testTransposedConvolutions() throws {
        for name in ["convT_k4_s2_p1", "convT_k5_s2_p2_op1", "convT_k3_s1_p1"] { try check(name) }
    }

    func testShuffles() throws {
        for name in ["pixel_shuffle_2", "pixel_shuffle_3", "pixel_unshuffle_2"] { try check(name) }
    }

    func testActivations() throws {
        for name in ["relu", "leaky_relu", "prelu"] { try check(name) }
    }

    func testGDN() throws {
        try check("gdn")
        try check("igdn")
    }

    func testResize() throws {
        for name in [
            "resize_bicubic_up2", "resize_bicubic_up_frac", "resize_bicubic_down2", "resize_bilinear_up2",
            "resize_bilinear_frac", "resize_bicubic_aa_down", "resize_bilinear_aa_down",
        ] {
            try check(name)
        }
    }

    func testAdd() throws {
        let f = try Fixture("add")
        let device = try ComputeDevice(threads: 1)
        let sum = try Add()(try f.tensor("input"), try f.tensor("input2"), on: device)
        XCTAssertLessThanOrEqual(maxAbsDifference(try sum.toArray(on: device), try f.file.floats("output")), tolerance)
    }

    func testFourLayerNetwork() throws {
        let f = try Fixture("net4")
        for threads in [1, 2] {
            let device = try ComputeDevice(threads: threads)
            let net = try Net4(f.file)
            let output = try net.forward(try f.tensor("input"), on: device)
            let error = maxAbsDifference(try output.toArray(on: device), try f.file.floats("output"))
            XCTAssertLessThanOrEqual(error, tolerance, "net4 with \(threads) threads: max abs error \(error)")
        }
    }
}

/// The 4-layer network of the net4 fixture, built from its state_dict names:
/// input + conv4(prelu(deconv(gdn(conv2(relu(conv1(input))))))).
final class Net4: Layer {
    let body: Sequential
    init(_ w: SafetensorsFile) throws {
        body = Sequential([
            try Conv2d(
                inChannels: 3, outChannels: 8, kernel: 3, padding: 1, weights: w.floats("conv1.weight"),
                bias: w.floats("conv1.bias"), activation: .relu),
            try Conv2d(
                inChannels: 8, outChannels: 16, kernel: 3, stride: 2, padding: 1,
                weights: w.floats("conv2.weight"), bias: w.floats("conv2.bias")),
            try GDN(beta: w.floats("gdn.beta"), gamma: w.floats("gdn.gamma"), inverse: false),
            try ConvTranspose2d(
                inChannels: 16, outChannels: 8, kernel: 4, stride: 2, padding: 1,
                weights: w.floats("deconv.weight"), bias: w.floats("deconv.bias")),
            PReLU(slopes: try w.floats("prelu.weight")),
            try Conv2d(
                inChannels: 8, outChannels: 3, kernel: 3, padding: 1, weights: w.floats("conv4.weight"),
                bias: w.floats("conv4.bias")),
        ])
    }

    func forward(_ x: Tensor, on device: ComputeDevice) throws -> Tensor {
        try Add()(x, try body.forward(x, on: device), on: device)
    }
}
