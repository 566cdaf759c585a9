/* Declared networks (net.h): the declaration, the parameter slabs and the named tensors. The
 * passes are in net_plan.c. */
#include "models/net.h"

#include "core/ctx.h"
#include "core/rng.h"
#include "formats/safetensors.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

net *net_create(const char *kind) {
    net *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    snprintf(n->kind, sizeof n->kind, "%s", kind ? kind : "");
    return n;
}

void net_free(net *n) {
    if (!n) return;
    free(n->layers);
    free(n->params);
    free(n->grads);
    free(n->buffers);
    free(n);
}

/* Records the first problem of a declaration for net_finish; returns -1 (no layer). */
static int net_bad(net *n, const char *msg, int layer) {
    if (!n->bad) {
        n->bad = 1;
        snprintf(n->bad_msg, sizeof n->bad_msg, "layer %d: %s", layer, msg);
    }
    return -1;
}

/* Appends a layer reading in0 (and in1, or -2 for none) and returns its index. */
static int net_push(net *n, net_op op, int in0, int in1, const char *name, net_layer **out) {
    if (!n) return -1;
    const int idx = n->n;
    if (n->bad) return -1;
    if (in0 < NET_INPUT || in0 >= idx || (in1 != -2 && (in1 < NET_INPUT || in1 >= idx)))
        return net_bad(n, "reads a tensor that is not the input or an earlier layer", idx);
    if (n->n == n->cap) {
        int cap = n->cap ? 2 * n->cap : 32;
        net_layer *l = realloc(n->layers, (size_t)cap * sizeof *l);
        if (!l) return net_bad(n, "out of memory", idx);
        n->layers = l;
        n->cap = cap;
    }
    net_layer *l = &n->layers[n->n++];
    memset(l, 0, sizeof *l);
    l->op = op;
    l->in0 = in0;
    l->in1 = in1;
    if (name) {
        if (strlen(name) >= sizeof l->name) return net_bad(n, "name too long", idx);
        memcpy(l->name, name, strlen(name) + 1);
    }
    l->w_off = l->b_off = l->rm_off = l->rv_off = SIZE_MAX;
    *out = l;
    return idx;
}

int net_conv(net *n, int in, const char *name, int ic, int oc, int k, int stride, int pad, pad_mode padding,
             int bias) {
    net_layer *l;
    int i = net_push(n, NET_CONV, in, -2, name, &l);
    if (i < 0) return i;
    if (ic <= 0 || oc <= 0 || k <= 0 || stride <= 0 || pad < 0 || pad >= k + 1)
        return net_bad(n, "convolution with an impossible shape", i);
    if (padding != PAD_ZERO && padding != PAD_REFLECT) return net_bad(n, "unknown padding", i);
    l->ic = ic, l->oc = oc, l->k = k, l->stride = stride, l->pad = pad, l->padding = padding, l->bias = bias != 0;
    return i;
}

int net_convt(net *n, int in, const char *name, int ic, int oc, int k, int stride, int pad, int out_pad,
              int bias) {
    net_layer *l;
    int i = net_push(n, NET_CONVT, in, -2, name, &l);
    if (i < 0) return i;
    if (ic <= 0 || oc <= 0 || k <= 0 || stride <= 0 || pad < 0 || out_pad < 0 || out_pad >= stride)
        return net_bad(n, "transposed convolution with an impossible shape", i);
    l->ic = ic, l->oc = oc, l->k = k, l->stride = stride, l->pad = pad, l->out_pad = out_pad, l->bias = bias != 0;
    return i;
}

int net_instance_norm(net *n, int in, const char *name, int c, int affine) {
    net_layer *l;
    int i = net_push(n, NET_INSTANCE_NORM, in, -2, name, &l);
    if (i < 0) return i;
    if (c <= 0) return net_bad(n, "norm without channels", i);
    l->ic = l->oc = c;
    l->bias = affine != 0;
    return i;
}

