/* Training CycleGAN and pix2pix (impasto.h's impasto_gan_train), step for step as
 * junyanz/pytorch-CycleGAN-and-pix2pix's optimize_parameters:
 *
 * CycleGAN (Zhu et al. 2017, eqs. 1-3 with the least-squares GAN objective and the identity loss
 * of section 5.2): G_A: A -> B judged by D_A, G_B: B -> A judged by D_B.
 *   generators  loss_G = GAN(D_A(G_A(a)), 1) + GAN(D_B(G_B(b)), 1)
 *                      + la |G_B(G_A(a)) - a|_1 + lb |G_A(G_B(b)) - b|_1
 *                      + li (lb |G_A(b) - b|_1 + la |G_B(a) - a|_1),  the discriminators frozen;
 *   then D_A: 0.5 (GAN(D_A(b), 1) + GAN(D_A(pool_B(G_A(a))), 0)), D_B likewise with pool_A.
 * pix2pix (Isola et al. 2017, eq. 4): first D: 0.5 (GAN(D(a|G(a)), 0) + GAN(D(a|b), 1)), then G with
 * the updated D: GAN(D(a|G(a)), 1) + l1 |G(a) - b|_1 (a|x: channels of a, then of x).
 * Adam (torch.optim's form, betas (beta1, 0.999)), the learning rate constant for `epochs` epochs
 * and then falling linearly (the reference's "linear" policy). A batch (1 by default, as there) is
 * the mean of its pictures' losses, each picture through its own passes (batch norms normalise it
 * by its own statistics); its slots may be shared by the processes of a group (impasto.h's
 * impasto_gan_train_options.group, docs/cluster.md).
 *
 * Memory: the reference's autograd keeps all six generator passes of a CycleGAN step; here each
 * pass's backward runs before the next pass reuses its plan, so two generator plans and one
 * discriminator plan serve the whole step (a plan serves any network of its architecture).
 *
 * Random numbers are drawn from core/rng.h streams keyed by the seed and the picture's number in
 * the run, step * batch + slot (crops, flips, B's pick, dropout), the step (the pools) or the epoch
 * (the order of A), so a run resumed from a checkpoint (every network, both Adam states, the pools,
 * the step) takes the same next steps, and any number of processes draws what one does. */
#include "impasto.h"

#include "core/clock.h"
#include "core/ctx.h"
#include "core/image.h"
#include "core/rng.h"
#include "loss/loss.h"
#include "methods/gan_data.h"
#include "methods/gan_model.h"
#include "methods/gan_train.h"
#include "methods/gan_train_state.h"
#include "optim/optim.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { STREAM_INIT = 1, STREAM_ORDER, STREAM_STEP, STREAM_POOL };
#define GAN_INIT_GAIN 0.02f      /* init_weights('normal', 0.02) */
#define GAN_LOAD_FOR_256 286     /* the reference's load_size for crop_size 256 */
#define GAN_MIN_PICTURES 2      /* per domain (pairs for pix2pix) */
#define GAN_MAX_BATCH 1024      /* as impasto_train's */

void impasto_gan_train_options_init(impasto_gan_train_options *o) {
    memset(o, 0, sizeof *o);
    o->model = IMPASTO_GAN_CYCLEGAN;
    o->pairs = IMPASTO_PAIRS_AB;
    o->n_layers_d = 3;
    o->ngf = 64;
    o->ndf = 64;
    o->norm = -1;
    o->dropout = -1;
    o->gan_mode = -1;
    o->crop_size = 256;
    o->pool_size = -1;
    o->lambda_a = 10.0;
    o->lambda_b = 10.0;
    o->lambda_identity = 0.5;
    o->lambda_l1 = 100.0;
    o->learning_rate = 2e-4;
    o->beta1 = 0.5;
    o->epochs = 100;
    o->epochs_decay = 100;
    o->batch_size = 1;
}


static const char *const CYC_NAMES[8] = {"D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"};
static const char *const P2P_NAMES[4] = {"G_GAN", "G_L1", "D_real", "D_fake"};

static float *falloc(size_t n) { return malloc((n ? n : 1) * sizeof(float)); }

static void trainer_free(trainer *t) {
    for (int i = 0; i < 2; i++) {
        net_free(t->G[i]);
        net_free(t->D[i]);
        adam_free(t->aG[i]);
        adam_free(t->aD[i]);
        net_plan_free(t->pg[i]);
        gan_pool_free(&t->pool[i]);
    }
    net_plan_free(t->pd);
    gan_domain_free(&t->A);
    gan_domain_free(&t->B);
    for (int i = 0; i < 2; i++) free(t->reals[i]), free(t->fakes[i]), free(t->seen[i]);
    free(t->gen_rng), free(t->gbuf);
    free(t->dfake), free(t->dtmp), free(t->dsin), free(t->dpred), free(t->order);
    impasto_image_free(t->preview);
    impasto_image_free(t->preview_src);
}

