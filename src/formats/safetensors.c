/* safetensors reading and writing, after the format description in huggingface/safetensors
 * (README "Format"): u64 little-endian N, N bytes of UTF-8 JSON (may end in spaces), then the
 * data section; every tensor's data_offsets are relative to the start of the data section.
 *
 * The reader trusts nothing in the file: the header is parsed from a bounded copy, every number
 * must be an exact non-negative integer, element counts and byte counts are computed with
 * overflow checks, and ranges must lie inside the data section without overlapping (gaps are
 * allowed, as they are harmless). */
#include "formats/safetensors.h"
#include "core/ctx.h"
#include "core/fileio.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Integers in the header are read through double; above 2^53 they are no longer exact. */
#define ST_MAX_JSON_INT 9007199254740992.0

struct safetensors {
    char *name;             /* the file, for messages */
    unsigned char *bytes;   /* the whole file */
    size_t size;
    st_tensor *t;
    size_t n;
    char **meta;            /* nmeta (key, value) pairs: meta[2i], meta[2i+1] */
    size_t nmeta;
};

static const struct {
    const char *name;
    size_t size;
} st_dtypes[] = {
    [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2},
    [ST_U8] = {"U8", 1},   [ST_I32] = {"I32", 4}, [ST_I64] = {"I64", 8},
};
#define ST_NUM_DTYPES (sizeof st_dtypes / sizeof st_dtypes[0])

static uint64_t load_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static uint32_t load_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float bits_to_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* IEEE 754 binary16 -> binary32, exact (every half is a float): 1 sign, 5 exponent (bias 15),
 * 10 mantissa bits. Subnormal halves are mantissa * 2^-24; exponent 31 is inf (mantissa 0) or
 * NaN (mantissa kept, so payloads and quietness survive). */
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0) {
        float mag = ldexpf((float)man, -24);
        return sign ? -mag : mag;
    }
    if (exp == 31) return bits_to_float(sign | 0x7f800000u | man << 13);
    return bits_to_float(sign | (exp + 127 - 15) << 23 | man << 13);
}

/* bfloat16 is the top half of a binary32. */
static float bf16_to_float(uint16_t h) { return bits_to_float((uint32_t)h << 16); }

static void st_free_parts(safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) free(st->t[i].name);
    for (size_t i = 0; i < 2 * st->nmeta; i++) free(st->meta[i]);
    free(st->t);
    free(st->meta);
    free(st->bytes);
    free(st->name);
    free(st);
}

void safetensors_close(safetensors *st) { st_free_parts(st); }

/* An exact integer in [0, 2^53] from a JSON number, else 0. */
static int json_uint(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double v = j->valuedouble;
    if (!(v >= 0.0) || v > ST_MAX_JSON_INT || v != floor(v)) return 0;
    *out = (uint64_t)v;
    return 1;
}

static int cmp_by_name(const void *a, const void *b) {
    const st_tensor *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static int cmp_by_offset(const void *a, const void *b) {
    const st_tensor *x = a, *y = b;
    if (x->data != y->data) return x->data < y->data ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static impasto_status parse_metadata(impasto_ctx *ctx, safetensors *st, const cJSON *m) {
    const char *f = st->name;
    if (!cJSON_IsObject(m)) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: __metadata__ is not an object", f);
    size_t n = (size_t)cJSON_GetArraySize(m);
    st->meta = calloc(2 * n + 1, sizeof *st->meta);
    if (!st->meta) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", f);
    for (const cJSON *e = m->child; e; e = e->next) {
        if (!cJSON_IsString(e))
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: __metadata__ value of '%s' is not a string",
                            f, e->string);
        char *k = strdup(e->string), *v = strdup(e->valuestring);
        st->meta[2 * st->nmeta] = k;
        st->meta[2 * st->nmeta + 1] = v;
        st->nmeta++;
        if (!k || !v) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", f);
    }
    return IMPASTO_OK;
}

/* One "name": {"dtype", "shape", "data_offsets"} entry; data points into the data section
 * (`data`, `data_size` bytes). Unknown keys in the entry are ignored, as the reference reader does. */
static impasto_status parse_tensor(impasto_ctx *ctx, const char *f, const cJSON *e,
                                   const unsigned char *data, size_t data_size, st_tensor *t) {
    const char *nm = e->string;
    if (!cJSON_IsObject(e)) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: entry '%s' is not an object", f, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT,
                        "%s: tensor '%s' lacks a string dtype, a shape array or a data_offsets array", f, nm);
    size_t d = 0;
    while (d < ST_NUM_DTYPES && strcmp(dt->valuestring, st_dtypes[d].name) != 0) d++;
    if (d == ST_NUM_DTYPES)
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype '%.16s', which impasto does not read",
                        f, nm, dt->valuestring);
    t->dtype = (st_dtype)d;

    int nd = cJSON_GetArraySize(sh);
    if (nd > TENSOR_MAX_DIMS)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%s' has %d dimensions (at most %d)", f, nm,
                        nd, TENSOR_MAX_DIMS);
    t->ndim = nd;
    size_t nelem = 1;
    int i = 0;
    for (const cJSON *s = sh->child; s; s = s->next, i++) {
        uint64_t v;
        if (!json_uint(s, &v))
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%s' has a dimension that is not a "
                            "non-negative integer below 2^53", f, nm);
        t->shape[i] = (int64_t)v;
        if (!size_mul(nelem, (size_t)v, &nelem))
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%s' has an element count that overflows", f, nm);
    }
    t->nelem = nelem;
    size_t nbytes;
    if (!size_mul(nelem, st_dtypes[d].size, &nbytes))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%s' has a byte count that overflows", f, nm);

    uint64_t begin, end;
    if (cJSON_GetArraySize(off) != 2 || !json_uint(off->child, &begin) || !json_uint(off->child->next, &end))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%s' data_offsets is not two non-negative integers",
                        f, nm);
    if (begin > end || end > data_size)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%s' data_offsets [%llu, %llu] outside the "
                        "%zu-byte data section", f, nm, (unsigned long long)begin,
                        (unsigned long long)end, data_size);
    if (end - begin != nbytes)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%s' spans %llu bytes but its shape and dtype "
                        "need %zu", f, nm, (unsigned long long)(end - begin), nbytes);
    t->data = data + begin;
    t->nbytes = nbytes;
    return IMPASTO_OK;
}

