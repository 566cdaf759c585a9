/* Dense Inverse Search optical flow (Kroeger, Timofte, Dai, Van Gool, ECCV 2016): at each level
 * of an image pyramid, coarse to fine,
 *   1. a grid of square patches of prev (patch_size, patch_stride apart) each finds its
 *      displacement into next by inverse-compositional Gauss-Newton (Baker & Matthews 2004) on the
 *      (mean-normalised) sum of squared differences, starting from the coarser level's flow and,
 *      with spatial propagation, from its already-solved neighbours' (section 2.1);
 *   2. the patch flows are densified: each pixel takes the mean of the flows of the patches
 *      covering it, weighted by 1 / max(1, |next(x + u_i) - prev(x)|) (section 2.2, eq. 3);
 *   3. the dense flow is refined variationally (flow_refine.c, section 2.3).
 * The finest search level is finest_scale; the flow is then upsampled to full size. The coarsest
 * level puts about a quarter of the larger side within a patch's reach there, as in OpenCV.
 *
 * Intensities are scaled to 0..255 inside, so the densification's max(1, .) and the refinement's
 * constants keep the meaning they have for 8-bit frames. Patch rows are cut into stripes of a
 * fixed height that are searched in parallel (propagation stays within a stripe), so the result
 * does not depend on the thread count. */
#include "video/flow.h"

#include "core/ctx.h"
#include "core/threads.h"
#include "video/flow_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define FLOW_MAX_LEVELS 16
/* Patch rows per stripe of the parallel search (8 rows of stride 4 = 32 pixel rows). */
#define FLOW_STRIPE_ROWS 8
/* Replicated border around next at each level, so a patch may look partly outside the frame. */
#define FLOW_BORDER 16
/* Below this many pixels a per-pixel pass runs on one thread: a team's start and barrier cost
 * more than the work (and much more when the cores are shared). */
#define FLOW_PAR_MIN 32768
/* The variational refinement runs on bands of this many rows, in parallel, each solved with
 * FLOW_BAND_MARGIN more rows above and below that are dropped afterwards: far fewer barriers than
 * a parallel sweep over the whole picture (11 per fixed-point iteration), and the same result on
 * any thread count. The margin keeps the seams invisible (the SOR's reach over a few sweeps). */
#define FLOW_BAND_ROWS 64
#define FLOW_BAND_MARGIN 8

struct flow_ctx {
    flow_params p;
    size_t w, h;
    int fs, cs, ps;                 /* finest and coarsest search level, patch side in use */
    size_t lw[FLOW_MAX_LEVELS], lh[FLOW_MAX_LEVELS];
    size_t pw[FLOW_MAX_LEVELS];     /* width of the padded next: lw + 2 FLOW_BORDER */
    float *i0[FLOW_MAX_LEVELS];     /* prev at each level (lh, lw), 0..255 */
    float *i1[FLOW_MAX_LEVELS];     /* next at each level (lh, lw), 0..255 */
    float *i1p[FLOW_MAX_LEVELS];    /* next padded (lh + 2B, lw + 2B) */
    float *gx[FLOW_MAX_LEVELS];     /* Sobel derivatives of prev (lh, lw), levels fs..cs */
    float *gy[FLOW_MAX_LEVELS];
    float *u[FLOW_MAX_LEVELS];      /* dense flow (lh, lw), levels fs..cs */
    float *v[FLOW_MAX_LEVELS];
    float *sx, *sy;                 /* patch flows (hs, ws) of the current level */
    float *accw;                    /* densification weights (lh, lw) of the current level */
    size_t *xi;                     /* (W) scratch of the final upsampling */
    float *xf;                      /* (W) */
    size_t nbands;                  /* refinement bands at level fs (the most of any level) */
    flow_refine_buf *rb;            /* (nbands) scratch, each for a band with its margins */
    float *ru, *rv;                 /* (lh, lw) refined flow of the current level */
};

void flow_params_default(flow_params *p, int preset) {
    memset(p, 0, sizeof *p);
    if (preset != FLOW_PRESET_ULTRAFAST && preset != FLOW_PRESET_FAST) preset = FLOW_PRESET_MEDIUM;
    p->preset = preset;
    p->patch_stride = 4;
    p->var_alpha = 20.0f;
    p->var_gamma = 10.0f;
    p->var_delta = 5.0f;
    p->mean_normalize = 1;
    p->propagate = 1;
    switch (preset) {
    case FLOW_PRESET_ULTRAFAST:
        p->finest_scale = 2; p->patch_size = 8; p->grad_iters = 12; p->var_iters = 0;
        break;
    case FLOW_PRESET_FAST:
        p->finest_scale = 2; p->patch_size = 8; p->grad_iters = 16; p->var_iters = 5;
        break;
    default:
        p->finest_scale = 1; p->patch_size = 12; p->grad_iters = 25; p->var_iters = 5;
        break;
    }
}

