/* JPEG through libjpeg(-turbo) (ITU-T T.81 / JFIF). Decoding gives gray or RGB (CMYK/YCCK are
 * converted to RGB) upright per the EXIF orientation; encoding writes gray or RGB, compositing any
 * alpha over white because JPEG has no transparency.
 *
 * libjpeg's default error handler prints and ends the process; ours formats the message and longjmps
 * back (setjmp lives in the *_run functions; their state is in a struct owned by the caller, see
 * png.c). Warnings that mean pixels were lost (truncation, corrupt entropy data) are errors
 * too: libjpeg would otherwise fill the rest with gray and return a damaged picture as if it
 * were fine. */
#include "io/codec.h"
#include "core/ctx.h"
#include "core/limits.h"

#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct jio_err {
    struct jpeg_error_mgr pub; /* first, so cinfo->err can be cast back */
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
    int sys_errno; /* errno when the error was raised (write failures) */
    int damaged;   /* a warning that means lost pixels was seen; msg holds it */
    int eof;       /* the data ended before the image did */
} jio_err;

static void jio_error_exit(j_common_ptr cinfo) {
    jio_err *e = (jio_err *)cinfo->err;
    e->sys_errno = errno;
    if (!e->damaged) cinfo->err->format_message(cinfo, e->msg);
    longjmp(e->jmp, 1);
}

/* Called for warnings (level -1) and trace messages (level >= 0); never prints. */
static void jio_emit_message(j_common_ptr cinfo, int level) {
    jio_err *e = (jio_err *)cinfo->err;
    if (level >= 0) return;
    cinfo->err->num_warnings++;
    switch (cinfo->err->msg_code) {
    /* Harmless: the pixels are all there. */
    case JWRN_EXTRANEOUS_DATA:
    case JWRN_JFIF_MAJOR:
    case JWRN_ADOBE_XFORM:
    case JWRN_BOGUS_PROGRESSION:
    case JWRN_BOGUS_ICC: return;
    default: break;
    }
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) e->eof = 1;
    if (!e->damaged) {
        cinfo->err->format_message(cinfo, e->msg);
        e->damaged = 1;
    }
}

static void jio_output_message(j_common_ptr cinfo) {}

static void jio_init_err(jio_err *e) {
    jpeg_std_error(&e->pub);
    e->pub.error_exit = jio_error_exit;
    e->pub.emit_message = jio_emit_message;
    e->pub.output_message = jio_output_message;
}

static void jio_progress(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    if (((j_decompress_ptr)cinfo)->input_scan_number > IMAGE_JPEG_MAX_SCANS) {
        jio_err *e = (jio_err *)cinfo->err;
        snprintf(e->msg, sizeof e->msg, "more than %d scans", IMAGE_JPEG_MAX_SCANS);
        e->damaged = 0;
        longjmp(e->jmp, 1);
    }
}

typedef struct jio_dec {
    impasto_ctx *ctx;
    const char *name;
    const unsigned char *buf;
    size_t n;
    struct jpeg_decompress_struct cinfo;
    jio_err err;
    struct jpeg_progress_mgr progress;
    JSAMPLE *row; /* one decoded row (output_width * output_components) */
    impasto_image *img;
} jio_dec;

static impasto_status jio_dec_fail(jio_dec *d) {
    if (d->err.eof)
        return ctx_fail(d->ctx, IMPASTO_ERR_FORMAT, "%s is truncated (the JPEG data ends early)",
                        d->name);
    return ctx_fail(d->ctx, IMPASTO_ERR_FORMAT, "%s is not a valid JPEG: %s", d->name,
                    d->err.msg[0] ? d->err.msg : "corrupt data");
}

/* The orientation from the first EXIF APP1 segment, 1 if none. */
static int jio_orientation(j_decompress_ptr cinfo) {
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
            memcmp(m->data, "Exif\0\0", 6) == 0)
            return image_exif_orientation(m->data, m->data_length);
    return 1;
}

