/* Resampling against hand-computed values: area averaging when shrinking (including non-integer
 * ratios), Catmull-Rom when enlarging, premultiplied alpha, resize_max_side's rounding. */
#include "impasto.h"
#include "test.h"

static impasto_image *new_image(impasto_ctx *ctx, int w, int h, int c) {
    impasto_image *img = NULL;
    CHECK(impasto_image_create(ctx, w, h, c, &img) == IMPASTO_OK);
    return img;
}

static float px(const impasto_image *img, int x, int y, int c) {
    size_t i = (size_t)y * (size_t)impasto_image_width(img) + (size_t)x;
    return impasto_image_cdata(img)[i * (size_t)impasto_image_channels(img) + (size_t)c];
}

static void test_resize_constant(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    const float rgba[4] = {0.3f, 0.6f, 0.9f, 0.5f};
    const int sizes[][2] = {{10, 7}, {80, 50}, {37, 50}, {15, 23}, {1, 1}, {111, 3}};
    for (int c = 3; c <= 4; c++) {
        impasto_image *img = new_image(ctx, 37, 23, c);
        for (int i = 0; i < 37 * 23; i++)
            for (int k = 0; k < c; k++) impasto_image_data(img)[i * c + k] = rgba[k];
        for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
            impasto_image *out = NULL;
            CHECK(impasto_image_resize(ctx, img, sizes[t][0], sizes[t][1], &out) == IMPASTO_OK);
            if (!out) continue;
            CHECK(impasto_image_width(out) == sizes[t][0] &&
                  impasto_image_height(out) == sizes[t][1]);
            double maxerr = 0;
            for (int i = 0; i < sizes[t][0] * sizes[t][1]; i++)
                for (int k = 0; k < c; k++)
                    maxerr = fmax(maxerr, fabs(impasto_image_cdata(out)[i * c + k] - rgba[k]));
            CHECK_MSG(maxerr < 1e-5, "%d channels to %dx%d: %g", c, sizes[t][0], sizes[t][1],
                      maxerr);
            impasto_image_free(out);
        }
        impasto_image_free(img);
    }
    impasto_ctx_free(ctx);
}

/* Shrinking by exactly 2 is the mean of each 2x2 block; large enough to take the threaded path. */
static void check_halving(int w, int h, int c) {
    impasto_ctx *ctx = impasto_ctx_create();
    unsigned long long rng = 99;
    impasto_image *img = new_image(ctx, w, h, c), *out = NULL;
    for (int i = 0; i < w * h * c; i++) impasto_image_data(img)[i] = test_uniform(&rng, 0, 1);
    CHECK(impasto_image_resize(ctx, img, w / 2, h / 2, &out) == IMPASTO_OK);
    double maxerr = 0;
    for (int y = 0; out && y < h / 2; y++)
        for (int x = 0; x < w / 2; x++)
            for (int k = 0; k < c; k++) {
                double m = (px(img, 2 * x, 2 * y, k) + px(img, 2 * x + 1, 2 * y, k) +
                            px(img, 2 * x, 2 * y + 1, k) + px(img, 2 * x + 1, 2 * y + 1, k)) /
                           4;
                maxerr = fmax(maxerr, fabs(px(out, x, y, k) - m));
            }
    CHECK_MSG(out && maxerr < 1e-6, "%dx%dx%d: %g", w, h, c, maxerr);
    impasto_image_free(out);
    impasto_image_free(img);
    impasto_ctx_free(ctx);
}

