/*
 * player.c — the decode loop of a player with libnic AI up-scaling.
 *
 *   player IN [OUT.y4m] [--threads N] [--size WxH]
 *
 * Demuxes and decodes IN with libavformat/libavcodec, hands every decoded
 * frame to nic_upscale_frame() (which reads the frame's AI data from its SEI
 * side data and picks the NN setting) and writes the upscaled frames as Y4M,
 * or, without OUT, only reports them. One line per frame on stdout: index,
 * pts, setting, whether the AI data was used, and upscale time; a summary at
 * the end. Build with examples/c/Makefile or:
 *
 *   cc -std=c99 player.c $(pkg-config --cflags --libs nic libavformat libavcodec libavutil) -o player
 */
#define _POSIX_C_SOURCE 200809L
#include <nic.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Player {
    AVFormatContext *format;
    AVCodecContext *decoder;
    int stream;
    NicContext *nic;
    FILE *y4m;
    int width, height;        /* requested output size, 0 = from the AI data */
    int written_header;
    long frames, ai_frames;
    double upscale_seconds;
} Player;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int fail_av(const char *what, int err)
{
    char text[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(err, text, sizeof text);
    fprintf(stderr, "player: %s: %s\n", what, text);
    return -1;
}

static int open_input(Player *p, const char *path, int threads)
{
    const AVCodec *codec = NULL;
    int err = avformat_open_input(&p->format, path, NULL, NULL);
    if (err < 0) return fail_av(path, err);
    if ((err = avformat_find_stream_info(p->format, NULL)) < 0) return fail_av("stream info", err);
    p->stream = av_find_best_stream(p->format, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (p->stream < 0) return fail_av("no video stream", p->stream);
    p->decoder = avcodec_alloc_context3(codec);
    if (!p->decoder) return fail_av("decoder", AVERROR(ENOMEM));
    avcodec_parameters_to_context(p->decoder, p->format->streams[p->stream]->codecpar);
    p->decoder->pkt_timebase = p->format->streams[p->stream]->time_base;
    p->decoder->thread_count = threads;
    if ((err = avcodec_open2(p->decoder, codec, NULL)) < 0) return fail_av("open decoder", err);
    return 0;
}

/* Y4M: 8-bit planes as bytes, deeper ones as little-endian 16-bit words (C420p10 etc.). */
static int write_y4m(Player *p, const AVFrame *f)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get((enum AVPixelFormat)f->format);
    int depth = desc->comp[0].depth, bytes = depth > 8 ? 2 : 1;
    if (!p->written_header) {
        AVRational rate = p->format->streams[p->stream]->avg_frame_rate;
        if (rate.num <= 0 || rate.den <= 0) rate = (AVRational){25, 1};
        if (depth > 8)
            fprintf(p->y4m, "YUV4MPEG2 W%d H%d F%d:%d Ip A1:1 C420p%d XYSCSS=420P%d\n", f->width, f->height,
                    rate.num, rate.den, depth, depth);
        else
            fprintf(p->y4m, "YUV4MPEG2 W%d H%d F%d:%d Ip A1:1 C420jpeg\n", f->width, f->height, rate.num, rate.den);
        p->written_header = 1;
    }
    fputs("FRAME\n", p->y4m);
    for (int plane = 0; plane < 3; plane++) {
        int w = plane ? (f->width + 1) / 2 : f->width, h = plane ? (f->height + 1) / 2 : f->height;
        for (int y = 0; y < h; y++)
            if (fwrite(f->data[plane] + (size_t)y * f->linesize[plane], bytes, (size_t)w, p->y4m) != (size_t)w) return -1;
    }
    return 0;
}

static int upscale_and_output(Player *p, const AVFrame *decoded, AVFrame *out)
{
    NicFrameInfo info;
    nic_frame_info_init(&info);
    out->width = p->width;
    out->height = p->height;
    double t0 = now_seconds();
    NicStatus status = nic_upscale_frame(p->nic, decoded, out, &info);
    double ms = (now_seconds() - t0) * 1e3;
    if (status != NIC_OK) {
        fprintf(stderr, "player: frame %ld: %s\n", p->frames, nic_last_error(p->nic));
        return -1;
    }
    p->upscale_seconds += ms / 1e3;
    p->ai_frames += info.used_aidata;
    printf("frame %ld pts %lld %dx%d setting %d aidata %s%s%s %.2f ms\n", p->frames, (long long)out->pts, info.width,
           info.height, info.setting_id, info.frame_aidata == NIC_AIDATA_PRESENT ? "present" :
           info.frame_aidata == NIC_AIDATA_CORRUPT ? "corrupt" : "absent",
           info.fallback_reason ? " fallback: " : "", info.fallback_reason ? info.fallback_reason : "", ms);
    p->frames++;
    int err = p->y4m ? write_y4m(p, out) : 0;
    av_frame_unref(out);
    return err;
}

/* Receives every frame the decoder has ready. */
static int drain_decoder(Player *p, AVFrame *decoded, AVFrame *out)
{
    for (;;) {
        int err = avcodec_receive_frame(p->decoder, decoded);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return 0;
        if (err < 0) return fail_av("decode", err);
        decoded->pts = decoded->best_effort_timestamp;
        err = upscale_and_output(p, decoded, out);
        av_frame_unref(decoded);
        if (err < 0) return err;
    }
}

static int run(Player *p)
{
    AVPacket *packet = av_packet_alloc();
    AVFrame *decoded = av_frame_alloc(), *out = av_frame_alloc();
    int err = packet && decoded && out ? 0 : -1;
    while (err >= 0 && av_read_frame(p->format, packet) >= 0) {
        if (packet->stream_index == p->stream && avcodec_send_packet(p->decoder, packet) >= 0)
            err = drain_decoder(p, decoded, out);
        av_packet_unref(packet);
    }
    if (err >= 0) {
        avcodec_send_packet(p->decoder, NULL);
        err = drain_decoder(p, decoded, out);
    }
    av_packet_free(&packet);
    av_frame_free(&decoded);
    av_frame_free(&out);
    return err;
}

int main(int argc, char **argv)
{
    Player p = {0};
    const char *input = NULL, *output = NULL;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            if (sscanf(argv[++i], "%dx%d", &p.width, &p.height) != 2) { fprintf(stderr, "player: bad --size\n"); return 2; }
        } else if (!input) input = argv[i];
        else if (!output) output = argv[i];
        else { fprintf(stderr, "usage: player IN [OUT.y4m] [--threads N] [--size WxH]\n"); return 2; }
    }
    if (!input) { fprintf(stderr, "usage: player IN [OUT.y4m] [--threads N] [--size WxH]\n"); return 2; }

    NicConfig config;
    nic_config_init(&config);
    config.threads = threads;
    if (nic_context_create(&config, &p.nic) != NIC_OK) { fprintf(stderr, "player: cannot create a libnic context\n"); return 1; }
    int err = open_input(&p, input, threads);
    if (err >= 0 && output && !(p.y4m = fopen(output, "wb"))) { perror(output); err = -1; }
    if (err >= 0) err = run(&p);
    if (err >= 0 && p.frames > 0)
        printf("%ld frames, %ld with AI data used, upscale %.2f ms/frame (%.1f frames/s)\n", p.frames, p.ai_frames,
               p.upscale_seconds * 1e3 / (double)p.frames, (double)p.frames / p.upscale_seconds);
    if (p.y4m && fclose(p.y4m) != 0) err = -1;
    avcodec_free_context(&p.decoder);
    avformat_close_input(&p.format);
    nic_context_destroy(p.nic);
    return err < 0 ? 1 : 0;
}
