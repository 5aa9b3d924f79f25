/*
 * transcode.c — a libav* transcode pipeline with libnic in the middle.
 *
 *   transcode IN OUT [--crf N] [--preset P] [--threads N]
 *
 * demux IN -> decode video -> nic_upscale_frame() (AI data from each frame's
 * SEI picks the NN setting) -> encode with libx264 -> mux OUT, with every
 * other stream (audio, subtitles) copied packet for packet. The output
 * container follows OUT's extension (.mp4, .mkv, ...). Build with
 * examples/c/Makefile or:
 *
 *   cc -std=c99 transcode.c $(pkg-config --cflags --libs nic libavformat libavcodec libavutil) -o transcode
 */
#include <nic.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Transcoder {
    AVFormatContext *in, *out;
    AVCodecContext *decoder, *encoder;
    int video;               /* input index of the processed video stream */
    int *out_index;          /* output stream for each input stream, -1 = none */
    NicContext *nic;
    const char *crf, *preset;
    int threads;
    long frames;
    AVPacket **held;         /* packets of other streams that arrive before the header is written */
    size_t held_count;
} Transcoder;

static int fail_av(const char *what, int err)
{
    char text[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(err, text, sizeof text);
    fprintf(stderr, "transcode: %s: %s\n", what, text);
    return err < 0 ? err : -1;
}

static int open_input(Transcoder *t, const char *path)
{
    const AVCodec *codec = NULL;
    int err = avformat_open_input(&t->in, path, NULL, NULL);
    if (err < 0) return fail_av(path, err);
    if ((err = avformat_find_stream_info(t->in, NULL)) < 0) return fail_av("stream info", err);
    t->video = av_find_best_stream(t->in, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (t->video < 0) return fail_av("no video stream", t->video);
    if (!(t->decoder = avcodec_alloc_context3(codec))) return fail_av("decoder", AVERROR(ENOMEM));
    avcodec_parameters_to_context(t->decoder, t->in->streams[t->video]->codecpar);
    t->decoder->pkt_timebase = t->in->streams[t->video]->time_base;
    t->decoder->thread_count = t->threads;
    if ((err = avcodec_open2(t->decoder, codec, NULL)) < 0) return fail_av("open decoder", err);
    return 0;
}

/* The encoder is opened on the first upscaled frame, whose size libnic decided. */
static int open_encoder(Transcoder *t, const AVFrame *first)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    AVStream *in = t->in->streams[t->video];
    if (!codec) return fail_av("libx264 not available", AVERROR_ENCODER_NOT_FOUND);
    if (!(t->encoder = avcodec_alloc_context3(codec))) return fail_av("encoder", AVERROR(ENOMEM));
    t->encoder->width = first->width;
    t->encoder->height = first->height;
    t->encoder->pix_fmt = AV_PIX_FMT_YUV420P;
    t->encoder->time_base = in->time_base;
    t->encoder->framerate = in->avg_frame_rate;
    t->encoder->sample_aspect_ratio = first->sample_aspect_ratio;
    t->encoder->color_primaries = first->color_primaries;
    t->encoder->color_trc = first->color_trc;
    t->encoder->colorspace = first->colorspace;
    t->encoder->color_range = first->color_range;
    t->encoder->thread_count = t->threads;
    if (t->out->oformat->flags & AVFMT_GLOBALHEADER) t->encoder->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (t->crf) av_opt_set(t->encoder->priv_data, "crf", t->crf, 0);
    if (t->preset) av_opt_set(t->encoder->priv_data, "preset", t->preset, 0);
    int err = avcodec_open2(t->encoder, codec, NULL);
    if (err < 0) return fail_av("open libx264", err);
    AVStream *stream = t->out->streams[t->out_index[t->video]];
    if ((err = avcodec_parameters_from_context(stream->codecpar, t->encoder)) < 0) return fail_av("stream parameters", err);
    stream->time_base = t->encoder->time_base;
    if ((err = avformat_write_header(t->out, NULL)) < 0) return fail_av("write header", err);
    return 0;
}

/* One output stream per input stream: the video one is filled in by open_encoder(). */
static int open_output(Transcoder *t, const char *path)
{
    int err = avformat_alloc_output_context2(&t->out, NULL, NULL, path);
    if (err < 0) return fail_av(path, err);
    t->out_index = calloc(t->in->nb_streams, sizeof *t->out_index);
    if (!t->out_index) return fail_av("streams", AVERROR(ENOMEM));
    for (unsigned i = 0; i < t->in->nb_streams; i++) {
        AVStream *in = t->in->streams[i], *out = avformat_new_stream(t->out, NULL);
        if (!out) return fail_av("new stream", AVERROR(ENOMEM));
        t->out_index[i] = out->index;
        if ((int)i == t->video) continue;
        if ((err = avcodec_parameters_copy(out->codecpar, in->codecpar)) < 0) return fail_av("copy stream", err);
        out->codecpar->codec_tag = 0;
        out->time_base = in->time_base;
        av_dict_copy(&out->metadata, in->metadata, 0);
    }
    av_dict_copy(&t->out->metadata, t->in->metadata, 0);
    if (!(t->out->oformat->flags & AVFMT_NOFILE) && (err = avio_open(&t->out->pb, path, AVIO_FLAG_WRITE)) < 0)
        return fail_av(path, err);
    return 0;
}

/* Sends `frame` (NULL flushes) and muxes what comes out. */
static int encode(Transcoder *t, const AVFrame *frame)
{
    AVPacket *packet = av_packet_alloc();
    AVStream *stream = t->out->streams[t->out_index[t->video]];
    int err = avcodec_send_frame(t->encoder, frame);
    while (err >= 0) {
        err = avcodec_receive_packet(t->encoder, packet);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) { err = 0; break; }
        if (err < 0) break;
        if (packet->duration == 0) packet->duration = av_rescale_q(1, av_inv_q(t->encoder->framerate), t->encoder->time_base);
        av_packet_rescale_ts(packet, t->encoder->time_base, stream->time_base);
        packet->stream_index = stream->index;
        err = av_interleaved_write_frame(t->out, packet);
    }
    av_packet_free(&packet);
    return err < 0 ? fail_av("encode", err) : 0;
}

