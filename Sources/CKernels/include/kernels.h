// Pixel loops of the player path in C, compiled for several instruction sets
// (AVX-512, AVX2, baseline x86-64) and chosen at run time for the CPU at hand:
// Swift has no per-function target attributes, and compiled for baseline x86-64
// these loops run on 4-wide SSE or scalar code.
//
// Every kernel does the same IEEE single-precision operations, in the same order,
// as the scalar Swift loop it replaces (no fused multiply-add), so its results are
// bit for bit those of that loop on every CPU.
//
// Internal to libnic: the names start with libnic_, not nic_, so the shared library (which
// exports nic_* only, Sources/CExport/libnic.map) does not export them.
#ifndef NIC_KERNELS_H
#define NIC_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/// out[i] = (float)source[i] * gain + offset.
void libnic_kernel_widen_u8(const uint8_t *restrict source, size_t count, float gain, float offset, float *restrict out);

/// out[i] = v = values[i] * gain + offset + 0.5, clamped to 0...top and truncated
/// (rounded to the nearest level); a value that is not a number gives 0. top <= 255.
void libnic_kernel_narrow_u8(const float *restrict values, size_t count, float gain, float offset, float top, uint8_t *restrict out);

/// One row of a separable resampling pass:
/// out[x] = ((0 + w[0][x] * s[first[x]]) + w[1][x] * s[first[x] + 1]) + ..., taps terms,
/// for 0 <= x < count, with weights[t * stride + x] = w[t][x] (tap-major).
void libnic_kernel_resample_row(const float *restrict source, const int32_t *restrict first,
                             const float *restrict weights, int taps, size_t stride, size_t count,
                             float *restrict out);

/// The same sums for a bank that repeats every `period` outputs, `step` source samples further:
/// out[period * i + f] = ((0 + w[f][0] * s[step * i + offsets[f]]) + w[f][1] * s[step * i + offsets[f] + 1]) + ...
/// for blocks i0 <= i < i1 and phases 0 <= f < period, with weights[f * taps + t] = w[f][t]. Returns 0
/// (and does nothing) for a period, step and taps without a kernel: (2, 1) and (3, 2) with 4 to 7 taps.
int libnic_kernel_resample_periodic(const float *restrict source, const float *restrict weights,
                                 const int32_t *restrict offsets, int period, int step, int taps, size_t i0,
                                 size_t i1, float *restrict out);

/// out[i] += weight * line[i].
void libnic_kernel_accumulate(float weight, const float *restrict line, size_t count, float *restrict out);

/// Pixel shuffle of one row: spread[x * factor + j] = planar[j * plane_stride + x] for
/// 0 <= x < count, 0 <= j < factor (factor rows of `count` values, plane_stride apart).
void libnic_kernel_interleave(const float *restrict planar, size_t plane_stride, int factor, size_t count,
                           float *restrict spread);

/// Its inverse (pixel unshuffle): planar[j * plane_stride + x] = spread[x * factor + j].
void libnic_kernel_deinterleave(const float *restrict spread, int factor, size_t count, size_t plane_stride,
                             float *restrict planar);

#endif
