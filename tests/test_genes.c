/* Genes for breeding styles (impasto_genes): a painting's genes stand in for it in adain and wct,
 * save and load keep them, children are reproducible Dirichlet mixtures, and the reader refuses
 * hostile files with one message (the file is safetensors, whose own reader is fuzzed
 * (fuzz/fuzz_safetensors.c); these are the checks genes add on top of it: kind, encoder, shapes,
 * values).
 *
 * Tolerances: adain/wct from genes vs from the painting, 1e-4 absolute on the 0..1 picture (the
 * genes' moments come from the covariance pass in double and are stored as float32; AdaIN's
 * from its own pass: they differ by float rounding only). */
#include "core/ctx.h"
#include "formats/safetensors.h"
#include "methods/genes.h"
#include "models/model.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static impasto_model *adain;
static char dir[] = "/tmp/impasto_genes_XXXXXX";

static const char *tpath(const char *name) {
    static char buf[4][512];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static impasto_image *picture(impasto_ctx *ctx, int w, int h, unsigned long long seed) {
    impasto_image *img = NULL;
    CHECK(impasto_image_create(ctx, w, h, 3, &img) == IMPASTO_OK);
    float *d = impasto_image_data(img);
    unsigned long long st = seed;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < 3; k++)
                d[((size_t)y * w + x) * 3 + k] = 0.5f + 0.4f * sinf(0.13f * x * (k + 1) * (float)seed + 0.05f * y) +
                                                 test_uniform(&st, -0.08f, 0.08f);
    return img;
}

static double max_diff(const impasto_image *a, const impasto_image *b) {
    const float *x = impasto_image_cdata(a), *y = impasto_image_cdata(b);
    const size_t n = (size_t)impasto_image_width(a) * impasto_image_height(a) * impasto_image_channels(a);
    double e = 0;
    for (size_t i = 0; i < n; i++) e = fmax(e, fabs(x[i] - y[i]));
    return e;
}

/* adain and wct (one level) from a painting's genes paint what they paint from the painting, also
 * after the genes went through a file. */
static void test_genes_stand_for_painting(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *c = picture(ctx, 64, 48, 1), *s = picture(ctx, 56, 56, 2), *a = NULL, *b = NULL, *d = NULL;
    impasto_genes *g = NULL, *l = NULL;
    CHECK(impasto_genes_from_image(ctx, adain, s, 0, &g) == IMPASTO_OK);
    CHECK(impasto_genes_has_covariance(g));
    CHECK(impasto_genes_save(ctx, g, tpath("p.genes.safetensors")) == IMPASTO_OK);
    CHECK(impasto_genes_load(ctx, tpath("p.genes.safetensors"), &l) == IMPASTO_OK);
    impasto_adain_options opt;
    impasto_adain_options_init(&opt);
    opt.content_size = opt.style_size = 0;
    const impasto_image *styles[1] = {s}, *none[1] = {NULL};
    CHECK(impasto_adain(ctx, adain, c, styles, 1, &opt, &a) == IMPASTO_OK);
    const impasto_genes *gs[1] = {l};
    opt.style_genes = gs;
    CHECK(impasto_adain(ctx, adain, c, none, 1, &opt, &b) == IMPASTO_OK);
    if (a && b) {
        printf("  adain: genes file vs painting %.3g\n", max_diff(a, b));
        CHECK(max_diff(a, b) <= 1e-4);
    }
    opt.preserve_color = 1;
    impasto_image *e = NULL;
    CHECK(impasto_adain(ctx, adain, c, none, 1, &opt, &e) == IMPASTO_ERR_INVALID_ARG && !e);
    impasto_image_free(a), impasto_image_free(b);
    a = b = NULL;
    impasto_wct_options w;
    impasto_wct_options_init(&w);
    w.content_size = w.style_size = 0;
    CHECK(impasto_wct(ctx, adain, NULL, c, s, &w, &a) == IMPASTO_OK);
    w.style_genes = l;
    CHECK(impasto_wct(ctx, adain, NULL, c, NULL, &w, &b) == IMPASTO_OK);
    if (a && b) {
        printf("  wct relu4_1: genes file vs painting %.3g\n", max_diff(a, b));
        CHECK(max_diff(a, b) <= 1e-4);
    }
    /* Two levels need the painting; genes without a covariance are adain's alone. */
    CHECK(impasto_wct(ctx, adain, adain, c, NULL, &w, &d) == IMPASTO_ERR_INVALID_ARG && !d);
    free(l->cov);
    l->cov = NULL;
    CHECK(impasto_wct(ctx, adain, NULL, c, NULL, &w, &d) == IMPASTO_ERR_INVALID_ARG && !d);
    CHECK(strstr(impasto_ctx_error(ctx), "no covariance") != NULL);
    impasto_image_free(a), impasto_image_free(b), impasto_image_free(c), impasto_image_free(s);
    impasto_genes_free(g), impasto_genes_free(l);
    impasto_ctx_free(ctx);
}

