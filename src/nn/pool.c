/* Max and average pooling with PyTorch's geometry (torch.nn.MaxPool2d / AvgPool2d, which is
 * also what loadcaffe's ceil-mode pooling for neural-style computes):
 *   out = floor_or_ceil((in + 2P - K) / S) + 1, and in ceil mode one less if the last window
 *   would start at or beyond in + P (it must start inside the input or the left padding).
 * Window (oy, ox) covers rows oy*S - P .. oy*S - P + K - 1, clipped to the input. */
#include "nn/nn.h"

#include <math.h>
#include <string.h>

#define POOL_PAR_MIN ((size_t)1 << 18)

static int pool_out(int in, int k, int stride, int pad, int ceil_mode) {
    int span = in + 2 * pad - k;
    if (in <= 0 || k <= 0 || stride <= 0 || span < 0) return 0;
    int out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    if (ceil_mode && (out - 1) * stride >= in + pad) out--;
    return out;
}

int pool_out_h(const pool_desc *d) { return pool_out(d->h, d->k, d->stride, d->pad, d->ceil_mode); }
int pool_out_w(const pool_desc *d) { return pool_out(d->w, d->k, d->stride, d->pad, d->ceil_mode); }

/* A window along one axis: [lo, hi) inside the input, and the count of cells inside the padded
 * input [-P, in + P) that average pooling divides by (count_include_pad=True). */
typedef struct pool_span {
    int lo, hi, padded;
} pool_span;

static pool_span pool_window(int o, int k, int stride, int pad, int in) {
    pool_span s;
    int start = o * stride - pad, end = start + k;
    if (end > in + pad) end = in + pad;
    s.padded = end - start;
    s.lo = start < 0 ? 0 : start;
    s.hi = end > in ? in : end;
    return s;
}

/* Flat index (into one channel) of the first maximum of a window, as PyTorch picks it (a NaN
 * wins, so it propagates); -1 for an empty window. */
static long pool_argmax(const float *xc, int w, pool_span ry, pool_span rx) {
    long best = -1;
    float m = -INFINITY;
    for (int iy = ry.lo; iy < ry.hi; iy++) {
        for (int ix = rx.lo; ix < rx.hi; ix++) {
            float v = xc[(long)iy * w + ix];
            if (best < 0 || v > m || isnan(v)) {
                best = (long)iy * w + ix;
                m = v;
                if (isnan(v)) return best;
            }
        }
    }
    return best;
}

int pool_route_supported(const pool_desc *d) { return d->kind == POOL_MAX && d->k <= d->stride; }

/* Output (oy, ox) of channel xc (H, W); with rc (its route plane), the winning cell's bit set. An
 * empty window (only with a pad larger than PyTorch allows) gives 0. */
static float pool_window_out(const pool_desc *d, const float *xc, int oy, int ox, uint64_t *rc) {
    const pool_span ry = pool_window(oy, d->k, d->stride, d->pad, d->h);
    const pool_span rx = pool_window(ox, d->k, d->stride, d->pad, d->w);
    if (d->kind == POOL_MAX) {
        const long i = pool_argmax(xc, d->w, ry, rx);
        if (i < 0) return 0.0f;
        if (rc) rc[(size_t)i >> 6] |= (uint64_t)1 << ((size_t)i & 63);
        return xc[i];
    }
    float s = 0.0f;
    for (int iy = ry.lo; iy < ry.hi; iy++)
        for (int ix = rx.lo; ix < rx.hi; ix++) s += xc[(size_t)iy * d->w + ix];
    return ry.padded > 0 && rx.padded > 0 ? s / (float)(ry.padded * rx.padded) : 0.0f;
}

/* VGG's pooling (max, 2x2, stride 2, no pad): its whole windows without pool_window's clipping.
 * n (<= POOL_RUN) windows of one output row, read from whole input rows r0 and r1: y[j] is the
 * first maximum in reading order, as pool_argmax picks it (a NaN wins); *w0 and *w1 get the route
 * bits of row r0's and row r1's 2n cells (bit 2j or 2j + 1 set for the winner of window j).
 * Three passes of one select each, so that each vectorises (a chain of three selects in one loop did
 * not): the first maximum of the top pair, of the bottom pair, then of the two, which is the first
 * maximum of the four (a NaN on top stays; one below wins; ties go to the top). (v == v) & (... |
 * w != w): v is not a NaN, and w beats it or is one. */
