/* impasto transfer's spatial control (guided Gram matrices, Gatys et al. 2017): the guided style
 * loss (src/loss/guided.c) against PyTorch autograd (tests/data/guided_golden.safetensors from
 * tools/gen_golden_guided.py) and finite differences; one region everywhere is neural-style's
 * loss; through VGG-19 the exact tiling's gradient with a mask equals the untiled one (hard and
 * soft masks); soft one-hot masks are the hard mask; one gray level is the unmasked run; and the
 * bad inputs. On the converted VGG-19 and the bundled example images. */
#include "core/image.h"
#include "formats/safetensors.h"
#include "impasto.h"
#include "loss/loss.h"
#include "methods/gatys.h"
#include "test.h"

#define MODEL "models/vgg19.safetensors"
#define CONTENT "examples/images/horses.jpg"
#define STYLE "examples/images/scream.jpg"
#define GOLDEN "tests/data/guided_golden.safetensors"

static impasto_ctx *ctx;
static impasto_model *vgg;
static impasto_image *content, *style;
static safetensors *golden;

static float *golden_get(const char *name, size_t *n) {
    const st_tensor *t = safetensors_find(golden, name);
    CHECK_MSG(t != NULL, "golden tensor %s", name);
    if (!t) return NULL;
    float *v = malloc(t->nelem * sizeof *v);
    CHECK(safetensors_get_f32(NULL, golden, name, t->ndim, t->shape, v) == IMPASTO_OK);
    if (n) *n = t->nelem;
    return v;
}

/* The loss and gradient of tests/data/guided_golden.safetensors (PyTorch, float64): to 1e-5 of
 * the loss and 1e-5 of the largest gradient entry (float32 GEMMs over 35 positions; measured:
 * printed). */
static void golden_case(const char *mname, const char *lname, const char *gname) {
    const int c = 6, n = 35, R = 3;
    float *f = golden_get("f", NULL), *m = golden_get(mname, NULL), *t = golden_get("targets", NULL);
    float *w = golden_get("weight", NULL), *lref = golden_get(lname, NULL), *gref = golden_get(gname, NULL);
    if (f && m && t && w && lref && gref) {
        float fm[6 * 35], ws[3 * 36], dx[6 * 35];
        double loss = guided_style_loss(c, n, f, R, m, t, w[0], fm, ws, dx);
        double gmax = 0, dmax = 0;
        for (int i = 0; i < c * n; i++) {
            gmax = fmax(gmax, fabs(gref[i]));
            dmax = fmax(dmax, fabs((double)dx[i] - gref[i]));
        }
        printf("  %s: loss %.9g vs PyTorch %.9g; gradient max |diff| %.3g of max %.3g\n", lname, loss, lref[0], dmax,
               gmax);
        CHECK_NEAR(loss, lref[0], 1e-5 * fabs(lref[0]));
        CHECK_MSG(dmax <= 1e-5 * gmax, "max |diff| %g of %g", dmax, gmax);
    }
    free(f), free(m), free(t), free(w), free(lref), free(gref);
}

static void test_golden(void) {
    golden_case("m", "loss_soft", "grad_soft");
    golden_case("m_empty", "loss_empty", "grad_empty");
}

/* Central differences of the float32 loss, step 1e-2 on features of order 1 (the loss is a
 * quartic in f: truncation ~1e-4 of the gradient at most, rounding ~1e-6): every entry within 1e-4
 * of the largest gradient entry (measured 1.2e-5). */
static void test_finite_differences(void) {
    enum { C = 5, N = 24, R = 3 };
    float f[C * N], m[R * N], t[R * C * C], fm[C * N], ws[R * C * C], dx[C * N];
    uint64_t s = 11;
    for (int i = 0; i < C * N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        f[i] = (float)((s >> 40) & 0xffff) / 65536.0f * 1.5f;
    }
    for (int i = 0; i < R * N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        m[i] = (float)((s >> 40) & 0xffff) / 65536.0f;
    }
    /* symmetric targets, as Gram matrices are (the gradient formula uses it) */
    for (int r = 0; r < R; r++)
        for (int a = 0; a < C; a++)
            for (int b = 0; b < C; b++) t[(r * C + a) * C + b] = 0.05f * (float)(((a + b + r) * 7) % 11) / 11.0f;
    const double w = 2.0;
    guided_style_loss(C, N, f, R, m, t, w, fm, ws, dx);
    double gmax = 0, dmax = 0;
    for (int i = 0; i < C * N; i++) gmax = fmax(gmax, fabs(dx[i]));
    for (int i = 0; i < C * N; i++) {
        const float keep = f[i], h = 1e-2f;
        f[i] = keep + h;
        double lp = guided_style_loss(C, N, f, R, m, t, w, fm, ws, NULL);
        f[i] = keep - h;
        double lm = guided_style_loss(C, N, f, R, m, t, w, fm, ws, NULL);
        f[i] = keep;
        dmax = fmax(dmax, fabs((lp - lm) / (2.0 * h) - dx[i]));
    }
    printf("  finite differences: max |diff| %.3g of max %.3g\n", dmax, gmax);
    CHECK_MSG(dmax <= 1e-4 * gmax, "max |diff| %g of %g", dmax, gmax);
}

