/*
 * api_test.c — the C API from C, against the installed library: version,
 * status strings, contexts, and every kind of bad input nic_resize must refuse
 * with a specific status (never a crash).
 */
#include <nic.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define EXPECT(cond)                                                        \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: expectation failed: %s\n", __FILE__,    \
                    __LINE__, #cond);                                       \
            failures++;                                                     \
        }                                                                   \
    } while (0)

static NicImage gray_image(uint8_t *pixels, int width, int height)
{
    NicImage image;
    nic_image_init(&image);
    image.format = NIC_PIXEL_FORMAT_GRAY8;
    image.width = width;
    image.height = height;
    image.planes[0] = pixels;
    image.strides[0] = width;
    return image;
}

static void test_version_and_strings(void)
{
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", NIC_VERSION_MAJOR, NIC_VERSION_MINOR, NIC_VERSION_PATCH);
    EXPECT(strcmp(nic_version(), expected) == 0);
    EXPECT(nic_version_number() == NIC_VERSION_NUMBER(NIC_VERSION_MAJOR, NIC_VERSION_MINOR, NIC_VERSION_PATCH));
    EXPECT(strcmp(nic_status_string(NIC_OK), "success") == 0);
    EXPECT(strcmp(nic_status_string(NIC_ERROR_DIMENSIONS), "invalid dimensions") == 0);
    EXPECT(strcmp(nic_status_string((NicStatus)999), "unknown status") == 0);
}

static void test_contexts(void)
{
    NicContext *ctx = (NicContext *)1;
    NicConfig config;
    EXPECT(nic_context_create(NULL, NULL) == NIC_ERROR_NULL_POINTER);
    nic_config_init(&config);
    config.struct_size = 4;
    EXPECT(nic_context_create(&config, &ctx) == NIC_ERROR_STRUCT_SIZE);
    EXPECT(ctx == NULL);
    nic_config_init(&config);
    config.threads = -3;
    EXPECT(nic_context_create(&config, &ctx) == NIC_ERROR_INVALID_ARGUMENT);
    config.threads = 2;
    EXPECT(nic_context_create(&config, &ctx) == NIC_OK);
    EXPECT(nic_context_threads(ctx) == 2);
    EXPECT(strcmp(nic_last_error(ctx), "") == 0);
    nic_context_destroy(ctx);
    nic_context_destroy(NULL);
    EXPECT(strlen(nic_last_error(NULL)) > 0);
}

static void test_resize_bad_input(NicContext *ctx)
{
    uint8_t src[16 * 8], dst[32 * 16];
    NicImage in = gray_image(src, 16, 8), out = gray_image(dst, 32, 16);
    NicImage bad;

    EXPECT(nic_resize(NULL, &in, &out, NIC_RESIZE_BICUBIC) == NIC_ERROR_NULL_POINTER);
    EXPECT(nic_resize(ctx, NULL, &out, NIC_RESIZE_BICUBIC) == NIC_ERROR_NULL_POINTER);
    EXPECT(strstr(nic_last_error(ctx), "input") != NULL);
    EXPECT(nic_resize(ctx, &in, NULL, NIC_RESIZE_BICUBIC) == NIC_ERROR_NULL_POINTER);

    bad = in; bad.struct_size = 8;
    EXPECT(nic_resize(ctx, &bad, &out, NIC_RESIZE_BICUBIC) == NIC_ERROR_STRUCT_SIZE);
    bad = in; bad.width = 0;
    EXPECT(nic_resize(ctx, &bad, &out, NIC_RESIZE_BICUBIC) == NIC_ERROR_DIMENSIONS);
    bad = in; bad.height = -5;
    EXPECT(nic_resize(ctx, &bad, &out, NIC_RESIZE_BICUBIC) == NIC_ERROR_DIMENSIONS);
    bad = out; bad.width = 100000;
    EXPECT(nic_resize(ctx, &in, &bad, NIC_RESIZE_BICUBIC) == NIC_ERROR_DIMENSIONS);
    EXPECT(strstr(nic_last_error(ctx), "100000") != NULL);
    bad = in; bad.format = (NicPixelFormat)77;
    EXPECT(nic_resize(ctx, &bad, &out, NIC_RESIZE_BICUBIC) == NIC_ERROR_UNSUPPORTED_FORMAT);
    bad = out; bad.format = NIC_PIXEL_FORMAT_RGB24; bad.strides[0] = 96;
    EXPECT(nic_resize(ctx, &in, &bad, NIC_RESIZE_BICUBIC) == NIC_ERROR_UNSUPPORTED_FORMAT);
    bad = in; bad.strides[0] = 15;
    EXPECT(nic_resize(ctx, &bad, &out, NIC_RESIZE_BICUBIC) == NIC_ERROR_INVALID_ARGUMENT);
    bad = in; bad.planes[0] = NULL;
    EXPECT(nic_resize(ctx, &bad, &out, NIC_RESIZE_BICUBIC) == NIC_ERROR_NULL_POINTER);
    EXPECT(nic_resize(ctx, &in, &out, (NicResizeMethod)9) == NIC_ERROR_INVALID_ARGUMENT);
}

static void test_resize_constant_yuv(NicContext *ctx)
{
    enum { W = 17, H = 9, OW = 40, OH = 23 };
    uint8_t y[W * H], u[9 * 5], v[9 * 5];
    uint8_t oy[OW * OH], ou[20 * 12], ov[20 * 12];
    NicImage in, out;
    size_t i;
    memset(y, 77, sizeof y); memset(u, 100, sizeof u); memset(v, 200, sizeof v);
    nic_image_init(&in);
    in.format = NIC_PIXEL_FORMAT_YUV420P; in.width = W; in.height = H;
    in.planes[0] = y; in.planes[1] = u; in.planes[2] = v;
    in.strides[0] = W; in.strides[1] = 9; in.strides[2] = 9;
    nic_image_init(&out);
    out.format = NIC_PIXEL_FORMAT_YUV420P; out.width = OW; out.height = OH;
    out.planes[0] = oy; out.planes[1] = ou; out.planes[2] = ov;
    out.strides[0] = OW; out.strides[1] = 20; out.strides[2] = 20;
    for (int method = 0; method < 2; method++) {
        EXPECT(nic_resize(ctx, &in, &out, (NicResizeMethod)method) == NIC_OK);
        for (i = 0; i < sizeof oy; i++) EXPECT(oy[i] == 77);
        for (i = 0; i < sizeof ou; i++) EXPECT(ou[i] == 100 && ov[i] == 200);
    }
}

