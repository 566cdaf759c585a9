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
 * untiled run). The style's statistics are gathered the same way.
 * With a mask (impasto_wct_styles), each feature position of a level belongs to the region under
 * the centre of the pixels it stands for (methods/mask.h), and region r is whitened with the
 * mean and covariance of the content's features in region r alone (summed over the tiles like
 * the whole image's) and coloured with style r's: T_r, b_r per region, applied position by
 * position in pass 2 (as adain's mask does with per-region moments). */
#include "core/ctx.h"
#include "core/image.h"
#include "core/limits.h"
#include "core/threads.h"
#include "methods/genes.h"
#include "methods/mask.h"
#include "methods/planes.h"
#include "methods/tile.h"
#include "models/model.h"
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
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

/* Pass-1 accumulator of one image's feature mean and covariance (nn.h's wct_accumulate), per
 * region of a mask (one region without): every region shares one shift (the first tile's mean). */
typedef struct cov_acc {
    int c, started, nreg;
    const int *region;  /* (FH, FW) the whole image's region map, or NULL (one region) */
    int fw;             /* its width */
    size_t *n;          /* (R) positions */
    double *shift;      /* (C) */
    double *s1, *s2;    /* (R, C), (R, C, C) */
} cov_acc;

/* The width of the whole image's feature map under plan p (ceil-mode pooling at relu4_1, floor at
 * relu3_1, as tile.c encodes). */
static int feat_w(const tile_plan *p) { return p->kind == TILE_NET_ADAIN ? (p->w + 7) / 8 : p->w / 4; }

static int region_of(const int *region, int fw, const tile_feat *t, int y, int x) {
    return region ? region[(size_t)(t->gy + y) * (size_t)fw + (size_t)(t->gx + x)] : 0;
}

static impasto_status cov_add(void *user, impasto_ctx *ctx, const tile_feat *t) {
    cov_acc *a = user;
    const size_t plane = (size_t)t->fh * (size_t)t->fw, rw = (size_t)(t->ix1 - t->ix0);
    const size_t ni = (size_t)(t->iy1 - t->iy0) * rw, cc = (size_t)a->c * (size_t)a->c;
    if (ni == 0) return IMPASTO_OK;
    float *g = malloc((size_t)a->c * ni * sizeof *g);    // (C, ni) the interior (or a region of it), gathered
    double *xd = malloc((size_t)a->c * ni * sizeof *xd);  // (C, ni) scratch
    if (!g || !xd) {
        free(g);
        free(xd);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (WCT statistics)");
    }
    if (!a->started) {
        /* The shift: the first tile's mean (for a single tile, the exact centring). */
        for (int c = 0; c < a->c; c++) {
            double m = 0;
            for (int y = t->iy0; y < t->iy1; y++)
                for (int x = t->ix0; x < t->ix1; x++) m += t->f[(size_t)c * plane + (size_t)y * (size_t)t->fw + (size_t)x];
            a->shift[c] = m / (double)ni;
        }
        a->started = 1;
    }
    for (int r = 0; r < a->nreg; r++) {
        size_t nr = 0;
        if (!a->region) {
            for (int c = 0; c < a->c; c++)
                for (int y = t->iy0; y < t->iy1; y++)
                    memcpy(g + (size_t)c * ni + (size_t)(y - t->iy0) * rw,
                           t->f + (size_t)c * plane + (size_t)y * (size_t)t->fw + (size_t)t->ix0, rw * sizeof *g);
            nr = ni;
        } else {
            for (int y = t->iy0; y < t->iy1; y++)
                for (int x = t->ix0; x < t->ix1; x++) nr += region_of(a->region, a->fw, t, y, x) == r;
            size_t k = 0;
            for (int y = t->iy0; y < t->iy1; y++)
                for (int x = t->ix0; x < t->ix1; x++) {
                    if (region_of(a->region, a->fw, t, y, x) != r) continue;
                    for (int c = 0; c < a->c; c++)
                        g[(size_t)c * nr + k] = t->f[(size_t)c * plane + (size_t)y * (size_t)t->fw + (size_t)x];
                    k++;
                }
        }
        if (nr) wct_accumulate(a->c, nr, g, a->shift, a->s1 + (size_t)r * (size_t)a->c, a->s2 + (size_t)r * cc, xd);
        a->n[r] += nr;
    }
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

/* The mean (R, C) and covariance (R, C, C) of x's features (3, h, w) over the whole image, per
 * region of `region` (FH, FW; NULL: one region), through tiles of p, and each region's position
 * count n (R). A region with one position has that position's features as its mean and no
 * covariance (zero: the whitening then keeps no direction and the region takes the style's mean);
 * one with none is left at zero and never applied. The image needs 2 positions in all. *keep
 * and meter as tile_features. */
static impasto_status image_moments(impasto_ctx *ctx, const adain_net *net, const tile_plan *p, const float *x,
                                    int nreg, const int *region, const char *level, const char *what, double *mean,
                                    double *cov, size_t *n, float **keep, tile_meter *meter) {
    const size_t c = (size_t)p->c, cc = c * c;
    cov_acc a = {p->c, 0, nreg, region, feat_w(p), n, calloc(c, sizeof(double)),
                 calloc((size_t)nreg * c, sizeof(double)), cov};
    memset(cov, 0, (size_t)nreg * cc * sizeof *cov);
    memset(n, 0, (size_t)nreg * sizeof *n);
    impasto_status s = a.shift && a.s1 ? IMPASTO_OK : ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK) s = tile_features(ctx, net, p, x, cov_add, &a, keep, meter);
    size_t total = 0;
    for (int r = 0; r < nreg; r++) total += n[r];
    if (s == IMPASTO_OK && total < 2)
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT at %s needs at least 2 feature positions per image "
                     "(the %s is too small)", level, what);
    for (int r = 0; s == IMPASTO_OK && r < nreg; r++) {
        double *mr = mean + (size_t)r * c, *cr = cov + (size_t)r * cc, *s1 = a.s1 + (size_t)r * c;
        if (n[r] >= 2) {
            wct_moments(p->c, n[r], a.shift, s1, cr, mr);
        } else {
            for (size_t k = 0; k < c; k++) mr[k] = a.shift[k] + (n[r] ? s1[k] : 0.0);
            memset(cr, 0, cc * sizeof *cr);
        }
        /* A NaN or Inf in any feature reaches the mean (C) or the covariance (C, C); the
         * eigendecomposition would only fail on it later, without saying why. */
        if (!doubles_finite(mr, c) || !doubles_finite(cr, cc))
            s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "WCT at %s: the %s's features hold NaN or infinite values (the "
                         "model's weights overflow on this picture)", level, what);
    }
    if (s != IMPASTO_OK && keep) {
        free(*keep);
        *keep = NULL;
    }
    free(a.shift);
    free(a.s1);
    return s;
}

