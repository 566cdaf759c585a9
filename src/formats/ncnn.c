/* ncnn's binary param and weight files (layout in ncnn.h). Everything read from a file is
 * bounded before it is used: counts against the bytes left (every layer takes at least 16 bytes,
 * every blob reference and array value 4), indices against the blob count, and the weight reads
 * against the file's end. */
#include "formats/ncnn.h"

#include "core/ctx.h"
#include "core/fileio.h"
#include "core/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCNN_PARAM_END (-233)
#define NCNN_ARRAY_KEY (-23300)

/* ncnn's ModelBin tags (modelbin.cpp). */
#define NCNN_TAG_F16 0x01306B47u
#define NCNN_TAG_I8 0x000D4B38u
#define NCNN_TAG_F32 0x0002C056u

static uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float u32_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

typedef struct cursor {
    const unsigned char *p;
    size_t size, pos;
} cursor;

static int next_i32(cursor *c, int32_t *v) {
    if (c->size - c->pos < 4) return 0;
    *v = (int32_t)rd_u32(c->p + c->pos);
    c->pos += 4;
    return 1;
}

void ncnn_net_clear(ncnn_net *net) {
    if (!net) return;
    free(net->layers);
    free(net->blob_refs);
    free(net->bytes);
    memset(net, 0, sizeof *net);
}

const char *ncnn_type_name(int type, char *buf, size_t cap) {
    switch (type) {
    case NCNN_CONVOLUTION: return "Convolution";
    case NCNN_INPUT: return "Input";
    case NCNN_RELU: return "ReLU";
    case NCNN_SPLIT: return "Split";
    case NCNN_BINARYOP: return "BinaryOp";
    case NCNN_PADDING: return "Padding";
    case NCNN_INTERP: return "Interp";
    case NCNN_INSTANCENORM: return "InstanceNorm";
    }
    snprintf(buf, cap, "type %d", type);
    return buf;
}

int ncnn_param_int(const ncnn_layer *l, int id, int def) {
    if (id < 0 || id >= NCNN_MAX_PARAM_ID || !l->param[id].present || l->param[id].is_array) return def;
    return (int)(int32_t)l->param[id].raw;
}

float ncnn_param_float(const ncnn_layer *l, int id, float def) {
    if (id < 0 || id >= NCNN_MAX_PARAM_ID || !l->param[id].present || l->param[id].is_array) return def;
    return u32_float(l->param[id].raw);
}

/* One layer's parameter dictionary, up to and including the -233 that ends it. */
static impasto_status parse_params(impasto_ctx *ctx, cursor *c, const char *name, int li, ncnn_layer *l) {
    for (;;) {
        size_t at = c->pos;
        int32_t key;
        if (!next_i32(c, &key))
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: truncated in the parameters of layer %d", name, li);
        if (key == NCNN_PARAM_END) return IMPASTO_OK;
        int is_array = key <= NCNN_ARRAY_KEY;
        int64_t id = is_array ? (int64_t)NCNN_ARRAY_KEY - key : key;
        if (id < 0 || id >= NCNN_MAX_PARAM_ID)
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: layer %d has parameter key %d at byte %zu "
                            "(ids are 0..%d)", name, li, (int)key, at, NCNN_MAX_PARAM_ID - 1);
        ncnn_param *p = &l->param[id];
        if (p->present)
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: layer %d sets parameter %d twice", name, li, (int)id);
        p->present = 1;
        p->is_array = is_array;
        int32_t v;
        if (!next_i32(c, &v))
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: truncated in the parameters of layer %d", name, li);
        p->raw = (uint32_t)v;
        if (is_array) {
            if (v < 0 || (size_t)v > (c->size - c->pos) / 4)
                return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: layer %d parameter %d claims %d values, more "
                                "than the %zu bytes left", name, li, (int)id, (int)v, c->size - c->pos);
            p->count = (uint32_t)v;
            p->array = c->p + c->pos;
            c->pos += 4 * (size_t)v;
        }
    }
}

