/* Channel concatenation, torch.cat([a, b], 1), the skip connections of pix2pix's U-Net
 * (Ronneberger, Fischer & Brox 2015): with (C, HW) row-major tensors it is two copies one after
 * the other, and its backward two slices of dy, added (not copied) into the inputs' gradients
 * because a skip's input also feeds the next layer down, whose gradient arrives separately. */
#include "nn/nn.h"

#include <string.h>

/* Below this many elements one thread is faster than forking a team (as relu.c). */
#define CONCAT_PAR_MIN ((size_t)1 << 18)

/* a (CA, HW), b (CB, HW) -> y (CA + CB, HW). */
void concat_forward(int ca, int cb, size_t hw, const float *a, const float *b, float *y) {
    const size_t na = (size_t)ca * hw, nb = (size_t)cb * hw;
    if (na) memcpy(y, a, na * sizeof *y);
    if (nb) memcpy(y + na, b, nb * sizeof *y);
}

/* dst (n) += src (n). */
static void concat_add(size_t n, const float *src, float *dst) {
#pragma omp parallel for simd schedule(static) if (n >= CONCAT_PAR_MIN)
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

/* dy (CA + CB, HW) -> da (CA, HW) +=, db (CB, HW) +=; either may be NULL. */
void concat_backward(int ca, int cb, size_t hw, const float *dy, float *da, float *db) {
    const size_t na = (size_t)ca * hw, nb = (size_t)cb * hw;
    if (da) concat_add(na, dy, da);
    if (db) concat_add(nb, dy + na, db);
}
