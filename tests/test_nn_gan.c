/* The layers of CycleGAN's and pix2pix's networks (src/nn/conv_transpose.c, batch_norm.c,
 * leaky_relu.c, tanh.c, dropout.c, pad.c, concat.c): every backward against central finite
 * differences of L = sum(y * r) (r fixed random weights, L summed in double from the float
 * outputs), forwards against direct computations written here, and the transposed convolution and
 * batch normalisation forward and backward against PyTorch (tests/data/nn_gan_golden.safetensors,
 * made by tools/gen_golden_nn_gan.py in float64 from float32 inputs).
 *
 * Tolerances, and why:
 * - Finite differences, linear layers (transposed conv in x, w and b; batch norm in evaluation
 *   mode; pad, concat, dropout, leaky ReLU away from 0): a step of 1e-2 and |analytic - numeric|
 *   <= 1e-3 (1 + |numeric|). L is linear along the step, so the difference quotient is exact but
 *   for the float rounding of the few outputs one input reaches (~6e-8 of each, divided by the
 *   step: ~1e-5 here).
 * - Finite differences, curved layers (batch norm in training mode, tanh): a step of 1e-3 and
 *   5e-3 (1 + |numeric|), as tests/test_norm.c: the truncation error is O(step^2) and the float
 *   rounding of the outputs, now divided by 2e-3, reaches ~1e-4.
 * - Transposed convolution against a naive scatter loop in double: 1e-5 (1 + |y|) (a float GEMM
 *   over at most C K K / S^2 ~ 100 terms of order 1).
 * - Against PyTorch (float64 reference): 1e-5 (1 + |ref|) for the transposed convolution's forward
 *   and dx and the batch norm's outputs and dx; 2e-5 for dw, dgamma, dbeta (sums of some 100-400
 *   products). PyTorch's own float32 run is within 1.2e-6 of the same reference (the generator
 *   prints it).
 * - Batch norm statistics and running statistics against the formula in double: 1e-6 (1 + |v|)
 *   (stored in float; the statistics are computed in double).
 * - Dropout's keep fraction over 1e5 values: within 0.008 of 1 - p, five standard deviations of a
 *   binomial fraction at p = 0.5 (sqrt(0.25 / 1e5) = 0.0016), so a correct mask fails once in
 *   some 10^6 seeds and this fixed seed never. */
#include "test.h"

#include "core/rng.h"
#include "formats/safetensors.h"
#include "nn/nn.h"

#include <stdint.h>

#define GOLDEN "tests/data/nn_gan_golden.safetensors"

static safetensors *golden;

static float *fzero(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) abort();
    return p;
}

static void fill(float *p, size_t n, unsigned long long *seed, float lo, float hi) {
    for (size_t i = 0; i < n; i++) p[i] = test_uniform(seed, lo, hi);
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

/* Largest |a - b| / (1 + |b|) over n elements (NaN counts as infinitely far). */
static double max_rel_err(const float *a, const float *b, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]) / (1.0 + fabs((double)b[i]));
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

typedef double (*loss_fn)(void *ctx);

/* The analytic gradient g against the central difference of f along each element of p (the step
 * measured on the float values actually stored); the number of elements off, the first few
 * printed. */
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

/* Golden tensor `name` (a fresh float copy), or NULL when absent. */
static float *golden_get(const char *prefix, int i, const char *field, size_t *n) {
    char name[64];
    snprintf(name, sizeof name, "%s%d.%s", prefix, i, field);
    const st_tensor *t = golden ? safetensors_find(golden, name) : NULL;
    if (!t) return NULL;
    float *v = test_falloc(t->nelem);
    if (safetensors_get_f32(NULL, golden, name, t->ndim, t->shape, v) != IMPASTO_OK) {
        free(v);
        return NULL;
    }
    if (n) *n = t->nelem;
    return v;
}

/* ---- transposed convolution --------------------------------------------------------------- */

static size_t convt_nx(const convt_desc *d) { return (size_t)d->c * (size_t)d->h * (size_t)d->w; }
static size_t convt_ny(const convt_desc *d) { return (size_t)d->oc * (size_t)convt_out_h(d) * (size_t)convt_out_w(d); }
static size_t convt_nw(const convt_desc *d) { return (size_t)d->c * (size_t)d->oc * (size_t)d->k * (size_t)d->k; }

/* The definition, in double: every input pixel scatters its kernel-weighted value into y,
 * y[o][i*S - P + ki][j*S - P + kj] += x[c][i][j] w[c][o][ki][kj], taps outside y dropped. */
static void naive_convt(const convt_desc *d, const float *x, const float *w, const float *b, double *y) {
    const int oh = convt_out_h(d), ow = convt_out_w(d), k = d->k;
    for (int o = 0; o < d->oc; o++)
        for (int p = 0; p < oh * ow; p++) y[(size_t)o * oh * ow + p] = b ? b[o] : 0.0;
    for (int c = 0; c < d->c; c++)
        for (int i = 0; i < d->h; i++)
            for (int j = 0; j < d->w; j++)
                for (int o = 0; o < d->oc; o++)
                    for (int ki = 0; ki < k; ki++)
                        for (int kj = 0; kj < k; kj++) {
                            int oy = i * d->stride - d->pad + ki, ox = j * d->stride - d->pad + kj;
                            if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                            y[((size_t)o * oh + oy) * ow + ox] += (double)x[((size_t)c * d->h + i) * d->w + j] *
                                                                  w[(((size_t)c * d->oc + o) * k + ki) * k + kj];
                        }
}

