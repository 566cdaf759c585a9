/* impasto_wct: multi-level WCT style transfer (Li et al. 2017; see include/impasto.h).
 *
 * Level 1, relu4_1 (AdaIN encoder E4 / decoder D4, reflection padding, ceil-mode pooling):
 *   f_c = E4(content), f_s = E4(style)          (512, FH, FW), (512, SFH, SFW)
 *   x1  = clamp(D4(WCT_alpha(f_c, f_s)), 0, 1)  (3, 8 FH, 8 FW), cropped to the content's (H, W)
 * Level 2, relu3_1 (lst-r31 encoder E3 / decoder D3, zero padding, floor-mode pooling):
 *   x1 is padded at the bottom/right by repeating its last row/column to multiples of 4 (so the
 *   floor-mode poolings drop nothing), then
 *   out = clamp(D3(WCT_alpha(E3(x1), E3(style))), 0, 1) cropped to (H, W).
 * Coarse to fine as the paper's multi-level pipeline (figure 2(c)), with the levels impasto has
 * decoders for.
 * Each level is its own tiled run (methods/tile.h): pass 1 gathers the mean and covariance of
 * the whole image's features tile by tile, the transform is built once from them, pass 2
 * encodes, transforms and decodes tile by tile. A level that fits in memory is one tile (the
 * untiled run). The style's statistics are gathered the same way. */
#include "core/ctx.h"
#include "core/image.h"
#include "core/threads.h"
#include "methods/genes.h"
#include "methods/planes.h"
#include "methods/tile.h"
#include "models/model.h"
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void impasto_wct_options_init(impasto_wct_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->alpha = 1.0;
    opt->content_size = 512;
    opt->style_size = 512;
    opt->tile = -1;
    opt->tile_halo = -1;
    opt->memory_mb = TILE_DEFAULT_MEMORY_MB;
}

/* x (3, h, w) -> *out (3, h4, w4) with h4, w4 the next multiples of 4, the last row and column
 * repeated into the extra room; malloc'd. */
static float *pad_to_4(const float *x, int h, int w, int *h4, int *w4) {
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

/* Pass-1 accumulator of one image's feature mean and covariance (nn.h's wct_accumulate). */
typedef struct cov_acc {
    int c, started;
    size_t n;
    double *shift, *s1, *s2;  /* (C), (C), (C, C) */
} cov_acc;

static impasto_status cov_add(void *user, impasto_ctx *ctx, const tile_feat *t) {
    cov_acc *a = user;
    const size_t plane = (size_t)t->fh * (size_t)t->fw, rw = (size_t)(t->ix1 - t->ix0);
    const size_t ni = (size_t)(t->iy1 - t->iy0) * rw;
    if (ni == 0) return IMPASTO_OK;
    float *g = malloc((size_t)a->c * ni * sizeof *g);    // (C, ni) the interior, gathered
    double *xd = malloc((size_t)a->c * ni * sizeof *xd);  // (C, ni) scratch
    if (!g || !xd) {
        free(g);
        free(xd);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (WCT statistics)");
    }
    for (int c = 0; c < a->c; c++)
        for (int y = t->iy0; y < t->iy1; y++)
            memcpy(g + (size_t)c * ni + (size_t)(y - t->iy0) * rw,
                   t->f + (size_t)c * plane + (size_t)y * (size_t)t->fw + (size_t)t->ix0, rw * sizeof *g);
    if (!a->started) {
        /* The shift: the first tile's mean (for a single tile, the exact centring). */
        for (int c = 0; c < a->c; c++) {
            double m = 0;
            for (size_t i = 0; i < ni; i++) m += g[(size_t)c * ni + i];
            a->shift[c] = m / (double)ni;
        }
        a->started = 1;
    }
    wct_accumulate(a->c, ni, g, a->shift, a->s1, a->s2, xd);
    a->n += ni;
    free(g);
    free(xd);
    return IMPASTO_OK;
}

/* 1 when all n doubles are finite. */
static int doubles_finite(const double *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* The mean (C) and covariance (C, C) of x's features (3, h, w) over the whole image, through
 * tiles of p; *keep and meter as tile_features. */
static impasto_status image_moments(impasto_ctx *ctx, const adain_net *net, const tile_plan *p, const float *x,
                                    const char *level, const char *what, double *mean, double *cov, float **keep,
                                    tile_meter *meter) {
    cov_acc a = {p->c, 0, 0, calloc((size_t)p->c, sizeof(double)), calloc((size_t)p->c, sizeof(double)), cov};
    memset(cov, 0, (size_t)p->c * (size_t)p->c * sizeof *cov);
    impasto_status s = a.shift && a.s1 ? IMPASTO_OK : ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK) s = tile_features(ctx, net, p, x, cov_add, &a, keep, meter);
    if (s == IMPASTO_OK && a.n < 2)
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT at %s needs at least 2 feature positions per image "
                     "(the %s is too small)", level, what);
    if (s == IMPASTO_OK) wct_moments(p->c, a.n, a.shift, a.s1, cov, mean);
    /* A NaN or Inf in any feature reaches the mean (C) or the covariance (C, C); the
     * eigendecomposition would only fail on it later, without saying why. */
    if (s == IMPASTO_OK && (!doubles_finite(mean, (size_t)p->c) || !doubles_finite(cov, (size_t)p->c * (size_t)p->c)))
        s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "WCT at %s: the %s's features hold NaN or infinite values (the "
                     "model's weights overflow on this picture)", level, what);
    if (s != IMPASTO_OK && keep) {
        free(*keep);
        *keep = NULL;
    }
    free(a.shift);
    free(a.s1);
    return s;
}

