import XCTest
import CFFmpeg
@testable import FFGlue
@testable import NICCore
#if canImport(Glibc)
    import Glibc
#endif

/// The video AI codec end to end on generated clips and synthetic models: AI data in SEI
/// for every frame, frames and timestamps kept, fallbacks, bad input.
final class VideoAICodecTests: SyntheticModelTestCase {
    var warnings: [String] = []

    func warn(_ message: String) { warnings.append(message) }

    /// A Y4M clip of a test pattern sliding right by 2 pixels per frame.
    func writeClip(_ name: String, width: Int, height: Int, frames: Int) throws {
        let pattern = try TestPattern.make(width: width + 2 * frames, height: height)
        var bytes = Array("YUV4MPEG2 W\(width) H\(height) F25:1 Ip A1:1 C420jpeg\n".utf8)
        for f in 0..<frames {
            var rgb = try PlanarImage(format: .rgb24, width: width, height: height)
            for y in 0..<height {
                let row = (y * pattern.width + 2 * f) * 3
                rgb.planes[0].replaceSubrange((y * width * 3)..<((y + 1) * width * 3), with: pattern.planes[0][row..<(row + width * 3)])
            }
            let yuv = try ImageFile.read(data: try ImageFile.encode(rgb, format: .png), as: .yuv420p)
            bytes += Array("FRAME\n".utf8)
            for plane in yuv.planes { bytes += plane }
        }
        try writeFileBytes(bytes, path: path(name))
    }

    func encode(_ input: String, _ output: String, options: VideoAICodec.EncodeOptions) throws -> VideoAICodec.Report {
        try VideoAICodec.encode(input: path(input), output: path(output), options: options, store: store, device: device, warn: warn)
    }

    func decode(
        _ input: String, _ output: String, options: VideoAICodec.DecodeOptions = .init(),
        store: ModelStore? = nil
    ) throws -> VideoAICodec.Report {
        try VideoAICodec.decode(
            input: path(input), output: path(output), options: options, store: store ?? self.store,
            device: device, warn: warn)
    }

    /// The AI data of every frame through H.264 and HEVC: the key frame carries the record, the
    /// frames after it keep it, and each is upscaled by it.
    func testEveryFrameCarriesItsAIDataThroughH264AndHEVC() throws {
        // libx265 refuses pictures narrower than 64 pixels (see VideoOutput).
        try writeClip("clip.y4m", width: 256, height: 144, frames: 12)
        for (encoder, container, codec) in [("libx264", "mp4", AIDataRecord.Codec.h264), ("libx265", "mkv", .hevc)] {
            let settings = VideoEncoderSettings(encoder: encoder, crf: 30, preset: "ultrafast", threads: 1)
            let report = try encode("clip.y4m", "small.\(container)", options: .init(settingID: 1, encoder: settings))
            XCTAssertEqual(report.frames, 12)
            XCTAssertEqual([report.outputWidth, report.outputHeight], [128, 72])
            let info = try VideoAICodec.inspect(path("small.\(container)"), warn: warn)
            XCTAssertEqual(info.frames.count, 12, encoder)
            XCTAssertEqual(info.frames.map(\.pts), info.frames.map(\.pts).sorted(), "display order")
            var tracker = AIDataTracker(warn: warn)
            for frame in info.frames {
                guard case .record(let r) = tracker.update(with: frame.found, pts: frame.pts) else {
                    return XCTFail("\(encoder): frame \(frame.pts) without AI data")
                }
                XCTAssertEqual(r.settingID, 1)
                XCTAssertEqual(r.codec, codec)
                XCTAssertEqual([r.originalWidth, r.originalHeight, r.downscaledWidth, r.downscaledHeight], [256, 144, 128, 72])
                XCTAssertEqual(r.qualityKind, .crf)
                XCTAssertEqual(r.qualityValue, 3000)
            }
            var forms: [String] = []
            let input = try VideoInput(path: path("small.\(container)"), threads: 1, warn: warn)
            try input.run(
                frame: { frame in
                    let key = frame.pointee.key_frame != 0 ? "key " : ""
                    switch AIDataSEI.message(in: frame) {
                    case .message(.full): forms.append(key + "full")
                    case .message(.repeated): forms.append(key + "repeat")
                    default: forms.append("none")
                    }
                }, otherPacket: { _ in })
            // A full record on the key frame; the frames after it keep it (docs/ai-data.md §5.1).
            XCTAssertEqual(forms, ["key full"] + Array(repeating: "none", count: 11), encoder)
            let back = try decode("small.\(container)", "back.y4m")
            XCTAssertEqual(back.frames, 12)
            XCTAssertEqual(back.routes, ["setting 1": 12], encoder)
            XCTAssertEqual([back.outputWidth, back.outputHeight], [256, 144])
        }
        XCTAssertEqual(warnings.filter { !$0.contains("raw frames") }, [])
    }

