/*
 * nic.h — the public C API of libnic, a neural image and video codec library.
 *
 * Conventions (the same for every function in this header):
 *  - Every operation returns a NicStatus; NIC_OK (0) is success, anything else
 *    is an error, described in words by nic_status_string() and, for functions
 *    that take a context, in detail by nic_last_error().
 *  - Handles are opaque. Whatever a nic_*_create() returns is released by the
 *    matching nic_*_destroy(), which accepts NULL.
 *  - Option structs start with `struct_size`: set it with the matching
 *    nic_*_init() (or to sizeof the struct). It lets later versions add fields
 *    without breaking programs built against this header: fields are only ever
 *    appended; a struct that ends before a field gets that field's default; a
 *    size smaller than the struct's first layout gives NIC_ERROR_STRUCT_SIZE; a
 *    larger one is accepted and the fields this version does not know are
 *    ignored. A program built against an earlier layout keeps calling the init
 *    function of that layout (symbol versions), which writes no further.
 *    In an array of such structs every element has the same struct_size, which
 *    is also the array's stride.
 *  - Image buffers are owned by the caller unless a function says otherwise.
 *  - The library never prints and never calls exit/abort on bad input.
 *    Distinct contexts may be used from distinct threads at the same time; one
 *    context must not be used from two threads at once. Its process-wide state
 *    is thread-safe and bounded: a cache of tensor memory shared by all
 *    contexts (at most 32 MB, returned to the system by nic_context_destroy())
 *    and the FFmpeg log callback it installs (see NicLogCallback).
 */
#ifndef NIC_H
#define NIC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NIC_API __attribute__((visibility("default")))
#else
#define NIC_API
#endif

/** Version of this header; compare with nic_version_number() at run time. */
#define NIC_VERSION_MAJOR 0
#define NIC_VERSION_MINOR 4
#define NIC_VERSION_PATCH 0
#define NIC_VERSION_NUMBER(major, minor, patch) (((major) << 16) | ((minor) << 8) | (patch))

/** Largest width or height any function accepts, and the largest pixel count. */
#define NIC_MAX_DIMENSION 16384
#define NIC_MAX_PIXELS (16000 * 16000)

/** Status codes. Negative values never occur; new codes may be added at the end. */
typedef enum NicStatus {
    NIC_OK = 0,
    NIC_ERROR_NULL_POINTER = 1,       /**< a required pointer argument was NULL */
    NIC_ERROR_STRUCT_SIZE = 2,        /**< struct_size is smaller than any known layout */
    NIC_ERROR_INVALID_ARGUMENT = 3,   /**< a value is out of range (method, thread count, ...) */
    NIC_ERROR_UNSUPPORTED_FORMAT = 4, /**< pixel format unknown or not allowed here */
    NIC_ERROR_DIMENSIONS = 5,         /**< zero, negative or too large width/height */
    NIC_ERROR_OUT_OF_MEMORY = 6,      /**< an allocation failed */
    NIC_ERROR_CORRUPT_DATA = 7,       /**< input data is truncated or malformed */
    NIC_ERROR_IO = 8,                 /**< a file could not be read or written */
    NIC_ERROR_MODEL = 9,              /**< model weights missing, malformed or mismatched */
    NIC_ERROR_INTERNAL = 10,          /**< a bug in libnic; please report it */
    NIC_ERROR_CANCELLED = 11          /**< the caller's progress callback asked to stop */
} NicStatus;

/** Log levels passed to the log callback. */
typedef enum NicLogLevel {
    NIC_LOG_ERROR = 0,
    NIC_LOG_WARNING = 1,
    NIC_LOG_INFO = 2,
    NIC_LOG_DEBUG = 3
} NicLogLevel;

/**
 * Log callback. `message` is valid only during the call. It is called on the
 * thread that called into the library with the context that logs. The messages
 * FFmpeg and its encoders print during a call arrive here too, prefixed
 * "ffmpeg: ", at NIC_LOG_INFO (their errors and warnings: libnic reports every
 * failure itself) or NIC_LOG_DEBUG (their information); those of FFmpeg's worker
 * threads are dropped. For this libnic installs its FFmpeg log callback
 * (av_log_set_callback) at the first call that uses a context; outside libnic's
 * calls it prints as FFmpeg's default callback does. A host that installs its
 * own FFmpeg log callback later receives those messages instead.
 */
typedef void (*NicLogCallback)(void *user_data, NicLogLevel level, const char *message);

/** Library version as a string, e.g. "0.4.0". Static storage; thread-safe. */
NIC_API const char *nic_version(void);

/** Library version as NIC_VERSION_NUMBER(major, minor, patch). Thread-safe. */
NIC_API uint32_t nic_version_number(void);

/**
 * Short English description of a status code ("corrupt data", ...). Static
 * storage; unknown codes give "unknown status". Thread-safe.
 */
NIC_API const char *nic_status_string(NicStatus status);

