/// The `.nic` file: a fixed 32-byte header, three entropy-coded payloads and a CRC-32.
/// Specified in docs/nic-format.md; every field is checked before anything is allocated.
public struct NICBitstream: Equatable, Sendable {
    public static let magic: [UInt8] = [0x8B, 0x4E, 0x49, 0x43]  // 0x8B "NIC"
    /// Version 2 adds the flags (dependent quantisation, the integer grid); a file without any
    /// is written as version 1.
    public static let version: UInt8 = 2
    public static let readableVersions: ClosedRange<UInt8> = 1...2
    /// Flags (byte 7) of version 2: bits 0–1 name the dependent quantisation, bit 2 the integer
    /// grid, bit 3 (only with dependent quantisation) the channel flags; every other value is refused.
    static let dependentQuantizationCodes: [Int: UInt8] = [0: 0, 4: 1, 8: 2]
    static let integerGridFlag: UInt8 = 4
    static let channelFlagsFlag: UInt8 = 8
    static let headerBytes = 32
    static let trailerBytes = 4
    /// Largest image the codec accepts: its transforms need ~200 bytes per pixel.
    public static let maxDimension = 16384
    public static let maxPixels = 4096 * 4096

    public enum ColourFormat: UInt8, Sendable { case rgb8 = 0 }

    public var colourFormat: ColourFormat
    public var quality: Int
    public var modelID: UInt32
    public var width: Int
    public var height: Int
    /// Hyper-latent symbols, latent symbols, low-frequency colour offsets (all rANS; the last may be empty).
    public var zPayload: [UInt8]
    public var yPayload: [UInt8]
    public var correctionPayload: [UInt8]
    /// States of the dependent quantisation of the latents (4 or 8); 0 for plain rounding.
    public var dependentQuantization: Int
    /// Latents on the integer grid (`IntegerGrid`) rather than on the grid of their means.
    public var integerGrid: Bool
    /// The y payload starts with a flag per latent channel: whether it follows the dependent
    /// quantisation's state machine (`DependentQuantization.ChannelMachines`).
    public var channelFlags: Bool

    public init(
        colourFormat: ColourFormat = .rgb8, quality: Int, modelID: UInt32, width: Int, height: Int,
        zPayload: [UInt8], yPayload: [UInt8], correctionPayload: [UInt8] = [], dependentQuantization: Int = 0,
        integerGrid: Bool = false, channelFlags: Bool = false
    ) {
        self.colourFormat = colourFormat; self.quality = quality; self.modelID = modelID
        self.width = width; self.height = height; self.zPayload = zPayload; self.yPayload = yPayload
        self.correctionPayload = correctionPayload
        self.dependentQuantization = dependentQuantization
        self.integerGrid = integerGrid
        self.channelFlags = channelFlags
    }

    /// The flags byte of a header: nil for an unknown number of states, or channel flags without
    /// dependent quantisation.
    static func flags(dependentQuantization: Int, integerGrid: Bool, channelFlags: Bool) -> UInt8? {
        guard let code = dependentQuantizationCodes[dependentQuantization], !channelFlags || code != 0 else { return nil }
        return code | (integerGrid ? integerGridFlag : 0) | (channelFlags ? channelFlagsFlag : 0)
    }

    public static func checkImageSize(width: Int, height: Int) throws {
        guard width >= 1, height >= 1, width <= maxDimension, height <= maxDimension, width * height <= maxPixels else {
            throw NICError.dimensions(
                "image size \(width)x\(height) is outside what the neural codec handles "
                    + "(1...\(maxDimension) per side, at most \(maxPixels) pixels)")
        }
    }

    public static func checkQuality(_ q: Int) throws {
        guard (1...100).contains(q) else { throw NICError.invalidArgument("quality \(q) is outside 1...100") }
    }

