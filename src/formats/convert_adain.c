/* impasto_convert_adain and impasto_convert_lst_r31: the upstream TensorFlow GraphDefs
 * (../shared/README.md, docs/models.md) -> impasto's safetensors, named as the PyTorch
 * reference implementations name their state dicts.
 *
 * AdaIN (Huang & Belongie 2017; penny4860/android-style-transfer's frozen graphs of
 * xunhuang1995/AdaIN-style): encoder_opt_quantized.pb is vgg_normalised up to relu4_1 with the
 * Caffe preprocessing done by graph ops (ReverseV2 RGB -> BGR, subtract the BGR mean) and quint8
 * MIN_FIRST kernels; decoder_opt_quantized.pb is the AdaIN step followed by the decoder. Every
 * convolution is FusedPadConv2D with REFLECT padding 1; the kernels are (KH, KW, I, O).
 * Written as naoto0804/pytorch-AdaIN's nn.Sequential indices:
 *   encoder.0      1x1 conv 3 -> 3 taking RGB 0..1: the graph's preprocessing as a convolution
 *                  (weight 255 from R/G/B into B/G/R, bias minus the graph's BGR mean), the
 *                  first layer of the original vgg_normalised
 *   encoder.2 .. encoder.29   conv1_1 .. conv4_1 (BGR input, as the graph's block1_conv1)
 *   decoder.1 .. decoder.28   the nine decoder convolutions, 512 -> ... -> 3 (RGB 0..1 out)
 * The graph's decoder clips its output to [0, 1] and scales it by 255; impasto clamps itself.
 *
 * LinearStyleTransfer r31 (Li et al. 2019; penny4860's float32 graphs): vgg_31_opt.pb, the same
 * preprocessing then conv1_1 .. conv3_1 with zero 'SAME' padding, and decoder_31_opt.pb,
 * 256 -> 128 -> (x2) 128 -> 64 -> (x2) 64 -> 3. Written as LinearStyleTransfer's encoder3 /
 * decoder3 names: encoder.conv1 (the 1x1 preprocessing) .. encoder.conv6, decoder.conv7 ..
 * decoder.conv11. */
#include "core/ctx.h"
#include "formats/graphdef.h"
#include "formats/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct adain_conv_spec {
    const char *tf;    /* node prefix in the graph: "<tf>/kernel", "<tf>/bias", "<tf>/Conv2D" */
    const char *name;  /* safetensors name without ".weight" / ".bias" */
    int ic, oc;
} adain_conv_spec;

static const adain_conv_spec adain_enc[] = {
    {"block1_conv1", "encoder.2", 3, 64},     {"block1_conv2", "encoder.5", 64, 64},
    {"block2_conv1", "encoder.9", 64, 128},   {"block2_conv2", "encoder.12", 128, 128},
    {"block3_conv1", "encoder.16", 128, 256}, {"block3_conv2", "encoder.19", 256, 256},
    {"block3_conv3", "encoder.22", 256, 256}, {"block3_conv4", "encoder.25", 256, 256},
    {"output", "encoder.29", 256, 512},
};
static const adain_conv_spec adain_dec[] = {
    {"block4_conv1_decode", "decoder.1", 512, 256},  {"block3_conv1_decode", "decoder.5", 256, 256},
    {"block3_conv2_decode", "decoder.8", 256, 256},  {"block3_conv3_decode", "decoder.11", 256, 256},
    {"block3_conv4_decode", "decoder.14", 256, 128}, {"block2_conv1_decode", "decoder.18", 128, 128},
    {"block2_conv2_decode", "decoder.21", 128, 64},  {"block1_conv1_decode", "decoder.25", 64, 64},
    {"block1_conv2_decode", "decoder.28", 64, 3},
};
static const adain_conv_spec lst_enc[] = {
    {"block1_conv1", "encoder.conv2", 3, 64},    {"block1_conv2", "encoder.conv3", 64, 64},
    {"block2_conv1", "encoder.conv4", 64, 128},  {"block2_conv2", "encoder.conv5", 128, 128},
    {"block3_conv1", "encoder.conv6", 128, 256},
};
static const adain_conv_spec lst_dec[] = {
    {"block3_conv1", "decoder.conv7", 256, 128}, {"block2_conv1", "decoder.conv8", 128, 128},
    {"block2_conv2", "decoder.conv9", 128, 64},  {"block1_conv1", "decoder.conv10", 64, 64},
    {"block1_conv2", "decoder.conv11", 64, 3},
};

#define CONV_MAX 24

/* The tensors being gathered for the output file (weights and biases, owned). */
typedef struct conv_out {
    st_write_tensor t[2 * CONV_MAX];
    char names[2 * CONV_MAX][32];
    float *data[2 * CONV_MAX];
    size_t n;
} conv_out;

