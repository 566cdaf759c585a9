/* Image measures for evaluating results (include/impasto.h, "evaluating results"): SSIM, PSNR,
 * edge agreement and colour-histogram distance, plus the sliced Wasserstein distance between
 * feature sets that eval.c applies to VGG-19 features.
 *
 * Everything is computed on the BT.601 luminance so that a result is judged on structure, the
 * thing content preservation is about, not on the colours the style was meant to change. */
#include "methods/metrics.h"

#include "core/ctx.h"
#include "core/gemm.h"
#include "core/image.h"
#include "core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- luminance -------------------------------------------------------------------------- */

/* y (H*W) from an image (H, W, C): BT.601 Y for RGB(A), the gray value for gray(+alpha). */
static void luminance(const impasto_image *img, float *y) {
    size_t npix = (size_t)img->width * img->height;
    int c = img->channels;
    const float *p = img->data;
    if (c >= 3) {
        for (size_t i = 0; i < npix; i++, p += c) y[i] = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
    } else {
        for (size_t i = 0; i < npix; i++, p += c) y[i] = p[0];
    }
}

/* Checks two images for a pairwise measure and returns their luminances (H*W each) in one
 * allocation: *ya, then *yb. */
static impasto_status pair_luminance(impasto_ctx *ctx, const char *what, const impasto_image *a,
                                     const impasto_image *b, float **ya, float **yb) {
    *ya = *yb = NULL;
    if (!a || !b) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s needs two images", what);
    if (a->width != b->width || a->height != b->height)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s: the images differ in size (%dx%d and %dx%d)",
                        what, a->width, a->height, b->width, b->height);
    size_t npix = (size_t)a->width * a->height, n2;
    if (npix == 0) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s: empty image", what);
    float *buf = size_mul(npix, 2 * sizeof(float), &n2) ? malloc(n2) : NULL;
    if (!buf) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "%s: out of memory (%dx%d)", what, a->width, a->height);
    luminance(a, buf);
    luminance(b, buf + npix);
    *ya = buf;
    *yb = buf + npix;
    return IMPASTO_OK;
}

/* ---- SSIM ------------------------------------------------------------------------------- */

/* Wang et al. 2004, section III-C: statistics under an 11x11 circular-symmetric Gaussian window
 * (sigma 1.5, normalised to sum 1), SSIM = (2 mu_a mu_b + C1)(2 s_ab + C2) /
 * ((mu_a^2 + mu_b^2 + C1)(s_a^2 + s_b^2 + C2)), C1 = (K1 L)^2, C2 = (K2 L)^2, and the mean over
 * the positions where the window lies inside the image (their "valid" filtering). */
#define SSIM_WIN 11
#define SSIM_Q 5  /* filtered quantities: a, b, a^2, b^2, ab */

static void ssim_window(double g[SSIM_WIN]) {
    double sum = 0;
    for (int k = 0; k < SSIM_WIN; k++) {
        double d = k - SSIM_WIN / 2;
        sum += g[k] = exp(-d * d / (2 * 1.5 * 1.5));
    }
    for (int k = 0; k < SSIM_WIN; k++) g[k] /= sum;
}

/* ya, yb (H, W). The window is separable: each row is filtered horizontally into a ring of the
 * last 11 rows, ring (11, Q, W-10), and every output row combines the ring vertically, so memory
 * stays O(W) whatever the height. */
