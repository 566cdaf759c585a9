/* Ruder et al.'s short-term temporal loss (loss/temporal.h). Their Torch code
 * (manuelruder/artistic-videos) applies it as a weighted MSECriterion with sizeAverage, hence the
 * mean over every value, masked or not, as here. */
#include "loss/temporal.h"

/* Below this many values a parallel region costs more than the loop. */
#define TEMPORAL_PAR_MIN 65536

double temporal_loss(int c, size_t hw, const float *x, const float *warped, const float *cw, double weight,
                     float *dx) {
    const size_t n = (size_t)(c > 0 ? c : 0) * hw;
    if (n == 0) return 0.0;
    const double gscale = weight * 2.0 / (double)n;
    const long long len = (long long)n;
    double sum = 0.0;  /* double: millions of terms */
#pragma omp parallel for reduction(+ : sum) schedule(static) if (n >= TEMPORAL_PAR_MIN)
    for (long long i = 0; i < len; i++) {
        const double m = cw ? (double)cw[(size_t)i % hw] : 1.0;
        const double d = (double)x[i] - (double)warped[i];
        sum += m * d * d;
        if (dx) dx[i] += (float)(gscale * m * d);
    }
    return weight * sum / (double)n;
}
