#include "exact_conv.h"

#include <stdlib.h>

#include "cpuinfo.h"

// Products and sums are rounded one by one: no fused multiply-add, on any instruction set.
#pragma clang fp contract(off)

/// The taps of output `o` (a row or a column) that read the input (0..<limit), in tap order:
/// tap indices in `ks`, input indices in `is`; returns their number.
static int32_t nic_exact_taps(const libnic_exact_conv_geometry *g, int32_t o, int32_t limit, int32_t *ks, int32_t *is) {
    int32_t n = 0;
    for (int32_t k = 0; k < g->kernel; k++) {
        int32_t i;
        if (g->transposed) {
            const int32_t t = o + g->padding - k;
            if (t < 0 || t % g->stride != 0) continue;
            i = t / g->stride;
        } else {
            i = o * g->stride - g->padding + k;
            if (i < 0) continue;
        }
        if (i >= limit) continue;
        ks[n] = k;
        is[n] = i;
        n++;
    }
    return n;
}

#define NIC_PASTE_(name, isa) exact_##name##_##isa
#define NIC_PASTE(name, isa) NIC_PASTE_(name, isa)
#define NIC_NAME(name) NIC_PASTE(name, NIC_ISA)

#define NIC_ISA avx512
#define NIC_TARGET __attribute__((target("avx512f")))
#define NIC_VW 16
#define NIC_CBMAX 4
#define NIC_PMAX 4
#include "exact_conv_body.h"
#undef NIC_ISA
#undef NIC_TARGET
#undef NIC_VW
#undef NIC_CBMAX
#undef NIC_PMAX

#define NIC_ISA avx2
#define NIC_TARGET __attribute__((target("avx2,fma")))
#define NIC_VW 8
#define NIC_CBMAX 2
#define NIC_PMAX 6
#include "exact_conv_body.h"
#undef NIC_ISA
#undef NIC_TARGET
#undef NIC_VW
#undef NIC_CBMAX
#undef NIC_PMAX

#define NIC_ISA baseline
#define NIC_TARGET
#define NIC_VW 4
#define NIC_CBMAX 3
#define NIC_PMAX 4
#include "exact_conv_body.h"
#undef NIC_ISA
#undef NIC_TARGET
#undef NIC_VW
#undef NIC_CBMAX
#undef NIC_PMAX

int32_t libnic_exact_conv_isa(int32_t isa) {
    const int32_t best = cpuinfo_vector_isa();
    return isa > 0 && isa < best ? isa : best;
}

size_t libnic_exact_conv_packed_count(const libnic_exact_conv_geometry *geometry, int32_t isa) {
    switch (libnic_exact_conv_isa(isa)) {
    case CPUINFO_ISA_AVX512: return exact_packed_count_avx512(geometry);
    case CPUINFO_ISA_AVX2: return exact_packed_count_avx2(geometry);
    default: return exact_packed_count_baseline(geometry);
    }
}

void libnic_exact_conv_pack(const libnic_exact_conv_geometry *geometry, const float *weights, float *packed,
                            int32_t isa) {
    switch (libnic_exact_conv_isa(isa)) {
    case CPUINFO_ISA_AVX512: exact_pack_avx512(geometry, weights, packed); break;
    case CPUINFO_ISA_AVX2: exact_pack_avx2(geometry, weights, packed); break;
    default: exact_pack_baseline(geometry, weights, packed); break;
    }
}

int libnic_exact_conv_rows(const libnic_exact_conv_geometry *geometry, const float *source, const float *weights,
                        const float *bias, int32_t row0, int32_t row1, float *out, int32_t isa) {
    const size_t k = (size_t)geometry->kernel;
    int32_t *scratch = malloc((6 * k + 2 * k * k + 1) * sizeof *scratch);
    if (!scratch) return -1;
    switch (libnic_exact_conv_isa(isa)) {
    case CPUINFO_ISA_AVX512: exact_rows_avx512(geometry, source, weights, bias, row0, row1, out, scratch); break;
    case CPUINFO_ISA_AVX2: exact_rows_avx2(geometry, source, weights, bias, row0, row1, out, scratch); break;
    default: exact_rows_baseline(geometry, source, weights, bias, row0, row1, out, scratch); break;
    }
    free(scratch);
    return 0;
}
