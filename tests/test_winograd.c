/* conv_winograd.c's F(4x4, 3x3) as VGG-19 uses it: the forward with the ReLU fused, the
 * backward-data (the 180-degree-turned convolution) with the next ReLU's backward fused through a
 * mask, and both with the kernels transformed once (the *_pre variants, including the fallback
 * when the GEMM path in force has another tile height than the kept kernels). Each against a naive
 * double-precision convolution, on every GEMM path the CPU has ("avx512", "avx2", "portable",
 * "openblas", "unpacked", "auto": the products run on that path's microkernel and packing), 1 and 2
 * threads, shapes with partial tiles, several bands, and maps small enough for the threads to
 * share one band.
 *
 * Tolerances. Per element, as test_conv_direct: |got - ref| <= 1e-5 * sum |w x| (+ |b|): float32
 * summation of a few thousand terms plus the transforms' roundings (coefficients up to 8 in A^T,
 * 5 in B^T, 1/24 in G) stay near 2e-6 of that sum. Per layer, on VGG-19's channel counts
 * (test_vgg_shapes): the relative L2 error against the double reference must stay below
 * WINO_REL_L2_TOL = 2e-5. Measured on the real VGG-19 weights and activations (bench_gatys --mode
 * layers, against im2col in float32): 5e-7 - 1.6e-6 forward, 1.8e-6 - 3.9e-6 backward-data, where
 * im2col itself is about 1e-7 from exact. */
#include "core/alloc.h"
#include "core/gemm_internal.h"
#include "nn/nn.h"
#include "test.h"

#include <stdint.h>

#define GUARD 64
#define WINO_REL_L2_TOL 2e-5

typedef struct {
    int c, oc, h, w;
} shape;

/* ref (OC, H, W) = the zero-padded 3x3 convolution of x (C, H, W) by w (OC, C, 3, 3) plus b, in
 * double; bound = sum |w x| + |b| per element. With transpose, the backward-data instead:
 * ref (C, H, W) = sum_o rot180(w[o][c]) * x[o], x (OC, H, W) (b unused). */
static void reference(const shape *s, int transpose, const float *x, const float *w, const float *b, double *ref,
                      double *bound) {
    const int ci = transpose ? s->oc : s->c, co = transpose ? s->c : s->oc, h = s->h, wd = s->w;
    for (int o = 0; o < co; o++)
        for (int y = 0; y < h; y++)
            for (int xx = 0; xx < wd; xx++) {
                double acc = b ? b[o] : 0.0, bd = b ? fabs(b[o]) : 0.0;
                for (int c = 0; c < ci; c++)
                    for (int ki = 0; ki < 3; ki++)
                        for (int kj = 0; kj < 3; kj++) {
                            const int iy = y - 1 + ki, ix = xx - 1 + kj;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                            const double wv = transpose ? w[(((size_t)c * s->c + o) * 3 + (2 - ki)) * 3 + (2 - kj)]
                                                        : w[(((size_t)o * s->c + c) * 3 + ki) * 3 + kj];
                            const double xv = x[((size_t)c * h + iy) * wd + ix];
                            acc += wv * xv;
                            bd += fabs(wv * xv);
                        }
                ref[((size_t)o * h + y) * wd + xx] = acc;
                bound[((size_t)o * h + y) * wd + xx] = bd;
            }
}

static float *aligned_floats(size_t n) {
    float *p = alloc_aligned(n * sizeof(float));
    if (!p) abort();
    return p;
}

/* One shape, one direction (backward = 0/1), with kept kernels or not: checks every element and
 * returns the relative L2 error. mode 0: plain; 1: ReLU (forward) or mask (backward); 2: the same, the
 * backward's mask as a bitmap (relu_mask_bits); kept: the
 * kernels transformed beforehand (kept = 2: with a wrong tile height, so the call must fall back). */
