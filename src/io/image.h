/* The image type behind impasto_image, shared by the decoders, resampling and the methods. */
#ifndef IMPASTO_IO_IMAGE_H
#define IMPASTO_IO_IMAGE_H

#include "impasto.h"

struct impasto_image {
    int width, height, channels;  /* channels 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) */
    float *data;                  /* (H, W, C), 0..1 */
};

/* Allocates an image after checking the context's pixel limit (IMPASTO_ERR_TOO_LARGE) and that
 * the size arithmetic cannot overflow. Pixels are zeroed. */
impasto_status image_alloc(impasto_ctx *ctx, int width, int height, int channels,
                           impasto_image **out);

/* The size impasto_image_resize_max_side gives a width x height image (both > 0, max_side > 0):
 * the longer side max_side, the other in proportion rounded to nearest, at least 1. */
void image_max_side_size(int width, int height, int max_side, int *out_width, int *out_height);

#endif
