/* WCT spatial control (impasto_wct_styles with impasto_wct_options.mask): each gray level of the
 * mask is a region whitened with its own content statistics and coloured with its own style.
 *
 * - Golden (tests/data/wct_golden.safetensors, tools/gen_golden_wct.py): a 40x44 content, a
 *   diagonal two-level 10x11 mask and two styles, both levels, alpha 0.8, against PyTorch/numpy
 *   float64: 1e-4 absolute on the clamped 0..1 picture (the unmasked golden's tolerance: the
 *   regions have fewer positions than channels, so the 1e-5 eigenvalue cut amplifies float32
 *   rounding as there).
 * - Tiled = untiled: forced 32-pixel tiles, three regions, within 1e-4 (measured 1e-5).
 * - Halves (the proof): a stationary 160x128 content (a wave and noise, the same
 *   statistics in both halves), a left/right mask, a red and a blue style, both levels: away from
 *   the edge (16 pixels either side, two relu4_1 cells) each half is the single-style WCT output
 *   of its own style within a mean absolute difference of 0.05 on 0..1 (measured 0.025 and 0.031:
 *   each half is whitened with its own covariance, estimated from half the positions, where the
 *   single-style run uses the whole picture's), and at least 5 times closer to it than to the
 *   other style's output (measured 0.36 from it).
 * - A one-level mask with one style is the unmasked run (1e-6), its region transformed in two
 *   batches of positions (more than WCT_GATHER at relu3_1).
 * - Refused with one message: a mask whose level count differs from the style count, several
 *   styles without a mask.
 * Needs models/adain.safetensors and models/lst-r31.safetensors (`make models`); skipped without. */
#include "formats/safetensors.h"
#include "impasto.h"
#include "mask_util.h"
#include "test.h"

#include <sys/stat.h>

#define GOLDEN "tests/data/wct_golden.safetensors"

static safetensors *golden;
static impasto_model *adain, *lst;

static float *golden_get(const char *name, const st_tensor **t) {
    *t = safetensors_find(golden, name);
    CHECK_MSG(*t != NULL, "golden tensor %s", name);
    if (!*t) return NULL;
    float *v = malloc((*t)->nelem * sizeof *v);
    CHECK(safetensors_get_f32(NULL, golden, name, (*t)->ndim, (*t)->shape, v) == IMPASTO_OK);
    return v;
}

/* (C, H, W) planes -> an image of C channels. */
static impasto_image *image_of(impasto_ctx *ctx, const float *p, int c, int h, int w) {
    impasto_image *img = NULL;
    CHECK(impasto_image_create(ctx, w, h, c, &img) == IMPASTO_OK);
    float *d = impasto_image_data(img);
    const size_t hw = (size_t)h * (size_t)w;
    for (size_t i = 0; i < hw; i++)
        for (int k = 0; k < c; k++) d[i * (size_t)c + (size_t)k] = p[(size_t)k * hw + i];
    return img;
}

/* max |out - ref| over an RGB image and (3, H, W) planes. */
static double max_err(const impasto_image *out, const float *ref) {
    const int h = impasto_image_height(out), w = impasto_image_width(out);
    const size_t hw = (size_t)h * (size_t)w;
    const float *d = impasto_image_cdata(out);
    double me = 0;
    for (size_t i = 0; i < hw; i++)
        for (int k = 0; k < 3; k++) me = fmax(me, fabs((double)d[i * 3 + (size_t)k] - ref[(size_t)k * hw + i]));
    return me;
}

static void test_golden_masked(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, 1);
    const st_tensor *tc, *ts, *ts2, *tm, *to;
    float *c = golden_get("content", &tc), *s = golden_get("style", &ts), *s2 = golden_get("style2", &ts2);
    float *m = golden_get("mask", &tm), *ref = golden_get("out_mask", &to);
    if (c && s && s2 && m && ref) {
        impasto_image *ci = image_of(ctx, c, 3, 40, 44), *si = image_of(ctx, s, 3, 36, 33);
        impasto_image *si2 = image_of(ctx, s2, 3, 30, 34), *mi = image_of(ctx, m, 1, 10, 11);
        const impasto_image *styles[2] = {si, si2};
        impasto_wct_options opt;
        impasto_wct_options_init(&opt);
        opt.alpha = 0.8;
        opt.content_size = opt.style_size = 0;
        opt.mask = mi;
        impasto_image *out = NULL;
        CHECK(impasto_wct_styles(ctx, adain, lst, ci, styles, 2, &opt, &out) == IMPASTO_OK);
        if (out) {
            double e = max_err(out, ref);
            printf("  max err %.3g\n", e);
            CHECK_MSG(e <= 1e-4, "masked WCT off the golden by %g", e);
        }
        impasto_image_free(out);
        impasto_image_free(ci), impasto_image_free(si), impasto_image_free(si2), impasto_image_free(mi);
    }
    free(c), free(s), free(s2), free(m), free(ref);
    impasto_ctx_free(ctx);
}

