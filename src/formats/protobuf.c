/* Protocol buffers wire-format reader (see protobuf.h). */
#include "formats/protobuf.h"

#include <string.h>

void pb_init(pb_reader *r, const unsigned char *data, size_t len) {
    r->p = data;
    r->end = data ? data + len : data;
}

int pb_varint(const unsigned char **p, const unsigned char *end, uint64_t *v) {
    uint64_t x = 0;
    const unsigned char *q = *p;
    for (int i = 0; i < 10; i++) {
        if (q >= end) return 0;
        unsigned char b = *q++;
        /* The tenth byte may carry only the top bit of a 64-bit value. */
        if (i == 9 && b > 1) return 0;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            *p = q;
            return 1;
        }
    }
    return 0;
}

static uint64_t pb_le(const unsigned char *q, int n) {
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--) x = (x << 8) | q[i];
    return x;
}

int pb_next(pb_reader *r, pb_field *f, const char **err) {
    if (r->p >= r->end) return 0;
    uint64_t key;
    if (!pb_varint(&r->p, r->end, &key)) {
        *err = "truncated or overlong field key";
        return -1;
    }
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff) {
        *err = "bad field number";
        return -1;
    }
    memset(f, 0, sizeof *f);
    f->number = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    const size_t left = (size_t)(r->end - r->p);
    switch (f->wire) {
    case PB_VARINT:
        if (!pb_varint(&r->p, r->end, &f->u)) {
            *err = "truncated or overlong varint";
            return -1;
        }
        return 1;
    case PB_I64:
        if (left < 8) {
            *err = "truncated 64-bit field";
            return -1;
        }
        f->u = pb_le(r->p, 8);
        r->p += 8;
        return 1;
    case PB_I32:
        if (left < 4) {
            *err = "truncated 32-bit field";
            return -1;
        }
        f->u = pb_le(r->p, 4);
        r->p += 4;
        return 1;
    case PB_LEN: {
        uint64_t n;
        if (!pb_varint(&r->p, r->end, &n)) {
            *err = "truncated length";
            return -1;
        }
        if (n > (uint64_t)(r->end - r->p)) {
            *err = "length runs past the end of its message";
            return -1;
        }
        f->data = r->p;
        f->len = (size_t)n;
        r->p += n;
        return 1;
    }
    default:
        *err = "unsupported wire type (groups or invalid)";
        return -1;
    }
}

float pb_float(uint64_t bits) {
    uint32_t b = (uint32_t)bits;
    float v;
    memcpy(&v, &b, sizeof v);
    return v;
}