/* Pass 2's transform: f = alpha (T_r f + b_r) + (1 - alpha) f at a position of region r. */
typedef struct wct_coef {
    int c, nreg;
    const int *region;  /* (FH, FW) or NULL */
    int fw;
    const float *t, *b;  /* (R, C, C), (R, C) */
    float alpha;
} wct_coef;

static impasto_status wct_tile(void *user, impasto_ctx *ctx, tile_feat *t) {
    const wct_coef *k = user;
    const size_t n = (size_t)t->fh * (size_t)t->fw, c = (size_t)k->c;
    float *y = malloc(c * n * sizeof *y);  // (C, fh, fw)
    if (!y) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (WCT)");
    if (!k->region) {
        wct_apply(k->c, n, t->f, k->t, k->b, k->alpha, y);
    } else {
        /* Each region's positions gathered (C, nr), transformed and put back, WCT_GATHER at a
         * time so the copies stay small beside the tile's features. */
        float *g = malloc(2 * c * WCT_GATHER * sizeof *g), *gy = g + c * WCT_GATHER;  // (C, WCT_GATHER) in, out
        size_t *idx = malloc(n * sizeof *idx);                                         // (nr) region r's positions
        if (!g || !idx) {
            free(g), free(idx), free(y);
            return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (WCT)");
        }
        for (int r = 0; r < k->nreg; r++) {
            size_t nr = 0;
            for (int yy = 0; yy < t->fh; yy++)
                for (int xx = 0; xx < t->fw; xx++)
                    if (region_of(k->region, k->fw, t, yy, xx) == r) idx[nr++] = (size_t)yy * (size_t)t->fw + (size_t)xx;
            for (size_t i0 = 0; i0 < nr; i0 += WCT_GATHER) {
                const size_t m = nr - i0 < WCT_GATHER ? nr - i0 : WCT_GATHER;
                for (size_t ch = 0; ch < c; ch++)
                    for (size_t i = 0; i < m; i++) g[ch * m + i] = t->f[ch * n + idx[i0 + i]];
                wct_apply(k->c, m, g, k->t + (size_t)r * c * c, k->b + (size_t)r * c, k->alpha, gy);
                for (size_t ch = 0; ch < c; ch++)
                    for (size_t i = 0; i < m; i++) y[ch * n + idx[i0 + i]] = gy[ch * m + i];
            }
        }
        free(g);
        free(idx);
    }
    free(t->f);
    t->f = y;
    return IMPASTO_OK;
}

