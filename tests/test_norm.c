/* Instance normalisation (src/nn/norm.c) and nearest upsampling (src/nn/upsample.c): forward
 * against a direct double-precision computation written here, backward against central finite
 * differences of L = sum(y * r) (as tests/test_nn.c checks the other layers), including the
 * fused ReLU, in-place use and the threaded paths. */
#include "test.h"

#include "nn/nn.h"

static void fill(float *p, size_t n, unsigned long long *seed, float lo, float hi) {
    for (size_t i = 0; i < n; i++) p[i] = test_uniform(seed, lo, hi);
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

typedef double (*loss_fn)(void *);

/* Central differences of f against the analytic gradient g, element by element. */
static int fd_check(const char *what, float *p, size_t n, const float *g, loss_fn f, void *ctx, float eps,
                    double tol) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = p[i];
        p[i] = keep + eps;
        float hi = p[i];
        double lp = f(ctx);
        p[i] = keep - eps;
        float lo = p[i];
        double lm = f(ctx);
        p[i] = keep;
        double num = (lp - lm) / ((double)hi - (double)lo);
        if (!(fabs(num - g[i]) <= tol * (1.0 + fabs(num)))) {
            if (bad < 3) fprintf(stderr, "  %s[%zu]: analytic %.7g, numeric %.7g\n", what, i, g[i], num);
            bad++;
        }
    }
    return bad;
}

/* ---- instance norm ----------------------------------------------------------------------- */

/* Mean and biased variance (as PyTorch's InstanceNorm2d) of x (n values), two passes in double. */
static void ref_moments(const float *x, size_t n, double *mean, double *var) {
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++) m += x[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *var = v / (double)n;
}

typedef struct in_case {
    int c, relu, threads;
    size_t hw;
    float *x, *gamma, *beta, *y, *r;  /* x, y, r (C, HW); gamma, beta (C) */
} in_case;

static double in_loss(void *p) {
    in_case *t = p;
    instance_norm_forward(t->c, t->hw, t->x, t->gamma, t->beta, 1e-5f, t->y, NULL, NULL, t->relu, t->threads);
    return dot(t->y, t->r, (size_t)t->c * t->hw);
}

static void test_instance_norm_forward(void) {
    unsigned long long seed = 11;
    const int c = 4;
    const size_t hw = 37;
    float *x = test_falloc(c * hw), *g = test_falloc(c), *b = test_falloc(c), *y = test_falloc(c * hw), *mean = test_falloc(c),
          *is = test_falloc(c);
    fill(x, c * hw, &seed, -3, 5);
    fill(g, c, &seed, 0.5f, 2);
    fill(b, c, &seed, -1, 1);
    for (int relu = 0; relu < 2; relu++) {
        instance_norm_forward(c, hw, x, g, b, 1e-5f, y, mean, is, relu, 2);
        for (int ch = 0; ch < c; ch++) {
            double m, v;
            ref_moments(x + ch * hw, hw, &m, &v);
            CHECK_NEAR(mean[ch], m, 1e-5);
            CHECK_NEAR(is[ch], 1.0 / sqrt(v + 1e-5), 1e-5);
            for (size_t i = 0; i < hw; i++) {
                double want = g[ch] * (x[ch * hw + i] - m) / sqrt(v + 1e-5) + b[ch];
                if (relu && want < 0) want = 0;
                CHECK_NEAR(y[ch * hw + i], want, 2e-5 * (1 + fabs(want)));
            }
        }
    }
    /* In place, no statistics wanted, no affine parameters: mean 0, variance 1 per channel. */
    instance_norm_forward(c, hw, x, NULL, NULL, 0.0f, x, NULL, NULL, 0, 1);
    for (int ch = 0; ch < c; ch++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < hw; i++) m += x[ch * hw + i];
        for (size_t i = 0; i < hw; i++) v += x[ch * hw + i] * x[ch * hw + i];
        CHECK_NEAR(m / (double)hw, 0, 1e-6);
        CHECK_NEAR(v / (double)hw, 1, 1e-5);
    }
    free(x), free(g), free(b), free(y), free(mean), free(is);
}

/* The residual form r += norm(x), on channels large enough for the threaded path and many
 * summation chunks, with a mean well off 0 (the variance must not cancel away), 1 and 2 threads. */
