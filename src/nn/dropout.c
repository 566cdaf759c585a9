/* Inverted dropout (Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov 2014, "Dropout: A
 * Simple Way to Prevent Neural Networks from Overfitting"; scaled at training time, as PyTorch's
 * nn.Dropout, so evaluation is the identity): pix2pix's U-Net drops half the decoder's innermost
 * activations, its only source of noise (Isola et al. 2017, section 3.1).
 *
 * The mask is one bit per value (nn.h's bitmap layout, a single plane of n bits): value i is kept
 * when the i-th draw u_i = rng_uniform(state) in [0, 1) is >= p, which happens with probability
 * exactly 1 - p up to the draws' 2^-53 granularity. The draws are sequential in the caller's
 * splitmix64 state (core/rng.h), so the same state gives the same mask and the state after it is
 * the one a resumed run needs; the mask's unused high bits are left 0. */
#include "nn/nn.h"

#include "core/rng.h"

/* Below this many values one thread is faster than forking a team (as relu.c). */
#define DROPOUT_PAR_MIN ((size_t)1 << 18)

void dropout_mask(size_t n, float p, uint64_t *rng_state, uint64_t *keep) {
    const size_t words = bitmap_plane_words(n);
    const double threshold = (double)p;
    for (size_t k = 0; k < words; k++) {
        const size_t len = n - k * 64 < 64 ? n - k * 64 : 64;
        uint64_t bits = 0;
        for (size_t i = 0; i < len; i++) bits |= (uint64_t)(rng_uniform(rng_state) >= threshold) << i;
        keep[k] = bits;
    }
}

/* src (n) -> dst (n) = src * keep * scale, a word (64 values) at a time; dst == src allowed. */
static void dropout_apply(size_t n, float scale, const uint64_t *keep, const float *src, float *dst) {
    const size_t words = bitmap_plane_words(n);
#pragma omp parallel for schedule(static) if (n >= DROPOUT_PAR_MIN)
    for (size_t k = 0; k < words; k++) {
        const size_t i0 = k * 64, len = n - i0 < 64 ? n - i0 : 64;
        const uint64_t bits = keep[k];
        /* src read whatever the bit says, so the select needs no branch (see relu_backward) */
        for (size_t i = 0; i < len; i++) {
            const float v = src[i0 + i] * scale;
            dst[i0 + i] = (bits >> i) & 1 ? v : 0.0f;
        }
    }
}

void dropout_forward(size_t n, float p, const uint64_t *keep, const float *x, float *y) {
    dropout_apply(n, 1.0f / (1.0f - p), keep, x, y);
}

void dropout_backward(size_t n, float p, const uint64_t *keep, const float *dy, float *dx) {
    dropout_apply(n, 1.0f / (1.0f - p), keep, dy, dx);
}
