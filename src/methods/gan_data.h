/* The pictures a GAN trains on, as junyanz/pytorch-CycleGAN-and-pix2pix prepares them (its
 * data/base_dataset.py, preprocess "resize_and_crop"): each picture resized to load x load (the
 * aspect is not kept, as there), then per step a random crop x crop and a horizontal flip with
 * probability one half, scaled to [-1, 1]. Pictures are decoded once and kept as 8-bit RGB.
 *
 * pix2pix's pairs come from an A|B picture cut in two halves (its aligned datasets; both halves get
 * the same crop and flip), or are made from a photo: IMPASTO_PAIRS_COLORIZE pairs its grey version
 * (ITU-R BT.601 luma, in all three channels) with it, IMPASTO_PAIRS_EDGES its edge drawing (dark
 * lines on white, from the Sobel gradient of the blurred grey picture, as edges2shoes draws them)
 * with it. */
#ifndef IMPASTO_METHODS_GAN_DATA_H
#define IMPASTO_METHODS_GAN_DATA_H

#include "impasto.h"

#include <stddef.h>
#include <stdint.h>

typedef struct gan_picture {
    unsigned char *rgb;  /* (load, load, 3) */
} gan_picture;

typedef struct gan_domain {
    gan_picture *pics;
    size_t n;
    int load;
} gan_domain;

/* Loads n pictures resized to load x load into d. A picture that cannot be read fails naming it;
 * for IMPASTO_PAIRS_AB the left halves go to d and the right halves to `b` (one picture of odd
 * width fails naming it), for COLORIZE and EDGES the made A sides to d and the photos to b;
 * b is NULL for a plain domain (pairs ignored). */
impasto_status gan_domain_load(impasto_ctx *ctx, const char *const *paths, size_t n, int load,
                               impasto_pairs pairs, gan_domain *d, gan_domain *b);
void gan_domain_free(gan_domain *d);

/* A crop and flip drawn from *rng: the same for both sides of a pair. */
typedef struct gan_aug {
    int x, y, flip;
} gan_aug;

gan_aug gan_aug_draw(int load, int crop, int no_flip, uint64_t *rng);
/* Picture p cropped and flipped by a into x (3, crop, crop), in [-1, 1]. */
void gan_aug_apply(const gan_picture *p, int load, int crop, gan_aug a, float *x);

/* What pix2pix's generator is given for a picture (previews, the A side the training pairs make):
 * the left half of an A|B picture, the grey version (COLORIZE), the edge drawing (EDGES), as a new
 * 3-channel image. */
impasto_status gan_a_side(impasto_ctx *ctx, const impasto_image *img, impasto_pairs pairs, impasto_image **out);

/* The edge drawing of an RGB picture (w x h x 3, 8-bit) in place of its pixels: exposed for tests. */
void gan_edges(unsigned char *rgb, int w, int h);

/* The history of fakes the discriminators see (Shrivastava et al. 2017; the reference's ImagePool):
 * while fewer than `size` are kept, each new fake is kept and returned; then with probability one
 * half a random kept one is returned and replaced by the new, else the new is returned. size 0
 * returns every fake as it is. */
typedef struct gan_pool {
    int size, count;
    size_t floats;       /* per image */
    float *images;       /* (size, floats) */
} gan_pool;

impasto_status gan_pool_init(impasto_ctx *ctx, gan_pool *p, int size, size_t floats);
void gan_pool_free(gan_pool *p);
/* fake (floats) -> out (floats): what the discriminator sees. out may not alias fake. */
void gan_pool_query(gan_pool *p, const float *fake, float *out, uint64_t *rng);

#endif
