/* Dense optical flow between two grey frames by Dense Inverse Search (DIS: Kroeger, Timofte, Dai,
 * Van Gool, "Fast Optical Flow using Dense Inverse Search", ECCV 2016), with its variational
 * refinement, plus what temporal consistency needs around it: warping a picture by a flow and
 * the forward-backward occlusion mask of Ruder, Dosovitskiy, Brox, "Artistic style transfer for
 * videos", GCPR 2016. docs/video.md ("Optical flow") describes the algorithm and its figures.
 *
 * Conventions: every picture is planar float, (H,W) for grey and (C,H,W) for colour, rows of w
 * floats with no padding. A flow is (2,H,W): the plane of horizontal displacements u, then the
 * plane of vertical displacements v, in pixels of the frame it is defined on.
 *
 * The presets take OpenCV's DISOpticalFlow presets' meaning (patch size, stride, gradient-descent
 * iterations, finest scale, variational refinement iterations), so "medium" here and there
 * describe the same algorithm. */
#ifndef IMPASTO_VIDEO_FLOW_H
#define IMPASTO_VIDEO_FLOW_H

#include "impasto.h"

#include <stddef.h>
#include <stdint.h>

enum {
    FLOW_PRESET_ULTRAFAST = 0,
    FLOW_PRESET_FAST = 1,
    FLOW_PRESET_MEDIUM = 2,
};

typedef struct flow_params {
    int preset;          /* the FLOW_PRESET_* these values came from (informational) */
    int finest_scale;    /* pyramid level the patch search stops at (0 = full size; finer
                          * levels get the flow upsampled and refined variationally) */
    int patch_size;      /* side of a square patch, pixels (DIS: theta_ps) */
    int patch_stride;    /* distance between patch origins, pixels (DIS: theta_ov) */
    int grad_iters;      /* inverse-compositional Gauss-Newton steps per patch (DIS: theta_it) */
    int var_iters;       /* fixed-point iterations of the variational refinement per level
                          * (0 = none) (DIS: theta_vo) */
    float var_alpha;     /* smoothness weight of the refinement */
    float var_gamma;     /* gradient-constancy weight */
    float var_delta;     /* colour(intensity)-constancy weight */
    int mean_normalize;  /* 1: patches compared after removing their mean (robust to brightness) */
    int propagate;       /* 1: spatial propagation of patch flows before the descent */
    int portable;        /* 1: never the AVX2 kernels (the tests compare both paths); 0 (the
                          * default): AVX2 + FMA where the CPU has them */
} flow_params;

/* Fills *p with the preset's values (an unknown preset gives FLOW_PRESET_MEDIUM). */
void flow_params_default(flow_params *p, int preset);

/* Scratch buffers for one frame size (pyramids, patch flows, refinement), reused frame to frame. */
typedef struct flow_ctx flow_ctx;

/* NULL on allocation failure, on w or h of 0 or above IMPASTO_MAX_SIDE, or on parameters out of
 * range (patch_size 2..16, patch_stride 1..patch_size, negative counts); then nothing is
 * allocated. *p is copied. */
flow_ctx *flow_create(size_t w, size_t h, const flow_params *p);
/* flow_free(NULL) is a no-op. */
void flow_free(flow_ctx *f);

/* prev, next: grey (H,W) floats in [0,1] of the size given to flow_create.
 * flow (2,H,W) out: u then v in pixels such that next(x + flow(x)) ~= prev(x) (the flow is on
 * prev's grid; OpenCV's calc(prev, next) convention).
 * Runs on ctx's thread count; returns IMPASTO_OK, or an error with ctx's message set
 * (IMPASTO_ERR_INVALID_ARG on a NULL argument, IMPASTO_ERR_NOT_FINITE on a NaN/Inf input). */
impasto_status flow_compute(flow_ctx *f, impasto_ctx *ctx, const float *prev, const float *next,
                            float *flow);

/* flow_warp and flow_consistency run on the OpenMP team size in force (inside a method that
 * entered a thread_scope, its context's). */
/* out (C,H,W) = img (C,H,W) sampled at x + flow(x) (flow (2,H,W)), bilinear, coordinates clamped
 * to the picture. So flow_warp(next, flow_compute(prev, next)) ~= prev, and to carry a picture
 * of frame i to frame i+1, warp it by the flow computed from frame i+1 to frame i. */
void flow_warp(const float *img, size_t c, size_t w, size_t h, const float *flow, float *out);

/* The occlusion / consistency mask of Ruder et al. 2016 (section 3.2).
 * fwd (2,H,W): flow from frame A to frame B, on A's grid (flow_compute(A, B)).
 * bwd (2,H,W): flow from frame B to frame A, on B's grid (flow_compute(B, A)).
 * mask (H,W) out, on B's grid: 1 where flow_warp(picture of A, bwd) is trusted, 0 where
 *   - the forward-backward check fails: |bwd + fwd(x + bwd)|^2 > 0.01 (|bwd|^2 + |fwd(x+bwd)|^2)
 *     + 0.5 (disocclusion),
 *   - or bwd has a motion boundary: |grad u|^2 + |grad v|^2 > 0.01 |bwd|^2 + 0.002,
 *   - or x + bwd(x) falls outside A (content entering the frame). */
void flow_consistency(const float *fwd, const float *bwd, size_t w, size_t h, float *mask);

/* grey (H,W) = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, as OpenCV's RGB->grey) from
 * rgb (3,H,W) planar floats. */
void flow_grey_from_planar(const float *rgb, size_t w, size_t h, float *grey);
/* The same from packed 8-bit RGB rows (FFmpeg's AV_PIX_FMT_RGB24), stride bytes apart, to floats
 * in [0,1]. */
void flow_grey_from_rgb24(const uint8_t *rgb, size_t stride, size_t w, size_t h, float *grey);

#endif
