/* DeepDream (Mordvintsev, Olah & Tyka, "Inceptionism: Going Deeper into Neural Networks", Google
 * Research blog 2015; their deepdream notebook's make_step / deepdream / objective_guide) on
 * VGG-19, with ProGamerGov/neural-dream's option set for a VGG: gradient ASCENT on the picture
 * itself, so what the network sees at the chosen layers grows.
 *
 *   objective  L2: 0.5 ||a||^2 over a layer's activations a (or one channel of them), whose
 *              gradient is a itself (the notebook's objective_L2, dst.diff = dst.data);
 *              guide: sum over positions i of max_j <a_i, y_j>, y the guide picture's features
 *              at that layer: the gradient at i is y_j* of the best match (objective_guide).
 *              Several entries add up.
 *   step       the picture rolled by a random (dy, dx) (jitter), x += lr g / mean|g| on the rolled
 *              picture, rolled back, clipped to valid pixels (make_step).
 *   octaves    the photo shrunk octave_scale times per octave; from the smallest up, each octave
 *              dreams on its own photo plus the detail (picture minus photo) dreamt so far,
 *              enlarged (deepdream()).
 *   tiles      a picture with a side over `tile` has its gradient computed tile by tile, each
 *              tile with a halo of pixels around it computed and thrown away: with the exact halo
 *              (the receptive field, dream_exact_halo) the tiled gradient equals the untiled one
 *              up to float rounding; the tile grid falls elsewhere each step (a random roll on top
 *              of the jitter, as the TensorFlow deepdream notebook's calc_grad_tiled), so even a
 *              smaller halo leaves no fixed seam.
 *   frames     a zoom sequence: frame i+1 dreams on frame i enlarged about its centre (the
 *              notebook's last section). */
#include "methods/dream.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/ctx.h"
#include "core/image.h"
#include "core/limits.h"
#include "core/rng.h"
#include "core/threads.h"
#include "core/gemm.h"
#include "methods/color.h"
#include "models/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Guide dot products are computed this many positions at a time, so the (positions x guide
 * positions) matrix never exists whole. */
#define DREAM_DOT_ROWS 1024

void impasto_dream_options_init(impasto_dream_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->layers = "relu4_2";
    opt->image_size = 512;
    opt->octaves = 4;
    opt->octave_scale = 1.4;
    opt->iterations = 10;
    opt->learning_rate = 1.5;
    opt->jitter = 32;
    opt->guide_size = DREAM_GUIDE_SIZE;
    opt->pooling = IMPASTO_POOL_MAX;
    opt->tile = DREAM_DEFAULT_TILE;
    opt->tile_halo = -1;
    opt->seed = -1;
    opt->zoom = 1.05;
}

/* ---- layers ----------------------------------------------------------------------------------- */

impasto_status dream_parse_layers(impasto_ctx *ctx, const char *spec, dream_spec *out) {
    memset(out, 0, sizeof *out);
    for (const char *p = spec ? spec : ""; *p;) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        const char *end = p;
        while (*end && *end != ',' && *end != ' ') end++;
        char item[64];
        const size_t len = (size_t)(end - p);
        if (len >= sizeof item)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "dream layer '%.40s...' is not a VGG-19 layer", p);
        memcpy(item, p, len);
        item[len] = 0;
        p = end;
        char *colon = strchr(item, ':');
        if (colon) *colon = 0;
        const int idx = vgg19_layer_index(item);
        if (idx < 0)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "unknown dream layer '%s' (VGG-19 layers are conv1_1, "
                            "relu1_1, ... relu5_4, pool1 ... pool5)", item);
        const int nch = vgg19_layers()[idx].out_c;
        int channel = -1;
        if (colon) {
            char *e = NULL;
            long v = strtol(colon + 1, &e, 10);
            if (!colon[1] || *e || colon[1] == '-' || colon[1] == '+' || v < 0 || v >= nch)
                return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s has channels 0..%d; '%s' names none of them", item,
                                nch - 1, colon + 1);
            channel = (int)v;
        }
        for (int i = 0; i < out->n; i++)
            if (out->e[i].layer == idx && out->e[i].channel == channel)
                return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "dream layer '%s%s%s' named twice", item,
                                colon ? ":" : "", colon ? colon + 1 : "");
        if (out->n == IMPASTO_MAX_LAYERS)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "more than %d dream layers", IMPASTO_MAX_LAYERS);
        out->e[out->n].layer = idx;
        out->e[out->n].channel = channel;
        out->n++;
        if (idx > out->last) out->last = idx;
    }
    if (out->n == 0) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "no dream layer given");
    return IMPASTO_OK;
}

