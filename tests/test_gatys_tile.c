/* impasto transfer within a memory budget (src/methods/gatys_tile.c): the exact tiling's loss and
 * gradient against the untiled ones, tiled runs against untiled runs (loss and seams), the choice
 * of tiles and history under a budget, and the budget that is too small. On the converted VGG-19
 * (models/vgg19.safetensors) and the bundled example images. */
#include "impasto.h"
#include "methods/gatys.h"
#include "methods/metrics.h"
#include "test.h"

#define MODEL "models/vgg19.safetensors"
#define CONTENT "examples/images/horses.jpg"
#define STYLE "examples/images/scream.jpg"

static impasto_ctx *ctx;
static impasto_model *vgg;
static impasto_image *content, *style;

static const impasto_image *const *one_style(void) {
    static const impasto_image *s[1];
    s[0] = style;
    return s;
}

/* A picture that is not the content: the content with a smooth colour ramp and a little noise,
 * so every layer's ReLUs and poolings see something other than the target's. */
static impasto_image *test_picture(int w, int h) {
    impasto_image *p = NULL;
    if (impasto_image_resize(ctx, content, w, h, &p) != IMPASTO_OK) return NULL;
    float *d = impasto_image_data(p);
    uint64_t s = 7;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                float v = d[((size_t)y * w + x) * 3 + c] * 0.7f + 0.15f * (float)x / w + 0.1f * (float)c / 3 +
                          0.05f * (float)((s >> 40) & 0xffff) / 65536.0f;
                d[((size_t)y * w + x) * 3 + c] = v;
            }
    return p;
}

/* The exact tiling gives the untiled loss and gradient: 160x106 pictures (horses.jpg's shape) in
 * tiles of 32 (5 x 4, crops of up to 192 with the 80-pixel halos of relu5_1), and in tiles of 48
 * with conv5_1..relu5_1 left out (relu4_2 / relu4_1 deepest: 40-pixel halos on a grid of 8..16).
 * Float32 throughout, and Winograd's tiles fall differently on the crops, so values are rounded
 * differently; where a ReLU's input or a max pooling's two best inputs are that close, the mask or
 * the route flips and a small patch of the gradient moves by a few hundredths of a percent (seen
 * as blobs away from the seams, not along them). So: the loss to 1e-5, the gradient to 5e-4 in the
 * L2 norm and 1e-3 of its largest value at any pixel (measured: tiles of 32, 1.5e-6 L2 and 2.6e-6
 * of the largest; tiles of 48, 1.3e-4 L2 and 4.6e-4 of the largest, with the default layers as
 * with relu4_x; the same tiles of 48 with every convolution on im2col instead of Winograd, which
 * rounds alike on crop and picture: 1.3e-6 L2, 1.4e-6 of the largest). */
static void check_gradient(const char *style_layers, int tile, int *tiles_out) {
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    opt.image_size = 160;
    if (style_layers) opt.style_layers = style_layers;
    impasto_image *pic = test_picture(160, 106);
    CHECK(pic != NULL);
    if (!pic) return;
    float *g0 = NULL, *g1 = NULL;
    double f0[4], f1[4];
    int n0 = 0, n1 = 0;
    opt.tile = 0;
    impasto_status s = gatys_evaluate_at(ctx, vgg, content, one_style(), 1, &opt, pic, &g0, f0, &n0);
    CHECK_MSG(s == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    opt.tile = tile;
    s = gatys_evaluate_at(ctx, vgg, content, one_style(), 1, &opt, pic, &g1, f1, &n1);
    CHECK_MSG(s == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    if (g0 && g1) {
        CHECK(n0 == 1);
        CHECK(n1 > 1);
        *tiles_out = n1;
        const size_t n = (size_t)3 * 160 * 106;
        double gmax = 0, dmax = 0, dsum = 0, d2 = 0, g2 = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)g0[i] - g1[i]);
            if (fabs(g0[i]) > gmax) gmax = fabs(g0[i]);
            if (d > dmax) dmax = d;
            dsum += d;
            d2 += d * d;
            g2 += (double)g0[i] * g0[i];
        }
        printf("  %s, tiles of %d (%d tiles): loss %.9g vs %.9g (content %.6g/%.6g, style %.6g/%.6g); gradient "
               "max |diff| %.3g of max %.3g, mean %.3g, |diff|/|g| %.3g\n", style_layers ? style_layers : "default layers", tile, n1,
               f0[0], f1[0], f0[1], f1[1], f0[2], f1[2], dmax, gmax, dsum / n, sqrt(d2 / g2));
        CHECK_NEAR(f1[0], f0[0], 1e-5 * f0[0]);
        CHECK_NEAR(f1[1], f0[1], 1e-5 * f0[1]);
        CHECK_NEAR(f1[2], f0[2], 1e-5 * f0[2]);
        CHECK(f1[3] == f0[3]);
        CHECK_MSG(sqrt(d2 / g2) <= 5e-4, "|diff| / |g| = %g", sqrt(d2 / g2));
        CHECK_MSG(dmax <= 1e-3 * gmax, "max |diff| %g, max |g| %g", dmax, gmax);
    }
    free(g0);
    free(g1);
    impasto_image_free(pic);
}

