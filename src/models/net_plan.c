/* Passes of a declared network (net.h): shapes, buffers, forward and backward.
 *
 * Buffers. Tensor t is layer t's output (C_t, H_t, W_t). An elementwise layer (ReLU, LeakyReLU,
 * tanh, dropout) or an add writes over its input when that input has no other reader and no
 * backward needs it (the layer that made it does not compute its gradient from its own output,
 * and the reader itself needs only its output): so a convolution, its norm and its ReLU cost two
 * maps, not three. The other tensors get buffers from a pool assigned once, at plan creation, by
 * walking the layers: with NET_KEEP every buffer stays (the backward reads them), without it a
 * buffer returns to the pool after its last reader, so inference holds only the maps alive at
 * one time. Gradients come from a second pool during net_backward, walking the layers backwards:
 * a tensor's gradient lives from its last reader's backward to its own layer's. A layer whose
 * backward may overwrite its output's gradient with its input's (the elementwise ones, instance
 * norm, and an add for one of its inputs) hands that buffer on instead of taking another. A
 * NET_KEEP plan walks the backward once at creation without computing, so that the gradient pool
 * holds all it will need and passes allocate nothing.
 *
 * Fusions, decided at plan creation from the declaration (the numbers are PyTorch's either way):
 *  - an upsampling whose only reader is a convolution runs inside it: the convolution reads the
 *    small map with its factor (net_conv.c), the upsampled map has no buffer and no pass, and the
 *    convolution's data gradient comes back at the small map;
 *  - a ReLU written over an instance norm's output (the norm's only reader) runs inside the
 *    norm's forward (instance_norm_forward's relu) and its backward inside the norm's (the norm's
 *    output, which the ReLU overwrote, is the mask): the ReLU's pass hands its gradient on.
 *
 * Convolutions run by net_conv.c: Winograd, direct and conv_train.c kernels as the fast style
 * network has always trained with; net_plan_set_reference sends every one to im2col + GEMM. */
#include "models/net.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/ctx.h"
#include "models/net_conv.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct pool_buf {
    float *ptr;
    size_t cap;     /* floats */
    int in_use;
} pool_buf;

typedef struct pool {
    pool_buf *b;
    int n, cap;
    size_t bytes;
} pool;

struct net_plan {
    int flags, threads, reference;
    int L;
    int ic, ih, iw;
    int *c, *h, *w;        /* (L) each tensor's shape */
    int *src;              /* (L) the tensor layer l reads first: its in0, but for a convolution
                            * with a fused upsampling the upsampling's input */
    int *up;               /* (L) a convolution's fused upsampling factor, else 1 */
    unsigned char *fused;  /* (L) 1: the layer runs inside another (an upsampling in its
                            * convolution: no buffer, no passes; a ReLU in its norm: no forward) */
    unsigned char *relu;   /* (L) 1: an instance norm applies the ReLU that follows it */
    int *alias;            /* (L) the tensor whose buffer layer l writes over, or -1 */
    int *buf;              /* (L) forward pool index of each tensor's buffer, -1 for none */
    conv2d_desc *cd;       /* (L) the convolutions' descriptors */
    convt_desc *td;        /* (L) the transposed convolutions' */
    float **mean, **invstd;   /* (L) per norm layer (C floats each), else NULL */
    uint64_t **keep;       /* (L) per dropout layer, its mask (bitmap of C*H*W) */
    float *in;             /* (C, H, W) */
    float *ws;             /* convolution scratch, the largest any layer needs */
    pool fwd, grad;
    float **g;             /* (L) during net_backward: each tensor's gradient, or NULL */
    int *gbuf;             /* (L) its grad-pool index */
    size_t bytes;          /* all but the gradient pool */
    double *tfwd, *tbwd;   /* (L) profiling: seconds added per layer, or NULL */
};

/* ---- pools ------------------------------------------------------------------------------ */

static void pool_free(pool *p) {
    for (int i = 0; i < p->n; i++) free(p->b[i].ptr);
    free(p->b);
    memset(p, 0, sizeof *p);
}

