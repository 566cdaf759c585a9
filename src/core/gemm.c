/* gemm.h over OpenBLAS's CBLAS. Kept this thin so that a hand-written kernel can replace it
 * without touching the layers. */
#include "core/gemm.h"

#include <cblas.h>

void gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
          size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
        /* OpenBLAS rejects (and prints about) leading dimensions below 1, which k = 0 can imply;
         * the product is empty, so only the beta scaling remains. */
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        return;
    }
    /* CBLAS takes int sizes: the layers keep every operand far below 2^31 elements per
     * dimension (a band of the im2col matrix is bounded by conv2d_workspace). */
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda,
                b, (int)ldb, beta, c, (int)ldc);
}

void gemm_set_threads(int nthreads) {
    if (nthreads > 0) openblas_set_num_threads(nthreads);
}
