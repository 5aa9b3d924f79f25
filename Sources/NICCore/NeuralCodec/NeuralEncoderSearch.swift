/// How hard the neural codec's encoder searches for the latents it codes: the knobs, and the
/// presets that `--effort` names. Only the dependent quantisation and the integer grid change
/// what the decoder does (a flag of the file says so); a higher effort costs encode time only
/// (docs/neural-codec.md, "Encoder effort").
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
    /// Weight of bits against squared latent error in the dependent quantisation's search; nil
    /// for the default of the grid in use (`lambda`).
    public var dependentQuantizationLambda: Float?
    /// Steps of substitution of the input (`Substitution`): 0 is none.
    public var substitutionSteps: Int
    /// Adam step size of the substitution, in pixel values of [0, 1].
    public var substitutionStepSize: Float
    /// Side in pixels of the substitution's blocks with a step size of their own (0: one step size).
    public var substitutionBlock: Int
    /// Passes that re-derive the hyper-latents from the coded latents until both agree (0: the
    /// hyper-latents of the search's latents). Makes re-encoding a decoded image more stable.
    public var consistencyPasses: Int
    /// Passes of the fixed-point check after quantisation (`NeuralImageCodec.fixedPointChecked`):
    /// 0 is none. Makes re-encoding a decoded image more stable.
    public var fixedPointPasses: Int
    /// Latents on the integer grid (`IntegerGrid`, a flag of the file): the points a re-encode
    /// codes do not move with its hyper-latents; with dependent quantisation on absolute grids.
    public var integerGrid: Bool

    public static let refinementStepRange = 0...4
    public static let latentStepRange = 0...2000
    public static let latentStepSizeRange: ClosedRange<Float> = 0.0001...1
    public static let defaultLatentStepSize: Float = 0.02
    public static let dependentQuantizationStates = [0, 4, 8]
    /// The search's λ by default on the means' grid and on the integer grid (each the best of
    /// those measured on the hold-out, docs/decisions/encoder-optimisation.md).
    public static let defaultDependentQuantizationLambda: Float = 0.05
    public static let integerGridDependentQuantizationLambda: Float = 0.08
    public static let substitutionStepRange = 0...2000
    public static let substitutionStepSizeRange: ClosedRange<Float> = 0.0001...0.1
    public static let defaultSubstitutionStepSize: Float = 0.002
    /// 0, or a block side in this range that is a multiple of 16.
    public static let substitutionBlockRange = 16...1024
    public static let consistencyPassRange = 0...8
    public static let fixedPointPassRange = 0...8

    public init(
        refinementSteps: Int, latentSteps: Int = 0, latentStepSize: Float = NeuralEncoderSearch.defaultLatentStepSize,
        dependentQuantization: Int = 0,
        dependentQuantizationLambda: Float? = nil,
        substitutionSteps: Int = 0, substitutionStepSize: Float = NeuralEncoderSearch.defaultSubstitutionStepSize,
        substitutionBlock: Int = 0, consistencyPasses: Int = 0,
        fixedPointPasses: Int = 0, integerGrid: Bool = false
    ) {
        self.refinementSteps = refinementSteps
        self.latentSteps = latentSteps
        self.latentStepSize = latentStepSize
        self.dependentQuantization = dependentQuantization
        self.dependentQuantizationLambda = dependentQuantizationLambda
        self.substitutionSteps = substitutionSteps
        self.substitutionStepSize = substitutionStepSize
        self.substitutionBlock = substitutionBlock
        self.consistencyPasses = consistencyPasses
        self.fixedPointPasses = fixedPointPasses
        self.integerGrid = integerGrid
    }

    /// The dependent quantisation's λ this search uses.
    public var lambda: Float {
        dependentQuantizationLambda
            ?? (integerGrid ? Self.integerGridDependentQuantizationLambda : Self.defaultDependentQuantizationLambda)
    }

    /// The presets, by effort: 0 is the fast encoder (analysis, one refinement pass, the 8-state
    /// dependent quantisation on the integer grid, 4 consistency passes and 2 fixed-point passes), each level above
    /// spends more latent-optimisation steps (with plain rounding: the dependent quantisation of
    /// the searched latents measured worse).
    public static let efforts: [NeuralEncoderSearch] = [
        NeuralEncoderSearch(
            refinementSteps: 1, dependentQuantization: 8, consistencyPasses: 4, fixedPointPasses: 2, integerGrid: true),
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
        guard lambda > 0, lambda <= 100 else {
            throw NICError.invalidArgument("the dependent quantisation's λ must be in (0, 100], got \(lambda)")
        }
        guard Self.substitutionStepRange.contains(substitutionSteps) else {
            throw NICError.invalidArgument("substitution steps must be in \(Self.substitutionStepRange), got \(substitutionSteps)")
        }
        guard Self.substitutionStepSizeRange.contains(substitutionStepSize) else {
            throw NICError.invalidArgument(
                "the substitution step size must be in \(Self.substitutionStepSizeRange.lowerBound)..."
                    + "\(Self.substitutionStepSizeRange.upperBound), got \(substitutionStepSize)")
        }
        guard substitutionBlock == 0 || (Self.substitutionBlockRange.contains(substitutionBlock) && substitutionBlock % 16 == 0)
        else {
            throw NICError.invalidArgument(
                "the substitution block must be 0 or a multiple of 16 in \(Self.substitutionBlockRange), got \(substitutionBlock)")
        }
        guard Self.consistencyPassRange.contains(consistencyPasses) else {
            throw NICError.invalidArgument("consistency passes must be in \(Self.consistencyPassRange), got \(consistencyPasses)")
        }
        guard Self.fixedPointPassRange.contains(fixedPointPasses) else {
            throw NICError.invalidArgument("fixed-point passes must be in \(Self.fixedPointPassRange), got \(fixedPointPasses)")
        }
    }
}
