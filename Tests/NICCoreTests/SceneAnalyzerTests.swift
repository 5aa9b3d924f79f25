import XCTest
@testable import NICCore

final class SceneAnalyzerTests: XCTestCase {
    func frame(_ pixel: (Int, Int, Int) -> UInt8, index: Int, width: Int = 320, height: Int = 180) -> [UInt8] {
        (0..<width * height).map { pixel($0 % width, $0 / width, index) }
    }

    func observe(_ frames: [[UInt8]], width: Int = 320, height: Int = 180) -> [SceneAnalyzer.Observation] {
        var analyzer = SceneAnalyzer()
        return frames.map { f in
            f.withUnsafeBytes {
                analyzer.observe(luma: PlaneView(base: $0.baseAddress!, width: width, height: height, channels: 1, stride: width))
            }
        }
    }

    func testCutsBetweenScenesButNotInsideNoiseOrFlashes() {
        var seed: UInt64 = 1
        func noise() -> UInt8 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: seed >> 56) }
        var frames: [[UInt8]] = []
        frames += (0..<30).map { i in self.frame({ x, _, _ in UInt8(60 + x / 8) }, index: i) }  // flat ramp
        frames[20] = frame({ _, _, _ in 250 }, index: 20)  // a flash
        frames += (0..<30).map { i in self.frame({ _, _, _ in noise() }, index: i) }  // noise
        // moving checkers
        frames += (0..<30).map { i in self.frame({ x, y, t in UInt8(((x + 2 * t) / 16 + y / 16) % 2 * 200) }, index: i) }
        let o = observe(frames)
        XCTAssertEqual(o.indices.filter { o[$0].startsScene }, [0, 31, 61])  // confirmed one frame late
        XCTAssertLessThan(o[0].complexity, 1)
        XCTAssertGreaterThan(o[31].complexity, 20)
        XCTAssertGreaterThan(o[61].complexity, o[0].complexity)
    }

    func testComplexityHardlyDependsOnResolution() {
        let small = observe([frame({ x, y, _ in UInt8((x / 20 + y / 20) % 2 * 200) }, index: 0)])[0].complexity
        let large = observe(
            [frame({ x, y, _ in UInt8((x / 80 + y / 80) % 2 * 200) }, index: 0, width: 1280, height: 720)],
            width: 1280, height: 720)[0].complexity
        XCTAssertEqual(small, large, accuracy: 0.15 * small)
    }
}
