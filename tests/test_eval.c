/* Evaluation measures (include/impasto.h, "evaluating results") against answers derived by hand
 * or by a direct re-implementation: SSIM of flat images in closed form and against a naive 2-D
 * window sum, PSNR of Gaussian noise (20 log10(1/sigma)), edge agreement of an affine copy (1),
 * histogram EMD of flat images (their difference), SWD of 1-D sets whose W2 is known, and the
 * VGG-19 measures of an image against itself (0). VGG tests read models/vgg19.safetensors and the
 * bundled example images, so run from the repository root. */
#include "impasto.h"
#include "methods/metrics.h"
#include "test.h"

#define MODEL "models/vgg19.safetensors"
#define CONTENT "examples/images/horses.jpg"
#define STYLE "examples/images/scream.jpg"

static impasto_ctx *ctx;

static impasto_image *make(int w, int h, int c) {
    impasto_image *img = NULL;
    if (impasto_image_create(ctx, w, h, c, &img) != IMPASTO_OK) {
        fprintf(stderr, "cannot create a %dx%d image\n", w, h);
        exit(1);
    }
    return img;
}

static impasto_image *flat(int w, int h, int c, float v) {
    impasto_image *img = make(w, h, c);
    float *p = impasto_image_data(img);
    for (size_t i = 0; i < (size_t)w * h * c; i++) p[i] = v;
    return img;
}

/* A textured RGB picture in 0.2..0.8: a few sinusoids of different periods and directions plus
 * fine noise, so windows have structure at every position. */
static impasto_image *textured(int w, int h, unsigned long long seed) {
    impasto_image *img = make(w, h, 3);
    float *p = impasto_image_data(img);
    unsigned long long s = seed;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < 3; k++)
                p[((size_t)y * w + x) * 3 + k] =
                    0.5f + 0.12f * sinf(0.37f * x + 0.11f * y + k) + 0.1f * cosf(0.23f * y - 0.05f * x * k) +
                    test_uniform(&s, -0.08f, 0.08f);
    return img;
}

/* Every pixel moved right by dx (the first columns repeat column 0). */
static impasto_image *shifted(const impasto_image *src, int dx) {
    int w = impasto_image_width(src), h = impasto_image_height(src), c = impasto_image_channels(src);
    impasto_image *img = make(w, h, c);
    const float *a = impasto_image_cdata(src);
    float *b = impasto_image_data(img);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int sx = x - dx < 0 ? 0 : x - dx;
            memcpy(b + ((size_t)y * w + x) * c, a + ((size_t)y * w + sx) * c, (size_t)c * sizeof(float));
        }
    return img;
}

/* The same Gaussian noise (sigma) added to every channel of a pixel, so the luminance noise
 * has that sigma too (the BT.601 weights sum to 1). No clamping: images are float. */
static impasto_image *noised(const impasto_image *src, double sigma, unsigned long long seed) {
    int w = impasto_image_width(src), h = impasto_image_height(src), c = impasto_image_channels(src);
    impasto_image *img = make(w, h, c);
    const float *a = impasto_image_cdata(src);
    float *b = impasto_image_data(img);
    unsigned long long s = seed;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        double u1 = test_uniform(&s, 1e-7f, 1.0f), u2 = test_uniform(&s, 0.0f, 1.0f);
        double n = sigma * sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2);
        for (int k = 0; k < c; k++) b[i * c + k] = (float)(a[i * c + k] + n);
    }
    return img;
}