/* The smallest free buffer of at least `floats`, else a new one; -1 when out of memory. */
static int pool_acquire(pool *p, size_t floats) {
    int best = -1;
    for (int i = 0; i < p->n; i++)
        if (!p->b[i].in_use && p->b[i].cap >= floats && (best < 0 || p->b[i].cap < p->b[best].cap)) best = i;
    if (best < 0) {
        /* grow the largest free one rather than keep both */
        int grow = -1;
        for (int i = 0; i < p->n; i++)
            if (!p->b[i].in_use && (grow < 0 || p->b[i].cap > p->b[grow].cap)) grow = i;
        if (grow >= 0) {
            float *q = alloc_aligned(floats * sizeof(float));
            if (!q) return -1;
            p->bytes -= alloc_aligned_size(p->b[grow].cap * sizeof(float));
            p->bytes += alloc_aligned_size(floats * sizeof(float));
            free(p->b[grow].ptr);
            p->b[grow].ptr = q;
            p->b[grow].cap = floats;
            best = grow;
        } else {
            if (p->n == p->cap) {
                int cap = p->cap ? 2 * p->cap : 16;
                pool_buf *nb = realloc(p->b, (size_t)cap * sizeof *nb);
                if (!nb) return -1;
                p->b = nb;
                p->cap = cap;
            }
            float *q = alloc_aligned(floats * sizeof(float));
            if (!q) return -1;
            p->b[p->n] = (pool_buf){q, floats, 0};
            p->bytes += alloc_aligned_size(floats * sizeof(float));
            best = p->n++;
        }
    }
    p->b[best].in_use = 1;
    return best;
}

static void pool_release(pool *p, int i) {
    if (i >= 0) p->b[i].in_use = 0;
}

/* ---- shapes ----------------------------------------------------------------------------- */

static size_t tensor_size(const net_plan *p, int t) {
    if (t == NET_INPUT) return (size_t)p->ic * (size_t)p->ih * (size_t)p->iw;
    return (size_t)p->c[t] * (size_t)p->h[t] * (size_t)p->w[t];
}

static void tensor_shape(const net_plan *p, int t, int *c, int *h, int *w) {
    if (t == NET_INPUT) *c = p->ic, *h = p->ih, *w = p->iw;
    else *c = p->c[t], *h = p->h[t], *w = p->w[t];
}

static int op_elementwise(net_op op) {
    return op == NET_RELU || op == NET_LEAKY_RELU || op == NET_TANH || op == NET_DROPOUT;
}

/* 1 when layer l's backward reads its own output. */
static int needs_output(const net_layer *l) {
    return l->op == NET_RELU || l->op == NET_LEAKY_RELU || l->op == NET_TANH;
}

static impasto_status plan_shapes(impasto_ctx *ctx, const net *n, net_plan *p) {
    for (int i = 0; i < n->n; i++) {
        const net_layer *l = &n->layers[i];
        int c, h, w;
        tensor_shape(p, l->in0, &c, &h, &w);
        const char *why = NULL;
        switch (l->op) {
        case NET_CONV: {
            conv2d_desc d = {c, h, w, l->oc, l->k, l->k, l->stride, l->pad, l->padding, p->threads};
            if (c != l->ic) why = "input channels do not match";
            else if (l->padding == PAD_REFLECT && (l->pad >= h || l->pad >= w)) why = "the picture is smaller than the reflection padding";
            else if (conv2d_out_h(&d) <= 0 || conv2d_out_w(&d) <= 0) why = "the picture is smaller than the kernel";
            p->cd[i] = d;
            c = l->oc, h = conv2d_out_h(&d), w = conv2d_out_w(&d);
            break;
        }
        case NET_CONVT: {
            convt_desc d = {c, h, w, l->oc, l->k, l->stride, l->pad, l->out_pad, p->threads};
            if (c != l->ic) why = "input channels do not match";
            else if (convt_out_h(&d) <= 0 || convt_out_w(&d) <= 0) why = "the picture is too small";
            p->td[i] = d;
            c = l->oc, h = convt_out_h(&d), w = convt_out_w(&d);
            break;
        }
        case NET_INSTANCE_NORM:
        case NET_BATCH_NORM:
            if (c != l->ic) why = "input channels do not match";
            else if (l->op == NET_INSTANCE_NORM && (size_t)h * (size_t)w < 2) why = "an instance norm over one pixel";
            break;
        case NET_UPSAMPLE:
            if ((size_t)h * (size_t)l->scale > INT_MAX / 2 || (size_t)w * (size_t)l->scale > INT_MAX / 2) why = "too large";
            h *= l->scale, w *= l->scale;
            break;
        case NET_ADD:
        case NET_CONCAT: {
            int c1, h1, w1;
            tensor_shape(p, l->in1, &c1, &h1, &w1);
            if (h1 != h || w1 != w) why = "the two inputs have different sizes";
            else if (l->op == NET_ADD && c1 != c) why = "the two inputs have different channels";
            if (l->op == NET_CONCAT) c += c1;
            break;
        }
        default: break;
        }
        if (why)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "network %s at %dx%d: layer %d%s%s: %s", n->kind, p->iw,
                            p->ih, i, l->name[0] ? " " : "", l->name, why);
        size_t sz;
        if (!size_mul3((size_t)c, (size_t)h, (size_t)w, &sz) || sz > ((size_t)1 << 40) / sizeof(float))
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "network %s: layer %d is too large at %dx%d", n->kind, i,
                            p->iw, p->ih);
        p->c[i] = c, p->h[i] = h, p->w[i] = w;
    }
    return IMPASTO_OK;
}

