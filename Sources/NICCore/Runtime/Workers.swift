import Dispatch

/// A number of workers for Swift-side loops over rows, planes or tiles.
public struct Workers: Sendable {
    public let count: Int
    public static let serial = Workers(count: 1)

    public init(count: Int) { self.count = max(1, count) }

    /// Splits 0..<total into one contiguous range per worker and runs them in parallel.
    /// Work is assigned by index only, so results never depend on scheduling.
    public func parallelFor(_ total: Int, _ body: (Range<Int>) -> Void) {
        let parts = min(count, total)
        guard parts > 1 else { if total > 0 { body(0..<total) }; return }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                body(total * part / parts..<total * (part + 1) / parts)
            }
        }
    }
}