/* Children: reproducible per (seed, child), Dirichlet weights summing to 1, a child of one parent
 * without mutation is that parent, and a mutation changes the deviations by about its spread. */
static void test_breed(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *s1 = picture(ctx, 48, 48, 3), *s2 = picture(ctx, 48, 40, 4), *s3 = picture(ctx, 40, 48, 5);
    impasto_genes *p[3] = {NULL, NULL, NULL}, *a = NULL, *b = NULL, *c = NULL, *same = NULL;
    CHECK(impasto_genes_from_image(ctx, adain, s1, 0, &p[0]) == IMPASTO_OK);
    CHECK(impasto_genes_from_image(ctx, adain, s2, 0, &p[1]) == IMPASTO_OK);
    CHECK(impasto_genes_from_image(ctx, adain, s3, 0, &p[2]) == IMPASTO_OK);
    const impasto_genes *const *pp = (const impasto_genes *const *)p;
    CHECK(impasto_genes_breed(ctx, pp, 3, 42, 3, 0.1, &a) == IMPASTO_OK);
    CHECK(impasto_genes_breed(ctx, pp, 3, 42, 3, 0.1, &b) == IMPASTO_OK);
    CHECK(impasto_genes_breed(ctx, pp, 3, 42, 4, 0.1, &c) == IMPASTO_OK);
    if (a && b && c) {
        CHECK(memcmp(a->mean, b->mean, 512 * sizeof(double)) == 0 && memcmp(a->cov, b->cov, 512 * 512 * sizeof(double)) == 0);
        CHECK(memcmp(a->mean, c->mean, 512 * sizeof(double)) != 0);
        const double *w = NULL;
        CHECK(impasto_genes_weights(a, &w) == 3);
        double sum = 0;
        for (int k = 0; k < 3; k++) {
            CHECK(w[k] > 0 && w[k] < 1);
            sum += w[k];
        }
        CHECK_NEAR(sum, 1.0, 1e-12);
        /* Without the mutation's factor, the deviation is the weighted mean of the parents'. */
        double logr = 0, logr2 = 0;
        for (int ch = 0; ch < 512; ch++) {
            double mix = 0;
            for (int k = 0; k < 3; k++) mix += w[k] * p[k]->std[ch];
            const double r = log(a->std[ch] / mix);
            logr += r / 512, logr2 += r * r / 512;
        }
        printf("  weights %.3f %.3f %.3f; log deviation ratio mean %.3f, spread %.3f (mutation 0.1)\n", w[0], w[1], w[2],
               logr, sqrt(logr2 - logr * logr));
        CHECK(fabs(logr) < 0.03 && fabs(sqrt(logr2 - logr * logr) - 0.1) < 0.02);
    }
    CHECK(impasto_genes_breed(ctx, pp, 1, 7, 1, 0.0, &same) == IMPASTO_OK);
    if (same) {
        double e = 0;
        for (int ch = 0; ch < 512; ch++) e = fmax(e, fabs(same->mean[ch] - p[0]->mean[ch]) + fabs(same->std[ch] - p[0]->std[ch]));
        for (size_t i = 0; i < 512 * 512; i++) e = fmax(e, fabs(same->cov[i] - p[0]->cov[i]));
        CHECK(e == 0);
    }
    impasto_genes *bad = NULL;
    CHECK(impasto_genes_breed(ctx, pp, 0, 1, 1, 0.1, &bad) == IMPASTO_ERR_INVALID_ARG && !bad);
    CHECK(impasto_genes_breed(ctx, pp, 3, 1, 1, 2.0, &bad) == IMPASTO_ERR_INVALID_ARG && !bad);
    /* A parent from another encoder. */
    p[1]->encoder[0] = p[1]->encoder[0] == 'a' ? 'b' : 'a';
    CHECK(impasto_genes_breed(ctx, pp, 3, 1, 1, 0.1, &bad) == IMPASTO_ERR_INVALID_ARG && !bad);
    /* ... and as a style. */
    impasto_image *out = NULL;
    const impasto_image *none[1] = {NULL};
    const impasto_genes *gs[1] = {p[1]};
    impasto_adain_options opt;
    impasto_adain_options_init(&opt);
    opt.content_size = 0;
    opt.style_genes = gs;
    CHECK(impasto_adain(ctx, adain, s1, none, 1, &opt, &out) == IMPASTO_ERR_INVALID_ARG && !out);
    CHECK(strstr(impasto_ctx_error(ctx), "another encoder") != NULL);
    for (int k = 0; k < 3; k++) impasto_genes_free(p[k]);
    impasto_genes_free(a), impasto_genes_free(b), impasto_genes_free(c), impasto_genes_free(same);
    impasto_image_free(s1), impasto_image_free(s2), impasto_image_free(s3);
    impasto_ctx_free(ctx);
}

