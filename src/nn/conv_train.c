/* Backward passes of "same" stride-1 convolutions (odd square kernel K, pad K/2, reflection or zero
 * padding) for training the fast style network, where im2col is a poor fit: a 9x9 convolution with
 * 3 input or 3 output channels has a column matrix of 243 or 2592 rows per pixel, so im2col's GEMMs
 * (M = 3, or K = 3) are bound by writing and reading that matrix, not by the multiplies.
 *
 * Weight gradient, directly (conv2d_direct_backward_weights):
 *   dw[o][c][ki][kj] += sum_{oy, ox} dy[o][oy][ox] * xp[c][oy + ki][ox + kj]
 * with xp the padded input, built a band of output rows at a time by conv_pad_band (so nearest
 * upsampling and padding are applied on the fly, as in the forward pass). Register tiles of OB
 * output channels x KJN taps of one kernel row: per vector of 8 adjacent outputs, KJN shifted loads
 * of the padded row, OB loads of dy, OB * KJN FMAs into accumulators that live for a whole band;
 * their lanes are summed once per band. Each thread sums its bands into a private copy of dw (in
 * ws), added to dw at the end.
 *
 * Data gradient through a faster forward convolution (conv2d_backward_data_same): the adjoint of a
 * stride-1 convolution is the correlation of dy with the kernel flipped and its channels swapped,
 *   dxp[c][i][j] = sum_{o, ki, kj} w[o][c][ki][kj] * dy[o][i - ki][j - kj]
 * over the PADDED input positions (i, j) of (H + 2P, W + 2P), P = K/2. That is a "same" zero-padded
 * convolution of dy embedded with a zero border of P (H + 2P square maps) by
 *   wt[c][o][ki][kj] = w[o][c][K-1-ki][K-1-kj],
 * run by Winograd's F(4x4, 3x3) for 3x3 (as conv_winograd.c's backward-data of the zero-padded
 * convolution on the embedded map, whose kernel transform reads w so turned: wt is not built) or
 * directly (conv_direct.c) otherwise.
 * Then the padding's adjoint: each padded position's gradient goes to the pixel it copied (its
 * mirror for reflection, nowhere for zeros), as conv2d.c's col2im does.
 *
 * ws layouts (floats):
 *   weights: per thread, the band xp (C, R + K - 1, PW), PW = W + K - 1 (+ 8 spare), then the
 *            private dw (OC, C, K, K)
 *   data:    wt (C, OC, K, K) (direct only) | dye (OC, H + 2P, W + 2P) | dxp (C, H + 2P, W + 2P) | the inner
 *            convolution's workspace */
#include "nn/conv_train.h"

#include "nn/conv_internal.h"

#include <immintrin.h>
#include <omp.h>
#include <string.h>

static int ct_threads(const conv2d_desc *d) { return d->threads > 1 ? d->threads : 1; }
static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }

int conv2d_same_backward_supported(const conv2d_desc *d) {
    return d->stride == 1 && d->kh == d->kw && d->kh % 2 == 1 && d->kh <= 15 && d->pad == d->kh / 2 && d->c > 0 &&
           d->oc > 0 && d->h > d->pad && d->w > d->pad;
}

static int ct_cpu_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* ---- weight gradient ------------------------------------------------------------------------ */

typedef struct {
    int k, oh, ow, band, xrows, nbands;
    size_t pw, xp_n, dw_n, per_thread;
} dw_geom;

static dw_geom dw_geometry(const conv2d_desc *d) {
    dw_geom g;
    const int nt = ct_threads(d);
    g.k = d->kw;
    g.oh = conv2d_out_h(d);
    g.ow = conv2d_out_w(d);
    g.pw = (size_t)d->w + (size_t)g.k - 1 + 8;
    /* Bands of about 16 rows, at least 4 per thread. */
    int rows = (g.oh + 4 * nt - 1) / (4 * nt);
    if (rows > 16) rows = 16;
    if (rows < 1) rows = 1;
    g.band = rows;
    g.nbands = (g.oh + rows - 1) / rows;
    g.xrows = rows + g.k - 1;
    g.xp_n = up16((size_t)d->c * (size_t)g.xrows * g.pw);
    g.dw_n = up16((size_t)d->oc * (size_t)d->c * (size_t)g.k * (size_t)g.k);
    g.per_thread = g.xp_n + g.dw_n;
    return g;
}

size_t conv2d_direct_backward_weights_workspace(const conv2d_desc *d) {
    return (size_t)ct_threads(d) * dw_geometry(d).per_thread;
}

