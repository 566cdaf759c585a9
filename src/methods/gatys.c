/* Gatys, Ecker & Bethge, "Image Style Transfer Using Convolutional Neural Networks" (CVPR 2016),
 * as jcjohnson/neural-style implements it: the picture itself is optimised (L-BFGS or Adam) to
 * minimise content_weight * content loss (VGG-19 relu4_2) + style_weight * style loss (Gram
 * matrices at relu1_1 ... relu5_1) + tv_weight * total variation, starting from noise or an image.
 *
 * Optimisation runs in the Caffe-preprocessed space: x (3, H, W), RGB, 0..255 minus the mean.
 * With several scales (coarse to fine) each scale starts from the previous result, upsampled. */
#include "core/clock.h"
#include "core/ctx.h"
#include "core/image.h"
#include "core/limits.h"
#include "core/rng.h"
#include "core/threads.h"
#include "io/resample.h"
#include "loss/loss.h"
#include "loss/temporal.h"
#include "methods/color.h"
#include "methods/gatys.h"
#include "models/model.h"
#include "models/vgg19.h"
#include "optim/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void impasto_transfer_options_init(impasto_transfer_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->content_weight = 5.0;
    opt->style_weight = 100.0;
    opt->tv_weight = 1e-3;
    opt->num_iterations = 1000;
    opt->init = IMPASTO_INIT_RANDOM;
    opt->seed = -1;
    opt->optimizer = IMPASTO_OPTIM_LBFGS;
    opt->learning_rate = 10.0;
    opt->lbfgs_history = 100;
    opt->image_size = 512;
    opt->style_scale = 1.0;
    opt->pooling = IMPASTO_POOL_MAX;
    opt->content_layers = "relu4_2";
    opt->style_layers = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1";
    opt->save_iter = 100;
    opt->tile = -1;
    opt->temporal_weight = 1e3;
}

/* ---- noise ------------------------------------------------------------------------------ */

/* Standard normal by Box-Muller, from splitmix64 (core/rng.h). */
static void fill_gaussian(float *x, size_t n, double scale, uint64_t seed) {
    uint64_t s = seed;
    for (size_t i = 0; i < n; i += 2) {
        double r = sqrt(-2.0 * log(rng_uniform_open(&s))), t = 2.0 * M_PI * rng_uniform_open(&s);
        x[i] = (float)(scale * r * cos(t));
        if (i + 1 < n) x[i + 1] = (float)(scale * r * sin(t));
    }
}

/* ---- one scale's optimisation ----------------------------------------------------------- */

/* neural-style's -normalize_gradients: each loss's gradient is divided by its L1 norm before
 * the weight is applied (g was computed with weight 1). */
static void normalize_gradient(float *g, size_t n, double weight) {
    double l1 = 0;
#pragma omp parallel for reduction(+ : l1) if (n > 65536)
    for (size_t i = 0; i < n; i++) l1 += fabsf(g[i]);
    float k = (float)(weight / (l1 + 1e-8));
#pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++) g[i] *= k;
}