static impasto_status ssim_luma(impasto_ctx *ctx, int w, int h, const float *ya, const float *yb,
                                double *out) {
    const double c1 = (0.01 * 1.0) * (0.01 * 1.0), c2 = (0.03 * 1.0) * (0.03 * 1.0);
    double g[SSIM_WIN];
    ssim_window(g);
    size_t wv = (size_t)w - (SSIM_WIN - 1), row = SSIM_Q * wv;
    double *ring = malloc(SSIM_WIN * row * sizeof *ring);
    double *v = malloc(row * sizeof *v);
    if (!ring || !v) {
        free(ring);
        free(v);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "SSIM: out of memory");
    }
    double total = 0;
    for (int y = 0; y < h; y++) {
        const float *ra = ya + (size_t)y * w, *rb = yb + (size_t)y * w;
        double *dst = ring + (size_t)(y % SSIM_WIN) * row;
        for (size_t x = 0; x < wv; x++) {
            double s[SSIM_Q] = {0};
            for (int k = 0; k < SSIM_WIN; k++) {
                double a = ra[x + k], b = rb[x + k];
                s[0] += g[k] * a;
                s[1] += g[k] * b;
                s[2] += g[k] * a * a;
                s[3] += g[k] * b * b;
                s[4] += g[k] * a * b;
            }
            for (int q = 0; q < SSIM_Q; q++) dst[q * wv + x] = s[q];
        }
        if (y < SSIM_WIN - 1) continue;
        int top = y - (SSIM_WIN - 1);
        memset(v, 0, row * sizeof *v);
        for (int k = 0; k < SSIM_WIN; k++) {
            const double *src = ring + (size_t)((top + k) % SSIM_WIN) * row;
            for (size_t i = 0; i < row; i++) v[i] += g[k] * src[i];
        }
        for (size_t x = 0; x < wv; x++) {
            double ma = v[x], mb = v[wv + x];
            double va = v[2 * wv + x] - ma * ma, vb = v[3 * wv + x] - mb * mb;
            double cov = v[4 * wv + x] - ma * mb;
            total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
        }
    }
    free(ring);
    free(v);
    *out = total / ((double)wv * (double)(h - (SSIM_WIN - 1)));
    return IMPASTO_OK;
}

impasto_status impasto_ssim(impasto_ctx *ctx, const impasto_image *a, const impasto_image *b,
                            double *ssim) {
    float *ya, *yb;
    impasto_status s = pair_luminance(ctx, "SSIM", a, b, &ya, &yb);
    if (s != IMPASTO_OK) return s;
    if (a->width < SSIM_WIN || a->height < SSIM_WIN) {
        free(ya);
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "SSIM needs images of at least %dx%d pixels, got %dx%d",
                        SSIM_WIN, SSIM_WIN, a->width, a->height);
    }
    s = ssim_luma(ctx, a->width, a->height, ya, yb, ssim);
    free(ya);
    return s;
}

/* ---- PSNR ------------------------------------------------------------------------------- */

impasto_status impasto_psnr(impasto_ctx *ctx, const impasto_image *a, const impasto_image *b,
                            double *psnr) {
    float *ya, *yb;
    impasto_status s = pair_luminance(ctx, "PSNR", a, b, &ya, &yb);
    if (s != IMPASTO_OK) return s;
    size_t npix = (size_t)a->width * a->height;
    double se = 0;
    for (size_t i = 0; i < npix; i++) {
        double d = (double)ya[i] - yb[i];
        se += d * d;
    }
    free(ya);
    double mse = se / (double)npix;
    *psnr = mse > 0 ? -10.0 * log10(mse) : INFINITY;
    return IMPASTO_OK;
}

/* ---- edge agreement --------------------------------------------------------------------- */

/* Sobel gradient magnitude m (H, W) of y (H, W), borders replicated. */
static void sobel_magnitude(int w, int h, const float *y, float *m) {
    for (int i = 0; i < h; i++) {
        const float *up = y + (size_t)(i > 0 ? i - 1 : 0) * w;
        const float *mid = y + (size_t)i * w;
        const float *dn = y + (size_t)(i < h - 1 ? i + 1 : h - 1) * w;
        for (int j = 0; j < w; j++) {
            int l = j > 0 ? j - 1 : 0, r = j < w - 1 ? j + 1 : w - 1;
            double gx = (up[r] + 2.0 * mid[r] + dn[r]) - (up[l] + 2.0 * mid[l] + dn[l]);
            double gy = (dn[l] + 2.0 * dn[j] + dn[r]) - (up[l] + 2.0 * up[j] + up[r]);
            m[(size_t)i * w + j] = (float)sqrt(gx * gx + gy * gy);
        }
    }
}

