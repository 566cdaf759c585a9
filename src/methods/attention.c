/* impasto_attention: feature fusion by attention (see include/impasto.h and docs/attention.md).
 *
 * At one layer L (relu4_1: the AdaIN encoder E4 and decoder D4, C = 512, 8 pixels a position;
 * relu3_1: the lst-r31 pair E3 / D3, C = 256, 4 pixels a position):
 *   f_c = E(content) (C, FH, FW),  f_k = E(painting k) (C, SFH_k, SFW_k)
 *   c^ = (f_c - mu_c) / sd_c,  s^_k = (f_k - mu_k) / sd_k     per channel (SANet's mean_variance_norm)
 *   keys   K_j = the N x N patch j of some s^_k, made unit length         (d = C N^2, nk patches)
 *   values V_j = the same patch of f_k
 *   query  Q_i = the N x N patch of c^ centred on position i (zeros outside the map), unit length
 *   R_i = sum_j softmax_j(<Q_i, K_j> / T + ln w_k(j)) V_j         (hard: V of the arg max)
 *   fused(p) = the mean over the patches i covering p of R_i's entry at p (Chen & Schmidt's
 *              averaging of overlapping patches)
 *   f' = alpha fused + (1 - alpha) f_c,   out = clamp(D(f'), 0, 1) cropped to the content's size
 * With both models, relu4_1 then relu3_1 on relu4_1's clamped picture, coarse to fine as
 * impasto_wct's levels; relu3_1 runs on its input padded to multiples of 4 (the lst-r31
 * encoder's floor-mode poolings then drop nothing), as in wct.c.
 * Each level is tiled as adain.c: pass 1 gathers the content's moments over the whole image, pass 2 encodes,
 * fuses and decodes tile by tile; every tile attends over all of the paintings' patches, so a
 * tile's result depends on the whole image only through mu_c and sd_c, as AdaIN's does.
 * The attention runs in blocks of ATTN_QUERY_BLOCK content positions, each against blocks of
 * ATTN_KEY_BLOCK patches with a streaming softmax (nn/attention.c). */
#include "methods/attention.h"

#include "core/ctx.h"
#include "core/image.h"
#include "core/threads.h"
#include "methods/mask.h"
#include "methods/planes.h"
#include "models/model.h"
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void impasto_attention_options_init(impasto_attention_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->alpha = 1.0;
    opt->temperature = 0.05;
    opt->patch = 1;
    opt->content_size = 512;
    opt->style_size = 512;
    opt->tile = -1;
    opt->tile_halo = -1;
    opt->memory_mb = TILE_DEFAULT_MEMORY_MB;
}

void attn_keys_free(attn_keys *k) {
    if (!k) return;
    free(k->k);
    free(k->v);
    free(k->bias);
    free(k->first);
    free(k);
}

/* Column j of x (d, n) scaled to unit length (left 0 when it is 0). */
static void unit_columns(size_t d, size_t n, float *x) {
#pragma omp parallel for schedule(static) if (d * n > 65536)
    for (size_t j = 0; j < n; j++) {
        double ss = 0;
        for (size_t i = 0; i < d; i++) ss += (double)x[i * n + j] * x[i * n + j];
        if (ss > 0) {
            const float inv = (float)(1.0 / sqrt(ss));
            for (size_t i = 0; i < d; i++) x[i * n + j] *= inv;
        }
    }
}

