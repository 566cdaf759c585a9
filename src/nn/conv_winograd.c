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
 * over the T tiles of a band of output rows (gemm.h, single-threaded inside each worker).
 * The transforms only add and subtract (and halve, in G), so the result is as accurate as direct
 * convolution to within a few float32 roundings.
 *
 * Threads: the kernel transform U (16, OC, C) is shared, split by output channel; then the
 * threads take bands of output rows one at a time (dynamic schedule), each padding (conv_pad_band: upsampling and reflection
 * fused), transforming, multiplying and transforming back in its own slice of the workspace:
 *   xp (C, R + 2, PW)  the band's padded input, R even, PW = 2 TW + 2, TW = ceil(W / 2)
 *   v  (16, C, T)      transformed input tiles, T = R / 2 * TW (planes C T + WINO_PLANE_PAD apart)
 *   m  (16, OC, T)     their products with U (planes OC T + WINO_PLANE_PAD apart)
 *   junk (2 TW)        where the second output row of a last, half row of tiles goes */
#include "nn/conv_internal.h"
#include "nn/nn.h"

#include "core/gemm.h"

#include <omp.h>

/* Tiles per band (the GEMMs' N): V and M of a band then stay near L2/L3-sized. */
#define WINO_BAND_TILES 256
/* The 16 planes of V and of M are this many floats further apart than their size: planes a
 * multiple of 4 KB apart would all fall in one L1 set, and the transforms touch all 16 at once. */
#define WINO_PLANE_PAD 16

int conv2d_winograd_supported(const conv2d_desc *d) {
    return d->kh == 3 && d->kw == 3 && d->stride == 1 && d->pad == 1 && d->c > 0 && d->oc > 0 && d->h > 1 &&
           d->w > 1;
}

static int wino_threads(const conv2d_desc *d) { return d->threads > 1 ? d->threads : 1; }
static int wino_tw(const conv2d_desc *d) { return (d->w + 1) / 2; }

/* Output rows per band: even, about WINO_BAND_TILES tiles, but at least 4 bands per thread when
 * the map has that many rows of tiles (for the dynamic schedule to even out). */
static int wino_band_rows(const conv2d_desc *d) {
    const int tiles_h = (d->h + 1) / 2, nt = wino_threads(d);
    int trows = WINO_BAND_TILES / wino_tw(d);
    int fair = (tiles_h + 4 * nt - 1) / (4 * nt);
    if (nt > 1 && trows > fair) trows = fair;
    if (trows < 1) trows = 1;
    if (trows > tiles_h) trows = tiles_h;
    return 2 * trows;
}

/* Floats of one thread's slice: xp, v and m. */
static size_t wino_per_thread(const conv2d_desc *d) {
    const size_t r = (size_t)wino_band_rows(d), tw = (size_t)wino_tw(d), t = r / 2 * tw;
    return (size_t)d->c * (r + 2) * (2 * tw + 2) + 16 * ((size_t)d->c * t + WINO_PLANE_PAD) +
           16 * ((size_t)d->oc * t + WINO_PLANE_PAD) + 2 * tw;
}

size_t conv2d_winograd_workspace(const conv2d_desc *d) {
    return 16 * (size_t)d->oc * (size_t)d->c + (size_t)wino_threads(d) * wino_per_thread(d);
}

/* u (16, OC, C) = G g G^T for every kernel g = w[o][c] (3, 3), output channels o0 .. o1-1. */
static void wino_kernel_transform(const conv2d_desc *d, const float *w, int o0, int o1, float *u) {
    const size_t plane = (size_t)d->oc * (size_t)d->c;
    for (int o = o0; o < o1; o++)
        for (int c = 0; c < d->c; c++) {
            const float *g = w + ((size_t)o * (size_t)d->c + (size_t)c) * 9;
            float t[4][3];  /* G g: (4, 3) */
            for (int j = 0; j < 3; j++) {
                t[0][j] = g[j];
                t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                t[3][j] = g[6 + j];
            }
            float *dst = u + (size_t)o * (size_t)d->c + (size_t)c;
            for (int i = 0; i < 4; i++) {
                dst[(size_t)(4 * i + 0) * plane] = t[i][0];
                dst[(size_t)(4 * i + 1) * plane] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
                dst[(size_t)(4 * i + 2) * plane] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
                dst[(size_t)(4 * i + 3) * plane] = t[i][2];
            }
        }
}

