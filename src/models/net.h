/* A trainable network declared as an ordered list of layers, as llm.c keeps its model: every
 * layer's forward and backward from src/nn, the parameters of all layers in one slab and their
 * gradients in another of the same layout, so one Adam state covers a network and a checkpoint
 * is the slab under its PyTorch names. No general autograd: layers run in the order declared,
 * each reading the network's input or earlier layers' outputs, which is enough for the skips the
 * style networks need (a residual add, a U-Net concat).
 *
 * Declaring: net_create, then one call per layer in order. Each returns the index of the layer's
 * output tensor (NET_INPUT is the network's input) for later layers to read; names are the
 * state_dict prefixes of the PyTorch module ("model.1" -> "model.1.weight", "model.1.bias",
 * "model.2.running_mean", ...). A reflection or zero padding module followed by a convolution is
 * declared as the convolution's own padding. Arguments are checked by net_finish, which also
 * allocates the slabs; the first problem is reported there (the builders never fail loudly, so a
 * model reads as a list).
 *
 * Running: a plan holds every buffer of passes at one input size. A plan made with NET_KEEP keeps
 * what the backward pass needs; without it, buffers are reused as soon as their last reader has
 * run (inference at large sizes). The mode flags say how batch norm and dropout behave (PyTorch's
 * train() and eval()). The plan fuses what the declaration keeps apart, so a model reads as
 * PyTorch's modules and runs as a hand-written pass would (net_plan.c): an upsampling read only by
 * a convolution is done inside that convolution, which reads the small map (declare
 * net_upsample then net_conv, as UpsampleConvLayer does), and a ReLU over an instance norm's
 * output runs inside the norm. */
#ifndef IMPASTO_MODELS_NET_H
#define IMPASTO_MODELS_NET_H

#include "impasto.h"
#include "nn/nn.h"

#include <stddef.h>
#include <stdint.h>

#define NET_INPUT (-1)
/* Longest layer name: the reference's U-Net nests a block per downsampling, so unet_256's innermost
 * layers are "model.model.1.model." + 6 x "3.model." + "3" (69 characters) and unet_1024's 85. */
#define NET_MAX_NAME 128
#define NET_NORM_EPS 1e-5f       /* PyTorch's InstanceNorm2d and BatchNorm2d default */
#define NET_BN_MOMENTUM 0.1f     /* PyTorch's BatchNorm2d default */

typedef enum {
    NET_CONV = 0,        /* conv2d, any stride, zero or reflection padding, bias optional */
    NET_CONVT,           /* transposed conv (conv_transpose.c), zero padding, bias optional */
    NET_INSTANCE_NORM,   /* affine (weight, bias) or not; no running statistics */
    NET_BATCH_NORM,      /* affine, with running_mean, running_var */
    NET_RELU,
    NET_LEAKY_RELU,
    NET_TANH,
    NET_DROPOUT,
    NET_UPSAMPLE,        /* nearest, by a whole factor */
    NET_ADD,             /* in0 + in1, same shape */
    NET_CONCAT           /* channels of in0, then in1 */
} net_op;

typedef struct net_layer {
    net_op op;
    int in0, in1;              /* tensors read: NET_INPUT or an earlier layer's index; in1 < -1 unused */
    char name[NET_MAX_NAME];   /* state_dict prefix; "" for layers without parameters */
    int ic, oc;                /* channels in and out (checked against the inputs' at plan time) */
    int k, stride, pad, out_pad;
    pad_mode padding;
    int bias;                  /* conv/convt: has a bias; instance norm: affine */
    float slope;               /* LeakyReLU */
    float p;                   /* dropout */
    int scale;                 /* upsample */
    /* offsets into the parameter slab (SIZE_MAX: none) and the buffer slab (running statistics) */
    size_t w_off, b_off, rm_off, rv_off;
} net_layer;

typedef struct net {
    char kind[32];
    net_layer *layers;
    int n, cap;
    int bad;                   /* a builder failed: net_finish reports `bad_msg` */
    char bad_msg[160];
    size_t nparams, nbuffers;
    float *params;             /* (nparams) every layer's weight then bias, in declaration order */
    float *grads;              /* (nparams) the same layout, for the caller's backward passes */
    float *buffers;            /* (nbuffers) batch norms' running_mean then running_var */
} net;

net *net_create(const char *kind);  /* NULL when out of memory */
void net_free(net *n);              /* NULL is a no-op */

int net_conv(net *n, int in, const char *name, int ic, int oc, int k, int stride, int pad, pad_mode padding,
             int bias);
int net_convt(net *n, int in, const char *name, int ic, int oc, int k, int stride, int pad, int out_pad,
              int bias);
int net_instance_norm(net *n, int in, const char *name, int c, int affine);
int net_batch_norm(net *n, int in, const char *name, int c);
int net_relu(net *n, int in);
int net_leaky_relu(net *n, int in, float slope);
int net_tanh(net *n, int in);
int net_dropout(net *n, int in, float p);
int net_upsample(net *n, int in, int scale);
int net_add(net *n, int a, int b);
int net_concat(net *n, int a, int b);
/* The floats of parameters and running statistics the declaration will hold (before net_finish:
 * a loader checks a file can hold them before allocating). */