/* The scratch layer l's convolutions need (floats). */
static size_t layer_workspace(const net_plan *p, const net_layer *l, int i) {
    if (l->op == NET_CONV) return net_conv_workspace(&p->cd[i], p->up[i], p->flags & NET_KEEP);
    if (l->op == NET_CONVT) return convt_workspace(&p->td[i]);
    return 0;
}

void net_plan_free(net_plan *p) {
    if (!p) return;
    for (int i = 0; i < p->L; i++) {
        if (p->mean) free(p->mean[i]);
        if (p->invstd) free(p->invstd[i]);
        if (p->keep) free(p->keep[i]);
    }
    free(p->c), free(p->h), free(p->w), free(p->src), free(p->up), free(p->fused), free(p->relu);
    free(p->alias), free(p->buf), free(p->cd), free(p->td);
    free(p->mean), free(p->invstd), free(p->keep), free(p->g), free(p->gbuf);
    free(p->in), free(p->ws);
    pool_free(&p->fwd);
    pool_free(&p->grad);
    free(p);
}

static int backward_walk(const net *n, net_plan *p, const float *dy, float *grads, float *dx, int dry);

impasto_status net_plan_create(impasto_ctx *ctx, const net *n, int c, int h, int w, int flags, int threads,
                               net_plan **out) {
    *out = NULL;
    if (!n->params) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "network %s is not finished", n->kind);
    if (c <= 0 || h <= 0 || w <= 0) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "empty input");
    net_plan *p = calloc(1, sizeof *p);
    if (!p) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    const int L = n->n;
    p->flags = flags, p->threads = threads, p->L = L, p->ic = c, p->ih = h, p->iw = w;
    p->c = calloc((size_t)L, sizeof(int));
    p->h = calloc((size_t)L, sizeof(int));
    p->w = calloc((size_t)L, sizeof(int));
    p->src = calloc((size_t)L, sizeof(int));
    p->up = calloc((size_t)L, sizeof(int));
    p->fused = calloc((size_t)L, 1);
    p->relu = calloc((size_t)L, 1);
    p->alias = calloc((size_t)L, sizeof(int));
    p->buf = calloc((size_t)L, sizeof(int));
    p->cd = calloc((size_t)L, sizeof *p->cd);
    p->td = calloc((size_t)L, sizeof *p->td);
    p->mean = calloc((size_t)L, sizeof(float *));
    p->invstd = calloc((size_t)L, sizeof(float *));
    p->keep = calloc((size_t)L, sizeof(uint64_t *));
    p->g = calloc((size_t)L, sizeof(float *));
    p->gbuf = calloc((size_t)L, sizeof(int));
    int *readers = calloc((size_t)L + 1, sizeof(int));     /* [t + 1]: how many layers read t */
    int *last = calloc((size_t)L + 1, sizeof(int));        /* [t + 1]: the last layer reading t's buffer */
    int *root = calloc((size_t)L, sizeof(int));            /* the tensor owning t's buffer */
    impasto_status s = IMPASTO_OK;
    if (!p->c || !p->h || !p->w || !p->src || !p->up || !p->fused || !p->relu || !p->alias || !p->buf || !p->cd ||
        !p->td || !p->mean || !p->invstd || !p->keep || !p->g || !p->gbuf || !readers || !last || !root) {
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((s = plan_shapes(ctx, n, p))) goto done;

    /* Upsamplings fused into their convolutions. From here on the layers read p->src (and in1);
     * a fused upsampling reads nothing and has no buffer. */
    for (int i = 0; i < L; i++) {
        const net_layer *l = &n->layers[i];
        readers[l->in0 + 1]++;
        if (l->in1 >= NET_INPUT) readers[l->in1 + 1]++;
        p->src[i] = l->in0;
        p->up[i] = 1;
        p->buf[i] = -1;
    }
    for (int i = 0; i < L; i++) {
        const int j = n->layers[i].in0;
        if (n->layers[i].op != NET_CONV || j < 0 || n->layers[j].op != NET_UPSAMPLE || readers[j + 1] != 1) continue;
        p->fused[j] = 1;
        p->src[i] = n->layers[j].in0;
        p->up[i] = n->layers[j].scale;
        readers[j + 1] = 0;  /* the upsampling's read of its input is now the convolution's */
    }

    /* in-place decisions */
    for (int i = 0; i < L; i++) {
        const net_layer *l = &n->layers[i];
        p->alias[i] = -1;
        int t = p->src[i];
        if (p->fused[i]) continue;
        if (l->op == NET_ADD) {
            /* over whichever input may be overwritten */
            for (int k = 0; k < 2; k++) {
                int u = k ? l->in1 : t;
                if (u >= 0 && readers[u + 1] == 1 && !needs_output(&n->layers[u]) && p->alias[i] < 0) p->alias[i] = u;
            }
        } else if (op_elementwise(l->op) && t >= 0 && readers[t + 1] == 1 && !needs_output(&n->layers[t])) {
            p->alias[i] = t;
            /* A ReLU over an instance norm's output: inside the norm (its backward reads x, not y). */
            if (l->op == NET_RELU && n->layers[t].op == NET_INSTANCE_NORM) p->relu[t] = 1, p->fused[i] = 1;
        }
    }
    for (int i = 0; i < L; i++) root[i] = p->alias[i] >= 0 ? root[p->alias[i]] : i;
    for (int i = 0; i < L; i++) {
        const net_layer *l = &n->layers[i];
        if (p->fused[i] && l->op == NET_UPSAMPLE) continue;
        last[root[i] + 1] = last[root[i] + 1] > i ? last[root[i] + 1] : i;
        if (p->src[i] >= 0 && last[root[p->src[i]] + 1] < i) last[root[p->src[i]] + 1] = i;
        if (l->in1 >= 0 && last[root[l->in1] + 1] < i) last[root[l->in1] + 1] = i;
    }
    last[root[L - 1] + 1] = INT_MAX;  /* the output stays */

    /* forward buffers */
    for (int i = 0; i < L; i++) {
        const net_layer *l = &n->layers[i];
        if (p->fused[i] && l->op == NET_UPSAMPLE) continue;
        if (p->alias[i] >= 0) p->buf[i] = p->buf[p->alias[i]];
        else if ((p->buf[i] = pool_acquire(&p->fwd, tensor_size(p, i))) < 0) {
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for network %s at %dx%d", n->kind, w, h);
            goto done;
        }
        if (!(flags & NET_KEEP)) {
            int ins[2] = {p->src[i], l->in1};
            for (int k = 0; k < 2; k++) {
                int u = ins[k];
                if (u >= 0 && root[u] != root[i] && last[root[u] + 1] == i) {
                    pool_release(&p->fwd, p->buf[root[u]]);
                    last[root[u] + 1] = -1;  /* released once */
                }
            }
        }
        if (l->op == NET_INSTANCE_NORM || l->op == NET_BATCH_NORM) {
            p->mean[i] = malloc((size_t)p->c[i] * sizeof(float));
            p->invstd[i] = malloc((size_t)p->c[i] * sizeof(float));
            if (!p->mean[i] || !p->invstd[i]) {
                s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
                goto done;
            }
            p->bytes += 2 * (size_t)p->c[i] * sizeof(float);
        }
        if (l->op == NET_DROPOUT) {
            size_t words = bitmap_plane_words(tensor_size(p, i));
            if (!(p->keep[i] = malloc(words * sizeof(uint64_t)))) {
                s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
                goto done;
            }
            p->bytes += words * sizeof(uint64_t);
        }
    }
    size_t ws = 0;
    for (int i = 0; i < L; i++) {
        size_t need = layer_workspace(p, &n->layers[i], i);
        ws = need > ws ? need : ws;
    }
    p->ws = alloc_aligned((ws ? ws : 1) * sizeof(float));
    p->in = alloc_aligned(tensor_size(p, NET_INPUT) * sizeof(float));
    if (!p->ws || !p->in) {
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for network %s at %dx%d", n->kind, w, h);
        goto done;
    }
    p->bytes += alloc_aligned_size((ws ? ws : 1) * sizeof(float)) + alloc_aligned_size(tensor_size(p, NET_INPUT) * sizeof(float));
    for (int i = 0; i < L; i++) p->gbuf[i] = -1;
    /* The gradient pool, by a backward walk that only takes and returns buffers (the plan's input
     * stands in for a dx, which takes the most). */
    if ((flags & NET_KEEP) && backward_walk(n, p, NULL, NULL, p->in, 1))
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for the gradients of network %s at %dx%d", n->kind, w, h);
done:
    free(readers);
    free(last);
    free(root);
    if (s) {
        net_plan_free(p);
        return s;
    }
    *out = p;
    return IMPASTO_OK;
}

