/* Training TransformerNet (Johnson, Alahi & Fei-Fei 2016): flat parameters for the optimiser, the
 * PyTorch default initialisation, and a forward pass that keeps every activation its backward
 * pass needs, with that backward (to the weights and to the input).
 *
 * Stored per convolution i, for an input (3, H, W) (sizes as in transformer_net.c):
 *   xin[i]  (IC, IH, IW)  the convolution's input after upsampling (for dw); for conv1 the plan's
 *                         input, for a convolution that follows another without upsampling that
 *                         one's post (shared, not copied)
 *   pre[i]  (OC, OH, OW)  the convolution's output, the instance norm's input
 *   post[i] (OC, OH, OW)  after the norm and ReLU (the ReLU's mask); deconv3 has none: pre is the
 *                         network's output
 *   mean[i], invstd[i] (OC)  the norm's statistics
 *   res[k]  (128, H3, W3) the residual stream before block k (res[0] = post of conv3), k = 0..5
 * Gradients: ga, gb (the largest map) ping-pong through the layers, gr (128, H3, W3) carries the
 * residual stream's gradient. Nothing is allocated after tnet_train_plan_create.
 *
 * Convolutions (the fast path; tnet_train_set_reference switches every one to im2col + GEMM,
 * conv2d.c, for tests): forwards as the inference pass runs them, Winograd F(4x4, 3x3) for 3x3
 * stride 1 (conv_winograd.c) and direct otherwise (conv_direct.c). Backward of a stride-1 layer:
 * the data gradient as a forward convolution of dy with the flipped kernel (conv_train.c, Winograd
 * for 3x3: 4 times fewer multiplies than im2col's GEMM), the weight gradient directly for the 9x9
 * layers (3 channels on one side: im2col's matrix would be 243 or 2592 rows per pixel for a GEMM
 * with M or N = 3) and by im2col + GEMM for the 3x3 ones (M = OC, N = 9 C, K = pixels: a well
 * shaped GEMM). The stride-2 layers' backward stays im2col. */
#include "models/transformer_net.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/ctx.h"
#include "nn/conv_train.h"
#include "nn/nn.h"


#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- flat parameters -------------------------------------------------------------------- */

static size_t conv_params(const tnet_conv_spec *c) {
    size_t n = (size_t)c->oc * (size_t)c->ic * (size_t)c->k * (size_t)c->k + (size_t)c->oc;
    return c->norm ? n + 2 * (size_t)c->oc : n;
}

size_t tnet_num_params(void) {
    size_t n = 0;
    for (int i = 0; i < TNET_NUM_CONV; i++) n += conv_params(&tnet_convs()[i]);
    return n;
}

void tnet_view(float *flat, transformer_net *view) {
    memset(view, 0, sizeof *view);
    for (int i = 0; i < TNET_NUM_CONV; i++) {
        const tnet_conv_spec *c = &tnet_convs()[i];
        view->w[i] = flat;
        flat += (size_t)c->oc * (size_t)c->ic * (size_t)c->k * (size_t)c->k;
        view->b[i] = flat;
        flat += c->oc;
        if (!c->norm) continue;
        view->gamma[i] = flat;
        flat += c->oc;
        view->beta[i] = flat;
        flat += c->oc;
    }
}

void tnet_flatten(const transformer_net *net, float *flat) {
    transformer_net v;
    tnet_view(flat, &v);
    for (int i = 0; i < TNET_NUM_CONV; i++) {
        const tnet_conv_spec *c = &tnet_convs()[i];
        memcpy(v.w[i], net->w[i], (size_t)c->oc * (size_t)c->ic * (size_t)c->k * (size_t)c->k * sizeof(float));
        memcpy(v.b[i], net->b[i], (size_t)c->oc * sizeof(float));
        if (!c->norm) continue;
        memcpy(v.gamma[i], net->gamma[i], (size_t)c->oc * sizeof(float));
        memcpy(v.beta[i], net->beta[i], (size_t)c->oc * sizeof(float));
    }
}

