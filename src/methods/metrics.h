/* Pieces of the evaluation measures (include/impasto.h, "evaluating results") shared by
 * metrics.c, eval.c and the tests: colour histograms and the sliced Wasserstein distance. */
#ifndef IMPASTO_METHODS_METRICS_H
#define IMPASTO_METHODS_METRICS_H

#include "impasto.h"

#include <stddef.h>
#include <stdint.h>

#define METRICS_HIST_BINS 32

/* Per R, G, B channel (gray replicated, alpha ignored) the fraction of pixels in each of
 * METRICS_HIST_BINS equal bins of 0..1 (values outside are clamped). h (3, BINS). */
void metrics_color_hist(const impasto_image *img, double h[3][METRICS_HIST_BINS]);
/* Mean over the channels of the 1-D earth mover's distance between two normalised histograms,
 * sum_k |CDF_a(k) - CDF_b(k)| / BINS (in units of intensity). */
double metrics_hist_distance(const double a[3][METRICS_HIST_BINS],
                             const double b[3][METRICS_HIST_BINS]);

/* Sliced Wasserstein distance, in three steps so several feature sets can be pooled:
 * dirs (P, C): P random unit directions from `seed` (Gaussian vectors, normalised). */
void swd_directions(int c, int nproj, uint64_t seed, float *dirs);
/* proj (P, n) with row stride ldp = dirs (P, C) x f (C, n): each feature vector's projections. */
void swd_project(int c, size_t n, const float *f, int nproj, const float *dirs, float *proj,
                 size_t ldp);
/* Sorts each of the P rows (length n) of proj ascending. */
void swd_sort(int nproj, size_t n, float *proj);
/* sqrt(mean over the P rows of W2^2) between sorted rows a (P, na) and b (P, nb): the exact
 * squared 1-D Wasserstein-2 distance int_0^1 (Qa(u) - Qb(u))^2 du of the empirical quantile
 * functions, so na and nb may differ. */
double swd_sorted_distance(int nproj, const float *a, size_t na, const float *b, size_t nb);

/* The whole thing for two feature sets fa (C, na) and fb (C, nb).
 * Returns IMPASTO_OK or IMPASTO_ERR_NOMEM (with a message). */
impasto_status metrics_swd(impasto_ctx *ctx, int c, size_t na, const float *fa, size_t nb,
                           const float *fb, int nproj, uint64_t seed, double *out);

/* Seams along a grid of tile edges (issue #20): the mean absolute difference between neighbouring
 * pixels ACROSS the grid's lines (the pairs (y-1, y) with y a multiple of th, (x-1, x) with x a
 * multiple of tw; RGB summed, 0..1 units) divided by the same mean over every other neighbouring
 * pair. About 1 when the tile edges look like the rest of the picture; a visible seam raises it
 * (a seam of one 8-bit step on a flat picture makes it large). th or tw 0: no lines that way. */
double metrics_seam_ratio(const impasto_image *img, int th, int tw);

#endif
