/* PyTorch checkpoints (.pth, .pt) read without Python and without running anything: the
 * state_dict's tensors, by name, as float32.
 *
 * Two layouts, after torch/serialization.py:
 *   - zip (torch.save since PyTorch 1.6): an archive with one top folder (any name) holding
 *     data.pkl (the pickled state_dict), data/<key> (each storage's raw little-endian bytes),
 *     version, and since 2.1 byteorder ("little"); read by formats/zip.c;
 *   - legacy (torch.save before 1.6, or _use_new_zipfile_serialization=False): five things one
 *     after another, four pickles and then raw records:
 *       the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, sys_info (a dict with
 *       little_endian), the state_dict, the list of storage keys; then for each key in that
 *       list an int64 element count and count * element size bytes.
 * The pickles go through the restricted unpickler (formats/pickle.c). The older tar layout
 * (PyTorch 0.1) is recognised and refused.
 *
 * The state_dict is the top-level dict when it holds tensors, else the dict under one of the
 * keys 'state_dict', 'model_state_dict', 'model', 'net', 'state' of a training checkpoint.
 * Entries that are not tensors are skipped; a "module." prefix on every name (nn.DataParallel)
 * is removed. */
#ifndef IMPASTO_FORMATS_PTH_H
#define IMPASTO_FORMATS_PTH_H

#include "formats/pickle.h"
#include "impasto.h"
#include <stddef.h>
#include <stdint.h>

/* Largest checkpoint read (whole, into memory), as for safetensors; and the largest data.pkl. */
#define PTH_MAX_FILE ((size_t)1 << 36)
#define PTH_MAX_PICKLE ((size_t)64 << 20)
/* Longest tensor name. */
#define PTH_MAX_NAME 1024

typedef struct pth_tensor {
    char *name;                    /* the state_dict key, e.g. "conv1.conv2d.weight" */
    pk_dtype dtype;
    int ndim;
    int64_t shape[TENSOR_MAX_DIMS];
    int64_t stride[TENSOR_MAX_DIMS];   /* in elements */
    int64_t offset;                /* elements from the start of data */
    size_t numel;                  /* product of shape (1 for a scalar) */
    const unsigned char *data;     /* the storage's (or legacy view's) first byte, in the file */
    size_t storage_numel;          /* elements there; offset + sum((shape-1)*stride) < this */
} pth_tensor;

typedef struct pth_file pth_file;

/* Reads and checks the whole checkpoint: every tensor of the state_dict has a storage in the
 * file of the right size (the zip entry's CRC-32 checked), and its shape, strides and offset stay
 * inside that storage. Errors name the file (and the tensor): IMPASTO_ERR_FORMAT for damage or
 * inconsistency, IMPASTO_ERR_UNSUPPORTED for what a state_dict never holds (a pickled class or
 * function, a compressed entry, a big-endian file). */
impasto_status pth_open(impasto_ctx *ctx, const char *path, pth_file **out);
/* The same over bytes in memory (copied). */
impasto_status pth_parse(impasto_ctx *ctx, const unsigned char *bytes, size_t size, const char *name_for_errors,
                         pth_file **out);
void pth_close(pth_file *f);

/* "zip" or "legacy". */
const char *pth_layout(const pth_file *f);
size_t pth_count(const pth_file *f);
const pth_tensor *pth_at(const pth_file *f, size_t i);
const pth_tensor *pth_find(const pth_file *f, const char *name);

/* Tensor t's numel values as contiguous float32 in row-major order of its shape (strides
 * honoured, so a transposed tensor comes out transposed); float16, bfloat16 and float64 are
 * converted. A tensor that is not floating point, or holds NaN or infinite values (after the
 * conversion), is IMPASTO_ERR_FORMAT naming the file and the tensor. */
impasto_status pth_get_f32(impasto_ctx *ctx, const pth_file *f, const pth_tensor *t, float *out);

#endif
