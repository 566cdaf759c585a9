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

#endif
