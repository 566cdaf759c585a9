/* Training a fast style network (Johnson, Alahi & Fei-Fei 2016, "Perceptual Losses for Real-Time
 * Style Transfer and Super-Resolution"), as the PyTorch examples' fast_neural_style `train` does:
 * TransformerNet y = net(x) on batches of photos x (RGB 0..255), VGG features of y compared with
 * those of x (content, relu2_2) and with the style image's Gram matrices (relu1_2, relu2_2,
 * relu3_3, relu4_3), Adam on the sum.
 *
 * Differences from the example, each deliberate:
 *  - VGG-19 (impasto's converted Caffe weights) instead of torchvision's VGG-16, so the input is
 *    Caffe's: RGB 0..255 minus the ImageNet mean, no division by the standard deviation. Those
 *    weights were trained on that input; torchvision's normalisation would feed them values ~58x
 *    too small. Caffe's input is 255 * 0.226 = 57.6 times torchvision's (0.226 the mean of its
 *    standard deviations), and the features of a ReLU network grow with its input, so the losses
 *    take the features divided by that factor (FEATURE_SCALE): content weight / 57.6^2, style
 *    weight / 57.6^4. The example's weights (1e5, 1e10) then keep their balance; in plain Caffe
 *    units they would be 30 and 900, about neural-style's 5 : 100 ratio (docs/training.md).
 *  - Random image_size crops of each photo resized so its shorter side is image_size (the example
 *    centre-crops), drawn from a counter-based generator: the order of an epoch depends only on
 *    (seed, epoch), a crop only on (seed, step, slot), so a checkpoint's generator state is just
 *    the seed and the step.
 *  - The photos are decoded once at the start and kept as 8-bit RGB, so the training loop
 *    allocates nothing.
 * TransformerNet is the network declared on models/net.h (tnet_declare): its passes are a NET_KEEP
 * plan's, its weights the declared network's parameter slab, which Adam updates as one array.
 * A batch is a loop over its images: each image's forward, losses and backward run in turn and
 * the parameter gradients accumulate (nn.h's convention), so memory is one image's activations —
 * per WORKER: with T threads and a batch of B, min(T, B) workers take the batch's images in turn
 * (image b to worker b mod W), each with T / W threads and its own plans and gradient array, summed
 * in worker order after the batch. Whole images in parallel keep both cores busy where the layers'
 * own threading does not (small maps, norms, barriers between GEMM bands: two threads on one 256 px
 * image gained little over one on the 2-core development machine).
 *
 * Loss per step, B the batch's size (the example's mse_loss means over the batch too):
 *   content_weight/B * sum_b mean((F(y_b) - F(x_b))^2)
 *   + style_weight/B * sum_b sum_l mean((G_l(y_b) - G_l(s))^2),  G = F F^T / (C*H*W). */
#include "core/clock.h"
#include "core/ctx.h"
#include "core/image.h"
#include "core/limits.h"
#include "core/rng.h"
#include "core/threads.h"
#include "io/resample.h"
#include "loss/loss.h"
#include "methods/train_adv.h"
#include "methods/train_ckpt.h"
#include "models/model.h"
#include "models/net.h"
#include "models/transformer_net.h"
#include "models/vgg19.h"
#include "optim/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Caffe input units per torchvision input unit (see the top). */
#define FEATURE_SCALE (255.0 * 0.226)

void impasto_train_options_init(impasto_train_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->content_weight = 1e5;
    opt->style_weight = 1e10;
    opt->content_layers = "relu2_2";
    opt->style_layers = "relu1_2,relu2_2,relu3_3,relu4_3";
    opt->learning_rate = 1e-3;
    opt->batch_size = 4;
    opt->image_size = 256;
    opt->epochs = 2;
    opt->seed = 42;
}

/* ---- counter-based random numbers (core/rng.h) ------------------------------------------ */

/* The streams of rng_stream: the initial weights, each epoch's photo order, each photo's crop. */
enum { RNG_INIT = 1, RNG_ORDER = 2, RNG_CROP = 3, RNG_ADV_INIT = 4, RNG_ADV_REAL = 5 };

/* net_init_default's generator: uniform in [0, 1) from a splitmix64 state. */
static double uniform_from(void *state) { return rng_uniform(state); }

/* ---- the trainer ------------------------------------------------------------------------ */

typedef struct photo {
    int w, h;              /* shorter side = image_size */
    unsigned char *rgb;    /* (H, W, 3) */
} photo;

#define TRAIN_MAX_WORKERS 16

/* One image's buffers: plans, VGG input, gradients at the loss layers, and (but for worker 0,
 * which uses the network's own) a gradient array. */