/* One region of weight 1 everywhere is neural-style's style loss (style.c). */
static void test_one_region(void) {
    enum { C = 7, N = 40 };
    float f[C * N], m[N], t[C * C], fm[C * N], ws[C * C], ws2[C * C], dx[C * N], dx2[C * N];
    for (int i = 0; i < C * N; i++) f[i] = (float)((i * 37) % 17) / 17.0f;
    for (int i = 0; i < N; i++) m[i] = 1.0f;
    for (int a = 0; a < C; a++)
        for (int b = 0; b < C; b++) t[a * C + b] = 0.01f * (float)((a * b) % 5);
    double a = guided_style_loss(C, N, f, 1, m, t, 3.0, fm, ws, dx);
    double b = style_loss(C, N, f, t, 3.0, ws2, dx2);
    CHECK_NEAR(a, b, 1e-6 * b);
    for (int i = 0; i < C * N; i++) CHECK_NEAR(dx[i], dx2[i], 1e-6 * (fabs(dx2[i]) + 1e-3));
}

/* A gray mask (w, h): level 0 left of a slanted line, 255 right of it (with levels > 2, bands). */
static impasto_image *slanted_mask(int w, int h, int levels) {
    impasto_image *m = NULL;
    if (image_alloc(ctx, w, h, 1, &m) != IMPASTO_OK) return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double u = ((double)x + 0.4 * y) / (w + 0.4 * h);  /* 0..1 across, slanted */
            int k = (int)(u * levels);
            if (k >= levels) k = levels - 1;
            m->data[(size_t)y * w + x] = levels > 1 ? (float)k / (float)(levels - 1) : 0.5f;
        }
    return m;
}

/* Soft masks (w, h): region 0 fades from 1 to 0 across, region 1 the other way; region 2 (if any)
 * a bump in the middle. */
static impasto_image *soft_mask(int w, int h, int k) {
    impasto_image *m = NULL;
    if (image_alloc(ctx, w, h, 1, &m) != IMPASTO_OK) return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double u = (double)x / (w - 1), v;
            if (k == 0) v = 1 - u;
            else if (k == 1) v = u;
            else v = exp(-20 * ((u - 0.5) * (u - 0.5) + ((double)y / h - 0.5) * ((double)y / h - 0.5)));
            m->data[(size_t)y * w + x] = (float)v;
        }
    return m;
}

/* A picture that is not the content (as test_gatys_tile.c's). */
static impasto_image *test_picture(int w, int h) {
    impasto_image *p = NULL;
    if (impasto_image_resize(ctx, content, w, h, &p) != IMPASTO_OK) return NULL;
    float *d = impasto_image_data(p);
    uint64_t s = 7;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                d[((size_t)y * w + x) * 3 + c] = d[((size_t)y * w + x) * 3 + c] * 0.7f + 0.15f * (float)x / w +
                                                 0.1f * (float)c / 3 + 0.05f * (float)((s >> 40) & 0xffff) / 65536.0f;
            }
    return p;
}

typedef struct eval {
    float *g;
    double parts[4];
    int tiles;
} eval;

static int evaluate(impasto_transfer_options *opt, const impasto_image *const *styles, size_t nstyles,
                    const impasto_image *pic, int tile, eval *e) {
    opt->tile = tile;
    e->g = NULL;
    impasto_status s = gatys_evaluate_at(ctx, vgg, content, styles, nstyles, opt, pic, &e->g, e->parts, &e->tiles);
    CHECK_MSG(s == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    return s == IMPASTO_OK;
}

/* |a - b| over the gradient: max and L2, relative to b's. */
static void compare(const char *what, const eval *a, const eval *b, size_t n, double l2_tol, double max_tol,
                    double loss_tol) {
    double gmax = 0, dmax = 0, d2 = 0, g2 = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a->g[i] - b->g[i]);
        gmax = fmax(gmax, fabs(b->g[i]));
        dmax = fmax(dmax, d);
        d2 += d * d;
        g2 += (double)b->g[i] * b->g[i];
    }
    printf("  %s: loss %.9g vs %.9g (style %.6g / %.6g), tiles %d / %d; gradient max |diff| %.3g of max %.3g, "
           "|diff|/|g| %.3g\n", what, a->parts[0], b->parts[0], a->parts[2], b->parts[2], a->tiles, b->tiles, dmax,
           gmax, sqrt(d2 / g2));
    CHECK_NEAR(a->parts[0], b->parts[0], loss_tol * b->parts[0]);
    CHECK_NEAR(a->parts[2], b->parts[2], loss_tol * b->parts[2]);
    CHECK_MSG(sqrt(d2 / g2) <= l2_tol, "|diff| / |g| = %g", sqrt(d2 / g2));
    CHECK_MSG(dmax <= max_tol * gmax, "max |diff| %g, max |g| %g", dmax, gmax);
}

