/* The bitmap operations the bit-keeping layers are made of (layout in nn.h): selecting the
 * floats whose bit is set (a ReLU's or a max pool's backward), setting the bits of positive floats
 * (a ReLU's forward) and ORing in 32 bits at once (a pool's winners). A run of bits starts
 * anywhere in a plane (a row of a map), so all work 32 bits at a time from any bit offset: a
 * 32-bit chunk is one vector compare against the lane bits below, which the compiler vectorises
 * on every x86-64 (SSE2 upward), where testing one bit at a time did not (VGG-19's Gatys backward
 * at 256 px spent ~8% of its time in those scalar loops). */
#include "nn/nn.h"

#include <string.h>

#define BITMAP_CHUNK 32

static const uint32_t lane_bit[BITMAP_CHUNK] = {
    1u << 0,  1u << 1,  1u << 2,  1u << 3,  1u << 4,  1u << 5,  1u << 6,  1u << 7,
    1u << 8,  1u << 9,  1u << 10, 1u << 11, 1u << 12, 1u << 13, 1u << 14, 1u << 15,
    1u << 16, 1u << 17, 1u << 18, 1u << 19, 1u << 20, 1u << 21, 1u << 22, 1u << 23,
    1u << 24, 1u << 25, 1u << 26, 1u << 27, 1u << 28, 1u << 29, 1u << 30, 1u << 31};

/* Bits k .. k + 31 of a plane, bit k lowest. The caller guarantees they all lie in the plane, so
 * the second word, read when the run crosses a word boundary, is the plane's too. */
static inline uint32_t bits_get32(const uint64_t *plane, size_t k) {
    const size_t q = k >> 6;
    const unsigned s = (unsigned)(k & 63);
    uint64_t v = plane[q] >> s;
    if (s > 64 - BITMAP_CHUNK) v |= plane[q + 1] << (64 - s);
    return (uint32_t)v;
}

/* The second word is touched only for bits that land in it, so a run shorter than 32 (v's high
 * bits zero) may end at the plane's last bit: the word after it, another channel's or none, is
 * neither read nor written. */
void bitmap_or32(uint64_t *plane, size_t k, uint32_t v) {
    const size_t q = k >> 6;
    const unsigned s = (unsigned)(k & 63);
    plane[q] |= (uint64_t)v << s;
    if (s > 64 - BITMAP_CHUNK && (v >> (64 - s)) != 0) plane[q + 1] |= (uint64_t)v >> (64 - s);
}

void bitmap_select(const uint64_t *plane, size_t k0, size_t n, const float *src, float *dst) {
    size_t i = 0;
    for (; i + BITMAP_CHUNK <= n; i += BITMAP_CHUNK) {
        const uint32_t bits = bits_get32(plane, k0 + i);
        /* As integers (the float's bits and'ed with an all-ones or all-zeros mask): a conditional
         * load would not vectorise before AVX. */
        const float *s = src + i;
        float *d = dst + i;
#pragma omp simd
        for (int j = 0; j < BITMAP_CHUNK; j++) {
            uint32_t u;
            memcpy(&u, &s[j], sizeof u);
            u &= 0u - (uint32_t)((bits & lane_bit[j]) != 0);
            memcpy(&d[j], &u, sizeof u);
        }
    }
    for (; i < n; i++) dst[i] = bitmap_get(plane, k0 + i) ? src[i] : 0.0f;
}

void bitmap_or_positive(const float *v, size_t n, uint64_t *plane, size_t k0) {
    size_t i = 0;
    for (; i + BITMAP_CHUNK <= n; i += BITMAP_CHUNK) {
        const float *s = v + i;
        uint32_t bits = 0;
#pragma omp simd reduction(| : bits)
        for (int j = 0; j < BITMAP_CHUNK; j++) bits |= s[j] > 0.0f ? lane_bit[j] : 0u;
        bitmap_or32(plane, k0 + i, bits);
    }
    for (; i < n; i++)
        if (v[i] > 0.0f) plane[(k0 + i) >> 6] |= (uint64_t)1 << ((k0 + i) & 63);
}
