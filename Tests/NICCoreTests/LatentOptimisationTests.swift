import XCTest
@testable import NICCore

/// The encoder's latent optimisation: its rate gradient, its optimiser, and what it does to a
/// real encode with the model of record (lower rate-distortion cost, same decoder).
final class LatentOptimisationTests: XCTestCase {
    func testRateGradientMatchesCentralDifferences() {
        for sigma: Float in [0.11, 0.7, 3, 40] {
            for v: Float in [-7.3, -1.2, -0.3, 0.05, 0.45, 0.8, 2.6, 11] {
                let h: Float = 1e-3
                let numeric = (LatentOptimisation.bits(v + h, scale: sigma) - LatentOptimisation.bits(v - h, scale: sigma)) / (2 * h)
                let analytic = LatentOptimisation.bitsGradient(v, scale: sigma)
                if LatentOptimisation.bits(v, scale: sigma) >= -log2f(LatentOptimisation.likelihoodBound) - 0.01 {
                    XCTAssertEqual(analytic, 0, "σ \(sigma), v \(v): flat beyond the likelihood bound")
                } else {
                    XCTAssertEqual(analytic, numeric, accuracy: 0.02 * max(1, abs(numeric)), "σ \(sigma), v \(v)")
                }
            }
        }
        XCTAssertGreaterThan(LatentOptimisation.bitsGradient(2, scale: 1), 0, "moving away from the mean costs bits")
        XCTAssertLessThan(LatentOptimisation.bitsGradient(-2, scale: 1), 0)
    }

    func testTemperatureFallsFromStartToEnd() {
        let o = LatentOptimisation(steps: 50, learningRate: 0.02)
        XCTAssertEqual(o.temperature(step: 0), LatentOptimisation.temperatureStart, accuracy: 1e-6)
        XCTAssertEqual(o.temperature(step: 49), LatentOptimisation.temperatureEnd, accuracy: 1e-6)
        XCTAssertLessThan(o.temperature(step: 30), o.temperature(step: 29))
    }

    func testAdamMinimisesAQuadratic() {
        var x: [Float] = [3, -2, 0.5]
        var adam = Adam(count: 3, learningRate: 0.05)
        for _ in 0..<400 { adam.step(&x, x.map { 2 * ($0 - 1) }) }
        for v in x { XCTAssertEqual(v, 1, accuracy: 0.02) }
    }

    func testLambdaFollowsTheTrainedLevels() {
        let lambdas: [Float] = [0.001, 0.002, 0.004, 0.008]
        XCTAssertEqual(GainLadder.lambda(lambdas, quality: 1), 0.001, accuracy: 1e-7)
        XCTAssertEqual(GainLadder.lambda(lambdas, quality: 34), 0.002, accuracy: 1e-7, "quality 34 is level 1 of 4")
        XCTAssertEqual(GainLadder.lambda(lambdas, quality: 100), 0.008, accuracy: 1e-6)
        XCTAssertEqual(GainLadder.lambda(lambdas, quality: 17), 0.001 * powf(2, 48 / 99), accuracy: 1e-7, "geometric between levels")
    }

    /// bits per pixel of the file + κ·λ·255²·MSE: what the latent search lowers (κ =
    /// `emphasis`; the substitution's κ is 1).
    private func cost(
        _ codec: NeuralImageCodec, _ image: PlanarImage, quality: Int, bytes: [UInt8],
        emphasis: Float = LatentOptimisation.distortionEmphasis
    ) throws -> Double {
        let decoded = try codec.decode(bytes)
        let mse = pow(10, -(try Quality.psnr(image, decoded)) / 10) * 255 * 255
        let lambda = Double(emphasis) * Double(GainLadder.lambda(try XCTUnwrap(codec.model.lambdas), quality: quality))
        return Double(bytes.count * 8) / Double(image.width * image.height) + lambda * mse
    }

