/* The portable C microkernel for gemm_blocked (gemm_internal.h), for any CPU: a 4 x 16 tile of
 * accumulators that the compiler keeps in (baseline SSE) vector registers; correct everywhere,
 * fast nowhere, and the reference the vector kernels are tested against besides the naive one. */
#include "core/gemm_internal.h"

/* ap (KC, 4), bp (KC, 16), c (4, 16) row stride ldc. */
static void gemm_portable_4x16(size_t kc, const float *ap, const float *bp, float beta, float *c,
                               size_t ldc) {
    float acc[4][16] = {{0.0f}};
    for (size_t p = 0; p < kc; p++, ap += 4, bp += 16)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 16; j++) acc[i][j] += ap[i] * bp[j];
    for (int i = 0; i < 4; i++) {
        float *cr = c + (size_t)i * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < 16; j++) cr[j] = acc[i][j];
        else
            for (int j = 0; j < 16; j++) cr[j] = acc[i][j] + beta * cr[j];
    }
}

const gemm_kernel gemm_kernel_portable = {"portable", 4, 16, 128, 256, 4096, gemm_portable_4x16, NULL};