static void test_convt_shapes(void) {
    /* ResnetGenerator's k3 s2 p1 op1 and UnetGenerator's k4 s2 p1 both double the size. */
    convt_desc r = {256, 64, 64, 128, 3, 2, 1, 1, 1};
    CHECK(convt_out_h(&r) == 128 && convt_out_w(&r) == 128);
    convt_desc u = {512, 1, 1, 512, 4, 2, 1, 0, 1};
    CHECK(convt_out_h(&u) == 2 && convt_out_w(&u) == 2);
    convt_desc n = {2, 5, 7, 3, 3, 1, 1, 0, 1};
    CHECK(convt_out_h(&n) == 5 && convt_out_w(&n) == 7);
    CHECK(convt_workspace(&r) > 0);
    /* out_pad must be below the stride, as PyTorch requires; otherwise no shape and no work. */
    convt_desc bad = {2, 5, 7, 3, 3, 2, 1, 2, 1};
    CHECK(convt_out_h(&bad) == 0 && convt_out_w(&bad) == 0 && convt_workspace(&bad) == 0);
    convt_desc neg = {2, 1, 1, 3, 1, 1, 1, 0, 1};  /* OH = 0 - 2 + 1 = -1 */
    CHECK(convt_out_h(&neg) == 0 && convt_workspace(&neg) == 0);
}

/* c, h, w, oc, k, stride, pad, out_pad, threads, bias */
static const int convt_cases[][10] = {
    {3, 4, 5, 2, 3, 2, 1, 1, 1, 1},  /* ResnetGenerator's up-convolution */
    {2, 3, 4, 3, 4, 2, 1, 0, 2, 0},  /* UnetGenerator's, no bias, two threads */
    {3, 5, 4, 2, 3, 1, 1, 0, 1, 1},  /* k3 s1 p1 */
    {4, 2, 6, 3, 3, 2, 1, 1, 2, 1},  /* wide map, more input channels */
    {2, 3, 2, 2, 1, 1, 0, 0, 2, 0},  /* pointwise */
    {1, 3, 3, 2, 5, 3, 2, 2, 1, 1},  /* stride 3 */
};

static void test_convt_forward_naive(void) {
    unsigned long long seed = 21;
    for (size_t t = 0; t < sizeof convt_cases / sizeof convt_cases[0]; t++) {
        const int *q = convt_cases[t];
        convt_desc d = {q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8]};
        size_t nx = convt_nx(&d), ny = convt_ny(&d), nw = convt_nw(&d);
        float *x = test_falloc(nx), *w = test_falloc(nw), *b = test_falloc(d.oc), *y = test_falloc(ny), *ws = test_falloc(convt_workspace(&d));
        double *ref = malloc(ny * sizeof *ref);
        fill(x, nx, &seed, -1, 1);
        fill(w, nw, &seed, -1, 1);
        fill(b, d.oc, &seed, -1, 1);
        for (int bias = 0; bias < 2; bias++) {
            for (size_t i = 0; i < ny; i++) y[i] = NAN;  /* every output must be written */
            convt_forward(&d, x, w, bias ? b : NULL, y, ws);
            naive_convt(&d, x, w, bias ? b : NULL, ref);
            double worst = 0.0;
            for (size_t i = 0; i < ny; i++) {
                double e = fabs(y[i] - ref[i]) / (1.0 + fabs(ref[i]));
                if (!(e <= worst)) worst = e;
            }
            CHECK_MSG(worst <= 1e-5, "case %zu bias %d: relative error %g", t, bias, worst);
        }
        free(x), free(w), free(b), free(y), free(ws), free(ref);
    }
}

typedef struct convt_ctx {
    convt_desc d;
    float *x, *w, *b, *y, *r, *ws;
} convt_ctx;

static double convt_loss(void *p) {
    convt_ctx *t = p;
    convt_forward(&t->d, t->x, t->w, t->b, t->y, t->ws);
    return dot(t->y, t->r, convt_ny(&t->d));
}

static void test_convt_fd(void) {
    unsigned long long seed = 22;
    for (size_t k = 0; k < sizeof convt_cases / sizeof convt_cases[0]; k++) {
        const int *q = convt_cases[k];
        convt_ctx t = {{q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8]}, 0, 0, 0, 0, 0, 0};
        const int bias = q[9];
        size_t nx = convt_nx(&t.d), ny = convt_ny(&t.d), nw = convt_nw(&t.d), oc = (size_t)t.d.oc;
        t.x = test_falloc(nx), t.w = test_falloc(nw), t.b = bias ? test_falloc(oc) : NULL, t.y = test_falloc(ny), t.r = test_falloc(ny);
        t.ws = test_falloc(convt_workspace(&t.d));
        fill(t.x, nx, &seed, -1, 1);
        fill(t.w, nw, &seed, -1, 1);
        if (bias) fill(t.b, oc, &seed, -1, 1);
        fill(t.r, ny, &seed, -1, 1);
        float *dx = test_falloc(nx), *dw = fzero(nw), *db = fzero(oc);
        for (size_t i = 0; i < nx; i++) dx[i] = 1e30f;  /* overwritten, not added to */
        convt_backward(&t.d, t.x, t.w, t.r, dx, dw, db, t.ws);
        int bad = fd_check("dx", t.x, nx, dx, convt_loss, &t, 1e-2f, 1e-3);
        bad += fd_check("dw", t.w, nw, dw, convt_loss, &t, 1e-2f, 1e-3);
        if (bias) bad += fd_check("db", t.b, oc, db, convt_loss, &t, 1e-2f, 1e-3);
        CHECK_MSG(bad == 0, "transposed conv case %zu: %d gradient elements off", k, bad);
        /* Parameter gradients accumulate; each of dx, dw, db alone gives what it gave together. */
        float *dx2 = test_falloc(nx), *dw2 = test_falloc(nw), *db2 = test_falloc(oc);
        memcpy(dw2, dw, nw * sizeof *dw2);
        memcpy(db2, db, oc * sizeof *db2);
        convt_backward(&t.d, t.x, t.w, t.r, NULL, dw2, NULL, t.ws);
        convt_backward(&t.d, NULL, t.w, t.r, NULL, NULL, db2, t.ws);
        convt_backward(&t.d, NULL, t.w, t.r, dx2, NULL, NULL, t.ws);
        for (size_t i = 0; i < nw; i++) CHECK_NEAR(dw2[i], 2 * dw[i], 1e-6 * (1 + fabs(dw[i])));
        for (size_t i = 0; i < oc; i++) CHECK_NEAR(db2[i], 2 * db[i], 1e-6 * (1 + fabs(db[i])));
        CHECK(memcmp(dx2, dx, nx * sizeof *dx) == 0);
        free(dx2), free(dw2), free(db2), free(dx), free(dw), free(db);
        free(t.x), free(t.w), free(t.b), free(t.y), free(t.r), free(t.ws);
    }
}