static void add_into(float *dst, const float *src, size_t n) {
#pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

/* f(x) and its gradient: forward through VGG-19, the losses at their layers, backward. Each loss
 * layer's gradient is written over that layer's features in the plan once its losses have read
 * them (the backward pass reads only bitmaps), so the loss gradients take no memory of their own:
 * at one layer the style loss goes first, into the plan's scratch (its GEMM cannot write over the
 * features it reads), then the content loss in place. */
static int gatys_evaluate(void *user, const float *x, float *g, size_t n, double *f) {
    gatys_run *r = user;
    const impasto_transfer_options *opt = r->opt;
    vgg19_forward(r->net, r->plan, x);

    const float *grad_at[VGG19_NUM_LAYERS] = {0};
    double content = 0, style = 0;
    for (int layer = 0; layer < VGG19_NUM_LAYERS; layer++) {
        const int si = r->style_at[layer], ci = r->content_at[layer];
        if (si < 0 && ci < 0) continue;
        int c, h, w;
        float *feat = vgg19_plan_output(r->plan, layer, &c, &h, &w);  /* (C, H, W), then its gradient */
        const size_t hw = (size_t)h * w, len = (size_t)c * hw;
        float *sg = vgg19_plan_scratch(r->plan, NULL);                 /* (C, H, W) style gradient */
        if (si >= 0) {
            double wt = opt->normalize_gradients ? 1.0 : r->style_layer_weight[si];
            /* with a mask: each region's guided Gram against its own style's (f o m in scratch2) */
            double l = r->nregions ? guided_style_loss(c, hw, feat, r->nregions, r->region_mask[si],
                                                       r->region_target[si], wt, vgg19_plan_scratch2(r->plan),
                                                       r->gram_ws, sg)
                                   : style_loss(c, hw, feat, r->style_target[si], wt, r->gram_ws, sg);
            if (opt->normalize_gradients) {
                l *= r->style_layer_weight[si];
                normalize_gradient(sg, len, r->style_layer_weight[si]);
            }
            style += l;
        }
        if (ci >= 0) {
            double wt = opt->normalize_gradients ? 1.0 : r->content_layer_weight;
            double l = content_loss(len, feat, r->content_target[ci], wt, feat);
            if (opt->normalize_gradients) {
                l *= r->content_layer_weight;
                normalize_gradient(feat, len, r->content_layer_weight);
            }
            content += l;
            if (si >= 0) add_into(feat, sg, len);
        } else {
            memcpy(feat, sg, len * sizeof *feat);
        }
        grad_at[layer] = feat;
    }
    vgg19_backward(r->net, r->plan, grad_at, g);

    double tv = 0;
    if (opt->tv_weight > 0) {
        tv = tv_loss(3, r->h, r->w, x, opt->tv_weight, r->tv_grad);
        add_into(g, r->tv_grad, n);
    }
    const double temporal = r->temporal_target ? temporal_loss(3, (size_t)r->h * (size_t)r->w, x, r->temporal_target,
                                                               r->temporal_mask, opt->temporal_weight, g)
                                               : 0;
    r->last_content = content;
    r->last_style = style;
    r->last_tv = tv;
    r->last_temporal = temporal;
    *f = content + style + tv + temporal;
    /* One NaN or Inf would spread through the optimiser's history into every pixel: stop at
     * once, the parts kept in r for the message. */
    if (!isfinite(*f)) return GATYS_NOT_FINITE;
    return 0;
}

/* Iterations at scale si: the scale's own count, else num_iterations. */
static int iterations_at(const impasto_transfer_options *opt, int si) {
    if (opt->num_scales && si < opt->num_scales && opt->scale_iterations[si] > 0) return opt->scale_iterations[si];
    return opt->num_iterations;
}

static int gatys_progress(void *user, const float *x, size_t n, double f, int iteration, int evals) {
    gatys_run *r = user;
    const impasto_transfer_options *opt = r->opt;
    r->iteration = iteration;
    if (!opt->progress) return 0;
    impasto_progress p = {0};
    p.scale_index = r->scale_index;
    p.num_scales = r->num_scales;
    p.width = r->w;
    p.height = r->h;
    p.iteration = iteration;
    p.num_iterations = iterations_at(opt, r->scale_index);
    p.loss = f;
    p.content_loss = r->last_content;
    p.style_loss = r->last_style;
    p.tv_loss = r->last_tv;
    p.seconds = clock_seconds() - r->t0;
    p.num_tiles = gatys_tiles_count(r->tiles);
    p.lbfgs_history = r->history;
    impasto_image *snap = NULL;  /* made for the call only: a picture-sized buffer at most */
    if (opt->save_iter > 0 && iteration % opt->save_iter == 0 && iteration < p.num_iterations &&
        image_alloc(r->ctx, r->w, r->h, 3, &snap) == IMPASTO_OK) {
        vgg19_deprocess(x, r->h, r->w, snap->data);
        p.image = snap;
    }
    int rc = opt->progress(&p, opt->progress_user);
    impasto_image_free(snap);
    return rc;
}

/* Features of `img` at the given layers: content targets copied out (C,H,W), or Gram matrices
 * (C,C) accumulated with weight `blend` into the style targets. */
static impasto_status extract_targets(impasto_ctx *ctx, const vgg19 *net, const impasto_image *img,
                                      pool_kind pooling, const vgg19_layer_list *layers, int as_gram,
                                      double blend, float **targets) {
    int last = 0;
    unsigned char keep[VGG19_NUM_LAYERS] = {0};
    for (int i = 0; i < layers->n; i++) {
        if (layers->index[i] > last) last = layers->index[i];
        keep[layers->index[i]] = 1;
    }
    size_t npix = (size_t)img->width * img->height;
    float *x = malloc(3 * npix * sizeof *x);
    if (!x) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (%dx%d image)", img->width, img->height);
    vgg19_plan *plan = NULL;
    impasto_status s = vgg19_plan_create(ctx, net, img->height, img->width, last, pooling, keep, &plan);
    if (s != IMPASTO_OK) {
        free(x);
        return s;
    }
    vgg19_preprocess(img, x);
    vgg19_forward(net, plan, x);
    float *gram = NULL;
    for (int i = 0; i < layers->n && s == IMPASTO_OK; i++) {
        int c, h, w;
        const float *feat = vgg19_plan_output(plan, layers->index[i], &c, &h, &w);
        size_t len = (size_t)c * h * w;
        if (!as_gram) {
            targets[i] = malloc(len * sizeof(float));
            if (!targets[i]) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
            else memcpy(targets[i], feat, len * sizeof(float));
            continue;
        }
        size_t cc = (size_t)c * c;
        if (!targets[i]) targets[i] = calloc(cc, sizeof(float));
        float *g2 = realloc(gram, cc * sizeof(float));
        if (!targets[i] || !g2) {
            if (g2) gram = g2;
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
            break;
        }
        gram = g2;
        gram_matrix(c, (size_t)h * w, feat, gram);
        for (size_t k = 0; k < cc; k++) targets[i][k] += (float)blend * gram[k];
    }
    free(gram);
    vgg19_plan_free(plan);
    free(x);
    return s;
}

static void run_free(gatys_run *r) {
    vgg19_plan_free(r->plan);
    gatys_tiles_free(r->tiles);
    for (int i = 0; i < IMPASTO_MAX_LAYERS; i++) {
        free(r->content_target[i]);
        free(r->style_target[i]);
        free(r->region_target[i]);
        free(r->region_mask[i]);
        free(r->region_mass[i]);
    }
    free(r->gram_ws);
    free(r->tv_grad);
    free(r->temporal_target);
    free(r->temporal_mask);
    memset(r, 0, sizeof *r);
}

/* ---- the whole method ------------------------------------------------------------------- */

static impasto_status check_options(impasto_ctx *ctx, const impasto_transfer_options *opt,
                                    size_t nstyles) {
    if (nstyles < 1) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "at least one style image is needed");
    /* Infinite weights pass ">= 0" but turn every loss into inf or NaN. */
    if (!(opt->content_weight >= 0) || !(opt->style_weight >= 0) || !(opt->tv_weight >= 0) ||
        !isfinite(opt->content_weight) || !isfinite(opt->style_weight) || !isfinite(opt->tv_weight))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "loss weights must be finite and zero or positive");
    if (opt->temporal_target && (!(opt->temporal_weight >= 0) || !isfinite(opt->temporal_weight)))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the temporal loss weight must be finite and zero or positive");
    if (opt->num_iterations < 0) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the number of iterations must not be negative");
    if (!(opt->learning_rate > 0) || !isfinite(opt->learning_rate)) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the learning rate must be positive");
    if (opt->lbfgs_history < 1 || opt->lbfgs_history > 1000)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "L-BFGS history must be 1..1000");
    if (!(opt->style_scale > 0) || opt->style_scale > 16)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style scale must be in (0, 16]");
    if (opt->num_scales < 0 || opt->num_scales > IMPASTO_MAX_SCALES)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "at most %d scales", IMPASTO_MAX_SCALES);
    int nsizes = opt->num_scales ? opt->num_scales : 1;
    for (int i = 0; i < nsizes; i++) {
        int side = opt->num_scales ? opt->scales[i] : opt->image_size;
        if (side < IMAGE_MIN_SIDE || side > IMPASTO_MAX_SIDE)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "image size %d is outside %d..%d", side, IMAGE_MIN_SIDE,
                            IMPASTO_MAX_SIDE);
        if (opt->num_scales && opt->scale_iterations[i] < 0)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the number of iterations must not be negative");
        if (opt->num_scales && i > 0 && side < opt->scales[i - 1])
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "scales must go from coarse to fine");
    }
    if (opt->style_blend_weights) {
        double sum = 0;
        for (size_t i = 0; i < nstyles; i++) {
            if (!(opt->style_blend_weights[i] >= 0) || !isfinite(opt->style_blend_weights[i]))
                return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style blend weights must be finite and not negative");
            sum += opt->style_blend_weights[i];
        }
        if (!(sum > 0)) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style blend weights sum to zero");
    }
    if (opt->mask || opt->style_masks) {
        if (opt->mask && opt->style_masks)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "give a mask of gray levels or one soft mask per style, "
                            "not both");
        if (opt->style_blend_weights)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "a mask gives each style its own region: no style blend "
                            "weights");
        if (opt->mask && (opt->mask->width < 1 || opt->mask->height < 1 || opt->mask->channels < 1))
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "bad mask image");
        for (size_t i = 0; opt->style_masks && i < nstyles; i++)
            if (!opt->style_masks[i] || opt->style_masks[i]->width < 1 || opt->style_masks[i]->height < 1 ||
                opt->style_masks[i]->channels < 1)
                return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "soft mask %zu is missing or empty", i + 1);
    }
    if (opt->memory_mb < 0) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the memory budget must not be negative");
    if (opt->tile != -1 && opt->tile != 0 && (opt->tile < 32 || opt->tile % 16 != 0))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the tile size must be -1 (automatic), 0 (never tile) or a "
                        "multiple of 16 of at least 32, not %d", opt->tile);
    if (opt->tiling != IMPASTO_TILING_EXACT && opt->tiling != IMPASTO_TILING_RANDOM)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "unknown tiling %d", (int)opt->tiling);
    if (opt->init == IMPASTO_INIT_IMAGE && opt->init_image && opt->init_image->channels < 1)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "bad init image");
    return IMPASTO_OK;
}