void flow_free(flow_ctx *f) {
    if (!f) return;
    for (int l = 0; l < FLOW_MAX_LEVELS; l++) {
        free(f->i0[l]); free(f->i1[l]); free(f->i1p[l]);
        free(f->gx[l]); free(f->gy[l]); free(f->u[l]); free(f->v[l]);
    }
    free(f->sx);
    free(f->accw);
    free(f->xi);
    free(f->xf);
    free(f->sy);
    if (f->rb)
        for (size_t i = 0; i < f->nbands; i++) flow_refine_release(&f->rb[i]);
    free(f->rb);
    free(f->ru);
    free(f->rv);
    free(f);
}

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* Number of patches along a side of n pixels: origins 0, stride, ... and one flush with the end. */
static size_t patch_count(size_t n, size_t ps, size_t stride) {
    return n <= ps ? 1 : (n - ps + stride - 1) / stride + 1;
}
static size_t patch_origin(size_t i, size_t n, size_t ps, size_t stride) {
    size_t o = i * stride;
    return o + ps > n ? (n > ps ? n - ps : 0) : o;
}

flow_ctx *flow_create(size_t w, size_t h, const flow_params *p) {
    if (!p || w == 0 || h == 0 || w > (size_t)IMPASTO_MAX_SIDE || h > (size_t)IMPASTO_MAX_SIDE)
        return NULL;
    if (p->patch_size < 2 || p->patch_stride < 1 || p->patch_stride > p->patch_size ||
        p->grad_iters < 0 || p->var_iters < 0 || p->finest_scale < 0 ||
        p->patch_size > FLOW_BORDER)
        return NULL;
    flow_ctx *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->p = *p;
    f->w = w;
    f->h = h;
    f->lw[0] = w;
    f->lh[0] = h;
    int nl = 1;
    while (nl < FLOW_MAX_LEVELS && f->lw[nl - 1] >= 2 && f->lh[nl - 1] >= 2) {
        f->lw[nl] = f->lw[nl - 1] / 2;
        f->lh[nl] = f->lh[nl - 1] / 2;
        nl++;
    }
    /* coarsest: the larger side about 4 patches wide (rounded), and patches still fitting */
    size_t ps = (size_t)p->patch_size;
    double big = (double)(w > h ? w : h), small = (double)(w < h ? w : h);
    int cs = (int)floor(log2(big / (4.0 * (double)ps)) + 0.5);
    int cs_fit = small >= (double)ps ? (int)floor(log2(small / (double)ps)) : 0;
    if (cs > cs_fit) cs = cs_fit;
    if (cs < 0) cs = 0;
    int fs = p->finest_scale;
    if (fs > cs) cs = fs;
    while (cs > 0 && (cs >= nl || min_sz(f->lw[cs], f->lh[cs]) < ps)) cs--;
    if (fs > cs) fs = cs;
    f->fs = fs;
    f->cs = cs;
    f->ps = (int)min_sz(ps, min_sz(f->lw[fs], f->lh[fs]));

    size_t maxp = 0;
    for (int l = 0; l <= cs; l++) {
        size_t n = f->lw[l] * f->lh[l];
        f->pw[l] = f->lw[l] + 2 * FLOW_BORDER;
        size_t np = f->pw[l] * (f->lh[l] + 2 * FLOW_BORDER);
        /* level 0 is only kept when the search reaches it; level 1 is built from the input */
        if ((l > 0 || fs == 0) &&
            (!(f->i0[l] = malloc(n * sizeof(float))) || !(f->i1[l] = malloc(n * sizeof(float)))))
            goto fail;
        if (l >= fs) {
            if (!(f->i1p[l] = malloc(np * sizeof(float))) || !(f->gx[l] = malloc(n * sizeof(float))) ||
                !(f->gy[l] = malloc(n * sizeof(float))) || !(f->u[l] = malloc(n * sizeof(float))) ||
                !(f->v[l] = malloc(n * sizeof(float))))
                goto fail;
            size_t cnt = patch_count(f->lw[l], (size_t)f->ps, (size_t)p->patch_stride) *
                         patch_count(f->lh[l], (size_t)f->ps, (size_t)p->patch_stride);
            if (cnt > maxp) maxp = cnt;
        }
    }
    if (!(f->sx = malloc(maxp * sizeof(float))) || !(f->sy = malloc(maxp * sizeof(float))) ||
        !(f->accw = malloc(f->lw[fs] * f->lh[fs] * sizeof(float))) || !(f->xi = malloc(w * sizeof(size_t))) ||
        !(f->xf = malloc(w * sizeof(float))))
        goto fail;
    if (p->var_iters > 0) {
        size_t lwf = f->lw[fs], lhf = f->lh[fs];
        f->nbands = (lhf + FLOW_BAND_ROWS - 1) / FLOW_BAND_ROWS;
        size_t bh = min_sz(lhf, FLOW_BAND_ROWS + 2 * FLOW_BAND_MARGIN);
        if (!(f->rb = calloc(f->nbands, sizeof *f->rb)) || !(f->ru = malloc(lwf * lhf * sizeof(float))) ||
            !(f->rv = malloc(lwf * lhf * sizeof(float))))
            goto fail;
        for (size_t i = 0; i < f->nbands; i++)
            if (!flow_refine_alloc(&f->rb[i], bh * lwf, lwf)) {
                f->nbands = i;
                goto fail;
            }
    }
    return f;
fail:
    flow_free(f);
    return NULL;
}

