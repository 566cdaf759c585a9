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
 *            convolution's workspace
 *   data, 3x3 pad 1 (interior and border apart, see "data gradient of a 3x3 pad-1 convolution"):
 *            dy's top and bottom rows (OC, EW) each | its left and right columns (OC, EH) each | per
 *            thread, BD_CB channels' border lines (BD_CB x 2 (W + H + 2)) | the Winograd backward pass's
 *            workspace */
#include "nn/conv_train.h"

#include "core/gemm_internal.h"
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

/* Mirror of padded coordinate i - p into 0..n-1 (reflection without repeating the edge). */
static int bd_reflect(int i, int n) {
    if (n == 1) return 0;
    if (i < 0) return -i;
    if (i >= n) return 2 * (n - 1) - i;
    return i;
}

/* ---- data gradient of a 3x3 pad-1 convolution: interior and border apart ------------------------ */

/* For K = 3, P = 1 the embedded map costs more than its 2 extra rows and columns: Winograd's 4x4
 * tiles of a 34 x 34 map are 81 where 32 x 32 has 64, and the GEMMs' panels of 32 tiles round 81 up
 * to 96 (256 channels of 32x32: 5.4 ms against the forward's 3.4, one thread). So dxp is split:
 *   interior (i, j in 1 .. H, 1 .. W): exactly the data gradient of the ZERO-padded convolution, by
 *            conv_winograd.c straight into dx (no embedding, 64 tiles);
 *   border   (rows 0 and H + 1, columns 0 and W + 1 of dxp): only the kernel's outer row or column
 *            reaches them from one edge row or column of dy, e.g. the top row
 *              dxp[c][0][j] = sum_{o, kj} w[o][c][0][kj] * dy[o][0][j - kj]   (j = 0 .. W + 1),
 *            the bottom row from w[.][.][2][.] and dy's last row, the left and right columns (i = 1
 *            .. H) from w[.][.][.][0] / w[.][.][.][2] and dy's first / last column;
 * and with reflection padding the border is folded onto the pixels it mirrors (row 0 of dxp onto
 * row 1 of dx, row H + 1 onto row H - 2, column 0 onto column 1, column W + 1 onto W - 2; zero
 * padding drops it). The border is 4 lines of correlations along dy's edges: vectorised along the
 * line, each output vector accumulating over OC x 3 taps, the edges copied first with two zeros at
 * each end (edge (OC, EL), EL = the line's length + 4 rounded up to 16, plus 16 spare) so the
 * shifted loads need no tests. */

#define BD_CB 4  /* channels whose border lines are computed together */

static int bd_split(const conv2d_desc *d) {
    return d->kh == 3 && d->pad == 1 && d->h >= 2 && d->w >= 2 && conv2d_winograd_supported(d);
}

static size_t bd_edge_len(int n) { return ((size_t)n + 4 + 15) / 16 * 16 + 16; }

/* The zero-padded convolution (C -> OC, H x W) whose data gradient is dxp's interior. */
static conv2d_desc bd_zero(const conv2d_desc *d) {
    conv2d_desc z = *d;
    z.padding = PAD_ZERO;
    return z;
}

static size_t bd_split_workspace(const conv2d_desc *d) {
    const size_t ew = bd_edge_len(d->w), eh = bd_edge_len(d->h), lines = (size_t)(2 * d->w + 2 * d->h + 4);
    const conv2d_desc z = bd_zero(d);
    return up16(2 * (size_t)d->oc * (ew + eh)) + up16((size_t)ct_threads(d) * BD_CB * lines) +
           conv2d_winograd_backward_workspace(&z);
}

/* out[j] = sum_{o, k} w[o][c][tap k] * edge[o][j - k + 2] for j < n: one border line of channel c;
 * taps t0 + k ts (k = 0, 1, 2). */
static void bd_line_portable(const conv2d_desc *d, const float *w, int c, int t0, int ts, const float *edge,
                             size_t el, int n, float *out) {
    const size_t c9 = (size_t)d->c * 9;
    for (int j = 0; j < n; j++) out[j] = 0.0f;
    for (int o = 0; o < d->oc; o++) {
        const float *wo = w + (size_t)o * c9 + (size_t)c * 9, *e = edge + (size_t)o * el;
        for (int k = 0; k < 3; k++) {
            const float wv = wo[t0 + k * ts];
            const float *ek = e + 2 - k;
#pragma omp simd
            for (int j = 0; j < n; j++) out[j] += wv * ek[j];
        }
    }
}