/* ------------------------------------------------------------------------ */
/* Contexts                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct NicContext NicContext;

/** Precision the up networks run in (NicConfig.precision; docs/engine.md, "Precision"). */
typedef enum NicPrecision {
    NIC_PRECISION_AUTO = 0, /**< int8 where the CPU has VNNI and the network calibrated int8 ranges,
                                 else bf16 where the CPU has AVX512_BF16, else fp32 (default) */
    NIC_PRECISION_FP32 = 1, /**< always fp32 */
    NIC_PRECISION_INT8 = 2, /**< int8 on any CPU; upscaling with a network that has no int8 ranges
                                 fails with NIC_ERROR_INVALID_ARGUMENT */
    NIC_PRECISION_BF16 = 3  /**< bfloat16 convolutions (float32 sums); on a CPU without
                                 AVX512_BF16 upscaling fails with NIC_ERROR_INVALID_ARGUMENT */
} NicPrecision;

typedef struct NicConfig {
    size_t struct_size;        /**< sizeof(NicConfig), set by nic_config_init() */
    int threads;               /**< worker threads; 0 = one per CPU core (default) */
    const char *model_dir;     /**< folder of models/settings.json; NULL = the installed models */
    NicLogCallback log_callback; /**< NULL = no logging (default) */
    void *log_user_data;       /**< passed back to log_callback */
    NicLogLevel log_level;     /**< most verbose level delivered (default NIC_LOG_WARNING) */
    int generic_ai_fallback;   /**< 1 (default): images without usable AI data are upscaled with the
                                    generic AI setting; 0: with Lanczos */
    /* Since 0.3: */
    NicPrecision precision;    /**< default NIC_PRECISION_AUTO; nic_setting_precision() tells what it
                                    means for a setting on this CPU */
} NicConfig;

/** Fills `cfg` with the defaults and sets its struct_size. Thread-safe. */
NIC_API void nic_config_init(NicConfig *cfg);

/**
 * Creates a context. `cfg` may be NULL for the defaults; `model_dir` is copied.
 * On success *out receives the context, to be released with
 * nic_context_destroy(); on failure *out is set to NULL and the status alone
 * tells why (NULL_POINTER, STRUCT_SIZE, INVALID_ARGUMENT for a thread count
 * outside 0...256, a log level that is not a NicLogLevel or a precision that is
 * not a NicPrecision, OUT_OF_MEMORY). Thread-safe.
 */
NIC_API NicStatus nic_context_create(const NicConfig *cfg, NicContext **out);

/** Releases a context and everything it owns, and returns the tensor memory libnic keeps
 *  for reuse (shared by all contexts, at most 32 MB) to the system. NULL is allowed. */
NIC_API void nic_context_destroy(NicContext *ctx);

/**
 * Message describing the last error on this context ("" after a success).
 * The string belongs to the context and stays valid until the next call that
 * uses the context. NULL gives a static message.
 */
NIC_API const char *nic_last_error(const NicContext *ctx);

/** Number of worker threads the context uses (after resolving 0 = auto). */
NIC_API int nic_context_threads(const NicContext *ctx);

/* ------------------------------------------------------------------------ */
/* Planar images                                                             */
/* ------------------------------------------------------------------------ */

typedef enum NicPixelFormat {
    NIC_PIXEL_FORMAT_YUV420P = 1, /**< 8-bit Y, U, V planes; chroma ceil(w/2) x ceil(h/2) */
    NIC_PIXEL_FORMAT_YUV444P = 2, /**< 8-bit Y, U, V planes at full size */
    NIC_PIXEL_FORMAT_RGB24 = 3,   /**< one plane, R G B bytes interleaved */
    NIC_PIXEL_FORMAT_GRAY8 = 4    /**< one 8-bit plane */
} NicPixelFormat;

/**
 * Describes pixels in caller-owned memory; libnic never frees or keeps these
 * pointers, and never writes through an image passed as `const NicImage *`.
 * Unused planes should be NULL. A stride is the distance in bytes between the
 * starts of two rows of a plane and must be at least the row size; each plane
 * must hold `stride * rows` bytes (yuv420p chroma: ceil(h/2) rows of
 * ceil(w/2) bytes), which libnic cannot check.
 */
typedef struct NicImage {
    size_t struct_size;     /**< sizeof(NicImage), set by nic_image_init() */
    NicPixelFormat format;
    int width;
    int height;
    uint8_t *planes[3];
    ptrdiff_t strides[3];
} NicImage;

/** Zeroes `image` and sets its struct_size. Thread-safe. */
NIC_API void nic_image_init(NicImage *image);

/* ------------------------------------------------------------------------ */
/* Conventional resizing (the non-AI fallback)                               */
/* ------------------------------------------------------------------------ */

typedef enum NicResizeMethod {
    NIC_RESIZE_BICUBIC = 0, /**< Keys cubic, a = -0.5, anti-aliased when shrinking */
    NIC_RESIZE_LANCZOS = 1  /**< Lanczos-3, anti-aliased when shrinking */
} NicResizeMethod;