typedef struct worker {
    net_plan *tp;                        /* TransformerNet, (3, S, S), NET_KEEP */
    vgg19_plan *vp;                      /* (3, S, S) up to the deepest loss layer */
    vgg19_plan *vpc;                     /* (3, S, S) up to the deepest content layer */
    float *vin;                          /* (3, S, S) VGG input */
    float *dy;                           /* (3, S, S) the loss's gradient at the network's output */
    float *ctarget[IMPASTO_MAX_LAYERS];  /* (C, H, W) per content layer: the photo's features */
    float *lgrad[VGG19_NUM_LAYERS];      /* (C, H, W) the loss's gradient at each loss layer */
    float *tmp;                          /* (largest loss layer C*H*W) */
    float *gram_ws;                      /* (C, C) of the widest style layer */
    float *grads;                        /* (nparams); worker 0: the network's (st.net->grads) */
    double lc, ls, la;                   /* this batch's losses: content, style, adversarial */
    impasto_status status;               /* this batch's passes */
} worker;

typedef struct trainer {
    impasto_ctx *ctx;
    const vgg19 *vgg;
    const impasto_train_options *opt;
    int size, threads;
    vgg19_layer_list content, style;
    train_state st;                      /* the network (weights), Adam, step, seed */
    transformer_net view;                /* the weights as tnet_forward takes them (preview) */
    float *starget[IMPASTO_MAX_LAYERS];  /* (C, C) per style layer: the style's Gram matrix */
    worker w[TRAIN_MAX_WORKERS];
    int nworkers;
    photo *photos;
    size_t nphotos;
    size_t *order;                       /* (nphotos) this epoch's permutation */
    long order_epoch;
    tnet_plan *pplan;                    /* preview */
    impasto_image *preview;              /* (H, W, 3) */
    train_adv *adv;                      /* the adversarial term, or NULL */
    const impasto_process_group *group;  /* several processes, or NULL */
    int rank, nranks;                    /* this process's slots of a batch: b % nranks == rank */
    long images;                         /* photos this process trained on in this run */
    double sum_seconds;                  /* in the group's sums */
} trainer;

/* Training needs both losses: an empty list is an error here. */
static impasto_status parse_layers(impasto_ctx *ctx, const char *what, const char *spec, vgg19_layer_list *out) {
    impasto_status s = vgg19_parse_layers(ctx, what, spec, out);
    if (s == IMPASTO_OK && out->n == 0) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "no %s layers given", what);
    return s;
}

static void trainer_free(trainer *t) {
    for (int k = 0; k < t->nworkers; k++) {
        worker *w = &t->w[k];
        net_plan_free(w->tp);
        vgg19_plan_free(w->vp);
        vgg19_plan_free(w->vpc);
        free(w->vin);
        free(w->dy);
        for (int i = 0; i < IMPASTO_MAX_LAYERS; i++) free(w->ctarget[i]);
        for (int i = 0; i < VGG19_NUM_LAYERS; i++) free(w->lgrad[i]);
        free(w->tmp);
        free(w->gram_ws);
        if (k > 0) free(w->grads);
    }
    for (int i = 0; i < IMPASTO_MAX_LAYERS; i++) free(t->starget[i]);
    for (size_t i = 0; i < t->nphotos; i++) free(t->photos[i].rgb);
    free(t->photos);
    free(t->order);
    tnet_plan_free(t->pplan);
    impasto_image_free(t->preview);
    train_adv_free(t->adv);
    train_state_free(&t->st);
}

static float *falloc(size_t n) { return malloc((n ? n : 1) * sizeof(float)); }

/* An image resized so its shorter side is `side`, as 8-bit RGB (gray replicated, alpha dropped). */
static impasto_status to_rgb8(impasto_ctx *ctx, const impasto_image *img, int side, photo *out) {
    int w = img->width, h = img->height;
    double k = (double)side / (double)(w < h ? w : h);
    int nw = w < h ? side : (int)(w * k + 0.5), nh = w < h ? (int)(h * k + 0.5) : side;
    if (nw < side) nw = side;
    if (nh < side) nh = side;
    impasto_image *r = NULL;
    impasto_status s = impasto_image_resize(ctx, img, nw, nh, &r);
    if (s != IMPASTO_OK) return s;
    out->w = nw;
    out->h = nh;
    out->rgb = malloc((size_t)nw * (size_t)nh * 3);
    if (!out->rgb) {
        impasto_image_free(r);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory keeping the photos");
    }
    const int ch = r->channels;
    for (size_t i = 0; i < (size_t)nw * (size_t)nh; i++)
        for (int c = 0; c < 3; c++) {
            float v = r->data[i * (size_t)ch + (size_t)(ch >= 3 ? c : 0)];
            v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
            out->rgb[i * 3 + (size_t)c] = (unsigned char)(v * 255.0f + 0.5f);
        }
    impasto_image_free(r);
    return IMPASTO_OK;
}

