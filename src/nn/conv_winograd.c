/* 3x3 stride-1 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray 2016, "Fast
 * Algorithms for Convolutional Neural Networks"), forward only: each 4x4 block of outputs takes
 * 36 multiplies per input channel instead of 144, so the fast style network's 128-channel residual
 * layers and its two upsampling layers do 4 times fewer multiply-adds.
 *
 * Per output channel o and 4x4 output tile t, with d the 6x6 input tile (padded input rows
 * 4ty .. 4ty+5, columns 4tx .. 4tx+5) of channel c and g the 3x3 kernel w[o][c]:
 *   U = G g G^T,  V = B^T d B  (6x6 each),  Y = A^T (sum_c U[o][c] . V[c][t]) A  (4x4)
 * with the interpolation points 0, 1, -1, 2, -2 and infinity:
 *   G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * The transforms' coefficients up to 8 cost a few float32 roundings more than direct convolution
 * (about 1e-6 of sum |w x| here, against 1e-7), far inside what the network's tests allow.
 * The sum over c is, for each of the 36 positions f of the 6x6 tile, one GEMM
 *   M_f (OC, T) = U_f (OC, C) x V_f (C, T)
 * over the T tiles of a band of output rows, run by gemm.h's microkernel for the path in force
 * (gemm_active_kernel) on operands the transforms write directly in its packed layouts — U_f in
 * MR-row slivers (C, MR), once per call, V_f in NR-tile panels (C, NR) — so nothing is packed
 * per GEMM; on a path without a microkernel (OpenBLAS) through gemm() itself.
 *
 * Threads: the kernel transform U is shared, split by output channel; then the threads take
 * bands of output rows one at a time (dynamic schedule), each padding (conv_pad_band: upsampling
 * and reflection fused), transforming, multiplying and transforming back in its own slice of ws:
 *   u  (36, OCP, C)    U, OCP = OC rounded up to MR, each plane as OCP / MR slivers (C, MR)
 *   per thread:
 *   xp (C, R + 2, PW)  the band's padded input, R a multiple of 4, PW = 4 TWP + 4, TW = ceil(W / 4)
 *                      tiles per row, TWP = TW rounded up to NR (the extra tiles read zeros)
 *   v  (36, T / NR, C, NR)  transformed input tiles, T = R / 4 * TWP, in NR-tile panels
 *   m  (36, OCP, T)    the products
 *   ph (6, 4, TWP + 1) the input transform's column phases; the output transform's (4, 4, TWP)
 * Every section starts on a 64-byte line (the microkernel's aligned loads of B); planes of v and m
 * are WINO_PLANE_PAD floats further apart than a multiple of 4 KB. Without a microkernel, MR =
 * NR = 1: u is (36, OC, C) and v (36, T, C), V_f transposed for gemm(). */
#include "nn/conv_internal.h"
#include "nn/nn.h"

#include "core/gemm.h"
#include "core/gemm_internal.h"

#include <omp.h>
#include <stdint.h>

/* Tiles per band (the GEMMs' N): V and M of a band then stay near L2/L3-sized. */
#define WINO_BAND_TILES 128
#define WINO_NF 36  /* positions in a 6x6 tile: GEMMs per band */
/* The 36 planes of V and of M are this many floats further apart than their size: planes a
 * multiple of 4 KB apart would all fall in one L1 set, and the transforms touch all 36 at once. */
#define WINO_PLANE_PAD 16
/* The largest microkernel tile (gemm_internal.h's kernels: MR <= 8, NR <= 32), for sizing ws. */
#define WINO_MAX_MR 8
#define WINO_MAX_NR 32

int conv2d_winograd_supported(const conv2d_desc *d) {
    return d->kh == 3 && d->kw == 3 && d->stride == 1 && d->pad == 1 && d->c > 0 && d->oc > 0 && d->h > 1 &&
           d->w > 1;
}

static int wino_threads(const conv2d_desc *d) { return d->threads > 1 ? d->threads : 1; }
static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Output rows per band: a multiple of 4, about WINO_BAND_TILES tiles, but at least 4 bands per
 * thread when the map has that many rows of tiles (for the dynamic schedule to even out). */
static int wino_band_rows(const conv2d_desc *d) {
    const int tiles_h = (d->h + 3) / 4, nt = wino_threads(d);
    int trows = WINO_BAND_TILES / ((d->w + 3) / 4);
    int fair = (tiles_h + 4 * nt - 1) / (4 * nt);
    if (nt > 1 && trows > fair) trows = fair;
    if (trows < 1) trows = 1;
    if (trows > tiles_h) trows = tiles_h;
    return 4 * trows;
}