/* The longest side the styles are resized to at a scale whose content side is `side`. */
static int style_side_at(const impasto_transfer_options *opt, int side) {
    int style_side = (int)lround(side * opt->style_scale);
    return style_side < IMAGE_MIN_SIDE ? IMAGE_MIN_SIDE : style_side;
}

/* Before any work: at every scale, the content (which the picture being optimised has the size
 * of, run to the deepest content or style layer) and each style used (run to the deepest style
 * layer) must be large enough for VGG-19 to reach those layers (vgg19_min_side). */
static impasto_status check_sizes(impasto_ctx *ctx, const gatys_run *r, const impasto_image *content,
                                  const impasto_image *const *styles, size_t nstyles, const double *blend) {
    const impasto_transfer_options *opt = r->opt;
    int deepest = 0, deepest_style = 0;
    for (int i = 0; i < r->content.n; i++)
        if (r->content.index[i] > deepest) deepest = r->content.index[i];
    for (int i = 0; i < r->style.n; i++)
        if (r->style.index[i] > deepest_style) deepest_style = r->style.index[i];
    if (deepest_style > deepest) deepest = deepest_style;
    const int num_scales = opt->num_scales ? opt->num_scales : 1;
    for (int si = 0; si < num_scales; si++) {
        const int side = opt->num_scales ? opt->scales[si] : opt->image_size, sside = style_side_at(opt, side);
        int w, h;
        image_max_side_size(content->width, content->height, side, &w, &h);
        impasto_status s = vgg19_check_size(ctx, "the content", w, h, side, deepest);
        for (size_t k = 0; k < nstyles && s == IMPASTO_OK; k++) {
            if (blend[k] == 0) continue;
            char what[48] = "the style image";
            if (nstyles > 1) snprintf(what, sizeof what, "style image %zu", k + 1);
            image_max_side_size(styles[k]->width, styles[k]->height, sside, &w, &h);
            s = vgg19_check_size(ctx, what, w, h, sside, deepest_style);
        }
        if (s != IMPASTO_OK) return s;
    }
    return IMPASTO_OK;
}

