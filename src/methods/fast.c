/* Fast feed-forward style transfer (Johnson, Alahi & Fei-Fei 2016): one forward pass of a
 * pretrained TransformerNet, as the PyTorch examples' `neural_style.py eval` runs it:
 * the content (optionally shrunk by --content-scale) as RGB 0..255, the network, the output
 * clamped to 0..255. The model keeps one plan (every activation buffer) for the last input size
 * and thread count, so frames of one size reuse it. */
#include "core/ctx.h"
#include "core/image.h"
#include "core/threads.h"
#include "formats/safetensors.h"
#include "methods/fast_tile.h"
#include "methods/mask.h"
#include "methods/tile.h"
#include "models/transformer_net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct impasto_fast_model {
    transformer_net *net;
    char style[64];
    tnet_plan *plan;   /* for plan_threads and the plan's size, or NULL */
    int plan_threads;
};

impasto_status impasto_fast_load(impasto_ctx *ctx, const char *path, impasto_fast_model **out) {
    if (!out) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "loading a fast style network: no place given for the result");
    *out = NULL;
    if (!path) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "no model file given");
    safetensors *st = NULL;
    impasto_status s = safetensors_open(ctx, path, &st);
    if (s != IMPASTO_OK) return s;
    const char *kind = safetensors_meta(st, "kind");
    if (!kind || strcmp(kind, "transformernet") != 0) {
        s = ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: model kind '%s' is not a fast style network (convert one "
                     "with `impasto convert ncnn-transformernet`)", path, kind ? kind : "");
        safetensors_close(st);
        return s;
    }
    impasto_fast_model *m = calloc(1, sizeof *m);
    if (!m) {
        safetensors_close(st);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    const char *style = safetensors_meta(st, "style");
    snprintf(m->style, sizeof m->style, "%s", style ? style : "");
    s = transformer_net_from_safetensors(ctx, st, path, &m->net);
    safetensors_close(st);
    if (s != IMPASTO_OK) {
        free(m);
        return s;
    }
    *out = m;
    return IMPASTO_OK;
}

void impasto_fast_free(impasto_fast_model *model) {
    if (!model) return;
    transformer_net_free(model->net);
    tnet_plan_free(model->plan);
    free(model);
}

const char *impasto_fast_style(const impasto_fast_model *model) { return model ? model->style : ""; }

void impasto_fast_options_init(impasto_fast_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->content_scale = 1.0;
    opt->tile = -1;
    opt->tile_halo = -1;
    opt->memory_mb = FAST_DEFAULT_MEMORY_MB;
    opt->stats = IMPASTO_FAST_STATS_EXACT;
    opt->stats_side = FAST_DEFAULT_STATS_SIDE;
}

static impasto_status check_tiling(impasto_ctx *ctx, const impasto_fast_options *opt) {
    impasto_status s = tile_check_options(ctx, opt->tile, opt->tile_halo, opt->memory_mb);
    if (s != IMPASTO_OK) return s;
    if (opt->stats != IMPASTO_FAST_STATS_EXACT && opt->stats != IMPASTO_FAST_STATS_ESTIMATE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "unknown way %d of taking the norms' statistics", opt->stats);
    if (opt->stats_side < 64 || opt->stats_side > IMPASTO_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the statistics copy's side must be 64 .. %d, not %d",
                        IMPASTO_MAX_SIDE, opt->stats_side);
    return IMPASTO_OK;
}

impasto_status impasto_fast_output_size(impasto_ctx *ctx, int width, int height,
                                        const impasto_fast_options *opt, int *out_width, int *out_height) {
    double scale = opt ? opt->content_scale : 1.0;
    if (!(scale >= 1e-3 && scale <= 1e3))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "content scale %g is outside 0.001..1000", scale);
    /* As the PyTorch example: int(size / scale). */
    double w = floor(width / scale), h = floor(height / scale);
    if (w < TNET_MIN_SIDE || h < TNET_MIN_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "content %dx%d at scale %g is %.0fx%.0f, smaller than the "
                        "network's minimum %dx%d", width, height, scale, w, h, TNET_MIN_SIDE, TNET_MIN_SIDE);
    if (w > 1e9 || h > 1e9 || w * h > (double)ctx->max_pixels)
        return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "content %dx%d at scale %g would be %.0fx%.0f, more than "
                        "the limit of %zu pixels", width, height, scale, w, h, ctx->max_pixels);
    *out_width = (int)w;
    *out_height = (int)h;
    return IMPASTO_OK;
}

/* The plan for h x w with the context's threads, reusing the model's when it fits. */
static impasto_status get_plan(impasto_ctx *ctx, impasto_fast_model *m, int h, int w) {
    int threads = ctx_threads(ctx);
    if (m->plan && tnet_plan_height(m->plan) == h && tnet_plan_width(m->plan) == w && m->plan_threads == threads)
        return IMPASTO_OK;
    tnet_plan_free(m->plan);
    m->plan = NULL;
    impasto_status s = tnet_plan_create(ctx, h, w, threads, &m->plan);
    if (s == IMPASTO_OK) m->plan_threads = threads;
    return s;
}

