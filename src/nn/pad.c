/* Padding by `pad` cells on all four sides, x (C,H,W) -> y (C,H+2pad,W+2pad), with zeros or by
 * reflection as PyTorch's ReflectionPad2d (CycleGAN's generators pad every convolution so):
 * padded index -i reads i and H-1+i reads H-1-i, the edge itself not repeated. The backward is the
 * adjoint: each input pixel's gradient is its own cell's plus, under reflection, those of the
 * padded cells that copied it; zero padding drops the padded cells' gradient.
 *
 * Rows are handled whole: a destination row is the source row with pad cells on each side, so the
 * forward is one copy and 2 * pad border reads per row, and the backward one vector add of the
 * row's middle and 2 * pad scalar adds. Channels are independent and go to different threads. */
#include "nn/nn.h"

#include <string.h>

/* Below this many output values one thread is faster than forking a team (as relu.c). */
#define PAD_PAR_MIN ((size_t)1 << 18)

/* The source index of padded index i (-pad <= i < n + pad) under reflection, with period
 * 2(n-1) so that any i lands inside 0..n-1 even where PyTorch would refuse pad >= n. */
static int pad_reflect(int i, int n) {
    if (n == 1) return 0;
    const int period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

void pad_forward(int c, int h, int w, int pad, pad_mode mode, const float *x, float *y) {
    const int oh = h + 2 * pad, ow = w + 2 * pad;
    const size_t iplane = (size_t)h * (size_t)w, oplane = (size_t)oh * (size_t)ow;
#pragma omp parallel for schedule(static) if ((size_t)c * oplane >= PAD_PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * iplane;
        float *yc = y + (size_t)ch * oplane;
        for (int oy = 0; oy < oh; oy++) {
            float *row = yc + (size_t)oy * (size_t)ow;
            int sy = oy - pad;
            if (sy < 0 || sy >= h) {
                if (mode != PAD_REFLECT) {
                    memset(row, 0, (size_t)ow * sizeof *row);
                    continue;
                }
                sy = pad_reflect(sy, h);
            }
            const float *src = xc + (size_t)sy * (size_t)w;
            memcpy(row + pad, src, (size_t)w * sizeof *row);
            for (int j = 0; j < pad; j++) {
                row[j] = mode == PAD_REFLECT ? src[pad_reflect(j - pad, w)] : 0.0f;
                row[pad + w + j] = mode == PAD_REFLECT ? src[pad_reflect(w + j, w)] : 0.0f;
            }
        }
    }
}

void pad_backward(int c, int h, int w, int pad, pad_mode mode, const float *dy, float *dx) {
    const int oh = h + 2 * pad, ow = w + 2 * pad;
    const size_t iplane = (size_t)h * (size_t)w, oplane = (size_t)oh * (size_t)ow;
#pragma omp parallel for schedule(static) if ((size_t)c * oplane >= PAD_PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float *dyc = dy + (size_t)ch * oplane;
        float *dxc = dx + (size_t)ch * iplane;
        /* The interior first (it covers every pixel once), then the padded rows and columns. */
        for (int sy = 0; sy < h; sy++)
            memcpy(dxc + (size_t)sy * (size_t)w, dyc + (size_t)(sy + pad) * (size_t)ow + (size_t)pad,
                   (size_t)w * sizeof *dxc);
        if (mode != PAD_REFLECT || pad == 0) continue;
        for (int oy = 0; oy < oh; oy++) {
            const float *row = dyc + (size_t)oy * (size_t)ow;
            const int sy = pad_reflect(oy - pad, h);
            float *dst = dxc + (size_t)sy * (size_t)w;
            if (oy < pad || oy >= pad + h) {
#pragma omp simd
                for (int j = 0; j < w; j++) dst[j] += row[pad + j];
            }
            for (int j = 0; j < pad; j++) {
                dst[pad_reflect(j - pad, w)] += row[j];
                dst[pad_reflect(w + j, w)] += row[pad + w + j];
            }
        }
    }
}