static void test_instance_norm_add_forward(void) {
    unsigned long long seed = 12;
    const int c = 3;
    const size_t hw = 70001;
    float *x = test_falloc(c * hw), *g = test_falloc(c), *b = test_falloc(c), *r0 = test_falloc(c * hw), *r = test_falloc(c * hw);
    for (size_t i = 0; i < c * hw; i++) x[i] = 50.0f + test_uniform(&seed, -2, 3);
    fill(g, c, &seed, 0.5f, 2);
    fill(b, c, &seed, -1, 1);
    fill(r0, c * hw, &seed, -4, 4);
    for (int threads = 1; threads <= 2; threads++) {
        memcpy(r, r0, c * hw * sizeof *r);
        instance_norm_add_forward(c, hw, x, g, b, 1e-5f, r, threads);
        double worst = 0;
        for (int ch = 0; ch < c; ch++) {
            double m, v;
            ref_moments(x + ch * hw, hw, &m, &v);
            for (size_t i = 0; i < hw; i++) {
                double want = r0[ch * hw + i] + g[ch] * (x[ch * hw + i] - m) / sqrt(v + 1e-5) + b[ch];
                worst = fmax(worst, fabs(r[ch * hw + i] - want) / (1 + fabs(want)));
            }
        }
        CHECK_MSG(worst <= 2e-5, "%d thread(s): relative error %g", threads, worst);
    }
    free(x), free(g), free(b), free(r0), free(r);
}

/* The statistics on channels that defeat a naive one-pass sum of squares: a mean 10^4 times the
 * spread, one outlier among zeros, a ramp across many chunks, a constant; mean and 1 / std against
 * a two-pass double computation. */
static void test_instance_norm_moments(void) {
    unsigned long long seed = 13;
    const int c = 4;
    const size_t hw = 100003;
    float *x = test_falloc(c * hw), *y = test_falloc(c * hw), *mean = test_falloc(c), *is = test_falloc(c);
    for (size_t i = 0; i < hw; i++) {
        x[i] = 1e4f + test_uniform(&seed, -1, 1);
        x[hw + i] = i == 777 ? 1e3f : 0.0f;
        x[2 * hw + i] = 1e-3f * (float)i + test_uniform(&seed, -0.5f, 0.5f);
        x[3 * hw + i] = -7.25f;
    }
    instance_norm_forward(c, hw, x, NULL, NULL, 1e-5f, y, mean, is, 0, 2);
    for (int ch = 0; ch < c; ch++) {
        double m, v;
        ref_moments(x + ch * hw, hw, &m, &v);
        const double want = 1.0 / sqrt(v + 1e-5);
        CHECK_MSG(fabs(mean[ch] - m) <= 1e-6 * (fabs(m) + sqrt(v)), "channel %d: mean %.9g, want %.9g", ch,
                  mean[ch], m);
        CHECK_MSG(fabs(is[ch] - want) <= 1e-5 * want, "channel %d: invstd %.9g, want %.9g", ch, is[ch], want);
    }
    free(x), free(y), free(mean), free(is);
}

