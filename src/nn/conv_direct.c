/* Direct 2-D convolution, forward only, stride 1, for the layers whose im2col GEMM is lopsided
 * (the fast style network's 9x9 convolutions with 3 input or 3 output channels: M = 3 or
 * K = 243, where packing the column matrix costs more than the multiply) and for the stride-1
 * 3x3 layers, which it runs without building a column matrix at all.
 *
 * Method: the input is copied a BAND of output rows at a time into a padded band
 *   xp (C, R + K - 1, PW),  PW = OW + K - 1,
 * applying on the way the nearest x`up` upsampling (so an upsample + conv pair reads the small
 * map directly and the upsampled map is never stored) and the reflection or zero padding. Then
 *   y[o][oy][ox] = b[o] + sum_{c, ki, kj} w[o][c][ki][kj] * xp[c][oy - oy0 + ki][ox + kj]
 * is computed in register tiles of OB output channels x PB vectors of 8 adjacent pixels of one
 * row: each tap loads PB vectors of the padded row (unaligned, shifted by kj), broadcasts OB
 * weights and issues OB * PB FMAs into accumulators that stay in registers for the whole
 * C * K * K reduction, so y is written once. The last tile of a row is shifted left to end at
 * OW (recomputing a few pixels) so no tail loop is needed.
 *
 * Paths (as gemm.h's): "avx2" (AVX2 + FMA, by function target attribute, tiles 4 x 3 and
 * 3 x 4: 12 accumulators, 3 operands and a broadcast or load, all 16 ymm registers) when the CPU has it and the row is at least
 * 32 pixels wide, else "portable" (plain C, auto-vectorised for the baseline ISA). Threads take
 * bands of output rows one at a time (dynamic schedule: a descheduled thread holds up one band,
 * not half the map), each padding and convolving in its own slice of ws. */
#include "nn/conv_internal.h"
#include "nn/nn.h"

#include <immintrin.h>
#include <omp.h>
#include <stdatomic.h>
#include <string.h>

/* A padded band aims at this many floats (512 KB: L2-sized). */
#define DIRECT_BAND_FLOATS ((size_t)128 << 10)
#define DIRECT_AVX2_MIN_OW 32

enum { DIRECT_AUTO, DIRECT_AVX2, DIRECT_PORTABLE };
static atomic_int direct_path = DIRECT_AUTO;

static int direct_cpu_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

int conv2d_direct_set_path(const char *name) {
    int p;
    if (!strcmp(name, "auto")) p = DIRECT_AUTO;
    else if (!strcmp(name, "portable")) p = DIRECT_PORTABLE;
    else if (!strcmp(name, "avx2") && direct_cpu_avx2()) p = DIRECT_AVX2;
    else return -1;
    atomic_store(&direct_path, p);
    return 0;
}

int conv2d_direct_supported(const conv2d_desc *d) {
    return d->stride == 1 && d->kh == d->kw && d->kh % 2 == 1 && d->pad == d->kh / 2 && d->c > 0 && d->oc > 0 &&
           d->h > d->pad && d->w > d->pad;
}

static int direct_threads(const conv2d_desc *d) { return d->threads > 1 ? d->threads : 1; }

/* Output rows per band: the padded band (C, R + K - 1, PW) near DIRECT_BAND_FLOATS and at least 8
 * bands per thread (for the dynamic schedule to even out), but at least K - 1 rows so padding
 * copies each input row at most twice. */
static int direct_band_rows(const conv2d_desc *d) {
    const size_t pw = (size_t)d->w + (size_t)d->kw - 1, per_row = (size_t)d->c * pw;
    const size_t nt = (size_t)direct_threads(d), fair = ((size_t)d->h + 8 * nt - 1) / (8 * nt);
    size_t rows = DIRECT_BAND_FLOATS / per_row, min_rows = d->kh > 1 ? (size_t)(d->kh - 1) : 1;
    rows = rows > (size_t)d->kh - 1 + min_rows ? rows - (size_t)(d->kh - 1) : min_rows;
    if (nt > 1 && rows > fair) rows = fair > min_rows ? fair : min_rows;
    if (rows > (size_t)d->h) rows = (size_t)d->h;
    return (int)rows;
}

