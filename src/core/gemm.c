/* gemm.h over OpenBLAS's CBLAS, kept thin so that a hand-written kernel can replace it without
 * touching the layers.
 *
 * Threads: OpenBLAS is kept single-threaded and impasto's one OpenMP team does the splitting —
 * inside a layer's parallel region each member calls GEMM on its own part; called outside any
 * parallel region, a large product is split here by columns (or rows, when they are the longer
 * side). Two pools (OpenBLAS's workers and OpenMP's) spinning for the same 2 cores cost 40-70%. */
#include "core/gemm.h"

#include <cblas.h>
#include <omp.h>
#include <pthread.h>

static pthread_once_t gemm_once = PTHREAD_ONCE_INIT;
static void gemm_init(void) { openblas_set_num_threads(1); }

static void gemm_serial(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                        const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                        size_t ldc) {
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

void gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
          size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    pthread_once(&gemm_once, gemm_init);
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    /* Below ~4 MFLOP a split costs more than it saves. */
    if (nt <= 1 || (double)m * (double)n * (double)k < 2e6) {
        gemm_serial(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    int by_cols = n >= m;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), tn = omp_get_num_threads();
        size_t len = by_cols ? n : m;
        size_t lo = len * (size_t)t / (size_t)tn, hi = len * (size_t)(t + 1) / (size_t)tn;
        if (hi > lo) {
            if (by_cols) {
                /* Columns lo..hi of op(B) and C. */
                const float *bp = trans_b ? b + lo * ldb : b + lo;
                gemm_serial(trans_a, trans_b, m, hi - lo, k, alpha, a, lda, bp, ldb, beta, c + lo, ldc);
            } else {
                /* Rows lo..hi of op(A) and C. */
                const float *ap = trans_a ? a + lo : a + lo * lda;
                gemm_serial(trans_a, trans_b, hi - lo, n, k, alpha, ap, lda, b, ldb, beta, c + lo * ldc, ldc);
            }
        }
    }
}

void gemm_set_threads(int nthreads) {
    pthread_once(&gemm_once, gemm_init);
    if (nthreads > 0) omp_set_num_threads(nthreads);
}
