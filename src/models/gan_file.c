/* Model files' generator metadata and tensor writer (gan_file.h). */
#include "models/gan_file.h"

#include "core/ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *gan_norm_name(gan_norm norm) {
    return norm == GAN_NORM_BATCH ? "batch" : norm == GAN_NORM_NONE ? "none" : "instance";
}

int gan_norm_parse(const char *s, gan_norm *out) {
    if (!s) return -1;
    if (!strcmp(s, "instance")) *out = GAN_NORM_INSTANCE;
    else if (!strcmp(s, "batch")) *out = GAN_NORM_BATCH;
    else if (!strcmp(s, "none")) *out = GAN_NORM_NONE;
    else return -1;
    return 0;
}

size_t gan_gen_meta(const gan_gen_spec *g, char buf[5][32], const char **kv) {
    gan_gen_name(g, buf[0], sizeof buf[0]);
    snprintf(buf[1], sizeof buf[1], "%d", g->ngf);
    snprintf(buf[2], sizeof buf[2], "%d", g->dropout ? 1 : 0);
    snprintf(buf[3], sizeof buf[3], "%d", g->in_c);
    snprintf(buf[4], sizeof buf[4], "%d", g->out_c);
    const char *pairs[12] = {"netG", buf[0], "ngf", buf[1], "norm", gan_norm_name(g->norm), "dropout", buf[2],
                             "in_channels", buf[3], "out_channels", buf[4]};
    memcpy(kv, pairs, sizeof pairs);
    return 6;
}

impasto_status gan_nets_write(impasto_ctx *ctx, const char *path, const gan_named_net *nets, size_t nnets,
                              const st_write_tensor *extra, size_t nextra, const char *const *kv, size_t nkv) {
    size_t total = nextra;
    for (size_t i = 0; i < nnets; i++) total += net_tensor_count(nets[i].n);
    st_write_tensor *t = calloc(total ? total : 1, sizeof *t);
    char (*names)[NET_MAX_NAME + 48] = calloc(total ? total : 1, sizeof *names);
    if (!t || !names) {
        free(t), free(names);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory writing %s", path);
    }
    size_t k = 0;
    for (size_t i = 0; i < nnets; i++)
        for (size_t j = 0; j < net_tensor_count(nets[i].n); j++, k++) {
            net_tensor nt;
            net_tensor_at(nets[i].n, j, &nt);
            snprintf(names[k], sizeof names[k], "%s%s", nets[i].prefix, nt.name);
            t[k].name = names[k];
            t[k].ndim = nt.ndim;
            memcpy(t[k].shape, nt.shape, sizeof nt.shape);
            t[k].data = nt.data;
        }
    if (nextra) memcpy(t + k, extra, nextra * sizeof *t);
    impasto_status s = safetensors_write(ctx, path, t, total, kv, nkv);
    free(t), free(names);
    return s;
}
