#if canImport(Glibc)
    import Glibc
#endif

/// Objective quality of a reconstruction against its reference.
public enum Quality {
    /// PSNR in dB over all samples of all planes (8-bit peak 255); infinity when identical.
    public static func psnr(_ reference: PlanarImage, _ test: PlanarImage) throws -> Double {
        guard reference.format == test.format, reference.width == test.width, reference.height == test.height else {
            throw NICError.invalidArgument("PSNR needs images of the same format and size")
        }
        var squaredError = 0.0
        var count = 0
        for (a, b) in zip(reference.planes, test.planes) {
            for (x, y) in zip(a, b) {
                let d = Double(Int(x) - Int(y))
                squaredError += d * d
            }
            count += a.count
        }
        guard squaredError > 0 else { return .infinity }
        return 10 * log10(255 * 255 / (squaredError / Double(count)))
    }

    /// PSNR in dB of a mean squared error on 8-bit samples, capped at 100 dB for identical planes
    /// (so that averages over frames stay finite).
    public static func psnr(mse: Double) -> Double {
        mse > 0 ? min(100, 10 * log10(255 * 255 / mse)) : 100
    }
}
