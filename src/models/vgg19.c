/* VGG-19 (Simonyan & Zisserman 2015, configuration E) as neural-style uses it: the 16 3x3
 * convolutions with zero padding 1, ReLU after each, 2x2 stride-2 pooling in ceil mode
 * (loadcaffe's translation of the Caffe model). Only backward-DATA is needed: Gatys et al.
 * optimise the image, never the weights.
 *
 * Memory plan (what vgg19_plan_create allocates once):
 *   - the outputs the caller keeps (its loss layers) and the last layer's;
 *   - bitmaps for everything else the backward pass needs: one bit per ReLU output (> 0?) and
 *     one per max pool input (its window's first maximum?). The backward-data of a conv needs no
 *     activations at all, so no float map of a layer nobody reads outlives the forward pass. At
 *     512x512 with neural-style's layers this takes the plan from 593 to 416 MiB (bench_gatys'
 *     plan_bytes), the float maps of relu1_2, relu2_2, relu3_2..3_4, relu4_3..4_4 and the pools;
 *   - two buffers of the largest output, used in turn: the forward pass's maps that are not kept,
 *     then the backward's gradients (conv and pool backward cannot work in place; ReLU does);
 *   - a conv whose output nobody reads writes max(conv, 0) straight into its ReLU's buffer;
 *   - one conv workspace of the largest conv2d_workspace or Winograd workspace.
 *
 * Convolutions: every 3x3 layer runs by Winograd's F(4x4, 3x3) (conv_winograd.c, Lavin & Gray
 * 2016) in both directions — the forward with its ReLU fused into the output transform, the
 * backward-data as the 180-degree-turned convolution with the ReLU's backward fused into the input
 * band (when no gradient is injected at the conv's own output) — except conv1_1's forward, whose 3
 * input channels would leave the products almost empty (the GEMMs' K): it stays on im2col + GEMM
 * (conv2d.c), while its backward-data (K = 64 there) gains like the others.
 * vgg19_plan_set_winograd(p, 0) puts every layer back on im2col.
 *
 * The Winograd kernels (36 floats per 3x3 kernel, 4 times the raw weights, for each direction) are
 * kept transformed only where that pays: the transform's cost is fixed per layer (~45 ns per
 * kernel, 12 ms for a 512x512 layer on one loaded Zen 3 core, mostly writing its 38 MB) while the
 * convolution's grows with the map, so it is ~45% of a 32x32 layer's Winograd time, ~15% of a
 * 64x64 one's and ~4% of a 128x128 one's. Kept for every layer and both directions they
 * would take 400 MB to relu5_1, against a 1 GB budget for a 512 px transfer whose L-BFGS history
 * alone holds 600 MB. So vgg19_plan_keep_kernels keeps both directions' kernels for layers of at
 * most VGG_WINO_KEEP_PIX pixels, smallest maps first, within VGG_WINO_KEEP_BYTES: two 512x512
 * layers, 150 MB (at 512 px only conv5_1 qualifies, 75 MB; at 256 px conv5_1 and conv4_4; at
 * 1024 px none), and every other layer transforms into the workspace on each call (at 512 px about
 * 2% of an iteration). The kept kernels are copies: the plan must then run with the net it was
 * made for, its weights unchanged. Only plans run many times on one set of weights ask for them
 * (Gatys' optimisation loop, gatys.c); a plain plan keeps none (training's per-worker plans would
 * each hold a copy). */
#include "models/vgg19.h"

#include "core/alloc.h"
#include "core/ctx.h"
#include "core/image.h"
#include "formats/safetensors.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONV(n, i, o, k) {"conv" n, VGG_CONV, i, o, k}
#define RELU(n, c) {"relu" n, VGG_RELU, c, c, -1}
#define POOL(n, c) {"pool" n, VGG_POOL, c, c, -1}
#define VGG_WINO_MIN_C 16
#define VGG_WINO_KEEP_PIX (32 * 32)
#define VGG_WINO_KEEP_BYTES ((size_t)160 << 20)

