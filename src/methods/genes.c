/* A painting's "genes" for breeding styles (impasto_genes in include/impasto.h): what AdaIN and
 * WCT use of it, the mean, deviation and covariance of its relu4_1 features per channel, read
 * from the AdaIN encoder, saved as safetensors with metadata naming the encoder.
 *
 * File (safetensors, F32): "mean" (512), "std" (512), "cov" (512, 512) optional; metadata
 *   format "impasto-genes", encoder "adain-relu4_1", encoder_md5 (models/adain.h's fingerprint),
 *   and for a child, "weights" (its parents' Dirichlet weights) and "seed".
 * std is AdaIN's sigma, sqrt(unbiased variance + ADAIN_EPS); cov the unbiased covariance WCT
 * takes (nn.h). A child (impasto_genes_breed) is the weighted mean of its parents' genes, the
 * weights drawn from a flat Dirichlet, then mutated: each channel's deviation scaled by
 * exp(m z1), its mean moved by m sigma z2 (z standard normal, m the mutation), the covariance
 * scaled as D cov D with D the deviations' ratios, so all three stay consistent. */
#include "core/ctx.h"
#include "core/image.h"
#include "core/rng.h"
#include "core/threads.h"
#include "formats/safetensors.h"
#include "methods/genes.h"
#include "methods/planes.h"
#include "methods/tile.h"
#include "models/model.h"
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GENES_FORMAT "impasto-genes"
#define GENES_ENCODER "adain-relu4_1"
#define GENES_STREAM_CHILD 0x6e6573ull  /* rng_stream kind of a child's draws */

void impasto_genes_free(impasto_genes *g) {
    if (!g) return;
    free(g->mean);
    free(g->std);
    free(g->cov);
    free(g->weights);
    free(g);
}

static impasto_genes *genes_alloc(int with_cov) {
    impasto_genes *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->c = ADAIN_FEAT_C;
    g->mean = calloc(ADAIN_FEAT_C, sizeof *g->mean);
    g->std = calloc(ADAIN_FEAT_C, sizeof *g->std);
    if (with_cov) g->cov = calloc((size_t)ADAIN_FEAT_C * ADAIN_FEAT_C, sizeof *g->cov);
    if (!g->mean || !g->std || (with_cov && !g->cov)) {
        impasto_genes_free(g);
        return NULL;
    }
    return g;
}

int impasto_genes_has_covariance(const impasto_genes *g) { return g && g->cov; }

size_t impasto_genes_weights(const impasto_genes *g, const double **weights) {
    if (weights) *weights = g ? g->weights : NULL;
    return g ? g->nweights : 0;
}

/* Pass over the painting's tiles: wct_accumulate's shifted sums (mean and covariance). */
typedef struct genes_acc {
    int started;
    size_t n;
    double shift[ADAIN_FEAT_C], s1[ADAIN_FEAT_C];
    double *s2;  /* (512, 512) */
} genes_acc;

static impasto_status genes_add(void *user, impasto_ctx *ctx, const tile_feat *t) {
    genes_acc *a = user;
    const size_t plane = (size_t)t->fh * (size_t)t->fw, rw = (size_t)(t->ix1 - t->ix0);
    const size_t ni = (size_t)(t->iy1 - t->iy0) * rw;
    if (ni == 0) return IMPASTO_OK;
    float *g = malloc(ADAIN_FEAT_C * ni * sizeof *g);    // (512, ni) the interior, gathered
    double *xd = malloc(ADAIN_FEAT_C * ni * sizeof *xd);  // (512, ni) scratch
    if (!g || !xd) {
        free(g), free(xd);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (genes)");
    }
    for (int c = 0; c < ADAIN_FEAT_C; c++)
        for (int y = t->iy0; y < t->iy1; y++)
            memcpy(g + (size_t)c * ni + (size_t)(y - t->iy0) * rw,
                   t->f + (size_t)c * plane + (size_t)y * (size_t)t->fw + (size_t)t->ix0, rw * sizeof *g);
    if (!a->started) {
        for (int c = 0; c < ADAIN_FEAT_C; c++) {
            double m = 0;
            for (size_t i = 0; i < ni; i++) m += g[(size_t)c * ni + i];
            a->shift[c] = m / (double)ni;
        }
        a->started = 1;
    }
    wct_accumulate(ADAIN_FEAT_C, ni, g, a->shift, a->s1, a->s2, xd);
    a->n += ni;
    free(g), free(xd);
    return IMPASTO_OK;
}

