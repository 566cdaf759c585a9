#include "models/model.h"
#include "core/ctx.h"
#include "formats/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

impasto_status impasto_model_load(impasto_ctx *ctx, const char *path, impasto_model **out) {
    *out = NULL;
    if (!path) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "no model file given");
    safetensors *st = NULL;
    impasto_status s = safetensors_open(ctx, path, &st);
    if (s != IMPASTO_OK) return s;
    const char *kind = safetensors_meta(st, "kind");
    if (kind && !strcmp(kind, "transformernet")) {
        s = ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s is a fast style network: use it with `impasto fast`, "
                     "not as VGG-19", path);
        safetensors_close(st);
        return s;
    }
    if (!kind || (strcmp(kind, "vgg19") != 0 && strcmp(kind, "adain") != 0 && strcmp(kind, "lst-r31") != 0)) {
        s = ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED,
                     "%s: model kind '%s' is not one impasto knows (expected vgg19, adain or lst-r31; convert the "
                     "upstream files with `impasto convert`)", path, kind ? kind : "");
        safetensors_close(st);
        return s;
    }
    impasto_model *m = calloc(1, sizeof *m);
    if (!m) {
        safetensors_close(st);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    snprintf(m->kind, sizeof m->kind, "%s", kind);
    if (!strcmp(kind, "adain")) s = adain_from_safetensors(ctx, st, path, &m->adain);
    else if (!strcmp(kind, "lst-r31")) s = lst_from_safetensors(ctx, st, path, &m->lst);
    else s = vgg19_from_safetensors(ctx, st, path, &m->vgg);
    safetensors_close(st);
    if (s != IMPASTO_OK) {
        free(m);
        return s;
    }
    *out = m;
    return IMPASTO_OK;
}

void impasto_model_free(impasto_model *model) {
    if (!model) return;
    vgg19_free(model->vgg);
    adain_net_free(model->adain);
    adain_net_free(model->lst);
    free(model);
}

const char *impasto_model_kind(const impasto_model *model) { return model ? model->kind : ""; }