static impasto_status load_photos(trainer *t, const char *const *paths, size_t n) {
    t->photos = calloc(n, sizeof *t->photos);
    t->order = malloc(n * sizeof *t->order);
    if (!t->photos || !t->order) return ctx_fail(t->ctx, IMPASTO_ERR_NOMEM, "out of memory");
    t->nphotos = n;
    for (size_t i = 0; i < n; i++) {
        impasto_image *img = NULL;
        impasto_status s = impasto_image_load(t->ctx, paths[i], &img);
        if (s == IMPASTO_OK) s = to_rgb8(t->ctx, img, t->size, &t->photos[i]);
        impasto_image_free(img);
        if (s != IMPASTO_OK) return s;
    }
    t->order_epoch = -1;
    return IMPASTO_OK;
}

/* The style's Gram matrix at each style layer, from the style image (resized when style_size). */
static impasto_status style_targets(trainer *t, const impasto_image *style) {
    impasto_ctx *ctx = t->ctx;
    impasto_image *resized = NULL;
    const impasto_image *img = style;
    impasto_status s;
    if (t->opt->style_size > 0) {
        if ((s = impasto_image_resize_max_side(ctx, style, t->opt->style_size, &resized)) != IMPASTO_OK) return s;
        img = resized;
    }
    unsigned char keep[VGG19_NUM_LAYERS] = {0};
    int last = 0;
    for (int i = 0; i < t->style.n; i++) {
        keep[t->style.index[i]] = 1;
        if (t->style.index[i] > last) last = t->style.index[i];
    }
    vgg19_plan *p = NULL;
    float *x = falloc((size_t)3 * (size_t)img->width * (size_t)img->height);  /* (3, H, W) */
    if (!x) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    else s = vgg19_plan_create(ctx, t->vgg, img->height, img->width, last, POOL_MAX, keep, &p);
    if (s == IMPASTO_OK) {
        vgg19_preprocess(img, x);
        vgg19_forward(t->vgg, p, x);
        for (int i = 0; i < t->style.n && s == IMPASTO_OK; i++) {
            int c, h, w;
            const float *f = vgg19_plan_output(p, t->style.index[i], &c, &h, &w);  /* (C, H, W) */
            if (!(t->starget[i] = falloc((size_t)c * (size_t)c))) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
            else gram_matrix(c, (size_t)h * (size_t)w, f, t->starget[i]);
        }
    }
    vgg19_plan_free(p);
    free(x);
    impasto_image_free(resized);
    return s;
}

/* One worker's plans and buffers for S x S crops, its layers using `threads` threads. */
static impasto_status make_worker(trainer *t, worker *w, int threads, const unsigned char *keep, int last,
                                  const unsigned char *keepc, int lastc) {
    impasto_ctx *ctx = t->ctx;
    const int S = t->size;
    /* VGG's plans take their convolutions' thread count from the context (without one, all cores:
     * more workspace than needed, and a worker's nested parallel regions run on one thread anyway). */
    const int keep_threads = ctx ? ctx->nthreads : 0;
    if (ctx) ctx->nthreads = threads;
    impasto_status s = net_plan_create(ctx, t->st.net, 3, S, S, NET_KEEP, threads, &w->tp);
    if (s == IMPASTO_OK) s = vgg19_plan_create(ctx, t->vgg, S, S, last, POOL_MAX, keep, &w->vp);
    if (s == IMPASTO_OK) s = vgg19_plan_create(ctx, t->vgg, S, S, lastc, POOL_MAX, keepc, &w->vpc);
    if (ctx) ctx->nthreads = keep_threads;
    if (s != IMPASTO_OK) return s;
    const size_t n3 = (size_t)3 * (size_t)S * (size_t)S;
    int ok = (w->vin = falloc(n3)) && (w->dy = falloc(n3));
    size_t largest = 0, widest = 0;
    for (int l = 0; l < VGG19_NUM_LAYERS && ok; l++) {
        if (!keep[l]) continue;
        int c, h, wd;
        vgg19_plan_output(w->vp, l, &c, &h, &wd);
        size_t n = (size_t)c * (size_t)h * (size_t)wd;
        if (n > largest) largest = n;
        ok = (w->lgrad[l] = falloc(n)) != NULL;
    }
    for (int i = 0; i < t->content.n && ok; i++) {
        int c, h, wd;
        vgg19_plan_output(w->vp, t->content.index[i], &c, &h, &wd);
        ok = (w->ctarget[i] = falloc((size_t)c * (size_t)h * (size_t)wd)) != NULL;
    }
    for (int i = 0; i < t->style.n; i++) {
        int c;
        vgg19_plan_output(w->vp, t->style.index[i], &c, NULL, NULL);
        if ((size_t)c * (size_t)c > widest) widest = (size_t)c * (size_t)c;
    }
    ok = ok && (w->tmp = falloc(largest)) && (w->gram_ws = falloc(widest));
    if (ok && w != &t->w[0]) ok = (w->grads = falloc(t->st.net->nparams)) != NULL;
    if (!ok) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (training buffers)");
    if (w == &t->w[0]) w->grads = t->st.net->grads;
    return IMPASTO_OK;
}

