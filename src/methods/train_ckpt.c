/* Training checkpoints and trained models as safetensors (train_ckpt.h). A checkpoint holds
 *   the 62 weight tensors under PyTorch's TransformerNet state_dict names, in network order
 *   (the declared network's named tensors, net_tensor_at),
 *   "optimizer.exp_avg" (N) and "optimizer.exp_avg_sq" (N): Adam's moments over the parameter
 *   slab (the same tensors' floats one after another, N = net->nparams),
 * and the metadata step, adam_steps and seed (decimal), so that every number the next step
 * depends on is restored exactly: float32 tensors are written bit for bit. */
#include "methods/train_ckpt.h"

#include "core/ctx.h"
#include "formats/safetensors.h"
#include "models/net.h"
#include "models/transformer_net.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static impasto_status state_alloc(impasto_ctx *ctx, double lr, train_state *st) {
    memset(st, 0, sizeof *st);
    impasto_status s = tnet_declare(ctx, &st->net);
    if (s != IMPASTO_OK) return s;
    adam_params ap;
    adam_params_init(&ap);
    ap.learning_rate = lr;
    if (!(st->adam = adam_create(st->net->nparams, &ap))) {
        train_state_free(st);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (training state)");
    }
    return IMPASTO_OK;
}

impasto_status train_state_new(impasto_ctx *ctx, uint64_t seed, double lr, train_state *st) {
    impasto_status s = state_alloc(ctx, lr, st);
    if (s == IMPASTO_OK) st->seed = seed;
    return s;
}

void train_state_free(train_state *st) {
    net_free(st->net);
    adam_free(st->adam);
    st->net = NULL;
    st->adam = NULL;
}

/* A decimal metadata value, or -1 when missing or malformed. */
static int meta_u64(const safetensors *f, const char *key, uint64_t *out) {
    const char *v = safetensors_meta(f, key);
    if (!v || !*v || *v == '-') return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end) return -1;
    *out = x;
    return 0;
}

impasto_status train_state_load(impasto_ctx *ctx, const char *path, double lr, train_state *st) {
    impasto_status s = state_alloc(ctx, lr, st);
    if (s != IMPASTO_OK) return s;
    safetensors *f = NULL;
    if ((s = safetensors_open(ctx, path, &f)) != IMPASTO_OK) goto fail;
    /* As transformer_net_from_safetensors reads a model: the kind, then each weight by name and
     * shape (a missing one, NaN or Inf named by safetensors_get_f32). Not net_load, which refuses
     * tensors it does not know: a checkpoint carries Adam's moments beside the weights. */
    if ((s = transformer_net_check_kind(ctx, f, path)) != IMPASTO_OK) goto fail;
    for (size_t i = 0; i < net_tensor_count(st->net); i++) {
        net_tensor t;
        net_tensor_at(st->net, i, &t);
        if ((s = safetensors_get_f32(ctx, f, t.name, t.ndim, t.shape, t.data)) != IMPASTO_OK) goto fail;
    }
    uint64_t step, adam_t, seed;
    if (meta_u64(f, "step", &step) || meta_u64(f, "adam_steps", &adam_t) || meta_u64(f, "seed", &seed) ||
        step > (uint64_t)1 << 40 || adam_t > (uint64_t)1 << 40) {
        s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: not a training checkpoint (no step, adam_steps or seed "
                     "metadata; a trained model cannot be resumed)", path);
        goto fail;
    }
    int64_t shape[1] = {(int64_t)st->net->nparams};
    static const char *const moments[2] = {"optimizer.exp_avg", "optimizer.exp_avg_sq"};
    for (int k = 0; k < 2; k++) {
        if (!safetensors_find(f, moments[k])) {
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: not a complete training checkpoint: no tensor '%s'", path,
                         moments[k]);
            goto fail;
        }
        /* A wrong shape, or NaN / Inf in Adam's moments, is reported as safetensors_get_f32 words
         * it (naming the file and the tensor). */
        float *dst = k == 0 ? adam_first_moment(st->adam) : adam_second_moment(st->adam);
        if ((s = safetensors_get_f32(ctx, f, moments[k], 1, shape, dst)) != IMPASTO_OK) goto fail;
    }
    st->step = (long)step;
    st->seed = seed;
    st->had_adversary = safetensors_find(f, "optimizer.adversary.exp_avg") != NULL;
    adam_set_steps(st->adam, (long long)adam_t);
    safetensors_close(f);
    return IMPASTO_OK;
fail:
    safetensors_close(f);
    train_state_free(st);
    return s;
}

impasto_status train_state_load_adversary(impasto_ctx *ctx, const char *path, train_state *st) {
    safetensors *f = NULL;
    impasto_status s = safetensors_open(ctx, path, &f);
    if (s) return s;
    uint64_t adam_t;
    if (!safetensors_find(f, "optimizer.adversary.exp_avg") || meta_u64(f, "adversary_adam_steps", &adam_t) ||
        adam_t > (uint64_t)1 << 40) {
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s was written without an adversarial term: resume it without "
                     "--adversarial-weight, or start a new run", path);
        goto done;
    }
    if ((s = net_load(ctx, st->adv, f, "adversary.", path))) goto done;
    const int64_t shape[1] = {(int64_t)st->adv->nparams};
    if (!(s = safetensors_get_f32(ctx, f, "optimizer.adversary.exp_avg", 1, shape, adam_first_moment(st->adv_adam))))
        s = safetensors_get_f32(ctx, f, "optimizer.adversary.exp_avg_sq", 1, shape, adam_second_moment(st->adv_adam));
    if (!s) adam_set_steps(st->adv_adam, (long long)adam_t);