/* Portable: dwp[o][c][ki][kj] += the band's sum, rows oy0 .. oy0 + rows - 1. */
static void dw_band_portable(const conv2d_desc *d, const dw_geom *g, const float *xp, const float *dy, int oy0,
                             int rows, float *dwp) {
    const int k = g->k, ow = g->ow;
    const size_t ohw = (size_t)g->oh * (size_t)ow;
    for (int o = 0; o < d->oc; o++)
        for (int c = 0; c < d->c; c++)
            for (int ki = 0; ki < k; ki++)
                for (int kj = 0; kj < k; kj++) {
                    float s = 0.0f;
                    for (int r = 0; r < rows; r++) {
                        const float *dyr = dy + (size_t)o * ohw + (size_t)(oy0 + r) * (size_t)ow;
                        const float *xr = xp + ((size_t)c * (size_t)g->xrows + (size_t)(r + ki)) * g->pw + kj;
#pragma omp simd reduction(+ : s)
                        for (int x = 0; x < ow; x++) s += dyr[x] * xr[x];
                    }
                    dwp[(((size_t)o * (size_t)d->c + (size_t)c) * (size_t)k + (size_t)ki) * (size_t)k + (size_t)kj] += s;
                }
}

__attribute__((target("avx2,fma"))) static inline float hsum_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* One tile: OB output channels from o0 x KJN taps kj0 .. of kernel row ki of channel c, summed
 * over the band's rows; added to dwp. */
__attribute__((always_inline, target("avx2,fma"))) static inline void
dw_tile_avx2(const int ob, const int kjn, const conv2d_desc *d, const dw_geom *g, const float *xp, const float *dy,
             int oy0, int rows, int o0, int c, int ki, int kj0, float *dwp) {
    const int ow = g->ow, ow8 = ow & ~7, k = g->k;
    const size_t ohw = (size_t)g->oh * (size_t)ow;
    __m256 acc[4][3];
    float tail[4][3] = {{0}};
#pragma GCC unroll 4
    for (int o = 0; o < ob; o++)
#pragma GCC unroll 3
        for (int j = 0; j < kjn; j++) acc[o][j] = _mm256_setzero_ps();
    for (int r = 0; r < rows; r++) {
        const float *dyr = dy + (size_t)o0 * ohw + (size_t)(oy0 + r) * (size_t)ow;
        const float *xr = xp + ((size_t)c * (size_t)g->xrows + (size_t)(r + ki)) * g->pw + kj0;
        for (int x = 0; x < ow8; x += 8) {
            __m256 xv[3];
#pragma GCC unroll 3
            for (int j = 0; j < kjn; j++) xv[j] = _mm256_loadu_ps(xr + x + j);
#pragma GCC unroll 4
            for (int o = 0; o < ob; o++) {
                const __m256 dv = _mm256_loadu_ps(dyr + (size_t)o * ohw + (size_t)x);
#pragma GCC unroll 3
                for (int j = 0; j < kjn; j++) acc[o][j] = _mm256_fmadd_ps(dv, xv[j], acc[o][j]);
            }
        }
        for (int x = ow8; x < ow; x++)
            for (int o = 0; o < ob; o++)
                for (int j = 0; j < kjn; j++) tail[o][j] += dyr[(size_t)o * ohw + (size_t)x] * xr[x + j];
    }
#pragma GCC unroll 4
    for (int o = 0; o < ob; o++)
#pragma GCC unroll 3
        for (int j = 0; j < kjn; j++)
            dwp[(((size_t)(o0 + o) * (size_t)d->c + (size_t)c) * (size_t)k + (size_t)ki) * (size_t)k +
                (size_t)(kj0 + j)] += hsum_avx2(acc[o][j]) + tail[o][j];
}

/* Taps of one kernel row in groups of 3 (then 2 or 1). */
__attribute__((always_inline, target("avx2,fma"))) static inline void
dw_row_avx2(const int ob, const conv2d_desc *d, const dw_geom *g, const float *xp, const float *dy, int oy0, int rows,
            int o0, int c, int ki, float *dwp) {
    int kj0 = 0;
    for (; kj0 + 3 <= g->k; kj0 += 3) dw_tile_avx2(ob, 3, d, g, xp, dy, oy0, rows, o0, c, ki, kj0, dwp);
    if (g->k - kj0 == 2) dw_tile_avx2(ob, 2, d, g, xp, dy, oy0, rows, o0, c, ki, kj0, dwp);
    else if (g->k - kj0 == 1) dw_tile_avx2(ob, 1, d, g, xp, dy, oy0, rows, o0, c, ki, kj0, dwp);
}

