/* Weight gradient of a 3x3 stride-1 "same" convolution (pad 1, zero or reflection padding) by
 * Winograd's minimal filtering (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural
 * Networks": the weight gradient is itself a correlation, of the layer's input with its output
 * gradient, which a fast algorithm computes with the output gradient in the filter's role).
 *
 *   dw[o][c][i][j] += sum_{y < H, x < W} dy[o][y][x] xp[c][y + i][x + j],   i, j in 0..2
 *
 * with xp (C, H + 2, W + 2) the padded input (nearest-upsampled by `up` first). Cut dy into 4x4
 * tiles t (origin (4 ty, 4 tx), zeros past the map): each adds the 3x3 correlation of xp's 6x6
 * tile at the same origin with the 4x4 "filter" dy[o]_t, which F(3x3, 4x4) (alpha = 6) computes as
 *   dw[o][c] += A^T [ sum_t (G dy[o]_t G^T) . (B^T xp[c]_t B) ] A
 * with the forward's points 0, 1, -1, 2, -2 and infinity (conv_winograd.c, F(4x4, 3x3)). Both
 * algorithms come from one polynomial product of degree 5 evaluated at those points (a correlation
 * is the transpose of a product), so B^T (the interpolation, scaled) is the forward's and only the
 * roles of m and r swap:
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   G   = diag(1/4, -1/6, -1/6, 1/24, 1/24, 1) [p^0 p^1 p^2 p^3 at each point; 0 0 0 1 at infinity]
 *       = [1/4 0 0 0; -1/6 -1/6 -1/6 -1/6; -1/6 1/6 -1/6 1/6; 1/24 1/12 1/6 1/3; 1/24 -1/12 1/6 -1/3;
 *          0 0 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 1]   (p^0 p^1 p^2 at each point; 0 0 1 at infinity)
 * 36 multiplies per tile and channel pair instead of im2col's 144 (9 taps x 16 pixels). The sum
 * over tiles is, for each of the 36 positions f, one GEMM
 *   M_f (OC, C) += U_f (OC, T) V_f (C, T)^T,   U = G dy G^T, V = B^T xp B
 * whose depth is the T tiles of a band of tile rows (bands accumulate into M), run by gemm.h's
 * microkernel for the path in force on operands the transforms write in its packed layouts (U_f in
 * MR-channel slivers (T, MR), V_f in NR-channel panels (T, NR)), so nothing is packed per GEMM;
 * without a microkernel (OpenBLAS, unpacked) MR = NR = 1 and gemm() runs on U_f (OC, T), V_f (C, T).
 * Then dw[o][c] += A^T M[o][c] A. A 32x32 map is one band of 64 tiles; 256 channels each way take
 * 2.3 ms on one thread here against im2col's 6.5-7 (the GEMMs 1.5 of it).
 *
 * Numerics (tests/test_winograd_dw.c, against a double reference): relative L2 errors of 1.7e-6 on
 * 256 channels of 32x32 maps and up to 6e-6 on maps of 16 000 pixels, where im2col's are 3e-7; per
 * element at most 3e-6 of sum |dy xp|. The transforms' coefficients (up to 5 in B^T, 4 in A^T)
 * cost a few roundings, as in the forward.
 *
 * Transforms vectorise across the lanes of the packed layouts: a band of xp is padded per group
 * of NR input channels (conv_pad_band: upsampling and reflection fused) and interleaved to
 * (rows, PW, NR), dy's band to (rows, 4 TW, MR) per sliver of output channels, so a tile's 36 (or
 * 16) values are vectors of NR (MR) channels and each of its 36 results one contiguous store; the
 * output transform works on 32 input channels at a time and adds its 9 taps per channel into dw's
 * (C, 3, 3) rows. The layout changes around them are 8x8 transposes on AVX2. All are compiled for
 * the baseline, AVX2 and AVX-512 and picked at run time by the GEMM path in force (forcing
 * "portable" runs the whole gradient without AVX on any machine).
 *
 * Threads: per band, the transforms split by channel group (x's panels and dy's slivers together),
 * then the products by tiles of M, one (NR-channel panel, MR-channel sliver) pair for all 36
 * positions: after the last band, that tile's output transform follows at once, while its 36 x MR x
 * NR sums are in cache (with one band they never leave the thread's scratch). Each element of M is
 * one microkernel's sum over a band, bands added in order, and each element of dw gets one addition,
 * so the result does not depend on which thread did what (a resumed training run stays
 * bit-identical) nor on the number of threads.
 *
 * ws (floats), every section 64-byte aligned:
 *   u  (36, OCP / MR, su)  U per band, su = T MR rounded up to 16 (OCP = OC rounded up to MR)
 *   v  (36, CP / NR, T NR) V per band (CP = C rounded up to NR)
 *   m  (36, OCP, CP)       the sums, only with several bands or without a microkernel
 *   per thread: xp (NR, XR, PW) and xq (XR, PW, NR), XR = 4 band rows + 2, PW = 4 TW + 2, TW =
 *   ceil(W / 4) (dy's interleaved band (4 band rows, 4 TW, MR) reuses xq); a tile of M (36, MR, NR).
 * Planes are WDW_PLANE_PAD floats further apart than their size (36 planes a multiple of 4 KB
 * apart would share an L1 set). */