static void test_aidata(NicContext *ctx)
{
    NicAIData data, back;
    uint8_t bytes[NIC_AIDATA_MAX_BYTES];
    size_t written = 0, n;
    nic_aidata_init(&data);
    data.setting_id = 4; data.scale_numerator = 3; data.scale_denominator = 2;
    data.original_width = 1920; data.original_height = 1080;
    data.downscaled_width = 1280; data.downscaled_height = 720;
    data.codec = NIC_AI_CODEC_JPEG; data.quality_kind = NIC_QUALITY_QUALITY; data.quality_value = 8500;
    data.content_type = NIC_CONTENT_NATURAL; data.flags = NIC_AIDATA_FLAG_LUMA_ONLY;
    EXPECT(nic_aidata_serialize(ctx, &data, bytes, sizeof bytes, &written) == NIC_OK);
    EXPECT(written > 8 && written < 64);
    nic_aidata_init(&back);
    EXPECT(nic_aidata_parse(ctx, bytes, written, &back) == NIC_OK);
    EXPECT(memcmp(&data, &back, sizeof data) == 0);
    for (n = 0; n < written; n++)
        EXPECT(nic_aidata_parse(ctx, bytes, n, &back) == NIC_ERROR_CORRUPT_DATA);
    for (n = 0; n < written * 8; n++) {
        bytes[n / 8] ^= (uint8_t)(1u << (n % 8));
        EXPECT(nic_aidata_parse(ctx, bytes, written, &back) == NIC_ERROR_CORRUPT_DATA);
        bytes[n / 8] ^= (uint8_t)(1u << (n % 8));
    }
    EXPECT(strlen(nic_last_error(ctx)) > 0);
    EXPECT(nic_aidata_serialize(ctx, &data, bytes, 4, &written) == NIC_ERROR_INVALID_ARGUMENT);
    data.setting_id = 70000;
    EXPECT(nic_aidata_serialize(ctx, &data, bytes, sizeof bytes, &written) == NIC_ERROR_INVALID_ARGUMENT);
    data.setting_id = 4; data.downscaled_width = 4000;
    EXPECT(nic_aidata_serialize(ctx, &data, bytes, sizeof bytes, &written) == NIC_ERROR_INVALID_ARGUMENT);
    EXPECT(nic_aidata_parse(ctx, NULL, 10, &back) == NIC_ERROR_NULL_POINTER);
    back.struct_size = 3;
    EXPECT(nic_aidata_parse(ctx, bytes, written, &back) == NIC_ERROR_STRUCT_SIZE);
}

/* AI scaling with the installed models (share/nic of the test prefix): setting 2 is
 * the x2 joint setting every release ships. */
static void test_ai_scaling(NicContext *ctx)
{
    enum { W = 64, H = 48 };
    uint8_t rgb[W * H * 3], small[(W / 2) * (H / 2) * 3], back[W * H * 3];
    NicImage in, out, up;
    NicAIData aidata;
    NicUpscaleInfo info;
    NicPrecision precision = NIC_PRECISION_AUTO;
    int sw = 0, sh = 0;
    size_t i;
    for (i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)((i * 7) % 251);
    EXPECT(nic_downscaled_size(ctx, 2, W, H, &sw, &sh) == NIC_OK);
    EXPECT(sw == W / 2 && sh == H / 2);
    EXPECT(nic_downscaled_size(ctx, 9999, W, H, &sw, &sh) == NIC_ERROR_INVALID_ARGUMENT);
    nic_image_init(&in); in.format = NIC_PIXEL_FORMAT_RGB24; in.width = W; in.height = H;
    in.planes[0] = rgb; in.strides[0] = W * 3;
    nic_image_init(&out); out.format = NIC_PIXEL_FORMAT_RGB24; out.width = W / 2; out.height = H / 2;
    out.planes[0] = small; out.strides[0] = (W / 2) * 3;
    nic_aidata_init(&aidata);
    EXPECT(nic_downscale(ctx, &in, 2, &out, &aidata) == NIC_OK);
    EXPECT(aidata.setting_id == 2 && aidata.original_width == W && aidata.downscaled_height == H / 2);
    EXPECT(nic_downscale(ctx, &in, 9999, &out, NULL) == NIC_ERROR_INVALID_ARGUMENT);

    nic_image_init(&up); up.format = NIC_PIXEL_FORMAT_RGB24; up.width = W; up.height = H;
    up.planes[0] = back; up.strides[0] = W * 3;
    memset(&info, 0, sizeof info); info.struct_size = sizeof info;
    EXPECT(nic_upscale(ctx, &out, &aidata, &up) == NIC_OK);
    EXPECT(nic_last_upscale_info(ctx, &info) == NIC_OK);
    EXPECT(info.setting_id == 2 && info.used_aidata == 1 && info.fallback_reason == NULL);
    EXPECT(nic_setting_precision(ctx, 2, &precision, NULL) == NIC_OK && info.precision == precision);
    /* a struct of 0.3's layout ends before precision: the field is left alone */
    info.struct_size = offsetof(NicUpscaleInfo, precision);
    info.precision = (NicPrecision)77;
    EXPECT(nic_last_upscale_info(ctx, &info) == NIC_OK && info.setting_id == 2 && info.precision == (NicPrecision)77);
    info.struct_size = offsetof(NicUpscaleInfo, precision) - 1;
    EXPECT(nic_last_upscale_info(ctx, &info) == NIC_ERROR_STRUCT_SIZE);
    info.struct_size = sizeof info;

    EXPECT(nic_upscale(ctx, &out, NULL, &up) == NIC_OK);
    EXPECT(nic_last_upscale_info(ctx, &info) == NIC_OK);
    EXPECT(info.used_aidata == 0 && info.fallback_reason != NULL);

    aidata.setting_id = 4242;
    EXPECT(nic_upscale(ctx, &out, &aidata, &up) == NIC_OK);
    EXPECT(nic_last_upscale_info(ctx, &info) == NIC_OK);
    EXPECT(info.used_aidata == 0 && info.fallback_reason != NULL && strstr(info.fallback_reason, "4242") != NULL);
}

/* The arbitrary-scale LIFF up-scaler: independent factors per axis, a ramp stays a ramp, and
   every refusal leaves the output untouched. */
