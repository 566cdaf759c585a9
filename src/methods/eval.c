/* impasto_evaluate: how much of the content a stylised output kept and how close it came to the
 * style, with the measures of include/impasto.h ("evaluating results").
 *
 * The VGG-19 measures are those the transfer optimises (neural-style's content and Gram losses
 * at weight 1), so a number here can be read against the losses the transfer reports, plus a
 * sliced Wasserstein distance (Rabin et al. 2011, Heitz et al. 2021) that compares the whole
 * distributions of feature vectors rather than their second moments only.
 *
 * Order of work, chosen so only one VGG plan's activations are alive at a time: each style
 * first (target Grams, pooled sorted projections, colour histograms), then one plan at the
 * output's size runs the output and then the resized content. */
#include "core/ctx.h"
#include "core/image.h"
#include "core/limits.h"
#include "core/threads.h"
#include "loss/loss.h"
#include "methods/metrics.h"
#include "models/model.h"
#include "models/vgg19.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROJECTIONS 4096

void impasto_eval_options_init(impasto_eval_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->content_layers = "relu4_2";
    opt->style_layers = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1";
    opt->swd_layers = NULL;
    opt->style_size = 0;
    opt->pooling = IMPASTO_POOL_MAX;
    opt->swd_projections = 64;
    opt->seed = 1;
}

/* Buffers that outlive one VGG plan. */
typedef struct eval_state {
    const vgg19 *net;
    pool_kind pooling;
    vgg19_layer_list content, style, swd;
    int nproj;
    float *dirs[IMPASTO_MAX_LAYERS];        /* (P, C) projection directions per SWD layer */
    float *style_gram[IMPASTO_MAX_LAYERS];  /* (C, C) mean Gram of the styles per style layer */
    float *style_proj[IMPASTO_MAX_LAYERS];  /* (P, M) pooled style projections per SWD layer */
    size_t style_count[IMPASTO_MAX_LAYERS]; /* M: feature vectors pooled so far per SWD layer */
    float *gram_ws;                         /* (C, C) of the widest layer */
} eval_state;

static void state_free(eval_state *st) {
    for (int i = 0; i < IMPASTO_MAX_LAYERS; i++) {
        free(st->dirs[i]);
        free(st->style_gram[i]);
        free(st->style_proj[i]);
    }
    free(st->gram_ws);
}

/* A plan for `img`'s size through the deepest of the given layer sets, with `img` already run
 * through it; x (3, H, W) is the caller's scratch. */
static impasto_status forward_image(impasto_ctx *ctx, const eval_state *st, const impasto_image *img,
                                    const vgg19_layer_list *const *sets, int nsets, vgg19_plan **plan) {
    unsigned char keep[VGG19_NUM_LAYERS] = {0};
    int last = 0;
    for (int k = 0; k < nsets; k++)
        for (int i = 0; i < sets[k]->n; i++) {
            keep[sets[k]->index[i]] = 1;
            if (sets[k]->index[i] > last) last = sets[k]->index[i];
        }
    size_t n3;
    if (!size_mul3(3, (size_t)img->width, (size_t)img->height, &n3))
        return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "image too large");
    float *x = malloc(n3 * sizeof *x);
    if (!x) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (%dx%d image)", img->width, img->height);
    impasto_status s = vgg19_plan_create(ctx, st->net, img->height, img->width, last, st->pooling, keep, plan);
    if (s == IMPASTO_OK) {
        vgg19_preprocess(img, x);
        vgg19_forward(st->net, *plan, x);
    }
    free(x);
    return s;
}

/* One style image (already resized): adds weight * its Gram into the targets and appends its
 * projections to the pooled (P, M) sets. */