/* Mean |a - b| over RGB over columns [x0, x1). */
static double mean_diff(const impasto_image *a, const impasto_image *b, int x0, int x1) {
    const int w = impasto_image_width(a), h = impasto_image_height(a);
    const float *pa = impasto_image_cdata(a), *pb = impasto_image_cdata(b);
    double s = 0;
    size_t n = 0;
    for (int y = 0; y < h; y++)
        for (int x = x0; x < x1; x++, n++) {
            const size_t i = ((size_t)y * (size_t)w + (size_t)x) * 3;
            for (int c = 0; c < 3; c++) s += fabs(pa[i + (size_t)c] - pb[i + (size_t)c]);
        }
    return s / (3.0 * (double)n);
}

static int count_units(const impasto_pass_progress *p, void *user) {
    *(int *)user = p->total;
    return 0;
}

/* Forced 32-pixel tiles (4 x 3 at each level of a 128 x 96 picture), a
 * diagonal three-level mask: the per-region statistics summed over the tiles give the untiled
 * picture within 1e-4 (the exact halos; Winograd's tiles fall differently on the crops). */
static void test_tiled_is_untiled(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, 1);
    impasto_image *content = picture(ctx, 128, 96, 0.5f, 0.4f, 0.6f, 11), *mask = NULL;
    impasto_image *s1 = picture(ctx, 48, 40, 0.8f, 0.3f, 0.2f, 12), *s2 = picture(ctx, 40, 48, 0.2f, 0.7f, 0.3f, 13);
    impasto_image *s3 = picture(ctx, 44, 44, 0.3f, 0.2f, 0.9f, 14);
    CHECK(impasto_image_create(ctx, 32, 24, 1, &mask) == IMPASTO_OK);
    float *m = impasto_image_data(mask);
    for (int y = 0; y < 24; y++)
        for (int x = 0; x < 32; x++) m[y * 32 + x] = x + y < 20 ? 0.0f : x + y < 36 ? 0.5f : 1.0f;
    const impasto_image *styles[3] = {s1, s2, s3};
    impasto_wct_options opt;
    impasto_wct_options_init(&opt);
    opt.content_size = opt.style_size = 0;
    opt.mask = mask;
    opt.alpha = 0.9;
    impasto_image *whole = NULL, *tiled = NULL;
    int total = 0;
    opt.progress = count_units;
    opt.progress_user = &total;
    CHECK(impasto_wct_styles(ctx, adain, lst, content, styles, 3, &opt, &whole) == IMPASTO_OK);
    CHECK_MSG(total == 2 * (3 + 2), "%d units of work untiled", total);
    opt.tile = 32;
    CHECK(impasto_wct_styles(ctx, adain, lst, content, styles, 3, &opt, &tiled) == IMPASTO_OK);
    /* Per level: 3 styles, then each tile of the two passes. */
    CHECK_MSG(total == 2 * (3 + 2 * 12), "%d units of work tiled", total);
    if (whole && tiled) {
        const float *a = impasto_image_cdata(whole), *b = impasto_image_cdata(tiled);
        double me = 0;
        for (size_t i = 0; i < 3 * 128 * 96; i++) me = fmax(me, fabs((double)a[i] - b[i]));
        printf("  tiled vs untiled: max |diff| %.3g\n", me);
        CHECK_MSG(me <= 1e-4, "tiled differs by %g", me);
    }
    impasto_image_free(whole), impasto_image_free(tiled), impasto_image_free(mask), impasto_image_free(content);
    impasto_image_free(s1), impasto_image_free(s2), impasto_image_free(s3);
    impasto_ctx_free(ctx);
}

#define HW 160
#define HH 128
#define EDGE 16

static void test_halves_follow_styles(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, 1);
    impasto_image *content = picture(ctx, HW, HH, 0.5f, 0.5f, 0.5f, 1);
    impasto_image *red = picture(ctx, 64, 64, 0.85f, 0.15f, 0.1f, 2), *blue = picture(ctx, 64, 64, 0.1f, 0.2f, 0.85f, 3);
    impasto_image *mask = split_mask(ctx, 40, 32, 0.0f, 1.0f);
    const impasto_image *styles[2] = {red, blue};
    impasto_wct_options opt;
    impasto_wct_options_init(&opt);
    opt.content_size = opt.style_size = 0;
    impasto_image *only_red = NULL, *only_blue = NULL, *masked = NULL;
    CHECK(impasto_wct(ctx, adain, lst, content, red, &opt, &only_red) == IMPASTO_OK);
    CHECK(impasto_wct(ctx, adain, lst, content, blue, &opt, &only_blue) == IMPASTO_OK);
    opt.mask = mask;
    CHECK(impasto_wct_styles(ctx, adain, lst, content, styles, 2, &opt, &masked) == IMPASTO_OK);
    if (only_red && only_blue && masked) {
        const double lr = mean_diff(masked, only_red, 0, HW / 2 - EDGE);
        const double lb = mean_diff(masked, only_blue, 0, HW / 2 - EDGE);
        const double rr = mean_diff(masked, only_red, HW / 2 + EDGE, HW);
        const double rb = mean_diff(masked, only_blue, HW / 2 + EDGE, HW);
        printf("  left: |masked - red| %.4f, |masked - blue| %.4f\n", lr, lb);
        printf("  right: |masked - red| %.4f, |masked - blue| %.4f\n", rr, rb);
        CHECK_MSG(lr < 0.05 && rb < 0.05, "a half is off its own style's output: %g, %g", lr, rb);
        CHECK(5 * lr < lb && 5 * rb < rr);
    }
    impasto_image_free(only_red), impasto_image_free(only_blue), impasto_image_free(masked);
    impasto_image_free(mask), impasto_image_free(content), impasto_image_free(red), impasto_image_free(blue);
    impasto_ctx_free(ctx);
}

