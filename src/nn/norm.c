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
 * Sums are taken in double: a 512x512 channel has 262144 terms. Channels are independent, so
 * threads split them. */
#include "nn/nn.h"

#include <math.h>

#define NORM_PAR_MIN ((size_t)1 << 16)

void instance_norm_forward(int c, size_t hw, const float *x, const float *gamma, const float *beta,
                           float eps, float *y, float *mean, float *invstd, int relu, int threads) {
    const size_t work = (size_t)c * hw;
#pragma omp parallel for schedule(static) num_threads(threads > 1 ? threads : 1) if (threads > 1 && work >= NORM_PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * hw;
        float *yc = y + (size_t)ch * hw;
        double s = 0.0;
        for (size_t i = 0; i < hw; i++) s += xc[i];
        const double mu = hw ? s / (double)hw : 0.0;
        double v = 0.0;
        for (size_t i = 0; i < hw; i++) {
            double d = xc[i] - mu;
            v += d * d;
        }
        const double is = 1.0 / sqrt((hw ? v / (double)hw : 0.0) + (double)eps);
        if (mean) mean[ch] = (float)mu;
        if (invstd) invstd[ch] = (float)is;
        /* y = a * x + b with a = gamma * invstd, b = beta - a * mean. */
        const float a = (float)((gamma ? gamma[ch] : 1.0f) * is);
        const float b = (float)((beta ? beta[ch] : 0.0f) - a * mu);
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

void instance_norm_backward(int c, size_t hw, const float *x, const float *gamma, const float *mean,
                            const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta,
                            int threads) {
    const size_t work = (size_t)c * hw;
#pragma omp parallel for schedule(static) num_threads(threads > 1 ? threads : 1) if (threads > 1 && work >= NORM_PAR_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * hw, *dyc = dy + (size_t)ch * hw;
        const double mu = mean[ch], is = invstd[ch];
        double sdy = 0.0, sdyx = 0.0;
        for (size_t i = 0; i < hw; i++) {
            sdy += dyc[i];
            sdyx += dyc[i] * ((xc[i] - mu) * is);
        }
        if (dgamma) dgamma[ch] += (float)sdyx;
        if (dbeta) dbeta[ch] += (float)sdy;
        if (!dx || !hw) continue;
        float *dxc = dx + (size_t)ch * hw;
        const double g = gamma ? gamma[ch] : 1.0;
        const float k = (float)(g * is), mdy = (float)(sdy / (double)hw), mdyx = (float)(sdyx / (double)hw);
        const float fmu = (float)mu, fis = (float)is;
#pragma omp simd
        for (size_t i = 0; i < hw; i++) dxc[i] = k * (dyc[i] - mdy - (xc[i] - fmu) * fis * mdyx);
    }
}