#include "nn/conv_internal.h"
#include "nn/conv_train.h"

#include "core/gemm.h"
#include "core/gemm_internal.h"

#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#define WDW_NF 36            /* positions of the 6x6 transformed tile: GEMMs per band */
#define WDW_PLANE_PAD 16
/* A band's U and V (36 (OC + C) floats a tile) at most this large, but at least one row of
 * tiles; and at most WDW_MAX_TILES tiles (the GEMMs' depth). On 256 channels of 64x64, one thread,
 * bands of 4 to 16 MB ran alike (9.3 - 9.5 ms), the whole map as one band of 19 MB in 10.4. */
#define WDW_BAND_BYTES ((size_t)8 << 20)
#define WDW_MAX_TILES 512

static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }
static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }
static int wdw_threads(const conv2d_desc *d) { return d->threads > 1 ? d->threads : 1; }

int conv2d_winograd_dw_supported(const conv2d_desc *d) {
    const int min_side = d->padding == PAD_ZERO ? 1 : 2;  /* reflection needs a pixel to mirror */
    return d->kh == 3 && d->kw == 3 && d->stride == 1 && d->pad == 1 && d->c > 0 && d->oc > 0 &&
           (d->padding == PAD_ZERO || d->padding == PAD_REFLECT) && d->h >= min_side && d->w >= min_side;
}

typedef struct {
    size_t mr, nr;           /* lanes of U and V: the microkernel's tile, 1 x 1 without one */
    size_t ocp, cp;          /* OC, C rounded up to them */
    size_t tw, th;           /* tiles per row, rows of tiles */
    int trows, nbands;       /* rows of tiles per band, bands */
    size_t pw, xrows;        /* padded band: row length, rows */
    size_t u_plane, v_plane;  /* floats */
    size_t m_plane;          /* floats; 0: no shared M (one band on a microkernel: per-thread tiles) */
    size_t pack_n, per_thread;  /* floats */
} wdw_geom;

static wdw_geom wdw_geometry(const conv2d_desc *d, size_t mr, size_t nr) {
    wdw_geom g;
    g.mr = mr;
    g.nr = nr;
    g.ocp = round_up((size_t)d->oc, mr);
    g.cp = round_up((size_t)d->c, nr);
    g.tw = ((size_t)d->w + 3) / 4;
    g.th = ((size_t)d->h + 3) / 4;
    /* Rows of tiles per band from the channel counts alone (not the tile sizes), so that every
     * path cuts the same bands; then evened out. */
    const size_t tile_bytes = WDW_NF * sizeof(float) * ((size_t)d->oc + (size_t)d->c);
    size_t rows = WDW_BAND_BYTES / (tile_bytes * g.tw);
    if (rows * g.tw > WDW_MAX_TILES) rows = WDW_MAX_TILES / g.tw;
    if (rows < 1) rows = 1;
    if (rows > g.th) rows = g.th;
    g.nbands = (int)((g.th + rows - 1) / rows);
    g.trows = (int)((g.th + (size_t)g.nbands - 1) / (size_t)g.nbands);
    const size_t tmax = (size_t)g.trows * g.tw;
    g.pw = 4 * g.tw + 2;
    g.xrows = 4 * (size_t)g.trows + 2;
    g.u_plane = g.ocp / mr * up16(tmax * mr) + WDW_PLANE_PAD;
    g.v_plane = up16(g.cp * tmax) + WDW_PLANE_PAD;
    g.m_plane = g.nbands > 1 || nr == 1 ? up16(g.ocp * g.cp) + WDW_PLANE_PAD : 0;
    g.pack_n = up16(nr * g.xrows * g.pw);
    g.per_thread = 2 * g.pack_n + up16(WDW_NF * mr * nr);
    return g;
}

