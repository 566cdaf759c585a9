/* 3x3 stride-1 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray 2016, "Fast
 * Algorithms for Convolutional Neural Networks"), forward and backward-data: each 4x4 block of
 * outputs takes 36 multiplies per input channel instead of 144, so the fast style network's
 * residual and upsampling layers and VGG-19's 3x3 layers (forward, and backward-data for Gatys'
 * optimisation of the image) do 4 times fewer multiply-adds.
 *
 * Per output channel o and 4x4 output tile t, with d the 6x6 input tile (padded input rows
 * 4ty .. 4ty+5, columns 4tx .. 4tx+5) of channel c and g the 3x3 kernel w[o][c]:
 *   U = G g G^T,  V = B^T d B  (6x6 each),  Y = A^T (sum_c U[o][c] . V[c][t]) A  (4x4)
 * with the interpolation points 0, 1, -1, 2, -2 and infinity:
 *   G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * The transforms' coefficients up to 8 cost a few float32 roundings more than direct convolution:
 * about 1e-6 of sum |w x| per element, and a relative L2 error of 5e-7 - 1.6e-6 (forward) and
 * 2e-6 - 4e-6 (backward-data) on VGG-19's layers against im2col in float32 (tests/test_winograd.c).
 *
 * Nearest x2 upsampling then this convolution (up = 2: decoders' and TransformerNet's upsampling
 * layers) runs as a sub-pixel convolution of the small map (as in Shi et al. 2016's efficient
 * sub-pixel layer, here derived from the upsampled one): each of the 4 output phases (2i + a,
 * 2j + b) is a 3x3 convolution of the small map with taps summed from the kernel (wino_fold_up2),
 * so one convolution of the small map to 4 OC channels, its output transform writing the phases
 * interleaved, replaces the convolution of the 4 times larger map: the input transform and padding
 * work on a quarter of the pixels, the multiplies are the same, the GEMMs have 4 times the rows.
 *
 * Backward-data of a zero-padded layer: dx[c] = sum_o rot180(w[o][c]) * dy[o] is itself a 3x3
 * stride-1 pad-1 convolution, of dy by the kernels turned by 180 degrees with C and OC exchanged,
 * so it runs the same code on a descriptor with the channel counts swapped (the kernel transform
 * reads w that way, WINO_W_FLIP); the following ReLU's backward is fused into its input band (dy
 * counts where the ReLU's output, the mask, is > 0), the forward's ReLU into the output transform.
 *
 * The sum over c is, for each of the 36 positions f of the 6x6 tile, one GEMM
 *   M_f (OC, T) = U_f (OC, C) x V_f (C, T)
 * over the T tiles of a band of output rows, run by gemm.h's microkernel for the path in force
 * (gemm_active_kernel) on operands the transforms write directly in its packed layouts — U_f in
 * MR-row slivers (C, MR), V_f in NR-tile panels (C, NR) — so nothing is packed per GEMM; on a path
 * without a microkernel (OpenBLAS) through gemm() itself. U is transformed on each call into ws,
 * or once by the caller (conv2d_winograd_transform_kernels, the *_pre calls: vgg19.c keeps it for
 * its small maps, where the transform would cost a third of the layer).
 *
 * Threads: the kernel transform U is shared, split by slivers of output channels; then the threads
 * take bands of output rows one at a time (dynamic schedule), each padding (conv_pad_band:
 * upsampling and reflection fused; or the masked copy), transforming, multiplying and transforming
 * back in its own slice of ws. A map of at most WINO_BAND_TILES tiles is one band that the whole
 * team shares (wino_coop): the input transform is split by input channel, the GEMMs by (position,
 * sliver), the output transform by output channel; there, when the kernels are to be transformed,
 * each thread transforms a sliver into its own part of U's room just before that sliver's 36 GEMMs
 * (wino_multiply_sliver), so U never goes to memory whole.
 *   u  (36, OCP, C)    U, OCP = OC rounded up to MR, each plane as OCP / MR slivers (C, MR)
 *   per thread:
 *   xp (C, R + 2, PW)  the band's padded input, R a multiple of 4, PW = 4 TW + 4, TW = ceil(W / 4)
 *                      tiles per row, TWP = TW rounded up to NR
 *   v  (36, T / NR, C, NR)  transformed input tiles, T = R / 4 * TW rounded up to NR (tiles
 *                      numbered across the band's rows; the extra tiles are zeros), in NR panels
 *   m  (36, OCP, T)    the products
 *   ph (6, 4, TWP + 1) the input transform's column phases; the output transform's (4, 4, TWP)
 * Every section starts on a 64-byte line (the microkernel's aligned loads of B); planes of u, v and
 * m are WINO_PLANE_PAD floats further apart than a multiple of 4 KB. Without a microkernel, MR =
 * NR = 1: u is (36, OC, C) and v (36, T, C), V_f transposed for gemm(). */
#include "nn/conv_internal.h"
#include "nn/nn.h"

#include "core/gemm.h"
#include "core/gemm_internal.h"

#include <omp.h>
#include <stdint.h>
#include <string.h>

/* Tiles per band (the GEMMs' N), at most; and at most as many as keep a band's V and M (36 (C + OC)
 * floats a tile) within WINO_BAND_BYTES, but at least one row of tiles. Measured on the fast style
 * network's residual layers (C = OC = 128): bands of 64 tiles (2.4 MB) ran 20-30% faster than
 * bands of 128, and 32 or 16 no faster than 64. */
