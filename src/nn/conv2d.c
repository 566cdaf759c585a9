/* 2-D convolution (cross-correlation, as Caffe and PyTorch define it) by im2col + GEMM
 * (Chellapilla et al. 2006, "High performance convolutional neural networks for document
 * processing"), built a BAND of output rows at a time so the column matrix stays bounded:
 *
 *   y[:, band] (OC, n) = W (OC, K) x col (K, n),   K = C*KH*KW, n = band_rows*OW
 *   col row r = (c, ki, kj), column (oy, ox) = x[c][oy*S - P + ki][ox*S - P + kj]
 *
 * Backward (the transposed products of the same factorisation):
 *   dcol (K, n) = W^T x dy[:, band], scattered back by col2im into dx (adjoint of im2col);
 *   dW (OC, K) += dy[:, band] x col^T;  db[o] += sum of dy[o].
 * Each band writes its slice of y in place through ldc = OH*OW, so no output copy is made.
 * Padded taps read 0 (zero padding) or the mirror pixel without repeating the edge (PyTorch's
 * ReflectionPad2d: index -1 -> 1, H -> H-2); in col2im their gradient is added to that mirror
 * pixel, which makes col2im the exact adjoint of im2col in both modes.
 *
 * Threads: only the GEMM's (OpenBLAS's). im2col, col2im and the bias/ReLU pass run on the
 * calling thread, on purpose: after each GEMM OpenBLAS's workers keep spinning for a while, so
 * an OpenMP team started between two GEMMs fights them for the cores, and its own idle members
 * then spin through the next GEMM. Measured on the 2-core target, VGG-19 to relu5_1 at 512x512,
 * forward + backward: 3.4-3.7 s this way, 5.2-5.9 s with these loops in OpenMP teams (im2col
 * 0.12-0.4 against 0.45-0.6 s, col2im 0.13 against 0.4-0.5 s, and the GEMMs themselves 2.8
 * against 3.7-4.0 s); with other processes loading the machine the gap was wider still. */
#include "nn/nn.h"

#include "core/gemm.h"

#include <string.h>

/* The column buffer aims at this many floats (8 MB, about a quarter of the shared L3) ... */
#define CONV_BAND_FLOATS ((size_t)2 << 20)
/* ... but never fewer than this many GEMM columns, below which OpenBLAS loses efficiency. */
#define CONV_MIN_COLS ((size_t)1024)

static int conv_out(int in, int k, int stride, int pad) {
    int span = in + 2 * pad - k;
    if (in <= 0 || k <= 0 || stride <= 0 || span < 0) return 0;
    return span / stride + 1;
}

int conv2d_out_h(const conv2d_desc *d) { return conv_out(d->h, d->kh, d->stride, d->pad); }
int conv2d_out_w(const conv2d_desc *d) { return conv_out(d->w, d->kw, d->stride, d->pad); }

/* A 1x1 stride-1 unpadded convolution is already a GEMM on x viewed as (C, H*W). */
static int conv_is_pointwise(const conv2d_desc *d) {
    return d->kh == 1 && d->kw == 1 && d->stride == 1 && d->pad == 0;
}

/* Rows per band: as many as fit CONV_BAND_FLOATS, raised to reach CONV_MIN_COLS columns, then
 * evened out so the last band is not a sliver (ceil(OH / number of bands)). */
static int conv_band_rows(const conv2d_desc *d) {
    int oh = conv2d_out_h(d), ow = conv2d_out_w(d);
    if (oh <= 0 || ow <= 0) return 0;
    size_t k = (size_t)d->c * (size_t)d->kh * (size_t)d->kw;
    size_t cols = CONV_BAND_FLOATS / k;
    if (cols < CONV_MIN_COLS) cols = CONV_MIN_COLS;
    size_t rows = cols / (size_t)ow;
    if (rows < 1) rows = 1;
    if (rows > (size_t)oh) rows = (size_t)oh;
    size_t nbands = ((size_t)oh + rows - 1) / rows;
    return (int)(((size_t)oh + nbands - 1) / nbands);
}

size_t conv2d_workspace(const conv2d_desc *d) {
    if (conv_is_pointwise(d)) return 0;
    return (size_t)d->c * (size_t)d->kh * (size_t)d->kw * (size_t)conv_band_rows(d) *
           (size_t)conv2d_out_w(d);
}

/* Mirror index for reflection padding (period 2(n-1)), valid for any i so that a pad larger than
 * the image cannot read out of bounds. */