void tnet_init_params(float *flat, double (*next)(void *), void *rng) {
    transformer_net v;
    tnet_view(flat, &v);
    for (int i = 0; i < TNET_NUM_CONV; i++) {
        const tnet_conv_spec *c = &tnet_convs()[i];
        const size_t fan_in = (size_t)c->ic * (size_t)c->k * (size_t)c->k;
        const double bound = 1.0 / sqrt((double)fan_in);
        for (size_t j = 0; j < (size_t)c->oc * fan_in; j++) v.w[i][j] = (float)((2.0 * next(rng) - 1.0) * bound);
        for (int j = 0; j < c->oc; j++) v.b[i][j] = (float)((2.0 * next(rng) - 1.0) * bound);
        if (!c->norm) continue;
        for (int j = 0; j < c->oc; j++) {
            v.gamma[i][j] = 1.0f;
            v.beta[i][j] = 0.0f;
        }
    }
}

/* ---- plan ------------------------------------------------------------------------------- */

struct tnet_train_plan {
    int h, w, threads;
    conv2d_desc conv[TNET_NUM_CONV];
    float *in;                      /* (3, H, W) */
    float *xin[TNET_NUM_CONV];      /* see the top; owned only where `own_xin` is set */
    unsigned char own_xin[TNET_NUM_CONV];
    float *pre[TNET_NUM_CONV];      /* (OC, OH, OW) */
    float *post[TNET_NUM_CONV];     /* (OC, OH, OW), NULL for deconv3 */
    float *mean[TNET_NUM_CONV];     /* (OC) */
    float *invstd[TNET_NUM_CONV];   /* (OC) */
    float *res[6];                  /* (128, H3, W3); res[0] is post[2] */
    float *ga, *gb;                 /* (largest map) */
    float *gr;                      /* (128, H3, W3) */
    float *ws;                      /* conv scratch */
    size_t bytes;
    int reference;                  /* 1: every convolution by im2col + GEMM (conv2d.c) */
    double *tfwd, *tbwd;            /* profiling: seconds added per convolution, or NULL */
};

/* 64-byte aligned (core/alloc.h), as the forward plan's buffers. */
static float *tp_alloc(tnet_train_plan *p, size_t nfloats) {
    size_t bytes;
    if (!size_mul(nfloats, sizeof(float), &bytes)) return NULL;
    float *q = alloc_aligned(bytes);
    if (q) p->bytes += alloc_aligned_size(bytes);
    return q;
}

void tnet_train_plan_free(tnet_train_plan *p) {
    if (!p) return;
    free(p->in);
    for (int i = 0; i < TNET_NUM_CONV; i++) {
        if (p->own_xin[i]) free(p->xin[i]);
        free(p->pre[i]);
        free(p->post[i]);
        free(p->mean[i]);
        free(p->invstd[i]);
    }
    for (int k = 1; k < 6; k++) free(p->res[k]);
    free(p->ga);
    free(p->gb);
    free(p->gr);
    free(p->ws);
    free(p);
}

/* Which kernels the fast path runs (see the top). */
static int tnet_train_winograd(const tnet_conv_spec *c) { return c->k == 3 && c->stride == 1; }
static int tnet_train_direct_dw(const tnet_conv_spec *c) { return c->k > 3 && c->stride == 1; }

static size_t conv_in_numel(const conv2d_desc *d) { return (size_t)d->c * (size_t)d->h * (size_t)d->w; }
static size_t conv_out_numel(const conv2d_desc *d) {
    return (size_t)d->oc * (size_t)conv2d_out_h(d) * (size_t)conv2d_out_w(d);
}