/* ---- set-up ------------------------------------------------------------------------------ */

static impasto_status resolve_options(trainer *t) {
    impasto_ctx *ctx = t->ctx;
    const impasto_gan_train_options *o = t->opt;
    t->cyc = o->model == IMPASTO_GAN_CYCLEGAN;
    if (o->model != IMPASTO_GAN_CYCLEGAN && o->model != IMPASTO_GAN_PIX2PIX)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "unknown GAN model");
    memset(&t->gs, 0, sizeof t->gs);
    const char *gname = o->generator ? o->generator : t->cyc ? "resnet_9blocks" : "unet_256";
    if (gan_gen_parse(gname, &t->gs))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "unknown generator '%s' (resnet_9blocks, resnet_6blocks, "
                        "unet_256, unet_128)", gname);
    t->gs.in_c = t->gs.out_c = 3;
    t->gs.ngf = o->ngf;
    t->gs.norm = o->norm < 0 ? (t->cyc ? GAN_NORM_INSTANCE : GAN_NORM_BATCH) : (gan_norm)o->norm;
    t->gs.dropout = o->dropout < 0 ? !t->cyc : o->dropout != 0;
    if (o->norm > 2) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "unknown norm");
    memset(&t->ds, 0, sizeof t->ds);
    const char *dname = o->discriminator ? o->discriminator : "basic";
    if (!strcmp(dname, "basic")) t->ds.kind = GAN_D_BASIC;
    else if (!strcmp(dname, "n_layers")) t->ds.kind = GAN_D_NLAYERS;
    else if (!strcmp(dname, "pixel")) t->ds.kind = GAN_D_PIXEL;
    else return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "unknown discriminator '%s' (basic, n_layers, pixel)", dname);
    t->netd_name = dname;
    t->ds.in_c = t->cyc ? 3 : 6;
    t->ds.ndf = o->ndf;
    t->ds.n_layers = o->n_layers_d;
    t->ds.norm = t->gs.norm;
    t->mode = o->gan_mode < 0 ? (t->cyc ? GAN_LSGAN : GAN_VANILLA) : o->gan_mode ? GAN_VANILLA : GAN_LSGAN;
    t->crop = o->crop_size;
    t->load = o->load_size ? o->load_size : (int)((long)o->crop_size * GAN_LOAD_FOR_256 / 256);
    t->pool_size = o->pool_size < 0 ? (t->cyc ? 50 : 0) : o->pool_size;
    const int mult = gan_gen_multiple(&t->gs);
    if (t->crop < 16 || t->crop > 4096)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "crop size %d outside 16..4096", t->crop);
    if (t->crop % mult) {
        char name[32];
        gan_gen_name(&t->gs, name, sizeof name);
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the crop size %d is not a multiple of %d, which %s needs", t->crop,
                        mult, name);
    }
    if (t->load < t->crop || t->load > 8192)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "load size %d must be at least the crop size %d", t->load, t->crop);
    if (o->ngf < 1 || o->ngf > 512 || o->ndf < 1 || o->ndf > 512)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "ngf and ndf must be 1..512");
    if (t->pool_size > 1000) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "pool size above 1000");
    if (!(o->learning_rate > 0 && o->learning_rate < 1) || !(o->beta1 >= 0 && o->beta1 < 1))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "learning rate must be in (0, 1), beta1 in [0, 1)");
    if (o->epochs < 0 || o->epochs_decay < 0 || o->epochs + o->epochs_decay < 1 || o->steps < 0)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "epochs + decay epochs must be at least 1");
    if (!(o->lambda_a >= 0) || !(o->lambda_b >= 0) || !(o->lambda_identity >= 0) || !(o->lambda_l1 >= 0))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the loss weights must be >= 0");
    if (o->batch_size < 1 || o->batch_size > GAN_MAX_BATCH)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "batch size %d is not in 1..%d", o->batch_size, GAN_MAX_BATCH);
    t->batch = o->batch_size;
    const impasto_process_group *g = o->group;
    if (g && (g->size < 1 || g->rank < 0 || g->rank >= g->size || (g->size > 1 && !g->sum)))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "process %d of %d is not a valid process group", g->rank, g->size);
    if (g && g->size > t->batch)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%d processes for a batch of %d: each process trains on at least "
                        "one picture of every batch, so give a batch size of at least %d", g->size, t->batch, g->size);
    t->group = g && g->size > 1 ? g : NULL;
    t->rank = t->group ? g->rank : 0;
    t->nranks = t->group ? g->size : 1;
    return IMPASTO_OK;
}