done:
    safetensors_close(f);
    return s;
}

/* The weights (and with `state`, Adam's moments) with the metadata, to path. */
static impasto_status write_file(impasto_ctx *ctx, const train_state *st, const train_meta *meta, const char *path,
                                 int state) {
    /* The weights in network order (conv1.conv2d.weight, conv1.conv2d.bias, in1.weight, in1.bias,
     * conv2...), as PyTorch's state_dict lists them. */
    const int adv = state && st->adv;
    const size_t nw = net_tensor_count(st->net), na = adv ? net_tensor_count(st->adv) : 0;
    const size_t cap = nw + na + 4;
    st_write_tensor *t = calloc(cap, sizeof *t);
    net_tensor *nt = calloc(cap, sizeof *nt);
    if (!t || !nt) {
        free(t), free(nt);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory writing %s", path);
    }
    size_t n = 0;
    for (; n < nw; n++) {
        net_tensor_at(st->net, n, &nt[n]);
        t[n] = (st_write_tensor){.name = nt[n].name, .ndim = nt[n].ndim, .data = nt[n].data};
        memcpy(t[n].shape, nt[n].shape, sizeof nt[n].shape);
    }
    const int64_t total = (int64_t)st->net->nparams;
    if (state) {
        t[n++] = (st_write_tensor){.name = "optimizer.exp_avg", .ndim = 1, .shape = {total},
                                   .data = adam_first_moment(st->adam)};
        t[n++] = (st_write_tensor){.name = "optimizer.exp_avg_sq", .ndim = 1, .shape = {total},
                                   .data = adam_second_moment(st->adam)};
    }
    /* the discriminator under "adversary.<its state_dict name>", its moments beside */
    for (size_t i = 0; i < na; i++, n++) {
        net_tensor_at(st->adv, i, &nt[n]);
        char name[sizeof nt[n].name];
        snprintf(name, sizeof name, "adversary.%s", nt[n].name);
        memcpy(nt[n].name, name, sizeof name);
        t[n] = (st_write_tensor){.name = nt[n].name, .ndim = nt[n].ndim, .data = nt[n].data};
        memcpy(t[n].shape, nt[n].shape, sizeof nt[n].shape);
    }
    if (adv) {
        const int64_t dn = (int64_t)st->adv->nparams;
        t[n++] = (st_write_tensor){.name = "optimizer.adversary.exp_avg", .ndim = 1, .shape = {dn},
                                   .data = adam_first_moment(st->adv_adam)};
        t[n++] = (st_write_tensor){.name = "optimizer.adversary.exp_avg_sq", .ndim = 1, .shape = {dn},
                                   .data = adam_second_moment(st->adv_adam)};
    }
    char step[32], adam_t[32], seed[32], size[32], batch[32], nph[32], cw[40], sw[40], adv_t[32], ranks[32];
    snprintf(ranks, sizeof ranks, "%d", meta->ranks > 0 ? meta->ranks : 1);
    snprintf(adv_t, sizeof adv_t, "%lld", adv ? adam_steps(st->adv_adam) : 0LL);
    snprintf(step, sizeof step, "%ld", st->step);
    snprintf(adam_t, sizeof adam_t, "%lld", adam_steps(st->adam));
    snprintf(seed, sizeof seed, "%" PRIu64, st->seed);
    snprintf(size, sizeof size, "%d", meta->image_size);
    snprintf(batch, sizeof batch, "%d", meta->batch_size);
    snprintf(nph, sizeof nph, "%zu", meta->nphotos);
    snprintf(cw, sizeof cw, "%.17g", meta->content_weight);
    snprintf(sw, sizeof sw, "%.17g", meta->style_weight);
    const char *kv[] = {
        "kind", "transformernet",
        "style", meta->style ? meta->style : "",
        "input", "rgb-0-255",
        "layout", "PyTorch examples fast_neural_style TransformerNet state_dict: <conv>.conv2d.weight "
                  "(OC, IC, K, K), <conv>.conv2d.bias (OC), <norm>.weight/.bias (OC); reflection padding "
                  "K/2, InstanceNorm eps 1e-5; input and output RGB 0..255",
        "source", "impasto train (Johnson et al. 2016 perceptual losses, VGG-19 Caffe features)",
        "impasto_version", IMPASTO_VERSION,
        "step", step,
        "train_image_size", size,
        "train_batch_size", batch,
        "train_photos", nph,
        "train_content_weight", cw,
        "train_style_weight", sw,
        "train_seed", seed,
        "train_processes", ranks,
        "adam_steps", adam_t,
        "seed", seed,
        "adversary_adam_steps", adv_t,
    };
    size_t nkv = sizeof kv / sizeof kv[0] / 2 - 1;
    if (!state) nkv -= 2;  /* adam_steps and seed are last: a model does not resume */
    else if (adv) nkv++;   /* then the discriminator's Adam steps */
    impasto_status s = safetensors_write(ctx, path, t, n, kv, nkv);
    free(t), free(nt);
    return s;
}

impasto_status train_state_save(impasto_ctx *ctx, const train_state *st, const train_meta *meta, const char *dir,
                                char *path_out, size_t path_size) {
    if (snprintf(path_out, path_size, "%s/ckpt_step_%ld.safetensors", dir, st->step) >= (int)path_size)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "checkpoint folder name too long: %s", dir);
    return write_file(ctx, st, meta, path_out, 1);
}

impasto_status train_model_save(impasto_ctx *ctx, const train_state *st, const train_meta *meta, const char *path) {
    return write_file(ctx, st, meta, path, 0);
}