__attribute__((target("avx2,fma"))) static void dw_band_avx2(const conv2d_desc *d, const dw_geom *g, const float *xp,
                                                              const float *dy, int oy0, int rows, float *dwp) {
    int o0 = 0;
    for (; o0 + 4 <= d->oc; o0 += 4)
        for (int c = 0; c < d->c; c++)
            for (int ki = 0; ki < g->k; ki++) dw_row_avx2(4, d, g, xp, dy, oy0, rows, o0, c, ki, dwp);
    if (d->oc - o0 == 3) {
        for (int c = 0; c < d->c; c++)
            for (int ki = 0; ki < g->k; ki++) dw_row_avx2(3, d, g, xp, dy, oy0, rows, o0, c, ki, dwp);
    } else {
        for (; o0 < d->oc; o0++)
            for (int c = 0; c < d->c; c++)
                for (int ki = 0; ki < g->k; ki++) dw_row_avx2(1, d, g, xp, dy, oy0, rows, o0, c, ki, dwp);
    }
}

void conv2d_direct_backward_weights(const conv2d_desc *d, int up, const float *x, const float *dy, float *dw,
                                    float *ws) {
    const dw_geom g = dw_geometry(d);
    const int nthreads = ct_threads(d), avx2 = ct_cpu_avx2() && g.ow >= 8;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && g.nbands > 1)
    {
        float *xp = ws + (size_t)omp_get_thread_num() * g.per_thread, *dwp = xp + g.xp_n;
        memset(dwp, 0, g.dw_n * sizeof *dwp);
        /* A static schedule: which bands a thread sums into its partial dw must not depend on
         * timing, or the order of the float additions (and the last bits of dw) would change from
         * run to run, and a resumed training run would drift from an unbroken one. */
#pragma omp for schedule(static, 1)
        for (int bi = 0; bi < g.nbands; bi++) {
            const int oy0 = bi * g.band, rows = g.oh - oy0 < g.band ? g.oh - oy0 : g.band;
            conv_pad_band(d, up, x, oy0, g.xrows, (int)g.pw, xp);
            if (avx2) dw_band_avx2(d, &g, xp, dy, oy0, rows, dwp);
            else dw_band_portable(d, &g, xp, dy, oy0, rows, dwp);
        }
        /* Each thread adds its partial sums (in thread order, so a run is repeatable). */
        const size_t n = (size_t)d->oc * (size_t)d->c * (size_t)g.k * (size_t)g.k;
#pragma omp for ordered schedule(static, 1)
        for (int t = 0; t < omp_get_num_threads(); t++) {
#pragma omp ordered
            {
                for (size_t i = 0; i < n; i++) dw[i] += dwp[i];
            }
        }
    }
}

/* ---- data gradient -------------------------------------------------------------------------- */

/* The zero-padded "same" convolution that computes dxp: C_in = OC, C_out = C, on H + 2P. */
static conv2d_desc bd_inner(const conv2d_desc *d) {
    const int p = d->pad;
    conv2d_desc e = {d->oc, d->h + 2 * p, d->w + 2 * p, d->c, d->kh, d->kw, 1, p, PAD_ZERO, d->threads};
    return e;
}

static int bd_winograd(const conv2d_desc *e) { return conv2d_winograd_supported(e); }

/* The turned kernels wt, for the direct path only. */
static size_t bd_wt_floats(const conv2d_desc *d, const conv2d_desc *e) {
    return bd_winograd(e) ? 0 : up16((size_t)d->c * (size_t)d->oc * (size_t)d->kh * (size_t)d->kw);
}

size_t conv2d_backward_data_same_workspace(const conv2d_desc *d) {
    const conv2d_desc e = bd_inner(d);
    const size_t ehw = (size_t)e.h * (size_t)e.w;
    const size_t inner = bd_winograd(&e) ? conv2d_winograd_workspace(&e, 1) : conv2d_direct_workspace(&e);
    return bd_wt_floats(d, &e) + up16((size_t)d->oc * ehw) + up16((size_t)d->c * ehw) + inner;
}

/* Mirror of padded coordinate i - p into 0..n-1 (reflection without repeating the edge). */
static int bd_reflect(int i, int n) {
    if (n == 1) return 0;
    if (i < 0) return -i;
    if (i >= n) return 2 * (n - 1) - i;
    return i;
}