typedef struct {
    size_t mr, nr;         /* microkernel tile, 1 x 1 without one */
    size_t tw, twp;        /* tiles per row, rounded up to NR */
    size_t ocp;            /* OC rounded up to MR */
    int band;              /* output rows per band */
    size_t pw;             /* padded band row */
    size_t u_plane, xp_n, v_plane, m_plane, per_thread;  /* floats */
} wino_geom;

static wino_geom wino_geometry(const conv2d_desc *d, size_t mr, size_t nr, size_t ocp) {
    wino_geom g;
    g.mr = mr;
    g.nr = nr;
    g.tw = ((size_t)d->w + 3) / 4;
    g.twp = (g.tw + nr - 1) / nr * nr;
    g.ocp = ocp;
    g.band = wino_band_rows(d);
    g.pw = 4 * g.twp + 4;  /* 2 more than the tiles read, for the input transform's whole phases */
    const size_t tmax = (size_t)g.band / 4 * g.twp, c = (size_t)d->c;
    g.u_plane = up16(ocp * c);
    g.xp_n = up16(c * ((size_t)g.band + 2) * g.pw);
    g.v_plane = up16(c * tmax) + WINO_PLANE_PAD;
    g.m_plane = up16(ocp * tmax) + WINO_PLANE_PAD;
    g.per_thread = g.xp_n + WINO_NF * (g.v_plane + g.m_plane) + up16(24 * (g.twp + 1));
    return g;
}

/* The geometry ws is sized for: any microkernel's MR and NR fit in it. */
static wino_geom wino_geometry_max(const conv2d_desc *d) {
    return wino_geometry(d, WINO_MAX_MR, WINO_MAX_NR, (size_t)d->oc + WINO_MAX_MR);
}

size_t conv2d_winograd_workspace(const conv2d_desc *d) {
    const wino_geom g = wino_geometry_max(d);
    return 16 /* alignment */ + WINO_NF * g.u_plane + (size_t)wino_threads(d) * g.per_thread;
}

/* out = G in for one column (3 values in, 6 out, strides si and so). */
static void wino_g6(const float *in, size_t si, float *out, size_t so) {
    const float g0 = in[0], g1 = in[si], g2 = in[2 * si];
    out[0] = 0.25f * g0;
    out[so] = -(g0 + g1 + g2) / 6.0f;
    out[2 * so] = -(g0 - g1 + g2) / 6.0f;
    out[3 * so] = g0 / 24.0f + g1 / 12.0f + g2 / 6.0f;
    out[4 * so] = g0 / 24.0f - g1 / 12.0f + g2 / 6.0f;
    out[5 * so] = g2;
}

/* u = G g G^T for every kernel g = w[o][c] (3, 3), output channels o0 .. o1-1 (rows of the
 * padding up to OCP are zeros): element (f, o, c) at f u_plane + (o / MR) C MR + c MR + o % MR. */
static void wino_kernel_transform(const conv2d_desc *d, const wino_geom *g, const float *w, int o0, int o1,
                                  float *u) {
    const size_t c_n = (size_t)d->c;
    for (int o = o0; o < o1; o++)
        for (size_t c = 0; c < c_n; c++) {
            const float zero[9] = {0};
            const float *k = o < d->oc ? w + ((size_t)o * c_n + c) * 9 : zero;
            float t[6][3], r[6][6];  /* G g (6, 3), G g G^T (6, 6) */
            for (int j = 0; j < 3; j++) wino_g6(k + j, 3, &t[0][j], 3);
            for (int i = 0; i < 6; i++) wino_g6(t[i], 1, r[i], 1);
            float *dst = u + ((size_t)o / g->mr) * c_n * g->mr + c * g->mr + (size_t)o % g->mr;
            for (int f = 0; f < WINO_NF; f++) dst[(size_t)f * g->u_plane] = r[f / 6][f % 6];
        }
}

/* v = B^T d B for every tile of the band xp (C, 4 trows + 2, PW), in panels: element (f, tile
 * (ty, tx), c) at f v_plane + (ty TWP / NR + tx / NR) C NR + c NR + tx % NR. Vectorised: for each
 * row of tiles, B^T runs down the 6 input rows (contiguous), its 6 result rows are split into 4
 * column phases ph (6, 4, TWP + 1) (column 4 tx + k of a tile is phase k % 4, index tx + k / 4),
 * and B runs across tiles on those contiguous phases. */