static void test_convt_golden(void) {
    int count = 0;
    for (int i = 0;; i++, count++) {
        float *cfg = golden_get("convt", i, "cfg", NULL);
        if (!cfg) break;
        convt_desc d = {(int)cfg[0], (int)cfg[1], (int)cfg[2], (int)cfg[3], (int)cfg[4],
                        (int)cfg[5], (int)cfg[6], (int)cfg[7], 2};
        const int bias = cfg[8] != 0.0f;
        size_t ny = 0, nw = 0, nx = 0;
        float *x = golden_get("convt", i, "x", &nx), *w = golden_get("convt", i, "w", &nw);
        float *b = golden_get("convt", i, "b", NULL), *y = golden_get("convt", i, "y", &ny);
        float *dy = golden_get("convt", i, "dy", NULL), *dx = golden_get("convt", i, "dx", NULL);
        float *dw = golden_get("convt", i, "dw", NULL), *db = golden_get("convt", i, "db", NULL);
        CHECK_MSG(x && w && y && dy && dx && dw && (!bias || (b && db)), "convt%d: tensors missing", i);
        CHECK_MSG(ny == convt_ny(&d) && nx == convt_nx(&d) && nw == convt_nw(&d), "convt%d: shapes", i);
        if (x && w && y && dy && dx && dw && (!bias || (b && db)) && ny == convt_ny(&d)) {
            float *ws = test_falloc(convt_workspace(&d)), *out = test_falloc(ny), *gx = test_falloc(nx), *gw = test_falloc(nw);
            float *gb = test_falloc((size_t)d.oc);
            convt_forward(&d, x, w, b, out, ws);
            double e = max_rel_err(out, y, ny);
            CHECK_MSG(e <= 1e-5, "convt%d forward: relative error %g", i, e);
            /* Parameter gradients accumulate: start them at 1 and expect 1 + PyTorch's. */
            for (size_t k = 0; k < nw; k++) gw[k] = 1.0f;
            for (int k = 0; k < d.oc; k++) gb[k] = 1.0f;
            convt_backward(&d, x, w, dy, gx, gw, gb, ws);
            for (size_t k = 0; k < nw; k++) gw[k] -= 1.0f;
            for (int k = 0; k < d.oc; k++) gb[k] -= 1.0f;
            double ex = max_rel_err(gx, dx, nx), ew = max_rel_err(gw, dw, nw);
            double eb = bias ? max_rel_err(gb, db, (size_t)d.oc) : 0.0;
            CHECK_MSG(ex <= 1e-5 && ew <= 2e-5 && eb <= 2e-5, "convt%d backward: relative error dx %g dw %g db %g", i,
                      ex, ew, eb);
            free(ws), free(out), free(gx), free(gw), free(gb);
        }
        free(cfg), free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db);
    }
    CHECK_MSG(count == 7, "%d transposed convolutions in " GOLDEN ", expected 7", count);
}

/* ---- batch normalisation ------------------------------------------------------------------ */

/* Mean and biased variance of channel ch of x (N, C, HW), two passes in double. */
static void bn_ref_moments(int n, int c, size_t hw, const float *x, int ch, double *mean, double *var) {
    double m = 0.0, v = 0.0;
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < hw; k++) m += x[((size_t)i * c + ch) * hw + k];
    m /= (double)n * (double)hw;
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < hw; k++) {
            double t = x[((size_t)i * c + ch) * hw + k] - m;
            v += t * t;
        }
    *mean = m;
    *var = v / ((double)n * (double)hw);
}

static void test_bn_forward(void) {
    unsigned long long seed = 31;
    const int n = 3, c = 4;
    const size_t hw = 35, tot = (size_t)n * c * hw, m = (size_t)n * hw;
    const float eps = 1e-5f, mom = 0.1f;
    float *x = test_falloc(tot), *g = test_falloc(c), *b = test_falloc(c), *y = test_falloc(tot), *mean = test_falloc(c), *is = test_falloc(c);
    float *rm = test_falloc(c), *rv = test_falloc(c), *rm0 = test_falloc(c), *rv0 = test_falloc(c);
    /* Channel ch's values centred on 3 ch - 4 with spread ch + 1, so every channel differs. */
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (size_t k = 0; k < hw; k++)
                x[((size_t)i * c + ch) * hw + k] = (float)(3 * ch - 4) + test_uniform(&seed, -1, 1) * (float)(ch + 1);
    fill(g, c, &seed, 0.5f, 2);
    fill(b, c, &seed, -1, 1);
    fill(rm0, c, &seed, -1, 1);
    fill(rv0, c, &seed, 0.5f, 2);
    memcpy(rm, rm0, c * sizeof *rm);
    memcpy(rv, rv0, c * sizeof *rv);
    batch_norm_forward_train(n, c, hw, x, g, b, eps, mom, y, mean, is, rm, rv, 2);
    for (int ch = 0; ch < c; ch++) {
        double mu, var;
        bn_ref_moments(n, c, hw, x, ch, &mu, &var);
        const double want_is = 1.0 / sqrt(var + eps);
        CHECK_NEAR(mean[ch], mu, 1e-6 * (1 + fabs(mu)));
        CHECK_NEAR(is[ch], want_is, 1e-6 * (1 + want_is));
        /* PyTorch: running = (1 - momentum) running + momentum batch, the variance unbiased. */
        const double want_rm = (1 - (double)mom) * rm0[ch] + (double)mom * mu;
        const double want_rv = (1 - (double)mom) * rv0[ch] + (double)mom * var * (double)m / (double)(m - 1);
        CHECK_NEAR(rm[ch], want_rm, 1e-6 * (1 + fabs(want_rm)));
        CHECK_NEAR(rv[ch], want_rv, 1e-6 * (1 + fabs(want_rv)));
        double worst = 0.0;
        for (int i = 0; i < n; i++)
            for (size_t k = 0; k < hw; k++) {
                const size_t at = ((size_t)i * c + ch) * hw + k;
                const double want = g[ch] * (x[at] - mu) * want_is + b[ch];
                worst = fmax(worst, fabs(y[at] - want) / (1 + fabs(want)));
            }
        CHECK_MSG(worst <= 1e-5, "channel %d: training output off by %g", ch, worst);
    }
    /* Evaluation mode normalises with the running statistics, not the batch's. */
    batch_norm_forward_eval(n, c, hw, x, g, b, rm0, rv0, eps, y, 2);
    double worst = 0.0;
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (size_t k = 0; k < hw; k++) {
                const size_t at = ((size_t)i * c + ch) * hw + k;
                const double want = g[ch] * (x[at] - rm0[ch]) / sqrt(rv0[ch] + (double)eps) + b[ch];
                worst = fmax(worst, fabs(y[at] - want) / (1 + fabs(want)));
            }
    CHECK_MSG(worst <= 1e-5, "evaluation output off by %g", worst);
    /* In place, no affine parameters, nothing kept: each channel mean 0 and variance 1 over the batch. */
    batch_norm_forward_train(n, c, hw, x, NULL, NULL, 0.0f, mom, x, NULL, NULL, NULL, NULL, 1);
    for (int ch = 0; ch < c; ch++) {
        double mu, var;
        bn_ref_moments(n, c, hw, x, ch, &mu, &var);
        CHECK_NEAR(mu, 0, 1e-6);
        CHECK_NEAR(var, 1, 1e-5);
    }
    free(x), free(g), free(b), free(y), free(mean), free(is), free(rm), free(rv), free(rm0), free(rv0);
}

