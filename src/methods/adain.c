/* impasto_adain: AdaIN style transfer (Huang & Belongie 2017; see include/impasto.h).
 *
 *   f_c = E(content),  f_k = E(style_k)                      relu4_1 features (512, FH, FW)
 *   t   = sum_k w_k AdaIN(f_c, f_k)                          eq. 8 per style, interpolated
 *   t'  = alpha t + (1 - alpha) f_c                          content-style trade-off
 *   out = clamp(D(t'), 0, 1) cropped to the content's size
 * With a mask (spatial control, as AdaIN-style's Torch test.lua -mask, generalised to a region
 * per gray level): t = AdaIN(f_c restricted to region k, f_k) on region k's positions, the
 * content moments taken over the region alone; no interpolation weights.
 * The encoder pools in ceil mode, so D's output (8 FH, 8 FW) is at least the content's size; the
 * extra bottom/right rows and columns (at most 7) are dropped. */
#include "core/ctx.h"
#include "core/gemm.h"
#include "io/image.h"
#include "methods/color.h"
#include "methods/planes.h"
#include "models/model.h"
#include "nn/nn.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define ADAIN_MAX_SIDE 16384

void impasto_adain_options_init(impasto_adain_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->alpha = 1.0;
    opt->content_size = 512;
    opt->style_size = 512;
}

static impasto_status check_options(impasto_ctx *ctx, size_t nstyles, const impasto_adain_options *opt) {
    if (nstyles < 1) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "at least one style image is needed");
    if (!(opt->alpha >= 0 && opt->alpha <= 1))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "alpha must be between 0 and 1");
    if (opt->content_size < 0 || opt->content_size > ADAIN_MAX_SIDE || opt->style_size < 0 ||
        opt->style_size > ADAIN_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "content and style sizes must be 0 (keep) .. %d", ADAIN_MAX_SIDE);
    if (opt->style_weights) {
        double sum = 0;
        for (size_t i = 0; i < nstyles; i++) {
            if (!(opt->style_weights[i] >= 0) || !isfinite(opt->style_weights[i]))
                return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style weights must be finite and not negative");
            sum += opt->style_weights[i];
        }
        if (!(sum > 0)) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style weights sum to zero");
        if (opt->mask)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "a mask gives each style its own region: no style weights");
    }
    return IMPASTO_OK;
}

/* The mask's gray level (0..255) at mask pixel i: gray as stored, RGB averaged, alpha ignored. */
static int mask_level(const impasto_image *m, size_t i) {
    const int ch = m->channels;
    const float *p = m->data + i * (size_t)ch;
    float v = ch >= 3 ? (p[0] + p[1] + p[2]) / 3.0f : p[0];
    return (int)lrintf(fminf(fmaxf(v, 0.0f), 1.0f) * 255.0f);
}

/* Spatial control: region[i] (n = FH x FW) = the rank, among the mask's distinct gray levels in
 * ascending order, of the level under relu4_1 position i. A position stands for the 8x8 pixels
 * of the (h, w) content it was pooled from and takes the mask pixel under their centre, the mask
 * stretched over the content; levels are counted on the mask itself, unresampled, so no
 * in-between levels appear at region borders. The count must equal nstyles. */
static impasto_status mask_regions(impasto_ctx *ctx, const impasto_image *mask, int h, int w, int fh, int fw,
                                   size_t nstyles, int *region) {
    int rank[256];
    for (int l = 0; l < 256; l++) rank[l] = 0;
    const size_t mn = (size_t)mask->width * (size_t)mask->height;
    for (size_t i = 0; i < mn; i++) rank[mask_level(mask, i)] = 1;
    int levels = 0;
    for (int l = 0; l < 256; l++) rank[l] = rank[l] ? levels++ : -1;
    if ((size_t)levels != nstyles)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the mask has %d gray level%s for %zu style image%s (one style "
                        "per level, darkest first; save masks as PNG, JPEG adds levels)", levels,
                        levels == 1 ? "" : "s", nstyles, nstyles == 1 ? "" : "s");
    for (int fy = 0; fy < fh; fy++)
        for (int fx = 0; fx < fw; fx++) {
            const int py = 8 * fy + 4 < h ? 8 * fy + 4 : h - 1, px = 8 * fx + 4 < w ? 8 * fx + 4 : w - 1;
            const size_t my = (size_t)(((double)py + 0.5) * mask->height / h);
            const size_t mx = (size_t)(((double)px + 0.5) * mask->width / w);
            region[(size_t)fy * (size_t)fw + (size_t)fx] = rank[mask_level(mask, my * (size_t)mask->width + mx)];
        }
    return IMPASTO_OK;
}

/* AdaIN over the positions of region k only: the content's moments taken over those positions,
 * the result written there into t (512, n); tmp holds the gathered (512, nk). */
static void adain_region(const float *fc, size_t n, const int *region, int k, const float *mean, const float *sd,
                         float *t, float *tmp) {
    size_t nk = 0;
    for (size_t i = 0; i < n; i++) nk += region[i] == k;
    if (nk == 0) return;
    for (int c = 0; c < ADAIN_FEAT_C; c++) {
        size_t j = 0;
        for (size_t i = 0; i < n; i++)
            if (region[i] == k) tmp[(size_t)c * nk + j++] = fc[(size_t)c * n + i];
    }
    adain_forward(ADAIN_FEAT_C, nk, tmp, mean, sd, 1.0f, tmp);
    for (int c = 0; c < ADAIN_FEAT_C; c++) {
        size_t j = 0;
        for (size_t i = 0; i < n; i++)
            if (region[i] == k) t[(size_t)c * n + i] = tmp[(size_t)c * nk + j++];
    }
}

