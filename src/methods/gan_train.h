/* The training step of gan_train.c on its own, for tests that check it against the reference's
 * golden step: a trainer made from options (networks initialised, nothing loaded), its networks
 * and input pictures open to the caller, and one step at the current learning rate. */
#ifndef IMPASTO_METHODS_GAN_TRAIN_H
#define IMPASTO_METHODS_GAN_TRAIN_H

#include "impasto.h"
#include "models/net.h"

typedef struct gan_trainer gan_trainer;

impasto_status gan_trainer_create(impasto_ctx *ctx, const impasto_gan_train_options *opt, gan_trainer **out);
void gan_trainer_free(gan_trainer *t);
/* 0 G_A (pix2pix: G), 1 G_B, 2 D_A (pix2pix: D), 3 D_B; NULL when the model has no such network. */
net *gan_trainer_net(gan_trainer *t, int which);
/* The step's pictures (3, crop, crop) in [-1, 1]: real A (b = 0) and real B (b = 1). */
float *gan_trainer_real(gan_trainer *t, int b);
/* One step on the pictures as they are; the losses (CycleGAN D_A G_A cycle_A idt_A D_B G_B cycle_B
 * idt_B; pix2pix G_GAN G_L1 D_real D_fake) into losses[8]. */
impasto_status gan_trainer_step(gan_trainer *t, uint64_t *rng, double *losses);

#endif
