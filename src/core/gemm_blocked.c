/* The blocked SGEMM driver (gemm_internal.h): cache blocking and packing around a microkernel,
 * after Goto & van de Geijn (ACM TOMS 34(3), 2008) in the BLIS loop order: jc over NC columns,
 * pc over KC of the inner dimension, ic over MC rows, then NR x MR tiles.
 *
 * All four transpose combinations and alpha are absorbed by packing (alpha scales the packed A
 * sliver, which is MC x KC and reused across NC columns, so the scaling is nearly free); beta is
 * applied by the microkernel on the first KC block only, later blocks accumulate (beta = 1).
 *
 * Packing buffers: one per thread, allocated on the thread's first GEMM and grown if a later one
 * needs more, kept in a pthread key whose destructor frees it when the thread exits (OpenMP's
 * workers live as long as the process; the main thread's buffer is reclaimed by the OS). So the
 * hot path never allocates, threads never share a buffer, and nothing is global but the key. */
#include "core/gemm_internal.h"

#include "core/alloc.h"
#include "core/ctx.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t cap; /* floats in data */
    float *data;
} gemm_arena;

static pthread_key_t gemm_arena_key;
static pthread_once_t gemm_arena_once = PTHREAD_ONCE_INIT;
static int gemm_arena_ok;

static void gemm_arena_free(void *p) {
    gemm_arena *ar = p;
    if (ar) {
        free(ar->data);
        free(ar);
    }
}

static void gemm_arena_init(void) {
    gemm_arena_ok = pthread_key_create(&gemm_arena_key, gemm_arena_free) == 0;
}

/* The calling thread's buffer of at least `need` floats, 64-byte aligned, or NULL. */
static float *gemm_arena_get(size_t need) {
    pthread_once(&gemm_arena_once, gemm_arena_init);
    if (!gemm_arena_ok) return NULL;
    gemm_arena *ar = pthread_getspecific(gemm_arena_key);
    if (ar && ar->cap >= need) return ar->data;
    if (!ar) {
        ar = calloc(1, sizeof *ar);
        if (!ar) return NULL;
        if (pthread_setspecific(gemm_arena_key, ar) != 0) {
            free(ar);
            return NULL;
        }
    }
    size_t bytes;
    if (!size_mul(need, sizeof(float), &bytes)) return NULL;
    float *data = alloc_aligned(bytes);
    if (!data) return NULL;
    free(ar->data);
    ar->data = data;
    ar->cap = alloc_aligned_size(bytes) / sizeof(float);
    return data;
}

static size_t gemm_min(size_t a, size_t b) { return a < b ? a : b; }

/* ap (MC/MR panels, each (KC, MR)) from op(A) rows 0..mc, columns 0..kc, times alpha; a points at
 * op(A)(0,0): element (i,p) is a[i*lda + p], or a[p*lda + i] when trans. Short panels are
 * zero-padded to MR rows. */
static void gemm_pack_a(const gemm_kernel *kr, int trans, size_t mc, size_t kc, float alpha,
                        const float *a, size_t lda, float *ap) {
    const size_t mr = kr->mr;
    for (size_t ir = 0; ir < mc; ir += mr, ap += mr * kc) {
        size_t h = gemm_min(mr, mc - ir);
        if (!trans && h == mr && kr->pack8 && mr % 8 == 0) {
            for (size_t g = 0; g < mr; g += 8) kr->pack8(kc, a + (ir + g) * lda, lda, alpha, ap + g, mr);
        } else if (trans) {
            for (size_t p = 0; p < kc; p++) {
                const float *src = a + p * lda + ir;
                float *dst = ap + p * mr;
                for (size_t i = 0; i < h; i++) dst[i] = alpha * src[i];
                for (size_t i = h; i < mr; i++) dst[i] = 0.0f;
            }
        } else {
            for (size_t i = 0; i < h; i++) {
                const float *src = a + (ir + i) * lda;
                for (size_t p = 0; p < kc; p++) ap[p * mr + i] = alpha * src[p];
            }
            for (size_t i = h; i < mr; i++)
                for (size_t p = 0; p < kc; p++) ap[p * mr + i] = 0.0f;
        }
    }
}

/* bp (NC/NR panels, each (KC, NR)) from op(B) rows 0..kc, columns 0..nc; b points at op(B)(0,0):
 * element (p,j) is b[p*ldb + j], or b[j*ldb + p] when trans. Short panels are zero-padded.
 * Without trans only the short last panel is packed here, the full ones by gemm_pack_b_rows. */
static void gemm_pack_b(const gemm_kernel *kr, int trans, size_t kc, size_t nc, const float *b,
                        size_t ldb, float *bp) {
    const size_t nr = kr->nr;
    for (size_t jr = 0; jr < nc; jr += nr, bp += nr * kc) {
        size_t w = gemm_min(nr, nc - jr);
        if (trans && w == nr && kr->pack8 && nr % 8 == 0) {
            for (size_t g = 0; g < nr; g += 8) kr->pack8(kc, b + (jr + g) * ldb, ldb, 1.0f, bp + g, nr);
        } else if (trans) {
            if (w < nr) memset(bp, 0, nr * kc * sizeof *bp);
            /* Four source rows at a time, so each packed line is written in fewer passes. */
            size_t j = 0;
            for (; j + 4 <= w; j += 4) {
                const float *s0 = b + (jr + j) * ldb, *s1 = s0 + ldb, *s2 = s1 + ldb, *s3 = s2 + ldb;
                float *dst = bp + j;
                for (size_t p = 0; p < kc; p++, dst += nr) {
                    dst[0] = s0[p];
                    dst[1] = s1[p];
                    dst[2] = s2[p];
                    dst[3] = s3[p];
                }
            }
            for (; j < w; j++) {
                const float *src = b + (jr + j) * ldb;
                for (size_t p = 0; p < kc; p++) bp[p * nr + j] = src[p];
            }
        } else if (w < nr) {
            for (size_t p = 0; p < kc; p++) {
                memcpy(bp + p * nr, b + p * ldb + jr, w * sizeof *bp);
                memset(bp + p * nr + w, 0, (nr - w) * sizeof *bp);
            }
        }
    }
}