impasto_status attn_keys_build(impasto_ctx *ctx, int c, int patch, const float *const *feats, const int *fh,
                               const int *fw, size_t nstyles, const double *weights, attn_keys **out) {
    *out = NULL;
    const int r = patch / 2;
    attn_keys *k = calloc(1, sizeof *k);
    if (!k || !(k->first = calloc(nstyles + 1, sizeof *k->first))) {
        free(k);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    k->c = c;
    k->patch = patch;
    k->d = (size_t)c * (size_t)patch * (size_t)patch;
    k->nstyles = nstyles;
    for (size_t s = 0; s < nstyles; s++) {
        if (fh[s] < patch || fw[s] < patch) {
            attn_keys_free(k);
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the %dx%d patch is larger than painting %zu's feature map "
                            "(%dx%d); use a smaller patch or a larger style size", patch, patch, s + 1, fw[s], fh[s]);
        }
        k->first[s + 1] = k->first[s] + (size_t)(fh[s] - 2 * r) * (size_t)(fw[s] - 2 * r);
    }
    const size_t nk = k->nk = k->first[nstyles], d = k->d;
    double wsum = 0;
    for (size_t s = 0; weights && s < nstyles; s++) wsum += weights[s];
    if (!(k->k = malloc(d * nk * sizeof *k->k)) || !(k->v = malloc(d * nk * sizeof *k->v)) ||
        (weights && !(k->bias = malloc(nk * sizeof *k->bias)))) {
        attn_keys_free(k);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for the paintings' %zu patches (%zu MB)", nk,
                        2 * d * nk * sizeof(float) >> 20);
    }
    for (size_t s = 0; s < nstyles; s++) {
        const size_t n = (size_t)fh[s] * (size_t)fw[s], ow = (size_t)(fw[s] - 2 * r);
        float *mean = malloc((size_t)c * sizeof *mean), *sd = malloc((size_t)c * sizeof *sd);  // (c), (c)
        if (!mean || !sd) {
            free(mean), free(sd);
            attn_keys_free(k);
            return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        }
        adain_moments(c, n, feats[s], mean, sd);
        /* Row (ch, dy, dx) of K and V, columns first[s] ..: patch centre (y, x), y in [r, fh - r). */
#pragma omp parallel for schedule(static)
        for (int ch = 0; ch < c; ch++) {
            const float *fc = feats[s] + (size_t)ch * n;  // (fh, fw)
            for (int dy = 0; dy < patch; dy++)
                for (int dx = 0; dx < patch; dx++) {
                    const size_t row = ((size_t)ch * (size_t)patch + (size_t)dy) * (size_t)patch + (size_t)dx;
                    float *kr = k->k + row * nk + k->first[s], *vr = k->v + row * nk + k->first[s];
                    for (int y = r; y < fh[s] - r; y++)
                        for (int x = r; x < fw[s] - r; x++) {
                            const float val = fc[(size_t)(y - r + dy) * (size_t)fw[s] + (size_t)(x - r + dx)];
                            const size_t j = (size_t)(y - r) * ow + (size_t)(x - r);
                            vr[j] = val;
                            kr[j] = (val - mean[ch]) / sd[ch];
                        }
                }
        }
        free(mean), free(sd);
        if (weights) {
            const float b = weights[s] > 0 ? (float)log(weights[s] / wsum) : -INFINITY;
            for (size_t j = k->first[s]; j < k->first[s + 1]; j++) k->bias[j] = b;
        }
    }
    unit_columns(d, nk, k->k);
    *out = k;
    return IMPASTO_OK;
}

