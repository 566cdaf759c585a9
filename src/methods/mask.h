/* Spatial control by a mask (impasto_adain_options.mask, impasto_attention_options.mask). */
#ifndef IMPASTO_METHODS_MASK_H
#define IMPASTO_METHODS_MASK_H

#include "impasto.h"

#include <stddef.h>

/* region[i] (FH, FW) = the rank, among the mask's distinct gray levels in ascending order, of the
 * level under feature position i. A position stands for the scale x scale pixels of the (h, w)
 * content it was pooled from (scale 8 at relu4_1, 4 at relu3_1) and takes the mask pixel under
 * their centre, the mask stretched over the content; levels are counted on the mask itself,
 * unresampled, so no in-between levels appear at region borders. The count must equal nstyles
 * (IMPASTO_ERR_INVALID_ARG with a message otherwise). */
impasto_status mask_regions(impasto_ctx *ctx, const impasto_image *mask, int h, int w, int scale, int fh, int fw,
                            size_t nstyles, int *region);

#endif