void net_plan_out_shape(const net_plan *p, int *c, int *h, int *w) { tensor_shape(p, p->L - 1, c, h, w); }
size_t net_plan_bytes(const net_plan *p) { return p->bytes + p->fwd.bytes + p->grad.bytes; }
float *net_plan_input(net_plan *p) { return p->in; }
void net_plan_set_reference(net_plan *p, int on) { p->reference = on != 0; }

static float *tensor_ptr(const net_plan *p, int t) { return t == NET_INPUT ? p->in : p->fwd.b[p->buf[t]].ptr; }

void net_plan_set_timers(net_plan *p, double *fwd, double *bwd) {
    p->tfwd = fwd;
    p->tbwd = bwd;
}

/* ---- forward ---------------------------------------------------------------------------- */

impasto_status net_forward(impasto_ctx *ctx, net *n, net_plan *p, uint64_t *rng_state, const float **out) {
    const int f = p->flags;
    for (int i = 0; i < p->L; i++) {
        const net_layer *l = &n->layers[i];
        if (p->fused[i]) continue;  /* runs inside its convolution or its norm */
        const double t0 = p->tfwd ? clock_seconds() : 0.0;
        const float *x = tensor_ptr(p, p->src[i]);
        float *y = tensor_ptr(p, i);
        const float *wt = l->w_off != SIZE_MAX ? n->params + l->w_off : NULL;
        const float *b = l->b_off != SIZE_MAX ? n->params + l->b_off : NULL;
        const size_t hw = (size_t)p->h[i] * (size_t)p->w[i], size = (size_t)p->c[i] * hw;
        switch (l->op) {
        case NET_CONV: net_conv_forward(&p->cd[i], p->up[i], p->reference, x, wt, b, y, p->ws); break;
        case NET_CONVT: convt_forward(&p->td[i], x, wt, b, y, p->ws); break;
        case NET_INSTANCE_NORM:
            instance_norm_forward(p->c[i], hw, x, wt, b, NET_NORM_EPS, y, p->mean[i], p->invstd[i], p->relu[i],
                                  p->threads);
            break;
        case NET_BATCH_NORM: {
            float *rm = n->buffers + l->rm_off, *rv = n->buffers + l->rv_off;
            if (f & NET_BATCH_STATS)
                batch_norm_forward_train(1, p->c[i], hw, x, wt, b, NET_NORM_EPS, NET_BN_MOMENTUM, y, p->mean[i],
                                         p->invstd[i], (f & NET_UPDATE_STATS) ? rm : NULL,
                                         (f & NET_UPDATE_STATS) ? rv : NULL, p->threads);
            else batch_norm_forward_eval(1, p->c[i], hw, x, wt, b, rm, rv, NET_NORM_EPS, y, p->threads);
            break;
        }
        case NET_RELU: relu_forward(size, x, y); break;
        case NET_LEAKY_RELU: leaky_relu_forward(size, l->slope, x, y); break;
        case NET_TANH: tanh_forward(size, x, y); break;
        case NET_DROPOUT:
            if ((f & NET_DROPOUT_ON) && l->p > 0.0f) {
                if (!rng_state) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "dropout needs a random state");
                dropout_mask(size, l->p, rng_state, p->keep[i]);
                dropout_forward(size, l->p, p->keep[i], x, y);
            } else if (y != x) {
                memcpy(y, x, size * sizeof *y);
            }
            break;
        case NET_UPSAMPLE: {
            int c0, h0, w0;
            tensor_shape(p, l->in0, &c0, &h0, &w0);
            upsample_nearest_forward(c0, h0, w0, l->scale, x, y, p->threads);
            break;
        }
        case NET_ADD: {
            const float *x1 = tensor_ptr(p, l->in1);
            if (y == x) {
                for (size_t k = 0; k < size; k++) y[k] += x1[k];
            } else if (y == x1) {
                for (size_t k = 0; k < size; k++) y[k] += x[k];
            } else {
                for (size_t k = 0; k < size; k++) y[k] = x[k] + x1[k];
            }
            break;
        }
        case NET_CONCAT: {
            int c0, h0, w0;
            tensor_shape(p, l->in0, &c0, &h0, &w0);
            concat_forward(c0, p->c[i] - c0, hw, x, tensor_ptr(p, l->in1), y);
            break;
        }
        }
        if (p->tfwd) p->tfwd[i] += clock_seconds() - t0;
    }
    *out = tensor_ptr(p, p->L - 1);
    return IMPASTO_OK;
}

