/* Nearest-neighbour upsampling by a whole factor s, as PyTorch's
 * F.interpolate(x, scale_factor=s, mode='nearest') (and ncnn's Interp with resize_type 1):
 * y[c][i][j] = x[c][i / s][j / s]. Used by the decoders of feed-forward style networks
 * (Johnson et al. 2016 as the PyTorch example builds it, after Odena et al. 2016, "Deconvolution
 * and Checkerboard Artifacts"). Backward is the adjoint: each input pixel gets the sum of the
 * gradients of its s x s block. */
#include "nn/nn.h"

#define UPS_PAR_MIN ((size_t)1 << 16)

void upsample_nearest_forward(int c, int h, int w, int s, const float *x, float *y, int threads) {
    const int ow = w * s;
    const size_t work = (size_t)c * (size_t)h * (size_t)w;
#pragma omp parallel for schedule(static) num_threads(threads > 1 ? threads : 1) if (threads > 1 && work >= UPS_PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * (size_t)h * (size_t)w;
        float *yc = y + (size_t)ch * (size_t)h * (size_t)w * (size_t)s * (size_t)s;
        for (int i = 0; i < h; i++) {
            float *row = yc + (size_t)i * (size_t)s * (size_t)ow;
            const float *src = xc + (size_t)i * (size_t)w;
            for (int j = 0; j < w; j++)
                for (int k = 0; k < s; k++) row[j * s + k] = src[j];
            for (int r = 1; r < s; r++)
                for (int j = 0; j < ow; j++) row[(size_t)r * (size_t)ow + (size_t)j] = row[j];
        }
    }
}

void upsample_nearest_backward(int c, int h, int w, int s, const float *dy, float *dx, int threads) {
    const int ow = w * s;
    const size_t work = (size_t)c * (size_t)h * (size_t)w;
#pragma omp parallel for schedule(static) num_threads(threads > 1 ? threads : 1) if (threads > 1 && work >= UPS_PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float *dyc = dy + (size_t)ch * (size_t)h * (size_t)w * (size_t)s * (size_t)s;
        float *dxc = dx + (size_t)ch * (size_t)h * (size_t)w;
        for (int i = 0; i < h; i++) {
            float *drow = dxc + (size_t)i * (size_t)w;
            for (int j = 0; j < w; j++) drow[j] = 0.0f;
            for (int r = 0; r < s; r++) {
                const float *src = dyc + ((size_t)i * (size_t)s + (size_t)r) * (size_t)ow;
                for (int j = 0; j < w; j++)
                    for (int k = 0; k < s; k++) drow[j] += src[j * s + k];
            }
        }
    }
}
