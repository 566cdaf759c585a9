/* impasto_image: allocation, accessors, and loading/saving dispatched to the PNG and JPEG
 * codecs. */
#include "io/codec.h"
#include "core/ctx.h"
#include "core/fileio.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Room for metadata (ICC profiles, EXIF thumbnails, text chunks) on top of the pixel data when
 * bounding the size of a file we are willing to read into memory. */
#define IMAGE_FILE_SLACK ((size_t)64 << 20)

impasto_status image_alloc(impasto_ctx *ctx, int width, int height, int channels,
                           impasto_image **out) {
    *out = NULL;
    if (width <= 0 || height <= 0 || channels < 1 || channels > 4)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "invalid image size %dx%d with %d channels",
                        width, height, channels);
    size_t pixels, nfloat, nbytes;
    if (!size_mul((size_t)width, (size_t)height, &pixels) || pixels > ctx->max_pixels)
        return ctx_fail(
            ctx, IMPASTO_ERR_TOO_LARGE,
            "an image of %dx%d pixels is over the limit of %zu (impasto_ctx_set_max_pixels)", width,
            height, ctx->max_pixels);
    if (!size_mul(pixels, (size_t)channels, &nfloat) || !size_mul(nfloat, sizeof(float), &nbytes))
        return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "an image of %dx%d pixels is too large", width,
                        height);
    impasto_image *img = malloc(sizeof *img);
    float *data = calloc(nfloat, sizeof(float));
    if (!img || !data) {
        free(img);
        free(data);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for a %dx%d image", width, height);
    }
    img->width = width;
    img->height = height;
    img->channels = channels;
    img->data = data;
    *out = img;
    return IMPASTO_OK;
}

impasto_status image_check_pixels(impasto_ctx *ctx, const char *name, uint64_t width,
                                  uint64_t height) {
    if (width == 0 || height == 0)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s has an empty size (%llux%llu pixels)", name,
                        (unsigned long long)width, (unsigned long long)height);
    /* Both sides are below 2^32 in PNG and JPEG headers, so the product fits in 64 bits. */
    if (width > INT_MAX || height > INT_MAX || width * height > (uint64_t)ctx->max_pixels)
        return ctx_fail(
            ctx, IMPASTO_ERR_TOO_LARGE,
            "%s is %llux%llu pixels, over the limit of %zu (impasto_ctx_set_max_pixels)", name,
            (unsigned long long)width, (unsigned long long)height, ctx->max_pixels);
    return IMPASTO_OK;
}

impasto_status impasto_image_create(impasto_ctx *ctx, int width, int height, int channels,
                                    impasto_image **out) {
    if (!ctx || !out)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_image_create: NULL argument");
    return image_alloc(ctx, width, height, channels, out);
}

void impasto_image_free(impasto_image *img) {
    if (!img) return;
    free(img->data);
    free(img);
}

int impasto_image_width(const impasto_image *img) { return img ? img->width : 0; }
int impasto_image_height(const impasto_image *img) { return img ? img->height : 0; }
int impasto_image_channels(const impasto_image *img) { return img ? img->channels : 0; }
float *impasto_image_data(impasto_image *img) { return img ? img->data : NULL; }
const float *impasto_image_cdata(const impasto_image *img) { return img ? img->data : NULL; }

static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

impasto_status impasto_image_load(impasto_ctx *ctx, const char *path, impasto_image **out) {
    if (out) *out = NULL;
    if (!ctx || !path || !out)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_image_load: NULL argument");
    /* A PNG or JPEG is at most about as large as its raw 16-bit RGBA pixels (stored deflate
     * blocks, quality-100 JPEG), so a bigger file cannot be within the pixel limit. */
    size_t max_bytes;
    if (!size_mul(ctx->max_pixels, 8, &max_bytes) || max_bytes > SIZE_MAX - IMAGE_FILE_SLACK)
        max_bytes = SIZE_MAX - IMAGE_FILE_SLACK;
    max_bytes += IMAGE_FILE_SLACK;
    unsigned char *buf;
    size_t n;
    impasto_status s = file_read_all(ctx, path, max_bytes, &buf, &n);
    if (s == IMPASTO_ERR_TOO_LARGE)
        return ctx_fail(ctx, s,
                        "%s is too big a file for an image within the limit of %zu pixels "
                        "(impasto_ctx_set_max_pixels)",
                        path, ctx->max_pixels);
    if (s != IMPASTO_OK) return s;
    if (n >= sizeof png_magic && memcmp(buf, png_magic, sizeof png_magic) == 0)
        s = image_png_decode(ctx, path, buf, n, out);
    else if (n >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
        s = image_jpeg_decode(ctx, path, buf, n, out);
    else if (n == 0)
        s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s is empty, not a PNG or JPEG image", path);
    else
        s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s is not a PNG or JPEG image", path);
    free(buf);
    return s;
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

impasto_status impasto_image_save(impasto_ctx *ctx, const impasto_image *img, const char *path,
                                  int quality) {
    if (!ctx || !img || !path)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_image_save: NULL argument");
    if (!img->data || img->width <= 0 || img->height <= 0 || img->channels < 1 || img->channels > 4)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG,
                        "cannot save %s: invalid image (%dx%d, %d channels)", path, img->width,
                        img->height, img->channels);
    int format = image_format_of(path);
    if (format == 0)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG,
                        "cannot tell the format for %s from its name (use .png, .jpg or .jpeg)",
                        path);
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
    atomic_file af;
    impasto_status s = atomic_open(ctx, path, &af);
    if (s != IMPASTO_OK) return s;
    s = format == 1 ? image_png_encode(ctx, img, path, af.fp)
                    : image_jpeg_encode(ctx, img, path, af.fp, quality ? quality : 95);
    if (s != IMPASTO_OK) {
        atomic_abort(&af);
        return s;
    }
    return atomic_commit(ctx, &af);
}