static void wino_input_transform(int c, int trows, const wino_geom *g, const float *xp, float *v, float *ph) {
    const size_t pw = g->pw, xcs = (size_t)(4 * trows + 2) * pw, nr = g->nr, plane = g->v_plane;
    const size_t panel = (size_t)c * nr, per_row = g->twp / nr, twp = g->twp, pl = twp + 1;
    for (int ch = 0; ch < c; ch++)
        for (int ty = 0; ty < trows; ty++) {
            const float *r0 = xp + (size_t)ch * xcs + (size_t)(4 * ty) * pw, *r1 = r0 + pw, *r2 = r1 + pw,
                        *r3 = r2 + pw, *r4 = r3 + pw, *r5 = r4 + pw;
#pragma omp simd
            for (size_t l = 0; l < pl; l++) {
#pragma GCC unroll 4
                for (size_t k = 0; k < 4; k++) {
                    const size_t x = 4 * l + k;
                    const float d0 = r0[x], d1 = r1[x], d2 = r2[x], d3 = r3[x], d4 = r4[x], d5 = r5[x];
                    ph[(0 * 4 + k) * pl + l] = 4.0f * d0 - 5.0f * d2 + d4;
                    ph[(1 * 4 + k) * pl + l] = -4.0f * (d1 + d2) + d3 + d4;
                    ph[(2 * 4 + k) * pl + l] = 4.0f * (d1 - d2) - d3 + d4;
                    ph[(3 * 4 + k) * pl + l] = 2.0f * (d3 - d1) - d2 + d4;
                    ph[(4 * 4 + k) * pl + l] = 2.0f * (d1 - d3) - d2 + d4;
                    ph[(5 * 4 + k) * pl + l] = 4.0f * d1 - 5.0f * d3 + d5;
                }
            }
            for (size_t pj = 0; pj < per_row; pj++) {
                float *dst = v + ((size_t)ty * per_row + pj) * panel + (size_t)ch * nr;
                for (int i = 0; i < 6; i++) {
                    const float *p0 = ph + (size_t)(i * 4) * pl + pj * nr, *p1 = p0 + pl, *p2 = p1 + pl, *p3 = p2 + pl;
                    float *di = dst + (size_t)(6 * i) * plane;
#pragma omp simd
                    for (size_t l = 0; l < nr; l++) {
                        const float d0 = p0[l], d1 = p1[l], d2 = p2[l], d3 = p3[l], d4 = p0[l + 1], d5 = p1[l + 1];
                        di[l] = 4.0f * d0 - 5.0f * d2 + d4;
                        di[plane + l] = -4.0f * (d1 + d2) + d3 + d4;
                        di[2 * plane + l] = 4.0f * (d1 - d2) - d3 + d4;
                        di[3 * plane + l] = 2.0f * (d3 - d1) - d2 + d4;
                        di[4 * plane + l] = 2.0f * (d1 - d3) - d2 + d4;
                        di[5 * plane + l] = 4.0f * d1 - 5.0f * d3 + d5;
                    }
                }
            }
        }
}

/* m_f (OCP, T) = u_f v_f for the 36 positions f, T = trows TWP tiles. */
static void wino_multiply(const conv2d_desc *d, const wino_geom *g, const gemm_kernel *kr, size_t t,
                          const float *u, const float *v, float *m) {
    const size_t c = (size_t)d->c;
    for (int f = 0; f < WINO_NF; f++) {
        const float *uf = u + (size_t)f * g->u_plane, *vf = v + (size_t)f * g->v_plane;
        float *mf = m + (size_t)f * g->m_plane;
        if (!kr) {
            gemm(0, 1, (size_t)d->oc, t, c, 1.0f, uf, c, vf, c, 0.0f, mf, t);
            continue;
        }
        /* Each B panel (C, NR) stays in L1 while every sliver of U passes over it. */
        for (size_t p = 0; p < t / g->nr; p++)
            for (size_t ob = 0; ob < g->ocp / g->mr; ob++)
                kr->ukr(c, uf + ob * c * g->mr, vf + p * c * g->nr, 0.0f, mf + ob * g->mr * t + p * g->nr, t);
    }
}

/* y rows oy0 .. oy0 + rows - 1 = A^T M A + b from m (36, OCP, T), T = trows TWP. Vectorised
 * across tiles: A^T down the 6 rows of M, then across, into column phases op (4, 4, TWP) (output
 * column 4 tx + j at op[i][j][tx]), then interleaved into y's rows (rows and columns past the map
 * dropped). */