/* Pass 2's transform: f = alpha (T f + b) + (1 - alpha) f. */
typedef struct wct_coef {
    int c;
    const float *t, *b;  /* (C, C), (C) */
    float alpha;
} wct_coef;

static impasto_status wct_tile(void *user, impasto_ctx *ctx, tile_feat *t) {
    const wct_coef *k = user;
    const size_t n = (size_t)t->fh * (size_t)t->fw;
    float *y = malloc((size_t)k->c * n * sizeof *y);  // (C, fh, fw)
    if (!y) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (WCT)");
    wct_apply(k->c, n, t->f, k->t, k->b, k->alpha, y);
    free(t->f);
    t->f = y;
    return IMPASTO_OK;
}

/* One level: x (3, h, w) and the style xs (3, sh, sw) -> y (3, h, w), unclamped and checked
 * finite. pc: the content's plan (made by the caller, which counted its tiles for the meter). */
static impasto_status run_level(impasto_ctx *ctx, const adain_net *net, const tile_plan *pc, const float *x,
                                const float *xs, int sh, int sw, const impasto_genes *genes,
                                const impasto_wct_options *opt, const char *level, tile_meter *meter, float *y) {
    tile_plan ps;
    const int h = pc->h, w = pc->w;
    impasto_status s = genes ? IMPASTO_OK
                             : tile_plan_make(ctx, pc->kind, sh, sw, opt->tile == 0 ? 0 : -1, opt->tile_halo,
                                              opt->memory_mb, &ps);
    if (s != IMPASTO_OK) return s;
    const int c = pc->c;
    const size_t cc = (size_t)c * (size_t)c, nws = wct_build_workspace(c);
    double *mc = malloc((size_t)c * sizeof *mc), *ms = malloc((size_t)c * sizeof *ms);  // (C), (C)
    double *covc = malloc(cc * sizeof *covc), *covs = malloc(cc * sizeof *covs);        // (C, C), (C, C)
    double *ws = malloc(nws * sizeof *ws);
    float *t = malloc(cc * sizeof *t), *b = malloc((size_t)c * sizeof *b);              // (C, C), (C)
    float *keep = NULL;  // a single tile's pass-1 features (C, FH, FW)
    if (!mc || !ms || !covc || !covs || !ws || !t || !b) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (WCT)");
    if (s == IMPASTO_OK && genes) {
        /* The style's genes: its mean and covariance as genes.c read them. */
        s = genes_check_encoder(ctx, genes, net, 0);
        if (s == IMPASTO_OK) {
            memcpy(ms, genes->mean, (size_t)c * sizeof *ms);
            memcpy(covs, genes->cov, cc * sizeof *covs);
        }
    } else if (s == IMPASTO_OK) {
        s = image_moments(ctx, net, &ps, xs, level, "style", ms, covs, NULL, NULL);
    }
    if (s == IMPASTO_OK) s = tile_meter_tick(ctx, meter, "style");
    if (s == IMPASTO_OK) s = image_moments(ctx, net, pc, x, level, "content", mc, covc, &keep, meter);
    if (s == IMPASTO_OK) {
        int info = wct_build(c, mc, covc, ms, covs, t, b, ws);
        if (info != 0)
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "WCT at %s: the eigendecomposition failed (LAPACK info %d; "
                         "non-finite features?)", level, info);
    }
    if (s == IMPASTO_OK) {
        wct_coef k = {c, t, b, (float)opt->alpha};
        s = tile_stylize(ctx, net, pc, x, keep, wct_tile, &k, y, meter);
        keep = NULL;
    }
    /* Before the caller clamps: a clamp would turn an overflow into plausible pixels. */
    if (s == IMPASTO_OK && !floats_all_finite(y, 3 * (size_t)h * (size_t)w))
        s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "WCT at %s: the decoded picture holds NaN or infinite values (the "
                     "model's weights overflow on this picture)", level);
    free(keep);
    free(mc), free(ms), free(covc), free(covs), free(ws), free(t), free(b);
    return s;
}

