/* Rectified linear unit (Nair & Hinton 2010). The backward pass reads the forward OUTPUT:
 * y > 0 exactly where x > 0, so the input need not be kept. */
#include "nn/nn.h"

#include <string.h>

/* Below this many elements one thread is faster than forking a team. */
#define RELU_PAR_MIN ((size_t)1 << 18)

/* x (n) -> y (n); y == x allowed. */
void relu_forward(size_t n, const float *x, float *y) {
#pragma omp parallel for simd schedule(static) if (n >= RELU_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* y, dy (n) -> dx (n); dx == dy allowed. dy[i] is read whatever y[i] says: a load only under the
 * condition is not vectorised (GCC 12 may not speculate it) and leaves a branch per element,
 * mispredicted about half the time. */
void relu_backward(size_t n, const float *y, const float *dy, float *dx) {
#pragma omp parallel for simd schedule(static) if (n >= RELU_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float d = dy[i];
        dx[i] = y[i] > 0.0f ? d : 0.0f;
    }
}

/* y (C, hw) -> bits (C planes). Each channel has its own words (nn.h), so the channels can go to
 * different threads. */
void relu_mask_bits(int c, size_t hw, const float *y, uint64_t *bits) {
    const size_t plane = bitmap_plane_words(hw);
#pragma omp parallel for schedule(static) if ((size_t)c * hw >= RELU_PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        uint64_t *bc = bits + (size_t)ch * plane;
        memset(bc, 0, plane * sizeof *bc);
        bitmap_or_positive(y + (size_t)ch * hw, hw, bc, 0);
    }
}

/* bits (C planes), dy (C, hw) -> dx (C, hw). */
void relu_backward_bits(int c, size_t hw, const uint64_t *bits, const float *dy, float *dx) {
    const size_t plane = bitmap_plane_words(hw);
#pragma omp parallel for schedule(static) if ((size_t)c * hw >= RELU_PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        bitmap_select(bits + (size_t)ch * plane, 0, hw, dy + (size_t)ch * hw, dx + (size_t)ch * hw);
    }
}