#define POOL_RUN 16
static int pool_is_2x2(const pool_desc *d) { return d->kind == POOL_MAX && d->k == 2 && d->stride == 2 && d->pad == 0; }

static const uint32_t pool_even_bit[POOL_RUN] = {1u << 0,  1u << 2,  1u << 4,  1u << 6,  1u << 8,  1u << 10,
                                                 1u << 12, 1u << 14, 1u << 16, 1u << 18, 1u << 20, 1u << 22,
                                                 1u << 24, 1u << 26, 1u << 28, 1u << 30};

/* The first maximum m[j] of each pair r[2j], r[2j + 1], and right[j] = 1 when it is the second. */
static inline void pool_pair_max(const float *r, int n, float *m, int *right) {
#pragma omp simd
    for (int j = 0; j < n; j++) {
        const float a = r[2 * j], b = r[2 * j + 1];
        const int t = (a == a) & ((b > a) | (b != b));
        m[j] = t ? b : a;
        right[j] = t;
    }
}

static void pool_max2x2_run(const float *r0, const float *r1, int n, float *y, uint32_t *w0, uint32_t *w1) {
    float top[POOL_RUN], bot[POOL_RUN];
    int top_right[POOL_RUN], bot_right[POOL_RUN];
    pool_pair_max(r0, n, top, top_right);
    pool_pair_max(r1, n, bot, bot_right);
    uint32_t u0 = 0, u1 = 0;
#pragma omp simd reduction(| : u0, u1)
    for (int j = 0; j < n; j++) {
        const float mt = top[j], mb = bot[j];
        const int t = (mt == mt) & ((mb > mt) | (mb != mb));
        y[j] = t ? mb : mt;
        const uint32_t left = pool_even_bit[j], right = left << 1;
        const uint32_t cell = (t ? bot_right[j] : top_right[j]) ? right : left;
        u0 |= t ? 0u : cell;
        u1 |= t ? cell : 0u;
    }
    *w0 = u0;
    *w1 = u1;
}

/* x (C,H,W) -> y (C,OH,OW); route (C planes of H*W bits) or NULL. */
static void pool_forward_impl(const pool_desc *d, const float *x, float *y, uint64_t *route) {
    const int oh = pool_out_h(d), ow = pool_out_w(d), fast = pool_is_2x2(d);
    const size_t hw = (size_t)d->h * (size_t)d->w, ohw = (size_t)oh * (size_t)ow, plane = bitmap_plane_words(hw);
#pragma omp parallel for schedule(static) if ((size_t)d->c * hw >= POOL_PAR_MIN)
    for (int c = 0; c < d->c; c++) {
        const float *xc = x + (size_t)c * hw;
        float *yc = y + (size_t)c * ohw;
        uint64_t *rc = route ? route + (size_t)c * plane : NULL;
        if (rc) memset(rc, 0, plane * sizeof *rc);
        for (int oy = 0; oy < oh; oy++) {
            int ox = 0;
            if (fast && 2 * oy + 1 < d->h) {
                /* The windows wholly inside the input; a ceil-mode last column is left below. */
                const size_t i0 = (size_t)(2 * oy) * (size_t)d->w, i1 = i0 + (size_t)d->w;
                for (; ox < d->w / 2; ox += POOL_RUN) {
                    const int n = d->w / 2 - ox < POOL_RUN ? d->w / 2 - ox : POOL_RUN;
                    uint32_t w0, w1;
                    pool_max2x2_run(xc + i0 + 2 * (size_t)ox, xc + i1 + 2 * (size_t)ox, n, yc + (size_t)oy * ow + ox,
                                    &w0, &w1);
                    if (rc) {
                        bitmap_or32(rc, i0 + 2 * (size_t)ox, w0);
                        bitmap_or32(rc, i1 + 2 * (size_t)ox, w1);
                    }
                }
                ox = d->w / 2;
            }
            for (; ox < ow; ox++) yc[(size_t)oy * ow + ox] = pool_window_out(d, xc, oy, ox, rc);
        }
    }
}