static const vgg19_layer vgg19_table[VGG19_NUM_LAYERS] = {
    CONV("1_1", 3, 64, 0),     RELU("1_1", 64),  CONV("1_2", 64, 64, 1),   RELU("1_2", 64),
    POOL("1", 64),
    CONV("2_1", 64, 128, 2),   RELU("2_1", 128), CONV("2_2", 128, 128, 3), RELU("2_2", 128),
    POOL("2", 128),
    CONV("3_1", 128, 256, 4),  RELU("3_1", 256), CONV("3_2", 256, 256, 5), RELU("3_2", 256),
    CONV("3_3", 256, 256, 6),  RELU("3_3", 256), CONV("3_4", 256, 256, 7), RELU("3_4", 256),
    POOL("3", 256),
    CONV("4_1", 256, 512, 8),  RELU("4_1", 512), CONV("4_2", 512, 512, 9), RELU("4_2", 512),
    CONV("4_3", 512, 512, 10), RELU("4_3", 512), CONV("4_4", 512, 512, 11), RELU("4_4", 512),
    POOL("4", 512),
    CONV("5_1", 512, 512, 12), RELU("5_1", 512), CONV("5_2", 512, 512, 13), RELU("5_2", 512),
    CONV("5_3", 512, 512, 14), RELU("5_3", 512), CONV("5_4", 512, 512, 15), RELU("5_4", 512),
    POOL("5", 512),
};

/* Caffe's ImageNet mean, RGB order (the stored weights take RGB input). */
static const float vgg19_mean[3] = {123.68f, 116.779f, 103.939f};

const vgg19_layer *vgg19_layers(void) { return vgg19_table; }

int vgg19_min_side(int layer) {
    int side = 1;
    for (int l = 0; l <= layer && l < VGG19_NUM_LAYERS; l++)
        if (vgg19_table[l].kind == VGG_POOL) side *= 2;
    return side;
}

impasto_status vgg19_check_size(impasto_ctx *ctx, const char *what, int width, int height, int size,
                                int layer) {
    const int need = vgg19_min_side(layer);
    if (width >= need && height >= need) return IMPASTO_OK;
    return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s is %dx%d pixels at size %d; %s needs at least %d pixels on "
                    "each side", what, width, height, size, vgg19_table[layer].name, need);
}

int vgg19_layer_index(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < VGG19_NUM_LAYERS; i++)
        if (!strcmp(vgg19_table[i].name, name)) return i;
    return -1;
}

impasto_status vgg19_parse_layers(impasto_ctx *ctx, const char *what, const char *spec, vgg19_layer_list *out) {
    out->n = 0;
    for (const char *p = spec ? spec : ""; *p;) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        const char *end = p;
        while (*end && *end != ',' && *end != ' ') end++;
        char name[32];
        size_t len = (size_t)(end - p) < sizeof name - 1 ? (size_t)(end - p) : sizeof name - 1;
        memcpy(name, p, len);
        name[len] = 0;
        int idx = vgg19_layer_index(name);
        if (idx < 0)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG,
                            "unknown %s layer '%s' (VGG-19 layers are conv1_1, relu1_1, ... pool5)", what, name);
        for (int i = 0; i < out->n; i++)
            if (out->index[i] == idx)
                return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s layer '%s' named twice", what, name);
        if (out->n == IMPASTO_MAX_LAYERS)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "more than %d %s layers", IMPASTO_MAX_LAYERS, what);
        out->index[out->n++] = idx;
        p = end;
    }
    return IMPASTO_OK;
}

/* ---- weights ---------------------------------------------------------------------------- */

void vgg19_free(vgg19 *net) {
    if (!net) return;
    for (int i = 0; i < VGG19_NUM_CONV; i++) {
        free(net->w[i]);
        free(net->b[i]);
    }
    free(net);
}

impasto_status vgg19_load(impasto_ctx *ctx, const char *path, vgg19 **out) {
    *out = NULL;
    safetensors *st = NULL;
    impasto_status s = safetensors_open(ctx, path, &st);
    if (s != IMPASTO_OK) return s;
    s = vgg19_from_safetensors(ctx, st, path, out);
    safetensors_close(st);
    return s;
}

