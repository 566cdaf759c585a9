/* What the two halves of Gatys' tiled optimisation share (issue #20): gatys_tile_plan.c chooses the
 * tiles and the history within the memory budget and owns the tiles' geometry; gatys_tile.c runs
 * VGG-19 over them. Not a public header. */
#ifndef IMPASTO_METHODS_GATYS_TILE_H
#define IMPASTO_METHODS_GATYS_TILE_H

#include "methods/gatys.h"

#include <stdint.h>

#define GT_MIN_TILE 32           /* the smallest interior side tried */
#define GT_GOOD_TILE 512         /* the history is shortened before tiles get smaller than this */
#define GT_MIN_HISTORY 5         /* ... but never below this */
#define GT_MERGE 32              /* random tiling: an edge piece thinner than this joins its neighbour */
#define GT_FIXED_BYTES ((size_t)24 << 20)  /* Grams, their accumulators, descriptors */

struct gatys_tiles {
    impasto_tiling mode;
    int align;                       /* 2^k: tile interiors and crop origins are multiples of it */
    int h, w;                        /* the picture */
    int hl, hr;                      /* halo before / after an interior, pixels (0: random) */
    int ehl, ehr;                    /* the exact halos (the targets are always computed exactly) */
    int th, tw;                      /* interior side */
    int eth;                         /* interior side of the exact passes over targets (th when exact) */
    int max_ch, max_cw;              /* the largest crop the plan takes */
    int last;                        /* deepest layer run */
    vgg19_plan *plan;
    float *xc, *gc;                  /* (3, max_ch, max_cw): a crop and its input gradient */
    double *acc[IMPASTO_MAX_LAYERS]; /* (R, C, C) pass 1's Gram accumulators, per style layer and
                                        region (R = 1 without a mask) */
    float *gmt[IMPASTO_MAX_LAYERS];  /* (R, C, C) G - T of the current evaluation, per style layer */
    float *gram_f;                   /* (C, C) scratch */
    float *fm;                       /* with a mask: (C, core) f o m of the widest interior map */
    float *mt;                       /* with a mask: (R, core) the regions' weights at an interior */
    int *by, *bx;                    /* the current cut: boundaries along y and x */
    int nby, nbx;                    /* pieces along y and x (boundaries: one more) */
    int stride[VGG19_NUM_LAYERS];    /* pixels per position at each layer */
    int lh[VGG19_NUM_LAYERS], lw[VGG19_NUM_LAYERS];  /* the whole picture's layer shapes */
    uint64_t rng;
    int runs;                        /* tile runs in the current evaluation */
};

/* The cut of an axis of n pixels at o, o + t, o + 2t, ... (0 <= o < t), edge pieces thinner
 * than `merge` joined to their neighbour: boundaries into b (room for n / t + 3), returns pieces. */
int gatys_tiles_axis_cut(int n, int t, int o, int merge, int *b);
/* The whole h x w picture's shape at each layer up to T->last, as the plan would give it, into
 * T->lh, T->lw and T->stride. */
void gatys_tiles_whole_shapes(gatys_tiles *T, int h, int w);

#endif
