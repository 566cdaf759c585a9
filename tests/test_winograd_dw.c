/* conv_winograd_dw.c: the weight gradient of 3x3 stride-1 "same" convolutions by Winograd's
 * F(3x3, 4x4), against a naive double-precision correlation of dy with the explicitly upsampled,
 * padded input, against im2col + GEMM (conv2d_backward's dw, the path it replaces), and against
 * central finite differences of a loss through conv2d_forward. Every GEMM path the CPU has
 * ("avx512", "avx2", "portable", "openblas", "unpacked", "auto": the products run on that path's
 * microkernel, or through gemm() on OpenBLAS and unpacked, and the transforms on its instruction
 * set), 1 to 3 threads; maps from 1x1 (2x2 with reflection, the smallest it can mirror) to several
 * bands of tiles, odd and even sides, 1 to 300 channels, zero and reflection padding, nearest x2
 * upsampling fused.
 *
 * Tolerances, from the errors measured here against the double reference. Per element:
 * |got - ref| <= 1e-5 * sum |dy xp| (the sum of the absolute terms); the worst seen is 2.8e-6 of it
 * (the transforms' coefficients, up to 5 in B^T and 4 in A^T, cost a few roundings; im2col's worst
 * is 2.6e-7). Per case, the relative L2 error must stay below 2e-5; the worst seen is 6e-6, on the
 * 16 000-pixel maps (im2col: 3.5e-7), and 256 channels of 32x32 measure 1.7e-6 (im2col 2.9e-7).
 * dw is accumulated: it starts non-zero. Guard floats past dw and past the workspace catch
 * overruns; 1, 2 and 3 threads must give the same bits (the schedule decides who computes an
 * element, never how). */
#include "core/gemm_internal.h"
#include "nn/conv_train.h"
#include "test.h"

#include <stdint.h>

#define GUARD 64
#define DW_ELEM_TOL 1e-5
#define DW_REL_L2_TOL 2e-5

typedef struct {
    int c, oc, sh, sw, up;  /* input (c, sh, sw) before upsampling */
    pad_mode mode;
} dw_case;

/* The upsampled, padded input at (c, uy, ux) in upsampled coordinates (may be outside). */
static double input_at(const dw_case *t, const float *x, int c, int uy, int ux) {
    const int h = t->sh * t->up, w = t->sw * t->up;
    if (uy < 0 || uy >= h || ux < 0 || ux >= w) {
        if (t->mode == PAD_ZERO) return 0.0;
        uy = test_reflect_index(uy, h);
        ux = test_reflect_index(ux, w);
    }
    return x[((size_t)c * t->sh + uy / t->up) * t->sw + ux / t->up];
}

/* ref (OC, C, 3, 3) = sum over pixels of dy * the padded input, in double; bound the sum of |terms|. */
static void reference(const dw_case *t, const float *x, const float *dy, double *ref, double *bound) {
    const int h = t->sh * t->up, w = t->sw * t->up;
    for (int o = 0; o < t->oc; o++)
        for (int c = 0; c < t->c; c++)
            for (int ki = 0; ki < 3; ki++)
                for (int kj = 0; kj < 3; kj++) {
                    double s = 0.0, b = 0.0;
                    for (int y = 0; y < h; y++)
                        for (int xx = 0; xx < w; xx++) {
                            const double v =
                                dy[((size_t)o * h + y) * w + xx] * input_at(t, x, c, y - 1 + ki, xx - 1 + kj);
                            s += v;
                            b += fabs(v);
                        }
                    const size_t i = (((size_t)o * t->c + c) * 3 + ki) * 3 + kj;
                    ref[i] = s;
                    bound[i] = b;
                }
}

static conv2d_desc desc_of(const dw_case *t, int threads) {
    const conv2d_desc d = {t->c, t->sh * t->up, t->sw * t->up, t->oc, 3, 3, 1, 1, t->mode, threads};
    return d;
}