/* bd_line_portable for CB channels c .. c + CB - 1 at once (outs CB lines, ostride apart): up to 4
 * vectors of a line x CB channels accumulate in registers over o and k, sharing each load of the
 * edge; 4 x 4 independent FMA chains (one channel at a time, 2 or 3 chains waited on the FMA's
 * latency: 3.4 ms of a 9 ms pass for 256 channels of 32x32). */
__attribute__((always_inline, target("avx512f,avx512vl,avx512dq,avx512bw,fma"))) static inline void
bd_lines_avx512(const int cb, const int nv, const conv2d_desc *d, const float *w, int c, int t0, int ts,
                const float *edge, size_t el, int j0, int n, float *out, size_t ostride) {
    const size_t c9 = (size_t)d->c * 9;
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int q = 0; q < cb; q++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[q][v] = _mm512_setzero_ps();
    for (int o = 0; o < d->oc; o++) {
        const float *wo = w + (size_t)o * c9 + (size_t)c * 9 + t0, *e = edge + (size_t)o * el + j0 + 2;
#pragma GCC unroll 3
        for (int k = 0; k < 3; k++) {
            __m512 ev[4];
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) ev[v] = _mm512_loadu_ps(e - k + 16 * v);
#pragma GCC unroll 4
            for (int q = 0; q < cb; q++) {
                const __m512 wv = _mm512_set1_ps(wo[(size_t)q * 9 + (size_t)(k * ts)]);
#pragma GCC unroll 4
                for (int v = 0; v < nv; v++) acc[q][v] = _mm512_fmadd_ps(wv, ev[v], acc[q][v]);
            }
        }
    }
#pragma GCC unroll 4
    for (int q = 0; q < cb; q++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            const int left = n - j0 - 16 * v;
            _mm512_mask_storeu_ps(out + (size_t)q * ostride + (size_t)(j0 + 16 * v),
                                  left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1), acc[q][v]);
        }
}

#define BD_NV_CASES(CB)                                                                               \
    switch (nv) {                                                                                     \
    case 4: bd_lines_avx512(CB, 4, d, w, c, t0, ts, edge, el, j0, n, out, ostride); break;            \
    case 3: bd_lines_avx512(CB, 3, d, w, c, t0, ts, edge, el, j0, n, out, ostride); break;            \
    case 2: bd_lines_avx512(CB, 2, d, w, c, t0, ts, edge, el, j0, n, out, ostride); break;            \
    default: bd_lines_avx512(CB, 1, d, w, c, t0, ts, edge, el, j0, n, out, ostride); break;           \
    }

__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,fma"))) static void
bd_line_avx512(int cb, const conv2d_desc *d, const float *w, int c, int t0, int ts, const float *edge, size_t el,
               int n, float *out, size_t ostride) {
    for (int j0 = 0; j0 < n; j0 += 64) {
        const int nv = (n - j0 + 15) / 16 < 4 ? (n - j0 + 15) / 16 : 4;
        switch (cb) {
        case 4: BD_NV_CASES(4) break;
        case 3: BD_NV_CASES(3) break;
        case 2: BD_NV_CASES(2) break;
        default: BD_NV_CASES(1) break;
        }
    }
}
#undef BD_NV_CASES

/* AVX-512 unless the GEMM path in force is "portable" (which the tests force to run without AVX). */
static int bd_cpu_avx512(void) {
    const gemm_kernel *kr = gemm_active_kernel();
    if (kr && !strcmp(kr->name, "portable")) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("fma");
}

