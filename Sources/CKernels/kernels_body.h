// The kernels' bodies. kernels.c includes this file once per instruction set, with NIC_TARGET
// (that set's target attribute, or nothing) and NIC_NAME(name) (the name with its suffix) defined.
// No include guard, on purpose.

NIC_TARGET static void NIC_NAME(widen_u8)(const uint8_t *restrict source, size_t count, float gain, float offset,
                                          float *restrict out) {
    for (size_t i = 0; i < count; i++) out[i] = (float)source[i] * gain + offset;
}

NIC_TARGET static void NIC_NAME(narrow_u8)(const float *restrict values, size_t count, float gain, float offset,
                                           float top, uint8_t *restrict out) {
    for (size_t i = 0; i < count; i++) {
        float v = values[i] * gain + offset + 0.5f;
        v = v > 0.0f ? v : 0.0f;  // NaN -> 0
        v = v < top ? v : top;
        out[i] = (uint8_t)(int32_t)v;
    }
}

NIC_TARGET static void NIC_NAME(resample_row)(const float *restrict source, const int32_t *restrict first,
                                              const float *restrict weights, int taps, size_t stride, size_t count,
                                              float *restrict out) {
    for (size_t x = 0; x < count; x++) out[x] = 0.0f;
    // Tap by tap over the whole row: each output still adds its terms in tap order.
    for (int t = 0; t < taps; t++) {
        const float *w = weights + (size_t)t * stride;
        const float *s = source + t;
        for (size_t x = 0; x < count; x++) out[x] += w[x] * s[first[x]];
    }
}

// Blocks i0..<i1 of a periodic bank, for fixed P, Q and TAPS so that the compiler unrolls the
// phases and taps and vectorises over the blocks (strided loads, interleaved stores).
#define NIC_PERIODIC(P, Q, TAPS)                                                                           \
    NIC_TARGET static void NIC_NAME(periodic_##P##_##Q##_##TAPS)(                                          \
        const float *restrict source, const float *restrict weights, const int32_t *restrict offsets,     \
        size_t i0, size_t i1, float *restrict out) {                                                       \
        for (size_t i = i0; i < i1; i++)                                                                   \
            for (int f = 0; f < (P); f++) {                                                                \
                const float *s = source + (Q) * i + offsets[f];                                            \
                float sum = 0.0f;                                                                          \
                for (int t = 0; t < (TAPS); t++) sum += weights[f * (TAPS) + t] * s[t];                    \
                out[(P) * i + f] = sum;                                                                    \
            }                                                                                              \
    }
// x2 and x1.5; 4 taps: cubic interpolation, 5: cubic antialiased, 6 and 7: Lanczos-3.
NIC_PERIODIC(2, 1, 4)
NIC_PERIODIC(2, 1, 5)
NIC_PERIODIC(2, 1, 6)
NIC_PERIODIC(2, 1, 7)
NIC_PERIODIC(3, 2, 4)
NIC_PERIODIC(3, 2, 5)
NIC_PERIODIC(3, 2, 6)
NIC_PERIODIC(3, 2, 7)
#undef NIC_PERIODIC

static int NIC_NAME(periodic)(const float *restrict source, const float *restrict weights,
                              const int32_t *restrict offsets, int period, int step, int taps, size_t i0, size_t i1,
                              float *restrict out) {
    void (*kernel)(const float *restrict, const float *restrict, const int32_t *restrict, size_t, size_t,
                   float *restrict) = 0;
    if (period == 2 && step == 1) {
        if (taps == 4) kernel = NIC_NAME(periodic_2_1_4);
        if (taps == 5) kernel = NIC_NAME(periodic_2_1_5);
        if (taps == 6) kernel = NIC_NAME(periodic_2_1_6);
        if (taps == 7) kernel = NIC_NAME(periodic_2_1_7);
    } else if (period == 3 && step == 2) {
        if (taps == 4) kernel = NIC_NAME(periodic_3_2_4);
        if (taps == 5) kernel = NIC_NAME(periodic_3_2_5);
        if (taps == 6) kernel = NIC_NAME(periodic_3_2_6);
        if (taps == 7) kernel = NIC_NAME(periodic_3_2_7);
    }
    if (!kernel) return 0;
    kernel(source, weights, offsets, i0, i1, out);
    return 1;
}

NIC_TARGET static void NIC_NAME(accumulate)(float weight, const float *restrict line, size_t count,
                                            float *restrict out) {
    for (size_t i = 0; i < count; i++) out[i] += weight * line[i];
}

// Pixel (un)shuffle rows; factors 2 and 3 with the factor fixed, so that they vectorise.
#define NIC_SHUFFLE(R)                                                                                     \
    NIC_TARGET static void NIC_NAME(interleave_##R)(const float *restrict planar, size_t plane_stride,     \
                                                    size_t count, float *restrict spread) {                \
        for (size_t x = 0; x < count; x++)                                                                 \
            for (int j = 0; j < (R); j++) spread[x * (R) + j] = planar[j * plane_stride + x];              \
    }                                                                                                      \
    NIC_TARGET static void NIC_NAME(deinterleave_##R)(const float *restrict spread, size_t count,          \
                                                      size_t plane_stride, float *restrict planar) {       \
        for (size_t x = 0; x < count; x++)                                                                 \
            for (int j = 0; j < (R); j++) planar[j * plane_stride + x] = spread[x * (R) + j];              \
    }
NIC_SHUFFLE(2)
NIC_SHUFFLE(3)
#undef NIC_SHUFFLE