double net_relu_margin(const net *n, const net_plan *p, int *layer) {
    double margin = INFINITY;
    int where = -1;
    for (int r = 0; r < p->L; r++) {
        const int m = n->layers[r].in0;
        if (n->layers[r].op != NET_RELU || m < 0 || n->layers[m].op != NET_INSTANCE_NORM) continue;
        const net_layer *l = &n->layers[m];
        const size_t hw = (size_t)p->h[m] * (size_t)p->w[m];
        for (int ch = 0; ch < p->c[m]; ch++) {
            /* the norm's input (C, H, W), channel ch, normalised as the forward does */
            const float *x = tensor_ptr(p, p->src[m]) + (size_t)ch * hw;
            const double gamma = l->w_off != SIZE_MAX ? n->params[l->w_off + (size_t)ch] : 1.0;
            const double beta = l->b_off != SIZE_MAX ? n->params[l->b_off + (size_t)ch] : 0.0;
            const double mu = p->mean[m][ch], a = (double)p->invstd[m][ch] * gamma;
            for (size_t j = 0; j < hw; j++) {
                const double v = fabs(((double)x[j] - mu) * a + beta);
                if (v < margin) margin = v, where = m;
            }
        }
    }
    if (layer) *layer = where;
    return margin;
}

/* ---- backward --------------------------------------------------------------------------- */