static void test_liff(NicContext *ctx)
{
    enum { W = 40, H = 30, OW = 55, OH = 75 };
    static uint8_t rgb[W * H * 3], big[OH * OW * 3 + 16], gray[W * H], gray_big[OH * OW];
    NicImage in, out, gin, gout;
    NicConfig config;
    NicContext *bare = NULL;
    int x, y, worst = 0, untouched = 1;
    size_t i;
    for (y = 0; y < H; y++)
        for (x = 0; x < W; x++) {
            rgb[(y * W + x) * 3 + 0] = (uint8_t)(20 + 4 * x);
            rgb[(y * W + x) * 3 + 1] = 128;
            rgb[(y * W + x) * 3 + 2] = (uint8_t)(30 + 3 * y);
            gray[y * W + x] = (uint8_t)(20 + 4 * x);
        }
    nic_image_init(&in); in.format = NIC_PIXEL_FORMAT_RGB24; in.width = W; in.height = H;
    in.planes[0] = rgb; in.strides[0] = W * 3;
    nic_image_init(&out); out.format = NIC_PIXEL_FORMAT_RGB24; out.width = OW; out.height = OH;
    out.planes[0] = big; out.strides[0] = OW * 3;
    EXPECT(nic_upscale_liff(ctx, &in, &out) == NIC_OK);
    /* Away from the borders the output samples the ramps at the mapped source position. */
    for (y = 8; y < OH - 8; y++)
        for (x = 8; x < OW - 8; x++) {
            double sx = (x + 0.5) * W / OW - 0.5, sy = (y + 0.5) * H / OH - 0.5;
            const uint8_t *p = big + (y * OW + x) * 3;
            int e[3];
            e[0] = abs((int)p[0] - (int)(20 + 4 * sx + 0.5));
            e[1] = abs((int)p[1] - 128);
            e[2] = abs((int)p[2] - (int)(30 + 3 * sy + 0.5));
            for (i = 0; i < 3; i++) worst = e[i] > worst ? e[i] : worst;
        }
    EXPECT(worst <= 4);

    gin = gray_image(gray, W, H);
    gout = gray_image(gray_big, OW, OH);
    EXPECT(nic_upscale_liff(ctx, &gin, &gout) == NIC_OK);
    EXPECT(abs((int)gray_big[(OH / 2) * OW + OW / 2] - (int)big[((OH / 2) * OW + OW / 2) * 3]) <= 2);

    memset(big, 0xA5, sizeof big);
    out.width = W * 5; /* x5: beyond the network's range */
    out.strides[0] = out.width * 3;
    out.height = 2;
    EXPECT(nic_upscale_liff(ctx, &in, &out) == NIC_ERROR_INVALID_ARGUMENT);
    EXPECT(strstr(nic_last_error(ctx), "1 to 4") != NULL);
    out.width = W - 1; out.height = H; out.strides[0] = out.width * 3; /* shrinking */
    EXPECT(nic_upscale_liff(ctx, &in, &out) == NIC_ERROR_INVALID_ARGUMENT);
    out.width = OW; out.height = OH; out.strides[0] = OW * 3;
    EXPECT(nic_upscale_liff(ctx, &in, &gout) == NIC_ERROR_UNSUPPORTED_FORMAT);
    in.format = NIC_PIXEL_FORMAT_YUV444P; out.format = NIC_PIXEL_FORMAT_YUV444P;
    in.planes[1] = in.planes[2] = rgb; in.strides[1] = in.strides[2] = W;
    out.planes[1] = out.planes[2] = big; out.strides[1] = out.strides[2] = OW;
    EXPECT(nic_upscale_liff(ctx, &in, &out) == NIC_ERROR_UNSUPPORTED_FORMAT);
    EXPECT(nic_upscale_liff(ctx, NULL, &out) == NIC_ERROR_NULL_POINTER);
    in.format = NIC_PIXEL_FORMAT_RGB24; out.format = NIC_PIXEL_FORMAT_RGB24;
    in.planes[1] = in.planes[2] = out.planes[1] = out.planes[2] = NULL;
    in.strides[1] = in.strides[2] = out.strides[1] = out.strides[2] = 0;

    nic_config_init(&config);
    config.model_dir = "no-such-model-directory";
    EXPECT(nic_context_create(&config, &bare) == NIC_OK);
    EXPECT(nic_upscale_liff(bare, &in, &out) == NIC_ERROR_MODEL);
    nic_context_destroy(bare);
    for (i = 0; i < sizeof big; i++) untouched &= big[i] == 0xA5;
    EXPECT(untouched);
}

/* A program built against the first layout of NicEncodeOptions (libnic 0.2) binds the init
   function of symbol version LIBNIC_0, which writes no further than that layout. */
typedef struct EncodeOptionsV0 {
    size_t struct_size;
    int quality;
    int refine_steps;
} EncodeOptionsV0;
void nic_encode_options_init_first_layout(EncodeOptionsV0 *options);
__asm__(".symver nic_encode_options_init_first_layout, nic_encode_options_init@LIBNIC_0");

static void test_encode_options_layouts(NicContext *ctx, const NicImage *in)
{
    struct {
        EncodeOptionsV0 options;
        unsigned char guard[16];
    } old;
    uint8_t *data = NULL;
    size_t size = 0, i, intact = 0;
    memset(&old, 0xA5, sizeof old);
    nic_encode_options_init_first_layout(&old.options);
    for (i = 0; i < sizeof old.guard; i++) intact += old.guard[i] == 0xA5;
    EXPECT(intact == sizeof old.guard);
    EXPECT(old.options.struct_size == sizeof old.options && old.options.quality == 75);
    old.options.quality = 30;
    EXPECT(nic_image_encode(ctx, in, (const NicEncodeOptions *)(const void *)&old.options, &data, &size) == NIC_OK);
    EXPECT(data != NULL && size > 32);
    nic_free(data);
    data = NULL;
    old.options.struct_size = sizeof old.options - 1;
    EXPECT(nic_image_encode(ctx, in, (const NicEncodeOptions *)(const void *)&old.options, &data, &size) == NIC_ERROR_STRUCT_SIZE);
    EXPECT(data == NULL);
}

/* NicConfig as libnic 0.2 laid it out, and the init of that layout (symbol version LIBNIC_0). */
typedef struct ConfigV0 {
    size_t struct_size;
    int threads;
    const char *model_dir;
    NicLogCallback log_callback;
    void *log_user_data;
    NicLogLevel log_level;
    int generic_ai_fallback;
} ConfigV0;
void nic_config_init_first_layout(ConfigV0 *config);
__asm__(".symver nic_config_init_first_layout, nic_config_init@LIBNIC_0");

/* Precision: the context's request, what it means for a setting, and a config of the first
   layout (allocated to its exact size, so that reading past it is caught by the sanitizers). */