static void bd_split_run(const conv2d_desc *d, const float *w, const float *dy, float *dx, float *ws) {
    const int H = d->h, W = d->w, OC = d->oc;
    const size_t ew = bd_edge_len(W), eh = bd_edge_len(H), hw = (size_t)H * (size_t)W;
    const size_t lines = (size_t)(2 * W + 2 * H + 4);
    float *top = ws, *bot = top + (size_t)OC * ew, *lft = bot + (size_t)OC * ew, *rgt = lft + (size_t)OC * eh;
    float *outs = ws + up16(2 * (size_t)OC * (ew + eh));
    float *inner = outs + up16((size_t)ct_threads(d) * BD_CB * lines);
    const conv2d_desc z = bd_zero(d);
    conv2d_winograd_backward_data(&z, w, dy, NULL, dx, inner);
    if (d->padding != PAD_REFLECT) return;
    const int nthreads = ct_threads(d), avx512 = bd_cpu_avx512();
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
#pragma omp for schedule(static)
        for (int o = 0; o < OC; o++) {
            const float *src = dy + (size_t)o * hw;
            float *t = top + (size_t)o * ew, *b = bot + (size_t)o * ew, *l = lft + (size_t)o * eh, *r = rgt + (size_t)o * eh;
            memset(t, 0, ew * sizeof *t), memset(b, 0, ew * sizeof *b);
            memset(l, 0, eh * sizeof *l), memset(r, 0, eh * sizeof *r);
            memcpy(t + 2, src, (size_t)W * sizeof *t);
            memcpy(b + 2, src + (size_t)(H - 1) * (size_t)W, (size_t)W * sizeof *b);
            for (int i = 0; i < H; i++) l[2 + i] = src[(size_t)i * (size_t)W], r[2 + i] = src[(size_t)i * (size_t)W + (size_t)(W - 1)];
        }
        /* per thread, BD_CB channels' lines: rows 0 and H + 1 of dxp (W + 2 each, corners
         * included), then columns 0 and W + 1 at rows 1 .. H (the column edges start one further
         * on: line index i - 1 of dxp row i reads edge[i - 1 - k + 3] = dy row i - k) */
        float *ot = outs + (size_t)omp_get_thread_num() * BD_CB * lines;
        float *ob = ot + BD_CB * (size_t)(W + 2), *ol = ob + BD_CB * (size_t)(W + 2), *orr = ol + BD_CB * (size_t)H;
        const int nblk = (d->c + BD_CB - 1) / BD_CB;
#pragma omp for schedule(static)
        for (int bk = 0; bk < nblk; bk++) {
            const int c0 = bk * BD_CB, cb = d->c - c0 < BD_CB ? d->c - c0 : BD_CB;
            const size_t sr = (size_t)(W + 2), sc = (size_t)H;
            if (avx512) {
                bd_line_avx512(cb, d, w, c0, 0, 1, top, ew, W + 2, ot, sr);
                bd_line_avx512(cb, d, w, c0, 6, 1, bot, ew, W + 2, ob, sr);
                bd_line_avx512(cb, d, w, c0, 0, 3, lft + 1, eh, H, ol, sc);
                bd_line_avx512(cb, d, w, c0, 2, 3, rgt + 1, eh, H, orr, sc);
            } else {
                for (int q = 0; q < cb; q++) {
                    bd_line_portable(d, w, c0 + q, 0, 1, top, ew, W + 2, ot + (size_t)q * sr);
                    bd_line_portable(d, w, c0 + q, 6, 1, bot, ew, W + 2, ob + (size_t)q * sr);
                    bd_line_portable(d, w, c0 + q, 0, 3, lft + 1, eh, H, ol + (size_t)q * sc);
                    bd_line_portable(d, w, c0 + q, 2, 3, rgt + 1, eh, H, orr + (size_t)q * sc);
                }
            }
            for (int q = 0; q < cb; q++) {
                float *dc = dx + (size_t)(c0 + q) * hw;
                float *r1 = dc + (size_t)W, *rh = dc + (size_t)(H - 2) * (size_t)W;
                const float *lt = ot + (size_t)q * sr, *lb = ob + (size_t)q * sr;
                const float *ll = ol + (size_t)q * sc, *lr = orr + (size_t)q * sc;
                for (int j = 0; j < W + 2; j++) {
                    const int x = bd_reflect(j - 1, W);
                    r1[x] += lt[j];
                    rh[x] += lb[j];
                }
                for (int i = 0; i < H; i++) {
                    dc[(size_t)i * (size_t)W + 1] += ll[i];
                    dc[(size_t)i * (size_t)W + (size_t)(W - 2)] += lr[i];
                }
            }
        }
    }
}

size_t conv2d_backward_data_same_workspace(const conv2d_desc *d) {
    if (bd_split(d)) return bd_split_workspace(d);
    const conv2d_desc e = bd_inner(d);
    const size_t ehw = (size_t)e.h * (size_t)e.w;
    const size_t inner = bd_winograd(&e) ? conv2d_winograd_workspace(&e, 1) : conv2d_direct_workspace(&e);
    return bd_wt_floats(d, &e) + up16((size_t)d->oc * ehw) + up16((size_t)d->c * ehw) + inner;
}

void conv2d_backward_data_same(const conv2d_desc *d, const float *w, const float *dy, float *dx, float *ws) {
    if (bd_split(d)) {
        bd_split_run(d, w, dy, dx, ws);
        return;
    }
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