/**
 * Resizes `in` to the size of `out`, which the caller describes and allocates
 * (same pixel format as `in`, any width/height up to NIC_MAX_DIMENSION).
 * Chroma planes of yuv420p are resized on their own grids. Output depends
 * only on the inputs, never on the thread count.
 * Errors: NULL_POINTER, STRUCT_SIZE, UNSUPPORTED_FORMAT, DIMENSIONS,
 * INVALID_ARGUMENT (unknown method, stride too small, or so large that the
 * plane would overflow the address space). One thread per context.
 */
NIC_API NicStatus nic_resize(NicContext *ctx, const NicImage *in, NicImage *out,
                             NicResizeMethod method);


/* ------------------------------------------------------------------------ */
/* AI data (docs/ai-data.md)                                                 */
/* ------------------------------------------------------------------------ */

/** Largest serialized AI data record (the record's length field is one byte). */
#define NIC_AIDATA_MAX_BYTES 255

/** UUID that starts libnic's SEI user-data-unregistered payloads (UUID || record), 392df699-481f-491e-9525-3f00f4c4e7d9. */
#define NIC_AIDATA_SEI_UUID \
    { 0x39, 0x2d, 0xf6, 0x99, 0x48, 0x1f, 0x49, 0x1e, 0x95, 0x25, 0x3f, 0x00, 0xf4, 0xc4, 0xe7, 0xd9 }

/** Codec of the downscaled image; other values may appear in records from newer writers. */
typedef enum NicAICodec {
    NIC_AI_CODEC_UNCOMPRESSED = 0,
    NIC_AI_CODEC_JPEG = 1,
    NIC_AI_CODEC_PNG = 2,
    NIC_AI_CODEC_WEBP = 3,
    NIC_AI_CODEC_H264 = 4,
    NIC_AI_CODEC_HEVC = 5,
    NIC_AI_CODEC_OTHER = 255
} NicAICodec;

/** What NicAIData.quality_value measures. */
typedef enum NicQualityKind {
    NIC_QUALITY_UNSPECIFIED = 0,
    NIC_QUALITY_QUALITY = 1,  /**< codec quality 0-100, in hundredths (9000 = quality 90) */
    NIC_QUALITY_CRF = 2,      /**< x264/x265 CRF, in hundredths */
    NIC_QUALITY_QP = 3,       /**< quantiser, in hundredths */
    NIC_QUALITY_BITRATE = 4   /**< kbit/s */
} NicQualityKind;

typedef enum NicContentType {
    NIC_CONTENT_UNSPECIFIED = 0,
    NIC_CONTENT_NATURAL = 1,
    NIC_CONTENT_SCREEN = 2,
    NIC_CONTENT_ANIMATION = 3
} NicContentType;

#define NIC_AIDATA_FLAG_LUMA_ONLY 0x01u
#define NIC_AIDATA_FLAG_GENERIC_FALLBACK_ALLOWED 0x02u
/** Marks a video frame's 14-byte repeat record (docs/ai-data.md §5.1): never set in a
 *  full record; nic_aidata_parse rejects a repeat record (it holds no sizes), and the
 *  video functions complete it from the stream's last full record. */
#define NIC_AIDATA_FLAG_REPEAT_RECORD 0x04u

/** The fields of an AI data record (version 1). */
typedef struct NicAIData {
    size_t struct_size;        /**< sizeof(NicAIData), set by nic_aidata_init() */
    int setting_id;            /**< NN setting (1-65535); 0 = classic downscale, no setting */
    int scale_numerator;       /**< scale factor = numerator / denominator, e.g. 3/2 */
    int scale_denominator;
    int original_width;
    int original_height;
    int downscaled_width;
    int downscaled_height;
    int codec;                 /**< NicAICodec (other values are kept as they are) */
    int quality_kind;          /**< NicQualityKind */
    int32_t quality_value;
    int content_type;          /**< NicContentType */
    uint32_t flags;            /**< NIC_AIDATA_FLAG_* */
} NicAIData;

/** Zeroes `data` and sets its struct_size. Thread-safe. */
NIC_API void nic_aidata_init(NicAIData *data);

/**
 * Parses a serialized record (the bytes of an SEI payload after its UUID, or of
 * the still-image text form after hex decoding). Checks length, magic, CRC,
 * version and field ranges. Errors: NULL_POINTER, STRUCT_SIZE, CORRUPT_DATA
 * (with the reason in nic_last_error). One thread per context.
 */
NIC_API NicStatus nic_aidata_parse(NicContext *ctx, const uint8_t *bytes, size_t size, NicAIData *out);

/**
 * Serializes `data` into `buffer` (caller-owned, `capacity` bytes;
 * NIC_AIDATA_MAX_BYTES always suffices) and stores the length in *written.
 * Errors: NULL_POINTER, STRUCT_SIZE, INVALID_ARGUMENT (a field out of range,
 * buffer too small). One thread per context.
 */
NIC_API NicStatus nic_aidata_serialize(NicContext *ctx, const NicAIData *data, uint8_t *buffer,
                                       size_t capacity, size_t *written);


