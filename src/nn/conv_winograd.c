/* 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray 2016, "Fast
 * Algorithms for Convolutional Neural Networks"), forward only: each 2x2 block of outputs takes
 * 16 multiplies per input channel instead of 36, so the fast style network's 128-channel residual
 * layers and its two upsampling layers do 2.25 times fewer multiply-adds.
 *
 * Per output channel o and 2x2 output tile t, with d the 4x4 input tile (padded input rows
 * 2ty .. 2ty+3, columns 2tx .. 2tx+3) of channel c and g the 3x3 kernel w[o][c]:
 *   U = G g G^T,  V = B^T d B  (4x4 each),  Y = A^T (sum_c U[o][c] . V[c][t]) A  (2x2)
 *   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],  B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
 *   A^T = [1 1 1 0; 0 1 -1 -1].
 * The sum over c is, for each of the 16 positions f of the 4x4 tile, one GEMM
 *   M_f (OC, T) = U_f (OC, C) x V_f (C, T)
 * over the T tiles of a band of output rows, run by gemm.h's microkernel for the path in force
 * (gemm_active_kernel) on operands the transforms write directly in its packed layouts — U_f in
 * MR-row slivers (C, MR), once per call, V_f in NR-tile panels (C, NR) — so nothing is packed
 * per GEMM; on a path without a microkernel (OpenBLAS) through gemm() itself.
 * The transforms only add and subtract (and halve, in G), so the result is as accurate as direct
 * convolution to within a few float32 roundings.
 *
 * Threads: the kernel transform U (16, OC, C) is shared, split by output channel; then the
 * threads take bands of output rows one at a time (dynamic schedule), each padding (conv_pad_band: upsampling and reflection
 * fused), transforming, multiplying and transforming back in its own slice of the workspace:
 *   u  (16, OCP, C)    U, OCP = OC rounded up to MR, each plane as OCP / MR slivers (C, MR)
 *   per thread:
 *   xp (C, R + 2, PW)  the band's padded input, R even, PW = 2 TWP + 2, TW = ceil(W / 2) tiles
 *                      per row, TWP = TW rounded up to NR (the extra tiles read zeros)
 *   v  (16, T / NR, C, NR)  transformed input tiles, T = R / 2 * TWP, in NR-tile panels
 *   m  (16, OCP, T)    the products
 *   junk (2 TWP)       where the second output row of a last, half row of tiles goes
 * Every section starts on a 64-byte line (the microkernel's aligned loads of B); planes of v and m
 * are WINO_PLANE_PAD floats further apart than a multiple of 4 KB. Without a microkernel, MR =
 * NR = 1: u is (16, OC, C) and v (16, T, C), V_f transposed for gemm(). */
#include "nn/conv_internal.h"
#include "nn/nn.h"

#include "core/gemm.h"
#include "core/gemm_internal.h"

#include <omp.h>
#include <stdint.h>

/* Tiles per band (the GEMMs' N): V and M of a band then stay near L2/L3-sized. */
#define WINO_BAND_TILES 256
/* The 16 planes of V and of M are this many floats further apart than their size: planes a
 * multiple of 4 KB apart would all fall in one L1 set, and the transforms touch all 16 at once. */
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

/* Output rows per band: even, about WINO_BAND_TILES tiles, but at least 4 bands per thread when
 * the map has that many rows of tiles (for the dynamic schedule to even out). */
static int wino_band_rows(const conv2d_desc *d) {
    const int tiles_h = (d->h + 1) / 2, nt = wino_threads(d);
    int trows = WINO_BAND_TILES / ((d->w + 1) / 2);
    int fair = (tiles_h + 4 * nt - 1) / (4 * nt);
    if (nt > 1 && trows > fair) trows = fair;
    if (trows < 1) trows = 1;
    if (trows > tiles_h) trows = tiles_h;
    return 2 * trows;
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
    g.tw = ((size_t)d->w + 1) / 2;
    g.twp = (g.tw + nr - 1) / nr * nr;
    g.ocp = ocp;
    g.band = wino_band_rows(d);
    g.pw = 2 * g.twp + 2;
    const size_t tmax = (size_t)g.band / 2 * g.twp, c = (size_t)d->c;
    g.u_plane = up16(ocp * c);
    g.xp_n = up16(c * ((size_t)g.band + 2) * g.pw);
    g.v_plane = up16(c * tmax) + WINO_PLANE_PAD;
    g.m_plane = up16(ocp * tmax) + WINO_PLANE_PAD;
    g.per_thread = g.xp_n + 16 * g.v_plane + 16 * g.m_plane + up16(2 * g.twp);
    return g;
}