/* impasto_fast_stylize_into inside its thread scope. */
static impasto_status stylize_into(impasto_ctx *ctx, impasto_fast_model *model, const impasto_image *content,
                                   const impasto_fast_options *opt, impasto_image *out) {
    if (!model || !model->net || !content || !out)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "fast style transfer: missing model, content or output image");
    int w, h;
    impasto_status s = impasto_fast_output_size(ctx, content->width, content->height, opt, &w, &h);
    if (s != IMPASTO_OK) return s;
    const int alpha = content->channels == 2 || content->channels == 4;
    if (out->width != w || out->height != h || out->channels != (alpha ? 4 : 3))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "fast style transfer: the output image is %dx%d with %d "
                        "channels; it must be %dx%d with %d", out->width, out->height, out->channels, w, h,
                        alpha ? 4 : 3);
    const impasto_image *src = content;
    impasto_image *scaled = NULL;
    if (w != content->width || h != content->height) {
        if ((s = impasto_image_resize(ctx, content, w, h, &scaled)) != IMPASTO_OK) return s;
        src = scaled;
    }
    impasto_fast_options defaults;
    if (!opt) {
        impasto_fast_options_init(&defaults);
        opt = &defaults;
    }
    fast_grid g;
    if ((s = check_tiling(ctx, opt)) == IMPASTO_OK) s = fast_grid_make(ctx, h, w, ctx_threads(ctx), opt, &g);
    if (s == IMPASTO_OK && g.ny * g.nx > 1) {
        s = fast_tiled_run(ctx, model->net, &model->plan, &model->plan_threads, &g, opt, src, out);
        impasto_image_free(scaled);
        return s;
    }
    if (s != IMPASTO_OK || (s = get_plan(ctx, model, h, w)) != IMPASTO_OK) {
        impasto_image_free(scaled);
        return s;
    }
    /* (H, W, C) 0..1 -> x (3, H, W) 0..255; gray is replicated, alpha left out. */
    float *x = tnet_plan_input(model->plan);
    const size_t npix = (size_t)w * (size_t)h;
    const int cc = src->channels, color = cc >= 3;
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < npix; i++) x[(size_t)k * npix + i] = 255.0f * src->data[i * (size_t)cc + (color ? k : 0)];
    const float *y = tnet_forward(model->net, model->plan);  /* (3, OH, OW), OH >= h, OW >= w */
    int oh, ow;
    tnet_out_size(h, w, &oh, &ow);
    const size_t onpix = (size_t)oh * (size_t)ow;
    /* Before the clamp below, which would turn an overflow into plausible pixels; `out` is left
     * as it was. */
    if (!floats_all_finite(y, 3 * onpix)) {
        impasto_image_free(scaled);
        return ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "fast style transfer: the network's output holds NaN or "
                        "infinite values (its weights overflow on this picture)");
    }
    const int oc = out->channels;
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++) {
            float *px = out->data + ((size_t)r * (size_t)w + (size_t)c) * (size_t)oc;
            for (int k = 0; k < 3; k++) {
                float v = y[(size_t)k * onpix + (size_t)r * (size_t)ow + (size_t)c];
                v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
                px[k] = v / 255.0f;
            }
            if (alpha) px[3] = src->data[((size_t)r * (size_t)w + (size_t)c) * (size_t)cc + (size_t)cc - 1];
        }
    impasto_image_free(scaled);
    return IMPASTO_OK;
}

impasto_status impasto_fast_stylize_into(impasto_ctx *ctx, impasto_fast_model *model,
                                         const impasto_image *content, const impasto_fast_options *opt,
                                         impasto_image *out) {
    thread_scope ts;
    thread_scope_enter(&ts, ctx);
    impasto_status s = stylize_into(ctx, model, content, opt, out);
    thread_scope_leave(&ts);
    return s;
}

impasto_status impasto_fast_stylize(impasto_ctx *ctx, impasto_fast_model *model, const impasto_image *content,
                                    const impasto_fast_options *opt, impasto_image **out) {
    if (!out) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "fast style transfer: no place given for the result");
    *out = NULL;
    if (!model || !content)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "fast style transfer: missing model or content image");
    int w, h;
    impasto_status s = impasto_fast_output_size(ctx, content->width, content->height, opt, &w, &h);
    if (s != IMPASTO_OK) return s;
    impasto_image *img = NULL;
    const int alpha = content->channels == 2 || content->channels == 4;
    if ((s = image_alloc(ctx, w, h, alpha ? 4 : 3, &img)) != IMPASTO_OK) return s;
    s = impasto_fast_stylize_into(ctx, model, content, opt, img);
    if (s != IMPASTO_OK) {
        impasto_image_free(img);
        return s;
    }
    *out = img;
    return IMPASTO_OK;
}

/* ---- regions: one network per gray level of a mask -------------------------------------- */

