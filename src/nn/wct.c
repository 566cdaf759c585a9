/* The whitening and colouring transform (see nn.h; Li et al. 2017, "Universal Style Transfer via
 * Feature Transforms", eqs. 2 and 3). Forward only: the WCT method encodes, transforms and decodes
 * and never needs a gradient through this step, so there is no wct_backward.
 *
 * Both transforms are folded into one C x C matrix before touching the features:
 *   T = Es Ds^1/2 Es^T  Ec Dc^-1/2 Ec^T,   b = m_s - T m_c,   y = alpha (T f_c + b) + (1 - alpha) f_c
 * so the (C, nc) features pass through a single float GEMM. Covariances, eigendecompositions and
 * T are built in double from mean-removed double copies of the features.
 *
 * For tiled runs the same steps are separate: the moments are accumulated tile by tile
 * (wct_accumulate, wct_moments), T and b built once (wct_build), and each tile transformed
 * (wct_apply). */
#include "nn/nn.h"

#include "core/gemm.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* LAPACK's symmetric eigensolver (divide and conquer), Fortran calling convention as OpenBLAS
 * exports it (no LAPACKE header ships with it here); the trailing lengths are gfortran's hidden
 * CHARACTER lengths. On exit a (column-major) holds the eigenvectors, w the eigenvalues ascending. */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                    double *work, const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len,
                    size_t uplo_len);

static size_t lwork_of(int c) { return 1 + 6 * (size_t)c + 2 * (size_t)c * (size_t)c; }
static size_t liwork_of(int c) { return 3 + 5 * (size_t)c; }

size_t wct_build_workspace(int c) {
    if (c < 1 || c > 65536) return 0;
    const size_t cc = (size_t)c * (size_t)c;
    /* four (C, C) factors and products, the eigenvalues and bias (C), dsyevd's work, and its
     * integer work stored in doubles' room. */
    return 4 * cc + 2 * (size_t)c + lwork_of(c) + liwork_of(c);
}

size_t wct_workspace(int c, size_t nc, size_t ns) {
    const size_t b = wct_build_workspace(c), n = nc > ns ? nc : ns;
    if (b == 0 || n > SIZE_MAX / 8 / (size_t)c / 4) return 0;
    /* x (C, max n), the two covariances (C, C), the two means (C), T in float and b in float
     * (C, C + 1 floats in (C, C + 1) doubles' room), and wct_build's. */
    return (size_t)c * n + 3 * (size_t)c * (size_t)c + 3 * (size_t)c + b;
}

/* x (C, n) -> mean (C) and xc (C, n) = x - mean, in double. */
static void center(int c, size_t n, const float *x, double *mean, double *xc) {
#pragma omp parallel for schedule(static) if ((size_t)c * n > ((size_t)1 << 16))
    for (int ch = 0; ch < c; ch++) {
        const float *xr = x + (size_t)ch * n;  // (n)
        double *d = xc + (size_t)ch * n;       // (n)
        double s = 0;
        for (size_t i = 0; i < n; i++) s += xr[i];
        const double mu = s / (double)n;
        for (size_t i = 0; i < n; i++) d[i] = (double)xr[i] - mu;
        mean[ch] = mu;
    }
}

/* Fills the lower triangle of a (C, C) from its upper one. */
static void symmetrize(int c, double *a) {
    for (int i = 0; i < c; i++)
        for (int j = 0; j < i; j++) a[(size_t)i * (size_t)c + (size_t)j] = a[(size_t)j * (size_t)c + (size_t)i];
}

/* The covariance in u (C, C, overwritten) factorised: on return u holds, row by row, the
 * eigenvectors, and v (C, C) the same scaled by eig^power (only those with eig >= WCT_EIG_EPS;
 * the rest zeroed), so that u^T v = E D^power E^T. */
static int factor(int c, double power, double *u, double *v, double *eig, double *work, int *iwork) {
    const int lwork = (int)lwork_of(c), liwork = (int)liwork_of(c);
    int info = 0;
    /* Symmetric, so row- and column-major agree on input; on output eigenvector j is the
     * contiguous row j of u. */
    dsyevd_("V", "U", &c, u, &c, eig, work, &lwork, iwork, &liwork, &info, 1, 1);
    if (info != 0) return info;
    for (int j = 0; j < c; j++) {
        const double *uj = u + (size_t)j * (size_t)c;  // (C)
        double *vj = v + (size_t)j * (size_t)c;        // (C)
        const int keep = eig[j] >= WCT_EIG_EPS;
        const double sc = keep ? pow(eig[j], power) : 0.0;
        for (int i = 0; i < c; i++) vj[i] = sc * uj[i];
    }
    return 0;
}

