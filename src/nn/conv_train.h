/* Backward passes for "same" stride-1 convolutions used in training (conv_train.c): direct weight
 * gradients for kernels whose im2col matrix is lopsided (9x9 with 3 channels on one side), and the
 * data gradient as a Winograd or direct forward convolution of dy with the flipped kernel.
 * Conventions as nn.h: dw, db ACCUMULATED, dx OVERWRITTEN; scratch passed in as ws. */
#ifndef IMPASTO_NN_CONV_TRAIN_H
#define IMPASTO_NN_CONV_TRAIN_H

#include "nn/nn.h"

/* Stride 1, odd square kernel up to 15, pad K/2 (either padding mode). */
int conv2d_same_backward_supported(const conv2d_desc *d);

/* d describes the convolution on the x`up` nearest-upsampled input; x is the SMALL map
 * (C, H/up, W/up) as conv2d_direct_forward takes it. dy (OC, H, W) -> dw (OC, C, K, K) +=. */
size_t conv2d_direct_backward_weights_workspace(const conv2d_desc *d);
void conv2d_direct_backward_weights(const conv2d_desc *d, int up, const float *x, const float *dy, float *dw,
                                    float *ws);

/* The weight gradient of a 3x3 stride-1 pad-1 convolution (zero or reflection padding) by
 * Winograd's F(3x3, 4x4) (conv_winograd_dw.c): d on the x`up` nearest-upsampled input, x the SMALL
 * map (C, H/up, W/up); dy (OC, H, W) -> dw (OC, C, 3, 3) +=. Any size from 1x1 (2x2 reflecting). */
int conv2d_winograd_dw_supported(const conv2d_desc *d);
size_t conv2d_winograd_dw_workspace(const conv2d_desc *d);
void conv2d_winograd_backward_weights(const conv2d_desc *d, int up, const float *x, const float *dy, float *dw,
                                      float *ws);

/* w (OC, C, K, K), dy (OC, H, W) -> dx (C, H, W) overwritten (the gradient at the upsampled input
 * when the forward upsampled). */
size_t conv2d_backward_data_same_workspace(const conv2d_desc *d);
void conv2d_backward_data_same(const conv2d_desc *d, const float *w, const float *dy, float *dx, float *ws);

/* db[o] += sum of dy[o] (OC, npix), in double across chunks. */
void conv2d_backward_bias(int oc, size_t npix, const float *dy, float *db, int threads);

#endif
