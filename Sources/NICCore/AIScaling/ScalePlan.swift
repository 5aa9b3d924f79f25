/// Server side: the scale of every frame of a video stream under `--scale auto`. One
/// `ScaleChoice` per scene, each from trial encodes of a sample of that scene, where the
/// container carries a change of coded size (a new key frame and new parameter sets at the
/// scene's first frame); one choice for the whole stream otherwise.
///
/// Scenes come from `SceneAnalyzer`'s cuts. A scene shorter than `minimumSceneFrames` is no
/// scene of its own for the scale: it joins the one before (its trial would be a handful of
/// frames, and a change of size costs a key frame).
public struct ScalePlan: Sendable, Equatable {
    public struct Scene: Sendable, Equatable {
        /// Index of the scene's first frame in the stream (decode order of the job = display order).
        public var firstFrame: Int
        /// Frames of the scene; nil for a last scene of unknown length.
        public var frames: Int?
        public var choice: ScaleChoice

        public init(firstFrame: Int, frames: Int?, choice: ScaleChoice) {
            self.firstFrame = firstFrame; self.frames = frames; self.choice = choice
        }
    }

    /// The frames a scene needs to be given its own scale: two trial windows.
    public static let minimumSceneFrames = 24

    /// In stream order, the first starting at frame 0.
    public let scenes: [Scene]

    /// `scenes` must be non-empty, start at frame 0 and be in increasing order.
    public init(scenes: [Scene]) throws {
        guard let first = scenes.first, first.firstFrame == 0 else {
            throw NICError.invalidArgument("a scale plan starts with a scene at frame 0")
        }
        for (a, b) in zip(scenes, scenes.dropFirst()) where b.firstFrame <= a.firstFrame {
            throw NICError.invalidArgument("the scenes of a scale plan must be in increasing order")
        }
        self.scenes = scenes
    }

    /// The whole stream at one choice.
    public init(wholeStream choice: ScaleChoice, frames: Int?) {
        scenes = [Scene(firstFrame: 0, frames: frames, choice: choice)]
    }

    /// The scene that starts at frame `index`, if one does.
    public func scene(startingAt index: Int) -> Scene? {
        scenes.first { $0.firstFrame == index }
    }

    /// Scene ranges for the scale from the first frames of `SceneAnalyzer`'s scenes (frame 0
    /// included or not) in a stream of `frameCount` frames: scenes shorter than
    /// `minimumSceneFrames` join the scene before; a short first scene takes the next one in.
    public static func sceneRanges(starts: [Int], frameCount: Int) -> [Range<Int>] {
        guard frameCount > 0 else { return [] }
        var cuts = [0] + starts.filter { $0 > 0 && $0 < frameCount }.sorted()
        cuts = cuts.reduce(into: [Int]()) { kept, cut in if kept.last != cut { kept.append(cut) } }
        var ranges: [Range<Int>] = []
        for (i, start) in cuts.enumerated() {
            let end = i + 1 < cuts.count ? cuts[i + 1] : frameCount
            if let last = ranges.last, end - start < minimumSceneFrames || last.count < minimumSceneFrames {
                ranges[ranges.count - 1] = last.lowerBound..<end
            } else {
                ranges.append(start..<end)
            }
        }
        return ranges
    }

    /// Changes of coded size from one scene to the next.
    public var sizeChanges: Int {
        zip(scenes, scenes.dropFirst()).filter { $0.0.choice.chosen.scale != $0.1.choice.chosen.scale }.count
    }
}
