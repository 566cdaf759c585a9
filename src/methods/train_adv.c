/* The adversarial term of fast-network training (train_adv.h). */
#include "methods/train_adv.h"

#include "core/ctx.h"
#include "core/image.h"
#include "core/rng.h"
#include "loss/loss.h"
#include "models/gan_nets.h"

#include <stdlib.h>
#include <string.h>

#define TRAIN_ADV_MAX_WORKERS 16
#define TRAIN_ADV_GAIN 0.02f

typedef struct real_picture {
    int w, h;
    unsigned char *rgb;    /* (H, W, 3), both sides >= S */
} real_picture;

struct train_adv {
    int size, batch, nworkers;
    net *d;
    adam_state *adam;
    net_plan *gplan[TRAIN_ADV_MAX_WORKERS];  /* (3, S, S), NET_KEEP, per worker */
    float *dpred[TRAIN_ADV_MAX_WORKERS];     /* (the score map) per worker */
    float *dx[TRAIN_ADV_MAX_WORKERS];        /* (3, S, S) per worker */
    net_plan *dplan;                         /* the discriminator's step */
    float *fakes;                            /* (batch, 3, S, S) in [-1, 1] */
    real_picture *real;
    size_t nreal;
    size_t dsize;                            /* floats of the score map */
};

void train_adv_free(train_adv *a) {
    if (!a) return;
    for (int k = 0; k < TRAIN_ADV_MAX_WORKERS; k++) {
        net_plan_free(a->gplan[k]);
        free(a->dpred[k]);
        free(a->dx[k]);
    }
    net_plan_free(a->dplan);
    net_free(a->d);
    adam_free(a->adam);
    free(a->fakes);
    for (size_t i = 0; i < a->nreal; i++) free(a->real[i].rgb);
    free(a->real);
    free(a);
}

net *train_adv_net(train_adv *a) { return a->d; }
adam_state *train_adv_adam(train_adv *a) { return a->adam; }

void train_adv_init(train_adv *a, uint64_t seed) {
    uint64_t g = seed;
    net_init_normal(a->d, TRAIN_ADV_GAIN, &g);
}

/* img as 8-bit RGB, scaled up (aspect kept) only when a side is below S. */
static impasto_status keep_real(impasto_ctx *ctx, const impasto_image *img, int S, real_picture *out) {
    impasto_image *r = NULL;
    const int shorter = img->width < img->height ? img->width : img->height;
    if (shorter < S) {
        const double k = (double)S / (double)shorter;
        int w = (int)(img->width * k + 0.5), h = (int)(img->height * k + 0.5);
        impasto_status s = impasto_image_resize(ctx, img, w < S ? S : w, h < S ? S : h, &r);
        if (s) return s;
        img = r;
    }
    const size_t n = (size_t)img->width * (size_t)img->height;
    out->w = img->width, out->h = img->height;
    if (!(out->rgb = malloc(n * 3))) {
        impasto_image_free(r);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory keeping the paintings");
    }
    const int ch = img->channels;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) {
            float v = img->data[i * (size_t)ch + (size_t)(ch >= 3 ? c : 0)];
            out->rgb[3 * i + (size_t)c] = (unsigned char)((v < 0 ? 0 : v > 1 ? 1 : v) * 255.0f + 0.5f);
        }
    impasto_image_free(r);
    return IMPASTO_OK;
}

impasto_status train_adv_create(impasto_ctx *ctx, const impasto_image *style, const char *const *paintings, size_t n,
                                int size, int batch, int workers, int threads, int all_threads, train_adv **out) {
    *out = NULL;
    if (workers < 1 || workers > TRAIN_ADV_MAX_WORKERS) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "too many workers");
    train_adv *a = calloc(1, sizeof *a);
    if (!a) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    a->size = size, a->batch = batch, a->nworkers = workers;
    const gan_disc_spec spec = {GAN_D_BASIC, 3, TRAIN_ADV_NDF, 3, GAN_NORM_INSTANCE};
    adam_params ap;
    adam_params_init(&ap);
    ap.learning_rate = TRAIN_ADV_LR;
    ap.beta1 = TRAIN_ADV_BETA1;
    ap.torch_eps = 1;
    impasto_status s = gan_discriminator_create(ctx, &spec, &a->d);
    if (!s && !(a->adam = adam_create(a->d->nparams, &ap))) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    for (int k = 0; k < workers && !s; k++)
        s = net_plan_create(ctx, a->d, 3, size, size, NET_KEEP, threads, &a->gplan[k]);
    if (!s) s = net_plan_create(ctx, a->d, 3, size, size, NET_KEEP, all_threads, &a->dplan);
    const size_t img = 3 * (size_t)size * (size_t)size;
    if (!s) {
        int c, h, w;
        net_plan_out_shape(a->dplan, &c, &h, &w);
        a->dsize = (size_t)c * (size_t)h * (size_t)w;
        for (int k = 0; k < workers && !s; k++)
            if (!(a->dpred[k] = malloc(a->dsize * sizeof(float))) || !(a->dx[k] = malloc(img * sizeof(float))))
                s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        if (!s && !(a->fakes = malloc((size_t)batch * img * sizeof(float))))
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    /* the real pictures */
    const size_t nr = n ? n : 1;
    if (!s && !(a->real = calloc(nr, sizeof *a->real))) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nr && !s; i++) {
        impasto_image *img_i = NULL;
        if (n) s = impasto_image_load(ctx, paintings[i], &img_i);
        if (!s) s = keep_real(ctx, n ? img_i : style, size, &a->real[i]);
        impasto_image_free(img_i);
        a->nreal = i + 1;
    }
    if (s) {
        train_adv_free(a);
        return s;
    }
    *out = a;
    return IMPASTO_OK;
}

