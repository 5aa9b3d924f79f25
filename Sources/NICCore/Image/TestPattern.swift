#if canImport(Glibc)
    import Glibc
#endif

/// A synthetic photo-like image the project generates itself (for `make run`,
/// tests and examples): smooth shading, fine texture, sharp edges and a zone plate,
/// the structures that separate good scalers from poor ones.
public enum TestPattern {
    public static func make(width: Int, height: Int) throws -> PlanarImage {
        var image = try PlanarImage(format: .rgb24, width: width, height: height)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let rgb = sample(Double(x) / Double(width), Double(y) / Double(height), x, y)
                for c in 0..<3 { pixels[(y * width + x) * 3 + c] = UInt8(max(0, min(255, rgb[c].rounded()))) }
            }
        }
        image.planes[0] = pixels
        return image
    }

    private static func sample(_ u: Double, _ v: Double, _ x: Int, _ y: Int) -> [Double] {
        // Sky-like vertical gradient with a soft sun.
        var r = 90 + 80 * v, g = 130 + 60 * v, b = 200 - 70 * v
        let sun = exp(-((u - 0.75) * (u - 0.75) + (v - 0.2) * (v - 0.2)) * 60)
        r += 120 * sun; g += 100 * sun; b += 40 * sun
        // Zone plate in the lower left: frequencies rising towards the corner.
        if u < 0.45 && v > 0.55 {
            let d = (u * u + (1 - v) * (1 - v)) * 900
            let z = 110 * cos(d)
            r = 128 + z; g = 128 + z; b = 128 + z
        }
        // A dark building with hard edges and windows (fine regular texture).
        if u > 0.5 && u < 0.9 && v > 0.45 {
            r = 60; g = 55; b = 65
            if (x / 6) % 3 == 1 && (y / 8) % 3 == 1 { r = 230; g = 210; b = 120 }
        }
        // Deterministic grain, like sensor noise.
        let noise = Double((x &* 73856093 ^ y &* 19349663) & 15) - 7.5
        return [r + noise * 0.6, g + noise * 0.6, b + noise * 0.6]
    }
}