impasto_status tnet_train_plan_create(impasto_ctx *ctx, int h, int w, int threads, tnet_train_plan **out) {
    *out = NULL;
    if (h < TNET_MIN_SIDE || w < TNET_MIN_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "training: image %dx%d is too small (at least %dx%d)", w, h,
                        TNET_MIN_SIDE, TNET_MIN_SIDE);
    if (h > 8192 || w > 8192)
        return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "training: image %dx%d too large (at most 8192x8192)", w, h);
    tnet_train_plan *p = calloc(1, sizeof *p);
    if (!p) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (training plan)");
    p->h = h;
    p->w = w;
    p->threads = threads > 1 ? threads : 1;
    const tnet_conv_spec *spec = tnet_convs();
    int sh = h, sw = w;
    size_t ws = 0, largest = 0;
    for (int i = 0; i < TNET_NUM_CONV; i++) {
        const tnet_conv_spec *c = &spec[i];
        conv2d_desc d = {c->ic, sh * c->upsample, sw * c->upsample, c->oc, c->k, c->k, c->stride, c->k / 2,
                         PAD_REFLECT, p->threads};
        p->conv[i] = d;
        sh = conv2d_out_h(&d);
        sw = conv2d_out_w(&d);
        /* Training convolves the upsampled map itself (its weight gradients need it): up = 1. */
        const size_t fw = tnet_train_winograd(c) ? conv2d_winograd_workspace(&d, 1) : conv2d_direct_workspace(&d);
        size_t need[4] = {conv2d_workspace(&d), fw, 0, 0};
        if (conv2d_same_backward_supported(&d)) {
            need[2] = conv2d_backward_data_same_workspace(&d);
            if (tnet_train_direct_dw(c)) need[3] = conv2d_direct_backward_weights_workspace(&d);
        }
        for (int k = 0; k < 4; k++)
            if (need[k] > ws) ws = need[k];
        if (conv_in_numel(&d) > largest) largest = conv_in_numel(&d);
        if (conv_out_numel(&d) > largest) largest = conv_out_numel(&d);
    }
    int ok = (p->in = tp_alloc(p, 3 * (size_t)h * (size_t)w)) != NULL;
    for (int i = 0; i < TNET_NUM_CONV && ok; i++) {
        const tnet_conv_spec *c = &spec[i];
        const size_t n = conv_out_numel(&p->conv[i]);
        ok = (p->pre[i] = tp_alloc(p, n)) != NULL;
        if (ok && c->norm)
            ok = (p->post[i] = tp_alloc(p, n)) && (p->mean[i] = tp_alloc(p, (size_t)c->oc)) &&
                 (p->invstd[i] = tp_alloc(p, (size_t)c->oc));
        if (ok && c->upsample > 1) {
            ok = (p->xin[i] = tp_alloc(p, conv_in_numel(&p->conv[i]))) != NULL;
            p->own_xin[i] = 1;
        }
    }
    const size_t nres = conv_out_numel(&p->conv[2]);
    for (int k = 1; k < 6 && ok; k++) ok = (p->res[k] = tp_alloc(p, nres)) != NULL;
    ok = ok && (p->ga = tp_alloc(p, largest)) && (p->gb = tp_alloc(p, largest)) && (p->gr = tp_alloc(p, nres)) &&
         (p->ws = tp_alloc(p, ws));
    if (!ok) {
        size_t mb = p->bytes >> 20;
        tnet_train_plan_free(p);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (training plan for %dx%d, %zu MB so far)", w, h, mb);
    }
    /* Inputs that are another layer's stored output. */
    p->res[0] = p->post[2];
    p->xin[0] = p->in;
    p->xin[1] = p->post[0];
    p->xin[2] = p->post[1];
    for (int k = 0; k < 5; k++) {
        p->xin[3 + 2 * k] = p->res[k];
        p->xin[4 + 2 * k] = p->post[3 + 2 * k];
    }
    p->xin[15] = p->post[14];
    *out = p;
    return IMPASTO_OK;
}

