/* The generators and discriminators of CycleGAN (Zhu, Park, Isola & Efros 2017, "Unpaired
 * Image-to-Image Translation using Cycle-Consistent Adversarial Networks") and pix2pix (Isola, Zhu,
 * Zhou & Efros 2017, "Image-to-Image Translation with Conditional Adversarial Networks"), layer for
 * layer as junyanz/pytorch-CycleGAN-and-pix2pix builds them (models/networks.py), with its
 * state_dict names, so its published generators (latest_net_G.pth) run once converted:
 *
 *   resnet_<n>blocks  ReflectionPad(3) conv7 ngf, norm, ReLU; two conv3/2 (x2 channels), norm, ReLU;
 *                     n residual blocks x + norm(conv3(ReLU(norm(conv3(x))))) (reflection padding,
 *                     dropout between when asked); two transposed conv3/2 (output padding 1), norm,
 *                     ReLU; ReflectionPad(3) conv7 to the output, tanh.      names model.<i>...
 *   unet_<size>       num_downs nested skip blocks (7 for 128, 8 for 256): LeakyReLU(0.2), conv4/2,
 *                     norm, the inner block, ReLU, transposed conv4/2, norm, dropout (the blocks of
 *                     ngf*8 channels between the three outer ones and the innermost), and the
 *                     block's input concatenated in front of its output. The reference's LeakyReLU
 *                     works in place, so the input it concatenates has been through it: kept here.
 *                     names model.model.0, model.model.1.model.1, ...
 *   basic (PatchGAN)  conv4/2 ndf, LeakyReLU(0.2); n_layers - 1 of conv4/2 (channels x2, up to x8),
 *                     norm, LeakyReLU; conv4/1, norm, LeakyReLU; conv4/1 to 1 channel: a 70x70
 *                     receptive field for 3 layers.                          names model.<i>
 *   pixel (1x1 PatchGAN) conv1 ndf, LeakyReLU, conv1 2ndf, norm, LeakyReLU, conv1 1.  names net.<i>
 *
 * Convolutions followed by a norm have a bias only with instance norm (the reference's use_bias);
 * instance norms are not affine; batch norms are, with running statistics. Images are RGB in
 * [-1, 1]; generators end in tanh, discriminators give raw scores (logits). */
#ifndef IMPASTO_MODELS_GAN_NETS_H
#define IMPASTO_MODELS_GAN_NETS_H

#include "models/net.h"

typedef enum { GAN_NORM_INSTANCE = 0, GAN_NORM_BATCH, GAN_NORM_NONE } gan_norm;

typedef enum { GAN_G_RESNET = 0, GAN_G_UNET } gan_gen_kind;
typedef enum { GAN_D_BASIC = 0, GAN_D_NLAYERS, GAN_D_PIXEL } gan_disc_kind;

typedef struct gan_gen_spec {
    gan_gen_kind kind;
    int in_c, out_c, ngf;
    int depth;          /* resnet: residual blocks; unet: num_downs */
    gan_norm norm;
    int dropout;        /* dropout 0.5 in the residual blocks / the ngf*8 U-Net blocks */
} gan_gen_spec;

typedef struct gan_disc_spec {
    gan_disc_kind kind;
    int in_c, ndf;
    int n_layers;       /* basic: 3 */
    gan_norm norm;
} gan_disc_spec;

/* "resnet_9blocks", "resnet_6blocks", "unet_256", "unet_128" (and "resnet_<n>blocks" for any n
 * 1..64, "unet_<2^k>" for 32..1024) -> spec with the reference's defaults for the other fields
 * left as given; 0, or -1 for an unknown name. */
int gan_gen_parse(const char *name, gan_gen_spec *spec);
/* The name of a spec ("resnet_9blocks", "unet_256"), into buf. */
void gan_gen_name(const gan_gen_spec *spec, char *buf, size_t size);
/* The side a generator's input must be a multiple of (4 for resnet, 2^num_downs for unet). */
int gan_gen_multiple(const gan_gen_spec *spec);

impasto_status gan_generator_create(impasto_ctx *ctx, const gan_gen_spec *spec, net **out);
/* The same with at most max_floats floats of parameters and running statistics (net_count_floats),
 * else IMPASTO_ERR_FORMAT before allocating them: a file's metadata cannot ask for more memory
 * than its tensors could fill. */
impasto_status gan_generator_create_bounded(impasto_ctx *ctx, const gan_gen_spec *spec, size_t max_floats,
                                            net **out);
impasto_status gan_discriminator_create(impasto_ctx *ctx, const gan_disc_spec *spec, net **out);

#endif