size_t conv2d_direct_workspace(const conv2d_desc *d) {
    const size_t pw = (size_t)d->w + (size_t)d->kw - 1;
    return (size_t)direct_threads(d) * (size_t)d->c * (size_t)(direct_band_rows(d) + d->kh - 1) * pw;
}

/* Mirror index for reflection padding of n pixels (|i| < n; the pad is at most n - 1 here). */
static int direct_reflect(int i, int n) {
    if (n == 1) return 0;
    if (i < 0) return -i;
    if (i >= n) return 2 * (n - 1) - i;
    return i;
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
            const float *src = xc + (size_t)(direct_reflect(uy, d->h) / up) * (size_t)sw;
            if (up == 1) {
                memcpy(dst + pad, src, (size_t)sw * sizeof *dst);
            } else {
                float *m = dst + pad;
                for (int i = 0; i < sw; i++)
                    for (int u = 0; u < up; u++) m[i * up + u] = src[i];
            }
            for (int i = 0; i < pad; i++) {
                int l = -pad + i, r = d->w + i;
                dst[i] = d->padding == PAD_ZERO ? 0.0f : src[direct_reflect(l, d->w) / up];
                dst[pad + d->w + i] = d->padding == PAD_ZERO ? 0.0f : src[direct_reflect(r, d->w) / up];
            }
            for (int i = used; i < pw; i++) dst[i] = 0.0f;
        }
    }
}

/* ---- portable ---------------------------------------------------------------------------- */

/* Output rows oy0 .. oy0+rows-1 of every channel from the padded band xp (C, rows+K-1, PW). */
static void direct_band_portable(const conv2d_desc *d, const float *xp, const float *w, const float *b,
                                 int oy0, int rows, float *y) {
    const int k = d->kw, pw = d->w + k - 1, ow = d->w, xrows = rows + k - 1;
    const size_t ohw = (size_t)d->h * (size_t)ow, ckk = (size_t)d->c * (size_t)k * (size_t)k;
    for (int o = 0; o < d->oc; o++) {
        for (int r = 0; r < rows; r++) {
            float *yr = y + (size_t)o * ohw + (size_t)(oy0 + r) * (size_t)ow;
            const float bias = b ? b[o] : 0.0f;
            for (int ox = 0; ox < ow; ox++) yr[ox] = bias;
            for (int c = 0; c < d->c; c++)
                for (int ki = 0; ki < k; ki++) {
                    const float *xr = xp + ((size_t)c * (size_t)xrows + (size_t)(r + ki)) * (size_t)pw;
                    const float *wr = w + (size_t)o * ckk + ((size_t)c * (size_t)k + (size_t)ki) * (size_t)k;
                    for (int kj = 0; kj < k; kj++) {
                        const float wv = wr[kj];
                        const float *xs = xr + kj;
#pragma omp simd
                        for (int ox = 0; ox < ow; ox++) yr[ox] += wv * xs[ox];
                    }
                }
        }
    }
}

/* ---- AVX2 + FMA --------------------------------------------------------------------------- */

/* One tile: y[o][ox .. ox + 8*PB) for o < OB, from xp (the band's row r, column ox) with channel
 * stride xcs and row stride pw; w points at w[o0][0][0][0], row stride ckk; yo at y[o0][oy][ox]. */
