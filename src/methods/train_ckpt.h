/* Training state and its files: a checkpoint (the network's weights under their state_dict
 * names, Adam's moments, the step and the generator's seed) and the final model (weights only).
 * Both are safetensors of kind "transformernet", so impasto_fast_load reads either. */
#ifndef IMPASTO_METHODS_TRAIN_CKPT_H
#define IMPASTO_METHODS_TRAIN_CKPT_H

#include "impasto.h"
#include "optim/optim.h"

#include <stddef.h>
#include <stdint.h>

struct net;

typedef struct train_state {
    struct net *net;     /* TransformerNet declared (tnet_declare): its params are the weights */
    adam_state *adam;    /* over net->params */
    long step;           /* steps done */
    uint64_t seed;       /* with step, the whole generator state (train.c draws per epoch/step) */
    /* With an adversarial term (train_adv.h; owned there, not by the state): the discriminator and
     * its Adam, written to checkpoints under "adversary." and "optimizer.adversary."; NULL without */
    struct net *adv;
    adam_state *adv_adam;
    int had_adversary;   /* train_state_load: the checkpoint holds a discriminator */
} train_state;

/* What the files record about the run (metadata; resuming does not require them to match). */
typedef struct train_meta {
    const char *style;   /* or NULL */
    int image_size, batch_size;
    size_t nphotos;
    double content_weight, style_weight;
    int ranks;           /* the processes that trained it (impasto_process_group), 1 alone */
} train_meta;

/* A fresh state at step 0 (weights as tnet_declare leaves them: the caller initialises them). */
impasto_status train_state_new(impasto_ctx *ctx, uint64_t seed, double lr, train_state *st);
/* The state of a checkpoint; Adam continues with learning rate lr. */
impasto_status train_state_load(impasto_ctx *ctx, const char *path, double lr, train_state *st);
void train_state_free(train_state *st);
/* Reads the discriminator and its Adam state (st->adv, st->adv_adam, set by the caller) from a
 * checkpoint written with one. */
impasto_status train_state_load_adversary(impasto_ctx *ctx, const char *path, train_state *st);
/* Writes dir/ckpt_step_<step>.safetensors (atomically); its path into path_out. */
impasto_status train_state_save(impasto_ctx *ctx, const train_state *st, const train_meta *meta,
                                const char *dir, char *path_out, size_t path_size);
/* Writes the model (weights only) to path. */
impasto_status train_model_save(impasto_ctx *ctx, const train_state *st, const train_meta *meta,
                                const char *path);

#endif