static size_t wdw_floats(const conv2d_desc *d, size_t mr, size_t nr) {
    const wdw_geom g = wdw_geometry(d, mr, nr);
    return WDW_NF * (g.u_plane + g.v_plane + g.m_plane) + (size_t)wdw_threads(d) * g.per_thread;
}

size_t conv2d_winograd_dw_workspace(const conv2d_desc *d) {
    /* Enough for every microkernel's tile (gemm_internal.h: 8 x 32, 6 x 16, 4 x 16) and none. */
    static const size_t tiles[4][2] = {{8, 32}, {6, 16}, {4, 16}, {1, 1}};
    size_t need = 0;
    for (int i = 0; i < 4; i++) {
        const size_t n = wdw_floats(d, tiles[i][0], tiles[i][1]);
        need = n > need ? n : need;
    }
    return 16 /* alignment */ + need;
}

/* ---- transforms ------------------------------------------------------------------------------ */

/* B^T applied to one column (d0 .. d5) of a 6x6 tile. */
#define WDW_BT(d0, d1, d2, d3, d4, d5, r0, r1, r2, r3, r4, r5)                                       \
    do {                                                                                              \
        r0 = 4.0f * (d0) - 5.0f * (d2) + (d4);                                                        \
        r1 = (d3) + (d4) - 4.0f * ((d1) + (d2));                                                      \
        r2 = (d4) - (d3) + 4.0f * ((d1) - (d2));                                                      \
        r3 = (d4) - (d2) + 2.0f * ((d3) - (d1));                                                      \
        r4 = (d4) - (d2) + 2.0f * ((d1) - (d3));                                                      \
        r5 = 4.0f * (d1) - 5.0f * (d3) + (d5);                                                        \
    } while (0)

/* G applied to one column (g0 .. g3) of a 4x4 tile (multiplying by rounded reciprocals). */
#define WDW_G(g0, g1, g2, g3, r0, r1, r2, r3, r4, r5)                                                \
    do {                                                                                              \
        const float e_ = (g0) + (g2), o_ = (g1) + (g3);                                               \
        const float h_ = (g0) * (1.0f / 24.0f) + (g2) * (1.0f / 6.0f);                                \
        const float k_ = (g1) * (1.0f / 12.0f) + (g3) * (1.0f / 3.0f);                                \
        r0 = 0.25f * (g0);                                                                            \
        r1 = -(e_ + o_) * (1.0f / 6.0f);                                                              \
        r2 = (o_ - e_) * (1.0f / 6.0f);                                                               \
        r3 = h_ + k_;                                                                                 \
        r4 = h_ - k_;                                                                                 \
        r5 = (g3);                                                                                    \
    } while (0)

/* A^T applied to one column (m0 .. m5) of a 6x6 sum. */
#define WDW_AT(m0, m1, m2, m3, m4, m5, r0, r1, r2)                                                   \
    do {                                                                                              \
        const float s_ = (m1) + (m2), t_ = (m3) + (m4);                                               \
        r0 = (m0) + s_ + t_;                                                                          \
        r1 = ((m1) - (m2)) + 2.0f * ((m3) - (m4));                                                    \
        r2 = s_ + 4.0f * t_ + (m5);                                                                   \
    } while (0)

/* V = B^T d B for the tiles of a band of trows rows of tiles: xq (XR, PW, L) the interleaved
 * padded band of L channels; tile t = ty TW + tx's position f goes to v[f vplane + t L + l].
 * Two passes through s (36, L) on the stack, each an inner loop over the L lanes. */