    func testOptimisedLatentsCostLessAndDecodeWithTheSameDecoder() throws {
        let codec = try NeuralCodecTests.codec(threads: 2)
        let image = try NeuralCodecTests.testImage(width: 136, height: 100)
        for quality in [20, 70] {
            let plain = try codec.encode(image, quality: quality, search: NeuralEncoderSearch(refinementSteps: 0))
            let optimised = try codec.encode(image, quality: quality, search: NeuralEncoderSearch(refinementSteps: 0, latentSteps: 30))
            let (before, after) = (
                try cost(codec, image, quality: quality, bytes: plain), try cost(codec, image, quality: quality, bytes: optimised)
            )
            print("quality \(quality): cost \(before) → \(after) (\(plain.count) → \(optimised.count) bytes)")
            XCTAssertLessThan(after, before * 0.99, "quality \(quality)")
        }
    }

    /// On the integer grid the search rounds where the file's symbols are rounded (round(y), not
    /// μ + round(y − μ)): it gains there as it does on the means' grid.
    func testOptimisationOnTheIntegerGrid() throws {
        let codec = try NeuralCodecTests.codec(threads: 2)
        let image = try NeuralCodecTests.testImage(width: 136, height: 100)
        for quality in [20, 70] {
            var costs: [Double] = []
            for (steps, grid) in [(0, false), (30, false), (0, true), (30, true)] {
                let search = NeuralEncoderSearch(refinementSteps: 0, latentSteps: steps, integerGrid: grid)
                let bytes = try codec.encode(image, quality: quality, search: search)
                XCTAssertEqual(try NICBitstream(parsing: bytes).integerGrid, grid)
                costs.append(try cost(codec, image, quality: quality, bytes: bytes))
            }
            print("quality \(quality): means' grid \(costs[0]) → \(costs[1]), integer grid \(costs[2]) → \(costs[3])")
            let (meansGain, integerGain) = (1 - costs[1] / costs[0], 1 - costs[3] / costs[2])
            XCTAssertGreaterThan(integerGain, 0.01, "quality \(quality)")
            XCTAssertGreaterThan(integerGain, meansGain * 0.95, "quality \(quality)")
        }
    }

    /// With tiles smaller than the latent plane (here 4x3 tiles of 3x3 latents for its 12x8 latents, the last
    /// rows partial), the plane is optimised tile by tile and still gains.
    func testTiledOptimisationGains() throws {
        let codec = try NeuralCodecTests.codec(threads: 2)
        codec.latentTileLatents = 3
        let image = try NeuralCodecTests.testImage(width: 130, height: 90)
        let plain = try codec.encode(image, quality: 50, search: NeuralEncoderSearch(refinementSteps: 0))
        let optimised = try codec.encode(image, quality: 50, search: NeuralEncoderSearch(refinementSteps: 0, latentSteps: 20))
        XCTAssertLessThan(try cost(codec, image, quality: 50, bytes: optimised), try cost(codec, image, quality: 50, bytes: plain))
    }

    /// The dependent quantisation's trellis quantises the searched latents: a version 2 file
    /// that the unchanged decoder reads, close in quality to the search with plain rounding.
    func testDependentQuantisationEndsTheSearch() throws {
        let codec = try NeuralCodecTests.codec(threads: 2)
        let image = try NeuralCodecTests.testImage(width: 130, height: 90)
        let rounded = try codec.encode(image, quality: 50, search: NeuralEncoderSearch(refinementSteps: 0, latentSteps: 10))
        let roundedPSNR = try Quality.psnr(image, try codec.decode(rounded))
        for states in [4, 8] {
            let bytes = try codec.encode(
                image, quality: 50, search: NeuralEncoderSearch(refinementSteps: 0, latentSteps: 10, dependentQuantization: states))
            XCTAssertEqual(try NICBitstream(parsing: bytes).dependentQuantization, states)
            XCTAssertNotEqual(bytes, rounded)
            let decoded = try codec.decode(bytes)
            XCTAssertEqual([decoded.width, decoded.height], [130, 90])
            XCTAssertGreaterThan(try Quality.psnr(image, decoded), roundedPSNR - 1, "\(states) states")
        }
    }