/* The geometry ws is sized for: any microkernel's MR and NR fit in it. */
static wino_geom wino_geometry_max(const conv2d_desc *d) {
    return wino_geometry(d, WINO_MAX_MR, WINO_MAX_NR, (size_t)d->oc + WINO_MAX_MR);
}

size_t conv2d_winograd_workspace(const conv2d_desc *d) {
    const wino_geom g = wino_geometry_max(d);
    return 16 /* alignment */ + 16 * g.u_plane + (size_t)wino_threads(d) * g.per_thread;
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
            float t[4][3];  /* G g: (4, 3) */
            for (int j = 0; j < 3; j++) {
                t[0][j] = k[j];
                t[1][j] = 0.5f * (k[j] + k[3 + j] + k[6 + j]);
                t[2][j] = 0.5f * (k[j] - k[3 + j] + k[6 + j]);
                t[3][j] = k[6 + j];
            }
            float *dst = u + ((size_t)o / g->mr) * c_n * g->mr + c * g->mr + (size_t)o % g->mr;
            for (int i = 0; i < 4; i++) {
                dst[(size_t)(4 * i + 0) * g->u_plane] = t[i][0];
                dst[(size_t)(4 * i + 1) * g->u_plane] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
                dst[(size_t)(4 * i + 2) * g->u_plane] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
                dst[(size_t)(4 * i + 3) * g->u_plane] = t[i][2];
            }
        }
}

/* v = B^T d B for every tile of the band xp (C, 2 trows + 2, PW), in panels: element (f, tile
 * (ty, tx), c) at f v_plane + (ty TWP / NR + tx / NR) C NR + c NR + tx % NR. */
static void wino_input_transform(int c, int trows, const wino_geom *g, const float *xp, float *v) {
    const size_t pw = g->pw, xcs = (size_t)(2 * trows + 2) * pw, nr = g->nr, plane = g->v_plane;
    const size_t panel = (size_t)c * nr, per_row = g->twp / nr;
    for (int ch = 0; ch < c; ch++)
        for (int ty = 0; ty < trows; ty++) {
            const float *r0 = xp + (size_t)ch * xcs + (size_t)(2 * ty) * pw, *r1 = r0 + pw, *r2 = r1 + pw,
                        *r3 = r2 + pw;
            for (size_t pj = 0; pj < per_row; pj++) {
                float *dst = v + ((size_t)ty * per_row + pj) * panel + (size_t)ch * nr;
                const size_t tx0 = pj * nr;
#pragma omp simd
                for (size_t l = 0; l < nr; l++) {
                    const size_t x0 = 2 * (tx0 + l);
                    /* Rows: B^T d (4 rows of 4). */
                    float a0 = r0[x0] - r2[x0], a1 = r0[x0 + 1] - r2[x0 + 1], a2 = r0[x0 + 2] - r2[x0 + 2],
                          a3 = r0[x0 + 3] - r2[x0 + 3];
                    float b0 = r1[x0] + r2[x0], b1 = r1[x0 + 1] + r2[x0 + 1], b2 = r1[x0 + 2] + r2[x0 + 2],
                          b3 = r1[x0 + 3] + r2[x0 + 3];
                    float c0 = r2[x0] - r1[x0], c1 = r2[x0 + 1] - r1[x0 + 1], c2 = r2[x0 + 2] - r1[x0 + 2],
                          c3 = r2[x0 + 3] - r1[x0 + 3];
                    float d0 = r1[x0] - r3[x0], d1 = r1[x0 + 1] - r3[x0 + 1], d2 = r1[x0 + 2] - r3[x0 + 2],
                          d3 = r1[x0 + 3] - r3[x0 + 3];
                    /* Columns: (B^T d) B. */
                    dst[0 * plane + l] = a0 - a2;
                    dst[1 * plane + l] = a1 + a2;
                    dst[2 * plane + l] = a2 - a1;
                    dst[3 * plane + l] = a1 - a3;
                    dst[4 * plane + l] = b0 - b2;
                    dst[5 * plane + l] = b1 + b2;
                    dst[6 * plane + l] = b2 - b1;
                    dst[7 * plane + l] = b1 - b3;
                    dst[8 * plane + l] = c0 - c2;
                    dst[9 * plane + l] = c1 + c2;
                    dst[10 * plane + l] = c2 - c1;
                    dst[11 * plane + l] = c1 - c3;
                    dst[12 * plane + l] = d0 - d2;
                    dst[13 * plane + l] = d1 + d2;
                    dst[14 * plane + l] = d2 - d1;
                    dst[15 * plane + l] = d1 - d3;
                }
            }
        }
}

