import CDNNL
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

    /// This machine's, as far as oneDNN may use them (`ONEDNN_MAX_CPU_ISA` can hold its kernels
    /// below the CPU, e.g. to AVX2, where a bfloat16 convolution has no kernel at all).
    public static let current: CPUFeatures = {
        let isa = dnnl_get_effective_cpu_isa().rawValue
        func allows(_ level: dnnl_cpu_isa_t) -> Bool { isa & level.rawValue == level.rawValue }
        return CPUFeatures(
            avx512VNNI: cpuinfo_has_avx512_vnni() != 0 && allows(dnnl_cpu_isa_avx512_core_vnni),
            avxVNNI: cpuinfo_has_avx_vnni() != 0 && allows(dnnl_cpu_isa_avx2_vnni),
            avx512BF16: cpuinfo_has_avx512_bf16() != 0 && allows(dnnl_cpu_isa_avx512_core_bf16))
    }()

    public var hasVNNI: Bool { avx512VNNI || avxVNNI }

    /// The VNNI extension present, for messages ("AVX512_VNNI", "AVX_VNNI" or nil).
    var vnniName: String? { avx512VNNI ? "AVX512_VNNI" : avxVNNI ? "AVX_VNNI" : nil }
}

/// The arithmetic a network's convolutions run in: float32 (the reference), bfloat16
/// (`BFloat16Conv2d`, float32 sums) or 8-bit integers (`QuantizedConv2d`, with calibrated
/// activation ranges).
public enum InferencePrecision: String, Sendable {
    case fp32, bf16, int8
}

/// What a context asks for: a precision, or `auto` for `PrecisionPlan`'s choice.
public enum PrecisionRequest: String, Sendable, CaseIterable {
    case auto, fp32, bf16, int8

    /// "auto", "fp32", "bf16" or "int8" (any case); anything else is an error that says why.
    public init(parsing text: String) throws {
        guard let request = PrecisionRequest(rawValue: text.lowercased()) else {
            throw NICError.invalidArgument("unknown precision \"\(text)\" (choose auto, fp32, bf16 or int8)")
        }
        self = request
    }

    /// Throws when no network can run this request on `cpu`: bf16 without AVX512_BF16.
    public func check(on cpu: CPUFeatures) throws {
        guard self != .bf16 || cpu.avx512BF16 else {
            throw NICError.invalidArgument("bf16 requested, but the CPU lacks AVX512_BF16 (choose auto, fp32 or int8)")
        }
    }
}

/// The precision a network runs in, and why: chosen from the request, the CPU and whether the
/// network has calibrated int8 ranges. `auto` takes int8 where the integer convolutions pay (CPUs
/// with VNNI) and the network has ranges, else bfloat16 for an up network on CPUs with
/// AVX512_BF16, else float32 (docs/decisions/int8-inference.md has the measurements).
public struct PrecisionPlan: Sendable, Equatable {
    public let precision: InferencePrecision
    public let reason: String

    /// Throws when int8 is forced on a network without ranges, or bf16 on a CPU without
    /// AVX512_BF16. `bf16Measured`: whether bf16's speed and loss were measured on this kind of
    /// network (the up networks; auto keeps the down networks of the encoder in float32).
    /// `int8Optional`: a network that follows another in one request (a chroma network after its
    /// up network) runs in float32 when int8 is requested and it has no ranges, instead of failing.
    public init(
        requested: PrecisionRequest, cpu: CPUFeatures, hasInt8Ranges: Bool, bf16Measured: Bool = true,
        int8Optional: Bool = false
    ) throws {
        switch requested {
        case .fp32:
            (precision, reason) = (.fp32, "fp32 requested")
        case .bf16:
            try requested.check(on: cpu)
            (precision, reason) = (.bf16, "bf16 requested")
        case .int8 where !hasInt8Ranges && int8Optional:
            (precision, reason) = (.fp32, "int8 requested, but the network has no calibrated int8 ranges")
        case .int8:
            guard hasInt8Ranges else {
                throw NICError.invalidArgument("int8 requested, but the network has no calibrated int8 ranges in settings.json")
            }
            (precision, reason) = (.int8, "int8 requested")
        case .auto:
            if hasInt8Ranges, let vnni = cpu.vnniName {
                (precision, reason) = (.int8, "the CPU has \(vnni) and the network has int8 ranges")
            } else if cpu.avx512BF16 && bf16Measured {
                (precision, reason) = (
                    .bf16,
                    hasInt8Ranges
                        ? "the CPU has AVX512_BF16 but no VNNI, where int8 is not worth its loss"
                        : "the network has no calibrated int8 ranges and the CPU has AVX512_BF16"
                )
            } else if cpu.avx512BF16 {
                (precision, reason) = (
                    .fp32,
                    "auto takes bf16 for up networks only, and "
                        + (hasInt8Ranges ? "the CPU has no VNNI" : "the network has no calibrated int8 ranges")
                )
            } else if !hasInt8Ranges {
                (precision, reason) = (.fp32, "the network has no calibrated int8 ranges and the CPU no AVX512_BF16")
            } else {
                (precision, reason) = (.fp32, "the CPU has no VNNI, where int8 is not worth its loss, and no AVX512_BF16")
            }
        }
    }
}

/// How an int8 body runs the convolutions its ranges keep out of 8 bits (`float_convolutions`:
/// layers whose 8-bit activations lose too much): in bfloat16 on CPUs with AVX512_BF16 (the
/// precision the choice was measured in; about half float32's time there), else in float32,
/// since bf16 was measured only with those kernels (docs/decisions/int8-inference.md).
public struct Int8FloatLayers: Sendable, Equatable {
    /// Indices from 0 among the body's convolutions, ascending.
    public let convolutions: [Int]
    /// .bf16 or .fp32.
    public let precision: InferencePrecision
    /// Which convolutions and why in this precision, for `PrecisionPlan.reason`.
    public let reason: String

    public init(convolutions: [Int], of count: Int, cpu: CPUFeatures) {
        self.convolutions = convolutions.sorted()
        precision = cpu.avx512BF16 ? .bf16 : .fp32
        let names = self.convolutions.map { "\($0 + 1)" }.joined(separator: ", ")
        reason =
            "convolution\(convolutions.count == 1 ? "" : "s") \(names) of \(count) in \(precision.rawValue)"
            + (cpu.avx512BF16 ? "" : " (no AVX512_BF16)")
    }
}

extension PrecisionPlan {
    /// This plan, saying which convolutions of an int8 body run in float (`mixed`), if any.
    public func with(_ mixed: Int8FloatLayers?) -> PrecisionPlan {
        guard precision == .int8, let mixed, !mixed.convolutions.isEmpty else { return self }
        return PrecisionPlan(precision: precision, reason: reason + "; " + mixed.reason)
    }

    private init(precision: InferencePrecision, reason: String) {
        self.precision = precision; self.reason = reason
    }
}
