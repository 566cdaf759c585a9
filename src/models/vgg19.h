/* VGG-19 (Simonyan & Zisserman 2015) as a feature extractor, conv1_1 ... relu5_4 (and pool5),
 * with the weights impasto converts from the upstream files.
 *
 * Stored weights (safetensors, metadata kind=vgg19): "conv1_1.weight" (OC, IC, 3, 3) and
 * "conv1_1.bias" (OC) for the 16 convolutions, conv1_1's input channels in RGB order.
 * Input: Caffe preprocessing — RGB scaled to 0..255 minus the ImageNet mean
 * (R 123.68, G 116.779, B 103.939), tensor (3, H, W). Pooling is 2x2 stride 2 in ceil mode
 * as loadcaffe builds it for neural-style, max or (on request) average. */
#ifndef IMPASTO_MODELS_VGG19_H
#define IMPASTO_MODELS_VGG19_H

#include "impasto.h"
#include "nn/nn.h"

#define VGG19_NUM_CONV 16
#define VGG19_NUM_LAYERS 37  /* 16 conv + 16 relu + 5 pool, in network order */

typedef enum { VGG_CONV, VGG_RELU, VGG_POOL } vgg19_layer_kind;

typedef struct vgg19_layer {
    const char *name;        /* "conv1_1", "relu1_1", "pool1", ... */
    vgg19_layer_kind kind;
    int in_c, out_c;         /* channels in and out */
    int conv;                /* index of the convolution (0..15) for VGG_CONV, else -1 */
} vgg19_layer;

/* The fixed architecture, VGG19_NUM_LAYERS entries in network order. */
const vgg19_layer *vgg19_layers(void);
/* Index of a layer by name, or -1. */
int vgg19_layer_index(const char *name);
/* The smallest side, in pixels, of an input that must reach `layer`: 2^k for a layer after k of
 * the 2x2 stride-2 poolings (relu4_x 8, relu5_x 16). With 2^k every pooling on the way sees at
 * least one whole window, so the map is at least 1x1 whether the pooling rounds its size up (as
 * here) or down; a 1-pixel side pooled in ceil mode becomes 0, and the loss at every layer past
 * it is silently 0. */
int vgg19_min_side(int layer);
/* IMPASTO_ERR_INVALID_ARG unless a width x height input reaches `layer`, the message in plain
 * words: "<what> is WxH pixels at size <size>; <layer> needs at least N pixels on each side". */
impasto_status vgg19_check_size(impasto_ctx *ctx, const char *what, int width, int height, int size,
                                int layer);

/* Layers named by the user, in the order named. */
typedef struct vgg19_layer_list {
    int n;
    int index[IMPASTO_MAX_LAYERS];  /* VGG-19 layer indices */
} vgg19_layer_list;
/* "relu1_1,relu2_1" -> indices (commas and spaces separate names; NULL or "" gives none). An
 * unknown name, one named twice or more than IMPASTO_MAX_LAYERS fail with a message naming `what`
 * ("style", "content", ...). */
impasto_status vgg19_parse_layers(impasto_ctx *ctx, const char *what, const char *spec, vgg19_layer_list *out);

typedef struct vgg19 {
    float *w[VGG19_NUM_CONV];  /* (OC, IC, 3, 3) */
    float *b[VGG19_NUM_CONV];  /* (OC) */
} vgg19;

/* Loads from a converted safetensors file; checks every tensor's presence and shape. */
impasto_status vgg19_load(impasto_ctx *ctx, const char *path, vgg19 **out);
/* The same from an open file (`path` names it in messages). */
struct safetensors;
impasto_status vgg19_from_safetensors(impasto_ctx *ctx, const struct safetensors *st,
                                      const char *path, vgg19 **out);
void vgg19_free(vgg19 *net);

/* A run of the network on one input size up to one layer: every buffer allocated once at
 * creation (the outputs the caller reads, the bitmaps the backward pass needs, gradient ping-pong
 * buffers, conv scratch), nothing allocated by forward/backward, so an optimisation loop
 * allocates nothing. */
typedef struct vgg19_plan vgg19_plan;

