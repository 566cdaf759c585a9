/* Pictures the region tests share (tests/test_adain_mask.c, tests/test_wct_mask.c): a stationary
 * picture about a colour, and a mask of two gray levels split down the middle. Static: each test
 * binary includes its own copy. */
#ifndef IMPASTO_TESTS_MASK_UTIL_H
#define IMPASTO_TESTS_MASK_UTIL_H

#include "impasto.h"
#include "test.h"

#include <math.h>
#include <stddef.h>

/* A stationary w x h picture: a wave and uniform noise (from seed) about the colour (r, g, b). */
static impasto_image *picture(impasto_ctx *ctx, int w, int h, float r, float g, float b, unsigned long long seed) {
    impasto_image *img = NULL;
    CHECK(impasto_image_create(ctx, w, h, 3, &img) == IMPASTO_OK);
    if (!img) return NULL;
    float *d = impasto_image_data(img);
    unsigned long long st = seed;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float wave = 0.15f * sinf(0.7f * (float)x + 0.4f * (float)y);
            float *p = d + ((size_t)y * (size_t)w + (size_t)x) * 3;
            p[0] = fminf(fmaxf(r + wave + test_uniform(&st, -0.1f, 0.1f), 0), 1);
            p[1] = fminf(fmaxf(g - wave + test_uniform(&st, -0.1f, 0.1f), 0), 1);
            p[2] = fminf(fmaxf(b + 0.5f * wave + test_uniform(&st, -0.1f, 0.1f), 0), 1);
        }
    return img;
}

/* A gray mask w x h: the left half at level a, the right at b (0..1). */
static impasto_image *split_mask(impasto_ctx *ctx, int w, int h, float a, float b) {
    impasto_image *m = NULL;
    CHECK(impasto_image_create(ctx, w, h, 1, &m) == IMPASTO_OK);
    if (!m) return NULL;
    float *d = impasto_image_data(m);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) d[(size_t)y * (size_t)w + (size_t)x] = x < w / 2 ? a : b;
    return m;
}

#endif