int dream_exact_halo(int last, int *align) {
    /* rf: the receptive field's side at layer l; jump: its stride in pixels. A 3x3 convolution
     * widens it by 2 jumps, a 2x2 pooling by 1 and doubles the jump. */
    int rf = 1, jump = 1;
    const vgg19_layer *L = vgg19_layers();
    for (int l = 0; l <= last; l++) {
        if (L[l].kind == VGG_CONV) rf += 2 * jump;
        else if (L[l].kind == VGG_POOL) rf += jump, jump *= 2;
    }
    /* The last layer's positions fall on multiples of its stride only if tiles start on them;
     * pool windows then line up with the whole picture's. */
    if (align) *align = jump;
    return (rf - 1 + jump - 1) / jump * jump;
}

/* ---- resampling and rolls ------------------------------------------------------------------- */

void dream_roll(const float *x, int c, int h, int w, int dy, int dx, float *y) {
    dy %= h;
    dx %= w;
    if (dy < 0) dy += h;
    if (dx < 0) dx += w;
    for (int k = 0; k < c; k++)
        for (int i = 0; i < h; i++) {
            const float *src = x + ((size_t)k * h + (size_t)((i - dy + h) % h)) * w;
            float *dst = y + ((size_t)k * h + (size_t)i) * w;
            /* dst[j] = src[j - dx]: the row's last dx pixels come first. */
            memcpy(dst, src + (w - dx), (size_t)dx * sizeof *dst);
            memcpy(dst + dx, src, (size_t)(w - dx) * sizeof *dst);
        }
}

/* One axis of a half-pixel bilinear resize, n -> m: output i reads i0[i] and i0[i] + step[i]
 * with weights 1 - t[i], t[i] (PyTorch's area_pixel_compute_source_index, align_corners False). */
static void bilinear_axis(int n, int m, int *i0, int *step, float *t) {
    const double scale = (double)n / m;
    for (int i = 0; i < m; i++) {
        double s = scale * (i + 0.5) - 0.5;
        if (s < 0) s = 0;
        int a = (int)s;
        if (a > n - 1) a = n - 1;
        i0[i] = a;
        step[i] = a < n - 1 ? 1 : 0;
        t[i] = (float)(s - a);
    }
}

void dream_resize(const float *x, int c, int h, int w, int oh, int ow, float *y) {
    int *yi = malloc(sizeof(int) * 2 * (size_t)(oh + ow)), *ys = yi + oh, *xi = ys + oh, *xs = xi + ow;
    float *yt = malloc(sizeof(float) * (size_t)(oh + ow)), *xt = yt + oh;
    if (!yi || !yt) {
        /* Only a few KB: past this nothing else would run either; leave y zero rather than crash. */
        free(yi);
        free(yt);
        memset(y, 0, sizeof(float) * (size_t)c * oh * ow);
        return;
    }
    bilinear_axis(h, oh, yi, ys, yt);
    bilinear_axis(w, ow, xi, xs, xt);
#pragma omp parallel for collapse(2) if ((size_t)c * oh * ow > 65536)
    for (int k = 0; k < c; k++)
        for (int i = 0; i < oh; i++) {
            const float *r0 = x + ((size_t)k * h + yi[i]) * w, *r1 = r0 + (size_t)ys[i] * w;
            float *dst = y + ((size_t)k * oh + i) * ow;
            const float ty = yt[i];
            for (int j = 0; j < ow; j++) {
                const int a = xi[j], b = a + xs[j];
                const float tx = xt[j];
                dst[j] = (1 - ty) * ((1 - tx) * r0[a] + tx * r0[b]) + ty * ((1 - tx) * r1[a] + tx * r1[b]);
            }
        }
    free(yi);
    free(yt);
}

void dream_octave_sizes(int h, int w, int n, double scale, int *hs, int *ws) {
    hs[0] = h;
    ws[0] = w;
    for (int k = 1; k < n; k++) {
        hs[k] = (int)lround(hs[k - 1] / scale);
        ws[k] = (int)lround(ws[k - 1] / scale);
        if (hs[k] < 1) hs[k] = 1;
        if (ws[k] < 1) ws[k] = 1;
    }
}

void dream_zoom(const float *x, int c, int h, int w, double zoom, float *y) {
    const double cy = 0.5 * (h - 1), cx = 0.5 * (w - 1);
    for (int k = 0; k < c; k++)
        for (int i = 0; i < h; i++) {
            double sy = cy + (i - cy) / zoom;
            int a = (int)floor(sy);
            float ty = (float)(sy - a);
            int a1 = a + 1 > h - 1 ? h - 1 : a + 1;
            if (a < 0) a = 0;
            const float *r0 = x + ((size_t)k * h + a) * w, *r1 = x + ((size_t)k * h + a1) * w;
            float *dst = y + ((size_t)k * h + i) * w;
            for (int j = 0; j < w; j++) {
                double sx = cx + (j - cx) / zoom;
                int b = (int)floor(sx);
                float tx = (float)(sx - b);
                int b1 = b + 1 > w - 1 ? w - 1 : b + 1;
                if (b < 0) b = 0;
                dst[j] = (1 - ty) * ((1 - tx) * r0[b] + tx * r0[b1]) + ty * ((1 - tx) * r1[b] + tx * r1[b1]);
            }
        }
}