/* Channels big enough for the threaded path and many summation chunks, with a mean far off 0:
 * one and two threads give bit-identical results (a channel's work never depends on the team). */
static void test_bn_threads(void) {
    unsigned long long seed = 32;
    const int n = 2, c = 5;
    const size_t hw = 9001, tot = (size_t)n * c * hw;
    float *x = test_falloc(tot), *g = test_falloc(c), *b = test_falloc(c), *dy = test_falloc(tot), *rm[2], *rv[2], *y[2], *dx[2];
    float *mean[2], *is[2], *dg[2], *dbt[2];
    for (size_t i = 0; i < tot; i++) x[i] = 40.0f + test_uniform(&seed, -2, 3);
    fill(g, c, &seed, 0.5f, 2);
    fill(b, c, &seed, -1, 1);
    fill(dy, tot, &seed, -1, 1);
    for (int t = 0; t < 2; t++) {
        rm[t] = fzero(c), rv[t] = fzero(c), y[t] = test_falloc(tot), dx[t] = test_falloc(tot), mean[t] = test_falloc(c);
        is[t] = test_falloc(c), dg[t] = fzero(c), dbt[t] = fzero(c);
        batch_norm_forward_train(n, c, hw, x, g, b, 1e-5f, 0.1f, y[t], mean[t], is[t], rm[t], rv[t], t + 1);
        batch_norm_backward_train(n, c, hw, x, g, mean[t], is[t], dy, dx[t], dg[t], dbt[t], t + 1);
    }
    CHECK(memcmp(y[0], y[1], tot * sizeof(float)) == 0 && memcmp(dx[0], dx[1], tot * sizeof(float)) == 0);
    CHECK(memcmp(rm[0], rm[1], c * sizeof(float)) == 0 && memcmp(rv[0], rv[1], c * sizeof(float)) == 0);
    CHECK(memcmp(dg[0], dg[1], c * sizeof(float)) == 0 && memcmp(dbt[0], dbt[1], c * sizeof(float)) == 0);
    for (int ch = 0; ch < c; ch++) {
        double mu, var;
        bn_ref_moments(n, c, hw, x, ch, &mu, &var);
        CHECK_MSG(fabs(mean[0][ch] - mu) <= 1e-6 * fabs(mu), "channel %d: mean %.9g, want %.9g", ch, mean[0][ch], mu);
        CHECK_MSG(fabs(is[0][ch] - 1 / sqrt(var + 1e-5)) <= 1e-5 / sqrt(var), "channel %d: invstd %.9g, want %.9g", ch,
                  is[0][ch], 1 / sqrt(var + 1e-5));
    }
    for (int t = 0; t < 2; t++) {
        free(rm[t]), free(rv[t]), free(y[t]), free(dx[t]);
        free(mean[t]), free(is[t]), free(dg[t]), free(dbt[t]);
    }
    free(x), free(g), free(b), free(dy);
}

typedef struct bn_ctx {
    int n, c, train, threads;
    size_t hw;
    float *x, *gamma, *beta, *rm, *rv, *y, *r;
} bn_ctx;

static double bn_loss(void *p) {
    bn_ctx *t = p;
    if (t->train)
        batch_norm_forward_train(t->n, t->c, t->hw, t->x, t->gamma, t->beta, 1e-5f, 0.1f, t->y, NULL, NULL, NULL,
                                 NULL, t->threads);
    else
        batch_norm_forward_eval(t->n, t->c, t->hw, t->x, t->gamma, t->beta, t->rm, t->rv, 1e-5f, t->y, t->threads);
    return dot(t->y, t->r, (size_t)t->n * (size_t)t->c * t->hw);
}

