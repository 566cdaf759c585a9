/* CycleGAN and pix2pix model files, shared by training (gan_train.c) and translation
 * (gan_model.c). A file is safetensors holding each generator's (and in a checkpoint each
 * discriminator's) tensors under a prefix ("G_A.model.1.weight"; "" for a converted reference
 * generator), with the architecture in the metadata:
 *   kind        "cyclegan" (G_A., G_B.), "pix2pix" (G.) or "gan-generator" (no prefix)
 *   netG        "resnet_9blocks", "unet_256", ...   ngf, norm ("instance", "batch", "none"),
 *   dropout     "0" / "1"                             in_channels, out_channels
 * and in a checkpoint also netD, ndf, n_layers_D, gan_mode, crop_size, load_size, step, seed (the
 * model and the checkpoint: batch_size, processes). */
#ifndef IMPASTO_METHODS_GAN_MODEL_H
#define IMPASTO_METHODS_GAN_MODEL_H

#include "impasto.h"
#include "formats/safetensors.h"
#include "models/gan_file.h"   /* gan_gen_meta, gan_nets_write, gan_norm_name: the writing side */
#include "models/gan_nets.h"

/* The generator spec recorded in a file's metadata. */
impasto_status gan_gen_from_meta(impasto_ctx *ctx, const safetensors *st, const char *path,
                                 gan_gen_spec *out);

/* The model type behind impasto_gan_model (impasto.h). */
struct impasto_gan_model {
    char kind[32];
    char gen_name[32];
    gan_gen_spec spec;
    net *g[2];     /* A->B, B->A (CycleGAN only) */
};

/* impasto_gan_load from an open file (`path` names it in messages): the kind, the generator's
 * metadata, a size the file's tensors can fill, every tensor by name and shape. */
impasto_status gan_model_from_safetensors(impasto_ctx *ctx, const safetensors *st, const char *path,
                                         impasto_gan_model **out);

/* A decimal metadata value; 0, or -1 when missing or malformed. */
int gan_meta_long(const safetensors *st, const char *key, long *out);

#endif
