#include "kernels.h"

#include "cpuinfo.h"

// Products and sums are rounded one by one, as in Swift: no fused multiply-add.
#pragma clang fp contract(off)

// One copy of each kernel per instruction set, chosen at every call from the CPU's features
// (CPUInfo). Not ifunc (target_clones): resolvers run while the loader relocates, before a
// sanitizer's runtime is up, and crashed ThreadSanitizer builds.
#define NIC_PASTE_(name, isa) name##_##isa
#define NIC_PASTE(name, isa) NIC_PASTE_(name, isa)
#define NIC_NAME(name) NIC_PASTE(name, NIC_ISA)

#define NIC_ISA avx512
#define NIC_TARGET __attribute__((target("avx512f")))
#include "kernels_body.h"
#undef NIC_ISA
#undef NIC_TARGET

#define NIC_ISA avx2
#define NIC_TARGET __attribute__((target("avx2,fma")))
#include "kernels_body.h"
#undef NIC_ISA
#undef NIC_TARGET

#define NIC_ISA baseline
#define NIC_TARGET
#include "kernels_body.h"
#undef NIC_ISA
#undef NIC_TARGET

#define NIC_CALL(name, args)                           \
    switch (cpuinfo_vector_isa()) {                    \
    case CPUINFO_ISA_AVX512: name##_avx512 args; break; \
    case CPUINFO_ISA_AVX2: name##_avx2 args; break;     \
    default: name##_baseline args; break;              \
    }

void libnic_kernel_widen_u8(const uint8_t *restrict source, size_t count, float gain, float offset, float *restrict out) {
    NIC_CALL(widen_u8, (source, count, gain, offset, out))
}

void libnic_kernel_narrow_u8(const float *restrict values, size_t count, float gain, float offset, float top,
                          uint8_t *restrict out) {
    NIC_CALL(narrow_u8, (values, count, gain, offset, top, out))
}

void libnic_kernel_resample_row(const float *restrict source, const int32_t *restrict first,
                             const float *restrict weights, int taps, size_t stride, size_t count,
                             float *restrict out) {
    NIC_CALL(resample_row, (source, first, weights, taps, stride, count, out))
}

int libnic_kernel_resample_periodic(const float *restrict source, const float *restrict weights,
                                 const int32_t *restrict offsets, int period, int step, int taps, size_t i0,
                                 size_t i1, float *restrict out) {
    switch (cpuinfo_vector_isa()) {
    case CPUINFO_ISA_AVX512: return periodic_avx512(source, weights, offsets, period, step, taps, i0, i1, out);
    case CPUINFO_ISA_AVX2: return periodic_avx2(source, weights, offsets, period, step, taps, i0, i1, out);
    default: return periodic_baseline(source, weights, offsets, period, step, taps, i0, i1, out);
    }
}

void libnic_kernel_accumulate(float weight, const float *restrict line, size_t count, float *restrict out) {
    NIC_CALL(accumulate, (weight, line, count, out))
}

void libnic_kernel_interleave(const float *restrict planar, size_t plane_stride, int factor, size_t count,
                           float *restrict spread) {
    if (factor == 2) {
        NIC_CALL(interleave_2, (planar, plane_stride, count, spread))
    } else if (factor == 3) {
        NIC_CALL(interleave_3, (planar, plane_stride, count, spread))
    } else {
        for (size_t x = 0; x < count; x++)
            for (int j = 0; j < factor; j++) spread[x * (size_t)factor + j] = planar[j * plane_stride + x];
    }
}

void libnic_kernel_deinterleave(const float *restrict spread, int factor, size_t count, size_t plane_stride,
                             float *restrict planar) {
    if (factor == 2) {
        NIC_CALL(deinterleave_2, (spread, count, plane_stride, planar))
    } else if (factor == 3) {
        NIC_CALL(deinterleave_3, (spread, count, plane_stride, planar))
    } else {
        for (size_t x = 0; x < count; x++)
            for (int j = 0; j < factor; j++) planar[j * plane_stride + x] = spread[x * (size_t)factor + j];
    }
}
