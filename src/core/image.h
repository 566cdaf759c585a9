/* The image type behind impasto_image: its definition, allocation within the context's pixel
 * limit, and the size check every decoder makes before allocating. Shared by the codecs and
 * resampling (src/io/), the models' preprocessing and the methods. Loading and saving files are in
 * src/io/image.c. */
#ifndef IMPASTO_CORE_IMAGE_H
#define IMPASTO_CORE_IMAGE_H

#include "impasto.h"

#include <stdint.h>

struct impasto_image {
    int width, height, channels;  /* channels 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) */
    float *data;                  /* (H, W, C), 0..1 */
};

/* Allocates an image after checking the context's pixel limit (IMPASTO_ERR_TOO_LARGE) and that
 * the size arithmetic cannot overflow. Pixels are zeroed. */
impasto_status image_alloc(impasto_ctx *ctx, int width, int height, int channels,
                           impasto_image **out);

/* Checks a size read from a file header before anything is decoded or allocated: zero is
 * IMPASTO_ERR_FORMAT, over impasto_ctx_max_pixels() (or past INT_MAX per side) is
 * IMPASTO_ERR_TOO_LARGE, with a message naming `name`. */
impasto_status image_check_pixels(impasto_ctx *ctx, const char *name, uint64_t width,
                                  uint64_t height);

#endif
