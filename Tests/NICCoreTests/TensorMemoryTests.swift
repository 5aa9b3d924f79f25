import XCTest
@testable import NICCore

final class TensorMemoryTests: XCTestCase {
    /// A freed block of a size the band pipeline uses again comes back instead of new pages.
    func testReleasedBlockIsReused() throws {
        TensorMemory.trim()
        XCTAssertEqual(TensorMemory.retainedBytes, 0)
        let bytes = TensorMemory.smallest * 3 + 64
        let first = try XCTUnwrap(TensorMemory.allocate(bytes))
        TensorMemory.release(first, bytes: bytes)
        let second = try XCTUnwrap(TensorMemory.allocate(bytes))
        XCTAssertEqual(first, second)
        TensorMemory.release(second, bytes: bytes)
    }

    /// The cache never keeps more than its limit, however much is released into it.
    func testRetainedMemoryIsBounded() throws {
        let bytes = 4 << 20
        let blocks = (0..<(TensorMemory.retainedLimit / bytes + 4)).map { _ in TensorMemory.allocate(bytes)! }
        for block in blocks { TensorMemory.release(block, bytes: bytes) }
        XCTAssertLessThanOrEqual(TensorMemory.retainedBytes, TensorMemory.retainedLimit)
        // Tensors still start zeroed when their memory is reused.
        let t = try Tensor(zeros: [1, 4, 512, 512])
        t.withFloats { XCTAssertTrue($0.allSatisfy { $0 == 0 }) }
    }
}