/* Ruder et al.'s temporal loss at this scale: opt->temporal_target resized to the picture and
 * preprocessed into r->temporal_target (3, H, W), the first channel of opt->temporal_mask resized
 * into r->temporal_mask (H, W). The tiled evaluation does not carry the term: refused there. */
static impasto_status temporal_setup(impasto_ctx *ctx, gatys_run *r) {
    const impasto_transfer_options *opt = r->opt;
    if (!opt->temporal_target || opt->temporal_weight == 0) return IMPASTO_OK;
    if (r->tiles)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the temporal loss (video) runs untiled only: this %dx%d picture "
                        "would be tiled (give more --memory or --tile 0)", r->w, r->h);
    const size_t npix = (size_t)r->h * (size_t)r->w;
    impasto_image *t = NULL;
    impasto_status s = impasto_image_resize(ctx, opt->temporal_target, r->w, r->h, &t);
    if (s == IMPASTO_OK && !(r->temporal_target = malloc(3 * npix * sizeof(float))))
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK) vgg19_preprocess(t, r->temporal_target);
    impasto_image_free(t);
    t = NULL;
    if (s != IMPASTO_OK || !opt->temporal_mask) return s;
    s = impasto_image_resize(ctx, opt->temporal_mask, r->w, r->h, &t);
    if (s == IMPASTO_OK && !(r->temporal_mask = malloc(npix * sizeof(float))))
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK)
        for (size_t i = 0; i < npix; i++) r->temporal_mask[i] = t->data[i * (size_t)t->channels];
    impasto_image_free(t);
    return s;
}

