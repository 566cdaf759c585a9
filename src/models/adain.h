/* The AdaIN network (Huang & Belongie 2017): vgg_normalised up to relu4_1 as the encoder and its
 * mirror as the decoder, with the weights `impasto convert adain` writes (kind "adain"; tensor
 * names are naoto0804/pytorch-AdaIN's Sequential indices, see src/formats/convert_adain.c).
 *
 * Encoder: a 1x1 convolution 3 -> 3 (RGB 0..1 in, Caffe-preprocessed BGR out), then conv1_1 ...
 * conv4_1 of VGG-19, each 3x3 with reflection padding 1 and a ReLU, max pooling 2x2 stride 2 in
 * ceil mode after relu1_2, relu2_2 and relu3_4 (pytorch-AdaIN's MaxPool2d(ceil_mode=True)).
 * Decoder: nine 3x3 reflection-padded convolutions 512 -> 256 | x2 | 256 x3 -> 128 | x2 | 128 -> 64
 * | x2 | 64 -> 3, a ReLU after all but the last, nearest-neighbour x2 upsampling at the bars;
 * output RGB, nominally 0..1 (not clamped here). */
#ifndef IMPASTO_MODELS_ADAIN_H
#define IMPASTO_MODELS_ADAIN_H

#include "impasto.h"

#define ADAIN_ENC_CONVS 10
#define ADAIN_DEC_CONVS 9
#define ADAIN_FEAT_C 512

typedef struct adain_net {
    float *enc_w[ADAIN_ENC_CONVS], *enc_b[ADAIN_ENC_CONVS];  /* (OC, IC, K, K), (OC) */
    float *dec_w[ADAIN_DEC_CONVS], *dec_b[ADAIN_DEC_CONVS];
} adain_net;

struct safetensors;
/* Loads every tensor, checking its presence and shape (`path` names the file in messages). */
impasto_status adain_from_safetensors(impasto_ctx *ctx, const struct safetensors *st, const char *path,
                                      adain_net **out);
void adain_net_free(adain_net *net);

/* The smallest side the encoder takes: 5 -> 3 -> 2 -> 1 through the three ceil-mode poolings
 * (4 -> 2 -> 1 leaves a 1-pixel map for the third, which cannot be pooled). */
#define ADAIN_MIN_SIDE 5

/* x (3, H, W) RGB 0..1 -> *feat (512, FH, FW), malloc'd; FH = H halved three times, rounding up.
 * IMPASTO_ERR_INVALID_ARG for a side shorter than ADAIN_MIN_SIDE. */
impasto_status adain_encode(impasto_ctx *ctx, const adain_net *net, const float *x, int h, int w, float **feat,
                            int *fh, int *fw);
/* f (512, FH, FW) -> *img (3, 8 FH, 8 FW) RGB, malloc'd, unclamped. */
impasto_status adain_decode(impasto_ctx *ctx, const adain_net *net, const float *f, int fh, int fw, float **img);

/* The MD5 of the encoder's weights and biases as float32 in layer order (32 hex digits and a
 * NUL): what a genes file (methods/genes.c) records so statistics from another encoder are
 * refused. */
void adain_encoder_fingerprint(const adain_net *net, char hex[33]);

/* The LinearStyleTransfer relu3_1 pair (Li et al. 2019; kind "lst-r31", `impasto convert lst-r31`),
 * held in the same struct (its first 6 encoder and 5 decoder slots). Encoder: the 1x1 3 -> 3
 * preprocessing, conv1_1 .. conv3_1 with ZERO padding 1 and a ReLU each, max pooling 2x2 stride 2
 * in floor mode ('VALID') after relu1_2 and relu2_2. Decoder: 256 -> 128 | x2 | 128 -> 128 -> 64
 * | x2 | 64 -> 64 -> 3, zero padding, a ReLU after all but the last. */
#define LST_FEAT_C 256
#define LST_MIN_SIDE 4
impasto_status lst_from_safetensors(impasto_ctx *ctx, const struct safetensors *st, const char *path,
                                    adain_net **out);
/* x (3, H, W) RGB 0..1 -> *feat (256, H / 4, W / 4) (rounded down), malloc'd. */
impasto_status lst_encode(impasto_ctx *ctx, const adain_net *net, const float *x, int h, int w, float **feat,
                          int *fh, int *fw);
/* f (256, FH, FW) -> *img (3, 4 FH, 4 FW) RGB, malloc'd, unclamped. */
impasto_status lst_decode(impasto_ctx *ctx, const adain_net *net, const float *f, int fh, int fw, float **img);

#endif
