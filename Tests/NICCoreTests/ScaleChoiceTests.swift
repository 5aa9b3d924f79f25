import XCTest
@testable import NICCore

final class ScaleChoiceTests: XCTestCase {
    let full = ScaleChoice.Trial(scale: 1, settingID: 0, bits: 100_000, sse: 50_000, samples: 10_000)
    let half = ScaleChoice.Trial(scale: 2, settingID: 1, bits: 30_000, sse: 90_000, samples: 10_000)

    func testCostWeighsTheBitsSavedAgainstTheDetailLost() throws {
        // 70 kbit saved for 40000 more SSE: worth it where a bit costs more than 0.57.
        XCTAssertEqual(ScaleChoice.lambda(qp: 12), 0.85, accuracy: 1e-12)
        XCTAssertEqual(ScaleChoice.lambda(qp: 18), 3.4, accuracy: 1e-12)
        let cheap = try ScaleChoice(trials: [full, half], criterion: .cost(lambda: 0.5))
        XCTAssertEqual(cheap.chosen, full, cheap.reason)
        XCTAssertTrue(cheap.reason.contains("x1 100000"), cheap.reason)
        let dear = try ScaleChoice(trials: [half, full], criterion: .cost(lambda: 0.6))
        XCTAssertEqual(dear.chosen, half, dear.reason)
        XCTAssertEqual(ScaleChoice.score(half, dear.criterion), 108_000, accuracy: 1e-9)
    }

    func testAtATargetRateTheLowerDistortionWinsAndTiesGoToTheSmallerScale() throws {
        let choice = try ScaleChoice(trials: [half, full], criterion: .distortionAtRate)
        XCTAssertEqual(choice.chosen, full)
        XCTAssertEqual(full.psnr, 10 * log10(255 * 255 / 5.0), accuracy: 1e-9)
        let tie = ScaleChoice.Trial(scale: 1.5, settingID: 2, bits: 10, sse: 50_000, samples: 10_000)
        XCTAssertEqual(try ScaleChoice(trials: [tie, full], criterion: .distortionAtRate).chosen, full)
        XCTAssertThrowsError(try ScaleChoice(trials: [], criterion: .distortionAtRate))
    }
}