impasto_status attn_fuse(impasto_ctx *ctx, const attn_keys *keys, const double *mean, const double *sd,
                         double temperature, int hard, double alpha, const int *region, float *f, int fh, int fw,
                         tile_meter *meter) {
    const int c = keys->c, n = keys->patch, r = n / 2;
    const size_t np = (size_t)fh * (size_t)fw, d = keys->d, nn2 = (size_t)n * (size_t)n;
    float *cn = malloc((size_t)c * np * sizeof *cn);              // (c, fh, fw) normalised content
    float *acc = calloc((size_t)c * np, sizeof *acc);             // (c, fh, fw) sum of the patches covering p
    float *cnt = calloc(np, sizeof *cnt);                         // (fh, fw) how many
    size_t *order = malloc((np ? np : 1) * sizeof *order);        // (np) positions, by region
    float *q = malloc(d * ATTN_QUERY_BLOCK * sizeof *q);          // (d, B) a block's query patches
    float *res = malloc(ATTN_QUERY_BLOCK * d * sizeof *res);      // (B, d) their attended patches
    impasto_status s = IMPASTO_OK;
    if (!cn || !acc || !cnt || !order || !q || !res) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (attention)");
    const size_t nreg = region ? keys->nstyles : 1;
    size_t *start = s == IMPASTO_OK ? calloc(nreg + 1, sizeof *start) : NULL;  // (R + 1) region r's positions in order
    if (s == IMPASTO_OK && !start) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (attention)");
    if (s == IMPASTO_OK) {
#pragma omp parallel for schedule(static)
        for (int ch = 0; ch < c; ch++) {
            const float m = (float)mean[ch], inv = (float)(1.0 / sd[ch]);
            for (size_t p = 0; p < np; p++) cn[(size_t)ch * np + p] = (f[(size_t)ch * np + p] - m) * inv;
        }
        /* Positions grouped by region (a counting sort), so each block attends over one key range. */
        for (size_t p = 0; p < np; p++) start[(region ? (size_t)region[p] : 0) + 1]++;
        for (size_t g = 0; g < nreg; g++) start[g + 1] += start[g];
        size_t *fill = malloc((nreg + 1) * sizeof *fill);
        if (!fill) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (attention)");
        else {
            memcpy(fill, start, (nreg + 1) * sizeof *fill);
            for (size_t p = 0; p < np; p++) order[fill[region ? (size_t)region[p] : 0]++] = p;
            free(fill);
        }
    }
    const float inv_t = (float)(1.0 / temperature);
    size_t done = 0;
    int ticks = 0;
    for (size_t g = 0; g < nreg && s == IMPASTO_OK; g++) {
        const size_t k0 = region ? keys->first[g] : 0, nk = region ? keys->first[g + 1] - k0 : keys->nk;
        for (size_t b0 = start[g]; b0 < start[g + 1] && s == IMPASTO_OK; b0 += ATTN_QUERY_BLOCK) {
            const size_t nb = start[g + 1] - b0 < ATTN_QUERY_BLOCK ? start[g + 1] - b0 : ATTN_QUERY_BLOCK;
            /* q (d, nb): the normalised patch around each position, zeros off the map. */
#pragma omp parallel for schedule(static)
            for (int ch = 0; ch < c; ch++)
                for (size_t o = 0; o < nn2; o++) {
                    const int dy = (int)(o / (size_t)n) - r, dx = (int)(o % (size_t)n) - r;
                    float *qr = q + ((size_t)ch * nn2 + o) * nb;
                    for (size_t i = 0; i < nb; i++) {
                        const size_t p = order[b0 + i];
                        const int y = (int)(p / (size_t)fw) + dy, x = (int)(p % (size_t)fw) + dx;
                        qr[i] = y >= 0 && y < fh && x >= 0 && x < fw ? cn[((size_t)ch * (size_t)fh + (size_t)y) * (size_t)fw + (size_t)x] : 0.0f;
                    }
                }
            unit_columns(d, nb, q);
            if (attention_forward(nb, d, q, nb, nk, keys->k + k0, keys->nk, d, keys->v + k0, keys->nk,
                                  keys->bias && !region ? keys->bias : NULL, inv_t, hard, ATTN_KEY_BLOCK, res) != 0) {
                s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (attention scores)");
                break;
            }
            /* Each attended patch back onto the positions it covers. */
#pragma omp parallel for schedule(static)
            for (int ch = 0; ch < c; ch++)
                for (size_t i = 0; i < nb; i++) {
                    const size_t p = order[b0 + i];
                    const int py = (int)(p / (size_t)fw), px = (int)(p % (size_t)fw);
                    const float *ri = res + i * d + (size_t)ch * nn2;
                    for (size_t o = 0; o < nn2; o++) {
                        const int y = py + (int)(o / (size_t)n) - r, x = px + (int)(o % (size_t)n) - r;
                        if (y >= 0 && y < fh && x >= 0 && x < fw)
                            acc[((size_t)ch * (size_t)fh + (size_t)y) * (size_t)fw + (size_t)x] += ri[o];
                    }
                }
            for (size_t i = 0; i < nb; i++) {
                const size_t p = order[b0 + i];
                const int py = (int)(p / (size_t)fw), px = (int)(p % (size_t)fw);
                for (int y = py - r; y <= py + r; y++)
                    for (int x = px - r; x <= px + r; x++)
                        if (y >= 0 && y < fh && x >= 0 && x < fw) cnt[(size_t)y * (size_t)fw + (size_t)x] += 1.0f;
            }
            done += nb;
            while (s == IMPASTO_OK && meter && ticks < IMPASTO_ATTENTION_STEPS &&
                   done * IMPASTO_ATTENTION_STEPS >= (size_t)(ticks + 1) * np) {
                s = tile_meter_tick(ctx, meter, "attention");
                ticks++;
            }
        }
    }
    while (s == IMPASTO_OK && meter && ticks < IMPASTO_ATTENTION_STEPS) {
        s = tile_meter_tick(ctx, meter, "attention");
        ticks++;
    }
    if (s == IMPASTO_OK) {
        const float a = (float)alpha;
#pragma omp parallel for schedule(static)
        for (int ch = 0; ch < c; ch++)
            for (size_t p = 0; p < np; p++) {
                float *v = &f[(size_t)ch * np + p];
                *v = a * acc[(size_t)ch * np + p] / cnt[p] + (1.0f - a) * *v;
            }
    }
    free(cn), free(acc), free(cnt), free(order), free(q), free(res), free(start);
    return s;
}

