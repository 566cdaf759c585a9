/* Guided Gram matrices: the style loss with spatial control of Gatys, Ecker, Bethge, Hertzmann &
 * Shechtman, "Controlling Perceptual Factors in Neural Style Transfer" (CVPR 2017, section 4.1,
 * eqs. 5-7): region r of the picture, given by a weight m_r(p) >= 0 at each feature position p
 * (its guidance channel at this layer), has its own Gram matrix
 *
 *   G_r = (F o m_r)(F o m_r)^T / (C M_r),   M_r = sum_p m_r(p)^2          (o: per position)
 *
 * matched against its own target T_r (the Gram of the painting region r takes its style from).
 * The division by C M_r makes G_r a mean over the region as neural-style's G = F F^T / (C HW) is
 * a mean over the picture, so that T_r, a whole painting's Gram, is comparable with it. Each
 * region's term is weighted by its share of the positions, a_r = M_r / N (N the layer's
 * positions), which the paper leaves free (its lambda_r):
 *
 *   L = w sum_r a_r sum_ab (G_r,ab - T_r,ab)^2 / C^2
 *
 * so one region of weight 1 everywhere gives neural-style's style loss (style.c) exactly, and a
 * region's pixels are pulled as hard as the whole picture's are without a mask. Gradient, with
 * E_r = G_r - T_r (symmetric):
 *
 *   dL/df_p = sum_r 2 w a_r / C^2 * 2 E_r f_p m_r(p)^2 / (C M_r)
 *           = 4 w / (C^3 N) sum_r E_r (f_p m_r(p)^2)
 *
 * M_r cancels from the coefficient: the gradient is a sum of one GEMM per region against
 * F o m_r^2, which is what lets the tiled evaluation (methods/gatys_tile.c) add G_r's numerator
 * over tiles and take each tile's share of the gradient exactly. */
#include "loss/loss.h"

#include "core/gemm.h"

#include <string.h>

/* fm (C, n) = f o m, per position. */
static void times_mask(int c, size_t n, const float *f, const float *m, float *fm) {
#pragma omp parallel for if ((size_t)c * n > 65536)
    for (int k = 0; k < c; k++) {
        const float *fr = f + (size_t)k * n;
        float *o = fm + (size_t)k * n;
        for (size_t p = 0; p < n; p++) o[p] = fr[p] * m[p];
    }
}

void guided_gram(int c, size_t n, const float *f, const float *m, double scale, float *fm, float *g) {
    if (c <= 0) return;
    times_mask(c, n, f, m, fm);
    gemm(0, 1, (size_t)c, (size_t)c, n, (float)scale, fm, n, fm, n, 0.0f, g, (size_t)c);
}

void guided_style_grad(int c, size_t n, const float *f, int nreg, const float *m, const float *gmt, double coef,
                       float *fm, float *dx) {
    int first = 1;
    for (int r = 0; r < nreg; r++) {
        const float *mr = m + (size_t)r * n;
        /* fm = f o m_r^2 */
#pragma omp parallel for if ((size_t)c * n > 65536)
        for (int k = 0; k < c; k++) {
            const float *fr = f + (size_t)k * n;
            float *o = fm + (size_t)k * n;
            for (size_t p = 0; p < n; p++) o[p] = fr[p] * mr[p] * mr[p];
        }
        gemm(0, 0, (size_t)c, n, (size_t)c, (float)coef, gmt + (size_t)r * c * c, (size_t)c, fm, n, first ? 0.0f : 1.0f,
             dx, n);
        first = 0;
    }
    if (first) memset(dx, 0, (size_t)c * n * sizeof *dx);
}

double guided_style_loss(int c, size_t n, const float *f, int nreg, const float *m, const float *targets,
                         double weight, float *fm, float *ws, float *dx) {
    if (c <= 0 || n == 0) {
        if (dx && c > 0) memset(dx, 0, (size_t)c * n * sizeof *dx);
        return 0.0;
    }
    const size_t cc = (size_t)c * c;
    double loss = 0;
    for (int r = 0; r < nreg; r++) {
        const float *mr = m + (size_t)r * n;
        float *e = ws + (size_t)r * cc;
        double mass = 0;
        for (size_t p = 0; p < n; p++) mass += (double)mr[p] * mr[p];
        if (!(mass > 0)) {
            /* no position of this region at this layer: no term, and no gradient (m_r = 0) */
            memset(e, 0, cc * sizeof *e);
            continue;
        }
        guided_gram(c, n, f, mr, 1.0 / ((double)c * mass), fm, e);
        const float *t = targets + (size_t)r * cc;
        double sum = 0;
        for (size_t k = 0; k < cc; k++) {
            float d = e[k] - t[k];
            e[k] = d;
            sum += (double)d * d;
        }
        loss += weight * (mass / (double)n) * sum / (double)cc;
    }
    if (dx) guided_style_grad(c, n, f, nreg, m, ws, weight * 4.0 / ((double)cc * c * (double)n), fm, dx);
    return loss;
}
