/* Adaptive instance normalisation, forward and backward (see nn.h; Huang & Belongie 2017, eq. 8).
 *
 * Backward, per channel, with xhat = (c - mu_c) / sigma_c, g = alpha * sigma_s * dy and
 * d = n - 1 (1 when n = 1):
 *   dc_i = (g_i - mean(g)) / sigma_c - (c_i - mu_c) * sum(g * (c - mu_c)) / (d * sigma_c^3)
 *          + (1 - alpha) * dy_i
 *   ds_i = alpha * [ sum(dy) / ns + sum(dy * xhat) * (s_i - mu_s) / (d_s * sigma_s) ]
 * (d sigma / d x_i = (x_i - mu) / (d * sigma); the mean's own term cancels in the first). Sums
 * are taken in double. */
#include "nn/nn.h"

#include <math.h>

static double adain_dof(size_t n) { return n > 1 ? (double)(n - 1) : 1.0; }

/* One channel's mean and sigma (x has n values). */
static void adain_channel(size_t n, const float *x, float *mean, float *std) {
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    const double mu = n ? s / (double)n : 0.0;
    for (size_t i = 0; i < n; i++) ss += ((double)x[i] - mu) * ((double)x[i] - mu);
    *mean = (float)mu;
    *std = (float)sqrt(ss / adain_dof(n) + (double)ADAIN_EPS);
}

void adain_moments(int c, size_t n, const float *x, float *mean, float *std) {
#pragma omp parallel for schedule(static) if ((size_t)c * n > ((size_t)1 << 16))
    for (int ch = 0; ch < c; ch++) adain_channel(n, x + (size_t)ch * n, &mean[ch], &std[ch]);
}

void adain_forward(int c, size_t n, const float *content, const float *s_mean, const float *s_std,
                   float alpha, float *y) {
#pragma omp parallel for schedule(static) if ((size_t)c * n > ((size_t)1 << 16))
    for (int ch = 0; ch < c; ch++) {
        const float *xc = content + (size_t)ch * n;  // (n)
        float *yc = y + (size_t)ch * n;              // (n)
        float mu, sd;
        adain_channel(n, xc, &mu, &sd);
        const float a = alpha * s_std[ch] / sd, b = alpha * s_mean[ch];
        for (size_t i = 0; i < n; i++) yc[i] = a * (xc[i] - mu) + b + (1.0f - alpha) * xc[i];
    }
}

void adain_backward(int c, size_t n, const float *content, size_t ns, const float *s, float alpha,
                    const float *dy, float *dc, float *ds) {
#pragma omp parallel for schedule(static) if ((size_t)c * n > ((size_t)1 << 16))
    for (int ch = 0; ch < c; ch++) {
        const float *xc = content + (size_t)ch * n;  // (n)
        const float *sc = s + (size_t)ch * ns;       // (ns)
        const float *g = dy + (size_t)ch * n;        // (n)
        float mu_c, sd_c, mu_s, sd_s;
        adain_channel(n, xc, &mu_c, &sd_c);
        adain_channel(ns, sc, &mu_s, &sd_s);
        double sum_g = 0, sum_gx = 0;  // sums of dy and dy * (c - mu_c)
        for (size_t i = 0; i < n; i++) {
            sum_g += g[i];
            sum_gx += (double)g[i] * ((double)xc[i] - mu_c);
        }
        if (dc) {
            const double k = (double)alpha * sd_s;  // g = k * dy
            const double mean_g = n ? k * sum_g / (double)n : 0.0;
            const double corr = k * sum_gx / (adain_dof(n) * (double)sd_c * sd_c * sd_c);
            float *dcc = dc + (size_t)ch * n;
            for (size_t i = 0; i < n; i++)
                dcc[i] = (float)((k * g[i] - mean_g) / sd_c - ((double)xc[i] - mu_c) * corr +
                                 (1.0 - alpha) * g[i]);
        }
        if (ds) {
            const double sum_gxhat = sum_gx / sd_c;
            float *dsc = ds + (size_t)ch * ns;
            for (size_t i = 0; i < ns; i++)
                dsc[i] = (float)(alpha * (sum_g / (double)ns +
                                          sum_gxhat * ((double)sc[i] - mu_s) / (adain_dof(ns) * sd_s)));
        }
    }
}