static impasto_status jio_dec_run(jio_dec *d) {
    j_decompress_ptr cinfo = &d->cinfo;
    if (setjmp(d->err.jmp)) return jio_dec_fail(d);
    jpeg_create_decompress(cinfo);
    d->progress.progress_monitor = jio_progress;
    cinfo->progress = &d->progress;
    jpeg_mem_src(cinfo, d->buf, (unsigned long)d->n);
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(cinfo, TRUE);
    if (d->err.damaged) return jio_dec_fail(d);
    impasto_status s = image_check_pixels(d->ctx, d->name, cinfo->image_width, cinfo->image_height);
    if (s != IMPASTO_OK) return s;

    int channels, cmyk = 0;
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo->out_color_space = JCS_GRAYSCALE;
        channels = 1;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo->out_color_space = JCS_RGB;
        channels = 3;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo->out_color_space = JCS_CMYK;
        channels = 3;
        cmyk = 1;
        break;
    default:
        return ctx_fail(d->ctx, IMPASTO_ERR_UNSUPPORTED,
                        "%s: unsupported JPEG colour space (%d components)", d->name,
                        cinfo->num_components);
    }
    int orientation = jio_orientation(cinfo);
    /* Adobe's writers store CMYK inverted (0 = full ink) and mark the file with an APP14
     * segment; without the marker assume plain CMYK (0 = no ink). */
    int inverted = cmyk && cinfo->saw_Adobe_marker;
    jpeg_start_decompress(cinfo);
    int w = (int)cinfo->output_width, h = (int)cinfo->output_height;
    int in_ch = cinfo->output_components;
    if (in_ch != (cmyk ? 4 : channels))
        return ctx_fail(d->ctx, IMPASTO_ERR_UNSUPPORTED,
                        "%s: unexpected JPEG output with %d components", d->name, in_ch);
    int ow, oh;
    image_orient_size(orientation, w, h, &ow, &oh);
    s = image_alloc(d->ctx, ow, oh, channels, &d->img);
    if (s != IMPASTO_OK) return s;
    d->row = malloc((size_t)w * (size_t)in_ch);
    if (!d->row) return ctx_fail(d->ctx, IMPASTO_ERR_NOMEM, "out of memory decoding %s", d->name);

    const float k255 = 1.0f / 255.0f;
    while (cinfo->output_scanline < cinfo->output_height) {
        int sy = (int)cinfo->output_scanline;
        JSAMPROW rows[1] = {d->row};
        if (jpeg_read_scanlines(cinfo, rows, 1) != 1 || d->err.damaged) return jio_dec_fail(d);
        size_t first;
        ptrdiff_t step;
        image_orient_row(orientation, w, h, sy, &first, &step);
        ptrdiff_t pos = (ptrdiff_t)first;
        const JSAMPLE *p = d->row;
        for (int sx = 0; sx < w; sx++, pos += step, p += in_ch) {
            float *dst = d->img->data + (size_t)pos * (size_t)channels;
            if (!cmyk) {
                for (int c = 0; c < channels; c++) dst[c] = p[c] / 255.0f; /* exactly k/255 */
                continue;
            }
            /* Naive CMYK -> RGB without a profile: R = (1 - C)(1 - K), etc. */
            float k = inverted ? p[3] * k255 : 1.0f - p[3] * k255;
            for (int c = 0; c < 3; c++) dst[c] = (inverted ? p[c] * k255 : 1.0f - p[c] * k255) * k;
        }
    }
    /* Reads up to EOI: a file cut after its last scan is still truncated. */
    jpeg_finish_decompress(cinfo);
    if (d->err.damaged) return jio_dec_fail(d);
    return IMPASTO_OK;
}

impasto_status image_jpeg_decode(impasto_ctx *ctx, const char *name, const unsigned char *buf,
                                 size_t n, impasto_image **out) {
    *out = NULL;
    jio_dec *d = calloc(1, sizeof *d);
    if (!d) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory decoding %s", name);
    d->ctx = ctx;
    d->name = name;
    d->buf = buf;
    d->n = n;
    jio_init_err(&d->err);
    d->cinfo.err = &d->err.pub;
    impasto_status s = jio_dec_run(d);
    jpeg_destroy_decompress(&d->cinfo);
    free(d->row);
    if (s == IMPASTO_OK)
        *out = d->img;
    else
        impasto_image_free(d->img);
    free(d);
    return s;
}

/* A libjpeg destination appending to an image_membuf. libjpeg's own jpeg_mem_dest is not used:
 * when an error longjmps out of it midway, the buffer it grew is lost (leaked), while here the
 * buffer always belongs to the caller. */
typedef struct jio_memdest {
    struct jpeg_destination_mgr pub; /* first, so cinfo->dest can be cast back */
    image_membuf *mem;
} jio_memdest;

/* Hands libjpeg the free space after mem->len, at least `extra` bytes of it. */
static void jio_mem_give(j_compress_ptr cinfo, size_t extra) {
    jio_memdest *d = (jio_memdest *)cinfo->dest;
    if (!image_membuf_reserve(d->mem, extra)) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
    d->pub.next_output_byte = d->mem->data + d->mem->len;
    d->pub.free_in_buffer = d->mem->cap - d->mem->len;
}

static void jio_mem_init(j_compress_ptr cinfo) { jio_mem_give(cinfo, 4096); }

/* libjpeg calls this when the space it was given is full, all of it written. */
static boolean jio_mem_empty(j_compress_ptr cinfo) {
    jio_memdest *d = (jio_memdest *)cinfo->dest;
    d->mem->len = d->mem->cap;
    jio_mem_give(cinfo, d->mem->cap);
    return TRUE;
}

