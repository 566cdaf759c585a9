/* PyTorch checkpoints (pth.h): the two layouts torch.save writes, down to a list of named
 * tensors whose storages are checked to be in the file and large enough.
 *
 * Everything the pickle says is checked against the bytes that are really there before any
 * tensor is handed out: a storage's size against its zip entry or legacy record, each tensor's
 * offset, shape and strides against its storage (overflow-checked), so pth_get_f32 can index
 * without further checks. */
#include "formats/pth.h"
#include "core/ctx.h"
#include "core/fileio.h"
#include "formats/zip.h"
#include "formats/safetensors.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pth_file {
    char *name;            /* the file, for messages */
    unsigned char *bytes;  /* the whole file; tensors point into it */
    size_t size;
    int legacy;
    pth_tensor *t;
    size_t n;
};

/* torch.save's legacy magic number 0x1950a86a20f9469cfc6c, as LONG1 stores it (little-endian). */
static const unsigned char legacy_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
#define LEGACY_PROTOCOL_VERSION 1001

/* Keys under which training checkpoints keep their state_dict, tried in this order. */
static const char *const state_dict_keys[] = {"state_dict", "model_state_dict", "model", "net", "state"};
#define NUM_STATE_DICT_KEYS (sizeof state_dict_keys / sizeof state_dict_keys[0])

/* "(a, b, c)" into buf, for messages. */
static const char *dims_str(char *buf, size_t cap, int ndim, const int64_t *v) {
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)v[i]);
    if (k < cap) snprintf(buf + k, cap - k, ")");
    return buf;
}

static void free_tensors(pth_tensor *t, size_t n) {
    for (size_t i = 0; i < n; i++) free(t[i].name);
    free(t);
}

void pth_close(pth_file *f) {
    if (!f) return;
    free_tensors(f->t, f->n);
    free(f->bytes);
    free(f->name);
    free(f);
}

/* ---- the state_dict ----------------------------------------------------------------------- */

static int has_tensor(const pickle *pk, const pk_obj *d) {
    if (!d || d->type != PK_DICT) return 0;
    for (uint32_t i = 0; i + 1 < d->n; i += 2)
        if (pk_get(pk, d->items[i + 1])->type == PK_TENSOR) return 1;
    return 0;
}

/* The dict holding the tensors (pth.h), or NULL after saying why. */
static const pk_obj *find_state_dict(impasto_ctx *ctx, const char *file, const pickle *pk) {
    const pk_obj *root = pk_get(pk, pk->root);
    if (root->type != PK_DICT) {
        ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s holds %s, not a state_dict", file, pk_type_name(root->type));
        return NULL;
    }
    if (has_tensor(pk, root)) return root;
    for (size_t k = 0; k < NUM_STATE_DICT_KEYS; k++) {
        const pk_obj *d = pk_dict_get(pk, root, state_dict_keys[k]);
        if (has_tensor(pk, d)) return d;
    }
    char keys[200] = "";
    size_t len = 0;
    for (uint32_t i = 0; i + 1 < root->n && len + 1 < sizeof keys; i += 2) {
        const pk_obj *k = pk_get(pk, root->items[i]);
        if (k->type != PK_STR) continue;
        len += (size_t)snprintf(keys + len, sizeof keys - len, "%s'%.*s'", len ? ", " : "",
                                (int)(k->len < 40 ? k->len : 40), (const char *)k->s);
    }
    ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s holds no tensors: neither its top-level dict nor a 'state_dict' or "
             "'model' entry in it is a state_dict (its keys: %s)", file, len ? keys : "none");
    return NULL;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const pth_tensor *const *)a)->name, (*(const pth_tensor *const *)b)->name);
}

/* The named tensors of the state_dict, with their pickle tensors' geometry; storages are bound
 * later (bind_*). storage_of[i] is tensor i's index into pk->storages. */
