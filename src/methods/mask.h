/* Spatial control masks shared by the methods (adain, attention, wct, fast): each distinct gray
 * level of a mask picture is a region, darkest first, and region k takes style (or network) k.
 * The mask is stretched over the content; levels are counted on the mask itself, unresampled, so
 * no in-between levels appear at region borders. */
#ifndef IMPASTO_METHODS_MASK_H
#define IMPASTO_METHODS_MASK_H

#include "impasto.h"

#include <stddef.h>

/* The gray level (0..255) of mask pixel i: gray as stored, RGB averaged, alpha ignored. */
int mask_level(const impasto_image *m, size_t i);

/* rank[l] (256) = the index of level l among the mask's distinct levels in ascending order, -1
 * for a level that does not occur. IMPASTO_ERR_INVALID_ARG unless there are exactly nregions
 * levels; `what` names one region's subject in the message ("style image", "network"). */
impasto_status mask_ranks(impasto_ctx *ctx, const impasto_image *mask, size_t nregions, const char *what,
                          int *rank);

/* The region under pixel (py, px) of an h x w content, the mask stretched over it. */
int mask_region_at(const impasto_image *mask, const int *rank, int h, int w, int py, int px);

/* region (fh, fw): the region of each position of a feature map with `scale` pixels per position
 * over an h x w content (scale 8 at relu4_1, 4 at relu3_1), taken at the centre of the pixels it
 * stands for (clamped to the content). */
void mask_region_map(const impasto_image *mask, const int *rank, int h, int w, int scale, int fh, int fw,
                     int *region);

/* mask_ranks for nstyles style images, then mask_region_map: region (fh, fw) of a feature map
 * (impasto_adain_options.mask, impasto_attention_options.mask). */
impasto_status mask_regions(impasto_ctx *ctx, const impasto_image *mask, int h, int w, int scale, int fh, int fw,
                            size_t nstyles, int *region);

#endif
