/*
 * resize.c — resize a binary PPM (P6) or PGM (P5) image with libnic.
 *
 *   resize IN.ppm OUT.ppm WIDTH HEIGHT [bicubic|lanczos]
 *
 * A P6 input is resized as rgb24 and written as P6, a P5 input as gray8 and
 * written as P5. Only maxval 255 is accepted. Build with examples/c/Makefile
 * or:
 *
 *   cc -std=c99 -Wall -Wextra -Werror -pedantic resize.c \
 *      $(pkg-config --cflags --libs nic) -o resize
 */
#include <nic.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Pnm {
    int width;
    int height;
    int channels; /* 3 for P6, 1 for P5 */
    uint8_t *pixels;
} Pnm;

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Skips whitespace and # comments. Returns the next byte (or EOF). */
static int skip_space_and_comments(FILE *f)
{
    int c = fgetc(f);
    for (;;) {
        if (c == '#') {
            while (c != EOF && c != '\n' && c != '\r')
                c = fgetc(f);
        } else if (c != EOF && is_space(c)) {
            c = fgetc(f);
        } else {
            return c;
        }
    }
}

/*
 * Reads one decimal header number in [1, limit]. The byte after the digits
 * is consumed and must be whitespace (or '#', whose comment is skipped by
 * the next read; for the last number the caller checks it).
 */
static int read_header_number(FILE *f, long limit, long *value, int *terminator)
{
    long v = 0;
    int digits = 0;
    int c = skip_space_and_comments(f);
    while (c >= '0' && c <= '9') {
        if (v > (limit - (c - '0')) / 10)
            return -1; /* exceeds limit; also prevents overflow */
        v = v * 10 + (c - '0');
        digits++;
        c = fgetc(f);
    }
    if (digits == 0 || v < 1)
        return -1;
    if (c != EOF && c != '#' && !is_space(c))
        return -1;
    if (c == '#')
        ungetc(c, f);
    *value = v;
    *terminator = c;
    return 0;
}

static int read_pnm(const char *path, Pnm *img)
{
    FILE *f;
    char magic[2];
    long w, h, maxval;
    int term;
    size_t size;

    memset(img, 0, sizeof *img);
    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "resize: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fread(magic, 1, 2, f) != 2 || magic[0] != 'P' || (magic[1] != '5' && magic[1] != '6')) {
        fprintf(stderr, "resize: %s: not a binary PPM (P6) or PGM (P5) file\n", path);
        fclose(f);
        return -1;
    }
    img->channels = magic[1] == '6' ? 3 : 1;
    {
        int c = fgetc(f); /* the magic must end at whitespace or a comment */
        if (c == EOF || (!is_space(c) && c != '#')) {
            fprintf(stderr, "resize: %s: bad header\n", path);
            fclose(f);
            return -1;
        }
        ungetc(c, f);
    }
    if (read_header_number(f, NIC_MAX_DIMENSION, &w, &term) != 0 ||
        read_header_number(f, NIC_MAX_DIMENSION, &h, &term) != 0) {
        fprintf(stderr, "resize: %s: bad width/height (must be 1..%d)\n", path, NIC_MAX_DIMENSION);
        fclose(f);
        return -1;
    }
    if (read_header_number(f, 65535, &maxval, &term) != 0 || maxval != 255 || !is_space(term)) {
        fprintf(stderr, "resize: %s: only maxval 255 followed by one whitespace byte is supported\n",
                path);
        fclose(f);
        return -1;
    }
    /* w, h <= 16384 and channels <= 3, so this is at most 805306368 bytes. */
    size = (size_t)w * (size_t)h * (size_t)img->channels;
    img->pixels = malloc(size);
    if (!img->pixels) {
        fprintf(stderr, "resize: %s: out of memory (%lu bytes)\n", path, (unsigned long)size);
        fclose(f);
        return -1;
    }
    if (fread(img->pixels, 1, size, f) != size) {
        fprintf(stderr, "resize: %s: truncated pixel data\n", path);
        free(img->pixels);
        img->pixels = NULL;
        fclose(f);
        return -1;
    }
    fclose(f);
    img->width = (int)w;
    img->height = (int)h;
    return 0;
}

