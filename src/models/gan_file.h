/* What a CycleGAN / pix2pix model file records about its networks, and the writer of their
 * tensors: shared by training and translation (methods/gan_model.h, which says what the files
 * hold) and by the converter of the reference's checkpoints (formats/convert_gan.c), which sits
 * below methods/ and so finds them here. */
#ifndef IMPASTO_MODELS_GAN_FILE_H
#define IMPASTO_MODELS_GAN_FILE_H

#include "formats/safetensors.h"
#include "models/gan_nets.h"

typedef struct gan_named_net {
    const char *prefix;   /* "G_A.", "G.", or "" for a converted generator */
    const net *n;
} gan_named_net;

const char *gan_norm_name(gan_norm norm);          /* "instance", "batch", "none" */
int gan_norm_parse(const char *s, gan_norm *out);  /* 0 or -1 */

/* The generator's metadata: 6 pairs (key, value) into kv (12 strings), the values kept in buf;
 * returns 6. Keys: netG, ngf, norm, dropout, in_channels, out_channels. */
size_t gan_gen_meta(const gan_gen_spec *g, char buf[5][32], const char **kv);

/* Writes the networks' tensors under their prefixes, then `extra` tensors, with the metadata
 * (nkv pairs), atomically to path. */
impasto_status gan_nets_write(impasto_ctx *ctx, const char *path, const gan_named_net *nets, size_t nnets,
                              const st_write_tensor *extra, size_t nextra, const char *const *kv, size_t nkv);

#endif