static void test_bn_fd(void) {
    /* n, c, hw, train, affine, threads */
    static const int cases[][6] = {
        {1, 3, 20, 1, 1, 1}, {3, 2, 7, 1, 1, 2}, {3, 3, 6, 1, 0, 1}, {1, 2, 4, 1, 0, 2},
        {1, 3, 10, 0, 1, 1}, {3, 2, 7, 0, 1, 2}, {3, 2, 5, 0, 0, 1},
    };
    unsigned long long seed = 33;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const int *q = cases[k];
        bn_ctx t = {q[0], q[1], q[3], q[5], (size_t)q[2], 0, 0, 0, 0, 0, 0, 0};
        const int affine = q[4];
        const size_t tot = (size_t)t.n * (size_t)t.c * t.hw, c = (size_t)t.c;
        t.x = test_falloc(tot), t.y = test_falloc(tot), t.r = test_falloc(tot), t.rm = test_falloc(c), t.rv = test_falloc(c);
        t.gamma = affine ? test_falloc(c) : NULL, t.beta = affine ? test_falloc(c) : NULL;
        fill(t.x, tot, &seed, -2, 3);
        fill(t.r, tot, &seed, -1, 1);
        fill(t.rm, c, &seed, -0.5f, 0.5f);
        fill(t.rv, c, &seed, 0.5f, 1.5f);
        if (affine) fill(t.gamma, c, &seed, 0.5f, 1.5f), fill(t.beta, c, &seed, -0.5f, 0.5f);
        float *mean = test_falloc(c), *is = test_falloc(c), *dx = test_falloc(tot), *dg = fzero(c), *db = fzero(c);
        for (size_t i = 0; i < tot; i++) dx[i] = 1e30f;  /* overwritten, not added to */
        if (t.train) {
            batch_norm_forward_train(t.n, t.c, t.hw, t.x, t.gamma, t.beta, 1e-5f, 0.1f, t.y, mean, is, NULL, NULL,
                                     t.threads);
            batch_norm_backward_train(t.n, t.c, t.hw, t.x, t.gamma, mean, is, t.r, dx, dg, db, t.threads);
        } else {
            batch_norm_backward_eval(t.n, t.c, t.hw, t.x, t.gamma, t.rm, t.rv, 1e-5f, t.r, dx, dg, db, t.threads);
        }
        /* Training mode is curved in x and gamma; evaluation mode is linear in everything. */
        const float eps = t.train ? 1e-3f : 1e-2f;
        const double tol = t.train ? 5e-3 : 1e-3;
        int bad = fd_check("dx", t.x, tot, dx, bn_loss, &t, eps, tol);
        if (affine) {
            bad += fd_check("dgamma", t.gamma, c, dg, bn_loss, &t, eps, tol);
            bad += fd_check("dbeta", t.beta, c, db, bn_loss, &t, eps, tol);
        }
        CHECK_MSG(bad == 0, "batch norm case %zu: %d gradient elements off", k, bad);
        /* Without gamma, dgamma and dbeta are still the gradients at gamma = 1, beta = 0. */
        if (!affine) {
            float *ones = test_falloc(c), *dg1 = fzero(c), *db1 = fzero(c), *dx1 = test_falloc(tot);
            for (size_t i = 0; i < c; i++) ones[i] = 1.0f;
            if (t.train)
                batch_norm_backward_train(t.n, t.c, t.hw, t.x, ones, mean, is, t.r, dx1, dg1, db1, t.threads);
            else
                batch_norm_backward_eval(t.n, t.c, t.hw, t.x, ones, t.rm, t.rv, 1e-5f, t.r, dx1, dg1, db1, t.threads);
            CHECK(memcmp(dg1, dg, c * sizeof *dg) == 0 && memcmp(db1, db, c * sizeof *db) == 0);
            CHECK(memcmp(dx1, dx, tot * sizeof *dx) == 0);
            free(ones), free(dg1), free(db1), free(dx1);
        }
        /* Accumulation, dx NULL, and in place (dx == dy): dgamma doubles, dx the same. */
        float *dg2 = test_falloc(c), *dy = test_falloc(tot);
        memcpy(dg2, dg, c * sizeof *dg2);
        memcpy(dy, t.r, tot * sizeof *dy);
        if (t.train) {
            batch_norm_backward_train(t.n, t.c, t.hw, t.x, t.gamma, mean, is, t.r, NULL, dg2, NULL, t.threads);
            batch_norm_backward_train(t.n, t.c, t.hw, t.x, t.gamma, mean, is, dy, dy, NULL, NULL, t.threads);
        } else {
            batch_norm_backward_eval(t.n, t.c, t.hw, t.x, t.gamma, t.rm, t.rv, 1e-5f, t.r, NULL, dg2, NULL, t.threads);
            batch_norm_backward_eval(t.n, t.c, t.hw, NULL, t.gamma, t.rm, t.rv, 1e-5f, dy, dy, NULL, NULL, t.threads);
        }
        for (size_t i = 0; i < c; i++) CHECK_NEAR(dg2[i], 2 * dg[i], 1e-6 * (1 + fabs(dg[i])));
        CHECK(memcmp(dy, dx, tot * sizeof *dx) == 0);
        free(dg2), free(dy), free(mean), free(is), free(dx), free(dg), free(db);
        free(t.x), free(t.y), free(t.r), free(t.rm), free(t.rv), free(t.gamma), free(t.beta);
    }
}