static impasto_status make_nets(trainer *t) {
    impasto_status s;
    t->ng = t->nd = t->cyc ? 2 : 1;
    adam_params ap;
    adam_params_init(&ap);
    ap.learning_rate = t->opt->learning_rate;
    ap.beta1 = t->opt->beta1;
    ap.torch_eps = 1;
    for (int i = 0; i < t->ng; i++) {
        if ((s = gan_generator_create(t->ctx, &t->gs, &t->G[i]))) return s;
        if ((s = gan_discriminator_create(t->ctx, &t->ds, &t->D[i]))) return s;
        uint64_t g = rng_stream(t->seed, STREAM_INIT, (uint64_t)i), d = rng_stream(t->seed, STREAM_INIT, 16 + (uint64_t)i);
        net_init_normal(t->G[i], GAN_INIT_GAIN, &g);
        net_init_normal(t->D[i], GAN_INIT_GAIN, &d);
        t->aG[i] = adam_create(t->G[i]->nparams, &ap);
        t->aD[i] = adam_create(t->D[i]->nparams, &ap);
        if (!t->aG[i] || !t->aD[i]) return ctx_fail(t->ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    const int threads = ctx_threads(t->ctx);
    for (int i = 0; i < 2; i++)
        if ((s = net_plan_create(t->ctx, t->G[0], 3, t->crop, t->crop, NET_TRAIN, threads, &t->pg[i]))) return s;
    if ((s = net_plan_create(t->ctx, t->D[0], t->ds.in_c, t->crop, t->crop, NET_TRAIN, threads, &t->pd))) return s;
    int c, h, w;
    net_plan_out_shape(t->pd, &c, &h, &w);
    t->dsize = (size_t)c * (size_t)h * (size_t)w;
    t->img = 3 * (size_t)t->crop * (size_t)t->crop;
    t->pfloats = t->cyc ? t->img : 2 * t->img;
    const size_t nb = (size_t)t->batch;
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        t->reals[i] = falloc(nb * t->img);
        t->fakes[i] = falloc(nb * t->pfloats);
        t->seen[i] = falloc(nb * t->pfloats);
        ok &= t->reals[i] && t->fakes[i] && t->seen[i];
    }
    t->gen_rng = malloc(nb * sizeof *t->gen_rng);
    t->gbuf = falloc(t->G[0]->nbuffers);
    t->dfake = falloc(t->img), t->dtmp = falloc(t->img);
    t->dsin = falloc(2 * t->img), t->dpred = falloc(t->dsize);
    if (!ok || !t->gen_rng || !t->gbuf || !t->dfake || !t->dtmp || !t->dsin || !t->dpred)
        return ctx_fail(t->ctx, IMPASTO_ERR_NOMEM, "out of memory");
    for (int i = 0; i < t->nd; i++)
        if ((s = gan_pool_init(t->ctx, &t->pool[i], t->pool_size, t->cyc ? t->img : 2 * t->img))) return s;
    return IMPASTO_OK;
}

/* ---- passes ------------------------------------------------------------------------------ */

/* Generator k on x (3, S, S) through plan p; the output into y when not NULL. */
static impasto_status gen_forward(trainer *t, int k, net_plan *p, const float *x, float *y, uint64_t *rng,
                                  const float **out) {
    memcpy(net_plan_input(p), x, t->img * sizeof(float));
    impasto_status s = net_forward(t->ctx, t->G[k], p, rng, out);
    if (!s && y) memcpy(y, *out, t->img * sizeof(float));
    return s;
}

/* The discriminator k's GAN loss on x (its input) against label, times weight; its parameter
 * gradients accumulated when `train_d`, the input's gradient into dx when not NULL. */
static impasto_status disc_loss(trainer *t, int k, const float *x, float label, double weight, int train_d,
                                float *dx, uint64_t *rng, double *loss) {
    const size_t n = t->cyc ? t->img : 2 * t->img;
    memcpy(net_plan_input(t->pd), x, n * sizeof(float));
    const float *pred;
    impasto_status s = net_forward(t->ctx, t->D[k], t->pd, rng, &pred);
    if (s) return s;
    *loss = gan_loss(t->mode, t->dsize, pred, label, weight, t->dpred);
    return net_backward(t->ctx, t->D[k], t->pd, t->dpred, train_d ? t->D[k]->grads : NULL, dx);
}

static void zero_grads(net *n) { memset(n->grads, 0, n->nparams * sizeof(float)); }

static void add_into(float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) a[i] += b[i];
}

/* Sums n values of buf over the process group (nothing alone), timed. */
static impasto_status group_sum(trainer *t, void *buf, size_t n, int is_double) {
    if (t->nranks < 2) return IMPASTO_OK;
    const double t0 = clock_seconds();
    const int r = t->group->sum(t->group->user, buf, n, is_double);
    t->sum_seconds += clock_seconds() - t0;
    return r ? ctx_fail(t->ctx, IMPASTO_ERR_IO, "GAN training: the sum over the %d processes failed (another "
                        "process stopped?)", t->nranks)
             : IMPASTO_OK;
}

