/* The content, style and total-variation losses: gradients against central finite differences
 * (in double, on small random tensors), values and gradients against PyTorch autograd in float64
 * (tests/data/loss_golden.bin from tools/gen_golden_loss.py; tolerance 1e-5 relative to the
 * largest magnitude of each quantity — the inputs are float32 and the gram goes through sgemm), a
 * gram matrix by hand, and the multi-threaded sums against plain serial ones. */
#include <stdint.h>

#include "loss/loss.h"
#include "golden_records.h"
#include "test.h"

static float *random_tensor(size_t n, float lo, float hi, unsigned long long *seed) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = test_uniform(seed, lo, hi);
    return v;
}

static double max_abs(const float *v, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

/* ---- finite differences: dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / (x_i+ - x_i-), with the
 * step actually taken (x is float) ---- */

typedef struct fd_case {
    int kind; /* 0 content, 1 style, 2 tv */
    int c, h, w;
    const float *target;
    double weight;
    float *ws;
} fd_case;

static double fd_loss(const fd_case *fc, const float *x, float *dx) {
    size_t hw = (size_t)fc->h * fc->w;
    switch (fc->kind) {
    case 0: return content_loss((size_t)fc->c * hw, x, fc->target, fc->weight, dx);
    case 1: return style_loss(fc->c, hw, x, fc->target, fc->weight, fc->ws, dx);
    default: return tv_loss(fc->c, fc->h, fc->w, x, fc->weight, dx);
    }
}

/* Checks every component of the analytic gradient; tol is relative to its largest entry. */
static void fd_check(const fd_case *fc, float *x, float step, double tol) {
    size_t n = (size_t)fc->c * fc->h * fc->w;
    float *dx = malloc(n * sizeof *dx);
    double l0 = fd_loss(fc, x, dx), l1 = fd_loss(fc, x, NULL);
    CHECK_NEAR(l0, l1, 0); /* the value does not depend on whether dx is wanted */
    double scale = fmax(max_abs(dx, n), 1e-12);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float xi = x[i], xp = xi + step, xm = xi - step;
        x[i] = xp;
        double lp = fd_loss(fc, x, NULL);
        x[i] = xm;
        double lm = fd_loss(fc, x, NULL);
        x[i] = xi;
        double fd = (lp - lm) / ((double)xp - (double)xm);
        if (!(fabs(fd - dx[i]) <= tol * scale) && bad++ < 5)
            CHECK_MSG(0, "kind %d (%d,%d,%d) i=%zu: analytic %.9g, finite difference %.9g", fc->kind,
                      fc->c, fc->h, fc->w, i, dx[i], fd);
    }
    free(dx);
}

static void test_gram_by_hand(void) {
    /* F (2, 3) = [1 2 3; 4 5 6]: F F^T = [14 32; 32 77], divided by C*H*W = 6 */
    const float f[6] = {1, 2, 3, 4, 5, 6};
    float g[4];
    gram_matrix(2, 3, f, g);
    CHECK_NEAR(g[0], 14.0 / 6, 1e-6);
    CHECK_NEAR(g[1], 32.0 / 6, 1e-6);
    CHECK_NEAR(g[2], 32.0 / 6, 1e-6);
    CHECK_NEAR(g[3], 77.0 / 6, 1e-6);
    /* style loss against that gram as target is zero, with zero gradient */
    float ws[4], dx[6];
    CHECK_NEAR(style_loss(2, 3, f, g, 10.0, ws, dx), 0.0, 1e-12);
    CHECK_NEAR(max_abs(dx, 6), 0.0, 1e-7);
    /* against T = 0: w/C^2 * sum G^2 */
    const float zero[4] = {0};
    double want = 10.0 / 4 * (14.0 * 14 + 2 * 32.0 * 32 + 77.0 * 77) / 36;
    CHECK_NEAR(style_loss(2, 3, f, zero, 10.0, ws, NULL), want, 1e-5 * want);
}

static void test_content_by_hand(void) {
    const float x[4] = {1, 2, 3, 4}, t[4] = {0, 2, 5, 4};
    float dx[4];
    /* 3 * (1 + 0 + 4 + 0) / 4 ; gradient 3 * 2 (x - t) / 4 */
    CHECK_NEAR(content_loss(4, x, t, 3.0, dx), 3.75, 1e-12);
    CHECK_NEAR(dx[0], 1.5, 1e-7);
    CHECK_NEAR(dx[1], 0.0, 0);
    CHECK_NEAR(dx[2], -3.0, 1e-7);
    CHECK_NEAR(content_loss(0, x, t, 3.0, dx), 0.0, 0);
}