static void test_resize_area_average(void) {
    check_halving(8, 6, 1);
    check_halving(10, 4, 3);
    check_halving(600, 400, 3);
    /* 3 -> 2: each output covers 1.5 source pixels, the middle one split in halves. */
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *img = new_image(ctx, 3, 1, 1), *out = NULL;
    float *d = impasto_image_data(img);
    d[0] = 0.2f, d[1] = 0.5f, d[2] = 0.9f;
    CHECK(impasto_image_resize(ctx, img, 2, 1, &out) == IMPASTO_OK);
    if (out) {
        CHECK_NEAR(px(out, 0, 0, 0), (0.2 + 0.5 * 0.5) / 1.5, 1e-6);
        CHECK_NEAR(px(out, 1, 0, 0), (0.5 * 0.5 + 0.9) / 1.5, 1e-6);
    }
    impasto_image_free(out);
    /* 3 -> 1 vertically is the plain mean. */
    impasto_image *col = new_image(ctx, 1, 3, 1);
    memcpy(impasto_image_data(col), d, 3 * sizeof(float));
    CHECK(impasto_image_resize(ctx, col, 1, 1, &out) == IMPASTO_OK);
    if (out) CHECK_NEAR(px(out, 0, 0, 0), (0.2 + 0.5 + 0.9) / 3, 1e-6);
    impasto_image_free(out);
    impasto_image_free(col);
    impasto_image_free(img);
    impasto_ctx_free(ctx);
}

/* Catmull-Rom between p1 and p2 at t in the cubic-Hermite form (tangents (p2 - p0)/2, (p3 - p1)/2):
 * an independent statement of the same spline as Keys' a = -0.5 kernel. */
static double catmull_rom(double p0, double p1, double p2, double p3, double t) {
    return 0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t * t +
                  (-p0 + 3 * p1 - 3 * p2 + p3) * t * t * t);
}

/* 4 samples enlarged to 8: output i samples x = (i + 0.5)/2 - 0.5, edges clamped. */
static double enlarge4to8(const double *v, int i) {
    double x = (i + 0.5) * 4 / 8 - 0.5;
    int f = (int)floor(x);
#define AT(j) v[(j) < 0 ? 0 : ((j) > 3 ? 3 : (j))]
    return catmull_rom(AT(f - 1), AT(f), AT(f + 1), AT(f + 2), x - f);
#undef AT
}

static void test_resize_bicubic(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    const double row[4] = {0.2, 0.4, 0.9, 0.5}, col[4] = {0.9, 0.3, 0.6, 0.7};
    impasto_image *img = new_image(ctx, 4, 1, 1), *out = NULL;
    for (int i = 0; i < 4; i++) impasto_image_data(img)[i] = (float)row[i];
    CHECK(impasto_image_resize(ctx, img, 8, 1, &out) == IMPASTO_OK);
    if (out) {
        /* By hand: x = 1.25 uses weights -0.0703125, 0.8671875, 0.2265625, -0.0234375;
         * x = -0.25 clamps three taps onto sample 0. */
        CHECK_NEAR(px(out, 3, 0, 0), 0.525, 1e-6);
        CHECK_NEAR(px(out, 0, 0, 0), 0.1859375, 1e-6);
        for (int i = 0; i < 8; i++) CHECK_NEAR(px(out, i, 0, 0), enlarge4to8(row, i), 1e-6);
    }
    impasto_image_free(out);
    impasto_image_free(img);
    /* Separable: a product image f(x) g(y) enlarges to the product of the 1-D results. */
    img = new_image(ctx, 4, 4, 3);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            for (int k = 0; k < 3; k++)
                impasto_image_data(img)[(y * 4 + x) * 3 + k] = (float)(row[x] * col[y]);
    CHECK(impasto_image_resize(ctx, img, 8, 8, &out) == IMPASTO_OK);
    double maxerr = 0;
    for (int y = 0; out && y < 8; y++)
        for (int x = 0; x < 8; x++)
            for (int k = 0; k < 3; k++)
                maxerr = fmax(maxerr,
                              fabs(px(out, x, y, k) - enlarge4to8(row, x) * enlarge4to8(col, y)));
    CHECK_MSG(out && maxerr < 1e-6, "%g", maxerr);
    impasto_image_free(out);
    /* One axis enlarged, the other shrunk: 4x4 -> 8x2 is Catmull-Rom along x, pair means
     * along y. */
    CHECK(impasto_image_resize(ctx, img, 8, 2, &out) == IMPASTO_OK);
    if (out) CHECK_NEAR(px(out, 3, 1, 0), enlarge4to8(row, 3) * (col[2] + col[3]) / 2, 1e-6);
    impasto_image_free(out);
    impasto_image_free(img);
    impasto_ctx_free(ctx);
}

