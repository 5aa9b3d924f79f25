// The exact convolution of the neural codec's hyper-synthesis (ExactConvolution.swift) in C,
// compiled for several instruction sets and chosen at run time for the CPU at hand.
//
// Every output is bias, then + x * w over the taps in (ky, kx, input channel) order, each
// product and each sum rounded on its own (no fused multiply-add, no reassociation); taps that
// fall outside the input (or, transposed, between the stride's input positions) are skipped.
// Vector lanes are independent output channels, so every instruction set gives the same bits.
//
// Internal to libnic: the names start with libnic_, not nic_, so the shared library (which
// exports nic_* only, Sources/CExport/libnic.map) does not export them.
#ifndef NIC_EXACT_CONV_H
#define NIC_EXACT_CONV_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int32_t in_height, in_width, in_channels;
    int32_t out_height, out_width, out_channels;
    /// Output channels of `weights` and `bias`: out_channels rounded up to a multiple of 16.
    int32_t padded_out;
    int32_t kernel, stride, padding;
    /// 1 for a transposed convolution.
    int32_t transposed;
    /// 1 to apply a leaky ReLU with `slope` (v < 0 ? v * slope : v).
    int32_t leaky;
    float slope;
} libnic_exact_conv_geometry;

/// The instruction set the functions below use for `isa`: 0 for the best the CPU has
/// (cpuinfo_vector_isa), else at most that CPUINFO_ISA_* value: 1 baseline x86-64, 2 AVX2,
/// 3 AVX-512 (for tests: every choice gives the same bits).
int32_t libnic_exact_conv_isa(int32_t isa);

/// Floats of the packed weights of the layer for `isa`.
size_t libnic_exact_conv_packed_count(const libnic_exact_conv_geometry *geometry, int32_t isa);

/// Packs weights [ky][kx][in][padded_out] into the layout the kernel of `isa` reads (blocks of
/// output channels, each one sequential stream): libnic_exact_conv_packed_count(geometry, isa)
/// floats at `packed`. Only the geometry's kernel, in_channels and padded_out matter.
void libnic_exact_conv_pack(const libnic_exact_conv_geometry *geometry, const float *weights, float *packed,
                            int32_t isa);

/// Output rows row0..<row1 of the layer into out (out_height x out_width x out_channels).
/// source: in_height x in_width x in_channels; weights: packed by libnic_exact_conv_pack for the
/// same `isa`; bias: padded_out values. Returns 0, or -1 when out of memory.
int libnic_exact_conv_rows(const libnic_exact_conv_geometry *geometry, const float *source, const float *weights,
                        const float *bias, int32_t row0, int32_t row1, float *out, int32_t isa);

#endif