static double run(const shape *s, int backward, int mode, int kept, int threads, unsigned long long seed) {
    const conv2d_desc d = {s->c, s->h, s->w, s->oc, 3, 3, 1, 1, PAD_ZERO, threads};
    const size_t hw = (size_t)s->h * s->w, nin = (size_t)(backward ? s->oc : s->c) * hw,
                 nout = (size_t)(backward ? s->c : s->oc) * hw, nw = (size_t)s->oc * s->c * 9;
    float *x = malloc(nin * sizeof *x), *mask = malloc(nin * sizeof *mask), *w = malloc(nw * sizeof *w);
    float *b = malloc((size_t)s->oc * sizeof *b), *y = malloc((nout + GUARD) * sizeof *y);
    double *ref = malloc(nout * sizeof *ref), *bound = malloc(nout * sizeof *bound);
    const size_t nws = backward ? conv2d_winograd_backward_workspace(&d) : conv2d_winograd_workspace(&d, 1);
    float *ws = malloc(nws * sizeof *ws);
    float *uk = kept ? aligned_floats(conv2d_winograd_kernels_size(&d, backward)) : NULL;
    for (size_t i = 0; i < nin; i++) x[i] = test_uniform(&seed, -1.0f, 1.0f);
    for (size_t i = 0; i < nin; i++) mask[i] = test_uniform(&seed, -1.0f, 1.0f) > 0.0f ? 1.0f : 0.0f;
    for (size_t i = 0; i < nw; i++) w[i] = test_uniform(&seed, -1.0f, 1.0f);
    for (int i = 0; i < s->oc; i++) b[i] = test_uniform(&seed, -1.0f, 1.0f);
    for (size_t i = 0; i < nout + GUARD; i++) y[i] = nanf("");
    int uk_mr = kept ? conv2d_winograd_transform_kernels(&d, backward, w, uk) : 0;
    if (kept == 2) uk_mr += 1;
    if (backward) {
        if (mode == 2) {
            uint64_t *bits = malloc((size_t)s->oc * bitmap_plane_words(hw) * sizeof *bits);
            relu_mask_bits(s->oc, hw, mask, bits);
            conv2d_winograd_backward_data_bits(&d, w, uk, uk_mr, x, bits, y, ws);
            free(bits);
        } else if (kept) {
            conv2d_winograd_backward_data_pre(&d, w, uk, uk_mr, x, mode ? mask : NULL, y, ws);
        } else {
            conv2d_winograd_backward_data(&d, w, x, mode ? mask : NULL, y, ws);
        }
        /* The mask applies to dy, so the reference convolves the masked dy. */
        if (mode)
            for (size_t i = 0; i < nin; i++) x[i] = mask[i] > 0.0f ? x[i] : 0.0f;
        reference(s, 1, x, w, NULL, ref, bound);
    } else {
        if (kept) conv2d_winograd_forward_pre(&d, x, w, uk, uk_mr, b, y, mode, ws);
        else conv2d_winograd_forward_relu(&d, 1, x, w, b, y, mode, ws);
        reference(s, 0, x, w, b, ref, bound);
        if (mode)
            for (size_t i = 0; i < nout; i++) ref[i] = ref[i] > 0.0 ? ref[i] : 0.0;
    }
    double num = 0, den = 0;
    int bad = 0;
    for (size_t i = 0; i < nout; i++) {
        const double e = fabs((double)y[i] - ref[i]);
        num += e * e;
        den += ref[i] * ref[i];
        if (!(e <= 1e-5 * bound[i]) && bad++ < 3)
            CHECK_MSG(0, "%s c%d oc%d %dx%d mode %d kept %d: [%zu] = %.7g, expected %.7g", backward ? "bwd" : "fwd",
                      s->c, s->oc, s->h, s->w, mode, kept, i, y[i], ref[i]);
    }
    for (int i = 0; i < GUARD; i++) CHECK_MSG(isnan(y[nout + i]), "wrote past the output");
    free(x);
    free(mask);
    free(w);
    free(b);
    free(y);
    free(ref);
    free(bound);
    free(ws);
    free(uk);
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Partial tiles (sides not multiples of 4), several bands (tall maps), maps the threads share as
 * one band (at most 128 tiles), channel counts that leave partial slivers of every MR. */
static const shape shapes[] = {
    {5, 7, 9, 17}, {16, 9, 37, 23}, {8, 13, 2, 2}, {24, 20, 16, 16}, {7, 5, 200, 3}, {20, 14, 70, 30},
};

/* Every GEMM path; the transforms follow it (the baseline SSE2 form on "portable", AVX2 on the
 * others when the CPU has it), so both forms of them are tested on an AVX2 machine. */
static void test_paths(void) {
    static const char *const gemm_paths[] = {"avx512", "avx2", "portable", "openblas", "unpacked", "auto"};
    unsigned long long seed = 0x853c49e6748fea9bull;
    for (size_t p = 0; p < sizeof gemm_paths / sizeof gemm_paths[0]; p++) {
        if (gemm_set_path(gemm_paths[p]) != 0) {
            printf("  gemm path %s: not supported by this CPU, skipped\n", gemm_paths[p]);
            continue;
        }
        double worst[2] = {0, 0};
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            for (int backward = 0; backward < 2; backward++)
                for (int threads = 1; threads <= 2; threads++)
                    for (int mode = 0; mode < 2 + backward; mode++)
                        for (int kept = 0; kept < 3; kept++) {
                            double e = run(&shapes[i], backward, mode, kept, threads, seed + i);
                            CHECK_MSG(e <= WINO_REL_L2_TOL, "relative L2 %.3g", e);
                            worst[backward] = fmax(worst[backward], e);
                        }
        printf("  gemm path %-8s: worst relative L2 forward %.2g, backward-data %.2g\n", gemm_paths[p], worst[0],
               worst[1]);
    }
    CHECK(gemm_set_path("auto") == 0);
}

/* VGG-19's channel counts on small maps (the reference is naive): relative L2 error per layer
 * shape and direction, printed, within WINO_REL_L2_TOL. */
static void test_vgg_shapes(void) {
    static const shape vgg[] = {{64, 64, 24, 24}, {64, 128, 20, 20}, {128, 128, 20, 20},
                                {128, 256, 12, 12}, {256, 256, 12, 12}, {256, 512, 8, 8}, {512, 512, 8, 8}};
    unsigned long long seed = 0x6a09e667f3bcc909ull;
    for (size_t i = 0; i < sizeof vgg / sizeof vgg[0]; i++) {
        const double f = run(&vgg[i], 0, 1, 1, 2, seed + i), b = run(&vgg[i], 1, 1, 0, 2, seed + 100 + i);
        printf("  c%-3d oc%-3d %2dx%-2d: relative L2 forward %.2e, backward-data %.2e\n", vgg[i].c, vgg[i].oc,
               vgg[i].h, vgg[i].w, f, b);
        CHECK(f <= WINO_REL_L2_TOL);
        CHECK(b <= WINO_REL_L2_TOL);
    }
}

static void test_supported(void) {
    conv2d_desc d = {4, 8, 8, 4, 3, 3, 1, 1, PAD_ZERO, 1};
    CHECK(conv2d_winograd_backward_supported(&d));
    d.padding = PAD_REFLECT;
    CHECK(conv2d_winograd_supported(&d) && !conv2d_winograd_backward_supported(&d));
    d.padding = PAD_ZERO;
    d.stride = 2;
    CHECK(!conv2d_winograd_backward_supported(&d));
}

int main(void) {
    RUN(test_supported);
    RUN(test_paths);
    RUN(test_vgg_shapes);
    return test_summary();
}
