/* The adversarial term of impasto_train (impasto_train_options.adversarial_weight): a PatchGAN
 * discriminator (the reference's 70x70 "basic", instance norm, LSGAN) that judges TransformerNet's
 * outputs against crops of the style image or of a folder of paintings, beside the perceptual
 * losses. Judging local patches rather than the whole picture is the Markovian discriminator of
 * Li & Wand 2016 ("Precomputed Real-Time Texture Synthesis with Markovian Generative Adversarial
 * Networks"), here on pixels as pix2pix's PatchGAN does rather than on VGG features.
 *
 * Per step, as CycleGAN orders its updates: the generator's loss adds
 *   weight / B * sum_b mean((D(y_b) - 1)^2)    (D frozen; y scaled from 0..255 to [-1, 1])
 * to the perceptual losses; after its Adam step, D takes one on
 *   1 / B * sum_b 0.5 (mean((D(r_b) - 1)^2) + mean(D(y_b)^2))
 * with r_b a random S x S crop of a real painting and y_b the outputs of that step (before the
 * generator's update). D's Adam: 2e-4, betas (0.5, 0.999), torch.optim's form, as the reference. */
#ifndef IMPASTO_METHODS_TRAIN_ADV_H
#define IMPASTO_METHODS_TRAIN_ADV_H

#include "impasto.h"
#include "models/net.h"
#include "optim/optim.h"

#include <stdint.h>

#define TRAIN_ADV_NDF 64        /* the reference's ndf */
#define TRAIN_ADV_LR 2e-4       /* the reference's GAN learning rate and beta1 */
#define TRAIN_ADV_BETA1 0.5

typedef struct train_adv train_adv;

/* The discriminator declared (weights zero: train_adv_init or a checkpoint sets them) and its
 * Adam state, with the pictures it calls real: `paintings` (n files, each resized so its shorter
 * side is `size`) or, when n is 0, the style image (resized up if a side is below `size`). `workers`
 * plans of S x S with `threads` each serve the generator's passes; one with all_threads the
 * discriminator's step. */
impasto_status train_adv_create(impasto_ctx *ctx, const impasto_image *style, const char *const *paintings, size_t n,
                                int size, int batch, int workers, int threads, int all_threads, train_adv **out);
void train_adv_free(train_adv *a);
/* The reference's init_weights('normal', 0.02) from the seed. */
void train_adv_init(train_adv *a, uint64_t seed);
net *train_adv_net(train_adv *a);
adam_state *train_adv_adam(train_adv *a);

/* Worker k's share of the generator's step for image b of the batch: y (3, S, S) 0..255 the
 * network's output; adds weight * d/dy of mean((D(y') - 1)^2) to dy (3, S, S) and returns that
 * loss times weight; keeps y for the discriminator's step. Runs beside the other workers. */
impasto_status train_adv_generator(train_adv *a, int k, int b, const float *y, double weight, float *dy,
                                   double *loss);
/* The discriminator's gradient over this process's outputs kept this step: slots b = first,
 * first + stride, ... below nb (all of them alone; a share of them in a process group), each
 * beside a real crop drawn from the stream rng_stream(seed, kind, step * batch + b). Leaves the
 * gradient in the discriminator's grads (weighted for the whole batch of nb) and its loss (mean
 * over the batch, this process's share) in *loss; train_adv_discriminator_update then steps. */
impasto_status train_adv_discriminator_grads(impasto_ctx *ctx, train_adv *a, int nb, int first, int stride,
                                             uint64_t seed, uint64_t kind, uint64_t step, double *loss);
/* Adam's step on the discriminator's gradient (summed over the group by then). */
impasto_status train_adv_discriminator_update(impasto_ctx *ctx, train_adv *a);

#endif
