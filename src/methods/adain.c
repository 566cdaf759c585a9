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
 * extra bottom/right rows and columns (at most 7) are dropped.
 *
 * AdaIN is affine per channel, so t' = scale_c f_c + bias_c (per region with a mask), with
 *   scale_c = alpha sum_k w_k sd_k / sd_c + (1 - alpha),  bias_c = alpha sum_k w_k (mu_k - sd_k mu_c / sd_c)
 * from the content's moments mu_c, sd_c over the WHOLE image and each style's mu_k, sd_k. That is
 * what lets the run be tiled (methods/tile.h): pass 1 sums the moments tile by tile, pass 2 applies
 * scale and bias tile by tile between encoder and decoder. */
#include "core/ctx.h"
#include "core/image.h"
#include "core/threads.h"
#include "methods/color.h"
#include "methods/genes.h"
#include "methods/mask.h"
#include "methods/planes.h"
#include "methods/tile.h"
#include "models/model.h"
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void impasto_adain_options_init(impasto_adain_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->alpha = 1.0;
    opt->content_size = 512;
    opt->style_size = 512;
    opt->tile = -1;
    opt->tile_halo = -1;
    opt->memory_mb = TILE_DEFAULT_MEMORY_MB;
}

static impasto_status check_options(impasto_ctx *ctx, size_t nstyles, const impasto_adain_options *opt) {
    if (nstyles < 1) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "at least one style image is needed");
    return tile_check_method_options(ctx, opt->alpha, opt->content_size, opt->style_size, opt->tile, opt->tile_halo,
                                     opt->memory_mb, opt->style_weights, nstyles, opt->mask);
}

/* Pass-1 accumulator of the content's (or a style's) relu4_1 moments, per region r of the mask
 * (one region without a mask) and channel c, shifted by a per-channel value near the data so
 * the sums of squares lose nothing in double: s1 = sum (f - shift), s2 = sum (f - shift)^2. */
typedef struct moments_acc {
    int nreg;
    const int *region;  /* (FH, FW) over the whole image's feature map, or NULL */
    int fw;             /* its width */
    int started;
    double shift[ADAIN_FEAT_C];
    double *s1, *s2;    /* (R, 512) */
    size_t *n;          /* (R) positions */
} moments_acc;

static int region_at(const moments_acc *a, const tile_feat *t, int y, int x) {
    return a->region ? a->region[(size_t)(t->gy + y) * (size_t)a->fw + (size_t)(t->gx + x)] : 0;
}

static impasto_status moments_add(void *user, impasto_ctx *ctx, const tile_feat *t) {
    moments_acc *a = user;
    const size_t plane = (size_t)t->fh * (size_t)t->fw;
    const size_t ni = (size_t)(t->iy1 - t->iy0) * (size_t)(t->ix1 - t->ix0);
    if (!a->started) {
        /* The shift: the first tile's interior mean. */
#pragma omp parallel for schedule(static)
        for (int c = 0; c < ADAIN_FEAT_C; c++) {
            double m = 0;
            for (int y = t->iy0; y < t->iy1; y++)
                for (int x = t->ix0; x < t->ix1; x++) m += t->f[(size_t)c * plane + (size_t)y * (size_t)t->fw + (size_t)x];
            a->shift[c] = ni ? m / (double)ni : 0.0;
        }
        a->started = 1;
    }
    for (int y = t->iy0; y < t->iy1; y++)
        for (int x = t->ix0; x < t->ix1; x++) a->n[region_at(a, t, y, x)]++;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < ADAIN_FEAT_C; c++) {
        const float *fc = t->f + (size_t)c * plane;  // (fh, fw)
        for (int y = t->iy0; y < t->iy1; y++)
            for (int x = t->ix0; x < t->ix1; x++) {
                const size_t k = (size_t)region_at(a, t, y, x) * ADAIN_FEAT_C + (size_t)c;
                const double d = (double)fc[(size_t)y * (size_t)t->fw + (size_t)x] - a->shift[c];
                a->s1[k] += d;
                a->s2[k] += d * d;
            }
    }
    (void)ctx;
    return IMPASTO_OK;
}

