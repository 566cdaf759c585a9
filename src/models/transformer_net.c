/* TransformerNet (Johnson et al. 2016; architecture in transformer_net.h): weights and a
 * forward pass whose buffers are all allocated once per input size.
 *
 * Memory plan for an input (3, H, W), H2 x W2 after the first stride-2 conv, H3 x W3 after the
 * second, H4 = 2 H3, H5 = 2 H4 (the output's size):
 *   in   (3, H, W)        the input the caller fills
 *   big  (max(32 H W, 32 H5 W5))      conv1's output, then deconv2's
 *   mid  (max(64 H2 W2, 64 H4 W4))    conv2's output, then deconv1's
 *   res  (128, H3, W3)    conv3's output and the residual stream (added to in place)
 *   t1, t2 (128, H3, W3)  the two convolutions inside a residual block
 *   out  (3, H5, W5)      deconv3's output
 *   ws                    the largest conv2d_winograd_workspace / conv2d_direct_workspace
 * The 3x3 stride-1 convolutions run by Winograd's F(4x4, 3x3) (conv_winograd.c), the 9x9 and the
 * stride-2 ones as direct convolutions (conv_direct.c); the two upsamplings happen inside them
 * (they read the small map; the upsampled one is never stored).
 * Instance norm and ReLU run in place on each convolution's output; the second norm of a residual
 * block is added straight into res (instance_norm_add_forward). */
#include "models/transformer_net.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/ctx.h"
#include "formats/safetensors.h"
#include "nn/nn.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const tnet_conv_spec tnet_table[TNET_NUM_CONV] = {
    {"conv1", "in1", 3, 32, 9, 1, 1, 1, TNET_PLAIN},
    {"conv2", "in2", 32, 64, 3, 2, 1, 1, TNET_PLAIN},
    {"conv3", "in3", 64, 128, 3, 2, 1, 1, TNET_PLAIN},
    {"res1.conv1", "res1.in1", 128, 128, 3, 1, 1, 1, TNET_RES_FIRST},
    {"res1.conv2", "res1.in2", 128, 128, 3, 1, 1, 0, TNET_RES_SECOND},
    {"res2.conv1", "res2.in1", 128, 128, 3, 1, 1, 1, TNET_RES_FIRST},
    {"res2.conv2", "res2.in2", 128, 128, 3, 1, 1, 0, TNET_RES_SECOND},
    {"res3.conv1", "res3.in1", 128, 128, 3, 1, 1, 1, TNET_RES_FIRST},
    {"res3.conv2", "res3.in2", 128, 128, 3, 1, 1, 0, TNET_RES_SECOND},
    {"res4.conv1", "res4.in1", 128, 128, 3, 1, 1, 1, TNET_RES_FIRST},
    {"res4.conv2", "res4.in2", 128, 128, 3, 1, 1, 0, TNET_RES_SECOND},
    {"res5.conv1", "res5.in1", 128, 128, 3, 1, 1, 1, TNET_RES_FIRST},
    {"res5.conv2", "res5.in2", 128, 128, 3, 1, 1, 0, TNET_RES_SECOND},
    {"deconv1", "in4", 128, 64, 3, 1, 2, 1, TNET_PLAIN},
    {"deconv2", "in5", 64, 32, 3, 1, 2, 1, TNET_PLAIN},
    {"deconv3", NULL, 32, 3, 9, 1, 1, 0, TNET_PLAIN},
};

const tnet_conv_spec *tnet_convs(void) { return tnet_table; }

/* A k x k convolution with reflection padding k/2 and stride s: ceil(n / s) for odd k. */
static int conv_side(int n, int k, int s) { return (n + 2 * (k / 2) - k) / s + 1; }

void tnet_out_size(int h, int w, int *oh, int *ow) {
    for (int i = 0; i < TNET_NUM_CONV; i++) {
        const tnet_conv_spec *c = &tnet_table[i];
        h = conv_side(h * c->upsample, c->k, c->stride);
        w = conv_side(w * c->upsample, c->k, c->stride);
    }
    *oh = h;
    *ow = w;
}

/* ---- weights ---------------------------------------------------------------------------- */

