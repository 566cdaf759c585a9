/* Ruder et al.'s short-term temporal loss (src/loss/temporal.c) and its place in the Gatys
 * objective (src/methods/gatys.c, impasto_transfer_options.temporal_*): the loss's gradient against
 * central finite differences, the objective with the term against the objective without it (the
 * value and the gradient differ by exactly the term), and the tiled path's refusal. The objective
 * runs on the converted VGG-19 (models/vgg19.safetensors) and the bundled example images. */
#include "impasto.h"
#include "loss/temporal.h"
#include "methods/gatys.h"
#include "models/vgg19.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MODEL "models/vgg19.safetensors"
#define CONTENT "examples/images/horses.jpg"
#define STYLE "examples/images/scream.jpg"

static impasto_ctx *ctx;
static impasto_model *vgg;
static impasto_image *content, *style;

static float uniform(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / 16777216.0f;
}

/* The value against a sum written out, the gradient (added into dx, which starts non-zero) against
 * central differences: the loss is quadratic, so in double the differences are exact up to the
 * rounding of the float inputs (step 1/8, a power of two, in VGG's 0..255 scale). */
static void test_loss_gradient(void) {
    enum { C = 3, HW = 7 * 5 };
    float x[C * HW], w[C * HW], m[HW], dx[C * HW], base[C * HW];
    uint64_t s = 3;
    for (int i = 0; i < C * HW; i++) {
        x[i] = 255 * uniform(&s) - 120;
        w[i] = 255 * uniform(&s) - 120;
        base[i] = dx[i] = uniform(&s) - 0.5f;
    }
    for (int i = 0; i < HW; i++) m[i] = i % 4 == 0 ? 0.0f : i % 4 == 1 ? 0.5f : 1.0f;
    const double weight = 1e3;
    double want = 0;
    for (int c = 0; c < C; c++)
        for (int i = 0; i < HW; i++) {
            const double d = (double)x[c * HW + i] - w[c * HW + i];
            want += m[i] * d * d;
        }
    want *= weight / (C * HW);
    const double got = temporal_loss(C, HW, x, w, m, weight, dx);
    CHECK_NEAR(got, want, 1e-9 * want);
    CHECK_NEAR(temporal_loss(C, HW, x, w, m, weight, NULL), want, 1e-9 * want);
    double worst = 0;
    for (int i = 0; i < C * HW; i++) {
        const float keep = x[i], h = 0.125f;
        x[i] = keep + h;
        const double fp = temporal_loss(C, HW, x, w, m, weight, NULL);
        x[i] = keep - h;
        const double fm = temporal_loss(C, HW, x, w, m, weight, NULL);
        x[i] = keep;
        const double fd = (fp - fm) / (2 * h), an = (double)dx[i] - base[i];
        const double err = fabs(fd - an) / (fabs(fd) + 1e-3);
        if (err > worst) worst = err;
        if (i % HW % 4 == 0) CHECK(an == 0);  /* c = 0: no pull at occlusions */
    }
    CHECK_MSG(worst < 1e-4, "the gradient is %g off the finite differences", worst);
    /* No weights: c = 1 everywhere. */
    double ones = 0;
    for (int i = 0; i < C * HW; i++) ones += ((double)x[i] - w[i]) * ((double)x[i] - w[i]);
    CHECK_NEAR(temporal_loss(C, HW, x, w, NULL, 2.0, NULL), 2.0 * ones / (C * HW), 1e-9 * ones);
}

/* impasto_image (h,w,c) with the given pixel function. */
static impasto_image *picture_of(int w, int h, int ch, float (*f)(int x, int y, int c)) {
    impasto_image *p = NULL;
    if (impasto_image_create(ctx, w, h, ch, &p) != IMPASTO_OK) return NULL;
    float *d = impasto_image_data(p);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) d[((size_t)y * w + x) * ch + c] = f(x, y, c);
    return p;
}

static float ramp(int x, int y, int c) { return 0.2f + 0.5f * (float)((x * 7 + y * 3 + c * 11) % 97) / 97.0f; }
static float band(int x, int y, int c) { (void)c; return (x / 10 + y / 10) % 3 == 0 ? 0.0f : 1.0f; }

/* The objective with the temporal term is the objective without it plus the term: the value by
 * temporal_loss on the preprocessed pictures, the gradient by its gradient (and so, by the test
 * above, by finite differences). Both evaluations run the same VGG-19 passes on the same input,
 * so everything but the term cancels to float rounding: the gradients to 1e-4 of the term's
 * largest component. */
