/* MD5 after RFC 1321 (Rivest 1992): 64-byte blocks, four rounds of sixteen steps
 * a = b + ((a + F(b,c,d) + X[k] + T[i]) <<< s), little-endian words throughout. */
#include "formats/md5.h"

#include <string.h>

/* T[i] = floor(2^32 * |sin(i + 1)|), RFC 1321 section 3.4. */
static const uint32_t md5_t[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

/* Left-rotation amounts, four per round (each round repeats its four four times). */
static const unsigned md5_shift[4][4] = {
    {7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21},
};

static uint32_t rotl(uint32_t x, unsigned s) { return (x << s) | (x >> (32 - s)); }

static uint32_t load_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One 64-byte block into the state (RFC 1321 section 3.4). */
static void md5_block(uint32_t abcd[4], const unsigned char *p) {
    uint32_t x[16];
    for (int k = 0; k < 16; k++) x[k] = load_le32(p + 4 * k);
    uint32_t a = abcd[0], b = abcd[1], c = abcd[2], d = abcd[3];
    for (int i = 0; i < 64; i++) {
        int round = i / 16;
        uint32_t f;
        int k;
        /* Per round: the auxiliary function and the order in which message words are used. */
        switch (round) {
        case 0: f = (b & c) | (~b & d); k = i; break;
        case 1: f = (b & d) | (c & ~d); k = (5 * i + 1) % 16; break;
        case 2: f = b ^ c ^ d; k = (3 * i + 5) % 16; break;
        default: f = c ^ (b | ~d); k = (7 * i) % 16; break;
        }
        uint32_t t = d;
        d = c;
        c = b;
        b = b + rotl(a + f + x[k] + md5_t[i], md5_shift[round][i % 4]);
        a = t;
    }
    abcd[0] += a;
    abcd[1] += b;
    abcd[2] += c;
    abcd[3] += d;
}

void md5_init(md5_state *s) {
    /* RFC 1321 section 3.3 (the words 01 23 45 67, 89 ab cd ef, ... low byte first). */
    s->abcd[0] = 0x67452301;
    s->abcd[1] = 0xefcdab89;
    s->abcd[2] = 0x98badcfe;
    s->abcd[3] = 0x10325476;
    s->nbytes = 0;
}

void md5_update(md5_state *s, const void *data, size_t n) {
    const unsigned char *p = data;
    size_t used = (size_t)(s->nbytes % 64);
    s->nbytes += n;
    if (used) {
        size_t take = 64 - used < n ? 64 - used : n;
        memcpy(s->block + used, p, take);
        p += take;
        n -= take;
        if (used + take < 64) return;
        md5_block(s->abcd, s->block);
    }
    for (; n >= 64; p += 64, n -= 64) md5_block(s->abcd, p);
    if (n) memcpy(s->block, p, n);
}

void md5_final(md5_state *s, unsigned char digest[16]) {
    /* Padding (section 3.1): a 1 bit, zeros to 56 mod 64 bytes, then the bit length (3.2). */
    uint64_t bits = s->nbytes * 8;
    unsigned char pad[72] = {0x80};
    size_t used = (size_t)(s->nbytes % 64);
    size_t npad = used < 56 ? 56 - used : 120 - used;
    for (int i = 0; i < 8; i++) pad[npad + (size_t)i] = (unsigned char)(bits >> (8 * i));
    md5_update(s, pad, npad + 8);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) digest[4 * i + j] = (unsigned char)(s->abcd[i] >> (8 * j));
}

void md5_hex(const void *data, size_t n, char hex[33]) {
    static const char digits[] = "0123456789abcdef";
    md5_state s;
    unsigned char d[16];
    md5_init(&s);
    md5_update(&s, data, n);
    md5_final(&s, d);
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[32] = 0;
}
