/* Direct 2-D convolution, forward only, stride 1 or 2, for the layers whose im2col GEMM is
 * lopsided (the fast style network's 9x9 convolutions with 3 input or 3 output channels: M = 3 or
 * K = 243, where packing the column matrix costs more than the multiply) and its stride-2 3x3
 * layers, which it runs without building a column matrix at all.
 *
 * Method: the input is copied a BAND of output rows at a time into a padded band
 *   xp (C, S (R - 1) + K, PW),  PW = OW + K - 1 (stride 1) or 2 (OW + (K - 1) / 2) (stride 2),
 * applying on the way the nearest x`up` upsampling (so an upsample + conv pair reads the small
 * map directly and the upsampled map is never stored) and the reflection or zero padding; with
 * stride 2 each row is stored as its even columns then its odd ones, so that the taps of adjacent
 * outputs are adjacent floats. Then
 *   y[o][oy][ox] = b[o] + sum_{c, ki, kj} w[o][c][ki][kj] * xp[c][S (oy - oy0) + ki][S ox + kj]
 * is computed in register tiles of OB output channels x PB vectors of 8 adjacent outputs of one
 * row: each tap loads PB vectors of the padded row (unaligned, at the tap's column), broadcasts OB
 * weights and issues OB * PB FMAs into accumulators that stay in registers for the whole
 * C * K * K reduction, so y is written once. The last tile of a row is shifted left to end at
 * OW (recomputing a few outputs) so no tail loop is needed.
 *
 * Paths (as gemm.h's): "avx512" (AVX-512, tiles of up to 8 x 4 vectors of 16, see there) when the
 * CPU has it and the output row is at least 16 wide; "avx2" (AVX2 + FMA, by function target
 * attribute, tiles 4 x 3 and 3 x 4: 12 accumulators, 3 operands and a broadcast or load, all 16
 * ymm registers) when the CPU has it and the output row is at least 32 wide; else "portable"
 * (plain C, auto-vectorised for the baseline ISA). "auto" takes the first of these the CPU and row
 * allow. Threads take bands of output rows one at a time (dynamic schedule: a descheduled
 * thread holds up one band, not half the map), each padding and convolving in its own slice of
 * ws. */
#include "nn/conv_internal.h"
#include "nn/nn.h"

#include <immintrin.h>
#include <omp.h>
#include <stdatomic.h>
#include <string.h>

/* A padded band aims at this many floats (512 KB: L2-sized). */
#define DIRECT_BAND_FLOATS ((size_t)128 << 10)
#define DIRECT_AVX2_MIN_OW 32
#define DIRECT_AVX512_MIN_OW 16
#define DIRECT_MAX_K 15

enum { DIRECT_AUTO, DIRECT_AVX2, DIRECT_PORTABLE, DIRECT_AVX512 };
static atomic_int direct_path = DIRECT_AUTO;

static int direct_cpu_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static int direct_cpu_avx512(void) {
    __builtin_cpu_init();
    return direct_cpu_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
}

int conv2d_direct_set_path(const char *name) {
    int p;
    if (!strcmp(name, "auto")) p = DIRECT_AUTO;
    else if (!strcmp(name, "portable")) p = DIRECT_PORTABLE;
    else if (!strcmp(name, "avx2") && direct_cpu_avx2()) p = DIRECT_AVX2;
    else if (!strcmp(name, "avx512") && direct_cpu_avx512()) p = DIRECT_AVX512;
    else return -1;
    atomic_store(&direct_path, p);
    return 0;
}

int conv2d_direct_supported(const conv2d_desc *d) {
    return (d->stride == 1 || d->stride == 2) && d->kh == d->kw && d->kh % 2 == 1 && d->kh <= DIRECT_MAX_K &&
           d->pad == d->kh / 2 && d->c > 0 && d->oc > 0 && d->h > d->pad && d->w > d->pad;
}

static int direct_threads(const conv2d_desc *d) { return d->threads > 1 ? d->threads : 1; }