/* y (3, S, S) 0..255 -> x (3, S, S) in [-1, 1]. */
static void to_unit(const float *y, size_t n, float *x) {
    for (size_t i = 0; i < n; i++) x[i] = y[i] / 127.5f - 1.0f;
}

impasto_status train_adv_generator(train_adv *a, int k, int b, const float *y, double weight, float *dy,
                                   double *loss) {
    const size_t img = 3 * (size_t)a->size * (size_t)a->size;
    float *fake = a->fakes + (size_t)b * img;
    to_unit(y, img, fake);
    net_plan *p = a->gplan[k];
    memcpy(net_plan_input(p), fake, img * sizeof(float));
    const float *pred;
    impasto_status s = net_forward(NULL, a->d, p, NULL, &pred);
    if (s) return s;
    *loss = gan_loss(GAN_LSGAN, a->dsize, pred, 1.0f, weight, a->dpred[k]);
    if ((s = net_backward(NULL, a->d, p, a->dpred[k], NULL, a->dx[k]))) return s;
    /* d/dy = d/dx * dx/dy, x = y / 127.5 - 1 */
    const float *g = a->dx[k];
    for (size_t i = 0; i < img; i++) dy[i] += g[i] / 127.5f;
    return IMPASTO_OK;
}

/* A random S x S crop of a random real picture into x (3, S, S) in [-1, 1]. */
static void real_crop(const train_adv *a, uint64_t *rng, float *x) {
    const real_picture *r = &a->real[rng_below(rng, a->nreal)];
    const int S = a->size;
    const size_t ox = rng_below(rng, (size_t)(r->w - S + 1)), oy = rng_below(rng, (size_t)(r->h - S + 1));
    const size_t plane = (size_t)S * (size_t)S;
    for (int y = 0; y < S; y++) {
        const unsigned char *row = r->rgb + ((oy + (size_t)y) * (size_t)r->w + ox) * 3;
        for (int c = 0; c < S; c++)
            for (int k = 0; k < 3; k++) x[(size_t)k * plane + (size_t)y * (size_t)S + (size_t)c] = row[3 * c + k] / 127.5f - 1.0f;
    }
}

impasto_status train_adv_discriminator_grads(impasto_ctx *ctx, train_adv *a, int nb, int first, int stride,
                                             uint64_t seed, uint64_t kind, uint64_t step, double *loss) {
    const size_t img = 3 * (size_t)a->size * (size_t)a->size;
    memset(a->d->grads, 0, a->d->nparams * sizeof(float));
    *loss = 0.0;
    const double w = 0.5 / (double)nb;
    for (int b = first; b < nb; b += stride) {
        uint64_t g = rng_stream(seed, kind, step * (uint64_t)a->batch + (uint64_t)b);
        for (int real = 0; real < 2; real++) {
            float *x = net_plan_input(a->dplan);
            if (real) real_crop(a, &g, x);
            else memcpy(x, a->fakes + (size_t)b * img, img * sizeof(float));
            const float *pred;
            impasto_status s = net_forward(ctx, a->d, a->dplan, NULL, &pred);
            if (!s) {
                *loss += gan_loss(GAN_LSGAN, a->dsize, pred, real ? 1.0f : 0.0f, w, a->dpred[0]);
                s = net_backward(ctx, a->d, a->dplan, a->dpred[0], a->d->grads, NULL);
            }
            if (s) return s;
        }
    }
    return IMPASTO_OK;
}

impasto_status train_adv_discriminator_update(impasto_ctx *ctx, train_adv *a) {
    if (!floats_all_finite(a->d->grads, a->d->nparams))
        return ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "the discriminator's gradient is not finite");
    adam_step(a->adam, a->d->params, a->d->grads);
    return IMPASTO_OK;
}