impasto_status vgg19_from_safetensors(impasto_ctx *ctx, const safetensors *st, const char *path,
                                      vgg19 **out) {
    *out = NULL;
    impasto_status s = IMPASTO_OK;
    const char *kind = safetensors_meta(st, "kind");
    if (kind && strcmp(kind, "vgg19") != 0)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: holds a '%s' model, not vgg19", path, kind);
    vgg19 *net = calloc(1, sizeof *net);
    if (!net) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory loading %s", path);
    for (int l = 0; l < VGG19_NUM_LAYERS && s == IMPASTO_OK; l++) {
        const vgg19_layer *L = &vgg19_table[l];
        if (L->kind != VGG_CONV) continue;
        int64_t wshape[4] = {L->out_c, L->in_c, 3, 3}, bshape[1] = {L->out_c};
        size_t wn = (size_t)L->out_c * (size_t)L->in_c * 9;
        net->w[L->conv] = malloc(wn * sizeof(float));
        net->b[L->conv] = malloc((size_t)L->out_c * sizeof(float));
        if (!net->w[L->conv] || !net->b[L->conv]) {
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory loading %s", path);
            break;
        }
        char name[32];
        snprintf(name, sizeof name, "%s.weight", L->name);
        s = safetensors_get_f32(ctx, st, name, 4, wshape, net->w[L->conv]);
        if (s != IMPASTO_OK) break;
        snprintf(name, sizeof name, "%s.bias", L->name);
        s = safetensors_get_f32(ctx, st, name, 1, bshape, net->b[L->conv]);
    }
    if (s != IMPASTO_OK) {
        vgg19_free(net);
        return s;
    }
    *out = net;
    return IMPASTO_OK;
}

/* ---- plan ------------------------------------------------------------------------------- */

struct vgg19_plan {
    int last;
    int in_h, in_w;
    int c[VGG19_NUM_LAYERS], h[VGG19_NUM_LAYERS], w[VGG19_NUM_LAYERS];  /* output shapes */
    conv2d_desc conv[VGG19_NUM_LAYERS];  /* valid for VGG_CONV layers */
    pool_desc pool[VGG19_NUM_LAYERS];    /* valid for VGG_POOL layers */
    unsigned char fused[VGG19_NUM_LAYERS];  /* conv computed together with the next ReLU */
    unsigned char wino[VGG19_NUM_LAYERS];   /* conv run by Winograd: bit 0 forward, bit 1 backward-data */
    int use_wino;                           /* vgg19_plan_set_winograd */
    float *uk[VGG19_NUM_LAYERS][2];         /* kept Winograd kernels, forward and backward, or NULL */
    int uk_mr[VGG19_NUM_LAYERS][2];         /* the GEMM tile height they were laid out for */
    float *out[VGG19_NUM_LAYERS];         /* kept outputs (c, h, w), else NULL */
    uint64_t *bits[VGG19_NUM_LAYERS];     /* ReLU: its mask; max pool: its route over its input */
    uint64_t *bitmaps;                    /* one block holding every bits[] */
    float *grad[2];                       /* each (largest output): the forward's transient maps,
                                           * then the backward's gradients */
    float *ws;                            /* conv scratch */
    size_t largest;                       /* floats of each grad[] the layout in force uses */
    size_t bytes;
    pool_kind pooling;
    int threads;                          /* conv2d_desc.threads */
    /* what was allocated (vgg19_plan_set_input may lay a smaller input out in it) */
    size_t cap[VGG19_NUM_LAYERS];         /* floats of out[l] */
    size_t cap_largest, cap_ws, cap_bits; /* floats of grad[] and ws, words of bitmaps */
};

/* 64-byte aligned (core/alloc.h) so the layers' vector loops start on a line. */
static void *plan_alloc_bytes(vgg19_plan *p, size_t nelem, size_t size) {
    size_t bytes;
    if (!size_mul(nelem, size, &bytes)) return NULL;
    void *q = alloc_aligned(bytes);
    if (q) p->bytes += alloc_aligned_size(bytes);
    return q;
}

static float *plan_alloc(vgg19_plan *p, size_t nfloats) { return plan_alloc_bytes(p, nfloats, sizeof(float)); }