impasto_status impasto_edge_agreement(impasto_ctx *ctx, const impasto_image *a,
                                      const impasto_image *b, double *corr) {
    float *ya, *yb;
    impasto_status s = pair_luminance(ctx, "edge agreement", a, b, &ya, &yb);
    if (s != IMPASTO_OK) return s;
    int w = a->width, h = a->height;
    size_t npix = (size_t)w * h;
    float *m = malloc(2 * npix * sizeof *m);
    if (!m) {
        free(ya);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "edge agreement: out of memory");
    }
    float *ma = m, *mb = m + npix;
    sobel_magnitude(w, h, ya, ma);
    sobel_magnitude(w, h, yb, mb);
    free(ya);
    double mean_a = 0, mean_b = 0;
    for (size_t i = 0; i < npix; i++) mean_a += ma[i], mean_b += mb[i];
    mean_a /= (double)npix;
    mean_b /= (double)npix;
    double saa = 0, sbb = 0, sab = 0;
    for (size_t i = 0; i < npix; i++) {
        double da = ma[i] - mean_a, db = mb[i] - mean_b;
        saa += da * da;
        sbb += db * db;
        sab += da * db;
    }
    free(m);
    /* Flat images have no edges: two of them agree, a flat one and a textured one do not. */
    const double flat = 1e-12 * (double)npix;
    if (saa <= flat && sbb <= flat) *corr = 1.0;
    else if (saa <= flat || sbb <= flat) *corr = 0.0;
    else *corr = sab / sqrt(saa * sbb);
    return IMPASTO_OK;
}

/* ---- colour histograms ------------------------------------------------------------------ */

void metrics_color_hist(const impasto_image *img, double h[3][METRICS_HIST_BINS]) {
    memset(h, 0, 3 * sizeof h[0]);
    size_t npix = (size_t)img->width * img->height;
    int c = img->channels;
    for (size_t i = 0; i < npix; i++) {
        const float *p = img->data + i * c;
        for (int k = 0; k < 3; k++) {
            float v = p[c >= 3 ? k : 0];
            int bin = v > 0 ? (int)(v * METRICS_HIST_BINS) : 0;  /* NaN lands in bin 0 */
            if (bin >= METRICS_HIST_BINS) bin = METRICS_HIST_BINS - 1;
            h[k][bin] += 1.0;
        }
    }
    if (npix == 0) return;
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < METRICS_HIST_BINS; j++) h[k][j] /= (double)npix;
}

double metrics_hist_distance(const double a[3][METRICS_HIST_BINS],
                             const double b[3][METRICS_HIST_BINS]) {
    double total = 0;
    for (int k = 0; k < 3; k++) {
        double ca = 0, cb = 0, emd = 0;
        for (int j = 0; j < METRICS_HIST_BINS; j++) {
            ca += a[k][j];
            cb += b[k][j];
            emd += fabs(ca - cb);
        }
        total += emd / METRICS_HIST_BINS;
    }
    return total / 3.0;
}

impasto_status impasto_color_distance(impasto_ctx *ctx, const impasto_image *a,
                                      const impasto_image *b, double *dist) {
    if (!a || !b) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "colour distance needs two images");
    double ha[3][METRICS_HIST_BINS], hb[3][METRICS_HIST_BINS];
    metrics_color_hist(a, ha);
    metrics_color_hist(b, hb);
    *dist = metrics_hist_distance(ha, hb);
    return IMPASTO_OK;
}

/* ---- sliced Wasserstein distance -------------------------------------------------------- */

/* Directions uniform on the sphere: normalised standard Gaussian vectors (Box-Muller, from
 * splitmix64: core/rng.h). */
void swd_directions(int c, int nproj, uint64_t seed, float *dirs) {
    uint64_t s = seed;
    for (int p = 0; p < nproj; p++) {
        float *d = dirs + (size_t)p * c;
        double norm = 0;
        for (int i = 0; i < c; i++) {
            double u1 = rng_uniform_open(&s), u2 = rng_uniform_open(&s);
            double v = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
            d[i] = (float)v;
            norm += v * v;
        }
        norm = sqrt(norm);
        for (int i = 0; i < c; i++) d[i] = norm > 0 ? (float)(d[i] / norm) : (i == 0);
    }
}