/* One pass of a box filter of radius r along rows (dx = 1, n = w, lines = h) or columns (dx = w,
 * n = h, lines = w) of a (h, w), the window clamped at the edges and divided by its full width
 * (edge pixels repeated), so a constant stays constant; tmp holds n floats. */
static void box_pass(float *a, int h, int w, int r, int along_rows, float *tmp) {
    const int n = along_rows ? w : h, lines = along_rows ? h : w;
    const size_t step = along_rows ? 1 : (size_t)w, next = along_rows ? (size_t)w : 1;
    const float inv = 1.0f / (float)(2 * r + 1);
    for (int l = 0; l < lines; l++) {
        float *p = a + (size_t)l * next;
        double s = 0;
        for (int i = -r; i <= r; i++) s += p[(size_t)(i < 0 ? 0 : i >= n ? n - 1 : i) * step];
        for (int i = 0; i < n; i++) {
            tmp[i] = (float)s * inv;
            const int out = i - r < 0 ? 0 : i - r, in = i + r + 1 >= n ? n - 1 : i + r + 1;
            s += p[(size_t)in * step] - p[(size_t)out * step];
        }
        for (int i = 0; i < n; i++) p[(size_t)i * step] = tmp[i];
    }
}

static impasto_status regions_run(impasto_ctx *ctx, impasto_fast_model *const *models, size_t n,
                                  const impasto_image *content, const impasto_image *mask, int feather,
                                  const impasto_fast_options *opt, impasto_image **out) {
    for (size_t k = 0; k < n; k++)
        if (!models[k] || !models[k]->net)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "fast style transfer: network %zu is missing", k + 1);
    int w, h;
    impasto_status s = impasto_fast_output_size(ctx, content->width, content->height, opt, &w, &h);
    if (s != IMPASTO_OK) return s;
    int rank[256];
    if ((s = mask_ranks(ctx, mask, n, "network", rank)) != IMPASTO_OK) return s;
    const int alpha = content->channels == 2 || content->channels == 4, oc = alpha ? 4 : 3;
    const int longest = w > h ? w : h, f = feather >= 0 ? feather : longest / 100 < 2 ? 2 : longest / 100;
    const int r = f / 2;  /* two box passes of radius r: a tent reaching 2r either side */
    const size_t npix = (size_t)w * (size_t)h;
    impasto_image *acc = NULL, *one = NULL;
    unsigned char *region = malloc(npix);                   // (H, W) each pixel's region
    float *wk = malloc(npix * sizeof *wk);                  // (H, W) region k's weight
    float *tmp = malloc((size_t)(w > h ? w : h) * sizeof *tmp);
    if (!region || !wk || !tmp) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK) s = image_alloc(ctx, w, h, oc, &acc);
    if (s == IMPASTO_OK) s = image_alloc(ctx, w, h, oc, &one);
    if (s == IMPASTO_OK) {
        memset(acc->data, 0, npix * (size_t)oc * sizeof *acc->data);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                region[(size_t)y * (size_t)w + (size_t)x] = (unsigned char)mask_region_at(mask, rank, h, w, y, x);
    }
    for (size_t k = 0; k < n && s == IMPASTO_OK; k++) {
        /* Region k's weight: its indicator through two box passes each way (a tent of 2r + 1). */
        int any = 0;
        for (size_t i = 0; i < npix; i++) any |= (wk[i] = region[i] == k ? 1.0f : 0.0f) != 0.0f;
        if (!any) continue;
        for (int pass = 0; pass < 2 && r > 0; pass++) {
            box_pass(wk, h, w, r, 1, tmp);
            box_pass(wk, h, w, r, 0, tmp);
        }
        if ((s = impasto_fast_stylize_into(ctx, models[k], content, opt, one)) != IMPASTO_OK) break;
        for (size_t i = 0; i < npix; i++)
            for (int c = 0; c < 3; c++) acc->data[i * (size_t)oc + (size_t)c] += wk[i] * one->data[i * (size_t)oc + (size_t)c];
    }
    if (s == IMPASTO_OK && alpha)
        for (size_t i = 0; i < npix; i++) acc->data[i * 4 + 3] = one->data[i * 4 + 3];
    free(region);
    free(wk);
    free(tmp);
    impasto_image_free(one);
    if (s != IMPASTO_OK) {
        impasto_image_free(acc);
        return s;
    }
    *out = acc;
    return IMPASTO_OK;
}

impasto_status impasto_fast_stylize_regions(impasto_ctx *ctx, impasto_fast_model *const *models, size_t nmodels,
                                            const impasto_image *content, const impasto_image *mask,
                                            int feather, const impasto_fast_options *opt, impasto_image **out) {
    if (!out) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "fast style transfer: no place given for the result");
    *out = NULL;
    if (!models || nmodels < 1 || !content || !mask)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "fast style transfer with a mask: missing networks, content or "
                        "mask");
    if (nmodels > 255)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "fast style transfer with a mask: at most 255 networks");
    return regions_run(ctx, models, nmodels, content, mask, feather, opt, out);
}
