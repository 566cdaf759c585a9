/* impasto_convert_ncnn_transformernet: the ncnn fast-neural-style models (nihui's
 * ncnn-android-styletransfer: one binary param shared by five styles' weight files) ->
 * impasto's safetensors with PyTorch's TransformerNet state_dict names (models/transformer_net.h).
 *
 * The param's layer list is checked against the architecture, layer by layer and blob by blob:
 *   Input; per convolution [Interp nearest x2] Padding(reflect, k/2 on all sides)
 *   Convolution(num_output, kernel, stride, bias, weight_data_size = OC*IC*K*K)
 *   [InstanceNorm(channels, eps 1e-5, affine) [ReLU]]; a residual block is a Split whose one
 *   output feeds the block and whose other meets the block's end in a BinaryOp add.
 * Each layer must read the blob the previous one wrote. The weights are read in layer order
 * (convolution: tagged weights, float32 bias; instance norm: float32 gamma, beta), and must end
 * exactly at the end of the file. */
#include "core/ctx.h"
#include "core/fileio.h"
#include "core/limits.h"
#include "formats/ncnn.h"
#include "formats/safetensors.h"
#include "models/transformer_net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct walk {
    impasto_ctx *ctx;
    const ncnn_net *net;
    const char *param_path;
    int li;    /* next layer */
    int cur;   /* the blob the next layer must read */
} walk;

/* The next layer, which must be of `type` and read blob `cur` (when nbottom is 1). */
static impasto_status expect_layer(walk *wk, int type, int nbottom, int ntop, const char *role,
                                   const ncnn_layer **out) {
    char b1[32], b2[32];
    if (wk->li >= wk->net->nlayers)
        return ctx_fail(wk->ctx, IMPASTO_ERR_FORMAT, "%s: ends after %d layers, expected %s (%s) next: not "
                        "the fast-neural-style TransformerNet", wk->param_path, wk->li,
                        ncnn_type_name(type, b1, sizeof b1), role);
    const ncnn_layer *l = &wk->net->layers[wk->li];
    if (l->type != type || l->nbottom != nbottom || l->ntop != ntop)
        return ctx_fail(wk->ctx, IMPASTO_ERR_FORMAT, "%s: layer %d is %s with %d/%d blobs, expected %s (%s): "
                        "not the fast-neural-style TransformerNet", wk->param_path, wk->li,
                        ncnn_type_name(l->type, b1, sizeof b1), l->nbottom, l->ntop,
                        ncnn_type_name(type, b2, sizeof b2), role);
    if (nbottom == 1 && l->bottom[0] != wk->cur)
        return ctx_fail(wk->ctx, IMPASTO_ERR_FORMAT, "%s: layer %d (%s) reads blob %d, not the previous "
                        "layer's output %d", wk->param_path, wk->li, role, l->bottom[0], wk->cur);
    wk->li++;
    if (ntop >= 1) wk->cur = l->top[0];
    *out = l;
    return IMPASTO_OK;
}

static impasto_status bad_param(walk *wk, const char *role, const char *what, double got, double want) {
    return ctx_fail(wk->ctx, IMPASTO_ERR_FORMAT, "%s: layer %d (%s) has %s %g, expected %g", wk->param_path,
                    wk->li - 1, role, what, got, want);
}

