/* Tiled runs of a fast style network (TransformerNet, models/transformer_net.h) over a picture of
 * any size in bounded memory (issue #20).
 *
 * Every tile is the same crop of CH x CW pixels (so one plan serves them all): its interior, a
 * cell of a grid of th x tw (multiples of 8), with a halo around it, the crop shifted back inside
 * the picture at its borders. Crops start on multiples of 4, so each of the network's maps (full,
 * half and quarter resolution) of a crop is exactly a window of the whole picture's map; at the
 * picture's true border the crop pads as the untiled run does, and inside only the halo sees the
 * crop's own padding.
 *
 * Halo: the receptive field reaches 4 (conv1) + 1 (conv2) + 2 (conv3) + 10 x 4 (the residual
 * blocks at quarter resolution) + 4 + 2 (the upsampling convolutions, a position of the map they
 * read each) + 4 (deconv3) = 57 pixels; the exact halo is 64.
 *
 * The 15 instance norms need each channel's mean and deviation over the WHOLE picture:
 *   exact:    before norm i, every tile runs convolutions 0..i (norms 0..i-1 with the whole
 *             picture's statistics, already gathered) and adds its interior's sums at layer i;
 *             about 8 forward passes' work, then the stylize pass;
 *   estimate: one untiled run on a shrunk copy records its statistics; then the stylize pass.
 * See README and docs/print-size.md for the difference each makes from the untiled output. */
#ifndef IMPASTO_METHODS_FAST_TILE_H
#define IMPASTO_METHODS_FAST_TILE_H

#include "impasto.h"
#include "models/transformer_net.h"

#define FAST_EXACT_HALO 64
#define FAST_DEFAULT_MEMORY_MB 1536
#define FAST_DEFAULT_STATS_SIDE 1024
#define FAST_MIN_TILE 32

typedef struct fast_grid {
    int h, w;      /* the picture */
    int th, tw;    /* interior tile size (multiples of 8); th >= h for one row of tiles */
    int ny, nx;    /* tiles down and across */
    int halo;
    int ch, cw;    /* every crop's size (with halo), h - ch and w - cw multiples of 4 */
} fast_grid;

/* The grid for an h x w picture (threads: the plan's), or a single tile (ny = nx = 1) when the
 * run is not tiled: tile 0, or tile -1 and the untiled plan fits memory_mb. IMPASTO_ERR_INVALID_ARG
 * naming the minimum when memory_mb is too small for the smallest tile. */
impasto_status fast_grid_make(impasto_ctx *ctx, int h, int w, int threads, const impasto_fast_options *opt,
                              fast_grid *g);

/* Runs `net` over src (the picture, H x W, 0..1, gray or colour, alpha ignored) tile by tile into
 * out (the same size, 3 or 4 channels: alpha is the caller's), each tile's interior clamped to
 * 0..1. The plan for (ch, cw) is *plan (made or replaced as needed, kept for the next call;
 * *plan_threads its thread count). A tile whose output holds NaN or infinite values stops the
 * run with IMPASTO_ERR_NOT_FINITE (tiles before it are already written). */
impasto_status fast_tiled_run(impasto_ctx *ctx, const transformer_net *net, tnet_plan **plan, int *plan_threads,
                              const fast_grid *g, const impasto_fast_options *opt, const impasto_image *src,
                              impasto_image *out);

#endif