/* SSIM the slow way: the 2-D window summed directly at every valid position. */
static double naive_ssim(const impasto_image *a, const impasto_image *b) {
    int w = impasto_image_width(a), h = impasto_image_height(a);
    const float *pa = impasto_image_cdata(a), *pb = impasto_image_cdata(b);
    double g[11][11], gs = 0;
    for (int i = 0; i < 11; i++)
        for (int j = 0; j < 11; j++) gs += g[i][j] = exp(-((i - 5) * (i - 5) + (j - 5) * (j - 5)) / (2 * 2.25));
    double total = 0;
    for (int y = 0; y + 11 <= h; y++)
        for (int x = 0; x + 11 <= w; x++) {
            double ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
            for (int i = 0; i < 11; i++)
                for (int j = 0; j < 11; j++) {
                    const float *qa = pa + ((size_t)(y + i) * w + x + j) * 3, *qb = pb + ((size_t)(y + i) * w + x + j) * 3;
                    double ya = 0.299 * qa[0] + 0.587 * qa[1] + 0.114 * qa[2];
                    double yb = 0.299 * qb[0] + 0.587 * qb[1] + 0.114 * qb[2];
                    double wt = g[i][j] / gs;
                    ma += wt * ya, mb += wt * yb, saa += wt * ya * ya, sbb += wt * yb * yb, sab += wt * ya * yb;
                }
            double c1 = 1e-4, c2 = 9e-4;
            total += (2 * ma * mb + c1) * (2 * (sab - ma * mb) + c2) /
                     ((ma * ma + mb * mb + c1) * (saa - ma * ma + sbb - mb * mb + c2));
        }
    return total / ((double)(w - 10) * (h - 10));
}

static void test_identical(void) {
    impasto_image *a = textured(64, 48, 1), *b = textured(64, 48, 1);
    double v;
    CHECK(impasto_ssim(ctx, a, b, &v) == IMPASTO_OK);
    CHECK_NEAR(v, 1.0, 1e-9);
    CHECK(impasto_psnr(ctx, a, b, &v) == IMPASTO_OK);
    CHECK(isinf(v) && v > 0);
    CHECK(impasto_edge_agreement(ctx, a, b, &v) == IMPASTO_OK);
    CHECK_NEAR(v, 1.0, 1e-9);
    CHECK(impasto_color_distance(ctx, a, b, &v) == IMPASTO_OK);
    CHECK_NEAR(v, 0.0, 1e-12);
    impasto_image_free(a);
    impasto_image_free(b);
}

static void test_ssim_matches_direct_sum(void) {
    impasto_image *a = textured(23, 17, 2), *b = noised(a, 0.05, 3), *c = shifted(a, 1);
    double v;
    CHECK(impasto_ssim(ctx, a, b, &v) == IMPASTO_OK);
    CHECK_NEAR(v, naive_ssim(a, b), 1e-6);
    CHECK(impasto_ssim(ctx, a, c, &v) == IMPASTO_OK);
    CHECK_NEAR(v, naive_ssim(a, c), 1e-6);
    CHECK(v < 0.99);
    impasto_image_free(a);
    impasto_image_free(b);
    impasto_image_free(c);
}

/* Flat images: only the luminance term of SSIM is left, (2 a b + C1) / (a^2 + b^2 + C1). */
static void test_flat_images(void) {
    impasto_image *a = flat(16, 12, 3, 0.5f), *b = flat(16, 12, 1, 0.25f), *a2 = flat(16, 12, 4, 0.5f);
    impasto_image *t = textured(16, 12, 4);
    double v, c1 = 1e-4;
    CHECK(impasto_ssim(ctx, a, b, &v) == IMPASTO_OK);
    CHECK_NEAR(v, (2 * 0.5 * 0.25 + c1) / (0.25 + 0.0625 + c1), 1e-6);
    CHECK(impasto_ssim(ctx, a, a2, &v) == IMPASTO_OK);
    CHECK_NEAR(v, 1.0, 1e-6);
    CHECK(impasto_ssim(ctx, a, t, &v) == IMPASTO_OK);
    CHECK(v == v && v < 1.0);
    CHECK(impasto_psnr(ctx, a, b, &v) == IMPASTO_OK);
    CHECK_NEAR(v, 20 * log10(1 / 0.25), 1e-4);
    CHECK(impasto_edge_agreement(ctx, a, b, &v) == IMPASTO_OK);
    CHECK_NEAR(v, 1.0, 0);
    CHECK(impasto_edge_agreement(ctx, a, t, &v) == IMPASTO_OK);
    CHECK_NEAR(v, 0.0, 0);
    /* 0.5 and 0.25 fall 8 of 32 bins apart: every channel's EMD is 8/32. */
    CHECK(impasto_color_distance(ctx, a, b, &v) == IMPASTO_OK);
    CHECK_NEAR(v, 0.25, 1e-12);
    impasto_image *big = flat(40, 7, 3, 0.25f);
    CHECK(impasto_color_distance(ctx, b, big, &v) == IMPASTO_OK);
    CHECK_NEAR(v, 0.0, 1e-12);
    impasto_image_free(big);
    impasto_image_free(a);
    impasto_image_free(a2);
    impasto_image_free(b);
    impasto_image_free(t);
}