/* Everything about a call's band layout. Stride 2 stores each padded row as its two column phases
 * (even columns, then odd ones, phase floats each), so that the taps of adjacent outputs, two
 * columns apart in the row, are adjacent floats and still load as whole vectors. */
typedef struct {
    int s, k;
    int oh, ow;
    size_t phase;                /* stride 2: floats per column phase; 0 for stride 1 */
    size_t pw;                   /* floats per padded band row */
    int band, xrows;             /* output rows per band; padded rows per band = s (band - 1) + K */
    size_t per_thread;           /* band (C, xrows, pw), and for stride 2 one channel's rows unsplit */
    size_t koff[DIRECT_MAX_K];   /* where tap column kj of output column 0 is within a row */
} direct_geom;

static direct_geom direct_geometry(const conv2d_desc *d) {
    direct_geom g;
    g.s = d->stride;
    g.k = d->kw;
    g.oh = conv2d_out_h(d);
    g.ow = conv2d_out_w(d);
    g.phase = g.s == 1 ? 0 : (size_t)g.ow + (size_t)(g.k - 1) / 2;
    g.pw = g.s == 1 ? (size_t)d->w + (size_t)g.k - 1 : 2 * g.phase;
    for (int kj = 0; kj < g.k; kj++)
        g.koff[kj] = g.s == 1 ? (size_t)kj : (size_t)(kj % 2) * g.phase + (size_t)(kj / 2);
    /* Rows: the padded band near DIRECT_BAND_FLOATS and at least 8 bands per thread (for the
     * dynamic schedule to even out), but at least K - 1 rows so each input row is padded at most
     * about twice. */
    const size_t nt = (size_t)direct_threads(d), fair = ((size_t)g.oh + 8 * nt - 1) / (8 * nt);
    const size_t per_out_row = (size_t)d->c * g.pw * (size_t)g.s, min_rows = g.k > 1 ? (size_t)(g.k - 1) : 1;
    size_t rows = DIRECT_BAND_FLOATS / per_out_row;
    rows = rows > (size_t)g.k + min_rows ? rows - (size_t)g.k : min_rows;
    if (nt > 1 && rows > fair) rows = fair > min_rows ? fair : min_rows;
    if (rows > (size_t)g.oh) rows = (size_t)g.oh;
    g.band = (int)rows;
    g.xrows = g.s * (g.band - 1) + g.k;
    g.per_thread = ((size_t)d->c + (g.s == 1 ? 0 : 1)) * (size_t)g.xrows * g.pw;
    return g;
}

size_t conv2d_direct_workspace(const conv2d_desc *d) {
    return (size_t)direct_threads(d) * direct_geometry(d).per_thread;
}

/* The pixel that index i (-n < i < 2n - 1) of a row of n reads under reflection or replication
 * padding. */
static int direct_pad_index(int i, int n, pad_mode mode) {
    if (i >= 0 && i < n) return i;
    if (mode == PAD_REPLICATE || n == 1) return i < 0 ? 0 : n - 1;
    return i < 0 ? -i : 2 * (n - 1) - i;
}

void conv_pad_band(const conv2d_desc *d, int up, const float *x, int y0, int rows, int pw, float *xp) {
    const int pad = d->pad, sh = d->h / up, sw = d->w / up, used = d->w + 2 * pad;
    for (int c = 0; c < d->c; c++) {
        const float *xc = x + (size_t)c * (size_t)sh * (size_t)sw;
        for (int j = 0; j < rows; j++) {
            float *dst = xp + ((size_t)c * (size_t)rows + (size_t)j) * (size_t)pw;
            int uy = y0 + j - pad;
            if (uy >= d->h + pad || ((uy < 0 || uy >= d->h) && d->padding == PAD_ZERO)) {
                memset(dst, 0, (size_t)pw * sizeof *dst);
                continue;
            }
            const float *src = xc + (size_t)(direct_pad_index(uy, d->h, d->padding) / up) * (size_t)sw;
            if (up == 1) {
                memcpy(dst + pad, src, (size_t)sw * sizeof *dst);
            } else {
                float *m = dst + pad;
                for (int i = 0; i < sw; i++)
                    for (int u = 0; u < up; u++) m[i * up + u] = src[i];
            }
            for (int i = 0; i < pad; i++) {
                int l = -pad + i, r = d->w + i;
                dst[i] = d->padding == PAD_ZERO ? 0.0f : src[direct_pad_index(l, d->w, d->padding) / up];
                dst[pad + d->w + i] = d->padding == PAD_ZERO ? 0.0f : src[direct_pad_index(r, d->w, d->padding) / up];
            }
            for (int i = used; i < pw; i++) dst[i] = 0.0f;
        }
    }
}

