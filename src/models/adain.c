/* The AdaIN encoder and decoder, and the LinearStyleTransfer relu3_1 pair (see adain.h). Each pass allocates two ping-pong activation
 * buffers of its largest layer and one convolution workspace, and frees them at the end.
 *
 * The 3x3 convolutions run by Winograd's F(4x4, 3x3) (conv_winograd.c, about 4 times fewer multiplies than
 * im2col + GEMM), which pads (reflection or zeros) as it goes; a nearest x2 upsampling followed by a convolution
 * is fused into it (the convolution reads the small map, the upsampled one is never stored). The 1x1 input
 * convolution and maps with a side of 1 (which Winograd's reflection cannot pad) use conv2d_forward. */
#include "models/adain.h"

#include "core/ctx.h"
#include "formats/md5.h"
#include "formats/safetensors.h"
#include "nn/nn.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OP_CONV, OP_POOL, OP_UP } adain_op_kind;

typedef struct adain_op {
    adain_op_kind kind;
    int idx;         /* OP_CONV: the Sequential index in the tensor names */
    int ic, oc, k;   /* OP_CONV */
    int relu;        /* OP_CONV: a ReLU follows */
} adain_op;

#define CONV3(i, a, b) {OP_CONV, i, a, b, 3, 1}
#define POOL {OP_POOL, 0, 0, 0, 0, 0}
#define UP {OP_UP, 0, 0, 0, 0, 0}

static const adain_op enc_ops[] = {
    {OP_CONV, 0, 3, 3, 1, 0},
    CONV3(2, 3, 64),      CONV3(5, 64, 64),     POOL,
    CONV3(9, 64, 128),    CONV3(12, 128, 128),  POOL,
    CONV3(16, 128, 256),  CONV3(19, 256, 256),  CONV3(22, 256, 256), CONV3(25, 256, 256), POOL,
    CONV3(29, 256, 512),
};
static const adain_op dec_ops[] = {
    CONV3(1, 512, 256),   UP,
    CONV3(5, 256, 256),   CONV3(8, 256, 256),   CONV3(11, 256, 256), CONV3(14, 256, 128), UP,
    CONV3(18, 128, 128),  CONV3(21, 128, 64),   UP,
    CONV3(25, 64, 64),    {OP_CONV, 28, 64, 3, 3, 0},
};
/* LinearStyleTransfer's encoder3 / decoder3 (tensor names encoder.convN / decoder.convN). */
static const adain_op lst_enc_ops[] = {
    {OP_CONV, 1, 3, 3, 1, 0},
    CONV3(2, 3, 64),      CONV3(3, 64, 64),     POOL,
    CONV3(4, 64, 128),    CONV3(5, 128, 128),   POOL,
    CONV3(6, 128, 256),
};
static const adain_op lst_dec_ops[] = {
    CONV3(7, 256, 128),   UP,
    CONV3(8, 128, 128),   CONV3(9, 128, 64),    UP,
    CONV3(10, 64, 64),    {OP_CONV, 11, 64, 3, 3, 0},
};
#define NOPS(a) (sizeof(a) / sizeof((a)[0]))

/* How a network pads and pools: the AdaIN graphs reflect and pool in ceil mode, the lst-r31
 * graphs pad with zeros ('SAME') and pool 'VALID' (floor). */
typedef struct net_style {
    pad_mode pad;
    int ceil_mode;
    const char *enc_prefix, *dec_prefix;  /* tensor names are <prefix><idx>.weight */
} net_style;
static const net_style adain_style = {PAD_REFLECT, 1, "encoder.", "decoder."};
static const net_style lst_style = {PAD_ZERO, 0, "encoder.conv", "decoder.conv"};

void adain_net_free(adain_net *net) {
    if (!net) return;
    for (int i = 0; i < ADAIN_ENC_CONVS; i++) {
        free(net->enc_w[i]);
        free(net->enc_b[i]);
    }
    for (int i = 0; i < ADAIN_DEC_CONVS; i++) {
        free(net->dec_w[i]);
        free(net->dec_b[i]);
    }
    free(net);
}

static impasto_status load_convs(impasto_ctx *ctx, const safetensors *st, const char *path, const char *prefix,
                                 const adain_op *ops, size_t nops, float **w, float **b) {
    int n = 0;
    for (size_t i = 0; i < nops; i++) {
        const adain_op *op = &ops[i];
        if (op->kind != OP_CONV) continue;
        int64_t wshape[4] = {op->oc, op->ic, op->k, op->k}, bshape[1] = {op->oc};
        w[n] = malloc((size_t)op->oc * (size_t)op->ic * (size_t)(op->k * op->k) * sizeof(float));
        b[n] = malloc((size_t)op->oc * sizeof(float));
        if (!w[n] || !b[n]) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory loading %s", path);
        char name[48];
        snprintf(name, sizeof name, "%s%d.weight", prefix, op->idx);
        impasto_status s = safetensors_get_f32(ctx, st, name, 4, wshape, w[n]);
        if (s != IMPASTO_OK) return s;
        snprintf(name, sizeof name, "%s%d.bias", prefix, op->idx);
        if ((s = safetensors_get_f32(ctx, st, name, 1, bshape, b[n])) != IMPASTO_OK) return s;
        n++;
    }
    return IMPASTO_OK;
}