/* Sums a network's gradient over the processes and checks it is finite (alike on every process). */
static impasto_status grads_sum(trainer *t, net *n) {
    impasto_status s = group_sum(t, n->grads, n->nparams, 0);
    if (s) return s;
    return floats_all_finite(n->grads, n->nparams) ? IMPASTO_OK : IMPASTO_ERR_NOT_FINITE;
}

/* This process's slots b of a batch: b % nranks == rank. */
#define FOR_SLOTS(t, b) for (int b = (t)->rank; b < (t)->batch; b += (t)->nranks)

/* What the discriminators see of the step's fakes: the pools' answers, slot by slot over the whole
 * batch in order, from one stream (the reference's ImagePool.query over a batch). So that the pools
 * stay the same on every process, each first gets every slot's fake: a sum of buffers that hold
 * zeros outside each process's slots (exact: x + 0 = x). Without pools each slot sees its own. */
static impasto_status pools_query(trainer *t, uint64_t *rng) {
    const size_t f = t->pfloats;
    for (int k = 0; k < t->nd; k++) {
        if (t->pool_size == 0) {
            FOR_SLOTS(t, b) memcpy(t->seen[k] + (size_t)b * f, t->fakes[k] + (size_t)b * f, f * sizeof(float));
            continue;
        }
        if (t->nranks > 1) {
            for (int b = 0; b < t->batch; b++)
                if (b % t->nranks != t->rank) memset(t->fakes[k] + (size_t)b * f, 0, f * sizeof(float));
            impasto_status s = group_sum(t, t->fakes[k], (size_t)t->batch * f, 0);
            if (s) return s;
        }
        for (int b = 0; b < t->batch; b++)
            gan_pool_query(&t->pool[k], t->fakes[k] + (size_t)b * f, t->seen[k] + (size_t)b * f, rng);
    }
    return IMPASTO_OK;
}

/* One CycleGAN step on this process's slots of the batch (reals[]); slot b draws dropout from
 * rng[b * stride] (stride 0: one stream for all), the pools from *pool_rng. Every loss is the mean
 * over the batch, as the reference's; the gradients and losses are summed over the processes. */
static impasto_status cyclegan_step(trainer *t, uint64_t *rng, size_t stride, uint64_t *pool_rng) {
    const impasto_gan_train_options *o = t->opt;
    impasto_ctx *ctx = t->ctx;
    impasto_status s;
    const float *y;
    double *L = t->losses;  /* D_A G_A cycle_A idt_A D_B G_B cycle_B idt_B */
    const double w = 1.0 / (double)t->batch;
    memset(t->losses, 0, sizeof t->losses);
    for (int i = 0; i < 2; i++) zero_grads(t->G[i]);
    FOR_SLOTS(t, b) {
        uint64_t *r = rng + (size_t)b * stride;
        /* k = 0: a -> G_A -> fake_B -> G_B -> rec_A, judged by D_A; k = 1 the other way round */
        for (int k = 0; k < 2; k++) {
            const float *real = t->reals[k] + (size_t)b * t->img;
            float *fake = t->fakes[k] + (size_t)b * t->img;
            const double lam = (k ? o->lambda_b : o->lambda_a) * w;
            double l;
            if ((s = gen_forward(t, k, t->pg[0], real, fake, r, &y))) return s;
            if ((s = gen_forward(t, 1 - k, t->pg[1], fake, NULL, r, &y))) return s;
            L[4 * k + 2] += l1_loss(t->img, y, real, lam, t->dtmp);
            if ((s = net_backward(ctx, t->G[1 - k], t->pg[1], t->dtmp, t->G[1 - k]->grads, t->dfake))) return s;
            if ((s = disc_loss(t, k, fake, 1.0f, w, 0, t->dtmp, r, &l))) return s;
            L[4 * k + 1] += l;
            add_into(t->dfake, t->dtmp, t->img);
            if ((s = net_backward(ctx, t->G[k], t->pg[0], t->dfake, t->G[k]->grads, NULL))) return s;
        }
        /* identity: G_A(b) ~ b, G_B(a) ~ a */
        for (int k = 0; k < 2 && o->lambda_identity > 0; k++) {
            const float *same = t->reals[1 - k] + (size_t)b * t->img;
            const double lam = (k ? o->lambda_a : o->lambda_b) * o->lambda_identity * w;
            if ((s = gen_forward(t, k, t->pg[0], same, NULL, r, &y))) return s;
            L[4 * k + 3] += l1_loss(t->img, y, same, lam, t->dtmp);
            if ((s = net_backward(ctx, t->G[k], t->pg[0], t->dtmp, t->G[k]->grads, NULL))) return s;
        }
    }
    for (int i = 0; i < 2; i++)
        if ((s = grads_sum(t, t->G[i]))) return s;
    for (int i = 0; i < 2; i++) adam_step(t->aG[i], t->G[i]->params, t->G[i]->grads);
    /* discriminators: D_A sees real b and the pool's fake b */
    if ((s = pools_query(t, pool_rng))) return s;
    for (int k = 0; k < 2; k++) {
        zero_grads(t->D[k]);
        FOR_SLOTS(t, b) {
            uint64_t *r = rng + (size_t)b * stride;
            double lr, lf;
            if ((s = disc_loss(t, k, t->reals[1 - k] + (size_t)b * t->img, 1.0f, 0.5 * w, 1, NULL, r, &lr))) return s;
            if ((s = disc_loss(t, k, t->seen[k] + (size_t)b * t->img, 0.0f, 0.5 * w, 1, NULL, r, &lf))) return s;
            L[4 * k] += lr + lf;
        }
        if ((s = grads_sum(t, t->D[k]))) return s;
        adam_step(t->aD[k], t->D[k]->params, t->D[k]->grads);
    }
    return group_sum(t, L, 8, 1);
}

