/* AVX-512 microkernels for gemm_blocked (gemm_internal.h), compiled for AVX-512 by function
 * attribute only, so the rest of the build stays baseline x86-64; gemm.c calls them only when
 * the CPU reports avx512f.
 *
 * Tile MR x NR = 8 x 32: each k step loads one row of the packed B sliver (two zmm), broadcasts
 * the 8 packed A values one by one and issues 16 FMAs into 16 accumulators. Measured on the
 * target (an AMD EPYC reporting family 25 model 17, i.e. Zen 4, whose 512-bit operations run
 * as two 256-bit halves): one 512-bit FMA per cycle per core, the same 32 flop/cycle as two
 * 256-bit FMAs (~115 GFLOP/s at its clock), so 16 chains of latency 4 keep the pipe full and
 * 10 loads per 16 cycles leave the load ports idle half the time. In L1 this tile reaches
 * ~114 GFLOP/s, where 14 x 32 (28 accumulators, one spilled) and 12 x 32 reach 100-105 and
 * 16 x 16 112; and MR = 8 divides every channel count of VGG-19 (64..512), so the layers' M
 * never leaves a partial tile. */
#include "core/gemm_internal.h"

#include <immintrin.h>

#define GEMM_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))

/* The body of an MR x (16*NV) kernel over the ukr arguments (gemm_ukr_fn). The pragmas unroll
 * the constant loops completely so the accumulator array lives in registers. */
#define GEMM_AVX512_BODY(MR, NV)                                                                   \
    __m512 acc[MR][NV];                                                                            \
    _Pragma("GCC unroll 16") for (int i = 0; i < (MR); i++)                                        \
        _Pragma("GCC unroll 4") for (int v = 0; v < (NV); v++) acc[i][v] = _mm512_setzero_ps();    \
    _Pragma("GCC unroll 16") for (int i = 0; i < (MR); i++)                                        \
        _Pragma("GCC unroll 4") for (int v = 0; v < (NV); v++)                                     \
            _mm_prefetch((const char *)(c + (size_t)i * ldc + 16 * v), _MM_HINT_T0);               \
    _Pragma("GCC unroll 2") for (size_t p = 0; p < kc; p++) {                                      \
        __m512 bv[NV];                                                                             \
        _Pragma("GCC unroll 4") for (int v = 0; v < (NV); v++) bv[v] = _mm512_load_ps(bp + 16 * v); \
        _mm_prefetch((const char *)(ap + 8 * (MR)), _MM_HINT_T0);                                  \
        _Pragma("GCC unroll 16") for (int i = 0; i < (MR); i++) {                                  \
            __m512 av = _mm512_set1_ps(ap[i]);                                                     \
            _Pragma("GCC unroll 4") for (int v = 0; v < (NV); v++)                                 \
                acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);                                 \
        }                                                                                          \
        ap += (MR);                                                                                \
        bp += 16 * (NV);                                                                           \
    }                                                                                              \
    if (beta == 0.0f) {                                                                            \
        _Pragma("GCC unroll 16") for (int i = 0; i < (MR); i++)                                    \
            _Pragma("GCC unroll 4") for (int v = 0; v < (NV); v++)                                 \
                _mm512_storeu_ps(c + (size_t)i * ldc + 16 * v, acc[i][v]);                         \
    } else if (beta == 1.0f) {                                                                     \
        _Pragma("GCC unroll 16") for (int i = 0; i < (MR); i++)                                    \
            _Pragma("GCC unroll 4") for (int v = 0; v < (NV); v++) {                               \
                float *cp = c + (size_t)i * ldc + 16 * v;                                          \
                _mm512_storeu_ps(cp, _mm512_add_ps(acc[i][v], _mm512_loadu_ps(cp)));               \
            }                                                                                      \
    } else {                                                                                       \
        const __m512 bb = _mm512_set1_ps(beta);                                                    \
        _Pragma("GCC unroll 16") for (int i = 0; i < (MR); i++)                                    \
            _Pragma("GCC unroll 4") for (int v = 0; v < (NV); v++) {                               \
                float *cp = c + (size_t)i * ldc + 16 * v;                                          \
                _mm512_storeu_ps(cp, _mm512_fmadd_ps(bb, _mm512_loadu_ps(cp), acc[i][v]));         \
            }                                                                                      \
    }

/* ap (KC, 8), bp (KC, 32), c (8, 32) row stride ldc. */
GEMM_AVX512 static void gemm_avx512_8x32(size_t kc, const float *ap, const float *bp, float beta,
                                         float *c, size_t ldc) {
    GEMM_AVX512_BODY(8, 2)
}

