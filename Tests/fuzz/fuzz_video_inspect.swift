// Container-level video decoding: VideoAICodec.inspect (VideoInput: FFmpeg's demuxer picked from
// the content, the video decoder on one thread, AIDataSEI.Reader on every frame) reads the input
// by path, as `nic info` does. The input lives in an unlinked shared-memory file named by its
// descriptor (/proc/self/fd/N), so handing it over costs no file system write per input. Bounds
// that keep one input far below 1 s: at most `maxFrames` frames are taken (the visitor stops the
// job), and FFmpeg allocations are capped at `maxFFmpegAllocation` (av_max_alloc), so that
// pictures above about 1 megapixel fail to allocate instead of decoding slowly; the library must
// handle that failure like any other. The demuxer may not open other files (VideoInput refuses
// nested opens), so playlists and references to other files fail as they do in `nic info`.
import CFFmpeg
import Glibc
@testable import FFGlue
@testable import NICCore

let maxFrames = 8
let maxFFmpegAllocation = 2 << 20

/// The descriptor of the input's file: created in shared memory and unlinked at once, so nothing
/// is left behind, however the process ends.
let inputDescriptor: Int32 = {
    let name = "/nic-fuzz-video-\(getpid())"
    let descriptor = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0o600)
    guard descriptor >= 0 else { fuzzFail("cannot create the shared-memory file \(name): \(String(cString: strerror(errno)))") }
    shm_unlink(name)
    return descriptor
}()
let inputPath = "/proc/self/fd/\(inputDescriptor)"

struct EnoughFrames: Error {}

func fuzzSetUp() {
    FFmpegLogging.silence()
    fuzzWriteSeedsIfAsked(videoSeeds)
    av_max_alloc(maxFFmpegAllocation)
    _ = inputDescriptor
}

/// Makes the input file hold exactly `bytes`.
func setInput(_ bytes: [UInt8]) {
    guard bytes.isEmpty || pwrite(inputDescriptor, bytes, bytes.count, 0) == bytes.count,
        ftruncate(inputDescriptor, off_t(bytes.count)) == 0
    else { fuzzFail("cannot write the input file: \(String(cString: strerror(errno)))") }
}

func fuzzOne(_ input: [UInt8]) {
    setInput(input)
    var frames = 0
    do {
        let stream = try VideoAICodec.inspect(
            inputPath, threads: 1, warn: { _ in },
            visit: { frame in
                frames += 1
                guard frame.width > 0, frame.height > 0 else { fuzzFail("a decoded frame of \(frame.width)x\(frame.height)") }
                if frames >= maxFrames { throw EnoughFrames() }
            })
        guard stream.frames.count == frames else { fuzzFail("inspect listed \(stream.frames.count) of \(frames) frames") }
    } catch {
        // Refused, damaged or stopped after maxFrames: all fine.
    }
}

/// Runs a shell command, failing the seed writing when it fails.
func shell(_ command: String) {
    guard system(command) == 0 else { fuzzFail("command failed: \(command)") }
}

/// A tiny testsrc clip AI-encoded by the library (as `nic ai-encode` does) to H.264 in MP4 and
/// HEVC in Matroska, the same streams remuxed by ffmpeg to Annex B and MPEG-TS, and clips
/// without AI data.
func videoSeeds() throws -> [(name: String, bytes: [UInt8])] {
    let directory = fuzzTemporaryDirectory("video-seeds")
    defer { shell("rm -rf '\(directory)'") }
    let source = directory + "/source.y4m"
    let ffmpeg = "ffmpeg -nostdin -v error -y"
    shell("\(ffmpeg) -f lavfi -i testsrc=size=128x96:rate=10 -frames:v 5 -pix_fmt yuv420p '\(source)'")
    let store = try ModelStore(directory: fuzzModelDirectory)
    let device = try ComputeDevice(threads: 1)
    var files: [String] = []
    for (name, encoder) in [("ai-h264.mp4", "libx264"), ("ai-hevc.mkv", "libx265")] {
        let options = VideoAICodec.EncodeOptions(
            scale: .fixed(2), encoder: VideoEncoderSettings(encoder: encoder, crf: 35, preset: "ultrafast"))
        _ = try VideoAICodec.encode(
            input: source, output: directory + "/" + name, options: options, store: store,
            device: device, warn: { _ in })
        files.append(name)
    }
    shell("\(ffmpeg) -i '\(directory)/ai-h264.mp4' -c copy -bsf:v h264_mp4toannexb -f h264 '\(directory)/ai-h264.h264'")
    shell("\(ffmpeg) -i '\(directory)/ai-hevc.mkv' -c copy -f hevc '\(directory)/ai-hevc.hevc'")
    shell("\(ffmpeg) -i '\(directory)/ai-h264.mp4' -c copy -f mpegts '\(directory)/ai-h264.ts'")
    shell("\(ffmpeg) -f lavfi -i testsrc=size=32x24:rate=5 -frames:v 3 -c:v mpeg4 -f avi '\(directory)/plain-mpeg4.avi'")
    shell(
        "\(ffmpeg) -f lavfi -i testsrc=size=32x24:rate=5 -frames:v 3 -c:v libx264 -preset ultrafast -f matroska '\(directory)/plain-h264.mkv'"
    )
    files += ["ai-h264.h264", "ai-hevc.hevc", "ai-h264.ts", "plain-mpeg4.avi", "plain-h264.mkv"]
    return try files.map { name in
        guard let bytes = fuzzReadFile(directory + "/" + name) else { throw NICError.io("no \(name)") }
        return (name, bytes)
    }
}
