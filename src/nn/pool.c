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

/* The cell of a window whose route bit is set (pool_forward_route), -1 if none. */
static long pool_route_cell(const uint64_t *rc, int w, pool_span ry, pool_span rx) {
    for (int iy = ry.lo; iy < ry.hi; iy++)
        for (int ix = rx.lo; ix < rx.hi; ix++)
            if (bitmap_get(rc, (size_t)iy * (size_t)w + (size_t)ix)) return (long)iy * w + ix;
    return -1;
}

int pool_route_supported(const pool_desc *d) { return d->kind == POOL_MAX && d->k <= d->stride; }

/* x (C,H,W) -> y (C,OH,OW); route (C planes of H*W bits) or NULL. An empty window (only with a pad
 * larger than PyTorch allows) gives 0. */
static void pool_forward_impl(const pool_desc *d, const float *x, float *y, uint64_t *route) {
    const int oh = pool_out_h(d), ow = pool_out_w(d);
    const size_t hw = (size_t)d->h * (size_t)d->w, ohw = (size_t)oh * (size_t)ow, plane = bitmap_plane_words(hw);
#pragma omp parallel for schedule(static) if ((size_t)d->c * hw >= POOL_PAR_MIN)
    for (int c = 0; c < d->c; c++) {
        const float *xc = x + (size_t)c * hw;
        float *yc = y + (size_t)c * ohw;
        uint64_t *rc = route ? route + (size_t)c * plane : NULL;
        if (rc) memset(rc, 0, plane * sizeof *rc);
        for (int oy = 0; oy < oh; oy++) {
            pool_span ry = pool_window(oy, d->k, d->stride, d->pad, d->h);
            for (int ox = 0; ox < ow; ox++) {
                pool_span rx = pool_window(ox, d->k, d->stride, d->pad, d->w);
                float out = 0.0f;
                if (d->kind == POOL_MAX) {
                    long i = pool_argmax(xc, d->w, ry, rx);
                    if (i >= 0) out = xc[i];
                    if (i >= 0 && rc) rc[(size_t)i >> 6] |= (uint64_t)1 << ((size_t)i & 63);
                } else {
                    float s = 0.0f;
                    for (int iy = ry.lo; iy < ry.hi; iy++)
                        for (int ix = rx.lo; ix < rx.hi; ix++) s += xc[(size_t)iy * d->w + ix];
                    if (ry.padded > 0 && rx.padded > 0) out = s / (float)(ry.padded * rx.padded);
                }
                yc[(size_t)oy * ow + ox] = out;
            }
        }
    }
}

void pool_forward(const pool_desc *d, const float *x, float *y) { pool_forward_impl(d, x, y, NULL); }

void pool_forward_route(const pool_desc *d, const float *x, float *y, uint64_t *route) {
    pool_forward_impl(d, x, y, route);
}

/* dy (C,OH,OW) -> dx (C,H,W) overwritten; max pooling finds each window's cell from x (C,H,W) or,
 * when given, from route (C planes). Windows may overlap (K > S), so gradients are added into the
 * zeroed channel. */
static void pool_backward_impl(const pool_desc *d, const float *x, const uint64_t *route, const float *dy,
                               float *dx) {
    const int oh = pool_out_h(d), ow = pool_out_w(d);
    const size_t hw = (size_t)d->h * (size_t)d->w, ohw = (size_t)oh * (size_t)ow, plane = bitmap_plane_words(hw);
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
                    long i = route ? pool_route_cell(route + (size_t)c * plane, d->w, ry, rx)
                                   : pool_argmax(x + (size_t)c * hw, d->w, ry, rx);
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

void pool_backward(const pool_desc *d, const float *x, const float *dy, float *dx) {
    pool_backward_impl(d, x, NULL, dy, dx);
}

void pool_backward_route(const pool_desc *d, const uint64_t *route, const float *dy, float *dx) {
    pool_backward_impl(d, NULL, route, dy, dx);
}