/* Index vectors for _mm512_permutex2var_ps that interleave groups of g floats of a (0..15) and
 * b (16..31): lo takes groups from elements 0..7 of each, hi from 8..15. */
GEMM_AVX512 static void gemm_avx512_interleave_idx(int g, __m512i *lo, __m512i *hi) {
    int idx[16];
    for (int e = 0; e < 16; e++) {
        int t = e / (2 * g), w = e % (2 * g);
        idx[e] = (w < g ? 0 : 16) + t * g + w % g;
    }
    *lo = _mm512_loadu_si512(idx);
    *hi = _mm512_add_epi32(*lo, _mm512_set1_epi32(8));
}

/* dst[p*stride + i] = alpha * src[i*ld + p] for 8 rows i and p < kc: the transposition that
 * packing op(A) without trans (stride MR) and op(B) with trans (stride NR, 8 of its rows at a
 * time) both need. 16 columns at a time as an 8 x 16 block transposed in registers by three
 * rounds of two-source permutes (pairs, then quads, then octets of rows), each output zmm
 * holding two packed lines; the remaining columns one by one. */
GEMM_AVX512 static void gemm_avx512_pack8(size_t kc, const float *src, size_t ld, float alpha,
                                          float *dst, size_t stride) {
    __m512i lo[3], hi[3];
    for (int s = 0; s < 3; s++) gemm_avx512_interleave_idx(1 << s, &lo[s], &hi[s]);
    const __m512 al = _mm512_set1_ps(alpha);
    size_t p = 0;
    for (; p + 16 <= kc; p += 16) {
        __m512 r[8], t[8], u[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) r[i] = _mm512_mul_ps(al, _mm512_loadu_ps(src + (size_t)i * ld + p));
        /* t[2q], t[2q+1]: rows 2q and 2q+1 paired, columns 0..7 and 8..15. */
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++) {
            t[2 * q] = _mm512_permutex2var_ps(r[2 * q], lo[0], r[2 * q + 1]);
            t[2 * q + 1] = _mm512_permutex2var_ps(r[2 * q], hi[0], r[2 * q + 1]);
        }
        /* u[4h + c]: rows 4h..4h+3 as quads, columns 4c..4c+3. */
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            u[4 * h + 0] = _mm512_permutex2var_ps(t[4 * h], lo[1], t[4 * h + 2]);
            u[4 * h + 1] = _mm512_permutex2var_ps(t[4 * h], hi[1], t[4 * h + 2]);
            u[4 * h + 2] = _mm512_permutex2var_ps(t[4 * h + 1], lo[1], t[4 * h + 3]);
            u[4 * h + 3] = _mm512_permutex2var_ps(t[4 * h + 1], hi[1], t[4 * h + 3]);
        }
        /* All 8 rows for columns 4c, 4c+1 (lo) and 4c+2, 4c+3 (hi). */
#pragma GCC unroll 4
        for (int c4 = 0; c4 < 4; c4++) {
            __m512 v0 = _mm512_permutex2var_ps(u[c4], lo[2], u[4 + c4]);
            __m512 v1 = _mm512_permutex2var_ps(u[c4], hi[2], u[4 + c4]);
            float *d = dst + (p + 4 * (size_t)c4) * stride;
            _mm256_storeu_ps(d, _mm512_castps512_ps256(v0));
            _mm256_storeu_ps(d + stride, _mm512_extractf32x8_ps(v0, 1));
            _mm256_storeu_ps(d + 2 * stride, _mm512_castps512_ps256(v1));
            _mm256_storeu_ps(d + 3 * stride, _mm512_extractf32x8_ps(v1, 1));
        }
    }
    for (; p < kc; p++)
        for (int i = 0; i < 8; i++) dst[p * stride + (size_t)i] = alpha * src[(size_t)i * ld + p];
}

/* KC 256: the B sliver (256 x 32 x 4 B = 32 KB) is reused from L1 (32 KB on Zen 4, 48 KB on
 * Zen 5) across the A slivers of a block, which stream from L2 (8 KB each); the A block
 * (MC x KC = 256 x 256 x 4 B = 256 KB) stays in L2 (1 MB); the B block (KC x NC = 256 x 4096 x
 * 4 B = 4 MB) in L3 (32 MB). KC 128..384 and MC 128..1024, and looping A slivers outside B
 * slivers with a B block sized for L2, measured within noise of this on the target. */
const gemm_kernel gemm_kernel_avx512 = {"avx512", 8, 32, 256, 256, 4096, gemm_avx512_8x32, gemm_avx512_pack8};
