/* Tiled runs of an encoder/decoder pair (AdaIN's relu4_1 network, the lst-r31 relu3_1 pair) over
 * an image of any size in bounded memory (issue #4).
 *
 * The image is cut into a grid of interior rectangles (sides multiples of 8, so every pooling
 * of either network sees the same 2x2 windows as on the whole image); each is run with a halo of
 * extra pixels around it, clipped at the image border, so that at the true border the network
 * pads (reflects or zero-pads) exactly as it does untiled, and inside only the halo sees the
 * tile's own padding.
 *
 *   pass 1 (tile_features): encode each tile with its halo and hand the features of its
 *           interior to a callback (which accumulates whole-image statistics, in double);
 *   pass 2 (tile_stylize):  encode each tile with its halo, let a callback transform the whole
 *           tile's features with the global statistics, decode, and write the interior only.
 *
 * Halos, from the receptive fields (padded pixels never reach an interior output):
 *   AdaIN encoder to relu4_1: feature fy reads pixels 8 fy - 30 .. 8 fy + 37 (conv1_1 .. conv4_1,
 *     three 2x2 poolings), so 4 feature positions = 32 px; the decoder's pixel 8 fy + j reads
 *     features fy - 4 .. fy + 4, 4 more. Encode, transform and decode together: 64 px.
 *   lst-r31 (relu3_1, 1/4 resolution): encoder 10 px each way (3 positions = 12, 16 on the grid of
 *     8), decoder 3 positions: 24 px together.
 * With these the tiled result equals the untiled one up to float rounding (Winograd's 4x4 output
 * tiles fall differently on the smaller maps); a smaller halo (impasto_*_options.tile_halo) is
 * faster and differs slightly near tile seams (measured in README). A single tile is the
 * untiled run: its pass-1 features are kept for pass 2 instead of being encoded twice. */
#ifndef IMPASTO_METHODS_TILE_H
#define IMPASTO_METHODS_TILE_H

#include "impasto.h"
#include "models/adain.h"

#include <stddef.h>

/* Bytes a network run takes per pixel of its input (two ping-pong buffers of the 64-channel
 * full-resolution layers, 512 B, plus the features, the transform's copy and the planes), and
 * a fixed part (Winograd's transformed kernels and bands, the WCT matrices). */
#define TILE_BYTES_PER_PIXEL 576
#define TILE_FIXED_BYTES ((size_t)96 << 20)
/* Default working-memory budget of one run (impasto_*_options.memory_mb). */
#define TILE_DEFAULT_MEMORY_MB 1536
#define TILE_MIN 32  /* smallest tile side a user may ask for */

typedef enum { TILE_NET_ADAIN, TILE_NET_LST } tile_net_kind;

typedef struct tile_plan {
    tile_net_kind kind;
    int scale;         /* pixels per feature position: 8 (adain) or 4 (lst) */
    int c;             /* feature channels: 512 or 256 */
    int h, w;          /* the image */
    int th, tw;        /* interior tile size (multiples of 8), >= h, w for one tile */
    int ny, nx;        /* tiles down and across */
    int halo;          /* pass 2's halo in pixels */
    int enc_halo;      /* pass 1's: min(halo, the encoder's exact halo) */
} tile_plan;

/* Exact halos in pixels (see above). */
int tile_exact_halo(tile_net_kind kind);
/* The tiling options as the API takes them (tile -1/0/size, halo -1/size, memory budget in MB):
 * IMPASTO_ERR_INVALID_ARG with a message naming the bad one. */
impasto_status tile_check_options(impasto_ctx *ctx, int tile, int halo, int memory_mb);
/* All that the options of the methods on these networks (adain, wct, attention) share, as the API
 * takes them: alpha in [0, 1]; the content and style sizes 0 (keep) .. IMPASTO_MAX_SIDE; the tiling
 * options (tile_check_options); and, when given, the nstyles style weights: finite, not negative,
 * not all zero, and not with a mask (which gives each style its own region). IMPASTO_ERR_INVALID_ARG
 * with a message naming the bad one. */
impasto_status tile_check_method_options(impasto_ctx *ctx, double alpha, int content_size, int style_size, int tile,
                                         int halo, int memory_mb, const double *style_weights, size_t nstyles,
                                         const impasto_image *mask);

/* The plan for an h x w image: tile 0 = never tile, > 0 = interior tiles of that side (a
 * multiple of 8, >= TILE_MIN), < 0 = automatic: untiled when the run fits memory_mb, else the
 * largest tiles that fit, evened out over the image. halo < 0 = the exact halo, else pixels (a
 * multiple of 8). IMPASTO_ERR_INVALID_ARG for a budget too small for any tile. */
impasto_status tile_plan_make(impasto_ctx *ctx, tile_net_kind kind, int h, int w, int tile, int halo,
                              int memory_mb, tile_plan *p);

/* One tile's features as the callbacks see them. */
typedef struct tile_feat {
    float *f;                /* (C, fh, fw) the features of the tile with its halo */
    int fh, fw;
    int iy0, iy1, ix0, ix1;  /* the interior's feature rows / columns in f */
    int gy, gx;              /* f's position (0, 0) in the whole image's feature map */
} tile_feat;

/* Pass 1 callback: accumulate statistics over the interior of t. */
typedef impasto_status (*tile_stats_fn)(void *user, impasto_ctx *ctx, const tile_feat *t);
/* Pass 2 callback: transform all of t->f (C, fh, fw); may replace t->f with a new malloc'd
 * buffer of the same shape (freeing the old one). */
typedef impasto_status (*tile_transform_fn)(void *user, impasto_ctx *ctx, tile_feat *t);

/* The tiles of a plan: ny * nx (1 for an untiled run). */
int tile_count(const tile_plan *p);

/* Progress of one impasto_adain / impasto_wct call (impasto_pass_progress): the caller counts
 * the call's units of work up front (one per style encoded, one per tile of each pass, each
 * level), then every finished unit is one tile_meter_tick. */
typedef struct tile_meter {
    impasto_pass_progress_fn fn;  /* NULL: nothing is reported and nothing cancels */
    void *user;
    impasto_pass_progress p;      /* what the next call reports; the caller sets p.level */
    double t0;                    /* monotonic seconds when the call started */
} tile_meter;

void tile_meter_start(tile_meter *m, impasto_pass_progress_fn fn, void *user, int num_levels, int total);
/* One unit of `stage` ("style", "statistics", "stylize") done: done + 1 reported to the callback;
 * IMPASTO_ERR_CANCELLED (with the context's message set) when it returns non-zero. */
impasto_status tile_meter_tick(impasto_ctx *ctx, tile_meter *m, const char *stage);

/* Pass 1 over x (3, h, w). With a single tile the features are kept in *keep (malloc'd, or NULL)
 * for tile_stylize; otherwise *keep is NULL. keep may be NULL (not wanted). With a meter, each
 * tile is one "statistics" unit (NULL: none counted, as for a style image, one unit in all). */
impasto_status tile_features(impasto_ctx *ctx, const adain_net *net, const tile_plan *p, const float *x,
                             tile_stats_fn stats, void *user, float **keep, tile_meter *meter);
/* Pass 2 over x (3, h, w) into y (3, h, w), unclamped. keep: the pass-1 features of a single
 * tile (taken over and freed) or NULL. With a meter, each tile is one "stylize" unit. */
impasto_status tile_stylize(impasto_ctx *ctx, const adain_net *net, const tile_plan *p, const float *x,
                            float *keep, tile_transform_fn transform, void *user, float *y, tile_meter *meter);

#endif
