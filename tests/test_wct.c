/* WCT (Li et al. 2017): the transform's defining properties, a golden comparison against numpy,
 * the lst-r31 relu3_1 encoder/decoder against PyTorch, and impasto_wct through the public API
 * (tests/data/wct_golden.safetensors from tools/gen_golden_wct.py).
 *
 * Tolerances:
 * - alpha 1, full-rank features (C 16, n 400 and 300): the output's mean equals the style's within
 *   1e-4 of the style's largest |mean|, its covariance the style's within 1e-3 of the largest
 *   |covariance entry| (float32 features through a float GEMM; measured ~5e-7).
 * - transform vs numpy float64: 1e-4 of max |y| (the C side folds the transform into one matrix
 *   applied in float32).
 * - lst-r31 network: 1e-4 of max |value| (summation order only; a wrong padding or pooling rule
 *   is off by order 1).
 * - the whole method: 1e-4 absolute on the clamped 0..1 picture (measured ~1e-6; two levels, each
 *   whitening with small eigenvalues that amplify float32 rounding, so not tighter).
 * Also progress and cancel (three units a level untiled), and bad weights: NaN refused at load,
 * huge decoder weights giving IMPASTO_ERR_NOT_FINITE at the level they are in. */
#include "core/ctx.h"
#include "core/image.h"
#include "formats/safetensors.h"
#include "models/adain.h"
#include "models/model.h"
#include "nn/nn.h"
#include "model_patch.h"
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

#define GOLDEN "tests/data/wct_golden.safetensors"

static safetensors *golden;
static impasto_model *adain, *lst;

/* mean (C) and covariance (C, C) of x (C, n), unbiased, in double. */
static void moments(int c, size_t n, const float *x, double *mean, double *cov) {
    for (int i = 0; i < c; i++) {
        double s = 0;
        for (size_t k = 0; k < n; k++) s += x[(size_t)i * n + k];
        mean[i] = s / (double)n;
    }
    for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++) {
            double s = 0;
            for (size_t k = 0; k < n; k++)
                s += (x[(size_t)i * n + k] - mean[i]) * (x[(size_t)j * n + k] - mean[j]);
            cov[(size_t)i * (size_t)c + (size_t)j] = s / (double)(n - 1);
        }
}

/* x (C, n) = A z + offset with a random mixing A (C, r): correlated channels of rank r. */
static void correlated(unsigned long long *st, int c, size_t n, int r, float *x) {
    float *a = malloc((size_t)c * (size_t)r * sizeof *a);
    for (int i = 0; i < c * r; i++) a[i] = test_uniform(st, -1.5f, 1.5f);
    for (size_t k = 0; k < n; k++) {
        float z[64];
        for (int j = 0; j < r; j++) z[j] = test_uniform(st, -1, 1) * (float)(j + 1) * 0.5f;
        for (int i = 0; i < c; i++) {
            double s = 2.0 * i / c - 1.0;
            for (int j = 0; j < r; j++) s += a[i * r + j] * z[j];
            x[(size_t)i * n + k] = (float)s;
        }
    }
    free(a);
}

static void run_wct(int c, size_t nc, const float *fc, size_t ns, const float *fs, float alpha, float *y) {
    double *ws = malloc(wct_workspace(c, nc, ns) * sizeof *ws);
    CHECK(wct_forward(c, nc, fc, ns, fs, alpha, y, ws) == 0);
    free(ws);
}

