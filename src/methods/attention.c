/* impasto_attention: feature fusion by attention (see include/impasto.h and docs/attention.md).
 *
 *   f_c = E(content) (512, FH, FW),  f_k = E(painting k) (512, SFH_k, SFW_k)      relu4_1
 *   c^ = (f_c - mu_c) / sd_c,  s^_k = (f_k - mu_k) / sd_k     per channel (SANet's mean_variance_norm)
 *   keys   K_j = the N x N patch j of some s^_k, made unit length         (d = 512 N^2, nk patches)
 *   values V_j = the same patch of f_k
 *   query  Q_i = the N x N patch of c^ centred on position i (zeros outside the map), unit length
 *   R_i = sum_j softmax_j(<Q_i, K_j> / T + ln w_k(j)) V_j         (hard: V of the arg max)
 *   fused(p) = the mean over the patches i covering p of R_i's entry at p (Chen & Schmidt's
 *              averaging of overlapping patches)
 *   f' = alpha fused + (1 - alpha) f_c,   out = clamp(D(f'), 0, 1) cropped to the content's size
 * Tiled as adain.c: pass 1 gathers the content's moments over the whole image, pass 2 encodes,
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
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the %dx%d patch is larger than painting %zu's relu4_1 feature "
                            "map (%dx%d); use a smaller patch or a larger style size", patch, patch, s + 1, fw[s], fh[s]);
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
    int started;
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
    for (int c = 0; c < ADAIN_FEAT_C; c++) {
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
    if (!(opt->alpha >= 0 && opt->alpha <= 1))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "alpha must be between 0 and 1");
    if (!(opt->temperature >= ATTN_MIN_TEMPERATURE && opt->temperature <= ATTN_MAX_TEMPERATURE))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the temperature must be between %g and %g (greater than 0), "
                        "not %g", ATTN_MIN_TEMPERATURE, ATTN_MAX_TEMPERATURE, opt->temperature);
    if (opt->patch < 1 || opt->patch > ATTN_MAX_PATCH || opt->patch % 2 == 0)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the patch side must be odd, 1 .. %d, not %d", ATTN_MAX_PATCH,
                        opt->patch);
    if (opt->content_size < 0 || opt->content_size > IMPASTO_MAX_SIDE || opt->style_size < 0 ||
        opt->style_size > IMPASTO_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "content and style sizes must be 0 (keep) .. %d", IMPASTO_MAX_SIDE);
    impasto_status ts = tile_check_options(ctx, opt->tile, opt->tile_halo, opt->memory_mb);
    if (ts != IMPASTO_OK) return ts;
    if (opt->style_weights) {
        double sum = 0;
        for (size_t i = 0; i < nstyles; i++) {
            if (!(opt->style_weights[i] >= 0) || !isfinite(opt->style_weights[i]))
                return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style weights must be finite and not negative");
            sum += opt->style_weights[i];
        }
        if (!(sum > 0)) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style weights sum to zero");
        if (opt->mask)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "a mask gives each style its own region: no style weights");
    }
    return IMPASTO_OK;
}

/* Painting k resized and encoded whole: *f (512, *fh, *fw), malloc'd, checked finite. */
static impasto_status encode_style(impasto_ctx *ctx, const adain_net *net, const impasto_image *style, int side,
                                   size_t k, float **f, int *fh, int *fw) {
    impasto_image *scaled = NULL;
    impasto_status s = planes_maybe_resize(ctx, style, side, &scaled);
    if (s != IMPASTO_OK) return s;
    const impasto_image *st = scaled ? scaled : style;
    float *x = NULL;  // (3, SH, SW)
    if (st->height < ADAIN_MIN_SIDE || st->width < ADAIN_MIN_SIDE)
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style image %zu (%dx%d) is too small for the encoder (at least %d "
                     "pixels a side)", k + 1, st->width, st->height, ADAIN_MIN_SIDE);
    else if (!(x = planes_from_image(st)))
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK) s = adain_encode(ctx, net, x, st->height, st->width, f, fh, fw);
    if (s == IMPASTO_OK && !floats_all_finite(*f, (size_t)ADAIN_FEAT_C * (size_t)*fh * (size_t)*fw)) {
        free(*f);
        *f = NULL;
        s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "attention: the relu4_1 features of style image %zu hold NaN or "
                     "infinite values (the model's weights overflow on this picture)", k + 1);
    }
    free(x);
    impasto_image_free(scaled);
    return s;
}