/* Pass-1 accumulator of the content's per-channel moments, shifted by the first tile's mean so
 * the sums of squares lose nothing in double: s1 = sum (f - shift), s2 = sum (f - shift)^2. */
typedef struct attn_moments {
    int c, started;
    size_t n;
    double shift[ADAIN_FEAT_C], s1[ADAIN_FEAT_C], s2[ADAIN_FEAT_C];
} attn_moments;

static impasto_status moments_add(void *user, impasto_ctx *ctx, const tile_feat *t) {
    attn_moments *a = user;
    const size_t plane = (size_t)t->fh * (size_t)t->fw;
    const size_t ni = (size_t)(t->iy1 - t->iy0) * (size_t)(t->ix1 - t->ix0);
    const int first = !a->started;
    a->started = 1;
    a->n += ni;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < a->c; c++) {
        const float *fc = t->f + (size_t)c * plane;  // (fh, fw)
        if (first) {
            double m = 0;
            for (int y = t->iy0; y < t->iy1; y++)
                for (int x = t->ix0; x < t->ix1; x++) m += fc[(size_t)y * (size_t)t->fw + (size_t)x];
            a->shift[c] = ni ? m / (double)ni : 0.0;
        }
        for (int y = t->iy0; y < t->iy1; y++)
            for (int x = t->ix0; x < t->ix1; x++) {
                const double v = (double)fc[(size_t)y * (size_t)t->fw + (size_t)x] - a->shift[c];
                a->s1[c] += v;
                a->s2[c] += v * v;
            }
    }
    (void)ctx;
    return IMPASTO_OK;
}

/* Pass 2's transform: the tile's features fused (with the tile's part of the region map). */
typedef struct attn_job {
    const attn_keys *keys;
    const impasto_attention_options *opt;
    double mean[ADAIN_FEAT_C], sd[ADAIN_FEAT_C];
    const int *region;  /* (FH, FW) over the whole image, or NULL */
    int fw;             /* its width */
    tile_meter *meter;
} attn_job;

static impasto_status fuse_tile(void *user, impasto_ctx *ctx, tile_feat *t) {
    const attn_job *j = user;
    int *reg = NULL;  // (fh, fw) the tile's regions
    if (j->region) {
        if (!(reg = malloc((size_t)t->fh * (size_t)t->fw * sizeof *reg)))
            return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        for (int y = 0; y < t->fh; y++)
            for (int x = 0; x < t->fw; x++)
                reg[(size_t)y * (size_t)t->fw + (size_t)x] =
                    j->region[(size_t)(t->gy + y) * (size_t)j->fw + (size_t)(t->gx + x)];
    }
    impasto_status s = attn_fuse(ctx, j->keys, j->mean, j->sd, j->opt->temperature, j->opt->hard, j->opt->alpha, reg,
                                 t->f, t->fh, t->fw, j->meter);
    free(reg);
    return s;
}