void transformer_net_free(transformer_net *net) {
    if (!net) return;
    for (int i = 0; i < TNET_NUM_CONV; i++) {
        free(net->w[i]);
        free(net->b[i]);
        free(net->gamma[i]);
        free(net->beta[i]);
    }
    free(net);
}

/* Allocates n floats at *dst and reads tensor `name` of shape (shape[0..ndim-1]) into it. */
static impasto_status load_tensor(impasto_ctx *ctx, const safetensors *st, const char *path, const char *name,
                                  int ndim, const int64_t *shape, float **dst) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];  /* the fixed architecture's sizes */
    *dst = malloc(n * sizeof(float));
    if (!*dst) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory loading %s", path);
    /* safetensors_get_f32's messages already name the file. */
    return safetensors_get_f32(ctx, st, name, ndim, shape, *dst);
}

impasto_status transformer_net_check_kind(impasto_ctx *ctx, const safetensors *st, const char *path) {
    const char *kind = safetensors_meta(st, "kind");
    if (kind && strcmp(kind, "transformernet") != 0)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: holds a '%s' model, not a fast-style transformernet",
                        path, kind);
    return IMPASTO_OK;
}

impasto_status transformer_net_from_safetensors(impasto_ctx *ctx, const safetensors *st, const char *path,
                                                transformer_net **out) {
    *out = NULL;
    impasto_status s = transformer_net_check_kind(ctx, st, path);
    if (s != IMPASTO_OK) return s;
    transformer_net *net = calloc(1, sizeof *net);
    if (!net) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory loading %s", path);
    for (int i = 0; i < TNET_NUM_CONV && s == IMPASTO_OK; i++) {
        const tnet_conv_spec *c = &tnet_table[i];
        char name[64];
        int64_t wshape[4] = {c->oc, c->ic, c->k, c->k}, vshape[1] = {c->oc};
        snprintf(name, sizeof name, "%s.conv2d.weight", c->conv);
        s = load_tensor(ctx, st, path, name, 4, wshape, &net->w[i]);
        snprintf(name, sizeof name, "%s.conv2d.bias", c->conv);
        if (s == IMPASTO_OK) s = load_tensor(ctx, st, path, name, 1, vshape, &net->b[i]);
        if (!c->norm) continue;
        snprintf(name, sizeof name, "%s.weight", c->norm);
        if (s == IMPASTO_OK) s = load_tensor(ctx, st, path, name, 1, vshape, &net->gamma[i]);
        snprintf(name, sizeof name, "%s.bias", c->norm);
        if (s == IMPASTO_OK) s = load_tensor(ctx, st, path, name, 1, vshape, &net->beta[i]);
    }
    if (s != IMPASTO_OK) {
        transformer_net_free(net);
        return s;
    }
    *out = net;
    return IMPASTO_OK;
}

impasto_status transformer_net_load(impasto_ctx *ctx, const char *path, transformer_net **out) {
    *out = NULL;
    safetensors *st = NULL;
    impasto_status s = safetensors_open(ctx, path, &st);
    if (s != IMPASTO_OK) return s;
    s = transformer_net_from_safetensors(ctx, st, path, out);
    safetensors_close(st);
    return s;
}

/* ---- plan ------------------------------------------------------------------------------- */

struct tnet_plan {
    int h, w;                          /* input size */
    int oh, ow;                        /* output size */
    int threads;
    conv2d_desc conv[TNET_NUM_CONV];   /* each convolution's input geometry (after upsampling) */
    float *in;                         /* (3, H, W) */
    float *big, *mid;                  /* see the memory plan at the top */
    float *res, *t1, *t2;              /* (128, H3, W3) */
    float *out;                        /* (3, H5, W5) */
    float *ws;                         /* conv scratch */
    size_t bytes;
    double *timers;                    /* profiling: seconds added per convolution, or NULL */
};

/* 64-byte aligned (core/alloc.h) so the layers' vector loops start on a line. */
static float *plan_alloc(tnet_plan *p, size_t nfloats) {
    size_t bytes;
    if (!size_mul(nfloats, sizeof(float), &bytes)) return NULL;
    float *q = alloc_aligned(bytes);
    if (q) p->bytes += alloc_aligned_size(bytes);
    return q;
}