static impasto_status collect(impasto_ctx *ctx, pth_file *f, const pickle *pk, uint32_t **storage_of) {
    const pk_obj *d = find_state_dict(ctx, f->name, pk);
    if (!d) return IMPASTO_ERR_FORMAT;
    size_t n = 0;
    for (uint32_t i = 0; i + 1 < d->n; i += 2) n += pk_get(pk, d->items[i + 1])->type == PK_TENSOR;
    f->t = calloc(n ? n : 1, sizeof *f->t);
    *storage_of = calloc(n ? n : 1, sizeof **storage_of);
    if (!f->t || !*storage_of) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", f->name);
    int all_module = 1;
    for (uint32_t i = 0; i + 1 < d->n; i += 2) {
        const pk_obj *k = pk_get(pk, d->items[i]), *v = pk_get(pk, d->items[i + 1]);
        if (v->type != PK_TENSOR) continue;
        if (k->type != PK_STR || k->len == 0 || k->len > PTH_MAX_NAME || memchr(k->s, 0, k->len))
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: a tensor of the state_dict has no proper name", f->name);
        pth_tensor *t = &f->t[f->n];
        if (!(t->name = malloc(k->len + 1))) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", f->name);
        memcpy(t->name, k->s, k->len);
        t->name[k->len] = 0;
        const pk_tensor *pt = &pk->tensors[v->i];
        t->dtype = pk->storages[pt->storage].dtype;
        t->ndim = pt->ndim;
        memcpy(t->shape, pt->shape, sizeof t->shape);
        memcpy(t->stride, pt->stride, sizeof t->stride);
        t->offset = pt->offset;
        (*storage_of)[f->n++] = pt->storage;
        all_module &= strncmp(t->name, "module.", 7) == 0 && t->name[7];
    }
    /* nn.DataParallel saves every name under "module.". */
    for (size_t i = 0; all_module && i < f->n; i++) memmove(f->t[i].name, f->t[i].name + 7, strlen(f->t[i].name + 7) + 1);
    const pth_tensor **sorted = malloc((f->n ? f->n : 1) * sizeof *sorted);
    if (!sorted) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", f->name);
    for (size_t i = 0; i < f->n; i++) sorted[i] = &f->t[i];
    qsort(sorted, f->n, sizeof *sorted, cmp_name);
    impasto_status s = IMPASTO_OK;
    for (size_t i = 1; i < f->n && s == IMPASTO_OK; i++)
        if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0)
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%.200s' appears twice in the state_dict", f->name,
                         sorted[i]->name);
    free(sorted);
    return s;
}

/* Gives tensor t its storage's bytes (numel elements at data) after checking that every element
 * its offset, shape and strides reach lies inside them. */
static impasto_status bind(impasto_ctx *ctx, const pth_file *f, pth_tensor *t, const unsigned char *data,
                           uint64_t numel) {
    uint64_t count = 1, last = (uint64_t)t->offset;
    int overflow = 0, empty = 0;
    for (int d = 0; d < t->ndim; d++) {
        uint64_t reach;
        empty |= t->shape[d] == 0;
        overflow |= __builtin_mul_overflow(count, (uint64_t)t->shape[d], &count);
        if (t->shape[d] == 0) continue;
        overflow |= __builtin_mul_overflow((uint64_t)t->shape[d] - 1, (uint64_t)t->stride[d], &reach);
        overflow |= __builtin_add_overflow(last, reach, &last);
    }
    /* An empty tensor reaches nothing (its other sizes may be anything); any other must keep
     * its last element, and its element count, inside the storage without overflowing. */
    if (empty) count = 0;
    else if (overflow || last >= numel) {
        char a[160], b[160];
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%.200s' of shape %s and strides %s at offset %lld runs "
                        "past its storage of %llu elements", f->name, t->name, dims_str(a, sizeof a, t->ndim, t->shape),
                        dims_str(b, sizeof b, t->ndim, t->stride), (long long)t->offset, (unsigned long long)numel);
    }
    if (count > numel)
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: tensor '%.200s' has more elements than its storage (an "
                        "expanded view), which a state_dict of weights never holds", f->name, t->name);
    t->numel = (size_t)count;
    t->data = data;
    t->storage_numel = (size_t)numel;
    return IMPASTO_OK;
}

/* ---- zip layout ------------------------------------------------------------------------- */

