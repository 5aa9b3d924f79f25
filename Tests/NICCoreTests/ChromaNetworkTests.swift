import XCTest
@testable import NICCore

/// The luma-guided chroma networks of the shipped settings: where they run (rgb24 stills coded by
/// the codec the network was trained behind) and where they must not (small images not coded, or
/// coded by another codec; yuv images).
final class ChromaNetworkTests: XCTestCase {
    let store = try! ModelStore(directory: ScalerNetworkGoldenTests.repository + "/models")

    func settingWithChroma(scale: Double) throws -> NNSetting {
        try XCTUnwrap(
            store.manifest.settings.first { $0.scale == scale && $0.chromaNetwork(after: .jpeg) != nil },
            "no x\(scale) setting has a chroma network for JPEG")
    }

    func plan(_ setting: NNSetting, small: PlanarImage, original: (Int, Int), codec: AIDataRecord.Codec) throws -> AIDecodePlan {
        let record = AIDataRecord(
            settingID: UInt16(setting.id), scaleNumerator: UInt8(setting.scaleNumerator),
            scaleDenominator: UInt8(setting.scaleDenominator), originalWidth: original.0,
            originalHeight: original.1, downscaledWidth: small.width, downscaledHeight: small.height,
            codec: codec)
        return try AIDecodePlan(
            found: .record(record), imageWidth: small.width, imageHeight: small.height,
            manifest: store.manifest, options: .init())
    }

    func testCodedStillsGetCorrectedChromaAndUnchangedLuma() throws {
        let device = try ComputeDevice(threads: 2)
        for scale in [2.0, 1.5] {
            let setting = try settingWithChroma(scale: scale)
            let up = try store.network(setting, .up)
            // Odd sizes: off every block grid, so padding and cropping are exercised.
            let small = try TestPattern.make(width: 67, height: 45)
            let size = (up.outputLength(small.width), up.outputLength(small.height))
            let coded = try plan(setting, small: small, original: size, codec: .jpeg)
            XCTAssertNotNil(setting.chromaNetwork(after: coded.smallImageCodec))
            XCTAssertNotNil(setting.chromaNetwork(after: nil), "without AI data the codec is unknown: the first network is trusted")
            let corrected = try AIUpscaler.upscale(small, plan: coded, store: store, device: device).image
            let plain = try AIScaler.scale(small, with: up, width: size.0, height: size.1, device: device)
            XCTAssertEqual(corrected.width, size.0)
            XCTAssertEqual(corrected.height, size.1)
            let a = try LumaChroma(corrected), b = try LumaChroma(plain)
            // Luma is the up network's; read back from 8-bit RGB it moves by rounding, and more where
            // the new chroma pushes a channel against 0 or 255.
            let (la, lb) = (try a.luma.toArray(on: device), try b.luma.toArray(on: device))
            let meanLumaChange = zip(la, lb).map { abs($0 - $1) }.reduce(0, +) / Float(la.count)
            XCTAssertLessThanOrEqual(meanLumaChange, 0.5 / 255, "x\(scale): luma must stay the up network's")
            let chromaChange = maxAbsDifference(a.chroma[0].samples + a.chroma[1].samples, b.chroma[0].samples + b.chroma[1].samples)
            XCTAssertGreaterThan(chromaChange, 2, "x\(scale): the chroma network changed nothing")
        }
    }

    /// A setting that serves several codecs lists a network per codec; the recorded codec picks it.
    func testTheRecordedCodecPicksItsOwnNetwork() throws {
        var settingsWithSeveral = 0
        for setting in store.manifest.settings {
            for entry in setting.chroma {
                for codec in entry.codecs {
                    XCTAssertEqual(setting.chromaNetwork(after: codec), entry.file, "setting \(setting.id), \(codec.name ?? "?")")
                }
            }
            if Set(setting.chroma.map(\.file.weights)).count > 1 { settingsWithSeveral += 1 }
        }
        XCTAssertGreaterThan(settingsWithSeveral, 0, "no shipped setting has networks for two codecs")
    }

    func testOtherCodecsUncodedImagesAndYUVKeepBicubicChroma() throws {
        let device = try ComputeDevice(threads: 2)
        let setting = try settingWithChroma(scale: 2)
        let up = try store.network(setting, .up)
        let small = try TestPattern.make(width: 40, height: 30)
        for codec in [AIDataRecord.Codec.uncompressed, .png, .hevc, .unknown(77)] {
            let p = try plan(setting, small: small, original: (80, 60), codec: codec)
            XCTAssertNil(setting.chromaNetwork(after: p.smallImageCodec), "\(codec)")
            let out = try AIUpscaler.upscale(small, plan: p, store: store, device: device).image
            XCTAssertEqual(out.planes, try AIScaler.scale(small, with: up, width: 80, height: 60, device: device).planes)
        }
        // yuv images (limited-range chroma, 4:2:0 on its own grid) are outside the network's domain.
        let yuv = try PlanarImage(format: .yuv420p, width: 40, height: 30)
        let p = try plan(setting, small: yuv, original: (80, 60), codec: .jpeg)
        let out = try AIUpscaler.upscale(yuv, plan: p, store: store, device: device).image
        XCTAssertEqual(out.planes, try AIScaler.scale(yuv, with: up, width: 80, height: 60, device: device).planes)
    }

    /// The shipped chroma networks with int8 ranges, each once.
    func calibratedChromaNetworks() throws -> [(String, ChromaNetwork)] {
        var seen = Set<String>()
        return try store.manifest.settings.flatMap(\.chroma).map(\.file).filter { $0.int8 != nil && seen.insert($0.weights).inserted }
            .map { ($0.weights, try store.chromaNetwork($0)) }
    }

    /// The corrected (Cb, Cr) of the test pattern in `precision` on `threads` workers, in bands of
    /// `bandPixels` (small: several bands, so that their seams are exercised).
    func corrected(_ network: ChromaNetwork, _ precision: PrecisionRequest, threads: Int) throws -> [Float] {
        let planes = try LumaChroma(try TestPattern.make(width: 203, height: 150))
        let device = try ComputeDevice(threads: threads)
        device.precision = precision
        let (cb, cr) = try network.corrected(
            cb: planes.chroma[0].samples, cr: planes.chroma[1].samples, luma: planes.luma, on: device, bandPixels: 8 * 1024)
        return cb + cr
    }

    /// Every shipped chroma network with int8 ranges runs them when asked; its correction stays
    /// close to float32's (chroma PSNR of int8 against fp32 over 50 dB on the test pattern, measured 56.7–63.2, no
    /// sample more than 3 levels off, measured at most 1.74) and is the same on one and two threads.
    func testShippedInt8ChromaNetworksStayCloseToFloatOnAnyThreads() throws {
        let networks = try calibratedChromaNetworks()
        XCTAssertFalse(networks.isEmpty, "no shipped chroma network has int8 ranges")
        for (name, network) in networks {
            XCTAssertEqual(try network.precisionPlan(.int8).precision, .int8, name)
            let reference = try corrected(network, .fp32, threads: 2)
            let one = try corrected(network, .int8, threads: 1), two = try corrected(network, .int8, threads: 2)
            XCTAssertTrue(one == two, "\(name): int8 output differs between 1 and 2 threads")
            let mse = zip(one, reference).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +) / Double(reference.count)
            XCTAssertGreaterThan(mse, 0, "\(name): identical to float32")
            XCTAssertGreaterThan(Quality.psnr(mse: mse), 50, name)
            XCTAssertLessThanOrEqual(maxAbsDifference(one, reference), 3, name)
        }
    }
}
