#if canImport(Glibc)
    import Glibc
#endif

/// Server side: the one scale of a video stream (`--scale auto`), chosen from trial encodes of
/// a sample of the stream, one per candidate route: full resolution (scale 1, no network) and
/// each AI route (downscale, encode, decode, AI-upscale). Each trial gives the bits of the
/// sample and the luma SSE of its pictures at full resolution against the source's.
///
/// - At a constant quality (CRF): the route with the lowest rate-distortion cost
///   J = SSE + λ·bits, λ being the encoder's own Lagrange multiplier at the quality's QP
///   (`lambda(qp:)`). A route that saves bits only by losing more detail than those bits are
///   worth to the encoder loses.
/// - At a target bit rate the routes come out at about the same rate: the lowest SSE wins.
///
/// Ties go to the smaller scale: full resolution needs no network on the device.
public struct ScaleChoice: Sendable, Equatable {
    /// One candidate route's trial.
    public struct Trial: Sendable, Equatable {
        /// Original size / coded size: 1, 1.5 or 2.
        public var scale: Double
        /// The NN setting of the route; 0 for full resolution.
        public var settingID: Int
        /// Bits of the coded sample, AI data included.
        public var bits: Int
        /// Sum of squared luma differences (8-bit levels) of the sample at full resolution.
        public var sse: Double
        /// Luma samples compared.
        public var samples: Int

        public init(scale: Double, settingID: Int, bits: Int, sse: Double, samples: Int) {
            self.scale = scale; self.settingID = settingID; self.bits = bits; self.sse = sse; self.samples = samples
        }

        /// The scale as written on the command line: 1, 1.5 or 2.
        public var scaleText: String { scale == scale.rounded() ? "\(Int(scale))" : "\(scale)" }

        /// Luma PSNR in dB (8-bit peak; 100 for a lossless trial).
        public var psnr: Double { Quality.psnr(mse: sse / Double(max(1, samples))) }
    }

    /// How the trials are compared.
    public enum Criterion: Sendable, Equatable {
        /// Lowest SSE + λ·bits (constant quality).
        case cost(lambda: Double)
        /// Lowest SSE at about equal bits (target bit rate).
        case distortionAtRate
    }

    public let trials: [Trial]
    public let criterion: Criterion
    /// The winning trial.
    public let chosen: Trial
    /// Why it won, in a sentence with the figures.
    public let reason: String

    /// Compares `trials` (at least one) by `criterion`.
    public init(trials: [Trial], criterion: Criterion) throws {
        guard !trials.isEmpty else { throw NICError.invalidArgument("a scale choice needs at least one trial") }
        self.trials = trials
        self.criterion = criterion
        let ordered = trials.sorted { $0.scale < $1.scale }
        let best = ordered.min { ScaleChoice.score($0, criterion) < ScaleChoice.score($1, criterion) }!
        let others = ordered.filter { $0 != best }
        let name = ScaleChoice.name, figure = ScaleChoice.figure
        switch criterion {
        case .cost(let lambda):
            let rows = others.map { "\(name($0)) \(figure(ScaleChoice.score($0, criterion)))" }
            reason =
                "lowest J = SSE + λ·bits at λ \(figure(lambda)): \(name(best)) \(figure(ScaleChoice.score(best, criterion)))"
                + (rows.isEmpty ? "" : " vs " + rows.joined(separator: ", "))
        case .distortionAtRate:
            let rows = others.map { "\(name($0)) \(figure($0.psnr)) dB at \($0.bits / 1000) kbit" }
            reason =
                "highest luma PSNR at the target rate: \(name(best)) \(figure(best.psnr)) dB at \(best.bits / 1000) kbit"
                + (rows.isEmpty ? "" : " vs " + rows.joined(separator: ", "))
        }
        chosen = best
    }

    /// The trial's J (cost) or SSE (distortion at rate).
    public static func score(_ t: Trial, _ criterion: Criterion) -> Double {
        switch criterion {
        case .cost(let lambda): return t.sse + lambda * Double(t.bits)
        case .distortionAtRate: return t.sse
        }
    }

    /// The Lagrange multiplier of x264's and x265's mode decisions for SSD distortion, per bit,
    /// at quantiser `qp`: 0.85·2^((QP−12)/3) (the H.264/HEVC reference encoders'; x264's table
    /// is 0.9·2^((QP−12)/3)). With CRF the CRF value stands for the QP.
    public static func lambda(qp: Double) -> Double { 0.85 * pow(2, (qp - 12) / 3) }

    static func name(_ t: Trial) -> String {
        t.settingID == 0 ? "x\(t.scaleText)" : "x\(t.scaleText) (setting \(t.settingID))"
    }

    static func figure(_ v: Double) -> String {
        guard v.isFinite else { return "\(v)" }
        let magnitude = abs(v)
        let digits = magnitude >= 1000 ? 0 : magnitude >= 10 ? 2 : 3
        let scaled = (v * pow(10, Double(digits))).rounded() / pow(10, Double(digits))
        return digits == 0 ? "\(Int(scaled))" : "\(scaled)"
    }
}