static void test_noise_and_shift(void) {
    impasto_image *a = textured(256, 256, 5);
    impasto_image *n1 = noised(a, 0.02, 6), *n2 = noised(a, 0.05, 7), *sh = shifted(a, 2);
    double s1, s2, s3, p1, p2, p3, e1, e3;
    CHECK(impasto_ssim(ctx, a, n1, &s1) == IMPASTO_OK);
    CHECK(impasto_ssim(ctx, a, n2, &s2) == IMPASTO_OK);
    CHECK(impasto_ssim(ctx, a, sh, &s3) == IMPASTO_OK);
    CHECK(s1 < 1.0 && s2 < s1 && s3 < 0.95);
    CHECK(impasto_psnr(ctx, a, n1, &p1) == IMPASTO_OK);
    CHECK(impasto_psnr(ctx, a, n2, &p2) == IMPASTO_OK);
    CHECK(impasto_psnr(ctx, a, sh, &p3) == IMPASTO_OK);
    /* 65536 samples: the sample variance is within ~1.5% (3 sigma), i.e. ~0.07 dB. */
    CHECK_NEAR(p1, 20 * log10(1 / 0.02), 0.1);
    CHECK_NEAR(p2, 20 * log10(1 / 0.05), 0.1);
    CHECK(isfinite(p3) && p3 > 10);
    CHECK(impasto_edge_agreement(ctx, a, n1, &e1) == IMPASTO_OK);
    CHECK(impasto_edge_agreement(ctx, a, sh, &e3) == IMPASTO_OK);
    CHECK(e1 < 1.0 && e3 < 0.9);
    impasto_image_free(a);
    impasto_image_free(n1);
    impasto_image_free(n2);
    impasto_image_free(sh);
}

/* Sobel is linear, so brightness and contrast changes scale every magnitude alike. */
static void test_edges_of_affine_copy(void) {
    impasto_image *a = textured(40, 30, 8), *b = make(40, 30, 3);
    const float *pa = impasto_image_cdata(a);
    float *pb = impasto_image_data(b);
    for (size_t i = 0; i < 40 * 30 * 3; i++) pb[i] = 0.5f * pa[i] + 0.2f;
    double v;
    CHECK(impasto_edge_agreement(ctx, a, b, &v) == IMPASTO_OK);
    CHECK_NEAR(v, 1.0, 1e-5);
    CHECK(impasto_color_distance(ctx, a, b, &v) == IMPASTO_OK);
    CHECK(v > 0.01);
    impasto_image_free(a);
    impasto_image_free(b);
}

static void test_bad_sizes(void) {
    impasto_image *a = flat(16, 16, 3, 0.5f), *b = flat(16, 15, 3, 0.5f), *tiny = flat(10, 30, 3, 0.5f);
    double v;
    CHECK(impasto_ssim(ctx, a, b, &v) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(ctx), "16x16 and 16x15") != NULL);
    CHECK(impasto_psnr(ctx, a, b, &v) == IMPASTO_ERR_INVALID_ARG);
    CHECK(impasto_edge_agreement(ctx, a, b, &v) == IMPASTO_ERR_INVALID_ARG);
    CHECK(impasto_ssim(ctx, tiny, tiny, &v) == IMPASTO_ERR_INVALID_ARG);
    CHECK(impasto_psnr(ctx, tiny, tiny, &v) == IMPASTO_OK);
    impasto_image_free(a);
    impasto_image_free(b);
    impasto_image_free(tiny);
}

