/// JPEG quantisation tables for a quality of 1...100, scaled the way libjpeg (and so cjpeg,
/// ImageMagick, PIL) does, so that "quality 90" means what users expect from other tools.
public struct JPEGQuantisation: Sendable {
    /// Row-major (natural order) luma and chroma tables, each value 1...255.
    public let luma: [UInt16]
    public let chroma: [UInt16]

    public init(quality: Int) {
        let q = min(100, max(1, quality))
        let percent = q < 50 ? 5000 / q : 200 - 2 * q
        func scaled(_ table: [UInt16]) -> [UInt16] {
            table.map { UInt16(min(255, max(1, (Int($0) * percent + 50) / 100))) }
        }
        luma = scaled(Self.baseLuma)
        chroma = scaled(Self.baseChroma)
    }

    /// The example tables of the JPEG standard (ITU-T T.81, Annex K.1), natural order.
    static let baseLuma: [UInt16] = [
        16, 11, 10, 16, 24, 40, 51, 61,
        12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56,
        14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77,
        24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101,
        72, 92, 95, 98, 112, 100, 103, 99,
    ]
    static let baseChroma: [UInt16] =
        [
            17, 18, 24, 47, 99, 99, 99, 99,
            18, 21, 26, 66, 99, 99, 99, 99,
            24, 26, 56, 99, 99, 99, 99, 99,
            47, 66, 99, 99, 99, 99, 99, 99,
        ] + [UInt16](repeating: 99, count: 32)
}