/* ------------------------------------------------------------------------ */
/* AI scaling (NN settings from the model directory, docs/models.md)         */
/* ------------------------------------------------------------------------ */

/**
 * The size the down network of `setting_id` gives for an input of
 * `width` x `height` (e.g. 1920x1080 -> 960x540 for a x2 setting).
 * Errors: NULL_POINTER, MODEL (no model directory), INVALID_ARGUMENT
 * (unknown setting), DIMENSIONS. One thread per context.
 */
NIC_API NicStatus nic_downscaled_size(NicContext *ctx, int setting_id, int width, int height,
                                      int *out_width, int *out_height);

/**
 * Server side: AI-downscales `in` with the down network of `setting_id` into
 * `out` (caller-allocated, same pixel format; its size is normally
 * nic_downscaled_size(), another size is reached with Lanczos after the
 * network) and fills `aidata_out` (may be NULL) with the AI data to send with
 * the image: setting, scale and sizes; codec and quality are left unspecified
 * for the caller to set before serializing. Errors: NULL_POINTER,
 * STRUCT_SIZE, UNSUPPORTED_FORMAT, DIMENSIONS, INVALID_ARGUMENT (unknown
 * setting), MODEL. One thread per context.
 */
NIC_API NicStatus nic_downscale(NicContext *ctx, const NicImage *in, int setting_id, NicImage *out,
                                NicAIData *aidata_out);

/**
 * Device side: upscales `in` into `out` (caller-allocated, same pixel format,
 * any size) with the up network of the setting named by `aidata`. Without
 * AI data (NULL), or with AI data that cannot be used (setting unknown here,
 * `in` not of the recorded downscaled size, models missing or damaged), it
 * still succeeds: the generic AI setting or Lanczos is used (see NicConfig)
 * and the reason is logged as a warning and available from
 * nic_last_upscale_info(). Chroma is upscaled by a bicubic filter; for RGB24
 * images the setting's chroma network (if it has one) then corrects it from
 * the upscaled luma, unless `aidata` records an uncoded or PNG small image.
 * Errors: NULL_POINTER, STRUCT_SIZE,
 * UNSUPPORTED_FORMAT, DIMENSIONS. One thread per context.
 */
NIC_API NicStatus nic_upscale(NicContext *ctx, const NicImage *in, const NicAIData *aidata, NicImage *out);

/**
 * Upscales `in` to the size of `out` (caller-allocated, same pixel format: RGB24
 * or GRAY8) with the arbitrary-scale LIFF network of the model directory
 * (docs/models.md): any output size from 1 to 4 times the input on each axis,
 * the two factors independent (x1.37 by x2.5 is fine). No AI data is involved;
 * for pictures AI-downscaled by a setting, nic_upscale() is the one to use.
 * A missing or damaged LIFF model is an error here (nothing is written), not a
 * fallback. Errors: NULL_POINTER, STRUCT_SIZE, UNSUPPORTED_FORMAT (not RGB24 or
 * GRAY8, or `out`'s format differs), DIMENSIONS, INVALID_ARGUMENT (a factor
 * outside 1 to 4, small stride), MODEL. One thread per context. Since 0.3.
 */
NIC_API NicStatus nic_upscale_liff(NicContext *ctx, const NicImage *in, NicImage *out);

/** What the last nic_upscale() on a context did. */
typedef struct NicUpscaleInfo {
    size_t struct_size;          /**< sizeof(NicUpscaleInfo), set by the caller */
    int setting_id;              /**< NN setting whose up network ran; 0 = classic filter */
    int used_aidata;             /**< 1 when the AI data's own setting was used */
    const char *fallback_reason; /**< NULL when the AI data was used; owned by the context,
                                      valid until its next call */
    /* Since 0.4: */
    NicPrecision precision;      /**< what the up network ran in (NIC_PRECISION_FP32, _BF16 or _INT8,
                                      as nic_setting_precision() says); NIC_PRECISION_FP32 for a
                                      classic filter */
} NicUpscaleInfo;

/** Fills `info` about the last nic_upscale() on `ctx` (`precision` only when `struct_size`
 *  covers it). Errors: NULL_POINTER, STRUCT_SIZE. */
NIC_API NicStatus nic_last_upscale_info(NicContext *ctx, NicUpscaleInfo *info);

/**
 * The precision the up network of `setting_id` runs in on this context
 * (NIC_PRECISION_FP32, NIC_PRECISION_BF16 or NIC_PRECISION_INT8: NicConfig.precision
 * resolved for this CPU and network), and in `*reason` (may be NULL; owned by the
 * context, valid until its next call) why. Errors: NULL_POINTER, INVALID_ARGUMENT
 * (unknown setting; NIC_PRECISION_INT8 asked for a network without int8 ranges,
 * NIC_PRECISION_BF16 on a CPU without AVX512_BF16),
 * MODEL. Since 0.3.
 */
NIC_API NicStatus nic_setting_precision(NicContext *ctx, int setting_id, NicPrecision *precision,
                                        const char **reason);

