/* AVX2 + FMA versions of the variational refinement's two hot loops (flow_refine.c), compiled for
 * AVX2 by function attribute only (the pattern of src/core/gemm_avx512.c), called only when the
 * CPU has both. Measured on the target (AMD EPYC, Zen 5 reporting AVX-512, 640x360 medium preset,
 * one thread): the refinement is about 60% of the flow's time in portable code, and these two
 * loops take it down by about 3x (docs/video.md, "Optical flow"). 512-bit versions would not pay
 * here: the SOR half-sweep wastes half of each vector on the other colour, and the rows of the
 * fine levels (320 or 640 floats) are short.
 *
 * refine_sor_half_avx2 computes 8 neighbouring pixels of both colours and stores only the lanes
 * of the colour being swept: a pixel of one colour reads only neighbours of the other, which this
 * half-sweep does not change, so the result is that of the portable loop (up to FMA rounding). */
#include "video/flow_internal.h"

#include <immintrin.h>
#include <math.h>

#define FLOW_AVX2 __attribute__((target("avx2,fma")))

/* [prev[7], cur[0], ..., cur[6]]: the vector one float to the left. */
FLOW_AVX2 static inline __m256 flow_shift_in(__m256 prev, __m256 cur) {
    __m256 t = _mm256_permute2f128_ps(prev, cur, 0x21); /* prev's high half, cur's low half */
    return _mm256_castsi256_ps(_mm256_alignr_epi8(_mm256_castps_si256(cur), _mm256_castps_si256(t), 12));
}

