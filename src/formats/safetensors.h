/* safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header
 * length, a JSON header {"name": {"dtype","shape","data_offsets":[begin,end]}, "__metadata__":
 * {str: str}}, then the raw little-endian tensor bytes. impasto's one native weight format. */
#ifndef IMPASTO_FORMATS_SAFETENSORS_H
#define IMPASTO_FORMATS_SAFETENSORS_H

#include "impasto.h"
#include "core/limits.h"
#include <stddef.h>
#include <stdint.h>

typedef enum { ST_F32 = 0, ST_F16, ST_BF16, ST_U8, ST_I32, ST_I64 } st_dtype;

typedef struct st_tensor {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[TENSOR_MAX_DIMS];
    size_t nelem;
    const unsigned char *data;  /* points into the file's bytes */
    size_t nbytes;
} st_tensor;

typedef struct safetensors safetensors;

/* Reads and validates the whole file: header size and JSON, dtypes, shapes whose element counts
 * match their byte ranges, ranges inside the file and not overlapping. Any violation is
 * IMPASTO_ERR_FORMAT with a message naming the file and the problem (a PNG or JPEG image given
 * for a model is named as such). */
impasto_status safetensors_open(impasto_ctx *ctx, const char *path, safetensors **out);
/* The same, over bytes already in memory (copied). */
impasto_status safetensors_parse(impasto_ctx *ctx, const unsigned char *bytes, size_t size,
                                 const char *name_for_errors, safetensors **out);
void safetensors_close(safetensors *st);

size_t safetensors_count(const safetensors *st);
const st_tensor *safetensors_at(const safetensors *st, size_t i);
const st_tensor *safetensors_find(const safetensors *st, const char *name);
/* A "__metadata__" value, or NULL. */
const char *safetensors_meta(const safetensors *st, const char *key);

/* Copies tensor `name` into out as float32 (F32, F16 and BF16 are converted), after checking
 * that it exists and has exactly the expected shape (ndim dims); every model loader reads its
 * weights through here. A tensor holding NaN or +-Inf is IMPASTO_ERR_FORMAT, the message naming
 * the file and the tensor. */
impasto_status safetensors_get_f32(impasto_ctx *ctx, const safetensors *st, const char *name,
                                   int ndim, const int64_t *shape, float *out);
/* The conversion alone: t's nelem values as float32 into out, NaN and Inf kept as they are;
 * 0 (out untouched) when t is not F32, F16 or BF16. */
int safetensors_decode_f32(const st_tensor *t, float *out);

/* Writing. Tensors are written in the order given, float32 only. */
typedef struct st_write_tensor {
    const char *name;
    int ndim;
    int64_t shape[TENSOR_MAX_DIMS];
    const float *data;
} st_write_tensor;

/* meta: nmeta key/value pairs (meta[2i], meta[2i+1]). Written atomically. */
impasto_status safetensors_write(impasto_ctx *ctx, const char *path, const st_write_tensor *t,
                                 size_t n, const char *const *meta, size_t nmeta);

#endif