    /// Consistency passes and the fixed-point check change only which hyper-latents and symbols
    /// are coded: the file decodes with the unchanged decoder, and no pass is the same as none.
    func testConsistencyPassesDecode() throws {
        let codec = try NeuralCodecTests.codec(threads: 2)
        let image = try NeuralCodecTests.testImage(width: 130, height: 90)
        let plain = try codec.encode(image, quality: 20, search: NeuralEncoderSearch(refinementSteps: 1))
        XCTAssertEqual(plain, try codec.encode(image, quality: 20, search: NeuralEncoderSearch(refinementSteps: 1, consistencyPasses: 0)))
        let plainPSNR = try Quality.psnr(image, try codec.decode(plain))
        XCTAssertEqual(plain, try codec.encode(image, quality: 20, search: NeuralEncoderSearch(refinementSteps: 1, fixedPointPasses: 0)))
        for (passes, states, fixed) in [(1, 0, 0), (4, 0, 0), (4, 8, 2), (0, 0, 2), (0, 8, 1)] {
            let search = NeuralEncoderSearch(
                refinementSteps: 1, dependentQuantization: states, consistencyPasses: passes, fixedPointPasses: fixed)
            let bytes = try codec.encode(image, quality: 20, search: search)
            XCTAssertEqual(try NICBitstream(parsing: bytes).dependentQuantization, states)
            let decoded = try codec.decode(bytes)
            XCTAssertEqual([decoded.width, decoded.height], [130, 90])
            XCTAssertGreaterThan(try Quality.psnr(image, decoded), plainPSNR - 1, "\(passes) + \(fixed) passes, \(states) states")
        }
        for fixed in [-1, NeuralEncoderSearch.fixedPointPassRange.upperBound + 1] {
            XCTAssertThrowsError(
                try codec.encode(image, quality: 20, search: NeuralEncoderSearch(refinementSteps: 1, fixedPointPasses: fixed))
            ) {
                guard case NICError.invalidArgument = $0 else { return XCTFail("\(fixed) fixed-point passes: \($0)") }
            }
        }
        for passes in [-1, NeuralEncoderSearch.consistencyPassRange.upperBound + 1] {
            XCTAssertThrowsError(
                try codec.encode(image, quality: 20, search: NeuralEncoderSearch(refinementSteps: 1, consistencyPasses: passes))
            ) {
                guard case NICError.invalidArgument = $0 else { return XCTFail("\(passes) passes: \($0)") }
            }
        }
    }

    /// Substitution of the input, whole and in tiles, with one step size and per block: the coded
    /// file costs less than the plain analysis', and decodes with the unchanged decoder.
    func testSubstitutionCostsLess() throws {
        let codec = try NeuralCodecTests.codec(threads: 2)
        let image = try NeuralCodecTests.testImage(width: 130, height: 90)
        let plain = try codec.encode(image, quality: 50, search: NeuralEncoderSearch(refinementSteps: 0))
        let before = try cost(codec, image, quality: 50, bytes: plain, emphasis: 1)
        for (tile, block) in [(LatentOptimisation.defaultTileLatents, 0), (3, 32)] {
            codec.latentTileLatents = tile
            let search = NeuralEncoderSearch(refinementSteps: 0, substitutionSteps: 15, substitutionBlock: block)
            let substituted = try codec.encode(image, quality: 50, search: search)
            let after = try cost(codec, image, quality: 50, bytes: substituted, emphasis: 1)
            print("tiles of \(tile) latents, blocks of \(block): cost \(before) → \(after)")
            XCTAssertLessThan(after, before * 0.995, "tiles of \(tile), blocks of \(block)")
            let decoded = try codec.decode(substituted)
            XCTAssertEqual([decoded.width, decoded.height], [130, 90])
        }
    }