FLOW_AVX2 void refine_data_avx2(flow_refine_buf *b, const float *du, const float *dv, const float *sx,
                                const float *sy, const float *uu, const float *vv, size_t w, size_t n,
                                float gamma, float delta) {
    const __m256 zeta2 = _mm256_set1_ps(REFINE_ZETA2), eps2 = _mm256_set1_ps(REFINE_EPS2);
    const __m256 one = _mm256_set1_ps(1.0f), vg = _mm256_set1_ps(gamma), vd = _mm256_set1_ps(delta);
    size_t p = 0;
    for (; p + 8 <= n; p += 8) {
        __m256 cdu = _mm256_loadu_ps(du + p), cdv = _mm256_loadu_ps(dv + p);
        __m256 ix = _mm256_loadu_ps(b->ix + p), iy = _mm256_loadu_ps(b->iy + p), iz = _mm256_loadu_ps(b->iz + p);
        __m256 ixx = _mm256_loadu_ps(b->ixx + p), ixy = _mm256_loadu_ps(b->ixy + p);
        __m256 iyy = _mm256_loadu_ps(b->iyy + p);
        __m256 ixz = _mm256_loadu_ps(b->ixz + p), iyz = _mm256_loadu_ps(b->iyz + p);
        __m256 ni = _mm256_div_ps(one, _mm256_fmadd_ps(ix, ix, _mm256_fmadd_ps(iy, iy, zeta2)));
        __m256 ngx = _mm256_div_ps(one, _mm256_fmadd_ps(ixx, ixx, _mm256_fmadd_ps(ixy, ixy, zeta2)));
        __m256 ngy = _mm256_div_ps(one, _mm256_fmadd_ps(ixy, ixy, _mm256_fmadd_ps(iyy, iyy, zeta2)));
        __m256 ri = _mm256_fmadd_ps(iy, cdv, _mm256_fmadd_ps(ix, cdu, iz));
        __m256 rgx = _mm256_fmadd_ps(ixy, cdv, _mm256_fmadd_ps(ixx, cdu, ixz));
        __m256 rgy = _mm256_fmadd_ps(iyy, cdv, _mm256_fmadd_ps(ixy, cdu, iyz));
        __m256 ci = _mm256_div_ps(_mm256_mul_ps(vd, ni),
                                  _mm256_sqrt_ps(_mm256_fmadd_ps(_mm256_mul_ps(ri, ri), ni, eps2)));
        __m256 g2 = _mm256_fmadd_ps(_mm256_mul_ps(rgx, rgx), ngx, _mm256_fmadd_ps(_mm256_mul_ps(rgy, rgy), ngy, eps2));
        __m256 psig = _mm256_div_ps(vg, _mm256_sqrt_ps(g2));
        __m256 cgx = _mm256_mul_ps(psig, ngx), cgy = _mm256_mul_ps(psig, ngy);
        __m256 sl = _mm256_loadu_ps(sx + p - 1), sr = _mm256_loadu_ps(sx + p);
        __m256 su = _mm256_loadu_ps(sy + p - w), sd = _mm256_loadu_ps(sy + p);
        __m256 ssum = _mm256_add_ps(_mm256_add_ps(sl, sr), _mm256_add_ps(su, sd));
        __m256 up = _mm256_loadu_ps(uu + p), vp = _mm256_loadu_ps(vv + p);
        __m256 lu = _mm256_mul_ps(sl, _mm256_sub_ps(_mm256_loadu_ps(uu + p - 1), up));
        lu = _mm256_fmadd_ps(sr, _mm256_sub_ps(_mm256_loadu_ps(uu + p + 1), up), lu);
        lu = _mm256_fmadd_ps(su, _mm256_sub_ps(_mm256_loadu_ps(uu + p - w), up), lu);
        lu = _mm256_fmadd_ps(sd, _mm256_sub_ps(_mm256_loadu_ps(uu + p + w), up), lu);
        __m256 lv = _mm256_mul_ps(sl, _mm256_sub_ps(_mm256_loadu_ps(vv + p - 1), vp));
        lv = _mm256_fmadd_ps(sr, _mm256_sub_ps(_mm256_loadu_ps(vv + p + 1), vp), lv);
        lv = _mm256_fmadd_ps(su, _mm256_sub_ps(_mm256_loadu_ps(vv + p - w), vp), lv);
        lv = _mm256_fmadd_ps(sd, _mm256_sub_ps(_mm256_loadu_ps(vv + p + w), vp), lv);
        __m256 cix = _mm256_mul_ps(ci, ix), ciy = _mm256_mul_ps(ci, iy);
        __m256 gxx = _mm256_mul_ps(cgx, ixx), gxy = _mm256_mul_ps(cgx, ixy);
        __m256 gyx = _mm256_mul_ps(cgy, ixy), gyy = _mm256_mul_ps(cgy, iyy);
        /* a12 = ci ix iy + cgx ixx ixy + cgy ixy iyy, a11 = ci ix^2 + cgx ixx^2 + cgy ixy^2, ... */
        __m256 a12 = _mm256_fmadd_ps(cix, iy, _mm256_fmadd_ps(gxx, ixy, _mm256_mul_ps(gyx, iyy)));
        __m256 a11 = _mm256_fmadd_ps(cix, ix, _mm256_fmadd_ps(gxx, ixx, _mm256_fmadd_ps(gyx, ixy, ssum)));
        __m256 a22 = _mm256_fmadd_ps(ciy, iy, _mm256_fmadd_ps(gxy, ixy, _mm256_fmadd_ps(gyy, iyy, ssum)));
        __m256 b1 = _mm256_fmadd_ps(cix, iz, _mm256_fmadd_ps(gxx, ixz, _mm256_mul_ps(gyx, iyz)));
        __m256 b2 = _mm256_fmadd_ps(ciy, iz, _mm256_fmadd_ps(gxy, ixz, _mm256_mul_ps(gyy, iyz)));
        _mm256_storeu_ps(b->a12 + p, a12);
        _mm256_storeu_ps(b->inv11 + p, _mm256_div_ps(one, a11));
        _mm256_storeu_ps(b->inv22 + p, _mm256_div_ps(one, a22));
        _mm256_storeu_ps(b->r1 + p, _mm256_sub_ps(lu, b1));
        _mm256_storeu_ps(b->r2 + p, _mm256_sub_ps(lv, b2));
    }
    for (; p < n; p++) {
        float cdu = du[p], cdv = dv[p];
        float ix = b->ix[p], iy = b->iy[p], iz = b->iz[p];
        float ixx = b->ixx[p], ixy = b->ixy[p], iyy = b->iyy[p];
        float ixz = b->ixz[p], iyz = b->iyz[p];
        float ni = 1.0f / (ix * ix + iy * iy + REFINE_ZETA2);
        float ngx = 1.0f / (ixx * ixx + ixy * ixy + REFINE_ZETA2);
        float ngy = 1.0f / (ixy * ixy + iyy * iyy + REFINE_ZETA2);
        float ri = iz + ix * cdu + iy * cdv;
        float rgx = ixz + ixx * cdu + ixy * cdv, rgy = iyz + ixy * cdu + iyy * cdv;
        float ci = delta * ni / sqrtf(ri * ri * ni + REFINE_EPS2);
        float psig = gamma / sqrtf(rgx * rgx * ngx + rgy * rgy * ngy + REFINE_EPS2);
        float cgx = psig * ngx, cgy = psig * ngy;
        float sl = sx[p - 1], sr = sx[p], su = sy[p - w], sd = sy[p];
        float ssum = sl + sr + su + sd;
        float up = uu[p], vp = vv[p];
        float lu = sl * (uu[p - 1] - up) + sr * (uu[p + 1] - up) + su * (uu[p - w] - up) + sd * (uu[p + w] - up);
        float lv = sl * (vv[p - 1] - vp) + sr * (vv[p + 1] - vp) + su * (vv[p - w] - vp) + sd * (vv[p + w] - vp);
        b->a12[p] = ci * ix * iy + cgx * ixx * ixy + cgy * ixy * iyy;
        b->inv11[p] = 1.0f / (ci * ix * ix + cgx * ixx * ixx + cgy * ixy * ixy + ssum);
        b->inv22[p] = 1.0f / (ci * iy * iy + cgx * ixy * ixy + cgy * iyy * iyy + ssum);
        b->r1[p] = lu - (ci * ix * iz + cgx * ixx * ixz + cgy * ixy * iyz);
        b->r2[p] = lv - (ci * iy * iz + cgx * ixy * ixz + cgy * iyy * iyz);
    }
}