__attribute__((always_inline)) static inline void wdw_x_body(const size_t L, const wdw_geom *g, int trows,
                                                            const float *xq, float *v) {
    float s[WDW_NF][32];
    const size_t pw = g->pw, plane = g->v_plane;
    for (size_t ty = 0; ty < (size_t)trows; ty++)
        for (size_t tx = 0; tx < g->tw; tx++) {
            const float *q = xq + ((4 * ty) * pw + 4 * tx) * L;
            float *dst = v + (ty * g->tw + tx) * L;
            for (size_t j = 0; j < 6; j++) {
                const float *c = q + j * L;
#pragma omp simd
                for (size_t l = 0; l < L; l++)
                    WDW_BT(c[l], c[pw * L + l], c[2 * pw * L + l], c[3 * pw * L + l], c[4 * pw * L + l],
                           c[5 * pw * L + l], s[j][l], s[6 + j][l], s[12 + j][l], s[18 + j][l], s[24 + j][l],
                           s[30 + j][l]);
            }
            for (size_t k = 0; k < 6; k++) {
                const float(*r)[32] = s + 6 * k;
                float *o = dst + 6 * k * plane;
#pragma omp simd
                for (size_t l = 0; l < L; l++)
                    WDW_BT(r[0][l], r[1][l], r[2][l], r[3][l], r[4][l], r[5][l], o[l], o[plane + l],
                           o[2 * plane + l], o[3 * plane + l], o[4 * plane + l], o[5 * plane + l]);
            }
        }
}

/* U = G g G^T for the tiles of a band: dq (4 trows, 4 TW, L) the interleaved dy of L output
 * channels; tile t's position f goes to u[f uplane + t L + l]. */
__attribute__((always_inline)) static inline void wdw_dy_body(const size_t L, const wdw_geom *g, int trows,
                                                             const float *dq, float *u) {
    float s[24][32];
    const size_t rw = 4 * g->tw, plane = g->u_plane;
    for (size_t ty = 0; ty < (size_t)trows; ty++)
        for (size_t tx = 0; tx < g->tw; tx++) {
            const float *q = dq + ((4 * ty) * rw + 4 * tx) * L;
            float *dst = u + (ty * g->tw + tx) * L;
            for (size_t j = 0; j < 4; j++) {
                const float *c = q + j * L;
#pragma omp simd
                for (size_t l = 0; l < L; l++)
                    WDW_G(c[l], c[rw * L + l], c[2 * rw * L + l], c[3 * rw * L + l], s[j][l], s[4 + j][l],
                          s[8 + j][l], s[12 + j][l], s[16 + j][l], s[20 + j][l]);
            }
            for (size_t k = 0; k < 6; k++) {
                const float(*r)[32] = s + 4 * k;
                float *o = dst + 6 * k * plane;
#pragma omp simd
                for (size_t l = 0; l < L; l++)
                    WDW_G(r[0][l], r[1][l], r[2][l], r[3][l], o[l], o[plane + l], o[2 * plane + l],
                          o[3 * plane + l], o[4 * plane + l], o[5 * plane + l]);
            }
        }
}

/* ---- 8 x 8 transposes (AVX2), for the layout changes around the transforms ------------------ */

/* r[i] (row i of an 8 x 8 block) -> r[j] (column j): unpack pairs of rows, shuffle quads, swap
 * 128-bit halves. */
__attribute__((target("avx2,fma"))) static inline void wdw_t8(__m256 r[8]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* xq (n, L) = xp (L, n) transposed, L a multiple of 8. */
__attribute__((target("avx2,fma"))) static void wdw_interleave_avx2(const float *xp, size_t L, size_t n, float *xq) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t l0 = 0; l0 < L; l0 += 8) {
            __m256 r[8];
            for (size_t j = 0; j < 8; j++) r[j] = _mm256_loadu_ps(xp + (l0 + j) * n + i);
            wdw_t8(r);
            for (size_t j = 0; j < 8; j++) _mm256_storeu_ps(xq + (i + j) * L + l0, r[j]);
        }
    for (; i < n; i++)
        for (size_t l = 0; l < L; l++) xq[i * L + l] = xp[l * n + i];
}

/* row (rw, 8) = pixels 0 .. W - 1 of the 8 rows src[j] (NULL: zeros), zeros from W to rw. */
__attribute__((target("avx2,fma"))) static void wdw_interleave8_avx2(const float *const src[8], size_t W, size_t rw,
                                                                     float *row) {
    size_t x = 0;
    for (; x + 8 <= W; x += 8) {
        __m256 r[8];
        for (size_t j = 0; j < 8; j++) r[j] = src[j] ? _mm256_loadu_ps(src[j] + x) : _mm256_setzero_ps();
        wdw_t8(r);
        for (size_t j = 0; j < 8; j++) _mm256_storeu_ps(row + (x + j) * 8, r[j]);
    }
    for (; x < W; x++)
        for (size_t j = 0; j < 8; j++) row[x * 8 + j] = src[j] ? src[j][x] : 0.0f;
    memset(row + W * 8, 0, (rw - W) * 8 * sizeof *row);
}

