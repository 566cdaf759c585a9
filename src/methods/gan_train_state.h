/* The state of a CycleGAN or pix2pix training run (gan_train.c), shared with its files
 * (gan_train_files.c: the model, checkpoints and resuming). Private to src/methods. */
#ifndef IMPASTO_METHODS_GAN_TRAIN_STATE_H
#define IMPASTO_METHODS_GAN_TRAIN_STATE_H

#include "impasto.h"
#include "loss/loss.h"
#include "methods/gan_data.h"
#include "methods/gan_model.h"
#include "optim/optim.h"

#include <stdint.h>

struct gan_trainer {
    impasto_ctx *ctx;
    const impasto_gan_train_options *opt;
    int cyc;                  /* CycleGAN, else pix2pix */
    gan_mode mode;
    int crop, load, pool_size;
    gan_gen_spec gs;
    gan_disc_spec ds;
    const char *netd_name;
    int ng, nd;               /* networks: CycleGAN 2 + 2, pix2pix 1 + 1 */
    net *G[2], *D[2];         /* G_A, G_B / G; D_A, D_B / D */
    adam_state *aG[2], *aD[2];
    net_plan *pg[2], *pd;     /* generator plans (two suffice, see the top), discriminator plan */
    gan_domain A, B;
    gan_pool pool[2];         /* the fakes D_A and D_B see (pix2pix: pool[0] of a|G(a)) */
    size_t img;               /* floats of one 3 x crop x crop picture */
    size_t pfloats;           /* floats of what a discriminator judges: img (CycleGAN), 2 img (a|x) */
    int batch;                /* the global batch: pictures (pairs) per step */
    const impasto_process_group *group;  /* several processes, or NULL */
    int rank, nranks;         /* this process's slots of a batch: b % nranks == rank */
    long images;              /* pictures this process trained on in this run */
    double sum_seconds;       /* in the group's sums */
    float *reals[2];          /* (batch, 3, S, S) the step's real A and real B, this process's slots */
    float *fakes[2];          /* (batch, pfloats) the step's fakes: G_A(a) and G_B(b) (pix2pix: a|G(a)),
                                 every slot's once gathered for the pools */
    float *seen[2];           /* (batch, pfloats) what the discriminators see of them: the pools' answers */
    uint64_t *gen_rng;        /* (batch) pix2pix: each slot's stream as its generator pass began */
    float *gbuf;              /* (G's nbuffers) batch norms' running statistics, kept over a re-run pass */
    float *dfake, *dtmp, *dsin;
    size_t dsize;             /* floats of the discriminator's output */
    float *dpred;             /* (dsize) */
    long step, total, per_epoch;
    uint64_t seed;
    size_t *order;            /* (per_epoch) this epoch's order of A */
    long order_epoch;
    double losses[8];
    impasto_image *preview;   /* the last preview made */
    impasto_image *preview_src;  /* the preview picture at crop size x aspect */
};
typedef struct gan_trainer trainer;

/* The model (generators) or, with `state`, the checkpoint (everything a step depends on) to path. */
impasto_status gan_train_write_file(trainer *t, const char *path, int state);
/* A checkpoint of the current step in the checkpoint folder; its path into path. */
impasto_status gan_train_checkpoint(trainer *t, char *path, size_t size);
/* Restores a checkpoint written by gan_train_write_file(state 1) into the freshly made networks:
 * refused when it was made with other networks, crop size or batch size. */
impasto_status gan_train_resume(trainer *t, const char *path);

#endif
