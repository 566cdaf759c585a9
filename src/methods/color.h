/* Colour helpers shared by the methods. */
#ifndef IMPASTO_METHODS_COLOR_H
#define IMPASTO_METHODS_COLOR_H

#include <stddef.h>

/* neural-style's -original_colors: out keeps the luminance (Y of YUV, BT.601 as torch's
 * image.rgb2yuv) of `styled` and the chrominance (U, V) of `content`. All (H, W, 3) RGB in 0..1,
 * npix pixels; out may alias styled. Result clamped to 0..1. */
void color_keep_luminance(const float *styled, const float *content, size_t npix, float *out);

/* Colour-preserving style transfer by matching the style's colour statistics to the content's
 * (Gatys, Ecker, Bethge, Hertzmann & Shechtman 2017, "Controlling Perceptual Factors in Neural
 * Style Transfer", section 5.1; pytorch-AdaIN's --preserve_color): each style pixel x (RGB) becomes
 *   x' = C_c^(1/2) C_s^(-1/2) (x - mu_s) + mu_c
 * with mu and C the mean and covariance (+ 1e-5 I, so flat images stay invertible) of the content
 * and style pixels. style (3, n) planes, modified in place; content (3, m) planes. Not clamped. */
void color_match_style(float *style, size_t n, const float *content, size_t m);

#endif
