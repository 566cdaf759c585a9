/* Shared by the direct and Winograd convolutions (conv_direct.c, conv_winograd.c). */
#ifndef IMPASTO_NN_CONV_INTERNAL_H
#define IMPASTO_NN_CONV_INTERNAL_H

#include "nn/nn.h"

/* xp (C, rows, pw) = rows y0 - pad .. y0 - pad + rows - 1 of the x`up` nearest-upsampled input,
 * padded by d->pad on each side as d->padding says (x is the small map (C, H/up, W/up), d the
 * convolution on the upsampled one, pad < H and W); columns from W + 2 pad to pw, and rows past
 * H - 1 + pad, are zero. pw >= W + 2 pad. */
void conv_pad_band(const conv2d_desc *d, int up, const float *x, int y0, int rows, int pw, float *xp);

#endif
