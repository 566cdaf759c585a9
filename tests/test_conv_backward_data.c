/* conv_train.c's data gradient of "same" stride-1 convolutions (conv2d_backward_data_same): for 3x3
 * the interior by Winograd's zero-padded backward pass and the border lines apart (folded back for
 * reflection), for other kernels the embedded map; against a naive double-precision adjoint (every
 * tap of the padded input sends w * dy to the pixel it reads: its mirror for reflection, nowhere for
 * zeros) and against im2col + GEMM (conv2d_backward's dx). Every GEMM path the CPU has (the
 * products on its microkernel, the border lines with AVX-512 or portable), 1 to 3 threads; maps
 * from 2x2 (the smallest a pad of 1 can mirror) to several bands of tiles, odd and even sides,
 * rows longer than one register block of the border (64 floats), 1 to 300 channels.
 *
 * Tolerances: per element |got - ref| <= 1e-5 * sum |w dy| (the sum of the absolute terms); the
 * Winograd transforms cost a few roundings (the forward's 2e-6 of it, conv_winograd.c). Per case the
 * relative L2 error below 2e-5. dx is overwritten: it starts as garbage. Guard floats past dx and
 * the workspace catch overruns; 1, 2 and 3 threads must give the same bits. */
#include "core/gemm_internal.h"
#include "nn/conv_train.h"
#include "test.h"

#define GUARD 64
#define BD_ELEM_TOL 1e-5
#define BD_REL_L2_TOL 2e-5

typedef struct {
    int c, oc, h, w, k;
    pad_mode mode;
} bd_case;

/* ref (C, H, W) and the bound sum |terms| per element, in double. */
static void reference(const bd_case *t, const float *w, const float *dy, double *ref, double *bound) {
    const int p = t->k / 2, k = t->k;
    const size_t hw = (size_t)t->h * (size_t)t->w;
    memset(ref, 0, (size_t)t->c * hw * sizeof *ref);
    memset(bound, 0, (size_t)t->c * hw * sizeof *bound);
    for (int o = 0; o < t->oc; o++)
        for (int c = 0; c < t->c; c++)
            for (int ki = 0; ki < k; ki++)
                for (int kj = 0; kj < k; kj++) {
                    const double wv = w[(((size_t)o * t->c + c) * k + ki) * k + kj];
                    for (int y = 0; y < t->h; y++)
                        for (int x = 0; x < t->w; x++) {
                            int iy = y - p + ki, ix = x - p + kj;
                            if (iy < 0 || iy >= t->h || ix < 0 || ix >= t->w) {
                                if (t->mode == PAD_ZERO) continue;
                                iy = test_reflect_index(iy, t->h);
                                ix = test_reflect_index(ix, t->w);
                            }
                            const double v = wv * dy[(size_t)o * hw + (size_t)y * t->w + x];
                            ref[(size_t)c * hw + (size_t)iy * t->w + ix] += v;
                            bound[(size_t)c * hw + (size_t)iy * t->w + ix] += fabs(v);
                        }
                }
}