/* One channel: every direction is +-1, so the SWD is the 1-D W2 itself. {0,1,2,3} against
 * {0,2}: the quantile functions differ by 1 on half of (0,1), so W2 = sqrt(1/2). */
static void test_swd_known(void) {
    const float a[4] = {3, 0, 2, 1}, b[2] = {2, 0};
    double v;
    CHECK(metrics_swd(ctx, 1, 4, a, 2, b, 8, 1, &v) == IMPASTO_OK);
    CHECK_NEAR(v, sqrt(0.5), 1e-6);
    CHECK(metrics_swd(ctx, 1, 4, a, 4, a, 8, 1, &v) == IMPASTO_OK);
    CHECK_NEAR(v, 0.0, 0);
}

static void test_swd_shift(void) {
    enum { C = 16, N = 500 };
    static float f[C * N], g[C * N], g2[C * N], dup[C * 2 * N], perm[C * N];
    unsigned long long s = 9;
    for (int i = 0; i < C * N; i++) f[i] = test_uniform(&s, -1, 1);
    for (int c = 0; c < C; c++)
        for (int i = 0; i < N; i++) {
            g[c * N + i] = f[c * N + i] + 0.5f;
            g2[c * N + i] = f[c * N + i] + 1.0f;
            dup[c * 2 * N + i] = dup[c * 2 * N + N + i] = f[c * N + i];
            perm[c * N + i] = f[c * N + (i * 7) % N];  /* 7 is coprime with 500 */
        }
    double same, d1, d2, vdup, vperm;
    CHECK(metrics_swd(ctx, C, N, f, N, f, 64, 1, &same) == IMPASTO_OK);
    CHECK(metrics_swd(ctx, C, N, f, N, g, 64, 1, &d1) == IMPASTO_OK);
    CHECK(metrics_swd(ctx, C, N, f, N, g2, 64, 1, &d2) == IMPASTO_OK);
    CHECK(metrics_swd(ctx, C, N, f, 2 * N, dup, 64, 1, &vdup) == IMPASTO_OK);
    CHECK(metrics_swd(ctx, C, N, f, N, perm, 64, 1, &vperm) == IMPASTO_OK);
    CHECK_NEAR(same, 0.0, 0);
    CHECK_NEAR(vdup, 0.0, 1e-6);
    CHECK_NEAR(vperm, 0.0, 1e-6);
    /* A pure shift d moves each projection by theta.d, so the SWD is sqrt(mean (theta.d)^2): linear
     * in |d|, and about |d| / sqrt(C) (64 directions: within ~25%). */
    CHECK_NEAR(d2 / d1, 2.0, 1e-4);
    double expect = 0.5 * sqrt((double)C) / sqrt((double)C);
    CHECK_NEAR(d1, expect, 0.25 * expect);
}

/* ---- VGG-19 ------------------------------------------------------------------------------ */

static impasto_model *vgg;
static impasto_image *photo, *painting;  /* the example images at 64 px */

static void test_vgg_self(void) {
    const impasto_image *styles[1] = {photo};
    impasto_eval_result r;
    CHECK(impasto_evaluate(ctx, vgg, photo, photo, styles, 1, NULL, &r) == IMPASTO_OK);
    CHECK(r.num_content_layers == 1 && !strcmp(r.content_layer_name[0], "relu4_2"));
    CHECK(r.num_style_layers == 5 && !strcmp(r.style_layer_name[4], "relu5_1"));
    CHECK(r.num_swd_layers == 5);
    CHECK_NEAR(r.content_loss, 0.0, 1e-6);
    CHECK_NEAR(r.style_loss, 0.0, 1e-6);
    CHECK_NEAR(r.swd, 0.0, 1e-6);
    CHECK_NEAR(r.ssim, 1.0, 1e-9);
    CHECK(isinf(r.psnr));
    CHECK_NEAR(r.edge, 1.0, 1e-9);
    CHECK_NEAR(r.color, 0.0, 1e-12);
}