/* The full panels of gemm_pack_b without transposition, row by row of B: each source row is read
 * in one sequential pass, which the hardware prefetcher follows, where panel by panel would touch
 * kc rows ldb apart for every panel (and with ldb * 4 a multiple of 4 KB, all in one cache set). */
static void gemm_pack_b_rows(size_t nr, size_t kc, size_t nc, const float *b, size_t ldb, float *bp) {
    const size_t full = nc / nr * nr;
    for (size_t p = 0; p < kc; p++) {
        const float *src = b + p * ldb;
        float *dst = bp + p * nr;
        if (nr == 32)
            for (size_t jr = 0; jr < full; jr += 32, dst += 32 * kc) memcpy(dst, src + jr, 32 * sizeof *dst);
        else if (nr == 16)
            for (size_t jr = 0; jr < full; jr += 16, dst += 16 * kc) memcpy(dst, src + jr, 16 * sizeof *dst);
        else
            for (size_t jr = 0; jr < full; jr += nr, dst += nr * kc) memcpy(dst, src + jr, nr * sizeof *dst);
    }
}

/* A partial tile (h, w) of C: the kernel writes its full MR x NR tile into tmp, which is then
 * merged as C = tmp + beta * C (beta = 0 overwrites). */
static void gemm_edge(const gemm_kernel *kr, size_t kc, const float *ap, const float *bp, float beta,
                      float *c, size_t ldc, size_t h, size_t w) {
    _Alignas(64) float tmp[32 * 64];
    kr->ukr(kc, ap, bp, 0.0f, tmp, kr->nr);
    for (size_t i = 0; i < h; i++) {
        const float *t = tmp + i * kr->nr;
        float *cr = c + i * ldc;
        if (beta == 0.0f)
            for (size_t j = 0; j < w; j++) cr[j] = t[j];
        else
            for (size_t j = 0; j < w; j++) cr[j] = t[j] + beta * cr[j];
    }
}

int gemm_blocked(const gemm_kernel *kr, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                 float alpha, const float *a, size_t lda, const float *b, size_t ldb, float beta,
                 float *c, size_t ldc) {
    const size_t mr = kr->mr, nr = kr->nr;
    /* Blocks no larger than the problem, so a small GEMM does not touch a large buffer. */
    const size_t kc_max = gemm_min(kr->kc, k);
    const size_t mc_max = gemm_min(kr->mc, (m + mr - 1) / mr * mr);
    const size_t nc_max = gemm_min(kr->nc, (n + nr - 1) / nr * nr);
    if (mr * nr > 32 * 64) return -1;
    /* The B block starts on a 64-byte line, as the kernels' aligned loads need. */
    const size_t a_size = (mc_max * kc_max + 15) & ~(size_t)15;
    float *buf = gemm_arena_get(a_size + kc_max * nc_max);
    if (!buf) return -1;
    float *ap_buf = buf, *bp_buf = buf + a_size;

    for (size_t jc = 0; jc < n; jc += nc_max) {
        const size_t nc = gemm_min(nc_max, n - jc);
        for (size_t pc = 0; pc < k; pc += kc_max) {
            const size_t kc = gemm_min(kc_max, k - pc);
            const float beta_blk = pc == 0 ? beta : 1.0f;
            const float *bsrc = trans_b ? b + jc * ldb + pc : b + pc * ldb + jc;
            if (!trans_b) gemm_pack_b_rows(nr, kc, nc, bsrc, ldb, bp_buf);
            gemm_pack_b(kr, trans_b, kc, nc, bsrc, ldb, bp_buf);
            for (size_t ic = 0; ic < m; ic += mc_max) {
                const size_t mc = gemm_min(mc_max, m - ic);
                gemm_pack_a(kr, trans_a, mc, kc, alpha, trans_a ? a + pc * lda + ic : a + ic * lda + pc,
                            lda, ap_buf);
                for (size_t jr = 0; jr < nc; jr += nr) {
                    const size_t w = gemm_min(nr, nc - jr);
                    const float *bp = bp_buf + jr * kc;
                    for (size_t ir = 0; ir < mc; ir += mr) {
                        const size_t h = gemm_min(mr, mc - ir);
                        const float *ap = ap_buf + ir * kc;
                        float *ct = c + (ic + ir) * ldc + jc + jr;
                        if (h == mr && w == nr)
                            kr->ukr(kc, ap, bp, beta_blk, ct, ldc);
                        else
                            gemm_edge(kr, kc, ap, bp, beta_blk, ct, ldc, h, w);
                    }
                }
            }
        }
    }
    return 0;
}