/* ---- pyramid ------------------------------------------------------------------------------ */

/* dst (H/2, W/2) = 2x2 box sums of src (H, W) times k (k = 1/4: means; floor sizes: a last odd
 * row/column is dropped). */
static void pyr_down(const float *src, size_t sw, float *dst, size_t dw, size_t dh, float k) {
#pragma omp parallel for schedule(static) if (dw * dh >= FLOW_PAR_MIN)
    for (size_t y = 0; y < dh; y++) {
        const float *a = src + 2 * y * sw, *b = a + sw;
        float *o = dst + y * dw;
        for (size_t x = 0; x < dw; x++)
            o[x] = k * (a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1]);
    }
}

/* dst (H + 2B, W + 2B) = src (H, W) with its border pixels replicated B times. */
static void pad_replicate(const float *src, size_t w, size_t h, float *dst) {
    size_t pw = w + 2 * FLOW_BORDER;
#pragma omp parallel for schedule(static) if (w * h >= FLOW_PAR_MIN)
    for (size_t y = 0; y < h + 2 * FLOW_BORDER; y++) {
        size_t sy = y < FLOW_BORDER ? 0 : (y - FLOW_BORDER >= h ? h - 1 : y - FLOW_BORDER);
        const float *s = src + sy * w;
        float *o = dst + y * pw;
        for (size_t x = 0; x < FLOW_BORDER; x++) o[x] = s[0];
        memcpy(o + FLOW_BORDER, s, w * sizeof(float));
        for (size_t x = 0; x < FLOW_BORDER; x++) o[FLOW_BORDER + w + x] = s[w - 1];
    }
}

/* gx, gy (H, W) = 3x3 Sobel derivatives of a (H, W) divided by 8 (unit gain on a ramp),
 * border replicated. */
static void sobel(const float *a, size_t w, size_t h, float *gx, float *gy) {
#pragma omp parallel for schedule(static) if (w * h >= FLOW_PAR_MIN)
    for (size_t y = 0; y < h; y++) {
        const float *r = a + y * w;
        const float *ru = a + (y > 0 ? y - 1 : y) * w, *rd = a + (y + 1 < h ? y + 1 : y) * w;
        for (size_t x = 0; x < w; x++) {
            size_t xl = x > 0 ? x - 1 : x, xr = x + 1 < w ? x + 1 : x;
            gx[y * w + x] = 0.125f * ((ru[xr] - ru[xl]) + 2.0f * (r[xr] - r[xl]) + (rd[xr] - rd[xl]));
            gy[y * w + x] = 0.125f * ((rd[xl] - ru[xl]) + 2.0f * (rd[x] - ru[x]) + (rd[xr] - ru[xr]));
        }
    }
}

/* du, dv (DH, DW) = the flow su, sv (SH, SW) resampled bilinearly (pixel centres aligned) and
 * rescaled to the destination's pixels. xi (DW) and xf (DW) are scratch for the columns' source
 * index and weight. */
