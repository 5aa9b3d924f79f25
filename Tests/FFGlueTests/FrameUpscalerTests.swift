import CFFmpeg
import XCTest
@testable import FFGlue
@testable import NICCore

/// The player path: AVFrames in and out, AI data from side data, 8 and 10 bits.
final class FrameUpscalerTests: XCTestCase {
    var directory = ""
    var store: ModelStore!
    let device = try! ComputeDevice(threads: 1)

    override func setUpWithError() throws {
        directory = try TemporaryDirectory(prefix: "nic-frames").path
        try SyntheticModels.write(to: directory)
        store = try ModelStore(directory: directory)
    }

    override func tearDown() { TemporaryDirectory(path: directory).remove() }

    let record = AIDataRecord(
        settingID: 1, scaleNumerator: 2, scaleDenominator: 1, originalWidth: 128, originalHeight: 96,
        downscaledWidth: 64, downscaledHeight: 48, codec: .h264)

    /// A 64x48 test-pattern frame of `format` (yuv420p or yuv420p10le), with AI data when `withAIData`.
    func makeInput(
        _ format: AVPixelFormat, withAIData: Bool, pts: Int64 = 7, aiData: AIDataRecord? = nil
    ) throws -> UnsafeMutablePointer<AVFrame> {
        let image = try ImageFile.read(data: try ImageFile.encode(try TestPattern.make(width: 64, height: 48), format: .png), as: .yuv420p)
        let frame = try allocateFrame(format: format, width: 64, height: 48, range: AVCOL_RANGE_MPEG)
        for p in 0..<3 {
            let size = image.planeSize(p)
            for y in 0..<size.height {
                for x in 0..<size.width {
                    let value = image.planes[p][y * size.width + x]
                    if format == AV_PIX_FMT_YUV420P10LE {
                        UnsafeMutableRawPointer(frame.plane(p)! + y * Int(frame.linesize(p)))
                            .storeBytes(of: UInt16(value) << 2, toByteOffset: 2 * x, as: UInt16.self)
                    } else {
                        frame.plane(p)![y * Int(frame.linesize(p)) + x] = value
                    }
                }
            }
        }
        frame.pointee.pts = pts
        if withAIData {
            let payload = try AIDataSEI.payload(aiData ?? record)
            let side = av_frame_new_side_data(frame, AV_FRAME_DATA_SEI_UNREGISTERED, payload.count)!
            payload.withUnsafeBufferPointer { _ = memcpy(side.pointee.data, $0.baseAddress!, payload.count) }
        }
        return frame
    }

    func sample(_ frame: UnsafeMutablePointer<AVFrame>, plane: Int, x: Int, y: Int) -> Int {
        let row = frame.plane(plane)! + y * Int(frame.linesize(plane))
        if frame.pixelFormat == AV_PIX_FMT_YUV420P10LE {
            return Int(UnsafeRawPointer(row).load(fromByteOffset: 2 * x, as: UInt16.self))
        }
        return Int(row[x])
    }

    func testFullResolutionAIDataShowsTheFrameAsItIs() throws {
        let full = AIDataRecord.fullResolution(originalWidth: 64, originalHeight: 48, codedWidth: 64, codedHeight: 48, codec: .h264)
        for format in [AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV420P10LE] {
            var input: UnsafeMutablePointer<AVFrame>? = try makeInput(format, withAIData: true, aiData: full)
            var output: UnsafeMutablePointer<AVFrame>? = av_frame_alloc()
            defer { av_frame_free(&input); av_frame_free(&output) }
            var warnings: [String] = []
            let upscaler = FrameUpscaler(store: store, device: device, warn: { warnings.append($0) })
            let result = try upscaler.upscale(input!, into: output!)
            XCTAssertEqual(result.plan.route, .unscaled)
            XCTAssertNil(result.plan.fallbackReason)
            XCTAssertEqual([Int(output!.pointee.width), Int(output!.pointee.height)], [64, 48])
            for p in 0..<3 {
                for (x, y) in [(0, 0), (17, 9), (31, 23)] {
                    XCTAssertEqual(sample(output!, plane: p, x: x, y: y), sample(input!, plane: p, x: x, y: y), "plane \(p)")
                }
            }
            XCTAssertEqual(warnings, [])
        }
        // An odd original coded one pixel smaller, or a size the caller asks for: Lanczos, no fallback.
        let odd = AIDataRecord.fullResolution(originalWidth: 65, originalHeight: 49, codedWidth: 64, codedHeight: 48)
        let plan = try AIDecodePlan(found: .record(odd), imageWidth: 64, imageHeight: 48, manifest: store.manifest, options: .init())
        XCTAssertEqual([plan.width, plan.height], [65, 49])
        XCTAssertEqual(plan.route, .classic(.lanczos))
        XCTAssertNil(plan.fallbackReason)
        // Without the 1/1 scale, setting 0 still is a classic downscale the player is told about.
        var classic = odd
        (classic.scaleNumerator, classic.originalWidth, classic.originalHeight) = (2, 128, 96)
        let fallback = try AIDecodePlan(
            found: .record(classic), imageWidth: 64, imageHeight: 48, manifest: store.manifest, options: .init())
        XCTAssertNotNil(fallback.fallbackReason)
    }