void conv2d_backward_data_same(const conv2d_desc *d, const float *w, const float *dy, float *dx, float *ws) {
    const conv2d_desc e = bd_inner(d);
    const int p = d->pad, k = d->kw, H = d->h, W = d->w, EH = e.h, EW = e.w, wino = bd_winograd(&e);
    const size_t kk = (size_t)k * (size_t)k, ehw = (size_t)EH * (size_t)EW, hw = (size_t)H * (size_t)W;
    float *wt = ws;                                                   /* (C, OC, K, K) */
    float *dye = wt + bd_wt_floats(d, &e);                             /* (OC, EH, EW) */
    float *dxp = dye + up16((size_t)d->oc * ehw);                      /* (C, EH, EW) */
    float *inner = dxp + up16((size_t)d->c * ehw);
    const int nthreads = ct_threads(d);
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
        /* Winograd's kernel transform reads w turned and transposed itself (WINO_W_FLIP). */
        if (!wino) {
#pragma omp for schedule(static)
            for (int c = 0; c < d->c; c++)
                for (int o = 0; o < d->oc; o++)
                    for (size_t t = 0; t < kk; t++)
                        wt[((size_t)c * (size_t)d->oc + (size_t)o) * kk + t] =
                            w[((size_t)o * (size_t)d->c + (size_t)c) * kk + (kk - 1 - t)];
        }
#pragma omp for schedule(static)
        for (int o = 0; o < d->oc; o++) {
            float *eo = dye + (size_t)o * ehw;
            const float *src = dy + (size_t)o * hw;
            memset(eo, 0, (size_t)p * (size_t)EW * sizeof *eo);
            for (int y = 0; y < H; y++) {
                float *row = eo + (size_t)(y + p) * (size_t)EW;
                for (int i = 0; i < p; i++) row[i] = row[p + W + i] = 0.0f;
                memcpy(row + p, src + (size_t)y * (size_t)W, (size_t)W * sizeof *row);
            }
            memset(eo + (size_t)(H + p) * (size_t)EW, 0, (size_t)p * (size_t)EW * sizeof *eo);
        }
    }
    if (wino) {
        /* The forward convolution of dye by the flipped kernels, as the backward-data of the
         * zero-padded convolution (C -> OC) on the embedded map. */
        const conv2d_desc z = {d->c, EH, EW, d->oc, 3, 3, 1, 1, PAD_ZERO, d->threads};
        conv2d_winograd_backward_data(&z, w, dye, NULL, dxp, inner);
    } else {
        conv2d_direct_forward(&e, 1, dye, wt, NULL, dxp, inner);
    }
    /* The padding's adjoint, per channel: interior rows and columns copied, the border added to
     * the pixels it mirrors (reflection) or dropped (zeros). */
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1)
    for (int c = 0; c < d->c; c++) {
        float *dc = dx + (size_t)c * hw;
        const float *pc = dxp + (size_t)c * ehw;
        for (int y = 0; y < H; y++) memcpy(dc + (size_t)y * (size_t)W, pc + (size_t)(y + p) * (size_t)EW + p,
                                           (size_t)W * sizeof *dc);
        if (d->padding != PAD_REFLECT) continue;
        for (int py = 0; py < EH; py++) {
            const float *src = pc + (size_t)py * (size_t)EW;
            float *dst = dc + (size_t)bd_reflect(py - p, H) * (size_t)W;
            if (py < p || py >= H + p)
                for (int x = 0; x < W; x++) dst[x] += src[x + p];
            for (int i = 0; i < p; i++) {
                dst[bd_reflect(i - p, W)] += src[i];
                dst[bd_reflect(W + i, W)] += src[p + W + i];
            }
        }
    }
}

/* ---- bias ----------------------------------------------------------------------------------- */

void conv2d_backward_bias(int oc, size_t npix, const float *dy, float *db, int threads) {
#pragma omp parallel for num_threads(threads > 1 ? threads : 1) if (threads > 1 && npix * (size_t)oc > 65536)
    for (int o = 0; o < oc; o++) {
        const float *row = dy + (size_t)o * npix;
        double s = 0.0;
        for (size_t i0 = 0; i0 < npix; i0 += 512) {
            const size_t n = npix - i0 < 512 ? npix - i0 : 512;
            float f = 0.0f;
#pragma omp simd reduction(+ : f)
            for (size_t i = 0; i < n; i++) f += row[i0 + i];
            s += f;
        }
        db[o] += (float)s;
    }
}
