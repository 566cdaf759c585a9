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

/* y (C, hw) -> bits (C planes). Each word is built from 64 outputs and written whole, so the
 * channels (each starting a word) can go to different threads. */
void relu_mask_bits(int c, size_t hw, const float *y, uint64_t *bits) {
    const size_t plane = bitmap_plane_words(hw);
#pragma omp parallel for schedule(static) if ((size_t)c * hw >= RELU_PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float *yc = y + (size_t)ch * hw;
        uint64_t *bc = bits + (size_t)ch * plane;
        for (size_t w = 0; w < plane; w++) {
            const size_t k0 = w * 64, n = hw - k0 < 64 ? hw - k0 : 64;
            uint64_t word = 0;
            for (size_t k = 0; k < n; k++) word |= (uint64_t)(yc[k0 + k] > 0.0f) << k;
            bc[w] = word;
        }
    }
}

/* bits (C planes), dy (C, hw) -> dx (C, hw). */
void relu_backward_bits(int c, size_t hw, const uint64_t *bits, const float *dy, float *dx) {
    const size_t plane = bitmap_plane_words(hw);
#pragma omp parallel for schedule(static) if ((size_t)c * hw >= RELU_PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        const uint64_t *bc = bits + (size_t)ch * plane;
        const float *gc = dy + (size_t)ch * hw;
        float *dc = dx + (size_t)ch * hw;
        for (size_t k = 0; k < hw; k++) dc[k] = bitmap_get(bc, k) ? gc[k] : 0.0f;
    }
}