/* Alpha 1: the output has the style's mean and covariance (Li et al.'s eq. 3 by construction). */
static void check_matches_style(int c, size_t nc, size_t ns, int style_rank) {
    unsigned long long st = 0x9e3779b97f4a7c15ULL + (unsigned long long)style_rank;
    float *fc = malloc((size_t)c * nc * sizeof *fc), *fs = malloc((size_t)c * ns * sizeof *fs);
    float *y = malloc((size_t)c * nc * sizeof *y);
    correlated(&st, c, nc, c, fc);
    correlated(&st, c, ns, style_rank, fs);
    run_wct(c, nc, fc, ns, fs, 1.0f, y);
    const size_t cc = (size_t)c * (size_t)c;
    double *ms = malloc((size_t)c * sizeof *ms), *my = malloc((size_t)c * sizeof *my);
    double *cs = malloc(cc * sizeof *cs), *cy = malloc(cc * sizeof *cy);
    moments(c, ns, fs, ms, cs);
    moments(c, nc, y, my, cy);
    double mmax = 0, merr = 0, cmax = 0, cerr = 0;
    for (int i = 0; i < c; i++) {
        mmax = fmax(mmax, fabs(ms[i]));
        merr = fmax(merr, fabs(my[i] - ms[i]));
    }
    for (size_t i = 0; i < cc; i++) {
        cmax = fmax(cmax, fabs(cs[i]));
        cerr = fmax(cerr, fabs(cy[i] - cs[i]));
    }
    printf("  C %d, style rank %d: mean err %.3g of %.3g, covariance err %.3g of %.3g\n", c, style_rank, merr, mmax,
           cerr, cmax);
    CHECK_MSG(merr <= 1e-4 * mmax, "mean error %g", merr);
    CHECK_MSG(cerr <= 1e-3 * cmax, "covariance error %g", cerr);
    free(fc), free(fs), free(y), free(ms), free(my), free(cs), free(cy);
}

static void test_wct_statistics(void) {
    check_matches_style(16, 400, 300, 16);
    /* A rank-3 style: its 13 null directions fall under the 1e-5 cut and stay out of the colouring. */
    check_matches_style(16, 400, 300, 3);
}

static void test_wct_alpha(void) {
    unsigned long long st = 42;
    const int c = 8;
    const size_t nc = 50, ns = 40;
    float fc[8 * 50], fs[8 * 40], y0[8 * 50], y1[8 * 50], yh[8 * 50];
    correlated(&st, c, nc, c, fc);
    correlated(&st, c, ns, c, fs);
    run_wct(c, nc, fc, ns, fs, 0.0f, y0);
    run_wct(c, nc, fc, ns, fs, 1.0f, y1);
    run_wct(c, nc, fc, ns, fs, 0.25f, yh);
    double e0 = 0, eh = 0;
    for (size_t i = 0; i < (size_t)c * nc; i++) {
        e0 = fmax(e0, fabs(y0[i] - fc[i]));
        eh = fmax(eh, fabs(yh[i] - (0.25 * y1[i] + 0.75 * fc[i])));
    }
    CHECK_MSG(e0 == 0, "alpha 0 changed the content by %g", e0);
    CHECK_MSG(eh < 1e-5, "alpha 0.25 is not the blend: %g", eh);
}

static float *golden_get(const char *name, const st_tensor **t) {
    *t = safetensors_find(golden, name);
    CHECK_MSG(*t != NULL, "golden tensor %s", name);
    if (!*t) return NULL;
    float *v = malloc((*t)->nelem * sizeof *v);
    CHECK(safetensors_get_f32(NULL, golden, name, (*t)->ndim, (*t)->shape, v) == IMPASTO_OK);
    return v;
}

/* max |y - ref| <= rel * max |ref| (or <= abs when rel is 0). */
static void compare(const char *name, const float *y, const float *ref, size_t n, double rel, double abs_tol) {
    double mr = 0, me = 0;
    for (size_t i = 0; i < n; i++) {
        mr = fmax(mr, fabs(ref[i]));
        me = fmax(me, fabs((double)y[i] - ref[i]));
    }
    printf("  %-8s max|ref| %9.4g  max err %9.3g (%.2g of max)\n", name, mr, me, me / mr);
    double tol = rel > 0 ? rel * mr : abs_tol;
    CHECK_MSG(me <= tol, "%s: max error %g > %g", name, me, tol);
}

