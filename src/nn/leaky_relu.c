/* Leaky rectified linear unit (Maas, Hannun & Ng 2013, "Rectifier Nonlinearities Improve Neural
 * Network Acoustic Models"), as PyTorch's LeakyReLU(slope): pix2pix's encoder uses slope 0.2, as
 * does its PatchGAN discriminator. With 0 < slope the output has the input's sign, so the backward
 * pass reads the forward OUTPUT and the input need not be kept; at 0 the gradient is slope * dy,
 * as PyTorch's (x > 0 ? dy : slope * dy). */
#include "nn/nn.h"

/* Below this many elements one thread is faster than forking a team (as relu.c). */
#define LEAKY_PAR_MIN ((size_t)1 << 18)

/* x (n) -> y (n); y == x allowed. */
void leaky_relu_forward(size_t n, float slope, const float *x, float *y) {
#pragma omp parallel for simd schedule(static) if (n >= LEAKY_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

/* y, dy (n) -> dx (n); dx == dy allowed. */
void leaky_relu_backward(size_t n, float slope, const float *y, const float *dy, float *dx) {
#pragma omp parallel for simd schedule(static) if (n >= LEAKY_PAR_MIN)
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : slope * dy[i];
}