/* Through VGG-19 at 160x106 (horses.jpg's shape), two styles (the Scream and the horses photo
 * itself), a slanted two-level mask and soft masks: the exact tiling in tiles of 32 (5 x 4, crops
 * up to 192) gives the untiled loss to 1e-5 and gradient to 5e-4 in L2 and 1e-3 of the largest
 * entry, the tolerances of test_gatys_tile.c's unmasked case (float rounding that differs between
 * crop and picture flips a ReLU or pooling route now and then; measured: printed). The mask
 * changes the loss (the masked style loss differs from the blended one). */
static void test_tiled_equals_untiled(void) {
    const int W = 160, H = 106;
    const size_t n = (size_t)3 * W * H;
    const impasto_image *styles[2] = {style, content};
    impasto_image *pic = test_picture(W, H), *mask = slanted_mask(W, H, 2);
    impasto_image *s0 = soft_mask(W, H, 0), *s1 = soft_mask(W, H, 1);
    const impasto_image *soft[2] = {s0, s1};
    CHECK(pic && mask && s0 && s1);
    if (!pic || !mask || !s0 || !s1) goto done;
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    opt.image_size = W;
    eval plain = {0}, u = {0}, t = {0}, su = {0}, st = {0};
    if (evaluate(&opt, styles, 2, pic, 0, &plain)) {
        opt.mask = mask;
        if (evaluate(&opt, styles, 2, pic, 0, &u) && evaluate(&opt, styles, 2, pic, 32, &t)) {
            CHECK(u.tiles == 1 && t.tiles == 20);
            compare("hard mask, tiles of 32 vs untiled", &t, &u, n, 5e-4, 1e-3, 1e-5);
            CHECK_MSG(fabs(u.parts[2] - plain.parts[2]) > 0.01 * plain.parts[2], "masked style %g, blended %g",
                      u.parts[2], plain.parts[2]);
            CHECK(u.parts[1] == plain.parts[1]);  /* the content loss does not see the mask */
        }
        opt.mask = NULL;
        opt.style_masks = soft;
        if (evaluate(&opt, styles, 2, pic, 0, &su) && evaluate(&opt, styles, 2, pic, 32, &st))
            compare("soft masks, tiles of 32 vs untiled", &st, &su, n, 5e-4, 1e-3, 1e-5);
        /* the random tiling runs with a mask: its own objective (each 32-pixel tile's own guided
         * Grams: measured 1.6 times the untiled style loss on this picture), so only finite and of
         * the same order */
        eval r = {0};
        opt.tiling = IMPASTO_TILING_RANDOM;
        opt.seed = 5;
        if (evaluate(&opt, styles, 2, pic, 32, &r)) {
            printf("  soft masks, random tiles (%d): loss %.6g vs untiled %.6g\n", r.tiles, r.parts[0], su.parts[0]);
            CHECK(isfinite(r.parts[0]) && r.tiles > 1);
            CHECK(r.parts[2] > 0.5 * su.parts[2] && r.parts[2] < 3 * su.parts[2]);
        }
        free(r.g);
    }
    free(plain.g), free(u.g), free(t.g), free(su.g), free(st.g);
done:
    impasto_image_free(pic);
    impasto_image_free(mask);
    impasto_image_free(s0);
    impasto_image_free(s1);
}

/* Three styles: a mask of three levels and its one-hot soft masks (same size as the picture, so
 * nothing is resampled) give the same loss and gradient; a mask of one level with one style gives
 * the unmasked loss and gradient. */