/* dw (n) = start + the Winograd gradient, guards checked. */
static void run_wino(const dw_case *t, int threads, const float *x, const float *dy, const float *start, float *dw) {
    const conv2d_desc d = desc_of(t, threads);
    const size_t n = (size_t)t->oc * t->c * 9, nws = conv2d_winograd_dw_workspace(&d);
    float *ws = test_falloc(nws + GUARD), *out = test_falloc(n + GUARD);
    memcpy(out, start, n * sizeof *out);
    for (int i = 0; i < GUARD; i++) out[n + i] = ws[nws + i] = 1234.5f;
    conv2d_winograd_backward_weights(&d, t->up, x, dy, out, ws);
    for (int i = 0; i < GUARD; i++) {
        CHECK_MSG(out[n + i] == 1234.5f, "wrote past dw");
        CHECK_MSG(ws[nws + i] == 1234.5f, "wrote past the workspace");
    }
    memcpy(dw, out, n * sizeof *dw);
    free(ws);
    free(out);
}

/* The same gradient by im2col + GEMM on the explicitly upsampled input. */
static void run_im2col(const dw_case *t, const float *x, const float *dy, const float *start, float *dw) {
    const conv2d_desc d = desc_of(t, 1);
    const size_t n = (size_t)t->oc * t->c * 9, hw = (size_t)d.h * d.w;
    float *xup = test_falloc((size_t)t->c * hw), *ws = test_falloc(conv2d_workspace(&d));
    for (int c = 0; c < t->c; c++)
        for (int y = 0; y < d.h; y++)
            for (int xx = 0; xx < d.w; xx++)
                xup[(size_t)c * hw + (size_t)y * d.w + xx] = (float)input_at(t, x, c, y, xx);
    memcpy(dw, start, n * sizeof *dw);
    conv2d_backward(&d, xup, NULL, dy, NULL, dw, NULL, ws);
    free(xup);
    free(ws);
}

