/* Temporal consistency of stylised video and its measure (impasto.h's impasto_temporal_* and
 * impasto_warping_error), on the optical flow of video/flow.h.
 *
 * For input frames A (previous) and B (new) and A's stylised frame S_A:
 *   bwd = flow(B -> A) on B's grid, fwd = flow(A -> B) on A's grid     (flow_compute)
 *   W   = S_A sampled at x + bwd(x)                                     (flow_warp)
 *   M   = Ruder et al.'s forward-backward check (section 3.2)           (flow_consistency)
 *   S_B <- (1 - w M) S_B + w M W                                        the blend
 * Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos", GCPR 2016, use W and M in a loss
 * (eq. 7) and W as the next optimisation's start; the blend is that loss's minimiser for one
 * frame alone under a quadratic pull to S_B, which is what the one-pass methods can use. */
#include "video/flow.h"
#include "video/video.h"

#include "core/ctx.h"
#include "core/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A cut: when fewer than this share of the pixels pass the check, the previous frame is not
 * carried over (a new shot starts). */
#define TEMPORAL_MIN_TRUSTED 0.2

struct impasto_temporal {
    impasto_temporal_options opt;
    int w, h;                 /* the frames' size */
    int fw, fh;               /* the size the flow is found at */
    flow_ctx *flow;
    float *grey_prev, *grey;  /* (FH,FW) */
    float *fwd, *bwd;         /* (2,FH,FW) */
    float *mask_small;        /* (FH,FW) */
    float *prev_out;          /* (3,H,W) the previous stylised frame, planar */
    float *planar, *warped_p; /* (3,H,W) scratch */
    float *bwd_full;          /* (2,H,W) the flow at full size (fw != w) */
    int have_prev_in, have_prev_out;
    impasto_image *warped;    /* (H,W,3) */
    impasto_image *mask;      /* (H,W,1) */
    int warped_valid;
};

void impasto_temporal_options_init(impasto_temporal_options *opt) {
    opt->weight = 0.7;
    opt->flow_preset = FLOW_PRESET_MEDIUM;
    opt->flow_max_side = 640;
}

/* grey (h,w) = BT.601 luma of an interleaved image (gray: itself), shrunk by area averaging to
 * (fh,fw) when those are smaller. */
static void grey_of(const impasto_image *img, int fw, int fh, float *grey) {
    const int w = img->width, h = img->height, ch = img->channels;
    for (int gy = 0; gy < fh; gy++)
        for (int gx = 0; gx < fw; gx++) {
            const int y0 = (int)((long)gy * h / fh), y1 = (int)((long)(gy + 1) * h / fh);
            const int x0 = (int)((long)gx * w / fw), x1 = (int)((long)(gx + 1) * w / fw);
            double sum = 0;
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++) {
                    const float *p = img->data + ((size_t)y * (size_t)w + (size_t)x) * (size_t)ch;
                    sum += ch >= 3 ? 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2] : p[0];
                }
            grey[(size_t)gy * (size_t)fw + (size_t)gx] = (float)(sum / ((double)(y1 - y0) * (x1 - x0)));
        }
}

/* Bilinear sample of plane p (h,w) at (x,y), clamped. */
static float sample(const float *p, int w, int h, float x, float y) {
    x = x < 0 ? 0 : x > (float)(w - 1) ? (float)(w - 1) : x;
    y = y < 0 ? 0 : y > (float)(h - 1) ? (float)(h - 1) : y;
    const int x0 = (int)x, y0 = (int)y;
    const int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    const float ax = x - (float)x0, ay = y - (float)y0;
    const float top = p[(size_t)y0 * (size_t)w + (size_t)x0] * (1 - ax) + p[(size_t)y0 * (size_t)w + (size_t)x1] * ax;
    const float bot = p[(size_t)y1 * (size_t)w + (size_t)x0] * (1 - ax) + p[(size_t)y1 * (size_t)w + (size_t)x1] * ax;
    return top * (1 - ay) + bot * ay;
}

/* out (C,H,W) from small (C,FH,FW): each plane resampled at pixel centres, times `scale` per
 * plane (a flow's vectors grow with the picture). */
static void upsample(const float *small, int c, int fw, int fh, int w, int h, const float *scale, float *out) {
    const float sx = (float)fw / (float)w, sy = (float)fh / (float)h;
    for (int k = 0; k < c; k++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                out[((size_t)k * (size_t)h + (size_t)y) * (size_t)w + (size_t)x] =
                    scale[k] * sample(small + (size_t)k * (size_t)fw * (size_t)fh, fw, fh, ((float)x + 0.5f) * sx - 0.5f,
                                      ((float)y + 0.5f) * sy - 0.5f);
}

static void to_planar(const impasto_image *img, float *out) {
    const size_t n = (size_t)img->width * (size_t)img->height;
    const int ch = img->channels;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) out[(size_t)c * n + i] = img->data[i * (size_t)ch + (size_t)(ch >= 3 ? c : 0)];
}

