/* PNG through libpng (spec: https://www.w3.org/TR/png/). Decoding accepts every colour type and
 * bit depth and expands palette and tRNS to RGB(A)/GA; encoding writes 8-bit gray, GA, RGB or RGBA.
 *
 * libpng reports errors by longjmp from its error callback. setjmp sits in a small *_run function
 * whose state lives in a struct owned by its caller, so nothing the run function changes is a
 * local of the function that called setjmp (C11 7.13.2.1p3 would make such locals
 * indeterminate). */
#include "io/codec.h"
#include "core/ctx.h"

#include <errno.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

typedef struct pngio_dec {
    impasto_ctx *ctx;
    const char *name;
    const unsigned char *buf; /* the whole file, n bytes, read from pos */
    size_t n, pos;
    int truncated; /* the read callback ran out of bytes */
    char msg[200]; /* libpng's error message */
    png_structp png;
    png_infop info;
    unsigned char *rows; /* raw decoded bytes: one row, or (H, rowbytes) when interlaced */
    png_bytep *rowp;     /* (H) pointers into rows, interlaced only */
    impasto_image *img;
} pngio_dec;

static void pngio_on_error(png_structp png, png_const_charp msg) {
    pngio_dec *d = png_get_error_ptr(png);
    snprintf(d->msg, sizeof d->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* Warnings (bad ancillary chunk CRCs, odd ICC profiles) do not affect the pixels. */
static void pngio_on_warning(png_structp png, png_const_charp msg) {}

static void pngio_read_cb(png_structp png, png_bytep out, size_t len) {
    pngio_dec *d = png_get_io_ptr(png);
    if (d->n - d->pos < len) {
        d->truncated = 1;
        png_error(png, "unexpected end of file");
    }
    memcpy(out, d->buf + d->pos, len);
    d->pos += len;
}

/* Raw row (W*C samples of `depth` bits, big-endian when 16) to floats 0..1; dividing (rather
 * than multiplying by 1/255) makes sample k exactly k/255.0f, so 8-bit round trips are exact. */
static void pngio_row_to_float(const unsigned char *row, float *out, size_t nsamples, int depth) {
    if (depth == 16) {
        for (size_t i = 0; i < nsamples; i++)
            out[i] = (float)((row[2 * i] << 8) | row[2 * i + 1]) / 65535.0f;
    } else {
        for (size_t i = 0; i < nsamples; i++) out[i] = (float)row[i] / 255.0f;
    }
}

static impasto_status pngio_dec_run(pngio_dec *d) {
    if (setjmp(png_jmpbuf(d->png))) {
        if (d->truncated)
            return ctx_fail(d->ctx, IMPASTO_ERR_FORMAT, "%s is truncated (the PNG data ends early)",
                            d->name);
        return ctx_fail(d->ctx, IMPASTO_ERR_FORMAT, "%s is not a valid PNG: %s", d->name, d->msg);
    }
    png_structp png = d->png;
    png_infop info = d->info;
    png_set_read_fn(png, d, pngio_read_cb);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* Fuzz builds only (`make fuzz`): chunk CRCs are not checked, so mutated bytes reach the
     * decoder instead of being refused at the first CRC. */
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#endif
    /* Our own pixel limit applies instead (checked below with a clearer message). */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);

    png_uint_32 w, h;
    int depth, ctype;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, NULL, NULL, NULL);
    impasto_status s = image_check_pixels(d->ctx, d->name, w, h);
    if (s != IMPASTO_OK) return s;

    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    depth = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    size_t nsamples = (size_t)w * (size_t)channels;
    if (channels < 1 || channels > 4 || (depth != 8 && depth != 16) ||
        rowbytes != nsamples * (size_t)(depth / 8))
        return ctx_fail(d->ctx, IMPASTO_ERR_UNSUPPORTED,
                        "%s: unsupported PNG layout (%d channels, %d bits)", d->name, channels,
                        depth);
    s = image_alloc(d->ctx, (int)w, (int)h, channels, &d->img);
    if (s != IMPASTO_OK) return s;

    if (passes == 1) {
        /* Row by row: only one raw row is ever held. */
        d->rows = malloc(rowbytes);
        if (!d->rows)
            return ctx_fail(d->ctx, IMPASTO_ERR_NOMEM, "out of memory decoding %s", d->name);
        for (png_uint_32 y = 0; y < h; y++) {
            png_read_row(png, d->rows, NULL);
            pngio_row_to_float(d->rows, d->img->data + (size_t)y * nsamples, nsamples, depth);
        }
    } else {
        /* Adam7 passes fill rows out of order, so the raw picture is held whole. */
        size_t total;
        if (!size_mul(rowbytes, h, &total) || !(d->rows = malloc(total)) ||
            !(d->rowp = malloc((size_t)h * sizeof *d->rowp)))
            return ctx_fail(d->ctx, IMPASTO_ERR_NOMEM, "out of memory decoding %s", d->name);
        for (png_uint_32 y = 0; y < h; y++) d->rowp[y] = d->rows + (size_t)y * rowbytes;
        png_read_image(png, d->rowp);
        for (png_uint_32 y = 0; y < h; y++)
            pngio_row_to_float(d->rowp[y], d->img->data + (size_t)y * nsamples, nsamples, depth);
    }
    /* Reads through IEND, so a file cut after its last IDAT is still reported as truncated. */
    png_read_end(png, NULL);
    return IMPASTO_OK;
}