size_t tnet_train_plan_bytes(const tnet_train_plan *p) { return p ? p->bytes : 0; }
void tnet_train_set_reference(tnet_train_plan *p, int on) { p->reference = on != 0; }
void tnet_train_set_timers(tnet_train_plan *p, double *fwd, double *bwd) {
    p->tfwd = fwd;
    p->tbwd = bwd;
}
float *tnet_train_input(tnet_train_plan *p) { return p->in; }

/* ---- forward ---------------------------------------------------------------------------- */

/* Convolution i on its stored input into pre[i], then its norm (and ReLU) into post[i]. */
static void train_conv(const transformer_net *net, tnet_train_plan *p, int i) {
    const conv2d_desc *d = &p->conv[i];
    const tnet_conv_spec *c = &tnet_convs()[i];
    const double t0 = p->tfwd ? clock_seconds() : 0.0;
    if (p->reference) conv2d_forward(d, p->xin[i], net->w[i], net->b[i], p->pre[i], 0, p->ws);
    else if (tnet_train_winograd(c)) conv2d_winograd_forward(d, 1, p->xin[i], net->w[i], net->b[i], p->pre[i], p->ws);
    else conv2d_direct_forward(d, 1, p->xin[i], net->w[i], net->b[i], p->pre[i], p->ws);
    if (c->norm) {
        const size_t hw = (size_t)conv2d_out_h(d) * (size_t)conv2d_out_w(d);
        instance_norm_forward(c->oc, hw, p->pre[i], net->gamma[i], net->beta[i], TNET_EPS, p->post[i], p->mean[i],
                              p->invstd[i], c->relu, p->threads);
    }
    if (p->tfwd) p->tfwd[i] += clock_seconds() - t0;
}

const float *tnet_train_forward(const transformer_net *net, tnet_train_plan *p) {
    train_conv(net, p, 0);  /* (32, H, W) */
    train_conv(net, p, 1);  /* (64, H2, W2) */
    train_conv(net, p, 2);  /* (128, H3, W3) = res[0] */
    const size_t nres = conv_out_numel(&p->conv[2]);
    for (int k = 0; k < 5; k++) {
        train_conv(net, p, 3 + 2 * k);
        train_conv(net, p, 4 + 2 * k);
        const float *r = p->res[k], *t = p->post[4 + 2 * k];
        float *o = p->res[k + 1];
#pragma omp simd
        for (size_t j = 0; j < nres; j++) o[j] = r[j] + t[j];
    }
    const conv2d_desc *d13 = &p->conv[13], *d14 = &p->conv[14];
    upsample_nearest_forward(d13->c, d13->h / 2, d13->w / 2, 2, p->res[5], p->xin[13], p->threads);
    train_conv(net, p, 13);  /* (64, H4, W4) */
    upsample_nearest_forward(d14->c, d14->h / 2, d14->w / 2, 2, p->post[13], p->xin[14], p->threads);
    train_conv(net, p, 14);  /* (32, H5, W5) */
    train_conv(net, p, 15);  /* (3, H5, W5) */
    return p->pre[15];
}

double tnet_train_relu_margin(const transformer_net *net, const tnet_train_plan *p, int *layer) {
    double margin = INFINITY;
    int where = -1;
    for (int i = 0; i < TNET_NUM_CONV; i++) {
        const tnet_conv_spec *c = &tnet_convs()[i];
        if (!c->norm || !c->relu) continue;
        const size_t hw = (size_t)conv2d_out_h(&p->conv[i]) * (size_t)conv2d_out_w(&p->conv[i]);
        for (int ch = 0; ch < c->oc; ch++) {
            /* pre[i] (OC, OH, OW): channel ch's map, normalised as the forward does */
            const float *x = p->pre[i] + (size_t)ch * hw;
            const double mu = p->mean[i][ch], a = (double)p->invstd[i][ch] * net->gamma[i][ch], b = net->beta[i][ch];
            for (size_t j = 0; j < hw; j++) {
                const double v = fabs(((double)x[j] - mu) * a + b);
                if (v < margin) {
                    margin = v;
                    where = i;
                }
            }
        }
    }
    if (layer) *layer = where;
    return margin;
}

