/* The short-term temporal loss of Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos"
 * (GCPR 2016, eq. 7), for the optimisation of one video frame (methods/gatys.c). */
#ifndef IMPASTO_LOSS_TEMPORAL_H
#define IMPASTO_LOSS_TEMPORAL_H

#include <stddef.h>

/* weight * sum_k c_k (x_k - w_k)^2 / D over D = C*HW values: x (C,HW) the frame being optimised,
 * warped (C,HW) the previous stylised frame carried onto this one by the optical flow, cw (HW) the
 * per-pixel weights shared by the channels (Ruder et al.'s c: 0 at disocclusions and motion
 * boundaries, 1 elsewhere; NULL = 1 everywhere). Unlike the losses of loss.h, the gradient
 * 2 weight c_k (x_k - w_k) / D is ADDED into dx (when not NULL): it joins the picture's gradient
 * without a buffer of its own. */
double temporal_loss(int c, size_t hw, const float *x, const float *warped, const float *cw, double weight,
                     float *dx);

#endif