static void test_resize_alpha(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    /* Transparent red beside opaque blue. */
    impasto_image *img = new_image(ctx, 2, 1, 4), *out = NULL;
    const float src[8] = {1, 0, 0, 0, 0, 0, 1, 1};
    memcpy(impasto_image_data(img), src, sizeof src);
    CHECK(impasto_image_resize(ctx, img, 1, 1, &out) == IMPASTO_OK);
    if (out) {
        CHECK_NEAR(px(out, 0, 0, 0), 0.0, 1e-6);
        CHECK_NEAR(px(out, 0, 0, 2), 1.0, 1e-6);
        CHECK_NEAR(px(out, 0, 0, 3), 0.5, 1e-6);
    }
    impasto_image_free(out);
    CHECK(impasto_image_resize(ctx, img, 6, 3, &out) == IMPASTO_OK);
    for (int x = 0; out && x < 6; x++) {
        if (px(out, x, 1, 3) <= 1e-3) continue;
        CHECK_MSG(px(out, x, 1, 0) < 1e-5 && fabs(px(out, x, 1, 2) - 1.0) < 1e-5,
                  "x=%d: %g %g %g %g", x, px(out, x, 1, 0), px(out, x, 1, 1), px(out, x, 1, 2),
                  px(out, x, 1, 3));
    }
    if (out) CHECK(px(out, 5, 1, 3) > 0.99f && px(out, 0, 1, 3) < 0.01f);
    impasto_image_free(out);
    impasto_image_free(img);
    /* Gray + alpha likewise. */
    img = new_image(ctx, 2, 2, 2);
    const float ga[8] = {1, 0, 0.2f, 1, 1, 0, 0.2f, 1};
    memcpy(impasto_image_data(img), ga, sizeof ga);
    CHECK(impasto_image_resize(ctx, img, 1, 1, &out) == IMPASTO_OK);
    if (out) CHECK_NEAR(px(out, 0, 0, 0), 0.2, 1e-6);
    impasto_image_free(out);
    impasto_image_free(img);
    impasto_ctx_free(ctx);
}

static void test_resize_max_side(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    const int cases[][5] = {
        /* w, h, max_side, want w, want h */
        {400, 300, 200, 200, 150}, {300, 400, 200, 150, 200}, {1000, 1, 10, 10, 1},
        {3, 1000, 100, 1, 100},    {333, 100, 100, 100, 30},  {101, 100, 50, 50, 50},
        {5, 3, 11, 11, 7},         {64, 64, 64, 64, 64},      {2, 3, 5, 3, 5}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        impasto_image *img = new_image(ctx, cases[t][0], cases[t][1], 3), *out = NULL;
        CHECK(impasto_image_resize_max_side(ctx, img, cases[t][2], &out) == IMPASTO_OK);
        CHECK_MSG(out && impasto_image_width(out) == cases[t][3] &&
                      impasto_image_height(out) == cases[t][4],
                  "%dx%d max %d -> %dx%d", cases[t][0], cases[t][1], cases[t][2],
                  impasto_image_width(out), impasto_image_height(out));
        impasto_image_free(out);
        impasto_image_free(img);
    }
    impasto_image *img = new_image(ctx, 4, 4, 1), *out = NULL;
    CHECK(impasto_image_resize_max_side(ctx, img, 0, &out) == IMPASTO_ERR_INVALID_ARG && !out);
    CHECK(impasto_image_resize(ctx, img, -1, 4, &out) == IMPASTO_ERR_INVALID_ARG && !out);
    impasto_image_free(img);
    impasto_ctx_free(ctx);
}

int main(void) {
    RUN(test_resize_constant);
    RUN(test_resize_area_average);
    RUN(test_resize_bicubic);
    RUN(test_resize_alpha);
    RUN(test_resize_max_side);
    return test_summary();
}