static void test_instance_norm_fd(void) {
    static const struct { int c, hw, relu, threads; } cases[] = {{3, 35, 0, 1}, {2, 12, 1, 2}, {5, 9, 0, 3}, {1, 64, 1, 1}};
    unsigned long long seed = 5;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        in_case t = {cases[k].c, cases[k].relu, cases[k].threads, (size_t)cases[k].hw, 0, 0, 0, 0, 0};
        size_t n = (size_t)t.c * t.hw;
        t.x = test_falloc(n), t.y = test_falloc(n), t.r = test_falloc(n), t.gamma = test_falloc(t.c), t.beta = test_falloc(t.c);
        fill(t.x, n, &seed, -2, 2);
        fill(t.r, n, &seed, -1, 1);
        fill(t.gamma, t.c, &seed, 0.5f, 1.5f);
        fill(t.beta, t.c, &seed, -0.5f, 0.5f);
        float *mean = test_falloc(t.c), *is = test_falloc(t.c), *dy = test_falloc(n), *dx = test_falloc(n);
        float *dg = calloc(t.c, sizeof *dg), *db = calloc(t.c, sizeof *db);
        instance_norm_forward(t.c, t.hw, t.x, t.gamma, t.beta, 1e-5f, t.y, mean, is, t.relu, t.threads);
        /* The fused ReLU's gradient is applied by relu_backward from the output. */
        if (t.relu) relu_backward(n, t.y, t.r, dy);
        else memcpy(dy, t.r, n * sizeof *dy);
        instance_norm_backward(t.c, t.hw, t.x, t.gamma, mean, is, dy, NULL, dx, dg, db, t.threads);
        int bad = fd_check("dx", t.x, n, dx, in_loss, &t, 1e-3f, 5e-3);
        bad += fd_check("dgamma", t.gamma, t.c, dg, in_loss, &t, 1e-3f, 5e-3);
        bad += fd_check("dbeta", t.beta, t.c, db, in_loss, &t, 1e-3f, 5e-3);
        CHECK_MSG(bad == 0, "instance norm case %zu: %d gradient elements off", k, bad);
        /* Accumulation and in place (dx == dy): a second call doubles dgamma, same dx. */
        float *dg2 = malloc(t.c * sizeof *dg2);
        memcpy(dg2, dg, t.c * sizeof *dg2);
        instance_norm_backward(t.c, t.hw, t.x, t.gamma, mean, is, dy, NULL, dy, dg, NULL, t.threads);
        for (int ch = 0; ch < t.c; ch++) CHECK_NEAR(dg[ch], 2 * dg2[ch], 1e-5 * (1 + fabs(dg2[ch])));
        CHECK(memcmp(dx, dy, n * sizeof *dx) == 0);
        if (t.relu) {
            /* The ReLU's backward fused (relu_y): the same numbers from the ReLU's output gradient,
             * in place too. */
            float *dg3 = calloc(t.c, sizeof *dg3), *db3 = calloc(t.c, sizeof *db3), *g3 = test_falloc(n);
            memcpy(g3, t.r, n * sizeof *g3);
            instance_norm_backward(t.c, t.hw, t.x, t.gamma, mean, is, g3, t.y, g3, dg3, db3, t.threads);
            CHECK(memcmp(g3, dx, n * sizeof *dx) == 0);
            for (int ch = 0; ch < t.c; ch++) CHECK(dg3[ch] == dg2[ch] && db3[ch] == db[ch]);
            free(dg3), free(db3), free(g3);
        }
        free(dg2), free(mean), free(is), free(dy), free(dx), free(dg), free(db);
        free(t.x), free(t.y), free(t.r), free(t.gamma), free(t.beta);
    }
}

/* ---- nearest upsampling ------------------------------------------------------------------- */

typedef struct up_case {
    int c, h, w, s, threads;
    float *x, *y, *r;
} up_case;

static double up_loss(void *p) {
    up_case *t = p;
    upsample_nearest_forward(t->c, t->h, t->w, t->s, t->x, t->y, t->threads);
    return dot(t->y, t->r, (size_t)t->c * t->h * t->w * t->s * t->s);
}

static void test_upsample(void) {
    static const int cases[][5] = {{2, 3, 5, 2, 1}, {3, 4, 1, 3, 2}, {1, 1, 1, 2, 1}, {4, 5, 6, 2, 3}};
    unsigned long long seed = 9;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        up_case t = {cases[k][0], cases[k][1], cases[k][2], cases[k][3], cases[k][4], 0, 0, 0};
        size_t nx = (size_t)t.c * t.h * t.w, ny = nx * t.s * t.s;
        int oh = t.h * t.s, ow = t.w * t.s;
        t.x = test_falloc(nx), t.y = test_falloc(ny), t.r = test_falloc(ny);
        fill(t.x, nx, &seed, -1, 1);
        fill(t.r, ny, &seed, -1, 1);
        upsample_nearest_forward(t.c, t.h, t.w, t.s, t.x, t.y, t.threads);
        int wrong = 0;
        for (int ch = 0; ch < t.c; ch++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                    wrong += t.y[((size_t)ch * oh + i) * ow + j] != t.x[((size_t)ch * t.h + i / t.s) * t.w + j / t.s];
        CHECK_MSG(wrong == 0, "upsample case %zu: %d pixels wrong", k, wrong);
        float *dx = test_falloc(nx);
        upsample_nearest_backward(t.c, t.h, t.w, t.s, t.r, dx, t.threads);
        /* Adjoint: <up(x), r> = <x, up^T(r)>. */
        CHECK_NEAR(dot(t.y, t.r, ny), dot(t.x, dx, nx), 1e-4);
        CHECK_MSG(fd_check("dx", t.x, nx, dx, up_loss, &t, 1e-2f, 1e-3) == 0, "upsample case %zu", k);
        free(dx), free(t.x), free(t.y), free(t.r);
    }
}

int main(void) {
    RUN(test_instance_norm_forward);
    RUN(test_instance_norm_add_forward);
    RUN(test_instance_norm_moments);
    RUN(test_instance_norm_fd);
    RUN(test_upsample);
    return test_summary();
}