/* ---- the objective ---------------------------------------------------------------------------- */

void dream_run_free(dream_run *r) {
    if (!r) return;
    for (int l = 0; l < VGG19_NUM_LAYERS; l++) free(r->guide[l]);
    vgg19_plan_free(r->plan);
    free(r->tile_x);
    free(r->tile_g);
    free(r->dots);
    memset(r, 0, sizeof *r);
}

/* r->plan for an h x w input, made anew when the size changed. */
static impasto_status ensure_plan(impasto_ctx *ctx, dream_run *r, int h, int w) {
    if (r->plan && r->plan_h == h && r->plan_w == w) return IMPASTO_OK;
    vgg19_plan_free(r->plan);
    r->plan = NULL;
    impasto_status s = vgg19_plan_create(ctx, r->net, h, w, r->spec.last, r->pooling, r->used, &r->plan);
    if (s != IMPASTO_OK) return s;
    r->plan_h = h;
    r->plan_w = w;
    /* The same plan runs every step of an untiled octave: the small maps' Winograd kernels are
     * transformed once (out of memory they are transformed per call, so the result is ignored). */
    (void)vgg19_plan_keep_kernels(r->plan, r->net);
    return IMPASTO_OK;
}

impasto_status dream_run_init(impasto_ctx *ctx, dream_run *r, const vgg19 *net, const char *layers,
                              pool_kind pooling, const impasto_image *guide, int tile, int halo) {
    memset(r, 0, sizeof *r);
    r->net = net;
    r->pooling = pooling;
    impasto_status s = dream_parse_layers(ctx, layers, &r->spec);
    if (s != IMPASTO_OK) return s;
    for (int i = 0; i < r->spec.n; i++) r->used[r->spec.e[i].layer] = 1;
    const int exact = dream_exact_halo(r->spec.last, &r->align);
    r->tile = tile;
    /* A halo off the stride would start tiles between pooling windows: rounded up onto it. */
    r->halo = halo < 0 ? exact : (halo + r->align - 1) / r->align * r->align;
    if (tile > 0 && tile < 2 * r->align)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "tiles of %d pixels are too small for %s (at least %d)", tile,
                        vgg19_layers()[r->spec.last].name, 2 * r->align);
    if (!guide) return IMPASTO_OK;

    const int gh = guide->height, gw = guide->width;
    if ((s = vgg19_check_size(ctx, "the guide", gw, gh, gh > gw ? gh : gw, r->spec.last)) != IMPASTO_OK) return s;
    float *gx = malloc(sizeof(float) * 3 * (size_t)gh * gw);
    if (!gx) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for the guide");
    vgg19_preprocess(guide, gx);
    if ((s = ensure_plan(ctx, r, gh, gw)) == IMPASTO_OK) {
        vgg19_forward(net, r->plan, gx);
        for (int l = 0; l < VGG19_NUM_LAYERS && s == IMPASTO_OK; l++) {
            if (!r->used[l]) continue;
            int c, fh, fw;
            const float *f = vgg19_plan_output(r->plan, l, &c, &fh, &fw);
            r->guide_m[l] = (size_t)fh * fw;
            if (!(r->guide[l] = malloc(sizeof(float) * (size_t)c * r->guide_m[l])))
                s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for the guide's features");
            else
                memcpy(r->guide[l], f, sizeof(float) * (size_t)c * r->guide_m[l]);
            if (r->guide_m[l] > r->dots_cap / DREAM_DOT_ROWS) r->dots_cap = DREAM_DOT_ROWS * r->guide_m[l];
        }
    }
    free(gx);
    if (s == IMPASTO_OK && r->dots_cap && !(r->dots = malloc(sizeof(float) * r->dots_cap)))
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for the guide's dot products");
    return s;
}

/* Feature position q of a layer with stride s is the interior's when q s is in [p0, p1). */
static int first_inside(int p0, int s) { return (p0 + s - 1) / s; }

/* Entry e's objective over f (C, fh, fw) (summed over positions inside the interior rows
 * [qy0, qy1) and columns [qx0, qx1)) and its gradient added into g (C, fh, fw). */