/* With a mask: r->region_target[i] (R, C, C) at each style layer, zeroed. */
static impasto_status region_targets_alloc(impasto_ctx *ctx, gatys_run *r) {
    for (int i = 0; i < r->style.n && r->nregions; i++) {
        const size_t c = (size_t)vgg19_layers()[r->style.index[i]].out_c;
        if (!(r->region_target[i] = calloc((size_t)r->nregions * c * c, sizeof(float))))
            return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    return IMPASTO_OK;
}

/* tk[i] = region k's (C, C) slot of r->region_target[i]: style k's own Gram goes there. */
static void region_slots(const gatys_run *r, size_t k, float **tk) {
    for (int i = 0; i < r->style.n; i++) {
        const size_t c = (size_t)vgg19_layers()[r->style.index[i]].out_c;
        tk[i] = r->region_target[i] + k * c * c;
    }
}

/* Sets up targets and buffers for one scale with the content resized to `side`: untiled, or
 * tiled within opt->memory_mb (gatys_tile.c). */
static impasto_status run_setup(impasto_ctx *ctx, gatys_run *r, const vgg19 *net,
                                const impasto_image *content_scaled,
                                const impasto_image *const *styles, size_t nstyles,
                                const double *blend, int side) {
    const impasto_transfer_options *opt = r->opt;
    impasto_status s;
    r->net = net;
    r->ctx = ctx;
    r->h = content_scaled->height;
    r->w = content_scaled->width;
    pool_kind pooling = opt->pooling == IMPASTO_POOL_AVG ? POOL_AVG : POOL_MAX;

    int last = 0;
    unsigned char keep[VGG19_NUM_LAYERS] = {0};
    for (int l = 0; l < VGG19_NUM_LAYERS; l++) r->content_at[l] = r->style_at[l] = -1;
    for (int i = 0; i < r->content.n; i++) keep[r->content.index[i]] = 1, r->content_at[r->content.index[i]] = i;
    for (int i = 0; i < r->style.n; i++) keep[r->style.index[i]] = 1, r->style_at[r->style.index[i]] = i;
    for (int l = 0; l < VGG19_NUM_LAYERS; l++)
        if (keep[l]) last = l;

    const int style_side = style_side_at(opt, side);
    r->max_side = side > style_side ? side : style_side;
    if ((s = gatys_tiles_choose(ctx, r)) != IMPASTO_OK) return s;
    if ((s = temporal_setup(ctx, r)) != IMPASTO_OK) return s;
    if ((s = gatys_mask_build(ctx, r)) != IMPASTO_OK) return s;
    if ((s = region_targets_alloc(ctx, r)) != IMPASTO_OK) return s;
    if (r->tiles) {
        /* Tiled: the targets tile by tile too (the content's maps, each style's Grams). */
        size_t npix = (size_t)r->h * r->w;
        float *x = malloc(3 * npix * sizeof *x);
        if (!x) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (%dx%d image)", r->w, r->h);
        vgg19_preprocess(content_scaled, x);
        s = gatys_tiles_content(ctx, r, x);
        free(x);
        for (size_t k = 0; k < nstyles && s == IMPASTO_OK; k++) {
            if (blend[k] == 0) continue;
            impasto_image *st = NULL;
            s = impasto_image_resize_max_side(ctx, styles[k], style_side, &st);
            if (s == IMPASTO_OK) {
                float *xs = malloc((size_t)3 * st->width * st->height * sizeof *xs);
                if (!xs) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (%dx%d image)", st->width, st->height);
                else {
                    vgg19_preprocess(st, xs);
                    float *tk[IMPASTO_MAX_LAYERS];
                    if (r->nregions) region_slots(r, k, tk);
                    s = gatys_tiles_style(ctx, r, xs, st->height, st->width, r->nregions ? 1.0 : blend[k],
                                          r->nregions ? tk : r->style_target);
                }
                free(xs);
            }
            impasto_image_free(st);
        }
        return s;
    }

    s = extract_targets(ctx, net, content_scaled, pooling, &r->content, 0, 1.0, r->content_target);
    if (s != IMPASTO_OK) return s;
    for (size_t k = 0; k < nstyles; k++) {
        if (blend[k] == 0) continue;
        impasto_image *st = NULL;
        s = impasto_image_resize_max_side(ctx, styles[k], style_side, &st);
        float *tk[IMPASTO_MAX_LAYERS];
        if (r->nregions) region_slots(r, k, tk);
        if (s == IMPASTO_OK)
            s = extract_targets(ctx, net, st, pooling, &r->style, 1, r->nregions ? 1.0 : blend[k],
                                r->nregions ? tk : r->style_target);
        impasto_image_free(st);
        if (s != IMPASTO_OK) return s;
    }

    s = vgg19_plan_create(ctx, net, r->h, r->w, last, pooling, keep, &r->plan);
    if (s != IMPASTO_OK) return s;
    /* Hundreds of iterations on one net: the small maps' Winograd kernels are transformed once.
     * Out of memory they are transformed per call instead, so the result is ignored. */
    (void)vgg19_plan_keep_kernels(r->plan, net);

    size_t gram = 1;
    for (int i = 0; i < r->style.n; i++) {
        int c;
        vgg19_plan_shape(r->plan, r->style.index[i], &c, NULL, NULL);
        if ((size_t)c * c > gram) gram = (size_t)c * c;
    }
    size_t npix = (size_t)r->h * r->w;
    r->gram_ws = malloc(gram * (size_t)(r->nregions ? r->nregions : 1) * sizeof(float));
    r->tv_grad = malloc(3 * npix * sizeof(float));
    if (!r->gram_ws || !r->tv_grad)
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    return IMPASTO_OK;
}

/* impasto_transfer inside its thread scope. */
static impasto_status transfer_run(impasto_ctx *ctx, const impasto_model *vgg, const impasto_image *content,
                                   const impasto_image *const *styles, size_t nstyles,
                                   const impasto_transfer_options *opt, impasto_image **out) {
    if (!vgg || !vgg->vgg)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style transfer needs a model of kind 'vgg19' (impasto convert "
                        "vgg19); %s%s%s", vgg ? "this one is of kind '" : "none was given", vgg ? vgg->kind : "",
                        vgg ? "'" : "");
    if (!content || !styles) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "no content or style image");
    impasto_status s = check_options(ctx, opt, nstyles);
    if (s != IMPASTO_OK) return s;
    for (size_t k = 0; k < nstyles; k++)
        if (!styles[k]) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style image %zu is missing", k + 1);

    gatys_run r;
    memset(&r, 0, sizeof r);
    r.opt = opt;
    if ((s = vgg19_parse_layers(ctx, "content", opt->content_layers, &r.content)) != IMPASTO_OK) return s;
    if ((s = vgg19_parse_layers(ctx, "style", opt->style_layers, &r.style)) != IMPASTO_OK) return s;
    if (r.content.n == 0) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "no content layers given");
    if (r.style.n == 0) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "no style layers given");
    for (int i = 0; opt->style_layer_weights && i < r.style.n; i++)
        if (!(opt->style_layer_weights[i] >= 0) || !isfinite(opt->style_layer_weights[i]))
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style layer weights must be finite and not negative");
    r.content_layer_weight = opt->content_weight;
    for (int i = 0; i < r.style.n; i++)
        r.style_layer_weight[i] = opt->style_weight * (opt->style_layer_weights ? opt->style_layer_weights[i] : 1.0);
    r.nregions = opt->mask || opt->style_masks ? (int)nstyles : 0;

    gatys_run proto = r;  /* the parsed settings each scale starts from */
    double blend[64], bsum = 0;
    double *blendp = nstyles <= 64 ? blend : calloc(nstyles, sizeof *blendp);  /* calloc checks n * size */
    if (!blendp) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < nstyles; k++)
        bsum += blendp[k] = opt->style_blend_weights ? opt->style_blend_weights[k] : 1.0;
    for (size_t k = 0; k < nstyles; k++) blendp[k] /= bsum;
    if ((s = check_sizes(ctx, &r, content, styles, nstyles, blendp)) != IMPASTO_OK) {
        if (blendp != blend) free(blendp);
        return s;
    }

    int num_scales = opt->num_scales ? opt->num_scales : 1;
    uint64_t seed = opt->seed >= 0 ? (uint64_t)opt->seed : (uint64_t)time(NULL);
    const double t0 = clock_seconds();

    float *x = NULL;               /* (3, H, W) being optimised */
    impasto_image *result = NULL;  /* RGB picture of the latest scale */
    impasto_image *content_scaled = NULL;
    int cancelled = 0;
    for (int si = 0; si < num_scales && s == IMPASTO_OK && !cancelled; si++) {
        int side = opt->num_scales ? opt->scales[si] : opt->image_size;
        impasto_image_free(content_scaled);
        content_scaled = NULL;
        if ((s = impasto_image_resize_max_side(ctx, content, side, &content_scaled)) != IMPASTO_OK) break;
        run_free(&r);
        r = proto;
        r.scale_index = si;
        r.num_scales = num_scales;
        r.t0 = t0;
        if ((s = run_setup(ctx, &r, vgg->vgg, content_scaled, styles, nstyles, blendp, side)) != IMPASTO_OK) break;

        size_t npix = (size_t)r.h * r.w, n = 3 * npix;
        free(x);
        x = malloc(n * sizeof *x);
        if (!x) {
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
            break;
        }
        /* Starting point: the previous scale's picture, else noise or the init image. */
        const impasto_image *start = result;
        if (!start && opt->init == IMPASTO_INIT_IMAGE) start = opt->init_image ? opt->init_image : content;
        if (start) {
            impasto_image *st = NULL;
            if ((s = impasto_image_resize(ctx, start, r.w, r.h, &st)) != IMPASTO_OK) break;
            vgg19_preprocess(st, x);
            impasto_image_free(st);
        } else {
            /* neural-style: torch.randn(C,H,W):mul(0.001) in the preprocessed space. */
            fill_gaussian(x, n, 0.001, seed);
        }

        double f = 0;
        int rc;
        if (opt->optimizer == IMPASTO_OPTIM_ADAM) {
            adam_params ap;
            adam_params_init(&ap);
            ap.max_iter = iterations_at(opt, si);
            ap.learning_rate = opt->learning_rate;
            rc = adam_minimize(n, x, &ap, r.tiles ? gatys_tiles_evaluate : gatys_evaluate, gatys_progress, &r, &f);
        } else {
            lbfgs_params lp;
            lbfgs_params_init(&lp);
            lp.max_iter = iterations_at(opt, si);
            lp.history = r.history;
            lp.line_search = opt->lbfgs_line_search;
            /* neural-style passes tolX = tolFun = -1: only the iteration count stops it. */
            lp.tol_fun = -1;
            lp.tol_x = -1;
            rc = lbfgs_minimize(n, x, &lp, r.tiles ? gatys_tiles_evaluate : gatys_evaluate, gatys_progress, &r, &f);
        }
        if (rc == OPTIM_NOMEM) {
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for the optimiser's history at %dx%d", r.w, r.h);
            break;
        }
        if (rc == GATYS_NO_MEMORY) {
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory running the tiles of %dx%d", r.w, r.h);
            break;
        }
        if (rc == GATYS_NOT_FINITE) {
            /* The failing evaluation is the one after the last finished iteration. */
            s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "the loss became NaN or infinite at iteration %d of scale %d "
                         "of %d (%dx%d pixels): content %g, style %g, total variation %g", r.iteration + 1, si + 1,
                         num_scales, r.w, r.h, r.last_content, r.last_style, r.last_tv);
            break;
        }
        if (rc == OPTIM_CANCELLED || rc == GATYS_CANCELLED) cancelled = 1;

        impasto_image_free(result);
        result = NULL;
        if ((s = image_alloc(ctx, r.w, r.h, 3, &result)) != IMPASTO_OK) break;
        vgg19_deprocess(x, r.h, r.w, result->data);
    }
    run_free(&r);
    free(x);
    if (blendp != blend) free(blendp);

    if (s == IMPASTO_OK && opt->original_colors) {
        impasto_image *rgb = NULL;
        s = image_alloc(ctx, result->width, result->height, 3, &rgb);
        if (s == IMPASTO_OK) {
            /* content_scaled has the result's size; make it RGB for the colour transfer. */
            size_t npix = (size_t)rgb->width * rgb->height;
            int cc = content_scaled->channels;
            for (size_t i = 0; i < npix; i++)
                for (int k = 0; k < 3; k++)
                    rgb->data[3 * i + k] = content_scaled->data[i * cc + (cc >= 3 ? k : 0)];
            color_keep_luminance(result->data, rgb->data, npix, result->data);
            impasto_image_free(rgb);
        }
    }
    if (s == IMPASTO_OK && (content->channels == 2 || content->channels == 4)) {
        /* Carry the content's alpha through to the output. */
        impasto_image *rgba = NULL;
        s = image_alloc(ctx, result->width, result->height, 4, &rgba);
        if (s == IMPASTO_OK) {
            size_t npix = (size_t)rgba->width * rgba->height;
            int cc = content_scaled->channels;
            for (size_t i = 0; i < npix; i++) {
                memcpy(rgba->data + 4 * i, result->data + 3 * i, 3 * sizeof(float));
                rgba->data[4 * i + 3] = content_scaled->data[i * cc + cc - 1];
            }
            impasto_image_free(result);
            result = rgba;
        }
    }
    impasto_image_free(content_scaled);
    if (s != IMPASTO_OK) {
        impasto_image_free(result);
        return s;
    }
    *out = result;
    if (cancelled) return ctx_fail(ctx, IMPASTO_ERR_CANCELLED, "cancelled");
    return IMPASTO_OK;
}

