/* Hyperbolic tangent, the output layer of CycleGAN's and pix2pix's generators (images in -1..1).
 * d tanh(x) / dx = 1 - tanh(x)^2, so the backward pass reads the forward OUTPUT. */
#include "nn/nn.h"

#include <math.h>

/* tanhf costs some 20 times a ReLU, so a team pays for itself sooner than in relu.c. */
#define TANH_PAR_MIN ((size_t)1 << 15)

/* x (n) -> y (n); y == x allowed. */
void tanh_forward(size_t n, const float *x, float *y) {
#pragma omp parallel for schedule(static) if (n >= TANH_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

/* y, dy (n) -> dx (n); dx == dy allowed. */
void tanh_backward(size_t n, const float *y, const float *dy, float *dx) {
#pragma omp parallel for simd schedule(static) if (n >= TANH_PAR_MIN)
    for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}