/**
 * Runs the up network of `setting_id` on one luma plane of floats in [0, 1]
 * (BT.601 full-range luma, as the networks are trained), writing floats without
 * rounding or clamping: for float pipelines, and for checking libnic against
 * other runtimes. `in` is in_width x in_height with rows `in_stride` floats
 * apart; `out` (caller-allocated) is the network's output size for it
 * (nic_downscaled_size()'s inverse: in_width * scale), rows `out_stride` floats
 * apart. Errors: NULL_POINTER, INVALID_ARGUMENT (unknown setting, wrong output
 * size, small stride), DIMENSIONS, MODEL.
 */
NIC_API NicStatus nic_upscale_plane(NicContext *ctx, int setting_id, const float *in, int in_width, int in_height,
                                    ptrdiff_t in_stride, float *out, int out_width, int out_height,
                                    ptrdiff_t out_stride);

/* ---- Player frame API: decoded FFmpeg frames ------------------------------ */

/*
 * libnic is built against FFmpeg 5.1 (libavutil 57) and links it; callers pass
 * frames of that same libavutil. Include <libavutil/frame.h> to fill them; this
 * header only needs the name.
 */
struct AVFrame;

/** What a frame's own side data held. */
typedef enum NicAIDataStatus {
    NIC_AIDATA_ABSENT = 0,  /**< no AI data SEI with libnic's UUID */
    NIC_AIDATA_PRESENT = 1, /**< a valid record */
    NIC_AIDATA_CORRUPT = 2  /**< libnic's UUID with a record that does not parse (skipped) */
} NicAIDataStatus;

/** What nic_upscale_frame() did with one frame. */
typedef struct NicFrameInfo {
    size_t struct_size;            /**< sizeof(NicFrameInfo), set by nic_frame_info_init() */
    int setting_id;                /**< NN setting whose up network ran; 0 = classic filter */
    int used_aidata;               /**< 1 when the AI data in force chose the route */
    NicAIDataStatus frame_aidata;  /**< the frame's own side data */
    int has_aidata;                /**< 1 when `aidata` holds the AI data in force */
    NicAIData aidata;              /**< this frame's record, or the last one seen on the stream */
    int width, height;             /**< output size */
    const char *fallback_reason;   /**< NULL when the AI data was used; owned by the context,
                                        valid until its next call */
} NicFrameInfo;

/** Sets `info->struct_size`; call before nic_upscale_frame(). */
NIC_API void nic_frame_info_init(NicFrameInfo *info);

/**
 * Player side, one decoded frame: reads the frame's AI data from its
 * AV_FRAME_DATA_SEI_UNREGISTERED side data (libnic's UUID; other messages are
 * ignored), keeps the last AI data seen for frames without any, and upscales
 * straight from `in`'s planes (not copied) into `out`.
 *
 * `in`: planar 4:2:0 YUV, 8 to 16 bits (yuv420p, yuvj420p, yuv420p10le, ...).
 * `out`: either with buffers (same pixel format as `in`; its width/height are
 * the target), or without (data[0] NULL): libnic then allocates them in `in`'s
 * format, sized out->width x out->height when both are set, else the original
 * size in the AI data, else twice `in`'s size; free them with av_frame_unref()
 * or av_frame_free(). Frame properties (pts, colour tags) are copied from `in`;
 * AI data side data is not.
 *
 * Missing, corrupt or unusable AI data never fails: the generic AI setting or
 * Lanczos is used (see NicConfig) and `info` (may be NULL) says why. Errors:
 * NULL_POINTER, STRUCT_SIZE, UNSUPPORTED_FORMAT (not 4:2:0, or `out`'s format
 * differs), DIMENSIONS, OUT_OF_MEMORY. The context follows one stream from one
 * thread at a time; call nic_frame_reset() after seeking.
 */
NIC_API NicStatus nic_upscale_frame(NicContext *ctx, const struct AVFrame *in, struct AVFrame *out,
                                    NicFrameInfo *info);

/** Forgets the AI data carried between frames (after a seek or for a new stream). */
NIC_API NicStatus nic_frame_reset(NicContext *ctx);

/* ---- Image files: the AI codec end to end --------------------------------- */

/** Options of nic_image_ai_encode(); 0 / NULL = default. */
typedef struct NicImageAIOptions {
    size_t struct_size;        /**< sizeof(NicImageAIOptions), set by nic_image_ai_options_init() */
    int setting_id;            /**< NN setting; 0 = chosen from quality, resolution and content */
    int scale_numerator;       /**< scale factor numerator/denominator: 2/1 or 3/2; 0 = chosen */
    int scale_denominator;
    const char *codec;         /**< small image's codec: "jpeg", "webp" or "png"; NULL = from out_path's extension */
    int quality;               /**< JPEG/WebP quality 1...100; 0 = the codec's default */
    int content_type;          /**< NicContentType */
    int refine_steps;          /**< JPEG: encoder-side refinement steps 0...1000 through the setting's up network */
} NicImageAIOptions;

/** Sets struct_size and the defaults (everything 0 / NULL). Since 0.3. */
NIC_API void nic_image_ai_options_init(NicImageAIOptions *options);

