/* Image <-> plane helpers (see planes.h). */
#include "methods/planes.h"

#include "core/image.h"

#include "core/ctx.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

impasto_status planes_maybe_resize(impasto_ctx *ctx, const impasto_image *img, int side, impasto_image **out) {
    *out = NULL;
    int longest = img->width > img->height ? img->width : img->height;
    if (side == 0 || side == longest) return IMPASTO_OK;
    return impasto_image_resize_max_side(ctx, img, side, out);
}

impasto_status planes_prepare(impasto_ctx *ctx, const impasto_image *img, int side, int crop, impasto_image **out) {
    if (!crop) return planes_maybe_resize(ctx, img, side, out);
    *out = NULL;
    const int shorter = img->width < img->height ? img->width : img->height, longer = img->width + img->height - shorter;
    const int s = side ? side : shorter;
    impasto_image *scaled = NULL;
    if (s != shorter) {
        /* The longer side in proportion, rounded as torchvision's Resize (int(s * long / short)). */
        const double l = (double)s * (double)longer / (double)shorter;
        if (l > 1e6) return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "a %dx%d image is too elongated to crop", img->width, img->height);
        const int lw = img->width >= img->height ? (int)l : s, lh = img->width >= img->height ? s : (int)l;
        impasto_status st = impasto_image_resize(ctx, img, lw, lh, &scaled);
        if (st != IMPASTO_OK) return st;
    }
    const impasto_image *src = scaled ? scaled : img;
    impasto_image *sq = NULL;
    impasto_status st = image_alloc(ctx, s, s, src->channels, &sq);
    if (st == IMPASTO_OK) {
        /* torchvision's CenterCrop: offsets round((W - s) / 2). */
        const int x0 = (int)lround((src->width - s) / 2.0), y0 = (int)lround((src->height - s) / 2.0);
        const size_t ch = (size_t)src->channels;
        for (int y = 0; y < s; y++)
            memcpy(sq->data + (size_t)y * (size_t)s * ch,
                   src->data + ((size_t)(y0 + y) * (size_t)src->width + (size_t)x0) * ch, (size_t)s * ch * sizeof(float));
    }
    impasto_image_free(scaled);
    *out = sq;
    return st;
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

float *planes_pad_to_4(const float *x, int h, int w, int *h4, int *w4) {
    *h4 = (h + 3) / 4 * 4;
    *w4 = (w + 3) / 4 * 4;
    float *p = malloc(3 * (size_t)*h4 * (size_t)*w4 * sizeof *p);  // (3, h4, w4)
    if (!p) return NULL;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < *h4; y++) {
            const float *src = x + ((size_t)c * (size_t)h + (size_t)(y < h ? y : h - 1)) * (size_t)w;
            float *dst = p + ((size_t)c * (size_t)*h4 + (size_t)y) * (size_t)*w4;
            memcpy(dst, src, (size_t)w * sizeof *dst);
            for (int xx = w; xx < *w4; xx++) dst[xx] = src[w - 1];
        }
    return p;
}
