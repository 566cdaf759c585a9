/* impasto_convert_pth: PyTorch checkpoints (formats/pth.c) of the networks impasto runs ->
 * impasto's safetensors, the tensor names and shapes checked against the architecture.
 *
 *   transformernet  pytorch/examples fast_neural_style's TransformerNet state_dict (the .pth files
 *                   its download_saved_models.py fetches, or one saved from its training): the
 *                   62 tensors of models/transformer_net.h. The InstanceNorm running_mean /
 *                   running_var entries PyTorch 0.3 saved are dropped, as the example's own
 *                   loader does (it deletes every key matching in\d+\.running_(mean|var)$).
 *   adain           naoto0804/pytorch-AdaIN's vgg_normalised.pth and decoder.pth together (an
 *                   AdaIN model needs both; either order): its net.py's Sequential indices.
 *                   vgg_normalised is cut after relu4_1 (encoder.0 .. encoder.29; conv4_2 ..
 *                   conv5_4 are dropped), the decoder is kept whole (decoder.1 .. decoder.28).
 *                   encoder.0 is the 1x1 convolution from RGB 0..1 to Caffe's BGR 0..255 minus
 *                   the mean, exactly what io/convert_adain.c writes under that name.
 *   resnet_<n>blocks, unet_<2^k>, auto   junyanz/pytorch-CycleGAN-and-pix2pix's generators
 *                   (latest_net_G.pth ...): convert_gan.c.
 * Every other tensor is refused, so a checkpoint of another network is not taken for one. */
#include "core/ctx.h"
#include "formats/convert_gan.h"
#include "formats/pth.h"
#include "formats/safetensors.h"
#include "models/transformer_net.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT_MAX 64

/* The tensors gathered for the output file, in the order they are written (data owned). */
typedef struct out_set {
    st_write_tensor t[OUT_MAX];
    char names[OUT_MAX][48];
    float *data[OUT_MAX];
    size_t n;
} out_set;

static void out_free(out_set *o) {
    for (size_t i = 0; i < o->n; i++) free(o->data[i]);
}

/* "(a, b)" into buf, for messages. */
static const char *dims(char *buf, size_t cap, int ndim, const int64_t *v) {
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)v[i]);
    if (k < cap) snprintf(buf + k, cap - k, ")");
    return buf;
}

/* Reads tensor `name` of f, which must have exactly this shape, into o as `out_name`. */
static impasto_status take(impasto_ctx *ctx, const pth_file *f, const char *path, const char *name, int ndim,
                           const int64_t *shape, const char *what, const char *out_name, out_set *o) {
    const pth_tensor *t = pth_find(f, name);
    if (!t) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: no tensor '%s': not %s", path, name, what);
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char a[96], b[96];
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s for %s", path, name,
                        dims(a, sizeof a, t->ndim, t->shape), dims(b, sizeof b, ndim, shape), what);
    }
    if (o->n >= OUT_MAX) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: too many tensors", path);
    float *data = malloc((t->numel ? t->numel : 1) * sizeof *data);
    if (!data) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory converting %s", path);
    impasto_status s = pth_get_f32(ctx, f, t, data);
    if (s != IMPASTO_OK) {
        free(data);
        return s;
    }
    size_t i = o->n++;
    snprintf(o->names[i], sizeof o->names[i], "%s", out_name);
    o->data[i] = data;
    o->t[i] = (st_write_tensor){.name = o->names[i], .ndim = ndim, .data = data};
    memcpy(o->t[i].shape, shape, (size_t)ndim * sizeof *shape);
    return IMPASTO_OK;
}

/* The last path component ("models/candy.pth" -> "candy.pth"). */
static const char *file_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The last path component without its extension ("models/candy.pth" -> "candy"). */
static const char *base_name(const char *path, char *buf, size_t cap) {
    const char *slash = strrchr(path, '/');
    const char *b = slash ? slash + 1 : path;
    const char *dot = strrchr(b, '.');
    snprintf(buf, cap, "%.*s", (int)(dot && dot > b ? (size_t)(dot - b) : strlen(b)), b);
    return buf;
}