static void test_precision(void)
{
    NicContext *ctx = NULL;
    NicConfig config;
    NicPrecision precision = NIC_PRECISION_AUTO;
    const char *reason = NULL;
    struct {
        ConfigV0 config;
        unsigned char guard[16];
    } old;
    ConfigV0 *exact = NULL;
    size_t i, intact = 0;

    nic_config_init(&config);
    EXPECT(config.precision == NIC_PRECISION_AUTO);
    config.precision = (NicPrecision)7;
    EXPECT(nic_context_create(&config, &ctx) == NIC_ERROR_INVALID_ARGUMENT && ctx == NULL);
    config.precision = NIC_PRECISION_INT8;
    EXPECT(nic_context_create(&config, &ctx) == NIC_OK);
    EXPECT(nic_setting_precision(ctx, 7, &precision, &reason) == NIC_OK);
    EXPECT(precision == NIC_PRECISION_INT8 && reason != NULL && strlen(reason) > 0);
    EXPECT(nic_setting_precision(ctx, 1, &precision, NULL) == NIC_ERROR_INVALID_ARGUMENT); /* no int8 ranges */
    EXPECT(strstr(nic_last_error(ctx), "int8") != NULL);
    EXPECT(nic_setting_precision(ctx, 4242, &precision, NULL) == NIC_ERROR_INVALID_ARGUMENT);
    EXPECT(nic_setting_precision(ctx, 7, NULL, NULL) == NIC_ERROR_NULL_POINTER);
    nic_context_destroy(ctx);
    config.precision = NIC_PRECISION_FP32;
    EXPECT(nic_context_create(&config, &ctx) == NIC_OK);
    EXPECT(nic_setting_precision(ctx, 7, &precision, &reason) == NIC_OK && precision == NIC_PRECISION_FP32);
    nic_context_destroy(ctx);
    /* bf16: bfloat16 on a CPU with AVX512_BF16, else an error that names it. */
    config.precision = NIC_PRECISION_BF16;
    EXPECT(nic_context_create(&config, &ctx) == NIC_OK);
    if (nic_setting_precision(ctx, 7, &precision, &reason) == NIC_OK)
        EXPECT(precision == NIC_PRECISION_BF16 && strcmp(reason, "bf16 requested") == 0);
    else
        EXPECT(strstr(nic_last_error(ctx), "AVX512_BF16") != NULL);
    nic_context_destroy(ctx);

    memset(&old, 0xA5, sizeof old);
    nic_config_init_first_layout(&old.config);
    for (i = 0; i < sizeof old.guard; i++) intact += old.guard[i] == 0xA5;
    EXPECT(intact == sizeof old.guard);
    EXPECT(old.config.struct_size == sizeof old.config && old.config.generic_ai_fallback == 1);
    exact = (ConfigV0 *)malloc(sizeof *exact);
    EXPECT(exact != NULL);
    if (!exact) return;
    *exact = old.config;
    exact->threads = 1;
    ctx = NULL;
    EXPECT(nic_context_create((const NicConfig *)(const void *)exact, &ctx) == NIC_OK);
    EXPECT(nic_context_threads(ctx) == 1);
    /* The first layout has no precision: auto, which never takes int8 for a network without ranges. */
    EXPECT(nic_setting_precision(ctx, 1, &precision, &reason) == NIC_OK && precision != NIC_PRECISION_INT8);
    nic_context_destroy(ctx);
    exact->struct_size = sizeof *exact - 1;
    EXPECT(nic_context_create((const NicConfig *)(const void *)exact, &ctx) == NIC_ERROR_STRUCT_SIZE);
    free(exact);
}