/* 288 x 256: 4608 relu3_1 positions in the one region, past WCT_GATHER (4096), so the masked
 * pass transforms them in two batches; the unmasked pass in one. */
static void test_one_level_is_unmasked(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, 1);
    impasto_image *content = picture(ctx, 288, 256, 0.4f, 0.6f, 0.3f, 4), *style = picture(ctx, 32, 32, 0.7f, 0.3f, 0.5f, 5);
    impasto_image *mask = split_mask(ctx, 7, 5, 0.5f, 0.5f), *a = NULL, *b = NULL;
    impasto_wct_options opt;
    impasto_wct_options_init(&opt);
    opt.content_size = opt.style_size = 0;
    opt.alpha = 0.7;
    CHECK(impasto_wct(ctx, adain, lst, content, style, &opt, &a) == IMPASTO_OK);
    opt.mask = mask;
    CHECK(impasto_wct(ctx, adain, lst, content, style, &opt, &b) == IMPASTO_OK);
    if (a && b) {
        double d = mean_diff(a, b, 0, 288);
        CHECK_MSG(d < 1e-6, "one-level mask differs by %g", d);
    }
    impasto_image_free(a), impasto_image_free(b), impasto_image_free(mask);
    impasto_image_free(content), impasto_image_free(style);
    impasto_ctx_free(ctx);
}

static void test_mask_errors(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, 1);
    impasto_image *content = picture(ctx, 64, 48, 0.5f, 0.5f, 0.5f, 6), *style = picture(ctx, 32, 32, 0.2f, 0.5f, 0.5f, 7);
    impasto_image *mask = split_mask(ctx, 16, 16, 0.0f, 1.0f), *out = NULL;
    float *m = impasto_image_data(mask);
    m[0] = 0.5f;  // a third level
    const impasto_image *styles[2] = {style, style};
    impasto_wct_options opt;
    impasto_wct_options_init(&opt);
    opt.content_size = opt.style_size = 0;
    opt.mask = mask;
    CHECK(impasto_wct_styles(ctx, adain, NULL, content, styles, 2, &opt, &out) == IMPASTO_ERR_INVALID_ARG && !out);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "3 gray levels for 2 style") != NULL, "%s", impasto_ctx_error(ctx));
    opt.mask = NULL;
    CHECK(impasto_wct_styles(ctx, adain, NULL, content, styles, 2, &opt, &out) == IMPASTO_ERR_INVALID_ARG && !out);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "needs a mask") != NULL, "%s", impasto_ctx_error(ctx));
    m[0] = 0.0f;
    opt.mask = mask;
    CHECK(impasto_wct_styles(ctx, adain, NULL, content, styles, 2, &opt, &out) == IMPASTO_OK && out);
    impasto_image_free(out);
    impasto_image_free(mask), impasto_image_free(content), impasto_image_free(style);
    impasto_ctx_free(ctx);
}

int main(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    struct stat st;
    if (stat("models/adain.safetensors", &st) != 0 || stat("models/lst-r31.safetensors", &st) != 0) {
        printf("skipped: no models/adain.safetensors or models/lst-r31.safetensors (make models)\n");
        impasto_ctx_free(ctx);
        return test_summary();
    }
    if (impasto_model_load(ctx, "models/adain.safetensors", &adain) != IMPASTO_OK ||
        impasto_model_load(ctx, "models/lst-r31.safetensors", &lst) != IMPASTO_OK ||
        safetensors_open(ctx, GOLDEN, &golden) != IMPASTO_OK) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        test_failed_count++;
    } else {
        RUN(test_golden_masked);
        RUN(test_tiled_is_untiled);
        RUN(test_halves_follow_styles);
        RUN(test_one_level_is_unmasked);
        RUN(test_mask_errors);
    }
    impasto_model_free(adain);
    impasto_model_free(lst);
    safetensors_close(golden);
    impasto_ctx_free(ctx);
    return test_summary();
}