static impasto_status genes_from_image_run(impasto_ctx *ctx, const impasto_model *adain, const impasto_image *painting,
                                           int style_size, impasto_genes **out) {
    if (!adain || !adain->adain)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "genes are read with a model of kind 'adain'; %s%s%s",
                        adain ? "this one is of kind '" : "none was given", adain ? adain->kind : "", adain ? "'" : "");
    if (!painting) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "genes: no painting given");
    if (style_size < 0 || style_size > IMPASTO_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the style size must be 0 (keep) .. %d", IMPASTO_MAX_SIDE);
    impasto_image *scaled = NULL;
    impasto_status s = planes_maybe_resize(ctx, painting, style_size, &scaled);
    if (s != IMPASTO_OK) return s;
    const impasto_image *st = scaled ? scaled : painting;
    genes_acc a;
    memset(&a, 0, sizeof a);
    impasto_genes *g = genes_alloc(1);
    float *x = planes_from_image(st);  // (3, SH, SW)
    a.s2 = g ? g->cov : NULL;
    tile_plan plan;
    if (!g || !x) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK && (st->height < ADAIN_MIN_SIDE || st->width < ADAIN_MIN_SIDE))
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "a %dx%d painting is too small for the encoder (at least %d pixels "
                     "a side)", st->width, st->height, ADAIN_MIN_SIDE);
    if (s == IMPASTO_OK) s = tile_plan_make(ctx, TILE_NET_ADAIN, st->height, st->width, -1, -1, TILE_DEFAULT_MEMORY_MB, &plan);
    if (s == IMPASTO_OK) s = tile_features(ctx, adain->adain, &plan, x, genes_add, &a, NULL, NULL);
    if (s == IMPASTO_OK && a.n < 2)
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "genes need at least 2 relu4_1 positions (the painting is too small)");
    if (s == IMPASTO_OK) {
        double mean[ADAIN_FEAT_C];
        wct_moments(ADAIN_FEAT_C, a.n, a.shift, a.s1, g->cov, mean);
        for (int c = 0; c < ADAIN_FEAT_C; c++) {
            const double var = g->cov[(size_t)c * ADAIN_FEAT_C + (size_t)c];
            g->mean[c] = mean[c];
            g->std[c] = sqrt((var > 0 ? var : 0) + (double)ADAIN_EPS);
            if (!isfinite(g->mean[c]) || !isfinite(g->std[c]))
                s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "genes: the painting's relu4_1 features hold NaN or infinite "
                             "values (the model's weights overflow on this picture)");
        }
        adain_encoder_fingerprint(adain->adain, g->encoder);
    }
    free(x);
    impasto_image_free(scaled);
    if (s != IMPASTO_OK) {
        impasto_genes_free(g);
        return s;
    }
    *out = g;
    return IMPASTO_OK;
}

impasto_status impasto_genes_from_image(impasto_ctx *ctx, const impasto_model *adain, const impasto_image *painting,
                                        int style_size, impasto_genes **out) {
    if (!out) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "genes: no place given for the result");
    *out = NULL;
    thread_scope ts;
    thread_scope_enter(&ts, ctx);
    impasto_status s = genes_from_image_run(ctx, adain, painting, style_size, out);
    thread_scope_leave(&ts);
    return s;
}