/**
 * Server side, as `nic ai-encode` does for an image: reads `in_path` (PNG, JPEG,
 * WebP, ...), AI-downscales it and writes `out_path` as a JPEG, WebP or PNG file with
 * the AI data in its metadata. The file appears complete or not at all (written under
 * a temporary name, then renamed). `options` and `aidata_out` (the record written) may
 * be NULL. Errors: NULL_POINTER, STRUCT_SIZE, INVALID_ARGUMENT (unknown codec, quality,
 * setting or scale; output = input), UNSUPPORTED_FORMAT, CORRUPT_DATA, IO, MODEL, DIMENSIONS.
 * Since 0.3.
 */
NIC_API NicStatus nic_image_ai_encode(NicContext *ctx, const char *in_path, const char *out_path,
                                      const NicImageAIOptions *options, NicAIData *aidata_out);

/* ---- Video files: the AI codec end to end --------------------------------- */

/** How far a long job is. */
typedef struct NicProgress {
    size_t struct_size;        /**< sizeof(NicProgress) of the library that fills it */
    int64_t frames_done;       /**< frames written so far */
    int64_t frames_expected;   /**< frames the input declares, or 0 when it does not say */
    double elapsed_seconds;    /**< wall-clock time since the job started */
} NicProgress;

/**
 * Progress callback of the long jobs (nic_video_ai_encode(), nic_video_ai_decode()):
 * called on the calling thread once before the first frame and after every
 * frame written. Returning non-zero cancels the job: it returns
 * NIC_ERROR_CANCELLED before the next frame is processed, and the output file is
 * left as it was before the job (no partial file).
 */
typedef int (*NicProgressCallback)(void *user_data, const NicProgress *progress);

/** Sets the progress callback of the context's long jobs (NULL: none, the
 *  default). `user_data` is passed back to it. Errors: NULL_POINTER (ctx). */
NIC_API NicStatus nic_set_progress(NicContext *ctx, NicProgressCallback callback, void *user_data);

/** Options of nic_video_ai_encode() / nic_video_ai_decode(); 0 / NULL = default. */
typedef struct NicVideoOptions {
    size_t struct_size;        /**< sizeof(NicVideoOptions), set by nic_video_options_init() */
    int setting_id;            /**< encode: NN setting; 0 = chosen from rate, resolution and content */
    int scale_numerator;       /**< encode: scale factor numerator/denominator: 2/1, 3/2, or 1/1 for full
                                    resolution without a network; 0 = chosen by trial encodes (see below) */
    int scale_denominator;
    const char *encoder;       /**< FFmpeg encoder name: "libx264" (default) or "libx265" */
    double crf;                /**< constant rate factor; negative = the encoder's default */
    int64_t bit_rate;          /**< target bits per second of the video stream (encode: AI data included); 0 = use crf */
    const char *preset;        /**< encoder preset, e.g. "veryfast"; NULL = the encoder's default */
    int width, height;         /**< decode: output size; 0 = the original size in the AI data */
} NicVideoOptions;

/** Sets struct_size and the defaults (crf -1, everything else 0 / NULL). */
NIC_API void nic_video_options_init(NicVideoOptions *options);

/** What a video job did. */
typedef struct NicVideoReport {
    size_t struct_size;        /**< sizeof(NicVideoReport), set by the caller */
    int64_t frames;            /**< video frames written (= frames decoded from the input) */
    int width, height;         /**< output video size */
    int setting_id;            /**< encode: the NN setting used (0: full resolution); decode: the one used for most frames */
    int64_t ai_frames;         /**< decode: frames upscaled by their AI data's own setting */
    double seconds;            /**< wall-clock time of the whole job */
    double scaling_seconds;    /**< of which AI/classic scaling */
    /* Since 0.3 (a report of the first layout ends here and gets nothing further): */
    int scale_numerator;       /**< encode: original / coded size of the first frame (1/1: full resolution;
                                    decode: 0/0) */
    int scale_denominator;
    int scale_scenes;          /**< encode with scale auto: scenes with a scale of their own (1: one scale
                                    for the stream; 0: a fixed scale or setting) */
    int size_changes;          /**< encode: changes of coded size in the stream (per-scene scales) */
} NicVideoReport;

/**
 * Server side: decodes `in_path` (any FFmpeg-readable file), AI-downscales every
 * frame, encodes with H.264/HEVC and writes `out_path` (container from its
 * extension) with each frame's AI data as SEI and every other stream copied.
 * Without a setting or scale, the scale (full resolution, 3/2 or 2/1) is the one
 * whose trial encodes cost the least: per scene for a Matroska or MPEG-TS output
 * (the coded size then changes at a key frame), for the whole stream otherwise
 * (docs/video.md); the trial files live in a hidden folder beside `out_path`.
 * `report` may be NULL. Errors: NULL_POINTER, STRUCT_SIZE, INVALID_ARGUMENT,
 * UNSUPPORTED_FORMAT, CORRUPT_DATA, IO, MODEL, DIMENSIONS.
 */