/* Plans and buffers for S x S crops: min(threads, this process's slots of a batch) workers. */
static impasto_status make_plans(trainer *t) {
    unsigned char keep[VGG19_NUM_LAYERS] = {0}, keepc[VGG19_NUM_LAYERS] = {0};
    int last = 0, lastc = 0;
    for (int i = 0; i < t->content.n; i++) {
        keep[t->content.index[i]] = keepc[t->content.index[i]] = 1;
        if (t->content.index[i] > lastc) lastc = t->content.index[i];
    }
    for (int i = 0; i < t->style.n; i++) keep[t->style.index[i]] = 1;
    for (int l = 0; l < VGG19_NUM_LAYERS; l++)
        if (keep[l]) last = l;
    const int slots = (t->opt->batch_size + t->nranks - 1) / t->nranks;
    int nw = t->threads < slots ? t->threads : slots;
    if (nw > TRAIN_MAX_WORKERS) nw = TRAIN_MAX_WORKERS;
    if (nw < 1) nw = 1;
    impasto_status s = IMPASTO_OK;
    for (int k = 0; k < nw && s == IMPASTO_OK; k++) {
        t->nworkers = k + 1;
        s = make_worker(t, &t->w[k], t->threads / nw, keep, last, keepc, lastc);
    }
    if (s == IMPASTO_OK) tnet_view(t->st.net, t->st.net->params, &t->view);
    return s;
}

/* The preview photo resized like the training photos (shorter side S), whole, and its plan. */
static impasto_status make_preview(trainer *t, const impasto_image *img) {
    photo ph = {0};
    impasto_status s = to_rgb8(t->ctx, img, t->size, &ph);
    if (s == IMPASTO_OK) s = tnet_plan_create(t->ctx, ph.h, ph.w, t->threads, &t->pplan);
    if (s == IMPASTO_OK) s = image_alloc(t->ctx, ph.w, ph.h, 3, &t->preview);
    if (s == IMPASTO_OK) {
        float *x = tnet_plan_input(t->pplan);  /* (3, H, W) */
        const size_t n = (size_t)ph.w * (size_t)ph.h;
        for (int c = 0; c < 3; c++)
            for (size_t i = 0; i < n; i++) x[(size_t)c * n + i] = ph.rgb[i * 3 + (size_t)c];
    }
    free(ph.rgb);
    return s;
}

/* Runs the preview photo through the network into t->preview. The plan's input is kept: the
 * forward pass reads it without changing it. */
static void render_preview(trainer *t) {
    const int w = t->preview->width, h = t->preview->height;
    int oh, ow;
    tnet_out_size(h, w, &oh, &ow);
    const float *y = tnet_forward(&t->view, t->pplan);  /* (3, OH, OW) */
    const size_t on = (size_t)oh * (size_t)ow;
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++)
            for (int k = 0; k < 3; k++) {
                float v = y[(size_t)k * on + (size_t)r * (size_t)ow + (size_t)c] / 255.0f;
                t->preview->data[((size_t)r * (size_t)w + (size_t)c) * 3 + (size_t)k] = v < 0 ? 0 : v > 1 ? 1 : v;
            }
}

static long steps_per_epoch(const trainer *t) {
    return (long)((t->nphotos + (size_t)t->opt->batch_size - 1) / (size_t)t->opt->batch_size);
}

/* This epoch's order of the photos (Fisher-Yates from the epoch's generator). */
static void epoch_order(trainer *t, long epoch) {
    if (t->order_epoch == epoch) return;
    uint64_t g = rng_stream(t->st.seed, RNG_ORDER, (uint64_t)epoch);
    for (size_t i = 0; i < t->nphotos; i++) t->order[i] = i;
    for (size_t i = t->nphotos; i > 1; i--) {
        size_t j = rng_below(&g, i), tmp = t->order[i - 1];
        t->order[i - 1] = t->order[j];
        t->order[j] = tmp;
    }
    t->order_epoch = epoch;
}