/* a|x into dst (6, S, S). */
static void cat_pair(const float *a, const float *x, size_t img, float *dst) {
    memcpy(dst, a, img * sizeof(float));
    memcpy(dst + img, x, img * sizeof(float));
}

/* pix2pix's generator half for slot b: GAN(D(a|G(a)), 1) + l1 |G(a) - b|_1 against the updated D,
 * backward through G. The plan holds the pass of one slot only; another's (`rerun`) is run again
 * first, from the stream its first pass began with (the same dropout, so the same output), its
 * batch norms' running statistics put back so that they move once per pass as the reference's. */
static impasto_status pix2pix_gen(trainer *t, int b, int rerun, uint64_t *r, double w) {
    impasto_status s;
    const float *y;
    double *L = t->losses, l;
    float *pair = t->fakes[0] + (size_t)b * t->pfloats;  /* a|G(a) */
    if (rerun) {
        net *g = t->G[0];
        uint64_t gr = t->gen_rng[b];
        memcpy(t->gbuf, g->buffers, g->nbuffers * sizeof(float));
        s = gen_forward(t, 0, t->pg[0], t->reals[0] + (size_t)b * t->img, NULL, &gr, &y);
        memcpy(g->buffers, t->gbuf, g->nbuffers * sizeof(float));
        if (s) return s;
    }
    if ((s = disc_loss(t, 0, pair, 1.0f, w, 0, t->dsin, r, &l))) return s;
    L[0] += l;
    L[1] += l1_loss(t->img, pair + t->img, t->reals[1] + (size_t)b * t->img, t->opt->lambda_l1 * w, t->dfake);
    add_into(t->dfake, t->dsin + t->img, t->img);
    return net_backward(t->ctx, t->G[0], t->pg[0], t->dfake, t->G[0]->grads, NULL);
}

/* One pix2pix step on this process's slots of the batch (as cyclegan_step). */
static impasto_status pix2pix_step(trainer *t, uint64_t *rng, size_t stride, uint64_t *pool_rng) {
    impasto_status s;
    const float *y;
    double *L = t->losses;  /* G_GAN G_L1 D_real D_fake */
    const double w = 1.0 / (double)t->batch;
    memset(t->losses, 0, sizeof t->losses);
    int last = -1;
    FOR_SLOTS(t, b) {
        uint64_t *r = rng + (size_t)b * stride;
        float *pair = t->fakes[0] + (size_t)b * t->pfloats;
        t->gen_rng[b] = *r;
        memcpy(pair, t->reals[0] + (size_t)b * t->img, t->img * sizeof(float));
        if ((s = gen_forward(t, 0, t->pg[0], t->reals[0] + (size_t)b * t->img, pair + t->img, r, &y))) return s;
        last = b;
    }
    /* D first: fake (through the pool) and real pairs */
    if ((s = pools_query(t, pool_rng))) return s;
    zero_grads(t->D[0]);
    FOR_SLOTS(t, b) {
        uint64_t *r = rng + (size_t)b * stride;
        double l;
        if ((s = disc_loss(t, 0, t->seen[0] + (size_t)b * t->pfloats, 0.0f, 0.5 * w, 1, NULL, r, &l))) return s;
        L[3] += l;
        cat_pair(t->reals[0] + (size_t)b * t->img, t->reals[1] + (size_t)b * t->img, t->img, t->dsin);
        if ((s = disc_loss(t, 0, t->dsin, 1.0f, 0.5 * w, 1, NULL, r, &l))) return s;
        L[2] += l;
    }
    if ((s = grads_sum(t, t->D[0]))) return s;
    adam_step(t->aD[0], t->D[0]->params, t->D[0]->grads);
    /* then G against the updated D: the slot whose pass the plan still holds first */
    zero_grads(t->G[0]);
    if (last >= 0 && (s = pix2pix_gen(t, last, 0, rng + (size_t)last * stride, w))) return s;
    FOR_SLOTS(t, b) {
        if (b != last && (s = pix2pix_gen(t, b, 1, rng + (size_t)b * stride, w))) return s;
    }
    if ((s = grads_sum(t, t->G[0]))) return s;
    adam_step(t->aG[0], t->G[0]->params, t->G[0]->grads);
    if ((s = group_sum(t, L, 4, 1))) return s;
    /* reported as the reference prints them: each term before the 0.5 */
    L[2] *= 2.0, L[3] *= 2.0;
    return IMPASTO_OK;
}