static int conv_reflect(int i, int n) {
    if (n == 1) return 0;
    int period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

/* Output columns [lo, hi) whose tap ix = ox*S + off falls inside 0..w-1. */
static void conv_valid_range(int off, int stride, int w, int ow, int *lo, int *hi) {
    int a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int b = off > w - 1 ? 0 : (w - 1 - off) / stride + 1;
    if (a > ow) a = ow;
    if (b > ow) b = ow;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

/* One im2col row segment: dst[ox] = src[ox*S + off] for ox < ow, src a row of w pixels. */
static void conv_gather_row(const float *src, int w, float *dst, int ow, int stride, int off,
                            pad_mode mode) {
    int lo, hi;
    conv_valid_range(off, stride, w, ow, &lo, &hi);
    if (stride == 1) {
        memcpy(dst + lo, src + lo + off, (size_t)(hi - lo) * sizeof *dst);
    } else {
        for (int ox = lo; ox < hi; ox++) dst[ox] = src[ox * stride + off];
    }
    if (mode == PAD_ZERO) {
        for (int ox = 0; ox < lo; ox++) dst[ox] = 0.0f;
        for (int ox = hi; ox < ow; ox++) dst[ox] = 0.0f;
    } else {
        for (int ox = 0; ox < lo; ox++) dst[ox] = src[conv_reflect(ox * stride + off, w)];
        for (int ox = hi; ox < ow; ox++) dst[ox] = src[conv_reflect(ox * stride + off, w)];
    }
}

/* The adjoint of conv_gather_row: dst[ox*S + off] += src[ox] (padded taps folded back onto
 * their mirror pixel, or dropped for zero padding). */
static void conv_scatter_row(const float *src, int w, float *dst, int ow, int stride, int off,
                             pad_mode mode) {
    int lo, hi;
    conv_valid_range(off, stride, w, ow, &lo, &hi);
    if (stride == 1) {
        float *d = dst + off;
#pragma omp simd
        for (int ox = lo; ox < hi; ox++) d[ox] += src[ox];
    } else {
        for (int ox = lo; ox < hi; ox++) dst[ox * stride + off] += src[ox];
    }
    if (mode == PAD_REFLECT) {
        for (int ox = 0; ox < lo; ox++) dst[conv_reflect(ox * stride + off, w)] += src[ox];
        for (int ox = hi; ox < ow; ox++) dst[conv_reflect(ox * stride + off, w)] += src[ox];
    }
}

/* x (C,H,W) -> col (K, rows*OW) for output rows oy0 .. oy0+rows-1. */
static void conv_im2col(const conv2d_desc *d, const float *x, int oy0, int rows, float *col) {
    const int ow = conv2d_out_w(d), khw = d->kh * d->kw;
    const int k = d->c * khw;
    const size_t n = (size_t)rows * (size_t)ow;
    for (int r = 0; r < k; r++) {
        const int c = r / khw, ki = (r % khw) / d->kw, kj = r % d->kw;
        const float *xc = x + (size_t)c * (size_t)d->h * (size_t)d->w;
        float *dst = col + (size_t)r * n;
        for (int j = 0; j < rows; j++) {
            int iy = (oy0 + j) * d->stride - d->pad + ki;
            float *drow = dst + (size_t)j * (size_t)ow;
            if (iy < 0 || iy >= d->h) {
                if (d->padding == PAD_ZERO) {
                    memset(drow, 0, (size_t)ow * sizeof *drow);
                    continue;
                }
                iy = conv_reflect(iy, d->h);
            }
            conv_gather_row(xc + (size_t)iy * (size_t)d->w, d->w, drow, ow, d->stride,
                            kj - d->pad, d->padding);
        }
    }
}

/* dx (C,H,W) += col2im(dcol (K, rows*OW)) for output rows oy0 .. oy0+rows-1. */
static void conv_col2im_add(const conv2d_desc *d, const float *dcol, int oy0, int rows,
                            float *dx) {
    const int ow = conv2d_out_w(d), khw = d->kh * d->kw;
    const size_t n = (size_t)rows * (size_t)ow;
    for (int c = 0; c < d->c; c++) {
        float *dxc = dx + (size_t)c * (size_t)d->h * (size_t)d->w;
        for (int ki = 0; ki < d->kh; ki++) {
            for (int kj = 0; kj < d->kw; kj++) {
                const float *src = dcol + ((size_t)c * (size_t)khw + (size_t)(ki * d->kw + kj)) * n;
                for (int j = 0; j < rows; j++) {
                    int iy = (oy0 + j) * d->stride - d->pad + ki;
                    if (iy < 0 || iy >= d->h) {
                        if (d->padding == PAD_ZERO) continue;
                        iy = conv_reflect(iy, d->h);
                    }
                    conv_scatter_row(src + (size_t)j * (size_t)ow, d->w,
                                     dxc + (size_t)iy * (size_t)d->w, ow, d->stride,
                                     kj - d->pad, d->padding);
                }
            }
        }
    }
}

/* y (OC, n) with row stride ld: y += b[o], then max(y, 0) when relu; done per band while the
 * band is still in cache. */
static void conv_bias_relu(float *y, int oc, size_t n, size_t ld, const float *b, int relu) {
    if (!b && !relu) return;
    for (int o = 0; o < oc; o++) {
        float *row = y + (size_t)o * ld;
        const float bias = b ? b[o] : 0.0f;
        if (relu) {
#pragma omp simd
            for (size_t i = 0; i < n; i++) {
                float v = row[i] + bias;
                row[i] = v > 0.0f ? v : 0.0f;
            }
        } else {
#pragma omp simd
            for (size_t i = 0; i < n; i++) row[i] += bias;
        }
    }
}

void conv2d_forward(const conv2d_desc *d, const float *x, const float *w, const float *b,
                    float *y, int relu, float *ws) {
    const int oh = conv2d_out_h(d), ow = conv2d_out_w(d);
    if (oh <= 0 || ow <= 0) return;
    const size_t npix = (size_t)oh * (size_t)ow;
    const size_t k = (size_t)d->c * (size_t)d->kh * (size_t)d->kw;
    if (conv_is_pointwise(d)) {
        /* Column chunks of the same size as a band keep the bias/ReLU pass in cache. */
        size_t chunk = CONV_MIN_COLS * 4;
        for (size_t j0 = 0; j0 < npix; j0 += chunk) {
            size_t n = npix - j0 < chunk ? npix - j0 : chunk;
            gemm(0, 0, (size_t)d->oc, n, k, 1.0f, w, k, x + j0, npix, 0.0f, y + j0, npix);
            conv_bias_relu(y + j0, d->oc, n, npix, b, relu);
        }
        return;
    }
    const int band = conv_band_rows(d);
    for (int oy0 = 0; oy0 < oh; oy0 += band) {
        const int rows = oh - oy0 < band ? oh - oy0 : band;
        const size_t n = (size_t)rows * (size_t)ow;
        float *yb = y + (size_t)oy0 * (size_t)ow;
        conv_im2col(d, x, oy0, rows, ws);
        gemm(0, 0, (size_t)d->oc, n, k, 1.0f, w, k, ws, n, 0.0f, yb, npix);
        conv_bias_relu(yb, d->oc, n, npix, b, relu);
    }
}

/* db[o] += sum of dy[o] (OC, npix), summed in double so large maps lose no precision. */
static void conv_bias_grad(const float *dy, int oc, size_t npix, float *db) {
    for (int o = 0; o < oc; o++) {
        const float *row = dy + (size_t)o * npix;
        double s = 0.0;
        for (size_t i = 0; i < npix; i++) s += row[i];
        db[o] += (float)s;
    }
}

void conv2d_backward(const conv2d_desc *d, const float *x, const float *w, const float *dy,
                     float *dx, float *dw, float *db, float *ws) {
    const int oh = conv2d_out_h(d), ow = conv2d_out_w(d);
    if (oh <= 0 || ow <= 0) return;
    const size_t npix = (size_t)oh * (size_t)ow;
    const size_t k = (size_t)d->c * (size_t)d->kh * (size_t)d->kw;
    const size_t oc = (size_t)d->oc;
    if (db) conv_bias_grad(dy, d->oc, npix, db);
    if (conv_is_pointwise(d)) {
        /* dx (C, HW) = W^T (C, OC) x dy (OC, HW); dW (OC, C) += dy x x^T. */
        if (dx) gemm(1, 0, k, npix, oc, 1.0f, w, k, dy, npix, 0.0f, dx, npix);
        if (dw) gemm(0, 1, oc, k, npix, 1.0f, dy, npix, x, npix, 1.0f, dw, k);
        return;
    }
    if (dx) memset(dx, 0, (size_t)d->c * (size_t)d->h * (size_t)d->w * sizeof *dx);
    const int band = conv_band_rows(d);
    for (int oy0 = 0; oy0 < oh; oy0 += band) {
        const int rows = oh - oy0 < band ? oh - oy0 : band;
        const size_t n = (size_t)rows * (size_t)ow;
        const float *dyb = dy + (size_t)oy0 * (size_t)ow;
        if (dw) {
            conv_im2col(d, x, oy0, rows, ws);
            gemm(0, 1, oc, k, n, 1.0f, dyb, npix, ws, n, 1.0f, dw, k);
        }
        if (dx) {
            /* Consecutive bands read overlapping input rows when KH > S; col2im adds, so the
             * overlap sums correctly into dx zeroed above. */
            gemm(1, 0, k, n, oc, 1.0f, w, k, dyb, npix, 0.0f, ws, n);
            conv_col2im_add(d, ws, oy0, rows, dx);
        }
    }
}