/* A random S x S crop of photo p into x (3, S, S) 0..255. */
static void crop(const trainer *t, const photo *p, uint64_t *g, float *x) {
    const int S = t->size;
    const size_t ox = rng_below(g, (size_t)(p->w - S + 1)), oy = rng_below(g, (size_t)(p->h - S + 1));
    const size_t n = (size_t)S * (size_t)S;
    for (int r = 0; r < S; r++) {
        const unsigned char *row = p->rgb + ((oy + (size_t)r) * (size_t)p->w + ox) * 3;
        for (int c = 0; c < S; c++)
            for (int k = 0; k < 3; k++) x[(size_t)k * n + (size_t)r * (size_t)S + (size_t)c] = row[c * 3 + k];
    }
}

/* One image of a batch, the crop already in the worker's plan: forward, losses (weights already
 * divided by the batch size), backward with the parameter gradients accumulated into the worker's.
 * wk is the worker's index, b the image's slot in the batch (the adversarial term keeps its output
 * there for the discriminator's step). Adds its losses to w->lc, w->ls and w->la. Runs beside the
 * other workers: no context (a failure is the status alone, which train_step words). */
static impasto_status train_image(const trainer *t, worker *w, int wk, int b, double cw, double sw, double aw) {
    const int S = t->size;
    const size_t hw = (size_t)S * (size_t)S;
    float *x = net_plan_input(w->tp);  /* (3, S, S) the crop, 0..255 */
    vgg19_preprocess_rgb255(x, hw, w->vin);
    vgg19_forward(t->vgg, w->vpc, w->vin);
    for (int i = 0; i < t->content.n; i++) {
        int c, h, wd;
        const float *f = vgg19_plan_output(w->vpc, t->content.index[i], &c, &h, &wd);  /* (C, H, W) */
        memcpy(w->ctarget[i], f, (size_t)c * (size_t)h * (size_t)wd * sizeof(float));
    }
    const float *y;  /* (3, S, S): S is a multiple of 4 */
    impasto_status s = net_forward(NULL, t->st.net, w->tp, NULL, &y);
    if (s != IMPASTO_OK) return s;
    vgg19_preprocess_rgb255(y, hw, w->vin);
    vgg19_forward(t->vgg, w->vp, w->vin);
    const float *grad_at[VGG19_NUM_LAYERS] = {0};  /* per layer (C, H, W) or NULL */
    for (int i = 0; i < t->content.n; i++) {
        int l = t->content.index[i], c, h, wd;
        const float *f = vgg19_plan_output(w->vp, l, &c, &h, &wd);  /* (C, H, W) */
        w->lc += content_loss((size_t)c * (size_t)h * (size_t)wd, f, w->ctarget[i], cw, w->lgrad[l]);
        grad_at[l] = w->lgrad[l];
    }
    for (int i = 0; i < t->style.n; i++) {
        int l = t->style.index[i], c, h, wd;
        const float *f = vgg19_plan_output(w->vp, l, &c, &h, &wd);  /* (C, H, W) */
        const size_t n = (size_t)c * (size_t)h * (size_t)wd;
        float *dst = grad_at[l] ? w->tmp : w->lgrad[l];  /* (C, H, W) */
        w->ls += style_loss(c, (size_t)h * (size_t)wd, f, t->starget[i], sw, w->gram_ws, dst);
        if (grad_at[l]) {
            float *g = w->lgrad[l];
            for (size_t k = 0; k < n; k++) g[k] += dst[k];
        }
        grad_at[l] = w->lgrad[l];
    }
    /* The preprocessing is a shift: the gradient at VGG's input is the one at the output y. */
    vgg19_backward(t->vgg, w->vp, grad_at, w->dy);
    if (t->adv) {
        double la;
        if ((s = train_adv_generator(t->adv, wk, b, y, aw, w->dy, &la)) != IMPASTO_OK) return s;
        w->la += la;
    }
    return net_backward(NULL, t->st.net, w->tp, w->dy, w->grads, NULL);
}

/* Sums n values of buf over the process group (nothing alone), timed. */
static impasto_status group_sum(trainer *t, void *buf, size_t n, int is_double) {
    if (t->nranks < 2) return IMPASTO_OK;
    const double t0 = clock_seconds();
    int r = t->group->sum(t->group->user, buf, n, is_double);
    t->sum_seconds += clock_seconds() - t0;
    return r ? ctx_fail(t->ctx, IMPASTO_ERR_IO, "training: the sum over the %d processes failed (another process "
                        "stopped?)", t->nranks)
             : IMPASTO_OK;
}

/* Step t->st.step (0-based) over its batch; then, when both losses are finite, the Adam update
 * (*finite = 1). A NaN or infinite loss leaves the parameters and the step count as they were
 * (*finite = 0): its gradient would spread NaN through every weight and Adam's moments. Fails
 * only when a pass does (out of memory). */
