/* A reader for the protocol buffers wire format (https://protobuf.dev/programming-guides/encoding/):
 * a message is a sequence of fields, each a varint key (field_number << 3 | wire_type) followed by
 * its payload: a varint (wire type 0), 8 little-endian bytes (1), a varint length and that many
 * bytes (2: strings, bytes, nested messages, packed repeated scalars) or 4 little-endian bytes (5).
 * The deprecated groups (3, 4) are refused. Every read is bounds-checked against the buffer: a
 * truncated field, a length past the end, a varint longer than 10 bytes or field number 0 is an
 * error, never a read out of bounds. Nothing is allocated; a nested message is read with a new
 * reader over the field's bytes, so nesting depth is the caller's (schema-bounded) choice. */
#ifndef IMPASTO_FORMATS_PROTOBUF_H
#define IMPASTO_FORMATS_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

typedef struct pb_reader {
    const unsigned char *p, *end;
} pb_reader;

typedef struct pb_field {
    uint32_t number;
    int wire;                   /* PB_VARINT, PB_I64, PB_LEN or PB_I32 */
    uint64_t u;                 /* the value for VARINT, I64 and I32 (raw bits) */
    const unsigned char *data;  /* PB_LEN: the payload ... */
    size_t len;                 /* ... and its length */
} pb_field;

void pb_init(pb_reader *r, const unsigned char *data, size_t len);
/* Reads the next field: 1 when one was read, 0 at the end of the buffer, -1 on malformed input
 * (*err then says what, a static string). */
int pb_next(pb_reader *r, pb_field *f, const char **err);
/* Decodes one varint from [*p, end): 1 and advances *p, or 0 when truncated or too long. */
int pb_varint(const unsigned char **p, const unsigned char *end, uint64_t *v);
/* The float in an I32 field's bits. */
float pb_float(uint64_t bits);

#endif
