/* CycleGAN / pix2pix model files (gan_model.h) and impasto.h's impasto_gan_load; translation is in
 * gan_translate.c. */
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
    if (name && gan_gen_parse(name, out))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: unknown generator '%.40s' (resnet_<n>blocks or unet_<size>)", path,
                        name);
    if (!name || gan_meta_long(st, "ngf", &ngf) || gan_meta_long(st, "dropout", &drop) ||
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


void impasto_gan_free(impasto_gan_model *m) {
    if (!m) return;
    net_free(m->g[0]);
    net_free(m->g[1]);
    free(m);
}

impasto_status gan_model_from_safetensors(impasto_ctx *ctx, const safetensors *st, const char *path,
                                         impasto_gan_model **out) {
    *out = NULL;
    impasto_gan_model *m = calloc(1, sizeof *m);
    if (!m) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    impasto_status s = IMPASTO_OK;
    const char *kind = safetensors_meta(st, "kind");
    const char *prefix[2] = {NULL, NULL};
    if (kind && !strcmp(kind, "cyclegan")) prefix[0] = "G_A.", prefix[1] = "G_B.";
    else if (kind && !strcmp(kind, "pix2pix")) prefix[0] = "G.";
    else if (kind && !strcmp(kind, "gan-generator")) prefix[0] = "";
    else if (kind) {
        s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s is a %.40s model, not a CycleGAN or pix2pix one (impasto gan train "
                     "makes those; impasto convert pth converts the reference's)", path, kind);
        goto done;
    } else {
        s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: not a CycleGAN or pix2pix model (no kind in its metadata; impasto "
                     "gan train makes those, impasto convert pth converts the reference's latest_net_G.pth)", path);
        goto done;
    }
    snprintf(m->kind, sizeof m->kind, "%s", kind);
    if ((s = gan_gen_from_meta(ctx, st, path, &m->spec))) goto done;
    gan_gen_name(&m->spec, m->gen_name, sizeof m->gen_name);
    /* the most floats the file's tensors can fill (2 bytes each at the least) */
    size_t held = 0;
    for (size_t i = 0; i < safetensors_count(st); i++) held += safetensors_at(st, i)->nbytes / 2;
    for (int i = 0; i < 2 && prefix[i]; i++) {
        if ((s = gan_generator_create_bounded(ctx, &m->spec, held, &m->g[i]))) {
            if (s == IMPASTO_ERR_FORMAT) {
                char msg[sizeof ctx->error];
                memcpy(msg, ctx->error, sizeof msg);
                ctx_fail(ctx, s, "%s: %s", path, msg);
            }
            goto done;
        }
        if ((s = net_load(ctx, m->g[i], st, prefix[i], path))) goto done;
    }
done:
    if (s) {
        impasto_gan_free(m);
        return s;
    }
    *out = m;
    return IMPASTO_OK;
}

impasto_status impasto_gan_load(impasto_ctx *ctx, const char *path, impasto_gan_model **out) {
    if (!out) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_gan_load: out is NULL");
    *out = NULL;
    if (!path) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_gan_load: path is NULL");
    safetensors *st = NULL;
    impasto_status s = safetensors_open(ctx, path, &st);
    if (s) return s;
    s = gan_model_from_safetensors(ctx, st, path, out);
    safetensors_close(st);
    return s;
}

const char *impasto_gan_kind(const impasto_gan_model *m) { return m ? m->kind : ""; }
const char *impasto_gan_generator(const impasto_gan_model *m) { return m ? m->gen_name : ""; }
int impasto_gan_has_reverse(const impasto_gan_model *m) { return m && m->g[1] != NULL; }