/* The neural image codec: encode to memory, decode, and refuse damaged data. */
static void test_neural_codec(NicContext *ctx)
{
    enum { W = 70, H = 50 };
    uint8_t rgb[W * H * 3];
    uint8_t *data = NULL;
    size_t size = 0, i;
    NicImage in, out;
    NicEncodeOptions options;
    for (i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(((i % (W * 3)) * 3 + (i / (W * 3)) * 5) & 0xff);
    nic_image_init(&in); in.format = NIC_PIXEL_FORMAT_RGB24; in.width = W; in.height = H;
    in.planes[0] = rgb; in.strides[0] = W * 3;
    nic_encode_options_init(&options);
    EXPECT(options.struct_size == sizeof options && options.quality == 75 && options.refine_steps == -1);
    EXPECT(options.effort == 0 && options.latent_steps == -1 && options.latent_step_size == 0.0f);
    EXPECT(options.dsq_states == -1 && options.dsq_lambda == 0.0f);
    EXPECT(options.substitute_steps == -1 && options.substitute_step_size == 0.0f && options.substitute_block == -1);
    test_encode_options_layouts(ctx, &in);
    options.substitute_block = 24; /* not a multiple of 16 */
    options.substitute_steps = 2;
    EXPECT(nic_image_encode(ctx, &in, &options, &data, &size) == NIC_ERROR_INVALID_ARGUMENT && data == NULL);
    options.substitute_block = 32; /* effort 0 quantises with 8 states on the integer grid: a version 2 file */
    EXPECT(nic_image_encode(ctx, &in, &options, &data, &size) == NIC_OK && data != NULL && data[4] == 2 && (data[7] & ~8) == (4 | 2));
    nic_free(data);
    data = NULL;
    options.substitute_steps = -1;
    options.substitute_block = -1;
    /* the integer grid: flag bit 2 of a version 2 file, with or without dependent quantisation */
    EXPECT(options.integer_grid == -1);
    options.integer_grid = 0;
    options.dsq_states = 0;
    EXPECT(nic_image_encode(ctx, &in, &options, &data, &size) == NIC_OK && data != NULL && data[4] == 1 && data[7] == 0);
    nic_free(data);
    data = NULL;
    options.dsq_states = 6;
    EXPECT(nic_image_encode(ctx, &in, &options, &data, &size) == NIC_ERROR_INVALID_ARGUMENT && data == NULL);
    options.dsq_states = 8;
    EXPECT(nic_image_encode(ctx, &in, &options, &data, &size) == NIC_OK && data != NULL && data[4] == 2 && (data[7] & ~8) == 2);
    nic_free(data);
    data = NULL;
    options.integer_grid = 1;
    EXPECT(nic_image_encode(ctx, &in, &options, &data, &size) == NIC_OK && data != NULL && data[4] == 2 && (data[7] & ~8) == (4 | 2));
    nic_free(data);
    data = NULL;
    options.dsq_states = 0;
    EXPECT(nic_image_encode(ctx, &in, &options, &data, &size) == NIC_OK && data != NULL && data[4] == 2 && data[7] == 4);
    nic_free(data);
    data = NULL;
    options.integer_grid = 2;
    EXPECT(nic_image_encode(ctx, &in, &options, &data, &size) == NIC_ERROR_INVALID_ARGUMENT && data == NULL);
    /* a struct of 0.3's layout ends before integer_grid: the field (2, invalid) is not read, the
       effort's grid holds */
    options.struct_size = offsetof(NicEncodeOptions, integer_grid);
    EXPECT(nic_image_encode(ctx, &in, &options, &data, &size) == NIC_OK && data != NULL && data[4] == 2 && data[7] == 4);
    nic_free(data);
    data = NULL;
    options.struct_size = sizeof options;
    options.integer_grid = -1;
    options.dsq_states = -1;
    options.effort = 4;
    EXPECT(nic_image_encode(ctx, &in, &options, &data, &size) == NIC_ERROR_INVALID_ARGUMENT && data == NULL);
    options.effort = 1;
    options.latent_steps = 2001;
    EXPECT(nic_image_encode(ctx, &in, &options, &data, &size) == NIC_ERROR_INVALID_ARGUMENT && data == NULL);
    options.latent_steps = 3;
    options.latent_step_size = -0.5f;
    EXPECT(nic_image_encode(ctx, &in, &options, &data, &size) == NIC_ERROR_INVALID_ARGUMENT && data == NULL);
    options.latent_step_size = 0.05f;
    EXPECT(nic_image_encode(ctx, &in, &options, &data, &size) == NIC_OK && data != NULL);
    nic_free(data);
    data = NULL;
    nic_encode_options_init(&options);
    options.quality = 0;
    EXPECT(nic_image_encode(ctx, &in, &options, &data, &size) == NIC_ERROR_INVALID_ARGUMENT && data == NULL && size == 0);
    options.quality = 40;
    options.refine_steps = 5;
    EXPECT(nic_image_encode(ctx, &in, &options, &data, &size) == NIC_ERROR_INVALID_ARGUMENT && data == NULL && size == 0);
    options.refine_steps = 0;
    EXPECT(nic_image_encode(ctx, &in, &options, NULL, &size) == NIC_ERROR_NULL_POINTER);
    EXPECT(nic_image_encode(ctx, &in, &options, &data, &size) == NIC_OK);
    EXPECT(data != NULL && size > 32 && memcmp(data + 1, "NIC", 3) == 0);

    nic_image_init(&out);
    EXPECT(nic_image_decode(ctx, data, size, &out) == NIC_OK);
    EXPECT(out.format == NIC_PIXEL_FORMAT_RGB24 && out.width == W && out.height == H && out.planes[0] != NULL);
    nic_image_free(&out);
    EXPECT(out.planes[0] == NULL);

    EXPECT(nic_image_decode(ctx, data, size - 1, &out) == NIC_ERROR_CORRUPT_DATA);
    data[size / 2] ^= 0x10;
    EXPECT(nic_image_decode(ctx, data, size, &out) == NIC_ERROR_CORRUPT_DATA);
    data[0] = 'X';
    EXPECT(nic_image_decode(ctx, data, size, &out) == NIC_ERROR_UNSUPPORTED_FORMAT);
    EXPECT(out.planes[0] == NULL);
    nic_free(data);
    nic_image_free(NULL);
}


/* Messages the log callback received, for checking where FFmpeg's lines went. */
static char logged[8192];

/* NicLayerSize and NicLayerInfo as a later header might lay them out: a field appended. */
typedef struct LayerSizeNext {
    NicLayerSize size;
    int appended;
} LayerSizeNext;
typedef struct LayerInfoNext {
    NicLayerInfo info;
    int appended;
} LayerInfoNext;

/* The struct_size rules of the layered arrays: too small or unequal sizes are refused, a larger
   struct (a later header) is accepted and only this version's fields are written. */
static void test_layer_struct_sizes(NicContext *ctx, const NicImage *in, const NicEncodeOptions *options,
                                    const uint8_t *data, size_t size)
{
    NicLayerSize layers[2] = {{sizeof(NicLayerSize), 15, 11}, {sizeof(NicLayerSize), 45, 33}};
    LayerSizeNext next[2] = {{{sizeof(LayerSizeNext), 15, 11}, 7}, {{sizeof(LayerSizeNext), 45, 33}, 7}};
    NicLayerInfo info[NIC_MAX_LAYERS];
    LayerInfoNext later[3];
    uint8_t *out = NULL;
    size_t out_size = 0, count = 99, k;
    layers[0].struct_size = sizeof(NicLayerSize) - 1;
    EXPECT(nic_image_encode_layered(ctx, in, options, layers, 2, &out, &out_size) == NIC_ERROR_STRUCT_SIZE && out == NULL);
    layers[0].struct_size = sizeof(NicLayerSize);
    layers[1].struct_size = 0; /* not set in every element */
    EXPECT(nic_image_encode_layered(ctx, in, options, layers, 2, &out, &out_size) == NIC_ERROR_STRUCT_SIZE && out == NULL);
    EXPECT(nic_image_encode_layered(ctx, in, options, (const NicLayerSize *)(const void *)next, 2, &out, &out_size) == NIC_OK);
    EXPECT(out != NULL && out[4] == 3);
    nic_free(out);

    memset(info, 0xA5, sizeof info);
    for (k = 0; k < NIC_MAX_LAYERS; k++) info[k].struct_size = sizeof(NicLayerInfo);
    info[0].struct_size = sizeof(NicLayerInfo) - 1;
    EXPECT(nic_image_read_layers(ctx, data, size, info, NIC_MAX_LAYERS, &count) == NIC_ERROR_STRUCT_SIZE && count == 0);
    EXPECT(info[1].width == (int)0xA5A5A5A5);
    info[0].struct_size = sizeof(NicLayerInfo);
    info[5].struct_size = sizeof(NicLayerInfo) + 8;
    EXPECT(nic_image_read_layers(ctx, data, size, info, NIC_MAX_LAYERS, &count) == NIC_ERROR_STRUCT_SIZE && count == 0);
    info[5].struct_size = sizeof(NicLayerInfo);
    info[0].struct_size = (size_t)1 << 40; /* not a size: never used as the stride */
    EXPECT(nic_image_read_layers(ctx, data, size, info, NIC_MAX_LAYERS, &count) == NIC_ERROR_STRUCT_SIZE && count == 0);
    info[0].struct_size = sizeof(NicLayerInfo);
    /* A capacity below the file's layers: the count, and only the first elements written. */
    EXPECT(nic_image_read_layers(ctx, data, size, NULL, 0, &count) == NIC_OK && count == 3);
    EXPECT(nic_image_read_layers(ctx, data, size, info, 1, &count) == NIC_OK && count == 3);
    EXPECT(info[0].width == 15 && info[0].struct_size == sizeof(NicLayerInfo) && info[1].width == (int)0xA5A5A5A5);
    EXPECT(nic_image_read_layers(ctx, data, size, NULL, 1, &count) == NIC_ERROR_NULL_POINTER);

    memset(later, 0xA5, sizeof later);
    for (k = 0; k < 3; k++) later[k].info.struct_size = sizeof(LayerInfoNext);
    EXPECT(nic_image_read_layers(ctx, data, size, (NicLayerInfo *)(void *)later, 3, &count) == NIC_OK && count == 3);
    for (k = 0; k < 3; k++) {
        EXPECT(later[k].info.struct_size == sizeof(LayerInfoNext) && later[k].info.whole == 1);
        EXPECT(later[k].appended == (int)0xA5A5A5A5);
    }
    EXPECT(later[0].info.width == 15 && later[1].info.width == 27 && later[2].info.width == 45 && later[2].info.height == 33);
}

/* Layered .nic files: three sizes in one file, each layer alone, the list, a file cut short. */
static void test_layered_codec(NicContext *ctx)
{
    enum { W = 45, H = 33 };
    uint8_t rgb[W * H * 3];
    uint8_t *data = NULL;
    size_t size = 0, count = 0, i, header, k;
    NicImage in, out, top;
    NicEncodeOptions options;
    NicLayerInfo list[NIC_MAX_LAYERS];
    const NicLayerSize layers[3] = {{sizeof(NicLayerSize), 15, 11}, {sizeof(NicLayerSize), 27, 20}, {sizeof(NicLayerSize), W, H}};
    const NicLayerSize bad[2] = {{sizeof(NicLayerSize), 10, 11}, {sizeof(NicLayerSize), W, H}}; /* more than 4 times wider */
    for (i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(((i % (W * 3)) * 2 + (i / (W * 3)) * 3) & 0xff);
    for (k = 0; k < NIC_MAX_LAYERS; k++) list[k].struct_size = sizeof list[k];
    nic_image_init(&in); in.format = NIC_PIXEL_FORMAT_RGB24; in.width = W; in.height = H;
    in.planes[0] = rgb; in.strides[0] = W * 3;
    nic_encode_options_init(&options);
    options.quality = 30;
    options.effort = 0;
    EXPECT(nic_image_encode_layered(ctx, &in, &options, bad, 2, &data, &size) == NIC_ERROR_INVALID_ARGUMENT && data == NULL);
    EXPECT(nic_image_encode_layered(ctx, &in, &options, layers, 2, &data, &size) == NIC_ERROR_INVALID_ARGUMENT);
    EXPECT(nic_image_encode_layered(ctx, &in, &options, layers, 0, &data, &size) == NIC_ERROR_INVALID_ARGUMENT);
    EXPECT(nic_image_encode_layered(ctx, &in, &options, layers, 9, &data, &size) == NIC_ERROR_INVALID_ARGUMENT);
    EXPECT(nic_image_encode_layered(ctx, &in, &options, NULL, 3, &data, &size) == NIC_ERROR_NULL_POINTER);
    EXPECT(nic_image_encode_layered(ctx, &in, &options, layers, 3, &data, &size) == NIC_OK && data != NULL && data[4] == 3);
    EXPECT(nic_image_read_layers(ctx, data, size, list, NIC_MAX_LAYERS, &count) == NIC_OK && count == 3);
    header = 16 + 12 * 3;
    for (k = 0; k < 3 && count == 3; k++) {
        EXPECT(list[k].width == layers[k].width && list[k].height == layers[k].height && list[k].whole == 1);
        EXPECT(list[k].quality == 30);
        nic_image_init(&out);
        EXPECT(nic_image_decode_layer(ctx, data, size, (int)k, &out) == NIC_OK);
        EXPECT(out.width == layers[k].width && out.height == layers[k].height && out.planes[0] != NULL);
        nic_image_free(&out);
        header += list[k].bytes;
    }
    EXPECT(header == size);
    if (data != NULL) test_layer_struct_sizes(ctx, &in, &options, data, size);
    nic_image_init(&top);
    nic_image_init(&out);
    EXPECT(nic_image_decode(ctx, data, size, &top) == NIC_OK && top.width == W && top.height == H);
    EXPECT(nic_image_decode_layer(ctx, data, size, -1, &out) == NIC_OK && out.width == W);
    EXPECT(top.planes[0] != NULL && out.planes[0] != NULL && memcmp(top.planes[0], out.planes[0], W * H * 3) == 0);
    nic_image_free(&out);
    nic_image_free(&top);
    nic_image_init(&out);
    EXPECT(nic_image_decode_layer(ctx, data, size, 3, &out) == NIC_ERROR_INVALID_ARGUMENT && out.planes[0] == NULL);
    EXPECT(nic_image_decode_layer(ctx, data, size, -2, &out) == NIC_ERROR_INVALID_ARGUMENT);
    if (count == 3) {
        size_t cut = 16 + 12 * 3 + list[0].bytes; /* only layer 0 whole */
        EXPECT(nic_image_decode_layer(ctx, data, cut, 1, &out) == NIC_ERROR_CORRUPT_DATA);
        EXPECT(nic_image_decode_layer(ctx, data, cut, 0, &out) == NIC_OK && out.width == 15 && out.height == 11);
        nic_image_free(&out);
        EXPECT(nic_image_read_layers(ctx, data, cut, list, NIC_MAX_LAYERS, &count) == NIC_OK && count == 3);
        EXPECT(list[0].whole == 1 && list[1].whole == 0 && list[2].whole == 0 && list[2].quality == 0);
    }
    EXPECT(nic_image_read_layers(ctx, data, 10, list, NIC_MAX_LAYERS, &count) == NIC_ERROR_CORRUPT_DATA && count == 0);
    EXPECT(nic_image_read_layers(ctx, data, size, list, NIC_MAX_LAYERS, NULL) == NIC_ERROR_NULL_POINTER);
    nic_free(data);
}

static void collect_log(void *user_data, NicLogLevel level, const char *message)
{
    size_t used = strlen(logged);
    (void)user_data;
    (void)level;
    if (used + strlen(message) + 2 < sizeof logged) {
        strcat(logged, message);
        strcat(logged, "\n");
    }
}

static int file_bytes(const char *path, uint8_t **bytes, size_t *size)
{
    FILE *f = fopen(path, "rb");
    long n;
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *bytes = malloc((size_t)n);
    *size = *bytes ? fread(*bytes, 1, (size_t)n, f) : 0;
    fclose(f);
    return *bytes != NULL && *size == (size_t)n;
}

static int write_bytes(const char *path, const uint8_t *bytes, size_t size)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(bytes, 1, size, f) == size;
    if (f) ok = fclose(f) == 0 && ok;
    return ok;
}

/* Arguments a careless or hostile caller passes: an error status, nothing lost, no crash. */
static void test_hardening(NicContext *ctx)
{
    uint8_t src[16 * 8], dst[32 * 16], record[64];
    NicImage in = gray_image(src, 16, 8), out = gray_image(dst, 32, 16), decoded;
    NicAIData data;
    NicConfig config;
    NicContext *other = NULL;
    uint8_t fake = 0;

    in.strides[0] = PTRDIFF_MAX;
    EXPECT(nic_resize(ctx, &in, &out, NIC_RESIZE_BICUBIC) == NIC_ERROR_INVALID_ARGUMENT);
    in.strides[0] = PTRDIFF_MAX / 4;
    EXPECT(nic_resize(ctx, &in, &out, NIC_RESIZE_BICUBIC) == NIC_ERROR_INVALID_ARGUMENT);

    memset(record, 0, sizeof record);
    nic_aidata_init(&data);
    EXPECT(nic_aidata_parse(ctx, record, SIZE_MAX, &data) == NIC_ERROR_INVALID_ARGUMENT);
    EXPECT(strstr(nic_last_error(ctx), "-1") == NULL);

    nic_config_init(&config);
    config.log_level = (NicLogLevel)99;
    EXPECT(nic_context_create(&config, &other) == NIC_ERROR_INVALID_ARGUMENT && other == NULL);

    /* A filled image is refused, not overwritten (its pixels would leak). */
    nic_image_init(&decoded);
    decoded.planes[0] = &fake;
    EXPECT(nic_image_decode(ctx, record, sizeof record, &decoded) == NIC_ERROR_INVALID_ARGUMENT);
    EXPECT(decoded.planes[0] == &fake);
}

/* Counts progress calls; asks to stop once `stop_after` frames are done (negative: never). */
struct progress_log { int calls; int64_t last_done; int64_t expected; int stop_after; };

static int count_progress(void *user_data, const NicProgress *progress)
{
    struct progress_log *log = user_data;
    log->calls++;
    log->last_done = progress->frames_done;
    log->expected = progress->frames_expected;
    return log->stop_after >= 0 && progress->frames_done >= log->stop_after;
}

/* Progress and cancellation through the context's progress callback. */
static void test_video_progress(NicContext *ctx, const char *clip, const char *folder)
{
    char output[1024];
    struct progress_log log = {0, 0, 0, -1};
    FILE *f;
    snprintf(output, sizeof output, "%s/progress_out.y4m", folder);
    remove(output);

    EXPECT(nic_set_progress(NULL, count_progress, &log) == NIC_ERROR_NULL_POINTER);
    EXPECT(nic_set_progress(ctx, count_progress, &log) == NIC_OK);
    EXPECT(nic_video_ai_decode(ctx, clip, output, NULL, NULL) == NIC_OK);
    EXPECT(log.calls == log.last_done + 1 && log.last_done > 3 && log.last_done == log.expected);
    remove(output);

    log.calls = 0;
    log.stop_after = 3;
    EXPECT(nic_video_ai_decode(ctx, clip, output, NULL, NULL) == NIC_ERROR_CANCELLED);
    EXPECT(log.calls == 4 && log.last_done == 3);
    EXPECT(strcmp(nic_status_string(NIC_ERROR_CANCELLED), "cancelled") == 0);
    f = fopen(output, "rb");
    EXPECT(f == NULL);  /* no partial file */
    if (f) fclose(f);

    log.calls = 0;
    EXPECT(nic_set_progress(ctx, NULL, NULL) == NIC_OK);
    EXPECT(nic_video_ai_decode(ctx, clip, output, NULL, NULL) == NIC_OK && log.calls == 0);
    remove(output);
}

/* A 24-bit BMP of w x h pixels with a smooth pattern (rows bottom-up, padded to 4 bytes). */
static int write_bmp(const char *path, int w, int h)
{
    unsigned char header[54] = {'B', 'M'};
    int row = (w * 3 + 3) / 4 * 4, x, y, i;
    unsigned long size = 54ul + (unsigned long)row * (unsigned long)h;
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    for (i = 0; i < 4; i++) {
        header[2 + i] = (unsigned char)(size >> (8 * i));
        header[18 + i] = (unsigned char)((unsigned)w >> (8 * i));
        header[22 + i] = (unsigned char)((unsigned)h >> (8 * i));
    }
    header[10] = 54; header[14] = 40; header[26] = 1; header[28] = 24;
    fwrite(header, 1, sizeof header, f);
    for (y = 0; y < h; y++) {
        for (x = 0; x < row; x++) fputc(x < w * 3 ? (x * 5 + y * 3) & 0xff : 0, f);
    }
    return fclose(f) == 0;
}

/* The image file route of the AI codec: encode a file with its AI data; refuse bad requests
   without writing anything. */
static void test_image_ai_encode(NicContext *ctx, const char *folder)
{
    char input[1024], output[1024];
    NicImageAIOptions options;
    NicAIData aidata;
    FILE *f;
    snprintf(input, sizeof input, "%s/ai_in.bmp", folder);
    snprintf(output, sizeof output, "%s/ai_out.jpg", folder);
    remove(output);
    EXPECT(write_bmp(input, 96, 64));

    nic_aidata_init(&aidata);
    EXPECT(nic_image_ai_encode(ctx, input, output, NULL, &aidata) == NIC_OK);
    EXPECT(aidata.setting_id > 0 && aidata.original_width == 96 && aidata.original_height == 64);
    EXPECT(aidata.downscaled_width < 96 && aidata.codec == NIC_AI_CODEC_JPEG);
    f = fopen(output, "rb");
    EXPECT(f != NULL);
    if (f) fclose(f);
    remove(output);

    nic_image_ai_options_init(&options);
    options.scale_numerator = 2;
    options.scale_denominator = 1;
    options.codec = "png";
    snprintf(output, sizeof output, "%s/ai_out.png", folder);
    EXPECT(nic_image_ai_encode(ctx, input, output, &options, &aidata) == NIC_OK);
    EXPECT(aidata.downscaled_width == 48 && aidata.downscaled_height == 32 && aidata.codec == NIC_AI_CODEC_PNG);
    remove(output);

    options.codec = "gif";
    EXPECT(nic_image_ai_encode(ctx, input, output, &options, NULL) == NIC_ERROR_INVALID_ARGUMENT);
    options.codec = NULL;
    options.quality = 101;
    EXPECT(nic_image_ai_encode(ctx, input, output, &options, NULL) == NIC_ERROR_INVALID_ARGUMENT);
    options.quality = 0;
    options.struct_size = 1;
    EXPECT(nic_image_ai_encode(ctx, input, output, &options, NULL) == NIC_ERROR_STRUCT_SIZE);
    f = fopen(output, "rb");
    EXPECT(f == NULL); /* nothing written by the refused calls */
    if (f) fclose(f);
    EXPECT(nic_image_ai_encode(ctx, input, input, NULL, NULL) == NIC_ERROR_INVALID_ARGUMENT); /* output = input */
    EXPECT(nic_image_ai_encode(ctx, output, output, NULL, NULL) == NIC_ERROR_IO);               /* missing input */
    EXPECT(nic_image_ai_encode(ctx, NULL, output, NULL, NULL) == NIC_ERROR_NULL_POINTER);
    remove(input);
}

/* The scale a whole-stream encode would take: as the options say, else by trial encodes. */
static void test_video_choose_scale(NicContext *ctx, const char *clip, const char *folder)
{
    char output[1024];
    NicVideoOptions options;
    int num = 0, den = 0;
    FILE *f;
    snprintf(output, sizeof output, "%s/choose_out.mkv", folder);
    nic_video_options_init(&options);
    options.crf = 30;
    options.preset = "ultrafast";
    EXPECT(nic_video_choose_scale(ctx, clip, output, &options, &num, &den) == NIC_OK);
    EXPECT((num == 1 && den == 1) || (num == 3 && den == 2) || (num == 2 && den == 1));
    options.scale_numerator = 3;
    options.scale_denominator = 2;
    EXPECT(nic_video_choose_scale(ctx, clip, output, &options, &num, &den) == NIC_OK && num == 3 && den == 2);
    options.scale_numerator = 0;
    options.setting_id = 4242;
    EXPECT(nic_video_choose_scale(ctx, clip, output, &options, &num, &den) == NIC_ERROR_INVALID_ARGUMENT);
    EXPECT(nic_video_choose_scale(ctx, clip, output, NULL, NULL, &den) == NIC_ERROR_NULL_POINTER);
    f = fopen(output, "rb");
    EXPECT(f == NULL); /* choosing writes no output */
    if (f) fclose(f);
}

/* NicVideoReport of the current layout and of the first one (which ends before scale_numerator):
 * the first gets its fields and nothing written beyond; a shorter one is refused. */
static void test_video_report_layouts(NicContext *ctx, const char *clip, const char *folder)
{
    char output[1024], decoded[1024];
    NicVideoOptions options;
    NicVideoReport report;
    unsigned char first[sizeof(NicVideoReport)];
    NicVideoReport *old = (NicVideoReport *)(void *)first;
    size_t first_size = offsetof(NicVideoReport, scale_numerator);
    snprintf(output, sizeof output, "%s/report_out.mkv", folder);

    nic_video_options_init(&options);
    options.scale_numerator = 2;
    options.scale_denominator = 1;
    options.crf = 30;
    options.preset = "ultrafast";
    memset(&report, 0, sizeof report);
    report.struct_size = sizeof report;
    EXPECT(nic_video_ai_encode(ctx, clip, output, &options, &report) == NIC_OK);
    EXPECT(report.frames > 3 && report.scale_numerator == 2 && report.scale_denominator == 1);
    EXPECT(report.scale_scenes == 0 && report.size_changes == 0);

    memset(first, 0xab, sizeof first);
    old->struct_size = first_size;
    EXPECT(nic_video_ai_encode(ctx, clip, output, &options, old) == NIC_OK);
    EXPECT(old->frames == report.frames && first[first_size] == 0xab && first[sizeof first - 1] == 0xab);
    old->struct_size = first_size - 1;
    EXPECT(nic_video_ai_encode(ctx, clip, output, &options, old) == NIC_ERROR_STRUCT_SIZE);

    memset(&report, 0xab, sizeof report);
    report.struct_size = sizeof report;
    snprintf(decoded, sizeof decoded, "%s/report_back.y4m", folder);
    EXPECT(nic_video_ai_decode(ctx, output, decoded, NULL, &report) == NIC_OK);
    EXPECT(report.scale_numerator == 0 && report.scale_denominator == 0 && report.size_changes == 0);
    remove(output);
    remove(decoded);
}

/* Video jobs with bad options and damaged input: statuses, the earlier output kept, and
 * FFmpeg's messages delivered to the log callback instead of the host's stderr. */
static void test_video_hardening(const char *clip, const char *folder)
{
    char damaged[1024], output[1024];
    uint8_t *bytes = NULL, *after = NULL;
    size_t size = 0, after_size = 0, i;
    NicConfig config;
    NicContext *ctx = NULL;
    NicVideoOptions options;
    const uint8_t earlier[] = "earlier output";

    snprintf(damaged, sizeof damaged, "%s/damaged.mp4", folder);
    snprintf(output, sizeof output, "%s/hardening_out.mp4", folder);
    nic_config_init(&config);
    config.log_callback = collect_log;
    config.log_level = NIC_LOG_DEBUG;
    config.threads = 1;
    EXPECT(nic_context_create(&config, &ctx) == NIC_OK);
    if (!ctx) return;

    EXPECT(write_bytes(output, earlier, sizeof earlier));
    nic_video_options_init(&options);
    options.crf = 2.2e7;
    EXPECT(nic_video_ai_encode(ctx, clip, output, &options, NULL) == NIC_ERROR_INVALID_ARGUMENT);
    options.crf = 101;
    EXPECT(nic_video_ai_encode(ctx, clip, output, &options, NULL) == NIC_ERROR_INVALID_ARGUMENT);
    nic_video_options_init(&options);
    EXPECT(nic_video_ai_decode(ctx, clip, clip, &options, NULL) == NIC_ERROR_INVALID_ARGUMENT);
    EXPECT(file_bytes(output, &after, &after_size) && after_size == sizeof earlier &&
           memcmp(after, earlier, sizeof earlier) == 0);
    free(after);

    /* Damage the second half of the clip: the decoder complains, through the callback. */
    EXPECT(file_bytes(clip, &bytes, &size));
    for (i = size / 2; i < size; i += 37) bytes[i] ^= 0x5a;
    EXPECT(write_bytes(damaged, bytes, size));
    free(bytes);
    logged[0] = 0;
    options.preset = "ultrafast";
    (void)nic_video_ai_decode(ctx, damaged, output, &options, NULL);
    EXPECT(strstr(logged, "ffmpeg: ") != NULL);
    test_video_progress(ctx, clip, folder);
    test_video_report_layouts(ctx, clip, folder);
    test_video_choose_scale(ctx, clip, folder);
    test_image_ai_encode(ctx, folder);
    nic_context_destroy(ctx);
}

int main(int argc, char **argv)
{
    NicContext *ctx = NULL;
    test_version_and_strings();
    test_contexts();
    test_precision();
    if (nic_context_create(NULL, &ctx) != NIC_OK) {
        fprintf(stderr, "cannot create a default context\n");
        return 1;
    }
    test_resize_bad_input(ctx);
    test_resize_constant_yuv(ctx);
    test_aidata(ctx);
    test_ai_scaling(ctx);
    test_liff(ctx);
    test_neural_codec(ctx);
    test_layered_codec(ctx);
    test_hardening(ctx);
    nic_context_destroy(ctx);
    if (argc == 3) test_video_hardening(argv[1], argv[2]);
    if (failures) {
        fprintf(stderr, "api_test: %d failure(s)\n", failures);
        return 1;
    }
    printf("api_test: all checks passed\n");
    return 0;
}