impasto_status gatys_evaluate_at(impasto_ctx *ctx, const impasto_model *vgg, const impasto_image *content,
                                 const impasto_image *const *styles, size_t nstyles,
                                 const impasto_transfer_options *opt,
                                 const impasto_image *picture, float **grad, double parts[4], int *num_tiles) {
    *grad = NULL;
    impasto_status s = check_options(ctx, opt, nstyles);
    if (s != IMPASTO_OK) return s;
    gatys_run r;
    memset(&r, 0, sizeof r);
    r.opt = opt;
    if ((s = vgg19_parse_layers(ctx, "content", opt->content_layers, &r.content)) != IMPASTO_OK) return s;
    if ((s = vgg19_parse_layers(ctx, "style", opt->style_layers, &r.style)) != IMPASTO_OK) return s;
    r.content_layer_weight = opt->content_weight;
    for (int i = 0; i < r.style.n; i++) r.style_layer_weight[i] = opt->style_weight;
    r.nregions = opt->mask || opt->style_masks ? (int)nstyles : 0;
    double blend[64];
    if (nstyles > 64) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "at most 64 styles here");
    for (size_t k = 0; k < nstyles; k++) blend[k] = 1.0 / (double)nstyles;
    impasto_image *cs = NULL, *pic = NULL;
    float *x = NULL, *g = NULL;
    s = impasto_image_resize_max_side(ctx, content, opt->image_size, &cs);
    if (s == IMPASTO_OK) s = run_setup(ctx, &r, vgg->vgg, cs, styles, nstyles, blend, opt->image_size);
    if (s == IMPASTO_OK) s = impasto_image_resize(ctx, picture, r.w, r.h, &pic);
    const size_t n = (size_t)3 * r.w * r.h;
    if (s == IMPASTO_OK && (!(x = malloc(n * sizeof *x)) || !(g = malloc(n * sizeof *g))))
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK) {
        vgg19_preprocess(pic, x);
        double f;
        int rc = (r.tiles ? gatys_tiles_evaluate : gatys_evaluate)(&r, x, g, n, &f);
        if (rc) s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "evaluation failed (%d)", rc);
        parts[0] = f;
        parts[1] = r.last_content;
        parts[2] = r.last_style;
        parts[3] = r.last_tv;
        if (num_tiles) *num_tiles = gatys_tiles_count(r.tiles);
    }
    run_free(&r);
    impasto_image_free(cs);
    impasto_image_free(pic);
    free(x);
    if (s != IMPASTO_OK) {
        free(g);
        return s;
    }
    *grad = g;
    return IMPASTO_OK;
}

impasto_status impasto_transfer(impasto_ctx *ctx, const impasto_model *vgg,
                                const impasto_image *content, const impasto_image *const *styles,
                                size_t nstyles, const impasto_transfer_options *opt,
                                impasto_image **out) {
    if (!out) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style transfer: no place given for the result");
    *out = NULL;
    impasto_transfer_options defaults;
    if (!opt) {
        impasto_transfer_options_init(&defaults);
        opt = &defaults;
    }
    thread_scope ts;
    thread_scope_enter(&ts, ctx);
    impasto_status s = transfer_run(ctx, vgg, content, styles, nstyles, opt, out);
    thread_scope_leave(&ts);
    return s;
}