static void test_tv_by_hand(void) {
    /* one 2x2 channel [a b; c d]: w/2 ((a-b)^2 + (a-c)^2); b, c, d's own pairs fall outside the
     * (H-1, W-1) block */
    const float x[4] = {1, 4, 6, 100};
    float dx[4];
    CHECK_NEAR(tv_loss(1, 2, 2, x, 2.0, dx), 9.0 + 25.0, 1e-9);
    CHECK_NEAR(dx[0], 2.0 * ((1 - 4) + (1 - 6)), 1e-6);
    CHECK_NEAR(dx[1], -2.0 * (1 - 4), 1e-6);
    CHECK_NEAR(dx[2], -2.0 * (1 - 6), 1e-6);
    CHECK_NEAR(dx[3], 0.0, 0);
    /* a single row or column has no pairs */
    CHECK_NEAR(tv_loss(1, 1, 4, x, 2.0, dx), 0.0, 0);
    CHECK_NEAR(max_abs(dx, 4), 0.0, 0);
    CHECK_NEAR(tv_loss(1, 4, 1, x, 2.0, dx), 0.0, 0);
    CHECK_NEAR(max_abs(dx, 4), 0.0, 0);
}

static void test_content_gradient_fd(void) {
    unsigned long long seed = 101;
    const int shapes[][3] = {{1, 1, 1}, {3, 4, 5}, {8, 7, 3}};
    for (int s = 0; s < 3; s++) {
        size_t n = (size_t)shapes[s][0] * shapes[s][1] * shapes[s][2];
        float *x = random_tensor(n, -1, 2, &seed), *t = random_tensor(n, -1, 2, &seed);
        fd_case fc = {0, shapes[s][0], shapes[s][1], shapes[s][2], t, 2.5, NULL};
        fd_check(&fc, x, 1e-2f, 1e-5); /* quadratic: the central difference is exact */
        free(x), free(t);
    }
}

static void test_style_gradient_fd(void) {
    unsigned long long seed = 202;
    const int shapes[][3] = {{1, 1, 1}, {2, 3, 1}, {3, 4, 5}, {8, 5, 4}, {17, 3, 11}};
    for (int s = 0; s < 5; s++) {
        int c = shapes[s][0];
        size_t hw = (size_t)shapes[s][1] * shapes[s][2], n = (size_t)c * hw;
        float *x = random_tensor(n, 0, 2, &seed), *other = random_tensor(n, 0, 1.5f, &seed);
        float *t = malloc((size_t)c * c * sizeof *t), *ws = malloc((size_t)c * c * sizeof *ws);
        gram_matrix(c, hw, other, t);
        fd_case fc = {1, c, shapes[s][1], shapes[s][2], t, 100.0, ws};
        fd_check(&fc, x, 1e-2f, 1e-3);
        free(x), free(other), free(t), free(ws);
    }
}

static void test_tv_gradient_fd(void) {
    unsigned long long seed = 303;
    const int shapes[][3] = {{1, 2, 2}, {3, 5, 7}, {2, 1, 6}, {2, 6, 1}, {3, 9, 4}};
    for (int s = 0; s < 5; s++) {
        size_t n = (size_t)shapes[s][0] * shapes[s][1] * shapes[s][2];
        float *x = random_tensor(n, -1, 1, &seed);
        fd_case fc = {2, shapes[s][0], shapes[s][1], shapes[s][2], NULL, 0.7, NULL};
        fd_check(&fc, x, 1e-2f, 1e-5);
        free(x);
    }
}

/* |a_i - b_i| <= rel * max|b| for all i. */
static void check_array(const char *what, const float *a, const float *b, size_t n, double rel) {
    double tol = rel * fmax(max_abs(b, n), 1e-30);
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)a[i] - b[i]) <= tol) && bad++ < 5)
            CHECK_MSG(0, "%s[%zu] = %.9g, reference %.9g", what, i, a[i], b[i]);
}

