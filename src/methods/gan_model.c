/* CycleGAN / pix2pix model files and translation (gan_model.h, impasto.h's impasto_gan_*). */
#include "methods/gan_model.h"

#include "core/ctx.h"
#include "core/image.h"
#include "core/rng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gan_meta_long(const safetensors *st, const char *key, long *out) {
    const char *v = safetensors_meta(st, key);
    if (!v || !*v) return -1;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end) return -1;
    *out = x;
    return 0;
}

impasto_status gan_gen_from_meta(impasto_ctx *ctx, const safetensors *st, const char *path, gan_gen_spec *out) {
    memset(out, 0, sizeof *out);
    const char *name = safetensors_meta(st, "netG");
    long ngf, drop, ic, oc;
    if (!name || gan_gen_parse(name, out) || gan_meta_long(st, "ngf", &ngf) || gan_meta_long(st, "dropout", &drop) ||
        gan_meta_long(st, "in_channels", &ic) || gan_meta_long(st, "out_channels", &oc) ||
        gan_norm_parse(safetensors_meta(st, "norm"), &out->norm) || ngf < 1 || ngf > 1024 || ic < 1 || ic > 4 ||
        oc < 1 || oc > 4)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the generator's architecture is missing from the metadata "
                        "(netG, ngf, norm, dropout, in_channels, out_channels)", path);
    out->ngf = (int)ngf;
    out->dropout = drop != 0;
    out->in_c = (int)ic;
    out->out_c = (int)oc;
    return IMPASTO_OK;
}

/* ---- the public model ------------------------------------------------------------------- */

struct impasto_gan_model {
    char kind[32];
    char gen_name[32];
    gan_gen_spec spec;
    net *g[2];     /* A->B, B->A (CycleGAN only) */
};

void impasto_gan_free(impasto_gan_model *m) {
    if (!m) return;
    net_free(m->g[0]);
    net_free(m->g[1]);
    free(m);
}