/* The painting as the "output": far from the photo's content, identical to the style. */
static void test_vgg_painting_as_output(void) {
    const impasto_image *one[1] = {painting}, *two[2] = {painting, painting};
    impasto_eval_options opt;
    impasto_eval_options_init(&opt);
    opt.content_layers = "relu3_1,relu4_2";
    impasto_eval_result r, r2, rp;
    CHECK(impasto_evaluate(ctx, vgg, painting, photo, one, 1, &opt, &r) == IMPASTO_OK);
    CHECK(r.content_loss > 1.0);
    CHECK_NEAR(r.content_loss, r.content_layer_loss[0] + r.content_layer_loss[1], 1e-9 * r.content_loss);
    CHECK_NEAR(r.style_loss, 0.0, 1e-6);
    CHECK_NEAR(r.swd, 0.0, 1e-6);
    CHECK(r.ssim < 0.9 && r.edge < 0.9);
    /* Two copies of a style pool to the same Gram and the same feature distribution. */
    CHECK(impasto_evaluate(ctx, vgg, photo, photo, two, 2, &opt, &r2) == IMPASTO_OK);
    CHECK(impasto_evaluate(ctx, vgg, photo, photo, one, 1, &opt, &rp) == IMPASTO_OK);
    CHECK(rp.style_loss > 1.0 && rp.swd > 1.0 && rp.color > 0.01);
    CHECK_NEAR(r2.style_loss, rp.style_loss, 1e-5 * rp.style_loss);
    CHECK_NEAR(r2.swd, rp.swd, 1e-5 * rp.swd);
    CHECK_NEAR(r2.color, rp.color, 1e-12);
    double sum = 0, mean = 0;
    for (int i = 0; i < 5; i++) sum += rp.style_layer_loss[i], mean += rp.swd_layer[i] / 5;
    CHECK_NEAR(rp.style_loss, sum, 1e-9 * sum);
    CHECK_NEAR(rp.swd, mean, 1e-9 * mean);
}

static void test_vgg_bad_options(void) {
    const impasto_image *one[1] = {painting};
    impasto_eval_options opt;
    impasto_eval_result r;
    impasto_eval_options_init(&opt);
    opt.style_layers = "relu1_1,relu9_9";
    CHECK(impasto_evaluate(ctx, vgg, photo, photo, one, 1, &opt, &r) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(ctx), "relu9_9") != NULL);
    impasto_eval_options_init(&opt);
    opt.swd_projections = 0;
    CHECK(impasto_evaluate(ctx, vgg, photo, photo, one, 1, &opt, &r) == IMPASTO_ERR_INVALID_ARG);
    CHECK(impasto_evaluate(ctx, vgg, photo, photo, one, 0, NULL, &r) == IMPASTO_ERR_INVALID_ARG);
}

int main(void) {
    ctx = impasto_ctx_create();
    RUN(test_identical);
    RUN(test_ssim_matches_direct_sum);
    RUN(test_flat_images);
    RUN(test_noise_and_shift);
    RUN(test_edges_of_affine_copy);
    RUN(test_bad_sizes);
    RUN(test_swd_known);
    RUN(test_swd_shift);

    impasto_image *c = NULL, *s = NULL;
    if (impasto_model_load(ctx, MODEL, &vgg) != IMPASTO_OK || impasto_image_load(ctx, CONTENT, &c) != IMPASTO_OK ||
        impasto_image_load(ctx, STYLE, &s) != IMPASTO_OK ||
        impasto_image_resize_max_side(ctx, c, 64, &photo) != IMPASTO_OK ||
        impasto_image_resize_max_side(ctx, s, 64, &painting) != IMPASTO_OK) {
        fprintf(stderr, "setup failed: %s (run `make models` first)\n", impasto_ctx_error(ctx));
        test_failed_count++;
    } else {
        RUN(test_vgg_self);
        RUN(test_vgg_painting_as_output);
        RUN(test_vgg_bad_options);
    }
    impasto_image_free(c);
    impasto_image_free(s);
    impasto_image_free(photo);
    impasto_image_free(painting);
    impasto_model_free(vgg);
    impasto_ctx_free(ctx);
    return test_summary();
}