NIC_API NicStatus nic_video_ai_encode(NicContext *ctx, const char *in_path, const char *out_path,
                                      const NicVideoOptions *options, NicVideoReport *report);

/**
 * The scale nic_video_ai_encode() would give the whole stream of `in_path` with these
 * `options`, without encoding it: the options' scale or setting's scale when they name
 * one, else the trial encodes' choice (docs/video.md; the trial files live in a hidden
 * folder beside `out_path`, whose extension names the container). Lets a caller that
 * codes a stream in pieces give every piece the same scale. Progress is reported as for
 * nic_video_ai_encode() (no frame done). `*scale_numerator` / `*scale_denominator`: 1/1,
 * 3/2 or 2/1. Errors as nic_video_ai_encode(). Since 0.3.
 */
NIC_API NicStatus nic_video_choose_scale(NicContext *ctx, const char *in_path, const char *out_path,
                                         const NicVideoOptions *options, int *scale_numerator,
                                         int *scale_denominator);

/**
 * Device side: decodes `in_path`, upscales every frame by its AI data (the
 * fallback of nic_upscale_frame() where there is none) and writes `out_path`:
 * H.264/HEVC in MP4/MKV/... with the other streams copied, or raw frames for a
 * name ending in .y4m. Errors as nic_video_ai_encode().
 */
NIC_API NicStatus nic_video_ai_decode(NicContext *ctx, const char *in_path, const char *out_path,
                                      const NicVideoOptions *options, NicVideoReport *report);

/** One video frame's AI data, as nic_video_read_aidata() lists them. */
typedef struct NicFrameAIData {
    int64_t pts;               /**< presentation time stamp in the stream's time base */
    double time;               /**< pts in seconds (NaN when the frame has none) */
    NicAIDataStatus status;    /**< ABSENT, PRESENT or CORRUPT */
    NicAIData aidata;          /**< the record when PRESENT */
} NicFrameAIData;

/**
 * Decodes the video of `path` and lists each frame's own AI data in display
 * order. `*frames` is allocated by libnic (free it with nic_free()); `*count`
 * is its length. Errors: NULL_POINTER, UNSUPPORTED_FORMAT, CORRUPT_DATA, IO.
 */
NIC_API NicStatus nic_video_read_aidata(NicContext *ctx, const char *path, NicFrameAIData **frames, size_t *count);

/* ------------------------------------------------------------------------- */
/* Neural image codec: learned compression to and from .nic (docs/neural-codec.md,
 * docs/nic-format.md). Uses the context's model directory (neural/codec.json) and threads. */

/** Options of nic_image_encode(). The encoder's search is a preset (`effort`) whose knobs
 *  can each be overridden; none of them changes the format or the decoder. */
typedef struct NicEncodeOptions {
    size_t struct_size;     /**< sizeof(NicEncodeOptions), set by nic_encode_options_init() */
    int quality;            /**< 1 (smallest file) ... 100 (best picture); default 75 */
    int refine_steps;       /**< refinement passes 0...4 after the analysis (each one synthesis and one
                                 analysis); -1 = as `effort` says (default) */
    /* Since 0.3: */
    int effort;             /**< 0 (fast, default: one refinement pass, 8-state dependent quantisation
                                 (a version 2 .nic file), consistency and fixed-point passes) ... 3:
                                 higher levels search the latents longer for smaller files
                                 (docs/neural-codec.md) */
    int latent_steps;       /**< steps of latent optimisation 0...2000 (each about two syntheses);
                                 -1 = as `effort` says (default) */
    float latent_step_size; /**< Adam step size of the latent optimisation, 0.0001...1; 0 = default */
    int dsq_states;         /**< dependent quantisation of the latents: 4 or 8 states (a version 2
                                 .nic file), 0 = none; -1 = as `effort` says (default) */
    float dsq_lambda;       /**< its weight of bits against squared latent error, (0, 100]; 0 = default (0.05, on the integer grid 0.08) */
    int substitute_steps;   /**< steps of substitution of the input through the codec 0...2000 (each about
                                 two analyses and two syntheses); -1 = as `effort` says (default) */
    float substitute_step_size; /**< its Adam step size in pixel values of [0, 1], 0.0001...0.1; 0 = default */
    int substitute_block;   /**< blocks of this many pixels a side (a multiple of 16, 16...1024) get a step
                                 size from their variance; 0 = one step size; -1 = as `effort` says (default) */
    /* Since 0.4: */
    int integer_grid;       /**< 1: the latents on the integer grid, whose points do not move with the
                                 hyper-latents, so that re-encoding a decoded picture holds steady (a
                                 version 2 .nic file); 0: on their means; -1 = as
                                 `effort` says (default; effort 0 uses the grid) */
} NicEncodeOptions;

/** Sets `options` to the defaults (quality 75, effort 0, every knob -1 / 0: as the effort
 *  says) and its struct_size. */
NIC_API void nic_encode_options_init(NicEncodeOptions *options);

