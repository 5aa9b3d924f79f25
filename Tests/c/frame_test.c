/* The player frame API (nic_upscale_frame) on AVFrames made here: AI data from side data,
 * carried over, corrupt, reset, caller- and library-allocated outputs, bad arguments. */
#include <nic.h>

#include <libavutil/frame.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static AVFrame *make_frame(int format, int width, int height, int64_t pts)
{
    AVFrame *f = av_frame_alloc();
    f->format = format;
    f->width = width;
    f->height = height;
    if (av_frame_get_buffer(f, 0) < 0) { fprintf(stderr, "cannot allocate a frame\n"); exit(1); }
    for (int p = 0; p < 3; p++) {
        int w = p ? (width + 1) / 2 : width, h = p ? (height + 1) / 2 : height;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) f->data[p][y * f->linesize[p] + x] = (uint8_t)(p ? 128 : 16 + (x * 7 + y * 3) % 200);
    }
    f->pts = pts;
    return f;
}

/* Attaches UUID || record for setting `id` (x2 from 64x48 to 128x96); `damage` flips a record bit. */
static void attach_aidata(NicContext *ctx, AVFrame *f, int id, int damage)
{
    static const uint8_t uuid[16] = NIC_AIDATA_SEI_UUID;
    NicAIData data;
    nic_aidata_init(&data);
    data.setting_id = id;
    data.scale_numerator = 2;
    data.scale_denominator = 1;
    data.original_width = 128;
    data.original_height = 96;
    data.downscaled_width = 64;
    data.downscaled_height = 48;
    uint8_t record[NIC_AIDATA_MAX_BYTES];
    size_t size = 0;
    CHECK(nic_aidata_serialize(ctx, &data, record, sizeof record, &size) == NIC_OK);
    AVFrameSideData *side = av_frame_new_side_data(f, AV_FRAME_DATA_SEI_UNREGISTERED, 16 + size);
    memcpy(side->data, uuid, 16);
    memcpy(side->data + 16, record, size);
    if (damage) side->data[16 + 9] ^= 0x04;
}

int main(void)
{
    NicConfig config;
    nic_config_init(&config);
    config.threads = 1;
    NicContext *ctx = NULL;
    if (nic_context_create(&config, &ctx) != NIC_OK) { fprintf(stderr, "no context\n"); return 1; }
    NicFrameInfo info;
    nic_frame_info_init(&info);
    AVFrame *out = av_frame_alloc();

    /* AI data present: the setting's network, library-allocated output of the original size. */
    AVFrame *in = make_frame(AV_PIX_FMT_YUV420P, 64, 48, 5);
    attach_aidata(ctx, in, 1, 0);
    CHECK(nic_upscale_frame(ctx, in, out, &info) == NIC_OK);
    CHECK(info.setting_id == 1 && info.used_aidata == 1 && info.frame_aidata == NIC_AIDATA_PRESENT);
    CHECK(info.has_aidata == 1 && info.aidata.setting_id == 1 && info.fallback_reason == NULL);
    CHECK(out->width == 128 && out->height == 96 && out->format == AV_PIX_FMT_YUV420P && out->pts == 5);
    CHECK(av_frame_get_side_data(out, AV_FRAME_DATA_SEI_UNREGISTERED) == NULL);
    av_frame_unref(out);

    /* No AI data on the next frame: the last record stays in force. */
    AVFrame *plain = make_frame(AV_PIX_FMT_YUV420P, 64, 48, 6);
    CHECK(nic_upscale_frame(ctx, plain, out, &info) == NIC_OK);
    CHECK(info.setting_id == 1 && info.used_aidata == 1 && info.frame_aidata == NIC_AIDATA_ABSENT && info.has_aidata == 1);
    av_frame_unref(out);

    /* A corrupt record is reported and skipped. */
    AVFrame *bad = make_frame(AV_PIX_FMT_YUV420P, 64, 48, 7);
    attach_aidata(ctx, bad, 1, 1);
    CHECK(nic_upscale_frame(ctx, bad, out, &info) == NIC_OK);
    CHECK(info.frame_aidata == NIC_AIDATA_CORRUPT && info.setting_id == 1);
    av_frame_unref(out);

    /* After a reset, a frame without AI data takes the fallback, and says so. */
    CHECK(nic_frame_reset(ctx) == NIC_OK);
    CHECK(nic_upscale_frame(ctx, plain, out, &info) == NIC_OK);
    CHECK(info.used_aidata == 0 && info.has_aidata == 0 && info.fallback_reason != NULL);
    CHECK(out->width == 128 && out->height == 96);
    av_frame_unref(out);

    /* Unknown setting ID: fallback, never an error. */
    AVFrame *unknown = make_frame(AV_PIX_FMT_YUV420P, 64, 48, 8);
    attach_aidata(ctx, unknown, 31337, 0);
    CHECK(nic_upscale_frame(ctx, unknown, out, &info) == NIC_OK);
    CHECK(info.used_aidata == 0 && info.frame_aidata == NIC_AIDATA_PRESENT && strstr(info.fallback_reason, "31337"));
    av_frame_unref(out);

    /* Caller-allocated output: its size is the target; its format must match. */
    AVFrame *mine = make_frame(AV_PIX_FMT_YUV420P, 100, 70, 0);
    CHECK(nic_upscale_frame(ctx, in, mine, &info) == NIC_OK && info.width == 100 && info.height == 70);
    AVFrame *deep = make_frame(AV_PIX_FMT_YUV420P10LE, 128, 96, 0);
    CHECK(nic_upscale_frame(ctx, in, deep, &info) == NIC_ERROR_UNSUPPORTED_FORMAT);
    CHECK(strstr(nic_last_error(ctx), "yuv420p10le") != NULL);

    /* Requested size on a library-allocated output. */
    out->width = 96;
    out->height = 72;
    CHECK(nic_upscale_frame(ctx, in, out, NULL) == NIC_OK && out->width == 96 && out->height == 72);
    av_frame_unref(out);

    /* Bad arguments. */
    AVFrame *rgb = av_frame_alloc();
    rgb->format = AV_PIX_FMT_RGB24;
    rgb->width = 16;
    rgb->height = 16;
    av_frame_get_buffer(rgb, 0);
    CHECK(nic_upscale_frame(ctx, rgb, out, &info) == NIC_ERROR_UNSUPPORTED_FORMAT);
    CHECK(nic_upscale_frame(ctx, NULL, out, &info) == NIC_ERROR_NULL_POINTER);
    CHECK(nic_upscale_frame(NULL, in, out, &info) == NIC_ERROR_NULL_POINTER);
    info.struct_size = 8;
    CHECK(nic_upscale_frame(ctx, in, out, &info) == NIC_ERROR_STRUCT_SIZE);
    CHECK(nic_frame_reset(NULL) == NIC_ERROR_NULL_POINTER);

    AVFrame *frames[] = {in, plain, bad, unknown, mine, deep, rgb, out};
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) av_frame_free(&frames[i]);
    nic_context_destroy(ctx);
    if (failures) { fprintf(stderr, "%d frame API checks failed\n", failures); return 1; }
    printf("frame API tests passed\n");
    return 0;
}
