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
void transformer_net_free(transformer_net *net);

/* Every buffer of a forward pass at one input size, allocated once: a stream of frames of that
 * size runs forward after forward with no allocation. */
typedef struct tnet_plan tnet_plan;

impasto_status tnet_plan_create(impasto_ctx *ctx, int h, int w, int threads, tnet_plan **out);
void tnet_plan_free(tnet_plan *p);
int tnet_plan_height(const tnet_plan *p);
int tnet_plan_width(const tnet_plan *p);
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

/* ---- training (transformer_net_train.c) ------------------------------------------------ */

/* The parameters as one flat array (so one Adam state covers them all), in network order: for
 * each convolution w (OC, IC, K, K), b (OC), then gamma (OC), beta (OC) when it has a norm. */
size_t tnet_num_params(void);
/* Points a transformer_net's arrays into a flat array of tnet_num_params() floats (a view: free
 * the flat array, never the view with transformer_net_free). */
void tnet_view(float *flat, transformer_net *view);
/* Copies a network's weights into a flat array, and back. */
void tnet_flatten(const transformer_net *net, float *flat);
/* PyTorch's default initialisation for the flat array: each convolution's weight and bias
 * uniform in +-1/sqrt(IC*K*K) (kaiming_uniform with a = sqrt(5)); norms gamma 1, beta 0.
 * `next` draws uniform doubles in [0, 1) from the caller's generator. */
void tnet_init_params(float *flat, double (*next)(void *), void *rng);

/* Every buffer of a training forward and backward at one input size: each convolution's input,
 * its pre-norm output and statistics, the residual stream, and the gradient buffers. */
typedef struct tnet_train_plan tnet_train_plan;

impasto_status tnet_train_plan_create(impasto_ctx *ctx, int h, int w, int threads, tnet_train_plan **out);
void tnet_train_plan_free(tnet_train_plan *p);
size_t tnet_train_plan_bytes(const tnet_train_plan *p);
/* The plan's input (3, H, W), RGB 0..255, for the caller to fill. */
float *tnet_train_input(tnet_train_plan *p);
/* The forward pass, keeping what the backward needs. Returns the output (3, OH, OW), owned by the
 * plan. */
const float *tnet_train_forward(const transformer_net *net, tnet_train_plan *p);
/* Backward from dy (3, OH, OW), the gradient at the last forward's output: the parameters'
 * gradients are ACCUMULATED into `grad` (a view, as tnet_view, of the gradient array), the
 * input's written into dx (3, H, W) when dx is not NULL. dy is left unchanged. */
void tnet_train_backward(const transformer_net *net, tnet_train_plan *p, const float *dy,
                         const transformer_net *grad, float *dx);
/* on != 0: every convolution by im2col + GEMM (conv2d.c), the slower reference path the fast
 * one is tested against; 0 (the default): Winograd, direct and conv_train.c kernels. */
void tnet_train_set_reference(tnet_train_plan *p, int on);
/* For profiling: seconds spent in each convolution's forward (with its norm) and backward are
 * ADDED to fwd[i] and bwd[i] (TNET_NUM_CONV each) from now on; NULL, NULL stops. */
void tnet_train_set_timers(tnet_train_plan *p, double *fwd, double *bwd);
/* For tests: after a forward, the smallest |gamma * xhat + beta| over every value a ReLU receives
 * (the distance of the nearest activation from a ReLU's kink), in double from the stored pre-norm
 * maps and statistics, and in *layer the convolution (0..TNET_NUM_CONV-1) whose norm it follows.
 * Two float32 paths can put a value that near 0 on opposite sides of the kink: its gradient passes
 * in one and stops in the other, and every gradient below moves by ~1e-3, which is no kernel's
 * error. */
double tnet_train_relu_margin(const transformer_net *net, const tnet_train_plan *p, int *layer);

#endif
