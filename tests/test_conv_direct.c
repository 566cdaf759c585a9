/* conv_direct.c (direct convolution, stride 1 or 2, with the nearest upsampling fused in) on each
 * of its paths ("portable", "avx2" when the CPU has AVX2 + FMA, "avx512" when it has AVX-512, else
 * skipped saying so, and "auto"), and conv_winograd.c (3x3 by F(4x4, 3x3), the same interface) on each GEMM path (its
 * products run on that path's microkernel, or through gemm() on OpenBLAS and unpacked), against a
 * naive double-precision convolution of the explicitly upsampled, padded input.
 *
 * Shapes cover the fast style network's layers in miniature: 9x9 with 3 input channels, 9x9
 * with 3 output channels, 3x3 with x2 upsampling, 3x3 with stride 2 (even and odd sides),
 * output-channel counts that leave blocks of 3 and of 1 after the blocks of 4, rows narrower than
 * a vector tile (the portable fallback) and widths that are not a multiple of the tile (the
 * shifted last tile), zero and reflection padding, 1 and 2 threads; for Winograd, sides that
 * leave partial tiles, several bands, 128 channels. Tolerance per element: 1e-5 * sum |w| |x| +
 * |b| (float32 summation of a few thousand terms stays far inside; Winograd's transforms reach
 * about 2e-6). Poisoned guard floats after y catch overruns. */
#include "core/gemm_internal.h"
#include "nn/nn.h"
#include "test.h"

#define GUARD 64

typedef struct {
    int c, oc, k, up, sh, sw;  /* input (c, sh, sw) before upsampling */
    pad_mode mode;
    int stride;
} direct_case;

/* The upsampled, padded input value at (c, uy, ux) in upsampled coordinates (may be outside). */
static double input_at(const direct_case *t, const float *x, int c, int uy, int ux) {
    int h = t->sh * t->up, w = t->sw * t->up;
    if (uy < 0 || uy >= h || ux < 0 || ux >= w) {
        if (t->mode == PAD_ZERO) return 0.0;
        uy = test_reflect_index(uy, h);
        ux = test_reflect_index(ux, w);
    }
    return x[((size_t)c * t->sh + (size_t)(uy / t->up)) * t->sw + (size_t)(ux / t->up)];
}

/* path: a conv_direct.c path, or "winograd" for conv_winograd.c. */
static void run_case(const direct_case *t, const char *path, int threads, unsigned long long seed) {
    const int wino = !strcmp(path, "winograd");
    const int h = t->sh * t->up, w = t->sw * t->up, p = t->k / 2, st = t->stride;
    conv2d_desc d = {t->c, h, w, t->oc, t->k, t->k, st, p, t->mode, threads};
    const int oh = conv2d_out_h(&d), ow = conv2d_out_w(&d);
    CHECK(wino ? conv2d_winograd_supported(&d) : conv2d_direct_supported(&d));
    size_t nx = (size_t)t->c * t->sh * t->sw, nw = (size_t)t->oc * t->c * t->k * t->k;
    size_t ny = (size_t)t->oc * oh * ow;
    float *x = malloc(nx * sizeof *x), *wt = malloc(nw * sizeof *wt), *b = malloc((size_t)t->oc * sizeof *b);
    size_t nws = wino ? conv2d_winograd_workspace(&d, t->up) : conv2d_direct_workspace(&d);
    float *y = malloc((ny + GUARD) * sizeof *y), *ws = malloc((nws + 1) * sizeof *ws);
    for (size_t i = 0; i < nx; i++) x[i] = test_uniform(&seed, -1.0f, 1.0f);
    for (size_t i = 0; i < nw; i++) wt[i] = test_uniform(&seed, -1.0f, 1.0f);
    for (int i = 0; i < t->oc; i++) b[i] = test_uniform(&seed, -1.0f, 1.0f);
    for (size_t i = 0; i < ny + GUARD; i++) y[i] = nanf("");
    if (wino) {
        conv2d_winograd_forward(&d, t->up, x, wt, b, y, ws);
    } else {
        CHECK(conv2d_direct_set_path(path) == 0);
        conv2d_direct_forward(&d, t->up, x, wt, b, y, ws);
    }
    int bad = 0;
    double worst = 0;
    for (int o = 0; o < t->oc && bad < 5; o++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double ref = b[o], bound = fabs(b[o]);
                for (int c = 0; c < t->c; c++)
                    for (int ki = 0; ki < t->k; ki++)
                        for (int kj = 0; kj < t->k; kj++) {
                            double wv = wt[(((size_t)o * t->c + c) * t->k + ki) * t->k + kj];
                            double xv = input_at(t, x, c, oy * st - p + ki, ox * st - p + kj);
                            ref += wv * xv;
                            bound += fabs(wv * xv);
                        }
                double got = y[((size_t)o * oh + oy) * ow + ox], e = fabs(got - ref);
                worst = fmax(worst, e / bound);
                if (!(e <= 1e-5 * bound) && bad++ < 5)
                    CHECK_MSG(0, "%s c%d oc%d k%d up%d %dx%d: y[%d][%d][%d] = %.7g, expected %.7g", path, t->c,
                              t->oc, t->k, t->up, h, w, o, oy, ox, got, ref);
            }
    for (int i = 0; i < GUARD; i++) CHECK_MSG(isnan(y[ny + i]), "%s: wrote past y", path);
    printf("  %-8s c%-3d oc%-3d k%d s%d up%d %3dx%-3d %s, %d thread(s): max err %.2g of sum|w x|\n", path, t->c,
           t->oc, t->k, st, t->up, h, w, t->mode == PAD_ZERO ? "zero   " : "reflect", threads, worst);
    free(x);
    free(wt);
    free(b);
    free(y);
    free(ws);
}

