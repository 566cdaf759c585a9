/* AVX2 + FMA microkernel for gemm_blocked (gemm_internal.h), for x86-64 CPUs without AVX-512;
 * compiled for AVX2 by function attribute only, called only when the CPU reports avx2 and fma.
 *
 * Tile MR x NR = 6 x 16: each k step loads one row of the packed B sliver (two ymm), broadcasts
 * the 6 packed A values and issues 12 FMAs into 12 accumulators — 15 of the 16 ymm registers,
 * enough independent chains for two FMA pipes of latency 4-5. */
#include "core/gemm_internal.h"

#include <immintrin.h>

/* ap (KC, 6), bp (KC, 16), c (6, 16) row stride ldc. */
__attribute__((target("avx2,fma"))) static void gemm_avx2_6x16(size_t kc, const float *ap,
                                                               const float *bp, float beta,
                                                               float *c, size_t ldc) {
    __m256 acc[6][2];
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
#pragma GCC unroll 2
    for (size_t p = 0; p < kc; p++) {
        const __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++) {
            const __m256 av = _mm256_broadcast_ss(ap + i);
            acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
        }
        ap += 6;
        bp += 16;
    }
    const __m256 bb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
        float *cp = c + (size_t)i * ldc;
        if (beta == 0.0f) {
            _mm256_storeu_ps(cp, acc[i][0]);
            _mm256_storeu_ps(cp + 8, acc[i][1]);
        } else {
            _mm256_storeu_ps(cp, _mm256_fmadd_ps(bb, _mm256_loadu_ps(cp), acc[i][0]));
            _mm256_storeu_ps(cp + 8, _mm256_fmadd_ps(bb, _mm256_loadu_ps(cp + 8), acc[i][1]));
        }
    }
}

/* KC 256: the B sliver (256 x 16 x 4 B = 16 KB) stays in L1 across the A slivers of an MC
 * block (MC x KC = 120 x 256 x 4 B = 120 KB, for a 256 KB-or-larger L2). */
const gemm_kernel gemm_kernel_avx2 = {"avx2", 6, 16, 120, 256, 4096, gemm_avx2_6x16, NULL};