static double entry_objective(dream_run *r, const dream_entry *e, const float *f, int c, int fh, int fw, int qy0,
                              int qy1, int qx0, int qx1, float *g) {
    const size_t hw = (size_t)fh * fw;
    const int k0 = e->channel < 0 ? 0 : e->channel, k1 = e->channel < 0 ? c : e->channel + 1;
    double obj = 0;
    const float *y = r->guide[e->layer];
    if (!y) {
        /* L2: d(0.5 a^2)/da = a. */
        for (int k = k0; k < k1; k++) {
            const float *fk = f + (size_t)k * hw;
            float *gk = g + (size_t)k * hw;
            for (size_t i = 0; i < hw; i++) gk[i] += fk[i];
            for (int qy = qy0; qy < qy1; qy++)
                for (int qx = qx0; qx < qx1; qx++) obj += 0.5 * (double)fk[(size_t)qy * fw + qx] * fk[(size_t)qy * fw + qx];
        }
        return obj;
    }
    const size_t m = r->guide_m[e->layer];
    if (e->channel >= 0) {
        /* One channel: max_j a y_j is a * max(y) for a >= 0, a * min(y) below. */
        const float *yk = y + (size_t)e->channel * m, *fk = f + (size_t)e->channel * hw;
        float *gk = g + (size_t)e->channel * hw;
        size_t jmax = 0, jmin = 0;
        for (size_t j = 1; j < m; j++) {
            if (yk[j] > yk[jmax]) jmax = j;
            if (yk[j] < yk[jmin]) jmin = j;
        }
        for (size_t i = 0; i < hw; i++) {
            const float best = fk[i] >= 0 ? yk[jmax] : yk[jmin];
            gk[i] += best;
            const int qy = (int)(i / fw), qx = (int)(i % fw);
            if (qy >= qy0 && qy < qy1 && qx >= qx0 && qx < qx1) obj += (double)fk[i] * best;
        }
        return obj;
    }
    /* Every channel: A = f^T y (positions x guide positions), DREAM_DOT_ROWS positions at a time;
     * each position takes the guide vector of its largest dot product (the first, on a tie). */
    for (size_t i0 = 0; i0 < hw; i0 += DREAM_DOT_ROWS) {
        const size_t rows = hw - i0 < DREAM_DOT_ROWS ? hw - i0 : DREAM_DOT_ROWS;
        gemm(1, 0, rows, m, (size_t)c, 1.0f, f + i0, hw, y, m, 0.0f, r->dots, m);
        for (size_t i = 0; i < rows; i++) {
            const float *a = r->dots + i * m;
            size_t best = 0;
            for (size_t j = 1; j < m; j++)
                if (a[j] > a[best]) best = j;
            const size_t pos = i0 + i;
            for (int k = 0; k < c; k++) g[(size_t)k * hw + pos] += y[(size_t)k * m + best];
            const int qy = (int)(pos / fw), qx = (int)(pos % fw);
            if (qy >= qy0 && qy < qy1 && qx >= qx0 && qx < qx1) obj += a[best];
        }
    }
    return obj;
}

/* The objective over the interior rows [iy0, iy1) and columns [ix0, ix1) of an input x (3, h, w)
 * and the gradient of the whole input's objective g (3, h, w). */
static impasto_status run_gradient(impasto_ctx *ctx, dream_run *r, const float *x, int h, int w, int iy0, int iy1,
                                   int ix0, int ix1, float *g, double *objective) {
    impasto_status s = ensure_plan(ctx, r, h, w);
    if (s != IMPASTO_OK) return s;
    vgg19_forward(r->net, r->plan, x);
    const float *grad_at[VGG19_NUM_LAYERS] = {0};
    double obj = 0;
    for (int l = 0; l <= r->spec.last; l++) {
        if (!r->used[l]) continue;
        int c, fh, fw;
        float *f = vgg19_plan_output(r->plan, l, &c, &fh, &fw);  /* (C, fh, fw), then its gradient */
        const int stride = vgg19_min_side(l);
        float *gl = vgg19_plan_scratch(r->plan, NULL);             /* (C, fh, fw) */
        const size_t n = (size_t)c * fh * fw;
        memset(gl, 0, n * sizeof *gl);
        const int qy0 = first_inside(iy0, stride), qy1 = first_inside(iy1, stride);
        const int qx0 = first_inside(ix0, stride), qx1 = first_inside(ix1, stride);
        for (int i = 0; i < r->spec.n; i++)
            if (r->spec.e[i].layer == l)
                obj += entry_objective(r, &r->spec.e[i], f, c, fh, fw, qy0, qy1, qx0, qx1, gl);
        memcpy(f, gl, n * sizeof *f);
        grad_at[l] = f;
    }
    vgg19_backward(r->net, r->plan, grad_at, g);
    *objective = obj;
    return IMPASTO_OK;
}

/* The cuts of one side of n pixels into tiles of at most `tile`, evened out, on multiples of
 * align: cut[0] = 0 < cut[1] < ... < cut[k] = n; returns k. A last piece thinner than align
 * joins the one before. */
static int tile_cuts(int n, int tile, int align, int *cut, int max) {
    int k = (n + tile - 1) / tile;
    int base = (n + k - 1) / k;
    base = (base + align - 1) / align * align;
    int count = 0;
    cut[0] = 0;
    for (int p = base; p < n && count + 1 < max; p += base) cut[++count] = p;
    if (count > 0 && n - cut[count] < align) count--;
    cut[++count] = n;
    return count;
}

