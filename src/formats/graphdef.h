/* TensorFlow GraphDef (a frozen graph, "*.pb") read with impasto's own protobuf reader.
 *
 * Messages and field numbers used (tensorflow/core/framework/ graph, node_def, attr_value, tensor, tensor_shape .proto):
 *   GraphDef         node = 1 (repeated NodeDef)
 *   NodeDef          name = 1, op = 2, input = 3 (repeated), attr = 5 (map<string, AttrValue>,
 *                    each entry a message with key = 1, value = 2)
 *   AttrValue        list = 1, s = 2, i = 3, f = 4, b = 5, type = 6, shape = 7, tensor = 8
 *   AttrValue.ListValue  i = 3 (packed int64)
 *   TensorProto      dtype = 1, tensor_shape = 2, tensor_content = 4, float_val = 5, int_val = 7,
 *                    int64_val = 10
 *   TensorShapeProto dim = 2 (repeated Dim), Dim size = 1
 * Everything else is skipped. Only what the converters need is kept: names, ops, inputs and the
 * attributes above; tensor_content points into the file's bytes, which the graph keeps. */
#ifndef IMPASTO_FORMATS_GRAPHDEF_H
#define IMPASTO_FORMATS_GRAPHDEF_H

#include "impasto.h"
#include "core/limits.h"

#include <stddef.h>
#include <stdint.h>

/* tensorflow DataType values. */
enum { TF_DT_FLOAT = 1, TF_DT_INT32 = 3, TF_DT_UINT8 = 4, TF_DT_INT64 = 9, TF_DT_QUINT8 = 12 };

typedef struct gd_tensor {
    int dtype;
    int ndim;
    int64_t shape[TENSOR_MAX_DIMS];
    size_t nelem;                   /* product of shape (checked against overflow) */
    const unsigned char *content;   /* tensor_content (raw little-endian), or NULL */
    size_t content_len;
    float *fval;                    /* float_val, nfval of them */
    size_t nfval;
    int64_t *ival;                  /* int_val / int64_val, nival of them */
    size_t nival;
} gd_tensor;

enum { GD_ATTR_NONE = 0, GD_ATTR_S, GD_ATTR_I, GD_ATTR_F, GD_ATTR_B, GD_ATTR_TYPE, GD_ATTR_SHAPE,
       GD_ATTR_TENSOR, GD_ATTR_LIST };

typedef struct gd_attr {
    char *key;
    int kind;           /* GD_ATTR_*: which of the values below is set */
    char *s;            /* S (NUL-terminated copy) */
    int64_t i;          /* I, B, TYPE */
    float f;            /* F */
    gd_tensor *tensor;  /* TENSOR */
    int64_t *list_i;    /* LIST: its int entries */
    size_t nlist_i;
} gd_attr;

typedef struct gd_node {
    char *name, *op;
    char **inputs;      /* as written: "node", "node:1" or "^node" (control) */
    size_t ninputs;
    gd_attr *attrs;
    size_t nattrs;
} gd_node;

typedef struct graphdef {
    unsigned char *bytes;  /* the file, owned */
    size_t size;
    gd_node *nodes;
    size_t nnodes;
    char source[256];      /* file name for messages */
} graphdef;

/* Reads and parses a frozen graph (at most GD_MAX_FILE, 1 GB). IMPASTO_ERR_FORMAT names the
 * file and the problem for any malformed input. */
impasto_status graphdef_open(impasto_ctx *ctx, const char *path, graphdef **out);
/* The same over bytes in memory (copied). */
impasto_status graphdef_parse(impasto_ctx *ctx, const unsigned char *bytes, size_t size,
                              const char *name_for_errors, graphdef **out);
void graphdef_free(graphdef *g);

/* A node by name; "name:1" and "^name" find "name". NULL if absent. */
const gd_node *graphdef_find(const graphdef *g, const char *name);
const gd_attr *gd_node_attr(const gd_node *n, const char *key);

/* The float32 value of a node's output 0: a float Const (tensor_content, or float_val with the
 * last value repeated as TensorFlow fills it), an Identity of one, or a quint8 Dequantize in
 * mode MIN_FIRST whose three inputs are Consts (TensorFlow's formula, dequantize_op.cc with
 * quantization_utils.h QuantizedToFloatStruct, computed in float as it does):
 *   scale = (float)((max - min) / 255.0),  min' = round(min / scale) * scale,
 *   value = min' + q * scale.
 * *out is malloc'd (nelem floats); shape in *ndim, shape[TENSOR_MAX_DIMS]. */
impasto_status graphdef_tensor_f32(impasto_ctx *ctx, const graphdef *g, const char *name,
                                   float **out, int *ndim, int64_t *shape);

#endif