static void flow_resize(const float *su, const float *sv, size_t sw, size_t sh, float *du, float *dv,
                        size_t dw, size_t dh, size_t *xi, float *xf) {
    float rx = (float)sw / (float)dw, ry = (float)sh / (float)dh;
    float gu = 1.0f / rx, gv = 1.0f / ry;
    for (size_t x = 0; x < dw; x++) {
        float xs = ((float)x + 0.5f) * rx - 0.5f;
        xs = xs < 0.0f ? 0.0f : (xs > (float)(sw - 1) ? (float)(sw - 1) : xs);
        xi[x] = (size_t)xs < sw - 1 ? (size_t)xs : (sw > 1 ? sw - 2 : 0);
        xf[x] = sw > 1 ? xs - (float)xi[x] : 0.0f;
    }
    size_t xstep = sw > 1 ? 1 : 0;
#pragma omp parallel for schedule(static) if (dw * dh >= FLOW_PAR_MIN)
    for (size_t y = 0; y < dh; y++) {
        float ys = ((float)y + 0.5f) * ry - 0.5f;
        ys = ys < 0.0f ? 0.0f : (ys > (float)(sh - 1) ? (float)(sh - 1) : ys);
        size_t y0 = (size_t)ys, y1 = y0 + 1 < sh ? y0 + 1 : y0;
        float fy = ys - (float)y0;
        const float *u0 = su + y0 * sw, *u1 = su + y1 * sw, *v0 = sv + y0 * sw, *v1 = sv + y1 * sw;
        float *ou = du + y * dw, *ov = dv + y * dw;
        for (size_t x = 0; x < dw; x++) {
            size_t i = xi[x];
            float fx = xf[x];
            float a = u0[i] + fx * (u0[i + xstep] - u0[i]), b = u1[i] + fx * (u1[i + xstep] - u1[i]);
            float c = v0[i] + fx * (v0[i + xstep] - v0[i]), d = v1[i] + fx * (v1[i + xstep] - v1[i]);
            ou[x] = gu * (a + fy * (b - a));
            ov[x] = gv * (c + fy * (d - c));
        }
    }
}

/* ---- patch search ------------------------------------------------------------------------- */

typedef struct level_view {
    const float *i0, *gx, *gy, *i1p;
    size_t w, h, pw;
    int ps;
    int mean_norm;
} level_view;

/* Sums over the patch at (px, py) of d = next(x + (u, v)) - prev(x): sum d gx, d gy, d, d^2. */
typedef struct patch_sums {
    float dgx, dgy, d, dd;
} patch_sums;

static patch_sums patch_residual(const level_view *L, size_t px, size_t py, float u, float v) {
    float fxp = (float)px + u + (float)FLOW_BORDER, fyp = (float)py + v + (float)FLOW_BORDER;
    float fx0 = floorf(fxp), fy0 = floorf(fyp);
    float ax = fxp - fx0, ay = fyp - fy0;
    float w00 = (1.0f - ax) * (1.0f - ay), w01 = ax * (1.0f - ay);
    float w10 = (1.0f - ax) * ay, w11 = ax * ay;
    const float *n0 = L->i1p + (size_t)fy0 * L->pw + (size_t)fx0;
    int ps = L->ps;
    patch_sums s = {0.0f, 0.0f, 0.0f, 0.0f};
    size_t y = 0;
#if defined(__SSE2__)
    if (ps % 4 == 0) {
        __m128 W00 = _mm_set1_ps(w00), W01 = _mm_set1_ps(w01), W10 = _mm_set1_ps(w10),
               W11 = _mm_set1_ps(w11);
        __m128 sgx = _mm_setzero_ps(), sgy = _mm_setzero_ps(), sd = _mm_setzero_ps(),
               sdd = _mm_setzero_ps();
        for (; y < (size_t)ps; y++) {
            const float *a = n0 + y * L->pw, *b = a + L->pw;
            const float *t = L->i0 + (py + y) * L->w + px;
            const float *gx = L->gx + (py + y) * L->w + px, *gy = L->gy + (py + y) * L->w + px;
            for (int x = 0; x < ps; x += 4) {
                __m128 smp = _mm_add_ps(
                    _mm_add_ps(_mm_mul_ps(W00, _mm_loadu_ps(a + x)), _mm_mul_ps(W01, _mm_loadu_ps(a + x + 1))),
                    _mm_add_ps(_mm_mul_ps(W10, _mm_loadu_ps(b + x)), _mm_mul_ps(W11, _mm_loadu_ps(b + x + 1))));
                __m128 d = _mm_sub_ps(smp, _mm_loadu_ps(t + x));
                sgx = _mm_add_ps(sgx, _mm_mul_ps(d, _mm_loadu_ps(gx + x)));
                sgy = _mm_add_ps(sgy, _mm_mul_ps(d, _mm_loadu_ps(gy + x)));
                sd = _mm_add_ps(sd, d);
                sdd = _mm_add_ps(sdd, _mm_mul_ps(d, d));
            }
        }
        float t4[4];
        _mm_storeu_ps(t4, sgx); s.dgx = (t4[0] + t4[1]) + (t4[2] + t4[3]);
        _mm_storeu_ps(t4, sgy); s.dgy = (t4[0] + t4[1]) + (t4[2] + t4[3]);
        _mm_storeu_ps(t4, sd); s.d = (t4[0] + t4[1]) + (t4[2] + t4[3]);
        _mm_storeu_ps(t4, sdd); s.dd = (t4[0] + t4[1]) + (t4[2] + t4[3]);
        return s;
    }
#endif
    for (; y < (size_t)ps; y++) {
        const float *a = n0 + y * L->pw, *b = a + L->pw;
        const float *t = L->i0 + (py + y) * L->w + px;
        const float *gx = L->gx + (py + y) * L->w + px, *gy = L->gy + (py + y) * L->w + px;
        for (int x = 0; x < ps; x++) {
            float d = w00 * a[x] + w01 * a[x + 1] + w10 * b[x] + w11 * b[x + 1] - t[x];
            s.dgx += d * gx[x];
            s.dgy += d * gy[x];
            s.d += d;
            s.dd += d * d;
        }
    }
    return s;
}