/* ---- schedule and data --------------------------------------------------------------------- */

/* The epoch step `step` begins in: batches run on through the epochs (a batch may take the last
 * pictures of one epoch and the first of the next). */
static long epoch_of(const trainer *t, long step) { return step * (long)t->batch / t->per_epoch; }

/* The learning rate's factor at step `step`: 1 for the first `epochs` epochs, then
 * 1 - (e + 1 - epochs) / (epochs_decay + 1) in epoch e (the reference's LambdaLR, stepped at each
 * epoch's end). With a fixed number of steps the epochs are that many equal parts of the run. */
static double lr_factor(const trainer *t, long step) {
    const int E = t->opt->epochs, D = t->opt->epochs_decay;
    const long e = t->opt->steps ? (long)((double)step * (E + D) / (double)t->total) : epoch_of(t, step);
    const long over = e + 1 - E;
    return over > 0 ? 1.0 - (double)over / (double)(D + 1) : 1.0;
}

/* Slot b of step `step` (the run's picture g = step * batch + b) into reals[0] and reals[1] at b;
 * *rng is the slot's stream. Keyed by g alone, whichever process draws it. */
static void draw_slot(trainer *t, long step, int b, uint64_t *rng) {
    const long g = step * (long)t->batch + b, epoch = g / t->per_epoch;
    if (epoch != t->order_epoch) {
        uint64_t o = rng_stream(t->seed, STREAM_ORDER, (uint64_t)epoch);
        for (long i = 0; i < t->per_epoch; i++) t->order[i] = (size_t)i;
        for (long i = t->per_epoch; i > 1; i--) {
            size_t j = rng_below(&o, (size_t)i), tmp = t->order[i - 1];
            t->order[i - 1] = t->order[j];
            t->order[j] = tmp;
        }
        t->order_epoch = epoch;
    }
    const size_t idx = t->order[g % t->per_epoch];
    const int no_flip = t->opt->no_flip;
    float *ra = t->reals[0] + (size_t)b * t->img, *rb = t->reals[1] + (size_t)b * t->img;
    if (t->cyc) {
        const size_t ia = idx % t->A.n, ib = rng_below(rng, t->B.n);
        gan_aug_apply(&t->A.pics[ia], t->load, t->crop, gan_aug_draw(t->load, t->crop, no_flip, rng), ra);
        gan_aug_apply(&t->B.pics[ib], t->load, t->crop, gan_aug_draw(t->load, t->crop, no_flip, rng), rb);
    } else {
        const gan_aug a = gan_aug_draw(t->load, t->crop, no_flip, rng);
        gan_aug_apply(&t->A.pics[idx], t->load, t->crop, a, ra);
        gan_aug_apply(&t->B.pics[idx], t->load, t->crop, a, rb);
    }
}

/* The preview picture translated A -> B by the generator as it is now (eval-free: as the
 * reference's test.py runs it). */
static impasto_status make_preview(trainer *t) {
    impasto_ctx *ctx = t->ctx;
    const impasto_image *src = t->preview_src;
    const int W = src->width, H = src->height;
    net_plan *p = NULL;
    impasto_status s = net_plan_create(ctx, t->G[0], 3, H, W, NET_BATCH_STATS, ctx_threads(ctx), &p);
    if (s) return s;
    float *x = net_plan_input(p);
    const size_t plane = (size_t)W * (size_t)H;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++)
            x[(size_t)c * plane + i] = 2.0f * src->data[i * (size_t)src->channels + (size_t)(src->channels >= 3 ? c : 0)] - 1.0f;
    const float *y;
    if (!(s = net_forward(ctx, t->G[0], p, NULL, &y))) {
        impasto_image_free(t->preview);
        t->preview = NULL;
        if (!(s = impasto_image_create(ctx, W, H, 3, &t->preview)))
            for (size_t i = 0; i < plane; i++)
                for (int c = 0; c < 3; c++) {
                    float v = 0.5f * (y[(size_t)c * plane + i] + 1.0f);
                    t->preview->data[3 * i + (size_t)c] = v < 0 ? 0 : v > 1 ? 1 : v;
                }
    }
    net_plan_free(p);
    return s;
}