/* Where the gradient of input t goes: the caller's dx for the network's input, else t's gradient
 * buffer (made on first use). *acc = 1 when t already has a gradient, so the layer must write to
 * a scratch buffer (*tmp, from the pool) and add it in. Returns NULL (nothing to do) for the
 * network's input when dx is NULL; *oom = 1 when out of memory. */
static float *grad_target(net_plan *p, int t, float *dx, int *dx_started, int *tmp, int *acc, int *oom) {
    *tmp = -1;
    *acc = 0;
    const size_t size = tensor_size(p, t);
    if (t == NET_INPUT) {
        if (!dx) return NULL;
        if (!*dx_started) {
            *dx_started = 1;
            return dx;
        }
    } else if (!p->g[t]) {
        if ((p->gbuf[t] = pool_acquire(&p->grad, size)) < 0) return (*oom = 1), NULL;
        p->g[t] = p->grad.b[p->gbuf[t]].ptr;
        return p->g[t];
    }
    *acc = 1;
    if ((*tmp = pool_acquire(&p->grad, size)) < 0) return (*oom = 1), NULL;
    return p->grad.b[*tmp].ptr;
}

/* Adds a scratch gradient in (dry: only returns the buffer). */
static void grad_finish(net_plan *p, int t, float *dx, float *target, int tmp, int acc, int dry) {
    if (!acc || !target) return;
    float *dst = t == NET_INPUT ? dx : p->g[t];
    const size_t size = tensor_size(p, t);
    if (!dry)
        for (size_t k = 0; k < size; k++) dst[k] += target[k];
    pool_release(&p->grad, tmp);
}