#define WINO_BAND_TILES 128
#define WINO_BAND_BYTES ((size_t)5 << 19)
#define WINO_NF 36  /* positions in a 6x6 tile: GEMMs per band */
/* The 36 planes of V and of M are this many floats further apart than their size: planes a
 * multiple of 4 KB apart would all fall in one L1 set, and the transforms touch all 36 at once. */
#define WINO_PLANE_PAD 16
/* The largest microkernel tile (gemm_internal.h's kernels: MR <= 8, NR <= 32), for sizing ws. */
#define WINO_MAX_MR 8
#define WINO_MAX_NR 32

/* Which kernels wino_kernel_transform reads from w (see there). */
typedef enum { WINO_W_FORWARD, WINO_W_FLIP, WINO_W_UP2 } wino_wmode;

int conv2d_winograd_supported(const conv2d_desc *d) {
    return d->kh == 3 && d->kw == 3 && d->stride == 1 && d->pad == 1 && d->c > 0 && d->oc > 0 && d->h > 1 &&
           d->w > 1;
}

static int wino_threads(const conv2d_desc *d) { return d->threads > 1 ? d->threads : 1; }
static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }

/* A map of at most WINO_BAND_TILES tiles is one band, which all the threads work on together
 * (wino_run): split into bands per thread, its GEMMs would have fewer columns than the
 * microkernel's NR (VGG's 16x16 and 32x32 maps: 4 and 8 tiles per row) and multiply padding. */
static int wino_coop(const conv2d_desc *d) {
    return wino_threads(d) > 1 && (size_t)((d->h + 3) / 4) * (size_t)((d->w + 3) / 4) <= WINO_BAND_TILES;
}

/* Output rows per band: a multiple of 4, about WINO_BAND_TILES tiles, but at least 4 bands per
 * thread when the map has that many rows of tiles (for the dynamic schedule to even out); the
 * whole map when the threads share one band. */