/* Parses st->bytes (owned by st) and fills the tensor and metadata tables. */
static impasto_status st_parse_owned(impasto_ctx *ctx, safetensors *st) {
    const char *f = st->name;
    /* A picture given where a model was meant: say so rather than "header length ... exceeds". */
    static const unsigned char png[4] = {0x89, 'P', 'N', 'G'}, jpeg[3] = {0xff, 0xd8, 0xff};
    if (st->size >= sizeof png && memcmp(st->bytes, png, sizeof png) == 0)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s is a PNG image, not a model", f);
    if (st->size >= sizeof jpeg && memcmp(st->bytes, jpeg, sizeof jpeg) == 0)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s is a JPEG image, not a model", f);
    if (st->size < 8) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: %zu bytes, too short for a safetensors file", f, st->size);
    uint64_t hlen = load_le64(st->bytes);
    if (hlen > st->size - 8)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: header length %llu exceeds the file (%zu bytes): truncated "
                        "or not safetensors", f, (unsigned long long)hlen, st->size);
    if (hlen > ST_MAX_HEADER)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: header length %llu is above the %zu-byte limit", f,
                        (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen < 2 || st->bytes[8] != '{')
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: header is not a JSON object", f);

    char *text = malloc((size_t)hlen + 1);
    if (!text) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", f);
    memcpy(text, st->bytes + 8, (size_t)hlen);
    text[hlen] = 0;
    /* A NUL inside the header would let the parser stop early and ignore the rest. */
    cJSON *root = strlen(text) == hlen ? cJSON_ParseWithOpts(text, NULL, 1) : NULL;
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: header is not valid JSON object text", f);
    }

    const unsigned char *data = st->bytes + 8 + hlen;
    size_t data_size = st->size - 8 - (size_t)hlen;
    size_t n = (size_t)cJSON_GetArraySize(root);
    impasto_status s = IMPASTO_OK;
    st->t = calloc(n + 1, sizeof *st->t);
    if (!st->t) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", f);
    int seen_meta = 0;
    for (const cJSON *e = root->child; e && s == IMPASTO_OK; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (seen_meta++) s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: __metadata__ appears twice", f);
            else s = parse_metadata(ctx, st, e);
            continue;
        }
        st_tensor *t = &st->t[st->n];
        t->name = strdup(e->string);
        if (!t->name) {
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", f);
            break;
        }
        st->n++;
        s = parse_tensor(ctx, f, e, data, data_size, t);
    }
    cJSON_Delete(root);
    if (s != IMPASTO_OK) return s;

    /* Duplicate names and overlapping ranges are found after sorting; the tensors stay in the
     * file's header order for callers, so sort a copy. */
    st_tensor *tmp = malloc((st->n + 1) * sizeof *tmp);
    if (!tmp) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", f);
    memcpy(tmp, st->t, st->n * sizeof *tmp);
    qsort(tmp, st->n, sizeof *tmp, cmp_by_name);
    for (size_t i = 1; i < st->n && s == IMPASTO_OK; i++)
        if (strcmp(tmp[i - 1].name, tmp[i].name) == 0)
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%s' appears twice", f, tmp[i].name);
    qsort(tmp, st->n, sizeof *tmp, cmp_by_offset);
    for (size_t i = 1; i < st->n && s == IMPASTO_OK; i++)
        if (tmp[i].data < tmp[i - 1].data + tmp[i - 1].nbytes)
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", f, tmp[i - 1].name,
                         tmp[i].name);
    free(tmp);
    return s;
}