/* A standard normal draw (Box-Muller). */
static double normal(uint64_t *st) {
    const double u = rng_uniform_open(st), v = rng_uniform_open(st);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

impasto_status impasto_genes_breed(impasto_ctx *ctx, const impasto_genes *const *parents, size_t n, uint64_t seed,
                                   uint64_t child, double mutation, impasto_genes **out) {
    if (!out) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "breed: no place given for the child");
    *out = NULL;
    if (!parents || n < 1) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "breeding needs at least one parent");
    if (n > IMPASTO_GENES_MAX_PARENTS)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "at most %d parents, not %zu", IMPASTO_GENES_MAX_PARENTS, n);
    if (!(mutation >= 0 && mutation <= 1))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the mutation must be between 0 and 1, not %g", mutation);
    int with_cov = 1;
    for (size_t k = 0; k < n; k++) {
        if (!parents[k]) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "breed: parent %zu is missing", k + 1);
        if (strcmp(parents[k]->encoder, parents[0]->encoder) != 0)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "parents 1 and %zu come from different encoders (their "
                            "genes cannot be mixed)", k + 1);
        with_cov &= parents[k]->cov != NULL;
    }
    impasto_genes *g = genes_alloc(with_cov);
    if (!g || !(g->weights = malloc(n * sizeof *g->weights))) {
        impasto_genes_free(g);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    g->nweights = n;
    g->seed = seed;
    memcpy(g->encoder, parents[0]->encoder, sizeof g->encoder);
    uint64_t st = rng_stream(seed, GENES_STREAM_CHILD, child);
    /* Flat Dirichlet: normalised Gamma(1) = exponential draws. */
    double sum = 0;
    for (size_t k = 0; k < n; k++) sum += g->weights[k] = -log(rng_uniform_open(&st));
    for (size_t k = 0; k < n; k++) g->weights[k] /= sum;
    double ratio[ADAIN_FEAT_C];
    for (int c = 0; c < ADAIN_FEAT_C; c++) {
        double m = 0, sd = 0;
        for (size_t k = 0; k < n; k++) {
            m += g->weights[k] * parents[k]->mean[c];
            sd += g->weights[k] * parents[k]->std[c];
        }
        const double z1 = normal(&st), z2 = normal(&st);
        ratio[c] = exp(mutation * z1);
        g->std[c] = sd * ratio[c];
        m += mutation * sd * z2;
        g->mean[c] = m > 0 ? m : 0;  /* relu4_1 features are not negative */
    }
    if (with_cov)
        for (size_t i = 0; i < (size_t)ADAIN_FEAT_C * ADAIN_FEAT_C; i++) {
            double v = 0;
            for (size_t k = 0; k < n; k++) v += g->weights[k] * parents[k]->cov[i];
            g->cov[i] = v * ratio[i / ADAIN_FEAT_C] * ratio[i % ADAIN_FEAT_C];
        }
    *out = g;
    return IMPASTO_OK;
}

impasto_status impasto_genes_save(impasto_ctx *ctx, const impasto_genes *g, const char *path) {
    if (!g || !path) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "genes: nothing to save or no path");
    const size_t cc = (size_t)ADAIN_FEAT_C * ADAIN_FEAT_C;
    float *buf = malloc((2 * ADAIN_FEAT_C + (g->cov ? cc : 0)) * sizeof *buf);  // mean, std, cov
    if (!buf) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    for (int c = 0; c < ADAIN_FEAT_C; c++) buf[c] = (float)g->mean[c], buf[ADAIN_FEAT_C + c] = (float)g->std[c];
    for (size_t i = 0; g->cov && i < cc; i++) buf[2 * ADAIN_FEAT_C + i] = (float)g->cov[i];
    st_write_tensor t[3] = {{"mean", 1, {ADAIN_FEAT_C}, buf},
                            {"std", 1, {ADAIN_FEAT_C}, buf + ADAIN_FEAT_C},
                            {"cov", 2, {ADAIN_FEAT_C, ADAIN_FEAT_C}, buf + 2 * ADAIN_FEAT_C}};
    char weights[IMPASTO_GENES_MAX_PARENTS * 12 + 1] = "", seed[32];
    size_t w = 0;
    for (size_t k = 0; k < g->nweights; k++)
        w += (size_t)snprintf(weights + w, sizeof weights - w, "%s%.6f", k ? "," : "", g->weights[k]);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)g->seed);
    const char *meta[] = {"format", GENES_FORMAT, "encoder", GENES_ENCODER, "encoder_md5", g->encoder,
                          "weights", weights, "seed", seed};
    impasto_status s = safetensors_write(ctx, path, t, g->cov ? 3 : 2, meta, g->nweights ? 5 : 3);
    free(buf);
    return s;
}

