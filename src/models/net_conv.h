/* One convolution layer of a declared network's plan (net_plan.c): which kernel runs it and the
 * scratch it needs. Split from net_plan.c along the seam between "which buffers, in which order"
 * (the plan) and "how one convolution runs" (here).
 *
 * d describes the convolution as PyTorch sees it: on its input upsampled by `up` (nearest, a
 * whole factor; 1: none), so d->h and d->w are the upsampled sides. x is always the SMALL map
 * (C, H/up, W/up): the upsampled one is never stored, only built in scratch where a kernel has no
 * upsampling of its own (the reference path, and the data gradient, which is computed at the
 * upsampled input and then summed back over each up x up block). */
#ifndef IMPASTO_MODELS_NET_CONV_H
#define IMPASTO_MODELS_NET_CONV_H

#include "nn/nn.h"

#include <stddef.h>

/* Floats of scratch for the passes of d: the forward only, or (backward != 0) both. */
size_t net_conv_workspace(const conv2d_desc *d, int up, int backward);

/* x (C, H/up, W/up), w (OC, C, K, K), b (OC) or NULL -> y (OC, OH, OW). reference != 0: im2col +
 * GEMM (conv2d.c) on the upsampled map, the path the fast kernels are tested against. */
void net_conv_forward(const conv2d_desc *d, int up, int reference, const float *x, const float *w, const float *b,
                      float *y, float *ws);

/* dy (OC, OH, OW) -> dx (C, H/up, W/up) overwritten (NULL: skipped); dw, db ACCUMULATED (NULL:
 * skipped). x is the forward's input. */
void net_conv_backward(const conv2d_desc *d, int up, int reference, const float *x, const float *w, const float *dy,
                       float *dx, float *dw, float *db, float *ws);

#endif