__attribute__((always_inline, target("avx2,fma"))) static inline void
direct_tile_avx2(const int ob, const int pb, int c, int k, const float *xp, size_t xcs, size_t pw, const float *w,
                 size_t ckk, const float *b, float *yo, size_t ohw) {
    __m256 acc[4][4];
#pragma GCC unroll 4
    for (int o = 0; o < ob; o++) {
        const __m256 bv = _mm256_set1_ps(b ? b[o] : 0.0f);
#pragma GCC unroll 4
        for (int p = 0; p < pb; p++) acc[o][p] = bv;
    }
    for (int ci = 0; ci < c; ci++) {
        for (int ki = 0; ki < k; ki++) {
            const float *xr = xp + (size_t)ci * xcs + (size_t)ki * pw;
            const float *wr = w + ((size_t)ci * (size_t)k + (size_t)ki) * (size_t)k;
            for (int kj = 0; kj < k; kj++) {
                /* Hold the fewer of the two operand sets in registers: OB x PB accumulators plus
                 * min(OB, PB) + 1 fit the 16 ymm registers for 4 x 3 and 3 x 4. */
                if (pb <= ob) {
                    __m256 xv[4];
#pragma GCC unroll 4
                    for (int p = 0; p < pb; p++) xv[p] = _mm256_loadu_ps(xr + kj + 8 * p);
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
                        const __m256 xv = _mm256_loadu_ps(xr + kj + 8 * p);
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
direct_row_avx2(const int ob, const int pb, const conv2d_desc *d, const float *xr, size_t xcs, size_t pw,
                const float *w, size_t ckk, const float *b, int o0, float *yr, size_t ohw) {
    const int ow = d->w, step = 8 * pb;
    for (int ox = 0;; ox += step) {
        if (ox + step > ow) ox = ow - step;
        direct_tile_avx2(ob, pb, d->c, d->kw, xr + ox, xcs, pw, w + (size_t)o0 * ckk, ckk, b ? b + o0 : NULL,
                         yr + (size_t)o0 * ohw + ox, ohw);
        if (ox + step >= ow) break;
    }
}

__attribute__((target("avx2,fma"))) static void direct_band_avx2(const conv2d_desc *d, const float *xp,
                                                                  const float *w, const float *b, int oy0,
                                                                  int rows, float *y) {
    const int k = d->kw;
    const size_t pw = (size_t)d->w + (size_t)k - 1, xcs = (size_t)(rows + k - 1) * pw;
    const size_t ohw = (size_t)d->h * (size_t)d->w, ckk = (size_t)d->c * (size_t)k * (size_t)k;
    for (int r = 0; r < rows; r++) {
        const float *xr = xp + (size_t)r * pw;
        float *yr = y + (size_t)(oy0 + r) * (size_t)d->w;
        int o0 = 0;
        for (; o0 + 4 <= d->oc; o0 += 4) direct_row_avx2(4, 3, d, xr, xcs, pw, w, ckk, b, o0, yr, ohw);
        if (d->oc - o0 == 3) direct_row_avx2(3, 4, d, xr, xcs, pw, w, ckk, b, o0, yr, ohw);
        else
            for (; o0 < d->oc; o0++) direct_row_avx2(1, 4, d, xr, xcs, pw, w, ckk, b, o0, yr, ohw);
    }
}

/* ---- driver ------------------------------------------------------------------------------- */

void conv2d_direct_forward(const conv2d_desc *d, int up, const float *x, const float *w, const float *b,
                           float *y, float *ws) {
    const int oh = d->h, nthreads = direct_threads(d), band = direct_band_rows(d);
    const size_t pw = (size_t)d->w + (size_t)d->kw - 1;
    const size_t per_thread = (size_t)d->c * (size_t)(band + d->kh - 1) * pw;
    int path = atomic_load(&direct_path);
    if (path == DIRECT_AUTO) path = direct_cpu_avx2() ? DIRECT_AVX2 : DIRECT_PORTABLE;
    if (d->w < DIRECT_AVX2_MIN_OW) path = DIRECT_PORTABLE;
    const int nbands = (oh + band - 1) / band;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && nbands > 1)
    {
        float *xp = ws + (size_t)omp_get_thread_num() * per_thread;
#pragma omp for schedule(dynamic, 1)
        for (int bi = 0; bi < nbands; bi++) {
            const int oy0 = bi * band, rows = oh - oy0 < band ? oh - oy0 : band;
            conv_pad_band(d, up, x, oy0, rows + d->kh - 1, (int)pw, xp);
            if (path == DIRECT_AVX2) direct_band_avx2(d, xp, w, b, oy0, rows, y);
            else direct_band_portable(d, xp, w, b, oy0, rows, y);
        }
    }
}