static impasto_status bind_zip(impasto_ctx *ctx, pth_file *f, zip_archive *z, const char *prefix, const pickle *pk,
                               const uint32_t *storage_of) {
    impasto_status s = IMPASTO_OK;
    for (size_t i = 0; i < f->n && s == IMPASTO_OK; i++) {
        const pk_storage *st = &pk->storages[storage_of[i]];
        char entry[PK_MAX_KEY + 300];
        snprintf(entry, sizeof entry, "%s/data/%.*s", prefix, (int)st->key_len, (const char *)st->key);
        zip_entry *e = zip_find(z, entry);
        if (!e)
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%.200s' needs storage '%.*s', which the archive "
                            "lacks", f->name, f->t[i].name, (int)st->key_len, (const char *)st->key);
        const unsigned char *data;
        size_t size;
        if ((s = zip_read(ctx, z, e, &data, &size)) != IMPASTO_OK) return s;
        const size_t es = pk_dtype_size(st->dtype);
        if (size / es != st->numel || size % es)
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: storage '%.*s' of tensor '%.200s' holds %zu bytes, not the "
                            "%llu %s values the pickle says", f->name, (int)st->key_len, (const char *)st->key,
                            f->t[i].name, size, (unsigned long long)st->numel, pk_dtype_name(st->dtype));
        s = bind(ctx, f, &f->t[i], data + st->view_offset * es, st->view_numel);
    }
    return s;
}

/* The top folder: the one entry named "<folder>/data.pkl". */
static impasto_status find_prefix(impasto_ctx *ctx, const pth_file *f, const zip_archive *z, char *prefix,
                                  size_t cap) {
    size_t found = 0;
    for (size_t i = 0; i < z->n; i++) {
        const char *nm = z->e[i].name, *slash = strchr(nm, '/');
        if (!slash || slash == nm || strcmp(slash, "/data.pkl") != 0) continue;
        if (++found > 1)
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the archive holds more than one data.pkl", f->name);
        if ((size_t)(slash - nm) >= cap)
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the archive's folder name is too long", f->name);
        memcpy(prefix, nm, (size_t)(slash - nm));
        prefix[slash - nm] = 0;
    }
    if (!found)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: a zip archive without data.pkl: not a PyTorch checkpoint",
                        f->name);
    return IMPASTO_OK;
}

static impasto_status parse_zip(impasto_ctx *ctx, pth_file *f) {
    zip_archive z;
    impasto_status s = zip_open(ctx, f->bytes, f->size, f->name, &z);
    if (s != IMPASTO_OK) return s;
    char prefix[256], entry[300];
    pickle pk;
    memset(&pk, 0, sizeof pk);
    uint32_t *storage_of = NULL;
    const unsigned char *data = NULL;
    size_t size = 0;
    s = find_prefix(ctx, f, &z, prefix, sizeof prefix);
    if (s == IMPASTO_OK) {
        /* Since PyTorch 2.1 the byte order is recorded; before, it was always little-endian. */
        snprintf(entry, sizeof entry, "%s/byteorder", prefix);
        zip_entry *e = zip_find(&z, entry);
        if (e && (s = zip_read(ctx, &z, e, &data, &size)) == IMPASTO_OK &&
            !(size >= 6 && memcmp(data, "little", 6) == 0 && (size == 6 || (size == 7 && data[6] == '\n'))))
            s = ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: saved on a big-endian machine (byteorder is not "
                         "'little'), which impasto does not read", f->name);
    }
    if (s == IMPASTO_OK) {
        snprintf(entry, sizeof entry, "%s/data.pkl", prefix);
        s = zip_read(ctx, &z, zip_find(&z, entry), &data, &size);
    }
    if (s == IMPASTO_OK && size > PTH_MAX_PICKLE)
        s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: data.pkl is %zu bytes, above the %zu-byte limit", f->name, size,
                     PTH_MAX_PICKLE);
    if (s == IMPASTO_OK) s = pickle_load(ctx, data, size, f->name, &pk);
    if (s == IMPASTO_OK) s = collect(ctx, f, &pk, &storage_of);
    if (s == IMPASTO_OK) s = bind_zip(ctx, f, &z, prefix, &pk, storage_of);
    free(storage_of);
    pickle_free(&pk);
    zip_close(&z);
    return s;
}

/* ---- legacy layout ------------------------------------------------------------------------ */

/* A storage's key with its index, sorted by key so a record finds the storages that name it. */
typedef struct key_ref {
    const unsigned char *key;
    size_t len;
    uint32_t storage;
} key_ref;

