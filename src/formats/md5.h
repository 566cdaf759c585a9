/* MD5 message digest (RFC 1321). Used only to verify the checksums that upstream weight
 * manifests give for their files; not for anything security-related. */
#ifndef IMPASTO_FORMATS_MD5_H
#define IMPASTO_FORMATS_MD5_H

#include <stddef.h>
#include <stdint.h>

typedef struct md5_state {
    uint32_t abcd[4];           /* the chaining variables A, B, C, D (RFC 1321 section 3.3) */
    uint64_t nbytes;            /* message length so far */
    unsigned char block[64];    /* a partial 512-bit block */
} md5_state;

void md5_init(md5_state *s);
void md5_update(md5_state *s, const void *data, size_t n);
void md5_final(md5_state *s, unsigned char digest[16]);
/* The digest of data[0..n) as 32 lowercase hex digits and a NUL. */
void md5_hex(const void *data, size_t n, char hex[33]);

#endif
