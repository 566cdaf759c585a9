/* A restricted unpickler for PyTorch state_dicts: it understands the few things torch.save puts in
 * a checkpoint of weights (dicts and OrderedDicts, strings, numbers, tuples and lists, tensors
 * rebuilt from storages) and refuses everything else with one line naming the opcode or the
 * global. It never runs anything: a "call" (REDUCE) is only ever one of the five callables below,
 * interpreted here, and any other global (os.system, builtins.eval, a model's class) is refused
 * the moment it is named.
 *
 * Reference: the pickle protocol as CPython's Lib/pickletools.py documents each opcode (protocols
 * 2 to 5), and torch/serialization.py and torch/_utils.py for what torch.save writes:
 *   - a storage is a persistent id (BINPERSID) of the tuple
 *       ('storage', torch.<Type>Storage, key, location, numel)              (zip format)
 *       ('storage', torch.<Type>Storage, key, location, numel, view)         (legacy format,
 *        view None or (view_key, offset, numel) for a window of the storage)
 *   - a tensor is REDUCE of torch._utils._rebuild_tensor_v2 on
 *       (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]),
 *     or of torch._utils._rebuild_tensor on (storage, storage_offset, size, stride) (PyTorch 0.3);
 *   - a parameter is REDUCE of torch._utils._rebuild_parameter on (tensor, requires_grad, hooks);
 *   - the state_dict is REDUCE of collections.OrderedDict on () followed by SETITEMS, and a BUILD
 *     that sets its _metadata attribute (ignored here); Python 2 pickled it as REDUCE on a list
 *     of [key, value] pairs.
 * Offsets, sizes and strides are counted in elements, as torch counts them. */
#ifndef IMPASTO_FORMATS_PICKLE_H
#define IMPASTO_FORMATS_PICKLE_H

#include "impasto.h"
#include "core/limits.h" /* TENSOR_MAX_DIMS: a tensor's dimensions, as safetensors and GraphDef */
#include <stddef.h>
#include <stdint.h>

/* Limits, each far above what a state_dict of any network needs (candy's pickle: 10 KB, about
 * 2000 objects, nesting 4 deep). */
#define PK_MAX_STACK ((size_t)1 << 20)         /* values on the stack at once */
#define PK_MAX_MARKS 256                       /* MARKs open at once: the nesting depth */
#define PK_MAX_MEMO ((size_t)1 << 20)          /* memo indices 0 .. PK_MAX_MEMO - 1 */
#define PK_MAX_STRING ((size_t)1 << 20)        /* bytes of one string */
#define PK_MAX_OBJECTS ((size_t)1 << 21)       /* values made by one pickle */
#define PK_MAX_ITEMS ((size_t)1 << 23)         /* items in all its containers together (an
                                                  OrderedDict made from a list copies it, so
                                                  without this a small pickle could ask for
                                                  quadratic memory) */
#define PK_MAX_NAME 128                        /* a global's module or name */
#define PK_MAX_KEY 64                          /* a storage key */
#define PK_MAX_BIGINT 16                       /* bytes of a LONG1 integer (torch's magic has 10) */
#define PK_MAX_STORAGE_BYTES ((uint64_t)1 << 40)  /* one storage: 1 TB is absurd for weights */

typedef enum {
    PK_DT_F32 = 0, PK_DT_F16, PK_DT_BF16, PK_DT_F64, PK_DT_I64, PK_DT_I32, PK_DT_I16, PK_DT_I8, PK_DT_U8,
    PK_DT_BOOL
} pk_dtype;

/* "float32", "float16", ... as torch names them; bytes per element. */
const char *pk_dtype_name(pk_dtype d);
size_t pk_dtype_size(pk_dtype d);

typedef enum {
    PK_NONE = 0, PK_BOOL, PK_INT, PK_BIGINT, PK_FLOAT, PK_STR, PK_TUPLE, PK_LIST, PK_DICT,
    PK_GLOBAL,   /* one of the allowed callables or storage types */
    PK_STORAGE,  /* a storage (pickle.storages[i]) */
    PK_TENSOR,   /* a tensor (pickle.tensors[i]) */
    PK_DEVICE    /* a torch.device: kept only as a value nobody reads */
} pk_type;

typedef struct pk_obj {
    pk_type type;
    int64_t i;                   /* PK_INT, PK_BOOL: the value; PK_GLOBAL: which; PK_STORAGE,
                                    PK_TENSOR: the table index */
    double f;                    /* PK_FLOAT */
    const unsigned char *s;      /* PK_STR (UTF-8), PK_BIGINT (little-endian two's complement):  */
    size_t len;                  /*   len bytes inside the pickle's bytes */
    uint32_t *items;             /* PK_TUPLE, PK_LIST: n object ids; PK_DICT: n / 2 (key, value) */
    uint32_t n, cap;             /*   pairs, in the order they were set */
} pk_obj;

typedef struct pk_storage {
    const unsigned char *key;    /* the storage's name: the zip entry data/<key>, or the legacy */
    size_t key_len;              /*   file's record key; [A-Za-z0-9_], inside the pickle's bytes */
    pk_dtype dtype;
    uint64_t numel;              /* elements of the whole storage */
    uint64_t view_offset;        /* legacy views: the window tensors index, in elements; */
    uint64_t view_numel;         /*   else 0 and numel */
} pk_storage;

typedef struct pk_tensor {
    uint32_t storage;            /* index into pickle.storages */
    int ndim;
    int64_t offset;              /* elements from the start of the storage (its view) */
    int64_t shape[TENSOR_MAX_DIMS];  /* all >= 0 */
    int64_t stride[TENSOR_MAX_DIMS]; /* all >= 0, in elements */
} pk_tensor;

typedef struct pickle {
    pk_obj *obj;                 /* nobj values; ids index this array */
    size_t nobj, cap_obj;
    pk_storage *storages;
    size_t nstorages, cap_storages;
    pk_tensor *tensors;
    size_t ntensors, cap_tensors;
    uint32_t root;               /* the value STOP returned */
    size_t end;                  /* bytes read, through STOP */
} pickle;

/* Runs the pickle in bytes[0..size) up to its STOP (later bytes are left for the caller: the
 * legacy format puts several pickles one after another). Strings point into `bytes`, which must
 * outlive pk. Anything the checkpoint does not need, and anything malformed, is refused with a
 * message naming `file` and the byte offset: IMPASTO_ERR_UNSUPPORTED for an opcode or global a
 * state_dict never uses, IMPASTO_ERR_FORMAT for a damaged, truncated or oversized pickle. */
impasto_status pickle_load(impasto_ctx *ctx, const unsigned char *bytes, size_t size, const char *file,
                           pickle *pk);
void pickle_free(pickle *pk);

const pk_obj *pk_get(const pickle *pk, uint32_t id);
/* 1 when o is the string s. */
int pk_str_is(const pk_obj *o, const char *s);
/* The value under string key `key` of dict d, or NULL. */
const pk_obj *pk_dict_get(const pickle *pk, const pk_obj *d, const char *key);
/* A short description of a value's type for messages ("a string", "a list", "a tensor"). */
const char *pk_type_name(pk_type t);

#endif
