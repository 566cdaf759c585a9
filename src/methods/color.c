#include "methods/color.h"

#include <math.h>
#include <string.h>

/* YUV coefficients of torch7's image.rgb2yuv / yuv2rgb (BT.601 analogue YUV). */
static float clamp01(float v) { return v < 0.f ? 0.f : (v > 1.f ? 1.f : v); }

void color_keep_luminance(const float *styled, const float *content, size_t npix, float *out) {
    for (size_t i = 0; i < npix; i++) {
        const float *s = styled + 3 * i, *c = content + 3 * i;
        float y = 0.299f * s[0] + 0.587f * s[1] + 0.114f * s[2];
        float u = -0.14713f * c[0] - 0.28886f * c[1] + 0.436f * c[2];
        float v = 0.615f * c[0] - 0.51499f * c[1] - 0.10001f * c[2];
        out[3 * i + 0] = clamp01(y + 1.13983f * v);
        out[3 * i + 1] = clamp01(y - 0.39465f * u - 0.58060f * v);
        out[3 * i + 2] = clamp01(y + 2.03211f * u);
    }
}

/* Mean (3) and covariance (3x3, + 1e-5 I) of the pixels of x (3, n). */
static void color_moments(const float *x, size_t n, double *mu, double *cov) {
    for (int a = 0; a < 3; a++) {
        double s = 0;
        for (size_t i = 0; i < n; i++) s += x[(size_t)a * n + i];
        mu[a] = n ? s / (double)n : 0.0;
    }
    for (int a = 0; a < 3; a++)
        for (int b = a; b < 3; b++) {
            double s = 0;
            const float *xa = x + (size_t)a * n, *xb = x + (size_t)b * n;
            for (size_t i = 0; i < n; i++) s += (xa[i] - mu[a]) * (xb[i] - mu[b]);
            cov[a * 3 + b] = cov[b * 3 + a] = (n ? s / (double)n : 0.0) + (a == b ? 1e-5 : 0.0);
        }
}

/* m (3x3 symmetric positive definite) -> m^p (p = 1/2 or -1/2) by Jacobi eigen-decomposition. */
static void color_sym_pow(const double *m, double p, double *out) {
    double a[9], v[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    memcpy(a, m, sizeof a);
    for (int sweep = 0; sweep < 50; sweep++) {
        double off = fabs(a[1]) + fabs(a[2]) + fabs(a[5]);
        if (off < 1e-30) break;
        for (int pp = 0; pp < 2; pp++)
            for (int q = pp + 1; q < 3; q++) {
                double apq = a[pp * 3 + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (a[q * 3 + q] - a[pp * 3 + pp]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                /* a = J^T a J, v = v J for the rotation J in the (pp, q) plane. */
                for (int k = 0; k < 3; k++) {
                    double akp = a[k * 3 + pp], akq = a[k * 3 + q];
                    a[k * 3 + pp] = c * akp - s * akq;
                    a[k * 3 + q] = s * akp + c * akq;
                }
                for (int k = 0; k < 3; k++) {
                    double apk = a[pp * 3 + k], aqk = a[q * 3 + k];
                    a[pp * 3 + k] = c * apk - s * aqk;
                    a[q * 3 + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < 3; k++) {
                    double vkp = v[k * 3 + pp], vkq = v[k * 3 + q];
                    v[k * 3 + pp] = c * vkp - s * vkq;
                    v[k * 3 + q] = s * vkp + c * vkq;
                }
            }
    }
    double e[3];
    for (int k = 0; k < 3; k++) e[k] = pow(a[k * 4] > 1e-12 ? a[k * 4] : 1e-12, p);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int k = 0; k < 3; k++) s += v[i * 3 + k] * e[k] * v[j * 3 + k];
            out[i * 3 + j] = s;
        }
}

void color_match_style(float *style, size_t n, const float *content, size_t m) {
    double mu_s[3], cov_s[9], mu_c[3], cov_c[9], half_c[9], inv_half_s[9], t[9];
    color_moments(style, n, mu_s, cov_s);
    color_moments(content, m, mu_c, cov_c);
    color_sym_pow(cov_c, 0.5, half_c);
    color_sym_pow(cov_s, -0.5, inv_half_s);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int k = 0; k < 3; k++) s += half_c[i * 3 + k] * inv_half_s[k * 3 + j];
            t[i * 3 + j] = s;
        }
    for (size_t i = 0; i < n; i++) {
        double d[3] = {style[i] - mu_s[0], style[n + i] - mu_s[1], style[2 * n + i] - mu_s[2]};
        for (int a = 0; a < 3; a++)
            style[(size_t)a * n + i] = (float)(mu_c[a] + t[a * 3] * d[0] + t[a * 3 + 1] * d[1] + t[a * 3 + 2] * d[2]);
    }
}
