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
 * (red-black so each half-sweep is parallel over rows and independent of the thread count).
 * Intensities are on the 0..255 scale so zeta and eps keep the meaning they have in DIS. */
#include "video/flow_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REFINE_ZETA2 (0.1f * 0.1f)
#define REFINE_EPS2 (0.001f * 0.001f)
#define REFINE_SOR_ITERS 5
#define REFINE_OMEGA 1.6f
/* Below this many pixels the refinement runs on one thread (see FLOW_PAR_MIN in flow.c): it
 * has 11 barriers per fixed-point iteration. */
#define REFINE_PAR_MIN 32768

int flow_refine_alloc(flow_refine_buf *b, size_t n, size_t w) {
    float **p[] = {&b->ix,  &b->iy,    &b->iz,    &b->ixx, &b->ixy, &b->iyy, &b->ixz, &b->iyz,
                   &b->a12, &b->inv11, &b->inv22, &b->r1,  &b->r2,  &b->du,  &b->dv,  &b->sx, &b->sy};
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
                  b->a12, b->inv11, b->inv22, b->r1,  b->r2,  b->du,  b->dv,  b->sx, b->sy};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
}

/* dx, dy (H,W) = central differences of a (H,W), one-sided (halved) at the border. */
static void refine_grad(const float *a, size_t w, size_t h, float *dx, float *dy) {
#pragma omp for schedule(static)
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

/* The per-pixel systems of one fixed-point iteration, Psi' frozen at the current increment:
 *   (a11 + sum s) du + a12 dv - sum s du_q = b1 + sum s (u_q - u)   (and likewise for dv)
 * over the links to the neighbours q, s = alpha Psi'(smoothness) of the link's left or upper
 * end (forward differences). Stores a12, 1 / (a11 + sum s), 1 / (a22 + sum s) and the right-hand
 * sides r1, r2; sx, sy get the link weights (0 past the last column and row). */
static void refine_weights(const flow_refine_buf *b, float *du, float *dv, float *sx, float *sy,
                           const float *u, const float *v, size_t w, size_t h, float alpha,
                           float gamma, float delta) {
#pragma omp for schedule(static)
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
#pragma omp for schedule(static)
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            size_t p = y * w + x;
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
            /* the links: left (sx[p-1]), right (sx[p]), up (sy[p-w]), down (sy[p]); the
             * margins make the missing ones read 0 (sx of a row's last pixel is 0 too) */
            float sl = sx[p - 1], sr = sx[p], su = sy[p - w], sd = sy[p];
            float ssum = sl + sr + su + sd;
            size_t pl = x > 0 ? p - 1 : p, pr = x + 1 < w ? p + 1 : p;
            size_t pu = y > 0 ? p - w : p, pd = y + 1 < h ? p + w : p;
            float lu = sl * (u[pl] - u[p]) + sr * (u[pr] - u[p]) + su * (u[pu] - u[p]) + sd * (u[pd] - u[p]);
            float lv = sl * (v[pl] - v[p]) + sr * (v[pr] - v[p]) + su * (v[pu] - v[p]) + sd * (v[pd] - v[p]);
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
#pragma omp for schedule(static)
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

void flow_refine(flow_refine_buf *b, const float *i0, const float *i1, size_t w, size_t h, float *u,
                 float *v, int iters, float alpha, float gamma, float delta) {
    if (iters <= 0 || w < 2 || h < 2) return;
    size_t n = w * h, m = w + 1;
    /* zero planes and margins, so the margins read as missing neighbours */
    memset(b->du, 0, (n + 2 * m) * sizeof(float));
    memset(b->dv, 0, (n + 2 * m) * sizeof(float));
    memset(b->sx, 0, (n + 2 * m) * sizeof(float));
    memset(b->sy, 0, (n + 2 * m) * sizeof(float));
    float *du = b->du + m, *dv = b->dv + m, *sx = b->sx + m, *sy = b->sy + m;
    float *avg = b->r1, *i1w = b->r2; /* free until the first refine_weights */
#pragma omp parallel if (n >= REFINE_PAR_MIN)
    {
#pragma omp for schedule(static)
        for (size_t y = 0; y < h; y++)
            for (size_t x = 0; x < w; x++) {
                size_t p = y * w + x;
                float s = flow_sample(i1, w, h, (float)x + u[p], (float)y + v[p]);
                i1w[p] = s;
                b->iz[p] = s - i0[p];
                avg[p] = 0.5f * (s + i0[p]);
            }
        refine_grad(avg, w, h, b->ix, b->iy);
        refine_grad(b->iz, w, h, b->ixz, b->iyz);
        refine_grad(b->ix, w, h, b->ixx, b->ixy);
        refine_grad(b->iy, w, h, b->a12, b->iyy); /* d/dx of Iy (the same Ixy) is dropped */
        for (int it = 0; it < iters; it++) {
            refine_weights(b, du, dv, sx, sy, u, v, w, h, alpha, gamma, delta);
            for (int s = 0; s < REFINE_SOR_ITERS; s++) {
                refine_sor_half(b, du, dv, sx, sy, w, h, 0);
                refine_sor_half(b, du, dv, sx, sy, w, h, 1);
            }
        }
#pragma omp for schedule(static)
        for (size_t i = 0; i < n; i++) {
            u[i] += du[i];
            v[i] += dv[i];
        }
    }
}
