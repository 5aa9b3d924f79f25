/// How hard the neural codec's encoder searches for the latents it codes: the knobs, and the
/// presets that `--effort` names. None of them changes the format or the decoder; a higher
/// effort costs encode time only (docs/neural-codec.md, "Encoder effort").
public struct NeuralEncoderSearch: Equatable, Sendable {
    /// Fixed-point refinement passes after the analysis (`refinedLatents`): 0 is the plain analysis.
    public var refinementSteps: Int
    /// Steps of latent optimisation through the decoder (`LatentOptimisation`): 0 is none.
    public var latentSteps: Int
    /// Adam step size of the latent optimisation.
    public var latentStepSize: Float
    /// States of the dependent quantisation of the latents (4 or 8, `DependentQuantization`);
    /// 0 rounds each latent on its own.
    public var dependentQuantization: Int
    /// Weight of bits against squared latent error in the dependent quantisation's search.
    public var dependentQuantizationLambda: Float

    public static let refinementStepRange = 0...4
    public static let latentStepRange = 0...2000
    public static let latentStepSizeRange: ClosedRange<Float> = 0.0001...1
    public static let defaultLatentStepSize: Float = 0.02
    public static let dependentQuantizationStates = [0, 4, 8]
    public static let defaultDependentQuantizationLambda: Float = 0.05

    public init(
        refinementSteps: Int, latentSteps: Int = 0, latentStepSize: Float = NeuralEncoderSearch.defaultLatentStepSize,
        dependentQuantization: Int = 0,
        dependentQuantizationLambda: Float = NeuralEncoderSearch.defaultDependentQuantizationLambda
    ) {
        self.refinementSteps = refinementSteps
        self.latentSteps = latentSteps
        self.latentStepSize = latentStepSize
        self.dependentQuantization = dependentQuantization
        self.dependentQuantizationLambda = dependentQuantizationLambda
    }

    /// The presets, by effort: 0 is the fast encoder (analysis and one refinement pass), each
    /// level above spends more latent-optimisation steps.
    public static let efforts: [NeuralEncoderSearch] = [
        NeuralEncoderSearch(refinementSteps: 1),
        NeuralEncoderSearch(refinementSteps: 0, latentSteps: 50),
        NeuralEncoderSearch(refinementSteps: 0, latentSteps: 150),
        NeuralEncoderSearch(refinementSteps: 0, latentSteps: 250),
    ]
    public static let effortRange = 0...(efforts.count - 1)
    public static let defaultEffort = 0
    public static let standard = efforts[defaultEffort]

    /// The preset of `effort`; `.invalidArgument` outside `effortRange`.
    public static func effort(_ effort: Int) throws -> NeuralEncoderSearch {
        guard effortRange.contains(effort) else {
            throw NICError.invalidArgument("effort must be in \(effortRange), got \(effort)")
        }
        return efforts[effort]
    }

    /// `.invalidArgument` naming the first knob out of its range.
    public func validate() throws {
        guard Self.refinementStepRange.contains(refinementSteps) else {
            throw NICError.invalidArgument("refinement steps must be in \(Self.refinementStepRange), got \(refinementSteps)")
        }
        guard Self.latentStepRange.contains(latentSteps) else {
            throw NICError.invalidArgument("latent optimisation steps must be in \(Self.latentStepRange), got \(latentSteps)")
        }
        guard Self.latentStepSizeRange.contains(latentStepSize) else {
            throw NICError.invalidArgument(
                "the latent step size must be in \(Self.latentStepSizeRange.lowerBound)...\(Self.latentStepSizeRange.upperBound), "
                    + "got \(latentStepSize)")
        }
        guard Self.dependentQuantizationStates.contains(dependentQuantization) else {
            throw NICError.invalidArgument("dependent quantisation takes 4 or 8 states (0: none), got \(dependentQuantization)")
        }
        guard dependentQuantizationLambda > 0, dependentQuantizationLambda <= 100 else {
            throw NICError.invalidArgument("the dependent quantisation's λ must be in (0, 100], got \(dependentQuantizationLambda)")
        }
    }
}
