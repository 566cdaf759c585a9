/* The files of a GAN training run (gan_train_state.h): the model, checkpoints and resuming. A
 * checkpoint holds every network (PyTorch's names under the reference's prefixes), both Adam states
 * per network, the history pools and the step, with the architecture, seed, batch size and the
 * number of processes that made it in the metadata (gan_model.h lists the keys). */
#include "methods/gan_train_state.h"

#include "core/ctx.h"
#include "formats/safetensors.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define GAN_MAX_NETS 4

static const char *PREFIX_G[2][2] = {{"G.", NULL}, {"G_A.", "G_B."}};
static const char *PREFIX_D[2][2] = {{"D.", NULL}, {"D_A.", "D_B."}};
static const char *POOL_NAME[2][2] = {{"fake_AB_pool", NULL}, {"fake_B_pool", "fake_A_pool"}};

/* The model (generators) or, with `state`, the checkpoint (everything a step depends on). */
impasto_status gan_train_write_file(trainer *t, const char *path, int state) {
    gan_named_net nets[GAN_MAX_NETS];
    size_t nn = 0;
    for (int i = 0; i < t->ng; i++) nets[nn++] = (gan_named_net){PREFIX_G[t->cyc][i], t->G[i]};
    if (state)
        for (int i = 0; i < t->nd; i++) nets[nn++] = (gan_named_net){PREFIX_D[t->cyc][i], t->D[i]};
    st_write_tensor extra[3 * GAN_MAX_NETS];
    char names[3 * GAN_MAX_NETS][48];
    size_t ne = 0;
    if (state) {
        for (size_t i = 0; i < nn; i++) {
            adam_state *a = i < (size_t)t->ng ? t->aG[i] : t->aD[i - (size_t)t->ng];
            const size_t np = nets[i].n->nparams;
            for (int m = 0; m < 2; m++, ne++) {
                snprintf(names[ne], sizeof names[ne], "optimizer.%sexp_avg%s", nets[i].prefix, m ? "_sq" : "");
                extra[ne] = (st_write_tensor){.name = names[ne], .ndim = 1, .shape = {(int64_t)np},
                                              .data = m ? adam_second_moment(a) : adam_first_moment(a)};
            }
        }
        for (int k = 0; k < t->nd; k++)
            if (t->pool[k].count > 0)
                extra[ne++] = (st_write_tensor){.name = POOL_NAME[t->cyc][k], .ndim = 2,
                                                .shape = {t->pool[k].count, (int64_t)t->pool[k].floats},
                                                .data = t->pool[k].images};
    }
    char gb[5][32], v[10][40];
    const char *kv[64];
    size_t nkv = 0;
    kv[2 * nkv] = "kind", kv[2 * nkv++ + 1] = t->cyc ? "cyclegan" : "pix2pix";
    nkv += gan_gen_meta(&t->gs, gb, kv + 2 * nkv);
    snprintf(v[0], sizeof v[0], "%d", t->ds.ndf);
    snprintf(v[1], sizeof v[1], "%d", t->ds.n_layers);
    snprintf(v[2], sizeof v[2], "%d", t->crop);
    snprintf(v[3], sizeof v[3], "%d", t->load);
    snprintf(v[4], sizeof v[4], "%ld", t->step);
    snprintf(v[5], sizeof v[5], "%" PRIu64, t->seed);
    snprintf(v[6], sizeof v[6], "%lld", adam_steps(t->aG[0]));
    snprintf(v[7], sizeof v[7], "%d", t->batch);
    snprintf(v[8], sizeof v[8], "%d", t->nranks);
    const char *more[] = {"netD", t->netd_name, "ndf", v[0], "n_layers_D", v[1],
                          "gan_mode", t->mode == GAN_LSGAN ? "lsgan" : "vanilla", "crop_size", v[2],
                          "load_size", v[3], "step", v[4], "impasto_version", IMPASTO_VERSION,
                          "batch_size", v[7], "processes", v[8],
                          "source", t->cyc ? "impasto gan train --model cyclegan (Zhu et al. 2017)"
                                           : "impasto gan train --model pix2pix (Isola et al. 2017)",
                          "seed", v[5], "adam_steps", v[6]};
    size_t nmore = sizeof more / sizeof more[0] / 2;
    if (!state) nmore -= 2;
    memcpy(kv + 2 * nkv, more, 2 * nmore * sizeof *kv);
    nkv += nmore;
    return gan_nets_write(t->ctx, path, nets, nn, extra, ne, kv, nkv);
}