impasto_status dream_gradient(impasto_ctx *ctx, dream_run *r, const float *x, int h, int w, float *g,
                              double *objective) {
    if (r->tile <= 0 || (h <= r->tile && w <= r->tile))
        return run_gradient(ctx, r, x, h, w, 0, h, 0, w, g, objective);
    enum { MAX_CUTS = IMPASTO_MAX_SIDE / 16 + 2 };
    int *ycut = malloc(sizeof(int) * 2 * MAX_CUTS), *xcut = ycut ? ycut + MAX_CUTS : NULL;
    if (!ycut) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    const int ny = tile_cuts(h, r->tile, r->align, ycut, MAX_CUTS), nx = tile_cuts(w, r->tile, r->align, xcut, MAX_CUTS);
    impasto_status s = IMPASTO_OK;
    double obj = 0;
    for (int ty = 0; ty < ny && s == IMPASTO_OK; ty++)
        for (int tx = 0; tx < nx && s == IMPASTO_OK; tx++) {
            /* The tile: its interior and a halo, clipped at the picture's edges (where the
             * network pads as it does on the whole picture). */
            const int y0 = ycut[ty] - r->halo < 0 ? 0 : ycut[ty] - r->halo;
            const int y1 = ycut[ty + 1] + r->halo > h ? h : ycut[ty + 1] + r->halo;
            const int x0 = xcut[tx] - r->halo < 0 ? 0 : xcut[tx] - r->halo;
            const int x1 = xcut[tx + 1] + r->halo > w ? w : xcut[tx + 1] + r->halo;
            const int th = y1 - y0, tw = x1 - x0;
            const size_t n = (size_t)3 * th * tw;
            if (n > r->tile_cap) {
                free(r->tile_x);
                free(r->tile_g);
                r->tile_x = malloc(n * sizeof(float));
                r->tile_g = malloc(n * sizeof(float));
                r->tile_cap = r->tile_x && r->tile_g ? n : 0;
                if (!r->tile_cap) {
                    s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for a %dx%d tile", tw, th);
                    break;
                }
            }
            for (int k = 0; k < 3; k++)
                for (int i = 0; i < th; i++)
                    memcpy(r->tile_x + ((size_t)k * th + i) * tw, x + ((size_t)k * h + y0 + i) * w + x0,
                           (size_t)tw * sizeof(float));
            double o = 0;
            s = run_gradient(ctx, r, r->tile_x, th, tw, ycut[ty] - y0, ycut[ty + 1] - y0, xcut[tx] - x0,
                             xcut[tx + 1] - x0, r->tile_g, &o);
            if (s != IMPASTO_OK) break;
            obj += o;
            const int iy = ycut[ty] - y0, ix = xcut[tx] - x0, ih = ycut[ty + 1] - ycut[ty], iw = xcut[tx + 1] - xcut[tx];
            for (int k = 0; k < 3; k++)
                for (int i = 0; i < ih; i++)
                    memcpy(g + ((size_t)k * h + ycut[ty] + i) * w + xcut[tx],
                           r->tile_g + ((size_t)k * th + iy + i) * tw + ix, (size_t)iw * sizeof(float));
        }
    free(ycut);
    *objective = obj;
    return s;
}

/* ---- steps and octaves ------------------------------------------------------------------------ */

/* The valid range of a preprocessed channel: 0..255 minus its mean. */
static void pixel_bounds(float lo[3], float hi[3]) {
    const float zero[3] = {0, 0, 0}, full[3] = {255, 255, 255};
    vgg19_preprocess_rgb255(zero, 1, lo);
    vgg19_preprocess_rgb255(full, 1, hi);
}

impasto_status dream_step(impasto_ctx *ctx, dream_run *r, float *x, int h, int w, int dy, int dx, double lr,
                          float *work, double *objective) {
    const size_t hw = (size_t)h * w, n = 3 * hw;
    float *rolled = work, *g = work + n;
    dream_roll(x, 3, h, w, dy, dx, rolled);
    impasto_status s = dream_gradient(ctx, r, rolled, h, w, g, objective);
    if (s != IMPASTO_OK) return s;
    double sum = 0;
#pragma omp parallel for reduction(+ : sum) if (n > 65536)
    for (size_t i = 0; i < n; i++) sum += fabsf(g[i]);
    const double mean = sum / (double)n;
    if (!isfinite(mean) || !isfinite(*objective))
        return ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "the gradient became NaN or infinite at %dx%d", w, h);
    const float k = (float)(lr / (mean + 1e-8));
#pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++) rolled[i] += k * g[i];
    dream_roll(rolled, 3, h, w, -dy, -dx, x);
    float lo[3], hi[3];
    pixel_bounds(lo, hi);
    for (int c = 0; c < 3; c++) {
        float *xc = x + (size_t)c * hw;
        for (size_t i = 0; i < hw; i++) xc[i] = xc[i] < lo[c] ? lo[c] : xc[i] > hi[c] ? hi[c] : xc[i];
    }
    return IMPASTO_OK;
}

impasto_status dream_octaves(impasto_ctx *ctx, dream_run *r, float *x, int h, int w, const dream_octave_params *p,
                             int (*step_done)(void *user, int octave, int ow, int oh, int iteration,
                                              double objective),
                             void *user) {
    const int n = p->octaves;
    int hs[DREAM_MAX_OCTAVES], ws[DREAM_MAX_OCTAVES];
    dream_octave_sizes(h, w, n, p->octave_scale, hs, ws);
    /* bases[k]: the photo at octave k (bases[0] is x's own copy); detail and cur at the octave
     * being run; work: dream_step's scratch at the full size. */
    float *bases[DREAM_MAX_OCTAVES] = {0};
    const size_t full = (size_t)3 * h * w;
    float *detail = malloc(full * sizeof(float)), *cur = malloc(full * sizeof(float));
    float *work = malloc(2 * full * sizeof(float));
    int ok = detail && cur && work;
    for (int k = 0; k < n && ok; k++) ok = (bases[k] = malloc((size_t)3 * hs[k] * ws[k] * sizeof(float))) != NULL;
    impasto_status s = IMPASTO_OK;
    if (!ok) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for the octaves of a %dx%d picture", w, h);
    if (s == IMPASTO_OK) {
        memcpy(bases[0], x, full * sizeof(float));
        for (int k = 1; k < n; k++) dream_resize(bases[k - 1], 3, hs[k - 1], ws[k - 1], hs[k], ws[k], bases[k]);
        memset(detail, 0, (size_t)3 * hs[n - 1] * ws[n - 1] * sizeof(float));
    }
    int step = 0, k = n - 1, cancelled = 0;
    for (; k >= 0 && s == IMPASTO_OK && !cancelled; k--) {
        const size_t m = (size_t)3 * hs[k] * ws[k];
        if (k < n - 1) {
            dream_resize(detail, 3, hs[k + 1], ws[k + 1], hs[k], ws[k], cur);
            memcpy(detail, cur, m * sizeof(float));
        }
        for (size_t i = 0; i < m; i++) cur[i] = bases[k][i] + detail[i];
        for (int it = 0; it < p->iterations && s == IMPASTO_OK; it++, step++) {
            int dy, dx;
            if (p->shifts) {
                dy = p->shifts[2 * step];
                dx = p->shifts[2 * step + 1];
            } else {
                dy = (int)rng_below(p->rng, (size_t)(2 * p->jitter + 1)) - p->jitter;
                dx = (int)rng_below(p->rng, (size_t)(2 * p->jitter + 1)) - p->jitter;
                /* Tiled: the tile grid falls elsewhere each step too. */
                if (r->tile > 0 && (hs[k] > r->tile || ws[k] > r->tile)) {
                    dy += (int)rng_below(p->rng, (size_t)r->tile);
                    dx += (int)rng_below(p->rng, (size_t)r->tile);
                }
            }
            double obj = 0;
            s = dream_step(ctx, r, cur, hs[k], ws[k], dy, dx, p->learning_rate, work, &obj);
            if (s == IMPASTO_OK && step_done && step_done(user, n - 1 - k, ws[k], hs[k], it + 1, obj)) {
                cancelled = 1;
                break;
            }
        }
        for (size_t i = 0; i < m; i++) detail[i] = cur[i] - bases[k][i];
    }
    if (s == IMPASTO_OK) {
        /* The octave last run is k + 1: finished (or stopped in octave 0) cur is the picture;
         * stopped earlier, the detail so far enlarged onto the photo. */
        const int last = k + 1;
        if (last == 0) {
            memcpy(x, cur, full * sizeof(float));
        } else {
            dream_resize(detail, 3, hs[last], ws[last], h, w, cur);
            float lo[3], hi[3];
            pixel_bounds(lo, hi);
            for (int c = 0; c < 3; c++)
                for (size_t i = 0; i < (size_t)h * w; i++) {
                    const size_t j = (size_t)c * h * w + i;
                    const float v = bases[0][j] + cur[j];
                    x[j] = v < lo[c] ? lo[c] : v > hi[c] ? hi[c] : v;
                }
        }
    }
    for (int i = 0; i < n; i++) free(bases[i]);
    free(detail);
    free(cur);
    free(work);
    if (s == IMPASTO_OK && cancelled) return ctx_fail(ctx, IMPASTO_ERR_CANCELLED, "cancelled");
    return s;
}

/* ---- impasto_dream ---------------------------------------------------------------------------- */

typedef struct dream_call {
    const impasto_dream_options *opt;
    impasto_dream_progress p;
    double t0, work_done, work_total;
} dream_call;