/* A packet of a copied stream, rescaled to its output stream. Takes the packet's reference. */
static int write_copied(Transcoder *t, AVPacket *packet)
{
    AVStream *in = t->in->streams[packet->stream_index], *out = t->out->streams[t->out_index[packet->stream_index]];
    av_packet_rescale_ts(packet, in->time_base, out->time_base);
    packet->stream_index = out->index;
    packet->pos = -1;
    int err = av_interleaved_write_frame(t->out, packet);
    return err < 0 ? fail_av("write packet", err) : 0;
}

/* Writes the packets that waited for the header, in order. */
static int flush_held(Transcoder *t)
{
    int err = 0;
    for (size_t i = 0; i < t->held_count; i++) {
        if (err >= 0) err = write_copied(t, t->held[i]);
        av_packet_free(&t->held[i]);
    }
    t->held_count = 0;
    return err;
}

static int process_frames(Transcoder *t, AVFrame *decoded, AVFrame *upscaled)
{
    for (;;) {
        int err = avcodec_receive_frame(t->decoder, decoded);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return 0;
        if (err < 0) return fail_av("decode", err);
        decoded->pts = decoded->best_effort_timestamp;
        NicFrameInfo info;
        nic_frame_info_init(&info);
        if (nic_upscale_frame(t->nic, decoded, upscaled, &info) != NIC_OK) {
            fprintf(stderr, "transcode: frame %ld: %s\n", t->frames, nic_last_error(t->nic));
            return -1;
        }
        if (info.fallback_reason && t->frames == 0) fprintf(stderr, "transcode: note: %s\n", info.fallback_reason);
        av_frame_unref(decoded);
        upscaled->pict_type = AV_PICTURE_TYPE_NONE;
        if (!t->encoder && ((err = open_encoder(t, upscaled)) < 0 || (err = flush_held(t)) < 0)) return err;
        err = encode(t, upscaled);
        av_frame_unref(upscaled);
        if (err < 0) return err;
        t->frames++;
    }
}

static int run(Transcoder *t)
{
    AVPacket *packet = av_packet_alloc();
    AVFrame *decoded = av_frame_alloc(), *upscaled = av_frame_alloc();
    int err = packet && decoded && upscaled ? 0 : -1;
    while (err >= 0 && av_read_frame(t->in, packet) >= 0) {
        if (packet->stream_index == t->video) {
            if (avcodec_send_packet(t->decoder, packet) >= 0) err = process_frames(t, decoded, upscaled);
        } else if (t->encoder) {
            err = write_copied(t, packet);
        } else {
            AVPacket **grown = realloc(t->held, (t->held_count + 1) * sizeof *grown);
            if (!grown) { err = -1; break; }
            t->held = grown;
            t->held[t->held_count++] = av_packet_clone(packet);
        }
        av_packet_unref(packet);
    }
    if (err >= 0) {
        avcodec_send_packet(t->decoder, NULL);
        err = process_frames(t, decoded, upscaled);
    }
    if (err >= 0 && !t->encoder) err = fail_av("no video frame could be decoded", AVERROR_INVALIDDATA);
    if (err >= 0) err = encode(t, NULL);
    if (err >= 0) err = av_write_trailer(t->out);
    for (size_t i = 0; i < t->held_count; i++) av_packet_free(&t->held[i]);
    free(t->held);
    av_packet_free(&packet);
    av_frame_free(&decoded);
    av_frame_free(&upscaled);
    return err;
}

int main(int argc, char **argv)
{
    Transcoder t = {0};
    const char *input = NULL, *output = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--crf") && i + 1 < argc) t.crf = argv[++i];
        else if (!strcmp(argv[i], "--preset") && i + 1 < argc) t.preset = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) t.threads = atoi(argv[++i]);
        else if (!input) input = argv[i];
        else if (!output) output = argv[i];
        else input = NULL;
    }
    if (!input || !output) {
        fprintf(stderr, "usage: transcode IN OUT [--crf N] [--preset P] [--threads N]\n");
        return 2;
    }
    av_log_set_level(AV_LOG_ERROR);   /* libx264's statistics are not this example's output */
    NicConfig config;
    nic_config_init(&config);
    config.threads = t.threads;
    if (nic_context_create(&config, &t.nic) != NIC_OK) { fprintf(stderr, "transcode: no libnic context\n"); return 1; }
    int err = open_input(&t, input);
    if (err >= 0) err = open_output(&t, output);
    if (err >= 0) err = run(&t);
    if (err >= 0) printf("%s: %ld frames upscaled\n", output, t.frames);
    if (t.out && !(t.out->oformat->flags & AVFMT_NOFILE)) avio_closep(&t.out->pb);
    avformat_free_context(t.out);
    avcodec_free_context(&t.encoder);
    avcodec_free_context(&t.decoder);
    avformat_close_input(&t.in);
    free(t.out_index);
    nic_context_destroy(t.nic);
    return err < 0 ? 1 : 0;
}
