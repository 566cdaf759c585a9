/* CycleGAN and pix2pix generators from junyanz/pytorch-CycleGAN-and-pix2pix's checkpoints
 * (convert_gan.h). The reference saves each network's state_dict on its own
 * (net.module.cpu().state_dict(), so without DataParallel's "module." prefix, which formats/pth.c
 * strips anyway), and the names carry the architecture (models/gan_nets.h lists the modules):
 *
 *   ResNet  model.1.weight (ngf, in_c, 7, 7) is the first convolution; residual block i is
 *           model.<10+i>.conv_block.*, with its second convolution at .5, or at .6 when a Dropout
 *           sits at .4; the last convolution is model.<17+n>.weight (out_c, ngf, 7, 7) after n
 *           blocks (model.26 for resnet_9blocks).
 *   U-Net   model.model.0.weight (ngf, in_c, 4, 4) is the outermost down convolution; each level's
 *           block is nested in the one above, as <prefix>1.model. under the outermost and
 *           <prefix>3.model. under the others, down to the innermost, whose down convolution
 *           <prefix>1.weight is (8ngf, 8ngf, 4, 4); model.model.3.weight (2ngf, out_c, 4, 4) is the
 *           last (transposed) convolution. num_downs is the number of levels.
 *   norm    a convolution before a norm has a bias only with instance norm, whose modules hold no
 *           tensors (affine=False); batch norms hold weight, bias, running_mean, running_var (and
 *           num_batches_tracked since PyTorch 0.4.1); 'none' is Identity, nothing, and no biases.
 *           So model.1.bias / model.model.0.bias -> instance; else a weight on the first norm
 *           (model.2, model.model.1.model.2) -> batch; else none.
 *   dropout ResNet: from the names above. U-Net: nothing in the file says (nn.Dropout holds no
 *           tensors), so it is on, as pix2pix trains and tests with it, and recorded so.
 *
 * Files saved by PyTorch before 0.4 (the pretrained CycleGAN generators of 2017 among them) also
 * hold running_mean / running_var for every InstanceNorm; the reference's loader deletes them
 * (__patch_instance_norm_state_dict) and so does this converter, counting them in the file's
 * "source". */
#include "formats/convert_gan.h"

#include "core/ctx.h"
#include "models/gan_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NGF 1024       /* gan_generator_create's bound */
#define MAX_CHANNELS 4     /* in/out channels a model file may record (methods/gan_model.c) */
#define MAX_BLOCKS 64      /* resnet_<n>blocks, as gan_gen_parse takes them */
#define MIN_DOWNS 5        /* unet_32 ... */
#define MAX_DOWNS 10       /* ... unet_1024 */

int convert_gan_arch(const char *arch) {
    gan_gen_spec s;
    return arch && (!strcmp(arch, "auto") || gan_gen_parse(arch, &s) == 0);
}

/* "(a, b)" into buf, for messages. */
static const char *shape_str(char *buf, size_t cap, int ndim, const int64_t *v) {
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)v[i]);
    if (k < cap) snprintf(buf + k, cap - k, ")");
    return buf;
}

static int same_shape(const pth_tensor *t, int ndim, const int64_t *shape) {
    if (t->ndim != ndim) return 0;
    for (int d = 0; d < ndim; d++)
        if (t->shape[d] != shape[d]) return 0;
    return 1;
}

static impasto_status bad_shape(impasto_ctx *ctx, const char *path, const pth_tensor *t, const char *want,
                                const char *what) {
    char got[160];
    return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%.200s' has shape %s, expected %s for %s", path, t->name,
                    shape_str(got, sizeof got, t->ndim, t->shape), want, what);
}

/* A 4-d convolution weight whose last two sides are k: its first two dimensions, in range. */
static impasto_status conv_dims(impasto_ctx *ctx, const char *path, const pth_tensor *t, int k, const char *want,
                                const char *what, int64_t *d0, int64_t *d1) {
    if (t->ndim != 4 || t->shape[2] != k || t->shape[3] != k || t->shape[0] < 1 || t->shape[1] < 1)
        return bad_shape(ctx, path, t, want, what);
    *d0 = t->shape[0];
    *d1 = t->shape[1];
    return IMPASTO_OK;
}

