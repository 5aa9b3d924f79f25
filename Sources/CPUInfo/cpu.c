#include "cpuinfo.h"
#include <immintrin.h>

int cpuinfo_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

int cpuinfo_has_avx512f(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

int cpuinfo_has_avx512_vnni(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vnni");
}

int cpuinfo_has_avx_vnni(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avxvnni");
}

int cpuinfo_has_avx512_bf16(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16");
}

int cpuinfo_vector_isa(void) {
    return cpuinfo_has_avx512f() ? CPUINFO_ISA_AVX512 : cpuinfo_has_avx2_fma() ? CPUINFO_ISA_AVX2 : CPUINFO_ISA_BASELINE;
}

// Twelve independent accumulators hide the FMA latency (4 cycles, 2 ports).
#define NIC_ACCUMULATORS 12

__attribute__((target("avx512f")))
static uint64_t fma_burst_avx512(uint64_t iterations) {
    __m512 acc[NIC_ACCUMULATORS];
    for (int i = 0; i < NIC_ACCUMULATORS; i++) acc[i] = _mm512_set1_ps((float)i * 0.001f);
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (uint64_t n = 0; n < iterations; n++)
        for (int i = 0; i < NIC_ACCUMULATORS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    __m512 sum = acc[0];
    for (int i = 1; i < NIC_ACCUMULATORS; i++) sum = _mm512_add_ps(sum, acc[i]);
    volatile float sink = _mm512_reduce_add_ps(sum);
    (void)sink;
    return iterations * NIC_ACCUMULATORS * 16 * 2;
}

__attribute__((target("avx2,fma")))
static uint64_t fma_burst_avx2(uint64_t iterations) {
    __m256 acc[NIC_ACCUMULATORS];
    for (int i = 0; i < NIC_ACCUMULATORS; i++) acc[i] = _mm256_set1_ps((float)i * 0.001f);
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (uint64_t n = 0; n < iterations; n++)
        for (int i = 0; i < NIC_ACCUMULATORS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __m256 sum = acc[0];
    for (int i = 1; i < NIC_ACCUMULATORS; i++) sum = _mm256_add_ps(sum, acc[i]);
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    volatile float sink = lanes[0];
    (void)sink;
    return iterations * NIC_ACCUMULATORS * 8 * 2;
}

static uint64_t fma_burst_sse2(uint64_t iterations) {
    __m128 acc[NIC_ACCUMULATORS];
    for (int i = 0; i < NIC_ACCUMULATORS; i++) acc[i] = _mm_set1_ps((float)i * 0.001f);
    const __m128 a = _mm_set1_ps(0.999999f), b = _mm_set1_ps(1e-7f);
    for (uint64_t n = 0; n < iterations; n++)
        for (int i = 0; i < NIC_ACCUMULATORS; i++) acc[i] = _mm_add_ps(_mm_mul_ps(acc[i], a), b);
    float lanes[4];
    _mm_storeu_ps(lanes, acc[0]);
    volatile float sink = lanes[0];
    (void)sink;
    return iterations * NIC_ACCUMULATORS * 4 * 2;
}

uint64_t cpuinfo_fma_burst(uint64_t iterations) {
    switch (cpuinfo_vector_isa()) {
    case CPUINFO_ISA_AVX512: return fma_burst_avx512(iterations);
    case CPUINFO_ISA_AVX2: return fma_burst_avx2(iterations);
    default: return fma_burst_sse2(iterations);
    }
}

const char *cpuinfo_fma_isa(void) {
    switch (cpuinfo_vector_isa()) {
    case CPUINFO_ISA_AVX512: return "avx512f";
    case CPUINFO_ISA_AVX2: return "avx2+fma";
    default: return "sse2";
    }
}