static int on_step(void *user, int octave, int ow, int oh, int iteration, double objective) {
    dream_call *dc = user;
    dc->work_done += (double)ow * oh;
    if (!dc->opt->progress) return 0;
    dc->p.octave = octave;
    dc->p.width = ow;
    dc->p.height = oh;
    dc->p.iteration = iteration;
    dc->p.objective = objective;
    dc->p.done = dc->work_total > 0 ? dc->work_done / dc->work_total : 1;
    dc->p.seconds = clock_seconds() - dc->t0;
    return dc->opt->progress(&dc->p, dc->opt->progress_user);
}

static impasto_status check_options(impasto_ctx *ctx, const impasto_dream_options *o) {
    if (o->image_size < 0 || o->image_size > IMPASTO_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "image size %d is outside 0..%d", o->image_size, IMPASTO_MAX_SIDE);
    if (o->image_size > 0 && o->image_size < IMAGE_MIN_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "image size %d is below %d", o->image_size, IMAGE_MIN_SIDE);
    if (o->octaves < 1 || o->octaves > DREAM_MAX_OCTAVES)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the number of octaves must be 1..%d, got %d",
                        DREAM_MAX_OCTAVES, o->octaves);
    if (!(o->octave_scale > 1.0) || !(o->octave_scale <= 16.0))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the octave scale must be above 1 and at most 16, got %g",
                        o->octave_scale);
    if (o->iterations < 1 || o->iterations > 1000000)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "iterations per octave must be 1..1000000, got %d", o->iterations);
    if (!(o->learning_rate > 0) || !isfinite(o->learning_rate))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the learning rate must be above 0 and finite");
    if (o->jitter < 0 || o->jitter > IMPASTO_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "jitter must be 0..%d pixels, got %d", IMPASTO_MAX_SIDE, o->jitter);
    if (o->guide_size < 0 || o->guide_size > IMPASTO_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "guide size %d is outside 0..%d", o->guide_size, IMPASTO_MAX_SIDE);
    if (o->pooling != IMPASTO_POOL_MAX && o->pooling != IMPASTO_POOL_AVG)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "unknown pooling %d", (int)o->pooling);
    if (o->tile < 0 || o->tile > IMPASTO_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "tile must be 0 (never) or up to %d pixels, got %d",
                        IMPASTO_MAX_SIDE, o->tile);
    if (o->tile_halo < -1 || o->tile_halo > DREAM_MAX_HALO || (o->tile_halo > 0 && o->tile_halo % 8))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the tile halo must be -1 (exact) or a multiple of 8 up to %d, "
                        "got %d", DREAM_MAX_HALO, o->tile_halo);
    if (o->zoom_frames < 0 || o->zoom_frames > DREAM_MAX_FRAMES)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "zoom frames must be 0..%d, got %d", DREAM_MAX_FRAMES,
                        o->zoom_frames);
    if (!(o->zoom >= 1.0) || !(o->zoom <= 4.0))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the zoom factor must be 1..4, got %g", o->zoom);
    return IMPASTO_OK;
}

/* The photo's own RGB (H, W, 3) in 0..1 from planes (3, H, W), and back. */
static impasto_status planes_image(impasto_ctx *ctx, const float *x, int h, int w, impasto_image **out) {
    impasto_status s = image_alloc(ctx, w, h, 3, out);
    if (s == IMPASTO_OK) vgg19_deprocess(x, h, w, (*out)->data);
    return s;
}