    /// Block step sizes follow the blocks' deviation, clamped: a flat block moves least.
    func testBlockStepFactors() {
        let (height, width) = (32, 48)
        var x = [Float](repeating: 0.5, count: 3 * height * width)
        for c in 0..<3 {
            for i in 0..<height {
                for j in 16..<48 { x[(c * height + i) * width + j] = (i + j) % 2 == 0 ? 0.2 : 0.8 }
            }
        }
        let factors = Substitution(steps: 1, stepSize: 0.01, block: 16).stepFactors(x, height: height, width: width)
        XCTAssertEqual(factors[0], Substitution.blockFactors.lowerBound)  // flat
        XCTAssertGreaterThan(factors[20], 1)  // textured
        XCTAssertEqual(
            Substitution(steps: 1, stepSize: 0.01, block: 0).stepFactors(x, height: height, width: width),
            [Float](repeating: 1, count: height * width))
    }

    /// The presets of `--effort`, as docs/neural-codec.md lists them.
    func testEffortPresets() throws {
        XCTAssertEqual(
            NeuralEncoderSearch.efforts,
            [
                NeuralEncoderSearch(
                    refinementSteps: 1, dependentQuantization: 8, consistencyPasses: 4, fixedPointPasses: 2, integerGrid: true),
                NeuralEncoderSearch(refinementSteps: 0, latentSteps: 50),
                NeuralEncoderSearch(refinementSteps: 0, latentSteps: 150),
                NeuralEncoderSearch(refinementSteps: 0, latentSteps: 250),
            ])
        XCTAssertEqual(NeuralEncoderSearch.standard, try NeuralEncoderSearch.effort(0))
        XCTAssertEqual(NeuralEncoderSearch.standard.lambda, 0.08, "the integer grid's own default")
        var means = NeuralEncoderSearch.standard
        means.integerGrid = false
        XCTAssertEqual(means.lambda, 0.05, "the means' grid's default")
        means.dependentQuantizationLambda = 0.08
        XCTAssertEqual(means.lambda, 0.08, "an explicit λ holds on either grid")
        for search in NeuralEncoderSearch.efforts { XCTAssertNoThrow(try search.validate()) }
    }

    func testOutOfRangeKnobsAreArgumentErrors() throws {
        let codec = try NeuralCodecTests.codec()
        let image = try NeuralCodecTests.testImage(width: 32, height: 32)
        let bad = [
            (1, -1, Float(0.02)), (1, 2001, 0.02), (1, 10, 0), (1, 10, 2), (1, 10, .nan), (1, 10, .infinity), (5, 0, 0.02), (-1, 0, 0.02),
        ]
        for (refine, steps, size) in bad {
            let search = NeuralEncoderSearch(refinementSteps: refine, latentSteps: steps, latentStepSize: size)
            XCTAssertThrowsError(try codec.encode(image, quality: 50, search: search)) { error in
                guard case NICError.invalidArgument = error else { return XCTFail("\(search): \(error)") }
            }
        }
        for (steps, size, block) in [
            (-1, Float(0.002), 0), (2001, 0.002, 0), (5, 0, 0), (5, 0.5, 0), (5, .nan, 0), (5, 0.002, 8), (5, 0.002, 24),
        ] {
            let search = NeuralEncoderSearch(
                refinementSteps: 0, substitutionSteps: steps, substitutionStepSize: size, substitutionBlock: block)
            XCTAssertThrowsError(try codec.encode(image, quality: 50, search: search)) { error in
                guard case NICError.invalidArgument = error else { return XCTFail("\(search): \(error)") }
            }
        }
        for effort in [-1, NeuralEncoderSearch.effortRange.upperBound + 1] {
            XCTAssertThrowsError(try NeuralEncoderSearch.effort(effort)) { error in
                guard case NICError.invalidArgument = error else { return XCTFail("effort \(effort): \(error)") }
            }
        }
    }
}
