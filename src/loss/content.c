/* Content loss of Gatys et al. (2016, eq. 1) in neural-style's form: ContentLoss wraps torch's
 * MSECriterion with sizeAverage, so the value is a mean and its gradient carries the 2/n. */
#include "loss/loss.h"

/* Below this many elements a parallel region costs more than the loop. */
#define CONTENT_PAR_MIN 65536

/* x, target, dx (n): the features, the captured features, d(loss)/dx (dx == x allowed). */
double content_loss(size_t n, const float *x, const float *target, double weight, float *dx) {
    if (n == 0) return 0.0;
    /* The sum runs over millions of elements at the shallow layers: a float accumulator would
     * lose the low digits that the optimiser's f_prev - f test looks at. */
    double sum = 0.0;
    const double gscale = weight * 2.0 / (double)n;
    const long long len = (long long)n;
    if (dx) {
#pragma omp parallel for simd reduction(+ : sum) schedule(static) if (n >= CONTENT_PAR_MIN)
        for (long long i = 0; i < len; i++) {
            double d = (double)x[i] - (double)target[i];
            sum += d * d;
            dx[i] = (float)(gscale * d);
        }
    } else {
#pragma omp parallel for simd reduction(+ : sum) schedule(static) if (n >= CONTENT_PAR_MIN)
        for (long long i = 0; i < len; i++) {
            double d = (double)x[i] - (double)target[i];
            sum += d * d;
        }
    }
    return weight * sum / (double)n;
}