/* One level: x (3, h, w) and the styles xs[k] (3, sh[k], sw[k]) -> y (3, h, w), unclamped and
 * checked finite. pc: the content's plan (made by the caller, which counted its tiles for the
 * meter). region: (FH, FW) over pc's feature map with nstyles regions, or NULL (one style). */
static impasto_status run_level(impasto_ctx *ctx, const adain_net *net, const tile_plan *pc, const float *x,
                                float *const *xs, const int *sh, const int *sw, size_t nstyles, const int *region,
                                const impasto_genes *genes, const impasto_wct_options *opt, const char *level,
                                tile_meter *meter, float *y) {
    const int h = pc->h, w = pc->w, c = pc->c, nreg = (int)nstyles;
    const size_t cc = (size_t)c * (size_t)c, nws = wct_build_workspace(c);
    impasto_status s = IMPASTO_OK;
    double *mc = malloc(nstyles * (size_t)c * sizeof *mc), *ms = malloc(nstyles * (size_t)c * sizeof *ms);  // (R, C) x2
    double *covc = malloc(nstyles * cc * sizeof *covc), *covs = malloc(nstyles * cc * sizeof *covs);      // (R, C, C) x2
    double *ws = malloc(nws * sizeof *ws);
    float *t = malloc(nstyles * cc * sizeof *t), *b = malloc(nstyles * (size_t)c * sizeof *b);  // (R, C, C), (R, C)
    size_t *n = malloc(nstyles * sizeof *n), ns;  // (R) content positions per region
    float *keep = NULL;  // a single tile's pass-1 features (C, FH, FW)
    if (!mc || !ms || !covc || !covs || !ws || !t || !b || !n) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (WCT)");
    for (size_t k = 0; s == IMPASTO_OK && k < nstyles; k++) {
        if (genes) {
            /* The style's genes: its mean and covariance as genes.c read them. */
            s = genes_check_encoder(ctx, genes, net, 0);
            if (s == IMPASTO_OK) {
                memcpy(ms, genes->mean, (size_t)c * sizeof *ms);
                memcpy(covs, genes->cov, cc * sizeof *covs);
            }
        } else {
            tile_plan ps;
            char what[32];
            snprintf(what, sizeof what, nstyles > 1 ? "style %zu" : "style", k + 1);
            s = tile_plan_make(ctx, pc->kind, sh[k], sw[k], opt->tile == 0 ? 0 : -1, opt->tile_halo, opt->memory_mb,
                               &ps);
            if (s == IMPASTO_OK)
                s = image_moments(ctx, net, &ps, xs[k], 1, NULL, level, what, ms + k * (size_t)c, covs + k * cc, &ns,
                                  NULL, NULL);
        }
        if (s == IMPASTO_OK) s = tile_meter_tick(ctx, meter, "style");
    }
    if (s == IMPASTO_OK)
        s = image_moments(ctx, net, pc, x, nreg, region, level, "content", mc, covc, n, &keep, meter);
    for (int r = 0; s == IMPASTO_OK && r < nreg; r++) {
        if (!n[r]) continue;  // no position of this level lies in region r
        int info = wct_build(c, mc + (size_t)r * (size_t)c, covc + (size_t)r * cc, ms + (size_t)r * (size_t)c,
                             covs + (size_t)r * cc, t + (size_t)r * cc, b + (size_t)r * (size_t)c, ws);
        if (info != 0)
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "WCT at %s: the eigendecomposition failed (LAPACK info %d; "
                         "non-finite features?)", level, info);
    }
    if (s == IMPASTO_OK) {
        wct_coef k = {c, nreg, region, feat_w(pc), t, b, (float)opt->alpha};
        s = tile_stylize(ctx, net, pc, x, keep, wct_tile, &k, y, meter);
        keep = NULL;
    }
    /* Before the caller clamps: a clamp would turn an overflow into plausible pixels. */
    if (s == IMPASTO_OK && !floats_all_finite(y, 3 * (size_t)h * (size_t)w))
        s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "WCT at %s: the decoded picture holds NaN or infinite values (the "
                     "model's weights overflow on this picture)", level);
    free(keep);
    free(mc), free(ms), free(covc), free(covs), free(ws), free(t), free(b), free(n);
    return s;
}

