/* Readers for the upstream VGG-19 weight files (see ../shared/README.md and docs/models.md):
 *  - the TensorFlow.js layers format (model.json + float32 shards), Keras kernels (H, W, I, O),
 *    BGR input, conv1_1 ... conv3_4 ("block1_conv1/kernel" ...);
 *  - the uint8 manifest (manifest.json + one file per tensor, md5 each), kernels stored
 *    (W, H, I, O), RGB input, float = min_value + scale * q, conv1_1 ... conv5_4.
 * Both produce impasto's layout: weight (OC, IC, 3, 3) with RGB input channels, bias (OC). */
#ifndef IMPASTO_FORMATS_VGG19_UPSTREAM_H
#define IMPASTO_FORMATS_VGG19_UPSTREAM_H

#include "impasto.h"

#include <stddef.h>

/* One convolution's weights from an upstream file, or absent. */
typedef struct vgg19_upstream_conv {
    int present;
    float *w, *b;        /* (OC, IC, 3, 3) RGB input order, (OC) */
    float w_step, b_step;  /* quantisation step of the source (0 for float32) */
} vgg19_upstream_conv;

typedef struct vgg19_upstream {
    vgg19_upstream_conv conv[16];
} vgg19_upstream;

/* Reads whichever format `dir` holds into u (convs not in the file stay absent). */
impasto_status vgg19_upstream_read(impasto_ctx *ctx, const char *dir, vgg19_upstream *u);
/* The same from manifest text already in memory (`text`, n bytes): the TensorFlow.js model.json
 * when tfjs is non-zero, else the uint8 manifest.json. The data files it lists are read from `dir`;
 * `mpath` names the manifest in messages. (The fuzz target's entry point.) */
impasto_status vgg19_upstream_parse(impasto_ctx *ctx, const char *dir, const char *mpath, const char *text,
                                    size_t n, int tfjs, vgg19_upstream *u);
void vgg19_upstream_clear(vgg19_upstream *u);

#endif