impasto_status ncnn_param_parse(impasto_ctx *ctx, const unsigned char *bytes, size_t size,
                                const char *name, ncnn_net *out) {
    memset(out, 0, sizeof *out);
    if (size > NCNN_MAX_PARAM_BYTES)
        return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "%s: %zu bytes is too large for an ncnn param file", name, size);
    out->bytes = malloc(size ? size : 1);
    if (!out->bytes) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", name);
    if (size) memcpy(out->bytes, bytes, size);
    cursor c = {out->bytes, size, 0};
    int32_t magic = 0, nlayers = 0, nblobs = 0;
    impasto_status s = IMPASTO_OK;
    if (!next_i32(&c, &magic) || magic != NCNN_MAGIC) {
        s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: not a binary ncnn param file (magic %d, expected %d)",
                     name, size >= 4 ? (int)magic : -1, NCNN_MAGIC);
        goto fail;
    }
    if (!next_i32(&c, &nlayers) || !next_i32(&c, &nblobs)) {
        s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: truncated after the magic number", name);
        goto fail;
    }
    /* Each layer is at least type, two counts and the end marker: 16 bytes. */
    if (nlayers < 1 || nlayers > NCNN_MAX_LAYERS || (size_t)nlayers > (size - c.pos) / 16 ||
        nblobs < 1 || nblobs > NCNN_MAX_BLOBS) {
        s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: %d layers and %d blobs do not fit a %zu-byte file (at most "
                     "%d layers, %d blobs)", name, (int)nlayers, (int)nblobs, size, NCNN_MAX_LAYERS, NCNN_MAX_BLOBS);
        goto fail;
    }
    out->nlayers = nlayers;
    out->nblobs = nblobs;
    out->layers = calloc((size_t)nlayers, sizeof *out->layers);
    /* Every blob reference takes 4 bytes of the file, so there are fewer than size/4. */
    size_t refs_cap = size / 4, nrefs = 0;
    out->blob_refs = malloc((refs_cap ? refs_cap : 1) * sizeof *out->blob_refs);
    if (!out->layers || !out->blob_refs) {
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", name);
        goto fail;
    }
    for (int li = 0; li < nlayers; li++) {
        ncnn_layer *l = &out->layers[li];
        int32_t type, nb, nt;
        if (!next_i32(&c, &type) || !next_i32(&c, &nb) || !next_i32(&c, &nt)) {
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: truncated at layer %d of %d", name, li, (int)nlayers);
            goto fail;
        }
        if (type < 0 || nb < 0 || nt < 0 || nb > NCNN_MAX_LAYER_IO || nt > NCNN_MAX_LAYER_IO ||
            (size_t)(nb + nt) > (c.size - c.pos) / 4) {
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: layer %d has type %d with %d inputs and %d outputs "
                         "(bad, or more than the file holds)", name, li, (int)type, (int)nb, (int)nt);
            goto fail;
        }
        l->type = type;
        l->nbottom = nb;
        l->ntop = nt;
        l->bottom = out->blob_refs + nrefs;
        l->top = l->bottom + nb;
        for (int k = 0; k < nb + nt; k++) {
            int32_t b = -1;
            next_i32(&c, &b);  /* bounded above */
            if (b < 0 || b >= nblobs) {
                s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: layer %d refers to blob %d of %d", name, li, (int)b,
                             (int)nblobs);
                goto fail;
            }
            out->blob_refs[nrefs++] = b;
        }
        s = parse_params(ctx, &c, name, li, l);
        if (s != IMPASTO_OK) goto fail;
    }
    if (c.pos != size) {
        s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: %zu unexpected bytes after the last layer", name, size - c.pos);
        goto fail;
    }
    return IMPASTO_OK;
fail:
    ncnn_net_clear(out);
    return s;
}

impasto_status ncnn_param_load(impasto_ctx *ctx, const char *path, ncnn_net *out) {
    memset(out, 0, sizeof *out);
    unsigned char *bytes = NULL;
    size_t size = 0;
    impasto_status s = file_read_all(ctx, path, NCNN_MAX_PARAM_BYTES, &bytes, &size);
    if (s != IMPASTO_OK) return s;
    s = ncnn_param_parse(ctx, bytes, size, path, out);
    free(bytes);
    return s;
}

float ncnn_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ffu, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | man << 13;               /* infinity or NaN */
    } else if (exp != 0) {
        bits = sign | (exp + 112) << 23 | man << 13;         /* normal: rebias 15 -> 127 */
    } else if (man == 0) {
        bits = sign;                                         /* signed zero */
    } else {
        /* Subnormal: man * 2^-24, exact in float. */
        float f = (float)man * (1.0f / 16777216.0f);
        return sign ? -f : f;
    }
    return u32_float(bits);
}

/* Bytes of `count` items of `item` bytes rounded up to 4, or 0 on overflow. */
static int padded_bytes(size_t count, size_t item, size_t *out) {
    size_t n;
    if (!size_mul(count, item, &n) || n > SIZE_MAX - 3) return 0;
    *out = (n + 3) & ~(size_t)3;
    return 1;
}

impasto_status ncnn_bin_read(impasto_ctx *ctx, ncnn_bin *b, size_t n, int with_tag, const char *what,
                             float *out) {
    size_t at = b->pos, left = b->size - b->pos, need;
    uint32_t tag = 0;
    if (with_tag) {
        if (left < 4)
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: ends at byte %zu, before the storage tag of %s",
                            b->name, b->size, what);
        tag = rd_u32(b->data + b->pos);
        b->pos += 4;
        left -= 4;
    }
    const unsigned char *p = b->data + b->pos;
    if (with_tag && tag == NCNN_TAG_I8)
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: %s (byte %zu) is int8-quantised, which needs "
                        "scales kept outside the file; convert a float model", b->name, what, at);
    if (with_tag && tag == NCNN_TAG_F16) {
        if (!padded_bytes(n, 2, &need) || need > left) goto short_read;
        for (size_t i = 0; i < n; i++) out[i] = ncnn_half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
    } else if (!with_tag || tag == NCNN_TAG_F32 || tag == 0) {
        if (!size_mul(n, 4, &need) || need > left) goto short_read;
        for (size_t i = 0; i < n; i++) out[i] = u32_float(rd_u32(p + 4 * i));
    } else {
        /* Any other tag: a 256-entry float32 value table, then one uint8 index per value. */
        size_t idx;
        if (!padded_bytes(n, 1, &idx) || idx > SIZE_MAX - 1024 || (need = 1024 + idx) > left) goto short_read;
        for (size_t i = 0; i < n; i++) out[i] = u32_float(rd_u32(p + 4 * (size_t)p[1024 + i]));
    }
    b->pos += need;
    return IMPASTO_OK;
short_read:
    return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: truncated: %s (%zu values from byte %zu) runs past the end "
                    "of the %zu-byte file", b->name, what, n, at, b->size);
}