/* Region r's moments as nn.h's adain_moments defines them (unbiased variance + eps). */
static void moments_of(const moments_acc *a, int r, double *mean, double *sd) {
    const double n = (double)a->n[r], dof = a->n[r] > 1 ? n - 1 : 1.0;
    for (int c = 0; c < ADAIN_FEAT_C; c++) {
        const double s1 = a->s1[(size_t)r * ADAIN_FEAT_C + (size_t)c], s2 = a->s2[(size_t)r * ADAIN_FEAT_C + (size_t)c];
        const double var = n > 0 ? (s2 - s1 * s1 / n) / dof : 0.0;
        mean[c] = a->shift[c] + (n > 0 ? s1 / n : 0.0);
        sd[c] = sqrt((var > 0 ? var : 0.0) + (double)ADAIN_EPS);
    }
}

static impasto_status acc_init(impasto_ctx *ctx, moments_acc *a, int nreg, const int *region, int fw) {
    memset(a, 0, sizeof *a);
    a->nreg = nreg;
    a->region = region;
    a->fw = fw;
    a->s1 = calloc((size_t)nreg * ADAIN_FEAT_C, sizeof *a->s1);
    a->s2 = calloc((size_t)nreg * ADAIN_FEAT_C, sizeof *a->s2);
    a->n = calloc((size_t)nreg, sizeof *a->n);
    if (!a->s1 || !a->s2 || !a->n) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    return IMPASTO_OK;
}

static void acc_free(moments_acc *a) {
    free(a->s1);
    free(a->s2);
    free(a->n);
}

static int style_tile(const impasto_adain_options *opt) { return opt->tile == 0 ? 0 : -1; }

/* Style k's relu4_1 mean and deviation (512 each): resized, optionally colour-matched to the
 * content planes xc (3, nc), encoded (tiled if large). */
static impasto_status style_moments(impasto_ctx *ctx, const adain_net *net, const impasto_image *style,
                                    const impasto_adain_options *opt, const float *xc, size_t nc, double *mean,
                                    double *sd) {
    impasto_image *scaled = NULL;
    impasto_status s = planes_prepare(ctx, style, opt->style_size, opt->crop, &scaled);
    if (s != IMPASTO_OK) return s;
    const impasto_image *st = scaled ? scaled : style;
    float *xs = planes_from_image(st);  // (3, SH, SW)
    moments_acc a;
    tile_plan plan;
    if (!xs) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK) s = acc_init(ctx, &a, 1, NULL, 0);
    if (s == IMPASTO_OK && opt->preserve_color)
        color_match_style(xs, (size_t)st->width * (size_t)st->height, xc, nc);
    if (s == IMPASTO_OK)
        s = tile_plan_make(ctx, TILE_NET_ADAIN, st->height, st->width, style_tile(opt), opt->tile_halo,
                           opt->memory_mb, &plan);
    if (s == IMPASTO_OK) s = tile_features(ctx, net, &plan, xs, moments_add, &a, NULL, NULL);
    if (s == IMPASTO_OK) moments_of(&a, 0, mean, sd);
    acc_free(&a);
    free(xs);
    impasto_image_free(scaled);
    return s;
}

/* Pass 2's transform: f = scale[r][c] f + bias[r][c] at a position of region r, which is
 *   sum_k w_k AdaIN(f; content moments, style k), blended with f by alpha    (no mask), or
 *   AdaIN(f; region r's content moments, style r), blended with f by alpha   (mask)
 * (AdaIN is affine per channel: sd_s (f - mu_c) / sd_c + mu_s). */
typedef struct adain_coef {
    const moments_acc *acc;  /* for the region map */
    float *scale, *bias;     /* (R, 512) */
} adain_coef;

static impasto_status adain_apply(void *user, impasto_ctx *ctx, tile_feat *t) {
    const adain_coef *k = user;
    const size_t plane = (size_t)t->fh * (size_t)t->fw;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < ADAIN_FEAT_C; c++) {
        float *fc = t->f + (size_t)c * plane;  // (fh, fw)
        for (int y = 0; y < t->fh; y++)
            for (int x = 0; x < t->fw; x++) {
                const size_t r = (size_t)region_at(k->acc, t, y, x) * ADAIN_FEAT_C + (size_t)c;
                float *v = &fc[(size_t)y * (size_t)t->fw + (size_t)x];
                *v = k->scale[r] * *v + k->bias[r];
            }
    }
    (void)ctx;
    return IMPASTO_OK;
}

