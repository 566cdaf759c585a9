/* Batch normalisation (Ioffe & Szegedy 2015, "Batch Normalization: Accelerating Deep Network
 * Training by Reducing Internal Covariate Shift", algorithm 1), as PyTorch's BatchNorm2d computes
 * it on n images x (N, C, HW): per channel c over its M = N*HW values,
 *
 *   mean_c = sum x / M,  var_c = sum (x - mean_c)^2 / M  (biased),  invstd_c = 1 / sqrt(var_c + eps)
 *   y = gamma_c * (x - mean_c) * invstd_c + beta_c
 *   running_mean_c = (1 - momentum) running_mean_c + momentum mean_c
 *   running_var_c  = (1 - momentum) running_var_c  + momentum var_c * M / (M - 1)
 *
 * (PyTorch's torch/nn/modules/batchnorm.py and aten's batch_norm_cpu_update_stats: the running
 * variance takes the unbiased estimate; M = 1, which PyTorch refuses in training, updates it with
 * the biased one, 0.) Evaluation uses the running statistics instead, constants for the backward.
 * The training backward is instance norm's (norm.c) with the sums taken over all M values:
 *   dx = gamma_c * invstd_c * (dy - mean(dy) - xhat * mean(dy * xhat)),
 *   dgamma_c += sum dy * xhat,  dbeta_c += sum dy.
 * Statistics are kept in double: a first mean, then both moments about it (no cancellation in the
 * variance), each sum in chunks of BN_CHUNK floats (vector lanes) whose sums are added in double.
 * Channels are independent and gather their values from every image, so threads take channels. */
#include "nn/nn.h"

#include <math.h>

#define BN_PAR_MIN ((size_t)1 << 16)

/* Chunks of this many floats are summed in float (vectorised), the chunks' sums in double, as
 * norm_sums sums the forward's moments. */
#define BN_CHUNK 512

/* Threads for a layer of `work` values: one below BN_PAR_MIN, where forking costs more. */
static int bn_threads(int threads, size_t work) { return threads > 1 && work >= BN_PAR_MIN ? threads : 1; }

/* *s1 += and *s2 += norm_sums of x (len): the moments of one image's channel, added over the batch. */
static void bn_sums(const float *x, size_t len, float shift, double *s1, double *s2) {
    double t1, t2;
    norm_sums(x, len, shift, &t1, &t2);
    *s1 += t1;
    *s2 += t2;
}

/* Mean and biased variance of channel ch of x (N, C, HW). */
static void bn_moments(int n, int c, size_t hw, const float *x, int ch, double *mean, double *var) {
    const double m = (double)n * (double)hw;
    double s1 = 0.0, s2 = 0.0;
    for (int i = 0; i < n; i++) bn_sums(x + ((size_t)i * (size_t)c + (size_t)ch) * hw, hw, 0.0f, &s1, &s2);
    const float m0 = (float)(s1 / m);
    s1 = s2 = 0.0;
    for (int i = 0; i < n; i++) bn_sums(x + ((size_t)i * (size_t)c + (size_t)ch) * hw, hw, m0, &s1, &s2);
    const double dmu = s1 / m, v = s2 / m - dmu * dmu;
    *mean = (double)m0 + dmu;
    *var = v > 0.0 ? v : 0.0;
}

/* y = a * x + b on channel ch of every image (N, C, HW); y == x allowed. */
static void bn_apply(int n, int c, size_t hw, const float *x, int ch, float a, float b, float *y) {
    for (int i = 0; i < n; i++) {
        const size_t off = ((size_t)i * (size_t)c + (size_t)ch) * hw;
        const float *xc = x + off;
        float *yc = y + off;
#pragma omp simd
        for (size_t k = 0; k < hw; k++) yc[k] = a * xc[k] + b;
    }
}

/* *sdy = sum dy and *sdyx = sum dy * xhat, xhat = (x - mu) * is, over channel ch's M values of
 * x and dy (N, C, HW); x NULL: only *sdy (and *sdyx = 0). */
static void bn_grad_sums(int n, int c, size_t hw, const float *x, const float *dy, int ch, float mu, float is,
                         double *sdy, double *sdyx) {
    double s1 = 0.0, s2 = 0.0;
    for (int i = 0; i < n; i++) {
        const size_t off = ((size_t)i * (size_t)c + (size_t)ch) * hw;
        const float *dyc = dy + off;
        for (size_t k0 = 0; k0 < hw; k0 += BN_CHUNK) {
            const size_t len = hw - k0 < BN_CHUNK ? hw - k0 : BN_CHUNK;
            float p1 = 0.0f, p2 = 0.0f;
            if (x) {
                const float *xc = x + off;
#pragma omp simd reduction(+ : p1, p2)
                for (size_t k = k0; k < k0 + len; k++) {
                    p1 += dyc[k];
                    p2 += dyc[k] * ((xc[k] - mu) * is);
                }
            } else {
#pragma omp simd reduction(+ : p1)
                for (size_t k = k0; k < k0 + len; k++) p1 += dyc[k];
            }
            s1 += p1;
            s2 += p2;
        }
    }
    *sdy = s1;
    *sdyx = s2;
}