/* impasto_attention inside its thread scope. */
static impasto_status attention_run(impasto_ctx *ctx, const impasto_model *adain, const impasto_image *content,
                                    const impasto_image *const *styles, size_t nstyles,
                                    const impasto_attention_options *opt, impasto_image **out) {
    if (!adain || !adain->adain)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "attention needs a model of kind 'adain' (impasto convert adain); "
                        "%s%s%s", adain ? "this one is of kind '" : "none was given", adain ? adain->kind : "",
                        adain ? "'" : "");
    if (!content || !styles) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "attention: no content or style image given");
    for (size_t k = 0; k < nstyles; k++)
        if (!styles[k]) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "attention: style image %zu is missing", k + 1);
    impasto_status s = check_options(ctx, nstyles, opt);
    if (s != IMPASTO_OK) return s;

    const adain_net *net = adain->adain;
    impasto_image *cscaled = NULL, *result = NULL;
    float *xc = NULL, *keep = NULL, *y = NULL;  // (3, H, W), a single tile's features, (3, H, W)
    int *region = NULL;                         // (FH, FW) with a mask
    float **sf = calloc(nstyles, sizeof *sf);   // each painting's features (512, SFH, SFW)
    int *sfh = calloc(nstyles, sizeof *sfh), *sfw = calloc(nstyles, sizeof *sfw);
    attn_keys *keys = NULL;
    attn_moments acc;
    memset(&acc, 0, sizeof acc);
    attn_job *job = calloc(1, sizeof *job);
    tile_plan plan;
    tile_meter meter = {0};
    if (!sf || !sfh || !sfw || !job) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK) s = planes_prepare(ctx, content, opt->content_size, 0, &cscaled);
    const impasto_image *cs = cscaled ? cscaled : content;
    const int h = cs->height, w = cs->width, fh = (h + 7) / 8, fw = (w + 7) / 8;
    if (s == IMPASTO_OK && (h < ADAIN_MIN_SIDE || w < ADAIN_MIN_SIDE))
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "a %dx%d image is too small for the encoder (at least %d pixels "
                     "a side)", w, h, ADAIN_MIN_SIDE);
    /* The paintings first: their patches are a fixed part of the memory the tiles must share. */
    for (size_t k = 0; k < nstyles && s == IMPASTO_OK; k++)
        s = encode_style(ctx, net, styles[k], opt->style_size, k, &sf[k], &sfh[k], &sfw[k]);
    /* The keys and values (2 x 4 d bytes a patch) before they are made: they must leave the
     * tiles ATTN_MIN_TILE_MB of the budget. */
    const int budget = opt->memory_mb > 0 ? opt->memory_mb : TILE_DEFAULT_MEMORY_MB;
    size_t kv_mb = 0;
    if (s == IMPASTO_OK) {
        const int r = opt->patch / 2;
        size_t nk = 0;
        for (size_t k = 0; k < nstyles; k++)
            if (sfh[k] >= opt->patch && sfw[k] >= opt->patch) nk += (size_t)(sfh[k] - 2 * r) * (size_t)(sfw[k] - 2 * r);
        kv_mb = 2 * nk * (size_t)ADAIN_FEAT_C * (size_t)opt->patch * (size_t)opt->patch * sizeof(float) >> 20;
        if ((size_t)budget < kv_mb + ATTN_MIN_TILE_MB)
            s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the paintings' %dx%d patches would take %zu MB, too much of "
                         "the %d MB memory budget; lower the style size or the patch, or raise the budget", opt->patch,
                         opt->patch, kv_mb, budget);
    }
    if (s == IMPASTO_OK)
        s = attn_keys_build(ctx, ADAIN_FEAT_C, opt->patch, (const float *const *)sf, sfh, sfw, nstyles,
                            opt->style_weights, &keys);
    for (size_t k = 0; k < nstyles && sf; k++) free(sf[k]), sf[k] = NULL;
    if (s == IMPASTO_OK)
        s = tile_plan_make(ctx, TILE_NET_ADAIN, h, w, opt->tile, opt->tile_halo, budget - (int)kv_mb, &plan);
    /* The units: each painting (counted here, encoded above), then each tile of pass 1, then
     * each tile of pass 2 with its attention steps. */
    if (s == IMPASTO_OK) {
        tile_meter_start(&meter, opt->progress, opt->progress_user, 1,
                         (int)nstyles + tile_count(&plan) * (2 + IMPASTO_ATTENTION_STEPS));
        for (size_t k = 0; k < nstyles && s == IMPASTO_OK; k++) s = tile_meter_tick(ctx, &meter, "style");
    }
    if (s == IMPASTO_OK && (!(xc = planes_from_image(cs)) || !(y = malloc(3 * (size_t)h * (size_t)w * sizeof *y))))
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (s == IMPASTO_OK && opt->mask) {
        if (!(region = malloc((size_t)fh * (size_t)fw * sizeof *region))) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        else s = mask_regions(ctx, opt->mask, h, w, 8, fh, fw, nstyles, region);
    }
    /* Pass 1: the content's moments over the whole image. */
    if (s == IMPASTO_OK) s = tile_features(ctx, net, &plan, xc, moments_add, &acc, &keep, &meter);
    if (s == IMPASTO_OK) {
        const double n = (double)acc.n, dof = acc.n > 1 ? n - 1 : 1.0;
        for (int c = 0; c < ADAIN_FEAT_C; c++) {
            const double var = (acc.s2[c] - acc.s1[c] * acc.s1[c] / n) / dof;
            job->mean[c] = acc.shift[c] + acc.s1[c] / n;
            job->sd[c] = sqrt((var > 0 ? var : 0.0) + (double)ADAIN_EPS);
            if (!isfinite(job->mean[c]) || !isfinite(job->sd[c]))
                s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "attention: the content's relu4_1 features hold NaN or "
                             "infinite values (the model's weights overflow on this picture)");
        }
    }
    /* Pass 2: encode, fuse, decode, tile by tile. */
    if (s == IMPASTO_OK) {
        job->keys = keys;
        job->opt = opt;
        job->region = region;
        job->fw = fw;
        job->meter = &meter;
        s = tile_stylize(ctx, net, &plan, xc, keep, fuse_tile, job, y, &meter);
        keep = NULL;
    }
    if (s == IMPASTO_OK && !floats_all_finite(y, 3 * (size_t)h * (size_t)w))
        s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "attention: the decoded picture holds NaN or infinite values (the "
                     "model's weights overflow on this picture)");
    if (s == IMPASTO_OK) s = planes_to_image(ctx, y, h, w, cs, &result);
    free(keep);
    attn_keys_free(keys);
    free(sf), free(sfh), free(sfw), free(job), free(region), free(y), free(xc);
    impasto_image_free(cscaled);
    if (s != IMPASTO_OK) {
        impasto_image_free(result);
        return s;
    }
    *out = result;
    return IMPASTO_OK;
}

impasto_status impasto_attention(impasto_ctx *ctx, const impasto_model *adain, const impasto_image *content,
                                 const impasto_image *const *styles, size_t nstyles,
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
    impasto_status s = attention_run(ctx, adain, content, styles, nstyles, opt, out);
    thread_scope_leave(&ts);
    return s;
}