/* dirs (P, C), f (C, n), proj (P, n) with row stride ldp. */
void swd_project(int c, size_t n, const float *f, int nproj, const float *dirs, float *proj,
                 size_t ldp) {
    if (n == 0 || nproj <= 0) return;
    gemm(0, 0, (size_t)nproj, n, (size_t)c, 1.0f, dirs, (size_t)c, f, n, 0.0f, proj, ldp);
}

static int cmp_float(const void *pa, const void *pb) {
    float a = *(const float *)pa, b = *(const float *)pb;
    return (a > b) - (a < b);
}

void swd_sort(int nproj, size_t n, float *proj) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int p = 0; p < nproj; p++) qsort(proj + (size_t)p * n, n, sizeof(float), cmp_float);
}

/* The quantile functions of two sorted samples are step functions on (0, 1]; walking their
 * breakpoints i/na and j/nb in order integrates (Qa - Qb)^2 exactly. */
static double w2_squared(const float *a, size_t na, const float *b, size_t nb) {
    size_t i = 0, j = 0;
    double u = 0, acc = 0;
    while (i < na && j < nb) {
        double ua = (double)(i + 1) / (double)na, ub = (double)(j + 1) / (double)nb;
        double next = ua < ub ? ua : ub, d = (double)a[i] - b[j];
        acc += d * d * (next - u);
        u = next;
        if (ua <= ub) i++;
        if (ub <= ua) j++;
    }
    return acc;
}

double swd_sorted_distance(int nproj, const float *a, size_t na, const float *b, size_t nb) {
    if (nproj <= 0 || na == 0 || nb == 0) return 0.0;
    double sum = 0;
    for (int p = 0; p < nproj; p++) sum += w2_squared(a + (size_t)p * na, na, b + (size_t)p * nb, nb);
    return sqrt(sum / nproj);
}

impasto_status metrics_swd(impasto_ctx *ctx, int c, size_t na, const float *fa, size_t nb,
                           const float *fb, int nproj, uint64_t seed, double *out) {
    size_t la, lb;
    if (c <= 0 || nproj <= 0) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "SWD: no channels or projections");
    if (!size_mul(na, (size_t)nproj * sizeof(float), &la) || !size_mul(nb, (size_t)nproj * sizeof(float), &lb))
        return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "SWD: feature sets too large");
    float *dirs = malloc((size_t)nproj * c * sizeof *dirs);
    float *pa = malloc(la ? la : 1), *pb = malloc(lb ? lb : 1);
    if (!dirs || !pa || !pb) {
        free(dirs);
        free(pa);
        free(pb);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "SWD: out of memory");
    }
    swd_directions(c, nproj, seed, dirs);
    swd_project(c, na, fa, nproj, dirs, pa, na);
    swd_project(c, nb, fb, nproj, dirs, pb, nb);
    swd_sort(nproj, na, pa);
    swd_sort(nproj, nb, pb);
    *out = swd_sorted_distance(nproj, pa, na, pb, nb);
    free(dirs);
    free(pa);
    free(pb);
    return IMPASTO_OK;
}

/* ---- seams ---------------------------------------------------------------------------------- */

double metrics_seam_ratio(const impasto_image *img, int th, int tw) {
    const int w = img->width, h = img->height, ch = img->channels, nc = ch >= 3 ? 3 : 1;
    double seam = 0, rest = 0;
    size_t nseam = 0, nrest = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const float *p = img->data + ((size_t)y * w + x) * ch;
            for (int dir = 0; dir < 2; dir++) {
                /* the pair (left or upper neighbour, this pixel) */
                if ((dir == 0 && x == 0) || (dir == 1 && y == 0)) continue;
                const float *q = dir == 0 ? p - ch : p - (size_t)w * ch;
                double d = 0;
                for (int c = 0; c < nc; c++) d += fabs((double)p[c] - q[c]);
                const int on_edge = dir == 0 ? tw > 0 && x % tw == 0 : th > 0 && y % th == 0;
                if (on_edge) seam += d, nseam++;
                else rest += d, nrest++;
            }
        }
    if (!nseam || !nrest || rest == 0) return 1.0;
    return (seam / (double)nseam) / (rest / (double)nrest);
}