static int write_pnm(const char *path, const Pnm *img)
{
    size_t size = (size_t)img->width * (size_t)img->height * (size_t)img->channels;
    FILE *f = fopen(path, "wb");
    int ok;

    if (!f) {
        fprintf(stderr, "resize: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    ok = fprintf(f, "P%c\n%d %d\n255\n", img->channels == 3 ? '6' : '5', img->width,
                 img->height) > 0;
    ok = ok && fwrite(img->pixels, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        fprintf(stderr, "resize: error writing %s\n", path);
        return -1;
    }
    return 0;
}

/* Parses a decimal int in [1, NIC_MAX_DIMENSION]; the whole string must be used. */
static int parse_dimension(const char *s, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > NIC_MAX_DIMENSION)
        return -1;
    *out = (int)v;
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: resize IN.ppm OUT.ppm WIDTH HEIGHT [bicubic|lanczos]\n"
            "  IN is a binary PPM (P6) or PGM (P5) with maxval 255; OUT has the same type.\n"
            "  WIDTH and HEIGHT are 1..%d.\n",
            NIC_MAX_DIMENSION);
}

int main(int argc, char **argv)
{
    Pnm in, out;
    NicConfig cfg;
    NicContext *ctx = NULL;
    NicImage src, dst;
    NicResizeMethod method = NIC_RESIZE_BICUBIC;
    NicStatus st;
    int width, height;
    int ret = 1;

    if (argc < 5 || argc > 6) {
        usage();
        return 2;
    }
    if (parse_dimension(argv[3], &width) != 0 || parse_dimension(argv[4], &height) != 0) {
        fprintf(stderr, "resize: WIDTH and HEIGHT must be integers in 1..%d\n", NIC_MAX_DIMENSION);
        return 2;
    }
    if (argc == 6) {
        if (strcmp(argv[5], "bicubic") == 0) {
            method = NIC_RESIZE_BICUBIC;
        } else if (strcmp(argv[5], "lanczos") == 0) {
            method = NIC_RESIZE_LANCZOS;
        } else {
            fprintf(stderr, "resize: unknown method '%s'\n", argv[5]);
            usage();
            return 2;
        }
    }

    /* The run-time library must match this header: same major (for 0.x also the same minor). */
    if ((nic_version_number() >> 16) != NIC_VERSION_MAJOR ||
        (NIC_VERSION_MAJOR == 0 && ((nic_version_number() >> 8) & 0xFF) != NIC_VERSION_MINOR)) {
        fprintf(stderr, "resize: libnic %s is not compatible with nic.h %d.%d.%d\n", nic_version(),
                NIC_VERSION_MAJOR, NIC_VERSION_MINOR, NIC_VERSION_PATCH);
        return 1;
    }

    if (read_pnm(argv[1], &in) != 0)
        return 1;

    out.width = width;
    out.height = height;
    out.channels = in.channels;
    out.pixels = malloc((size_t)width * (size_t)height * (size_t)in.channels);
    if (!out.pixels) {
        fprintf(stderr, "resize: out of memory\n");
        goto done;
    }

    nic_config_init(&cfg);
    cfg.threads = 0; /* one per CPU core */
    st = nic_context_create(&cfg, &ctx);
    if (st != NIC_OK) {
        fprintf(stderr, "resize: nic_context_create: %s (%s)\n", nic_status_string(st),
                nic_last_error(NULL));
        goto done;
    }

    nic_image_init(&src);
    src.format = in.channels == 3 ? NIC_PIXEL_FORMAT_RGB24 : NIC_PIXEL_FORMAT_GRAY8;
    src.width = in.width;
    src.height = in.height;
    src.planes[0] = in.pixels;
    src.strides[0] = (ptrdiff_t)in.width * in.channels;

    nic_image_init(&dst);
    dst.format = src.format;
    dst.width = out.width;
    dst.height = out.height;
    dst.planes[0] = out.pixels;
    dst.strides[0] = (ptrdiff_t)out.width * out.channels;

    st = nic_resize(ctx, &src, &dst, method);
    if (st != NIC_OK) {
        fprintf(stderr, "resize: nic_resize: %s: %s\n", nic_status_string(st), nic_last_error(ctx));
        goto done;
    }

    if (write_pnm(argv[2], &out) != 0)
        goto done;
    ret = 0;

done:
    nic_context_destroy(ctx);
    free(in.pixels);
    free(out.pixels);
    return ret;
}