static const direct_case cases[] = {
    {3, 32, 9, 1, 37, 41, PAD_REFLECT, 1},  /* conv1 */
    {32, 3, 9, 1, 20, 35, PAD_REFLECT, 1},  /* deconv3 */
    {8, 7, 3, 2, 9, 17, PAD_REFLECT, 1},    /* deconv1/2: upsampled, blocks of 4 then 3 */
    {5, 6, 3, 1, 11, 33, PAD_ZERO, 1},      /* blocks of 4, 1, 1 */
    {4, 5, 5, 1, 12, 10, PAD_REFLECT, 1},   /* narrower than a tile: portable */
    {6, 4, 3, 2, 5, 3, PAD_ZERO, 1},        /* tiny, upsampled */
    {32, 64, 3, 1, 21, 70, PAD_REFLECT, 2},  /* conv2: stride 2, odd height */
    {8, 7, 3, 1, 20, 67, PAD_ZERO, 2},       /* stride 2, odd width, blocks of 4 and 3 */
    {5, 4, 5, 1, 9, 12, PAD_REFLECT, 2},     /* stride 2, narrower than a tile */
    {6, 19, 3, 1, 40, 70, PAD_ZERO, 2},      /* stride 2, 35 wide: AVX-512's tiles of 8 x 2 vectors, 4, 3 */
    {3, 13, 7, 1, 18, 100, PAD_REFLECT, 1},  /* 100 wide: tiles of 4 x 4 vectors, the last shifted */
    {7, 9, 5, 1, 9, 20, PAD_ZERO, 1},        /* 20 wide: one vector per tile, blocks of 8 and 1 */
};

static void test_path(const char *path) {
    if (conv2d_direct_set_path(path) != 0) {
        printf("  %s: not supported by this CPU, skipped\n", path);
        return;
    }
    unsigned long long seed = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int threads = 1; threads <= 2; threads++) run_case(&cases[i], path, threads, seed + i);
}

static void test_portable(void) { test_path("portable"); }
static void test_avx2(void) { test_path("avx2"); }
static void test_avx512(void) { test_path("avx512"); }
static void test_auto(void) { test_path("auto"); }

/* 3x3 shapes: even and odd sides (a last column and row of half tiles), several bands of rows,
 * upsampled, zero padding, the residual layers' 128 channels. */
static const direct_case wino_cases[] = {
    {8, 7, 3, 2, 9, 17, PAD_REFLECT, 1},  {5, 6, 3, 1, 11, 33, PAD_ZERO, 1},
    {6, 4, 3, 2, 5, 3, PAD_ZERO, 1},      {3, 5, 3, 1, 2, 2, PAD_REFLECT, 1},
    {16, 9, 3, 1, 37, 23, PAD_REFLECT, 1}, {128, 128, 3, 1, 6, 40, PAD_REFLECT, 1},
    {4, 3, 3, 1, 200, 3, PAD_REFLECT, 1},
    /* x2 upsampling runs as a sub-pixel convolution on the small map: several bands, odd small
     * sides, a single small row and column, deconv1's channels. */
    {16, 9, 3, 2, 37, 23, PAD_REFLECT, 1}, {5, 4, 3, 2, 1, 9, PAD_REFLECT, 1},
    {3, 2, 3, 2, 7, 1, PAD_ZERO, 1},       {128, 64, 3, 2, 12, 21, PAD_REFLECT, 1},
};

/* On every GEMM path: the Winograd products run on that path's microkernel, with its MR x NR
 * packing (or through gemm() itself for openblas and unpacked). */
static void test_winograd(void) {
    static const char *const gemm_paths[] = {"avx512", "avx2", "portable", "openblas", "unpacked", "auto"};
    unsigned long long seed = 0x2545f4914f6cdd1dull;
    for (size_t p = 0; p < sizeof gemm_paths / sizeof gemm_paths[0]; p++) {
        if (gemm_set_path(gemm_paths[p]) != 0) {
            printf("  gemm path %s: not supported by this CPU, skipped\n", gemm_paths[p]);
            continue;
        }
        printf("  gemm path %s:\n", gemm_paths[p]);
        for (size_t i = 0; i < sizeof wino_cases / sizeof wino_cases[0]; i++)
            for (int threads = 1; threads <= 2; threads++) run_case(&wino_cases[i], "winograd", threads, seed + i);
    }
    CHECK(gemm_set_path("auto") == 0);
}

static void test_unknown_path(void) {
    CHECK(conv2d_direct_set_path("avx2") == 0 || conv2d_direct_set_path("avx2") == -1);
    CHECK(conv2d_direct_set_path("no-such-path") == -1);
    CHECK(conv2d_direct_set_path("auto") == 0);
}

int main(void) {
    RUN(test_portable);
    RUN(test_avx2);
    RUN(test_avx512);
    RUN(test_auto);
    RUN(test_winograd);
    RUN(test_unknown_path);
    return test_summary();
}
