// FFmpeg headers used by FFGlue, plus static inline wrappers for the macros
// Swift cannot import: the clang importer only sees simple constant macros,
// not function-like ones (AVERROR, FFERRTAG) or compound literals (AV_TIME_BASE_Q).
#ifndef NIC_CFFMPEG_SHIM_H
#define NIC_CFFMPEG_SHIM_H

#include <errno.h>
#include <stddef.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/error.h>
#include <libswscale/swscale.h>

static inline int nic_averror(int errnum) { return AVERROR(errnum); }
static inline int nic_averror_eof(void) { return AVERROR_EOF; }
static inline int nic_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int nic_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int nic_averror_stream_not_found(void) { return AVERROR_STREAM_NOT_FOUND; }
static inline int nic_averror_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
static inline int nic_averror_encoder_not_found(void) { return AVERROR_ENCODER_NOT_FOUND; }
static inline int nic_averror_demuxer_not_found(void) { return AVERROR_DEMUXER_NOT_FOUND; }
static inline int64_t nic_av_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline AVRational nic_av_time_base_q(void) { return AV_TIME_BASE_Q; }

static inline int nic_av_strerror(int err, char *buf, size_t size) {
    return av_strerror(err, buf, size);
}

#endif