/* 1 when all n doubles are finite. */
static int doubles_finite(const double *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* impasto_adain inside its thread scope. */
static impasto_status adain_run(impasto_ctx *ctx, const impasto_model *adain, const impasto_image *content,
                                const impasto_image *const *styles, size_t nstyles, const impasto_adain_options *opt,
                                impasto_image **out) {
    if (!adain || !adain->adain)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "AdaIN needs a model of kind 'adain' (impasto convert adain); %s%s%s",
                        adain ? "this one is of kind '" : "none was given", adain ? adain->kind : "",
                        adain ? "'" : "");
    if (!content || !styles) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "AdaIN: no content or style image given");
    for (size_t k = 0; k < nstyles; k++) {
        const int genes = opt && opt->style_genes && opt->style_genes[k];
        if (!styles[k] && !genes) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "AdaIN: style image %zu is missing", k + 1);
        if (genes && opt->preserve_color)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "AdaIN: preserve_color recolours the painting's pixels, and "
                            "style %zu is genes (no pixels)", k + 1);
    }
    impasto_status s = check_options(ctx, nstyles, opt);
    if (s != IMPASTO_OK) return s;

    const adain_net *net = adain->adain;
    impasto_image *cscaled = NULL, *result = NULL;
    float *xc = NULL, *keep = NULL, *y = NULL;  // (3, H, W), pass-1 features of a single tile, (3, H, W)
    int *region = NULL;                         // (FH, FW) with a mask
    double *smean = NULL, *ssd = NULL;          // (nstyles, 512)
    moments_acc acc;
    memset(&acc, 0, sizeof acc);
    adain_coef coef = {&acc, NULL, NULL};
    tile_plan plan;
    tile_meter meter = {0};
    if ((s = planes_prepare(ctx, content, opt->content_size, opt->crop, &cscaled)) != IMPASTO_OK) return s;
    const impasto_image *cs = cscaled ? cscaled : content;
    const int h = cs->height, w = cs->width, fh = (h + 7) / 8, fw = (w + 7) / 8;
    const int nreg = opt->mask ? (int)nstyles : 1;
    if (h < ADAIN_MIN_SIDE || w < ADAIN_MIN_SIDE)
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "a %dx%d image is too small for the encoder (at least %d pixels "
                     "a side)", w, h, ADAIN_MIN_SIDE);
    if (s == IMPASTO_OK) s = tile_plan_make(ctx, TILE_NET_ADAIN, h, w, opt->tile, opt->tile_halo, opt->memory_mb, &plan);
    double wsum = 0;
    for (size_t k = 0; k < nstyles; k++) wsum += opt->style_weights ? opt->style_weights[k] : 1.0;
    /* The units of work, known before any is done: each style that is encoded, then each tile of
     * the two passes over the content. */
    int nencoded = 0;
    for (size_t k = 0; k < nstyles; k++)
        nencoded += opt->mask || (opt->style_weights ? opt->style_weights[k] : 1.0) / wsum > 0;
    if (s == IMPASTO_OK) tile_meter_start(&meter, opt->progress, opt->progress_user, 1, nencoded + 2 * tile_count(&plan));
    if (s == IMPASTO_OK && (!(xc = planes_from_image(cs)) || !(y = malloc(3 * (size_t)h * (size_t)w * sizeof *y)) ||
                            !(smean = calloc(nstyles * ADAIN_FEAT_C, sizeof *smean)) ||
                            !(ssd = calloc(nstyles * ADAIN_FEAT_C, sizeof *ssd)) ||
                            !(coef.scale = malloc((size_t)nreg * ADAIN_FEAT_C * sizeof *coef.scale)) ||
                            !(coef.bias = malloc((size_t)nreg * ADAIN_FEAT_C * sizeof *coef.bias))))
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK && opt->mask) {
        if (!(region = malloc((size_t)fh * (size_t)fw * sizeof *region))) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        else s = mask_regions(ctx, opt->mask, h, w, 8, fh, fw, nstyles, region);
    }
    /* Pass 1: the content's moments over the whole image (per region with a mask). */
    if (s == IMPASTO_OK) s = acc_init(ctx, &acc, nreg, region, fw);
    if (s == IMPASTO_OK) s = tile_features(ctx, net, &plan, xc, moments_add, &acc, &keep, &meter);
    /* A NaN or Inf anywhere in the content's features reaches its sums (s1, s2: (R, 512)). */
    if (s == IMPASTO_OK && (!doubles_finite(acc.s1, (size_t)nreg * ADAIN_FEAT_C) ||
                            !doubles_finite(acc.s2, (size_t)nreg * ADAIN_FEAT_C)))
        s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "AdaIN: the content's relu4_1 features hold NaN or infinite values "
                     "(the model's weights overflow on this picture)");
    for (size_t k = 0; k < nstyles && s == IMPASTO_OK; k++) {
        double wk = (opt->style_weights ? opt->style_weights[k] : 1.0) / wsum;
        if (!(wk > 0 || region)) continue;
        double *mk = smean + k * ADAIN_FEAT_C, *sk = ssd + k * ADAIN_FEAT_C;  // (512), (512)
        const impasto_genes *g = opt->style_genes ? opt->style_genes[k] : NULL;
        if (g) {
            /* The painting's moments as genes.c read them. */
            s = genes_check_encoder(ctx, g, net, k);
            for (int c = 0; s == IMPASTO_OK && c < ADAIN_FEAT_C; c++) mk[c] = g->mean[c], sk[c] = g->std[c];
        } else {
            s = style_moments(ctx, net, styles[k], opt, xc, (size_t)h * (size_t)w, mk, sk);
        }
        if (s == IMPASTO_OK && (!doubles_finite(mk, ADAIN_FEAT_C) || !doubles_finite(sk, ADAIN_FEAT_C)))
            s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "AdaIN: the relu4_1 features of style image %zu hold NaN or "
                         "infinite values (the model's weights overflow on this picture)", k + 1);
        if (s == IMPASTO_OK) s = tile_meter_tick(ctx, &meter, "style");
    }
    if (s == IMPASTO_OK) {
        const double a = opt->alpha;
        for (int r = 0; r < nreg; r++) {
            double mc[ADAIN_FEAT_C], sc[ADAIN_FEAT_C];
            moments_of(&acc, r, mc, sc);
            for (int c = 0; c < ADAIN_FEAT_C; c++) {
                double g = 0, b = 0;  // sum_k w_k sd_k / sd_c, sum_k w_k (mu_k - sd_k mu_c / sd_c)
                for (size_t k = 0; k < nstyles; k++) {
                    double wk = region ? (k == (size_t)r) : (opt->style_weights ? opt->style_weights[k] : 1.0) / wsum;
                    const double ms = smean[k * ADAIN_FEAT_C + (size_t)c], ds = ssd[k * ADAIN_FEAT_C + (size_t)c];
                    g += wk * ds / sc[c];
                    b += wk * (ms - ds * mc[c] / sc[c]);
                }
                coef.scale[(size_t)r * ADAIN_FEAT_C + (size_t)c] = (float)(a * g + (1.0 - a));
                coef.bias[(size_t)r * ADAIN_FEAT_C + (size_t)c] = (float)(a * b);
            }
        }
        /* Pass 2: encode, transform, decode, tile by tile. */
        s = tile_stylize(ctx, net, &plan, xc, keep, adain_apply, &coef, y, &meter);
        keep = NULL;
    }
    /* Before planes_to_image clamps: a clamp would turn an overflow into plausible pixels. */
    if (s == IMPASTO_OK && !floats_all_finite(y, 3 * (size_t)h * (size_t)w))
        s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "AdaIN: the decoded picture holds NaN or infinite values (the "
                     "model's weights overflow on this picture)");
    if (s == IMPASTO_OK) s = planes_to_image(ctx, y, h, w, cs, &result);
    free(keep);
    acc_free(&acc);
    free(coef.scale);
    free(coef.bias);
    free(smean);
    free(ssd);
    free(region);
    free(y);
    free(xc);
    impasto_image_free(cscaled);
    if (s != IMPASTO_OK) {
        impasto_image_free(result);
        return s;
    }
    *out = result;
    return IMPASTO_OK;
}

impasto_status impasto_adain(impasto_ctx *ctx, const impasto_model *adain, const impasto_image *content,
                             const impasto_image *const *styles, size_t nstyles,
                             const impasto_adain_options *opt, impasto_image **out) {
    if (!out) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "AdaIN: no place given for the result");
    *out = NULL;
    impasto_adain_options defaults;
    if (!opt) {
        impasto_adain_options_init(&defaults);
        opt = &defaults;
    }
    /* The convolutions take their team size from the context; the other layers from OpenMP. */
    thread_scope ts;
    thread_scope_enter(&ts, ctx);
    impasto_status s = adain_run(ctx, adain, content, styles, nstyles, opt, out);
    thread_scope_leave(&ts);
    return s;
}