/* Encodes style k (resized, optionally colour-matched to the content planes xc) and adds
 * w * AdaIN(fc, f_style) to t (512, n); with a region map, writes AdaIN of region k instead. */
static impasto_status add_style(impasto_ctx *ctx, const adain_net *net, const impasto_image *style,
                                const impasto_adain_options *opt, const float *xc, size_t nc, const float *fc,
                                size_t n, double w, const int *region, int k, float *t, float *tmp) {
    impasto_image *scaled = NULL;
    impasto_status s = planes_maybe_resize(ctx, style, opt->style_size, &scaled);
    if (s != IMPASTO_OK) return s;
    const impasto_image *st = scaled ? scaled : style;
    float *xs = planes_from_image(st);  // (3, SH, SW)
    float *fs = NULL;           // (512, SFH, SFW)
    int sfh = 0, sfw = 0;
    if (!xs) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK && opt->preserve_color)
        color_match_style(xs, (size_t)st->width * (size_t)st->height, xc, nc);
    if (s == IMPASTO_OK) s = adain_encode(ctx, net, xs, st->height, st->width, &fs, &sfh, &sfw);
    if (s == IMPASTO_OK) {
        float mean[ADAIN_FEAT_C], sd[ADAIN_FEAT_C];
        adain_moments(ADAIN_FEAT_C, (size_t)sfh * (size_t)sfw, fs, mean, sd);
        if (region) {
            adain_region(fc, n, region, k, mean, sd, t, tmp);
        } else {
            adain_forward(ADAIN_FEAT_C, n, fc, mean, sd, 1.0f, tmp);
            const size_t total = (size_t)ADAIN_FEAT_C * n;
            for (size_t i = 0; i < total; i++) t[i] += (float)w * tmp[i];
        }
    }
    free(fs);
    free(xs);
    impasto_image_free(scaled);
    return s;
}

impasto_status impasto_adain(impasto_ctx *ctx, const impasto_model *adain, const impasto_image *content,
                             const impasto_image *const *styles, size_t nstyles,
                             const impasto_adain_options *opt, impasto_image **out) {
    *out = NULL;
    impasto_adain_options defaults;
    if (!opt) {
        impasto_adain_options_init(&defaults);
        opt = &defaults;
    }
    if (!adain || !adain->adain) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_adain needs an AdaIN model "
                                                 "(impasto convert adain)");
    if (!content || !styles) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_adain: no content or style image");
    for (size_t k = 0; k < nstyles; k++)
        if (!styles[k]) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_adain: style image %zu is NULL", k);
    impasto_status s = check_options(ctx, nstyles, opt);
    if (s != IMPASTO_OK) return s;

    /* The convolutions take their team size from the context; the other layers from OpenMP. */
    const int nthreads = ctx_threads(ctx);
    gemm_set_threads(nthreads);
    omp_set_num_threads(nthreads);

    const adain_net *net = adain->adain;
    impasto_image *cscaled = NULL, *result = NULL;
    float *xc = NULL, *fc = NULL, *t = NULL, *tmp = NULL, *img = NULL;
    int *region = NULL;  // (FH, FW) with a mask
    int fh = 0, fw = 0;
    if ((s = planes_maybe_resize(ctx, content, opt->content_size, &cscaled)) != IMPASTO_OK) return s;
    const impasto_image *cs = cscaled ? cscaled : content;
    const int h = cs->height, w = cs->width;
    const size_t hw = (size_t)h * (size_t)w;
    if (!(xc = planes_from_image(cs))) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK) s = adain_encode(ctx, net, xc, h, w, &fc, &fh, &fw);
    const size_t n = (size_t)fh * (size_t)fw, total = (size_t)ADAIN_FEAT_C * n;
    if (s == IMPASTO_OK && (!(t = calloc(total, sizeof *t)) || !(tmp = malloc(total * sizeof *tmp))))
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK && opt->mask) {
        if (!(region = malloc(n * sizeof *region))) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        else s = mask_regions(ctx, opt->mask, h, w, fh, fw, nstyles, region);
    }
    double wsum = 0;
    for (size_t k = 0; k < nstyles; k++) wsum += opt->style_weights ? opt->style_weights[k] : 1.0;
    for (size_t k = 0; k < nstyles && s == IMPASTO_OK; k++) {
        double wk = (opt->style_weights ? opt->style_weights[k] : 1.0) / wsum;
        if (wk > 0 || region) s = add_style(ctx, net, styles[k], opt, xc, hw, fc, n, wk, region, (int)k, t, tmp);
    }
    if (s == IMPASTO_OK) {
        const float a = (float)opt->alpha;
        for (size_t i = 0; i < total; i++) t[i] = a * t[i] + (1.0f - a) * fc[i];
        s = adain_decode(ctx, net, t, fh, fw, &img);  // (3, 8 FH, 8 FW)
    }
    if (s == IMPASTO_OK) s = planes_to_image(ctx, img, 8 * fh, 8 * fw, cs, &result);
    free(region);
    free(img);
    free(tmp);
    free(t);
    free(fc);
    free(xc);
    impasto_image_free(cscaled);
    if (s != IMPASTO_OK) {
        impasto_image_free(result);
        return s;
    }
    *out = result;
    return IMPASTO_OK;
}
