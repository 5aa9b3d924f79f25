// CPU feature detection and a peak floating-point micro-benchmark.
// Written in C because Swift has no per-function target attributes: each kernel
// is compiled for its instruction set and chosen at run time.
#ifndef CPUINFO_H
#define CPUINFO_H
#include <stdint.h>

/// 1 when the CPU and OS support the instruction set, else 0.
int cpuinfo_has_avx2_fma(void);
int cpuinfo_has_avx512f(void);
/// Integer dot-product instructions (oneDNN's fast int8 convolutions): AVX-512 VNNI or AVX-VNNI.
int cpuinfo_has_avx512_vnni(void);
int cpuinfo_has_avx_vnni(void);
/// bfloat16 dot products (AVX512_BF16).
int cpuinfo_has_avx512_bf16(void);

/// The vector instruction sets libnic's C kernels are compiled for, from the least.
enum { CPUINFO_ISA_BASELINE = 1, CPUINFO_ISA_AVX2 = 2, CPUINFO_ISA_AVX512 = 3 };

/// The best of them the CPU and OS support (AVX2 counts only with FMA): the one every kernel runs.
int cpuinfo_vector_isa(void);

/// Runs `iterations` rounds of independent fused multiply-adds with the widest
/// vectors available and returns the number of floating-point operations done.
/// Time it from the caller to get the peak single-thread FLOP rate.
uint64_t cpuinfo_fma_burst(uint64_t iterations);

/// Name of the instruction set cpuinfo_fma_burst uses ("avx512f", "avx2+fma", "sse2").
const char *cpuinfo_fma_isa(void);

#endif