static impasto_status train_step(trainer *t, double *lc, double *ls, double *la, double *ld, int *finite) {
    const int B = t->opt->batch_size, nw = t->nworkers;
    const long spe = steps_per_epoch(t), step = t->st.step;
    epoch_order(t, step / spe);
    const size_t first = (size_t)(step % spe) * (size_t)B;
    const size_t nb = t->nphotos - first < (size_t)B ? t->nphotos - first : (size_t)B;
    const double s2 = FEATURE_SCALE * FEATURE_SCALE;
    const double cw = t->opt->content_weight / (s2 * (double)nb), sw = t->opt->style_weight / (s2 * s2 * (double)nb);
    const double aw = t->opt->adversarial_weight / (double)nb;
    /* This process's slots b = rank + j * nranks, the workers taking j in turn. */
    const size_t r0 = (size_t)t->rank, rs = (size_t)t->nranks;
#pragma omp parallel for schedule(static, 1) num_threads(nw) if (nw > 1)
    for (int k = 0; k < nw; k++) {
        worker *w = &t->w[k];
        memset(w->grads, 0, t->st.net->nparams * sizeof(float));
        w->lc = w->ls = w->la = 0.0;
        w->status = IMPASTO_OK;
        for (size_t b = r0 + (size_t)k * rs; b < nb && w->status == IMPASTO_OK; b += (size_t)nw * rs) {
            uint64_t g = rng_stream(t->st.seed, RNG_CROP, (uint64_t)step * (uint64_t)B + b);
            crop(t, &t->photos[t->order[first + b]], &g, net_plan_input(w->tp));
            w->status = train_image(t, w, k, (int)b, cw, sw, aw);
        }
    }
    *finite = 0;
    for (int k = 0; k < nw; k++)
        if (t->w[k].status != IMPASTO_OK)
            return ctx_fail(t->ctx, t->w[k].status, "training step %ld: out of memory in TransformerNet's passes",
                            step + 1);
    /* The workers' gradients and losses, summed in worker order (repeatable for a thread count). */
    *lc = *ls = *la = *ld = 0.0;
    for (int k = 0; k < nw; k++) {
        *lc += t->w[k].lc;
        *ls += t->w[k].ls;
        *la += t->w[k].la;
        if (k == 0) continue;
        const float *g = t->w[k].grads;
        float *sum = t->st.net->grads;
        const size_t np = t->st.net->nparams;
#pragma omp simd
        for (size_t i = 0; i < np; i++) sum[i] += g[i];
    }
    t->images += (long)(nb > r0 ? (nb - r0 + rs - 1) / rs : 0);
    /* Over the process group: the losses, then the gradient (every process then steps alike). */
    double l[3] = {*lc, *ls, *la};
    impasto_status s = group_sum(t, l, 3, 1);
    if (s == IMPASTO_OK) s = group_sum(t, t->st.net->grads, t->st.net->nparams, 0);
    if (s != IMPASTO_OK) return s;
    *lc = l[0], *ls = l[1], *la = l[2];
    if (!isfinite(*lc) || !isfinite(*ls) || !isfinite(*la)) return IMPASTO_OK;
    adam_step(t->st.adam, t->st.net->params, t->st.net->grads);
    /* then the discriminator, on this step's outputs (made before the update), as CycleGAN orders it */
    if (t->adv) {
        net *d = train_adv_net(t->adv);
        s = train_adv_discriminator_grads(t->ctx, t->adv, (int)nb, t->rank, t->nranks, t->st.seed, RNG_ADV_REAL,
                                          (uint64_t)step, ld);
        if (s == IMPASTO_OK) s = group_sum(t, ld, 1, 1);
        if (s == IMPASTO_OK) s = group_sum(t, d->grads, d->nparams, 0);
        if (s == IMPASTO_OK) s = train_adv_discriminator_update(t->ctx, t->adv);
        if (s != IMPASTO_OK) return s;
    }
    t->st.step++;
    *finite = 1;
    return IMPASTO_OK;
}