void wct_accumulate(int c, size_t n, const float *x, const double *shift, double *s1, double *s2, double *xd) {
    if (n == 0) return;
#pragma omp parallel for schedule(static) if ((size_t)c * n > ((size_t)1 << 16))
    for (int ch = 0; ch < c; ch++) {
        const float *xr = x + (size_t)ch * n;  // (n)
        double *d = xd + (size_t)ch * n;       // (n)
        double s = 0;
        for (size_t i = 0; i < n; i++) s += d[i] = (double)xr[i] - shift[ch];
        s1[ch] += s;
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, c, (int)n, 1.0, xd, (int)n, 1.0, s2, c);
}

void wct_moments(int c, size_t n, const double *shift, const double *s1, double *s2, double *mean) {
    const double nn = (double)n;
    for (int i = 0; i < c; i++) {
        mean[i] = shift[i] + s1[i] / nn;
        for (int j = i; j < c; j++) {
            double *v = &s2[(size_t)i * (size_t)c + (size_t)j];
            *v = (*v - s1[i] * s1[j] / nn) / (nn - 1.0);
        }
    }
    symmetrize(c, s2);
}

int wct_build(int c, const double *mc, const double *cov_c, const double *ms, const double *cov_s, float *t, float *b,
              double *ws) {
    const size_t cc = (size_t)c * (size_t)c;
    double *u = ws;                      // (C, C) eigenvectors, one per row
    double *v = u + cc;                  // (C, C) the same scaled by eig^power
    double *w = v + cc;                  // (C, C) whitening, then the whole transform
    double *k = w + cc;                  // (C, C) colouring
    double *eig = k + cc;                // (C) eigenvalues
    double *bb = eig + c;                // (C) bias m_s - T m_c
    double *work = bb + c;               // (lwork)
    int *iwork = (int *)(work + lwork_of(c));  // (liwork) ints in liwork doubles' room

    /* Whitening W = Ec Dc^-1/2 Ec^T (eq. 2). */
    memcpy(u, cov_c, cc * sizeof *u);
    int info = factor(c, -0.5, u, v, eig, work, iwork);
    if (info != 0) return info;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c, c, c, 1.0, u, c, v, c, 0.0, w, c);
    /* Colouring K = Es Ds^1/2 Es^T (eq. 3), then T = K W into v. */
    memcpy(u, cov_s, cc * sizeof *u);
    if ((info = factor(c, 0.5, u, v, eig, work, iwork)) != 0) return info;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c, c, c, 1.0, u, c, v, c, 0.0, k, c);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c, c, c, 1.0, k, c, w, c, 0.0, v, c);
    for (int i = 0; i < c; i++) {
        double s = 0;
        for (int j = 0; j < c; j++) s += v[(size_t)i * (size_t)c + (size_t)j] * mc[j];
        b[i] = (float)(ms[i] - s);
    }
    for (size_t i = 0; i < cc; i++) t[i] = (float)v[i];
    return 0;
}

void wct_apply(int c, size_t n, const float *x, const float *t, const float *b, float alpha, float *y) {
    gemm(0, 0, (size_t)c, n, (size_t)c, 1.0f, t, (size_t)c, x, n, 0.0f, y, n);
#pragma omp parallel for schedule(static) if ((size_t)c * n > ((size_t)1 << 16))
    for (int ch = 0; ch < c; ch++) {
        float *yr = y + (size_t)ch * n;        // (n)
        const float *cr = x + (size_t)ch * n;  // (n)
        const float bb = b[ch];
        for (size_t i = 0; i < n; i++) yr[i] = alpha * (yr[i] + bb) + (1.0f - alpha) * cr[i];
    }
}

int wct_forward(int c, size_t nc, const float *content, size_t ns, const float *style, float alpha, float *y,
                double *ws) {
    const size_t cc = (size_t)c * (size_t)c, n = nc > ns ? nc : ns;
    double *x = ws;                 // (C, max(nc, ns)) mean-removed features
    double *cov_c = x + (size_t)c * n;  // (C, C)
    double *cov_s = cov_c + cc;     // (C, C)
    double *mc = cov_s + cc;        // (C)
    double *ms = mc + c;            // (C)
    float *t = (float *)(ms + c);   // (C, C) floats, then b (C) floats, in (C, C + 1) doubles' room
    float *b = t + cc;
    double *bws = ms + c + cc + (size_t)c;  // wct_build_workspace(c)
    center(c, nc, content, mc, x);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, c, (int)nc, 1.0 / (double)(nc - 1), x, (int)nc, 0.0, cov_c, c);
    symmetrize(c, cov_c);
    center(c, ns, style, ms, x);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, c, (int)ns, 1.0 / (double)(ns - 1), x, (int)ns, 0.0, cov_s, c);
    symmetrize(c, cov_s);
    int info = wct_build(c, mc, cov_c, ms, cov_s, t, b, bws);
    if (info != 0) return info;
    wct_apply(c, nc, content, t, b, alpha, y);
    return 0;
}
