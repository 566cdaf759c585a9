/* Variational refinement of a dense flow (the last step of DIS at every pyramid level, Kroeger
 * et al. 2016, section 2.3), written from the energy of Brox, Bruhn, Papenberg, Weickert, "High
 * accuracy optical flow estimation based on a theory for warping", ECCV 2004, eqs. 5-6, with the
 * data terms normalised by the local gradient as in Zimmer, Bruhn, Weickert, "Optic flow in
 * harmony", IJCV 2011, section 4.1. For an increment (du, dv) to the flow (u, v):
 *
 *   E = sum delta Psi(rho_I) + gamma Psi(rho_G) + alpha Psi(|grad(u+du)|^2 + |grad(v+dv)|^2)
 *   rho_I = (Iz + Ix du + Iy dv)^2 / (Ix^2 + Iy^2 + zeta^2)
 *   rho_G = (Ixz + Ixx du + Ixy dv)^2 / (Ixx^2 + Ixy^2 + zeta^2)
 *         + (Iyz + Ixy du + Iyy dv)^2 / (Ixy^2 + Iyy^2 + zeta^2)
 *   Psi(s^2) = sqrt(s^2 + eps^2)
 *
 * where Iz = I1(x + flow) - I0 and the spatial derivatives are taken on the mean of I0 and the
 * warped I1. Lagged (fixed-point) iterations freeze Psi' and leave a 2x2-per-pixel linear system
 * coupled by the smoothness term, solved by a few red-black successive over-relaxation sweeps
 (red-black: the order of the updates does not depend on anything but the picture). flow.c
 * runs it on bands of rows in parallel (flow_refine_band's comment says how).
 * Intensities are on the 0..255 scale so zeta and eps keep the meaning they have in DIS. */
#include "video/flow_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REFINE_SOR_ITERS 5

int flow_refine_alloc(flow_refine_buf *b, size_t n, size_t w) {
    float **p[] = {&b->ix,  &b->iy,    &b->iz,    &b->ixx, &b->ixy, &b->iyy, &b->ixz, &b->iyz,
                   &b->a12, &b->inv11, &b->inv22, &b->r1,  &b->r2,  &b->du,  &b->dv,  &b->sx, &b->sy,
                   &b->uu,  &b->vv};
    size_t np = sizeof p / sizeof p[0];
    for (size_t i = 0; i < np; i++) *p[i] = NULL;
    for (size_t i = 0; i < np; i++) {
        size_t len = i >= 13 ? n + 2 * (w + 1) : n;
        *p[i] = malloc(len * sizeof(float));
        if (!*p[i]) {
            flow_refine_release(b);
            return 0;
        }
    }
    return 1;
}

void flow_refine_release(flow_refine_buf *b) {
    float *p[] = {b->ix,  b->iy,    b->iz,    b->ixx, b->ixy, b->iyy, b->ixz, b->iyz,
                  b->a12, b->inv11, b->inv22, b->r1,  b->r2,  b->du,  b->dv,  b->sx, b->sy,
                  b->uu,  b->vv};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
}

/* dx, dy (H,W) = central differences of a (H,W), one-sided (halved) at the border. */
static void refine_grad(const float *a, size_t w, size_t h, float *dx, float *dy) {
    for (size_t y = 0; y < h; y++) {
        const float *r = a + y * w;
        const float *ru = a + (y > 0 ? y - 1 : y) * w, *rd = a + (y + 1 < h ? y + 1 : y) * w;
        float *ox = dx + y * w, *oy = dy + y * w;
        ox[0] = 0.5f * (r[w > 1 ? 1 : 0] - r[0]);
        for (size_t x = 1; x + 1 < w; x++) ox[x] = 0.5f * (r[x + 1] - r[x - 1]);
        if (w > 1) ox[w - 1] = 0.5f * (r[w - 1] - r[w - 2]);
        for (size_t x = 0; x < w; x++) oy[x] = 0.5f * (rd[x] - ru[x]);
    }
}

/* The smoothness weights of one fixed-point iteration: sx, sy (H,W) get alpha Psi' of the
 * current total flow's forward differences at each pixel, for its links to the right and lower
 * neighbours (0 past the last column and row). */
static void refine_smooth(const float *du, const float *dv, float *sx, float *sy, const float *u,
                          const float *v, size_t w, size_t h, float alpha) {
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            size_t p = y * w + x;
            size_t pr = x + 1 < w ? p + 1 : p, pd = y + 1 < h ? p + w : p;
            float ux = (u[pr] + du[pr]) - (u[p] + du[p]), uy = (u[pd] + du[pd]) - (u[p] + du[p]);
            float vx = (v[pr] + dv[pr]) - (v[p] + dv[p]), vy = (v[pd] + dv[pd]) - (v[p] + dv[p]);
            float s = alpha / sqrtf(ux * ux + uy * uy + vx * vx + vy * vy + REFINE_EPS2);
            sx[p] = x + 1 < w ? s : 0.0f;
            sy[p] = y + 1 < h ? s : 0.0f;
        }
}

