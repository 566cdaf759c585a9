/* AVX-512 microkernels for gemm_blocked (gemm_internal.h), compiled for AVX-512 by function
 * attribute only, so the rest of the build stays baseline x86-64; gemm.c calls them only when
 * the CPU reports avx512f.
 *
 * Tile MR x NR = 8 x 32: each k step loads one row of the packed B sliver (two zmm), broadcasts
 * the 8 packed A values one by one and issues 16 FMAs into 16 accumulators. Measured on the
 * target (Zen 5 in a VM): a 512-bit FMA issues once per cycle per core (the same 32 flop/cycle
 * as two 256-bit FMAs, ~115 GFLOP/s at its clock), so 16 chains of latency 4 keep the pipe full
 * and 10 loads per 16 cycles leave the load ports idle half the time. In L1 this tile reaches
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

/* KC 256: the B sliver (256 x 32 x 4 B = 32 KB) stays in L1 (48 KB) across the A slivers of a
 * block, the A sliver (8 KB) streams beside it; the A block (MC x KC = 256 x 256 x 4 B =
 * 256 KB) stays in L2 (1 MB); the B block (KC x NC = 256 x 4096 x 4 B = 4 MB) in L3 (32 MB). */
const gemm_kernel gemm_kernel_avx512 = {"avx512", 8, 32, 256, 256, 4096, gemm_avx512_8x32};
