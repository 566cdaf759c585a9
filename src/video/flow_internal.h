/* Shared between the optical flow's files (flow.c: pyramid, patch search, densification;
 * flow_refine.c: variational refinement). Not part of the API in flow.h. */
#ifndef IMPASTO_VIDEO_FLOW_INTERNAL_H
#define IMPASTO_VIDEO_FLOW_INTERNAL_H

#include <stddef.h>

/* Scratch of the variational refinement for pictures of up to n pixels and rows of up to w. */
typedef struct flow_refine_buf {
    float *ix, *iy, *iz, *ixx, *ixy, *iyy, *ixz, *iyz;  /* each (H,W) */
    float *a12, *inv11, *inv22, *r1, *r2;                /* each (H,W) */
    /* each (H,W) with a zero margin of W+1 floats before and after (pointers to the
     * allocations; the planes start W+1 floats in): the increment and the smoothness weights of
     * the links to the right (sx) and lower (sy) neighbours, so a pixel's four neighbours are
     * read without tests at the border. */
    float *du, *dv, *sx, *sy;
    float *uu, *vv;  /* the band's flow (read only), copied with the same margins */
} flow_refine_buf;

/* 0 on allocation failure (then everything allocated so far is freed). */
int flow_refine_alloc(flow_refine_buf *b, size_t n, size_t w);
void flow_refine_release(flow_refine_buf *b);

/* Refines the flow of the rows y0 .. y0+bh of a picture (H,W), minimising the energy of Brox et
 * al. 2004 (brightness and gradient constancy, robust penaliser, smoothness) linearised around
 * the flow, with the data terms normalised as Zimmer et al. 2011 do; i0, i1 (H,W) intensities on
 * the 0..255 scale (i1 is sampled anywhere in the picture). u, v (bh,W): the band's flow (rows
 * y0..), read only; uo, vo (bh,W): rows k0..k1 of the band get the refined flow, the others are
 * not written (the band's margin rows are solved with it and dropped). iters fixed-point
 * iterations of red-black SOR sweeps each. b must hold bh*W pixels. */
void flow_refine(flow_refine_buf *b, const float *i0, const float *i1, size_t w, size_t h, size_t y0,
                 size_t bh, const float *u, const float *v, size_t k0, size_t k1, float *uo, float *vo,
                 int iters, float alpha, float gamma, float delta, int simd);

/* The refinement's two hot loops for AVX2 + FMA (flow_refine_avx2.c), called only when the CPU
 * has both; same arguments as their portable twins in flow_refine.c (pointers past the margins). */
void refine_data_avx2(flow_refine_buf *b, const float *du, const float *dv, const float *sx,
                      const float *sy, const float *uu, const float *vv, size_t w, size_t n,
                      float gamma, float delta);
void refine_sor_half_avx2(const flow_refine_buf *b, float *du, float *dv, const float *sx,
                          const float *sy, size_t w, size_t h, int colour);

#define REFINE_ZETA2 (0.1f * 0.1f)
#define REFINE_EPS2 (0.001f * 0.001f)
#define REFINE_OMEGA 1.6f

/* Bilinear sample of img (H,W) at (x, y), coordinates clamped to the picture. */
static inline float flow_sample(const float *img, size_t w, size_t h, float x, float y) {
    float xm = (float)(w - 1), ym = (float)(h - 1);
    x = x < 0.0f ? 0.0f : (x > xm ? xm : x);
    y = y < 0.0f ? 0.0f : (y > ym ? ym : y);
    size_t x0 = (size_t)x, y0 = (size_t)y;
    size_t x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    float fx = x - (float)x0, fy = y - (float)y0;
    const float *r0 = img + y0 * w, *r1 = img + y1 * w;
    float top = r0[x0] + fx * (r0[x1] - r0[x0]);
    float bot = r1[x0] + fx * (r1[x1] - r1[x0]);
    return top + fy * (bot - top);
}

#endif
