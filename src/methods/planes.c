/* Image <-> plane helpers (see planes.h). */
#include "methods/planes.h"

#include "io/image.h"

#include <stdlib.h>

impasto_status planes_maybe_resize(impasto_ctx *ctx, const impasto_image *img, int side, impasto_image **out) {
    *out = NULL;
    int longest = img->width > img->height ? img->width : img->height;
    if (side == 0 || side == longest) return IMPASTO_OK;
    return impasto_image_resize_max_side(ctx, img, side, out);
}

float *planes_from_image(const impasto_image *img) {
    const size_t hw = (size_t)img->width * (size_t)img->height;
    float *x = malloc(3 * hw * sizeof *x);  // (3, H, W)
    if (!x) return NULL;
    const int ch = img->channels;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < hw; i++) x[(size_t)c * hw + i] = img->data[i * (size_t)ch + (size_t)(ch >= 3 ? c : 0)];
    return x;
}

impasto_status planes_to_image(impasto_ctx *ctx, const float *planes, int ph, int pw, const impasto_image *like,
                               impasto_image **out) {
    *out = NULL;
    const int h = like->height, w = like->width, ch = like->channels, keep_alpha = ch == 2 || ch == 4;
    impasto_image *result = NULL;
    impasto_status s = image_alloc(ctx, w, h, keep_alpha ? 4 : 3, &result);
    if (s != IMPASTO_OK) return s;
    const size_t dw = (size_t)pw, dhw = dw * (size_t)ph;
    const int oc = result->channels;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const size_t i = (size_t)y * (size_t)w + (size_t)x;
            for (int c = 0; c < 3; c++) {
                float v = planes[(size_t)c * dhw + (size_t)y * dw + (size_t)x];
                result->data[i * (size_t)oc + (size_t)c] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
            }
            if (keep_alpha) result->data[i * 4 + 3] = like->data[i * (size_t)ch + (size_t)ch - 1];
        }
    *out = result;
    return IMPASTO_OK;
}