static impasto_status add_style(impasto_ctx *ctx, eval_state *st, const impasto_image *img,
                                double weight) {
    const vgg19_layer_list *sets[2] = {&st->style, &st->swd};
    vgg19_plan *plan = NULL;
    impasto_status s = forward_image(ctx, st, img, sets, 2, &plan);
    if (s != IMPASTO_OK) return s;
    for (int i = 0; i < st->style.n && s == IMPASTO_OK; i++) {
        int c, h, w;
        const float *f = vgg19_plan_output(plan, st->style.index[i], &c, &h, &w);
        size_t cc = (size_t)c * c;
        if (!st->style_gram[i] && !(st->style_gram[i] = calloc(cc, sizeof(float)))) {
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
            break;
        }
        gram_matrix(c, (size_t)h * w, f, st->gram_ws);
        for (size_t k = 0; k < cc; k++) st->style_gram[i][k] += (float)weight * st->gram_ws[k];
    }
    for (int i = 0; i < st->swd.n && s == IMPASTO_OK; i++) {
        int c, h, w;
        const float *f = vgg19_plan_output(plan, st->swd.index[i], &c, &h, &w);
        size_t m = (size_t)h * w, old = st->style_count[i], total = old + m, bytes;
        if (!size_mul(total, (size_t)st->nproj * sizeof(float), &bytes)) {
            s = ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "style images too large for the SWD");
            break;
        }
        float *pooled = malloc(bytes);
        if (!pooled) {
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for the SWD's projections");
            break;
        }
        /* Rows grow from M_old to M_old + m: the old rows are copied, the new columns projected. */
        for (int p = 0; p < st->nproj && old; p++)
            memcpy(pooled + (size_t)p * total, st->style_proj[i] + (size_t)p * old, old * sizeof(float));
        swd_project(c, m, f, st->nproj, st->dirs[i], pooled + old, total);
        free(st->style_proj[i]);
        st->style_proj[i] = pooled;
        st->style_count[i] = total;
    }
    vgg19_plan_free(plan);
    return s;
}

/* Output and content through one plan: style losses and SWD on the output, then content losses
 * of the content against the output's saved features. */
static impasto_status measure_output(impasto_ctx *ctx, eval_state *st, const impasto_image *output,
                                     const impasto_image *content, impasto_eval_result *r) {
    const vgg19_layer_list *sets[3] = {&st->content, &st->style, &st->swd};
    vgg19_plan *plan = NULL;
    float *saved[IMPASTO_MAX_LAYERS] = {0};  /* (C, H, W) output features per content layer */
    float *proj = NULL;
    impasto_status s = forward_image(ctx, st, output, sets, 3, &plan);
    if (s != IMPASTO_OK) return s;

    r->style_loss = 0;
    for (int i = 0; i < st->style.n; i++) {
        int c, h, w;
        const float *f = vgg19_plan_output(plan, st->style.index[i], &c, &h, &w);
        r->style_layer_loss[i] = style_loss(c, (size_t)h * w, f, st->style_gram[i], 1.0, st->gram_ws, NULL);
        r->style_loss += r->style_layer_loss[i];
    }
    r->swd = 0;
    for (int i = 0; i < st->swd.n && s == IMPASTO_OK; i++) {
        int c, h, w;
        const float *f = vgg19_plan_output(plan, st->swd.index[i], &c, &h, &w);
        size_t n = (size_t)h * w;
        float *p2 = realloc(proj, n * (size_t)st->nproj * sizeof(float));
        if (!p2) {
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for the SWD's projections");
            break;
        }
        proj = p2;
        swd_project(c, n, f, st->nproj, st->dirs[i], proj, n);
        swd_sort(st->nproj, n, proj);
        r->swd_layer[i] = swd_sorted_distance(st->nproj, proj, n, st->style_proj[i], st->style_count[i]);
        r->swd += r->swd_layer[i] / st->swd.n;
    }
    for (int i = 0; i < st->content.n && s == IMPASTO_OK; i++) {
        int c, h, w;
        const float *f = vgg19_plan_output(plan, st->content.index[i], &c, &h, &w);
        size_t len = (size_t)c * h * w;
        if (!(saved[i] = malloc(len * sizeof(float)))) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        else memcpy(saved[i], f, len * sizeof(float));
    }
    if (s == IMPASTO_OK && st->content.n) {
        size_t n3 = (size_t)3 * content->width * content->height;
        float *x = malloc(n3 * sizeof *x);
        if (!x) {
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        } else {
            vgg19_preprocess(content, x);
            vgg19_forward(st->net, plan, x);
            free(x);
            r->content_loss = 0;
            for (int i = 0; i < st->content.n; i++) {
                int c, h, w;
                const float *f = vgg19_plan_output(plan, st->content.index[i], &c, &h, &w);
                r->content_layer_loss[i] = content_loss((size_t)c * h * w, saved[i], f, 1.0, NULL);
                r->content_loss += r->content_layer_loss[i];
            }
        }
    }
    for (int i = 0; i < IMPASTO_MAX_LAYERS; i++) free(saved[i]);
    free(proj);
    vgg19_plan_free(plan);
    return s;
}