static impasto_status check_options(impasto_ctx *ctx, size_t nstyles, const impasto_attention_options *opt) {
    if (nstyles < 1) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "at least one style image is needed");
    if (!(opt->temperature >= ATTN_MIN_TEMPERATURE && opt->temperature <= ATTN_MAX_TEMPERATURE))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the temperature must be between %g and %g (greater than 0), "
                        "not %g", ATTN_MIN_TEMPERATURE, ATTN_MAX_TEMPERATURE, opt->temperature);
    if (opt->patch < 1 || opt->patch > ATTN_MAX_PATCH || opt->patch % 2 == 0)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the patch side must be odd, 1 .. %d, not %d", ATTN_MAX_PATCH,
                        opt->patch);
    return tile_check_method_options(ctx, opt->alpha, opt->content_size, opt->style_size, opt->tile, opt->tile_halo,
                                     opt->memory_mb, opt->style_weights, nstyles, opt->mask);
}

/* One level of the run: the layer, its encoder and decoder, the picture it works on. */
typedef struct attn_level {
    const adain_net *net;
    tile_net_kind kind;
    const char *layer;  /* "relu4_1" or "relu3_1" */
    int c, scale;       /* feature channels, pixels per feature position */
    int h, w;           /* the picture it encodes: the content's size (relu4_1), padded to 4 (relu3_1) */
    int fh, fw;         /* its feature map */
    size_t kv_mb;       /* the paintings' keys and values */
    tile_plan plan;
} attn_level;

/* The side of a feature map of a picture side n: relu4_1 rounds up three times, relu3_1 down twice. */
static int level_feature_side(const attn_level *lv, int n) {
    return lv->kind == TILE_NET_ADAIN ? (n + 7) / 8 : n / 4;
}

/* Painting k (already resized) encoded whole at the level: *f (c, *fh, *fw), malloc'd, checked finite. */
static impasto_status encode_style(impasto_ctx *ctx, const attn_level *lv, const impasto_image *st, size_t k,
                                   float **f, int *fh, int *fw) {
    float *x = planes_from_image(st);  // (3, SH, SW)
    if (!x) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    impasto_status s = lv->kind == TILE_NET_ADAIN ? adain_encode(ctx, lv->net, x, st->height, st->width, f, fh, fw)
                                                  : lst_encode(ctx, lv->net, x, st->height, st->width, f, fh, fw);
    if (s == IMPASTO_OK && !floats_all_finite(*f, (size_t)lv->c * (size_t)*fh * (size_t)*fw)) {
        free(*f);
        *f = NULL;
        s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "attention: the %s features of style image %zu hold NaN or "
                     "infinite values (the model's weights overflow on this picture)", lv->layer, k + 1);
    }
    free(x);
    return s;
}

/* The checks that need the sizes, before any work: every painting large enough for the
 * encoder and the patch, and the keys and values (2 x 4 d bytes a patch) leaving the tiles
 * ATTN_MIN_TILE_MB of the budget. Sets lv->kv_mb. */
