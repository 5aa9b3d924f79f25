import CFFmpeg
import NICCore

extension VideoAICodec {
    /// How far a video job is.
    public struct Progress: Sendable {
        public var framesDone: Int
        /// Frames the input declares (its frame count, else its duration times its frame
        /// rate); nil when it does not say.
        public var framesExpected: Int?
        public var elapsedSeconds: Double
    }

    /// Called once before the first frame and after every frame written (and, with
    /// `--scale auto`, after each frame of the trial encodes before, as no frame done). Returning false
    /// cancels the job: it throws `NICError.cancelled` before the next frame, and the output
    /// file is left as it was before the job.
    public typealias ProgressHandler = (Progress) -> Bool

    /// Calls a job's progress handler and turns a request to stop into `NICError.cancelled`.
    struct ProgressReporter {
        let handler: ProgressHandler?
        let expected: Int?
        let start: Double

        func report(framesDone: Int) throws {
            guard let handler else { return }
            let progress = Progress(
                framesDone: framesDone, framesExpected: expected,
                elapsedSeconds: monotonicSeconds() - start)
            if !handler(progress) { throw NICError.cancelled("cancelled by the caller after \(framesDone) frames") }
        }
    }
}

extension VideoInput {
    /// The number of video frames the container declares, else its duration times the frame
    /// rate, else nil.
    var declaredFrameCount: Int? {
        let stream = videoStream.pointee
        if stream.nb_frames > 0 { return Int(stream.nb_frames) }
        let rate = av_q2d(frameRate)
        if stream.duration > 0, stream.duration != nic_av_nopts_value() {
            return Int((Double(stream.duration) * av_q2d(stream.time_base) * rate).rounded())
        }
        let duration = format.pointee.duration
        if duration > 0, duration != nic_av_nopts_value() {
            return Int((Double(duration) / Double(AV_TIME_BASE) * rate).rounded())
        }
        return nil
    }
}
