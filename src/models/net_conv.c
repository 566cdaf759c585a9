/* One convolution layer of a declared network (net_conv.h), on the kernels the fast style network
 * has always trained with:
 *   forward   Winograd F(4x4, 3x3) for 3x3 stride 1 (conv_winograd.c; with up = 2 as a sub-pixel
 *             convolution of the small map, 4 of the 9 taps per output phase), the direct kernels
 *             for other odd "same" kernels (conv_direct.c, upsampling as they pad each band), else
 *             im2col + GEMM (conv2d.c);
 *   backward  of stride-1 "same" convolutions: the bias gradient as sums, the weight gradient
 *             directly for the large few-channel kernels (9x9 with 3 channels on one side, where
 *             im2col's matrix is 243 or 2592 rows per pixel for a GEMM with M or N = 3; an
 *             upsampled input padded from the small map as it goes) and by im2col + GEMM for 3x3
 *             (M = OC, N = 9 C, K = pixels, a well shaped GEMM; an upsampled input is built in
 *             scratch first, which costs less than the direct kernel loses on 64 to 128 channels:
 *             TransformerNet's deconv1 at 256 px, 40 ms against 47, one thread); the data gradient
 *             as a forward convolution of dy with the flipped kernel (conv_train.c: Winograd for
 *             3x3, 4 times fewer multiplies than im2col's GEMM), at the upsampled input then
 *             summed back. Other convolutions by im2col + GEMM.
 *
 * Scratch (floats, from ws): with up > 1, BIG = C*H*W of the upsampled input rounded up to 16 (so
 * what follows stays 64-byte aligned).
 *   reference / im2col forward   xup (BIG) | conv2d.c's
 *   reference / im2col backward  xup (BIG) | dxup (BIG) | conv2d.c's
 *   fast backward-weights        xup (BIG) | conv2d.c's      (3x3; the direct kernel needs none)
 *   fast backward-data           dxup (BIG) | conv_train.c's
 * and without upsampling just the kernel's own. */
#include "models/net_conv.h"

#include "nn/conv_train.h"

static size_t big_floats(const conv2d_desc *d, int up) {
    return up > 1 ? (((size_t)d->c * (size_t)d->h * (size_t)d->w + 15) & ~(size_t)15) : 0;
}

static size_t max2(size_t a, size_t b) { return a > b ? a : b; }

size_t net_conv_workspace(const conv2d_desc *d, int up, int backward) {
    const size_t big = big_floats(d, up);
    size_t need = big + conv2d_workspace(d);
    if (conv2d_winograd_supported(d)) need = max2(need, conv2d_winograd_workspace(d, up));
    else if (conv2d_direct_supported(d)) need = max2(need, conv2d_direct_workspace(d));
    if (!backward) return need;
    need = max2(need, 2 * big + conv2d_workspace(d));
    if (conv2d_same_backward_supported(d)) {
        need = max2(need, conv2d_direct_backward_weights_workspace(d));
        need = max2(need, big + conv2d_backward_data_same_workspace(d));
    }
    return need;
}

/* The upsampled input (C, H, W) in ws, or x itself without upsampling. */
static const float *upsampled(const conv2d_desc *d, int up, const float *x, float *ws) {
    if (up == 1) return x;
    upsample_nearest_forward(d->c, d->h / up, d->w / up, up, x, ws, d->threads);
    return ws;
}

void net_conv_forward(const conv2d_desc *d, int up, int reference, const float *x, const float *w, const float *b,
                      float *y, float *ws) {
    if (!reference && conv2d_winograd_supported(d)) conv2d_winograd_forward(d, up, x, w, b, y, ws);
    else if (!reference && conv2d_direct_supported(d)) conv2d_direct_forward(d, up, x, w, b, y, ws);
    else conv2d_forward(d, upsampled(d, up, x, ws), w, b, y, 0, ws + big_floats(d, up));
}

void net_conv_backward(const conv2d_desc *d, int up, int reference, const float *x, const float *w, const float *dy,
                       float *dx, float *dw, float *db, float *ws) {
    const size_t big = big_floats(d, up);
    const int threads = d->threads > 1 ? d->threads : 1;
    if (reference || !conv2d_same_backward_supported(d)) {
        float *dxup = up > 1 ? ws + big : dx;  /* (C, H, W): the gradient at the upsampled input */
        conv2d_backward(d, dw ? upsampled(d, up, x, ws) : NULL, w, dy, dx ? dxup : NULL, dw, db, ws + 2 * big);
        if (dx && up > 1) upsample_nearest_backward(d->c, d->h / up, d->w / up, up, dxup, dx, threads);
        return;
    }
    if (db) conv2d_backward_bias(d->oc, (size_t)conv2d_out_h(d) * (size_t)conv2d_out_w(d), dy, db, threads);
    if (dw) {
        if (d->kh > 3) conv2d_direct_backward_weights(d, up, x, dy, dw, ws);
        else conv2d_backward(d, upsampled(d, up, x, ws), w, dy, NULL, dw, NULL, ws + big);
    }
    if (dx) {
        float *dxup = up > 1 ? ws : dx;  /* (C, H, W), over the upsampled input: dw is done with it */
        conv2d_backward_data_same(d, w, dy, dxup, ws + big);
        if (up > 1) upsample_nearest_backward(d->c, d->h / up, d->w / up, up, dxup, dx, threads);
    }
}