/* v (16, C, T) = B^T d B for every tile of the band xp (C, 2 trows + 2, PW), T = trows * TW. */
static void wino_input_transform(int c, int trows, int tw, const float *xp, float *v) {
    const size_t pw = 2 * (size_t)tw + 2, xcs = (size_t)(2 * trows + 2) * pw, t = (size_t)trows * (size_t)tw;
    const size_t plane = (size_t)c * t + WINO_PLANE_PAD;
    for (int ch = 0; ch < c; ch++)
        for (int ty = 0; ty < trows; ty++) {
            const float *r0 = xp + (size_t)ch * xcs + (size_t)(2 * ty) * pw, *r1 = r0 + pw, *r2 = r1 + pw,
                        *r3 = r2 + pw;
            float *dst = v + (size_t)ch * t + (size_t)ty * (size_t)tw;
#pragma omp simd
            for (int tx = 0; tx < tw; tx++) {
                const int x0 = 2 * tx;
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
                dst[0 * plane + tx] = a0 - a2;
                dst[1 * plane + tx] = a1 + a2;
                dst[2 * plane + tx] = a2 - a1;
                dst[3 * plane + tx] = a1 - a3;
                dst[4 * plane + tx] = b0 - b2;
                dst[5 * plane + tx] = b1 + b2;
                dst[6 * plane + tx] = b2 - b1;
                dst[7 * plane + tx] = b1 - b3;
                dst[8 * plane + tx] = c0 - c2;
                dst[9 * plane + tx] = c1 + c2;
                dst[10 * plane + tx] = c2 - c1;
                dst[11 * plane + tx] = c1 - c3;
                dst[12 * plane + tx] = d0 - d2;
                dst[13 * plane + tx] = d1 + d2;
                dst[14 * plane + tx] = d2 - d1;
                dst[15 * plane + tx] = d1 - d3;
            }
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

/* y rows oy0 .. oy0 + rows - 1 = A^T M A + b from m (16, OC, T), T = trows * TW; the output row
 * of tiles past the map goes to junk (2 TW floats), a last half column of tiles is finished apart. */
static void wino_output_transform(const conv2d_desc *d, int trows, int tw, const float *m, const float *b,
                                  int oy0, int rows, float *y, float *junk) {
    const size_t t = (size_t)trows * (size_t)tw, plane = (size_t)d->oc * t + WINO_PLANE_PAD;
    const size_t ohw = (size_t)d->h * (size_t)d->w;
    const int w = d->w, full = w / 2;  /* tiles whose two columns are both inside */
    for (int o = 0; o < d->oc; o++) {
        const float bias = b ? b[o] : 0.0f;
        for (int ty = 0; ty < trows; ty++) {
            const float *s = m + (size_t)o * t + (size_t)ty * (size_t)tw;
            float *y0 = y + (size_t)o * ohw + (size_t)(oy0 + 2 * ty) * (size_t)w;
            float *y1 = 2 * ty + 1 < rows ? y0 + w : junk;
            wino_output_row(s, plane, full, bias, y0, y1);
            if (full < tw) {
                float e0[2], e1[2];
                wino_output_row(s + full, plane, 1, bias, e0, e1);
                y0[2 * full] = e0[0];
                y1[2 * full] = e1[0];
            }
        }
    }
}

void conv2d_winograd_forward(const conv2d_desc *d, int up, const float *x, const float *w, const float *b,
                             float *y, float *ws) {
    const int oh = d->h, nthreads = wino_threads(d), band = wino_band_rows(d), tw = wino_tw(d);
    const size_t pw = 2 * (size_t)tw + 2, per_thread = wino_per_thread(d);
    const size_t kc = (size_t)d->c, koc = (size_t)d->oc;
    float *u = ws;
    const int nbands = (oh + band - 1) / band;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
        const int t = omp_get_thread_num();
#pragma omp for schedule(dynamic, 4)
        for (int o = 0; o < d->oc; o++) wino_kernel_transform(d, w, o, o + 1, u);
        float *xp = ws + 16 * koc * kc + (size_t)t * per_thread;
        float *v = xp + kc * (size_t)(band + 2) * pw;
        /* Bands handed out one at a time: a thread the OS descheduled holds up one band, not half
         * the map. Every band starts on an even row, a whole tile. */
#pragma omp for schedule(dynamic, 1)
        for (int bi = 0; bi < nbands; bi++) {
            const int oy0 = bi * band, rows = oh - oy0 < band ? oh - oy0 : band, trows = (rows + 1) / 2;
            const size_t nt_tiles = (size_t)trows * (size_t)tw;
            const size_t vplane = kc * nt_tiles + WINO_PLANE_PAD, mplane = koc * nt_tiles + WINO_PLANE_PAD;
            float *m = v + 16 * vplane;
            conv_pad_band(d, up, x, oy0, 2 * trows + 2, (int)pw, xp);
            wino_input_transform(d->c, trows, tw, xp, v);
            for (int f = 0; f < 16; f++)
                gemm(0, 0, koc, nt_tiles, kc, 1.0f, u + (size_t)f * koc * kc, kc, v + (size_t)f * vplane, nt_tiles,
                     0.0f, m + (size_t)f * mplane, nt_tiles);
            wino_output_transform(d, trows, tw, m, b, oy0, rows, y, xp + per_thread - 2 * (size_t)tw);
        }
    }
}