static impasto_status check_args(impasto_ctx *ctx, const impasto_model *vgg, const impasto_image *output,
                                 const impasto_image *content, const impasto_image *const *styles,
                                 size_t nstyles, const impasto_eval_options *opt) {
    if (!vgg || !vgg->vgg)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "evaluation needs a model of kind 'vgg19' (impasto convert vgg19); "
                        "%s%s%s", vgg ? "this one is of kind '" : "none was given", vgg ? vgg->kind : "", vgg ? "'" : "");
    if (!output || !content) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "no output or content image");
    if (nstyles < 1 || !styles) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "at least one style image is needed");
    for (size_t k = 0; k < nstyles; k++)
        if (!styles[k]) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style image %zu is missing", k + 1);
    if (output->width < IMAGE_MIN_SIDE || output->height < IMAGE_MIN_SIDE || output->width > IMPASTO_MAX_SIDE ||
        output->height > IMPASTO_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "output size %dx%d is outside %d..%d", output->width,
                        output->height, IMAGE_MIN_SIDE, IMPASTO_MAX_SIDE);
    if (opt->style_size != 0 && (opt->style_size < IMAGE_MIN_SIDE || opt->style_size > IMPASTO_MAX_SIDE))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style size %d is outside %d..%d", opt->style_size, IMAGE_MIN_SIDE,
                        IMPASTO_MAX_SIDE);
    if (opt->swd_projections < 1 || opt->swd_projections > MAX_PROJECTIONS)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "SWD projections must be 1..%d", MAX_PROJECTIONS);
    return IMPASTO_OK;
}