void vgg19_plan_free(vgg19_plan *p) {
    if (!p) return;
    for (int l = 0; l < VGG19_NUM_LAYERS; l++) free(p->out[l]);
    free(p->bitmaps);
    free(p->grad[0]);
    free(p->grad[1]);
    free(p->ws);
    for (int l = 0; l < VGG19_NUM_LAYERS; l++) {
        free(p->uk[l][0]);
        free(p->uk[l][1]);
    }
    free(p);
}

static size_t plan_numel(const vgg19_plan *p, int l) {
    return (size_t)p->c[l] * (size_t)p->h[l] * (size_t)p->w[l];
}

/* Words of the bitmap layer l needs: a ReLU's over its output, a max pool's over its input. */
static size_t plan_bitmap_words(const vgg19_plan *p, int l) {
    const vgg19_layer *L = &vgg19_table[l];
    if (L->kind == VGG_RELU) return (size_t)p->c[l] * bitmap_plane_words((size_t)p->h[l] * (size_t)p->w[l]);
    if (L->kind == VGG_POOL && p->pool[l].kind == POOL_MAX)
        return (size_t)p->pool[l].c * bitmap_plane_words((size_t)p->pool[l].h * (size_t)p->pool[l].w);
    return 0;
}

/* Transforms and keeps both directions' Winograd kernels of the layers that gain most (module
 * comment): maps of at most VGG_WINO_KEEP_PIX pixels, smallest first, deepest first among equals,
 * while the total stays within VGG_WINO_KEEP_BYTES. Returns 0 when out of memory. */
int vgg19_plan_keep_kernels(vgg19_plan *p, const vgg19 *net) {
    size_t used = 0;
    unsigned char tried[VGG19_NUM_LAYERS] = {0};
    for (;;) {
        int best = -1;
        for (int l = p->last; l >= 0; l--)
            if (p->wino[l] == 3 && !tried[l] && p->h[l] * p->w[l] <= VGG_WINO_KEEP_PIX &&
                (best < 0 || p->h[l] * p->w[l] < p->h[best] * p->w[best]))
                best = l;
        if (best < 0) return 1;
        tried[best] = 1;
        const conv2d_desc *d = &p->conv[best];
        const size_t bytes = (conv2d_winograd_kernels_size(d, 0) + conv2d_winograd_kernels_size(d, 1)) * sizeof(float);
        if (used + bytes > VGG_WINO_KEEP_BYTES) continue;
        for (int dir = 0; dir < 2; dir++) {
            if (!(p->uk[best][dir] = plan_alloc(p, conv2d_winograd_kernels_size(d, dir)))) return 0;
            p->uk_mr[best][dir] = conv2d_winograd_transform_kernels(d, dir, net->w[vgg19_table[best].conv],
                                                                    p->uk[best][dir]);
        }
        used += bytes;
    }
}

/* Shapes, layer descriptions and buffer needs of an h x w input (p->last, p->pooling and
 * p->threads set): fills p->c/h/w, p->conv, p->pool, p->wino and returns the floats of the largest
 * output, the workspace and the bitmap words in *largest, *ws, *nbits. */
static void plan_layout(vgg19_plan *p, int h, int w, size_t *largest_out, size_t *ws_out, size_t *nbits_out) {
    p->in_h = h;
    p->in_w = w;
    int c = 3;
    size_t largest = 0, ws = 0, nbits = 0;
    for (int l = 0; l <= p->last; l++) {
        const vgg19_layer *L = &vgg19_table[l];
        if (L->kind == VGG_CONV) {
            conv2d_desc d = {c, h, w, L->out_c, 3, 3, 1, 1, PAD_ZERO, p->threads};
            p->conv[l] = d;
            size_t cw = conv2d_workspace(&d);
            if (cw > ws) ws = cw;
            p->wino[l] = 0;
            if (conv2d_winograd_backward_supported(&d)) p->wino[l] = (c >= VGG_WINO_MIN_C ? 1 : 0) | 2;
            if (p->wino[l]) {
                size_t fw = conv2d_winograd_workspace(&d, 1), bw = conv2d_winograd_backward_workspace(&d);
                if (fw > ws) ws = fw;
                if (bw > ws) ws = bw;
            }
            c = L->out_c;
        } else if (L->kind == VGG_POOL) {
            /* 2x2 windows, stride 2: they never overlap, so a route bitmap can stand for the input. */
            pool_desc d = {c, h, w, 2, 2, 0, 1, p->pooling};
            p->pool[l] = d;
            h = pool_out_h(&d);
            w = pool_out_w(&d);
        }
        p->c[l] = c;
        p->h[l] = h;
        p->w[l] = w;
        if (plan_numel(p, l) > largest) largest = plan_numel(p, l);
        nbits += plan_bitmap_words(p, l);
    }
    *largest_out = largest;
    *ws_out = ws;
    *nbits_out = nbits;
}