/* The template's constant sums: the Gauss-Newton Hessian (of the mean-normalised residual when
 * mean_norm) and its inverse. */
typedef struct patch_tpl {
    float sgx, sgy;          /* sums of the gradients */
    float i11, i12, i22;     /* inverse Hessian; all 0 for a flat patch (no update) */
} patch_tpl;

static patch_tpl patch_template(const level_view *L, size_t px, size_t py) {
    int ps = L->ps;
    double hxx = 0, hxy = 0, hyy = 0, sx = 0, sy = 0;
    for (size_t y = 0; y < (size_t)ps; y++) {
        const float *gx = L->gx + (py + y) * L->w + px, *gy = L->gy + (py + y) * L->w + px;
        for (int x = 0; x < ps; x++) {
            hxx += (double)gx[x] * gx[x];
            hxy += (double)gx[x] * gy[x];
            hyy += (double)gy[x] * gy[x];
            sx += gx[x];
            sy += gy[x];
        }
    }
    if (L->mean_norm) {
        double n = (double)ps * ps;
        hxx -= sx * sx / n;
        hxy -= sx * sy / n;
        hyy -= sy * sy / n;
    }
    patch_tpl t = {(float)sx, (float)sy, 0.0f, 0.0f, 0.0f};
    double det = hxx * hyy - hxy * hxy;
    /* a (nearly) flat or one-directional patch keeps the flow it starts with */
    if (det > 1e-6 * (hxx + hyy) * (hxx + hyy) && det > 1e-9) {
        t.i11 = (float)(hyy / det);
        t.i12 = (float)(-hxy / det);
        t.i22 = (float)(hxx / det);
    }
    return t;
}

/* The patch's matching cost at (u, v): SSD, of the mean-normalised residual when mean_norm. */
static float patch_cost(const level_view *L, size_t px, size_t py, float u, float v) {
    patch_sums s = patch_residual(L, px, py, u, v);
    float n = (float)(L->ps * L->ps);
    return L->mean_norm ? s.dd - s.d * s.d / n : s.dd;
}

/* Keeps (u, v) such that the patch at (px + u, py + v) stays inside the padded next. */
static void patch_clamp(const level_view *L, size_t px, size_t py, float *u, float *v) {
    float lo_x = -(float)px - (float)FLOW_BORDER, hi_x = (float)(L->w + FLOW_BORDER - (size_t)L->ps - 1 - px);
    float lo_y = -(float)py - (float)FLOW_BORDER, hi_y = (float)(L->h + FLOW_BORDER - (size_t)L->ps - 1 - py);
    *u = *u < lo_x ? lo_x : (*u > hi_x ? hi_x : *u);
    *v = *v < lo_y ? lo_y : (*v > hi_y ? hi_y : *v);
}

/* iters inverse-compositional steps from (*u, *v); reverts to the start when the patch wanders
 * further than its own size (a diverged search). */
static void patch_descend(const level_view *L, const patch_tpl *t, size_t px, size_t py, int iters,
                          float *u, float *v) {
    float u0 = *u, v0 = *v, uu = u0, vv = v0;
    float n = (float)(L->ps * L->ps);
    for (int it = 0; it < iters; it++) {
        patch_sums s = patch_residual(L, px, py, uu, vv);
        float bx = s.dgx, by = s.dgy;
        if (L->mean_norm) {
            float md = s.d / n;
            bx -= md * t->sgx;
            by -= md * t->sgy;
        }
        float dx = t->i11 * bx + t->i12 * by, dy = t->i12 * bx + t->i22 * by;
        uu -= dx;
        vv -= dy;
        patch_clamp(L, px, py, &uu, &vv);
        if (fabsf(dx) + fabsf(dy) < 1e-3f) break;
    }
    float du = uu - u0, dv = vv - v0;
    if (du * du + dv * dv > n) {
        uu = u0;
        vv = v0;
    }
    *u = uu;
    *v = vv;
}