    public func serialized() -> [UInt8] {
        var out = NICBitstream.magic
        let flags =
            NICBitstream.flags(dependentQuantization: dependentQuantization, integerGrid: integerGrid, channelFlags: channelFlags) ?? 0
        out += [flags == 0 ? 1 : NICBitstream.version, colourFormat.rawValue, UInt8(quality), flags]
        out += (0..<4).reversed().map { UInt8(truncatingIfNeeded: modelID >> (8 * UInt32($0))) }
        for v in [width, height, zPayload.count, yPayload.count, correctionPayload.count] { out += littleEndian32(UInt32(v)) }
        out += zPayload
        out += yPayload
        out += correctionPayload
        out += littleEndian32(CRC32.checksum(out))
        return out
    }

    public init(parsing bytes: [UInt8]) throws {
        let minimum = NICBitstream.headerBytes + NICBitstream.trailerBytes
        guard bytes.count >= minimum else {
            throw NICError.corruptData("not a .nic file: \(bytes.count) bytes is shorter than the \(minimum)-byte minimum")
        }
        guard Array(bytes[0..<4]) == NICBitstream.magic else { throw NICError.unsupportedFormat("not a .nic file (wrong magic)") }
        guard NICBitstream.readableVersions.contains(bytes[4]) else {
            if bytes[4] == NICLayeredBitstream.version {
                throw NICError.unsupportedFormat("a layered .nic file (version 3): decode it with the layered decoder")
            }
            throw NICError.unsupportedFormat(
                ".nic version \(bytes[4]) is not supported (this library reads versions "
                    + "\(NICBitstream.readableVersions.lowerBound)...\(NICBitstream.readableVersions.upperBound))")
        }
        let body = bytes[0..<bytes.count - 4]
        guard CRC32.checksum(body) == readLittleEndian32(bytes, at: bytes.count - 4) else {
            throw NICError.corruptData(".nic checksum mismatch: the file is damaged or truncated")
        }
        guard let format = ColourFormat(rawValue: bytes[5]) else {
            throw NICError.unsupportedFormat("unknown .nic colour format \(bytes[5])")
        }
        let integerGrid = bytes[7] & NICBitstream.integerGridFlag != 0
        let channelFlags = bytes[7] & NICBitstream.channelFlagsFlag != 0
        let dependentQuantization = NICBitstream.dependentQuantizationCodes.first {
            $0.value == bytes[7] & ~(NICBitstream.integerGridFlag | NICBitstream.channelFlagsFlag)
        }?.key
        guard let dependentQuantization, bytes[4] >= 2 || bytes[7] == 0, !channelFlags || dependentQuantization != 0 else {
            throw NICError.unsupportedFormat("unknown .nic flags \(bytes[7]) in a version \(bytes[4]) file")
        }
        let quality = Int(bytes[6])
        try NICBitstream.checkQuality(quality)
        let width = Int(readLittleEndian32(bytes, at: 12)), height = Int(readLittleEndian32(bytes, at: 16))
        try NICBitstream.checkImageSize(width: width, height: height)
        let counts = [20, 24, 28].map { Int(readLittleEndian32(bytes, at: $0)) }
        guard counts.reduce(0, +) == bytes.count - minimum else {
            throw NICError.corruptData(
                ".nic payload lengths \(counts.map(String.init).joined(separator: " + ")) do not match the file size")
        }
        let modelID = bytes[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let z = NICBitstream.headerBytes, y = z + counts[0], c = y + counts[1]
        self.init(
            colourFormat: format, quality: quality, modelID: modelID, width: width, height: height,
            zPayload: Array(bytes[z..<y]), yPayload: Array(bytes[y..<c]), correctionPayload: Array(bytes[c..<c + counts[2]]),
            dependentQuantization: dependentQuantization, integerGrid: integerGrid, channelFlags: channelFlags)
    }

    /// True when `bytes` start with the `.nic` magic.
    public static func hasMagic(_ bytes: some Collection<UInt8>) -> Bool { Array(bytes.prefix(4)) == magic }
}

func littleEndian32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }

func readLittleEndian32(_ b: [UInt8], at i: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[i + $1]) << (8 * UInt32($1)) }
}
