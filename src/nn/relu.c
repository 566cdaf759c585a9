/* Rectified linear unit (Nair & Hinton 2010). The backward pass reads the forward OUTPUT:
 * y > 0 exactly where x > 0, so the input need not be kept. */
#include "nn/nn.h"

/* Below this many elements one thread is faster than forking a team. */
#define RELU_PAR_MIN ((size_t)1 << 18)

/* x (n) -> y (n); y == x allowed. */
void relu_forward(size_t n, const float *x, float *y) {
#pragma omp parallel for simd schedule(static) if (n >= RELU_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* y, dy (n) -> dx (n); dx == dy allowed. */
void relu_backward(size_t n, const float *y, const float *dy, float *dx) {
#pragma omp parallel for simd schedule(static) if (n >= RELU_PAR_MIN)
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}