/* ---- portable ---------------------------------------------------------------------------- */

/* Output rows oy0 .. oy0+rows-1 of every channel from the padded band xp (C, xrows, PW). */
static void direct_band_portable(const conv2d_desc *d, const direct_geom *g, const float *xp, const float *w,
                                 const float *b, int oy0, int rows, float *y) {
    const int k = g->k, ow = g->ow;
    const size_t ohw = (size_t)g->oh * (size_t)ow, ckk = (size_t)d->c * (size_t)k * (size_t)k;
    for (int o = 0; o < d->oc; o++) {
        for (int r = 0; r < rows; r++) {
            float *yr = y + (size_t)o * ohw + (size_t)(oy0 + r) * (size_t)ow;
            const float bias = b ? b[o] : 0.0f;
            for (int ox = 0; ox < ow; ox++) yr[ox] = bias;
            for (int c = 0; c < d->c; c++)
                for (int ki = 0; ki < k; ki++) {
                    const float *xr = xp + ((size_t)c * (size_t)g->xrows + (size_t)(g->s * r + ki)) * g->pw;
                    const float *wr = w + (size_t)o * ckk + ((size_t)c * (size_t)k + (size_t)ki) * (size_t)k;
                    for (int kj = 0; kj < k; kj++) {
                        const float wv = wr[kj];
                        const float *xs = xr + g->koff[kj];
#pragma omp simd
                        for (int ox = 0; ox < ow; ox++) yr[ox] += wv * xs[ox];
                    }
                }
        }
    }
}

/* ---- AVX2 + FMA --------------------------------------------------------------------------- */

/* One tile: y[o][ox .. ox + 8*PB) for o < OB, from xp (the band's row r, column ox) with channel
 * stride xcs and row stride pw; w points at w[o0][0][0][0], row stride ckk; yo at y[o0][oy][ox].
 * kc: the kernel size as a constant (3, for the stride-2 layers, whose 9 taps per channel then
 * unroll: 13% faster), or 0 to take k as it comes. */
__attribute__((always_inline, target("avx2,fma"))) static inline void
direct_tile_avx2(const int ob, const int pb, const int kc, int c, int k, const float *xp, size_t xcs, size_t pw,
                 const size_t *koff, const float *w, size_t ckk, const float *b, float *yo, size_t ohw) {
    __m256 acc[4][4];
#pragma GCC unroll 4
    for (int o = 0; o < ob; o++) {
        const __m256 bv = _mm256_set1_ps(b ? b[o] : 0.0f);
#pragma GCC unroll 4
        for (int p = 0; p < pb; p++) acc[o][p] = bv;
    }
    if (kc) k = kc;
    for (int ci = 0; ci < c; ci++) {
#pragma GCC unroll 3
        for (int ki = 0; ki < k; ki++) {
            const float *xr = xp + (size_t)ci * xcs + (size_t)ki * pw;
            const float *wr = w + ((size_t)ci * (size_t)k + (size_t)ki) * (size_t)k;
#pragma GCC unroll 3
            for (int kj = 0; kj < k; kj++) {
                const float *xt = xr + koff[kj];
                /* Hold the fewer of the two operand sets in registers: OB x PB accumulators plus
                 * min(OB, PB) + 1 fit the 16 ymm registers for 4 x 3 and 3 x 4. */
                if (pb <= ob) {
                    __m256 xv[4];
#pragma GCC unroll 4
                    for (int p = 0; p < pb; p++) xv[p] = _mm256_loadu_ps(xt + 8 * p);
#pragma GCC unroll 4
                    for (int o = 0; o < ob; o++) {
                        const __m256 wv = _mm256_broadcast_ss(wr + (size_t)o * ckk + (size_t)kj);
#pragma GCC unroll 4
                        for (int p = 0; p < pb; p++) acc[o][p] = _mm256_fmadd_ps(wv, xv[p], acc[o][p]);
                    }
                } else {
                    __m256 wv[4];
#pragma GCC unroll 4
                    for (int o = 0; o < ob; o++) wv[o] = _mm256_broadcast_ss(wr + (size_t)o * ckk + (size_t)kj);
#pragma GCC unroll 4
                    for (int p = 0; p < pb; p++) {
                        const __m256 xv = _mm256_loadu_ps(xt + 8 * p);
#pragma GCC unroll 4
                        for (int o = 0; o < ob; o++) acc[o][p] = _mm256_fmadd_ps(wv[o], xv, acc[o][p]);
                    }
                }
            }
        }
    }
#pragma GCC unroll 4
    for (int o = 0; o < ob; o++)
#pragma GCC unroll 4
        for (int p = 0; p < pb; p++) _mm256_storeu_ps(yo + (size_t)o * ohw + 8 * p, acc[o][p]);
}

