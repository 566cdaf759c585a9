/* impasto_genes (include/impasto.h): the struct behind the handle, and what adain.c and wct.c
 * call (genes.c). */
#ifndef IMPASTO_METHODS_GENES_H
#define IMPASTO_METHODS_GENES_H

#include "impasto.h"
#include "models/adain.h"

#include <stdint.h>

struct safetensors;

struct impasto_genes {
    int c;              /* channels: 512 (relu4_1) */
    double *mean, *std; /* (512) each: AdaIN's moments of the painting's features */
    double *cov;        /* (512, 512) unbiased covariance (WCT), or NULL */
    char encoder[33];   /* adain_encoder_fingerprint of the encoder that read them */
    double *weights;    /* a child's parents' Dirichlet weights (nweights), else NULL */
    size_t nweights;
    uint64_t seed;
};

/* A genes file's tensors and metadata, checked (kind, encoder, shapes, finite, std > 0, mean
 * >= 0, covariance symmetric with a non-negative diagonal): IMPASTO_ERR_FORMAT naming `path`. */
impasto_status genes_parse(impasto_ctx *ctx, const struct safetensors *st, const char *path, impasto_genes **out);
/* IMPASTO_ERR_INVALID_ARG unless g was read by this encoder (style index k, for the message). */
impasto_status genes_check_encoder(impasto_ctx *ctx, const impasto_genes *g, const adain_net *net, size_t k);

#endif
