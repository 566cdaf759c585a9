/* The pieces of Gatys' optimisation (gatys.c) that its tiled evaluation (gatys_tile.c) shares. */
#ifndef IMPASTO_METHODS_GATYS_H
#define IMPASTO_METHODS_GATYS_H

#include "impasto.h"
#include "models/vgg19.h"

/* gatys_evaluate's return when a loss is NaN or infinite: stops the optimiser, which returns it
 * (distinct from the OPTIM_* codes). */
#define GATYS_NOT_FINITE 100
/* ... and when the progress callback cancels in the middle of a tiled evaluation. */
#define GATYS_CANCELLED 101
/* ... and when a tile's plan could not grow its workspace. */
#define GATYS_NO_MEMORY 102

typedef struct gatys_tiles gatys_tiles;

/* One scale's optimisation. */
typedef struct gatys_run {
    const vgg19 *net;
    const impasto_transfer_options *opt;
    vgg19_plan *plan;                /* untiled: the whole picture's; tiled: NULL (tiles has its own) */
    gatys_tiles *tiles;              /* NULL: untiled */
    int h, w;
    vgg19_layer_list content, style;
    double content_layer_weight;      /* content_weight (per content layer) */
    double style_layer_weight[IMPASTO_MAX_LAYERS];
    float *content_target[IMPASTO_MAX_LAYERS];  /* (C, H, W) at each content layer, whole picture */
    float *style_target[IMPASTO_MAX_LAYERS];    /* (C, C) blended Gram at each style layer (no mask) */
    /* spatial control (opt->mask or opt->style_masks; gatys_mask.c, loss/guided.c) */
    int nregions;                               /* 0: no mask; else one region per style */
    float *region_target[IMPASTO_MAX_LAYERS];   /* (R, C, C) style r's own Gram at each style layer */
    float *region_mask[IMPASTO_MAX_LAYERS];     /* (R, H, W) each region's weight at each style
                                                   layer's positions, the whole picture */
    double *region_mass[IMPASTO_MAX_LAYERS];    /* (R) sum of the squared weights over them */
    int content_at[VGG19_NUM_LAYERS];           /* per VGG layer: index in content, or -1 */
    int style_at[VGG19_NUM_LAYERS];             /* per VGG layer: index in style, or -1 */
    float *gram_ws;                             /* (C, C) of the widest style layer ((R, C, C) with a mask) */
    float *tv_grad;                             /* (3, H, W); NULL when tiled (TV goes into g) */
    float *temporal_target;                     /* (3, H, W) Ruder et al.'s warped frame, preprocessed; NULL: none */
    float *temporal_mask;                       /* (H, W) its per-pixel weights; NULL: 1 everywhere */
    double last_content, last_style, last_tv, last_temporal;
    int iteration;                              /* iterations finished at this scale */
    int history;                                /* the L-BFGS history in force (0: Adam) */
    int max_side;                               /* longest side of the picture and the styles */
    /* progress */
    impasto_ctx *ctx;                           /* for the save_iter snapshot (made on demand) */
    int scale_index, num_scales;
    double t0;  /* clock_seconds() when the transfer started */
} gatys_run;

/* One evaluation of the loss (as the optimiser sees it) at `picture` (resized to the content's
 * size at opt->image_size), the styles blended or, with a mask, one per region, tiled or not as opt says: the total, content, style and TV
 * parts in parts[], the gradient (3, H, W) in *grad (malloc'd), the tiles in *num_tiles. For tests
 * and measurements. */

impasto_status gatys_evaluate_at(impasto_ctx *ctx, const impasto_model *vgg, const impasto_image *content,
                                 const impasto_image *const *styles, size_t nstyles,
                                 const impasto_transfer_options *opt,
                                 const impasto_image *picture, float **grad, double parts[4], int *num_tiles);

/* ---- gatys_mask.c ---- */

/* The whole (h, w) picture's shape (lh, lw) and stride at VGG-19's layers 0..last. */
void gatys_layer_shapes(int h, int w, int last, int *lh, int *lw, int *stride);
/* r->region_mask and r->region_mass at r's style layers for the r->h x r->w picture, from
 * opt->mask (gray levels: mask_regions) or opt->style_masks; nothing without r->nregions. */
impasto_status gatys_mask_build(impasto_ctx *ctx, gatys_run *r);

/* ---- gatys_tile.c ---- */

/* Decides how the scale of r (r->h x r->w, layers and options set) runs within
 * opt->memory_mb: untiled (r->tiles stays NULL) or tiled (r->tiles made), and the L-BFGS history
 * (r->history). IMPASTO_ERR_INVALID_ARG, naming the least budget that would do, when nothing fits. */
impasto_status gatys_tiles_choose(impasto_ctx *ctx, gatys_run *r);
void gatys_tiles_free(gatys_tiles *t);
int gatys_tiles_count(const gatys_tiles *t);
/* Interior tile side (th, tw) and grid (ny, nx) of a tiled run, for tests and measurements. */
void gatys_tiles_geometry(const gatys_tiles *t, int *th, int *tw, int *ny, int *nx);
/* The content targets of a tiled run: the content picture x (3, H, W), run tile by tile, into
 * r->content_target (whole-picture maps, allocated here). */
impasto_status gatys_tiles_content(impasto_ctx *ctx, gatys_run *r, const float *x);
/* Gram matrices of a picture x (3, h, w) of any size (a style image), tile by tile with the
 * run's tiles, added with weight `blend` into targets[i] (C, C) at each style layer i
 * (allocated here, zeroed, when NULL). */
impasto_status gatys_tiles_style(impasto_ctx *ctx, gatys_run *r, const float *x, int h, int w, double blend,
                                 float **targets);
/* optim_evaluate_fn of a tiled run (user: the gatys_run). */
int gatys_tiles_evaluate(void *user, const float *x, float *g, size_t n, double *f);

#endif