/* dst[l * 9 + k] += r[k][l] for l < n: 8 lanes at a time, taps 0 .. 7 as one transposed vector
 * each, tap 8 alone. */
__attribute__((target("avx2,fma"))) static void wdw_add9_avx2(const float (*r)[32], size_t n, float *dst) {
    size_t l0 = 0;
    for (; l0 + 8 <= n; l0 += 8) {
        __m256 v[8];
        for (size_t k = 0; k < 8; k++) v[k] = _mm256_loadu_ps(r[k] + l0);
        wdw_t8(v);
        for (size_t j = 0; j < 8; j++) {
            float *q = dst + (l0 + j) * 9;
            _mm256_storeu_ps(q, _mm256_add_ps(_mm256_loadu_ps(q), v[j]));
            q[8] += r[8][l0 + j];
        }
    }
    for (; l0 < n; l0++)
        for (size_t k = 0; k < 9; k++) dst[l0 * 9 + k] += r[k][l0];
}

/* dw[o0 + i][c0 + l] += A^T M_i,l A for i < rows, l < cols, where position f of M_i,l is
 * m[f fs + i ldc + l]: the first pass down M's columns into s (18, 32), the second across into r
 * (9, 32), 32 channels at a time; then added into dw's (C, 3, 3) rows, taps innermost. */
__attribute__((always_inline)) static inline void wdw_out_body(const int avx2, const conv2d_desc *d, const float *m,
                                                              size_t fs, size_t ldc, int o0, int rows, int c0,
                                                              int cols, float *dw) {
    const size_t c_n = (size_t)d->c;
    for (int i = 0; i < rows; i++)
        for (int cc = 0; cc < cols; cc += 32) {
            const size_t n = cols - cc < 32 ? (size_t)(cols - cc) : 32;
            const float *mi = m + (size_t)i * ldc + (size_t)cc;
            float s[18][32], r[9][32];
            for (size_t j = 0; j < 6; j++) {
                const float *q = mi + j * fs;
#pragma omp simd
                for (size_t l = 0; l < n; l++)
                    WDW_AT(q[l], q[6 * fs + l], q[12 * fs + l], q[18 * fs + l], q[24 * fs + l], q[30 * fs + l], s[j][l],
                           s[6 + j][l], s[12 + j][l]);
            }
            for (size_t k = 0; k < 3; k++) {
                const float(*p)[32] = s + 6 * k;
#pragma omp simd
                for (size_t l = 0; l < n; l++)
                    WDW_AT(p[0][l], p[1][l], p[2][l], p[3][l], p[4][l], p[5][l], r[3 * k][l], r[3 * k + 1][l],
                           r[3 * k + 2][l]);
            }
            float *dst = dw + (((size_t)(o0 + i)) * c_n + (size_t)(c0 + cc)) * 9;
            if (avx2) {
                wdw_add9_avx2(r, n, dst);
            } else {
                for (size_t l = 0; l < n; l++)
                    for (size_t k = 0; k < 9; k++) dst[l * 9 + k] += r[k][l];
            }
        }
}

/* Each body for the lane counts of the microkernels (gemm_internal.h) as constants, so that its
 * inner loops are whole vectors; compiled once per instruction set. */
#define WDW_VARIANTS(suffix, attr, avx2)                                                              \
    attr static void wdw_x_##suffix(const wdw_geom *g, int trows, const float *xq, float *v) {      \
        switch (g->nr) {                                                                              \
        case 32: wdw_x_body(32, g, trows, xq, v); break;                                              \
        case 16: wdw_x_body(16, g, trows, xq, v); break;                                              \
        default: wdw_x_body(g->nr, g, trows, xq, v); break;                                           \
        }                                                                                             \
    }                                                                                                 \
    attr static void wdw_dy_##suffix(const wdw_geom *g, int trows, const float *dq, float *u) {     \
        switch (g->mr) {                                                                              \
        case 8: wdw_dy_body(8, g, trows, dq, u); break;                                               \
        case 6: wdw_dy_body(6, g, trows, dq, u); break;                                               \
        case 4: wdw_dy_body(4, g, trows, dq, u); break;                                               \
        default: wdw_dy_body(g->mr, g, trows, dq, u); break;                                          \
        }                                                                                             \
    }                                                                                                 \
    attr static void wdw_out_##suffix(const conv2d_desc *d, const float *m, size_t fs, size_t ldc, int o0, \
                                      int rows, int c0, int cols, float *dw) {                        \
        wdw_out_body(avx2, d, m, fs, ldc, o0, rows, c0, cols, dw);                                    \
    }

