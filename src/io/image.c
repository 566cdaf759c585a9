/* Loading and saving impasto_image files, dispatched to the PNG and JPEG codecs by the file's
 * first bytes (loading) or its name or a format name (saving), from and to files or memory. The
 * image type itself is in src/core/image.c. */
#include "io/codec.h"
#include "core/ctx.h"
#include "core/fileio.h"
#include "core/limits.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* The largest PNG or JPEG file that can hold a picture within the context's pixel limit. */
static size_t image_max_file_bytes(const impasto_ctx *ctx) {
    /* A PNG or JPEG is at most about as large as its raw 16-bit RGBA pixels (stored deflate
     * blocks, quality-100 JPEG), so a bigger file cannot be within the pixel limit. */
    size_t max_bytes;
    if (!size_mul(ctx->max_pixels, 8, &max_bytes) || max_bytes > SIZE_MAX - IMAGE_FILE_SLACK)
        max_bytes = SIZE_MAX - IMAGE_FILE_SLACK;
    return max_bytes + IMAGE_FILE_SLACK;
}

/* Decodes a whole file held in memory as PNG or JPEG, told apart by their first bytes; `name`
 * (a path, or a description) is for messages. */
static impasto_status image_decode(impasto_ctx *ctx, const char *name, const unsigned char *buf,
                                   size_t n, impasto_image **out) {
    if (n >= sizeof png_magic && memcmp(buf, png_magic, sizeof png_magic) == 0)
        return image_png_decode(ctx, name, buf, n, out);
    if (n >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
        return image_jpeg_decode(ctx, name, buf, n, out);
    if (n == 0)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s is empty, not a PNG or JPEG image", name);
    return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s is not a PNG or JPEG image", name);
}

impasto_status impasto_image_load(impasto_ctx *ctx, const char *path, impasto_image **out) {
    if (out) *out = NULL;
    if (!ctx || !path || !out)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "loading an image: no file name or no place for the result given");
    unsigned char *buf;
    size_t n;
    impasto_status s = file_read_all(ctx, path, image_max_file_bytes(ctx), &buf, &n);
    if (s == IMPASTO_ERR_TOO_LARGE)
        return ctx_fail(ctx, s,
                        "%s is too big a file for an image within the limit of %zu pixels",
                        path, ctx->max_pixels);
    if (s != IMPASTO_OK) return s;
    s = image_decode(ctx, path, buf, n, out);
    free(buf);
    return s;
}

impasto_status impasto_image_load_memory(impasto_ctx *ctx, const void *data, size_t size,
                                         impasto_image **out) {
    if (out) *out = NULL;
    if (!ctx || !data || !out)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG,
                        "loading an image from memory: no data or no place for the result given");
    /* The limit impasto_image_load puts on a file's size, so both accept the same images. */
    if (size > image_max_file_bytes(ctx))
        return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE,
                        "%zu bytes are too many for an image within the limit of %zu pixels",
                        size, ctx->max_pixels);
    /* Messages name "the in-memory image" where they would name a file. */
    return image_decode(ctx, "the in-memory image", data, size, out);
}

/* 0 unknown, 1 PNG, 2 JPEG, from the name's extension (any letter case). */
static int image_format_of(const char *path) {
    const char *base = strrchr(path, '/');
    const char *dot = strrchr(base ? base : path, '.');
    if (!dot) return 0;
    if (strcasecmp(dot, ".png") == 0) return 1;
    if (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0) return 2;
    return 0;
}

/* What impasto_image_save and impasto_image_save_memory check before encoding `img` in `format`
 * (1 PNG, 2 JPEG); `path` names the destination in messages. */
static impasto_status image_save_check(impasto_ctx *ctx, const impasto_image *img, int format,
                                       int quality, const char *path) {
    if (!img->data || img->width <= 0 || img->height <= 0 || img->channels < 1 || img->channels > 4)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG,
                        "cannot save %s: invalid image (%dx%d, %d channels)", path, img->width,
                        img->height, img->channels);
    if (format == 2) {
        if (quality < 0 || quality > 100)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG,
                            "cannot save %s: JPEG quality %d is not in 1..100 (0 = 95)", path,
                            quality);
        if (img->width > IMAGE_JPEG_MAX_SIDE || img->height > IMAGE_JPEG_MAX_SIDE)
            return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE,
                            "cannot save %s: a JPEG side is at most %d pixels, the image is %dx%d",
                            path, IMAGE_JPEG_MAX_SIDE, img->width, img->height);
    }
    return IMPASTO_OK;
}

impasto_status impasto_image_save(impasto_ctx *ctx, const impasto_image *img, const char *path,
                                  int quality) {
    if (!ctx || !img || !path)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "saving an image: no image or file name given");
    int format = image_format_of(path);
    if (format == 0)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG,
                        "cannot tell the format for %s from its name (use .png, .jpg or .jpeg)",
                        path);
    impasto_status s = image_save_check(ctx, img, format, quality, path);
    if (s != IMPASTO_OK) return s;
    atomic_file af;
    s = atomic_open(ctx, path, &af);
    if (s != IMPASTO_OK) return s;
    s = format == 1 ? image_png_encode(ctx, img, path, af.fp)
                    : image_jpeg_encode(ctx, img, path, af.fp, quality ? quality : 95);
    if (s != IMPASTO_OK) {
        atomic_abort(&af);
        return s;
    }
    return atomic_commit(ctx, &af);
}

int image_membuf_reserve(image_membuf *m, size_t extra) {
    if (m->cap - m->len >= extra) return 1;
    if (extra > SIZE_MAX - m->len) return 0;
    size_t need = m->len + extra, cap = m->cap ? m->cap : 4096;
    while (cap < need) cap = cap <= SIZE_MAX / 2 ? cap * 2 : need;
    unsigned char *p = realloc(m->data, cap);
    if (!p) return 0;
    m->data = p;
    m->cap = cap;
    return 1;
}

impasto_status impasto_image_save_memory(impasto_ctx *ctx, const impasto_image *img,
                                         const char *format, int quality, void **data,
                                         size_t *size) {
    if (data) *data = NULL;
    if (size) *size = 0;
    if (!ctx || !img || !format || !data || !size)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG,
                        "saving an image to memory: no image, format or place for the result given");
    int fmt = 0;
    if (strcasecmp(format, "png") == 0) fmt = 1;
    if (strcasecmp(format, "jpeg") == 0 || strcasecmp(format, "jpg") == 0) fmt = 2;
    if (fmt == 0)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG,
                        "unknown image format \"%s\" (use png, jpeg or jpg)", format);
    const char *name = fmt == 1 ? "the in-memory PNG" : "the in-memory JPEG";
    impasto_status s = image_save_check(ctx, img, fmt, quality, name);
    if (s != IMPASTO_OK) return s;
    image_membuf mem = {0};
    s = fmt == 1 ? image_png_encode_mem(ctx, img, name, &mem)
                 : image_jpeg_encode_mem(ctx, img, name, &mem, quality ? quality : 95);
    if (s != IMPASTO_OK) {
        free(mem.data);
        return s;
    }
    /* The buffer grew by doubling; give back the unused part (up to half) before the caller
     * keeps it. */
    unsigned char *fit = realloc(mem.data, mem.len);
    *data = fit ? fit : mem.data;
    *size = mem.len;
    return IMPASTO_OK;
}
