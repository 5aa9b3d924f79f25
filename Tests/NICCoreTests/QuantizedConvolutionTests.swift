import XCTest
import NICBench
@testable import NICCore

/// The 8-bit convolution computes what the float32 one does, within the error of 8-bit values.
final class QuantizedConvolutionTests: XCTestCase {
    let device = try! ComputeDevice(threads: 2)

    func conv(_ i: Int, _ o: Int, seed: UInt64, activation: FusedActivation) throws -> Conv2d {
        try Conv2d(
            inChannels: i, outChannels: o, kernel: 3, padding: 1,
            weights: ConvBenchmark.values(o * i * 9, seed: seed).map { $0 * 0.3 },
            bias: ConvBenchmark.values(o, seed: seed + 1).map { $0 * 0.5 + 0.25 }, activation: activation)
    }

    /// Root-mean-square of `a - b` relative to that of `b`.
    func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        let err = zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
        let ref = b.map { $0 * $0 }.reduce(0, +)
        return (err / max(ref, 1e-12)).squareRoot()
    }

    func testFloatOutput() throws {
        let c = try conv(16, 24, seed: 3, activation: .leakyReLU(0.01))
        let x = try Tensor(shape: [1, 16, 21, 37], values: ConvBenchmark.values(16 * 21 * 37, seed: 5))
        let reference = try c.forward(x, on: device).toArray(on: device)
        let q = try QuantizedConv2d(c, input: Quantization(maxAbs: 1), output: nil)
        let result = try q.forward(try q.quantized(x, on: device), on: device).toArray(on: device)
        XCTAssertEqual(result.count, reference.count)
        XCTAssertLessThan(relativeError(result, reference), 0.01)
        XCTAssertGreaterThan(relativeError(result, reference), 0, "no rounding at all: not the int8 path")
    }

    func testTwoLayersChainedInIntegers() throws {
        let first = try conv(8, 16, seed: 11, activation: .relu)
        let second = try conv(16, 8, seed: 13, activation: .none)
        let values = ConvBenchmark.values(8 * 30 * 30, seed: 7).map { abs($0) }
        let x = try Tensor(shape: [1, 8, 30, 30], values: values)
        let middle = try first.forward(x, on: device)
        let reference = try second.forward(middle, on: device).toArray(on: device)
        let middleMax = try middle.toArray(on: device).max()!
        // The first layer writes integers straight for the second.
        let between = Quantization(maxAbs: middleMax)
        let q1 = try QuantizedConv2d(first, input: Quantization(maxAbs: 1), output: between)
        let q2 = try QuantizedConv2d(second, input: between, output: nil)
        let integers = try q1.forward(try q1.quantized(x, on: device), on: device)
        XCTAssertEqual(integers.dataType, between.dataType)
        let result = try q2.forward(integers, on: device).toArray(on: device)
        XCTAssertLessThan(relativeError(result, reference), 0.02)
    }

    func testFloatInputIsRefused() throws {
        let c = try conv(4, 4, seed: 1, activation: .none)
        let q = try QuantizedConv2d(c, input: Quantization(maxAbs: 1), output: nil)
        XCTAssertThrowsError(try q.forward(try Tensor(zeros: [1, 4, 8, 8]), on: device))
        XCTAssertThrowsError(try QuantizedConv2d(c, input: Quantization(scale: 0), output: nil))
    }
}
