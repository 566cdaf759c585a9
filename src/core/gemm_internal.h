/* Internals of gemm.h: the hand-written blocked SGEMM (gemm_blocked.c) and its microkernels
 * (gemm_avx512.c, gemm_avx2.c, gemm_portable.c), and the path switch tests and benchmarks use.
 *
 * Method: Goto & van de Geijn, "Anatomy of high-performance matrix multiplication" (ACM TOMS
 * 34(3), 2008) as BLIS structures it (Van Zee & van de Geijn, ACM TOMS 41(3), 2015): op(B) is
 * packed KC x NC at a time into NR-wide micro-panels, op(A) MC x KC at a time into MR-high
 * micro-panels, and a register-blocked microkernel multiplies one MR x KC sliver by one KC x NR
 * sliver into an MR x NR tile of C held entirely in registers. */
#ifndef IMPASTO_CORE_GEMM_INTERNAL_H
#define IMPASTO_CORE_GEMM_INTERNAL_H

#include <stddef.h>

/* One full MR x NR tile: C (MR, NR) row stride ldc = acc + beta * C, where acc is
 * sum over p < kc of ap[p*MR + i] * bp[p*NR + j]; beta = 0 overwrites C (NaN there is not
 * propagated). ap (KC, MR) and bp (KC, NR) are packed, 64-byte aligned and zero-padded. */
typedef void (*gemm_ukr_fn)(size_t kc, const float *ap, const float *bp, float beta, float *c,
                            size_t ldc);

/* dst[p*stride + i] = alpha * src[i*ld + p] for i < 8, p < kc: 8 rows transposed into packed
 * lines (the packing of op(A) without trans and of op(B) with trans). */
typedef void (*gemm_pack8_fn)(size_t kc, const float *src, size_t ld, float alpha, float *dst,
                              size_t stride);

typedef struct {
    const char *name;
    size_t mr, nr;      /* register tile */
    size_t mc, kc, nc;  /* cache blocks: A block (MC, KC) for L2, B block (KC, NC) for L3 */
    gemm_ukr_fn ukr;
    gemm_pack8_fn pack8; /* NULL: packing transposes element by element */
} gemm_kernel;

/* Each is compiled for its instruction set (function target attributes); call only when
 * gemm_cpu_has() says the CPU has it. */
extern const gemm_kernel gemm_kernel_avx512, gemm_kernel_avx2, gemm_kernel_portable;

/* C (M,N) = alpha * op(A) (M,K) op(B) (K,N) + beta * C on the calling thread, row-major, with
 * k > 0, m > 0, n > 0. Returns 0, or -1 when the thread's packing buffer cannot be allocated
 * (then C is untouched and the caller falls back to an unpacked loop that needs no memory). */
int gemm_blocked(const gemm_kernel *kr, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                 float alpha, const float *a, size_t lda, const float *b, size_t ldb, float beta,
                 float *c, size_t ldc);

/* The microkernel gemm() uses on the path in force, or NULL when that path has none (OpenBLAS,
 * unpacked): for callers that keep their operands packed themselves (conv_winograd.c). */
const gemm_kernel *gemm_active_kernel(void);

/* Paths by name: "auto" (the default: the fastest correct one for the CPU and shape),
 * "openblas", "avx512", "avx2", "portable", "unpacked" (the no-allocation fallback). The initial path comes from the environment
 * variable IMPASTO_GEMM (read once, on the first GEMM); gemm_set_path() replaces it
 * process-wide and returns 0, or -1 (path unchanged) for an unknown name or one the CPU
 * cannot run. For tests and benchmarks only: not thread-safe against GEMMs running. */
int gemm_set_path(const char *name);
/* The path in force, e.g. "auto" or "avx512". */
const char *gemm_path_name(void);
/* 1 when this CPU can run the named path. */
int gemm_path_supported(const char *name);

#endif