static impasto_status check_range(impasto_ctx *ctx, const char *path, const char *tensor, const char *what,
                                  int64_t v, int64_t hi) {
    if (v >= 1 && v <= hi) return IMPASTO_OK;
    return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%s' gives %s %lld; impasto takes 1 to %lld", path, tensor,
                    what, (long long)v, (long long)hi);
}

/* The ResNet's ngf, channels, blocks, norm and dropout. Every residual block's first convolution
 * is checked for its (4ngf, 4ngf, 3, 3) before the net is allocated, so a file must hold a tensor
 * of 144 ngf^2 values to make the converter allocate the net's ~2 x 2n x 144 ngf^2 (weights and
 * gradients): at most ~260 times that tensor, even when all the blocks view one storage. */
static impasto_status probe_resnet(impasto_ctx *ctx, const pth_file *f, const char *path, gan_gen_spec *s) {
    static const char *what = "the ResNet generator's first convolution";
    int64_t ngf, in_c, out_c, ngf_again;
    impasto_status st = conv_dims(ctx, path, pth_find(f, "model.1.weight"), 7, "(ngf, in_channels, 7, 7)", what,
                                  &ngf, &in_c);
    if (!st) st = check_range(ctx, path, "model.1.weight", "ngf", ngf, MAX_NGF);
    if (!st) st = check_range(ctx, path, "model.1.weight", "in_channels", in_c, MAX_CHANNELS);
    if (st) return st;
    const int64_t block_w[4] = {4 * ngf, 4 * ngf, 3, 3};
    char name[64], want[96], blocks[96];
    snprintf(blocks, sizeof blocks, "a residual block (4 ngf channels; model.1.weight gives ngf %lld)", (long long)ngf);
    int n = 0;
    for (;; n++) {
        snprintf(name, sizeof name, "model.%d.conv_block.1.weight", 10 + n);
        const pth_tensor *t = pth_find(f, name);
        if (!t) break;
        if (n == MAX_BLOCKS)
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: more than %d residual blocks (%s)", path, MAX_BLOCKS, name);
        if (!same_shape(t, 4, block_w))
            return bad_shape(ctx, path, t, shape_str(want, sizeof want, 4, block_w), blocks);
    }
    if (n == 0)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: no residual block (model.10.conv_block.1.weight): not a "
                        "ResNet generator of pytorch-CycleGAN-and-pix2pix", path);
    snprintf(name, sizeof name, "model.%d.weight", 17 + n);
    const pth_tensor *last = pth_find(f, name);
    if (!last)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: no tensor '%s' (the last convolution after %d residual blocks): "
                        "not a ResNet generator of pytorch-CycleGAN-and-pix2pix", path, name, n);
    st = conv_dims(ctx, path, last, 7, "(out_channels, ngf, 7, 7)", "the ResNet generator's last convolution", &out_c,
                   &ngf_again);
    if (!st) st = check_range(ctx, path, name, "out_channels", out_c, MAX_CHANNELS);
    if (st) return st;
    s->kind = GAN_G_RESNET;
    s->depth = n;
    s->ngf = (int)ngf;
    s->in_c = (int)in_c;
    s->out_c = (int)out_c;
    s->norm = pth_find(f, "model.1.bias") ? GAN_NORM_INSTANCE : pth_find(f, "model.2.weight") ? GAN_NORM_BATCH
                                                                                                : GAN_NORM_NONE;
    s->dropout = !pth_find(f, "model.10.conv_block.5.weight") && pth_find(f, "model.10.conv_block.6.weight");
    return IMPASTO_OK;
}

/* The U-Net's ngf, channels, levels and norm; the innermost down convolution, (8ngf, 8ngf, 4, 4) =
 * 1024 ngf^2 values, checked before the net is allocated, as probe_resnet does for its blocks (the
 * net's largest levels hold 3072 ngf^2 each, at most 10 of them). */