/* ---- TransformerNet ------------------------------------------------------------------------ */

/* The example's filter: the last component before ".running_mean" / ".running_var" is "in<N>". */
static int is_norm_running_stat(const char *name) {
    static const char *const suffix[] = {".running_mean", ".running_var"};
    for (int k = 0; k < 2; k++) {
        size_t n = strlen(name), sl = strlen(suffix[k]);
        if (n <= sl || strcmp(name + n - sl, suffix[k]) != 0) continue;
        size_t end = n - sl, start = end;
        while (start > 0 && name[start - 1] != '.') start--;
        if (end - start < 3 || strncmp(name + start, "in", 2) != 0) return 0;
        for (size_t i = start + 2; i < end; i++)
            if (!isdigit((unsigned char)name[i])) return 0;
        return 1;
    }
    return 0;
}

static impasto_status convert_transformernet(impasto_ctx *ctx, const char *path, const char *out_path) {
    static const char *what = "a fast-neural-style TransformerNet state_dict";
    pth_file *f = NULL;
    impasto_status s = pth_open(ctx, path, &f);
    if (s != IMPASTO_OK) return s;
    out_set o;
    memset(&o, 0, sizeof o);
    size_t dropped = 0;
    for (size_t i = 0; i < pth_count(f) && s == IMPASTO_OK; i++) {
        const char *name = pth_at(f, i)->name;
        if (is_norm_running_stat(name)) {
            dropped++;
            continue;
        }
        int known = 0;
        for (int c = 0; c < TNET_NUM_CONV && !known; c++) {
            const tnet_conv_spec *sp = &tnet_convs()[c];
            const char *pre[4] = {sp->conv, sp->conv, sp->norm, sp->norm};
            const char *suf[4] = {".conv2d.weight", ".conv2d.bias", ".weight", ".bias"};
            for (int k = 0; k < (sp->norm ? 4 : 2) && !known; k++) {
                size_t pl = strlen(pre[k]);
                known = strncmp(name, pre[k], pl) == 0 && strcmp(name + pl, suf[k]) == 0;
            }
        }
        if (!known)
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%.200s' is not part of the fast-neural-style "
                         "TransformerNet (is this checkpoint another network?)", path, name);
    }
    for (int c = 0; c < TNET_NUM_CONV && s == IMPASTO_OK; c++) {
        const tnet_conv_spec *sp = &tnet_convs()[c];
        const int64_t wshape[4] = {sp->oc, sp->ic, sp->k, sp->k}, vshape[1] = {sp->oc};
        char name[48];
        snprintf(name, sizeof name, "%s.conv2d.weight", sp->conv);
        s = take(ctx, f, path, name, 4, wshape, what, name, &o);
        snprintf(name, sizeof name, "%s.conv2d.bias", sp->conv);
        if (s == IMPASTO_OK) s = take(ctx, f, path, name, 1, vshape, what, name, &o);
        if (!sp->norm) continue;
        snprintf(name, sizeof name, "%s.weight", sp->norm);
        if (s == IMPASTO_OK) s = take(ctx, f, path, name, 1, vshape, what, name, &o);
        snprintf(name, sizeof name, "%s.bias", sp->norm);
        if (s == IMPASTO_OK) s = take(ctx, f, path, name, 1, vshape, what, name, &o);
    }
    if (s == IMPASTO_OK) {
        char style[128], source[512];
        snprintf(source, sizeof source, "PyTorch checkpoint %.200s (%s torch.save layout)%s", file_name(path), pth_layout(f),
                 dropped ? "; the InstanceNorm running_mean/running_var entries dropped, as the example's loader "
                           "does" : "");
        const char *meta[] = {
            "kind", "transformernet",
            "style", base_name(path, style, sizeof style),
            "input", "rgb-0-255",
            "layout", "PyTorch examples fast_neural_style TransformerNet state_dict: <conv>.conv2d.weight "
                      "(OC, IC, K, K), <conv>.conv2d.bias (OC), <norm>.weight/.bias (OC); reflection padding "
                      "K/2, InstanceNorm eps 1e-5; input and output RGB 0..255",
            "source", source,
            "impasto_version", IMPASTO_VERSION,
        };
        s = safetensors_write(ctx, out_path, o.t, o.n, meta, sizeof meta / sizeof meta[0] / 2);
    }
    out_free(&o);
    pth_close(f);
    return s;
}