static impasto_status st_new(impasto_ctx *ctx, const char *name, safetensors **out) {
    *out = calloc(1, sizeof **out);
    if (*out) (*out)->name = strdup(name ? name : "(memory)");
    if (!*out || !(*out)->name) {
        st_free_parts(*out);
        *out = NULL;
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    return IMPASTO_OK;
}

impasto_status safetensors_parse(impasto_ctx *ctx, const unsigned char *bytes, size_t size,
                                 const char *name_for_errors, safetensors **out) {
    *out = NULL;
    if (!bytes && size)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s: no bytes given", name_for_errors ? name_for_errors : "(memory)");
    safetensors *st;
    impasto_status s = st_new(ctx, name_for_errors, &st);
    if (s != IMPASTO_OK) return s;
    st->bytes = malloc(size ? size : 1);
    if (!st->bytes) {
        st_free_parts(st);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", name_for_errors);
    }
    if (size) memcpy(st->bytes, bytes, size);
    st->size = size;
    s = st_parse_owned(ctx, st);
    if (s != IMPASTO_OK) {
        st_free_parts(st);
        return s;
    }
    *out = st;
    return IMPASTO_OK;
}

impasto_status safetensors_open(impasto_ctx *ctx, const char *path, safetensors **out) {
    *out = NULL;
    if (!path) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "no model file given");
    safetensors *st;
    impasto_status s = st_new(ctx, path, &st);
    if (s != IMPASTO_OK) return s;
    s = file_read_all(ctx, path, ST_MAX_FILE, &st->bytes, &st->size);
    if (s == IMPASTO_OK) s = st_parse_owned(ctx, st);
    if (s != IMPASTO_OK) {
        st_free_parts(st);
        return s;
    }
    *out = st;
    return IMPASTO_OK;
}

size_t safetensors_count(const safetensors *st) { return st ? st->n : 0; }

const st_tensor *safetensors_at(const safetensors *st, size_t i) {
    return st && i < st->n ? &st->t[i] : NULL;
}

const st_tensor *safetensors_find(const safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->t[i].name, name) == 0) return &st->t[i];
    return NULL;
}

const char *safetensors_meta(const safetensors *st, const char *key) {
    if (!st || !key) return NULL;
    for (size_t i = 0; i < st->nmeta; i++)
        if (strcmp(st->meta[2 * i], key) == 0) return st->meta[2 * i + 1];
    return NULL;
}

/* "(a, b, c)" into buf, for messages. */
static const char *shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, ")");
    return buf;
}

int safetensors_decode_f32(const st_tensor *t, float *out) {
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case ST_F32:
        for (size_t i = 0; i < t->nelem; i++) out[i] = bits_to_float(load_le32(p + 4 * i));
        return 1;
    case ST_F16:
        for (size_t i = 0; i < t->nelem; i++) out[i] = half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return 1;
    case ST_BF16:
        for (size_t i = 0; i < t->nelem; i++) out[i] = bf16_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        return 1;
    default:
        return 0;
    }
}

impasto_status safetensors_get_f32(impasto_ctx *ctx, const safetensors *st, const char *name,
                                   int ndim, const int64_t *shape, float *out) {
    if (!st || !name || ndim < 0 || (ndim > 0 && !shape))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "reading a tensor: no file, name or shape given");
    const st_tensor *t = safetensors_find(st, name);
    if (!t) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: no tensor '%s'", st->name, name);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char a[160], b[160];
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", st->name, name,
                        shape_str(a, sizeof a, t->ndim, t->shape), shape_str(b, sizeof b, ndim, shape));
    }
    if (!safetensors_decode_f32(t, out))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%s' is %s, not a floating-point type", st->name,
                        name, st_dtypes[t->dtype].name);
    /* A NaN or infinite weight makes every output it reaches NaN: refused here, where the file
     * and the tensor can still be named, rather than as a mysterious result. */
    if (!floats_all_finite(out, t->nelem))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: tensor '%s' holds NaN or infinite values", st->name, name);
    return IMPASTO_OK;
}

/* ---- writing ------------------------------------------------------------------------------ */

typedef struct strbuf {
    char *p;
    size_t len, cap;
    int oom;
} strbuf;