static int wino_band_rows(const conv2d_desc *d) {
    const int tiles_h = (d->h + 3) / 4, nt = wino_threads(d);
    if (wino_coop(d)) return 4 * tiles_h;
    const size_t tw = (size_t)(d->w + 3) / 4, tile_bytes = WINO_NF * sizeof(float) * (size_t)(d->c + d->oc);
    int trows = WINO_BAND_TILES / (int)tw;
    if ((size_t)trows * tw * tile_bytes > WINO_BAND_BYTES) trows = (int)(WINO_BAND_BYTES / (tw * tile_bytes));
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

/* Tiles of a band of trows rows of tiles, as the GEMMs see them: numbered row by row across the
 * band (tile (ty, tx) is ty TW + tx), rounded up to NR (the extra tiles are zeros). */
static size_t wino_band_tiles(const wino_geom *g, int trows) {
    return ((size_t)trows * g->tw + g->nr - 1) / g->nr * g->nr;
}

static wino_geom wino_geometry(const conv2d_desc *d, size_t mr, size_t nr, size_t ocp) {
    wino_geom g;
    g.mr = mr;
    g.nr = nr;
    g.tw = ((size_t)d->w + 3) / 4;
    g.twp = (g.tw + nr - 1) / nr * nr;
    g.ocp = ocp;
    g.band = wino_band_rows(d);
    g.pw = 4 * g.tw + 4;  /* 2 more than the tiles read, for the input transform's whole phases */
    const size_t tmax = wino_band_tiles(&g, g.band / 4), c = (size_t)d->c;
    g.u_plane = up16(ocp * c) + WINO_PLANE_PAD;
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

/* The x2 upsampling convolution d as the sub-pixel one it runs as: on the small map, to the 4
 * phases of each output channel (wino_fold_up2). Reflection padding of the upsampled map is
 * replication on the small one (its row -1 is row 1 of the upsampled map, a copy of small row 0);
 * zero padding stays zero. */
static conv2d_desc wino_up2_desc(const conv2d_desc *d) {
    conv2d_desc s = *d;
    s.h = d->h / 2;
    s.w = d->w / 2;
    s.oc = 4 * d->oc;
    s.padding = d->padding == PAD_ZERO ? PAD_ZERO : PAD_REPLICATE;
    return s;
}

size_t conv2d_winograd_workspace(const conv2d_desc *d, int up) {
    const conv2d_desc s = up == 2 ? wino_up2_desc(d) : *d;  /* the convolution that runs */
    const wino_geom g = wino_geometry_max(&s);
    return 16 /* alignment */ + WINO_NF * g.u_plane + (size_t)wino_threads(&s) * g.per_thread;
}

/* Kernels transformed per pass of wino_kernel_transform: a multiple of every MR (1, 4, 6, 8). */
#define WINO_KT_CHUNK 96

/* G applied to one column (g0, g1, g2) of 3 taps: the 6 values of G g. Multiplying by the rounded
 * reciprocals instead of dividing costs at most an ulp and keeps the divider out of the loop. */
#define WINO_G6(g0, g1, g2, r0, r1, r2, r3, r4, r5)                                                   \
    do {                                                                                              \
        const float s6_ = 1.0f / 6.0f, e_ = (g0) + (g2);                                            \
        const float h_ = (g0) * (1.0f / 24.0f) + (g2) * s6_, k_ = (g1) * (1.0f / 12.0f);          \
        r0 = 0.25f * (g0);                                                                            \
        r1 = -(e_ + (g1)) * s6_;                                                                      \
        r2 = -(e_ - (g1)) * s6_;                                                                      \
        r3 = h_ + k_;                                                                                 \
        r4 = h_ - k_;                                                                                 \
        r5 = (g2);                                                                                    \
    } while (0)

/* Sub-pixel folding (the x2 upsampling path, conv2d_winograd_forward with up = 2): output pixel
 * (2 i + a, 2 j + b) of a 3x3 convolution of the nearest-upsampled map reads upsampled row
 * 2 i + a + ky - 1, which is small-map row i - 1 + (a + ky + 1) / 2; so phase (a, b) of the output
 * is a 3x3 convolution of the small map with the kernel whose tap (r, s) sums the taps (ky, kx) of
 * g with (a + ky + 1) / 2 = r and (b + kx + 1) / 2 = s (each phase uses 4 of the 9 taps). Phase
 * p = 2 a + b of g (3, 3) into f (3, 3). */
static void wino_fold_up2(const float *g, int p, float *f) {
    const int a = p >> 1, b = p & 1;
    for (int t = 0; t < 9; t++) f[t] = 0.0f;
    for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++) f[(a + ky + 1) / 2 * 3 + (b + kx + 1) / 2] += g[ky * 3 + kx];
}

/* u = G g G^T for every kernel g (3, 3) of the MR output channels of sliver ob (channels past OC
 * give zeros), into the sliver's 36 planes base + f pl (C, MR): kernel q = c MR + o % MR is the q-th
 * float of each (in U, base = u + ob C MR and pl = u_plane: element (f, o, c) at f u_plane +
 * (o / MR) C MR + c MR + o % MR). The kernel of (o, c) is, by
 * wmode, w[o][c] (w (OC, C, 3, 3)); for the backward pass w[c][o] turned by 180 degrees (w (C, OC,
 * 3, 3) of the forward convolution whose input gradient this is); or, upsampling, phase o % 4 of
 * w[o / 4][c] folded (w (OC / 4, C, 3, 3)). Vectorised across kernels: WINO_KT_CHUNK kernels' taps
 * are gathered into k (9, CHUNK), then G g G^T runs on whole rows and each of the 36 results is
 * stored as one contiguous run. */
__attribute__((always_inline)) static inline void wino_kernel_transform_body(const conv2d_desc *d, size_t mr,
                                                                           const float *w, wino_wmode wmode,
                                                                           size_t ob, float *base, size_t pl) {
    const size_t c_n = (size_t)d->c, q_n = c_n * mr, oc = (size_t)d->oc;
    float k[9][WINO_KT_CHUNK];
    for (size_t q0 = 0; q0 < q_n; q0 += WINO_KT_CHUNK) {
        const size_t n = q_n - q0 < WINO_KT_CHUNK ? q_n - q0 : WINO_KT_CHUNK;
        /* Kernel q0 + j is (o, c) = (ob MR + i, c), counted up without dividing. A chunk starts at
         * i = 0 and holds whole groups of MR (WINO_KT_CHUNK and C MR are multiples of MR). The
         * forward kernels are gathered channel row by channel row, each w[o][c0 ..] a run of
         * memory (the weights come from DRAM: jumping between the MR rows at every kernel had
         * stalled on the loads); the flipped ones in kernel order, which reads w[c][o0 ..] in runs. */
        size_t c = q0 / mr, i = q0 % mr;
        if (wmode == WINO_W_FORWARD) {
            const size_t cn = n / mr;
            for (size_t ii = 0; ii < mr; ii++) {
                const size_t o = ob * mr + ii;
                if (o >= oc) {
                    for (size_t cc = 0; cc < cn; cc++)
                        for (int t = 0; t < 9; t++) k[t][cc * mr + ii] = 0.0f;
                    continue;
                }
                const float *src = w + (o * c_n + c) * 9;
                for (size_t cc = 0; cc < cn; cc++)
                    for (int t = 0; t < 9; t++) k[t][cc * mr + ii] = src[cc * 9 + t];
            }
        } else {
            for (size_t j = 0; j < n; j++, i = i + 1 == mr ? 0 : i + 1, c += i == 0) {
                const size_t o = ob * mr + i;
                if (o >= oc) {
                    for (int t = 0; t < 9; t++) k[t][j] = 0.0f;
                } else if (wmode == WINO_W_FLIP) {
                    const float *src = w + (c * oc + o) * 9;
                    for (int t = 0; t < 9; t++) k[t][j] = src[8 - t];
                } else {
                    float f[9];
                    wino_fold_up2(w + ((o / 4) * c_n + c) * 9, (int)(o % 4), f);
                    for (int t = 0; t < 9; t++) k[t][j] = f[t];
                }
            }
        }
        float *dst = base + q0;
#pragma omp simd
        for (size_t j = 0; j < n; j++) {
            /* G g: column t of the kernel (taps t, 3 + t, 6 + t) -> column t of a (6, 3). */
            float a0, a1, a2, a3, a4, a5, b0, b1, b2, b3, b4, b5, c0, c1, c2, c3, c4, c5;
            WINO_G6(k[0][j], k[3][j], k[6][j], a0, a1, a2, a3, a4, a5);
            WINO_G6(k[1][j], k[4][j], k[7][j], b0, b1, b2, b3, b4, b5);
            WINO_G6(k[2][j], k[5][j], k[8][j], c0, c1, c2, c3, c4, c5);
            /* (G g) G^T: row i (a_i, b_i, c_i) -> positions 6 i .. 6 i + 5. */
#define WINO_ROW(i, x, y, z)                                                                          \
    do {                                                                                              \
        float r0_, r1_, r2_, r3_, r4_, r5_;                                                           \
        WINO_G6(x, y, z, r0_, r1_, r2_, r3_, r4_, r5_);                                               \
        dst[(6 * (i) + 0) * pl + j] = r0_;                                                            \
        dst[(6 * (i) + 1) * pl + j] = r1_;                                                            \
        dst[(6 * (i) + 2) * pl + j] = r2_;                                                            \
        dst[(6 * (i) + 3) * pl + j] = r3_;                                                            \
        dst[(6 * (i) + 4) * pl + j] = r4_;                                                            \
        dst[(6 * (i) + 5) * pl + j] = r5_;                                                            \
    } while (0)
            WINO_ROW(0, a0, b0, c0);
            WINO_ROW(1, a1, b1, c1);
            WINO_ROW(2, a2, b2, c2);
            WINO_ROW(3, a3, b3, c3);
            WINO_ROW(4, a4, b4, c4);
            WINO_ROW(5, a5, b5, c5);
#undef WINO_ROW
        }
    }
}

/* The kernel transform in the baseline build and for AVX2 + FMA (wino_run picks, as for the other
 * transforms below; the two differ by float rounding only). */
static void wino_kernel_transform_base(const conv2d_desc *d, size_t mr, const float *w, wino_wmode wmode, size_t ob,
                                       float *base, size_t pl) {
    wino_kernel_transform_body(d, mr, w, wmode, ob, base, pl);
}

__attribute__((target("avx2,fma"))) static void wino_kernel_transform_avx2(const conv2d_desc *d, size_t mr,
                                                                           const float *w, wino_wmode wmode,
                                                                           size_t ob, float *base, size_t pl) {
    wino_kernel_transform_body(d, mr, w, wmode, ob, base, pl);
}

typedef void (*wino_kt_fn)(const conv2d_desc *, size_t, const float *, wino_wmode, size_t, float *, size_t);

/* The second half of the input transform for len tiles: B across the 6 rows of each tile, from
 * the column phases p (6, 4, pl) (row i, phase k at p + (4 i + k) pl) into position 6 i + j of
 * each tile, dst + (6 i + j) plane. */
__attribute__((always_inline)) static inline void wino_bt_panel(const float *p, size_t pl, float *dst, size_t plane,
                                                               size_t len) {
    for (int i = 0; i < 6; i++) {
        const float *p0 = p + (size_t)(i * 4) * pl, *p1 = p0 + pl, *p2 = p1 + pl, *p3 = p2 + pl;
        float *di = dst + (size_t)(6 * i) * plane;
#pragma omp simd
        for (size_t l = 0; l < len; l++) {
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

/* v = B^T d B for every tile of the band xp (C, 4 trows + 2, PW), in panels: element (f, tile
 * (ty, tx), c) at f v_plane + (t / NR) C NR + c NR + t % NR, t = ty TW + tx. Vectorised: for each
 * row of tiles, B^T runs down the 6 input rows (contiguous), its 6 result rows are split into 4
 * column phases ph (6, 4, TWP + 1) (column 4 tx + k of a tile is phase k % 4, index tx + k / 4),
 * and B runs across tiles on those contiguous phases. Only channels c0 .. c1 - 1 of the C. */
__attribute__((always_inline)) static inline void wino_input_transform_body(int c, int c0, int c1, int trows,
                                                                          const wino_geom *g, const float *xp,
                                                                          float *v, float *ph) {
    const size_t pw = g->pw, xcs = (size_t)(4 * trows + 2) * pw, nr = g->nr, plane = g->v_plane;
    const size_t panel = (size_t)c * nr, tw = g->tw, pl = g->twp + 1;
    for (int ch = c0; ch < c1; ch++)
        for (int ty = 0; ty < trows; ty++) {
            const float *r0 = xp + (size_t)ch * xcs + (size_t)(4 * ty) * pw, *r1 = r0 + pw, *r2 = r1 + pw,
                        *r3 = r2 + pw, *r4 = r3 + pw, *r5 = r4 + pw;
            /* Phases 0 .. TW: all that the tiles read (wino_bt_panel's l + 1 <= TW). */
#pragma omp simd
            for (size_t l = 0; l <= tw; l++) {
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
            /* Tiles tx0 .. tx0 + len - 1 of this row lie in one panel, lanes lane .. lane + len - 1;
             * a whole panel (the usual case), or a whole row of a 32-pixel-wide map (the GAN
             * generators' residual blocks at 128 px), with len a constant, so the short loops unroll. */
            for (size_t tx0 = 0; tx0 < tw; ) {
                const size_t t0 = (size_t)ty * tw + tx0, lane = t0 % nr;
                const size_t len = tw - tx0 < nr - lane ? tw - tx0 : nr - lane;
                float *dst = v + t0 / nr * panel + (size_t)ch * nr + lane;
                const float *p = ph + tx0;
                if (len == 8) wino_bt_panel(p, pl, dst, plane, 8);
                else if (len == 16) wino_bt_panel(p, pl, dst, plane, 16);
                else if (len == 32) wino_bt_panel(p, pl, dst, plane, 32);
                else wino_bt_panel(p, pl, dst, plane, len);
                tx0 += len;
            }
        }
    /* The padding tiles of the last panel read zeros. */
    const size_t used = (size_t)trows * tw, t = wino_band_tiles(g, trows);
    if (used < t)
        for (int f = 0; f < WINO_NF; f++)
            for (int ch = c0; ch < c1; ch++)
                memset(v + (size_t)f * plane + (t / nr - 1) * panel + (size_t)ch * nr + used % nr, 0,
                       (nr - used % nr) * sizeof *v);
}

/* Work items of wino_multiply: one per position f and sliver of U (a whole position without a
 * microkernel). */
static int wino_items(const wino_geom *g, const gemm_kernel *kr) {
    return WINO_NF * (int)(kr ? g->ocp / g->mr : 1);
}

/* m_f (OCP, T) = u_f v_f for the 36 positions f, T tiles (wino_band_tiles), items i0 .. i1 - 1:
 * item i is sliver i % S of position i / S, S slivers per position. */
static void wino_multiply(const conv2d_desc *d, const wino_geom *g, const gemm_kernel *kr, size_t t,
                          const float *u, const float *v, float *m, int i0, int i1) {
    const size_t c = (size_t)d->c, nsl = kr ? g->ocp / g->mr : 1;
    for (int i = i0; i < i1; i++) {
        const size_t f = (size_t)i / nsl, ob = (size_t)i % nsl;
        const float *uf = u + f * g->u_plane, *vf = v + f * g->v_plane;
        float *mf = m + f * g->m_plane;
        if (!kr) {
            gemm(0, 1, (size_t)d->oc, t, c, 1.0f, uf, c, vf, c, 0.0f, mf, t);
            continue;
        }
        /* The sliver of U (C, MR) stays in L1 while the B panels (C, NR) pass over it. */
        for (size_t p = 0; p < t / g->nr; p++)
            kr->ukr(c, uf + ob * c * g->mr, vf + p * c * g->nr, 0.0f, mf + ob * g->mr * t + p * g->nr, t);
    }
}

/* The GEMMs of sliver ob at all 36 positions, its kernels transformed just before into ub (36
 * planes of upl floats, (C, MR) each): m_f's rows ob MR .. ob MR + MR - 1 = u_f's sliver v_f. A map
 * of one band (wino_coop) uses U once, so the team transforms it sliver by sliver into each thread's
 * own 36 C MR floats (about 300 KB at C = 256, MR = 8: in L2) instead of writing the whole U (36 OC C
 * floats, 9.4 MB at 256 channels) to memory and reading it back: at 32x32 maps the transform had been
 * a sixth of the layer's time. */
static void wino_multiply_sliver(const conv2d_desc *d, const wino_geom *g, const gemm_kernel *kr, wino_kt_fn kt,
                                 const float *w, wino_wmode wmode, size_t t, size_t ob, const float *v, float *m,
                                 float *ub, size_t upl) {
    const size_t c = (size_t)d->c;
    kt(d, g->mr, w, wmode, ob, ub, upl);
    for (size_t f = 0; f < WINO_NF; f++) {
        const float *uf = ub + f * upl, *vf = v + f * g->v_plane;
        float *mf = m + f * g->m_plane + ob * g->mr * t;
        for (size_t p = 0; p < t / g->nr; p++) kr->ukr(c, uf, vf + p * c * g->nr, 0.0f, mf + p * g->nr, t);
    }
}

/* y rows oy0 .. oy0 + rows - 1 of channels o0 .. o1 - 1 = A^T M A + b from m (36, OCP, T), T = trows TWP. Vectorised
 * across tiles: A^T down the 6 rows of M, then across, into column phases op (4, 4, TWP) (output
 * column 4 tx + j at op[i][j][tx]), then interleaved into y's rows (rows and columns past the map
 * dropped). With up2 (sub-pixel: d is the small map's convolution to 4 OC' phase channels, see
 * wino_fold_up2), channel o = 4 q + 2 a + b is phase (a, b) of channel q of y (OC', 2 H, 2 W):
 * its pixel (r, x) goes to y[q][2 r + a][2 x + b], with bias b[q]. */
__attribute__((always_inline)) static inline void wino_output_transform_body(const conv2d_desc *d, const wino_geom *g,
                                                                           int trows, const float *m, const float *b,
                                                                           int relu, int up2, int oy0, int rows,
                                                                           int o0, int o1, float *y, float *op) {
    const size_t t = wino_band_tiles(g, trows), ohw = (size_t)d->h * (size_t)d->w, plane = g->m_plane;
    const size_t twp = g->twp;
    const int w = d->w, tw = (int)g->tw;
    for (int o = o0; o < o1; o++) {
        const float bias = b ? b[up2 ? o / 4 : o] : 0.0f;
        for (int ty = 0; ty < trows; ty++) {
            const float *s = m + (size_t)o * t + (size_t)ty * g->tw;
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
                const float *q0 = op + (size_t)(4 * i) * twp, *q1 = q0 + twp, *q2 = q1 + twp, *q3 = q2 + twp;
                const int full = w / 4;
                if (up2) {
                    /* Every other float of an output row (2 W); channel o + 1, next, fills the rest. */
                    const int r = oy0 + 4 * ty + i, a = (o >> 1) & 1;
                    float *yr = y + (size_t)(o / 4) * 4 * ohw + (size_t)(2 * r + a) * (size_t)(2 * w) + (o & 1);
                    const float *qs[4] = {q0, q1, q2, q3};
                    for (int j = 0; j < 4; j++) {
                        const float *q = qs[j];
                        float *yj = yr + 2 * j;
                        const int n = full + (4 * full + j < w);
                        if (relu)
                            for (int tx = 0; tx < n; tx++) yj[8 * tx] = q[tx] > 0.0f ? q[tx] : 0.0f;
                        else
                            for (int tx = 0; tx < n; tx++) yj[8 * tx] = q[tx];
                    }
                    continue;
                }
                float *yr = y + (size_t)o * ohw + (size_t)(oy0 + 4 * ty + i) * (size_t)w;
                if (relu) {
                    for (int tx = 0; tx < full; tx++) {
                        yr[4 * tx] = q0[tx] > 0.0f ? q0[tx] : 0.0f;
                        yr[4 * tx + 1] = q1[tx] > 0.0f ? q1[tx] : 0.0f;
                        yr[4 * tx + 2] = q2[tx] > 0.0f ? q2[tx] : 0.0f;
                        yr[4 * tx + 3] = q3[tx] > 0.0f ? q3[tx] : 0.0f;
                    }
                } else {
                    for (int tx = 0; tx < full; tx++) {
                        yr[4 * tx] = q0[tx];
                        yr[4 * tx + 1] = q1[tx];
                        yr[4 * tx + 2] = q2[tx];
                        yr[4 * tx + 3] = q3[tx];
                    }
                }
                const float *qs[4] = {q0, q1, q2, q3};
                for (int j = 0; 4 * full + j < w; j++) {
                    const float v = qs[j][full];
                    yr[4 * full + j] = relu && !(v > 0.0f) ? 0.0f : v;
                }
            }
        }
    }
}

/* xp (C, rows, PW) = rows y0 - 1 .. y0 - 1 + rows - 1 of x * (mask > 0), zero-padded by 1 (the
 * backward pass's input: dy with the following ReLU's backward fused, mask being that ReLU's
 * output), or of x where the ReLU's bitmap mbits (C planes of H*W bits) is set. x and mask (C, H, W);
 * exactly one of mask and mbits is given. */
static void wino_pad_band_masked(const conv2d_desc *d, const float *x, const float *mask, const uint64_t *mbits,
                                 int y0, int rows, int pw, float *xp) {
    const size_t hw = (size_t)d->h * (size_t)d->w, w = (size_t)d->w, plane = bitmap_plane_words(hw);
    for (int c = 0; c < d->c; c++)
        for (int j = 0; j < rows; j++) {
            float *dst = xp + ((size_t)c * (size_t)rows + (size_t)j) * (size_t)pw;
            const int iy = y0 + j - 1;
            if (iy < 0 || iy >= d->h) {
                memset(dst, 0, (size_t)pw * sizeof *dst);
                continue;
            }
            const float *src = x + (size_t)c * hw + (size_t)iy * w;
            dst[0] = 0.0f;
            if (mask) {
                const float *msk = mask + (size_t)c * hw + (size_t)iy * w;
#pragma omp simd
                for (size_t i = 0; i < w; i++) dst[1 + i] = msk[i] > 0.0f ? src[i] : 0.0f;
            } else {
                bitmap_select(mbits + (size_t)c * plane, (size_t)iy * w, w, src, dst + 1);
            }
            for (size_t i = w + 1; i < (size_t)pw; i++) dst[i] = 0.0f;
        }
}

/* The transforms are a fifth of a VGG Gatys iteration, and their loops vectorise 4 wide in the
 * baseline build (SSE2). Each is also compiled for AVX2 + FMA, 8 wide, and wino_run takes that form
 * when the CPU has it and the GEMM path in force is not "portable" (so forcing that path, as the
 * tests do, runs the whole convolution without AVX on any machine). FMA rounds once where the
 * baseline rounds twice: the two forms differ by float rounding only. */
static void wino_input_transform_base(int c, int c0, int c1, int trows, const wino_geom *g, const float *xp, float *v,
                                      float *ph) {
    wino_input_transform_body(c, c0, c1, trows, g, xp, v, ph);
}

__attribute__((target("avx2,fma"))) static void wino_input_transform_avx2(int c, int c0, int c1, int trows,
                                                                          const wino_geom *g, const float *xp,
                                                                          float *v, float *ph) {
    wino_input_transform_body(c, c0, c1, trows, g, xp, v, ph);
}

static void wino_output_transform_base(const conv2d_desc *d, const wino_geom *g, int trows, const float *m,
                                       const float *b, int relu, int up2, int oy0, int rows, int o0, int o1,
                                       float *y, float *op) {
    wino_output_transform_body(d, g, trows, m, b, relu, up2, oy0, rows, o0, o1, y, op);
}

__attribute__((target("avx2,fma"))) static void wino_output_transform_avx2(const conv2d_desc *d, const wino_geom *g,
                                                                           int trows, const float *m, const float *b,
                                                                           int relu, int up2, int oy0, int rows,
                                                                           int o0, int o1, float *y, float *op) {
    wino_output_transform_body(d, g, trows, m, b, relu, up2, oy0, rows, o0, o1, y, op);
}

typedef void (*wino_in_fn)(int, int, int, int, const wino_geom *, const float *, float *, float *);
typedef void (*wino_out_fn)(const conv2d_desc *, const wino_geom *, int, const float *, const float *, int, int, int,
                            int, int, int, float *, float *);

static int wino_use_avx2(const gemm_kernel *kr) {
    if (kr && !strcmp(kr->name, "portable")) return 0;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* The convolution d (3x3, stride 1, pad 1) of x (upsampled by `up`; or x * (mask > 0) when mask is
 * given, or x where the bitmap mbits is set; then up = 1 and zero padding) with the kernels
 * wino_kernel_transform reads from w (wmode as there), plus b, ReLU fused when relu: y (OC, H, W),
 * or with WINO_W_UP2 the phases shuffled into y (OC / 4, 2 H, 2 W). uk: the kernels already transformed for the
 * microkernel tile MR uk_mr (conv2d_winograd_transform_kernels), used when the path in force still
 * has that MR; else (or NULL) they are transformed into ws. */
static void wino_run(const conv2d_desc *d, int up, const float *x, const float *mask, const uint64_t *mbits,
                     const float *w, wino_wmode wmode, const float *uk, size_t uk_mr, const float *b, int relu,
                     float *y, float *ws) {
    const gemm_kernel *kr = gemm_active_kernel();
    const size_t mr = kr ? kr->mr : 1, nr = kr ? kr->nr : 1;
    const wino_geom g = wino_geometry(d, mr, nr, ((size_t)d->oc + mr - 1) / mr * mr);
    const int oh = d->h, nthreads = wino_threads(d), band = g.band, nbands = (oh + band - 1) / band;
    float *u = (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63);
    float *slices = u + WINO_NF * g.u_plane;
    const int transform = !(uk && uk_mr == mr);
    if (!transform) u = (float *)uk;
    const int avx2 = wino_use_avx2(kr);
    const wino_in_fn wino_input_transform = avx2 ? wino_input_transform_avx2 : wino_input_transform_base;
    const wino_out_fn wino_output_transform = avx2 ? wino_output_transform_avx2 : wino_output_transform_base;
    const wino_kt_fn wino_kernel_transform = avx2 ? wino_kernel_transform_avx2 : wino_kernel_transform_base;
    const int up2 = wmode == WINO_W_UP2;
    /* One band and kernels to transform: sliver by sliver into each thread's part of U's room
     * (wino_multiply_sliver), when the room holds a sliver's 36 planes per thread. */
    const size_t upl = up16((size_t)d->c * mr) + WINO_PLANE_PAD;
    const int fuse = transform && kr && wino_coop(d) && (size_t)nthreads * upl <= g.u_plane;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
        float *xp = slices + (size_t)omp_get_thread_num() * g.per_thread;
        float *v = xp + g.xp_n, *m = v + WINO_NF * g.v_plane, *ph = m + WINO_NF * g.m_plane;
        /* By whole slivers, so no two threads write the same cache line. */
        if (transform && !fuse) {
#pragma omp for schedule(dynamic, 1)
            for (int ob = 0; ob < (int)(g.ocp / mr); ob++)
                wino_kernel_transform(d, mr, w, wmode, (size_t)ob, u + (size_t)ob * (size_t)d->c * mr, g.u_plane);
        }
        const int items = wino_items(&g, kr);
        if (wino_coop(d)) {
            /* One band shared by the team, in thread 0's slice: padded and transformed in split by
             * input channel, the GEMMs split by item, transformed out split by output channel. */
            const int trows = (oh + 3) / 4;
            float *v0 = slices + g.xp_n, *m0 = v0 + WINO_NF * g.v_plane;
            const int nchunks = 4 * nthreads, xrows = 4 * trows + 2;
            const size_t in_plane = (size_t)(d->h / up) * (size_t)(d->w / up), hw = (size_t)d->h * (size_t)d->w;
#pragma omp for schedule(dynamic, 1)
            for (int k = 0; k < nchunks; k++) {
                const int c0 = d->c * k / nchunks, c1 = d->c * (k + 1) / nchunks;
                if (c1 == c0) continue;
                conv2d_desc part = *d;
                part.c = c1 - c0;
                float *xpc = slices + (size_t)c0 * (size_t)xrows * g.pw;
                if (mask || mbits)
                    wino_pad_band_masked(&part, x + (size_t)c0 * hw, mask ? mask + (size_t)c0 * hw : NULL,
                                         mbits ? mbits + (size_t)c0 * bitmap_plane_words(hw) : NULL, 0, xrows,
                                         (int)g.pw, xpc);
                else
                    conv_pad_band(&part, up, x + (size_t)c0 * in_plane, 0, xrows, (int)g.pw, xpc);
                wino_input_transform(d->c, c0, c1, trows, &g, slices, v0, ph);
            }
            const size_t t = wino_band_tiles(&g, trows);
            if (fuse) {
                float *ub = u + (size_t)omp_get_thread_num() * WINO_NF * upl;
#pragma omp for schedule(dynamic, 1)
                for (int ob = 0; ob < (int)(g.ocp / mr); ob++)
                    wino_multiply_sliver(d, &g, kr, wino_kernel_transform, w, wmode, t, (size_t)ob, v0, m0, ub, upl);
            } else {
#pragma omp for schedule(dynamic, 1)
                for (int i = 0; i < items; i++) wino_multiply(d, &g, kr, t, u, v0, m0, i, i + 1);
            }
            /* Upsampling, a channel's 4 phases together (they share y's cache lines). */
            const int step = up2 ? 4 : 1;
#pragma omp for schedule(dynamic, 1)
            for (int o = 0; o < d->oc; o += step)
                wino_output_transform(d, &g, trows, m0, b, relu, up2, 0, oh, o, o + step < d->oc ? o + step : d->oc,
                                      y, ph);
        } else {
            /* Bands handed out one at a time: a thread the OS descheduled holds up one band, not
             * half the map. Every band starts on a row of whole tiles. */
#pragma omp for schedule(dynamic, 1)
            for (int bi = 0; bi < nbands; bi++) {
                const int oy0 = bi * band, rows = oh - oy0 < band ? oh - oy0 : band, trows = (rows + 3) / 4;
                if (mask || mbits)
                    wino_pad_band_masked(d, x, mask, mbits, oy0, 4 * trows + 2, (int)g.pw, xp);
                else
                    conv_pad_band(d, up, x, oy0, 4 * trows + 2, (int)g.pw, xp);
                wino_input_transform(d->c, 0, d->c, trows, &g, xp, v, ph);
                wino_multiply(d, &g, kr, wino_band_tiles(&g, trows), u, v, m, 0, items);
                wino_output_transform(d, &g, trows, m, b, relu, up2, oy0, rows, 0, d->oc, y, ph);
            }
        }
    }
}

/* Upsampling by 2 runs as the sub-pixel convolution on the small map (wino_up2_desc): its input
 * transform works on a quarter of the pixels, and its GEMMs have 4 times the rows. */
void conv2d_winograd_forward_relu(const conv2d_desc *d, int up, const float *x, const float *w, const float *b,
                                  float *y, int relu, float *ws) {
    if (up == 2) {
        const conv2d_desc s = wino_up2_desc(d);
        wino_run(&s, 1, x, NULL, NULL, w, WINO_W_UP2, NULL, 0, b, relu, y, ws);
    } else {
        wino_run(d, up, x, NULL, NULL, w, WINO_W_FORWARD, NULL, 0, b, relu, y, ws);
    }
}

void conv2d_winograd_forward(const conv2d_desc *d, int up, const float *x, const float *w, const float *b,
                             float *y, float *ws) {
    conv2d_winograd_forward_relu(d, up, x, w, b, y, 0, ws);
}

/* The convolution whose output is the backward pass's: OC and C exchanged, zero padding. */
static conv2d_desc wino_backward_desc(const conv2d_desc *d) {
    conv2d_desc t = *d;
    t.c = d->oc;
    t.oc = d->c;
    t.padding = PAD_ZERO;
    return t;
}

int conv2d_winograd_backward_supported(const conv2d_desc *d) {
    return conv2d_winograd_supported(d) && d->padding == PAD_ZERO;
}

size_t conv2d_winograd_backward_workspace(const conv2d_desc *d) {
    const conv2d_desc t = wino_backward_desc(d);
    return conv2d_winograd_workspace(&t, 1);
}

void conv2d_winograd_backward_data(const conv2d_desc *d, const float *w, const float *dy, const float *mask,
                                   float *dx, float *ws) {
    const conv2d_desc t = wino_backward_desc(d);
    wino_run(&t, 1, dy, mask, NULL, w, WINO_W_FLIP, NULL, 0, NULL, 0, dx, ws);
}

size_t conv2d_winograd_kernels_size(const conv2d_desc *d, int backward) {
    const conv2d_desc t = backward ? wino_backward_desc(d) : *d;
    const wino_geom g = wino_geometry_max(&t);
    return WINO_NF * g.u_plane;
}

int conv2d_winograd_transform_kernels(const conv2d_desc *d, int backward, const float *w, float *uk) {
    const conv2d_desc t = backward ? wino_backward_desc(d) : *d;
    const gemm_kernel *kr = gemm_active_kernel();
    const size_t mr = kr ? kr->mr : 1, nr = kr ? kr->nr : 1;
    const wino_geom g = wino_geometry(&t, mr, nr, ((size_t)t.oc + mr - 1) / mr * mr);
    const int nthreads = wino_threads(&t);
    const wino_wmode mode = backward ? WINO_W_FLIP : WINO_W_FORWARD;
    const wino_kt_fn kt = wino_use_avx2(kr) ? wino_kernel_transform_avx2 : wino_kernel_transform_base;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) if (nthreads > 1)
    for (int ob = 0; ob < (int)(g.ocp / mr); ob++)
        kt(&t, mr, w, mode, (size_t)ob, uk + (size_t)ob * (size_t)t.c * mr, g.u_plane);
    return (int)mr;
}

void conv2d_winograd_forward_pre(const conv2d_desc *d, const float *x, const float *w, const float *uk, int uk_mr,
                                 const float *b, float *y, int relu, float *ws) {
    wino_run(d, 1, x, NULL, NULL, w, WINO_W_FORWARD, uk, (size_t)uk_mr, b, relu, y, ws);
}

void conv2d_winograd_backward_data_pre(const conv2d_desc *d, const float *w, const float *uk, int uk_mr,
                                       const float *dy, const float *mask, float *dx, float *ws) {
    const conv2d_desc t = wino_backward_desc(d);
    wino_run(&t, 1, dy, mask, NULL, w, WINO_W_FLIP, uk, (size_t)uk_mr, NULL, 0, dx, ws);
}

void conv2d_winograd_backward_data_bits(const conv2d_desc *d, const float *w, const float *uk, int uk_mr,
                                        const float *dy, const uint64_t *mask_bits, float *dx, float *ws) {
    const conv2d_desc t = wino_backward_desc(d);
    wino_run(&t, 1, dy, NULL, mask_bits, w, WINO_W_FLIP, uk, (size_t)uk_mr, NULL, 0, dx, ws);
}
