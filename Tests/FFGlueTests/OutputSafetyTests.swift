import XCTest
@testable import FFGlue
@testable import NICCore
#if canImport(Glibc)
    import Glibc
#endif

/// Outputs replace their target only on success: a failed job, a full disk or bad options leave
/// the input and any earlier output as they were and no partial file; an output that is the
/// input is refused before anything is written.
final class OutputSafetyTests: SyntheticModelTestCase {

    func contents(_ name: String) -> [UInt8]? { try? readFileBytes(path: path(name), limit: 1 << 26) }

    /// Names in the test folder, to check that no partial file is left behind.
    func names() -> Set<String> {
        var result = Set<String>()
        guard let dir = opendir(directory) else { return result }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { result.insert(name) }
        }
        closedir(dir)
        return result
    }

    func writeClip(_ name: String, width: Int = 128, height: Int = 72, frames: Int = 6) throws {
        var bytes = Array("YUV4MPEG2 W\(width) H\(height) F25:1 Ip A1:1 C420jpeg\n".utf8)
        for f in 0..<frames {
            bytes += Array("FRAME\n".utf8)
            bytes += (0..<(width * height)).map { UInt8(truncatingIfNeeded: ($0 % width) * 2 + f * 7 + ($0 / width)) }
            bytes += [UInt8](repeating: 128, count: width * height / 2)
        }
        try writeFileBytes(bytes, path: path(name))
    }

    /// Runs `body` with the process's file-size limit at `bytes` (SIGXFSZ ignored, so writes past
    /// it fail with EFBIG as on a full disk), then restores the limit.
    func withFileSizeLimit<T>(_ bytes: Int, _ body: () throws -> T) rethrows -> T {
        var old = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        let oldHandler = signal(SIGXFSZ, SIG_IGN)
        var limited = old
        limited.rlim_cur = rlim_t(bytes)
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limited)
        defer {
            setrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
            signal(SIGXFSZ, oldHandler)
        }
        return try body()
    }

    /// An AI-encoded clip of `frames` generated frames (setting 1, x264 at CRF 30, ultrafast).
    func encodeClip(to name: String, frames: Int = 6) throws {
        try writeClip("clip.y4m", frames: frames)
        let encode = VideoAICodec.EncodeOptions(settingID: 1, encoder: .init(crf: 30, preset: "ultrafast", threads: 1))
        _ = try VideoAICodec.encode(
            input: path("clip.y4m"), output: path(name), options: encode, store: store, device: device, warn: { _ in })
    }

    // MARK: OutputFile

    func testNothingReplacesTheTargetUntilCommit() throws {
        try writeFileBytes([1, 2, 3], path: path("out.bin"))
        chmod(path("out.bin"), 0o640)
        let before = names()
        do {
            let file = try OutputFile(path: path("out.bin"))
            try file.write([9, 9, 9, 9])
            XCTAssertEqual(contents("out.bin"), [1, 2, 3], "the target changed before commit")
            XCTAssertEqual(names(), before, "a named partial file is visible")
        }  // dropped without commit
        XCTAssertEqual(contents("out.bin"), [1, 2, 3])
        XCTAssertEqual(names(), before)
        let file = try OutputFile(path: path("out.bin"))
        try file.write([9, 9, 9, 9])
        try file.commit()
        XCTAssertEqual(contents("out.bin"), [9, 9, 9, 9])
        XCTAssertEqual(names(), before, "the commit left a file behind")
        var info = stat()
        stat(path("out.bin"), &info)
        XCTAssertEqual(info.st_mode & 0o777, 0o640, "the permission bits of the earlier file were not kept")
    }

    func testALinkedTargetKeepsItsLinkAndTheInputIsRefusedUnderAnyName() throws {
        try writeFileBytes([1], path: path("real.bin"))
        symlink(path("real.bin"), path("link.bin"))
        try writeFileBytes([2], path: path("link.bin"))
        link(path("real.bin"), path("hard.bin"))
        var info = stat()
        XCTAssertEqual(lstat(path("link.bin"), &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFLNK, "the link was replaced by a file")
        XCTAssertEqual(contents("real.bin"), [2])
        for alias in ["real.bin", "link.bin", "hard.bin"] {
            XCTAssertThrowsError(try writeFileBytes([3], path: path(alias), inputs: [path("real.bin")]), alias) { error in
                guard case NICError.invalidArgument(let message) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(message.contains("is the input file"), message)
            }
        }
        XCTAssertEqual(contents("real.bin"), [2])
        XCTAssertThrowsError(try OutputFile(path: directory), "a folder as the output")
    }

    func testAFullDiskKeepsTheEarlierImage() throws {
        let image = try TestPattern.make(width: 96, height: 64)
        try writeFileBytes(Array("earlier".utf8), path: path("out.png"))
        let before = names()
        XCTAssertThrowsError(try withFileSizeLimit(1000) { try ImageFile.write(image, path: path("out.png")) })
        XCTAssertEqual(contents("out.png"), Array("earlier".utf8))
        XCTAssertEqual(names(), before)
    }

    // MARK: video jobs

    func testOutOfRangeEncoderOptionsFailBeforeAnythingIsWritten() throws {
        try writeClip("clip.y4m")
        try writeFileBytes(Array("earlier".utf8), path: path("out.mp4"))
        let before = names()
        for crf in [1e9, .nan, .infinity, 101, -1, 2.2e7] {
            let options = VideoAICodec.EncodeOptions(settingID: 1, encoder: .init(crf: crf, preset: "ultrafast"))
            XCTAssertThrowsError(
                try VideoAICodec.encode(
                    input: path("clip.y4m"), output: path("out.mp4"), options: options,
                    store: store, device: device, warn: { _ in }), "crf \(crf)"
            ) { error in
                guard case NICError.invalidArgument = error else { return XCTFail("crf \(crf): \(error)") }
            }
        }
        let badPreset = VideoAICodec.EncodeOptions(settingID: 1, encoder: .init(preset: "warp"))
        XCTAssertThrowsError(
            try VideoAICodec.encode(
                input: path("clip.y4m"), output: path("out.mp4"), options: badPreset,
                store: store, device: device, warn: { _ in }))
        XCTAssertThrowsError(
            try VideoAICodec.decode(
                input: path("clip.y4m"), output: path("up.y4m"),
                options: .init(encoder: .init(preset: "ultrafast")),
                store: store, device: device, warn: { _ in })
        ) { error in
            guard case NICError.invalidArgument(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("raw frames"), message)
        }
        XCTAssertEqual(contents("out.mp4"), Array("earlier".utf8))
        XCTAssertEqual(names(), before)
    }

    func testAVideoJobNeverWritesOverItsInput() throws {
        try encodeClip(to: "small.mkv")
        let original = contents("small.mkv")
        symlink(path("small.mkv"), path("alias.mkv"))
        for output in ["small.mkv", "alias.mkv"] {
            XCTAssertThrowsError(
                try VideoAICodec.decode(
                    input: path("small.mkv"), output: path(output), options: .init(),
                    store: store, device: device, warn: { _ in }), output)
        }
        XCTAssertEqual(contents("small.mkv"), original, "the input changed")
    }

    /// A Matroska file cut short reads as a plain end of file in FFmpeg: the job says so.
    func testAFileCutShortIsReported() throws {
        try encodeClip(to: "small.mkv", frames: 50)
        var warnings: [String] = []
        _ = try VideoAICodec.decode(
            input: path("small.mkv"), output: path("whole.y4m"), options: .init(),
            store: store, device: device, warn: { warnings.append($0) })
        XCTAssertFalse(warnings.contains { $0.contains("ends early") }, "\(warnings)")
        let bytes = try XCTUnwrap(contents("small.mkv"))
        try writeFileBytes(Array(bytes[..<(bytes.count * 2 / 5)]), path: path("cut.mkv"))
        let report = try VideoAICodec.decode(
            input: path("cut.mkv"), output: path("cut.y4m"), options: .init(),
            store: store, device: device, warn: { warnings.append($0) })
        XCTAssertLessThan(report.frames, 50)
        XCTAssertTrue(warnings.contains { $0.contains("ends early") }, "\(warnings)")
    }

    /// A playlist (HLS) naming another local file, and a URL as a file name: the video input
    /// reads the one local file it is given and nothing else.
    func testAVideoInputReadsOnlyItsOwnFile() throws {
        try encodeClip(to: "secret.ts")
        let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n\(path("secret.ts"))\n#EXT-X-ENDLIST\n"
        try writeFileBytes(Array(playlist.utf8), path: path("list"))
        XCTAssertThrowsError(try VideoAICodec.inspect(path("list"), warn: { _ in }), "the playlist's segment was read")
        XCTAssertThrowsError(
            try VideoAICodec.decode(
                input: path("list"), output: path("out.y4m"), options: .init(),
                store: store, device: device, warn: { _ in }))
        XCTAssertThrowsError(try VideoAICodec.inspect("http://127.0.0.1:9/clip.mp4", warn: { _ in })) { error in
            guard case NICError.io(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("no such file"), message)
        }
    }

    /// Progress is reported before the first frame and after every frame; a handler that asks
    /// to stop cancels the job before the next frame, and the earlier output stays.
    func testProgressAndCancellation() throws {
        try writeClip("clip.y4m", frames: 8)
        var seen: [VideoAICodec.Progress] = []
        let encode = VideoAICodec.EncodeOptions(settingID: 1, encoder: .init(crf: 30, preset: "ultrafast", threads: 1))
        _ = try VideoAICodec.encode(
            input: path("clip.y4m"), output: path("small.mkv"), options: encode, store: store,
            device: device, warn: { _ in },
            progress: {
                seen.append($0); return true
            })
        XCTAssertEqual(seen.map(\.framesDone), Array(0...8))
        XCTAssertEqual(seen.last?.framesExpected, 8)
        XCTAssertTrue(zip(seen, seen.dropFirst()).allSatisfy { $0.elapsedSeconds <= $1.elapsedSeconds })

        try writeFileBytes(Array("earlier".utf8), path: path("out.y4m"))
        let before = names()
        var calls = 0
        XCTAssertThrowsError(
            try VideoAICodec.decode(
                input: path("small.mkv"), output: path("out.y4m"), options: .init(),
                store: store, device: device, warn: { _ in },
                progress: { p in
                    calls += 1; return p.framesDone < 3
                })
        ) { error in
            guard case NICError.cancelled = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(calls, 4, "the job went on after the handler asked to stop")
        XCTAssertEqual(contents("out.y4m"), Array("earlier".utf8))
        XCTAssertEqual(names(), before)
    }

    /// `--scale auto`: the trial encodes report no frame done yet and can be cancelled; they
    /// leave no trial file behind, cancelled or not.
    func testScaleTrialsReportProgressAndCanBeCancelled() throws {
        try writeClip("clip.y4m", frames: 8)
        let before = names()
        let auto = VideoAICodec.EncodeOptions(encoder: .init(crf: 30, preset: "ultrafast", threads: 1))
        var calls = 0
        XCTAssertThrowsError(
            try VideoAICodec.encode(
                input: path("clip.y4m"), output: path("small.mkv"), options: auto, store: store,
                device: device, warn: { _ in },
                progress: { p in
                    calls += 1; return calls < 5 && p.framesDone == 0
                })
        ) { error in
            guard case NICError.cancelled = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(calls, 5)
        XCTAssertEqual(names(), before, "a cancelled trial left files behind")
        var seen: [Int] = []
        let report = try VideoAICodec.encode(
            input: path("clip.y4m"), output: path("small.mkv"), options: auto, store: store,
            device: device, warn: { _ in },
            progress: {
                seen.append($0.framesDone); return true
            })
        // 8 frames: the scene search (Matroska may change the size) reports each frame it reads,
        // each of 3 trials after coding and after decoding each frame.
        XCTAssertEqual(seen, Array(repeating: 0, count: 8 + 3 * 2 * 8 + 1) + Array(1...8))
        XCTAssertNotNil(report.scaleChoice)
        XCTAssertEqual(names(), before.union(["small.mkv"]))
    }

    func testAVideoJobThatFailsMidwayKeepsTheEarlierOutput() throws {
        try writeClip("clip.y4m", width: 256, height: 144, frames: 10)
        try writeFileBytes(Array("earlier".utf8), path: path("out.y4m"))
        let before = names()
        // About 55 KB per 256x144 raw frame: the limit stops the job after a few frames.
        XCTAssertThrowsError(
            try withFileSizeLimit(150_000) {
                try VideoAICodec.decode(
                    input: path("clip.y4m"), output: path("out.y4m"), options: .init(size: (256, 144)),
                    store: store, device: device, warn: { _ in })
            }
        ) { error in
            guard case NICError.io = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(contents("out.y4m"), Array("earlier".utf8))
        XCTAssertEqual(names(), before)
    }

    func testPNGFramesAppearOnlyWhenTheJobSucceeds() throws {
        try writeClip("clip.y4m", frames: 6)
        try writeFileBytes(Array("earlier".utf8), path: path("f_002.png"))
        let before = names()
        XCTAssertThrowsError(
            try VideoAICodec.decode(
                input: path("clip.y4m"), output: path("f_%03d.png"),
                options: .init(size: (128, 72)), store: store, device: device,
                warn: { _ in }, progress: { $0.framesDone < 4 })
        ) { error in
            guard case NICError.cancelled = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(contents("f_002.png"), Array("earlier".utf8))
        XCTAssertEqual(names(), before, "a cancelled job left frames or its hidden folder behind")

        let report = try VideoAICodec.decode(
            input: path("clip.y4m"), output: path("f_%03d.png"),
            options: .init(size: (128, 72)), store: store, device: device, warn: { _ in })
        XCTAssertEqual(report.frames, 6)
        XCTAssertEqual(names(), before.union((1...6).map { "f_00\($0).png" }))
        XCTAssertEqual(try ImageFile.read(path: path("f_002.png")).width, 128)

        XCTAssertThrowsError(try OutputFolder(pattern: path("d_%02d/f_%03d.png"))) { error in
            guard case NICError.invalidArgument = error else { return XCTFail("\(error)") }
        }
    }
}