static void test_bn_golden(void) {
    int count = 0;
    for (int j = 0;; j++, count++) {
        float *cfg = golden_get("bn", j, "cfg", NULL);
        if (!cfg) break;
        const int n = (int)cfg[0], c = (int)cfg[1], affine = cfg[4] != 0.0f;
        const size_t hw = (size_t)cfg[2] * (size_t)cfg[3], tot = (size_t)n * (size_t)c * hw;
        const float momentum = cfg[5], eps = cfg[6];
        size_t nx = 0;
        float *x = golden_get("bn", j, "x", &nx), *g = golden_get("bn", j, "gamma", NULL);
        float *b = golden_get("bn", j, "beta", NULL), *rm0 = golden_get("bn", j, "rm0", NULL);
        float *rv0 = golden_get("bn", j, "rv0", NULL), *dy = golden_get("bn", j, "dy", NULL);
        float *y = golden_get("bn", j, "y", NULL), *rm1 = golden_get("bn", j, "rm1", NULL);
        float *rv1 = golden_get("bn", j, "rv1", NULL), *dx = golden_get("bn", j, "dx", NULL);
        float *dg = golden_get("bn", j, "dgamma", NULL), *db = golden_get("bn", j, "dbeta", NULL);
        float *ey = golden_get("bn", j, "ey", NULL), *edx = golden_get("bn", j, "edx", NULL);
        float *edg = golden_get("bn", j, "edgamma", NULL), *edb = golden_get("bn", j, "edbeta", NULL);
        const int have = x && rm0 && rv0 && dy && y && rm1 && rv1 && dx && ey && edx && nx == tot &&
                         (!affine || (g && b && dg && db && edg && edb));
        CHECK_MSG(have, "bn%d: tensors missing or mis-shaped", j);
        if (have) {
            float *out = test_falloc(tot), *gx = test_falloc(tot), *mean = test_falloc(c), *is = test_falloc(c), *rm = test_falloc(c);
            float *rv = test_falloc(c), *gg = fzero(c), *gb = fzero(c);
            memcpy(rm, rm0, (size_t)c * sizeof *rm);
            memcpy(rv, rv0, (size_t)c * sizeof *rv);
            batch_norm_forward_train(n, c, hw, x, g, b, eps, momentum, out, mean, is, rm, rv, 2);
            double ey_ = max_rel_err(out, y, tot), erm = max_rel_err(rm, rm1, c), erv = max_rel_err(rv, rv1, c);
            CHECK_MSG(ey_ <= 1e-5 && erm <= 1e-6 && erv <= 1e-6, "bn%d training forward: y %g, running mean %g, var %g",
                      j, ey_, erm, erv);
            batch_norm_backward_train(n, c, hw, x, g, mean, is, dy, gx, gg, gb, 2);
            double ex = max_rel_err(gx, dx, tot);
            double eg = affine ? max_rel_err(gg, dg, c) : 0.0, eb = affine ? max_rel_err(gb, db, c) : 0.0;
            CHECK_MSG(ex <= 1e-5 && eg <= 2e-5 && eb <= 2e-5, "bn%d training backward: dx %g dgamma %g dbeta %g", j, ex,
                      eg, eb);
            batch_norm_forward_eval(n, c, hw, x, g, b, rm0, rv0, eps, out, 2);
            ey_ = max_rel_err(out, ey, tot);
            CHECK_MSG(ey_ <= 1e-5, "bn%d evaluation forward: %g", j, ey_);
            memset(gg, 0, (size_t)c * sizeof *gg);
            memset(gb, 0, (size_t)c * sizeof *gb);
            batch_norm_backward_eval(n, c, hw, x, g, rm0, rv0, eps, dy, gx, gg, gb, 2);
            ex = max_rel_err(gx, edx, tot);
            eg = affine ? max_rel_err(gg, edg, c) : 0.0, eb = affine ? max_rel_err(gb, edb, c) : 0.0;
            CHECK_MSG(ex <= 1e-5 && eg <= 2e-5 && eb <= 2e-5, "bn%d evaluation backward: dx %g dgamma %g dbeta %g", j,
                      ex, eg, eb);
            free(out), free(gx), free(mean), free(is), free(rm), free(rv), free(gg), free(gb);
        }
        free(cfg), free(x), free(g), free(b), free(rm0), free(rv0), free(dy), free(y), free(rm1), free(rv1);
        free(dx), free(dg), free(db), free(ey), free(edx), free(edg), free(edb);
    }
    CHECK_MSG(count == 4, "%d batch norms in " GOLDEN ", expected 4", count);
}

/* ---- element-wise layers ------------------------------------------------------------------ */

typedef struct ew_ctx {
    size_t n;
    float slope, p;
    const uint64_t *keep;
    float *x, *y, *r;
    int kind;  /* 0 leaky ReLU, 1 tanh, 2 dropout */
} ew_ctx;

static double ew_loss(void *q) {
    ew_ctx *t = q;
    if (t->kind == 0) leaky_relu_forward(t->n, t->slope, t->x, t->y);
    else if (t->kind == 1) tanh_forward(t->n, t->x, t->y);
    else dropout_forward(t->n, t->p, t->keep, t->x, t->y);
    return dot(t->y, t->r, t->n);
}

static void test_leaky_relu(void) {
    unsigned long long seed = 41;
    const size_t n = 300;
    float *x = test_falloc(n), *y = test_falloc(n), *r = test_falloc(n), *dx = test_falloc(n);
    /* Values at least 0.1 away from the kink, so a step of 1e-2 never crosses it. */
    for (size_t i = 0; i < n; i++) {
        float v = test_uniform(&seed, 0.1f, 2);
        x[i] = i % 3 ? -v : v;
    }
    fill(r, n, &seed, -1, 1);
    leaky_relu_forward(n, 0.2f, x, y);
    int wrong = 0;
    for (size_t i = 0; i < n; i++) wrong += y[i] != (x[i] > 0 ? x[i] : 0.2f * x[i]);
    CHECK_MSG(wrong == 0, "%d outputs wrong", wrong);
    leaky_relu_backward(n, 0.2f, y, r, dx);
    ew_ctx t = {n, 0.2f, 0, NULL, x, y, r, 0};
    CHECK(fd_check("dx", x, n, dx, ew_loss, &t, 1e-2f, 1e-3) == 0);
    /* In place both ways; 0 takes the slope's side, as PyTorch's (x > 0 ? dy : slope * dy). */
    float z[4] = {0.0f, -1.0f, 2.0f, -0.0f}, g[4] = {1, 1, 1, 1};
    leaky_relu_forward(4, 0.2f, z, z);
    leaky_relu_backward(4, 0.2f, z, g, g);
    CHECK(z[0] == 0.0f && z[1] == -0.2f && z[2] == 2.0f && z[3] == 0.0f);
    CHECK(g[0] == 0.2f && g[1] == 0.2f && g[2] == 1.0f && g[3] == 0.2f);
    free(x), free(y), free(r), free(dx);
}

static void test_tanh(void) {
    unsigned long long seed = 42;
    const size_t n = 200;
    float *x = test_falloc(n), *y = test_falloc(n), *r = test_falloc(n), *dx = test_falloc(n);
    fill(x, n, &seed, -3, 3);
    fill(r, n, &seed, -1, 1);
    tanh_forward(n, x, y);
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(y[i] - tanh((double)x[i])));
    CHECK_MSG(worst <= 1e-6, "tanh off by %g", worst);
    tanh_backward(n, y, r, dx);
    ew_ctx t = {n, 0, 0, NULL, x, y, r, 1};
    CHECK(fd_check("dx", x, n, dx, ew_loss, &t, 1e-3f, 5e-3) == 0);
    /* In place (dx == dy) gives the same (y again: fd_check left the last step's output in it). */
    tanh_forward(n, x, y);
    tanh_backward(n, y, r, r);
    CHECK(memcmp(r, dx, n * sizeof *dx) == 0);
    free(x), free(y), free(r), free(dx);
}

