/* Transposed convolution (PyTorch's ConvTranspose2d; Dumoulin & Visin 2016, "A guide to convolution
 * arithmetic for deep learning", section 4), the upsampling layer of CycleGAN's ResnetGenerator
 * (k3, stride 2, pad 1, output_padding 1) and pix2pix's UnetGenerator (k4, stride 2, pad 1):
 *
 *   y[o][i*S - P + ki][j*S - P + kj] += x[c][i][j] w[c][o][ki][kj]   (taps outside y dropped),
 *   then y[o] += b[o].
 *
 * That is the input gradient of the zero-padded convolution G: (OC,OH,OW) -> (C,H,W) whose weight
 * (G's output channels C first, then its input channels OC) is w as PyTorch stores it, with the
 * same stride and pad. G's output size (OH + 2P - K) / S + 1 = ((H-1) S + out_pad) / S + 1 is H
 * exactly because 0 <= out_pad < S: the output padding adds rows and columns at the far edge too
 * few to hold another window of G (they receive only the taps that reach them, or stay at the
 * bias). So with conv2d.c's im2col + GEMM:
 *
 *   forward          y = G^T x       conv2d_backward's data gradient, with x as G's output gradient
 *   input gradient   dx = G dy       a forward convolution of dy, no bias: conv_direct.c's when it
 *                                    takes G (odd kernels: CycleGAN's 3x3 stride 2, with AVX-512
 *                                    3.4 ms against im2col + GEMM's 4.9 for 64 x 128 x 128 -> 128,
 *                                    3.1 against 3.7 for 128 x 64 x 64 -> 256, one thread), else
 *                                    conv2d_forward
 *   weight gradient  dw[c][o][ki][kj] += sum_ij x[c][i][j] dy[o][i*S - P + ki][j*S - P + kj]:
 *                                    conv2d_backward's weight gradient with dy as G's input and x
 *                                    as G's output gradient
 *   bias gradient    db[o] += sum of dy[o]
 *
 * conv2d_backward overwrites its dx, accumulates dw and skips whichever of dx, dw, db is NULL
 * (needing its input only for dw), so the forward and the weight gradient are each one call with
 * the other outputs NULL; its own db would sum over G's output channels (our input), so the
 * bias gradient is computed here. Threads and workspace are G's. */
#include "nn/nn.h"

#include "nn/conv_train.h"

/* Below this many output values one thread adds the bias faster than a team is forked. */
#define CONVT_PAR_MIN ((size_t)1 << 16)

/* Output size along one axis, or 0 for a shape PyTorch would refuse. */
static int convt_out(int in, int k, int stride, int pad, int out_pad) {
    if (in <= 0 || k <= 0 || stride <= 0 || pad < 0 || out_pad < 0 || out_pad >= stride) return 0;
    long long o = (long long)(in - 1) * stride - 2LL * pad + k + out_pad;
    return o > 0 && o <= 0x7fffffff ? (int)o : 0;
}

int convt_out_h(const convt_desc *d) { return convt_out(d->h, d->k, d->stride, d->pad, d->out_pad); }
int convt_out_w(const convt_desc *d) { return convt_out(d->w, d->k, d->stride, d->pad, d->out_pad); }

/* G, the convolution (OC,OH,OW) -> (C,H,W) this layer transposes. */
static conv2d_desc convt_conv(const convt_desc *d) {
    conv2d_desc g = {d->oc, convt_out_h(d), convt_out_w(d), d->c, d->k, d->k, d->stride, d->pad, PAD_ZERO,
                     d->threads};
    return g;
}

/* A usable shape: both output sizes positive and G mapping them back onto exactly H x W. */
static int convt_valid(const convt_desc *d, conv2d_desc *g) {
    if (d->c <= 0 || d->oc <= 0) return 0;
    *g = convt_conv(d);
    return g->h > 0 && g->w > 0 && conv2d_out_h(g) == d->h && conv2d_out_w(g) == d->w;
}

size_t convt_workspace(const convt_desc *d) {
    conv2d_desc g;
    if (!convt_valid(d, &g)) return 0;
    const size_t a = conv2d_workspace(&g), b = conv2d_direct_supported(&g) ? conv2d_direct_workspace(&g) : 0;
    return a > b ? a : b;
}

void convt_forward(const convt_desc *d, const float *x, const float *w, const float *b, float *y, float *ws) {
    conv2d_desc g;
    if (!convt_valid(d, &g)) return;
    conv2d_backward(&g, NULL, w, x, y, NULL, NULL, ws);
    if (!b) return;
    const size_t npix = (size_t)g.h * (size_t)g.w;
    const int nthreads = d->threads > 1 ? d->threads : 1;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && npix * (size_t)d->oc >= CONVT_PAR_MIN)
    for (int o = 0; o < d->oc; o++) {
        float *row = y + (size_t)o * npix;
        const float bias = b[o];
#pragma omp simd
        for (size_t i = 0; i < npix; i++) row[i] += bias;
    }
}

void convt_backward(const convt_desc *d, const float *x, const float *w, const float *dy, float *dx, float *dw,
                    float *db, float *ws) {
    conv2d_desc g;
    if (!convt_valid(d, &g)) return;
    if (db) conv2d_backward_bias(d->oc, (size_t)g.h * (size_t)g.w, dy, db, d->threads);
    if (dx) {
        if (conv2d_direct_supported(&g)) conv2d_direct_forward(&g, 1, dy, w, NULL, dx, ws);
        else conv2d_forward(&g, dy, w, NULL, dx, 0, ws);
    }
    if (dw) conv2d_backward(&g, dy, w, x, NULL, dw, NULL, ws);
}