void pool_forward(const pool_desc *d, const float *x, float *y) { pool_forward_impl(d, x, y, NULL); }

void pool_forward_route(const pool_desc *d, const float *x, float *y, uint64_t *route) {
    pool_forward_impl(d, x, y, route);
}

/* dy (C,OH,OW) -> dx (C,H,W) overwritten; max pooling finds each window's cell from x (C,H,W).
 * Windows may overlap (K > S), so gradients are added into the zeroed channel. */
void pool_backward(const pool_desc *d, const float *x, const float *dy, float *dx) {
    const int oh = pool_out_h(d), ow = pool_out_w(d);
    const size_t hw = (size_t)d->h * (size_t)d->w, ohw = (size_t)oh * (size_t)ow;
#pragma omp parallel for schedule(static) if ((size_t)d->c * hw >= POOL_PAR_MIN)
    for (int c = 0; c < d->c; c++) {
        const float *dyc = dy + (size_t)c * ohw;
        float *dxc = dx + (size_t)c * hw;
        memset(dxc, 0, hw * sizeof *dxc);
        for (int oy = 0; oy < oh; oy++) {
            pool_span ry = pool_window(oy, d->k, d->stride, d->pad, d->h);
            for (int ox = 0; ox < ow; ox++) {
                pool_span rx = pool_window(ox, d->k, d->stride, d->pad, d->w);
                float g = dyc[(size_t)oy * ow + ox];
                if (d->kind == POOL_MAX) {
                    long i = pool_argmax(x + (size_t)c * hw, d->w, ry, rx);
                    if (i >= 0) dxc[i] += g;
                } else if (ry.padded > 0 && rx.padded > 0) {
                    float share = g / (float)(ry.padded * rx.padded);
                    for (int iy = ry.lo; iy < ry.hi; iy++)
                        for (int ix = rx.lo; ix < rx.hi; ix++) dxc[(size_t)iy * d->w + ix] += share;
                }
            }
        }
    }
}

/* With K <= S the windows never overlap and a cell's route bit is set only if it won its window
 * (oy, ox) = ((iy + P) / S, (ix + P) / S), so each row of dx is a bitmap_select of dy's row
 * stretched S times (an unset bit, including a cell no window covers, gives 0). */
void pool_backward_route(const pool_desc *d, const uint64_t *route, const float *dy, float *dx) {
    const int oh = pool_out_h(d), ow = pool_out_w(d), s = d->stride;
    const size_t hw = (size_t)d->h * (size_t)d->w, ohw = (size_t)oh * (size_t)ow, plane = bitmap_plane_words(hw);
#pragma omp parallel for schedule(static) if ((size_t)d->c * hw >= POOL_PAR_MIN)
    for (int c = 0; c < d->c; c++) {
        const uint64_t *rc = route + (size_t)c * plane;
        for (int iy = 0; iy < d->h; iy++) {
            const int oy = (iy + d->pad) / s;
            float *dxr = dx + (size_t)c * hw + (size_t)iy * d->w;
            if (oy >= oh) {
                memset(dxr, 0, (size_t)d->w * sizeof *dxr);
                continue;
            }
            const float *dyr = dy + (size_t)c * ohw + (size_t)oy * ow;
            /* Column ix's window is ox = (ix + P) / S, counted up rather than divided per cell. */
            float wide[2 * POOL_RUN];
            int ox = d->pad / s, phase = d->pad % s;
            for (int ix0 = 0; ix0 < d->w; ix0 += 2 * POOL_RUN) {
                const int n = d->w - ix0 < 2 * POOL_RUN ? d->w - ix0 : 2 * POOL_RUN;
                for (int j = 0; j < n; j++) {
                    wide[j] = ox < ow ? dyr[ox] : 0.0f;
                    if (++phase == s) phase = 0, ox++;
                }
                bitmap_select(rc, (size_t)iy * d->w + (size_t)ix0, (size_t)n, wide, dxr + ix0);
            }
        }
    }
}
