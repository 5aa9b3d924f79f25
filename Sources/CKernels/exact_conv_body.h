// The exact convolution's body. exact_conv.c includes this file once per instruction set, with
// NIC_TARGET, NIC_NAME(name), NIC_VW (floats per vector), NIC_CBMAX (vectors of output channels
// kept in registers per pixel) and NIC_PMAX (output pixels per group) defined. No include guard,
// on purpose.
//
// The weights are packed per block of NIC_CBMAX * NIC_VW output channels, [block][ky][kx][in]
// [channel in block] (NIC_NAME(pack)), so that a block's weight vectors are read as one
// sequential stream.

typedef float NIC_NAME(vec) __attribute__((vector_size(NIC_VW * 4), aligned(4)));
#define VEC NIC_NAME(vec)

// P output pixels (input pixels pixel_step floats apart) times CB vectors of output channels,
// all in registers across the whole tap loop; P and CB are constants in every caller.
NIC_TARGET static inline __attribute__((always_inline)) void NIC_NAME(block)(
    const int P, const int CB, const float *restrict source, const int32_t *restrict tap_in,
    const int32_t *restrict tap_w, int taps, int32_t pixel_step, int32_t in_channels, int32_t weight_row,
    const float *restrict weights, const float *restrict bias, int32_t out_channels, int32_t out_step, int leaky,
    float slope, float *restrict out) {
    VEC acc[6][4];
    for (int c = 0; c < CB; c++) {
        VEC b;
        __builtin_memcpy(&b, bias + c * NIC_VW, sizeof b);
        for (int p = 0; p < P; p++) acc[p][c] = b;
    }
    for (int t = 0; t < taps; t++) {
        const float *x = source + tap_in[t];
        const float *w = weights + tap_w[t];
        for (int32_t i = 0; i < in_channels; i++) {
            VEC wv[4];
            for (int c = 0; c < CB; c++) __builtin_memcpy(&wv[c], w + c * NIC_VW, sizeof wv[c]);
            w += weight_row;
            for (int p = 0; p < P; p++) {
                const float s = x[p * pixel_step + i];
                for (int c = 0; c < CB; c++) {
                    const VEC product = s * wv[c];  // rounded on its own: no fused multiply-add
                    acc[p][c] = acc[p][c] + product;
                }
            }
        }
    }
    for (int p = 0; p < P; p++) {
        float *o = out + p * out_step;
        for (int c = 0; c < CB; c++) {
            float lanes[NIC_VW];
            __builtin_memcpy(lanes, &acc[p][c], sizeof lanes);
            for (int l = 0; l < NIC_VW; l++) {
                const int32_t channel = c * NIC_VW + l;
                if (channel >= out_channels) break;
                const float v = lanes[l];
                o[channel] = leaky && v < 0.0f ? v * slope : v;
            }
        }
    }
}

#define NIC_BLOCK(P, CB)                                                                                       \
    NIC_TARGET static void NIC_NAME(block_##P##_##CB)(                                                         \
        const float *restrict source, const int32_t *restrict tap_in, const int32_t *restrict tap_w, int taps,  \
        int32_t pixel_step, int32_t in_channels, int32_t weight_row, const float *restrict weights,            \
        const float *restrict bias, int32_t out_channels, int32_t out_step, int leaky, float slope,            \
        float *restrict out) {                                                                                 \
        NIC_NAME(block)(P, CB, source, tap_in, tap_w, taps, pixel_step, in_channels, weight_row, weights, bias, \
                        out_channels, out_step, leaky, slope, out);                                            \
    }
// Every (pixels, vectors) pair up to (6, 4); a copy uses those up to (NIC_PMAX, NIC_CBMAX).
NIC_BLOCK(1, 1) NIC_BLOCK(1, 2) NIC_BLOCK(1, 3) NIC_BLOCK(1, 4)
NIC_BLOCK(2, 1) NIC_BLOCK(2, 2) NIC_BLOCK(2, 3) NIC_BLOCK(2, 4)
NIC_BLOCK(3, 1) NIC_BLOCK(3, 2) NIC_BLOCK(3, 3) NIC_BLOCK(3, 4)
NIC_BLOCK(4, 1) NIC_BLOCK(4, 2) NIC_BLOCK(4, 3) NIC_BLOCK(4, 4)
NIC_BLOCK(5, 1) NIC_BLOCK(5, 2) NIC_BLOCK(5, 3) NIC_BLOCK(5, 4)
NIC_BLOCK(6, 1) NIC_BLOCK(6, 2) NIC_BLOCK(6, 3) NIC_BLOCK(6, 4)
#undef NIC_BLOCK

