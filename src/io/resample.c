/* Image resizing, separable: a horizontal pass then a vertical pass, each axis choosing its own
 * filter.
 *
 * Shrinking an axis uses exact area averaging: output pixel i covers the source interval
 * [i n/m, (i+1) n/m) and each source pixel weighs the length of its overlap with it (a box
 * filter over the true footprint, so non-integer ratios alias as little as a box can).
 * Enlarging uses the Keys cubic convolution kernel with a = -0.5 (Catmull-Rom; R. Keys, "Cubic
 * convolution interpolation for digital image processing", IEEE TASSP 29(6), 1981), sampling the
 * source at pixel centres, x = (i + 0.5) n/m - 0.5, with clamp-to-edge borders.
 *
 * Images with alpha are filtered premultiplied (colour * alpha, alpha) and un-premultiplied at
 * the end (Porter & Duff 1984), so a transparent pixel contributes no colour to its neighbours. */
#include "io/resample.h"
#include "core/ctx.h"
#include "core/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Below this many multiply-adds per pass the thread start-up costs more than it saves. */
#define RS_PAR_MIN ((size_t)1 << 18)

/* The filter along one axis, n source -> m output samples: output i reads source samples
 * first[i] .. first[i] + count[i] - 1 with weights w[i * maxtaps + k]. */
typedef struct rs_axis {
    int *first; /* (m) */
    int *count; /* (m) */
    float *w;   /* (m, maxtaps) */
    int maxtaps;
} rs_axis;

static void rs_axis_free(rs_axis *a) {
    free(a->first);
    free(a->count);
    free(a->w);
}

/* Keys' cubic kernel with a = -0.5. */
static double rs_cubic(double t) {
    const double a = -0.5;
    t = fabs(t);
    if (t <= 1.0) return ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0;
    if (t < 2.0) return ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a;
    return 0.0;
}

static int rs_axis_build(rs_axis *a, int n, int m) {
    /* A shrink footprint n/m wide touches at most ceil(n/m) + 1 <= floor(n/m) + 2 samples. */
    a->maxtaps = m < n ? n / m + 2 : 4;
    a->first = malloc((size_t)m * sizeof *a->first);
    a->count = malloc((size_t)m * sizeof *a->count);
    a->w = calloc((size_t)m * (size_t)a->maxtaps, sizeof *a->w);
    if (!a->first || !a->count || !a->w) return 0;
    for (int i = 0; i < m; i++) {
        float *w = a->w + (size_t)i * (size_t)a->maxtaps;
        if (m == n) {
            a->first[i] = i;
            a->count[i] = 1;
            w[0] = 1.0f;
        } else if (m < n) {
            /* i n is exact in int64 (both below 2^31); the footprint ends are then rounded once. */
            double s = (double)n / m;
            double x0 = (double)((int64_t)i * n) / m, x1 = (double)((int64_t)(i + 1) * n) / m;
            int j0 = (int)floor(x0), j1 = (int)ceil(x1) - 1;
            if (j1 > n - 1) j1 = n - 1;
            if (j1 < j0) j1 = j0;
            a->first[i] = j0;
            a->count[i] = j1 - j0 + 1;
            for (int j = j0; j <= j1; j++) {
                double lo = x0 > j ? x0 : j, hi = x1 < j + 1 ? x1 : j + 1;
                w[j - j0] = (float)((hi > lo ? hi - lo : 0.0) / s);
            }
        } else {
            double x = ((double)i + 0.5) * n / m - 0.5;
            int fl = (int)floor(x);
            double t = x - fl;
            /* Taps fl-1 .. fl+2 clamped to the edge; clamped taps pile onto the edge sample. */
            int lo = fl - 1 < 0 ? 0 : fl - 1, hi = fl + 2 > n - 1 ? n - 1 : fl + 2;
            if (lo > n - 1) lo = n - 1;
            if (hi < 0) hi = 0;
            a->first[i] = lo;
            a->count[i] = hi - lo + 1;
            for (int k = -1; k <= 2; k++) {
                int j = fl + k;
                j = j < 0 ? 0 : (j > n - 1 ? n - 1 : j);
                w[j - lo] += (float)rs_cubic(t - k);
            }
        }
    }
    return 1;
}

/* src (H, W, C) -> dst (H, m, C) along x; with alpha (C = 2 or 4, alpha last) the colour
 * channels come out premultiplied. */
static void rs_horizontal(const float *src, int H, int W, int C, int alpha, const rs_axis *ax,
                          int m, float *dst, int nthreads) {
    size_t work = (size_t)H * (size_t)m * (size_t)ax->maxtaps * (size_t)C;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (work > RS_PAR_MIN)
    for (int y = 0; y < H; y++) {
        const float *row = src + (size_t)y * (size_t)W * (size_t)C;
        float *out = dst + (size_t)y * (size_t)m * (size_t)C;
        for (int i = 0; i < m; i++) {
            const float *w = ax->w + (size_t)i * (size_t)ax->maxtaps;
            const float *p = row + (size_t)ax->first[i] * (size_t)C;
            float acc[4] = {0, 0, 0, 0};
            for (int k = 0; k < ax->count[i]; k++, p += C) {
                if (alpha) {
                    float wa = w[k] * p[C - 1];
                    for (int c = 0; c < C - 1; c++) acc[c] += wa * p[c];
                    acc[C - 1] += wa;
                } else {
                    for (int c = 0; c < C; c++) acc[c] += w[k] * p[c];
                }
            }
            for (int c = 0; c < C; c++) out[(size_t)i * C + c] = acc[c];
        }
    }
}