static void test_exact_gradient(void) {
    int n = 0;
    check_gradient(NULL, 32, &n);
    CHECK(n == 20); /* 160/32 = 5 across, 106/32 -> 4 down */
    check_gradient("relu1_1,relu2_1,relu3_1,relu4_1", 48, &n);
    CHECK(n == 12);
}

typedef struct last_seen {
    double loss;
    int tiles, history, tile_calls;
} last_seen;

static int see(const impasto_progress *p, void *user) {
    last_seen *l = user;
    if (p->tile_runs > 0) {
        l->tile_calls++;
        return 0;
    }
    l->loss = p->loss;
    l->tiles = p->num_tiles;
    l->history = p->lbfgs_history;
    return 0;
}

/* A whole run, untiled and in forced small tiles, on a picture small enough to run whole (128x85,
 * shallow layers so the test is quick: relu1_1, relu2_1 for style, relu2_2 for content, halos of 6
 * px): the exact tiling ends within 1% of the untiled loss after 40 L-BFGS iterations (measured:
 * printed), and its picture has no seams — the seam ratio on the tile grid within 0.05 of the
 * untiled picture's on the same grid. The random tiling (Adam, as it changes the function under the
 * optimiser) is compared with untiled Adam: within 30% of its true loss. */
static void run_one(impasto_transfer_options *opt, int tile, impasto_tiling tiling, double *loss, double *seam,
                    last_seen *seen) {
    opt->tile = tile;
    opt->tiling = tiling;
    opt->progress = see;
    opt->progress_user = seen;
    impasto_image *out = NULL;
    impasto_status s = impasto_transfer(ctx, vgg, content, one_style(), 1, opt, &out);
    CHECK_MSG(s == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    if (!out) return;
    CHECK(impasto_image_width(out) == 128 && impasto_image_height(out) == 85);
    *seam = metrics_seam_ratio(out, 32, 32);
    /* the true (untiled) loss of the picture */
    impasto_transfer_options e = *opt;
    e.tile = 0;
    e.progress = NULL;
    float *g = NULL;
    double parts[4];
    s = gatys_evaluate_at(ctx, vgg, content, one_style(), 1, &e, out, &g, parts, NULL);
    CHECK(s == IMPASTO_OK);
    *loss = parts[0];
    free(g);
    impasto_image_free(out);
}

static void test_tiled_runs(void) {
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    opt.image_size = 128;
    opt.num_iterations = 40;
    opt.seed = 3;
    opt.save_iter = 0;
    opt.style_layers = "relu1_1,relu2_1";
    opt.content_layers = "relu2_2";
    double lu = 0, le = 0, su = 0, se = 0, la = 0, lr = 0, sa = 0, sr = 0;
    last_seen u = {0}, e = {0}, a = {0}, r = {0};
    run_one(&opt, 0, IMPASTO_TILING_EXACT, &lu, &su, &u);
    run_one(&opt, 32, IMPASTO_TILING_EXACT, &le, &se, &e);
    opt.optimizer = IMPASTO_OPTIM_ADAM;
    run_one(&opt, 0, IMPASTO_TILING_EXACT, &la, &sa, &a);
    run_one(&opt, 32, IMPASTO_TILING_RANDOM, &lr, &sr, &r);
    printf("  L-BFGS untiled: loss %.6g, seam ratio %.3f; exact tiles (%d): loss %.6g, seam ratio %.3f\n", lu, su,
           e.tiles, le, se);
    printf("  Adam untiled: loss %.6g, seam ratio %.3f; random tiles (%d): loss %.6g, seam ratio %.3f\n", la, sa,
           r.tiles, lr, sr);
    /* 128x85 in 32s: 4 x 3; the random cut merges the 21-row last piece (thinner than 32) */
    CHECK(u.tiles == 1 && e.tiles == 12 && r.tiles == 8);
    CHECK(u.history == 40 && e.history == 40 && r.history == 0);
    CHECK(u.tile_calls == 0 && e.tile_calls > 0);
    CHECK_MSG(fabs(le - lu) <= 0.01 * lu, "exact %g, untiled %g", le, lu);
    CHECK_MSG(fabs(se - su) <= 0.05, "seams: exact %g, untiled %g", se, su);
    CHECK_MSG(fabs(lr - la) <= 0.3 * la, "random %g, untiled %g", lr, la);
}

/* Under a budget: the least budget a refusal names runs, and one MB less is refused. */
static void test_budget(void) {
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    opt.image_size = 512;
    opt.num_iterations = 0;
    opt.save_iter = 0;
    opt.style_layers = "relu1_1,relu2_1";
    opt.content_layers = "relu2_2";
    opt.memory_mb = 1;
    impasto_image *out = NULL;
    impasto_status s = impasto_transfer(ctx, vgg, content, one_style(), 1, &opt, &out);
    CHECK(s == IMPASTO_ERR_INVALID_ARG && !out);
    const char *m = strstr(impasto_ctx_error(ctx), "needs at least ");
    CHECK_MSG(m != NULL, "%s", impasto_ctx_error(ctx));
    if (!m) return;
    int need = atoi(m + strlen("needs at least "));
    printf("  512x339: %s\n", impasto_ctx_error(ctx));
    opt.memory_mb = need - 1;
    s = impasto_transfer(ctx, vgg, content, one_style(), 1, &opt, &out);
    CHECK(s == IMPASTO_ERR_INVALID_ARG && !out);
    last_seen seen = {0};
    opt.memory_mb = need;
    opt.num_iterations = 1;
    opt.progress = see;
    opt.progress_user = &seen;
    s = impasto_transfer(ctx, vgg, content, one_style(), 1, &opt, &out);
    CHECK_MSG(s == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    CHECK(seen.tiles > 1 && seen.history == 1);
    impasto_image_free(out);
    /* a roomy budget: untiled, the history asked for (capped by the iterations) */
    opt.memory_mb = 4000;
    opt.num_iterations = 2;
    s = impasto_transfer(ctx, vgg, content, one_style(), 1, &opt, &out);
    CHECK(s == IMPASTO_OK && seen.tiles == 1 && seen.history == 2);
    impasto_image_free(out);
}

int main(void) {
    ctx = impasto_ctx_create();
    if (impasto_model_load(ctx, MODEL, &vgg) != IMPASTO_OK ||
        impasto_image_load(ctx, CONTENT, &content) != IMPASTO_OK ||
        impasto_image_load(ctx, STYLE, &style) != IMPASTO_OK) {
        fprintf(stderr, "setup failed: %s (run `make models` first)\n", impasto_ctx_error(ctx));
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_exact_gradient);
    RUN(test_tiled_runs);
    RUN(test_budget);
    impasto_image_free(content);
    impasto_image_free(style);
    impasto_model_free(vgg);
    impasto_ctx_free(ctx);
    return test_summary();
}