static void (*const NIC_NAME(blocks)[6][4])(const float *restrict, const int32_t *restrict, const int32_t *restrict,
                                             int, int32_t, int32_t, int32_t, const float *restrict,
                                             const float *restrict, int32_t, int32_t, int, float,
                                             float *restrict) = {
    {NIC_NAME(block_1_1), NIC_NAME(block_1_2), NIC_NAME(block_1_3), NIC_NAME(block_1_4)},
    {NIC_NAME(block_2_1), NIC_NAME(block_2_2), NIC_NAME(block_2_3), NIC_NAME(block_2_4)},
    {NIC_NAME(block_3_1), NIC_NAME(block_3_2), NIC_NAME(block_3_3), NIC_NAME(block_3_4)},
    {NIC_NAME(block_4_1), NIC_NAME(block_4_2), NIC_NAME(block_4_3), NIC_NAME(block_4_4)},
    {NIC_NAME(block_5_1), NIC_NAME(block_5_2), NIC_NAME(block_5_3), NIC_NAME(block_5_4)},
    {NIC_NAME(block_6_1), NIC_NAME(block_6_2), NIC_NAME(block_6_3), NIC_NAME(block_6_4)},
};

#define NIC_BW (NIC_CBMAX * NIC_VW)  // output channels per packed block

static size_t NIC_NAME(block_floats)(const libnic_exact_conv_geometry *g) {
    return (size_t)g->kernel * g->kernel * g->in_channels * NIC_BW;
}

static size_t NIC_NAME(packed_count)(const libnic_exact_conv_geometry *g) {
    return (size_t)((g->padded_out + NIC_BW - 1) / NIC_BW) * NIC_NAME(block_floats)(g);
}

// [ky][kx][in][padded_out] -> [block][ky][kx][in][NIC_BW], channels past padded_out zero.
static void NIC_NAME(pack)(const libnic_exact_conv_geometry *g, const float *weights, float *packed) {
    const size_t rows = (size_t)g->kernel * g->kernel * g->in_channels;
    for (int32_t c0 = 0; c0 < g->padded_out; c0 += NIC_BW) {
        const int32_t n = g->padded_out - c0 < NIC_BW ? g->padded_out - c0 : NIC_BW;
        float *block = packed + (size_t)(c0 / NIC_BW) * NIC_NAME(block_floats)(g);
        for (size_t r = 0; r < rows; r++)
            for (int32_t c = 0; c < NIC_BW; c++) block[r * NIC_BW + c] = c < n ? weights[r * g->padded_out + c0 + c] : 0.0f;
    }
}

// Output pixels in groups of up to NIC_PMAX that read the same taps: neighbours for a convolution,
// pixels `stride` apart (one output parity) for a transposed one, so the inputs they read are
// `stride` resp. 1 pixels apart and every group needs one list of taps, no test per tap.
NIC_TARGET static void NIC_NAME(rows)(const libnic_exact_conv_geometry *g, const float *source, const float *weights,
                                      const float *bias, int32_t row0, int32_t row1, float *out, int32_t *scratch) {
    const int32_t k = g->kernel;
    int32_t *ky_list = scratch, *iy_list = ky_list + k, *kx_list = iy_list + k, *ix_list = kx_list + k;
    int32_t *kx_next = ix_list + k, *ix_next = kx_next + k, *tap_in = ix_next + k, *tap_w = tap_in + k * k;
    const int32_t out_step = g->transposed ? g->stride : 1;  // between the outputs of a group
    const int32_t in_step = g->transposed ? 1 : g->stride;   // between the inputs they read
    const int32_t pixel_step = in_step * g->in_channels;
    for (int32_t oy = row0; oy < row1; oy++) {
        const int32_t nky = nic_exact_taps(g, oy, g->in_height, ky_list, iy_list);
        for (int32_t phase = 0; phase < out_step && phase < g->out_width; phase++) {
            for (int32_t ox = phase; ox < g->out_width;) {
                const int32_t nkx = nic_exact_taps(g, ox, g->in_width, kx_list, ix_list);
                int n = 1;
                while (n < NIC_PMAX && ox + n * out_step < g->out_width) {
                    const int32_t m = nic_exact_taps(g, ox + n * out_step, g->in_width, kx_next, ix_next);
                    int same = m == nkx;
                    for (int32_t j = 0; same && j < m; j++)
                        same = kx_next[j] == kx_list[j] && ix_next[j] == ix_list[j] + n * in_step;
                    if (!same) break;
                    n++;
                }
                int taps = 0;
                for (int32_t a = 0; a < nky; a++)
                    for (int32_t b = 0; b < nkx; b++) {
                        tap_in[taps] = (iy_list[a] * g->in_width + ix_list[b]) * g->in_channels;
                        tap_w[taps] = (ky_list[a] * k + kx_list[b]) * g->in_channels * NIC_BW;
                        taps++;
                    }
                float *o = out + ((size_t)oy * g->out_width + ox) * g->out_channels;
                for (int32_t c0 = 0; c0 < g->padded_out; c0 += NIC_BW) {
                    int cb = (g->padded_out - c0) / NIC_VW;
                    cb = cb < NIC_CBMAX ? cb : NIC_CBMAX;
                    const float *block = weights + (size_t)(c0 / NIC_BW) * NIC_NAME(block_floats)(g);
                    NIC_NAME(blocks)[n - 1][cb - 1](source, tap_in, tap_w, taps, pixel_step, g->in_channels,
                                                    NIC_BW, block, bias + c0, g->out_channels - c0,
                                                    out_step * g->out_channels, g->leaky, g->slope, o + c0);
                }
                ox += n * out_step;
            }
        }
    }
}
#undef VEC
#undef NIC_BW
