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
#include "core/gemm.h"
#include "io/image.h"
#include "methods/planes.h"
#include "methods/tile.h"
#include "models/model.h"
#include "nn/nn.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define WCT_MAX_SIDE 16384

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

/* The mean (C) and covariance (C, C) of x's features (3, h, w) over the whole image, through
 * tiles of p; *keep as tile_features. */
static impasto_status image_moments(impasto_ctx *ctx, const adain_net *net, const tile_plan *p, const float *x,
                                    const char *level, const char *what, double *mean, double *cov, float **keep) {
    cov_acc a = {p->c, 0, 0, calloc((size_t)p->c, sizeof(double)), calloc((size_t)p->c, sizeof(double)), cov};
    memset(cov, 0, (size_t)p->c * (size_t)p->c * sizeof *cov);
    impasto_status s = a.shift && a.s1 ? IMPASTO_OK : ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK) s = tile_features(ctx, net, p, x, cov_add, &a, keep);
    if (s == IMPASTO_OK && a.n < 2)
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT at %s needs at least 2 feature positions per image "
                     "(the %s is too small)", level, what);
    if (s == IMPASTO_OK) wct_moments(p->c, a.n, a.shift, a.s1, cov, mean);
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

/* One level: x (3, h, w) and the style xs (3, sh, sw) -> y (3, h, w), unclamped. */
static impasto_status run_level(impasto_ctx *ctx, const adain_net *net, tile_net_kind kind, const float *x, int h,
                                int w, const float *xs, int sh, int sw, const impasto_wct_options *opt,
                                const char *level, float *y) {
    tile_plan pc, ps;
    impasto_status s = tile_plan_make(ctx, kind, h, w, opt->tile, opt->tile_halo, opt->memory_mb, &pc);
    if (s == IMPASTO_OK)
        s = tile_plan_make(ctx, kind, sh, sw, opt->tile == 0 ? 0 : -1, opt->tile_halo, opt->memory_mb, &ps);
    if (s != IMPASTO_OK) return s;
    const int c = pc.c;
    const size_t cc = (size_t)c * (size_t)c, nws = wct_build_workspace(c);
    double *mc = malloc((size_t)c * sizeof *mc), *ms = malloc((size_t)c * sizeof *ms);  // (C), (C)
    double *covc = malloc(cc * sizeof *covc), *covs = malloc(cc * sizeof *covs);        // (C, C), (C, C)
    double *ws = malloc(nws * sizeof *ws);
    float *t = malloc(cc * sizeof *t), *b = malloc((size_t)c * sizeof *b);              // (C, C), (C)
    float *keep = NULL;  // a single tile's pass-1 features (C, FH, FW)
    if (!mc || !ms || !covc || !covs || !ws || !t || !b) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (WCT)");
    if (s == IMPASTO_OK) s = image_moments(ctx, net, &ps, xs, level, "style", ms, covs, NULL);
    if (s == IMPASTO_OK) s = image_moments(ctx, net, &pc, x, level, "content", mc, covc, &keep);
    if (s == IMPASTO_OK) {
        int info = wct_build(c, mc, covc, ms, covs, t, b, ws);
        if (info != 0)
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "WCT at %s: the eigendecomposition failed (LAPACK info %d; "
                         "non-finite features?)", level, info);
    }
    if (s == IMPASTO_OK) {
        wct_coef k = {c, t, b, (float)opt->alpha};
        s = tile_stylize(ctx, net, &pc, x, keep, wct_tile, &k, y);
        keep = NULL;
    }
    free(keep);
    free(mc), free(ms), free(covc), free(covs), free(ws), free(t), free(b);
    return s;
}

impasto_status impasto_wct(impasto_ctx *ctx, const impasto_model *adain, const impasto_model *lst,
                           const impasto_image *content, const impasto_image *style,
                           const impasto_wct_options *opt, impasto_image **out) {
    *out = NULL;
    impasto_wct_options defaults;
    if (!opt) {
        impasto_wct_options_init(&defaults);
        opt = &defaults;
    }
    if (!adain || !adain->adain)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_wct needs an AdaIN model (impasto convert adain) "
                        "for its relu4_1 level");
    if (lst && !lst->lst)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_wct: the relu3_1 model must be of kind lst-r31 "
                        "(impasto convert lst-r31)");
    if (!content || !style) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_wct: no content or style image");
    if (!(opt->alpha >= 0 && opt->alpha <= 1))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "alpha must be between 0 and 1");
    if (opt->content_size < 0 || opt->content_size > WCT_MAX_SIDE || opt->style_size < 0 ||
        opt->style_size > WCT_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "content and style sizes must be 0 (keep) .. %d", WCT_MAX_SIDE);
    impasto_status ts = tile_check_options(ctx, opt->tile, opt->tile_halo, opt->memory_mb);
    if (ts != IMPASTO_OK) return ts;

    /* The convolutions take their team size from the context; the other layers from OpenMP. */
    const int nthreads = ctx_threads(ctx);
    gemm_set_threads(nthreads);
    omp_set_num_threads(nthreads);

    impasto_image *cscaled = NULL, *sscaled = NULL, *result = NULL;
    float *xc = NULL, *xs = NULL, *x1 = NULL, *xp = NULL, *x2 = NULL;  // (3, H, W), (3, SH, SW), (3, H, W), (3, H4, W4) x2
    impasto_status s = planes_maybe_resize(ctx, content, opt->content_size, &cscaled);
    if (s == IMPASTO_OK) s = planes_maybe_resize(ctx, style, opt->style_size, &sscaled);
    const impasto_image *cs = cscaled ? cscaled : content, *ss = sscaled ? sscaled : style;
    const int h = cs->height, w = cs->width;
    if (s == IMPASTO_OK && (!(xc = planes_from_image(cs)) || !(xs = planes_from_image(ss)) ||
                            !(x1 = malloc(3 * (size_t)h * (size_t)w * sizeof *x1))))
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    /* Level 1, relu4_1, then x1 clamped to 0..1. */
    if (s == IMPASTO_OK)
        s = run_level(ctx, adain->adain, TILE_NET_ADAIN, xc, h, w, xs, ss->height, ss->width, opt, "relu4_1", x1);
    free(xc);
    xc = NULL;
    if (s == IMPASTO_OK)
        for (size_t i = 0; i < 3 * (size_t)h * (size_t)w; i++) x1[i] = x1[i] < 0.0f ? 0.0f : x1[i] > 1.0f ? 1.0f : x1[i];
    /* Level 2, relu3_1, on x1 padded to multiples of 4. */
    int h4 = h, w4 = w;
    if (s == IMPASTO_OK && lst) {
        if (!(xp = pad_to_4(x1, h, w, &h4, &w4)) || !(x2 = malloc(3 * (size_t)h4 * (size_t)w4 * sizeof *x2)))
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        free(x1);
        x1 = NULL;
        if (s == IMPASTO_OK)
            s = run_level(ctx, lst->lst, TILE_NET_LST, xp, h4, w4, xs, ss->height, ss->width, opt, "relu3_1", x2);
    }
    if (s == IMPASTO_OK) s = planes_to_image(ctx, x2 ? x2 : x1, h4, w4, cs, &result);
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