/* Every tile of OB channels starting at o0 for one output row; ow >= 8 * PB. */
__attribute__((always_inline, target("avx2,fma"))) static inline void
direct_row_avx2(const int ob, const int pb, const int kc, const conv2d_desc *d, const direct_geom *g, const float *xr,
                size_t xcs, const float *w, size_t ckk, const float *b, int o0, float *yr, size_t ohw) {
    const int ow = g->ow, step = 8 * pb;
    for (int ox = 0;; ox += step) {
        if (ox + step > ow) ox = ow - step;
        direct_tile_avx2(ob, pb, kc, d->c, g->k, xr + ox, xcs, g->pw, g->koff, w + (size_t)o0 * ckk, ckk,
                         b ? b + o0 : NULL, yr + (size_t)o0 * ohw + ox, ohw);
        if (ox + step >= ow) break;
    }
}

__attribute__((target("avx2,fma"))) static void direct_band_avx2(const conv2d_desc *d, const direct_geom *g,
                                                                  const float *xp, const float *w, const float *b,
                                                                  int oy0, int rows, float *y) {
    const size_t xcs = (size_t)g->xrows * g->pw, ohw = (size_t)g->oh * (size_t)g->ow;
    const size_t ckk = (size_t)d->c * (size_t)g->k * (size_t)g->k;
    for (int r = 0; r < rows; r++) {
        const float *xr = xp + (size_t)(g->s * r) * g->pw;
        float *yr = y + (size_t)(oy0 + r) * (size_t)g->ow;
        int o0 = 0;
        if (g->k == 3)
            for (; o0 + 4 <= d->oc; o0 += 4) direct_row_avx2(4, 3, 3, d, g, xr, xcs, w, ckk, b, o0, yr, ohw);
        for (; o0 + 4 <= d->oc; o0 += 4) direct_row_avx2(4, 3, 0, d, g, xr, xcs, w, ckk, b, o0, yr, ohw);
        if (d->oc - o0 == 3) direct_row_avx2(3, 4, 0, d, g, xr, xcs, w, ckk, b, o0, yr, ohw);
        else
            for (; o0 < d->oc; o0++) direct_row_avx2(1, 4, 0, d, g, xr, xcs, w, ckk, b, o0, yr, ohw);
    }
}

/* ---- AVX-512 ------------------------------------------------------------------------------- */

/* The AVX2 tiles' scheme with 16-float vectors and 32 registers: tiles of OB output channels x PB
 * vectors of 16 adjacent outputs, up to 8 x 4 accumulators. Each output is the same FMA chain as
 * on the AVX2 path (bias, then c, ki, kj in order), so the two paths agree to the bit. On Zen 5,
 * whose FMA units are 512 bits wide, this doubles the work per instruction: CycleGAN's stride-2
 * layer 128 x 64 x 64 -> 256 took 8.6 ms on the AVX2 path (one thread). */