/* A genes-like file with the given tensors' first values changed, metadata, shapes. */
static void write_genes(const char *path, int n_mean, float mean0, float std0, int cov, float cov01,
                        const char *format, const char *encoder, const char *md5) {
    static float mean[512], sd[512], cv[512 * 512];
    for (int i = 0; i < 512; i++) mean[i] = 0.5f, sd[i] = 1.0f;
    memset(cv, 0, sizeof cv);
    for (int i = 0; i < 512; i++) cv[i * 512 + i] = 1.0f;
    mean[0] = mean0;
    sd[0] = std0;
    cv[1] = cov01;
    st_write_tensor t[3] = {{"mean", 1, {n_mean}, mean}, {"std", 1, {512}, sd}, {"cov", 2, {512, 512}, cv}};
    const char *meta[6] = {"format", format, "encoder", encoder, "encoder_md5", md5};
    CHECK(safetensors_write(NULL, path, t, cov ? 3 : 2, meta, 3) == IMPASTO_OK);
}

static void expect_refused(impasto_ctx *ctx, const char *name, const char *pattern) {
    impasto_genes *g = NULL;
    impasto_status s = impasto_genes_load(ctx, tpath(name), &g);
    CHECK_MSG(s == IMPASTO_ERR_FORMAT && !g && strstr(impasto_ctx_error(ctx), pattern), "%s: status %d, '%s'", name, s,
              impasto_ctx_error(ctx));
    if (s != IMPASTO_OK) printf("  %s: %s\n", name, impasto_ctx_error(ctx));
    impasto_genes_free(g);
}

static void test_hostile_files(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    const char *md5 = "0123456789abcdef0123456789abcdef";
    write_genes(tpath("ok.safetensors"), 512, 0.5f, 1.0f, 1, 0.0f, "impasto-genes", "adain-relu4_1", md5);
    impasto_genes *g = NULL;
    CHECK(impasto_genes_load(ctx, tpath("ok.safetensors"), &g) == IMPASTO_OK && impasto_genes_has_covariance(g));
    impasto_genes_free(g);
    write_genes(tpath("kind.safetensors"), 512, 0.5f, 1.0f, 1, 0.0f, "something-else", "adain-relu4_1", md5);
    expect_refused(ctx, "kind.safetensors", "is not a genes file");
    write_genes(tpath("encoder.safetensors"), 512, 0.5f, 1.0f, 1, 0.0f, "impasto-genes", "vgg19-relu5_1", md5);
    expect_refused(ctx, "encoder.safetensors", "genes of encoder 'vgg19-relu5_1'");
    write_genes(tpath("md5.safetensors"), 512, 0.5f, 1.0f, 1, 0.0f, "impasto-genes", "adain-relu4_1", "xyz");
    expect_refused(ctx, "md5.safetensors", "MD5");
    write_genes(tpath("shape.safetensors"), 256, 0.5f, 1.0f, 1, 0.0f, "impasto-genes", "adain-relu4_1", md5);
    expect_refused(ctx, "shape.safetensors", "mean");
    write_genes(tpath("std.safetensors"), 512, 0.5f, -1.0f, 1, 0.0f, "impasto-genes", "adain-relu4_1", md5);
    expect_refused(ctx, "std.safetensors", "deviation -1");
    write_genes(tpath("nan.safetensors"), 512, NAN, 1.0f, 1, 0.0f, "impasto-genes", "adain-relu4_1", md5);
    expect_refused(ctx, "nan.safetensors", "nan.safetensors");
    write_genes(tpath("cov.safetensors"), 512, 0.5f, 1.0f, 1, 0.3f, "impasto-genes", "adain-relu4_1", md5);
    expect_refused(ctx, "cov.safetensors", "not symmetric");
    /* A model given for genes, a truncated file, a picture. */
    if (access("models/adain.safetensors", R_OK) == 0) {
        impasto_genes *m = NULL;
        CHECK(impasto_genes_load(ctx, "models/adain.safetensors", &m) == IMPASTO_ERR_FORMAT && !m);
        CHECK(strstr(impasto_ctx_error(ctx), "a model of kind 'adain'") != NULL);
    }
    FILE *f = fopen(tpath("ok.safetensors"), "rb"), *o = fopen(tpath("trunc.safetensors"), "wb");
    char buf[3000];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (o) fwrite(buf, 1, n, o);
    if (f) fclose(f);
    if (o) fclose(o);
    expect_refused(ctx, "trunc.safetensors", "trunc.safetensors");
    if (access("examples/images/horses.jpg", R_OK) == 0) {
        impasto_genes *m = NULL;
        CHECK(impasto_genes_load(ctx, "examples/images/horses.jpg", &m) == IMPASTO_ERR_FORMAT && !m);
    }
    impasto_ctx_free(ctx);
}

int main(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    struct stat st;
    if (!mkdtemp(dir)) return 1;
    if (stat("models/adain.safetensors", &st) == 0 && impasto_model_load(ctx, "models/adain.safetensors", &adain) != IMPASTO_OK) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        test_failed_count++;
    }
    if (adain) {
        RUN(test_genes_stand_for_painting);
        RUN(test_breed);
    } else {
        printf("skipped the model tests (no models/adain.safetensors)\n");
    }
    RUN(test_hostile_files);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    impasto_model_free(adain);
    impasto_ctx_free(ctx);
    return test_summary();
}