    func testAIDataFromSideDataDrivesEightAndTenBitFramesAlike() throws {
        var outputs: [UnsafeMutablePointer<AVFrame>?] = []
        defer { for i in outputs.indices { av_frame_free(&outputs[i]) } }
        for format in [AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV420P10LE] {
            var input: UnsafeMutablePointer<AVFrame>? = try makeInput(format, withAIData: true)
            defer { av_frame_free(&input) }
            let output = av_frame_alloc()!
            outputs.append(output)
            let result = try FrameUpscaler(store: store, device: device).upscale(input!, into: output)
            XCTAssertEqual(result.plan.route, .network(settingID: 1))
            XCTAssertNil(result.plan.fallbackReason)
            XCTAssertEqual(result.record, record)
            XCTAssertEqual([Int(output.pointee.width), Int(output.pointee.height)], [128, 96])
            XCTAssertEqual(output.pixelFormat, format)
            XCTAssertEqual(output.pointee.pts, 7)
            XCTAssertNil(av_frame_get_side_data(output, AV_FRAME_DATA_SEI_UNREGISTERED), "AI data of the small frame stays behind")
        }
        var worst = 0
        for p in 0..<3 {
            let (w, h) = p == 0 ? (128, 96) : (64, 48)
            for y in 0..<h {
                for x in 0..<w {
                    worst = max(worst, abs(4 * sample(outputs[0]!, plane: p, x: x, y: y) - sample(outputs[1]!, plane: p, x: x, y: y)))
                }
            }
        }
        XCTAssertLessThanOrEqual(worst, 3, "10-bit output = 4 x 8-bit output within the 8-bit rounding")
    }

    func testFramesWithoutAIDataKeepTheLastUntilReset() throws {
        let upscaler = FrameUpscaler(store: store, device: device)
        var first: UnsafeMutablePointer<AVFrame>? = try makeInput(AV_PIX_FMT_YUV420P, withAIData: true)
        var plain: UnsafeMutablePointer<AVFrame>? = try makeInput(AV_PIX_FMT_YUV420P, withAIData: false)
        var output = av_frame_alloc()
        defer { av_frame_free(&first); av_frame_free(&plain); av_frame_free(&output) }
        _ = try upscaler.upscale(first!, into: output!)
        av_frame_unref(output)
        var result = try upscaler.upscale(plain!, into: output!)
        XCTAssertEqual(result.plan.route, .network(settingID: 1))
        guard case .none = result.frameAIData else { return XCTFail("the plain frame has no AI data of its own") }
        upscaler.reset()
        av_frame_unref(output)
        result = try upscaler.upscale(plain!, into: output!)
        XCTAssertEqual(result.plan.route, .network(settingID: 9), "after reset: the generic setting")
        XCTAssertEqual(result.plan.fallbackReason, "no AI data")
    }

    func testCallerBuffersSetTheSizeAndFormatsMustMatch() throws {
        let upscaler = FrameUpscaler(store: store, device: device)
        var input: UnsafeMutablePointer<AVFrame>? = try makeInput(AV_PIX_FMT_YUV420P, withAIData: true)
        var output: UnsafeMutablePointer<AVFrame>? = try allocateFrame(
            format: AV_PIX_FMT_YUV420P, width: 100, height: 70,
            range: AVCOL_RANGE_MPEG)
        var wrong: UnsafeMutablePointer<AVFrame>? = try allocateFrame(
            format: AV_PIX_FMT_YUV420P10LE, width: 128, height: 96,
            range: AVCOL_RANGE_MPEG)
        var rgb: UnsafeMutablePointer<AVFrame>? = try allocateFrame(
            format: AV_PIX_FMT_RGB24, width: 64, height: 48,
            range: AVCOL_RANGE_JPEG)
        defer { av_frame_free(&input); av_frame_free(&output); av_frame_free(&wrong); av_frame_free(&rgb) }
        let result = try upscaler.upscale(input!, into: output!)
        XCTAssertEqual([result.plan.width, result.plan.height], [100, 70])
        XCTAssertThrowsError(try upscaler.upscale(input!, into: wrong!))
        XCTAssertThrowsError(try upscaler.upscale(rgb!, into: output!)) { XCTAssertTrue("\($0)".contains("4:2:0"), "\($0)") }
    }
}
