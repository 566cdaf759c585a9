/* Style loss of Gatys et al. (2016, eqs. 3-5) in neural-style's form: StyleLoss divides the
 * GramMatrix output by the input's element count C*H*W and compares it with the target through
 * MSECriterion (mean over the C*C entries), scaled by the layer's weight.
 *
 * Gradient. With N = C*HW, G = F F^T / N and L = w/C^2 * sum_ab (G_ab - T_ab)^2:
 *   dL/dG = 2w/C^2 (G - T)                       (MSECriterion's backward)
 *   dL/dF = (dL/dG + dL/dG^T) F / N              (GramMatrix's backward, then the 1/N)
 *         = w * (2/C^2) * (2/N) * (G - T) F      (G and T are symmetric)
 * so both the forward and the backward are one GEMM each. */
#include "loss/loss.h"

#include "core/gemm.h"

/* f (C, HW) row-major, g (C, C). */
void gram_matrix(int c, size_t hw, const float *f, float *g) {
    if (c <= 0) return;
    size_t cc = (size_t)c;
    float alpha = (float)(1.0 / ((double)cc * (double)hw));
    if (hw == 0) alpha = 0.0f;
    gemm(0, 1, cc, cc, hw, alpha, f, hw, f, hw, 0.0f, g, cc);
}

/* f (C, HW), target (C, C), ws (C, C) scratch, dx (C, HW). */
double style_loss(int c, size_t hw, const float *f, const float *target, double weight,
                  float *ws, float *dx) {
    if (c <= 0) return 0.0;
    const size_t cc = (size_t)c;
    const long long c2 = (long long)(cc * cc);
    gram_matrix(c, hw, f, ws);

    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (long long i = 0; i < c2; i++) {
        float d = ws[i] - target[i];
        ws[i] = d;
        sum += (double)d * (double)d;
    }
    const double loss = weight * sum / ((double)cc * (double)cc);
    if (!dx) return loss;
    if (hw == 0) return loss;

    /* ws now holds G - T (C, C); dx = coef * (G - T) F. */
    const double coef = weight * (2.0 / ((double)cc * (double)cc)) * (2.0 / ((double)cc * (double)hw));
    gemm(0, 0, cc, hw, cc, (float)coef, ws, cc, f, hw, 0.0f, dx, hw);
    return loss;
}