#define DIRECT_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,fma")))

__attribute__((always_inline)) DIRECT_TARGET_AVX512 static inline void
direct_tile_avx512(const int ob, const int pb, const int kc, int c, int k, const float *xp, size_t xcs, size_t pw,
                   const size_t *koff, const float *w, size_t ckk, const float *b, float *yo, size_t ohw) {
    __m512 acc[8][4];
#pragma GCC unroll 8
    for (int o = 0; o < ob; o++) {
        const __m512 bv = _mm512_set1_ps(b ? b[o] : 0.0f);
#pragma GCC unroll 4
        for (int p = 0; p < pb; p++) acc[o][p] = bv;
    }
    if (kc) k = kc;
    for (int ci = 0; ci < c; ci++) {
#pragma GCC unroll 3
        for (int ki = 0; ki < k; ki++) {
            const float *xr = xp + (size_t)ci * xcs + (size_t)ki * pw;
            const float *wr = w + ((size_t)ci * (size_t)k + (size_t)ki) * (size_t)k;
#pragma GCC unroll 3
            for (int kj = 0; kj < k; kj++) {
                const float *xt = xr + koff[kj];
                __m512 xv[4];
#pragma GCC unroll 4
                for (int p = 0; p < pb; p++) xv[p] = _mm512_loadu_ps(xt + 16 * p);
#pragma GCC unroll 8
                for (int o = 0; o < ob; o++) {
                    const __m512 wv = _mm512_set1_ps(wr[(size_t)o * ckk + (size_t)kj]);
#pragma GCC unroll 4
                    for (int p = 0; p < pb; p++) acc[o][p] = _mm512_fmadd_ps(wv, xv[p], acc[o][p]);
                }
            }
        }
    }
#pragma GCC unroll 8
    for (int o = 0; o < ob; o++)
#pragma GCC unroll 4
        for (int p = 0; p < pb; p++) _mm512_storeu_ps(yo + (size_t)o * ohw + 16 * p, acc[o][p]);
}

__attribute__((always_inline)) DIRECT_TARGET_AVX512 static inline void
direct_row_avx512(const int ob, const int pb, const int kc, const conv2d_desc *d, const direct_geom *g,
                  const float *xr, size_t xcs, const float *w, size_t ckk, const float *b, int o0, float *yr,
                  size_t ohw) {
    const int ow = g->ow, step = 16 * pb;
    for (int ox = 0;; ox += step) {
        if (ox + step > ow) ox = ow - step;
        direct_tile_avx512(ob, pb, kc, d->c, g->k, xr + ox, xcs, g->pw, g->koff, w + (size_t)o0 * ckk, ckk,
                           b ? b + o0 : NULL, yr + (size_t)o0 * ohw + ox, ohw);
        if (ox + step >= ow) break;
    }
}

/* Output channels of one row in tiles of OB (8, then 4, 3 or 1) x PB vectors; kc as the AVX2 path. */
#define DIRECT_ROWS_AVX512(PB, KC)                                                                   \
    do {                                                                                             \
        int o0 = 0;                                                                                  \
        for (; o0 + 8 <= d->oc && (PB) <= 2; o0 += 8)                                                \
            direct_row_avx512(8, PB, KC, d, g, xr, xcs, w, ckk, b, o0, yr, ohw);                     \
        for (; o0 + 4 <= d->oc; o0 += 4) direct_row_avx512(4, PB, KC, d, g, xr, xcs, w, ckk, b, o0, yr, ohw); \
        if (d->oc - o0 == 3) direct_row_avx512(3, PB, KC, d, g, xr, xcs, w, ckk, b, o0, yr, ohw);    \
        else                                                                                         \
            for (; o0 < d->oc; o0++) direct_row_avx512(1, PB, KC, d, g, xr, xcs, w, ckk, b, o0, yr, ohw); \
    } while (0)