/* Takes the candidate flow (cu, cv) instead of the patch's own when it matches better. */
static void patch_propose(const level_view *L, size_t px, size_t py, float *cost, float *u, float *v,
                          float cu, float cv) {
    patch_clamp(L, px, py, &cu, &cv);
    float c = patch_cost(L, px, py, cu, cv);
    if (c < *cost) {
        *cost = c;
        *u = cu;
        *v = cv;
    }
}

/* One level's patch search: sx, sy (hs, ws) hold the initial flows and receive the results. */
static void search_level(flow_ctx *f, int l) {
    level_view L = {f->i0[l], f->gx[l], f->gy[l], f->i1p[l] + 0, f->lw[l], f->lh[l], f->pw[l],
                    f->ps, f->p.mean_normalize};
    size_t ps = (size_t)f->ps, st = (size_t)f->p.patch_stride;
    size_t ws = patch_count(L.w, ps, st), hs = patch_count(L.h, ps, st);
    size_t nstripes = (hs + FLOW_STRIPE_ROWS - 1) / FLOW_STRIPE_ROWS;
    int prop = f->p.propagate;
    int it1 = prop ? f->p.grad_iters / 2 : f->p.grad_iters, it2 = f->p.grad_iters - it1;
    float *sx = f->sx, *sy = f->sy;
#pragma omp parallel for schedule(dynamic, 1) if (nstripes > 1)
    for (size_t s = 0; s < nstripes; s++) {
        size_t r0 = s * FLOW_STRIPE_ROWS, r1 = min_sz(hs, r0 + FLOW_STRIPE_ROWS);
        /* pass 1: raster order, candidates from the left and upper neighbours */
        for (size_t i = r0; i < r1; i++) {
            size_t py = patch_origin(i, L.h, ps, st);
            for (size_t j = 0; j < ws; j++) {
                size_t px = patch_origin(j, L.w, ps, st), k = i * ws + j;
                patch_tpl t = patch_template(&L, px, py);
                float u = sx[k], v = sy[k];
                patch_clamp(&L, px, py, &u, &v);
                if (prop) {
                    float cost = patch_cost(&L, px, py, u, v);
                    if (j > 0) patch_propose(&L, px, py, &cost, &u, &v, sx[k - 1], sy[k - 1]);
                    if (i > r0) patch_propose(&L, px, py, &cost, &u, &v, sx[k - ws], sy[k - ws]);
                }
                patch_descend(&L, &t, px, py, it1, &u, &v);
                sx[k] = u;
                sy[k] = v;
            }
        }
        if (!prop) continue;
        /* pass 2: reverse order, candidates from the right and lower neighbours */
        for (size_t i = r1; i-- > r0;) {
            size_t py = patch_origin(i, L.h, ps, st);
            for (size_t j = ws; j-- > 0;) {
                size_t px = patch_origin(j, L.w, ps, st), k = i * ws + j;
                patch_tpl t = patch_template(&L, px, py);
                float u = sx[k], v = sy[k];
                float cost = patch_cost(&L, px, py, u, v);
                if (j + 1 < ws) patch_propose(&L, px, py, &cost, &u, &v, sx[k + 1], sy[k + 1]);
                if (i + 1 < r1) patch_propose(&L, px, py, &cost, &u, &v, sx[k + ws], sy[k + ws]);
                patch_descend(&L, &t, px, py, it2, &u, &v);
                sx[k] = u;
                sy[k] = v;
            }
        }
    }
}

/* Densification (eq. 3): u, v (H, W) of level l from the patch flows sx, sy. Each output row
 * sums the patches that cover it, so rows are independent. */