void tnet_plan_free(tnet_plan *p) {
    if (!p) return;
    free(p->in);
    free(p->big);
    free(p->mid);
    free(p->res);
    free(p->t1);
    free(p->t2);
    free(p->out);
    free(p->ws);
    free(p);
}

/* The 3x3 stride-1 convolutions (residual blocks, upsampling layers) run by Winograd's F(4x4, 3x3). */
static int tnet_winograd(const tnet_conv_spec *c) { return c->k == 3 && c->stride == 1; }

/* Each buffer's size in floats for an input of h x w (see the memory plan at the top), and each
 * convolution's geometry into conv (may be NULL); 0 when a convolution cannot run at this size. */
typedef struct plan_sizes {
    size_t in, big, mid, res, out, ws;
    int oh, ow;
} plan_sizes;

static int plan_sizes_of(int h, int w, int threads, conv2d_desc *conv, plan_sizes *z) {
    int sh[TNET_NUM_CONV + 1], sw[TNET_NUM_CONV + 1];  /* map size before conv i (before upsampling) */
    sh[0] = h;
    sw[0] = w;
    size_t ws = 0;
    for (int i = 0; i < TNET_NUM_CONV; i++) {
        const tnet_conv_spec *c = &tnet_table[i];
        int ih = sh[i] * c->upsample, iw = sw[i] * c->upsample;
        conv2d_desc d = {c->ic, ih, iw, c->oc, c->k, c->k, c->stride, c->k / 2, PAD_REFLECT, threads};
        if (conv) conv[i] = d;
        sh[i + 1] = conv2d_out_h(&d);
        sw[i + 1] = conv2d_out_w(&d);
        if (!conv2d_direct_supported(&d)) return 0;  /* excluded by TNET_MIN_SIDE */
        size_t cw = tnet_winograd(c) ? conv2d_winograd_workspace(&d, c->upsample) : conv2d_direct_workspace(&d);
        if (cw > ws) ws = cw;
    }
    /* Map sizes (pixels): after conv1 (full), conv2 (half), conv3 (quarter), deconv1, deconv2. */
    const size_t n1 = (size_t)sh[1] * (size_t)sw[1], n2 = (size_t)sh[2] * (size_t)sw[2];
    const size_t n3 = (size_t)sh[3] * (size_t)sw[3], n4 = (size_t)sh[14] * (size_t)sw[14];
    const size_t n5 = (size_t)sh[15] * (size_t)sw[15];
    z->in = 3 * (size_t)h * (size_t)w;
    z->big = 32 * (n1 > n5 ? n1 : n5);
    z->mid = 64 * (n2 > n4 ? n2 : n4);
    z->res = 128 * n3;
    z->out = 3 * n5;
    z->ws = ws;
    z->oh = sh[TNET_NUM_CONV];
    z->ow = sw[TNET_NUM_CONV];
    return 1;
}

size_t tnet_plan_size(int h, int w, int threads) {
    plan_sizes z;
    if (h < TNET_MIN_SIDE || w < TNET_MIN_SIDE || !plan_sizes_of(h, w, threads > 1 ? threads : 1, NULL, &z)) return 0;
    /* Each buffer rounded up to its alignment (core/alloc.h). */
    const size_t n[8] = {z.in, z.big, z.mid, z.res, z.res, z.res, z.out, z.ws};
    size_t bytes = 0;
    for (int i = 0; i < 8; i++) bytes += alloc_aligned_size(n[i] * sizeof(float));
    return bytes;
}