static impasto_status load_net(impasto_ctx *ctx, const safetensors *st, const char *path, const net_style *ns,
                               const adain_op *eops, size_t neops, const adain_op *dops, size_t ndops,
                               adain_net **out) {
    *out = NULL;
    adain_net *net = calloc(1, sizeof *net);
    if (!net) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory loading %s", path);
    impasto_status s = load_convs(ctx, st, path, ns->enc_prefix, eops, neops, net->enc_w, net->enc_b);
    if (s == IMPASTO_OK) s = load_convs(ctx, st, path, ns->dec_prefix, dops, ndops, net->dec_w, net->dec_b);
    if (s != IMPASTO_OK) {
        adain_net_free(net);
        return s;
    }
    *out = net;
    return IMPASTO_OK;
}

impasto_status adain_from_safetensors(impasto_ctx *ctx, const safetensors *st, const char *path, adain_net **out) {
    return load_net(ctx, st, path, &adain_style, enc_ops, NOPS(enc_ops), dec_ops, NOPS(dec_ops), out);
}

impasto_status lst_from_safetensors(impasto_ctx *ctx, const safetensors *st, const char *path, adain_net **out) {
    return load_net(ctx, st, path, &lst_style, lst_enc_ops, NOPS(lst_enc_ops), lst_dec_ops, NOPS(lst_dec_ops), out);
}

/* Runs ops on x (c, h, w) into a new malloc'd *y; the output shape in *oc, *oh, *ow. Sizes are
 * walked first to size the buffers (with overflow checks), then the layers run. */
static impasto_status run_ops(impasto_ctx *ctx, const net_style *ns, const adain_op *ops, size_t nops,
                              float *const *w, float *const *b, const float *x, int c, int h, int wd, float **y,
                              int *oc, int *oh, int *ow) {
    *y = NULL;
    const int threads = ctx_threads(ctx);
    size_t largest = (size_t)c * (size_t)h * (size_t)wd, ws = 0;
    int cc = c, hh = h, ww = wd;
    for (size_t i = 0; i < nops; i++) {
        const adain_op *op = &ops[i];
        if (op->kind == OP_CONV) {
            int p = op->k / 2;
            conv2d_desc d = {cc, hh, ww, op->oc, op->k, op->k, 1, p, ns->pad, threads};
            /* After OP_UP the forward pass fuses the upsampling into a 3x3 convolution. */
            const int up = i > 0 && ops[i - 1].kind == OP_UP && op->k == 3 ? 2 : 1;
            size_t cw = conv2d_winograd_supported(&d) ? conv2d_winograd_workspace(&d, up) : conv2d_workspace(&d);
            if (cw > ws) ws = cw;
            cc = op->oc;
        } else if (op->kind == OP_POOL) {
            pool_desc d = {cc, hh, ww, 2, 2, 0, ns->ceil_mode, POOL_MAX};
            hh = pool_out_h(&d);
            ww = pool_out_w(&d);
            /* A 1-pixel side cannot be pooled 2x2 (PyTorch refuses it too). */
            if (hh < 1 || ww < 1)
                return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "a %dx%d image is too small for the encoder "
                                "(at least %d pixels a side)", wd, h, ns->ceil_mode ? ADAIN_MIN_SIDE : LST_MIN_SIDE);
        } else {
            if (hh > INT_MAX / 2 || ww > INT_MAX / 2) return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "image too large for the AdaIN decoder");
            hh *= 2;
            ww *= 2;
        }
        size_t n;
        /* CBLAS indexes a feature map with an int. */
        if (!size_mul3((size_t)cc, (size_t)hh, (size_t)ww, &n) || (size_t)hh * (size_t)ww > (size_t)INT_MAX / 16 ||
            n > SIZE_MAX / sizeof(float))
            return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "a %dx%d input is too large for the AdaIN network", wd, h);
        if (n > largest) largest = n;
    }
    /* Activations in turn, each (C, H, W) of the layer just run, at most `largest` floats. */
    float *buf[2] = {malloc(largest * sizeof(float)), malloc(largest * sizeof(float))};
    float *scratch = malloc((ws ? ws : 1) * sizeof(float));
    if (!buf[0] || !buf[1] || !scratch) {
        free(buf[0]);
        free(buf[1]);
        free(scratch);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (AdaIN network, %zu MB of activations)",
                        (2 * largest * sizeof(float)) >> 20);
    }
    const float *in = x;  // (cc, hh, ww)
    int cur = 0, conv = 0;
    cc = c;
    hh = h;
    ww = wd;
    for (size_t i = 0; i < nops; i++) {
        const adain_op *op = &ops[i];
        float *o = buf[cur];
        if (op->kind == OP_CONV) {
            conv2d_desc d = {cc, hh, ww, op->oc, op->k, op->k, 1, op->k / 2, ns->pad, threads};
            if (conv2d_winograd_supported(&d)) {
                conv2d_winograd_forward(&d, 1, in, w[conv], b[conv], o, scratch);
                if (op->relu) relu_forward((size_t)op->oc * (size_t)hh * (size_t)ww, o, o);
            } else {
                conv2d_forward(&d, in, w[conv], b[conv], o, op->relu, scratch);
            }
            conv++;
            cc = op->oc;
        } else if (op->kind == OP_POOL) {
            pool_desc d = {cc, hh, ww, 2, 2, 0, ns->ceil_mode, POOL_MAX};
            pool_forward(&d, in, o);
            hh = pool_out_h(&d);
            ww = pool_out_w(&d);
        } else if (i + 1 < nops && ops[i + 1].kind == OP_CONV && ops[i + 1].k == 3) {
            /* x2 nearest upsampling fused into the next 3x3 convolution: `in` (cc, hh, ww) stays the small
             * map, the convolution runs on (cc, 2 hh, 2 ww) and writes (oc, 2 hh, 2 ww). */
            const adain_op *next = &ops[++i];
            conv2d_desc d = {cc, 2 * hh, 2 * ww, next->oc, 3, 3, 1, 1, ns->pad, threads};
            conv2d_winograd_forward(&d, 2, in, w[conv], b[conv], o, scratch);
            if (next->relu) relu_forward((size_t)next->oc * 4 * (size_t)hh * (size_t)ww, o, o);
            conv++;
            cc = next->oc;
            hh *= 2;
            ww *= 2;
        } else {
            upsample_nearest_forward(cc, hh, ww, 2, in, o, threads);
            hh *= 2;
            ww *= 2;
        }
        in = o;
        cur = 1 - cur;
    }
    free(buf[cur]);
    free(scratch);
    *y = buf[1 - cur];
    *oc = cc;
    *oh = hh;
    *ow = ww;
    return IMPASTO_OK;
}

