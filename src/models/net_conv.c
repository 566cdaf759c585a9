/* One convolution layer of a declared network (net_conv.h), on the kernels the fast style network
 * has always trained with:
 *   forward   Winograd F(4x4, 3x3) for 3x3 stride 1 (conv_winograd.c; with up = 2 as a sub-pixel
 *             convolution of the small map, 4 of the 9 taps per output phase), the direct kernels
 *             for other odd "same" kernels (conv_direct.c, upsampling as they pad each band), else
 *             im2col + GEMM (conv2d.c);
 *   backward  of stride-1 "same" convolutions: the bias gradient as sums, the weight gradient
 *             directly for the large few-channel kernels (9x9 with 3 channels on one side, where
 *             im2col's matrix is 243 or 2592 rows per pixel for a GEMM with M or N = 3; an
 *             upsampled input padded from the small map as it goes), by Winograd's F(3x3, 4x4) for
 *             3x3 from 16 input channels (conv_winograd_dw.c, see winograd_dw; 4 times fewer
 *             multiplies, upsampling as it pads: one thread, 256 channels of 32x32 2.3 ms against
 *             6.5 - 7, TransformerNet's deconv1 at 256 px 6 ms), else by im2col + GEMM (M = OC,
 *             N = 9 C, K = pixels; an upsampled input built in scratch first); the data gradient
 *             as a forward convolution of dy with the flipped kernel (conv_train.c: Winograd for
 *             3x3, 4 times fewer multiplies than im2col's GEMM), at the upsampled input then
 *             summed back. Other convolutions by im2col + GEMM.
 *
 * Scratch (floats, from ws): with up > 1, BIG = C*H*W of the upsampled input rounded up to 16 (so
 * what follows stays 64-byte aligned).
 *   reference / im2col forward   xup (BIG) | conv2d.c's
 *   reference / im2col backward  xup (BIG) | dxup (BIG) | conv2d.c's
 *   fast backward-weights        xup (BIG) | conv2d.c's      (3x3 by im2col; Winograd's and the
 *                                                           direct kernel's own only)
 *   fast backward-data           dxup (BIG) | conv_train.c's
 * and without upsampling just the kernel's own. */
#include "models/net_conv.h"

#include "nn/conv_train.h"

static size_t big_floats(const conv2d_desc *d, int up) {
    return up > 1 ? (((size_t)d->c * (size_t)d->h * (size_t)d->w + 15) & ~(size_t)15) : 0;
}

static size_t max2(size_t a, size_t b) { return a > b ? a : b; }

/* The weight gradient by Winograd's F(3x3, 4x4) (conv_winograd_dw.c) where it beats im2col, as
 * measured on one thread: from 16 input channels (its panels hold 32: 8 -> 64 at 128x128 took 2.8
 * ms against im2col's 2.0, 16 -> 16 at 32x32 0.04 against 0.09), and with a tile of 4x4 pixels per
 * 16384 channel pairs at least (the output transform's work per pair is fixed, the savings grow with
 * the tiles: 128 channels of 8x8, 0.11 ms against 0.19; 256 of 7x7, even; 512 of 8x8, 3.1 against
 * 2.4; 512 of 16x16, 6.3 against 10). */
static int winograd_dw(const conv2d_desc *d) {
    const size_t tiles = (size_t)((d->h + 3) / 4) * (size_t)((d->w + 3) / 4);
    return conv2d_winograd_dw_supported(d) && d->c >= 16 && 16384 * tiles >= (size_t)d->c * (size_t)d->oc;
}

size_t net_conv_workspace(const conv2d_desc *d, int up, int backward) {
    const size_t big = big_floats(d, up);
    size_t need = big + conv2d_workspace(d);
    if (conv2d_winograd_supported(d)) need = max2(need, conv2d_winograd_workspace(d, up));
    else if (conv2d_direct_supported(d)) need = max2(need, conv2d_direct_workspace(d));
    if (!backward) return need;
    need = max2(need, 2 * big + conv2d_workspace(d));
    if (conv2d_same_backward_supported(d)) {
        need = max2(need, conv2d_direct_backward_weights_workspace(d));
        if (winograd_dw(d)) need = max2(need, conv2d_winograd_dw_workspace(d));
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
        else if (winograd_dw(d)) conv2d_winograd_backward_weights(d, up, x, dy, dw, ws);
        else conv2d_backward(d, upsampled(d, up, x, ws), w, dy, NULL, dw, NULL, ws + big);
    }
    if (dx) {
        float *dxup = up > 1 ? ws : dx;  /* (C, H, W), over the upsampled input: dw is done with it */
        conv2d_backward_data_same(d, w, dy, dxup, ws + big);
        if (up > 1) upsample_nearest_backward(d->c, d->h / up, d->w / up, up, dxup, dx, threads);
    }
}