impasto_status tnet_plan_create(impasto_ctx *ctx, int h, int w, int threads, tnet_plan **out) {
    *out = NULL;
    if (h < TNET_MIN_SIDE || w < TNET_MIN_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "fast style network: input %dx%d is too small (at least "
                        "%dx%d)", w, h, TNET_MIN_SIDE, TNET_MIN_SIDE);
    /* The output (up to (H+3) x (W+3)) holds the most pixels of any map; a map of 128 channels
     * at a quarter of it must be indexable by the GEMM's ints. */
    if (h > INT_MAX / 8 || w > INT_MAX / 8 || (size_t)(h + 3) * (size_t)(w + 3) > (size_t)INT_MAX / 64)
        return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "fast style network: input %dx%d too large", w, h);
    tnet_plan *p = calloc(1, sizeof *p);
    if (!p) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (fast style plan)");
    p->h = h;
    p->w = w;
    p->threads = threads > 1 ? threads : 1;
    plan_sizes z;
    if (!plan_sizes_of(h, w, p->threads, p->conv, &z)) {
        tnet_plan_free(p);
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "fast style network: input %dx%d is too small", w, h);
    }
    p->oh = z.oh;
    p->ow = z.ow;
    int ok = (p->in = plan_alloc(p, z.in)) != NULL;
    ok = ok && (p->big = plan_alloc(p, z.big)) != NULL;
    ok = ok && (p->mid = plan_alloc(p, z.mid)) != NULL;
    ok = ok && (p->res = plan_alloc(p, z.res)) != NULL;
    ok = ok && (p->t1 = plan_alloc(p, z.res)) != NULL;
    ok = ok && (p->t2 = plan_alloc(p, z.res)) != NULL;
    ok = ok && (p->out = plan_alloc(p, z.out)) != NULL;
    ok = ok && (p->ws = plan_alloc(p, z.ws)) != NULL;
    if (!ok) {
        tnet_plan_free(p);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (fast style plan for %dx%d)", w, h);
    }
    *out = p;
    return IMPASTO_OK;
}

int tnet_plan_height(const tnet_plan *p) { return p->h; }
int tnet_plan_width(const tnet_plan *p) { return p->w; }
size_t tnet_plan_bytes(const tnet_plan *p) { return p->bytes; }
void tnet_plan_set_timers(tnet_plan *p, double *seconds) { p->timers = seconds; }
float *tnet_plan_input(tnet_plan *p) { return p->in; }

int tnet_conv_scale(int i) { return i == 1 || i == 13 ? 2 : i >= 2 && i <= 12 ? 4 : 1; }

void tnet_map_size(int h, int w, int i, int *hi, int *wi) {
    for (int j = 0; j <= i; j++) {
        const tnet_conv_spec *c = &tnet_table[j];
        h = conv_side(h * c->upsample, c->k, c->stride);
        w = conv_side(w * c->upsample, c->k, c->stride);
    }
    *hi = h;
    *wi = w;
}

/* Channel by channel of x (C, HW): the mean and 1 / sqrt(biased variance + eps), as
 * instance_norm_forward takes them (a first mean, then both moments about it). */
static void channel_stats(int c, size_t hw, const float *x, float *mean, float *invstd, int threads) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads > 1 ? threads : 1) if (threads > 1)
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * hw;
        double s1, s2;
        norm_sums(xc, hw, 0.0f, &s1, &s2);
        const float m0 = hw ? (float)(s1 / (double)hw) : 0.0f;
        norm_sums(xc, hw, m0, &s1, &s2);
        const double dmu = hw ? s1 / (double)hw : 0.0, v = hw ? s2 / (double)hw - dmu * dmu : 0.0;
        mean[ch] = (float)((double)m0 + dmu);
        invstd[ch] = (float)(1.0 / sqrt((v > 0.0 ? v : 0.0) + (double)TNET_EPS));
    }
}

/* The norm with given statistics: y = gamma (x - mean) invstd + beta in place on x (C, HW), then
 * ReLU, or added to r (C, HW) when r is not NULL. */
static void norm_apply(int c, size_t hw, float *x, const float *gamma, const float *beta, const float *mean,
                       const float *invstd, int relu, float *r, int threads) {
#pragma omp parallel for schedule(static) num_threads(threads > 1 ? threads : 1) if (threads > 1)
    for (int ch = 0; ch < c; ch++) {
        float *xc = x + (size_t)ch * hw;
        const float a = gamma[ch] * invstd[ch], b = beta[ch] - a * mean[ch];
        if (r) {
            float *rc = r + (size_t)ch * hw;
#pragma omp simd
            for (size_t i = 0; i < hw; i++) rc[i] += a * xc[i] + b;
        } else if (relu) {
#pragma omp simd
            for (size_t i = 0; i < hw; i++) {
                const float t = a * xc[i] + b;
                xc[i] = t > 0.0f ? t : 0.0f;
            }
        } else {
#pragma omp simd
            for (size_t i = 0; i < hw; i++) xc[i] = a * xc[i] + b;
        }
    }
}