/* 1 when hex is 32 lower-case hex digits. */
static int is_md5(const char *hex) {
    if (!hex || strlen(hex) != 32) return 0;
    for (int i = 0; i < 32; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f'))) return 0;
    return 1;
}

impasto_status genes_parse(impasto_ctx *ctx, const safetensors *st, const char *path, impasto_genes **out) {
    *out = NULL;
    const char *format = safetensors_meta(st, "format"), *enc = safetensors_meta(st, "encoder");
    const char *md5 = safetensors_meta(st, "encoder_md5");
    if (!format || strcmp(format, GENES_FORMAT) != 0) {
        const char *kind = safetensors_meta(st, "kind");
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s is not a genes file (%s%s%s); genes files are written by "
                        "impasto breed", path, kind ? "a model of kind '" : "no \"format\": \"" GENES_FORMAT "\"",
                        kind ? kind : " in its metadata", kind ? "'" : "");
    }
    if (!enc || strcmp(enc, GENES_ENCODER) != 0)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: genes of encoder '%s', impasto reads those of '%s'", path,
                        enc ? enc : "(none)", GENES_ENCODER);
    if (!is_md5(md5))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: its encoder_md5 is not the 32 hex digits of an MD5", path);
    const st_tensor *tc = safetensors_find(st, "cov");
    impasto_genes *g = genes_alloc(tc != NULL);
    const size_t cc = (size_t)ADAIN_FEAT_C * ADAIN_FEAT_C;
    float *buf = malloc((2 * ADAIN_FEAT_C + cc) * sizeof *buf);
    impasto_status s = g && buf ? IMPASTO_OK : ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    const int64_t s1[1] = {ADAIN_FEAT_C}, s2[2] = {ADAIN_FEAT_C, ADAIN_FEAT_C};
    if (s == IMPASTO_OK) s = safetensors_get_f32(ctx, st, "mean", 1, s1, buf);
    if (s == IMPASTO_OK) s = safetensors_get_f32(ctx, st, "std", 1, s1, buf + ADAIN_FEAT_C);
    if (s == IMPASTO_OK && tc) s = safetensors_get_f32(ctx, st, "cov", 2, s2, buf + 2 * ADAIN_FEAT_C);
    for (int c = 0; s == IMPASTO_OK && c < ADAIN_FEAT_C; c++) {
        g->mean[c] = buf[c];
        g->std[c] = buf[ADAIN_FEAT_C + c];
        if (!(g->std[c] > 0) || !(g->mean[c] >= 0))
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: channel %d has %s %g (genes have means >= 0 and deviations "
                         "> 0)", path, c, g->std[c] > 0 ? "mean" : "deviation", g->std[c] > 0 ? g->mean[c] : g->std[c]);
    }
    for (size_t i = 0; s == IMPASTO_OK && tc && i < cc; i++) {
        g->cov[i] = buf[2 * ADAIN_FEAT_C + i];
        const size_t r = i / ADAIN_FEAT_C, c = i % ADAIN_FEAT_C;
        if ((r == c && !(g->cov[i] >= 0)) || (c < r && g->cov[i] != g->cov[c * ADAIN_FEAT_C + r]))
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the covariance is not symmetric with a non-negative diagonal "
                         "(entry %zu, %zu)", path, r, c);
    }
    if (s == IMPASTO_OK) memcpy(g->encoder, md5, 33);
    free(buf);
    if (s != IMPASTO_OK) {
        impasto_genes_free(g);
        return s;
    }
    *out = g;
    return IMPASTO_OK;
}

impasto_status impasto_genes_load(impasto_ctx *ctx, const char *path, impasto_genes **out) {
    if (!out) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "genes: no place given for the result");
    *out = NULL;
    if (!path) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "genes: no file given");
    safetensors *st = NULL;
    impasto_status s = safetensors_open(ctx, path, &st);
    if (s == IMPASTO_OK) s = genes_parse(ctx, st, path, out);
    safetensors_close(st);
    return s;
}

impasto_status genes_check_encoder(impasto_ctx *ctx, const impasto_genes *g, const adain_net *net, size_t k) {
    char hex[33];
    adain_encoder_fingerprint(net, hex);
    if (strcmp(hex, g->encoder) != 0)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the genes of style %zu come from another encoder (MD5 %.8s..., "
                        "this model's is %.8s...): make them again with this model", k + 1, g->encoder, hex);
    return IMPASTO_OK;
}