impasto_status gan_train_checkpoint(trainer *t, char *path, size_t size) {
    if (snprintf(path, size, "%s/gan_step_%ld.safetensors", t->opt->checkpoint_dir, t->step) >= (int)size)
        return ctx_fail(t->ctx, IMPASTO_ERR_INVALID_ARG, "checkpoint folder name too long");
    return gan_train_write_file(t, path, 1);
}

/* Restores a checkpoint written by write_file(state 1) into the freshly made networks. */
impasto_status gan_train_resume(trainer *t, const char *path) {
    impasto_ctx *ctx = t->ctx;
    safetensors *st = NULL;
    impasto_status s = safetensors_open(ctx, path, &st);
    if (s) return s;
    long step, adam_t;
    const char *kind = safetensors_meta(st, "kind");
    const char *want = t->cyc ? "cyclegan" : "pix2pix";
    uint64_t seed = 0;
    const char *sv = safetensors_meta(st, "seed");
    if (!kind || strcmp(kind, want) || gan_meta_long(st, "step", &step) || gan_meta_long(st, "adam_steps", &adam_t) ||
        !sv || sscanf(sv, "%" SCNu64, &seed) != 1 || step < 0 || adam_t < 0) {
        s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: not a %s training checkpoint (a trained model cannot be resumed)",
                     path, want);
        goto done;
    }
    /* the architecture must be the one the options give */
    gan_gen_spec g;
    if ((s = gan_gen_from_meta(ctx, st, path, &g))) goto done;
    long crop;
    if (g.kind != t->gs.kind || g.depth != t->gs.depth || g.ngf != t->gs.ngf || g.norm != t->gs.norm ||
        g.dropout != t->gs.dropout || gan_meta_long(st, "crop_size", &crop) || crop != t->crop) {
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s was trained with another generator or crop size: give the "
                     "same --generator, --ngf, --norm, --dropout and --size to resume it", path);
        goto done;
    }
    /* the run's pictures are numbered step * batch + slot: another batch size would be another run
     * (checkpoints from before batches were batch 1); any number of processes resumes it */
    long batch = 1;
    if (safetensors_meta(st, "batch_size") && gan_meta_long(st, "batch_size", &batch)) batch = -1;
    if (batch != t->batch) {
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s was trained with batch size %ld: resume it with --batch-size %ld",
                     path, batch, batch);
        goto done;
    }
    for (int i = 0; i < t->ng && !s; i++) s = net_load(ctx, t->G[i], st, PREFIX_G[t->cyc][i], path);
    for (int i = 0; i < t->nd && !s; i++) s = net_load(ctx, t->D[i], st, PREFIX_D[t->cyc][i], path);
    for (int i = 0; i < t->ng + t->nd && !s; i++) {
        const char *prefix = i < t->ng ? PREFIX_G[t->cyc][i] : PREFIX_D[t->cyc][i - t->ng];
        adam_state *a = i < t->ng ? t->aG[i] : t->aD[i - t->ng];
        const int64_t shape[1] = {(int64_t)(i < t->ng ? t->G[i] : t->D[i - t->ng])->nparams};
        for (int m = 0; m < 2 && !s; m++) {
            char name[64];
            snprintf(name, sizeof name, "optimizer.%sexp_avg%s", prefix, m ? "_sq" : "");
            s = safetensors_get_f32(ctx, st, name, 1, shape, m ? adam_second_moment(a) : adam_first_moment(a));
        }
        adam_set_steps(a, adam_t);
    }
    for (int k = 0; k < t->nd && !s; k++) {
        const st_tensor *pt = safetensors_find(st, POOL_NAME[t->cyc][k]);
        if (!pt) continue;
        if (pt->ndim != 2 || pt->shape[0] < 1 || pt->shape[0] > t->pool[k].size || (size_t)pt->shape[1] != t->pool[k].floats) {
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the history of fakes does not fit this run (pool size?)", path);
            break;
        }
        const int64_t shape[2] = {pt->shape[0], pt->shape[1]};
        if (!(s = safetensors_get_f32(ctx, st, POOL_NAME[t->cyc][k], 2, shape, t->pool[k].images)))
            t->pool[k].count = (int)pt->shape[0];
    }
    if (!s) t->step = step, t->seed = seed;
done:
    safetensors_close(st);
    return s;
}