/* Where the norms' statistics come from in one forward (tnet_forward_stats). */
typedef struct norm_source {
    const tnet_stats *use;
    int known;
    tnet_stats *record;
} norm_source;

/* Convolution i from x (before its upsampling) into y, then (unless conv_only) its instance norm
 * (and ReLU) in place or, for the second convolution of a residual block, added to the residual
 * stream p->res. */
static void conv_block(const transformer_net *net, tnet_plan *p, int i, const float *x, float *y,
                       const norm_source *src, int conv_only) {
    const conv2d_desc *d = &p->conv[i];
    const tnet_conv_spec *c = &tnet_table[i];
    const double t0 = p->timers ? clock_seconds() : 0.0;
    if (tnet_winograd(c)) conv2d_winograd_forward(d, c->upsample, x, net->w[i], net->b[i], y, p->ws);
    else conv2d_direct_forward(d, c->upsample, x, net->w[i], net->b[i], y, p->ws);
    size_t hw = (size_t)conv2d_out_h(d) * (size_t)conv2d_out_w(d);
    float *add = c->role == TNET_RES_SECOND ? p->res : NULL;
    if (conv_only || !c->norm) {
    } else if (i < src->known) {
        norm_apply(c->oc, hw, y, net->gamma[i], net->beta[i], src->use->mean[i], src->use->invstd[i], c->relu, add,
                   p->threads);
    } else if (src->record) {
        channel_stats(c->oc, hw, y, src->record->mean[i], src->record->invstd[i], p->threads);
        norm_apply(c->oc, hw, y, net->gamma[i], net->beta[i], src->record->mean[i], src->record->invstd[i], c->relu,
                   add, p->threads);
    } else if (add) {
        instance_norm_add_forward(c->oc, hw, y, net->gamma[i], net->beta[i], TNET_EPS, add, p->threads);
    } else {
        instance_norm_forward(c->oc, hw, y, net->gamma[i], net->beta[i], TNET_EPS, y, NULL, NULL, c->relu,
                              p->threads);
    }
    if (p->timers) p->timers[i] += clock_seconds() - t0;
}

const float *tnet_forward_stats(const transformer_net *net, tnet_plan *p, const tnet_stats *use, int known,
                                tnet_stats *record, int stop) {
    const norm_source src = {use, use ? known : 0, record};
    /* Each convolution's input and output buffer (see the memory plan at the top):
     * conv1 (32, H, W), conv2 (64, H2, W2), conv3 (128, H3, W3); in the residual blocks
     * res += in2(conv2(relu(in1(conv1(res))))); deconv1 (64, H4, W4) and deconv2 (32, H5, W5)
     * upsample their inputs; deconv3 (3, H5, W5). */
    for (int i = 0; i < TNET_NUM_CONV; i++) {
        const float *x;
        float *y;
        switch (i) {
        case 0: x = p->in, y = p->big; break;
        case 1: x = p->big, y = p->mid; break;
        case 2: x = p->mid, y = p->res; break;
        case 13: x = p->res, y = p->mid; break;
        case 14: x = p->mid, y = p->big; break;
        case 15: x = p->big, y = p->out; break;
        default:
            if (tnet_table[i].role == TNET_RES_FIRST) x = p->res, y = p->t1;
            else x = p->t1, y = p->t2;
        }
        conv_block(net, p, i, x, y, &src, i == stop);
        if (i == stop) return y;
    }
    return p->out;
}

const float *tnet_forward(const transformer_net *net, tnet_plan *p) {
    return tnet_forward_stats(net, p, NULL, 0, NULL, TNET_NUM_CONV);
}
