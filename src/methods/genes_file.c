/* Genes files (impasto_genes_load / impasto_genes_save, include/impasto.h): the safetensors
 * reader and writer, apart from the maths of genes.c so the reader can be fuzzed on its own
 * (fuzz/fuzz_genes.c).
 *
 * File (safetensors, F32): "mean" (512), "std" (512), "cov" (512, 512) optional; metadata
 *   format "impasto-genes", encoder "adain-relu4_1", encoder_md5 (models/adain.h's fingerprint),
 *   and for a child, "weights" (its parents' Dirichlet weights, %.6f, comma-separated) and "seed". */
#include "core/ctx.h"
#include "formats/safetensors.h"
#include "methods/genes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void impasto_genes_free(impasto_genes *g) {
    if (!g) return;
    free(g->mean);
    free(g->std);
    free(g->cov);
    free(g->weights);
    free(g);
}

impasto_genes *genes_alloc(int with_cov) {
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

/* A child's "weights" (a comma list of up to IMPASTO_GENES_MAX_PARENTS numbers >= 0) and "seed"
 * from the metadata into g; absent (a painting's genes): none. */
static impasto_status parse_weights(impasto_ctx *ctx, const safetensors *st, const char *path, impasto_genes *g) {
    const char *w = safetensors_meta(st, "weights"), *seed = safetensors_meta(st, "seed");
    if (!w || !*w) return IMPASTO_OK;
    double v[IMPASTO_GENES_MAX_PARENTS];
    size_t n = 0;
    for (const char *p = w;;) {
        char *end = NULL;
        const double x = strtod(p, &end);
        if (end == p || !(x >= 0 && x <= 1) || n == IMPASTO_GENES_MAX_PARENTS || (*end != ',' && *end != '\0'))
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: its \"weights\" are not up to %d numbers 0 .. 1 separated "
                            "by commas", path, IMPASTO_GENES_MAX_PARENTS);
        v[n++] = x;
        if (*end == '\0') break;
        p = end + 1;
    }
    if (!(g->weights = malloc(n * sizeof *g->weights))) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    memcpy(g->weights, v, n * sizeof *v);
    g->nweights = n;
    g->seed = seed ? strtoull(seed, NULL, 10) : 0;
    return IMPASTO_OK;
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
    if (s == IMPASTO_OK) s = parse_weights(ctx, st, path, g);
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