static void conv_out_free(conv_out *o) {
    for (size_t i = 0; i < o->n; i++) free(o->data[i]);
}

/* Adds one tensor; takes ownership of data. */
static void conv_out_add(conv_out *o, const char *name, const char *suffix, int ndim, const int64_t *shape,
                         float *data) {
    size_t i = o->n++;
    snprintf(o->names[i], sizeof o->names[i], "%s.%s", name, suffix);
    o->data[i] = data;
    o->t[i].name = o->names[i];
    o->t[i].ndim = ndim;
    for (int d = 0; d < ndim; d++) o->t[i].shape[d] = shape[d];
    o->t[i].data = data;
}

/* Checks the convolution node (op, padding mode, unit strides), then reads its (KH, KW, I, O)
 * kernel into (O, I, KH, KW) and its bias. */
static impasto_status read_conv(impasto_ctx *ctx, const graphdef *g, const adain_conv_spec *sp, int reflect,
                                conv_out *o) {
    char node[96];
    snprintf(node, sizeof node, "%s/Conv2D", sp->tf);
    const gd_node *cv = graphdef_find(g, node);
    if (!cv) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: no convolution '%s'", g->source, node);
    const gd_attr *mode = gd_node_attr(cv, "mode"), *pad = gd_node_attr(cv, "padding");
    const gd_attr *strides = gd_node_attr(cv, "strides");
    int ok = reflect ? !strcmp(cv->op, "FusedPadConv2D") && mode && mode->kind == GD_ATTR_S &&
                           !strcmp(mode->s, "REFLECT")
                     : !strcmp(cv->op, "Conv2D") && pad && pad->kind == GD_ATTR_S && !strcmp(pad->s, "SAME");
    if (ok && strides) {
        for (size_t i = 0; i < strides->nlist_i; i++) ok &= strides->list_i[i] == 1;
    }
    if (!ok)
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: '%s' is a %s, not the expected %s", g->source, node,
                        cv->op, reflect ? "reflection-padded FusedPadConv2D" : "'SAME' Conv2D");

    float *k = NULL, *b = NULL;  // k (3, 3, IC, OC) as TensorFlow stores it, b (OC)
    int nd = 0, nb = 0;
    int64_t sh[TENSOR_MAX_DIMS], shb[TENSOR_MAX_DIMS];
    snprintf(node, sizeof node, "%s/kernel", sp->tf);
    impasto_status s = graphdef_tensor_f32(ctx, g, node, &k, &nd, sh);
    if (s != IMPASTO_OK) return s;
    if (nd != 4 || sh[0] != 3 || sh[1] != 3 || sh[2] != sp->ic || sh[3] != sp->oc) {
        free(k);
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: '%s' is not (3, 3, %d, %d)", g->source, node, sp->ic, sp->oc);
    }
    snprintf(node, sizeof node, "%s/bias", sp->tf);
    if ((s = graphdef_tensor_f32(ctx, g, node, &b, &nb, shb)) != IMPASTO_OK) {
        free(k);
        return s;
    }
    if (nb != 1 || shb[0] != sp->oc) {
        free(k);
        free(b);
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: '%s' is not (%d)", g->source, node, sp->oc);
    }
    const size_t ic = (size_t)sp->ic, oc = (size_t)sp->oc;
    float *w = malloc(oc * ic * 9 * sizeof *w);  // (OC, IC, 3, 3)
    if (!w) {
        free(k);
        free(b);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    for (size_t y = 0; y < 3; y++)
        for (size_t x = 0; x < 3; x++)
            for (size_t i = 0; i < ic; i++)
                for (size_t oo = 0; oo < oc; oo++) w[((oo * ic + i) * 3 + y) * 3 + x] = k[((y * 3 + x) * ic + i) * oc + oo];
    free(k);
    const int64_t wshape[4] = {sp->oc, sp->ic, 3, 3}, bshape[1] = {sp->oc};
    conv_out_add(o, sp->name, "weight", 4, wshape, w);
    conv_out_add(o, sp->name, "bias", 1, bshape, b);
    return IMPASTO_OK;
}

/* The graph's preprocessing (ReverseV2 on the channel axis, then minus a BGR mean) as the 1x1
 * convolution 3 -> 3 on RGB 0..1 that vgg_normalised starts with. */