impasto_status adain_encode(impasto_ctx *ctx, const adain_net *net, const float *x, int h, int w, float **feat,
                            int *fh, int *fw) {
    if (h < 1 || w < 1) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "AdaIN encoder: bad input size %dx%d", w, h);
    int c;
    return run_ops(ctx, &adain_style, enc_ops, NOPS(enc_ops), net->enc_w, net->enc_b, x, 3, h, w, feat, &c, fh, fw);
}

impasto_status adain_decode(impasto_ctx *ctx, const adain_net *net, const float *f, int fh, int fw, float **img) {
    if (fh < 1 || fw < 1) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "AdaIN decoder: bad feature size %dx%d", fw, fh);
    int c, h, w;
    return run_ops(ctx, &adain_style, dec_ops, NOPS(dec_ops), net->dec_w, net->dec_b, f, ADAIN_FEAT_C, fh, fw, img, &c, &h, &w);
}

impasto_status lst_encode(impasto_ctx *ctx, const adain_net *net, const float *x, int h, int w, float **feat, int *fh,
                          int *fw) {
    if (h < 1 || w < 1) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "lst-r31 encoder: bad input size %dx%d", w, h);
    int c;
    return run_ops(ctx, &lst_style, lst_enc_ops, NOPS(lst_enc_ops), net->enc_w, net->enc_b, x, 3, h, w, feat, &c, fh,
                   fw);
}

impasto_status lst_decode(impasto_ctx *ctx, const adain_net *net, const float *f, int fh, int fw, float **img) {
    if (fh < 1 || fw < 1) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "lst-r31 decoder: bad feature size %dx%d", fw, fh);
    int c, h, w;
    return run_ops(ctx, &lst_style, lst_dec_ops, NOPS(lst_dec_ops), net->dec_w, net->dec_b, f, LST_FEAT_C, fh, fw, img,
                   &c, &h, &w);
}

void adain_encoder_fingerprint(const adain_net *net, char hex[33]) {
    md5_state m;
    md5_init(&m);
    int n = 0;
    for (size_t i = 0; i < NOPS(enc_ops); i++) {
        const adain_op *op = &enc_ops[i];
        if (op->kind != OP_CONV) continue;
        md5_update(&m, net->enc_w[n], (size_t)op->oc * (size_t)op->ic * (size_t)(op->k * op->k) * sizeof(float));
        md5_update(&m, net->enc_b[n], (size_t)op->oc * sizeof(float));
        n++;
    }
    unsigned char d[16];
    md5_final(&m, d);
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
}
