/* The whitening and colouring transform (see nn.h; Li et al. 2017, "Universal Style Transfer via
 * Feature Transforms", eqs. 2 and 3). Forward only: the WCT method encodes, transforms and decodes
 * and never needs a gradient through this step, so there is no wct_backward.
 *
 * Both transforms are folded into one C x C matrix before touching the features:
 *   T = Es Ds^1/2 Es^T  Ec Dc^-1/2 Ec^T,   b = m_s - T m_c,   y = alpha (T f_c + b) + (1 - alpha) f_c
 * so the (C, nc) features pass through a single float GEMM. Covariances, eigendecompositions and
 * T are built in double from mean-removed double copies of the features. */
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

size_t wct_workspace(int c, size_t nc, size_t ns) {
    if (c < 1 || c > 65536) return 0;
    const size_t cc = (size_t)c * (size_t)c, n = nc > ns ? nc : ns;
    if (n > SIZE_MAX / 8 / (size_t)c) return 0;
    /* x (C, max n), two (C, C) factors, two (C, C) products, means, eigenvalues and bias 4 (C),
     * dsyevd's work, and its integer work stored in doubles' room. */
    return (size_t)c * n + 4 * cc + 4 * (size_t)c + lwork_of(c) + liwork_of(c);
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

/* The covariance of xc (C, n, mean removed) factorised: on return v (C, C) holds, row by row,
 * the eigenvectors scaled by eig^power (only those with eig >= WCT_EIG_EPS; the rest zeroed), and
 * a second copy u (C, C) the unscaled ones, so that u^T v = E D^power E^T. */
static int factor(int c, size_t n, const double *xc, double power, double *u, double *v, double *eig,
                  double *work, int *iwork) {
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, c, (int)n, 1.0 / (double)(n - 1), xc, (int)n, 0.0, u, c);
    for (int i = 0; i < c; i++)
        for (int j = 0; j < i; j++) u[(size_t)i * (size_t)c + (size_t)j] = u[(size_t)j * (size_t)c + (size_t)i];
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

int wct_forward(int c, size_t nc, const float *content, size_t ns, const float *style, float alpha, float *y,
                double *ws) {
    const size_t cc = (size_t)c * (size_t)c, n = nc > ns ? nc : ns;
    double *x = ws;                      // (C, max(nc, ns)) mean-removed features
    double *u = x + (size_t)c * n;       // (C, C) eigenvectors, one per row
    double *v = u + cc;                  // (C, C) the same scaled by eig^power
    double *t = v + cc;                  // (C, C) whitening, then the whole transform
    double *k = t + cc;                  // (C, C) colouring
    double *mc = k + cc;                 // (C) content mean
    double *ms = mc + c;                 // (C) style mean
    double *eig = ms + c;                // (C) eigenvalues
    double *b = eig + c;                 // (C) bias m_s - T m_c
    double *work = b + c;                // (lwork)
    int *iwork = (int *)(work + lwork_of(c));  // (liwork) ints in liwork doubles' room

    /* Whitening W = Ec Dc^-1/2 Ec^T (eq. 2) into t. */
    center(c, nc, content, mc, x);
    int info = factor(c, nc, x, -0.5, u, v, eig, work, iwork);
    if (info != 0) return info;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c, c, c, 1.0, u, c, v, c, 0.0, t, c);
    /* Colouring K = Es Ds^1/2 Es^T (eq. 3) into k, then T = K W into v. */
    center(c, ns, style, ms, x);
    if ((info = factor(c, ns, x, 0.5, u, v, eig, work, iwork)) != 0) return info;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c, c, c, 1.0, u, c, v, c, 0.0, k, c);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c, c, c, 1.0, k, c, t, c, 0.0, v, c);
    for (int i = 0; i < c; i++) {
        double s = 0;
        for (int j = 0; j < c; j++) s += v[(size_t)i * (size_t)c + (size_t)j] * mc[j];
        b[i] = ms[i] - s;
    }
    /* The float copy of T reuses u's room: (C, C) floats fit in (C, C) doubles. */
    float *tf = (float *)u;  // (C, C)
    for (size_t i = 0; i < cc; i++) tf[i] = (float)v[i];
    gemm(0, 0, (size_t)c, nc, (size_t)c, 1.0f, tf, (size_t)c, content, nc, 0.0f, y, nc);
#pragma omp parallel for schedule(static) if ((size_t)c * nc > ((size_t)1 << 16))
    for (int ch = 0; ch < c; ch++) {
        float *yr = y + (size_t)ch * nc;              // (nc)
        const float *cr = content + (size_t)ch * nc;  // (nc)
        const float bb = (float)b[ch];
        for (size_t i = 0; i < nc; i++) yr[i] = alpha * (yr[i] + bb) + (1.0f - alpha) * cr[i];
    }
    return 0;
}