/* Checks the layers of convolution i (upsample, pad, conv, norm, relu), reading its weights. */
static impasto_status conv_layers(walk *wk, ncnn_bin *bin, int i, float *w, float *b, float *gamma,
                                  float *beta) {
    const tnet_conv_spec *c = &tnet_convs()[i];
    const ncnn_layer *l;
    impasto_status s;
    char what[96];
    if (c->upsample > 1) {
        if ((s = expect_layer(wk, NCNN_INTERP, 1, 1, c->conv, &l)) != IMPASTO_OK) return s;
        if (ncnn_param_int(l, 0, 0) != 1) return bad_param(wk, c->conv, "resize type", ncnn_param_int(l, 0, 0), 1);
        if (ncnn_param_float(l, 1, 1) != c->upsample || ncnn_param_float(l, 2, 1) != c->upsample ||
            ncnn_param_int(l, 3, 0) != 0 || ncnn_param_int(l, 4, 0) != 0)
            return bad_param(wk, c->conv, "upsampling scale", ncnn_param_float(l, 1, 1), c->upsample);
    }
    if ((s = expect_layer(wk, NCNN_PADDING, 1, 1, c->conv, &l)) != IMPASTO_OK) return s;
    for (int k = 0; k < 4; k++)
        if (ncnn_param_int(l, k, 0) != c->k / 2) return bad_param(wk, c->conv, "padding", ncnn_param_int(l, k, 0), c->k / 2);
    if (ncnn_param_int(l, 4, 0) != 2) return bad_param(wk, c->conv, "padding type (2 = reflect)", ncnn_param_int(l, 4, 0), 2);

    if ((s = expect_layer(wk, NCNN_CONVOLUTION, 1, 1, c->conv, &l)) != IMPASTO_OK) return s;
    const int nw = c->oc * c->ic * c->k * c->k;
    const int kw = ncnn_param_int(l, 1, 0), kh = ncnn_param_int(l, 11, kw);
    const int st = ncnn_param_int(l, 3, 1), sth = ncnn_param_int(l, 13, st);
    const int dil = ncnn_param_int(l, 2, 1), dilh = ncnn_param_int(l, 12, dil);
    if (ncnn_param_int(l, 0, 0) != c->oc) return bad_param(wk, c->conv, "num_output", ncnn_param_int(l, 0, 0), c->oc);
    if (kw != c->k || kh != c->k) return bad_param(wk, c->conv, "kernel", kw != c->k ? kw : kh, c->k);
    if (st != c->stride || sth != c->stride) return bad_param(wk, c->conv, "stride", st != c->stride ? st : sth, c->stride);
    if (dil != 1 || dilh != 1) return bad_param(wk, c->conv, "dilation", dil != 1 ? dil : dilh, 1);
    if (ncnn_param_int(l, 4, 0) != 0 || ncnn_param_int(l, 14, 0) != 0 || ncnn_param_int(l, 15, 0) != 0 ||
        ncnn_param_int(l, 16, 0) != 0)
        return bad_param(wk, c->conv, "own padding", ncnn_param_int(l, 4, 0), 0);
    if (ncnn_param_int(l, 5, 0) != 1) return bad_param(wk, c->conv, "bias_term", ncnn_param_int(l, 5, 0), 1);
    if (ncnn_param_int(l, 6, 0) != nw) return bad_param(wk, c->conv, "weight_data_size", ncnn_param_int(l, 6, 0), nw);
    if (ncnn_param_int(l, 8, 0) != 0 || ncnn_param_int(l, 9, 0) != 0 || ncnn_param_int(l, 19, 0) != 0)
        return bad_param(wk, c->conv, "int8/activation/dynamic-weight setting", 1, 0);
    snprintf(what, sizeof what, "%s weights", c->conv);
    if ((s = ncnn_bin_read(wk->ctx, bin, (size_t)nw, 1, what, w)) != IMPASTO_OK) return s;
    snprintf(what, sizeof what, "%s bias", c->conv);
    if ((s = ncnn_bin_read(wk->ctx, bin, (size_t)c->oc, 0, what, b)) != IMPASTO_OK) return s;
    if (!c->norm) return IMPASTO_OK;

    if ((s = expect_layer(wk, NCNN_INSTANCENORM, 1, 1, c->norm, &l)) != IMPASTO_OK) return s;
    if (ncnn_param_int(l, 0, 0) != c->oc) return bad_param(wk, c->norm, "channels", ncnn_param_int(l, 0, 0), c->oc);
    if (fabsf(ncnn_param_float(l, 1, 0.001f) - TNET_EPS) > 1e-9f)
        return bad_param(wk, c->norm, "eps", ncnn_param_float(l, 1, 0.001f), TNET_EPS);
    if (ncnn_param_int(l, 2, 1) != 1) return bad_param(wk, c->norm, "affine", ncnn_param_int(l, 2, 1), 1);
    snprintf(what, sizeof what, "%s gamma", c->norm);
    if ((s = ncnn_bin_read(wk->ctx, bin, (size_t)c->oc, 0, what, gamma)) != IMPASTO_OK) return s;
    snprintf(what, sizeof what, "%s beta", c->norm);
    if ((s = ncnn_bin_read(wk->ctx, bin, (size_t)c->oc, 0, what, beta)) != IMPASTO_OK) return s;
    if (!c->relu) return IMPASTO_OK;
    if ((s = expect_layer(wk, NCNN_RELU, 1, 1, c->norm, &l)) != IMPASTO_OK) return s;
    if (ncnn_param_float(l, 0, 0) != 0) return bad_param(wk, c->norm, "ReLU slope", ncnn_param_float(l, 0, 0), 0);
    return IMPASTO_OK;
}