/* The region map (FH, FW) of plan p's feature map over the h x w content (level 2's picture is
 * padded past it; mask_region_map clamps), nstyles levels checked; *region NULL without a mask. */
static impasto_status level_regions(impasto_ctx *ctx, const impasto_image *mask, size_t nstyles, const tile_plan *p,
                                    int h, int w, int **region) {
    *region = NULL;
    if (!mask) return IMPASTO_OK;
    const int fh = p->kind == TILE_NET_ADAIN ? (p->h + 7) / 8 : p->h / 4, fw = feat_w(p);
    if (!(*region = malloc((size_t)fh * (size_t)fw * sizeof **region)))
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    impasto_status s = mask_regions(ctx, mask, h, w, p->scale, fh, fw, nstyles, *region);
    if (s != IMPASTO_OK) {
        free(*region);
        *region = NULL;
    }
    return s;
}

/* impasto_wct_styles inside its thread scope. */
static impasto_status wct_run(impasto_ctx *ctx, const impasto_model *adain, const impasto_model *lst,
                              const impasto_image *content, const impasto_image *const *styles, size_t nstyles,
                              const impasto_wct_options *opt, impasto_image **out) {
    if (!adain || !adain->adain)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT needs a model of kind 'adain' (impasto convert adain) for "
                        "its relu4_1 level; %s%s%s", adain ? "this one is of kind '" : "none was given",
                        adain ? adain->kind : "", adain ? "'" : "");
    if (lst && !lst->lst)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT's relu3_1 level needs a model of kind 'lst-r31' (impasto "
                        "convert lst-r31); this one is of kind '%s'", lst->kind);
    const impasto_genes *genes = opt ? opt->style_genes : NULL;
    if (nstyles < 1 || nstyles > WCT_MAX_STYLES)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT takes 1 .. %d style images, not %zu", WCT_MAX_STYLES, nstyles);
    if (nstyles > 1 && !opt->mask)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT with %zu style images needs a mask (a region per style)",
                        nstyles);
    if (genes && nstyles > 1)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT: genes stand for one style, not %zu", nstyles);
    if (!content || !styles || (!styles[0] && !genes))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT: no content or style image given");
    for (size_t k = 1; k < nstyles; k++)
        if (!styles[k]) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT: style image %zu is missing", k + 1);
    if (genes && !genes->cov)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT: these genes hold no covariance (only AdaIN's mean and "
                        "deviation); use them with adain");
    if (genes && lst)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT: genes hold relu4_1 statistics only; the relu3_1 level needs "
                        "the painting itself (one level: --levels 1)");
    impasto_status ts = tile_check_method_options(ctx, opt->alpha, opt->content_size, opt->style_size, opt->tile,
                                                  opt->tile_halo, opt->memory_mb, NULL, nstyles, opt->mask);
    if (ts != IMPASTO_OK) return ts;

    impasto_image *cscaled = NULL, *result = NULL;
    impasto_image *sscaled[WCT_MAX_STYLES] = {0};
    float *xs[WCT_MAX_STYLES] = {0};                 // (3, SH_k, SW_k)
    int sh[WCT_MAX_STYLES] = {0}, sw[WCT_MAX_STYLES] = {0};
    int *reg1 = NULL, *reg2 = NULL;                  // (FH, FW) at each level, with a mask
    float *xc = NULL, *x1 = NULL, *xp = NULL, *x2 = NULL;  // (3, H, W), (3, H, W), (3, H4, W4) x2
    impasto_status s = planes_maybe_resize(ctx, content, opt->content_size, &cscaled);
    for (size_t k = 0; s == IMPASTO_OK && k < nstyles && styles[k]; k++) {
        s = planes_maybe_resize(ctx, styles[k], opt->style_size, &sscaled[k]);
        const impasto_image *ss = sscaled[k] ? sscaled[k] : styles[k];
        sh[k] = ss->height;
        sw[k] = ss->width;
        if (s == IMPASTO_OK && !(xs[k] = planes_from_image(ss))) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    const impasto_image *cs = cscaled ? cscaled : content;
    const int h = cs->height, w = cs->width, h4 = (h + 3) / 4 * 4, w4 = (w + 3) / 4 * 4;
    /* Both levels' plans first, so the progress total (per level: each style, then each tile of
     * the two passes) is known before any work. Level 2 runs on level 1's picture padded to (H4, W4). */
    tile_plan p1, p2;
    tile_meter meter = {0};
    const int nst = (int)nstyles;
    if (s == IMPASTO_OK) s = tile_plan_make(ctx, TILE_NET_ADAIN, h, w, opt->tile, opt->tile_halo, opt->memory_mb, &p1);
    if (s == IMPASTO_OK && lst)
        s = tile_plan_make(ctx, TILE_NET_LST, h4, w4, opt->tile, opt->tile_halo, opt->memory_mb, &p2);
    if (s == IMPASTO_OK) s = level_regions(ctx, opt->mask, nstyles, &p1, h, w, &reg1);
    if (s == IMPASTO_OK && lst) s = level_regions(ctx, opt->mask, nstyles, &p2, h, w, &reg2);
    if (s == IMPASTO_OK)
        tile_meter_start(&meter, opt->progress, opt->progress_user, lst ? 2 : 1,
                         nst + 2 * tile_count(&p1) + (lst ? nst + 2 * tile_count(&p2) : 0));
    if (s == IMPASTO_OK && (!(xc = planes_from_image(cs)) || !(x1 = malloc(3 * (size_t)h * (size_t)w * sizeof *x1))))
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    /* Level 1, relu4_1, then x1 clamped to 0..1. */
    if (s == IMPASTO_OK)
        s = run_level(ctx, adain->adain, &p1, xc, xs, sh, sw, nstyles, reg1, genes, opt, "relu4_1", &meter, x1);
    free(xc);
    xc = NULL;
    if (s == IMPASTO_OK)
        for (size_t i = 0; i < 3 * (size_t)h * (size_t)w; i++) x1[i] = x1[i] < 0.0f ? 0.0f : x1[i] > 1.0f ? 1.0f : x1[i];
    /* Level 2, relu3_1, on x1 padded to multiples of 4. */
    if (s == IMPASTO_OK && lst) {
        int ph, pw;
        if (!(xp = planes_pad_to_4(x1, h, w, &ph, &pw)) || !(x2 = malloc(3 * (size_t)h4 * (size_t)w4 * sizeof *x2)))
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        free(x1);
        x1 = NULL;
        meter.p.level = 1;
        if (s == IMPASTO_OK)
            s = run_level(ctx, lst->lst, &p2, xp, xs, sh, sw, nstyles, reg2, NULL, opt, "relu3_1", &meter, x2);
    }
    if (s == IMPASTO_OK) s = planes_to_image(ctx, x2 ? x2 : x1, lst ? h4 : h, lst ? w4 : w, cs, &result);
    free(x2);
    free(xp);
    free(x1);
    free(reg1);
    free(reg2);
    for (size_t k = 0; k < nstyles; k++) free(xs[k]), impasto_image_free(sscaled[k]);
    impasto_image_free(cscaled);
    if (s != IMPASTO_OK) return s;
    *out = result;
    return IMPASTO_OK;
}

impasto_status impasto_wct_styles(impasto_ctx *ctx, const impasto_model *adain, const impasto_model *lst,
                                  const impasto_image *content, const impasto_image *const *styles, size_t nstyles,
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
    impasto_status s = wct_run(ctx, adain, lst, content, styles, nstyles, opt, out);
    thread_scope_leave(&ts);
    return s;
}

impasto_status impasto_wct(impasto_ctx *ctx, const impasto_model *adain, const impasto_model *lst,
                           const impasto_image *content, const impasto_image *style,
                           const impasto_wct_options *opt, impasto_image **out) {
    return impasto_wct_styles(ctx, adain, lst, content, &style, 1, opt, out);
}
