import CDNNL
import Foundation
import XCTest
@testable import NICCore

/// oneDNN fixes a primitive's thread count when the primitive is compiled, from OpenMP's count
/// for the compiling thread. A device must compile with its own count whatever that thread's
/// OpenMP state: a thread that has not run a device yet starts at one per CPU.
final class ComputeDeviceTests: XCTestCase {
    final class Compiled {}
    /// What the compiling thread saw, handed back to the test's thread (after the semaphore).
    final class Outcome: @unchecked Sendable {
        var seen: Int32 = 0
        var failure: Error?
    }

    /// OpenMP's thread count seen while a `threads`-thread device compiles, on a new thread.
    func countWhileCompiling(threads: Int) throws -> Int32 {
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            do {
                let device = try ComputeDevice(threads: threads)
                let input = try Tensor(zeros: [1, 1, 4, 4])
                _ = try device.cached(Compiled(), input: input.desc) { () -> Compiled in
                    outcome.seen = omp_get_max_threads()
                    return Compiled()
                }
            } catch {
                outcome.failure = error
            }
        }
        thread.start()
        done.wait()
        if let failure = outcome.failure { throw failure }
        return outcome.seen
    }

    func testCompilesWithItsOwnThreadCount() throws {
        guard ComputeDevice.onlineCPUs > 1 else { throw XCTSkip("one CPU: every count is 1") }
        XCTAssertEqual(try countWhileCompiling(threads: 1), 1)
        XCTAssertEqual(try countWhileCompiling(threads: 2), 2)
    }
}