/* impasto_evaluate inside its thread scope. */
static impasto_status evaluate(impasto_ctx *ctx, const impasto_model *vgg, const impasto_image *output,
                               const impasto_image *content, const impasto_image *const *styles, size_t nstyles,
                               const impasto_eval_options *opt, impasto_eval_result *result) {
    impasto_status s = check_args(ctx, vgg, output, content, styles, nstyles, opt);
    if (s != IMPASTO_OK) return s;

    eval_state st;
    memset(&st, 0, sizeof st);
    st.net = vgg->vgg;
    st.pooling = opt->pooling == IMPASTO_POOL_AVG ? POOL_AVG : POOL_MAX;
    st.nproj = opt->swd_projections;
    if ((s = vgg19_parse_layers(ctx, "content", opt->content_layers, &st.content)) != IMPASTO_OK ||
        (s = vgg19_parse_layers(ctx, "style", opt->style_layers, &st.style)) != IMPASTO_OK ||
        (s = vgg19_parse_layers(ctx, "SWD", opt->swd_layers ? opt->swd_layers : opt->style_layers, &st.swd)) != IMPASTO_OK)
        return s;
    const vgg19_layer *layers = vgg19_layers();
    result->num_content_layers = st.content.n;
    result->num_style_layers = st.style.n;
    result->num_swd_layers = st.swd.n;
    for (int i = 0; i < st.content.n; i++) result->content_layer_name[i] = layers[st.content.index[i]].name;
    for (int i = 0; i < st.style.n; i++) result->style_layer_name[i] = layers[st.style.index[i]].name;
    for (int i = 0; i < st.swd.n; i++) result->swd_layer_name[i] = layers[st.swd.index[i]].name;

    /* Directions per SWD layer, each from its own seed so a layer's number does not depend on
     * which other layers were asked for. The widest layer sizes the Gram scratch. */
    size_t widest = 1;
    for (int i = 0; i < st.style.n; i++) {
        size_t c = (size_t)layers[st.style.index[i]].out_c;
        if (c * c > widest) widest = c * c;
    }
    for (int i = 0; i < st.swd.n; i++) {
        int c = layers[st.swd.index[i]].out_c;
        if (!(st.dirs[i] = malloc((size_t)st.nproj * c * sizeof(float)))) {
            state_free(&st);
            return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        }
        swd_directions(c, st.nproj, opt->seed * 1000003u + (uint64_t)st.swd.index[i], st.dirs[i]);
    }
    if (!(st.gram_ws = malloc(widest * sizeof(float)))) {
        state_free(&st);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }

    /* Styles: Grams averaged with equal weights (the transfer's default blend), projections and
     * colour histograms pooled. */
    int side = opt->style_size ? opt->style_size : (output->width > output->height ? output->width : output->height);
    double hist_out[3][METRICS_HIST_BINS], hist_style[3][METRICS_HIST_BINS] = {{0}};
    for (size_t k = 0; k < nstyles && s == IMPASTO_OK; k++) {
        impasto_image *resized = NULL;
        s = impasto_image_resize_max_side(ctx, styles[k], side, &resized);
        if (s == IMPASTO_OK) s = add_style(ctx, &st, resized, 1.0 / (double)nstyles);
        if (s == IMPASTO_OK) {
            double h[3][METRICS_HIST_BINS];
            metrics_color_hist(resized, h);
            for (int c = 0; c < 3; c++)
                for (int j = 0; j < METRICS_HIST_BINS; j++) hist_style[c][j] += h[c][j] / (double)nstyles;
        }
        impasto_image_free(resized);
    }
    for (int i = 0; i < st.swd.n && s == IMPASTO_OK; i++) swd_sort(st.nproj, st.style_count[i], st.style_proj[i]);

    impasto_image *content_sized = NULL;
    if (s == IMPASTO_OK) s = impasto_image_resize(ctx, content, output->width, output->height, &content_sized);
    if (s == IMPASTO_OK) s = measure_output(ctx, &st, output, content_sized, result);
    if (s == IMPASTO_OK) s = impasto_ssim(ctx, output, content_sized, &result->ssim);
    if (s == IMPASTO_OK) s = impasto_psnr(ctx, output, content_sized, &result->psnr);
    if (s == IMPASTO_OK) s = impasto_edge_agreement(ctx, output, content_sized, &result->edge);
    if (s == IMPASTO_OK) {
        metrics_color_hist(output, hist_out);
        result->color = metrics_hist_distance(hist_out, hist_style);
    }
    impasto_image_free(content_sized);
    state_free(&st);
    return s;
}

impasto_status impasto_evaluate(impasto_ctx *ctx, const impasto_model *vgg,
                                const impasto_image *output, const impasto_image *content,
                                const impasto_image *const *styles, size_t nstyles,
                                const impasto_eval_options *opt, impasto_eval_result *result) {
    if (!result) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "evaluation: no place given for the result");
    impasto_eval_options defaults;
    if (!opt) {
        impasto_eval_options_init(&defaults);
        opt = &defaults;
    }
    memset(result, 0, sizeof *result);
    thread_scope ts;
    thread_scope_enter(&ts, ctx);
    impasto_status s = evaluate(ctx, vgg, output, content, styles, nstyles, opt, result);
    thread_scope_leave(&ts);
    return s;
}