DIRECT_TARGET_AVX512 static void direct_band_avx512(const conv2d_desc *d, const direct_geom *g, const float *xp,
                                             const float *w, const float *b, int oy0, int rows, float *y) {
    const size_t xcs = (size_t)g->xrows * g->pw, ohw = (size_t)g->oh * (size_t)g->ow;
    const size_t ckk = (size_t)d->c * (size_t)g->k * (size_t)g->k;
    for (int r = 0; r < rows; r++) {
        const float *xr = xp + (size_t)(g->s * r) * g->pw;
        float *yr = y + (size_t)(oy0 + r) * (size_t)g->ow;
        if (g->ow >= 64) {
            if (g->k == 3) DIRECT_ROWS_AVX512(4, 3);
            else DIRECT_ROWS_AVX512(4, 0);
        } else if (g->ow >= 32) {
            if (g->k == 3) DIRECT_ROWS_AVX512(2, 3);
            else DIRECT_ROWS_AVX512(2, 0);
        } else {
            if (g->k == 3) DIRECT_ROWS_AVX512(1, 3);
            else DIRECT_ROWS_AVX512(1, 0);
        }
    }
}

/* ---- driver ------------------------------------------------------------------------------- */

/* The band's padded input xp (C, xrows, PW) for output rows from oy0; stride 2 pads each
 * channel's rows whole into tmp (xrows, PW) and splits them into their column phases. */
static void direct_pad(const conv2d_desc *d, const direct_geom *g, int up, const float *x, int oy0, float *xp,
                       float *tmp) {
    if (g->s == 1) {
        conv_pad_band(d, up, x, oy0, g->xrows, (int)g->pw, xp);
        return;
    }
    conv2d_desc one = *d;
    one.c = 1;
    const size_t plane = (size_t)(d->h / up) * (size_t)(d->w / up);
    for (int c = 0; c < d->c; c++) {
        conv_pad_band(&one, up, x + (size_t)c * plane, g->s * oy0, g->xrows, (int)g->pw, tmp);
        for (int j = 0; j < g->xrows; j++) {
            const float *src = tmp + (size_t)j * g->pw;
            float *ev = xp + ((size_t)c * (size_t)g->xrows + (size_t)j) * g->pw, *od = ev + g->phase;
            for (size_t i = 0; i < g->phase; i++) {
                ev[i] = src[2 * i];
                od[i] = src[2 * i + 1];
            }
        }
    }
}

void conv2d_direct_forward(const conv2d_desc *d, int up, const float *x, const float *w, const float *b,
                           float *y, float *ws) {
    const direct_geom g = direct_geometry(d);
    const int nthreads = direct_threads(d), nbands = (g.oh + g.band - 1) / g.band;
    int path = atomic_load(&direct_path);
    if (path == DIRECT_AUTO) path = direct_cpu_avx512() ? DIRECT_AVX512 : direct_cpu_avx2() ? DIRECT_AVX2 : DIRECT_PORTABLE;
    /* Rows narrower than the widest tile of a path go to the next narrower path. */
    if (path == DIRECT_AVX512 && g.ow < DIRECT_AVX512_MIN_OW) path = DIRECT_AVX2;
    if (path == DIRECT_AVX2 && g.ow < DIRECT_AVX2_MIN_OW) path = DIRECT_PORTABLE;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && nbands > 1)
    {
        float *xp = ws + (size_t)omp_get_thread_num() * g.per_thread;
        float *tmp = xp + (size_t)d->c * (size_t)g.xrows * g.pw;
#pragma omp for schedule(dynamic, 1)
        for (int bi = 0; bi < nbands; bi++) {
            const int oy0 = bi * g.band, rows = g.oh - oy0 < g.band ? g.oh - oy0 : g.band;
            direct_pad(d, &g, up, x, oy0, xp, tmp);
            if (path == DIRECT_AVX512) direct_band_avx512(d, &g, xp, w, b, oy0, rows, y);
            else if (path == DIRECT_AVX2) direct_band_avx2(d, &g, xp, w, b, oy0, rows, y);
            else direct_band_portable(d, &g, xp, w, b, oy0, rows, y);
        }
    }
}