int net_batch_norm(net *n, int in, const char *name, int c) {
    net_layer *l;
    int i = net_push(n, NET_BATCH_NORM, in, -2, name, &l);
    if (i < 0) return i;
    if (c <= 0) return net_bad(n, "norm without channels", i);
    l->ic = l->oc = c;
    l->bias = 1;
    return i;
}

static int net_simple(net *n, net_op op, int in) {
    net_layer *l;
    return net_push(n, op, in, -2, NULL, &l);
}

int net_relu(net *n, int in) { return net_simple(n, NET_RELU, in); }
int net_tanh(net *n, int in) { return net_simple(n, NET_TANH, in); }

int net_leaky_relu(net *n, int in, float slope) {
    net_layer *l;
    int i = net_push(n, NET_LEAKY_RELU, in, -2, NULL, &l);
    if (i < 0) return i;
    if (!(slope > 0.0f && slope < 1.0f)) return net_bad(n, "LeakyReLU slope outside (0, 1)", i);
    l->slope = slope;
    return i;
}

int net_dropout(net *n, int in, float p) {
    net_layer *l;
    int i = net_push(n, NET_DROPOUT, in, -2, NULL, &l);
    if (i < 0) return i;
    if (!(p >= 0.0f && p < 1.0f)) return net_bad(n, "dropout probability outside [0, 1)", i);
    l->p = p;
    return i;
}

int net_upsample(net *n, int in, int scale) {
    net_layer *l;
    int i = net_push(n, NET_UPSAMPLE, in, -2, NULL, &l);
    if (i < 0) return i;
    if (scale < 1 || scale > 16) return net_bad(n, "upsampling factor outside 1..16", i);
    l->scale = scale;
    return i;
}

int net_add(net *n, int a, int b) {
    net_layer *l;
    return net_push(n, NET_ADD, a, b, NULL, &l);
}

int net_concat(net *n, int a, int b) {
    net_layer *l;
    return net_push(n, NET_CONCAT, a, b, NULL, &l);
}

/* Floats of a layer's weight (0 without one). */
static size_t layer_weight_size(const net_layer *l) {
    switch (l->op) {
    case NET_CONV:
    case NET_CONVT: return (size_t)l->ic * (size_t)l->oc * (size_t)l->k * (size_t)l->k;
    case NET_INSTANCE_NORM: return l->bias ? (size_t)l->oc : 0;
    case NET_BATCH_NORM: return (size_t)l->oc;
    default: return 0;
    }
}

static size_t layer_bias_size(const net_layer *l) {
    switch (l->op) {
    case NET_CONV:
    case NET_CONVT:
    case NET_INSTANCE_NORM: return l->bias ? (size_t)l->oc : 0;
    case NET_BATCH_NORM: return (size_t)l->oc;
    default: return 0;
    }
}

size_t net_count_floats(const net *n) {
    size_t total = 0;
    for (int i = 0; n && i < n->n; i++) {
        const net_layer *l = &n->layers[i];
        total += layer_weight_size(l) + layer_bias_size(l) + (l->op == NET_BATCH_NORM ? 2 * (size_t)l->oc : 0);
    }
    return total;
}

impasto_status net_finish(impasto_ctx *ctx, net *n) {
    if (!n) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory declaring a network");
    if (n->bad) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "network %s: %s", n->kind, n->bad_msg);
    if (n->n == 0) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "network %s has no layers", n->kind);
    size_t np = 0, nb = 0;
    for (int i = 0; i < n->n; i++) {
        net_layer *l = &n->layers[i];
        size_t ws = layer_weight_size(l), bs = layer_bias_size(l);
        if ((ws || bs) && !l->name[0])
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "network %s: layer %d has parameters but no name",
                            n->kind, i);
        if (ws) l->w_off = np, np += ws;
        if (bs) l->b_off = np, np += bs;
        if (l->op == NET_BATCH_NORM) {
            l->rm_off = nb, nb += (size_t)l->oc;
            l->rv_off = nb, nb += (size_t)l->oc;
        }
    }
    free(n->params);
    free(n->grads);
    free(n->buffers);
    n->params = calloc(np ? np : 1, sizeof(float));
    n->grads = calloc(np ? np : 1, sizeof(float));
    n->buffers = calloc(nb ? nb : 1, sizeof(float));
    if (!n->params || !n->grads || !n->buffers)
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for the parameters of network %s", n->kind);
    n->nparams = np;
    n->nbuffers = nb;
    for (int i = 0; i < n->n; i++) {
        const net_layer *l = &n->layers[i];
        if (l->op != NET_BATCH_NORM) continue;
        for (int c = 0; c < l->oc; c++) n->buffers[l->rv_off + (size_t)c] = 1.0f;
        for (int c = 0; c < l->oc; c++) n->params[l->w_off + (size_t)c] = 1.0f;
    }
    for (int i = 0; i < n->n; i++) {
        const net_layer *l = &n->layers[i];
        if (l->op == NET_INSTANCE_NORM && l->bias)
            for (int c = 0; c < l->oc; c++) n->params[l->w_off + (size_t)c] = 1.0f;
    }
    return IMPASTO_OK;
}

