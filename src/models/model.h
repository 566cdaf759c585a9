/* The type behind impasto_model: a converted network of a known kind. */
#ifndef IMPASTO_MODELS_MODEL_H
#define IMPASTO_MODELS_MODEL_H

#include "impasto.h"
#include "models/adain.h"
#include "models/vgg19.h"

struct impasto_model {
    char kind[32];     /* the safetensors metadata "kind": "vgg19", "adain", "lst-r31" */
    vgg19 *vgg;        /* kind "vgg19" */
    adain_net *adain;  /* kind "adain" */
    adain_net *lst;    /* kind "lst-r31" */
};

#endif