static impasto_status level_check(impasto_ctx *ctx, attn_level *lv, const impasto_image *const *styles,
                                  size_t nstyles, const impasto_attention_options *opt, int budget) {
    const int r = opt->patch / 2, min_side = lv->kind == TILE_NET_ADAIN ? ADAIN_MIN_SIDE : LST_MIN_SIDE;
    size_t nk = 0;
    for (size_t k = 0; k < nstyles; k++) {
        const int sh = styles[k]->height, sw = styles[k]->width;
        if (sh < min_side || sw < min_side)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style image %zu (%dx%d) is too small for the %s encoder (at "
                            "least %d pixels a side)", k + 1, sw, sh, lv->layer, min_side);
        const int fh = level_feature_side(lv, sh), fw = level_feature_side(lv, sw);
        if (fh < opt->patch || fw < opt->patch)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the %dx%d patch is larger than painting %zu's %s feature map "
                            "(%dx%d); use a smaller patch or a larger style size", opt->patch, opt->patch, k + 1,
                            lv->layer, fw, fh);
        nk += (size_t)(fh - 2 * r) * (size_t)(fw - 2 * r);
    }
    lv->kv_mb = 2 * nk * (size_t)lv->c * (size_t)opt->patch * (size_t)opt->patch * sizeof(float) >> 20;
    if ((size_t)budget < lv->kv_mb + ATTN_MIN_TILE_MB)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the paintings' %dx%d patches at %s would take %zu MB, too much "
                        "of the %d MB memory budget; lower the style size or the patch, or raise the budget",
                        opt->patch, opt->patch, lv->layer, lv->kv_mb, budget);
    /* The exact halo grows with the patch: fused(p) reads the queries of the patches covering p,
     * each of which reads the features r positions further, so 2 r positions more than the
     * encoder's and decoder's own halo. */
    const int halo = opt->tile_halo < 0 ? tile_exact_halo(lv->kind) + 2 * r * lv->scale : opt->tile_halo;
    return tile_plan_make(ctx, lv->kind, lv->h, lv->w, opt->tile, halo, budget - (int)lv->kv_mb, &lv->plan);
}

/* One level: x (3, lv->h, lv->w) -> y (the same), unclamped and checked finite. The paintings
 * are encoded and their keys built here, so only one level's keys are ever held. h, w: the
 * content's size, over which the mask is stretched. */
static impasto_status run_level(impasto_ctx *ctx, const attn_level *lv, const impasto_image *const *styles,
                                size_t nstyles, const impasto_attention_options *opt, int h, int w, const float *x,
                                tile_meter *meter, float *y) {
    impasto_status s = IMPASTO_OK;
    float **sf = calloc(nstyles, sizeof *sf);  // each painting's features (c, SFH, SFW)
    int *sfh = calloc(nstyles, sizeof *sfh), *sfw = calloc(nstyles, sizeof *sfw);
    int *region = NULL;                        // (FH, FW) with a mask
    float *keep = NULL;                        // a single tile's pass-1 features
    attn_keys *keys = NULL;
    attn_moments acc;
    memset(&acc, 0, sizeof acc);
    acc.c = lv->c;
    attn_job *job = calloc(1, sizeof *job);
    if (!sf || !sfh || !sfw || !job) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < nstyles && s == IMPASTO_OK; k++) {
        s = encode_style(ctx, lv, styles[k], k, &sf[k], &sfh[k], &sfw[k]);
        if (s == IMPASTO_OK) s = tile_meter_tick(ctx, meter, "style");
    }
    if (s == IMPASTO_OK)
        s = attn_keys_build(ctx, lv->c, opt->patch, (const float *const *)sf, sfh, sfw, nstyles, opt->style_weights,
                            &keys);
    for (size_t k = 0; k < nstyles && sf; k++) free(sf[k]), sf[k] = NULL;
    if (s == IMPASTO_OK && opt->mask) {
        if (!(region = malloc((size_t)lv->fh * (size_t)lv->fw * sizeof *region)))
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        else
            s = mask_regions(ctx, opt->mask, h, w, lv->scale, lv->fh, lv->fw, nstyles, region);
    }
    /* Pass 1: the content's moments over the whole image. */
    if (s == IMPASTO_OK) s = tile_features(ctx, lv->net, &lv->plan, x, moments_add, &acc, &keep, meter);
    if (s == IMPASTO_OK) {
        const double n = (double)acc.n, dof = acc.n > 1 ? n - 1 : 1.0;
        for (int c = 0; c < lv->c; c++) {
            const double var = (acc.s2[c] - acc.s1[c] * acc.s1[c] / n) / dof;
            job->mean[c] = acc.shift[c] + acc.s1[c] / n;
            job->sd[c] = sqrt((var > 0 ? var : 0.0) + (double)ADAIN_EPS);
            if (!isfinite(job->mean[c]) || !isfinite(job->sd[c]))
                s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "attention: the content's %s features hold NaN or "
                             "infinite values (the model's weights overflow on this picture)", lv->layer);
        }
    }
    /* Pass 2: encode, fuse, decode, tile by tile. */
    if (s == IMPASTO_OK) {
        job->keys = keys;
        job->opt = opt;
        job->region = region;
        job->fw = lv->fw;
        job->meter = meter;
        s = tile_stylize(ctx, lv->net, &lv->plan, x, keep, fuse_tile, job, y, meter);
        keep = NULL;
    }
    /* Before the caller clamps: a clamp would turn an overflow into plausible pixels. */
    if (s == IMPASTO_OK && !floats_all_finite(y, 3 * (size_t)lv->h * (size_t)lv->w))
        s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "attention at %s: the decoded picture holds NaN or infinite values "
                     "(the model's weights overflow on this picture)", lv->layer);
    free(keep);
    attn_keys_free(keys);
    free(sf), free(sfh), free(sfw), free(job), free(region);
    return s;
}