static impasto_status check_options(impasto_ctx *ctx, const impasto_train_options *o) {
    if (!(o->content_weight >= 0 && o->style_weight >= 0 && o->content_weight + o->style_weight > 0))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "training: the weights must be >= 0, one of them > 0");
    if (!(o->learning_rate > 0 && o->learning_rate < 1e3))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "training: learning rate %g is not in (0, 1000)", o->learning_rate);
    if (o->batch_size < 1 || o->batch_size > 1024)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "training: batch size %d is not in 1..1024", o->batch_size);
    if (o->image_size < IMAGE_MIN_SIDE || o->image_size > 4096 || o->image_size % 4)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "training: image size %d must be a multiple of 4 in %d..4096",
                        o->image_size, IMAGE_MIN_SIDE);
    if (o->style_size < 0 || o->style_size > 8192)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "training: style size %d is not in 0..8192", o->style_size);
    if (o->steps < 0 || o->epochs < 0 || (o->steps == 0 && o->epochs == 0))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "training: give a number of steps or epochs above 0");
    if (!(o->adversarial_weight >= 0 && o->adversarial_weight < 1e20))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "training: the adversarial weight must be >= 0");
    if (o->npaintings && !o->paintings)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "training: npaintings without paintings");
    if (o->checkpoint_every < 0 || o->preview_every < 0)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "training: checkpoint and preview intervals must be >= 0");
    const impasto_process_group *g = o->group;
    if (g && (g->size < 1 || g->rank < 0 || g->rank >= g->size || (g->size > 1 && !g->sum)))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "training: process %d of %d is not a valid process group",
                        g->rank, g->size);
    if (g && g->size > o->batch_size)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "training: %d processes for a batch of %d: each process trains "
                        "on at least one photo of every batch, so give a batch size of at least %d", g->size,
                        o->batch_size, g->size);
    return IMPASTO_OK;
}

/* Before any work: the style image, at style_size, must be large enough for VGG-19 to reach the
 * deepest style layer (vgg19_min_side). The photos and the preview need no check: both are
 * resized so their shorter side is image_size (at least 16, relu5_x's minimum). */
static impasto_status check_style_size(impasto_ctx *ctx, const vgg19_layer_list *layers, const impasto_image *style,
                                       int style_size) {
    int deepest = 0, w = style->width, h = style->height;
    for (int i = 0; i < layers->n; i++)
        if (layers->index[i] > deepest) deepest = layers->index[i];
    if (style_size > 0) image_max_side_size(style->width, style->height, style_size, &w, &h);
    return vgg19_check_size(ctx, "the style image", w, h, style_size > 0 ? style_size : (w > h ? w : h), deepest);
}

