/* Internal interface between image.c (load/save dispatch) and the PNG and JPEG codecs (the image
 * type and image_check_pixels, which the decoders call first, are in core/image.h). */
#ifndef IMPASTO_IO_CODEC_H
#define IMPASTO_IO_CODEC_H

#include "core/image.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Decoders: `buf` (n bytes) is the whole file; *out is a new image on success. */
impasto_status image_png_decode(impasto_ctx *ctx, const char *name, const unsigned char *buf,
                                size_t n, impasto_image **out);
impasto_status image_jpeg_decode(impasto_ctx *ctx, const char *name, const unsigned char *buf,
                                 size_t n, impasto_image **out);

/* Encoders write the whole file to `fp`; `name` is only for messages. A write failure is
 * IMPASTO_ERR_IO; the caller owns `fp` and removes the partial file. */
impasto_status image_png_encode(impasto_ctx *ctx, const impasto_image *img, const char *name,
                                FILE *fp);
impasto_status image_jpeg_encode(impasto_ctx *ctx, const impasto_image *img, const char *name,
                                 FILE *fp, int quality);

/* A growing malloc'd buffer that an encoder writes a whole file into (impasto_image_save_memory):
 * `len` bytes written, room for `cap`. Starts as all zero; the owner frees `data`. */
typedef struct image_membuf {
    unsigned char *data;
    size_t len, cap;
} image_membuf;

/* Makes room for at least `extra` more bytes after `len`, growing the capacity geometrically so
 * appending costs amortised constant time. Returns 0, the buffer unchanged, when out of memory. */
int image_membuf_reserve(image_membuf *m, size_t extra);

/* The encoders above, appending the file to `mem` instead of writing it to a FILE. Running out of
 * memory is IMPASTO_ERR_NOMEM; after a failure `mem` may hold part of a file (the caller frees
 * it). */
impasto_status image_png_encode_mem(impasto_ctx *ctx, const impasto_image *img, const char *name,
                                    image_membuf *mem);
impasto_status image_jpeg_encode_mem(impasto_ctx *ctx, const impasto_image *img, const char *name,
                                     image_membuf *mem, int quality);

/* JPEG's limit on either side (libjpeg's JPEG_MAX_DIMENSION). */
#define IMAGE_JPEG_MAX_SIDE 65500

/* The EXIF orientation (TIFF tag 0x0112, 1..8) from the payload of a JPEG APP1 segment
 * ("Exif\0\0" + TIFF header + IFD0); 1 when absent, malformed or out of range. */
int image_exif_orientation(const unsigned char *app1, size_t len);

/* Size of the upright picture for a stored w x h picture: 5..8 swap the sides. */
void image_orient_size(int orientation, int w, int h, int *ow, int *oh);

/* Where stored row `sy` of a w x h picture lands in the upright picture: stored pixel (sx, sy)
 * goes to upright pixel index first + sx * step (pixel units, row-major upright picture). */
void image_orient_row(int orientation, int w, int h, int sy, size_t *first, ptrdiff_t *step);

/* 0..1 float to 8 bits: clamped, rounded to nearest, NaN to 0. */
static inline unsigned char image_to_u8(float v) {
    if (!(v > 0.0f)) return 0;
    if (v >= 1.0f) return 255;
    return (unsigned char)(v * 255.0f + 0.5f);
}

#endif
