/* Nearest-neighbour x2 upsampling (see nn.h), as the AdaIN decoder uses it. */
#include "nn/nn.h"

void upsample_nearest2x_forward(int c, int h, int w, const float *x, float *y) {
    const size_t ow = 2 * (size_t)w;
#pragma omp parallel for schedule(static) if ((size_t)c * h * w > ((size_t)1 << 16))
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * h * w;   // (H, W)
        float *yc = y + (size_t)ch * 4 * h * w;     // (2H, 2W)
        for (int i = 0; i < h; i++) {
            float *row = yc + (size_t)(2 * i) * ow;
            for (int j = 0; j < w; j++) row[2 * j] = row[2 * j + 1] = xc[(size_t)i * w + j];
            for (size_t j = 0; j < ow; j++) row[ow + j] = row[j];
        }
    }
}

void upsample_nearest2x_backward(int c, int h, int w, const float *dy, float *dx) {
    const size_t ow = 2 * (size_t)w;
#pragma omp parallel for schedule(static) if ((size_t)c * h * w > ((size_t)1 << 16))
    for (int ch = 0; ch < c; ch++) {
        const float *g = dy + (size_t)ch * 4 * h * w;  // (2H, 2W)
        float *dxc = dx + (size_t)ch * h * w;          // (H, W)
        for (int i = 0; i < h; i++) {
            const float *r0 = g + (size_t)(2 * i) * ow, *r1 = r0 + ow;
            for (int j = 0; j < w; j++)
                dxc[(size_t)i * w + j] = r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1];
        }
    }
}