/* The preview source: the given picture or A's first (for pix2pix its A side), resized so its
 * longer side is the crop size, both sides rounded to the generator's multiple. */
static impasto_status preview_source(trainer *t, const char *first_a) {
    impasto_image *img = NULL, *r = NULL;
    impasto_status s = IMPASTO_OK;
    const impasto_image *src = t->opt->preview_image;
    if (!src) {
        if ((s = impasto_image_load(t->ctx, first_a, &img))) return s;
        src = img;
    }
    /* pix2pix: what the generator is given, the A side (a given preview picture of an A|B set is
     * taken to be an A picture already) */
    if (!t->cyc && (t->opt->pairs != IMPASTO_PAIRS_AB || img)) {
        impasto_image *a = NULL;
        s = gan_a_side(t->ctx, src, t->opt->pairs, &a);
        impasto_image_free(img);
        if (s) return s;
        src = img = a;
    }
    const int mult = gan_gen_multiple(&t->gs);
    double k = (double)t->crop / (double)(src->width > src->height ? src->width : src->height);
    int w = (int)(src->width * k / mult + 0.5) * mult, h = (int)(src->height * k / mult + 0.5) * mult;
    if (w < mult) w = mult;
    if (h < mult) h = mult;
    s = impasto_image_resize(t->ctx, src, w, h, &r);
    if (!s && t->gs.kind == GAN_G_RESNET && (w < 4 || h < 4)) s = ctx_fail(t->ctx, IMPASTO_ERR_INVALID_ARG, "preview too small");
    impasto_image_free(img);
    if (!s) t->preview_src = r;
    else impasto_image_free(r);
    return s;
}

/* ---- the step alone (gan_train.h) --------------------------------------------------------- */

impasto_status gan_trainer_create(impasto_ctx *ctx, const impasto_gan_train_options *opt, gan_trainer **out) {
    *out = NULL;
    trainer *t = calloc(1, sizeof *t);
    if (!t) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    t->ctx = ctx;
    t->opt = opt;
    t->seed = opt->seed;
    impasto_status s = resolve_options(t);
    if (!s) s = make_nets(t);
    if (s) {
        gan_trainer_free(t);
        return s;
    }
    *out = t;
    return IMPASTO_OK;
}

void gan_trainer_free(gan_trainer *t) {
    if (!t) return;
    trainer_free(t);
    free(t);
}

net *gan_trainer_net(gan_trainer *t, int which) {
    if (which < 0 || which > 3) return NULL;
    return which < 2 ? (which < t->ng ? t->G[which] : NULL) : (which - 2 < t->nd ? t->D[which - 2] : NULL);
}

float *gan_trainer_real(gan_trainer *t, int b) { return t->reals[b ? 1 : 0]; }

impasto_status gan_trainer_step(gan_trainer *t, uint64_t *rng, double *losses) {
    impasto_status s = t->cyc ? cyclegan_step(t, rng, 0, rng) : pix2pix_step(t, rng, 0, rng);
    if (s == IMPASTO_ERR_NOT_FINITE) s = ctx_fail(t->ctx, s, "the gradients are not finite");
    memcpy(losses, t->losses, 8 * sizeof(double));
    return s;
}

/* ---- the run ----------------------------------------------------------------------------- */