/* ---- backward --------------------------------------------------------------------------- */

/* g (OC, OH, OW): the gradient at post[i] (or at pre[i] without a norm), overwritten on the way.
 * Runs the ReLU, norm and convolution backward, accumulating the parameters' gradients, and
 * writes the gradient at xin[i] into dx (NULL: skipped). */
static void train_conv_back(const transformer_net *net, tnet_train_plan *p, int i, float *g,
                            const transformer_net *grad, float *dx) {
    const conv2d_desc *d = &p->conv[i];
    const tnet_conv_spec *c = &tnet_convs()[i];
    const double t0 = p->tbwd ? clock_seconds() : 0.0;
    const size_t hw = (size_t)conv2d_out_h(d) * (size_t)conv2d_out_w(d);
    if (c->norm) {
        if (c->relu) relu_backward((size_t)c->oc * hw, p->post[i], g, g);
        instance_norm_backward(c->oc, hw, p->pre[i], net->gamma[i], p->mean[i], p->invstd[i], g, g,
                               grad->gamma[i], grad->beta[i], p->threads);
    }
    if (p->reference || !conv2d_same_backward_supported(d)) {
        conv2d_backward(d, p->xin[i], net->w[i], g, dx, grad->w[i], grad->b[i], p->ws);
    } else {
        conv2d_backward_bias(c->oc, hw, g, grad->b[i], p->threads);
        if (tnet_train_direct_dw(c)) conv2d_direct_backward_weights(d, 1, p->xin[i], g, grad->w[i], p->ws);
        else conv2d_backward(d, p->xin[i], net->w[i], g, NULL, grad->w[i], NULL, p->ws);
        if (dx) conv2d_backward_data_same(d, net->w[i], g, dx, p->ws);
    }
    if (p->tbwd) p->tbwd[i] += clock_seconds() - t0;
}

void tnet_train_backward(const transformer_net *net, tnet_train_plan *p, const float *dy,
                         const transformer_net *grad, float *dx) {
    const conv2d_desc *d13 = &p->conv[13], *d14 = &p->conv[14];
    float *ga = p->ga, *gb = p->gb;
    memcpy(ga, dy, conv_out_numel(&p->conv[15]) * sizeof *ga);
    train_conv_back(net, p, 15, ga, grad, gb);     /* gb: at post[14] (32, H5, W5) */
    train_conv_back(net, p, 14, gb, grad, ga);     /* ga: at xin[14] (64, H5, W5) */
    upsample_nearest_backward(d14->c, d14->h / 2, d14->w / 2, 2, ga, gb, p->threads);  /* gb: post[13] */
    train_conv_back(net, p, 13, gb, grad, ga);     /* ga: at xin[13] (128, H4, W4) */
    upsample_nearest_backward(d13->c, d13->h / 2, d13->w / 2, 2, ga, p->gr, p->threads); /* gr: res[5] */
    const size_t nres = conv_out_numel(&p->conv[2]);
    for (int k = 4; k >= 0; k--) {
        /* res[k+1] = res[k] + post[second]: the branch gets a copy of gr, then its result adds. */
        memcpy(ga, p->gr, nres * sizeof *ga);
        train_conv_back(net, p, 4 + 2 * k, ga, grad, gb);  /* gb: at post[first] */
        train_conv_back(net, p, 3 + 2 * k, gb, grad, ga);  /* ga: at res[k] through the branch */
        float *r = p->gr;
#pragma omp simd
        for (size_t j = 0; j < nres; j++) r[j] += ga[j];
    }
    memcpy(ga, p->gr, nres * sizeof *ga);
    train_conv_back(net, p, 2, ga, grad, gb);      /* gb: at post[1] */
    train_conv_back(net, p, 1, gb, grad, ga);      /* ga: at post[0] */
    train_conv_back(net, p, 0, ga, grad, dx);      /* the input */
}