static int cmp_key(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen) {
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static int cmp_key_ref(const void *a, const void *b) {
    const key_ref *x = a, *y = b;
    return cmp_key(x->key, x->len, y->key, y->len);
}

/* The records after the pickles: for each key of `keys` (a list of strings), an int64 element
 * count and the storage's bytes. root_data[i] is set for every storage i of that key. */
static impasto_status read_records(impasto_ctx *ctx, pth_file *f, const pickle *sdp, const pickle *keys_pk,
                                   size_t pos, const unsigned char **root_data) {
    const pk_obj *keys = pk_get(keys_pk, keys_pk->root);
    if (keys->type != PK_LIST)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the list of storage keys is missing or damaged", f->name);
    const size_t ns = sdp->nstorages;
    key_ref *order = malloc((ns ? ns : 1) * sizeof *order);
    if (!order) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", f->name);
    for (size_t i = 0; i < ns; i++) order[i] = (key_ref){sdp->storages[i].key, sdp->storages[i].key_len, (uint32_t)i};
    qsort(order, ns, sizeof *order, cmp_key_ref);
    impasto_status s = IMPASTO_OK;
    for (uint32_t k = 0; k < keys->n && s == IMPASTO_OK; k++) {
        const pk_obj *key = pk_get(keys_pk, keys->items[k]);
        if (key->type != PK_STR) {
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: a storage key that is not a string", f->name);
            break;
        }
        /* The first storage with this key. */
        size_t lo = 0, hi = ns;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (cmp_key(order[mid].key, order[mid].len, key->s, key->len) < 0) lo = mid + 1;
            else hi = mid;
        }
        if (lo == ns || cmp_key(order[lo].key, order[lo].len, key->s, key->len) != 0 || root_data[order[lo].storage]) {
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: storage record '%.*s' is unknown to the pickle or given twice",
                         f->name, (int)(key->len < 64 ? key->len : 64), (const char *)key->s);
            break;
        }
        const pk_storage *first = &sdp->storages[order[lo].storage];
        const size_t es = pk_dtype_size(first->dtype);
        if (f->size - pos < 8) {
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the file ends before storage '%.*s': truncated", f->name,
                         (int)first->key_len, (const char *)first->key);
            break;
        }
        uint64_t count = 0;
        for (int i = 7; i >= 0; i--) count = count << 8 | f->bytes[pos + (size_t)i];
        pos += 8;
        if (count != first->numel) {
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: storage '%.*s' holds %llu values where the pickle says %llu",
                         f->name, (int)first->key_len, (const char *)first->key, (unsigned long long)count,
                         (unsigned long long)first->numel);
            break;
        }
        if (count > (f->size - pos) / es) {
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: storage '%.*s' (%llu %s values) runs past the end of the file: "
                         "truncated", f->name, (int)first->key_len, (const char *)first->key,
                         (unsigned long long)count, pk_dtype_name(first->dtype));
            break;
        }
        for (size_t j = lo; j < ns && s == IMPASTO_OK && cmp_key_ref(&order[lo], &order[j]) == 0; j++) {
            const pk_storage *st = &sdp->storages[order[j].storage];
            if (st->dtype != first->dtype || st->numel != first->numel)
                s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: storage '%.*s' is given two types or sizes", f->name,
                             (int)st->key_len, (const char *)st->key);
            root_data[order[j].storage] = f->bytes + pos;
        }
        pos += (size_t)count * es;
    }
    free(order);
    return s;
}

static impasto_status bind_legacy(impasto_ctx *ctx, pth_file *f, const pickle *pk, const uint32_t *storage_of,
                                  const unsigned char *const *root_data) {
    impasto_status s = IMPASTO_OK;
    for (size_t i = 0; i < f->n && s == IMPASTO_OK; i++) {
        const pk_storage *st = &pk->storages[storage_of[i]];
        if (!root_data[storage_of[i]])
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%.200s' needs storage '%.*s', which the file lacks",
                            f->name, f->t[i].name, (int)st->key_len, (const char *)st->key);
        s = bind(ctx, f, &f->t[i], root_data[storage_of[i]] + st->view_offset * pk_dtype_size(st->dtype),
                 st->view_numel);
    }
    return s;
}