/* Relative L2 error of got - start against ref, and the worst |error| / bound per element. */
static double errors(size_t n, const float *got, const float *start, const double *ref, const double *bound,
                     double *worst_elem) {
    double num = 0.0, den = 0.0;
    *worst_elem = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double e = fabs(((double)got[i] - start[i]) - ref[i]);
        num += e * e;
        den += ref[i] * ref[i];
        const double r = bound[i] > 0 ? e / bound[i] : (e > 0 ? INFINITY : 0.0);
        if (r > *worst_elem) *worst_elem = r;
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static const dw_case cases[] = {
    /* tiny maps: 1x1 .. 3x3 (reflection from 2x2) */
    {1, 1, 1, 1, 1, PAD_ZERO}, {3, 2, 1, 1, 1, PAD_ZERO}, {2, 3, 1, 2, 1, PAD_ZERO}, {2, 3, 2, 2, 1, PAD_REFLECT},
    {4, 5, 3, 3, 1, PAD_REFLECT}, {3, 4, 2, 3, 1, PAD_ZERO}, {5, 3, 3, 2, 1, PAD_REFLECT}, {9, 7, 3, 3, 1, PAD_ZERO},
    /* odd and even sides, partial tiles, partial slivers and panels of every tile size */
    {17, 33, 13, 11, 1, PAD_REFLECT}, {8, 16, 16, 16, 1, PAD_ZERO}, {33, 9, 7, 21, 1, PAD_ZERO},
    {40, 70, 12, 9, 1, PAD_REFLECT},
    /* up to 300 channels on either side */
    {300, 12, 9, 10, 1, PAD_REFLECT}, {12, 300, 10, 9, 1, PAD_ZERO}, {300, 300, 5, 6, 1, PAD_REFLECT},
    /* x2 nearest upsampling fused (reflection of the upsampled map) */
    {16, 8, 5, 6, 2, PAD_REFLECT}, {8, 12, 4, 3, 2, PAD_ZERO}, {3, 5, 1, 1, 2, PAD_REFLECT},
    /* several bands of tiles (at most 512 tiles a band: 32 tiles a row, 33 rows) */
    {4, 5, 130, 127, 1, PAD_REFLECT}, {6, 3, 129, 128, 1, PAD_ZERO},
};
#define NCASES (sizeof cases / sizeof cases[0])

static void test_paths(void) {
    static const char *const gemm_paths[] = {"avx512", "avx2", "portable", "openblas", "unpacked", "auto"};
    double worst_l2[NCASES] = {0}, worst_el = 0.0, im2col_l2 = 0.0, im2col_el = 0.0;
    unsigned long long seed = 0x9e3779b97f4a7c15ull;
    for (size_t k = 0; k < NCASES; k++) {
        const dw_case *t = &cases[k];
        const conv2d_desc d = desc_of(t, 1);
        const size_t nx = (size_t)t->c * t->sh * t->sw, ny = (size_t)t->oc * d.h * d.w, n = (size_t)t->oc * t->c * 9;
        float *x = test_falloc(nx), *dy = test_falloc(ny), *start = test_falloc(n), *got = test_falloc(n), *first = test_falloc(n);
        double *ref = malloc(n * sizeof *ref), *bound = malloc(n * sizeof *bound), el;
        for (size_t i = 0; i < nx; i++) x[i] = test_uniform(&seed, -1.0f, 1.0f);
        for (size_t i = 0; i < ny; i++) dy[i] = test_uniform(&seed, -1.0f, 1.0f);
        for (size_t i = 0; i < n; i++) start[i] = test_uniform(&seed, -1.0f, 1.0f);
        CHECK(conv2d_winograd_dw_supported(&d));
        reference(t, x, dy, ref, bound);
        run_im2col(t, x, dy, start, got);
        im2col_l2 = fmax(im2col_l2, errors(n, got, start, ref, bound, &el));
        im2col_el = fmax(im2col_el, el);
        for (size_t p = 0; p < sizeof gemm_paths / sizeof gemm_paths[0]; p++) {
            if (gemm_set_path(gemm_paths[p]) != 0) continue;
            for (int threads = 1; threads <= 3; threads++) {
                run_wino(t, threads, x, dy, start, got);
                const double l2 = errors(n, got, start, ref, bound, &el);
                CHECK_MSG(l2 <= DW_REL_L2_TOL && el <= DW_ELEM_TOL,
                          "path %s, %d threads, case %zu (c %d oc %d %dx%d up %d %s): relative L2 %.3g, worst "
                          "element %.3g of its bound",
                          gemm_paths[p], threads, k, t->c, t->oc, t->sh, t->sw, t->up,
                          t->mode == PAD_ZERO ? "zero" : "reflect", l2, el);
                worst_l2[k] = fmax(worst_l2[k], l2);
                worst_el = fmax(worst_el, el);
                if (threads == 1) memcpy(first, got, n * sizeof *got);
                else
                    CHECK_MSG(memcmp(first, got, n * sizeof *got) == 0, "path %s: %d threads differ from 1",
                              gemm_paths[p], threads);
            }
        }
        free(x), free(dy), free(start), free(got), free(first), free(ref), free(bound);
    }
    CHECK(gemm_set_path("auto") == 0);
    double worst = 0.0;
    for (size_t k = 0; k < NCASES; k++) worst = fmax(worst, worst_l2[k]);
    printf("  winograd: worst relative L2 %.2g, worst element %.2g of sum |terms|; im2col: %.2g, %.2g\n", worst,
           worst_el, im2col_l2, im2col_el);
}

/* Unsupported shapes are refused: another kernel size, stride or padding, a reflection with no
 * pixel to mirror. */
static void test_supported(void) {
    const conv2d_desc ok = {4, 8, 8, 4, 3, 3, 1, 1, PAD_ZERO, 1};
    conv2d_desc d = ok;
    CHECK(conv2d_winograd_dw_supported(&d));
    d.kh = d.kw = 5, d.pad = 2;
    CHECK(!conv2d_winograd_dw_supported(&d));
    d = ok, d.stride = 2;
    CHECK(!conv2d_winograd_dw_supported(&d));
    d = ok, d.pad = 0;
    CHECK(!conv2d_winograd_dw_supported(&d));
    d = ok, d.padding = PAD_REFLECT, d.h = 1;
    CHECK(!conv2d_winograd_dw_supported(&d));
    d = ok, d.h = d.w = 1;
    CHECK(conv2d_winograd_dw_supported(&d));
}

/* ---- finite differences ------------------------------------------------------------------ */

typedef struct {
    dw_case t;
    conv2d_desc d;
    float *xup, *w, *y, *r, *ws;
} fd_ctx;

/* <conv2d_forward(xup, w), r> in double. */
static double fd_loss(fd_ctx *c) {
    conv2d_forward(&c->d, c->xup, c->w, NULL, c->y, 0, c->ws);
    const size_t n = (size_t)c->d.oc * c->d.h * c->d.w;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)c->y[i] * c->r[i];
    return s;
}