    func testAutomaticSettingFollowsScaleAndRate() throws {
        try writeClip("clip.y4m", width: 96, height: 64, frames: 3)
        let settings = VideoEncoderSettings(encoder: "libx264", bitRate: 200_000, preset: "ultrafast", threads: 1)
        let report = try encode("clip.y4m", "small.mp4", options: .init(scale: .fixed(1.5), encoder: settings))
        XCTAssertEqual(report.setting?.id, 2)
        XCTAssertEqual([report.outputWidth, report.outputHeight], [64, 42])
        let info = try VideoAICodec.inspect(path("small.mp4"), warn: warn)
        guard case .record(let r) = info.frames.first?.found else { return XCTFail("no AI data") }
        XCTAssertEqual(r.qualityKind, .bitrateKbps)
        XCTAssertEqual(r.qualityValue, 200)
        XCTAssertEqual([r.scaleNumerator, r.scaleDenominator], [3, 2])
    }

    /// A Y4M clip whose luma is `luma(frame, x, y)`, chroma flat grey.
    func writeClip(_ name: String, width: Int, height: Int, frames: Int, luma: (Int, Int, Int) -> UInt8) throws {
        var bytes = Array("YUV4MPEG2 W\(width) H\(height) F25:1 Ip A1:1 C420jpeg\n".utf8)
        for f in 0..<frames {
            bytes += Array("FRAME\n".utf8)
            for y in 0..<height { for x in 0..<width { bytes.append(luma(f, x, y)) } }
            bytes += [UInt8](repeating: 128, count: 2 * ((width + 1) / 2) * ((height + 1) / 2))
        }
        try writeFileBytes(bytes, path: path(name))
    }

    /// `--scale auto` end to end: one scale for the stream, the output plays at the trial's size
    /// with every frame, the player gets the original size back.
    func checkAutoEncode(_ clip: String, frames: Int, crf: Double) throws -> (VideoAICodec.Report, ScaleChoice) {
        let settings = VideoEncoderSettings(encoder: "libx264", crf: crf, preset: "ultrafast", threads: 1)
        let report = try encode(clip, "auto.mp4", options: .init(encoder: settings))
        let choice = try XCTUnwrap(report.scaleChoice)
        XCTAssertEqual(choice.trials.map(\.scale), [1, 1.5, 2])
        XCTAssertEqual(choice.criterion, .cost(lambda: ScaleChoice.lambda(qp: crf)))
        XCTAssertEqual(report.frames, frames)
        XCTAssertEqual(try VideoAICodec.inspect(path("auto.mp4"), warn: warn).frames.count, frames)
        let back = try decode("auto.mp4", "back.y4m")
        XCTAssertEqual([back.outputWidth, back.outputHeight, back.frames], [report.inputWidth, report.inputHeight, frames])
        XCTAssertEqual(back.aiDataFrames, frames, "no fallback: \(warnings)")
        return (report, choice)
    }

    /// The planes (Y, U, V) of each frame of a 4:2:0 Y4M file written by the decoder.
    func y4mFrames(_ name: String, width: Int, height: Int) throws -> [[[UInt8]]] {
        let bytes = try readFileBytes(path: path(name), limit: 1 << 26)
        let sizes = [width * height, (width + 1) / 2 * ((height + 1) / 2), (width + 1) / 2 * ((height + 1) / 2)]
        var at = try XCTUnwrap(bytes.firstIndex(of: 10)) + 1
        var frames: [[[UInt8]]] = []
        while at < bytes.count {
            at = try XCTUnwrap(bytes[at...].firstIndex(of: 10)) + 1
            var planes: [[UInt8]] = []
            for size in sizes {
                planes.append(Array(bytes[at..<(at + size)]))
                at += size
            }
            frames.append(planes)
        }
        return frames
    }

