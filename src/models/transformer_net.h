/* The feed-forward style network of Johnson, Alahi & Fei-Fei 2016 ("Perceptual Losses for
 * Real-Time Style Transfer and Super-Resolution"), exactly as the PyTorch examples'
 * fast_neural_style TransformerNet builds it:
 *
 *   conv1 9x9 3->32, in1, ReLU; conv2 3x3/2 32->64, in2, ReLU; conv3 3x3/2 64->128, in3, ReLU;
 *   res1..res5: x + in2(conv2(ReLU(in1(conv1(x)))))  (128 channels, 3x3);
 *   deconv1: nearest x2 upsample, 3x3 128->64, in4, ReLU; deconv2: x2, 3x3 64->32, in5, ReLU;
 *   deconv3 9x9 32->3.
 * Every convolution has a bias and reflection padding k/2; the instance norms are affine with
 * eps 1e-5. Input and output are RGB in 0..255 (the output is not clamped by the network).
 *
 * Stored weights (safetensors, metadata kind=transformernet), named as PyTorch's state_dict so
 * `TransformerNet().load_state_dict(safetensors.torch.load_file(...))` works:
 *   "<conv>.conv2d.weight" (OC, IC, K, K), "<conv>.conv2d.bias" (OC),
 *   "<norm>.weight" (OC), "<norm>.bias" (OC).
 *
 * Sizes: the stride-2 convolutions give ceil(n/2), the upsamplings double, so an input of
 * H x W comes out 4*ceil(ceil(H/2)/2) x ... : the input's size when H and W are multiples of 4,
 * else up to 3 rows/columns more (PyTorch does the same). */
#ifndef IMPASTO_MODELS_TRANSFORMER_NET_H
#define IMPASTO_MODELS_TRANSFORMER_NET_H

#include "impasto.h"

#define TNET_NUM_CONV 16
#define TNET_EPS 1e-5f
#define TNET_MIN_SIDE 5  /* the 9x9 convolutions' reflection padding of 4 needs at least 5 pixels */

typedef enum { TNET_PLAIN = 0, TNET_RES_FIRST, TNET_RES_SECOND } tnet_role;

typedef struct tnet_conv_spec {
    const char *conv;   /* "conv1", "res1.conv1", "deconv1", ... (state_dict prefix) */
    const char *norm;   /* "in1", "res1.in1", ... or NULL (deconv3) */
    int ic, oc, k, stride;
    int upsample;       /* 2: nearest x2 before the convolution, else 1 */
    int relu;           /* ReLU after the norm */
    tnet_role role;     /* first / second convolution of a residual block */
} tnet_conv_spec;

/* The 16 convolutions in network order. */
const tnet_conv_spec *tnet_convs(void);
/* Output size for an input of h x w. */
void tnet_out_size(int h, int w, int *oh, int *ow);

typedef struct transformer_net {
    float *w[TNET_NUM_CONV];      /* (OC, IC, K, K) */
    float *b[TNET_NUM_CONV];      /* (OC) */
    float *gamma[TNET_NUM_CONV];  /* (OC), NULL without a norm */
    float *beta[TNET_NUM_CONV];   /* (OC), NULL without a norm */
} transformer_net;

struct safetensors;
/* Loads from an open converted file (`path` names it in messages); checks every tensor's shape. */
impasto_status transformer_net_from_safetensors(impasto_ctx *ctx, const struct safetensors *st,
                                                const char *path, transformer_net **out);
impasto_status transformer_net_load(impasto_ctx *ctx, const char *path, transformer_net **out);
/* IMPASTO_ERR_FORMAT naming `path` when st's metadata gives another kind than "transformernet"
 * (a file without a kind passes). */
impasto_status transformer_net_check_kind(impasto_ctx *ctx, const struct safetensors *st, const char *path);
void transformer_net_free(transformer_net *net);

/* Every buffer of a forward pass at one input size, allocated once: a stream of frames of that
 * size runs forward after forward with no allocation. */
typedef struct tnet_plan tnet_plan;

impasto_status tnet_plan_create(impasto_ctx *ctx, int h, int w, int threads, tnet_plan **out);
void tnet_plan_free(tnet_plan *p);
int tnet_plan_height(const tnet_plan *p);
int tnet_plan_width(const tnet_plan *p);
/* Bytes a plan for h x w would take (0 when the size cannot run), without allocating it. */
size_t tnet_plan_size(int h, int w, int threads);
/* Bytes of all buffers of the plan. */
size_t tnet_plan_bytes(const tnet_plan *p);
/* For profiling: seconds spent in each convolution (with its norm) are ADDED to seconds[i]
 * (TNET_NUM_CONV) by every forward from now on; NULL stops. */
void tnet_plan_set_timers(tnet_plan *p, double *seconds);
/* The plan's input (3, H, W), RGB 0..255, for the caller to fill. */
float *tnet_plan_input(tnet_plan *p);
/* Runs the network on the plan's input; returns the output (3, OH, OW) (tnet_out_size), owned by
 * the plan, valid until the next forward. */
const float *tnet_forward(const transformer_net *net, tnet_plan *p);

/* Instance-norm statistics of one picture, per convolution i with a norm and channel c: the mean
 * and 1 / sqrt(biased variance + eps) of the convolution's output over the picture. Tiled runs
 * (methods/fast.c) gather them over the whole picture and hand them to every tile, so each tile
 * is normalised as the whole picture would be. */
#define TNET_MAX_C 128
typedef struct tnet_stats {
    float mean[TNET_NUM_CONV][TNET_MAX_C];
    float invstd[TNET_NUM_CONV][TNET_MAX_C];
} tnet_stats;

/* The number of map pixels per input pixel along each side at convolution i's output: 1 (conv1,
 * deconv2, deconv3), 2 (conv2, deconv1) or 4 (conv3 and the residual blocks); the map of an
 * h x w input at conv i is h_i x w_i (tnet_map_size). */
int tnet_conv_scale(int i);
void tnet_map_size(int h, int w, int i, int *hi, int *wi);

/* tnet_forward with the norms of convolutions 0 .. known - 1 taken from `use` (NULL: known must
 * be 0) instead of the picture's own statistics, and those of the others from the picture, each
 * written to `record` when it is not NULL. stop < TNET_NUM_CONV stops after convolution `stop`,
 * before its norm, and returns that convolution's output (OC, h_stop, w_stop); stop =
 * TNET_NUM_CONV is the whole network. */
const float *tnet_forward_stats(const transformer_net *net, tnet_plan *p, const tnet_stats *use, int known,
                                tnet_stats *record, int stop);

/* ---- training (transformer_net_decl.c) ------------------------------------------------- */

struct net;
/* The network declared on models/net.h (finished: slabs allocated, weights zero, norms 1 and 0;
 * initialise with net_init_default, PyTorch's default), for net_plan_create with NET_KEEP and
 * inputs (3, H, W), RGB 0..255. Layers are named as the state_dict ("conv1.conv2d", "in1", ...),
 * so its tensors (net_tensor_at) are the checkpoints' in their order, and its slabs hold, for each
 * convolution in network order, w (OC, IC, K, K), b (OC), then gamma (OC), beta (OC) when it has a
 * norm: the layout of Adam's moments in a checkpoint. */
impasto_status tnet_declare(impasto_ctx *ctx, struct net **out);
/* A transformer_net whose arrays point into `slab`, an array of n's parameter layout (n->params,
 * n->grads, or another): the weights for tnet_forward, or a gradient by array. A view: never
 * transformer_net_free it. */
void tnet_view(const struct net *n, float *slab, transformer_net *view);

#endif
