/* GAN and L1 losses (loss.h). Sums in double: a 256x256 picture's L1 is 196608 terms. */
#include "loss/loss.h"

#include <math.h>

double gan_loss(gan_mode mode, size_t n, const float *x, float label, double weight, float *dx) {
    if (n == 0) return 0.0;
    const double scale = weight / (double)n;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double v = x[i];
        if (mode == GAN_LSGAN) {
            const double d = v - label;
            sum += d * d;
            if (dx) dx[i] = (float)(2.0 * d * scale);
        } else {
            /* log(1 + exp(-|v|)) is log1p of a number in (0, 1]: no overflow either way */
            sum += (v > 0 ? v : 0.0) - v * label + log1p(exp(-fabs(v)));
            if (dx) {
                const double sig = v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v));
                dx[i] = (float)((sig - label) * scale);
            }
        }
    }
    return sum * scale;
}

double l1_loss(size_t n, const float *x, const float *target, double weight, float *dx) {
    if (n == 0) return 0.0;
    const double scale = weight / (double)n;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)x[i] - (double)target[i];
        sum += fabs(d);
        if (dx) dx[i] = (float)(d > 0 ? scale : d < 0 ? -scale : 0.0);
    }
    return sum * scale;
}
