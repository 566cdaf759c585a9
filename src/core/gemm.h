/* Single-precision GEMM behind one interface: impasto's own blocked kernels (AVX-512, AVX2, portable,
 * chosen at run time) or OpenBLAS — gemm.c says which and why.
 * Row-major throughout: C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C,
 * with lda/ldb/ldc the row strides of A, B, C as stored. */
#ifndef IMPASTO_CORE_GEMM_H
#define IMPASTO_CORE_GEMM_H

#include <stddef.h>

void gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
          size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);
/* Sets the OpenMP team size that a GEMM called outside a parallel region splits over (and keeps
 * OpenBLAS itself single-threaded: see gemm.c). Process-wide, as OpenMP's own setting is. */
void gemm_set_threads(int nthreads);

#endif
