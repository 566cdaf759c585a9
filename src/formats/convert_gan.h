/* impasto_convert_pth's CycleGAN / pix2pix generators (convert_gan.c): the checkpoints
 * junyanz/pytorch-CycleGAN-and-pix2pix saves (latest_net_G.pth, latest_net_G_A.pth, ...) ->
 * impasto's kind "gan-generator" files. */
#ifndef IMPASTO_FORMATS_CONVERT_GAN_H
#define IMPASTO_FORMATS_CONVERT_GAN_H

#include "formats/pth.h"
#include "models/gan_nets.h"

/* 1 when impasto_convert_pth's arch names a generator: "auto", "resnet_<n>blocks", "unet_<2^k>". */
int convert_gan_arch(const char *arch);

/* The generator f holds, as a finished net with every tensor copied in: its family and depth read
 * from the names (and checked against `arch` unless it is "auto"), ngf and the channels from the
 * first convolution's and the last one's shapes, the norm from which tensors exist; then every
 * tensor of the net found under its exact name and shape, and every tensor of f one of the net's
 * or one the reference itself ignores (num_batches_tracked, instance norms' running statistics:
 * *dropped counts those). A problem is IMPASTO_ERR_FORMAT in one line naming `path` and the
 * tensor. Reads nothing but f (the fuzz target calls it on parsed bytes). */
impasto_status convert_gan_read(impasto_ctx *ctx, const pth_file *f, const char *path, const char *arch,
                                gan_gen_spec *spec, net **out, size_t *dropped);

/* The whole conversion: reads the checkpoint at path, writes out_path (kind "gan-generator"). */
impasto_status convert_gan(impasto_ctx *ctx, const char *path, const char *arch, const char *out_path);

#endif