static void test_objective(void) {
    impasto_image *cs = NULL;
    CHECK(impasto_image_resize_max_side(ctx, content, 160, &cs) == IMPASTO_OK);
    if (!cs) return;
    const int w = impasto_image_width(cs), h = impasto_image_height(cs);
    impasto_image *pic = picture_of(w, h, 3, ramp), *mask = picture_of(w, h, 1, band);
    impasto_image *target = NULL;
    CHECK(impasto_image_resize(ctx, content, w, h, &target) == IMPASTO_OK);
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    CHECK(opt.temporal_weight == 1e3);
    opt.image_size = 160;
    opt.tile = 0;
    float *g0 = NULL, *g1 = NULL;
    double p0[4], p1[4];
    impasto_status s = gatys_evaluate_at(ctx, vgg, content, (const impasto_image *const *)&style, 1, &opt, pic, &g0, p0, NULL);
    CHECK_MSG(s == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    opt.temporal_target = target;
    opt.temporal_mask = mask;
    s = gatys_evaluate_at(ctx, vgg, content, (const impasto_image *const *)&style, 1, &opt, pic, &g1, p1, NULL);
    CHECK_MSG(s == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    const size_t hw = (size_t)w * h, n = 3 * hw;
    float *xp = malloc(n * sizeof *xp), *xt = malloc(n * sizeof *xt), *gt = calloc(n, sizeof *gt);
    if (g0 && g1 && xp && xt && gt && pic && mask && target) {
        vgg19_preprocess(pic, xp);
        vgg19_preprocess(target, xt);
        const double term = temporal_loss(3, hw, xp, xt, impasto_image_cdata(mask), 1e3, gt);
        CHECK(term > 0);
        CHECK_NEAR(p1[0] - p0[0], term, 1e-5 * p1[0]);
        CHECK(p1[1] == p0[1] && p1[2] == p0[2] && p1[3] == p0[3]);  /* the other parts unchanged */
        double gmax = 0, dmax = 0;
        for (size_t i = 0; i < n; i++) {
            if (fabs(gt[i]) > gmax) gmax = fabs(gt[i]);
            const double d = fabs(((double)g1[i] - g0[i]) - gt[i]);
            if (d > dmax) dmax = d;
        }
        CHECK_MSG(dmax < 1e-4 * gmax, "the gradient's temporal part is %g off (largest %g)", dmax, gmax);
        /* Masked pixels get no pull: there the two gradients are the same. */
        for (size_t i = 0; i < hw; i += 97)
            if (impasto_image_cdata(mask)[i] == 0) CHECK(g1[i] == g0[i]);
    }
    /* A weight of 0 is no term at all; a negative or infinite one is refused. */
    float *g2 = NULL;
    double p2[4];
    opt.temporal_weight = 0;
    CHECK(gatys_evaluate_at(ctx, vgg, content, (const impasto_image *const *)&style, 1, &opt, pic, &g2, p2, NULL) == IMPASTO_OK);
    CHECK(g2 && p2[0] == p0[0]);
    free(g2);
    g2 = NULL;
    opt.temporal_weight = -1;
    CHECK(gatys_evaluate_at(ctx, vgg, content, (const impasto_image *const *)&style, 1, &opt, pic, &g2, p2, NULL) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(ctx), "temporal") != NULL);
    /* Tiled: refused in one line. */
    opt.temporal_weight = 1e3;
    opt.tile = 32;
    CHECK(gatys_evaluate_at(ctx, vgg, content, (const impasto_image *const *)&style, 1, &opt, pic, &g2, p2, NULL) == IMPASTO_ERR_INVALID_ARG);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "untiled only") != NULL, "%s", impasto_ctx_error(ctx));
    free(g2);
    free(xp);
    free(xt);
    free(gt);
    free(g0);
    free(g1);
    impasto_image_free(cs);
    impasto_image_free(pic);
    impasto_image_free(mask);
    impasto_image_free(target);
}

/* impasto_transfer with the term: ten iterations from the target itself stay nearer to it than
 * the same iterations without the term (c = 1 everywhere). The weight is 100 times Ruder et al.'s
 * default so that ten iterations at 96 pixels show it plainly (measured: half the distance at 1e5;
 * at 1e3 the pull is there but 1.4% of it, at 1e4 11%). */
static void test_transfer_pull(void) {
    impasto_image *target = NULL, *a = NULL, *b = NULL;
    CHECK(impasto_image_resize_max_side(ctx, content, 96, &target) == IMPASTO_OK);
    if (!target) return;
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    opt.image_size = 96;
    opt.num_iterations = 10;
    opt.seed = 1;
    opt.save_iter = 0;
    opt.init = IMPASTO_INIT_IMAGE;
    opt.init_image = target;
    const impasto_image *styles[1] = {style};
    CHECK(impasto_transfer(ctx, vgg, content, styles, 1, &opt, &a) == IMPASTO_OK);
    opt.temporal_target = target;
    opt.temporal_weight = 1e5;
    CHECK(impasto_transfer(ctx, vgg, content, styles, 1, &opt, &b) == IMPASTO_OK);
    if (a && b) {
        const size_t n = (size_t)3 * impasto_image_width(target) * impasto_image_height(target);
        double da = 0, db = 0;
        for (size_t i = 0; i < n; i++) {
            const double t = impasto_image_cdata(target)[i];
            da += (impasto_image_cdata(a)[i] - t) * (impasto_image_cdata(a)[i] - t);
            db += (impasto_image_cdata(b)[i] - t) * (impasto_image_cdata(b)[i] - t);
        }
        CHECK_MSG(db < 0.5 * da, "with the term %g from the target, without %g", db / n, da / n);
    }
    impasto_image_free(a);
    impasto_image_free(b);
    impasto_image_free(target);
}

int main(void) {
    RUN(test_loss_gradient);
    ctx = impasto_ctx_create();
    if (impasto_model_load(ctx, MODEL, &vgg) != IMPASTO_OK || impasto_image_load(ctx, CONTENT, &content) != IMPASTO_OK ||
        impasto_image_load(ctx, STYLE, &style) != IMPASTO_OK) {
        fprintf(stderr, "setup failed: %s (run `make models` first)\n", impasto_ctx_error(ctx));
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_objective);
    RUN(test_transfer_pull);
    impasto_image_free(content);
    impasto_image_free(style);
    impasto_model_free(vgg);
    impasto_ctx_free(ctx);
    return test_summary();
}
