import CPUInfo

/// The instruction-set extensions that decide which arithmetic pays on this CPU.
public struct CPUFeatures: Sendable, Equatable {
    /// AVX-512 VNNI or AVX-VNNI: 8-bit dot products summed in 32 bits in one instruction.
    public var avx512VNNI: Bool, avxVNNI: Bool
    /// AVX512_BF16: bfloat16 dot products.
    public var avx512BF16: Bool

    public init(avx512VNNI: Bool = false, avxVNNI: Bool = false, avx512BF16: Bool = false) {
        self.avx512VNNI = avx512VNNI; self.avxVNNI = avxVNNI; self.avx512BF16 = avx512BF16
    }

    /// This machine's.
    public static let current = CPUFeatures(
        avx512VNNI: cpuinfo_has_avx512_vnni() != 0, avxVNNI: cpuinfo_has_avx_vnni() != 0,
        avx512BF16: cpuinfo_has_avx512_bf16() != 0)

    public var hasVNNI: Bool { avx512VNNI || avxVNNI }

    /// The VNNI extension present, for messages ("AVX512_VNNI", "AVX_VNNI" or nil).
    var vnniName: String? { avx512VNNI ? "AVX512_VNNI" : avxVNNI ? "AVX_VNNI" : nil }
}

/// The arithmetic a network's convolutions run in: float32 (the reference) or 8-bit integers
/// (`QuantizedConv2d`, with calibrated activation ranges).
public enum InferencePrecision: String, Sendable {
    case fp32, int8
}

/// What a context asks for: a precision, or `auto` for `PrecisionPlan`'s choice.
public enum PrecisionRequest: String, Sendable, CaseIterable {
    case auto, fp32, int8

    /// "auto", "fp32" or "int8"; anything else (bf16 included) is an error that says why.
    public init(parsing text: String, cpu: CPUFeatures = .current) throws {
        if let request = PrecisionRequest(rawValue: text.lowercased()) {
            self = request
            return
        }
        if text.lowercased() == "bf16" {
            throw NICError.invalidArgument(
                cpu.avx512BF16
                    ? "bf16 inference is not implemented (choose auto, fp32 or int8)"
                    : "bf16 inference needs a CPU with AVX512_BF16, which this one lacks (choose auto, fp32 or int8)")
        }
        throw NICError.invalidArgument("unknown precision \"\(text)\" (choose auto, fp32 or int8)")
    }
}

/// The precision a network runs in, and why: chosen from the request, the CPU and whether the
/// network has calibrated int8 ranges. `auto` takes int8 only where the integer convolutions
/// pay: on CPUs with VNNI (docs/decisions/int8-inference.md has the measurements).
public struct PrecisionPlan: Sendable, Equatable {
    public let precision: InferencePrecision
    public let reason: String

    /// Throws when int8 is forced on a network without ranges.
    public init(requested: PrecisionRequest, cpu: CPUFeatures, hasInt8Ranges: Bool) throws {
        switch requested {
        case .fp32:
            (precision, reason) = (.fp32, "fp32 requested")
        case .int8:
            guard hasInt8Ranges else {
                throw NICError.invalidArgument("int8 requested, but the network has no calibrated int8 ranges in settings.json")
            }
            (precision, reason) = (.int8, "int8 requested")
        case .auto:
            if !hasInt8Ranges {
                (precision, reason) = (.fp32, "the network has no calibrated int8 ranges")
            } else if let vnni = cpu.vnniName {
                (precision, reason) = (.int8, "the CPU has \(vnni) and the network has int8 ranges")
            } else {
                (precision, reason) = (.fp32, "the CPU has no VNNI, where int8 is not worth its loss")
            }
        }
    }
}