/* Checks the whole layer list, filling net's tensors from the weights in order. */
static impasto_status read_network(walk *wk, ncnn_bin *bin, transformer_net *net) {
    const ncnn_layer *l;
    impasto_status s = IMPASTO_OK;
    wk->cur = -1;
    if ((s = expect_layer(wk, NCNN_INPUT, 0, 1, "input", &l)) != IMPASTO_OK) return s;
    int skip = -1;
    for (int i = 0; i < TNET_NUM_CONV; i++) {
        const tnet_conv_spec *c = &tnet_convs()[i];
        if (c->role == TNET_RES_FIRST) {
            if ((s = expect_layer(wk, NCNN_SPLIT, 1, 2, c->conv, &l)) != IMPASTO_OK) return s;
            /* One output carries on through the block, the other skips it; either order. */
            skip = l->top[0];
            wk->cur = l->top[1];
        }
        s = conv_layers(wk, bin, i, net->w[i], net->b[i], net->gamma[i], net->beta[i]);
        if (s != IMPASTO_OK) return s;
        if (c->role == TNET_RES_SECOND) {
            int block_out = wk->cur;
            if ((s = expect_layer(wk, NCNN_BINARYOP, 2, 1, c->conv, &l)) != IMPASTO_OK) return s;
            int a = l->bottom[0], b = l->bottom[1];
            if (!((a == block_out && b == skip) || (a == skip && b == block_out)))
                return ctx_fail(wk->ctx, IMPASTO_ERR_FORMAT, "%s: layer %d adds blobs %d and %d, not the residual "
                                "block's input %d and output %d", wk->param_path, wk->li - 1, a, b, skip, block_out);
            if (ncnn_param_int(l, 0, 0) != 0 || ncnn_param_int(l, 1, 0) != 0)
                return bad_param(wk, c->conv, "BinaryOp type (0 = add)", ncnn_param_int(l, 0, 0), 0);
        }
    }
    if (wk->li != wk->net->nlayers)
        return ctx_fail(wk->ctx, IMPASTO_ERR_FORMAT, "%s: %d layers after the network's last convolution",
                        wk->param_path, wk->net->nlayers - wk->li);
    if (bin->pos != bin->size)
        return ctx_fail(wk->ctx, IMPASTO_ERR_FORMAT, "%s: the network's weights end at byte %zu, but the file "
                        "has %zu bytes: not this network's weights", bin->name, bin->pos, bin->size);
    return IMPASTO_OK;
}

