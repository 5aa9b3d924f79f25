import Dispatch
import XCTest
@testable import NICCore
import NICBench

/// Repeatability: the same thread count gives bit-identical output; between 1 and
/// 2 threads oneDNN may split reductions differently, so the difference is stated
/// and bounded here (measured: see the assertion messages).
final class DeterminismTests: XCTestCase {
    func network() throws -> Sequential {
        func conv(_ i: Int, _ o: Int, _ seed: UInt64, stride: Int = 1) throws -> Conv2d {
            try Conv2d(
                inChannels: i, outChannels: o, kernel: 3, stride: stride, padding: 1,
                weights: ConvBenchmark.values(o * i * 9, seed: seed).map { $0 * 0.2 },
                bias: ConvBenchmark.values(o, seed: seed + 100), activation: .leakyReLU(0.1))
        }
        return Sequential([
            try conv(3, 32, 1), try conv(32, 32, 2, stride: 2),
            try GDN(
                beta: Array(repeating: 1, count: 32),
                gamma: (0..<1024).map { $0 % 33 == 0 ? 0.1 : 0.01 }, inverse: false),
            try conv(32, 32, 3), PixelShuffle(factor: 2), try conv(8, 3, 4),
        ])
    }

    func run(threads: Int) throws -> [Float] {
        let device = try ComputeDevice(threads: threads)
        let input = try Tensor(shape: [1, 3, 96, 160], values: ConvBenchmark.values(3 * 96 * 160, seed: 9))
        return try network().forward(input, on: device).toArray(on: device)
    }

    func testSameThreadCountIsBitIdentical() throws {
        for threads in [1, 2] {
            XCTAssertEqual(try run(threads: threads), try run(threads: threads), "\(threads) threads")
        }
    }

    func testOneVersusTwoThreadsWithinBound() throws {
        let one = try run(threads: 1), two = try run(threads: 2)
        let scale = one.reduce(0) { max($0, abs($1)) }
        let difference = maxAbsDifference(one, two)
        XCTAssertLessThanOrEqual(
            difference, 1e-5 * max(scale, 1),
            "1 vs 2 threads: max abs difference \(difference) (output range \(scale))")
        print("DeterminismTests: 1 vs 2 threads max abs difference \(difference), output max \(scale)")
    }

    func testImageResizeIsIndependentOfThreads() throws {
        var image = try PlanarImage(format: .rgb24, width: 123, height: 77)
        image.planes[0] = (0..<image.planes[0].count).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        let a = try ImageResize.resized(image, width: 301, height: 50, method: .lanczos, workers: Workers(count: 1))
        let b = try ImageResize.resized(image, width: 301, height: 50, method: .lanczos, workers: Workers(count: 2))
        XCTAssertEqual(a.planes, b.planes)
    }

    /// Distinct devices on distinct threads at the same time (what nic.h allows for distinct
    /// contexts), sharing the process-wide tensor memory: the same output as one at a time.
    /// Run under ThreadSanitizer by `make sanitize`.
    func testDistinctDevicesOnConcurrentThreadsAgree() throws {
        let expected = try run(threads: 1)
        let results = UnsafeMutablePointer<[Float]>.allocate(capacity: 4)
        results.initialize(repeating: [], count: 4)
        defer { results.deinitialize(count: 4); results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            results[i] = (try? self.run(threads: 1)) ?? []
        }
        for i in 0..<4 { XCTAssertEqual(results[i], expected, "thread \(i)") }
    }

    /// A device that sees many input sizes (a long-lived player context) keeps a bounded number
    /// of compiled primitives, and a size seen again after eviction still computes the same.
    func testCompiledPrimitivesAreBounded() throws {
        let device = try ComputeDevice(threads: 1)
        let conv = try Conv2d(
            inChannels: 1, outChannels: 1, kernel: 3, stride: 1, padding: 1,
            weights: ConvBenchmark.values(9, seed: 5), bias: [0.5])
        func run(_ width: Int) throws -> [Float] {
            let x = try Tensor(shape: [1, 1, 4, width], values: ConvBenchmark.values(4 * width, seed: 3))
            return try conv.forward(x, on: device).toArray(on: device)
        }
        let first = try run(8)
        for width in 9..<(9 + ComputeDevice.cacheCapacity + 40) { _ = try run(width) }
        XCTAssertLessThanOrEqual(device.compiledCount, ComputeDevice.cacheCapacity)
        XCTAssertEqual(try run(8), first)
    }
}