impasto_status impasto_temporal_create(impasto_ctx *ctx, int width, int height, const impasto_temporal_options *opt,
                                       impasto_temporal **out) {
    if (out) *out = NULL;
    if (!ctx || !out || width < 1 || height < 1 || width > IMPASTO_MAX_SIDE || height > IMPASTO_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "temporal consistency: frames of 1..%d pixels a side",
                        IMPASTO_MAX_SIDE);
    impasto_temporal_options o;
    if (opt) o = *opt;
    else impasto_temporal_options_init(&o);
    if (!(o.weight >= 0 && o.weight <= 1))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the temporal weight must be between 0 and 1");
    if (o.flow_preset < FLOW_PRESET_ULTRAFAST || o.flow_preset > FLOW_PRESET_MEDIUM || o.flow_max_side < 0)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "unknown flow preset %d", o.flow_preset);
    impasto_status s = image_check_pixels(ctx, "a frame", (uint64_t)width, (uint64_t)height);
    if (s != IMPASTO_OK) return s;
    impasto_temporal *t = calloc(1, sizeof *t);
    if (!t) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    t->opt = o;
    t->w = width;
    t->h = height;
    const int longest = width > height ? width : height;
    if (o.flow_max_side > 0 && longest > o.flow_max_side) {
        t->fw = (int)lround((double)width * o.flow_max_side / longest);
        t->fh = (int)lround((double)height * o.flow_max_side / longest);
        if (t->fw < 1) t->fw = 1;
        if (t->fh < 1) t->fh = 1;
    } else {
        t->fw = width;
        t->fh = height;
    }
    const size_t n = (size_t)width * (size_t)height, fn = (size_t)t->fw * (size_t)t->fh;
    flow_params p;
    flow_params_default(&p, o.flow_preset);
    t->flow = flow_create((size_t)t->fw, (size_t)t->fh, &p);
    t->grey_prev = malloc(fn * sizeof(float));
    t->grey = malloc(fn * sizeof(float));
    t->fwd = malloc(2 * fn * sizeof(float));
    t->bwd = malloc(2 * fn * sizeof(float));
    t->mask_small = malloc(fn * sizeof(float));
    t->prev_out = malloc(3 * n * sizeof(float));
    t->planar = malloc(3 * n * sizeof(float));
    t->warped_p = malloc(3 * n * sizeof(float));
    t->bwd_full = malloc(2 * n * sizeof(float));
    if (!t->flow || !t->grey_prev || !t->grey || !t->fwd || !t->bwd || !t->mask_small || !t->prev_out || !t->planar ||
        !t->warped_p || !t->bwd_full) {
        impasto_temporal_free(t);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for temporal consistency at %dx%d", width, height);
    }
    if ((s = image_alloc(ctx, width, height, 3, &t->warped)) != IMPASTO_OK ||
        (s = image_alloc(ctx, width, height, 1, &t->mask)) != IMPASTO_OK) {
        impasto_temporal_free(t);
        return s;
    }
    *out = t;
    return IMPASTO_OK;
}

void impasto_temporal_free(impasto_temporal *t) {
    if (!t) return;
    flow_free(t->flow);
    free(t->grey_prev);
    free(t->grey);
    free(t->fwd);
    free(t->bwd);
    free(t->mask_small);
    free(t->prev_out);
    free(t->planar);
    free(t->warped_p);
    free(t->bwd_full);
    impasto_image_free(t->warped);
    impasto_image_free(t->mask);
    free(t);
}

void impasto_temporal_reset(impasto_temporal *t) {
    if (!t) return;
    t->have_prev_in = t->have_prev_out = t->warped_valid = 0;
}

impasto_status impasto_temporal_next(impasto_ctx *ctx, impasto_temporal *t, const impasto_image *frame,
                                     const impasto_image **warped, const impasto_image **mask) {
    if (warped) *warped = NULL;
    if (mask) *mask = NULL;
    if (!ctx || !t || !frame) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "temporal consistency: no frame");
    if (frame->width != t->w || frame->height != t->h)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "temporal consistency: a %dx%d frame for %dx%d", frame->width,
                        frame->height, t->w, t->h);
    t->warped_valid = 0;
    grey_of(frame, t->fw, t->fh, t->grey);
    const int had_prev = t->have_prev_in && t->have_prev_out;
    impasto_status s = IMPASTO_OK;
    if (had_prev) {
        /* bwd: new -> previous (on the new frame's grid); fwd: previous -> new. */
        s = flow_compute(t->flow, ctx, t->grey, t->grey_prev, t->bwd);
        if (s == IMPASTO_OK) s = flow_compute(t->flow, ctx, t->grey_prev, t->grey, t->fwd);
        if (s != IMPASTO_OK) return s;
        flow_consistency(t->fwd, t->bwd, (size_t)t->fw, (size_t)t->fh, t->mask_small);
        const size_t n = (size_t)t->w * (size_t)t->h, fn = (size_t)t->fw * (size_t)t->fh;
        const float *bwd = t->bwd;
        float *m = t->mask->data;
        if (t->fw != t->w || t->fh != t->h) {
            const float scale[2] = {(float)t->w / (float)t->fw, (float)t->h / (float)t->fh}, one = 1.0f;
            upsample(t->bwd, 2, t->fw, t->fh, t->w, t->h, scale, t->bwd_full);
            upsample(t->mask_small, 1, t->fw, t->fh, t->w, t->h, &one, m);
            for (size_t i = 0; i < n; i++) m[i] = m[i] > 0.5f ? 1.0f : 0.0f;
            bwd = t->bwd_full;
        } else {
            memcpy(m, t->mask_small, fn * sizeof(float));
        }
        double trusted = 0;
        for (size_t i = 0; i < n; i++) trusted += m[i];
        if (trusted >= TEMPORAL_MIN_TRUSTED * (double)n) {
            flow_warp(t->prev_out, 3, (size_t)t->w, (size_t)t->h, bwd, t->warped_p);
            float *wd = t->warped->data;
            for (size_t i = 0; i < n; i++)
                for (int c = 0; c < 3; c++) wd[3 * i + (size_t)c] = t->warped_p[(size_t)c * n + i];
            t->warped_valid = 1;
        }
    }
    float *tmp = t->grey_prev;
    t->grey_prev = t->grey;
    t->grey = tmp;
    t->have_prev_in = 1;
    if (t->warped_valid) {
        if (warped) *warped = t->warped;
        if (mask) *mask = t->mask;
    }
    return IMPASTO_OK;
}