/* The models as the levels they give: relu4_1 (adain) then relu3_1 (lst); *n 1 or 2. */
static impasto_status levels_from_models(impasto_ctx *ctx, const impasto_model *adain, const impasto_model *lst,
                                         attn_level *lv, int *n) {
    *n = 0;
    if (!adain && !lst)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "attention needs a model: of kind 'adain' (relu4_1, impasto "
                        "convert adain) or 'lst-r31' (relu3_1, impasto convert lst-r31), or both");
    if (adain && !adain->adain)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "attention's relu4_1 level needs a model of kind 'adain' "
                        "(impasto convert adain); this one is of kind '%s'", adain->kind);
    if (lst && !lst->lst)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "attention's relu3_1 level needs a model of kind 'lst-r31' "
                        "(impasto convert lst-r31); this one is of kind '%s'", lst->kind);
    if (adain) {
        lv[*n] = (attn_level){.net = adain->adain, .kind = TILE_NET_ADAIN, .layer = "relu4_1", .c = ADAIN_FEAT_C,
                              .scale = 8};
        (*n)++;
    }
    if (lst) {
        lv[*n] = (attn_level){.net = lst->lst, .kind = TILE_NET_LST, .layer = "relu3_1", .c = LST_FEAT_C, .scale = 4};
        (*n)++;
    }
    return IMPASTO_OK;
}

