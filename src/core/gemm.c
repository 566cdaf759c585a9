/* gemm.h: a hand-written blocked SGEMM (gemm_blocked.c with the microkernel the CPU can run)
 * with OpenBLAS's CBLAS kept as a path of its own, and an unpacked loop as the fallback when the
 * packing buffer cannot be allocated.
 *
 * Paths (gemm_internal.h): "auto" picks the AVX-512 kernel where the CPU has it (on Zen 4 level
 * with or ahead of OpenBLAS on every shape the layers use; bench/bench_gemm.c compares them), else
 * the AVX2 one, else OpenBLAS. On Zen 3 OpenBLAS's own kernel is 10-30% faster than the AVX2 one
 * on most shapes, but "auto" still avoids it: OpenBLAS retries a failed allocation of its buffers
 * forever, so out of memory it hangs instead of failing (tests/cli/test_faults.sh). The environment
 * variable IMPASTO_GEMM=openblas|avx512|avx2|portable|unpacked|auto forces one. It is read
 * once, on the first GEMM, into a file-scope atomic under pthread_once — the one piece of
 * process-wide state here besides OpenMP's own, a process-wide choice of implementation as
 * OPENBLAS_CORETYPE is; an unknown name, or one the CPU cannot run, leaves "auto".
 *
 * Threads: OpenBLAS is kept single-threaded and impasto's one OpenMP team does the splitting —
 * inside a layer's parallel region each member calls GEMM on its own part; called outside any
 * parallel region, a large product is split here by columns (or rows, when they are the longer
 * side). Two pools (OpenBLAS's workers and OpenMP's) spinning for the same 2 cores cost 40-70%. */
#include "core/gemm.h"

#include "core/gemm_internal.h"

#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { GEMM_AUTO, GEMM_OPENBLAS, GEMM_AVX512, GEMM_AVX2, GEMM_PORTABLE, GEMM_UNPACKED, GEMM_NPATHS };
static const char *const gemm_names[GEMM_NPATHS] = {"auto",     "openblas", "avx512",
                                                   "avx2",     "portable", "unpacked"};

static pthread_once_t gemm_once = PTHREAD_ONCE_INIT;
static atomic_int gemm_path = GEMM_AUTO;

static int gemm_cpu_has(int path) {
    switch (path) {
    case GEMM_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("fma");
    case GEMM_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    default: return 1;
    }
}

static int gemm_lookup(const char *name) {
    for (int p = 0; p < GEMM_NPATHS; p++)
        if (name && strcmp(name, gemm_names[p]) == 0) return p;
    return -1;
}

static void gemm_init(void) {
    openblas_set_num_threads(1);
    __builtin_cpu_init();
    int p = gemm_lookup(getenv("IMPASTO_GEMM"));
    if (p >= 0 && gemm_cpu_has(p)) atomic_store(&gemm_path, p);
}

int gemm_set_path(const char *name) {
    pthread_once(&gemm_once, gemm_init);
    int p = gemm_lookup(name);
    if (p < 0 || !gemm_cpu_has(p)) return -1;
    atomic_store(&gemm_path, p);
    return 0;
}

const char *gemm_path_name(void) {
    pthread_once(&gemm_once, gemm_init);
    return gemm_names[atomic_load(&gemm_path)];
}

int gemm_path_supported(const char *name) {
    pthread_once(&gemm_once, gemm_init);
    int p = gemm_lookup(name);
    return p >= 0 && gemm_cpu_has(p);
}

/* The kernel for a path, or NULL for OpenBLAS. */
static const gemm_kernel *gemm_kernel_for(int path) {
    switch (path) {
    case GEMM_AVX512: return &gemm_kernel_avx512;
    case GEMM_AVX2: return &gemm_kernel_avx2;
    case GEMM_PORTABLE: return &gemm_kernel_portable;
    case GEMM_AUTO:
        if (gemm_cpu_has(GEMM_AVX512)) return &gemm_kernel_avx512;
        if (gemm_cpu_has(GEMM_AVX2)) return &gemm_kernel_avx2;
        return NULL;
    default: return NULL;
    }
}

const gemm_kernel *gemm_active_kernel(void) {
    pthread_once(&gemm_once, gemm_init);
    int p = atomic_load(&gemm_path);
    return p == GEMM_UNPACKED ? NULL : gemm_kernel_for(p);
}

/* C = alpha op(A) op(B) + beta C without any buffer: the path when the packing buffer cannot be
 * allocated. Slow, but it cannot fail — OpenBLAS is no fallback there, as it retries a failed
 * allocation of its own buffers without end. */
static void gemm_unpacked(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                          const float *a, size_t lda, const float *b, size_t ldb, float beta,
                          float *c, size_t ldc) {
    for (size_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        for (size_t j = 0; j < n; j++) ci[j] = beta == 0.0f ? 0.0f : beta * ci[j];
        for (size_t p = 0; p < k; p++) {
            const float aip = alpha * (trans_a ? a[p * lda + i] : a[i * lda + p]);
            if (trans_b)
                for (size_t j = 0; j < n; j++) ci[j] += aip * b[j * ldb + p];
            else
                for (size_t j = 0; j < n; j++) ci[j] += aip * b[p * ldb + j];
        }
    }
}

static void gemm_serial(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                        const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                        size_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0 || alpha == 0.0f) {
        /* The product is empty (BLAS does not read A and B when alpha is 0, and OpenBLAS rejects
         * the leading dimensions below 1 that k = 0 can imply): only the beta scaling remains. */
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        return;
    }
    const gemm_kernel *kr = gemm_kernel_for(atomic_load(&gemm_path));
    if (atomic_load(&gemm_path) == GEMM_UNPACKED) {
        gemm_unpacked(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    if (kr) {
        if (gemm_blocked(kr, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) != 0)
            gemm_unpacked(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
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