/* Input (3, h, w); runs layers 0..last (inclusive). `keep` (VGG19_NUM_LAYERS flags, or NULL
 * for all) marks layers whose outputs the caller reads, or where it injects gradients into the
 * backward pass; `last` is always kept. Other layers' outputs exist only while the forward pass
 * needs them, and a conv nobody reads is fused with its ReLU. */
impasto_status vgg19_plan_create(impasto_ctx *ctx, const vgg19 *net, int h, int w, int last,
                                 pool_kind pooling, const unsigned char *keep, vgg19_plan **out);
void vgg19_plan_free(vgg19_plan *p);
/* Lays an h x w input out in the buffers of p (made for a larger one, e.g. the largest crop of a
 * tiling): returns 1, or 0 (p unchanged) when some buffer would be too small. Kept Winograd
 * kernels are dropped. The outputs' shapes follow (vgg19_plan_shape). */
int vgg19_plan_set_input(vgg19_plan *p, int h, int w);
/* Output of a kept `layer` after vgg19_forward: (C, H, W); shape in *c, *h, *w (any may be
 * NULL). NULL if that layer is not kept or beyond `last`. The backward pass never reads these
 * outputs (it reads bitmaps), so the caller may overwrite them between forward and backward, e.g.
 * with the loss gradient it then injects there, and save a buffer per loss layer. */
float *vgg19_plan_output(const vgg19_plan *p, int layer, int *c, int *h, int *w);
/* The shape of any layer up to `last`, kept or not; 0 for a bad layer. */
int vgg19_plan_shape(const vgg19_plan *p, int layer, int *c, int *h, int *w);
/* Scratch the caller may use between vgg19_forward and vgg19_backward (both overwrite it): at
 * least as many floats as the largest layer output up to `last` (*n). */
float *vgg19_plan_scratch(vgg19_plan *p, size_t *n);
/* A second scratch buffer of the same size, free between vgg19_forward and vgg19_backward too. */
float *vgg19_plan_scratch2(vgg19_plan *p);
/* Bytes of all buffers of the plan. */
size_t vgg19_plan_bytes(const vgg19_plan *p);
/* on = 0 runs every convolution by im2col + GEMM instead of Winograd (the default, on; for tests
 * and benchmarks comparing the two). */
void vgg19_plan_set_winograd(vgg19_plan *p, int on);
/* Transforms the Winograd kernels of the layers that gain most (small maps; vgg19.c says which and
 * how much memory) once, into the plan, instead of on every call: for a plan run many times. The
 * plan must then be run only with this net, its weights unchanged. Returns 0 when out of memory
 * (the layers not kept keep transforming per call; the plan stays usable). */
int vgg19_plan_keep_kernels(vgg19_plan *p, const vgg19 *net);
/* The Winograd kernels the plan keeps transformed for conv `layer`'s forward (backward = 0) or
 * backward-data (1), with their tile height in *mr; NULL when that layer transforms on each call.
 * (For benchmarks timing one layer as the plan runs it.) */
const float *vgg19_plan_winograd_kernels(const vgg19_plan *p, int layer, int backward, int *mr);

/* x (3, H, W), preprocessed. */
void vgg19_forward(const vgg19 *net, vgg19_plan *p, const float *x);
/* Backward from `last` down to the input. grad_at[layer] (VGG19_NUM_LAYERS entries, NULL where
 * none) is a gradient of the same shape as that layer's output, added to the
 * gradient flowing back at that point; it may be the layer's own output buffer (above). dx
 * (3, H, W) receives the gradient at the input. */
void vgg19_backward(const vgg19 *net, vgg19_plan *p, const float *const *grad_at, float *dx);

/* Caffe preprocessing of an RGB(A) image (H, W, C in 0..1; alpha ignored, gray replicated)
 * into x (3, H, W); and back (clamped to 0..1) into an RGB image's pixels (H, W, 3). */
void vgg19_preprocess(const impasto_image *img, float *x);
/* The same for a tensor: rgb (3, HW) in 0..255 -> x (3, HW) minus the mean (x == rgb allowed). */
void vgg19_preprocess_rgb255(const float *rgb, size_t hw, float *x);
void vgg19_deprocess(const float *x, int h, int w, float *rgb);

#endif
