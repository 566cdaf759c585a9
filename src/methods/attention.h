/* The parts of impasto_attention (attention.c) the tests call on features directly. */
#ifndef IMPASTO_METHODS_ATTENTION_H
#define IMPASTO_METHODS_ATTENTION_H

#include "impasto.h"
#include "methods/tile.h"

#include <stddef.h>

/* Content positions per query block, and painting patches per key block of the streaming
 * softmax: the scores held at a time are ATTN_QUERY_BLOCK x ATTN_KEY_BLOCK floats (1 MB). */
#define ATTN_QUERY_BLOCK 256
#define ATTN_KEY_BLOCK 1024
#define ATTN_MAX_PATCH 9
/* Of the memory budget, what the paintings' patches must leave to the tiles of the content. */
#define ATTN_MIN_TILE_MB 256
#define ATTN_MIN_TEMPERATURE 1e-4
#define ATTN_MAX_TEMPERATURE 100.0

/* The paintings' patches, keys and values of the attention. */
typedef struct attn_keys {
    int c, patch;       /* channels, patch side N (odd) */
    size_t d;           /* c N N: one patch as a vector, index (channel, dy, dx) */
    size_t nk;          /* patches over all paintings */
    float *k;           /* (d, nk) normalised patches, unit length */
    float *v;           /* (d, nk) the same patches un-normalised */
    float *bias;        /* (nk) ln w of each patch's painting, or NULL (equal weights) */
    size_t *first;      /* (nstyles + 1): painting s's patches are columns first[s] .. first[s + 1] - 1 */
    size_t nstyles;
} attn_keys;

/* From each painting's features feats[s] (c, fh[s], fw[s]): every N x N patch lying wholly
 * inside the map, normalised with the painting's own per-channel moments (nn.h adain_moments).
 * weights: NULL or nstyles values (>= 0, sum > 0). IMPASTO_ERR_INVALID_ARG when a map is smaller
 * than N x N (the message says which painting and its map size). */
impasto_status attn_keys_build(impasto_ctx *ctx, int c, int patch, const float *const *feats, const int *fh,
                               const int *fw, size_t nstyles, const double *weights, attn_keys **out);
void attn_keys_free(attn_keys *k);

/* One fusion: f (c, fh, fw) replaced by alpha fused + (1 - alpha) f, with the content's
 * per-channel mean and deviation (c) normalising it. region: NULL, or (fh, fw) painting index
 * per position (each position attends over that painting's patches alone). With a meter,
 * IMPASTO_ATTENTION_STEPS "attention" units are counted. */
impasto_status attn_fuse(impasto_ctx *ctx, const attn_keys *keys, const double *mean, const double *sd,
                         double temperature, int hard, double alpha, const int *region, float *f, int fh, int fw,
                         tile_meter *meter);

#endif
