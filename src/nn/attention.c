/* Attention of queries over keys with a streaming softmax (see nn.h).
 *
 * Per query i, over the keys j in blocks of kblock:
 *   s_ij = inv_t <q_i, k_j> + bias_j                 one GEMM per block, S (nq, nb)
 *   m'   = max(m_i, max_j s_ij)                      the running maximum
 *   l_i  = l_i exp(m_i - m') + sum_j exp(s_ij - m')  the running sum
 *   a_i  = a_i exp(m_i - m') + sum_j exp(s_ij - m') v_j   one GEMM per block, into out (nq, dv)
 * and out_i = a_i / l_i at the end: the online softmax (Milakov & Gimelshein 2018, "Online
 * normalizer calculation for softmax"), in the blocked form FlashAttention uses (Dao et al. 2022).
 * Rescaling by exp(m_i - m') keeps every exponent <= 0, so nothing overflows whatever the
 * temperature. Memory: the scores of one block (nq x kblock floats) besides the output. */
#include "nn/nn.h"

#include "core/gemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int attention_forward(size_t nq, size_t d, const float *q, size_t ldq, size_t nk, const float *k, size_t ldk,
                      size_t dv, const float *v, size_t ldv, const float *bias, float inv_t, int hard, size_t kblock,
                      float *out) {
    if (nq == 0) return 0;
    if (kblock == 0 || kblock > nk) kblock = nk;
    float *s = malloc(nq * kblock * sizeof *s);  // (nq, kblock) one block's scores
    float *m = malloc(nq * sizeof *m);           // (nq) running maxima
    float *l = malloc(nq * sizeof *l);           // (nq) running sums (softmax) / unused (hard)
    size_t *best = malloc(nq * sizeof *best);    // (nq) the arg max so far (hard)
    if (!s || !m || !l || !best) {
        free(s), free(m), free(l), free(best);
        return -1;
    }
    for (size_t i = 0; i < nq; i++) m[i] = -INFINITY, l[i] = 0.0f, best[i] = 0;
    if (!hard) memset(out, 0, nq * dv * sizeof *out);
    for (size_t j0 = 0; j0 < nk; j0 += kblock) {
        const size_t nb = nk - j0 < kblock ? nk - j0 : kblock;
        /* S (nq, nb) = inv_t Q^T K_block, Q stored (d, nq), K (d, nk). */
        gemm(1, 0, nq, nb, d, inv_t, q, ldq, k + j0, ldk, 0.0f, s, nb);
#pragma omp parallel for schedule(static) if (nq * nb > 4096)
        for (size_t i = 0; i < nq; i++) {
            float *row = s + i * nb;
            float mx = -INFINITY;
            size_t arg = 0;
            for (size_t j = 0; j < nb; j++) {
                if (bias) row[j] += bias[j0 + j];
                if (row[j] > mx) mx = row[j], arg = j;
            }
            if (hard) {
                if (mx > m[i]) m[i] = mx, best[i] = j0 + arg;
                continue;
            }
            const float mn = mx > m[i] ? mx : m[i];
            if (mn == -INFINITY) {
                /* No key of this query seen yet has a finite score (all excluded by bias). */
                for (size_t j = 0; j < nb; j++) row[j] = 0.0f;
                continue;
            }
            const float r = expf(m[i] - mn);  // 0 on the first finite block
            if (r != 1.0f) {
                float *o = out + i * dv;
                for (size_t c = 0; c < dv; c++) o[c] *= r;
            }
            float sum = 0.0f;
            for (size_t j = 0; j < nb; j++) sum += row[j] = expf(row[j] - mn);
            l[i] = l[i] * r + sum;
            m[i] = mn;
        }
        /* out (nq, dv) += P (nq, nb) V_block^T, V stored (dv, nk). */
        if (!hard) gemm(0, 1, nq, dv, nb, 1.0f, s, nb, v + j0, ldv, 1.0f, out, dv);
    }
#pragma omp parallel for schedule(static) if (nq * dv > 65536)
    for (size_t i = 0; i < nq; i++) {
        float *o = out + i * dv;
        if (hard) {
            for (size_t c = 0; c < dv; c++) o[c] = v[c * ldv + best[i]];
        } else {
            const float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
            for (size_t c = 0; c < dv; c++) o[c] *= inv;
        }
    }
    free(s), free(m), free(l), free(best);
    return 0;
}