/* Hands layer i's output gradient g on as the gradient of its input t, for a backward that may
 * write dx over dy; 0 when t is the network's input or already has a gradient. */
static int grad_hand_on(net_plan *p, int i, int t) {
    if (t < 0 || p->g[t] || !p->g[i]) return 0;
    p->g[t] = p->g[i], p->gbuf[t] = p->gbuf[i];
    p->g[i] = NULL, p->gbuf[i] = -1;
    return 1;
}

/* One layer's backward: from g (its output's gradient) to its inputs' and its parameters'. */
static void layer_backward(const net *n, net_plan *p, int i, const float *g, float *t, float *dw, float *db) {
    const net_layer *l = &n->layers[i];
    const float *x = tensor_ptr(p, p->src[i]), *y = tensor_ptr(p, i);
    const float *wt = l->w_off != SIZE_MAX ? n->params + l->w_off : NULL;
    const size_t hw = (size_t)p->h[i] * (size_t)p->w[i], size = (size_t)p->c[i] * hw;
    switch (l->op) {
    case NET_CONV: net_conv_backward(&p->cd[i], p->up[i], p->reference, x, wt, g, t, dw, db, p->ws); break;
    case NET_CONVT: convt_backward(&p->td[i], x, wt, g, t, dw, db, p->ws); break;
    case NET_INSTANCE_NORM:
        /* with its ReLU's backward when that is fused (y holds the ReLU's output) */
        instance_norm_backward(p->c[i], hw, x, wt, p->mean[i], p->invstd[i], g, p->relu[i] ? y : NULL, t, dw, db,
                               p->threads);
        break;
    case NET_BATCH_NORM:
        if (p->flags & NET_BATCH_STATS)
            batch_norm_backward_train(1, p->c[i], hw, x, wt, p->mean[i], p->invstd[i], g, t, dw, db, p->threads);
        else
            batch_norm_backward_eval(1, p->c[i], hw, x, wt, n->buffers + l->rm_off, n->buffers + l->rv_off,
                                     NET_NORM_EPS, g, t, dw, db, p->threads);
        break;
    case NET_RELU:
        /* A ReLU fused into its instance norm is applied by the norm's backward (the mask is the
         * norm's output), to which backward_walk hands g on. */
        if (t && !p->fused[i]) relu_backward(size, y, g, t);
        else if (t && t != g) memcpy(t, g, size * sizeof *t);
        break;
    case NET_LEAKY_RELU: if (t) leaky_relu_backward(size, l->slope, y, g, t); break;
    case NET_TANH: if (t) tanh_backward(size, y, g, t); break;
    case NET_DROPOUT:
        if (!t) break;
        if ((p->flags & NET_DROPOUT_ON) && l->p > 0.0f) dropout_backward(size, l->p, p->keep[i], g, t);
        else if (t != g) memcpy(t, g, size * sizeof *t);
        break;
    case NET_UPSAMPLE: {
        int c0, h0, w0;
        tensor_shape(p, l->in0, &c0, &h0, &w0);
        if (t) upsample_nearest_backward(c0, h0, w0, l->scale, g, t, p->threads);
        break;
    }
    default: break;
    }
}