/* ---- AdaIN ---------------------------------------------------------------------------------- */

typedef struct seq_conv {
    int index;   /* the Sequential index */
    int ic, oc, k;
} seq_conv;

/* pytorch-AdaIN net.py's vgg: the convolutions up to relu4_1, then the ones after it. */
static const seq_conv vgg_kept[] = {
    {0, 3, 3, 1},       {2, 3, 64, 3},      {5, 64, 64, 3},     {9, 64, 128, 3},    {12, 128, 128, 3},
    {16, 128, 256, 3},  {19, 256, 256, 3},  {22, 256, 256, 3},  {25, 256, 256, 3},  {29, 256, 512, 3},
};
static const int vgg_dropped[] = {32, 35, 38, 42, 45, 48, 51};
static const seq_conv decoder_convs[] = {
    {1, 512, 256, 3},  {5, 256, 256, 3},  {8, 256, 256, 3},  {11, 256, 256, 3}, {14, 256, 128, 3},
    {18, 128, 128, 3}, {21, 128, 64, 3},  {25, 64, 64, 3},   {28, 64, 3, 3},
};
#define NUM_VGG_KEPT (sizeof vgg_kept / sizeof vgg_kept[0])
#define NUM_VGG_DROPPED (sizeof vgg_dropped / sizeof vgg_dropped[0])
#define NUM_DECODER (sizeof decoder_convs / sizeof decoder_convs[0])

/* 1 when name is "<index>.weight" or "<index>.bias" for one of the indices (written as Python
 * writes them: no sign, no leading zero). */
static int names_conv(const char *name, const seq_conv *convs, size_t n, const int *more, size_t nmore) {
    for (size_t i = 0; i < n + nmore; i++) {
        char w[32], b[32];
        int idx = i < n ? convs[i].index : more[i - n];
        snprintf(w, sizeof w, "%d.weight", idx);
        snprintf(b, sizeof b, "%d.bias", idx);
        if (!strcmp(name, w) || !strcmp(name, b)) return 1;
    }
    return 0;
}

/* Every tensor of f is one of the network's; the kept ones go into o as prefix.N.weight/bias. */
static impasto_status take_seq(impasto_ctx *ctx, const pth_file *f, const char *path, const char *what,
                               const seq_conv *convs, size_t n, const int *dropped, size_t ndropped,
                               const char *prefix, out_set *o) {
    for (size_t i = 0; i < pth_count(f); i++) {
        const char *name = pth_at(f, i)->name;
        if (!names_conv(name, convs, n, dropped, ndropped))
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%.200s' is not part of %s", path, name, what);
    }
    impasto_status s = IMPASTO_OK;
    for (size_t i = 0; i < n && s == IMPASTO_OK; i++) {
        const seq_conv *c = &convs[i];
        const int64_t wshape[4] = {c->oc, c->ic, c->k, c->k}, bshape[1] = {c->oc};
        char name[32], out_name[48];
        snprintf(name, sizeof name, "%d.weight", c->index);
        snprintf(out_name, sizeof out_name, "%s.%d.weight", prefix, c->index);
        s = take(ctx, f, path, name, 4, wshape, what, out_name, o);
        snprintf(name, sizeof name, "%d.bias", c->index);
        snprintf(out_name, sizeof out_name, "%s.%d.bias", prefix, c->index);
        if (s == IMPASTO_OK) s = take(ctx, f, path, name, 1, bshape, what, out_name, o);
    }
    return s;
}