/* The size in the IHDR chunk, read before libpng so an absurd size is refused up front. */
static impasto_status pngio_precheck(impasto_ctx *ctx, const char *name, const unsigned char *buf,
                                     size_t n) {
    if (n < 8 + 8 + 13)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s is truncated (the PNG data ends early)", name);
    if (memcmp(buf + 12, "IHDR", 4) != 0)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT,
                        "%s is not a valid PNG: IHDR is not the first chunk", name);
    uint64_t w = png_get_uint_32(buf + 16), h = png_get_uint_32(buf + 20);
    return image_check_pixels(ctx, name, w, h);
}

impasto_status image_png_decode(impasto_ctx *ctx, const char *name, const unsigned char *buf,
                                size_t n, impasto_image **out) {
    *out = NULL;
    impasto_status s = pngio_precheck(ctx, name, buf, n);
    if (s != IMPASTO_OK) return s;
    pngio_dec d = {.ctx = ctx, .name = name, .buf = buf, .n = n};
    d.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &d, pngio_on_error, pngio_on_warning);
    if (d.png) d.info = png_create_info_struct(d.png);
    if (!d.png || !d.info) {
        png_destroy_read_struct(d.png ? &d.png : NULL, NULL, NULL);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory decoding %s", name);
    }
    s = pngio_dec_run(&d);
    png_destroy_read_struct(&d.png, &d.info, NULL);
    free(d.rows);
    free(d.rowp);
    if (s != IMPASTO_OK) {
        impasto_image_free(d.img);
        return s;
    }
    *out = d.img;
    return IMPASTO_OK;
}

typedef struct pngio_enc {
    FILE *fp;        /* the file goes here, or into mem when fp is NULL */
    image_membuf *mem;
    int write_errno; /* non-zero once a write to fp failed */
    int nomem;       /* mem could not grow */
    char msg[200];   /* libpng's error message */
    png_structp png;
    png_infop info;
    unsigned char *row; /* one 8-bit row (W*C) */
} pngio_enc;

static void pngio_enc_on_error(png_structp png, png_const_charp msg) {
    pngio_enc *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void pngio_write_cb(png_structp png, png_bytep data, size_t len) {
    pngio_enc *e = png_get_io_ptr(png);
    if (!e->fp) {
        if (!image_membuf_reserve(e->mem, len)) {
            e->nomem = 1;
            png_error(png, "out of memory");
        }
        memcpy(e->mem->data + e->mem->len, data, len);
        e->mem->len += len;
        return;
    }
    if (fwrite(data, 1, len, e->fp) != len) {
        e->write_errno = errno ? errno : EIO;
        png_error(png, "write failed");
    }
}

/* atomic_commit flushes and fsyncs once at the end. */
static void pngio_flush_cb(png_structp png) {}

static int pngio_enc_run(pngio_enc *e, const impasto_image *img) {
    if (setjmp(png_jmpbuf(e->png))) return 0;
    static const int ctypes[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                  PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    png_set_write_fn(e->png, e, pngio_write_cb, pngio_flush_cb);
    /* zlib level 3 rather than 6: on a 12-megapixel picture about a quarter of the time for a
     * file under 10% larger (measured with libpng 1.6 / zlib 1.2). */
    png_set_compression_level(e->png, 3);
    png_set_IHDR(e->png, e->info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
                 ctypes[img->channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(e->png, e->info);
    size_t nsamples = (size_t)img->width * (size_t)img->channels;
    for (int y = 0; y < img->height; y++) {
        const float *src = img->data + (size_t)y * nsamples;
        for (size_t i = 0; i < nsamples; i++) e->row[i] = image_to_u8(src[i]);
        png_write_row(e->png, e->row);
    }
    png_write_end(e->png, NULL);
    return 1;
}

/* Encodes to fp, or to mem when fp is NULL. */
static impasto_status pngio_encode(impasto_ctx *ctx, const impasto_image *img, const char *name,
                                   FILE *fp, image_membuf *mem) {
    pngio_enc e = {.fp = fp, .mem = mem};
    e.row = malloc((size_t)img->width * (size_t)img->channels);
    e.png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, &e, pngio_enc_on_error, pngio_on_warning);
    if (e.png) e.info = png_create_info_struct(e.png);
    if (!e.row || !e.png || !e.info) {
        png_destroy_write_struct(e.png ? &e.png : NULL, NULL);
        free(e.row);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory writing %s", name);
    }
    int ok = pngio_enc_run(&e, img);
    png_destroy_write_struct(&e.png, &e.info);
    free(e.row);
    if (ok) return IMPASTO_OK;
    if (e.nomem) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory writing %s", name);
    if (e.write_errno)
        return ctx_fail(ctx, IMPASTO_ERR_IO, "cannot write %s: %s", name, strerror(e.write_errno));
    return ctx_fail(ctx, IMPASTO_ERR_IO, "cannot write %s: %s", name, e.msg);
}

impasto_status image_png_encode(impasto_ctx *ctx, const impasto_image *img, const char *name,
                                FILE *fp) {
    return pngio_encode(ctx, img, name, fp, NULL);
}

impasto_status image_png_encode_mem(impasto_ctx *ctx, const impasto_image *img, const char *name,
                                    image_membuf *mem) {
    return pngio_encode(ctx, img, name, NULL, mem);
}
