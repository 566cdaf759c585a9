/* DeepDream's parts (impasto_dream, dream.c), declared for the tests that check each against
 * PyTorch (tests/test_dream.c, tools/gen_golden_dream.py).
 *
 * Pictures here are VGG-19 input planes x (3, H, W): Caffe preprocessing, RGB 0..255 minus the
 * ImageNet mean (models/vgg19.h). */
#ifndef IMPASTO_METHODS_DREAM_H
#define IMPASTO_METHODS_DREAM_H

#include "impasto.h"
#include "models/vgg19.h"

#include <stddef.h>
#include <stdint.h>

/* One entry of --layers: a VGG-19 layer, all its channels or one. */
typedef struct dream_entry {
    int layer;    /* VGG-19 layer index */
    int channel;  /* -1: every channel */
} dream_entry;

typedef struct dream_spec {
    int n;
    dream_entry e[IMPASTO_MAX_LAYERS];
    int last;     /* the deepest layer named */
} dream_spec;

/* "relu4_2,relu5_1:17" -> entries. Refused with one line: a name VGG-19 does not have, a channel
 * that is not a whole number in 0..C-1 of its layer, an entry named twice, none at all, more than
 * IMPASTO_MAX_LAYERS. */
impasto_status dream_parse_layers(impasto_ctx *ctx, const char *spec, dream_spec *out);

/* The pixels the gradient at one pixel depends on, either way, for a network run up to `last`
 * (its receptive field minus one), rounded up to a multiple of that layer's stride `align` (2^k
 * after k poolings, given in *align): the exact tile halo. */
int dream_exact_halo(int last, int *align);

/* What a dream needs besides the picture: the network, the objective (and the guide's features),
 * tiling, and the buffers a gradient takes, kept across steps. */
typedef struct dream_run {
    const vgg19 *net;
    dream_spec spec;
    pool_kind pooling;
    unsigned char used[VGG19_NUM_LAYERS];  /* layers named in spec */
    float *guide[VGG19_NUM_LAYERS];        /* (C, M) the guide's features at a used layer, or NULL */
    size_t guide_m[VGG19_NUM_LAYERS];      /* M: the guide's positions there */
    int tile;                              /* interior tiles of at most this side; 0: never tile */
    int halo;                              /* pixels around each tile */
    int align;                             /* the deepest layer's stride */
    vgg19_plan *plan;                      /* for the last tile size run */
    int plan_h, plan_w;
    float *tile_x, *tile_g;                /* (3, th, tw) of the largest tile */
    size_t tile_cap;
    float *dots;                           /* (DREAM_DOT_ROWS, M) guide dot products */
    size_t dots_cap;
} dream_run;

/* Parses `layers`, and with a guide (RGB(A) in 0..1, used at its size) computes its features at
 * each used layer. tile: 0 or the tile side; halo: -1 exact or pixels (rounded up to a multiple of
 * the deepest layer's stride). */
impasto_status dream_run_init(impasto_ctx *ctx, dream_run *r, const vgg19 *net, const char *layers,
                              pool_kind pooling, const impasto_image *guide, int tile, int halo);
void dream_run_free(dream_run *r);

/* The objective at x (3, h, w) and its gradient g (3, h, w): untiled when both sides fit in
 * r->tile (or tile is 0), else tile by tile with r->halo pixels around each. */
impasto_status dream_gradient(impasto_ctx *ctx, dream_run *r, const float *x, int h, int w, float *g,
                              double *objective);

/* One step of gradient ascent (the notebook's make_step): x rolled by (dy, dx) (np.roll), its
 * gradient g, x += lr * g / (mean|g| + 1e-8) rolled back, clipped to the valid pixel range 0..255
 * minus the mean. work (3, h, w) x 2 is scratch. *objective as dream_gradient's. */
impasto_status dream_step(impasto_ctx *ctx, dream_run *r, float *x, int h, int w, int dy, int dx, double lr,
                          float *work, double *objective);

/* y = x rolled by dy rows and dx columns, as np.roll (y[i][j] = x[(i - dy) mod h][(j - dx) mod w]);
 * c planes of h x w; y != x. */
void dream_roll(const float *x, int c, int h, int w, int dy, int dx, float *y);
/* Bilinear resize of c planes h x w to oh x ow, sampling at pixel centres (PyTorch's interpolate,
 * mode bilinear, align_corners False, no antialiasing; the notebook's nd.zoom order 1). */
void dream_resize(const float *x, int c, int h, int w, int oh, int ow, float *y);
/* The octave sizes: hs[0], ws[0] = h, w; each next one the last divided by scale, rounded. */
void dream_octave_sizes(int h, int w, int n, double scale, int *hs, int *ws);
/* y = x enlarged by `zoom` about its centre (bilinear, edges clamped), the same size: the next
 * frame of a zoom sequence. */
void dream_zoom(const float *x, int c, int h, int w, double zoom, float *y);

/* The octaves of one picture (impasto_dream without frames, colours and progress): x (3, h, w) in,
 * dreamt in place. shifts: NULL to draw each step's roll from *rng, else (dy, dx) pairs, one per
 * step, smallest octave first (for tests). */
typedef struct dream_octave_params {
    int octaves;
    double octave_scale;
    int iterations;
    double learning_rate;
    int jitter;
    const int *shifts;
    uint64_t *rng;
} dream_octave_params;
impasto_status dream_octaves(impasto_ctx *ctx, dream_run *r, float *x, int h, int w, const dream_octave_params *p,
                             int (*step_done)(void *user, int octave, int ow, int oh, int iteration,
                                              double objective),
                             void *user);

#endif