/* The first three pickles: magic number, protocol version, sys_info. */
static impasto_status legacy_header(impasto_ctx *ctx, pth_file *f, size_t *pos) {
    impasto_status s = IMPASTO_OK;
    for (int i = 0; i < 3 && s == IMPASTO_OK; i++) {
        pickle pk;
        s = pickle_load(ctx, f->bytes + *pos, f->size - *pos, f->name, &pk);
        if (s != IMPASTO_OK) {
            if (i == 0)
                s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: not a PyTorch checkpoint (a pickle without torch.save's "
                             "magic number, or neither a zip archive nor a legacy torch.save file)", f->name);
            return s;
        }
        *pos += pk.end;
        const pk_obj *r = pk_get(&pk, pk.root);
        if (i == 0 && !(r->type == PK_BIGINT && r->len == sizeof legacy_magic && !memcmp(r->s, legacy_magic, r->len)))
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: a pickle without torch.save's magic number: not a PyTorch "
                         "checkpoint", f->name);
        if (i == 1 && !(r->type == PK_INT && r->i == LEGACY_PROTOCOL_VERSION))
            s = ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: a legacy torch.save file of another version than %d",
                         f->name, LEGACY_PROTOCOL_VERSION);
        if (i == 2) {
            const pk_obj *le = pk_dict_get(&pk, r, "little_endian");
            if (r->type != PK_DICT) s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the system information is damaged", f->name);
            else if (le && !(le->type == PK_BOOL && le->i))
                s = ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: saved on a big-endian machine, which impasto does not "
                             "read", f->name);
        }
        pickle_free(&pk);
    }
    return s;
}

static impasto_status parse_legacy(impasto_ctx *ctx, pth_file *f) {
    size_t pos = 0;
    impasto_status s = legacy_header(ctx, f, &pos);
    if (s != IMPASTO_OK) return s;
    pickle sd, keys;
    memset(&keys, 0, sizeof keys);
    uint32_t *storage_of = NULL;
    const unsigned char **root_data = NULL;
    s = pickle_load(ctx, f->bytes + pos, f->size - pos, f->name, &sd);
    if (s != IMPASTO_OK) return s;
    pos += sd.end;
    s = pickle_load(ctx, f->bytes + pos, f->size - pos, f->name, &keys);
    if (s == IMPASTO_OK) {
        pos += keys.end;
        root_data = calloc(sd.nstorages ? sd.nstorages : 1, sizeof *root_data);
        if (!root_data) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", f->name);
    }
    if (s == IMPASTO_OK) s = read_records(ctx, f, &sd, &keys, pos, root_data);
    if (s == IMPASTO_OK) s = collect(ctx, f, &sd, &storage_of);
    if (s == IMPASTO_OK) s = bind_legacy(ctx, f, &sd, storage_of, root_data);
    free(root_data);
    free(storage_of);
    pickle_free(&keys);
    pickle_free(&sd);
    return s;
}

/* ---- opening ------------------------------------------------------------------------------ */

static impasto_status parse_owned(impasto_ctx *ctx, pth_file *f) {
    static const unsigned char png[4] = {0x89, 'P', 'N', 'G'}, jpeg[3] = {0xff, 0xd8, 0xff};
    if (f->size >= sizeof png && memcmp(f->bytes, png, sizeof png) == 0)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s is a PNG image, not a model", f->name);
    if (f->size >= sizeof jpeg && memcmp(f->bytes, jpeg, sizeof jpeg) == 0)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s is a JPEG image, not a model", f->name);
    /* POSIX tar: "ustar" at byte 257 of the first header. */
    if (f->size >= 262 && memcmp(f->bytes + 257, "ustar", 5) == 0)
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s is a tar checkpoint of the first PyTorch releases, which "
                        "impasto does not read (load and save it again with a newer torch.save)", f->name);
    if (zip_looks_like(f->bytes, f->size)) return parse_zip(ctx, f);
    f->legacy = 1;
    if (f->size >= 2 && f->bytes[0] == 0x80) return parse_legacy(ctx, f);
    return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s is not a PyTorch checkpoint (neither a zip archive nor a legacy "
                    "torch.save file)", f->name);
}