static impasto_status read_preprocess(impasto_ctx *ctx, const graphdef *g, const char *name, conv_out *o) {
    const gd_node *axis = graphdef_find(g, "vgg_preprocess/ReverseV2/axis");
    const gd_attr *v = axis ? gd_node_attr(axis, "value") : NULL;
    if (!v || !v->tensor || v->tensor->nival != 1 || (v->tensor->ival[0] != -1 && v->tensor->ival[0] != 3))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the input is not reversed on its channel axis "
                        "(vgg_preprocess/ReverseV2)", g->source);
    float *mean = NULL;
    int nd = 0;
    int64_t sh[TENSOR_MAX_DIMS];
    impasto_status s = graphdef_tensor_f32(ctx, g, "vgg_preprocess/Const", &mean, &nd, sh);
    if (s != IMPASTO_OK) return s;
    if (nd != 1 || sh[0] != 3) {
        free(mean);
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: vgg_preprocess/Const is not a 3-vector", g->source);
    }
    float *w = calloc(9, sizeof *w);  // (3, 3, 1, 1)
    if (!w) {
        free(mean);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    for (int oo = 0; oo < 3; oo++) {
        w[oo * 3 + (2 - oo)] = 255.0f;
        mean[oo] = -mean[oo];
    }
    const int64_t wshape[4] = {3, 3, 1, 1}, bshape[1] = {3};
    conv_out_add(o, name, "weight", 4, wshape, w);
    conv_out_add(o, name, "bias", 1, bshape, mean);
    return IMPASTO_OK;
}

static impasto_status open_in(impasto_ctx *ctx, const char *dir, const char *file, graphdef **g) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "folder name too long: %s", dir);
    return graphdef_open(ctx, path, g);
}

static impasto_status convert_pair(impasto_ctx *ctx, const char *dir, const char *out_path, const char *enc_file,
                                   const char *dec_file, const char *pre_name, const adain_conv_spec *enc,
                                   size_t nenc, const adain_conv_spec *dec, size_t ndec, int reflect,
                                   const char *const *meta, size_t nmeta) {
    if (!dir || !out_path) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "convert: give the upstream folder and an output");
    graphdef *ge = NULL, *gdec = NULL;
    conv_out o;
    memset(&o, 0, sizeof o);
    impasto_status s = open_in(ctx, dir, enc_file, &ge);
    if (s == IMPASTO_OK) s = open_in(ctx, dir, dec_file, &gdec);
    if (s == IMPASTO_OK) s = read_preprocess(ctx, ge, pre_name, &o);
    for (size_t i = 0; i < nenc && s == IMPASTO_OK; i++) s = read_conv(ctx, ge, &enc[i], reflect, &o);
    for (size_t i = 0; i < ndec && s == IMPASTO_OK; i++) s = read_conv(ctx, gdec, &dec[i], reflect, &o);
    if (s == IMPASTO_OK) s = safetensors_write(ctx, out_path, o.t, o.n, meta, nmeta);
    conv_out_free(&o);
    graphdef_free(ge);
    graphdef_free(gdec);
    return s;
}

impasto_status impasto_convert_adain(impasto_ctx *ctx, const char *dir, const char *out_path) {
    static const char *const meta[] = {
        "kind", "adain",
        "input", "rgb-0-1",
        "layout", "weight (OC, IC, KH, KW), bias (OC); naoto0804/pytorch-AdaIN's vgg_normalised (encoder.0 .. "
                  "encoder.29, to relu4_1) and decoder (decoder.1 .. decoder.28) Sequential indices; reflection "
                  "padding 1 before every 3x3 convolution; encoder input RGB 0..1, decoder output RGB 0..1",
        "source", "encoder_opt_quantized.pb, decoder_opt_quantized.pb (quint8 MIN_FIRST kernels, float32 biases)",
        "impasto_version", IMPASTO_VERSION,
    };
    return convert_pair(ctx, dir, out_path, "encoder_opt_quantized.pb", "decoder_opt_quantized.pb", "encoder.0",
                        adain_enc, sizeof adain_enc / sizeof adain_enc[0], adain_dec,
                        sizeof adain_dec / sizeof adain_dec[0], 1, meta, sizeof meta / sizeof meta[0] / 2);
}

impasto_status impasto_convert_lst_r31(impasto_ctx *ctx, const char *dir, const char *out_path) {
    static const char *const meta[] = {
        "kind", "lst-r31",
        "input", "rgb-0-1",
        "layout", "weight (OC, IC, KH, KW), bias (OC); LinearStyleTransfer's encoder3 (encoder.conv1 .. "
                  "encoder.conv6, to relu3_1) and decoder3 (decoder.conv7 .. decoder.conv11) names; these graphs "
                  "pad with zeros ('SAME'), not by reflection; encoder input RGB 0..1, decoder output RGB 0..1",
        "source", "vgg_31_opt.pb, decoder_31_opt.pb (float32)",
        "impasto_version", IMPASTO_VERSION,
    };
    return convert_pair(ctx, dir, out_path, "vgg_31_opt.pb", "decoder_31_opt.pb", "encoder.conv1", lst_enc,
                        sizeof lst_enc / sizeof lst_enc[0], lst_dec, sizeof lst_dec / sizeof lst_dec[0], 0, meta,
                        sizeof meta / sizeof meta[0] / 2);
}