static impasto_status probe_unet(impasto_ctx *ctx, const pth_file *f, const char *path, gan_gen_spec *s) {
    int64_t ngf, in_c, inner2, out_c;
    impasto_status st = conv_dims(ctx, path, pth_find(f, "model.model.0.weight"), 4, "(ngf, in_channels, 4, 4)",
                                  "the U-Net generator's first convolution", &ngf, &in_c);
    if (!st) st = check_range(ctx, path, "model.model.0.weight", "ngf", ngf, MAX_NGF);
    if (!st) st = check_range(ctx, path, "model.model.0.weight", "in_channels", in_c, MAX_CHANNELS);
    if (st) return st;
    /* level k >= 1 lives under "model.model.1.model." + (k - 1) x "3.model." */
    char prefix[NET_MAX_NAME] = "model.model.1.model.", name[NET_MAX_NAME + 16];
    const pth_tensor *inner = NULL;
    int levels = 1;
    for (;;) {
        snprintf(name, sizeof name, "%s1.weight", prefix);
        const pth_tensor *t = pth_find(f, name);
        if (!t) break;
        if (levels == MAX_DOWNS)
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the U-Net nests more than %d blocks (unet_%d's): '%.200s'",
                            path, MAX_DOWNS, 1 << MAX_DOWNS, name);
        inner = t;
        levels++;
        strcat(prefix, "3.model.");   /* at most 20 + 9 x 8 characters */
    }
    if (levels < MIN_DOWNS)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the U-Net nests %d blocks; the reference's have %d or more "
                        "(unet_%d and up)", path, levels, MIN_DOWNS, 1 << MIN_DOWNS);
    const int64_t inner_w[4] = {8 * ngf, 8 * ngf, 4, 4};
    char want[96];
    if (!same_shape(inner, 4, inner_w))
        return bad_shape(ctx, path, inner, shape_str(want, sizeof want, 4, inner_w), "the innermost down convolution");
    const pth_tensor *last = pth_find(f, "model.model.3.weight");
    if (!last)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: no tensor 'model.model.3.weight' (the U-Net's last "
                        "convolution): not a U-Net generator of pytorch-CycleGAN-and-pix2pix", path);
    /* transposed: (in = 2ngf, out, 4, 4) */
    st = conv_dims(ctx, path, last, 4, "(2 ngf, out_channels, 4, 4)", "the U-Net's last (transposed) convolution",
                   &inner2, &out_c);
    if (!st) st = check_range(ctx, path, "model.model.3.weight", "out_channels", out_c, MAX_CHANNELS);
    if (st) return st;
    s->kind = GAN_G_UNET;
    s->depth = levels;
    s->ngf = (int)ngf;
    s->in_c = (int)in_c;
    s->out_c = (int)out_c;
    s->norm = pth_find(f, "model.model.0.bias")           ? GAN_NORM_INSTANCE
              : pth_find(f, "model.model.1.model.2.weight") ? GAN_NORM_BATCH
                                                            : GAN_NORM_NONE;
    s->dropout = 1;
    return IMPASTO_OK;
}

/* What the reference's files may carry beyond the net's tensors, which it ignores too:
 * num_batches_tracked of a norm, running statistics of an instance norm. 1 for those. */
static int ignorable(const net *n, const char *name, int *is_stat) {
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    const int nbt = !strcmp(dot, ".num_batches_tracked");
    *is_stat = !strcmp(dot, ".running_mean") || !strcmp(dot, ".running_var");
    if (!nbt && !*is_stat) return 0;
    const size_t len = (size_t)(dot - name);
    for (int i = 0; i < n->n; i++) {
        const net_layer *l = &n->layers[i];
        if (strlen(l->name) != len || strncmp(l->name, name, len)) continue;
        if (l->op == NET_INSTANCE_NORM) return 1;
        if (l->op == NET_BATCH_NORM) return nbt;
    }
    return 0;
}