static impasto_status pth_new(impasto_ctx *ctx, const char *name, pth_file **out) {
    *out = calloc(1, sizeof **out);
    if (*out) (*out)->name = strdup(name ? name : "(memory)");
    if (!*out || !(*out)->name) {
        pth_close(*out);
        *out = NULL;
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    return IMPASTO_OK;
}

static impasto_status finish(pth_file *f, impasto_status s, pth_file **out) {
    if (s != IMPASTO_OK) {
        pth_close(f);
        return s;
    }
    *out = f;
    return IMPASTO_OK;
}

impasto_status pth_parse(impasto_ctx *ctx, const unsigned char *bytes, size_t size, const char *name_for_errors,
                         pth_file **out) {
    *out = NULL;
    if (!bytes && size) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "no bytes given");
    pth_file *f;
    impasto_status s = pth_new(ctx, name_for_errors, &f);
    if (s != IMPASTO_OK) return s;
    f->bytes = malloc(size ? size : 1);
    if (!f->bytes) return finish(f, ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", f->name), out);
    if (size) memcpy(f->bytes, bytes, size);
    f->size = size;
    return finish(f, parse_owned(ctx, f), out);
}

impasto_status pth_open(impasto_ctx *ctx, const char *path, pth_file **out) {
    *out = NULL;
    if (!path) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "no checkpoint file given");
    pth_file *f;
    impasto_status s = pth_new(ctx, path, &f);
    if (s != IMPASTO_OK) return s;
    s = file_read_all(ctx, path, PTH_MAX_FILE, &f->bytes, &f->size);
    return finish(f, s == IMPASTO_OK ? parse_owned(ctx, f) : s, out);
}

const char *pth_layout(const pth_file *f) { return f->legacy ? "legacy" : "zip"; }
size_t pth_count(const pth_file *f) { return f ? f->n : 0; }
const pth_tensor *pth_at(const pth_file *f, size_t i) { return f && i < f->n ? &f->t[i] : NULL; }

const pth_tensor *pth_find(const pth_file *f, const char *name) {
    for (size_t i = 0; f && name && i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

/* ---- values ------------------------------------------------------------------------------- */

/* count values of tensor t starting at element `at`, `step` elements apart, into out. */
static void decode(const pth_tensor *t, size_t at, size_t step, size_t count, float *out) {
    const size_t es = pk_dtype_size(t->dtype);
    const unsigned char *p = t->data + at * es;
    if (t->dtype == PK_DT_F64) {
        for (size_t i = 0; i < count; i++, p += step * es) {
            uint64_t u = 0;
            for (int b = 7; b >= 0; b--) u = u << 8 | p[b];
            double d;
            memcpy(&d, &u, sizeof d);
            /* Out of float's range is infinite, refused with the NaNs after this. */
            out[i] = d > FLT_MAX ? INFINITY : d < -FLT_MAX ? -INFINITY : (float)d;
        }
        return;
    }
    st_tensor one = {.dtype = t->dtype == PK_DT_F32 ? ST_F32 : t->dtype == PK_DT_F16 ? ST_F16 : ST_BF16};
    if (step == 1) {
        one.nelem = count;
        one.data = p;
        safetensors_decode_f32(&one, out);
        return;
    }
    one.nelem = 1;
    for (size_t i = 0; i < count; i++, p += step * es) {
        one.data = p;
        safetensors_decode_f32(&one, out + i);
    }
}

impasto_status pth_get_f32(impasto_ctx *ctx, const pth_file *f, const pth_tensor *t, float *out) {
    if (!f || !t || (!out && t->numel))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "reading a tensor: no file, tensor or buffer given");
    if (t->dtype != PK_DT_F32 && t->dtype != PK_DT_F16 && t->dtype != PK_DT_BF16 && t->dtype != PK_DT_F64)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%.200s' is %s, not floating point", f->name, t->name,
                        pk_dtype_name(t->dtype));
    if (t->numel == 0) return IMPASTO_OK;
    /* Row after row of the innermost dimension; idx counts the outer ones (bind checked that
     * every element reached is inside the storage). */
    const int nd = t->ndim;
    const size_t inner = nd ? (size_t)t->shape[nd - 1] : 1, istep = nd ? (size_t)t->stride[nd - 1] : 1;
    int64_t idx[TENSOR_MAX_DIMS] = {0};
    for (size_t done = 0; done < t->numel; done += inner) {
        size_t at = (size_t)t->offset;
        for (int d = 0; d + 1 < nd; d++) at += (size_t)idx[d] * (size_t)t->stride[d];
        decode(t, at, istep, inner, out + done);
        for (int d = nd - 2; d >= 0 && ++idx[d] == t->shape[d]; d--) idx[d] = 0;
    }
    if (!floats_all_finite(out, t->numel))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%.200s' holds NaN or infinite values", f->name, t->name);
    return IMPASTO_OK;
}
