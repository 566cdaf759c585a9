/* Instance normalisation (Ulyanov, Vedaldi & Lempitsky 2016, "Instance Normalization: The Missing
 * Ingredient for Fast Stylization"), as PyTorch's InstanceNorm2d(affine=True) computes it for one
 * image: per channel c over its H*W pixels,
 *
 *   mean_c = sum x / N,  var_c = sum (x - mean_c)^2 / N  (biased),  invstd_c = 1 / sqrt(var_c + eps)
 *   xhat = (x - mean_c) * invstd_c,  y = gamma_c * xhat + beta_c
 *
 * Backward (the mean and variance depend on every x of the channel):
 *   dx = gamma_c * invstd_c * (dy - mean(dy) - xhat * mean(dy * xhat))
 *   dgamma_c += sum dy * xhat,  dbeta_c += sum dy
 * Sums: a 512x512 channel has 262144 terms, so chunks of NORM_CHUNK are summed in float (vector
 * lanes) and the chunks in double. Channels are independent, so threads take them one at a time. */
#include "nn/nn.h"

#include <math.h>

#define NORM_PAR_MIN ((size_t)1 << 16)

/* Chunks of this many floats are summed in float (vectorised), the chunks' sums in double. */
#define NORM_CHUNK 512

void norm_sums(const float *x, size_t n, float shift, double *s1, double *s2) {
    double t1 = 0.0, t2 = 0.0;
    for (size_t i0 = 0; i0 < n; i0 += NORM_CHUNK) {
        const size_t len = n - i0 < NORM_CHUNK ? n - i0 : NORM_CHUNK;
        const float *c = x + i0;
        float p1 = 0.0f, p2 = 0.0f;
#pragma omp simd reduction(+ : p1, p2)
        for (size_t i = 0; i < len; i++) {
            const float d = c[i] - shift;
            p1 += d;
            p2 += d * d;
        }
        t1 += p1;
        t2 += p2;
    }
    *s1 = t1;
    *s2 = t2;
}

/* a, b with gamma * xhat + beta = a * x + b for channel ch of x (C, HW); mean and invstd into
 * *mu and *is. */
static void norm_channel(const float *xc, size_t hw, const float *gamma, const float *beta, int ch, float eps,
                         double *mu, double *is, float *a, float *b) {
    /* A first mean, then both moments about it (so the variance suffers no cancellation). */
    double s1, s2;
    norm_sums(xc, hw, 0.0f, &s1, &s2);
    const float m0 = hw ? (float)(s1 / (double)hw) : 0.0f;
    norm_sums(xc, hw, m0, &s1, &s2);
    const double dmu = hw ? s1 / (double)hw : 0.0, v = hw ? s2 / (double)hw - dmu * dmu : 0.0;
    *mu = (double)m0 + dmu;
    *is = 1.0 / sqrt((v > 0.0 ? v : 0.0) + (double)eps);
    *a = (float)((gamma ? gamma[ch] : 1.0f) * *is);
    *b = (float)((beta ? beta[ch] : 0.0f) - *a * *mu);
}

void instance_norm_forward(int c, size_t hw, const float *x, const float *gamma, const float *beta,
                           float eps, float *y, float *mean, float *invstd, int relu, int threads) {
    const size_t work = (size_t)c * hw;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads > 1 ? threads : 1) if (threads > 1 && work >= NORM_PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * hw;
        float *yc = y + (size_t)ch * hw;
        double mu, is;
        float a, b;  /* y = a * x + b with a = gamma * invstd, b = beta - a * mean */
        norm_channel(xc, hw, gamma, beta, ch, eps, &mu, &is, &a, &b);
        if (mean) mean[ch] = (float)mu;
        if (invstd) invstd[ch] = (float)is;
        if (relu) {
#pragma omp simd
            for (size_t i = 0; i < hw; i++) {
                float t = a * xc[i] + b;
                yc[i] = t > 0.0f ? t : 0.0f;
            }
        } else {
#pragma omp simd
            for (size_t i = 0; i < hw; i++) yc[i] = a * xc[i] + b;
        }
    }
}

void instance_norm_add_forward(int c, size_t hw, const float *x, const float *gamma, const float *beta, float eps,
                               float *r, int threads) {
    const size_t work = (size_t)c * hw;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads > 1 ? threads : 1) if (threads > 1 && work >= NORM_PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * hw;
        float *rc = r + (size_t)ch * hw;
        double mu, is;
        float a, b;
        norm_channel(xc, hw, gamma, beta, ch, eps, &mu, &is, &a, &b);
#pragma omp simd
        for (size_t i = 0; i < hw; i++) rc[i] += a * xc[i] + b;
    }
}

void instance_norm_backward(int c, size_t hw, const float *x, const float *gamma, const float *mean,
                            const float *invstd, const float *dy, const float *relu_y, float *dx, float *dgamma,
                            float *dbeta, int threads) {
    const size_t work = (size_t)c * hw;
#pragma omp parallel for schedule(static) num_threads(threads > 1 ? threads : 1) if (threads > 1 && work >= NORM_PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * hw, *dyc = dy + (size_t)ch * hw;
        const float *yc = relu_y ? relu_y + (size_t)ch * hw : NULL;
        const double mu = mean[ch], is = invstd[ch];
        double sdy = 0.0, sdyx = 0.0;
        /* The ReLU's gradient first when it is fused: its output is 0 exactly where it stopped the
         * gradient (as relu_backward does it), into dx, which the sums then read. */
        if (yc && dx) {
            float *dxc = dx + (size_t)ch * hw;
#pragma omp simd
            for (size_t i = 0; i < hw; i++) {
                const float d = dyc[i];  /* read unconditionally, as relu_backward does */
                dxc[i] = yc[i] > 0.0f ? d : 0.0f;
            }
            dyc = dxc, yc = NULL;
        }
        /* In float chunks of NORM_CHUNK (vectorised), summed in double, as norm_sums does. */
        const float fmu = (float)mu, fis = (float)is;
        for (size_t i0 = 0; i0 < hw; i0 += NORM_CHUNK) {
            const size_t len = hw - i0 < NORM_CHUNK ? hw - i0 : NORM_CHUNK;
            const float *d0 = dyc + i0, *x0 = xc + i0, *y0 = yc ? yc + i0 : NULL;
            float s1 = 0.0f, s2 = 0.0f;
            if (y0) {
#pragma omp simd reduction(+ : s1, s2)
                for (size_t i = 0; i < len; i++) {
                    const float d = d0[i], g = y0[i] > 0.0f ? d : 0.0f;
                    s1 += g;
                    s2 += g * ((x0[i] - fmu) * fis);
                }
            } else {
#pragma omp simd reduction(+ : s1, s2)
                for (size_t i = 0; i < len; i++) {
                    s1 += d0[i];
                    s2 += d0[i] * ((x0[i] - fmu) * fis);
                }
            }
            sdy += s1;
            sdyx += s2;
        }
        if (dgamma) dgamma[ch] += (float)sdyx;
        if (dbeta) dbeta[ch] += (float)sdy;
        if (!dx || !hw) continue;
        float *dxc = dx + (size_t)ch * hw;
        const double g = gamma ? gamma[ch] : 1.0;
        const float k = (float)(g * is), mdy = (float)(sdy / (double)hw), mdyx = (float)(sdyx / (double)hw);
#pragma omp simd
        for (size_t i = 0; i < hw; i++) dxc[i] = k * (dyc[i] - mdy - (xc[i] - fmu) * fis * mdyx);
    }
}