/* impasto_wct inside its thread scope. */
static impasto_status wct_run(impasto_ctx *ctx, const impasto_model *adain, const impasto_model *lst,
                              const impasto_image *content, const impasto_image *style, const impasto_wct_options *opt,
                              impasto_image **out) {
    if (!adain || !adain->adain)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT needs a model of kind 'adain' (impasto convert adain) for "
                        "its relu4_1 level; %s%s%s", adain ? "this one is of kind '" : "none was given",
                        adain ? adain->kind : "", adain ? "'" : "");
    if (lst && !lst->lst)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT's relu3_1 level needs a model of kind 'lst-r31' (impasto "
                        "convert lst-r31); this one is of kind '%s'", lst->kind);
    const impasto_genes *genes = opt ? opt->style_genes : NULL;
    if (!content || (!style && !genes)) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT: no content or style image given");
    if (genes && !genes->cov)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT: these genes hold no covariance (only AdaIN's mean and "
                        "deviation); use them with adain");
    if (genes && lst)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT: genes hold relu4_1 statistics only; the relu3_1 level needs "
                        "the painting itself (one level: --levels 1)");
    if (!(opt->alpha >= 0 && opt->alpha <= 1))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "alpha must be between 0 and 1");
    if (opt->content_size < 0 || opt->content_size > IMPASTO_MAX_SIDE || opt->style_size < 0 ||
        opt->style_size > IMPASTO_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "content and style sizes must be 0 (keep) .. %d", IMPASTO_MAX_SIDE);
    impasto_status ts = tile_check_options(ctx, opt->tile, opt->tile_halo, opt->memory_mb);
    if (ts != IMPASTO_OK) return ts;

    impasto_image *cscaled = NULL, *sscaled = NULL, *result = NULL;
    float *xc = NULL, *xs = NULL, *x1 = NULL, *xp = NULL, *x2 = NULL;  // (3, H, W), (3, SH, SW), (3, H, W), (3, H4, W4) x2
    impasto_status s = planes_maybe_resize(ctx, content, opt->content_size, &cscaled);
    if (s == IMPASTO_OK && style) s = planes_maybe_resize(ctx, style, opt->style_size, &sscaled);
    const impasto_image *cs = cscaled ? cscaled : content, *ss = sscaled ? sscaled : style;
    const int h = cs->height, w = cs->width, h4 = (h + 3) / 4 * 4, w4 = (w + 3) / 4 * 4;
    /* Both levels' plans first, so the progress total (per level: the style, then each tile of the
     * two passes) is known before any work. Level 2 runs on level 1's picture padded to (H4, W4). */
    tile_plan p1, p2;
    tile_meter meter = {0};
    if (s == IMPASTO_OK) s = tile_plan_make(ctx, TILE_NET_ADAIN, h, w, opt->tile, opt->tile_halo, opt->memory_mb, &p1);
    if (s == IMPASTO_OK && lst)
        s = tile_plan_make(ctx, TILE_NET_LST, h4, w4, opt->tile, opt->tile_halo, opt->memory_mb, &p2);
    if (s == IMPASTO_OK)
        tile_meter_start(&meter, opt->progress, opt->progress_user, lst ? 2 : 1,
                         1 + 2 * tile_count(&p1) + (lst ? 1 + 2 * tile_count(&p2) : 0));
    if (s == IMPASTO_OK && (!(xc = planes_from_image(cs)) || (ss && !(xs = planes_from_image(ss))) ||
                            !(x1 = malloc(3 * (size_t)h * (size_t)w * sizeof *x1))))
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    /* Level 1, relu4_1, then x1 clamped to 0..1. */
    if (s == IMPASTO_OK)
        s = run_level(ctx, adain->adain, &p1, xc, xs, ss ? ss->height : 0, ss ? ss->width : 0, genes, opt, "relu4_1",
                      &meter, x1);
    free(xc);
    xc = NULL;
    if (s == IMPASTO_OK)
        for (size_t i = 0; i < 3 * (size_t)h * (size_t)w; i++) x1[i] = x1[i] < 0.0f ? 0.0f : x1[i] > 1.0f ? 1.0f : x1[i];
    /* Level 2, relu3_1, on x1 padded to multiples of 4. */
    if (s == IMPASTO_OK && lst) {
        int ph, pw;
        if (!(xp = pad_to_4(x1, h, w, &ph, &pw)) || !(x2 = malloc(3 * (size_t)h4 * (size_t)w4 * sizeof *x2)))
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        free(x1);
        x1 = NULL;
        meter.p.level = 1;
        if (s == IMPASTO_OK)
            s = run_level(ctx, lst->lst, &p2, xp, xs, ss->height, ss->width, NULL, opt, "relu3_1", &meter, x2);
    }
    if (s == IMPASTO_OK) s = planes_to_image(ctx, x2 ? x2 : x1, lst ? h4 : h, lst ? w4 : w, cs, &result);
    free(x2);
    free(xp);
    free(x1);
    free(xs);
    impasto_image_free(sscaled);
    impasto_image_free(cscaled);
    if (s != IMPASTO_OK) return s;
    *out = result;
    return IMPASTO_OK;
}

impasto_status impasto_wct(impasto_ctx *ctx, const impasto_model *adain, const impasto_model *lst,
                           const impasto_image *content, const impasto_image *style,
                           const impasto_wct_options *opt, impasto_image **out) {
    if (!out) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT: no place given for the result");
    *out = NULL;
    impasto_wct_options defaults;
    if (!opt) {
        impasto_wct_options_init(&defaults);
        opt = &defaults;
    }
    /* The convolutions take their team size from the context; the other layers from OpenMP. */
    thread_scope ts;
    thread_scope_enter(&ts, ctx);
    impasto_status s = wct_run(ctx, adain, lst, content, style, opt, out);
    thread_scope_leave(&ts);
    return s;
}