FLOW_AVX2 void refine_sor_half_avx2(const flow_refine_buf *b, float *du, float *dv, const float *sx,
                                    const float *sy, size_t w, size_t h, int colour) {
    const __m256 omega = _mm256_set1_ps(REFINE_OMEGA);
    /* lanes 0, 2, 4, 6 (even) or 1, 3, 5, 7 (odd) */
    const __m256 even = _mm256_castsi256_ps(_mm256_setr_epi32(-1, 0, -1, 0, -1, 0, -1, 0));
    const __m256 odd = _mm256_castsi256_ps(_mm256_setr_epi32(0, -1, 0, -1, 0, -1, 0, -1));
    for (size_t y = 0; y < h; y++) {
        size_t first = (y + (size_t)colour) & 1; /* the first x of this colour in the row */
        __m256 keep = first ? odd : even;        /* x0 is a multiple of 8, so lane parity = x parity */
        size_t x = 0;
        /* the chunk before, as stored: its last lane is the left neighbour of lane 0 (read from
         * a register, as a load straddling the store just made would stall); zero at x = 0,
         * where the left link's weight is 0 */
        __m256 pu = _mm256_setzero_ps(), pv = _mm256_setzero_ps();
        for (; x + 8 <= w; x += 8) {
            size_t p = y * w + x;
            __m256 sl = _mm256_loadu_ps(sx + p - 1), sr = _mm256_loadu_ps(sx + p);
            __m256 su = _mm256_loadu_ps(sy + p - w), sd = _mm256_loadu_ps(sy + p);
            __m256 cu = _mm256_loadu_ps(du + p), cv = _mm256_loadu_ps(dv + p);
            __m256 lu = flow_shift_in(pu, cu), lv = flow_shift_in(pv, cv);
            __m256 a12 = _mm256_loadu_ps(b->a12 + p);
            __m256 t = _mm256_fmadd_ps(sl, lu, _mm256_loadu_ps(b->r1 + p));
            t = _mm256_fmadd_ps(sr, _mm256_loadu_ps(du + p + 1), t);
            t = _mm256_fmadd_ps(su, _mm256_loadu_ps(du + p - w), t);
            t = _mm256_fmadd_ps(sd, _mm256_loadu_ps(du + p + w), t);
            __m256 nu = _mm256_mul_ps(_mm256_fnmadd_ps(a12, cv, t), _mm256_loadu_ps(b->inv11 + p));
            __m256 uu = _mm256_fmadd_ps(omega, _mm256_sub_ps(nu, cu), cu);
            t = _mm256_fmadd_ps(sl, lv, _mm256_loadu_ps(b->r2 + p));
            t = _mm256_fmadd_ps(sr, _mm256_loadu_ps(dv + p + 1), t);
            t = _mm256_fmadd_ps(su, _mm256_loadu_ps(dv + p - w), t);
            t = _mm256_fmadd_ps(sd, _mm256_loadu_ps(dv + p + w), t);
            __m256 nv = _mm256_mul_ps(_mm256_fnmadd_ps(a12, uu, t), _mm256_loadu_ps(b->inv22 + p));
            __m256 vv = _mm256_fmadd_ps(omega, _mm256_sub_ps(nv, cv), cv);
            pu = _mm256_blendv_ps(cu, uu, keep);
            pv = _mm256_blendv_ps(cv, vv, keep);
            _mm256_storeu_ps(du + p, pu);
            _mm256_storeu_ps(dv + p, pv);
        }
        for (x += (x + first) & 1; x < w; x += 2) {
            size_t p = y * w + x;
            float sl = sx[p - 1], sr = sx[p], su = sy[p - w], sd = sy[p];
            float cu = du[p], cv = dv[p];
            float nu = (b->r1[p] + sl * du[p - 1] + sr * du[p + 1] + su * du[p - w] + sd * du[p + w] -
                        b->a12[p] * cv) * b->inv11[p];
            cu += REFINE_OMEGA * (nu - cu);
            float nv = (b->r2[p] + sl * dv[p - 1] + sr * dv[p + 1] + su * dv[p - w] + sd * dv[p + w] -
                        b->a12[p] * cu) * b->inv22[p];
            cv += REFINE_OMEGA * (nv - cv);
            du[p] = cu;
            dv[p] = cv;
        }
    }
}