/* The last path component, without its extension, into buf ("models/candy.bin" -> "candy"). */
static const char *base_name(const char *path, char *buf, size_t cap) {
    const char *slash = strrchr(path, '/');
    const char *b = slash ? slash + 1 : path;
    const char *dot = strrchr(b, '.');
    snprintf(buf, cap, "%.*s", (int)(dot && dot > b ? (size_t)(dot - b) : strlen(b)), b);
    return buf;
}

impasto_status impasto_convert_ncnn_transformernet(impasto_ctx *ctx, const char *param_path,
                                                   const char *bin_path, const char *out_path) {
    if (!param_path || !bin_path || !out_path)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "convert ncnn-transformernet: give a param, a weights "
                        "file and an output");
    ncnn_net net;
    impasto_status s = ncnn_param_load(ctx, param_path, &net);
    if (s != IMPASTO_OK) return s;
    unsigned char *bytes = NULL;
    size_t size = 0;
    s = file_read_all(ctx, bin_path, UPSTREAM_MAX_WEIGHTS_BYTES, &bytes, &size);
    transformer_net *tn = calloc(1, sizeof *tn);
    if (s == IMPASTO_OK && !tn) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    for (int i = 0; i < TNET_NUM_CONV && s == IMPASTO_OK; i++) {
        const tnet_conv_spec *c = &tnet_convs()[i];
        tn->w[i] = malloc((size_t)c->oc * (size_t)c->ic * (size_t)c->k * (size_t)c->k * sizeof(float));
        tn->b[i] = malloc((size_t)c->oc * sizeof(float));
        tn->gamma[i] = c->norm ? malloc((size_t)c->oc * sizeof(float)) : NULL;
        tn->beta[i] = c->norm ? malloc((size_t)c->oc * sizeof(float)) : NULL;
        if (!tn->w[i] || !tn->b[i] || (c->norm && (!tn->gamma[i] || !tn->beta[i])))
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    if (s == IMPASTO_OK) {
        walk wk = {ctx, &net, param_path, 0, -1};
        ncnn_bin bin = {bytes, size, 0, bin_path};
        s = read_network(&wk, &bin, tn);
    }
    if (s == IMPASTO_OK) {
        st_write_tensor t[4 * TNET_NUM_CONV];
        char names[4 * TNET_NUM_CONV][40];
        size_t n = 0;
        memset(t, 0, sizeof t);
        for (int i = 0; i < TNET_NUM_CONV; i++) {
            const tnet_conv_spec *c = &tnet_convs()[i];
            const char *pre[4] = {c->conv, c->conv, c->norm, c->norm};
            const char *suf[4] = {".conv2d.weight", ".conv2d.bias", ".weight", ".bias"};
            float *data[4] = {tn->w[i], tn->b[i], tn->gamma[i], tn->beta[i]};
            for (int k = 0; k < (c->norm ? 4 : 2); k++, n++) {
                snprintf(names[n], sizeof names[n], "%s%s", pre[k], suf[k]);
                t[n] = (st_write_tensor){.name = names[n], .ndim = k == 0 ? 4 : 1,
                                         .shape = {c->oc, c->ic, c->k, c->k}, .data = data[k]};
            }
        }
        char style[128];
        const char *meta[] = {
            "kind", "transformernet",
            "style", base_name(bin_path, style, sizeof style),
            "input", "rgb-0-255",
            "layout", "PyTorch examples fast_neural_style TransformerNet state_dict: <conv>.conv2d.weight "
                      "(OC, IC, K, K), <conv>.conv2d.bias (OC), <norm>.weight/.bias (OC); reflection padding "
                      "K/2, InstanceNorm eps 1e-5; input and output RGB 0..255",
            "source", "ncnn param + weights (ncnn-android-styletransfer); convolution weights stored as float16",
            "impasto_version", IMPASTO_VERSION,
        };
        s = safetensors_write(ctx, out_path, t, n, meta, sizeof meta / sizeof meta[0] / 2);
    }
    transformer_net_free(tn);
    free(bytes);
    ncnn_net_clear(&net);
    return s;
}