static impasto_status dream_run_call(impasto_ctx *ctx, const impasto_model *vgg, const impasto_image *content,
                                     const impasto_dream_options *opt, impasto_image **out) {
    if (!vgg || !vgg->vgg)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "DeepDream needs a model of kind 'vgg19' (impasto convert "
                        "vgg19); %s%s%s", vgg ? "this one is of kind '" : "none was given", vgg ? vgg->kind : "",
                        vgg ? "'" : "");
    if (!content) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "no picture to dream on");
    impasto_status s = check_options(ctx, opt);
    if (s != IMPASTO_OK) return s;
    dream_spec spec;
    if ((s = dream_parse_layers(ctx, opt->layers, &spec)) != IMPASTO_OK) return s;

    /* Sizes, all checked before any work: the smallest octave and the guide must reach the
     * deepest layer. */
    impasto_image *photo = NULL, *guide = NULL;
    if (opt->image_size > 0) s = impasto_image_resize_max_side(ctx, content, opt->image_size, &photo);
    const impasto_image *ph = photo ? photo : content;
    const int h = ph->height, w = ph->width, n = opt->octaves;
    int hs[DREAM_MAX_OCTAVES], ws[DREAM_MAX_OCTAVES];
    dream_octave_sizes(h, w, n, opt->octave_scale, hs, ws);
    const int need = vgg19_min_side(spec.last);
    if (s == IMPASTO_OK && (hs[n - 1] < need || ws[n - 1] < need))
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the smallest of %d octaves is %dx%d pixels; %s needs at least %d "
                     "on each side (fewer octaves, a smaller octave scale or a larger picture)", n, ws[n - 1],
                     hs[n - 1], vgg19_layers()[spec.last].name, need);
    if (s == IMPASTO_OK && opt->guide && opt->guide_size > 0)
        s = impasto_image_resize_max_side(ctx, opt->guide, opt->guide_size, &guide);
    dream_run r;
    memset(&r, 0, sizeof r);
    if (s == IMPASTO_OK)
        s = dream_run_init(ctx, &r, vgg->vgg, opt->layers, opt->pooling == IMPASTO_POOL_AVG ? POOL_AVG : POOL_MAX,
                           guide ? guide : opt->guide, opt->tile, opt->tile_halo);
    impasto_image_free(guide);

    const int frames = opt->zoom_frames > 0 ? opt->zoom_frames : 1;
    dream_call dc;
    memset(&dc, 0, sizeof dc);
    dc.opt = opt;
    dc.t0 = clock_seconds();
    dc.p.num_frames = frames;
    dc.p.num_octaves = n;
    dc.p.num_iterations = opt->iterations;
    for (int k = 0; k < n; k++) dc.work_total += (double)hs[k] * ws[k] * opt->iterations * frames;
    uint64_t rng = opt->seed >= 0 ? (uint64_t)opt->seed : (uint64_t)time(NULL);
    dream_octave_params dp = {n, opt->octave_scale, opt->iterations, opt->learning_rate, opt->jitter, NULL, &rng};

    const size_t full = (size_t)3 * h * w;
    float *x = s == IMPASTO_OK ? malloc(full * sizeof(float)) : NULL, *zoomed = NULL;
    if (s == IMPASTO_OK && !x) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK) vgg19_preprocess(ph, x);
    impasto_image *result = NULL, *before = NULL;  /* a frame, and the picture it was dreamt on */
    int cancelled = 0;
    for (int f = 0; f < frames && s == IMPASTO_OK && !cancelled; f++) {
        if (f > 0) {
            if (!zoomed && !(zoomed = malloc(full * sizeof(float)))) {
                s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
                break;
            }
            vgg19_preprocess(result, x);
            dream_zoom(x, 3, h, w, opt->zoom, zoomed);
            memcpy(x, zoomed, full * sizeof(float));
        }
        impasto_image_free(before);
        before = NULL;
        if (opt->original_colors && (s = planes_image(ctx, x, h, w, &before)) != IMPASTO_OK) break;
        dc.p.frame = f;
        s = dream_octaves(ctx, &r, x, h, w, &dp, on_step, &dc);
        if (s == IMPASTO_ERR_CANCELLED) cancelled = 1, s = IMPASTO_OK;
        if (s != IMPASTO_OK) break;
        impasto_image_free(result);
        result = NULL;
        if ((s = planes_image(ctx, x, h, w, &result)) != IMPASTO_OK) break;
        if (before) color_keep_luminance(result->data, before->data, (size_t)h * w, result->data);
        if (!cancelled && opt->frame && opt->frame(result, f, opt->progress_user)) cancelled = 1;
    }
    impasto_image_free(before);
    free(x);
    free(zoomed);
    dream_run_free(&r);
    if (s == IMPASTO_OK && frames == 1 && (content->channels == 2 || content->channels == 4)) {
        /* Carry the photo's alpha through. */
        impasto_image *rgba = NULL;
        s = image_alloc(ctx, w, h, 4, &rgba);
        if (s == IMPASTO_OK) {
            const int cc = ph->channels;
            for (size_t i = 0; i < (size_t)h * w; i++) {
                memcpy(rgba->data + 4 * i, result->data + 3 * i, 3 * sizeof(float));
                rgba->data[4 * i + 3] = ph->data[i * cc + cc - 1];
            }
            impasto_image_free(result);
            result = rgba;
        }
    }
    impasto_image_free(photo);
    if (s != IMPASTO_OK) {
        impasto_image_free(result);
        return s;
    }
    *out = result;
    if (cancelled) return ctx_fail(ctx, IMPASTO_ERR_CANCELLED, "cancelled");
    return IMPASTO_OK;
}

impasto_status impasto_dream(impasto_ctx *ctx, const impasto_model *vgg, const impasto_image *content,
                             const impasto_dream_options *opt, impasto_image **out) {
    if (!out) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "dream: no place given for the result");
    *out = NULL;
    impasto_dream_options defaults;
    if (!opt) {
        impasto_dream_options_init(&defaults);
        opt = &defaults;
    }
    thread_scope ts;
    thread_scope_enter(&ts, ctx);
    impasto_status s = dream_run_call(ctx, vgg, content, opt, out);
    thread_scope_leave(&ts);
    return s;
}