/* The per-pixel systems of one fixed-point iteration, Psi' frozen at the current increment:
 *   (a11 + sum s) du + a12 dv - sum s du_q = b1 + sum s (u_q - u)   (and likewise for dv)
 * over the links to the neighbours q (weights from refine_smooth). Stores a12,
 * 1 / (a11 + sum s), 1 / (a22 + sum s) and the right-hand sides r1, r2. The margins make every
 * pixel's four neighbours readable, the missing ones with weight 0, so this is one flat loop. */
static void refine_data(flow_refine_buf *b, const float *du, const float *dv, const float *sx,
                        const float *sy, const float *uu, const float *vv, size_t w, size_t n,
                        float gamma, float delta) {
    for (size_t p = 0; p < n; p++) {
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
        /* the links: left (sx[p-1]), right (sx[p]), up (sy[p-w]), down (sy[p]); sx of a row's
         * last pixel and the margins are 0 */
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

/* One red (colour 0: x + y even) or black half-sweep of SOR. */
static void refine_sor_half(const flow_refine_buf *b, float *du, float *dv, const float *sx,
                            const float *sy, size_t w, size_t h, int colour) {
    for (size_t y = 0; y < h; y++) {
        for (size_t x = (y + (size_t)colour) & 1; x < w; x += 2) {
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

void flow_refine(flow_refine_buf *b, const float *i0, const float *i1, size_t w, size_t h, size_t y0,
                 size_t bh, const float *u, const float *v, size_t k0, size_t k1, float *uo, float *vo,
                 int iters, float alpha, float gamma, float delta, int simd) {
    size_t n = w * bh, m = w + 1;
    if (iters <= 0 || w < 2 || bh < 2) {
        memcpy(uo + k0 * w, u + k0 * w, (k1 - k0) * w * sizeof(float));
        memcpy(vo + k0 * w, v + k0 * w, (k1 - k0) * w * sizeof(float));
        return;
    }
    /* zero planes and margins, so the margins read as missing neighbours */
    memset(b->du, 0, (n + 2 * m) * sizeof(float));
    memset(b->dv, 0, (n + 2 * m) * sizeof(float));
    memset(b->sx, 0, (n + 2 * m) * sizeof(float));
    memset(b->sy, 0, (n + 2 * m) * sizeof(float));
    memset(b->uu, 0, m * sizeof(float));
    memset(b->uu + m + n, 0, m * sizeof(float));
    memset(b->vv, 0, m * sizeof(float));
    memset(b->vv + m + n, 0, m * sizeof(float));
    memcpy(b->uu + m, u, n * sizeof(float));
    memcpy(b->vv + m, v, n * sizeof(float));
    float *du = b->du + m, *dv = b->dv + m, *sx = b->sx + m, *sy = b->sy + m;
    const float *uu = b->uu + m, *vv = b->vv + m;
    int avx2 = simd && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    float *avg = b->r1; /* free until the first refine_weights */
    const float *i0b = i0 + y0 * w;
    for (size_t y = 0; y < bh; y++)
        for (size_t x = 0; x < w; x++) {
            size_t p = y * w + x;
            float s = flow_sample(i1, w, h, (float)x + u[p], (float)(y0 + y) + v[p]);
            b->iz[p] = s - i0b[p];
            avg[p] = 0.5f * (s + i0b[p]);
        }
    refine_grad(avg, w, bh, b->ix, b->iy);
    refine_grad(b->iz, w, bh, b->ixz, b->iyz);
    refine_grad(b->ix, w, bh, b->ixx, b->ixy);
    refine_grad(b->iy, w, bh, b->a12, b->iyy); /* d/dx of Iy (the same Ixy) is dropped */
    for (int it = 0; it < iters; it++) {
        refine_smooth(du, dv, sx, sy, u, v, w, bh, alpha);
        if (avx2)
            refine_data_avx2(b, du, dv, sx, sy, uu, vv, w, n, gamma, delta);
        else
            refine_data(b, du, dv, sx, sy, uu, vv, w, n, gamma, delta);
        for (int s = 0; s < REFINE_SOR_ITERS; s++)
            for (int colour = 0; colour < 2; colour++) {
                if (avx2)
                    refine_sor_half_avx2(b, du, dv, sx, sy, w, bh, colour);
                else
                    refine_sor_half(b, du, dv, sx, sy, w, bh, colour);
            }
    }
    for (size_t i = k0 * w; i < k1 * w; i++) {
        uo[i] = u[i] + du[i];
        vo[i] = v[i] + dv[i];
    }
}