/* impasto_attention inside its thread scope. */
static impasto_status attention_run(impasto_ctx *ctx, const impasto_model *adain, const impasto_model *lst,
                                    const impasto_image *content, const impasto_image *const *styles, size_t nstyles,
                                    const impasto_attention_options *opt, impasto_image **out) {
    attn_level lv[2];
    int nlv = 0;
    impasto_status s = levels_from_models(ctx, adain, lst, lv, &nlv);
    if (s != IMPASTO_OK) return s;
    if (!content || !styles) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "attention: no content or style image given");
    for (size_t k = 0; k < nstyles; k++)
        if (!styles[k]) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "attention: style image %zu is missing", k + 1);
    if ((s = check_options(ctx, nstyles, opt)) != IMPASTO_OK) return s;

    impasto_image *cscaled = NULL, *result = NULL;
    impasto_image **sscaled = calloc(nstyles, sizeof *sscaled);        // each painting resized, or NULL
    const impasto_image **ss = calloc(nstyles, sizeof *ss);            // the painting each level encodes
    float *x = NULL, *y = NULL;                                        // a level's input and output (3, h, w)
    tile_meter meter = {0};
    if (!sscaled || !ss) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK) s = planes_prepare(ctx, content, opt->content_size, 0, &cscaled);
    const impasto_image *cs = cscaled ? cscaled : content;
    const int h = cs->height, w = cs->width;
    if (s == IMPASTO_OK && (h < ADAIN_MIN_SIDE || w < ADAIN_MIN_SIDE))
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "a %dx%d image is too small for the encoder (at least %d pixels "
                     "a side)", w, h, ADAIN_MIN_SIDE);
    for (size_t k = 0; k < nstyles && s == IMPASTO_OK; k++) {
        s = planes_maybe_resize(ctx, styles[k], opt->style_size, &sscaled[k]);
        ss[k] = sscaled[k] ? sscaled[k] : styles[k];
    }
    /* Every level's checks and tile plan before any work, so a refusal costs nothing and the
     * progress total (per level: each painting, then each tile of the two passes with its
     * attention steps) is known. relu3_1 works on its input padded to multiples of 4. */
    const int budget = opt->memory_mb > 0 ? opt->memory_mb : TILE_DEFAULT_MEMORY_MB;
    int total = 0;
    for (int i = 0; i < nlv && s == IMPASTO_OK; i++) {
        lv[i].h = lv[i].kind == TILE_NET_LST ? (h + 3) / 4 * 4 : h;
        lv[i].w = lv[i].kind == TILE_NET_LST ? (w + 3) / 4 * 4 : w;
        lv[i].fh = level_feature_side(&lv[i], lv[i].h);
        lv[i].fw = level_feature_side(&lv[i], lv[i].w);
        s = level_check(ctx, &lv[i], ss, nstyles, opt, budget);
        total += (int)nstyles + tile_count(&lv[i].plan) * (2 + IMPASTO_ATTENTION_STEPS);
    }
    if (s == IMPASTO_OK) {
        tile_meter_start(&meter, opt->progress, opt->progress_user, nlv, total);
        if (!(x = planes_from_image(cs))) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    /* Coarse to fine, as impasto_wct: each level repaints the last one's picture, clamped. */
    for (int i = 0; i < nlv && s == IMPASTO_OK; i++) {
        if (lv[i].h != h || lv[i].w != w) {
            int ph, pw;
            float *xp = planes_pad_to_4(x, h, w, &ph, &pw);  // (3, H4, W4)
            free(x);
            if (!(x = xp)) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        }
        free(y);
        if (s == IMPASTO_OK && !(y = malloc(3 * (size_t)lv[i].h * (size_t)lv[i].w * sizeof *y)))
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        meter.p.level = i;
        if (s == IMPASTO_OK) s = run_level(ctx, &lv[i], ss, nstyles, opt, h, w, x, &meter, y);
        if (s == IMPASTO_OK && i + 1 < nlv) {
            /* The next level's input: this picture cropped to the content's size and clamped. */
            for (int c = 0; c < 3; c++)
                for (int yy = 0; yy < h; yy++)
                    for (int xx = 0; xx < w; xx++) {
                        const float v = y[((size_t)c * (size_t)lv[i].h + (size_t)yy) * (size_t)lv[i].w + (size_t)xx];
                        x[((size_t)c * (size_t)h + (size_t)yy) * (size_t)w + (size_t)xx] =
                            v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
                    }
        }
    }
    if (s == IMPASTO_OK) s = planes_to_image(ctx, y, lv[nlv - 1].h, lv[nlv - 1].w, cs, &result);
    free(x), free(y);
    for (size_t k = 0; k < nstyles && sscaled; k++) impasto_image_free(sscaled[k]);
    free(sscaled), free(ss);
    impasto_image_free(cscaled);
    if (s != IMPASTO_OK) {
        impasto_image_free(result);
        return s;
    }
    *out = result;
    return IMPASTO_OK;
}

impasto_status impasto_attention(impasto_ctx *ctx, const impasto_model *adain, const impasto_model *lst,
                                 const impasto_image *content, const impasto_image *const *styles, size_t nstyles,
                                 const impasto_attention_options *opt, impasto_image **out) {
    if (!out) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "attention: no place given for the result");
    *out = NULL;
    impasto_attention_options defaults;
    if (!opt) {
        impasto_attention_options_init(&defaults);
        opt = &defaults;
    }
    thread_scope ts;
    thread_scope_enter(&ts, ctx);
    impasto_status s = attention_run(ctx, adain, lst, content, styles, nstyles, opt, out);
    thread_scope_leave(&ts);
    return s;
}