static void wino_output_transform(const conv2d_desc *d, const wino_geom *g, int trows, const float *m,
                                  const float *b, int oy0, int rows, float *y, float *op) {
    const size_t t = (size_t)trows * g->twp, ohw = (size_t)d->h * (size_t)d->w, plane = g->m_plane;
    const size_t twp = g->twp;
    const int w = d->w, tw = (int)g->tw;
    for (int o = 0; o < d->oc; o++) {
        const float bias = b ? b[o] : 0.0f;
        for (int ty = 0; ty < trows; ty++) {
            const float *s = m + (size_t)o * t + (size_t)ty * twp;
#pragma omp simd
            for (int tx = 0; tx < tw; tx++) {
                const float *q = s + tx;
                /* A^T M: p<i><j> (4, 6), column j from M's rows 0..5 at column j. */
#define WINO_AT_COL(j)                                                                                   \
    const float m0##j = q[(size_t)(j)*plane], m1##j = q[(size_t)(6 + (j)) * plane],                      \
                m2##j = q[(size_t)(12 + (j)) * plane], m3##j = q[(size_t)(18 + (j)) * plane],            \
                m4##j = q[(size_t)(24 + (j)) * plane], m5##j = q[(size_t)(30 + (j)) * plane];            \
    const float p0##j = m0##j + (m1##j + m2##j) + (m3##j + m4##j);                                       \
    const float p1##j = (m1##j - m2##j) + 2.0f * (m3##j - m4##j);                                        \
    const float p2##j = (m1##j + m2##j) + 4.0f * (m3##j + m4##j);                                        \
    const float p3##j = (m1##j - m2##j) + 8.0f * (m3##j - m4##j) + m5##j;
                WINO_AT_COL(0)
                WINO_AT_COL(1)
                WINO_AT_COL(2)
                WINO_AT_COL(3)
                WINO_AT_COL(4)
                WINO_AT_COL(5)
#undef WINO_AT_COL
                /* (A^T M) A: row i of the 4x4 output into op[i][0..3][tx]. */
#define WINO_AT_ROW(i)                                                                                   \
    op[(size_t)(4 * (i) + 0) * twp + (size_t)tx] = bias + p##i##0 + (p##i##1 + p##i##2) + (p##i##3 + p##i##4); \
    op[(size_t)(4 * (i) + 1) * twp + (size_t)tx] = bias + (p##i##1 - p##i##2) + 2.0f * (p##i##3 - p##i##4);   \
    op[(size_t)(4 * (i) + 2) * twp + (size_t)tx] = bias + (p##i##1 + p##i##2) + 4.0f * (p##i##3 + p##i##4);   \
    op[(size_t)(4 * (i) + 3) * twp + (size_t)tx] = bias + (p##i##1 - p##i##2) + 8.0f * (p##i##3 - p##i##4) + p##i##5;
                WINO_AT_ROW(0)
                WINO_AT_ROW(1)
                WINO_AT_ROW(2)
                WINO_AT_ROW(3)
#undef WINO_AT_ROW
            }
            for (int i = 0; i < 4 && 4 * ty + i < rows; i++) {
                float *yr = y + (size_t)o * ohw + (size_t)(oy0 + 4 * ty + i) * (size_t)w;
                const float *q0 = op + (size_t)(4 * i) * twp, *q1 = q0 + twp, *q2 = q1 + twp, *q3 = q2 + twp;
                const int full = w / 4;
                for (int tx = 0; tx < full; tx++) {
                    yr[4 * tx] = q0[tx];
                    yr[4 * tx + 1] = q1[tx];
                    yr[4 * tx + 2] = q2[tx];
                    yr[4 * tx + 3] = q3[tx];
                }
                const float *qs[4] = {q0, q1, q2, q3};
                for (int j = 0; 4 * full + j < w; j++) yr[4 * full + j] = qs[j][full];
            }
        }
    }
}

void conv2d_winograd_forward(const conv2d_desc *d, int up, const float *x, const float *w, const float *b,
                             float *y, float *ws) {
    const gemm_kernel *kr = gemm_active_kernel();
    const size_t mr = kr ? kr->mr : 1, nr = kr ? kr->nr : 1;
    const wino_geom g = wino_geometry(d, mr, nr, ((size_t)d->oc + mr - 1) / mr * mr);
    const int oh = d->h, nthreads = wino_threads(d), band = g.band, nbands = (oh + band - 1) / band;
    float *u = (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63);
    float *slices = u + WINO_NF * g.u_plane;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
        float *xp = slices + (size_t)omp_get_thread_num() * g.per_thread;
        float *v = xp + g.xp_n, *m = v + WINO_NF * g.v_plane, *ph = m + WINO_NF * g.m_plane;
#pragma omp for schedule(dynamic, 4)
        for (int o = 0; o < (int)g.ocp; o++) wino_kernel_transform(d, &g, w, o, o + 1, u);
        /* Bands handed out one at a time: a thread the OS descheduled holds up one band, not half
         * the map. Every band starts on a row of whole tiles. */
#pragma omp for schedule(dynamic, 1)
        for (int bi = 0; bi < nbands; bi++) {
            const int oy0 = bi * band, rows = oh - oy0 < band ? oh - oy0 : band, trows = (rows + 3) / 4;
            conv_pad_band(d, up, x, oy0, 4 * trows + 2, (int)g.pw, xp);
            wino_input_transform(d->c, trows, &g, xp, v, ph);
            wino_multiply(d, &g, kr, (size_t)trows * g.twp, u, v, m);
            wino_output_transform(d, &g, trows, m, b, oy0, rows, y, ph);
        }
    }
}
