/* What temporal consistency needs around the flow (flow.h): warping a picture by a flow, the
 * forward-backward consistency mask of Ruder, Dosovitskiy, Brox, "Artistic style transfer for
 * videos" (GCPR 2016, section 3.2), and the grey frames the flow is computed on. */
#include "video/flow.h"

#include "video/flow_internal.h"

/* Below this many pixels a pass runs on one thread (as FLOW_PAR_MIN in flow.c). */
#define WARP_PAR_MIN 32768

void flow_warp(const float *img, size_t c, size_t w, size_t h, const float *flow, float *out) {
    size_t n = w * h;
    const float *fu = flow, *fv = flow + n;
#pragma omp parallel for schedule(static) if (n >= WARP_PAR_MIN)
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            size_t p = y * w + x;
            float sx = (float)x + fu[p], sy = (float)y + fv[p];
            for (size_t k = 0; k < c; k++) out[k * n + p] = flow_sample(img + k * n, w, h, sx, sy);
        }
}

void flow_consistency(const float *fwd, const float *bwd, size_t w, size_t h, float *mask) {
    size_t n = w * h;
    const float *fu = fwd, *fv = fwd + n, *bu = bwd, *bv = bwd + n;
#pragma omp parallel for schedule(static) if (n >= WARP_PAR_MIN)
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            size_t p = y * w + x;
            float ub = bu[p], vb = bv[p];
            float sx = (float)x + ub, sy = (float)y + vb;
            /* the pixel came from outside frame A (half a pixel of slack for rounding) */
            int outside = sx < -0.5f || sy < -0.5f || sx > (float)w - 0.5f || sy > (float)h - 0.5f;
            /* forward-backward check: the forward flow at the point the backward flow reaches
             * should bring it back (Ruder et al., eq. 5 read on B's grid) */
            float uf = flow_sample(fu, w, h, sx, sy), vf = flow_sample(fv, w, h, sx, sy);
            float eu = ub + uf, ev = vb + vf;
            int disoccluded = eu * eu + ev * ev > 0.01f * (ub * ub + vb * vb + uf * uf + vf * vf) + 0.5f;
            /* motion boundary of the backward flow (central differences), eq. 6 */
            size_t xl = x > 0 ? p - 1 : p, xr = x + 1 < w ? p + 1 : p;
            size_t yu = y > 0 ? p - w : p, yd = y + 1 < h ? p + w : p;
            float hx = (xr - xl) == 2 ? 0.5f : 1.0f, hy = (yd - yu) == 2 * w ? 0.5f : 1.0f;
            float ux = (bu[xr] - bu[xl]) * hx, uy = (bu[yd] - bu[yu]) * hy;
            float vx = (bv[xr] - bv[xl]) * hx, vy = (bv[yd] - bv[yu]) * hy;
            int boundary = ux * ux + uy * uy + vx * vx + vy * vy > 0.01f * (ub * ub + vb * vb) + 0.002f;
            mask[p] = (outside || disoccluded || boundary) ? 0.0f : 1.0f;
        }
}

void flow_grey_from_planar(const float *rgb, size_t w, size_t h, float *grey) {
    size_t n = w * h;
    for (size_t i = 0; i < n; i++) grey[i] = 0.299f * rgb[i] + 0.587f * rgb[n + i] + 0.114f * rgb[2 * n + i];
}

void flow_grey_from_rgb24(const uint8_t *rgb, size_t stride, size_t w, size_t h, float *grey) {
    for (size_t y = 0; y < h; y++) {
        const uint8_t *r = rgb + y * stride;
        for (size_t x = 0; x < w; x++)
            grey[y * w + x] = (0.299f * r[3 * x] + 0.587f * r[3 * x + 1] + 0.114f * r[3 * x + 2]) * (1.0f / 255.0f);
    }
}
