/* Losses of Gatys et al. as jcjohnson/neural-style computes them. Each returns its value and
 * writes (OVERWRITES) the gradient with respect to its input into dx when dx is not NULL.
 * The weight (neural-style's "strength") is applied to both. */
#ifndef IMPASTO_LOSS_H
#define IMPASTO_LOSS_H

#include <stddef.h>

/* Content: weight * sum((x - t)^2) / n over n = C*H*W (torch's MSECriterion, mean). */
double content_loss(size_t n, const float *x, const float *target, double weight, float *dx);

/* Gram matrix G (C,C) = F F^T / (C*H*W) of features F (C, HW) — neural-style's GramMatrix
 * divided by the input's element count. */
void gram_matrix(int c, size_t hw, const float *f, float *g);

/* Style: weight * sum((G - T)^2) / C^2 with G = gram_matrix(F), T (C,C) the target gram.
 * ws holds C*C floats of scratch. dx (C, HW). */
double style_loss(int c, size_t hw, const float *f, const float *target, double weight,
                  float *ws, float *dx);

/* ---- guided.c: guided Gram matrices (Gatys et al. 2017, spatial control; guided.c derives them) ----
 * f (C, n) features at n positions; m (R, n) each region's weight at each position (>= 0). */

/* g (C, C) = scale * (f o m)(f o m)^T for one region's weights m (n); fm (C, n) scratch, left
 * holding f o m. */
void guided_gram(int c, size_t n, const float *f, const float *m, double scale, float *fm, float *g);

/* dx (C, n) = coef * sum_r gmt_r (f o m_r^2) (overwritten), gmt (R, C, C) each region's G_r - T_r;
 * fm (C, n) scratch. */
void guided_style_grad(int c, size_t n, const float *f, int nreg, const float *m, const float *gmt, double coef,
                       float *fm, float *dx);

/* weight * sum_r (M_r / n) sum((G_r - T_r)^2) / C^2, G_r = (f o m_r)(f o m_r)^T / (C M_r),
 * M_r = sum m_r^2 (a region with M_r = 0 adds nothing), targets (R, C, C); the gradient into dx
 * (C, n) when not NULL. fm (C, n) and ws (R, C, C) scratch. One region of weight 1 everywhere is
 * style_loss. */
double guided_style_loss(int c, size_t n, const float *f, int nreg, const float *m, const float *targets,
                         double weight, float *fm, float *ws, float *dx);

/* Total variation: weight/2 * sum over channels, and over (i<H-1, j<W-1), of
 * (x[i][j]-x[i][j+1])^2 + (x[i][j]-x[i+1][j])^2 — the function whose gradient neural-style's
 * TVLoss uses. x (C,H,W). */
double tv_loss(int c, int h, int w, const float *x, double weight, float *dx);

/* ---- adversarial.c: the losses of CycleGAN and pix2pix (junyanz/pytorch-CycleGAN-and-pix2pix) ----
 * Each is a mean over the n values, like PyTorch's default reduction, times weight; dx (n) gets the
 * gradient (overwritten) when not NULL. */

/* The GAN objective against a target label (1 real, 0 fake) for n discriminator scores:
 *   GAN_LSGAN    mean((x - label)^2)  (Mao et al. 2017, CycleGAN's default)
 *   GAN_VANILLA  mean(BCE(sigmoid(x), label)), computed from the logits as
 *                max(x, 0) - x * label + log(1 + exp(-|x|))  (pix2pix's default). */
typedef enum { GAN_LSGAN = 0, GAN_VANILLA } gan_mode;
double gan_loss(gan_mode mode, size_t n, const float *x, float label, double weight, float *dx);

/* mean |x - t| (torch's L1Loss); the gradient's sign at x == t is 0, as torch.sign's. */
double l1_loss(size_t n, const float *x, const float *target, double weight, float *dx);

#endif