impasto_status impasto_gan_load(impasto_ctx *ctx, const char *path, impasto_gan_model **out) {
    if (!out) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_gan_load: out is NULL");
    *out = NULL;
    if (!path) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_gan_load: path is NULL");
    safetensors *st = NULL;
    impasto_status s = safetensors_open(ctx, path, &st);
    if (s) return s;
    impasto_gan_model *m = calloc(1, sizeof *m);
    if (!m) {
        safetensors_close(st);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    const char *kind = safetensors_meta(st, "kind");
    const char *prefix[2] = {NULL, NULL};
    if (kind && !strcmp(kind, "cyclegan")) prefix[0] = "G_A.", prefix[1] = "G_B.";
    else if (kind && !strcmp(kind, "pix2pix")) prefix[0] = "G.";
    else if (kind && !strcmp(kind, "gan-generator")) prefix[0] = "";
    else {
        s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: not a CycleGAN or pix2pix model (kind %s%s%s; convert a reference "
                     "latest_net_G.pth with impasto convert pth --arch resnet_9blocks|unet_256|...)", path,
                     kind ? "\"" : "", kind ? kind : "missing", kind ? "\"" : "");
        goto done;
    }
    snprintf(m->kind, sizeof m->kind, "%s", kind);
    if ((s = gan_gen_from_meta(ctx, st, path, &m->spec))) goto done;
    gan_gen_name(&m->spec, m->gen_name, sizeof m->gen_name);
    for (int i = 0; i < 2 && prefix[i]; i++) {
        if ((s = gan_generator_create(ctx, &m->spec, &m->g[i]))) goto done;
        if ((s = net_load(ctx, m->g[i], st, prefix[i], path))) goto done;
    }
done:
    safetensors_close(st);
    if (s) {
        impasto_gan_free(m);
        return s;
    }
    *out = m;
    return IMPASTO_OK;
}

const char *impasto_gan_kind(const impasto_gan_model *m) { return m ? m->kind : ""; }
const char *impasto_gan_generator(const impasto_gan_model *m) { return m ? m->gen_name : ""; }
int impasto_gan_has_reverse(const impasto_gan_model *m) { return m && m->g[1] != NULL; }

void impasto_translate_options_init(impasto_translate_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->direction = IMPASTO_A_TO_B;
}

/* The size a picture of side n is brought to: a ResNet generator takes any multiple of 4 (pad by
 * reflection to it), a U-Net only multiples of 2^depth (resize to the nearest). */
static int fit_side(int n, int multiple) {
    int r = (n + multiple / 2) / multiple * multiple;
    return r < multiple ? multiple : r;
}

impasto_status impasto_translate(impasto_ctx *ctx, impasto_gan_model *m, const impasto_image *in,
                                 const impasto_translate_options *opt, impasto_image **out) {
    if (!out) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_translate: out is NULL");
    *out = NULL;
    impasto_translate_options defaults;
    if (!opt) impasto_translate_options_init(&defaults), opt = &defaults;
    if (!m || !in) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_translate: model or picture is NULL");
    if (opt->direction != IMPASTO_A_TO_B && opt->direction != IMPASTO_B_TO_A)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_translate: unknown direction");
    if (opt->direction == IMPASTO_B_TO_A && !m->g[1])
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "this %s model translates only A to B (B to A needs a CycleGAN "
                        "trained by impasto)", m->kind);
    if (opt->size < 0 || opt->size > IMPASTO_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "size %d outside 0..%d", opt->size, IMPASTO_MAX_SIDE);
    net *g = m->g[opt->direction == IMPASTO_B_TO_A];
    impasto_image *src = NULL, *res = NULL, *fin = NULL;
    net_plan *p = NULL;
    impasto_status s = IMPASTO_OK;
    const int mult = gan_gen_multiple(&m->spec);
    const int unet = m->spec.kind == GAN_G_UNET;
    if (opt->size) s = impasto_image_resize_max_side(ctx, in, opt->size, &src);
    if (s) goto done;
    const impasto_image *pic = src ? src : in;
    const int W = pic->width, H = pic->height, ch = pic->channels;
    /* network input size: U-Net resized to multiples, ResNet padded */
    const int NW = unet ? fit_side(W, mult) : (W + mult - 1) / mult * mult;
    const int NH = unet ? fit_side(H, mult) : (H + mult - 1) / mult * mult;
    if (!unet && (NW - W > W - 1 || NH - H > H - 1))
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the picture is too small (%dx%d) for %s", W, H, m->gen_name);
    if (!s && unet && (NW != W || NH != H)) s = impasto_image_resize(ctx, pic, NW, NH, &res);
    if (s) goto done;
    const impasto_image *net_in = res ? res : pic;
    const int flags = opt->eval_mode ? 0 : (NET_BATCH_STATS | NET_DROPOUT_ON);
    if ((s = net_plan_create(ctx, g, m->spec.in_c, NH, NW, flags, ctx_threads(ctx), &p))) goto done;
    /* (C, NH, NW) in [-1, 1]; padding by reflection: row/column index mirrored without the edge */
    float *x = net_plan_input(p);
    const size_t plane = (size_t)NW * (size_t)NH;
    const int ich = net_in->channels, iw = net_in->width, ih = net_in->height;
    for (int y = 0; y < NH; y++) {
        const int sy = y < ih ? y : 2 * (ih - 1) - y;
        for (int xx = 0; xx < NW; xx++) {
            const int sx = xx < iw ? xx : 2 * (iw - 1) - xx;
            const float *px = net_in->data + ((size_t)sy * (size_t)iw + (size_t)sx) * (size_t)ich;
            for (int c = 0; c < m->spec.in_c; c++) {
                float v = ich >= 3 ? px[c < 3 ? c : 0] : px[0];
                x[(size_t)c * plane + (size_t)y * (size_t)NW + (size_t)xx] = 2.0f * v - 1.0f;
            }
        }
    }
    uint64_t rng = rng_stream(opt->seed, 0x7472616e736c61ULL, 0);
    const float *y;
    if ((s = net_forward(ctx, g, p, &rng, &y))) goto done;
    int oc, oh, ow;
    net_plan_out_shape(p, &oc, &oh, &ow);
    if (!floats_all_finite(y, (size_t)oc * (size_t)oh * (size_t)ow)) {
        s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "the generator's output is not finite (NaN or infinity in the model?)");
        goto done;
    }
    /* back to an image: crop the padding (ResNet) or resize back (U-Net); alpha carried over */
    const int keep_alpha = ch == 2 || ch == 4;
    const int outc = keep_alpha ? 4 : 3;
    if ((s = impasto_image_create(ctx, unet ? ow : W, unet ? oh : H, unet ? 3 : outc, &fin))) goto done;
    const int fw = fin->width, fh = fin->height, fc = fin->channels;
    const size_t oplane = (size_t)ow * (size_t)oh;
    for (int yy = 0; yy < fh; yy++)
        for (int xx = 0; xx < fw; xx++)
            for (int c = 0; c < 3; c++) {
                float v = y[(size_t)(oc >= 3 ? c : 0) * oplane + (size_t)yy * (size_t)ow + (size_t)xx];
                v = 0.5f * (v + 1.0f);
                fin->data[((size_t)yy * (size_t)fw + (size_t)xx) * (size_t)fc + (size_t)c] = v < 0 ? 0 : v > 1 ? 1 : v;
            }
    if (unet && (fw != W || fh != H)) {
        impasto_image *back = NULL;
        if ((s = impasto_image_resize(ctx, fin, W, H, &back))) goto done;
        impasto_image_free(fin);
        fin = back;
    }
    if (keep_alpha) {
        if (fin->channels != 4) {
            impasto_image *rgba = NULL;
            if ((s = impasto_image_create(ctx, W, H, 4, &rgba))) goto done;
            for (size_t i = 0; i < (size_t)W * (size_t)H; i++)
                memcpy(rgba->data + 4 * i, fin->data + 3 * i, 3 * sizeof(float));
            impasto_image_free(fin);
            fin = rgba;
        }
        for (size_t i = 0; i < (size_t)W * (size_t)H; i++) fin->data[4 * i + 3] = pic->data[i * (size_t)ch + (size_t)ch - 1];
    }
    *out = fin;
    fin = NULL;
done:
    net_plan_free(p);
    impasto_image_free(src);
    impasto_image_free(res);
    impasto_image_free(fin);
    return s;
}