static void densify_level(flow_ctx *f, int l) {
    size_t w = f->lw[l], h = f->lh[l], pw = f->pw[l];
    size_t ps = (size_t)f->ps, st = (size_t)f->p.patch_stride;
    size_t ws = patch_count(w, ps, st), hs = patch_count(h, ps, st);
    const float *i0 = f->i0[l], *i1p = f->i1p[l];
    float *u = f->u[l], *v = f->v[l];
    float *aw = f->accw;
#pragma omp parallel for schedule(static) if (w * h >= FLOW_PAR_MIN)
    for (size_t y = 0; y < h; y++) {
        float *au = u + y * w, *av = v + y * w, *awr = aw + y * w;
        memset(au, 0, w * sizeof(float));
        memset(av, 0, w * sizeof(float));
        memset(awr, 0, w * sizeof(float));
        const float *t = i0 + y * w;
        for (size_t i = 0; i < hs; i++) {
            size_t py = patch_origin(i, h, ps, st);
            if (y < py || y >= py + ps) continue;
            for (size_t j = 0; j < ws; j++) {
                size_t px = patch_origin(j, w, ps, st), k = i * ws + j;
                float pu = f->sx[k], pv = f->sy[k];
                float fxp = (float)px + pu + (float)FLOW_BORDER, fyp = (float)y + pv + (float)FLOW_BORDER;
                float fx0 = floorf(fxp), fy0 = floorf(fyp);
                if (fx0 < 0.0f) fx0 = 0.0f;
                if (fy0 < 0.0f) fy0 = 0.0f;
                if (fx0 > (float)(pw - ps - 1)) fx0 = (float)(pw - ps - 1);
                if (fy0 > (float)(h + 2 * FLOW_BORDER - 2)) fy0 = (float)(h + 2 * FLOW_BORDER - 2);
                float ax = fxp - fx0, ay = fyp - fy0;
                ax = ax < 0.0f ? 0.0f : (ax > 1.0f ? 1.0f : ax);
                ay = ay < 0.0f ? 0.0f : (ay > 1.0f ? 1.0f : ay);
                const float *a = i1p + (size_t)fy0 * pw + (size_t)fx0, *b = a + pw;
                size_t x = 0;
#if defined(__SSE2__)
                const __m128 AX = _mm_set1_ps(ax), AY = _mm_set1_ps(ay), ONE = _mm_set1_ps(1.0f);
                const __m128 PU = _mm_set1_ps(pu), PV = _mm_set1_ps(pv);
                const __m128 ABS = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
                for (; x + 4 <= ps; x += 4) {
                    __m128 a0 = _mm_loadu_ps(a + x), a1 = _mm_loadu_ps(a + x + 1);
                    __m128 b0 = _mm_loadu_ps(b + x), b1 = _mm_loadu_ps(b + x + 1);
                    __m128 top = _mm_add_ps(a0, _mm_mul_ps(AX, _mm_sub_ps(a1, a0)));
                    __m128 bot = _mm_add_ps(b0, _mm_mul_ps(AX, _mm_sub_ps(b1, b0)));
                    __m128 d = _mm_sub_ps(_mm_add_ps(top, _mm_mul_ps(AY, _mm_sub_ps(bot, top))),
                                          _mm_loadu_ps(t + px + x));
                    __m128 wt = _mm_div_ps(ONE, _mm_max_ps(ONE, _mm_and_ps(d, ABS)));
                    _mm_storeu_ps(au + px + x, _mm_add_ps(_mm_loadu_ps(au + px + x), _mm_mul_ps(wt, PU)));
                    _mm_storeu_ps(av + px + x, _mm_add_ps(_mm_loadu_ps(av + px + x), _mm_mul_ps(wt, PV)));
                    _mm_storeu_ps(awr + px + x, _mm_add_ps(_mm_loadu_ps(awr + px + x), wt));
                }
#endif
                for (; x < ps; x++) {
                    float top = a[x] + ax * (a[x + 1] - a[x]);
                    float bot = b[x] + ax * (b[x + 1] - b[x]);
                    float d = fabsf(top + ay * (bot - top) - t[px + x]);
                    float wt = 1.0f / (d > 1.0f ? d : 1.0f);
                    au[px + x] += wt * pu;
                    av[px + x] += wt * pv;
                    awr[px + x] += wt;
                }
            }
        }
        for (size_t x = 0; x < w; x++) {
            float inv = awr[x] > 0.0f ? 1.0f / awr[x] : 0.0f;
            au[x] *= inv;
            av[x] *= inv;
        }
    }
}