static void test_golden_pytorch(void) {
    golden gd;
    if (!golden_load(&gd, "tests/data/loss_golden.bin")) {
        CHECK_MSG(0, "cannot read tests/data/loss_golden.bin (run from the repo root)");
        return;
    }
    size_t k, n = 0, cc = 0;
    float *shape = golden_get(&gd, "shape", &k), *wts = golden_get(&gd, "weights", &k);
    float *x = golden_get(&gd, "x", &n), *ct = golden_get(&gd, "content.t", &k);
    float *st = golden_get(&gd, "style.t", &cc), *gram = golden_get(&gd, "gram", &k);
    float *loss = golden_get(&gd, "loss", &k), *cdx = golden_get(&gd, "content.dx", &k);
    float *sdx = golden_get(&gd, "style.dx", &k), *tdx = golden_get(&gd, "tv.dx", &k);
    int ok = shape && wts && x && ct && st && gram && loss && cdx && sdx && tdx;
    CHECK(ok);
    if (ok) {
        int c = (int)shape[0], h = (int)shape[1], w = (int)shape[2];
        size_t hw = (size_t)h * w;
        CHECK(n == (size_t)c * hw && cc == (size_t)c * c);
        float *g = malloc(cc * sizeof *g), *ws = malloc(cc * sizeof *ws), *dx = malloc(n * sizeof *dx);
        gram_matrix(c, hw, x, g);
        check_array("gram", g, gram, cc, 1e-5);
        double l = content_loss(n, x, ct, wts[0], dx);
        CHECK_NEAR(l, loss[0], 1e-5 * fabs(loss[0]));
        check_array("content.dx", dx, cdx, n, 1e-5);
        l = style_loss(c, hw, x, st, wts[1], ws, dx);
        CHECK_NEAR(l, loss[1], 1e-5 * fabs(loss[1]));
        check_array("style.dx", dx, sdx, n, 1e-5);
        l = tv_loss(c, h, w, x, wts[2], dx);
        CHECK_NEAR(l, loss[2], 1e-5 * fabs(loss[2]));
        check_array("tv.dx", dx, tdx, n, 1e-5);
        free(g), free(ws), free(dx);
    }
    free(shape), free(wts), free(x), free(ct), free(st), free(gram), free(loss), free(cdx),
        free(sdx), free(tdx);
    free(gd.data);
}

/* Sizes past the threshold for threads: values and gradients against serial double loops. */
static void test_large_against_serial(void) {
    unsigned long long seed = 404;
    const int c = 3, h = 211, w = 197;
    const size_t n = (size_t)c * h * w;
    float *x = random_tensor(n, 0, 255, &seed), *t = random_tensor(n, 0, 255, &seed);
    float *dx = malloc(n * sizeof *dx);

    double want = 0;
    for (size_t i = 0; i < n; i++) want += ((double)x[i] - t[i]) * ((double)x[i] - t[i]);
    want = 0.5 * want / (double)n;
    CHECK_NEAR(content_loss(n, x, t, 0.5, dx), want, 1e-12 * want);
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(dx[i] - 0.5 * 2 * ((double)x[i] - t[i]) / (double)n) <= 1e-6 * fabs(dx[i]) + 1e-30) &&
            bad++ < 3)
            CHECK_MSG(0, "content dx[%zu] = %g", i, dx[i]);

    double tv = 0;
    float *ref = calloc(n, sizeof *ref);
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i + 1 < h; i++)
            for (int j = 0; j + 1 < w; j++) {
                size_t p = ((size_t)ch * h + i) * w + j;
                double a = (double)x[p] - x[p + 1], b = (double)x[p] - x[p + w];
                tv += a * a + b * b;
                ref[p] += (float)(a + b);
                ref[p + 1] -= (float)a;
                ref[p + w] -= (float)b;
            }
    tv *= 0.5 * 1e-3;
    CHECK_NEAR(tv_loss(c, h, w, x, 1e-3, dx), tv, 1e-12 * tv);
    for (size_t i = 0; i < n; i++) ref[i] *= 1e-3f;
    check_array("tv dx", dx, ref, n, 1e-6);
    free(x), free(t), free(dx), free(ref);
}

int main(void) {
    RUN(test_gram_by_hand);
    RUN(test_content_by_hand);
    RUN(test_tv_by_hand);
    RUN(test_content_gradient_fd);
    RUN(test_style_gradient_fd);
    RUN(test_tv_gradient_fd);
    RUN(test_golden_pytorch);
    RUN(test_large_against_serial);
    return test_summary();
}