/* Clamps to 0..1 and, with alpha, divides the colour by alpha. px (C). */
static void rs_finish_pixel(float *px, int C, int alpha) {
    if (!alpha) {
        for (int c = 0; c < C; c++) px[c] = px[c] > 0.0f ? (px[c] < 1.0f ? px[c] : 1.0f) : 0.0f;
        return;
    }
    float a = px[C - 1];
    a = a > 0.0f ? (a < 1.0f ? a : 1.0f) : 0.0f;
    px[C - 1] = a;
    /* Below this alpha the colour is numerical noise, and invisible anyway. */
    if (a < 1e-6f) {
        for (int c = 0; c < C - 1; c++) px[c] = 0.0f;
        return;
    }
    float inv = 1.0f / a;
    for (int c = 0; c < C - 1; c++) {
        float v = px[c] * inv;
        px[c] = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;
    }
}

/* tmp (H, m, C) -> dst (m2, m, C) along y, then finishes every pixel. */
static void rs_vertical(const float *tmp, int m, int C, int alpha, const rs_axis *ay, int m2,
                        float *dst, int nthreads) {
    size_t rowlen = (size_t)m * (size_t)C;
    size_t work = (size_t)m2 * rowlen * (size_t)ay->maxtaps;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (work > RS_PAR_MIN)
    for (int j = 0; j < m2; j++) {
        float *out = dst + (size_t)j * rowlen;
        const float *w = ay->w + (size_t)j * (size_t)ay->maxtaps;
        for (size_t q = 0; q < rowlen; q++) out[q] = 0.0f;
        for (int k = 0; k < ay->count[j]; k++) {
            const float *in = tmp + (size_t)(ay->first[j] + k) * rowlen;
            float wk = w[k];
            for (size_t q = 0; q < rowlen; q++) out[q] += wk * in[q];
        }
        for (int x = 0; x < m; x++) rs_finish_pixel(out + (size_t)x * (size_t)C, C, alpha);
    }
}

impasto_status impasto_image_resize(impasto_ctx *ctx, const impasto_image *src, int width,
                                    int height, impasto_image **out) {
    if (out) *out = NULL;
    if (!ctx || !src || !out || !src->data)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "resizing an image: no image or no place for the result given");
    if (width <= 0 || height <= 0)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "cannot resize to %dx%d pixels", width,
                        height);
    int W = src->width, H = src->height, C = src->channels;
    if (W <= 0 || H <= 0 || C < 1 || C > 4)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG,
                        "cannot resize an invalid image (%dx%d, %d channels)", W, H, C);
    /* The intermediate (H, width, C) image is bounded by the same limit as the output. */
    size_t tmp_pixels, tmp_floats;
    if (!size_mul((size_t)H, (size_t)width, &tmp_pixels) || tmp_pixels > ctx->max_pixels ||
        !size_mul(tmp_pixels, (size_t)C, &tmp_floats))
        return ctx_fail(
            ctx, IMPASTO_ERR_TOO_LARGE,
            "resizing %dx%d to %dx%d needs %dx%d pixels in between, over the limit of %zu pixels",
            W, H, width, height, width, H, ctx->max_pixels);
    impasto_image *dst;
    impasto_status s = image_alloc(ctx, width, height, C, &dst);
    if (s != IMPASTO_OK) return s;
    if (width == W && height == H) {
        /* Same size: an exact copy. */
        memcpy(dst->data, src->data, (size_t)W * (size_t)H * (size_t)C * sizeof(float));
        *out = dst;
        return IMPASTO_OK;
    }
    rs_axis ax = {0}, ay = {0};
    float *tmp = malloc(tmp_floats * sizeof *tmp);
    if (!tmp || !rs_axis_build(&ax, W, width) || !rs_axis_build(&ay, H, height)) {
        free(tmp);
        rs_axis_free(&ax);
        rs_axis_free(&ay);
        impasto_image_free(dst);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory resizing to %dx%d", width, height);
    }
    int alpha = C == 2 || C == 4;
    int nthreads = ctx_threads(ctx);
    rs_horizontal(src->data, H, W, C, alpha, &ax, width, tmp, nthreads);
    rs_vertical(tmp, width, C, alpha, &ay, height, dst->data, nthreads);
    free(tmp);
    rs_axis_free(&ax);
    rs_axis_free(&ay);
    *out = dst;
    return IMPASTO_OK;
}

impasto_status impasto_image_resize_max_side(impasto_ctx *ctx, const impasto_image *src,
                                             int max_side, impasto_image **out) {
    if (out) *out = NULL;
    if (!ctx || !src || !out)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG,
                        "resizing an image: no image or no place for the result given");
    if (max_side <= 0)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG,
                        "cannot resize to a longest side of %d pixels", max_side);
    if (src->width <= 0 || src->height <= 0)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "cannot resize an empty image");
    int nw, nh;
    image_max_side_size(src->width, src->height, max_side, &nw, &nh);
    return impasto_image_resize(ctx, src, nw, nh, out);
}

void image_max_side_size(int width, int height, int max_side, int *out_width, int *out_height) {
    int64_t w = width, h = height, longest = w > h ? w : h;
    /* Round to nearest in integers; the longer side comes out exactly max_side. */
    int64_t nw = (w * max_side + longest / 2) / longest,
            nh = (h * max_side + longest / 2) / longest;
    *out_width = nw < 1 ? 1 : (int)nw;
    *out_height = nh < 1 ? 1 : (int)nh;
}