/* The variational refinement of level l's dense flow, band by band (FLOW_BAND_ROWS). */
static void refine_level(flow_ctx *f, int l) {
    size_t w = f->lw[l], h = f->lh[l];
    size_t nb = (h + FLOW_BAND_ROWS - 1) / FLOW_BAND_ROWS;
    const float *u = f->u[l], *v = f->v[l];
#pragma omp parallel for schedule(dynamic, 1) if (nb > 1)
    for (size_t b = 0; b < nb; b++) {
        size_t y0 = b * FLOW_BAND_ROWS, y1 = min_sz(h, y0 + FLOW_BAND_ROWS);
        size_t e0 = y0 > FLOW_BAND_MARGIN ? y0 - FLOW_BAND_MARGIN : 0;
        size_t e1 = min_sz(h, y1 + FLOW_BAND_MARGIN);
        flow_refine(&f->rb[b], f->i0[l], f->i1[l], w, h, e0, e1 - e0, u + e0 * w, v + e0 * w, y0 - e0,
                    y1 - e0, f->ru + e0 * w, f->rv + e0 * w, f->p.var_iters, f->p.var_alpha,
                    f->p.var_gamma, f->p.var_delta, !f->p.portable);
    }
    memcpy(f->u[l], f->ru, w * h * sizeof(float));
    memcpy(f->v[l], f->rv, w * h * sizeof(float));
}

static void grey_to_255(const float *src, size_t n, float *dst) {
#pragma omp parallel for schedule(static) if (n >= FLOW_PAR_MIN)
    for (size_t i = 0; i < n; i++) dst[i] = 255.0f * src[i];
}

impasto_status flow_compute(flow_ctx *f, impasto_ctx *ctx, const float *prev, const float *next,
                            float *flow) {
    if (!ctx) return IMPASTO_ERR_INVALID_ARG;
    if (!f || !prev || !next || !flow)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "flow_compute: NULL argument");
    size_t w = f->w, h = f->h, n = w * h;
    if (!floats_all_finite(prev, n) || !floats_all_finite(next, n))
        return ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "optical flow: a frame has NaN or infinite values");
    thread_scope ts;
    thread_scope_enter(&ts, ctx);

    if (f->fs == 0) {
        grey_to_255(prev, n, f->i0[0]);
        grey_to_255(next, n, f->i1[0]);
    }
    for (int l = 1; l <= f->cs; l++) {
        /* level 1 straight from the input, the 0..255 scaling folded in */
        const float *a = l == 1 ? prev : f->i0[l - 1], *b = l == 1 ? next : f->i1[l - 1];
        float k = l == 1 ? 0.25f * 255.0f : 0.25f;
        pyr_down(a, f->lw[l - 1], f->i0[l], f->lw[l], f->lh[l], k);
        pyr_down(b, f->lw[l - 1], f->i1[l], f->lw[l], f->lh[l], k);
    }
    int nothing = w < 2 || h < 2 || f->ps < 2;
    if (nothing) {
        memset(flow, 0, 2 * n * sizeof(float));
        thread_scope_leave(&ts);
        return IMPASTO_OK;
    }
    size_t ps = (size_t)f->ps, st = (size_t)f->p.patch_stride;
    for (int l = f->cs; l >= f->fs; l--) {
        size_t lw = f->lw[l], lh = f->lh[l];
        pad_replicate(f->i1[l], lw, lh, f->i1p[l]);
        sobel(f->i0[l], lw, lh, f->gx[l], f->gy[l]);
        size_t ws = patch_count(lw, ps, st), hs = patch_count(lh, ps, st);
        /* initial patch flows: the coarser level's dense flow at each patch centre */
        for (size_t i = 0; i < hs; i++)
            for (size_t j = 0; j < ws; j++) {
                size_t k = i * ws + j;
                if (l == f->cs) {
                    f->sx[k] = f->sy[k] = 0.0f;
                    continue;
                }
                const float *cu = f->u[l + 1], *cv = f->v[l + 1];
                size_t cw = f->lw[l + 1], ch = f->lh[l + 1];
                float rx = (float)cw / (float)lw, ry = (float)ch / (float)lh;
                float cx = (float)patch_origin(j, lw, ps, st) + 0.5f * (float)(ps - 1);
                float cy = (float)patch_origin(i, lh, ps, st) + 0.5f * (float)(ps - 1);
                float xs = (cx + 0.5f) * rx - 0.5f, ys = (cy + 0.5f) * ry - 0.5f;
                f->sx[k] = flow_sample(cu, cw, ch, xs, ys) / rx;
                f->sy[k] = flow_sample(cv, cw, ch, xs, ys) / ry;
            }
        search_level(f, l);
        densify_level(f, l);
        if (f->p.var_iters > 0) refine_level(f, l);
    }
    int fs = f->fs;
    if (fs == 0) {
        memcpy(flow, f->u[0], n * sizeof(float));
        memcpy(flow + n, f->v[0], n * sizeof(float));
    } else {
        flow_resize(f->u[fs], f->v[fs], f->lw[fs], f->lh[fs], flow, flow + n, w, h, f->xi, f->xf);
    }
    thread_scope_leave(&ts);
    return IMPASTO_OK;
}