/* m_f (OCP, T) = u_f v_f for the 16 positions f, T = trows TWP tiles. */
static void wino_multiply(const conv2d_desc *d, const wino_geom *g, const gemm_kernel *kr, size_t t,
                          const float *u, const float *v, float *m) {
    const size_t c = (size_t)d->c;
    for (int f = 0; f < 16; f++) {
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

/* One row of tiles: y0[2 tx + {0,1}], y1[2 tx + {0,1}] = A^T M A + bias for tx < n, from the 16
 * planes s + f * plane (tiles along the row contiguous). Vectorised across tiles. */
static void wino_output_row(const float *s, size_t plane, int n, float bias, float *y0, float *y1) {
#pragma omp simd
    for (int tx = 0; tx < n; tx++) {
        const float *q = s + tx;
        /* A^T M: rows p (2, 4). */
        float p00 = q[0] + q[4 * plane] + q[8 * plane];
        float p01 = q[plane] + q[5 * plane] + q[9 * plane];
        float p02 = q[2 * plane] + q[6 * plane] + q[10 * plane];
        float p03 = q[3 * plane] + q[7 * plane] + q[11 * plane];
        float p10 = q[4 * plane] - q[8 * plane] - q[12 * plane];
        float p11 = q[5 * plane] - q[9 * plane] - q[13 * plane];
        float p12 = q[6 * plane] - q[10 * plane] - q[14 * plane];
        float p13 = q[7 * plane] - q[11 * plane] - q[15 * plane];
        y0[2 * tx] = bias + p00 + p01 + p02;
        y0[2 * tx + 1] = bias + p01 - p02 - p03;
        y1[2 * tx] = bias + p10 + p11 + p12;
        y1[2 * tx + 1] = bias + p11 - p12 - p13;
    }
}

/* y rows oy0 .. oy0 + rows - 1 = A^T M A + b from m (16, OCP, T), T = trows TWP; the output row
 * of tiles past the map goes to junk, a last half column of tiles is finished apart. */
static void wino_output_transform(const conv2d_desc *d, const wino_geom *g, int trows, const float *m,
                                  const float *b, int oy0, int rows, float *y, float *junk) {
    const size_t t = (size_t)trows * g->twp, ohw = (size_t)d->h * (size_t)d->w;
    const int w = d->w, full = w / 2, tw = (int)g->tw;  /* full: tiles whose two columns are inside */
    for (int o = 0; o < d->oc; o++) {
        const float bias = b ? b[o] : 0.0f;
        for (int ty = 0; ty < trows; ty++) {
            const float *s = m + (size_t)o * t + (size_t)ty * g->twp;
            float *y0 = y + (size_t)o * ohw + (size_t)(oy0 + 2 * ty) * (size_t)w;
            float *y1 = 2 * ty + 1 < rows ? y0 + w : junk;
            wino_output_row(s, g->m_plane, full, bias, y0, y1);
            if (full < tw) {
                float e0[2], e1[2];
                wino_output_row(s + full, g->m_plane, 1, bias, e0, e1);
                y0[2 * full] = e0[0];
                y1[2 * full] = e1[0];
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
    float *slices = u + 16 * g.u_plane;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
        float *xp = slices + (size_t)omp_get_thread_num() * g.per_thread;
        float *v = xp + g.xp_n, *m = v + 16 * g.v_plane, *junk = m + 16 * g.m_plane;
#pragma omp for schedule(dynamic, 4)
        for (int o = 0; o < (int)g.ocp; o++) wino_kernel_transform(d, &g, w, o, o + 1, u);
        /* Bands handed out one at a time: a thread the OS descheduled holds up one band, not half
         * the map. Every band starts on an even row, a whole tile. */
#pragma omp for schedule(dynamic, 1)
        for (int bi = 0; bi < nbands; bi++) {
            const int oy0 = bi * band, rows = oh - oy0 < band ? oh - oy0 : band, trows = (rows + 1) / 2;
            conv_pad_band(d, up, x, oy0, 2 * trows + 2, (int)g.pw, xp);
            wino_input_transform(d->c, trows, &g, xp, v);
            wino_multiply(d, &g, kr, (size_t)trows * g.twp, u, v, m);
            wino_output_transform(d, &g, trows, m, b, oy0, rows, y, junk);
        }
    }
}