size_t net_count_floats(const net *n);
/* Checks the declaration and allocates the slabs (parameters and gradients zero, running_mean 0,
 * running_var 1 as PyTorch's). */
impasto_status net_finish(impasto_ctx *ctx, net *n);

/* The reference's init_weights('normal', gain) (junyanz/pytorch-CycleGAN-and-pix2pix): every
 * convolution's weight N(0, gain^2), biases 0, batch norms' weight N(1, gain^2) and bias 0, affine
 * instance norms 1 and 0; from the caller's core/rng.h state. */
void net_init_normal(net *n, float gain, uint64_t *rng_state);
/* PyTorch's default initialisation (the modules' reset_parameters): every convolution's weight,
 * then its bias, uniform in +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5); fan_in = IC K K,
 * for a transposed convolution OC K K as PyTorch reads its weight's shape), drawn in declaration
 * order by `next` (uniform doubles in [0, 1) from the caller's generator); norms' weights 1,
 * biases 0, running statistics 0 and 1. */
void net_init_default(net *n, double (*next)(void *), void *rng);

/* ---- the named tensors (checkpoints, conversion) ---------------------------------------- */
typedef struct net_tensor {
    char name[NET_MAX_NAME + 16];
    int ndim;
    int64_t shape[4];
    float *data;               /* into params or buffers */
    int is_buffer;             /* running statistics: not trained */
} net_tensor;

size_t net_tensor_count(const net *n);
void net_tensor_at(const net *n, size_t i, net_tensor *t);

struct safetensors;
/* Reads every tensor of the network from st under `prefix` + name (prefix "" for a converted
 * model, "G_A." in a CycleGAN file), checking shapes; a missing tensor, or an unknown one under
 * the prefix, is IMPASTO_ERR_FORMAT naming `path` (PyTorch's num_batches_tracked is accepted and
 * ignored, and so are running_mean/running_var of an instance norm, which old reference
 * checkpoints carry and the reference's loader drops). */
impasto_status net_load(impasto_ctx *ctx, net *n, const struct safetensors *st, const char *prefix,
                        const char *path);

/* ---- passes ----------------------------------------------------------------------------- */
enum {
    NET_KEEP = 1,         /* keep what net_backward needs */
    NET_BATCH_STATS = 2,  /* batch norms normalise by the batch's statistics (PyTorch's train()) */
    NET_UPDATE_STATS = 4, /* ... and move their running statistics */
    NET_DROPOUT_ON = 8    /* dropout drops (train()); off it is the identity (eval()) */
};
#define NET_TRAIN (NET_KEEP | NET_BATCH_STATS | NET_UPDATE_STATS | NET_DROPOUT_ON)

typedef struct net_plan net_plan;

/* A plan for inputs of c x h x w; threads as the conv descriptors take them. Fails with
 * IMPASTO_ERR_INVALID_ARG naming the layer when a shape does not fit (a side too small for a
 * padding or a stride, a concat of different sizes, channels that do not match). */
impasto_status net_plan_create(impasto_ctx *ctx, const net *n, int c, int h, int w, int flags, int threads,
                               net_plan **out);
void net_plan_free(net_plan *p);
void net_plan_out_shape(const net_plan *p, int *c, int *h, int *w);
size_t net_plan_bytes(const net_plan *p);
/* The plan's input (C, H, W), for the caller to fill before each forward. */
float *net_plan_input(net_plan *p);
/* on != 0: every convolution by im2col + GEMM (conv2d.c), the reference the fast paths are tested
 * against. */
void net_plan_set_reference(net_plan *p, int on);
/* For profiling: the seconds each layer's forward and backward take are ADDED to fwd[i] and bwd[i]
 * (one per layer; a fused layer's time counts in the layer it runs inside); NULL, NULL stops. */
void net_plan_set_timers(net_plan *p, double *fwd, double *bwd);

/* Runs the network on the plan's input; *out (C', H', W') is owned by the plan, valid until the
 * next forward. rng_state draws the dropout masks (may be NULL when the flags have no
 * NET_DROPOUT_ON or the network has no dropout); running statistics move in n when the plan has
 * NET_UPDATE_STATS (hence n is not const). */
impasto_status net_forward(impasto_ctx *ctx, net *n, net_plan *p, uint64_t *rng_state, const float **out);
/* Backward from dy (the gradient at the last forward's output, left unchanged) of a NET_KEEP
 * plan: the parameters' gradients ACCUMULATED into grads (n->nparams, n->grads or another array
 * of that layout; NULL skips them, as for a frozen discriminator), the input's written into dx
 * (C, H, W) when dx is not NULL. */
impasto_status net_backward(impasto_ctx *ctx, const net *n, net_plan *p, const float *dy, float *grads,
                            float *dx);

/* For tests, after a forward of a NET_KEEP plan: the smallest |value| any ReLU that follows an
 * instance norm receives (its distance from the kink), recomputed in double from the norm's input
 * and statistics, and in *layer that norm's index (-1: no such ReLU). Two float32 paths can put a
 * value that near 0 on opposite sides of the kink: its gradient passes in one and stops in the
 * other, and every gradient below moves with it, which is no kernel's error. */
double net_relu_margin(const net *n, const net_plan *p, int *layer);

#endif