/* Points each layer's bitmap into the one block, for the layout in force. */
static void plan_place_bitmaps(vgg19_plan *p) {
    size_t at = 0;
    for (int l = 0; l <= p->last; l++) {
        const size_t n = plan_bitmap_words(p, l);
        p->bits[l] = n ? p->bitmaps + at : NULL;
        at += n;
    }
}

impasto_status vgg19_plan_create(impasto_ctx *ctx, const vgg19 *net, int h, int w, int last,
                                 pool_kind pooling, const unsigned char *keep, vgg19_plan **out) {
    *out = NULL;
    if (!net) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "VGG-19: no network given");
    if (h < 1 || w < 1)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "VGG-19: cannot run on a %dx%d input", w, h);
    if (last < 0 || last >= VGG19_NUM_LAYERS)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "VGG-19: there is no layer %d", last);
    if (pooling != POOL_MAX && pooling != POOL_AVG)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "VGG-19: unknown pooling %d", (int)pooling);
    /* The widest layer holds 64*h*w floats, and CBLAS indexes a feature map with an int. */
    size_t widest;
    if (!size_mul3((size_t)h, (size_t)w, 64 * sizeof(float), &widest) ||
        (size_t)h * (size_t)w > (size_t)INT_MAX / 16)
        return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "VGG-19: a %dx%d input is too large", w, h);

    vgg19_plan *p = calloc(1, sizeof *p);
    if (!p) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (vgg19 plan)");
    p->last = last;
    p->use_wino = 1;
    p->pooling = pooling;
    p->threads = ctx_threads(ctx);
    size_t largest, ws, nbits;
    plan_layout(p, h, w, &largest, &ws, &nbits);
    int ok = 1;
    for (int l = 0; l <= last && ok; l++) {
        const vgg19_layer *L = &vgg19_table[l];
        const int kept = l == last || keep == NULL || keep[l];
        p->fused[l] = L->kind == VGG_CONV && !kept;
        if (kept) ok = (p->out[l] = plan_alloc(p, plan_numel(p, l))) != NULL;
        p->cap[l] = kept ? plan_numel(p, l) : 0;
    }
    if (ok) ok = (p->grad[0] = plan_alloc(p, largest)) && (p->grad[1] = plan_alloc(p, largest)) &&
                 (p->ws = plan_alloc(p, ws)) && (p->bitmaps = plan_alloc_bytes(p, nbits ? nbits : 1, sizeof(uint64_t)));
    if (!ok) {
        size_t mb = p->bytes >> 20;
        vgg19_plan_free(p);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (vgg19 plan for %dx%d, %zu MB so far)",
                        w, h, mb);
    }
    plan_place_bitmaps(p);
    p->largest = p->cap_largest = largest;
    p->cap_ws = ws;
    p->cap_bits = nbits;
    *out = p;
    return IMPASTO_OK;
}

int vgg19_plan_set_input(vgg19_plan *p, int h, int w) {
    if (h < 1 || w < 1) return 0;
    if (h == p->in_h && w == p->in_w) return 1;
    vgg19_plan q = *p;
    size_t largest, ws, nbits;
    plan_layout(&q, h, w, &largest, &ws, &nbits);
    if (largest > p->cap_largest || nbits > p->cap_bits) return 0;
    for (int l = 0; l <= p->last; l++)
        if (p->out[l] && plan_numel(&q, l) > p->cap[l]) return 0;
    if (ws > p->cap_ws) {
        /* The Winograd workspace follows the bands of tiles a row holds, not the area alone: a
         * narrower input may want more of it. */
        float *nws = alloc_aligned(ws * sizeof(float));
        if (!nws) return 0;
        free(q.ws);
        q.ws = nws;
        q.cap_ws = ws;
    }
    /* The kept Winograd kernels were laid out for the old shapes' descriptions: drop them (the
     * layers transform per call again). */
    for (int l = 0; l <= p->last; l++)
        for (int dir = 0; dir < 2; dir++) {
            free(q.uk[l][dir]);
            q.uk[l][dir] = NULL;
        }
    q.largest = largest;
    *p = q;
    plan_place_bitmaps(p);
    return 1;
}

