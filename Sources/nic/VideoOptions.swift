import ArgumentParser
import FFGlue
import NICCore
#if canImport(Glibc)
    import Glibc
#endif

/// Encoder options of the video commands: `--crf`, `--bitrate`, `--preset`.
struct VideoEncoderOptions: ParsableArguments {
    @Option(help: "Video: constant rate factor of the output encoder.") var crf: Double?
    @Option(help: "Video: target bit rate, FFmpeg style (800k, 2M), AI data included; overrides --crf.") var bitrate: String?
    @Option(help: "Video: encoder preset (x264/x265 names, e.g. veryfast, medium).") var preset: String?

    /// Encoder settings for `codec` (a --codec value, nil for the default).
    func settings(codec: String?, threads: Int) throws -> VideoEncoderSettings {
        VideoEncoderSettings(
            encoder: try videoEncoderName(codec), crf: crf,
            bitRate: try bitrate.map(VideoEncoderSettings.parseBitRate), preset: preset, threads: threads)
    }
}

/// FFmpeg encoder name for a --codec value: a codec's name or alias (`Codec(name:)`), else the
/// value itself (another FFmpeg encoder).
func videoEncoderName(_ codec: String?) throws -> String? {
    guard let codec else { return nil }
    return Codec(name: codec)?.videoEncoder ?? codec
}

/// Warnings of video jobs go to stderr as they happen.
func printWarning(_ message: String) { printError("nic: warning: \(message)") }

extension VideoAICodec.Report {
    /// The report as JSON fields for `--json` output.
    func jsonFields(output: String) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [
            "output": .string(output), "frames": .number(Double(frames)),
            "input_width": .number(Double(inputWidth)), "input_height": .number(Double(inputHeight)),
            "width": .number(Double(outputWidth)), "height": .number(Double(outputHeight)),
            "routes": .object(routes.mapValues { .number(Double($0)) }),
            "copied_streams": .number(Double(copiedStreams)), "video_bytes": .number(Double(videoBytes)),
            "seconds": .number(rounded(seconds, 3)), "scaling_seconds": .number(rounded(scalingSeconds, 3)),
            "fps": .number(rounded(seconds > 0 ? Double(frames) / seconds : 0, 2)),
            "scaling_fps": .number(rounded(scalingSeconds > 0 ? Double(frames) / scalingSeconds : 0, 2)),
        ]
        if let setting { fields["setting_id"] = .number(Double(setting.id)) }
        if scenes > 0 { fields["scenes"] = .number(Double(scenes)) }
        if let scaleChoice {
            var choice = scaleChoice.jsonFields
            choice["trial_seconds"] = .number(rounded(trialSeconds, 3))
            fields["scale_choice"] = .object(choice)
        } else if let scalePlan {
            fields["scene_scales"] = .array(
                scalePlan.scenes.map { scene in
                    var fields = scene.choice.jsonFields
                    fields["first_frame"] = .number(Double(scene.firstFrame))
                    if let frames = scene.frames { fields["frames"] = .number(Double(frames)) }
                    return .object(fields)
                })
            fields["trial_seconds"] = .number(rounded(trialSeconds, 3))
            fields["size_changes"] = .number(Double(sizeChanges))
        }
        return fields
    }

    var summary: String {
        let routeText = routes.keys.sorted().map { "\($0): \(routes[$0]!)" }.joined(separator: ", ")
        var choice = scaleChoice.map { "scale \($0.chosen.scaleText) by trial encodes (\($0.reason)); " } ?? ""
        if scaleChoice == nil, let scalePlan {
            let scenes = scalePlan.scenes.map { "frame \($0.firstFrame): x\($0.choice.chosen.scaleText)" }
            choice = "scale per scene by trial encodes (\(scenes.joined(separator: ", ")); \(sizeChanges) size change(s)); "
        }
        return choice + "\(frames) frames \(inputWidth)x\(inputHeight) -> \(outputWidth)x\(outputHeight) (\(routeText)), "
            + "\(rounded(seconds > 0 ? Double(frames) / seconds : 0, 2)) frames/s"
    }
}

/// `--progress` and `--quiet` of the video commands: a progress line on stderr when it is a
/// terminal, JSON lines for services, or nothing.
struct ProgressOptions: ParsableArguments {
    @Option(help: "Progress on stderr: auto (a line when stderr is a terminal), json (one JSON object per line), none.")
    var progress: String = "auto"
    @Flag(help: "No progress output (same as --progress none).") var quiet = false

    func validate() throws {
        guard ["auto", "json", "none"].contains(progress) else { throw ValidationError("--progress must be auto, json or none") }
    }

    /// The handler for a video job, nil when nothing is shown, and what to call when it ends.
    func handler() -> (VideoAICodec.ProgressHandler?, finish: () -> Void) {
        let mode = quiet ? "none" : progress == "auto" ? (isatty(2) != 0 ? "line" : "none") : progress
        guard mode != "none" else { return (nil, {}) }
        var last: VideoAICodec.Progress?
        var lastShown = -1.0
        let show = { (p: VideoAICodec.Progress, final: Bool) in
            let fps = p.elapsedSeconds > 0 ? Double(p.framesDone) / p.elapsedSeconds : 0
            if mode == "json" {
                var fields: [String: JSONValue] = [
                    "frames_done": .number(Double(p.framesDone)),
                    "elapsed_seconds": .number(rounded(p.elapsedSeconds, 3)),
                    "fps": .number(rounded(fps, 2)), "done": .bool(final),
                ]
                if let expected = p.framesExpected { fields["frames_expected"] = .number(Double(expected)) }
                printError(JSONValue.object(fields).serialized)
            } else {
                var text = "\r\(p.framesDone)"
                if let expected = p.framesExpected, expected > 0 {
                    text += "/\(expected) frames"
                    if fps > 0, expected > p.framesDone { text += ", ETA \(Int((Double(expected - p.framesDone) / fps).rounded())) s" }
                } else {
                    text += " frames"
                }
                text += ", \(rounded(fps, 1)) frames/s   "
                var stderr = StandardError()
                print(text, terminator: final ? "\n" : "", to: &stderr)
                fflush(stderrStream)
            }
        }
        let handler: VideoAICodec.ProgressHandler = { p in
            last = p
            if p.elapsedSeconds - lastShown >= 0.25 {
                lastShown = p.elapsedSeconds
                show(p, false)
            }
            return true
        }
        return (handler, { if let last { show(last, true) } })
    }
}

extension ScaleChoice {
    /// The choice, its reason and every trial's figures, for `--json` output.
    var jsonFields: [String: JSONValue] {
        var fields: [String: JSONValue] = [
            "scale": .number(chosen.scale), "setting_id": .number(Double(chosen.settingID)), "reason": .string(reason),
            "trials": .array(
                trials.map { t in
                    var trial: [String: JSONValue] = [
                        "scale": .number(t.scale), "setting_id": .number(Double(t.settingID)), "bits": .number(Double(t.bits)),
                        "sse": .number(t.sse), "psnr_y": .number(rounded(t.psnr, 3)),
                    ]
                    if case .cost = criterion { trial["cost"] = .number(rounded(ScaleChoice.score(t, criterion), 1)) }
                    return .object(trial)
                }),
        ]
        switch criterion {
        case .cost(let lambda):
            fields["criterion"] = .string("cost")
            fields["lambda"] = .number(rounded(lambda, 4))
        case .distortionAtRate:
            fields["criterion"] = .string("distortion_at_rate")
        }
        return fields
    }
}
