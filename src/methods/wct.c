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
 * decoders for. */
#include "core/ctx.h"
#include "core/gemm.h"
#include "io/image.h"
#include "methods/planes.h"
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
}

/* WCT of content features fc (C, n) with style features fs (C, ns) into *t (C, n), malloc'd. */
static impasto_status transform(impasto_ctx *ctx, int c, const float *fc, size_t n, const float *fs, size_t ns,
                                double alpha, const char *level, float **t) {
    *t = NULL;
    if (n < 2 || ns < 2)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "WCT at %s needs at least 2 feature positions per image "
                        "(the %s is too small)", level, n < 2 ? "content" : "style");
    const size_t nws = wct_workspace(c, n, ns);
    if (nws == 0 || nws > SIZE_MAX / sizeof(double) || (size_t)c * n > SIZE_MAX / sizeof(float))
        return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "WCT at %s: features too large", level);
    double *ws = malloc(nws * sizeof *ws);  // wct_workspace doubles
    float *y = malloc((size_t)c * n * sizeof *y);  // (C, n)
    if (!ws || !y) {
        free(ws);
        free(y);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (WCT at %s)", level);
    }
    int info = wct_forward(c, n, fc, ns, fs, (float)alpha, y, ws);
    free(ws);
    if (info != 0) {
        free(y);
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "WCT at %s: the eigendecomposition failed (LAPACK info %d; "
                        "non-finite features?)", level, info);
    }
    *t = y;
    return IMPASTO_OK;
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

/* planes (3, ph, pw) -> clamped (3, h, w), the bottom/right extra dropped; malloc'd. */
static float *crop_clamp(const float *planes, int ph, int pw, int h, int w) {
    float *o = malloc(3 * (size_t)h * (size_t)w * sizeof *o);  // (3, h, w)
    if (!o) return NULL;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                float v = planes[((size_t)c * (size_t)ph + (size_t)y) * (size_t)pw + (size_t)x];
                o[((size_t)c * (size_t)h + (size_t)y) * (size_t)w + (size_t)x] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
            }
    return o;
}

/* Level 1: xc (3, h, w), xs (3, sh, sw) -> *x1 (3, h, w) clamped. */
static impasto_status level_relu4_1(impasto_ctx *ctx, const adain_net *net, const float *xc, int h, int w,
                                    const float *xs, int sh, int sw, double alpha, float **x1) {
    *x1 = NULL;
    float *fc = NULL, *fs = NULL, *t = NULL, *img = NULL;  // (512, FH, FW), (512, SFH, SFW), (512, FH, FW), (3, 8 FH, 8 FW)
    int fh = 0, fw = 0, sfh = 0, sfw = 0;
    impasto_status s = adain_encode(ctx, net, xc, h, w, &fc, &fh, &fw);
    if (s == IMPASTO_OK) s = adain_encode(ctx, net, xs, sh, sw, &fs, &sfh, &sfw);
    if (s == IMPASTO_OK)
        s = transform(ctx, ADAIN_FEAT_C, fc, (size_t)fh * (size_t)fw, fs, (size_t)sfh * (size_t)sfw, alpha,
                      "relu4_1", &t);
    if (s == IMPASTO_OK) s = adain_decode(ctx, net, t, fh, fw, &img);
    if (s == IMPASTO_OK && !(*x1 = crop_clamp(img, 8 * fh, 8 * fw, h, w)))
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    free(img);
    free(t);
    free(fs);
    free(fc);
    return s;
}

/* Level 2: x1 (3, h, w), xs (3, sh, sw) -> *out (3, h4, w4) unclamped, h4, w4 the multiples of 4
 * x1 was padded to. */
static impasto_status level_relu3_1(impasto_ctx *ctx, const adain_net *net, const float *x1, int h, int w,
                                    const float *xs, int sh, int sw, double alpha, float **out, int *h4, int *w4) {
    *out = NULL;
    float *fc = NULL, *fs = NULL, *t = NULL;  // (256, h4/4, w4/4), (256, SFH, SFW), (256, h4/4, w4/4)
    int fh = 0, fw = 0, sfh = 0, sfw = 0;
    float *xp = pad_to_4(x1, h, w, h4, w4);  // (3, h4, w4)
    impasto_status s = xp ? IMPASTO_OK : ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK) s = lst_encode(ctx, net, xp, *h4, *w4, &fc, &fh, &fw);
    if (s == IMPASTO_OK) s = lst_encode(ctx, net, xs, sh, sw, &fs, &sfh, &sfw);
    if (s == IMPASTO_OK)
        s = transform(ctx, LST_FEAT_C, fc, (size_t)fh * (size_t)fw, fs, (size_t)sfh * (size_t)sfw, alpha,
                      "relu3_1", &t);
    if (s == IMPASTO_OK) s = lst_decode(ctx, net, t, fh, fw, out);
    free(t);
    free(fs);
    free(fc);
    free(xp);
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

    /* The convolutions take their team size from the context; the other layers from OpenMP. */
    const int nthreads = ctx_threads(ctx);
    gemm_set_threads(nthreads);
    omp_set_num_threads(nthreads);

    impasto_image *cscaled = NULL, *sscaled = NULL, *result = NULL;
    float *xc = NULL, *xs = NULL, *x1 = NULL, *x2 = NULL;  // (3, H, W), (3, SH, SW), (3, H, W), (3, H4, W4)
    impasto_status s = planes_maybe_resize(ctx, content, opt->content_size, &cscaled);
    if (s == IMPASTO_OK) s = planes_maybe_resize(ctx, style, opt->style_size, &sscaled);
    const impasto_image *cs = cscaled ? cscaled : content, *ss = sscaled ? sscaled : style;
    if (s == IMPASTO_OK && (!(xc = planes_from_image(cs)) || !(xs = planes_from_image(ss))))
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK)
        s = level_relu4_1(ctx, adain->adain, xc, cs->height, cs->width, xs, ss->height, ss->width, opt->alpha, &x1);
    int h4 = cs->height, w4 = cs->width;
    if (s == IMPASTO_OK && lst)
        s = level_relu3_1(ctx, lst->lst, x1, cs->height, cs->width, xs, ss->height, ss->width, opt->alpha, &x2,
                          &h4, &w4);
    if (s == IMPASTO_OK) s = planes_to_image(ctx, x2 ? x2 : x1, h4, w4, cs, &result);
    free(x2);
    free(x1);
    free(xs);
    free(xc);
    impasto_image_free(sscaled);
    impasto_image_free(cscaled);
    if (s != IMPASTO_OK) return s;
    *out = result;
    return IMPASTO_OK;
}