/* impasto_train inside its thread scope. */
static impasto_status train_run(impasto_ctx *ctx, const impasto_model *vgg, const impasto_image *style,
                                const char *const *photos, size_t nphotos, const impasto_train_options *opt,
                                const char *out_path) {
    if (vgg && !vgg->vgg)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "training needs a model of kind 'vgg19' (impasto convert vgg19); "
                        "this one is of kind '%s'", vgg->kind);
    if (!vgg || !style || !out_path || (nphotos && !photos))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "training: missing VGG-19 model, style image, photos "
                        "or output path");
    if (nphotos == 0) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "training: no photos");
    impasto_status s = check_options(ctx, opt);
    if (s != IMPASTO_OK) return s;
    trainer t = {.ctx = ctx, .vgg = vgg->vgg, .opt = opt, .size = opt->image_size, .threads = ctx_threads(ctx),
                 .group = opt->group, .rank = opt->group ? opt->group->rank : 0,
                 .nranks = opt->group ? opt->group->size : 1};
    const int writer = t.rank == 0;  /* the one process that writes files */
    if ((s = parse_layers(ctx, "content", opt->content_layers, &t.content)) != IMPASTO_OK) return s;
    if ((s = parse_layers(ctx, "style", opt->style_layers, &t.style)) != IMPASTO_OK) return s;
    if ((s = check_style_size(ctx, &t.style, style, opt->style_size)) != IMPASTO_OK) return s;
    /* The run's length, as steps_per_epoch counts it once the photos are loaded. */
    const long total = opt->steps > 0 ? opt->steps
                                      : (long)opt->epochs * (long)((nphotos + (size_t)opt->batch_size - 1) /
                                                                   (size_t)opt->batch_size);
    if (opt->resume) {
        s = train_state_load(ctx, opt->resume, opt->learning_rate, &t.st);
        if (s == IMPASTO_OK && t.st.step >= total)
            s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the checkpoint %s is already at step %ld of %ld: ask for more "
                         "steps", opt->resume, t.st.step, total);
    } else {
        s = train_state_new(ctx, opt->seed, opt->learning_rate, &t.st);
        if (s == IMPASTO_OK) {
            uint64_t g = rng_stream(opt->seed, RNG_INIT, 0);
            net_init_default(t.st.net, uniform_from, &g);
        }
    }
    if (s == IMPASTO_OK) s = load_photos(&t, photos, nphotos);
    if (s == IMPASTO_OK) s = style_targets(&t, style);
    if (s == IMPASTO_OK) s = make_plans(&t);
    if (s == IMPASTO_OK && opt->adversarial_weight > 0) {
        s = train_adv_create(ctx, style, opt->paintings, opt->npaintings, t.size, opt->batch_size, t.nworkers,
                             t.threads / t.nworkers, t.threads, &t.adv);
        if (s == IMPASTO_OK) {
            t.st.adv = train_adv_net(t.adv);
            t.st.adv_adam = train_adv_adam(t.adv);
            if (opt->resume) s = train_state_load_adversary(ctx, opt->resume, &t.st);
            else train_adv_init(t.adv, rng_stream(opt->seed, RNG_ADV_INIT, 0));
        }
    } else if (s == IMPASTO_OK && t.st.had_adversary) {
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s was trained with an adversarial term: resume it with the same "
                     "--adversarial-weight", opt->resume);
    }
    if (s == IMPASTO_OK && opt->preview_every > 0 && writer) {
        impasto_image *first = NULL;
        const impasto_image *pi = opt->preview_image;
        if (!pi && (s = impasto_image_load(ctx, photos[0], &first)) == IMPASTO_OK) pi = first;
        if (s == IMPASTO_OK) s = make_preview(&t, pi);
        impasto_image_free(first);
    }
    train_meta meta = {.style = opt->style_name, .image_size = opt->image_size, .batch_size = opt->batch_size,
                       .nphotos = nphotos, .content_weight = opt->content_weight, .style_weight = opt->style_weight,
                       .ranks = t.nranks};
    const double t0 = clock_seconds();
    char ckpt[4096];
    while (s == IMPASTO_OK && t.st.step < total) {
        impasto_train_progress pr = {.num_steps = total, .epoch = (int)(t.st.step / steps_per_epoch(&t))};
        int finite;
        if ((s = train_step(&t, &pr.content_loss, &pr.style_loss, &pr.adversarial_loss, &pr.discriminator_loss,
                            &finite)) != IMPASTO_OK)
            break;
        if (!finite) {
            /* Before anything is written for this step: earlier checkpoints and the model file
             * (which is only written at the end) stay as they are. */
            s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "training stopped: the loss became NaN or infinite at step %ld "
                         "of %ld (content %g, style %g); nothing was written for it", t.st.step + 1, total,
                         pr.content_loss, pr.style_loss);
            break;
        }
        pr.step = t.st.step;
        pr.loss = pr.content_loss + pr.style_loss + pr.adversarial_loss;
        pr.seconds = clock_seconds() - t0;
        pr.images = t.images;
        pr.sum_seconds = t.sum_seconds;
        if (writer && opt->checkpoint_dir && opt->checkpoint_every > 0 && t.st.step % opt->checkpoint_every == 0) {
            if ((s = train_state_save(ctx, &t.st, &meta, opt->checkpoint_dir, ckpt, sizeof ckpt)) != IMPASTO_OK) break;
            pr.checkpoint = ckpt;
        }
        if (t.pplan && t.st.step % opt->preview_every == 0) {
            render_preview(&t);
            pr.preview = t.preview;
        }
        /* A cancel on any process stops every one after this step. */
        double stop = opt->progress && opt->progress(&pr, opt->progress_user);
        if ((s = group_sum(&t, &stop, 1, 1)) != IMPASTO_OK) break;
        if (stop != 0) {
            if (!opt->checkpoint_dir) {
                s = ctx_fail(ctx, IMPASTO_ERR_CANCELLED, "training cancelled at step %ld (no checkpoint folder)",
                             t.st.step);
            } else if (!writer) {
                s = ctx_fail(ctx, IMPASTO_ERR_CANCELLED, "training cancelled at step %ld; process 0 writes the "
                             "checkpoint", t.st.step);
            } else if (pr.checkpoint || (s = train_state_save(ctx, &t.st, &meta, opt->checkpoint_dir, ckpt,
                                                              sizeof ckpt)) == IMPASTO_OK) {
                s = ctx_fail(ctx, IMPASTO_ERR_CANCELLED, "training cancelled at step %ld; checkpoint %s", t.st.step,
                             ckpt);
            }
            break;
        }
    }
    if (s == IMPASTO_OK && writer) s = train_model_save(ctx, &t.st, &meta, out_path);
    trainer_free(&t);
    return s;
}

impasto_status impasto_train(impasto_ctx *ctx, const impasto_model *vgg, const impasto_image *style,
                             const char *const *photos, size_t nphotos, const impasto_train_options *opt,
                             const char *out_path) {
    impasto_train_options defaults;
    if (!opt) {
        impasto_train_options_init(&defaults);
        opt = &defaults;
    }
    thread_scope ts;
    thread_scope_enter(&ts, ctx);
    impasto_status s = train_run(ctx, vgg, style, photos, nphotos, opt, out_path);
    thread_scope_leave(&ts);
    return s;
}