static impasto_status convert_adain(impasto_ctx *ctx, const char *const *paths, const char *out_path) {
    pth_file *f[2] = {NULL, NULL};
    impasto_status s = pth_open(ctx, paths[0], &f[0]);
    if (s == IMPASTO_OK) s = pth_open(ctx, paths[1], &f[1]);
    /* vgg_normalised starts with the 1x1 convolution "0"; the decoder with "1". */
    int vgg = -1;
    if (s == IMPASTO_OK) {
        int a = pth_find(f[0], "0.weight") != NULL, b = pth_find(f[1], "0.weight") != NULL;
        if (a == b)
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s and %s: %s of them is pytorch-AdaIN's vgg_normalised.pth (the "
                         "one whose tensors start at '0.weight'); give vgg_normalised.pth and decoder.pth", paths[0],
                         paths[1], a ? "both" : "neither");
        vgg = a ? 0 : 1;
    }
    out_set o;
    memset(&o, 0, sizeof o);
    if (s == IMPASTO_OK)
        s = take_seq(ctx, f[vgg], paths[vgg], "pytorch-AdaIN's vgg_normalised", vgg_kept, NUM_VGG_KEPT, vgg_dropped,
                     NUM_VGG_DROPPED, "encoder", &o);
    if (s == IMPASTO_OK)
        s = take_seq(ctx, f[1 - vgg], paths[1 - vgg], "pytorch-AdaIN's decoder", decoder_convs, NUM_DECODER, NULL, 0,
                     "decoder", &o);
    if (s == IMPASTO_OK) {
        char source[640];
        snprintf(source, sizeof source, "pytorch-AdaIN checkpoints: %.200s (%s torch.save layout; kept to relu4_1) "
                 "and %.200s (%s)", file_name(paths[vgg]), pth_layout(f[vgg]), file_name(paths[1 - vgg]),
                 pth_layout(f[1 - vgg]));
        const char *meta[] = {
            "kind", "adain",
            "input", "rgb-0-1",
            "layout", "weight (OC, IC, KH, KW), bias (OC); naoto0804/pytorch-AdaIN's vgg_normalised (encoder.0 .. "
                      "encoder.29, to relu4_1) and decoder (decoder.1 .. decoder.28) Sequential indices; reflection "
                      "padding 1 before every 3x3 convolution; encoder input RGB 0..1, decoder output RGB 0..1",
            "source", source,
            "impasto_version", IMPASTO_VERSION,
        };
        s = safetensors_write(ctx, out_path, o.t, o.n, meta, sizeof meta / sizeof meta[0] / 2);
    }
    out_free(&o);
    pth_close(f[0]);
    pth_close(f[1]);
    return s;
}

impasto_status impasto_convert_pth(impasto_ctx *ctx, const char *const *paths, size_t npaths, const char *arch,
                                   const char *out_path) {
    if (!paths || !out_path || !arch)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "convert pth: give the checkpoint, an architecture and an "
                        "output");
    for (size_t i = 0; i < npaths; i++)
        if (!paths[i]) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "convert pth: a checkpoint name is missing");
    if (!strcmp(arch, "transformernet")) {
        if (npaths != 1)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "transformernet takes one checkpoint, got %zu", npaths);
        return convert_transformernet(ctx, paths[0], out_path);
    }
    if (!strcmp(arch, "adain") || !strcmp(arch, "adain-decoder")) {
        if (npaths != 2)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "adain takes two checkpoints, vgg_normalised.pth and "
                            "decoder.pth, got %zu", npaths);
        return convert_adain(ctx, paths, out_path);
    }
    if (convert_gan_arch(arch)) {
        if (npaths != 1)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%.64s takes one checkpoint (a generator's), got %zu", arch,
                            npaths);
        return convert_gan(ctx, paths[0], arch, out_path);
    }
    return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "unknown architecture '%.64s' (known: transformernet, adain, "
                    "resnet_9blocks, resnet_6blocks, unet_256, unet_128, resnet_<n>blocks, unet_<2^k>, auto)", arch);
}