static void jio_mem_term(j_compress_ptr cinfo) {
    jio_memdest *d = (jio_memdest *)cinfo->dest;
    d->mem->len = d->mem->cap - d->pub.free_in_buffer;
}

typedef struct jio_enc {
    struct jpeg_compress_struct cinfo;
    jio_err err;
    jio_memdest memdest; /* the destination when writing to memory */
    JSAMPLE *row; /* one row to encode (W * 1 or 3) */
} jio_enc;

/* Encodes to fp, or to mem when fp is NULL. */
static int jio_enc_run(jio_enc *e, const impasto_image *img, FILE *fp, image_membuf *mem,
                       int quality) {
    j_compress_ptr cinfo = &e->cinfo;
    if (setjmp(e->err.jmp)) return 0;
    jpeg_create_compress(cinfo);
    if (fp) {
        jpeg_stdio_dest(cinfo, fp);
    } else {
        e->memdest.pub.init_destination = jio_mem_init;
        e->memdest.pub.empty_output_buffer = jio_mem_empty;
        e->memdest.pub.term_destination = jio_mem_term;
        e->memdest.mem = mem;
        cinfo->dest = &e->memdest.pub;
    }
    int ch = img->channels;
    int gray = ch <= 2, alpha = ch == 2 || ch == 4;
    cinfo->image_width = (JDIMENSION)img->width;
    cinfo->image_height = (JDIMENSION)img->height;
    cinfo->input_components = gray ? 1 : 3;
    cinfo->in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(cinfo);
    jpeg_set_quality(cinfo, quality, TRUE);
    /* Huffman tables fitted to the image: smaller files, identical pixels. */
    cinfo->optimize_coding = TRUE;
    /* At high quality keep full-resolution chroma (4:4:4): stylised images are full of fine
     * coloured strokes that 4:2:0 visibly smears. */
    if (!gray && quality >= 90)
        cinfo->comp_info[0].h_samp_factor = cinfo->comp_info[0].v_samp_factor = 1;
    jpeg_start_compress(cinfo, TRUE);
    int out_ch = cinfo->input_components;
    for (int y = 0; y < img->height; y++) {
        const float *src = img->data + (size_t)y * (size_t)img->width * (size_t)ch;
        for (int x = 0; x < img->width; x++, src += ch) {
            /* Alpha is composited over white: c' = c a + (1 - a). */
            float a = alpha ? src[ch - 1] : 1.0f;
            a = a > 0.0f ? (a < 1.0f ? a : 1.0f) : 0.0f;
            for (int c = 0; c < out_ch; c++)
                e->row[(size_t)x * out_ch + c] =
                    image_to_u8(alpha ? src[c] * a + (1.0f - a) : src[c]);
        }
        JSAMPROW rows[1] = {e->row};
        jpeg_write_scanlines(cinfo, rows, 1);
    }
    jpeg_finish_compress(cinfo);
    return 1;
}

/* Encodes to fp, or to mem when fp is NULL. */
static impasto_status jio_encode(impasto_ctx *ctx, const impasto_image *img, const char *name,
                                 FILE *fp, image_membuf *mem, int quality) {
    jio_enc *e = calloc(1, sizeof *e);
    if (e) e->row = malloc((size_t)img->width * 3);
    if (!e || !e->row) {
        free(e);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory writing %s", name);
    }
    jio_init_err(&e->err);
    e->cinfo.err = &e->err.pub;
    int ok = jio_enc_run(e, img, fp, mem, quality);
    impasto_status s = IMPASTO_OK;
    if (!ok && e->err.pub.msg_code == JERR_OUT_OF_MEMORY)
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory writing %s", name);
    else if (!ok && e->err.pub.msg_code == JERR_FILE_WRITE)
        s = ctx_fail(ctx, IMPASTO_ERR_IO, "cannot write %s: %s", name,
                     strerror(e->err.sys_errno ? e->err.sys_errno : EIO));
    else if (!ok)
        s = ctx_fail(ctx, IMPASTO_ERR_IO, "cannot write %s: %s", name, e->err.msg);
    jpeg_destroy_compress(&e->cinfo);
    free(e->row);
    free(e);
    return s;
}

impasto_status image_jpeg_encode(impasto_ctx *ctx, const impasto_image *img, const char *name,
                                 FILE *fp, int quality) {
    return jio_encode(ctx, img, name, fp, NULL, quality);
}

impasto_status image_jpeg_encode_mem(impasto_ctx *ctx, const impasto_image *img, const char *name,
                                     image_membuf *mem, int quality) {
    return jio_encode(ctx, img, name, NULL, mem, quality);
}