    /// Full resolution with a restoration setting: the record names it at scale 1/1 and the
    /// player runs its network on luma at the coded size, chroma as decoded; a player without
    /// the setting shows the frames as decoded, and a codec it was not trained behind gets none.
    func testFullResolutionNamesTheRestorationSettingOfItsCodec() throws {
        try SyntheticModels.write(to: directory, restoration: true)
        store = try ModelStore(directory: directory)
        try writeClip("clip.y4m", width: 128, height: 96, frames: 8)
        let x264 = VideoEncoderSettings(encoder: "libx264", crf: 30, preset: "ultrafast", threads: 1)
        let report = try encode("clip.y4m", "x1.mp4", options: .init(scale: .fixed(1), encoder: x264))
        XCTAssertEqual(report.setting?.id, 3)
        XCTAssertEqual([report.outputWidth, report.outputHeight], [128, 96])
        XCTAssertEqual(report.routes, ["setting 3": 8])
        guard case .record(let r) = try VideoAICodec.inspect(path("x1.mp4"), warn: warn).frames.first?.found else {
            return XCTFail("no AI data")
        }
        XCTAssertEqual([Int(r.settingID), Int(r.scaleNumerator), Int(r.scaleDenominator)], [3, 1, 1])
        let back = try decode("x1.mp4", "back.y4m")
        XCTAssertEqual([back.outputWidth, back.outputHeight, back.frames, back.aiDataFrames], [128, 96, 8, 8], "\(warnings)")
        XCTAssertEqual(back.routes, ["setting 3": 8])

        // Models without the setting (an older player): the frames as decoded, and why.
        let older = try TemporaryDirectory(prefix: "nic-test").path
        defer { TemporaryDirectory(path: older).remove() }
        try SyntheticModels.write(to: older)
        warnings = []
        let plain = try decode("x1.mp4", "plain.y4m", store: try ModelStore(directory: older))
        XCTAssertEqual([plain.outputWidth, plain.outputHeight, plain.frames], [128, 96, 8])
        XCTAssertTrue(warnings.contains { $0.contains("unknown NN setting ID 3") }, "\(warnings)")
        let restored = try y4mFrames("back.y4m", width: 128, height: 96)
        let decoded = try y4mFrames("plain.y4m", width: 128, height: 96)
        XCTAssertEqual(restored.count, 8)
        XCTAssertEqual(decoded.count, 8)
        for (a, b) in zip(restored, decoded) {
            XCTAssertNotEqual(a[0], b[0], "the network changes luma")
            XCTAssertEqual(a[1], b[1], "chroma as decoded")
            XCTAssertEqual(a[2], b[2], "chroma as decoded")
        }

        // --scale auto: the full-resolution trial is judged after the restoration.
        let auto = try encode("clip.y4m", "auto.mp4", options: .init(encoder: x264))
        XCTAssertEqual(auto.scaleChoice?.trials.map(\.settingID).first, 3)

        // x265: no restoration network was trained behind it.
        let x265 = VideoEncoderSettings(encoder: "libx265", crf: 30, preset: "ultrafast", threads: 1)
        let hevc = try encode("clip.y4m", "x1.mkv", options: .init(scale: .fixed(1), encoder: x265))
        XCTAssertNil(hevc.setting)
        XCTAssertEqual(hevc.routes, ["unscaled": 8])
    }