static size_t popcount_bits(const uint64_t *keep, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += (size_t)bitmap_get(keep, i);
    return k;
}

static void test_dropout_mask(void) {
    const size_t n = 100000, words = bitmap_plane_words(n);
    uint64_t *a = malloc(words * sizeof *a), *b = malloc(words * sizeof *b);
    static const float ps[] = {0.5f, 0.2f, 0.9f};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        uint64_t s1 = 1234 + k, s2 = 1234 + k;
        dropout_mask(n, ps[k], &s1, a);
        double kept = (double)popcount_bits(a, n) / (double)n;
        CHECK_MSG(fabs(kept - (1.0 - ps[k])) <= 0.008, "p %g: kept %.4f", ps[k], kept);
        /* The same state gives the same mask and leaves the same state behind. */
        dropout_mask(n, ps[k], &s2, b);
        CHECK(memcmp(a, b, words * sizeof *a) == 0 && s1 == s2);
        /* The high bits of the last word stay 0 (100000 = 1562 * 64 + 32). */
        CHECK((a[words - 1] >> 32) == 0);
        /* Another state, another mask. */
        uint64_t s3 = 99;
        dropout_mask(n, ps[k], &s3, b);
        CHECK(memcmp(a, b, words * sizeof *a) != 0);
    }
    /* One draw per value in order: a mask drawn in two parts is the whole mask split. */
    uint64_t s1 = 7, s2 = 7, c[4], d1[2], d2[2];
    dropout_mask(200, 0.5f, &s1, c);
    dropout_mask(77, 0.5f, &s2, d1);
    dropout_mask(123, 0.5f, &s2, d2);
    int wrong = 0;
    for (size_t i = 0; i < 200; i++) wrong += bitmap_get(c, i) != (i < 77 ? bitmap_get(d1, i) : bitmap_get(d2, i - 77));
    CHECK(wrong == 0 && s1 == s2);
    /* p = 0 keeps everything. */
    dropout_mask(n, 0.0f, &s1, a);
    CHECK(popcount_bits(a, n) == n);
    free(a), free(b);
}

static void test_dropout_fd(void) {
    unsigned long long seed = 43;
    const size_t n = 150;
    const float p = 0.3f;
    uint64_t keep[3], state = 5;
    float *x = test_falloc(n), *y = test_falloc(n), *r = test_falloc(n), *dx = test_falloc(n);
    fill(x, n, &seed, -2, 2);
    fill(r, n, &seed, -1, 1);
    dropout_mask(n, p, &state, keep);
    dropout_forward(n, p, keep, x, y);
    int wrong = 0;
    for (size_t i = 0; i < n; i++) wrong += y[i] != (bitmap_get(keep, i) ? x[i] * (1.0f / (1.0f - p)) : 0.0f);
    CHECK_MSG(wrong == 0, "%d outputs wrong", wrong);
    dropout_backward(n, p, keep, r, dx);
    /* The loss as a function of x with the mask fixed. */
    ew_ctx t = {n, 0, p, keep, x, y, r, 2};
    CHECK(fd_check("dx", x, n, dx, ew_loss, &t, 1e-2f, 1e-3) == 0);
    /* In place, both ways (y again: fd_check left the last step's output in it). */
    dropout_forward(n, p, keep, x, y);
    dropout_forward(n, p, keep, x, x);
    CHECK(memcmp(x, y, n * sizeof *x) == 0);
    dropout_backward(n, p, keep, r, r);
    CHECK(memcmp(r, dx, n * sizeof *r) == 0);
    free(x), free(y), free(r), free(dx);
}

/* ---- padding ------------------------------------------------------------------------------ */

/* PyTorch's ReflectionPad2d index: -i reads i, n - 1 + i reads n - 1 - i (pad < n). */
static int ref_reflect(int i, int n) { return i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i; }

static void test_pad_forward(void) {
    /* torch.nn.ReflectionPad2d(1) of [[1, 2, 3], [4, 5, 6]], and the first two rows of
     * ReflectionPad2d(3) of arange(20).view(4, 5), both printed by PyTorch 1.13. */
    const float x1[6] = {1, 2, 3, 4, 5, 6};
    const float want1[20] = {5, 4, 5, 6, 5, 2, 1, 2, 3, 2, 5, 4, 5, 6, 5, 2, 1, 2, 3, 2};
    float y1[20], x2[20], y2[110];
    pad_forward(1, 2, 3, 1, PAD_REFLECT, x1, y1);
    CHECK(memcmp(y1, want1, sizeof y1) == 0);
    for (int i = 0; i < 20; i++) x2[i] = (float)i;
    pad_forward(1, 4, 5, 3, PAD_REFLECT, x2, y2);
    const float want2[22] = {18, 17, 16, 15, 16, 17, 18, 19, 18, 17, 16, 13, 12, 11, 10, 11, 12, 13, 14, 13, 12, 11};
    CHECK(memcmp(y2, want2, sizeof want2) == 0);
    /* Every mode and pad against the index formula, several channels. */
    unsigned long long seed = 51;
    const int c = 3, h = 4, w = 6;
    float x[72];
    fill(x, 72, &seed, -1, 1);
    for (int mode = 0; mode < 2; mode++)
        for (int pad = 0; pad <= 3; pad++) {
            const int oh = h + 2 * pad, ow = w + 2 * pad;
            float *y = test_falloc((size_t)c * oh * ow);
            pad_forward(c, h, w, pad, mode ? PAD_REFLECT : PAD_ZERO, x, y);
            int wrong = 0;
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++) {
                        int si = i - pad, sj = j - pad;
                        float want;
                        if (mode) want = x[(ch * h + ref_reflect(si, h)) * w + ref_reflect(sj, w)];
                        else want = si < 0 || si >= h || sj < 0 || sj >= w ? 0.0f : x[(ch * h + si) * w + sj];
                        wrong += y[(ch * oh + i) * ow + j] != want;
                    }
            CHECK_MSG(wrong == 0, "%s pad %d: %d cells wrong", mode ? "reflect" : "zero", pad, wrong);
            free(y);
        }
}