impasto_status convert_gan_read(impasto_ctx *ctx, const pth_file *f, const char *path, const char *arch,
                                gan_gen_spec *spec, net **out, size_t *dropped) {
    *out = NULL;
    *dropped = 0;
    memset(spec, 0, sizeof *spec);
    gan_gen_spec want = {0};
    const int any = !strcmp(arch, "auto");
    if (!any && gan_gen_parse(arch, &want))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "unknown generator '%.64s'", arch);
    impasto_status s;
    if (pth_find(f, "model.1.weight")) s = probe_resnet(ctx, f, path, spec);
    else if (pth_find(f, "model.model.0.weight")) s = probe_unet(ctx, f, path, spec);
    else
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: not a generator of pytorch-CycleGAN-and-pix2pix: no "
                        "'model.1.weight' (ResNet) or 'model.model.0.weight' (U-Net), and its first tensor is '%.200s'",
                        path, pth_count(f) ? pth_at(f, 0)->name : "");
    if (s) return s;
    char got[32];
    gan_gen_name(spec, got, sizeof got);
    if (!any && (want.kind != spec->kind || want.depth != spec->depth))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the checkpoint of a %s generator (%s %d %s), not of %.64s: "
                        "convert it as %s or auto", path, got, spec->kind == GAN_G_RESNET ? "ResNet," : "U-Net,",
                        spec->depth, spec->kind == GAN_G_RESNET ? "residual blocks" : "levels", arch, got);
    net *n = NULL;
    if ((s = gan_generator_create(ctx, spec, &n))) return s;
    char what[96];
    snprintf(what, sizeof what, "%s with ngf %d and %s norm", got, spec->ngf, gan_norm_name(spec->norm));
    const size_t count = net_tensor_count(n);
    for (size_t i = 0; i < count && !s; i++) {
        net_tensor nt;
        net_tensor_at(n, i, &nt);
        const pth_tensor *t = pth_find(f, nt.name);
        char want_shape[96];
        if (!t)
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: no tensor '%s' (%s has one)", path, nt.name, what);
        else if (!same_shape(t, nt.ndim, nt.shape))
            s = bad_shape(ctx, path, t, shape_str(want_shape, sizeof want_shape, nt.ndim, nt.shape), what);
        else
            s = pth_get_f32(ctx, f, t, nt.data);   /* refuses NaN and infinities, naming the tensor */
    }
    /* the net's names once (net_tensor_at walks the layers), then each of f's looked up there */
    char (*names)[NET_MAX_NAME + 16] = s ? NULL : calloc(count ? count : 1, sizeof *names);
    if (!s && !names) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory converting %s", path);
    for (size_t j = 0; !s && j < count; j++) {
        net_tensor nt;
        net_tensor_at(n, j, &nt);
        memcpy(names[j], nt.name, sizeof names[j]);
    }
    for (size_t i = 0; i < pth_count(f) && !s; i++) {
        const char *name = pth_at(f, i)->name;
        int known = 0, is_stat = 0;
        for (size_t j = 0; j < count && !known; j++) known = !strcmp(names[j], name);
        if (known) continue;
        if (ignorable(n, name, &is_stat)) *dropped += (size_t)is_stat;
        else
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%.200s' is not part of %s (the reference's %s)", path,
                         name, what, spec->kind == GAN_G_RESNET ? "ResnetGenerator" : "UnetGenerator");
    }
    free(names);
    if (s) {
        net_free(n);
        return s;
    }
    *out = n;
    return IMPASTO_OK;
}

/* The last path component ("checkpoints/x/latest_net_G.pth" -> "latest_net_G.pth"). */
static const char *file_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

impasto_status convert_gan(impasto_ctx *ctx, const char *path, const char *arch, const char *out_path) {
    pth_file *f = NULL;
    impasto_status s = pth_open(ctx, path, &f);
    if (s) return s;
    gan_gen_spec spec;
    net *n = NULL;
    size_t dropped = 0;
    s = convert_gan_read(ctx, f, path, arch, &spec, &n, &dropped);
    if (!s) {
        char buf[5][32], source[512];
        const char *kv[2 * 11] = {"kind", "gan-generator"};
        size_t nkv = 1;
        nkv += gan_gen_meta(&spec, buf, kv + 2 * nkv);
        const int unet = spec.kind == GAN_G_UNET;
        snprintf(source, sizeof source, "PyTorch checkpoint %.200s (%s torch.save layout)%s%s", file_name(path),
                 pth_layout(f),
                 dropped ? "; the instance norms' running_mean/running_var entries dropped, as the reference's loader "
                           "does" : "",
                 unet ? "; dropout on, as pix2pix runs it (a U-Net's checkpoint does not say)" : "");
        const char *more[] = {
            "arch", buf[0],   /* gan_gen_meta's netG */
            "source", source,
            "layout", unet ? "junyanz/pytorch-CycleGAN-and-pix2pix UnetGenerator state_dict (model.model.0 ...); "
                             "images RGB in [-1, 1]"
                           : "junyanz/pytorch-CycleGAN-and-pix2pix ResnetGenerator state_dict (model.1 ...); "
                             "images RGB in [-1, 1]",
            "impasto_version", IMPASTO_VERSION,
        };
        memcpy(kv + 2 * nkv, more, sizeof more);
        nkv += sizeof more / sizeof more[0] / 2;
        const gan_named_net g = {"", n};
        s = gan_nets_write(ctx, out_path, &g, 1, NULL, 0, kv, nkv);
    }
    net_free(n);
    pth_close(f);
    return s;
}