impasto_status impasto_temporal_blend(impasto_ctx *ctx, impasto_temporal *t, impasto_image *stylised) {
    if (!ctx || !t || !stylised) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "temporal consistency: no frame");
    if (stylised->width != t->w || stylised->height != t->h || stylised->channels < 3)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "temporal consistency: a stylised frame of %dx%d (%d channels) "
                        "for %dx%d RGB", stylised->width, stylised->height, stylised->channels, t->w, t->h);
    const size_t n = (size_t)t->w * (size_t)t->h;
    const int ch = stylised->channels;
    float *d = stylised->data;
    if (t->warped_valid) {
        const float wgt = (float)t->opt.weight;
        const float *wd = t->warped->data, *m = t->mask->data;
        for (size_t i = 0; i < n; i++) {
            const float a = wgt * m[i];
            for (int c = 0; c < 3; c++) {
                float *p = d + i * (size_t)ch + (size_t)c;
                *p = (1.0f - a) * *p + a * wd[3 * i + (size_t)c];
            }
        }
    }
    to_planar(stylised, t->prev_out);
    t->have_prev_out = 1;
    return IMPASTO_OK;
}

impasto_status impasto_warping_error(impasto_ctx *ctx, const impasto_image *in1, const impasto_image *in2,
                                     const impasto_image *out1, const impasto_image *out2, double *error,
                                     double *trusted) {
    if (error) *error = 0;
    if (trusted) *trusted = 0;
    if (!ctx || !in1 || !in2 || !out1 || !out2 || !error)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "warping error: missing frames");
    const int w = in1->width, h = in1->height;
    if (in2->width != w || in2->height != h || out1->width != w || out1->height != h || out2->width != w ||
        out2->height != h)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "warping error: the four frames must be of one size");
    const size_t n = (size_t)w * (size_t)h;
    flow_params p;
    flow_params_default(&p, FLOW_PRESET_MEDIUM);
    flow_ctx *f = flow_create((size_t)w, (size_t)h, &p);
    float *g1 = malloc(n * sizeof(float)), *g2 = malloc(n * sizeof(float));
    float *fwd = malloc(2 * n * sizeof(float)), *bwd = malloc(2 * n * sizeof(float));
    float *m = malloc(n * sizeof(float)), *o1 = malloc(3 * n * sizeof(float)), *wp = malloc(3 * n * sizeof(float));
    float *o2 = malloc(3 * n * sizeof(float));
    impasto_status s = IMPASTO_OK;
    if (!f || !g1 || !g2 || !fwd || !bwd || !m || !o1 || !wp || !o2) {
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for the warping error at %dx%d", w, h);
    } else {
        grey_of(in1, w, h, g1);
        grey_of(in2, w, h, g2);
        s = flow_compute(f, ctx, g2, g1, bwd);
        if (s == IMPASTO_OK) s = flow_compute(f, ctx, g1, g2, fwd);
    }
    if (s == IMPASTO_OK) {
        flow_consistency(fwd, bwd, (size_t)w, (size_t)h, m);
        to_planar(out1, o1);
        to_planar(out2, o2);
        flow_warp(o1, 3, (size_t)w, (size_t)h, bwd, wp);
        double num = 0, den = 0;
        for (size_t i = 0; i < n; i++) {
            if (m[i] <= 0) continue;
            double d2 = 0;
            for (int c = 0; c < 3; c++) {
                const double d = (double)o2[(size_t)c * n + i] - (double)wp[(size_t)c * n + i];
                d2 += d * d;
            }
            num += m[i] * d2;
            den += m[i];
        }
        *error = den > 0 ? num / den : 0;
        if (trusted) *trusted = den / (double)n;
    }
    flow_free(f);
    free(g1);
    free(g2);
    free(fwd);
    free(bwd);
    free(m);
    free(o1);
    free(wp);
    free(o2);
    return s;
}