static void golden_case(const char *p, float alpha) {
    char nc_[16], ns_[16], ny[16];
    snprintf(nc_, sizeof nc_, "%s_c", p);
    snprintf(ns_, sizeof ns_, "%s_s", p);
    snprintf(ny, sizeof ny, "%s_y", p);
    const st_tensor *tc, *ts, *ty;
    float *fc = golden_get(nc_, &tc), *fs = golden_get(ns_, &ts), *ref = golden_get(ny, &ty);
    if (fc && fs && ref) {
        const int c = (int)tc->shape[0];
        const size_t n = (size_t)tc->shape[1], m = (size_t)ts->shape[1];
        float *y = malloc((size_t)c * n * sizeof *y);
        run_wct(c, n, fc, m, fs, alpha, y);
        compare(ny, y, ref, (size_t)c * n, 1e-4, 0);
        free(y);
    }
    free(fc), free(fs), free(ref);
}

static void test_golden_transform(void) {
    golden_case("wa", 0.7f);
    golden_case("wb", 1.0f);
}

static void test_golden_lst(void) {
    if (!lst) {
        printf("  skipped (no models/lst-r31.safetensors)\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, 1);
    const st_tensor *ti, *tf, *to;
    float *in = golden_get("lst_in", &ti), *fref = golden_get("lst_feat", &tf), *oref = golden_get("lst_out", &to);
    float *f = NULL, *o = NULL;
    int fh = 0, fw = 0;
    CHECK(lst_encode(ctx, lst->lst, in, 18, 22, &f, &fh, &fw) == IMPASTO_OK);
    CHECK(fh == 4 && fw == 5);
    if (f && fh == 4 && fw == 5) {
        compare("lst_feat", f, fref, tf->nelem, 1e-4, 0);
        CHECK(lst_decode(ctx, lst->lst, fref, 4, 5, &o) == IMPASTO_OK);
        if (o) compare("lst_out", o, oref, to->nelem, 1e-4, 0);
    }
    /* Floor-mode pooling: 3 rows cannot survive two poolings. */
    float *g = NULL;
    CHECK(lst_encode(ctx, lst->lst, in, 3, 22, &g, &fh, &fw) == IMPASTO_ERR_INVALID_ARG);
    free(g), free(f), free(o), free(in), free(fref), free(oref);
    impasto_ctx_free(ctx);
}

/* (3, H, W) planes -> an RGB image. */
static impasto_image *image_of(impasto_ctx *ctx, const float *p, int h, int w) {
    impasto_image *img = NULL;
    CHECK(impasto_image_create(ctx, w, h, 3, &img) == IMPASTO_OK);
    float *d = impasto_image_data(img);
    const size_t hw = (size_t)h * (size_t)w;
    for (size_t i = 0; i < hw; i++)
        for (int c = 0; c < 3; c++) d[i * 3 + (size_t)c] = p[(size_t)c * hw + i];
    return img;
}

static void test_golden_method(void) {
    if (!adain || !lst) {
        printf("  skipped (no models/adain.safetensors or models/lst-r31.safetensors)\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, 1);
    const st_tensor *tc, *ts, *to;
    float *c = golden_get("content", &tc), *s = golden_get("style", &ts), *ref = golden_get("out", &to);
    impasto_image *ci = image_of(ctx, c, 40, 44), *si = image_of(ctx, s, 36, 33), *out = NULL;
    impasto_wct_options opt;
    impasto_wct_options_init(&opt);
    opt.alpha = 0.8;
    opt.content_size = opt.style_size = 0;
    CHECK(impasto_wct(ctx, adain, lst, ci, si, &opt, &out) == IMPASTO_OK);
    if (out) {
        CHECK(impasto_image_width(out) == 44 && impasto_image_height(out) == 40 && impasto_image_channels(out) == 3);
        float *p = malloc(3 * 40 * 44 * sizeof *p);
        const float *d = impasto_image_cdata(out);
        for (size_t i = 0; i < 40 * 44; i++)
            for (int k = 0; k < 3; k++) p[(size_t)k * 40 * 44 + i] = d[i * 3 + (size_t)k];
        compare("out", p, ref, to->nelem, 0, 1e-4);
        free(p);
    }
    impasto_image_free(out);
    impasto_image_free(ci);
    impasto_image_free(si);
    free(c), free(s), free(ref);
    impasto_ctx_free(ctx);
}

static void test_method_errors(void) {
    if (!adain || !lst) {
        printf("  skipped (no models)\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, 1);
    impasto_image *big = NULL, *tiny = NULL, *rgba = NULL, *out = NULL;
    CHECK(impasto_image_create(ctx, 30, 20, 3, &big) == IMPASTO_OK);
    CHECK(impasto_image_create(ctx, 8, 8, 3, &tiny) == IMPASTO_OK);
    CHECK(impasto_image_create(ctx, 27, 21, 4, &rgba) == IMPASTO_OK);
    unsigned long long st = 5;
    float *d = impasto_image_data(big);
    for (int i = 0; i < 30 * 20 * 3; i++) d[i] = test_uniform(&st, 0, 1);
    d = impasto_image_data(rgba);
    for (int i = 0; i < 27 * 21 * 4; i++) d[i] = test_uniform(&st, 0, 1);
    impasto_wct_options opt;
    impasto_wct_options_init(&opt);
    opt.content_size = opt.style_size = 0;
    /* 8x8 is one relu4_1 position: no covariance. */
    CHECK(impasto_wct(ctx, adain, lst, tiny, big, &opt, &out) == IMPASTO_ERR_INVALID_ARG && !out);
    CHECK(strstr(impasto_ctx_error(ctx), "content") != NULL);
    CHECK(impasto_wct(ctx, adain, lst, big, tiny, &opt, &out) == IMPASTO_ERR_INVALID_ARG && !out);
    CHECK(impasto_wct(ctx, lst, NULL, big, big, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    CHECK(impasto_wct(ctx, adain, adain, big, big, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    opt.alpha = 1.5;
    CHECK(impasto_wct(ctx, adain, lst, big, big, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    opt.alpha = 1;
    /* One level only, and alpha carried over from an RGBA content of odd size. */
    CHECK(impasto_wct(ctx, adain, NULL, rgba, big, &opt, &out) == IMPASTO_OK);
    if (out) {
        CHECK(impasto_image_width(out) == 27 && impasto_image_height(out) == 21 && impasto_image_channels(out) == 4);
        const float *o = impasto_image_cdata(out), *a = impasto_image_cdata(rgba);
        int alpha_ok = 1, range_ok = 1;
        for (int i = 0; i < 27 * 21; i++) {
            alpha_ok &= o[i * 4 + 3] == a[i * 4 + 3];
            for (int k = 0; k < 3; k++) range_ok &= o[i * 4 + k] >= 0 && o[i * 4 + k] <= 1;
        }
        CHECK(alpha_ok && range_ok);
    }
    impasto_image_free(out);
    impasto_image_free(big);
    impasto_image_free(tiny);
    impasto_image_free(rgba);
    impasto_ctx_free(ctx);
}

/* What a progress callback saw (see test_adain.c's pass_log): calls in order, each checked as
 * it comes, and a cancel at call number cancel_at (0: never). */
typedef struct pass_log {
    int calls, total, last_done, bad, cancel_at, num_levels;
    char seen[16][24];  /* "<level>:<stage>" per call */
} pass_log;

static int log_pass(const impasto_pass_progress *p, void *user) {
    pass_log *l = user;
    if (l->calls == 0) l->total = p->total, l->num_levels = p->num_levels;
    if (p->total != l->total || p->done != l->last_done + 1 || p->done > p->total || p->num_levels != l->num_levels ||
        p->level < 0 || p->level >= p->num_levels || !p->stage || p->seconds < 0)
        l->bad++;
    if (l->calls < 16) snprintf(l->seen[l->calls], sizeof l->seen[0], "%d:%s", p->level, p->stage ? p->stage : "");
    l->last_done = p->done;
    l->calls++;
    return l->cancel_at && l->calls == l->cancel_at;
}

/* Untiled, each level is three units: its style encoded, the content's statistics, the stylize
 * pass. Two levels: 6 calls, levels 0 then 1, done reaching total on the last; one level: 3. A
 * cancel (in level 1, or in level 2) gives IMPASTO_ERR_CANCELLED and no image. */
static void test_progress_and_cancel(void) {
    if (!adain || !lst) {
        printf("  skipped (no models)\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *c = NULL, *st = NULL, *out = NULL;
    CHECK(impasto_image_create(ctx, 44, 40, 3, &c) == IMPASTO_OK);
    CHECK(impasto_image_create(ctx, 33, 36, 3, &st) == IMPASTO_OK);
    unsigned long long rng = 11;
    for (int i = 0; i < 44 * 40 * 3; i++) impasto_image_data(c)[i] = test_uniform(&rng, 0, 1);
    for (int i = 0; i < 33 * 36 * 3; i++) impasto_image_data(st)[i] = test_uniform(&rng, 0, 1);
    impasto_wct_options opt;
    impasto_wct_options_init(&opt);
    CHECK(opt.progress == NULL && opt.progress_user == NULL);
    opt.content_size = opt.style_size = 0;
    opt.tile = 0;
    pass_log two = {0}, one = {0};
    opt.progress = log_pass;
    opt.progress_user = &two;
    CHECK_MSG(impasto_wct(ctx, adain, lst, c, st, &opt, &out) == IMPASTO_OK && out, "%s", impasto_ctx_error(ctx));
    CHECK_MSG(two.calls == 6 && two.total == 6 && two.last_done == 6 && two.num_levels == 2 && !two.bad,
              "calls %d total %d done %d levels %d bad %d", two.calls, two.total, two.last_done, two.num_levels, two.bad);
    const char *want[6] = {"0:style", "0:statistics", "0:stylize", "1:style", "1:statistics", "1:stylize"};
    for (int i = 0; i < 6 && i < two.calls; i++) CHECK_MSG(!strcmp(two.seen[i], want[i]), "call %d: %s", i, two.seen[i]);
    impasto_image_free(out);
    out = NULL;
    opt.progress_user = &one;
    CHECK(impasto_wct(ctx, adain, NULL, c, st, &opt, &out) == IMPASTO_OK && out);
    CHECK(one.calls == 3 && one.total == 3 && one.last_done == 3 && one.num_levels == 1 && !one.bad);
    impasto_image_free(out);
    for (int at = 2; at <= 5; at += 3) {
        pass_log cancel = {.cancel_at = at};
        opt.progress_user = &cancel;
        out = (impasto_image *)1;  /* must come back NULL */
        CHECK(impasto_wct(ctx, adain, lst, c, st, &opt, &out) == IMPASTO_ERR_CANCELLED && out == NULL);
        CHECK(cancel.calls == at);
    }
    impasto_image_free(c);
    impasto_image_free(st);
    impasto_ctx_free(ctx);
}

/* Bad weights: a NaN in the lst-r31 file is refused at load naming the tensor; finite but huge
 * weights (3e38) in either level's last decoder convolution make that level's picture overflow:
 * IMPASTO_ERR_NOT_FINITE naming the level, checked before level 1's clamp would hide it. Wrong
 * kinds of model are named in plain words. */
static void test_bad_weights(void) {
    if (!adain || !lst) {
        printf("  skipped (no models)\n");
        return;
    }
    char nan_path[96], a_path[96], l_path[96], want[200];
    snprintf(nan_path, sizeof nan_path, "/tmp/impasto-test-wct-nan-%d.safetensors", (int)getpid());
    snprintf(a_path, sizeof a_path, "/tmp/impasto-test-wct-adain-%d.safetensors", (int)getpid());
    snprintf(l_path, sizeof l_path, "/tmp/impasto-test-wct-lst-%d.safetensors", (int)getpid());
    CHECK(model_patch_copy("models/lst-r31.safetensors", nan_path, "encoder.conv2.weight", 100, 1, NAN));
    CHECK(model_patch_copy("models/adain.safetensors", a_path, "decoder.28.weight", 0, SIZE_MAX, 3e38f));
    CHECK(model_patch_copy("models/lst-r31.safetensors", l_path, "decoder.conv11.weight", 0, SIZE_MAX, 3e38f));
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_model *bad = NULL, *ha = NULL, *hl = NULL;
    CHECK(impasto_model_load(ctx, nan_path, &bad) == IMPASTO_ERR_FORMAT && !bad);
    snprintf(want, sizeof want, "%s: tensor 'encoder.conv2.weight' holds NaN or infinite values", nan_path);
    CHECK_MSG(strcmp(impasto_ctx_error(ctx), want) == 0, "message: %s", impasto_ctx_error(ctx));
    CHECK(impasto_model_load(ctx, a_path, &ha) == IMPASTO_OK);
    CHECK(impasto_model_load(ctx, l_path, &hl) == IMPASTO_OK);
    impasto_image *c = NULL, *st = NULL, *out = NULL;
    CHECK(impasto_image_create(ctx, 40, 32, 3, &c) == IMPASTO_OK);
    CHECK(impasto_image_create(ctx, 32, 32, 3, &st) == IMPASTO_OK);
    unsigned long long rng = 12;
    for (int i = 0; i < 40 * 32 * 3; i++) impasto_image_data(c)[i] = test_uniform(&rng, 0, 1);
    for (int i = 0; i < 32 * 32 * 3; i++) impasto_image_data(st)[i] = test_uniform(&rng, 0, 1);
    impasto_wct_options opt;
    impasto_wct_options_init(&opt);
    opt.content_size = opt.style_size = 0;
    CHECK(ha && impasto_wct(ctx, ha, lst, c, st, &opt, &out) == IMPASTO_ERR_NOT_FINITE && !out);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "WCT at relu4_1: the decoded picture holds NaN or infinite values"), "%s",
              impasto_ctx_error(ctx));
    CHECK(hl && impasto_wct(ctx, adain, hl, c, st, &opt, &out) == IMPASTO_ERR_NOT_FINITE && !out);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "WCT at relu3_1: the decoded picture holds NaN or infinite values"), "%s",
              impasto_ctx_error(ctx));
    CHECK(impasto_wct(ctx, lst, NULL, c, st, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    CHECK_MSG(strcmp(impasto_ctx_error(ctx), "WCT needs a model of kind 'adain' (impasto convert adain) for its relu4_1 "
                     "level; this one is of kind 'lst-r31'") == 0, "%s", impasto_ctx_error(ctx));
    CHECK(impasto_wct(ctx, adain, adain, c, st, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    CHECK_MSG(strcmp(impasto_ctx_error(ctx), "WCT's relu3_1 level needs a model of kind 'lst-r31' (impasto convert "
                     "lst-r31); this one is of kind 'adain'") == 0, "%s", impasto_ctx_error(ctx));
    CHECK(impasto_wct(ctx, adain, lst, NULL, st, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(ctx), "impasto_") == NULL);
    impasto_model_free(ha);
    impasto_model_free(hl);
    impasto_image_free(c);
    impasto_image_free(st);
    impasto_ctx_free(ctx);
    unlink(nan_path);
    unlink(a_path);
    unlink(l_path);
}

int main(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    struct stat st;
    if (stat("models/adain.safetensors", &st) == 0 && impasto_model_load(ctx, "models/adain.safetensors", &adain) != IMPASTO_OK) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        test_failed_count++;
    }
    if (stat("models/lst-r31.safetensors", &st) == 0 &&
        impasto_model_load(ctx, "models/lst-r31.safetensors", &lst) != IMPASTO_OK) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        test_failed_count++;
    }
    if (safetensors_open(ctx, GOLDEN, &golden) != IMPASTO_OK) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        test_failed_count++;
    }
    RUN(test_wct_statistics);
    RUN(test_wct_alpha);
    if (golden) {
        RUN(test_golden_transform);
        RUN(test_golden_lst);
        RUN(test_golden_method);
    }
    RUN(test_method_errors);
    RUN(test_progress_and_cancel);
    RUN(test_bad_weights);
    impasto_model_free(adain);
    impasto_model_free(lst);
    safetensors_close(golden);
    impasto_ctx_free(ctx);
    return test_summary();
}
