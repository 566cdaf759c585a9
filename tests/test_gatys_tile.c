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
    impasto_status s = gatys_evaluate_at(ctx, vgg, content, style, &opt, pic, &g0, f0, &n0);
    CHECK_MSG(s == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    opt.tile = tile;
    s = gatys_evaluate_at(ctx, vgg, content, style, &opt, pic, &g1, f1, &n1);
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
    impasto_image_free(content);
    impasto_image_free(style);
    impasto_model_free(vgg);
    impasto_ctx_free(ctx);
    return test_summary();
}