static void sb_putn(strbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_puts(strbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

static void sb_printf_u64(strbuf *b, unsigned long long v) {
    char tmp[32];
    sb_putn(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "%llu", v));
}

/* A JSON string literal (RFC 8259 section 7): quote, backslash and control bytes escaped;
 * other bytes (UTF-8) pass through. */
static void sb_json_string(strbuf *b, const char *s) {
    sb_putn(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_putn(b, e, 2);
        } else if (c < 0x20) {
            char e[8];
            sb_putn(b, e, (size_t)snprintf(e, sizeof e, "\\u%04x", c));
        } else {
            sb_putn(b, (const char *)&c, 1);
        }
    }
    sb_putn(b, "\"", 1);
}

/* Writes n floats little-endian. */
static void write_f32_le(FILE *fp, const float *x, size_t n) {
    if (n == 0) return;  /* an empty tensor may have no data pointer */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    fwrite(x, sizeof *x, n, fp);
#else
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        unsigned char q[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                              (unsigned char)(u >> 24)};
        fwrite(q, 1, 4, fp);
    }
#endif
}

/* Checks the tensors and builds the header JSON (keys in the order given, data contiguous in
 * that order), padded with spaces so the data section starts 8-byte aligned. */
static impasto_status build_header(impasto_ctx *ctx, const char *path, const st_write_tensor *t, size_t n,
                                   const char *const *meta, size_t nmeta, strbuf *h, size_t *nbytes) {
    sb_puts(h, "{");
    if (nmeta) {
        sb_puts(h, "\"__metadata__\":{");
        for (size_t i = 0; i < nmeta; i++) {
            if (!meta[2 * i] || !meta[2 * i + 1])
                return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s: metadata entry %zu is NULL", path, i);
            if (i) sb_puts(h, ",");
            sb_json_string(h, meta[2 * i]);
            sb_puts(h, ":");
            sb_json_string(h, meta[2 * i + 1]);
        }
        sb_puts(h, "}");
    }
    size_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        if (!t[i].name || !t[i].name[0] || strcmp(t[i].name, "__metadata__") == 0 || t[i].ndim < 0 ||
            t[i].ndim > TENSOR_MAX_DIMS)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s: tensor %zu has a bad name or rank", path, i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(t[i].name, t[j].name) == 0)
                return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s: tensor '%s' given twice", path, t[i].name);
        size_t nelem = 1, bytes;
        for (int d = 0; d < t[i].ndim; d++)
            if (t[i].shape[d] < 0 || !size_mul(nelem, (size_t)t[i].shape[d], &nelem))
                return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s: tensor '%s' has a bad shape", path, t[i].name);
        if (!size_mul(nelem, 4, &bytes) || offset + bytes < offset || (bytes && !t[i].data))
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s: tensor '%s' is too large or has no data", path,
                            t[i].name);
        if (nmeta || i) sb_puts(h, ",");
        sb_json_string(h, t[i].name);
        sb_puts(h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t[i].ndim; d++) {
            if (d) sb_puts(h, ",");
            sb_printf_u64(h, (unsigned long long)t[i].shape[d]);
        }
        sb_puts(h, "],\"data_offsets\":[");
        sb_printf_u64(h, offset);
        sb_puts(h, ",");
        sb_printf_u64(h, offset + bytes);
        sb_puts(h, "]}");
        offset += bytes;
    }
    sb_puts(h, "}");
    while (h->len % 8) sb_puts(h, " ");
    if (h->oom) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory writing %s", path);
    *nbytes = offset;
    return IMPASTO_OK;
}

impasto_status safetensors_write(impasto_ctx *ctx, const char *path, const st_write_tensor *t,
                                 size_t n, const char *const *meta, size_t nmeta) {
    if (!path || (n && !t) || (nmeta && !meta))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "writing a model file: no file name, tensors or metadata given");
    strbuf h = {0};
    size_t data_bytes = 0;
    impasto_status s = build_header(ctx, path, t, n, meta, nmeta, &h, &data_bytes);
    if (s != IMPASTO_OK) {
        free(h.p);
        return s;
    }
    atomic_file af;
    s = atomic_open(ctx, path, &af);
    if (s != IMPASTO_OK) {
        free(h.p);
        return s;
    }
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    fwrite(len, 1, 8, af.fp);
    fwrite(h.p, 1, h.len, af.fp);
    free(h.p);
    for (size_t i = 0; i < n; i++) {
        size_t nelem = 1;
        for (int d = 0; d < t[i].ndim; d++) nelem *= (size_t)t[i].shape[d];
        write_f32_le(af.fp, t[i].data, nelem);
    }
    return atomic_commit(ctx, &af);
}