/**
 * Compresses an RGB24 image into a complete .nic file in memory. On success
 * `*data` points to `*size` bytes allocated by libnic (free them with
 * nic_free()); on failure `*data` is NULL and `*size` 0. `options` may be NULL
 * (defaults). Errors: NULL_POINTER, STRUCT_SIZE, UNSUPPORTED_FORMAT (not RGB24),
 * DIMENSIONS (more than 16384 per side or 4096x4096 pixels), INVALID_ARGUMENT
 * (quality outside 1...100, effort or a knob out of its range), MODEL (no neural codec model).
 */
NIC_API NicStatus nic_image_encode(NicContext *ctx, const NicImage *image, const NicEncodeOptions *options,
                                   uint8_t **data, size_t *size);

/**
 * Decodes a .nic file held in memory (a layered file: its largest layer, see
 * nic_image_decode_layer()). `image` must have been set up with
 * nic_image_init(); on success it describes an RGB24 image whose pixels libnic
 * allocated (plane 0 only): release them with nic_image_free(). Decoding gives the
 * same pixels for any thread count. Errors: NULL_POINTER, STRUCT_SIZE,
 * UNSUPPORTED_FORMAT (not .nic, unknown version), CORRUPT_DATA (truncated or
 * damaged: checksum or payload), DIMENSIONS, MODEL (coded with another model).
 */
NIC_API NicStatus nic_image_decode(NicContext *ctx, const uint8_t *data, size_t size, NicImage *image);

/* Layered .nic files (docs/nic-format.md, version 3): one picture at up to NIC_MAX_LAYERS sizes
 * ("layers", smallest first), each decodable from the layers up to it; a file cut short decodes
 * up to its last whole layer. Also uses the model directory's layered/residual.json and
 * liff/liff.json. Since 0.4. */

/** Most layers a .nic file has. */
#define NIC_MAX_LAYERS 8

/** A layer's size in pixels. */
typedef struct NicLayerSize {
    size_t struct_size; /**< sizeof(NicLayerSize), set by the caller in every element */
    int width;
    int height;
} NicLayerSize;

/**
 * Compresses an RGB24 image into a layered .nic file: `layers` lists `layer_count`
 * (1...NIC_MAX_LAYERS) sizes, smallest first, each at least as large as the one before on both
 * axes and larger on one, by at most 4 times per axis; the last is the image's size.
 * `options` (NULL: defaults) applies to every layer (substitution and the
 * fixed-point check to the smallest only). Output and errors as nic_image_encode();
 * INVALID_ARGUMENT also for a layer list that breaks these rules, STRUCT_SIZE also for its
 * struct_size.
 */
NIC_API NicStatus nic_image_encode_layered(NicContext *ctx, const NicImage *image, const NicEncodeOptions *options,
                                           const NicLayerSize *layers, size_t layer_count, uint8_t **data,
                                           size_t *size);

/**
 * Decodes layer `layer` (0 = the smallest; -1 = the largest) of a .nic file (a
 * single-layer file has layer 0 only), reading only the layers up to it; output
 * as nic_image_decode(). Errors as nic_image_decode(); INVALID_ARGUMENT for a
 * layer the file does not have; CORRUPT_DATA for a layer the bytes do not hold
 * whole (a file cut short).
 */
NIC_API NicStatus nic_image_decode_layer(NicContext *ctx, const uint8_t *data, size_t size, int layer,
                                         NicImage *image);

/** One layer of a .nic file, as nic_image_read_layers() lists them. */
typedef struct NicLayerInfo {
    size_t struct_size; /**< sizeof(NicLayerInfo), set by the caller in every element */
    int width;
    int height;
    size_t bytes;   /**< the layer's stream length as the file declares it */
    int whole;      /**< 1 when the bytes hold the whole layer (it can be decoded), 0 when cut short */
    int quality;    /**< the layer's quality 1...100, 0 when not whole */
} NicLayerInfo;

/**
 * Lists the layers of a .nic file, smallest first (one for a single-layer file),
 * from its headers and checksums without decoding, into the caller's array of
 * `capacity` elements (NIC_MAX_LAYERS always suffice; `layers` may be NULL when
 * `capacity` is 0): `*count` receives the file's number of layers, of which up to
 * `capacity` are filled (struct_size is left as it is). On failure `*count`
 * is 0 and nothing is written. Errors: NULL_POINTER, STRUCT_SIZE, UNSUPPORTED_FORMAT,
 * CORRUPT_DATA, DIMENSIONS.
 */
NIC_API NicStatus nic_image_read_layers(NicContext *ctx, const uint8_t *data, size_t size, NicLayerInfo *layers,
                                        size_t capacity, size_t *count);

/** Frees the pixels of an image filled by nic_image_decode() and resets it (NULL is ignored).
 *  nic_image_decode() refuses (INVALID_ARGUMENT) an image that still holds pixels. */
NIC_API void nic_image_free(NicImage *image);

/** Frees memory libnic allocated for the caller (NULL is ignored). */
NIC_API void nic_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif /* NIC_H */
