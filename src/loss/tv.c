/* Total-variation regulariser as neural-style's TVLoss (after Mahendran & Vedaldi 2015, with
 * beta = 2). TVLoss only writes a gradient: the differences x[i][j] - x[i][j+1] and
 * x[i][j] - x[i+1][j] over the (H-1, W-1) top-left block, pushed back onto both ends of each
 * pair. That is the gradient of weight/2 * sum of their squares, the value returned here. */
#include "loss/loss.h"

/* Below this many elements a parallel region costs more than the loop. */
#define TV_PAR_MIN 65536

/* x, dx (C, H, W). Every output row is computed from x alone (a gather, no scatter), so the
 * rows can be split between threads. */
double tv_loss(int c, int h, int w, const float *x, double weight, float *dx) {
    if (c <= 0 || h <= 0 || w <= 0) return 0.0;
    const size_t plane = (size_t)h * (size_t)w;
    const long long rows = (long long)c * h;
    const float wt = (float)weight;
    double sum = 0.0;

#pragma omp parallel for reduction(+ : sum) schedule(static) if ((size_t)rows * w >= TV_PAR_MIN)
    for (long long r = 0; r < rows; r++) {
        const int i = (int)(r % h);
        const float *p = x + (size_t)(r / h) * plane + (size_t)i * w;  /* row i of its channel */
        const int has_below = i < h - 1;
        double rs = 0.0;
        if (has_below) {
            for (int j = 0; j < w - 1; j++) {
                double dxd = (double)p[j] - (double)p[j + 1];
                double dyd = (double)p[j] - (double)p[j + w];
                rs += dxd * dxd + dyd * dyd;
            }
        }
        sum += rs;
        if (!dx) continue;
        float *o = dx + (size_t)(r / h) * plane + (size_t)i * w;
        for (int j = 0; j < w; j++) {
            float gsum = 0.0f;
            /* this pixel as the left/top end of its own pair */
            if (has_below && j < w - 1) gsum += (p[j] - p[j + 1]) + (p[j] - p[j + w]);
            /* as the right end of the horizontal pair starting at j-1 */
            if (has_below && j > 0) gsum -= p[j - 1] - p[j];
            /* as the bottom end of the vertical pair starting one row up */
            if (i > 0 && j < w - 1) gsum -= p[j - w] - p[j];
            o[j] = wt * gsum;
        }
    }
    return 0.5 * weight * sum;
}