static void fill(float *v, size_t n, uint64_t *s) {
    for (size_t i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (float)((double)(*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
    }
}

/* One case on the GEMM path in force, threads 1..3; returns the worst element error of the bound. */
static double run_case(const bd_case *t, uint64_t seed) {
    const size_t hw = (size_t)t->h * (size_t)t->w, nx = (size_t)t->c * hw, ny = (size_t)t->oc * hw;
    const size_t nw = (size_t)t->oc * t->c * t->k * t->k;
    float *w = test_falloc(nw), *dy = test_falloc(ny), *dx = test_falloc(nx + GUARD), *first = test_falloc(nx), *im = test_falloc(nx);
    double *ref = malloc(nx * sizeof *ref), *bound = malloc(nx * sizeof *bound);
    if (!ref || !bound) abort();
    uint64_t s = seed;
    fill(w, nw, &s);
    fill(dy, ny, &s);
    reference(t, w, dy, ref, bound);
    double worst = 0.0;
    for (int threads = 1; threads <= 3; threads++) {
        const conv2d_desc d = {t->c, t->h, t->w, t->oc, t->k, t->k, 1, t->k / 2, t->mode, threads};
        CHECK(conv2d_same_backward_supported(&d));
        const size_t nws = conv2d_backward_data_same_workspace(&d);
        float *ws = test_falloc(nws + GUARD);
        for (size_t i = 0; i < nws + GUARD; i++) ws[i] = NAN;
        for (size_t i = 0; i < nx + GUARD; i++) dx[i] = 1e30f;
        conv2d_backward_data_same(&d, w, dy, dx, ws);
        int guards_ok = 1;
        for (size_t i = 0; i < GUARD; i++) guards_ok &= dx[nx + i] == 1e30f && isnan(ws[nws + i]);
        CHECK_MSG(guards_ok, "c%d oc%d %dx%d k%d: wrote past dx or the workspace", t->c, t->oc, t->h, t->w, t->k);
        double num = 0.0, den = 0.0;
        int elem_ok = 1;
        for (size_t i = 0; i < nx; i++) {
            const double e = fabs(dx[i] - ref[i]);
            const double rel = e / (bound[i] > 0 ? bound[i] : 1.0);
            if (rel > worst) worst = rel;
            elem_ok &= e <= BD_ELEM_TOL * bound[i] + 1e-30;
            num += e * e;
            den += ref[i] * ref[i];
        }
        const double l2 = sqrt(num / (den > 0 ? den : 1.0));
        CHECK_MSG(elem_ok && l2 < BD_REL_L2_TOL, "c%d oc%d %dx%d k%d %s, %d thread(s): worst %.2e of the bound, L2 %.2e",
                  t->c, t->oc, t->h, t->w, t->k, t->mode == PAD_ZERO ? "zero" : "reflect", threads, worst, l2);
        if (threads == 1) memcpy(first, dx, nx * sizeof *dx);
        else CHECK_MSG(!memcmp(first, dx, nx * sizeof *dx), "%d threads differ from 1", threads);
        free(ws);
    }
    /* im2col + GEMM (conv2d_backward), the general path, agrees within the same bound. */
    const conv2d_desc d = {t->c, t->h, t->w, t->oc, t->k, t->k, 1, t->k / 2, t->mode, 1};
    float *ws = test_falloc(conv2d_workspace(&d));
    conv2d_backward(&d, NULL, w, dy, im, NULL, NULL, ws);
    int agree = 1;
    for (size_t i = 0; i < nx; i++) agree &= fabs(im[i] - dx[i]) <= 2 * BD_ELEM_TOL * bound[i] + 1e-30;
    CHECK_MSG(agree, "c%d oc%d %dx%d k%d: differs from im2col", t->c, t->oc, t->h, t->w, t->k);
    free(ws);
    free(w), free(dy), free(dx), free(first), free(im), free(ref), free(bound);
    return worst;
}

static const bd_case cases[] = {
    {3, 5, 2, 2, 3, PAD_REFLECT},     {3, 5, 2, 2, 3, PAD_ZERO},      {4, 3, 2, 7, 3, PAD_REFLECT},
    {5, 6, 9, 2, 3, PAD_REFLECT},     {8, 7, 11, 13, 3, PAD_REFLECT}, {16, 9, 37, 23, 3, PAD_REFLECT},
    {16, 9, 37, 23, 3, PAD_ZERO},     {1, 300, 6, 5, 3, PAD_REFLECT}, {300, 1, 5, 6, 3, PAD_REFLECT},
    {32, 32, 32, 32, 3, PAD_REFLECT}, {6, 4, 70, 67, 3, PAD_REFLECT}, /* border rows past 64 floats */
    {4, 6, 12, 10, 5, PAD_REFLECT},   {3, 4, 11, 9, 7, PAD_REFLECT},  /* the embedded path */
};

static void test_paths(void) {
    static const char *const paths[] = {"avx512", "avx2", "portable", "openblas", "auto"};
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        if (gemm_set_path(paths[p]) != 0) {
            printf("  gemm path %s: not supported by this CPU, skipped\n", paths[p]);
            continue;
        }
        double worst = 0.0;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const double e = run_case(&cases[i], 0x9e3779b97f4a7c15ull + i);
            if (e > worst) worst = e;
        }
        printf("  gemm path %s: worst element error %.2e of sum |w dy|\n", paths[p], worst);
    }
    CHECK(gemm_set_path("auto") == 0);
}

int main(void) {
    RUN(test_paths);
    return test_summary();
}
