/* Colour helpers shared by the methods. */
#ifndef IMPASTO_METHODS_COLOR_H
#define IMPASTO_METHODS_COLOR_H

#include <stddef.h>

/* neural-style's -original_colors: out keeps the luminance (Y of YUV, BT.601 as torch's
 * image.rgb2yuv) of `styled` and the chrominance (U, V) of `content`. All (H, W, 3) RGB in 0..1,
 * npix pixels; out may alias styled. Result clamped to 0..1. */
void color_keep_luminance(const float *styled, const float *content, size_t npix, float *out);

#endif
