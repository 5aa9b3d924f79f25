import XCTest
@testable import NICCore

/// Asserts that `error` is a NICError of one of `kinds` (case names such as "io").
func assertKind(_ error: Error, _ kinds: String..., line: UInt = #line) {
    guard let error = error as? NICError else { return XCTFail("not a NICError: \(error)", line: line) }
    let kind: String
    switch error {
    case .invalidArgument: kind = "invalidArgument"
    case .unsupportedFormat: kind = "unsupportedFormat"
    case .dimensions: kind = "dimensions"
    case .outOfMemory: kind = "outOfMemory"
    case .corruptData: kind = "corruptData"
    case .io: kind = "io"
    case .model: kind = "model"
    case .cancelled: kind = "cancelled"
    case .internal: kind = "internal"
    }
    XCTAssertTrue(kinds.contains(kind), "expected \(kinds), got \(kind): \(error)", line: line)
}