static void test_equivalences(void) {
    const int W = 96, H = 64;
    const size_t n = (size_t)3 * W * H;
    const impasto_image *styles[3] = {style, content, style};
    impasto_image *pic = test_picture(W, H), *mask = slanted_mask(W, H, 3), *one = slanted_mask(W, H, 1);
    impasto_image *hot[3] = {0};
    for (int k = 0; k < 3 && mask; k++)
        if (image_alloc(ctx, W, H, 1, &hot[k]) == IMPASTO_OK)
            for (size_t i = 0; i < (size_t)W * H; i++)
                hot[k]->data[i] = lrintf(mask->data[i] * 2) == k ? 1.0f : 0.0f;
    CHECK(pic && mask && one && hot[0] && hot[1] && hot[2]);
    if (pic && mask && one && hot[0] && hot[1] && hot[2]) {
        impasto_transfer_options opt;
        impasto_transfer_options_init(&opt);
        opt.image_size = W;
        opt.style_layers = "relu1_1,relu2_1,relu3_1";
        opt.content_layers = "relu3_2";
        eval a = {0}, b = {0}, c = {0}, d = {0};
        opt.mask = mask;
        int ok = evaluate(&opt, styles, 3, pic, 0, &a);
        opt.mask = NULL;
        opt.style_masks = (const impasto_image *const *)hot;
        ok = ok && evaluate(&opt, styles, 3, pic, 0, &b);
        if (ok) compare("three levels vs their one-hot soft masks", &b, &a, n, 1e-6, 1e-6, 1e-6);
        opt.style_masks = NULL;
        opt.mask = one;
        ok = evaluate(&opt, styles, 1, pic, 0, &c);
        opt.mask = NULL;
        ok = ok && evaluate(&opt, styles, 1, pic, 0, &d);
        if (ok) compare("one gray level vs no mask", &c, &d, n, 1e-6, 1e-6, 1e-6);
        free(a.g), free(b.g), free(c.g), free(d.g);
    }
    impasto_image_free(pic);
    impasto_image_free(mask);
    impasto_image_free(one);
    for (int k = 0; k < 3; k++) impasto_image_free(hot[k]);
}

/* Bad input: one clear message each, no picture. */
static void test_errors(void) {
    const impasto_image *styles[3] = {style, content, style};
    impasto_image *mask = slanted_mask(64, 40, 2), *out = NULL;
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    opt.image_size = 64;
    opt.num_iterations = 1;
    opt.save_iter = 0;
    opt.mask = mask;
    impasto_status s = impasto_transfer(ctx, vgg, content, styles, 3, &opt, &out);
    CHECK(s == IMPASTO_ERR_INVALID_ARG && !out);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "the mask has 2 gray levels for 3 style images") != NULL, "%s",
              impasto_ctx_error(ctx));
    const double bw[2] = {1, 2};
    opt.style_blend_weights = bw;
    s = impasto_transfer(ctx, vgg, content, styles, 2, &opt, &out);
    CHECK(s == IMPASTO_ERR_INVALID_ARG && !out);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "no style blend weights") != NULL, "%s", impasto_ctx_error(ctx));
    opt.style_blend_weights = NULL;
    const impasto_image *soft[2] = {mask, NULL};
    opt.style_masks = soft;
    s = impasto_transfer(ctx, vgg, content, styles, 2, &opt, &out);
    CHECK(s == IMPASTO_ERR_INVALID_ARG && !out);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "not both") != NULL, "%s", impasto_ctx_error(ctx));
    opt.mask = NULL;
    s = impasto_transfer(ctx, vgg, content, styles, 2, &opt, &out);
    CHECK(s == IMPASTO_ERR_INVALID_ARG && !out);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "soft mask 2 is missing") != NULL, "%s", impasto_ctx_error(ctx));
    /* the right count runs */
    opt.style_masks = NULL;
    opt.mask = mask;
    s = impasto_transfer(ctx, vgg, content, styles, 2, &opt, &out);
    CHECK_MSG(s == IMPASTO_OK && out, "%s", impasto_ctx_error(ctx));
    impasto_image_free(out);
    impasto_image_free(mask);
}

int main(void) {
    ctx = impasto_ctx_create();
    if (safetensors_open(ctx, GOLDEN, &golden) != IMPASTO_OK) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        test_failed_count++;
    }
    if (golden) RUN(test_golden);
    RUN(test_finite_differences);
    RUN(test_one_region);
    if (impasto_model_load(ctx, MODEL, &vgg) != IMPASTO_OK || impasto_image_load(ctx, CONTENT, &content) != IMPASTO_OK ||
        impasto_image_load(ctx, STYLE, &style) != IMPASTO_OK) {
        fprintf(stderr, "setup failed: %s (run `make models` first)\n", impasto_ctx_error(ctx));
        test_failed_count++;
    } else {
        RUN(test_tiled_equals_untiled);
        RUN(test_equivalences);
        RUN(test_errors);
    }
    safetensors_close(golden);
    impasto_image_free(content);
    impasto_image_free(style);
    impasto_model_free(vgg);
    impasto_ctx_free(ctx);
    return test_summary();
}
