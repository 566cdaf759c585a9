/* ncnn's model files (https://github.com/Tencent/ncnn, "param and model file structure" in its
 * wiki): a network description ("param") and its weights ("bin").
 *
 * Binary param (what ncnn2mem writes as *.param.bin), all little-endian int32:
 *   magic 7767517, layer_count, blob_count, then per layer:
 *   type (an index into ncnn's layer registry, e.g. 6 = Convolution), bottom_count, top_count,
 *   bottom blob indices, top blob indices, then the parameter dictionary: pairs (id, value) with
 *   id 0..31 and a 4-byte int or float value, or an array (key -23300 - id, count, count values),
 *   ended by -233.
 *
 * Weights: the layers' blobs back to back, in layer order, as each layer's load_model reads them.
 * A blob read "with a tag" starts with 4 bytes saying how it is stored: 0x01306B47 float16
 * (padded to 4 bytes), 0x000D4B38 int8 (padded), 0x0002C056 float32, all four bytes 0 float32,
 * any other value a 256-entry float32 table followed by one uint8 index per value (padded). Blobs
 * read without a tag (biases, norm parameters) are plain float32. */
#ifndef IMPASTO_FORMATS_NCNN_H
#define IMPASTO_FORMATS_NCNN_H

#include "impasto.h"
#include <stddef.h>
#include <stdint.h>

#define NCNN_MAGIC 7767517
#define NCNN_MAX_PARAM_ID 32    /* ids 0..31, as ncnn's ParamDict */

/* Layer type indices of ncnn's registry (src/layer_type.h order) that impasto reads. */
enum {
    NCNN_CONVOLUTION = 6,
    NCNN_INPUT = 16,
    NCNN_RELU = 26,
    NCNN_SPLIT = 33,
    NCNN_BINARYOP = 40,
    NCNN_PADDING = 43,
    NCNN_INTERP = 50,
    NCNN_INSTANCENORM = 53,
};

typedef struct ncnn_param {
    int present;
    int is_array;
    uint32_t raw;                /* the 4-byte value, read as int or float by the layer */
    uint32_t count;              /* array: number of values */
    const unsigned char *array;  /* array: count 4-byte values, inside the param bytes */
} ncnn_param;

typedef struct ncnn_layer {
    int type;
    int nbottom, ntop;
    int *bottom, *top;           /* blob indices, each < blob_count */
    ncnn_param param[NCNN_MAX_PARAM_ID];
} ncnn_layer;

typedef struct ncnn_net {
    int nlayers, nblobs;
    ncnn_layer *layers;          /* nlayers */
    int *blob_refs;              /* storage behind every layer's bottom and top */
    unsigned char *bytes;        /* the param file (arrays point into it) */
} ncnn_net;

/* Parses a binary param file held in memory (`name` for messages). Every count is bounded, every
 * index checked, and the file must end exactly after the last layer. */
impasto_status ncnn_param_parse(impasto_ctx *ctx, const unsigned char *bytes, size_t size,
                                const char *name, ncnn_net *out);
impasto_status ncnn_param_load(impasto_ctx *ctx, const char *path, ncnn_net *out);
void ncnn_net_clear(ncnn_net *net);

/* A registry name for messages ("Convolution", or "type 77"); buf holds the latter. */
const char *ncnn_type_name(int type, char *buf, size_t cap);

int ncnn_param_int(const ncnn_layer *l, int id, int def);
float ncnn_param_float(const ncnn_layer *l, int id, float def);

/* Reading the weights file in order. */
typedef struct ncnn_bin {
    const unsigned char *data;
    size_t size, pos;
    const char *name;            /* for messages */
} ncnn_bin;

/* Reads n values into out (n floats) at the cursor: with_tag selects ncnn's tagged blob (a
 * weight) or plain float32 (a bias). Reading past the end, int8 data (which needs scales from
 * elsewhere) or n overflowing are errors naming `what` and the byte offset. */
impasto_status ncnn_bin_read(impasto_ctx *ctx, ncnn_bin *b, size_t n, int with_tag, const char *what,
                             float *out);

/* IEEE 754 half -> float (subnormals, infinities and NaN included). */
float ncnn_half_to_float(uint16_t h);

#endif