static void test_finite_differences(void) {
    static const dw_case fd_cases[] = {
        {3, 4, 5, 6, 1, PAD_REFLECT}, {4, 3, 6, 5, 1, PAD_ZERO}, {2, 3, 3, 4, 2, PAD_REFLECT},
        {2, 2, 2, 2, 1, PAD_REFLECT},
    };
    unsigned long long seed = 77;
    for (size_t k = 0; k < sizeof fd_cases / sizeof fd_cases[0]; k++) {
        fd_ctx c = {fd_cases[k], desc_of(&fd_cases[k], 2), 0, 0, 0, 0, 0};
        const dw_case *t = &c.t;
        const size_t hw = (size_t)c.d.h * c.d.w, nx = (size_t)t->c * t->sh * t->sw, n = (size_t)t->oc * t->c * 9;
        float *x = test_falloc(nx), *g = test_falloc(n), *zero = test_falloc(n);
        c.xup = test_falloc((size_t)t->c * hw), c.w = test_falloc(n);
        c.y = test_falloc((size_t)t->oc * hw), c.r = test_falloc((size_t)t->oc * hw);
        c.ws = test_falloc(conv2d_workspace(&c.d));
        for (size_t i = 0; i < nx; i++) x[i] = test_uniform(&seed, -1.0f, 1.0f);
        for (size_t i = 0; i < n; i++) c.w[i] = test_uniform(&seed, -1.0f, 1.0f);
        for (size_t i = 0; i < (size_t)t->oc * hw; i++) c.r[i] = test_uniform(&seed, -1.0f, 1.0f);
        for (int ch = 0; ch < t->c; ch++)
            for (int y = 0; y < c.d.h; y++)
                for (int xx = 0; xx < c.d.w; xx++)
                    c.xup[(size_t)ch * hw + (size_t)y * c.d.w + xx] = (float)input_at(t, x, ch, y, xx);
        /* conv2d_forward pads by itself: the explicitly upsampled map is its input. */
        memset(zero, 0, n * sizeof *zero);
        run_wino(t, 2, x, c.r, zero, g);
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
            const float keep = c.w[i], eps = 1e-2f;
            c.w[i] = keep + eps;
            const double hi = c.w[i], lp = fd_loss(&c);
            c.w[i] = keep - eps;
            const double lo = c.w[i], lm = fd_loss(&c);
            c.w[i] = keep;
            const double num = (lp - lm) / (hi - lo);
            if (!(fabs(num - g[i]) <= 2e-3 * (1.0 + fabs(num))) && bad++ < 3)
                fprintf(stderr, "  case %zu dw[%zu]: analytic %.7g, numeric %.7g\n", k, i, g[i], num);
        }
        CHECK_MSG(bad == 0, "case %zu: %d elements off", k, bad);
        free(x), free(g), free(zero), free(c.xup), free(c.w), free(c.y), free(c.r), free(c.ws);
    }
}

int main(void) {
    RUN(test_supported);
    RUN(test_paths);
    RUN(test_finite_differences);
    return test_summary();
}