impasto_status impasto_gan_train(impasto_ctx *ctx, const char *const *a_paths, size_t na, const char *const *b_paths,
                                 size_t nb, const impasto_gan_train_options *opt, const char *out_path) {
    impasto_gan_train_options defaults;
    if (!opt) impasto_gan_train_options_init(&defaults), opt = &defaults;
    if (!out_path || (na && !a_paths) || (nb && !b_paths))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_gan_train: missing pictures or output path");
    trainer t;
    memset(&t, 0, sizeof t);
    uint64_t *slot_rng = NULL;  /* (batch) this step's streams of this process's slots */
    t.ctx = ctx;
    t.opt = opt;
    t.seed = opt->seed;
    t.order_epoch = -1;
    impasto_status s = resolve_options(&t);
    if (s) return s;
    /* a GAN learns what a whole set of pictures has in common: one is no set */
    if (na < GAN_MIN_PICTURES)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s for domain A: a GAN needs at least %d",
                        na ? "only one picture" : "no pictures", GAN_MIN_PICTURES);
    if (t.cyc && nb < GAN_MIN_PICTURES)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s for domain B: a GAN needs at least %d",
                        nb ? "only one picture" : "no pictures", GAN_MIN_PICTURES);
    if ((s = make_nets(&t))) goto done;
    if (opt->resume && (s = gan_train_resume(&t, opt->resume))) goto done;
    if (t.cyc) {
        if (!(s = gan_domain_load(ctx, a_paths, na, t.load, IMPASTO_PAIRS_AB, &t.A, NULL)))
            s = gan_domain_load(ctx, b_paths, nb, t.load, IMPASTO_PAIRS_AB, &t.B, NULL);
    } else {
        s = gan_domain_load(ctx, a_paths, na, t.load, opt->pairs, &t.A, &t.B);
    }
    if (s) goto done;
    t.per_epoch = (long)(t.cyc && nb > na ? nb : na);
    t.total = opt->steps ? opt->steps
                         : ((long)(opt->epochs + opt->epochs_decay) * t.per_epoch + t.batch - 1) / t.batch;
    if (t.step >= t.total) {
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the checkpoint is at step %ld, the run has %ld steps: nothing to do",
                     t.step, t.total);
        goto done;
    }
    slot_rng = malloc((size_t)t.batch * sizeof *slot_rng);
    if (!(t.order = malloc((size_t)t.per_epoch * sizeof *t.order)) || !slot_rng) {
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        goto done;
    }
    const int writer = t.rank == 0;  /* the one process that writes files */
    if (writer && opt->preview_every > 0 && (s = preview_source(&t, a_paths[0]))) goto done;
    const double t0 = clock_seconds();
    const char *const *names = t.cyc ? CYC_NAMES : P2P_NAMES;
    const int nl = t.cyc ? 8 : 4;
    while (t.step < t.total) {
        const double lr = opt->learning_rate * lr_factor(&t, t.step);
        for (int i = 0; i < t.ng; i++) adam_set_learning_rate(t.aG[i], lr);
        for (int i = 0; i < t.nd; i++) adam_set_learning_rate(t.aD[i], lr);
        FOR_SLOTS(&t, b) {
            slot_rng[b] = rng_stream(t.seed, STREAM_STEP, (uint64_t)t.step * (uint64_t)t.batch + (uint64_t)b);
            draw_slot(&t, t.step, b, &slot_rng[b]);
            t.images++;
        }
        uint64_t pool_rng = rng_stream(t.seed, STREAM_POOL, (uint64_t)t.step);
        s = t.cyc ? cyclegan_step(&t, slot_rng, 1, &pool_rng) : pix2pix_step(&t, slot_rng, 1, &pool_rng);
        if (s == IMPASTO_ERR_NOT_FINITE) {
            s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "step %ld: the gradients are not finite (learning rate too high?); "
                         "stopped before updating, nothing written for it", t.step + 1);
            goto done;
        }
        if (s) goto done;
        int bad = 0;
        for (int i = 0; i < nl; i++) bad |= !isfinite(t.losses[i]);
        if (bad) {
            s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "step %ld: a loss is not finite", t.step + 1);
            goto done;
        }
        t.step++;
        char ckpt[4096];
        const char *written = NULL;
        const int last = t.step == t.total;
        if (writer && opt->checkpoint_dir && opt->checkpoint_every > 0 && (t.step % opt->checkpoint_every == 0 || last)) {
            if ((s = gan_train_checkpoint(&t, ckpt, sizeof ckpt))) goto done;
            written = ckpt;
        }
        const impasto_image *preview = NULL;
        if (writer && opt->preview_every > 0 && (t.step % opt->preview_every == 0 || last)) {
            if ((s = make_preview(&t))) goto done;
            preview = t.preview;
        }
        /* a cancel on any process stops every one after this step */
        double stop = 0;
        if (opt->progress) {
            impasto_gan_progress p = {t.step, t.total, (int)epoch_of(&t, t.step - 1), lr, nl, names, t.losses,
                                      clock_seconds() - t0, written, preview, t.images, t.sum_seconds};
            stop = opt->progress(&p, opt->progress_user) != 0;
        }
        if ((s = group_sum(&t, &stop, 1, 1))) goto done;
        if (stop != 0) {
            if (writer && opt->checkpoint_dir && !written) {
                if ((s = gan_train_checkpoint(&t, ckpt, sizeof ckpt))) goto done;
                written = ckpt;
            }
            if (written) s = ctx_fail(ctx, IMPASTO_ERR_CANCELLED, "cancelled after step %ld; checkpoint %s", t.step, written);
            else if (opt->checkpoint_dir)
                s = ctx_fail(ctx, IMPASTO_ERR_CANCELLED, "cancelled after step %ld; process 0 writes the checkpoint",
                             t.step);
            else s = ctx_fail(ctx, IMPASTO_ERR_CANCELLED, "cancelled after step %ld (no checkpoint folder given)", t.step);
            goto done;
        }
    }
    if (writer) s = gan_train_write_file(&t, out_path, 0);
done:
    free(slot_rng);
    trainer_free(&t);
    return s;
}