/* A normal deviate by Box-Muller from two open uniforms. */
static double normal_draw(uint64_t *rng) {
    double u1 = rng_uniform_open(rng), u2 = rng_uniform_open(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void net_init_normal(net *n, float gain, uint64_t *rng_state) {
    for (int i = 0; i < n->n; i++) {
        const net_layer *l = &n->layers[i];
        float *w = l->w_off != SIZE_MAX ? n->params + l->w_off : NULL;
        float *b = l->b_off != SIZE_MAX ? n->params + l->b_off : NULL;
        const size_t nw = layer_weight_size(l), nbias = layer_bias_size(l);
        if (l->op == NET_CONV || l->op == NET_CONVT) {
            for (size_t j = 0; j < nw; j++) w[j] = (float)(gain * normal_draw(rng_state));
        } else if (l->op == NET_BATCH_NORM) {
            for (size_t j = 0; j < nw; j++) w[j] = (float)(1.0 + gain * normal_draw(rng_state));
        } else if (l->op == NET_INSTANCE_NORM && w) {
            for (size_t j = 0; j < nw; j++) w[j] = 1.0f;
        }
        if (b) memset(b, 0, nbias * sizeof *b);
    }
}

void net_init_default(net *n, double (*next)(void *), void *rng) {
    for (int i = 0; i < n->n; i++) {
        const net_layer *l = &n->layers[i];
        float *w = l->w_off != SIZE_MAX ? n->params + l->w_off : NULL;
        float *b = l->b_off != SIZE_MAX ? n->params + l->b_off : NULL;
        const size_t nw = layer_weight_size(l), nbias = layer_bias_size(l);
        if (l->op == NET_CONV || l->op == NET_CONVT) {
            const size_t fan_in = (size_t)(l->op == NET_CONV ? l->ic : l->oc) * (size_t)l->k * (size_t)l->k;
            const double bound = 1.0 / sqrt((double)fan_in);
            for (size_t j = 0; j < nw; j++) w[j] = (float)((2.0 * next(rng) - 1.0) * bound);
            for (size_t j = 0; j < nbias; j++) b[j] = (float)((2.0 * next(rng) - 1.0) * bound);
            continue;
        }
        for (size_t j = 0; j < nw; j++) w[j] = 1.0f;
        if (b) memset(b, 0, nbias * sizeof *b);
        if (l->rm_off != SIZE_MAX) {
            for (int c = 0; c < l->oc; c++) n->buffers[l->rm_off + (size_t)c] = 0.0f;
            for (int c = 0; c < l->oc; c++) n->buffers[l->rv_off + (size_t)c] = 1.0f;
        }
    }
}

/* ---- named tensors ---------------------------------------------------------------------- */

/* The tensors of layer l in state_dict order: weight, bias, running_mean, running_var. */
static int layer_tensor_count(const net_layer *l) {
    return (l->w_off != SIZE_MAX) + (l->b_off != SIZE_MAX) + 2 * (l->rm_off != SIZE_MAX);
}

size_t net_tensor_count(const net *n) {
    size_t c = 0;
    for (int i = 0; i < n->n; i++) c += (size_t)layer_tensor_count(&n->layers[i]);
    return c;
}

void net_tensor_at(const net *n, size_t idx, net_tensor *t) {
    memset(t, 0, sizeof *t);
    for (int i = 0; i < n->n; i++) {
        const net_layer *l = &n->layers[i];
        const size_t c = (size_t)layer_tensor_count(l);
        if (idx >= c) {
            idx -= c;
            continue;
        }
        /* which of weight, bias, running_mean, running_var */
        int which[4], m = 0;
        if (l->w_off != SIZE_MAX) which[m++] = 0;
        if (l->b_off != SIZE_MAX) which[m++] = 1;
        if (l->rm_off != SIZE_MAX) which[m++] = 2, which[m++] = 3;
        static const char *const suffix[4] = {"weight", "bias", "running_mean", "running_var"};
        const int k = which[idx];
        snprintf(t->name, sizeof t->name, "%s.%s", l->name, suffix[k]);
        if (k == 0 && (l->op == NET_CONV || l->op == NET_CONVT)) {
            t->ndim = 4;
            /* conv (OC, IC, K, K); transposed conv (IC, OC, K, K), PyTorch's layouts */
            t->shape[0] = l->op == NET_CONV ? l->oc : l->ic;
            t->shape[1] = l->op == NET_CONV ? l->ic : l->oc;
            t->shape[2] = t->shape[3] = l->k;
        } else {
            t->ndim = 1;
            t->shape[0] = l->oc;
        }
        if (k == 0) t->data = n->params + l->w_off;
        else if (k == 1) t->data = n->params + l->b_off;
        else t->data = n->buffers + (k == 2 ? l->rm_off : l->rv_off), t->is_buffer = 1;
        return;
    }
}

/* 1 when `rest` (a name under the prefix) is a tensor the reference's checkpoints may carry that
 * impasto has no use for: num_batches_tracked of any norm, and running statistics of instance
 * norms (PyTorch before 0.4 saved them; the reference's loader deletes them). */
static int ignorable_extra(const net *n, const char *rest) {
    const char *dot = strrchr(rest, '.');
    if (!dot) return 0;
    if (!strcmp(dot, ".num_batches_tracked")) return 1;
    if (strcmp(dot, ".running_mean") && strcmp(dot, ".running_var")) return 0;
    size_t len = (size_t)(dot - rest);
    for (int i = 0; i < n->n; i++) {
        const net_layer *l = &n->layers[i];
        if (l->op == NET_INSTANCE_NORM && strlen(l->name) == len && !strncmp(l->name, rest, len)) return 1;
    }
    return 0;
}

impasto_status net_load(impasto_ctx *ctx, net *n, const safetensors *st, const char *prefix, const char *path) {
    const size_t plen = strlen(prefix);
    const size_t count = net_tensor_count(n);
    for (size_t i = 0; i < count; i++) {
        net_tensor t;
        net_tensor_at(n, i, &t);
        char full[NET_MAX_NAME + 96];
        snprintf(full, sizeof full, "%s%s", prefix, t.name);
        if (!safetensors_find(st, full))
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor %s is missing (not a %s model?)", path, full,
                            n->kind);
        impasto_status s = safetensors_get_f32(ctx, st, full, t.ndim, t.shape, t.data);
        if (s && !strstr(ctx->error, path)) {
            char msg[sizeof ctx->error];
            memcpy(msg, ctx->error, sizeof msg);
            return ctx_fail(ctx, s, "%s: %s", path, msg);
        }
        if (s) return s;
    }
    for (size_t i = 0; i < safetensors_count(st); i++) {
        const char *name = safetensors_at(st, i)->name;
        if (strncmp(name, prefix, plen)) continue;
        const char *rest = name + plen;
        int known = 0;
        for (size_t j = 0; j < count && !known; j++) {
            net_tensor t;
            net_tensor_at(n, j, &t);
            known = !strcmp(t.name, rest);
        }
        if (!known && !ignorable_extra(n, rest))
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: unexpected tensor %s (not a %s model of this shape?)",
                            path, name, n->kind);
    }
    return IMPASTO_OK;
}