    func testAutoScaleKeepsFullResolutionWhereNoUpscalerCanWin() throws {
        // Fresh noise every frame at a high rate: any downscale throws away what the bits pay for.
        var state: UInt64 = 1
        try writeClip("noise.y4m", width: 128, height: 96, frames: 20) { _, _, _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        let (report, choice) = try checkAutoEncode("noise.y4m", frames: 20, crf: 12)
        XCTAssertEqual(choice.chosen.scale, 1, choice.reason)
        XCTAssertEqual(choice.chosen.settingID, 0)
        XCTAssertEqual(report.routes, ["unscaled": 20])
        XCTAssertNil(report.setting)
        XCTAssertEqual([report.outputWidth, report.outputHeight], [128, 96])
        guard case .record(let r) = try VideoAICodec.inspect(path("auto.mp4"), warn: warn).frames.first?.found else {
            return XCTFail("no AI data")
        }
        XCTAssertEqual([Int(r.settingID), Int(r.scaleNumerator), Int(r.scaleDenominator)], [0, 1, 1])
        XCTAssertEqual(try decode("auto.mp4", "back2.y4m").routes, ["unscaled": 20])
        // The sample: three windows of 12 frames spread over a long stream, all of a short one.
        XCTAssertEqual(VideoAICodec.sampleIndices(count: 300), [0..<12, 144..<156, 288..<300])
        XCTAssertEqual(VideoAICodec.sampleIndices(count: 20), [0..<12])
        XCTAssertEqual(VideoAICodec.sampleIndices(count: 5), [0..<5])
        // Trials at the user's preset, none slower than medium.
        XCTAssertEqual(["veryslow", "medium", "ultrafast", nil].map(VideoAICodec.trialPreset), ["medium", "medium", "ultrafast", nil])
    }

    func testAutoScaleDownscalesASmoothClipAtALowRate() throws {
        // Slow gradients at CRF 45: half the pixels lose almost nothing and save most of the bits.
        try writeClip("smooth.y4m", width: 192, height: 128, frames: 14) { f, x, y in
            UInt8(64 + (x + f) / 3 + y / 2)
        }
        let (report, choice) = try checkAutoEncode("smooth.y4m", frames: 14, crf: 45)
        XCTAssertGreaterThan(choice.chosen.scale, 1, choice.reason)
        XCTAssertEqual(report.setting?.scale, choice.chosen.scale)
        XCTAssertEqual(report.routes.keys.sorted(), ["setting \(choice.chosen.settingID)"])
        XCTAssertLessThan(report.outputWidth, 192)
        // A fixed scale takes no trials.
        let settings = VideoEncoderSettings(encoder: "libx264", crf: 45, preset: "ultrafast", threads: 1)
        let forced = try encode("smooth.y4m", "forced.mp4", options: .init(scale: .fixed(2), encoder: settings))
        XCTAssertNil(forced.scaleChoice)
        XCTAssertEqual([forced.outputWidth, forced.outputHeight, forced.setting?.id], [96, 64, 1])
    }

    /// Two scenes that want different scales: fine static stripes (a downscale loses them) and a
    /// slow smooth gradient (a downscale saves most bits for almost nothing).
    func writeTwoSceneClip(_ name: String, frames: Int) throws {
        try writeClip(name, width: 192, height: 128, frames: 2 * frames) { f, x, y in
            f < frames ? ((x / 1 + y / 3) % 2 == 0 ? 40 : 215) : UInt8(64 + (x + f) / 3 + y / 2)
        }
    }

    /// `--scale auto` scene by scene: Matroska and MPEG-TS change the coded size at the scene
    /// cut (a key frame with a full record); every frame plays back at the original size; MP4
    /// keeps one scale for the whole stream.
    func testAutoScaleChangesSizeAtASceneCutWhereTheContainerCarriesIt() throws {
        try writeTwoSceneClip("scenes.y4m", frames: 30)
        let settings = VideoEncoderSettings(encoder: "libx264", crf: 40, preset: "ultrafast", threads: 1)
        for container in ["mkv", "ts"] {
            let report = try encode("scenes.y4m", "auto.\(container)", options: .init(encoder: settings))
            let plan = try XCTUnwrap(report.scalePlan)
            XCTAssertEqual(plan.scenes.map(\.firstFrame), [0, 30], container)
            XCTAssertEqual(plan.scenes.map(\.frames), [30, 30])
            let scales = plan.scenes.map(\.choice.chosen.scale)
            XCTAssertEqual(scales.first, 1, plan.scenes[0].choice.reason)
            XCTAssertGreaterThan(scales.last ?? 0, 1, plan.scenes[1].choice.reason)
            XCTAssertEqual(report.sizeChanges, 1)
            XCTAssertNil(report.scaleChoice)
            XCTAssertEqual(report.frames, 60)
            // What FFmpeg decodes: the sizes change at frame 30, on a key frame with a full record.
            var sizes: [[Int]] = [], forms: [String] = []
            let coded = try VideoInput(path: path("auto.\(container)"), threads: 1, warn: warn)
            try coded.run(
                frame: { frame in
                    sizes.append([Int(frame.pointee.width), Int(frame.pointee.height)])
                    if case .message(.full) = AIDataSEI.message(in: frame) { forms.append("\(sizes.count - 1)") }
                    if sizes.count == 31 { XCTAssertNotEqual(frame.pointee.key_frame, 0, "scene start is a key frame") }
                }, otherPacket: { _ in })
            XCTAssertEqual(sizes.count, 60)
            XCTAssertEqual(Array(Set(sizes[0..<30])), [[192, 128]])
            XCTAssertEqual(Set(sizes[30...]).count, 1)
            XCTAssertLessThan(sizes[30][0], 192)
            XCTAssertTrue(forms.contains("30"), "\(forms)")
            let info = try VideoAICodec.inspect(path("auto.\(container)"), warn: warn)
            XCTAssertEqual(info.frames.map(\.pts), info.frames.map(\.pts).sorted())
            let back = try decode("auto.\(container)", "back.y4m")
            XCTAssertEqual([back.outputWidth, back.outputHeight, back.frames, back.aiDataFrames], [192, 128, 60, 60], "\(warnings)")
            XCTAssertEqual(back.routes["unscaled"], 30)
        }
        // A corrupt record at the change of size: the frames after it fall back to the original
        // size (their sizes do not fit the record in force), reported, none lost; a cut anywhere
        // keeps the frames before it.
        let bytes = try readFileBytes(path: path("auto.mkv"), limit: 1 << 24)
        let uuid = AIDataRecord.seiUUID
        let records = (0...(bytes.count - uuid.count)).filter { Array(bytes[$0..<($0 + uuid.count)]) == uuid }
        XCTAssertEqual(records.count, 2, "records on the two key frames only")
        var damaged = bytes
        damaged[records[1] + uuid.count + 6] ^= 0x55
        try writeFileBytes(damaged, path: path("damaged.mkv"))
        warnings = []
        let fallback = try decode("damaged.mkv", "damaged.y4m")
        XCTAssertEqual([fallback.outputWidth, fallback.outputHeight, fallback.frames, fallback.aiDataFrames], [192, 128, 60, 30])
        XCTAssertTrue(warnings.contains { $0.contains("corrupt") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("do not fit") }, "\(warnings)")
        for end in [records[1] + 8, (records[1] + bytes.count) / 2] {
            try writeFileBytes(Array(bytes.prefix(end)), path: path("cut.mkv"))
            let cut = try decode("cut.mkv", "cut.y4m")
            XCTAssertEqual([cut.outputWidth, cut.outputHeight], [192, 128])
            XCTAssertGreaterThanOrEqual(cut.frames, 30)
            XCTAssertLessThan(cut.frames, 60)
        }
        // MP4 keeps one set of parameters: one choice over the whole stream.
        let report = try encode("scenes.y4m", "auto.mp4", options: .init(encoder: settings))
        XCTAssertEqual(report.scalePlan?.scenes.count, 1)
        XCTAssertNotNil(report.scaleChoice)
        XCTAssertEqual(report.sizeChanges, 0)
        // Scenes too short for a scale of their own join the one before.
        XCTAssertEqual(ScalePlan.sceneRanges(starts: [0, 30], frameCount: 60), [0..<30, 30..<60])
        XCTAssertEqual(ScalePlan.sceneRanges(starts: [0, 30, 40, 80], frameCount: 90), [0..<40, 40..<90])
        XCTAssertEqual(ScalePlan.sceneRanges(starts: [10, 50], frameCount: 60), [0..<60])
    }

    func testStreamWithoutAIDataFallsBackForEveryFrame() throws {
        try writeClip("plain.y4m", width: 64, height: 48, frames: 4)
        // A plain Y4M clip has no SEI at all: generic setting, or Lanczos when not allowed.
        var report = try decode("plain.y4m", "up.y4m")
        XCTAssertEqual(report.routes, ["setting 9": 4])
        XCTAssertEqual([report.outputWidth, report.outputHeight], [128, 96])
        XCTAssertTrue(warnings.contains { $0.contains("no AI data") }, "\(warnings)")
        report = try decode("plain.y4m", "up2.y4m", options: .init(size: (100, 70), allowGenericFallback: false))
        XCTAssertEqual(report.routes, ["lanczos": 4])
        XCTAssertEqual([report.outputWidth, report.outputHeight], [100, 70])
        report = try decode("plain.y4m", "up3.y4m", store: nil)
        XCTAssertEqual(report.frames, 4)
    }

    func testOddSizesAreKeptInRawFramesAndEvenedForEncoders() throws {
        try writeClip("odd.y4m", width: 99, height: 63, frames: 3)
        let settings = VideoEncoderSettings(encoder: "libx264", crf: 30, preset: "ultrafast", threads: 1)
        let report = try encode("odd.y4m", "small.mp4", options: .init(settingID: 1, encoder: settings))
        XCTAssertEqual([report.outputWidth, report.outputHeight], [50, 32])
        XCTAssertEqual(try decode("small.mp4", "back.y4m").outputWidth, 99)
        let evened = try decode("small.mp4", "back.mp4", options: .init(encoder: settings))
        XCTAssertEqual([evened.outputWidth, evened.outputHeight], [98, 62])
        XCTAssertTrue(warnings.contains { $0.contains("even sizes") }, "\(warnings)")
    }

    func testBadInputGivesClearErrors() throws {
        XCTAssertThrowsError(try decode("missing.mp4", "out.y4m")) { error in
            XCTAssertTrue("\(error)".contains("no such file"), "\(error)")
        }
        // A WAV file: a valid container without video.
        var wav = Array("RIFF".utf8) + [36 + 200, 0, 0, 0] + Array("WAVEfmt ".utf8) + [16, 0, 0, 0, 1, 0, 1, 0]
        wav += [0x40, 0x1F, 0, 0, 0x80, 0x3E, 0, 0, 2, 0, 16, 0] + Array("data".utf8) + [200, 0, 0, 0]
        wav += [UInt8](repeating: 0, count: 200)
        try writeFileBytes(wav, path: path("sound.wav"))
        XCTAssertThrowsError(try decode("sound.wav", "out.y4m")) { error in
            XCTAssertEqual(error as? NICError, .unsupportedFormat("\(self.path("sound.wav")) has no video stream"))
        }
        try writeClip("clip.y4m", width: 64, height: 48, frames: 2)
        let settings = VideoEncoderSettings(encoder: "libx264", crf: 30, preset: "ultrafast", threads: 1)
        XCTAssertThrowsError(try encode("clip.y4m", "small.unknownext", options: .init(settingID: 1, encoder: settings)))
        XCTAssertThrowsError(try encode("clip.y4m", "small.mp4", options: .init(settingID: 77, encoder: settings)))
        XCTAssertThrowsError(try encode("clip.y4m", "small.mp4", options: .init(settingID: 1, encoder: .init(encoder: "nosuchcodec"))))
        XCTAssertThrowsError(try encode("clip.y4m", "small.mp4", options: .init(settingID: 1, encoder: .init(encoder: "libx265")))) {
            XCTAssertTrue("\($0)".contains("narrower than 64"), "\($0)")
        }
    }

    func testTruncatedStreamKeepsTheFramesBeforeTheCut() throws {
        try writeClip("clip.y4m", width: 64, height: 48, frames: 10)
        let settings = VideoEncoderSettings(encoder: "libx264", crf: 30, preset: "ultrafast", threads: 1)
        _ = try encode("clip.y4m", "small.ts", options: .init(settingID: 1, encoder: settings))
        let bytes = try readFileBytes(path: path("small.ts"), limit: 1 << 24)
        for fraction in [0.3, 0.6, 0.9] {
            try writeFileBytes(Array(bytes.prefix(Int(Double(bytes.count) * fraction))), path: path("cut.ts"))
            let report = try decode("cut.ts", "cut.y4m")
            XCTAssertLessThanOrEqual(report.frames, 10)
        }
    }

    func testSEINALUnitsAvoidStartCodesAndGoBeforeTheFirstSlice() throws {
        XCTAssertEqual(
            AIDataSEI.addingEmulationPrevention([0, 0, 0, 0, 0, 1, 0, 0, 4, 0, 0, 3]),
            [0, 0, 3, 0, 0, 3, 0, 1, 0, 0, 4, 0, 0, 3, 3])
        let record = AIDataRecord(
            settingID: 3, scaleNumerator: 2, scaleDenominator: 1, originalWidth: 1920, originalHeight: 1080,
            downscaledWidth: 960, downscaledHeight: 540, codec: .h264)
        let nal = try AIDataSEI.nalUnit(record, codec: .h264)
        XCTAssertEqual(Array(nal.prefix(3)), [0x06, 0x05, 47])
        // Access unit: AUD, SPS, slice.
        let au: [UInt8] = [0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x65, 0x88, 0x80]
        let out = au.withUnsafeBufferPointer { AIDataSEI.inserting(nal, intoAnnexB: $0, codec: .h264) }!
        XCTAssertEqual(Array(out.prefix(12)), Array(au.prefix(12)))
        XCTAssertEqual(Array(out[12..<16]), [0, 0, 0, 1])
        XCTAssertEqual(Array(out[16..<(16 + nal.count)]), nal)
        XCTAssertEqual(Array(out.suffix(6)), [0, 0, 1, 0x65, 0x88, 0x80])
        let noSlice: [UInt8] = [0, 0, 0, 1, 0x67, 0x42]
        XCTAssertNil(noSlice.withUnsafeBufferPointer { AIDataSEI.inserting(nal, intoAnnexB: $0, codec: .h264) })
        let hevc = try AIDataSEI.nalUnit(record, codec: .hevc)
        XCTAssertEqual(Array(hevc.prefix(4)), [0x4E, 0x01, 0x05, 47])
        let hevcAU: [UInt8] = [0, 0, 0, 1, 0x40, 0x01, 0x0C, 0, 0, 1, 0x26, 0x01, 0xAF]  // VPS, IDR slice
        let hevcOut = hevcAU.withUnsafeBufferPointer { AIDataSEI.inserting(hevc, intoAnnexB: $0, codec: .hevc) }!
        XCTAssertEqual(Array(hevcOut[7..<11]), [0, 0, 0, 1])
        XCTAssertEqual(hevcOut[11], 0x4E)
    }

    func testPayloadsWithOtherUUIDsAreIgnoredAndDamageIsReported() throws {
        let record = AIDataRecord(
            settingID: 3, scaleNumerator: 2, scaleDenominator: 1, originalWidth: 64, originalHeight: 48,
            downscaledWidth: 32, downscaledHeight: 24)
        var payload = try AIDataSEI.payload(record)
        func parse() -> AIDataSEI.Payload { payload.withUnsafeBufferPointer { AIDataSEI.parse(payload: $0) } }
        XCTAssertEqual(parse(), .message(.full(record)))
        payload[20] ^= 0x10
        guard case .corrupt = parse() else { return XCTFail("bit flip not caught") }
        payload[0] ^= 0xFF
        XCTAssertEqual(parse(), .absent, "other UUID not ignored")
    }

    /// Key frames carry full records; other frames a repeat record while only the setting
    /// changes, and full records from any other change up to the next key frame.
    func testWriterRepeatsBetweenKeyFramesAndReaderCompletesRepeats() throws {
        let a = AIDataRecord(
            settingID: 7, scaleNumerator: 2, scaleDenominator: 1, originalWidth: 64, originalHeight: 48,
            downscaledWidth: 32, downscaledHeight: 24, codec: .h264, flags: [.lumaOnly])
        var b = a
        b.settingID = 9
        var c = a
        c.qualityKind = .crf
        c.qualityValue = 2800
        var writer = AIDataSEI.Writer(codec: .h264)
        let stream: [(AIDataRecord, Bool)] = [(a, true), (a, false), (b, false), (c, false), (a, false), (a, true), (b, false)]
        var sizes: [Int] = [], reader = AIDataSEI.Reader()
        for (record, key) in stream {
            let nal = try writer.nalUnit(for: record, keyFrame: key)
            // NAL header, payload type, size, payload: emulation prevention removed.
            var rbsp: [UInt8] = [], zeros = 0
            for byte in nal.dropFirst() {
                if zeros >= 2 && byte == 3 { zeros = 0; continue }
                rbsp.append(byte)
                zeros = byte == 0 ? zeros + 1 : 0
            }
            let payload = Array(rbsp[2..<(2 + Int(rbsp[1]))])
            sizes.append(payload.count - 16)
            let frame = try XCTUnwrap(av_frame_alloc())
            var owned: UnsafeMutablePointer<AVFrame>? = frame
            defer { av_frame_free(&owned) }
            let side = try XCTUnwrap(av_frame_new_side_data(frame, AV_FRAME_DATA_SEI_UNREGISTERED, payload.count))
            payload.withUnsafeBufferPointer { _ = memcpy(side.pointee.data, $0.baseAddress!, payload.count) }
            guard case .record(let read) = reader.read(frame) else { return XCTFail("frame \(sizes.count) unread") }
            XCTAssertEqual(read, record, "frame \(sizes.count)")
        }
        XCTAssertEqual(sizes, [31, 14, 14, 31, 31, 31, 14])
        // A stream cut after its key frame: the first repeat record has nothing to complete.
        let repeatOnly = AIDataRecord.seiUUID + b.serializedRepeat()
        let frame = try XCTUnwrap(av_frame_alloc())
        var owned: UnsafeMutablePointer<AVFrame>? = frame
        defer { av_frame_free(&owned) }
        let side = try XCTUnwrap(av_frame_new_side_data(frame, AV_FRAME_DATA_SEI_UNREGISTERED, repeatOnly.count))
        repeatOnly.withUnsafeBufferPointer { _ = memcpy(side.pointee.data, $0.baseAddress!, repeatOnly.count) }
        var fresh = AIDataSEI.Reader()
        guard case .corrupt(let message) = fresh.read(frame) else { return XCTFail() }
        XCTAssertTrue(message.contains("before any full record"), message)
    }

    func testFramesWithoutAIDataKeepTheLastRecordAndCorruptOnesAreSkipped() {
        let a = AIDataRecord(
            settingID: 1, scaleNumerator: 2, scaleDenominator: 1, originalWidth: 64, originalHeight: 48,
            downscaledWidth: 32, downscaledHeight: 24)
        var tracker = AIDataTracker(warn: warn)
        guard case .none = tracker.update(with: .none, pts: 0) else { return XCTFail() }
        guard case .corrupt = tracker.update(with: .corrupt("bad"), pts: 1) else { return XCTFail() }
        guard case .record(a) = tracker.update(with: .record(a), pts: 2) else { return XCTFail() }
        guard case .record(a) = tracker.update(with: .none, pts: 3) else { return XCTFail() }
        guard case .record(a) = tracker.update(with: .corrupt("bad"), pts: 4) else { return XCTFail() }
        XCTAssertEqual(warnings.count, 2)
    }

    /// The AI data's share comes off the encoder's target, so the stream meets the rate asked for.
    func testAIDataShareIsTakenOffTheTargetRate() {
        XCTAssertEqual(AIDataSEI.bytesPerKeyFrame, 56)  // 4-byte prefix, 2-byte HEVC header, type, size, 16 + 31, stop
        var notes: [String] = []
        let share = { (rate: Int) in VideoAICodec.videoShare(of: .init(bitRate: rate)) { notes.append($0) }.bitRate }
        XCTAssertEqual(share(124_000), 124_000 - 56 * 8)
        XCTAssertEqual(notes, [])
        XCTAssertEqual(share(1_500), 1_500 - 56 * 8)
        XCTAssertEqual(share(1_000), 552)
        XCTAssertEqual(share(800), 400, "at most half")
        XCTAssertEqual(notes.count, 3)
        XCTAssertTrue(notes[0].contains("AI data takes about 0.448 kbit/s of the 1.5 kbit/s"), notes[0])
        XCTAssertEqual(VideoAICodec.videoShare(of: .init(crf: 23)) { _ in }.crf, 23)
    }

    func testBitRatesTakeFFmpegSuffixes() throws {
        XCTAssertEqual(try VideoEncoderSettings.parseBitRate("800k"), 800_000)
        XCTAssertEqual(try VideoEncoderSettings.parseBitRate("2M"), 2_000_000)
        XCTAssertEqual(try VideoEncoderSettings.parseBitRate("1.5M"), 1_500_000)
        XCTAssertEqual(try VideoEncoderSettings.parseBitRate("250000"), 250_000)
        for bad in ["", "k", "2x", "-5k", "1e9", "12"] {
            XCTAssertThrowsError(try VideoEncoderSettings.parseBitRate(bad), bad)
        }
    }
}