typedef struct pad_ctx {
    int c, h, w, pad;
    pad_mode mode;
    float *x, *y, *r;
} pad_ctx;

static double pad_loss(void *p) {
    pad_ctx *t = p;
    pad_forward(t->c, t->h, t->w, t->pad, t->mode, t->x, t->y);
    return dot(t->y, t->r, (size_t)t->c * (t->h + 2 * t->pad) * (t->w + 2 * t->pad));
}

static void test_pad_backward(void) {
    /* c, h, w, pad, mode */
    static const int cases[][5] = {{2, 4, 5, 1, 1}, {2, 4, 5, 3, 1}, {3, 5, 4, 1, 0}, {1, 4, 7, 3, 0}, {2, 2, 2, 1, 1}};
    unsigned long long seed = 52;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const int *q = cases[k];
        pad_ctx t = {q[0], q[1], q[2], q[3], q[4] ? PAD_REFLECT : PAD_ZERO, 0, 0, 0};
        const size_t nx = (size_t)t.c * t.h * t.w, ny = (size_t)t.c * (t.h + 2 * t.pad) * (t.w + 2 * t.pad);
        t.x = test_falloc(nx), t.y = test_falloc(ny), t.r = test_falloc(ny);
        float *dx = test_falloc(nx);
        fill(t.x, nx, &seed, -1, 1);
        fill(t.r, ny, &seed, -1, 1);
        for (size_t i = 0; i < nx; i++) dx[i] = 1e30f;  /* overwritten, not added to */
        pad_backward(t.c, t.h, t.w, t.pad, t.mode, t.r, dx);
        CHECK_MSG(fd_check("dx", t.x, nx, dx, pad_loss, &t, 1e-2f, 1e-3) == 0, "pad case %zu", k);
        /* The adjoint: <pad(x), r> = <x, pad^T(r)>. */
        pad_forward(t.c, t.h, t.w, t.pad, t.mode, t.x, t.y);
        CHECK_NEAR(dot(t.y, t.r, ny), dot(t.x, dx, nx), 1e-5);
        free(dx), free(t.x), free(t.y), free(t.r);
    }
}

/* ---- concatenation ------------------------------------------------------------------------ */

typedef struct cat_ctx {
    int ca, cb;
    size_t hw;
    float *a, *b, *y, *r, *q;
} cat_ctx;

/* A skip connection: a feeds the concatenation and another layer (here L's second term). */
static double cat_loss(void *p) {
    cat_ctx *t = p;
    concat_forward(t->ca, t->cb, t->hw, t->a, t->b, t->y);
    return dot(t->y, t->r, (size_t)(t->ca + t->cb) * t->hw) + dot(t->a, t->q, (size_t)t->ca * t->hw);
}

static void test_concat(void) {
    unsigned long long seed = 61;
    cat_ctx t = {3, 2, 10, 0, 0, 0, 0, 0};
    const size_t na = (size_t)t.ca * t.hw, nb = (size_t)t.cb * t.hw, ny = na + nb;
    t.a = test_falloc(na), t.b = test_falloc(nb), t.y = test_falloc(ny), t.r = test_falloc(ny), t.q = test_falloc(na);
    fill(t.a, na, &seed, -1, 1);
    fill(t.b, nb, &seed, -1, 1);
    fill(t.r, ny, &seed, -1, 1);
    fill(t.q, na, &seed, -1, 1);
    concat_forward(t.ca, t.cb, t.hw, t.a, t.b, t.y);
    CHECK(memcmp(t.y, t.a, na * sizeof *t.a) == 0 && memcmp(t.y + na, t.b, nb * sizeof *t.b) == 0);
    /* The other layer's gradient arrives first; the concatenation's is added to it. */
    float *da = test_falloc(na), *db = fzero(nb);
    memcpy(da, t.q, na * sizeof *da);
    concat_backward(t.ca, t.cb, t.hw, t.r, da, db);
    int bad = fd_check("da", t.a, na, da, cat_loss, &t, 1e-2f, 1e-3);
    bad += fd_check("db", t.b, nb, db, cat_loss, &t, 1e-2f, 1e-3);
    CHECK(bad == 0);
    /* Exactly old + slice, either side alone. */
    float *db2 = test_falloc(nb);
    for (size_t i = 0; i < nb; i++) db2[i] = 0.5f;
    concat_backward(t.ca, t.cb, t.hw, t.r, NULL, db2);
    int wrong = 0;
    for (size_t i = 0; i < nb; i++) wrong += db2[i] != 0.5f + t.r[na + i];
    CHECK(wrong == 0);
    /* An empty side. */
    concat_forward(0, t.cb, t.hw, NULL, t.b, t.y);
    concat_backward(0, t.cb, t.hw, t.y, NULL, db2);
    CHECK(memcmp(t.y, t.b, nb * sizeof *t.b) == 0);
    free(da), free(db), free(db2), free(t.a), free(t.b), free(t.y), free(t.r), free(t.q);
}

int main(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    if (safetensors_open(ctx, GOLDEN, &golden) != IMPASTO_OK) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        test_failed_count++;
    }
    RUN(test_convt_shapes);
    RUN(test_convt_forward_naive);
    RUN(test_convt_fd);
    RUN(test_convt_golden);
    RUN(test_bn_forward);
    RUN(test_bn_threads);
    RUN(test_bn_fd);
    RUN(test_bn_golden);
    RUN(test_leaky_relu);
    RUN(test_tanh);
    RUN(test_dropout_mask);
    RUN(test_dropout_fd);
    RUN(test_pad_forward);
    RUN(test_pad_backward);
    RUN(test_concat);
    safetensors_close(golden);
    impasto_ctx_free(ctx);
    return test_summary();
}