void batch_norm_forward_train(int n, int c, size_t hw, const float *x, const float *gamma, const float *beta,
                              float eps, float momentum, float *y, float *mean, float *invstd,
                              float *running_mean, float *running_var, int threads) {
    const size_t m = (size_t)n * hw;
    if (n <= 0 || c <= 0 || hw == 0) return;
    const int nt = bn_threads(threads, m * (size_t)c);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
    for (int ch = 0; ch < c; ch++) {
        double mu, var;
        bn_moments(n, c, hw, x, ch, &mu, &var);
        const double is = 1.0 / sqrt(var + (double)eps);
        if (mean) mean[ch] = (float)mu;
        if (invstd) invstd[ch] = (float)is;
        if (running_mean)
            running_mean[ch] = (float)((1.0 - (double)momentum) * running_mean[ch] + (double)momentum * mu);
        if (running_var) {
            const double unbiased = m > 1 ? var * (double)m / (double)(m - 1) : var;
            running_var[ch] = (float)((1.0 - (double)momentum) * running_var[ch] + (double)momentum * unbiased);
        }
        const double a = (gamma ? gamma[ch] : 1.0) * is;
        bn_apply(n, c, hw, x, ch, (float)a, (float)((beta ? beta[ch] : 0.0) - a * mu), y);
    }
}

void batch_norm_forward_eval(int n, int c, size_t hw, const float *x, const float *gamma, const float *beta,
                             const float *running_mean, const float *running_var, float eps, float *y,
                             int threads) {
    const size_t m = (size_t)n * hw;
    if (n <= 0 || c <= 0 || hw == 0) return;
    const int nt = bn_threads(threads, m * (size_t)c);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int ch = 0; ch < c; ch++) {
        const double a = (gamma ? gamma[ch] : 1.0) / sqrt((double)running_var[ch] + (double)eps);
        bn_apply(n, c, hw, x, ch, (float)a, (float)((beta ? beta[ch] : 0.0) - a * running_mean[ch]), y);
    }
}

void batch_norm_backward_train(int n, int c, size_t hw, const float *x, const float *gamma, const float *mean,
                               const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta,
                               int threads) {
    const size_t m = (size_t)n * hw;
    if (n <= 0 || c <= 0 || hw == 0) return;
    const int nt = bn_threads(threads, m * (size_t)c);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int ch = 0; ch < c; ch++) {
        const float mu = mean[ch], is = invstd[ch];
        double sdy, sdyx;
        bn_grad_sums(n, c, hw, x, dy, ch, mu, is, &sdy, &sdyx);
        if (dgamma) dgamma[ch] += (float)sdyx;
        if (dbeta) dbeta[ch] += (float)sdy;
        if (!dx) continue;
        const float k = (float)((gamma ? gamma[ch] : 1.0) * is), mdy = (float)(sdy / (double)m),
                    mdyx = (float)(sdyx / (double)m);
        for (int i = 0; i < n; i++) {
            const size_t off = ((size_t)i * (size_t)c + (size_t)ch) * hw;
            const float *xc = x + off, *dyc = dy + off;
            float *dxc = dx + off;
#pragma omp simd
            for (size_t j = 0; j < hw; j++) dxc[j] = k * (dyc[j] - mdy - (xc[j] - mu) * is * mdyx);
        }
    }
}

void batch_norm_backward_eval(int n, int c, size_t hw, const float *x, const float *gamma,
                              const float *running_mean, const float *running_var, float eps, const float *dy,
                              float *dx, float *dgamma, float *dbeta, int threads) {
    const size_t m = (size_t)n * hw;
    if (n <= 0 || c <= 0 || hw == 0) return;
    const int nt = bn_threads(threads, m * (size_t)c);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int ch = 0; ch < c; ch++) {
        const double is = 1.0 / sqrt((double)running_var[ch] + (double)eps);
        const float mu = running_mean[ch], fis = (float)is;
        if (dgamma || dbeta) {
            double sdy, sdyx;
            bn_grad_sums(n, c, hw, dgamma ? x : NULL, dy, ch, mu, fis, &sdy, &sdyx);
            if (dgamma) dgamma[ch] += (float)sdyx;
            if (dbeta) dbeta[ch] += (float)sdy;
        }
        if (!dx) continue;
        const float k = (float)((gamma ? gamma[ch] : 1.0) * is);
        for (int i = 0; i < n; i++) {
            const size_t off = ((size_t)i * (size_t)c + (size_t)ch) * hw;
            const float *dyc = dy + off;
            float *dxc = dx + off;
#pragma omp simd
            for (size_t j = 0; j < hw; j++) dxc[j] = k * dyc[j];
        }
    }
}
