import XCTest
@testable import NICCore

final class ImageResizeTests: XCTestCase {
    let workers = Workers(count: 2)

    func testConstantImagesStayConstant() throws {
        for format in PixelFormat.allCases {
            var image = try PlanarImage(format: format, width: 37, height: 21)
            for p in 0..<image.planes.count { image.planes[p] = image.planes[p].map { _ in UInt8(60 + 40 * p) } }
            for method in ResizeMethod.allCases {
                for (w, h) in [(74, 42), (13, 8), (1, 1), (100, 3)] {
                    let out = try ImageResize.resized(image, width: w, height: h, method: method, workers: workers)
                    for p in 0..<out.planes.count {
                        XCTAssertTrue(out.planes[p].allSatisfy { $0 == UInt8(60 + 40 * p) }, "\(format) \(method) \(w)x\(h)")
                    }
                }
            }
        }
    }

    /// A smooth sinusoid survives down x2 / up x2 far better with Lanczos than bilinear
    /// would; both methods must reproduce it closely.
    func testSmoothContentRoundTrip() throws {
        var image = try PlanarImage(format: .gray8, width: 256, height: 64)
        image.planes[0] = (0..<256 * 64).map { i in
            UInt8((128 + 100 * sin(Double(i % 256) * 2 * .pi / 32)).rounded())
        }
        for method in ResizeMethod.allCases {
            let small = try ImageResize.resized(image, width: 128, height: 32, method: method, workers: workers)
            let back = try ImageResize.resized(small, width: 256, height: 64, method: method, workers: workers)
            XCTAssertGreaterThan(try Quality.psnr(image, back), 32, "\(method)")
        }
    }

    /// Down-scaling by 2 averages neighbouring pixels (anti-aliasing), so a 1-pixel
    /// checkerboard becomes flat grey instead of aliasing.
    func testShrinkingIsAntiAliased() throws {
        var image = try PlanarImage(format: .gray8, width: 64, height: 64)
        image.planes[0] = (0..<64 * 64).map { i in ((i % 64 + i / 64) % 2 == 0) ? 0 : 255 }
        let small = try ImageResize.resized(image, width: 32, height: 32, method: .bicubic, workers: workers)
        let inner = (4..<28).flatMap { y in (4..<28).map { x in Int(small.planes[0][y * 32 + x]) } }
        XCTAssertTrue(inner.allSatisfy { abs($0 - 128) <= 2 }, "\(inner.min()!)...\(inner.max()!)")
    }

    func testLimits() {
        XCTAssertThrowsError(try PlanarImage(format: .rgb24, width: 0, height: 10))
        XCTAssertThrowsError(try PlanarImage(format: .rgb24, width: 16385, height: 10))
        XCTAssertThrowsError(try PlanarImage(format: .gray8, width: 4, height: 4, planes: [[0]]))
        XCTAssertThrowsError(try Tensor(zeros: [1, 1 << 20, 1 << 20, 4]))
    }
}