/* net_backward's walk; dry != 0 only takes and returns the gradient buffers (dy, grads and dx are
 * not touched), which sizes the pool at plan creation. Returns 1 when out of memory. */
static int backward_walk(const net *n, net_plan *p, const float *dy, float *grads, float *dx, int dry) {
    const int L = p->L;
    int oom = 0, dx_started = 0;
    for (int i = 0; i < L; i++) p->g[i] = NULL, p->gbuf[i] = -1;
    if ((p->gbuf[L - 1] = pool_acquire(&p->grad, tensor_size(p, L - 1))) < 0) goto nomem;
    p->g[L - 1] = p->grad.b[p->gbuf[L - 1]].ptr;
    if (!dry) memcpy(p->g[L - 1], dy, tensor_size(p, L - 1) * sizeof(float));
    for (int i = L - 1; i >= 0; i--) {
        const net_layer *l = &n->layers[i];
        float *g = p->g[i];
        if (!g) continue;  /* nothing downstream depends on this tensor (or a fused upsampling) */
        const double t0 = p->tbwd && !dry ? clock_seconds() : 0.0;
        float *dw = grads && l->w_off != SIZE_MAX ? grads + l->w_off : NULL;
        float *db = grads && l->b_off != SIZE_MAX ? grads + l->b_off : NULL;
        int tmp, acc;
        if (l->op == NET_ADD || l->op == NET_CONCAT) {
            int c0, h0, w0;
            tensor_shape(p, l->in0, &c0, &h0, &w0);
            const size_t hw = (size_t)p->h[i] * (size_t)p->w[i];
            int ins[2] = {l->in0, l->in1};
            for (int k = 0; k < 2; k++) {
                /* an add's gradient is g itself for each input: the first that can takes g's buffer */
                if (l->op == NET_ADD && grad_hand_on(p, i, ins[k])) continue;
                float *t = grad_target(p, ins[k], dx, &dx_started, &tmp, &acc, &oom);
                if (oom) goto nomem;
                if (!t) continue;
                const size_t csz = l->op == NET_CONCAT ? (size_t)(k ? p->c[i] - c0 : c0) * hw : (size_t)p->c[i] * hw;
                const float *from = l->op == NET_CONCAT && k ? g + (size_t)c0 * hw : g;
                if (!dry) memcpy(t, from, csz * sizeof *t);
                grad_finish(p, ins[k], dx, t, tmp, acc, dry);
            }
        } else {
            /* Layers whose backward may write dx over dy hand their output gradient's buffer on. */
            float *t;
            const int in_place = op_elementwise(l->op) || l->op == NET_INSTANCE_NORM;
            if (in_place && grad_hand_on(p, i, p->src[i])) {
                t = g, tmp = -1, acc = 0;
            } else {
                t = grad_target(p, p->src[i], dx, &dx_started, &tmp, &acc, &oom);
                if (oom) goto nomem;
            }
            if (!dry) layer_backward(n, p, i, g, t, dw, db);
            grad_finish(p, p->src[i], dx, t, tmp, acc, dry);
        }
        if (p->g[i]) {
            pool_release(&p->grad, p->gbuf[i]);
            p->g[i] = NULL, p->gbuf[i] = -1;
        }
        if (p->tbwd && !dry) p->tbwd[i] += clock_seconds() - t0;
    }
    for (int i = 0; i < L; i++)
        if (p->g[i]) pool_release(&p->grad, p->gbuf[i]), p->g[i] = NULL;
    if (!dry && dx && !dx_started) memset(dx, 0, tensor_size(p, NET_INPUT) * sizeof *dx);
    return 0;
nomem:
    for (int i = 0; i < L; i++)
        if (p->g[i]) pool_release(&p->grad, p->gbuf[i]), p->g[i] = NULL;
    return 1;
}

impasto_status net_backward(impasto_ctx *ctx, const net *n, net_plan *p, const float *dy, float *grads,
                            float *dx) {
    if (!(p->flags & NET_KEEP)) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "backward pass on a plan without NET_KEEP");
    if (backward_walk(n, p, dy, grads, dx, 0))
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory in the backward pass of network %s", n->kind);
    return IMPASTO_OK;
}
