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
 * Threads: one OpenMP team per call, the GEMM single-threaded inside each member (gemm.h), so
 * the machine never runs two thread pools that spin against each other (OpenBLAS's own workers
 * spinning after each GEMM while an OpenMP team waits cost 40-70% here). Forward splits the
 * output rows between the threads, each building and multiplying its own bands in its own slice
 * of the workspace: no synchronisation at all. Backward-data splits the input CHANNELS: a thread
 * computes the dcol rows of its channels and scatters them into its own channels of dx, so the
 * overlapping input rows of neighbouring bands never race. Backward-weights builds each band's
 * columns together (split by channels), then splits the GEMM by output channel. */
#include "nn/nn.h"

#include "core/gemm.h"

#include <omp.h>
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

static int conv_threads(const conv2d_desc *d) { return d->threads > 1 ? d->threads : 1; }

/* Share `total` items among `nt` workers: worker t gets [*lo, *hi). */
static void conv_split(int total, int t, int nt, int *lo, int *hi) {
    *lo = (int)((long long)total * t / nt);
    *hi = (int)((long long)total * (t + 1) / nt);
}

size_t conv2d_workspace(const conv2d_desc *d) {
    if (conv_is_pointwise(d)) return 0;
    return (size_t)conv_threads(d) * (size_t)d->c * (size_t)d->kh * (size_t)d->kw *
           (size_t)conv_band_rows(d) * (size_t)conv2d_out_w(d);
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

/* x (C,H,W) -> col (K, rows*OW) for output rows oy0 .. oy0+rows-1; only the col rows of
 * channels c0 .. c1-1 are written. */
static void conv_im2col(const conv2d_desc *d, const float *x, int oy0, int rows, int c0, int c1,
                        float *col) {
    const int ow = conv2d_out_w(d), khw = d->kh * d->kw;
    const size_t n = (size_t)rows * (size_t)ow;
    for (int r = c0 * khw; r < c1 * khw; r++) {
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

/* dx (C,H,W) += col2im(dcol) for output rows oy0 .. oy0+rows-1 and channels c0 .. c1-1 only;
 * dcol ((c1-c0)*KH*KW, rows*OW) holds just those channels' rows. */
static void conv_col2im_add(const conv2d_desc *d, const float *dcol, int oy0, int rows, int c0,
                            int c1, float *dx) {
    const int ow = conv2d_out_w(d), khw = d->kh * d->kw;
    const size_t n = (size_t)rows * (size_t)ow;
    for (int c = c0; c < c1; c++) {
        float *dxc = dx + (size_t)c * (size_t)d->h * (size_t)d->w;
        for (int ki = 0; ki < d->kh; ki++) {
            for (int kj = 0; kj < d->kw; kj++) {
                const float *src = dcol + ((size_t)(c - c0) * (size_t)khw + (size_t)(ki * d->kw + kj)) * n;
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
    const int nthreads = conv_threads(d);
    if (conv_is_pointwise(d)) {
        /* Column chunks of the same size as a band keep the bias/ReLU pass in cache. */
        const int chunk = (int)(CONV_MIN_COLS * 4);
        const int nchunks = (int)((npix + (size_t)chunk - 1) / (size_t)chunk);
#pragma omp parallel for schedule(dynamic) num_threads(nthreads) if (nthreads > 1 && nchunks > 1)
        for (int ci = 0; ci < nchunks; ci++) {
            size_t j0 = (size_t)ci * (size_t)chunk;
            size_t n = npix - j0 < (size_t)chunk ? npix - j0 : (size_t)chunk;
            gemm(0, 0, (size_t)d->oc, n, k, 1.0f, w, k, x + j0, npix, 0.0f, y + j0, npix);
            conv_bias_relu(y + j0, d->oc, n, npix, b, relu);
        }
        return;
    }
    const int band = conv_band_rows(d);
    const size_t per_thread = k * (size_t)band * (size_t)ow;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && oh > 1)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads(), r0, r1;
        conv_split(oh, t, nt, &r0, &r1);
        float *col = ws + (size_t)t * per_thread;
        for (int oy0 = r0; oy0 < r1; oy0 += band) {
            const int rows = r1 - oy0 < band ? r1 - oy0 : band;
            const size_t n = (size_t)rows * (size_t)ow;
            float *yb = y + (size_t)oy0 * (size_t)ow;
            conv_im2col(d, x, oy0, rows, 0, d->c, col);
            gemm(0, 0, (size_t)d->oc, n, k, 1.0f, w, k, col, n, 0.0f, yb, npix);
            conv_bias_relu(yb, d->oc, n, npix, b, relu);
        }
    }
}

/* db[o] += sum of dy[o] (OC, npix), summed in double so large maps lose no precision. */
static void conv_bias_grad(const float *dy, int oc, size_t npix, float *db, int nthreads) {
#pragma omp parallel for num_threads(nthreads) if (nthreads > 1 && npix * (size_t)oc > 65536)
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
    const int khw = d->kh * d->kw;
    const size_t k = (size_t)d->c * (size_t)khw;
    const size_t oc = (size_t)d->oc;
    const int nthreads = conv_threads(d);
    if (db) conv_bias_grad(dy, d->oc, npix, db, nthreads);
    if (conv_is_pointwise(d)) {
        /* dx (C, HW) = W^T (C, OC) x dy (OC, HW), split by columns; dW (OC, C) += dy x x^T,
         * split by output channel. */
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads(), lo, hi;
            if (dx) {
                conv_split((int)npix, t, nt, &lo, &hi);
                if (hi > lo)
                    gemm(1, 0, k, (size_t)(hi - lo), oc, 1.0f, w, k, dy + lo, npix, 0.0f, dx + lo, npix);
            }
            if (dw) {
                conv_split(d->oc, t, nt, &lo, &hi);
                if (hi > lo)
                    gemm(0, 1, (size_t)(hi - lo), k, npix, 1.0f, dy + (size_t)lo * npix, npix, x, npix,
                         1.0f, dw + (size_t)lo * k, k);
            }
        }
        return;
    }
    /* Bands of nthreads times the forward band's rows fill the same workspace. */
    int band = conv_band_rows(d) * nthreads;
    if (band > oh) band = oh;
    const size_t nmax = (size_t)band * (size_t)ow;
    const size_t chw = (size_t)d->h * (size_t)d->w;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads(), c0, c1, o0, o1;
        conv_split(d->c, t, nt, &c0, &c1);
        conv_split(d->oc, t, nt, &o0, &o1);
        if (dx && c1 > c0) memset(dx + (size_t)c0 * chw, 0, (size_t)(c1 - c0) * chw * sizeof *dx);
        for (int oy0 = 0; oy0 < oh; oy0 += band) {
            const int rows = oh - oy0 < band ? oh - oy0 : band;
            const size_t n = (size_t)rows * (size_t)ow;
            const float *dyb = dy + (size_t)oy0 * (size_t)ow;
            if (dw) {
                /* The whole band's columns are shared by the GEMM: wait until every thread is
                 * done with the previous band's dcol before overwriting the buffer. */
#pragma omp barrier
                conv_im2col(d, x, oy0, rows, c0, c1, ws);
#pragma omp barrier
                if (o1 > o0)
                    gemm(0, 1, (size_t)(o1 - o0), k, n, 1.0f, dyb + (size_t)o0 * npix, npix, ws, n, 1.0f,
                         dw + (size_t)o0 * k, k);
#pragma omp barrier
            }
            if (dx && c1 > c0) {
                /* This thread's rows of dcol (its channels' taps) = W^T rows of those channels
                 * x dy band; then scattered into its own channels of dx only. Its slice of the
                 * workspace starts at a fixed offset (the full band's size), so a thread already
                 * on the next, shorter band cannot write into a slower one's slice. */
                float *dcol = ws + (size_t)c0 * (size_t)khw * nmax;
                gemm(1, 0, (size_t)(c1 - c0) * (size_t)khw, n, oc, 1.0f, w + (size_t)c0 * (size_t)khw, k,
                     dyb, npix, 0.0f, dcol, n);
                conv_col2im_add(d, dcol, oy0, rows, c0, c1, dx);
            }
        }
    }
}
