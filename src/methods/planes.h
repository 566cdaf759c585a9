/* Image <-> plane helpers shared by the feed-forward methods (AdaIN, WCT). */
#ifndef IMPASTO_METHODS_PLANES_H
#define IMPASTO_METHODS_PLANES_H

#include "impasto.h"

#include <stddef.h>

/* img resized so its longest side is `side` (0 or already that size: *out = NULL, use img). */
impasto_status planes_maybe_resize(impasto_ctx *ctx, const impasto_image *img, int side, impasto_image **out);
/* With crop = 0 the same; with crop = 1, as pytorch-AdaIN's test.py --crop (torchvision's
 * Resize(side) then CenterCrop(side)): resized so the SHORTER side is `side` (0 keeps it), then
 * the centred square of that side cut out (*out always set). */
impasto_status planes_prepare(impasto_ctx *ctx, const impasto_image *img, int side, int crop, impasto_image **out);
/* RGB planes (3, H, W) in 0..1 from an image (gray replicated, alpha ignored); malloc'd, NULL when
 * out of memory. */
float *planes_from_image(const impasto_image *img);
/* A new image of like's size from planes (3, PH, PW) with PH >= like's height and PW >= its
 * width (the bottom/right extra cropped), values clamped to 0..1; RGBA with like's alpha carried
 * over when like has alpha, RGB otherwise. */
impasto_status planes_to_image(impasto_ctx *ctx, const float *planes, int ph, int pw, const impasto_image *like,
                               impasto_image **out);

/* x (3, h, w) -> (3, h4, w4), h4 and w4 the next multiples of 4, the last row and column repeated
 * into the extra room (so the lst-r31 encoder's floor-mode poolings drop nothing); malloc'd, NULL
 * when out of memory. */
float *planes_pad_to_4(const float *x, int h, int w, int *h4, int *w4);

#endif