float *vgg19_plan_output(const vgg19_plan *p, int layer, int *c, int *h, int *w) {
    if (!p || layer < 0 || layer > p->last || !p->out[layer]) return NULL;
    vgg19_plan_shape(p, layer, c, h, w);
    return p->out[layer];
}

int vgg19_plan_shape(const vgg19_plan *p, int layer, int *c, int *h, int *w) {
    if (!p || layer < 0 || layer > p->last) return 0;
    if (c) *c = p->c[layer];
    if (h) *h = p->h[layer];
    if (w) *w = p->w[layer];
    return 1;
}

float *vgg19_plan_scratch(vgg19_plan *p, size_t *n) {
    if (n) *n = p->largest;
    return p->grad[1];
}

float *vgg19_plan_scratch2(vgg19_plan *p) { return p->grad[0]; }

size_t vgg19_plan_bytes(const vgg19_plan *p) { return p ? p->bytes : 0; }

void vgg19_plan_set_winograd(vgg19_plan *p, int on) { p->use_wino = on != 0; }

const float *vgg19_plan_winograd_kernels(const vgg19_plan *p, int layer, int backward, int *mr) {
    if (!p || layer < 0 || layer > p->last || !p->uk[layer][backward != 0]) return NULL;
    if (mr) *mr = p->uk_mr[layer][backward != 0];
    return p->uk[layer][backward != 0];
}

/* Winograd for conv l's forward (dir 0) or backward-data (1). */
static int plan_wino(const vgg19_plan *p, int l, int dir) { return p->use_wino && (p->wino[l] >> dir & 1); }

/* Where layer l's output goes: its kept buffer, else whichever transient map `in` is not. */
static float *plan_dest(vgg19_plan *p, int l, const float *in) {
    if (p->out[l]) return p->out[l];
    return in == p->grad[0] ? p->grad[1] : p->grad[0];
}

void vgg19_forward(const vgg19 *net, vgg19_plan *p, const float *x) {
    const float *in = x;  /* (c, h, w) of the previous layer's output */
    for (int l = 0; l <= p->last; l++) {
        const vgg19_layer *L = &vgg19_table[l];
        const size_t hw = (size_t)p->h[l] * (size_t)p->w[l];
        if (L->kind == VGG_CONV) {
            /* A fused conv writes max(conv, 0) as the ReLU's output and the ReLU is skipped but
             * for its bitmap. */
            float *y = plan_dest(p, p->fused[l] ? l + 1 : l, in);
            if (plan_wino(p, l, 0))
                conv2d_winograd_forward_pre(&p->conv[l], in, net->w[L->conv], p->uk[l][0], p->uk_mr[l][0],
                                            net->b[L->conv], y, p->fused[l], p->ws);
            else
                conv2d_forward(&p->conv[l], in, net->w[L->conv], net->b[L->conv], y, p->fused[l], p->ws);
            if (p->fused[l]) {
                relu_mask_bits(p->c[l], hw, y, p->bits[l + 1]);
                l++;
            }
            in = y;
        } else if (L->kind == VGG_RELU) {
            float *y = plan_dest(p, l, in);
            relu_forward(p->c[l] * hw, in, y);
            relu_mask_bits(p->c[l], hw, y, p->bits[l]);
            in = y;
        } else {
            float *y = plan_dest(p, l, in);
            if (p->bits[l]) pool_forward_route(&p->pool[l], in, y, p->bits[l]);
            else pool_forward(&p->pool[l], in, y);
            in = y;
        }
    }
}