WDW_VARIANTS(base, , 0)
WDW_VARIANTS(avx2, __attribute__((target("avx2,fma"))), 1)
WDW_VARIANTS(avx512, __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"))), 1)

typedef struct {
    void (*x)(const wdw_geom *, int, const float *, float *);
    void (*dy)(const wdw_geom *, int, const float *, float *);
    void (*out)(const conv2d_desc *, const float *, size_t, size_t, int, int, int, int, float *);
    int avx2;  /* the packing's transposes by AVX2 */
} wdw_fns;

/* The transforms' instruction set: the GEMM path's (AVX2 for "avx2", none for "portable"), else
 * (OpenBLAS, unpacked) the best the CPU has. */
static wdw_fns wdw_pick(const gemm_kernel *kr) {
    const wdw_fns base = {wdw_x_base, wdw_dy_base, wdw_out_base, 0},
                  avx2 = {wdw_x_avx2, wdw_dy_avx2, wdw_out_avx2, 1},
                  avx512 = {wdw_x_avx512, wdw_dy_avx512, wdw_out_avx512, 1};
    if (kr && !strcmp(kr->name, "portable")) return base;
    const int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const int has512 = has2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
    if (has512 && !(kr && !strcmp(kr->name, "avx2"))) return avx512;
    return has2 ? avx2 : base;
}

/* ---- packing --------------------------------------------------------------------------------- */

/* xq (XR, PW, L) = channels c0 .. c0 + L - 1 of the padded band starting at padded row 4 ty0
 * (zeros for channels past C), through xp (L, XR, PW). */
static void wdw_pack_x(const conv2d_desc *d, int up, const wdw_geom *g, const float *x, int ty0, int trows, int c0,
                       int avx2, float *xp, float *xq) {
    const size_t L = g->nr, rows = 4 * (size_t)trows + 2, pw = g->pw, n = rows * pw;
    const int nc = d->c - c0 < (int)L ? d->c - c0 : (int)L;
    conv2d_desc part = *d;
    part.c = nc;
    const size_t in_plane = (size_t)(d->h / up) * (size_t)(d->w / up);
    conv_pad_band(&part, up, x + (size_t)c0 * in_plane, 4 * ty0, (int)rows, (int)pw, xp);
    memset(xp + (size_t)nc * n, 0, (L - (size_t)nc) * n * sizeof *xp);
    if (avx2 && L % 8 == 0) {
        wdw_interleave_avx2(xp, L, n, xq);
        return;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t l = 0; l < L; l++) xq[i * L + l] = xp[l * n + i];
}

/* dq (4 trows, 4 TW, L) = output channels o0 .. o0 + L - 1 of dy's rows from 4 ty0, zeros past
 * the map and past OC. */
static void wdw_pack_dy(const conv2d_desc *d, const wdw_geom *g, const float *dy, int ty0, int trows, int o0,
                        int avx2, float *dq) {
    const size_t L = g->mr, rw = 4 * g->tw, hw = (size_t)d->h * (size_t)d->w, W = (size_t)d->w;
    for (size_t r = 0; r < 4 * (size_t)trows; r++) {
        const size_t y = 4 * (size_t)ty0 + r;
        float *row = dq + r * rw * L;
        if (y >= (size_t)d->h) {
            memset(row, 0, rw * L * sizeof *row);
            continue;
        }
        if (avx2 && L == 8) {
            const float *src[8];
            for (size_t l = 0; l < 8; l++)
                src[l] = (size_t)o0 + l < (size_t)d->oc ? dy + ((size_t)o0 + l) * hw + y * W : NULL;
            wdw_interleave8_avx2(src, W, rw, row);
            continue;
        }
        for (size_t l = 0; l < L; l++) {
            const size_t o = (size_t)o0 + l;
            if (o >= (size_t)d->oc) {
                for (size_t xx = 0; xx < rw; xx++) row[xx * L + l] = 0.0f;
                continue;
            }
            const float *src = dy + o * hw + y * W;
            for (size_t xx = 0; xx < W; xx++) row[xx * L + l] = src[xx];
            for (size_t xx = W; xx < rw; xx++) row[xx * L + l] = 0.0f;
        }
    }
}

/* ---- the gradient ---------------------------------------------------------------------------- */

void conv2d_winograd_backward_weights(const conv2d_desc *d, int up, const float *x, const float *dy, float *dw,
                                      float *ws) {
    const gemm_kernel *kr = gemm_active_kernel();
    const wdw_geom g = wdw_geometry(d, kr ? kr->mr : 1, kr ? kr->nr : 1);
    const wdw_fns fn = wdw_pick(kr);
    float *u = (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63);
    float *v = u + WDW_NF * g.u_plane, *m = v + WDW_NF * g.v_plane, *slices = m + WDW_NF * g.m_plane;
    const int nthreads = wdw_threads(d), nx = (int)(g.cp / g.nr), ndy = (int)(g.ocp / g.mr);
    const int items = kr ? nx * ndy : WDW_NF;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
        float *xp = slices + (size_t)omp_get_thread_num() * g.per_thread, *xq = xp + g.pack_n, *tile = xq + g.pack_n;
        for (int b = 0; b < g.nbands; b++) {
            const int ty0 = b * g.trows, trows = (int)g.th - ty0 < g.trows ? (int)g.th - ty0 : g.trows;
            const size_t t = (size_t)trows * g.tw, su = up16(t * g.mr), sv = t * g.nr;
            const float beta = b ? 1.0f : 0.0f;
            /* Input panels and dy slivers of this band. */
#pragma omp for schedule(dynamic, 1)
            for (int k = 0; k < nx + ndy; k++) {
                if (k < nx) {
                    wdw_pack_x(d, up, &g, x, ty0, trows, k * (int)g.nr, fn.avx2, xp, xq);
                    fn.x(&g, trows, xq, v + (size_t)k * sv);
                } else {
                    wdw_pack_dy(d, &g, dy, ty0, trows, (k - nx) * (int)g.mr, fn.avx2, xq);
                    fn.dy(&g, trows, xq, u + (size_t)(k - nx) * su);
                }
            }
            /* The products, by (panel, sliver) tiles of M: all 36 positions of one tile, whose output
             * transform follows at once after the last band while it is in cache. Panel-major, so
             * that the threads share the panels of V while the slivers of U pass. */
#pragma omp for schedule(dynamic, 1)
            for (int i = 0; i < items; i++) {
                if (!kr) {  /* position i, by gemm(): M_i (OC, C) (+)= U_i (OC, T) V_i (C, T)^T */
                    gemm(0, 1, g.ocp, g.cp, t, 1.0f, u + (size_t)i * g.u_plane, su, v + (size_t)i * g.v_plane, sv,
                         beta, m + (size_t)i * g.m_plane, g.cp);
                    continue;
                }
                const size_t p = (size_t)i / (size_t)ndy, ob = (size_t)i % (size_t)ndy;
                float *mt = g.m_plane ? m + ob * g.mr * g.cp + p * g.nr : tile;
                const size_t fs = g.m_plane ? g.m_plane : g.mr * g.nr, ldc = g.m_plane ? g.cp : g.nr;
                for (size_t f = 0; f < WDW_NF; f++)
                    kr->ukr(t, u + f * g.u_plane + ob * su, v + f * g.v_plane + p * sv, beta, mt + f * fs, ldc);
                if (b == g.nbands - 1) {
                    const int o0 = (int)(ob * g.mr), c0 = (int)(p * g.nr);
                    fn.out(d, mt, fs, ldc, o0, d->oc - o0 < (int)g.mr ? d->oc - o0 : (int)g.mr, c0,
                           d->c - c0 < (int)g.nr ? d->c - c0 : (int)g.nr, dw);
                }
            }
        }
        if (!kr) {
#pragma omp for schedule(dynamic, 1)
            for (int o = 0; o < d->oc; o++) fn.out(d, m + (size_t)o * g.cp, g.m_plane, 0, o, 1, 0, d->c, dw);
        }
    }
}