/* g (n) += a (n), or g = a for the first gradient to arrive. */
static void grad_inject(float *g, const float *a, size_t n, int first) {
    if (first) {
        memcpy(g, a, n * sizeof *g);
        return;
    }
#pragma omp parallel for simd schedule(static) if (n >= ((size_t)1 << 18))
    for (size_t i = 0; i < n; i++) g[i] += a[i];
}

void vgg19_backward(const vgg19 *net, vgg19_plan *p, const float *const *grad_at, float *dx) {
    int top = -1;
    for (int l = p->last; l >= 0 && top < 0; l--)
        if (grad_at && grad_at[l]) top = l;
    if (top < 0) {
        memset(dx, 0, (size_t)3 * (size_t)p->in_h * (size_t)p->in_w * sizeof *dx);
        return;
    }
    /* Above `top` the gradient is zero, so the pass starts there. g holds the gradient with
     * respect to layer l's output, in p->grad[cur]. */
    int cur = 0;
    float *g = p->grad[cur];
    for (int l = top; l >= 0; l--) {
        const vgg19_layer *L = &vgg19_table[l];
        if (grad_at[l]) grad_inject(g, grad_at[l], plan_numel(p, l), l == top);
        if (L->kind == VGG_RELU) {
            /* Left to the Winograd conv below when nothing is injected between the two. */
            if (!(plan_wino(p, l - 1, 1) && !grad_at[l - 1]))
                relu_backward_bits(p->c[l], (size_t)p->h[l] * (size_t)p->w[l], p->bits[l], g, g);
        } else if (L->kind == VGG_CONV) {
            float *gin = l == 0 ? dx : p->grad[1 - cur];
            if (plan_wino(p, l, 1)) {
                const uint64_t *mask = l < p->last && !grad_at[l] ? p->bits[l + 1] : NULL;
                if (mask)
                    conv2d_winograd_backward_data_bits(&p->conv[l], net->w[L->conv], p->uk[l][1], p->uk_mr[l][1], g,
                                                       mask, gin, p->ws);
                else
                    conv2d_winograd_backward_data_pre(&p->conv[l], net->w[L->conv], p->uk[l][1], p->uk_mr[l][1], g,
                                                      NULL, gin, p->ws);
            } else {
                conv2d_backward(&p->conv[l], NULL, net->w[L->conv], g, gin, NULL, NULL, p->ws);
            }
            cur = 1 - cur;
            g = gin;
        } else {
            /* Max pooling sends each window's gradient where its forward pass's route bit is set;
             * average pooling needs no input. */
            float *gin = p->grad[1 - cur];
            if (p->bits[l]) pool_backward_route(&p->pool[l], p->bits[l], g, gin);
            else pool_backward(&p->pool[l], NULL, g, gin);
            cur = 1 - cur;
            g = gin;
        }
    }
}

/* ---- Caffe preprocessing ---------------------------------------------------------------- */

void vgg19_preprocess(const impasto_image *img, float *x) {
    const size_t hw = (size_t)img->width * (size_t)img->height;
    const int ch = img->channels;
    for (int c = 0; c < 3; c++) {
        /* Gray (and gray+alpha) images feed their one colour channel to R, G and B. */
        const int src = ch >= 3 ? c : 0;
        float *xc = x + (size_t)c * hw;
        for (size_t i = 0; i < hw; i++) xc[i] = img->data[i * (size_t)ch + (size_t)src] * 255.0f - vgg19_mean[c];
    }
}

void vgg19_preprocess_rgb255(const float *rgb, size_t hw, float *x) {
    for (int c = 0; c < 3; c++) {
        const float *ic = rgb + (size_t)c * hw;
        float *xc = x + (size_t)c * hw;
        const float m = vgg19_mean[c];
#pragma omp simd
        for (size_t i = 0; i < hw; i++) xc[i] = ic[i] - m;
    }
}

void vgg19_deprocess(const float *x, int h, int w, float *rgb) {
    const size_t hw = (size_t)h * (size_t)w;
    for (int c = 0; c < 3; c++) {
        const float *xc = x + (size_t)c * hw;
        for (size_t i = 0; i < hw; i++) {
            float v = (xc[i] + vgg19_mean[c]) / 255.0f;
            rgb[i * 3 + (size_t)c] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        }
    }
}
