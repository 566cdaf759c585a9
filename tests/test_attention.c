/* Attention fusion (impasto_attention): the streaming softmax against the whole-matrix one, the
 * fused features against numpy (tests/data/attention_golden.safetensors from
 * tools/gen_golden_attention.py), a picture's attention over itself at low temperature, a flat
 * colour painting, tiling, progress and cancel, and bad options.
 *
 * Tolerances:
 * - streaming vs whole matrix (both float scores, the reference's softmax in double): 1e-5 of
 *   max |v| (a different order of float sums; a wrong rescaling is off by order 1).
 * - fused features vs numpy float64: 1e-4 of max |ref| (float32 GEMM over 8 N^2 terms and an
 *   exp of scores up to 1/T = 20).
 * - a picture over itself at T 1e-4 vs the same picture at alpha 0: 1e-5 absolute on the 0..1
 *   output (the other patches' weights are below e^-100).
 * - a flat painting: 1e-5 against its own features decoded on the photo's map; its mean colour
 *   within 0.07 of the painting's on each channel (the AdaIN autoencoder's own error on a flat
 *   picture: measured 0.036, 0.059, 0.050).
 * - tiled vs untiled with the exact halo: 2e-4 max, as tests/test_tile.c for AdaIN. */
#include "core/ctx.h"
#include "core/image.h"
#include "formats/safetensors.h"
#include "methods/attention.h"
#include "models/model.h"
#include "nn/nn.h"
#include "test.h"

#include <sys/stat.h>

#define GOLDEN "tests/data/attention_golden.safetensors"

static safetensors *golden;
static impasto_model *adain;

/* The whole score matrix at once, softmax in double: out (nq, dv). */
static void whole_matrix(size_t nq, size_t d, const float *q, size_t nk, const float *k, size_t dv, const float *v,
                         const float *bias, float inv_t, int hard, double *out) {
    double *s = malloc(nq * nk * sizeof *s);
    for (size_t i = 0; i < nq; i++)
        for (size_t j = 0; j < nk; j++) {
            double dot = 0;
            for (size_t c = 0; c < d; c++) dot += (double)q[c * nq + i] * k[c * nk + j];
            s[i * nk + j] = inv_t * dot + (bias ? bias[j] : 0);
        }
    for (size_t i = 0; i < nq; i++) {
        double mx = -INFINITY, sum = 0;
        size_t arg = 0;
        for (size_t j = 0; j < nk; j++)
            if (s[i * nk + j] > mx) mx = s[i * nk + j], arg = j;
        for (size_t j = 0; j < nk; j++) sum += s[i * nk + j] = hard ? (j == arg) : exp(s[i * nk + j] - mx);
        for (size_t c = 0; c < dv; c++) {
            double a = 0;
            for (size_t j = 0; j < nk; j++) a += s[i * nk + j] * v[c * nk + j];
            out[i * dv + c] = a / sum;
        }
    }
    free(s);
}

static void streaming_case(float inv_t, int hard, int with_bias) {
    unsigned long long st = 77 + (unsigned long long)hard;
    const size_t nq = 37, d = 16, nk = 203, dv = 5;
    float *q = malloc(d * nq * sizeof *q), *k = malloc(d * nk * sizeof *k), *v = malloc(dv * nk * sizeof *v);
    float *bias = malloc(nk * sizeof *bias), *out = malloc(nq * dv * sizeof *out);
    double *ref = malloc(nq * dv * sizeof *ref);
    for (size_t i = 0; i < d * nq; i++) q[i] = test_uniform(&st, -1, 1);
    for (size_t i = 0; i < d * nk; i++) k[i] = test_uniform(&st, -1, 1);
    for (size_t i = 0; i < dv * nk; i++) v[i] = test_uniform(&st, -3, 3);
    for (size_t j = 0; j < nk; j++) bias[j] = j % 5 == 0 ? -INFINITY : test_uniform(&st, -2, 0);
    whole_matrix(nq, d, q, nk, k, dv, v, with_bias ? bias : NULL, inv_t, hard, ref);
    const size_t blocks[] = {0, 1, 7, 64, 203, 500};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        CHECK(attention_forward(nq, d, q, nq, nk, k, nk, dv, v, nk, with_bias ? bias : NULL, inv_t, hard, blocks[b],
                                out) == 0);
        double err = 0;
        for (size_t i = 0; i < nq * dv; i++) err = fmax(err, fabs(out[i] - ref[i]));
        CHECK_MSG(err <= 3e-5, "inv_t %g hard %d bias %d key block %zu: max error %g", inv_t, hard, with_bias,
                  blocks[b], err);
    }
    free(q), free(k), free(v), free(bias), free(out), free(ref);
}

/* The streaming softmax equals the whole-matrix one for any key block, at temperatures where
 * the maximum moves between blocks and where exp would overflow without the running maximum. */
static void test_streaming_softmax(void) {
    streaming_case(1.0f, 0, 0);
    streaming_case(1.0f, 0, 1);
    streaming_case(200.0f, 0, 1);  /* scores up to ~3000: exp overflows unless shifted */
    streaming_case(5.0f, 1, 1);
}

static float *golden_get(const char *name, const st_tensor **t) {
    *t = safetensors_find(golden, name);
    CHECK_MSG(*t != NULL, "golden tensor %s", name);
    if (!*t) return NULL;
    float *v = malloc((*t)->nelem * sizeof *v);
    CHECK(safetensors_get_f32(NULL, golden, name, (*t)->ndim, (*t)->shape, v) == IMPASTO_OK);
    return v;
}

/* mean, sqrt(unbiased var + eps) per channel of f (c, n), in double. */
static void moments(int c, size_t n, const float *f, double *mean, double *sd) {
    for (int ch = 0; ch < c; ch++) {
        double s = 0, ss = 0;
        for (size_t i = 0; i < n; i++) s += f[(size_t)ch * n + i];
        mean[ch] = s / (double)n;
        for (size_t i = 0; i < n; i++) ss += (f[(size_t)ch * n + i] - mean[ch]) * (f[(size_t)ch * n + i] - mean[ch]);
        sd[ch] = sqrt(ss / (double)(n - 1) + ADAIN_EPS);
    }
}

static void golden_case(const char *name, int patch, double t, int hard, double alpha, const double *weights,
                        int masked) {
    impasto_ctx *ctx = impasto_ctx_create();
    const st_tensor *tc, *t0, *t1, *tr, *to;
    float *c = golden_get("content", &tc), *s0 = golden_get("style0", &t0), *s1 = golden_get("style1", &t1);
    float *rf = golden_get("region", &tr), *ref = golden_get(name, &to);
    if (c && s0 && s1 && rf && ref) {
        const int ch = (int)tc->shape[0], fh = (int)tc->shape[1], fw = (int)tc->shape[2];
        const float *feats[2] = {s0, s1};
        const int sh[2] = {(int)t0->shape[1], (int)t1->shape[1]}, sw[2] = {(int)t0->shape[2], (int)t1->shape[2]};
        int region[64];
        for (int i = 0; i < fh * fw; i++) region[i] = (int)rf[i];
        attn_keys *keys = NULL;
        double mean[8], sd[8];
        moments(ch, (size_t)fh * (size_t)fw, c, mean, sd);
        CHECK(attn_keys_build(ctx, ch, patch, feats, sh, sw, 2, weights, &keys) == IMPASTO_OK);
        if (keys) {
            CHECK(attn_fuse(ctx, keys, mean, sd, t, hard, alpha, masked ? region : NULL, c, fh, fw, NULL) == IMPASTO_OK);
            double mr = 0, me = 0;
            for (size_t i = 0; i < to->nelem; i++) {
                mr = fmax(mr, fabs(ref[i]));
                me = fmax(me, fabs((double)c[i] - ref[i]));
            }
            printf("  %-8s max|ref| %8.4g  max err %8.3g\n", name, mr, me);
            CHECK_MSG(me <= 1e-4 * mr, "%s: max error %g", name, me);
        }
        attn_keys_free(keys);
    }
    free(c), free(s0), free(s1), free(rf), free(ref);
    impasto_ctx_free(ctx);
}

static void test_golden_fusion(void) {
    const double w[2] = {0.3, 0.7};
    golden_case("out_p1", 1, 0.1, 0, 0.8, w, 0);
    golden_case("out_p3", 3, 0.05, 0, 1.0, NULL, 0);
    golden_case("out_hard", 3, 1.0, 1, 1.0, NULL, 0);
    golden_case("out_mask", 1, 0.2, 0, 1.0, NULL, 1);
}

/* Features attending over themselves at a low temperature come back unchanged. */
static void test_self_features(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    unsigned long long st = 9;
    const int c = 16, fh = 9, fw = 10;
    const size_t n = (size_t)c * fh * fw;
    float *f = malloc(n * sizeof *f), *g = malloc(n * sizeof *g);
    for (size_t i = 0; i < n; i++) f[i] = g[i] = fmaxf(test_uniform(&st, -1, 2), 0.0f);
    double mean[16], sd[16];
    moments(c, (size_t)fh * fw, f, mean, sd);
    attn_keys *keys = NULL;
    const float *feats[1] = {f};
    CHECK(attn_keys_build(ctx, c, 1, feats, &fh, &fw, 1, NULL, &keys) == IMPASTO_OK);
    if (keys) CHECK(attn_fuse(ctx, keys, mean, sd, 1e-3, 0, 1.0, NULL, g, fh, fw, NULL) == IMPASTO_OK);
    double err = 0;
    for (size_t i = 0; i < n; i++) err = fmax(err, fabs(g[i] - f[i]));
    printf("  max |fused - own| %.3g\n", err);
    CHECK(err <= 1e-5);
    attn_keys_free(keys);
    free(f), free(g);
    impasto_ctx_free(ctx);
}

static impasto_image *picture(impasto_ctx *ctx, int w, int h, unsigned long long seed) {
    impasto_image *img = NULL;
    CHECK(impasto_image_create(ctx, w, h, 3, &img) == IMPASTO_OK);
    float *d = impasto_image_data(img);
    unsigned long long st = seed;
    /* Smooth shapes with some noise: features that differ from position to position. */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < 3; k++)
                d[((size_t)y * w + x) * 3 + k] = 0.5f + 0.35f * sinf(0.11f * x * (k + 1) + 0.07f * y) * cosf(0.05f * y * (3 - k)) +
                                                 test_uniform(&st, -0.1f, 0.1f);
    return img;
}

static double max_diff(const impasto_image *a, const impasto_image *b) {
    const float *x = impasto_image_cdata(a), *y = impasto_image_cdata(b);
    const size_t n = (size_t)impasto_image_width(a) * impasto_image_height(a) * impasto_image_channels(a);
    double e = 0;
    for (size_t i = 0; i < n; i++) e = fmax(e, fabs(x[i] - y[i]));
    return e;
}

/* A picture attending over itself at T 1e-4 paints its own features: the alpha-0 picture. */
static void test_self_picture(void) {
    if (!adain) {
        printf("  skipped (no models/adain.safetensors)\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *p = picture(ctx, 72, 56, 3), *a = NULL, *b = NULL;
    const impasto_image *styles[1] = {p};
    impasto_attention_options opt;
    impasto_attention_options_init(&opt);
    opt.content_size = opt.style_size = 0;
    opt.temperature = 1e-4;
    CHECK(impasto_attention(ctx, adain, p, styles, 1, &opt, &a) == IMPASTO_OK);
    opt.alpha = 0;
    CHECK(impasto_attention(ctx, adain, p, styles, 1, &opt, &b) == IMPASTO_OK);
    if (a && b) {
        double e = max_diff(a, b);
        printf("  max |self-attention - own features| %.3g\n", e);
        CHECK(e <= 1e-5);
    }
    impasto_image_free(a), impasto_image_free(b), impasto_image_free(p);
    impasto_ctx_free(ctx);
}

/* A painting of one flat colour: all its patches are one vector (its features are constant), each
 * gets the same weight, and the photo's features all become that vector — the decoder paints
 * what it makes of the flat painting's own features, that colour up to the autoencoder's error. */
static void test_flat_painting(void) {
    if (!adain) {
        printf("  skipped (no models/adain.safetensors)\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *p = picture(ctx, 64, 48, 4), *flat = NULL, *a = NULL;
    CHECK(impasto_image_create(ctx, 40, 40, 3, &flat) == IMPASTO_OK);
    const float rgb[3] = {0.85f, 0.35f, 0.2f};
    float *d = impasto_image_data(flat);
    for (int i = 0; i < 40 * 40; i++)
        for (int k = 0; k < 3; k++) d[i * 3 + k] = rgb[k];
    const impasto_image *styles[1] = {flat};
    impasto_attention_options opt;
    impasto_attention_options_init(&opt);
    opt.content_size = opt.style_size = 0;
    opt.patch = 3;
    CHECK(impasto_attention(ctx, adain, p, styles, 1, &opt, &a) == IMPASTO_OK);
    /* The reference: the flat painting's feature vector everywhere on the photo's (6, 8) map, decoded. */
    float x[3 * 40 * 40], *fs = NULL, *img = NULL, *map = malloc(ADAIN_FEAT_C * 48 * sizeof *map);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 40 * 40; i++) x[k * 40 * 40 + i] = rgb[k];
    int fh = 0, fw = 0;
    CHECK(adain_encode(ctx, adain->adain, x, 40, 40, &fs, &fh, &fw) == IMPASTO_OK);
    for (int c = 0; fs && c < ADAIN_FEAT_C; c++)
        for (int i = 0; i < 48; i++) map[c * 48 + i] = fs[(size_t)c * (size_t)fh * (size_t)fw];
    CHECK(adain_decode(ctx, adain->adain, map, 6, 8, &img) == IMPASTO_OK);
    if (a && img) {
        double e = 0, mean[3] = {0, 0, 0};
        const float *o = impasto_image_cdata(a);
        const int n = 64 * 48;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < 3; k++) {
                e = fmax(e, fabs(o[i * 3 + k] - fminf(fmaxf(img[k * n + i], 0.0f), 1.0f)));
                mean[k] += o[i * 3 + k] / n;
            }
        printf("  vs the decoded flat features %.3g; mean colour %.3f %.3f %.3f (painting %.2f %.2f %.2f)\n", e,
               mean[0], mean[1], mean[2], rgb[0], rgb[1], rgb[2]);
        CHECK(e <= 1e-5);
        for (int k = 0; k < 3; k++) CHECK(fabs(mean[k] - rgb[k]) <= 0.07);
    }
    free(fs), free(img), free(map);
    impasto_image_free(a), impasto_image_free(p), impasto_image_free(flat);
    impasto_ctx_free(ctx);
}

static int count_calls(const impasto_pass_progress *p, void *user) {
    int *u = user;
    u[0]++;
    u[1] = p->total;
    u[2] = p->done;
    return u[3] && p->done >= u[3];
}

/* Tiled equals untiled (exact halo); the progress units add up; a cancel stops the run. */
static void test_tiles_and_progress(void) {
    if (!adain) {
        printf("  skipped (no models/adain.safetensors)\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *p = picture(ctx, 200, 136, 5), *s = picture(ctx, 64, 64, 6), *a = NULL, *b = NULL;
    const impasto_image *styles[2] = {s, p};
    const double w[2] = {2, 1};
    impasto_attention_options opt;
    impasto_attention_options_init(&opt);
    opt.content_size = opt.style_size = 0;
    opt.patch = 3;
    opt.style_weights = w;
    int u[4] = {0, 0, 0, 0};
    opt.progress = count_calls;
    opt.progress_user = u;
    CHECK(impasto_attention(ctx, adain, p, styles, 2, &opt, &a) == IMPASTO_OK);
    CHECK_MSG(u[0] == 2 + 1 * (2 + IMPASTO_ATTENTION_STEPS) && u[1] == u[0] && u[2] == u[1], "calls %d total %d done %d",
              u[0], u[1], u[2]);
    opt.tile = 64;
    u[0] = 0;
    CHECK(impasto_attention(ctx, adain, p, styles, 2, &opt, &b) == IMPASTO_OK);
    CHECK_MSG(u[0] == 2 + 6 * (2 + IMPASTO_ATTENTION_STEPS) && u[1] == u[0], "tiled: calls %d total %d", u[0], u[1]);
    if (a && b) {
        double e = max_diff(a, b);
        printf("  tiled (64, 6 tiles) vs untiled: max %.3g\n", e);
        CHECK(e <= 2e-4);
    }
    impasto_image_free(b);
    b = NULL;
    u[0] = 0;
    u[3] = 5;
    CHECK(impasto_attention(ctx, adain, p, styles, 2, &opt, &b) == IMPASTO_ERR_CANCELLED && !b);
    CHECK(u[0] == 5);
    impasto_image_free(a), impasto_image_free(p), impasto_image_free(s);
    impasto_ctx_free(ctx);
}

static void test_errors(void) {
    if (!adain) {
        printf("  skipped (no models/adain.safetensors)\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *p = picture(ctx, 40, 32, 7), *small = picture(ctx, 16, 40, 8), *out = NULL;
    const impasto_image *styles[1] = {small};
    impasto_attention_options opt;
    impasto_attention_options_init(&opt);
    opt.content_size = opt.style_size = 0;
    opt.patch = 3;  /* 16 px: a 2-wide relu4_1 map */
    CHECK(impasto_attention(ctx, adain, p, styles, 1, &opt, &out) == IMPASTO_ERR_INVALID_ARG && !out);
    CHECK(strstr(impasto_ctx_error(ctx), "larger than painting 1's relu4_1 feature map (2x5)") != NULL);
    printf("  %s\n", impasto_ctx_error(ctx));
    opt.patch = 1;
    const double bad_t[] = {0, -1, 1e-5, 1e3, NAN};
    for (size_t i = 0; i < sizeof bad_t / sizeof bad_t[0]; i++) {
        opt.temperature = bad_t[i];
        CHECK(impasto_attention(ctx, adain, p, styles, 1, &opt, &out) == IMPASTO_ERR_INVALID_ARG && !out);
        CHECK(strstr(impasto_ctx_error(ctx), "temperature") != NULL);
    }
    opt.temperature = 0.05;
    opt.patch = 2;
    CHECK(impasto_attention(ctx, adain, p, styles, 1, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    opt.patch = 11;
    CHECK(impasto_attention(ctx, adain, p, styles, 1, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    opt.patch = 1;
    opt.alpha = 1.5;
    CHECK(impasto_attention(ctx, adain, p, styles, 1, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    opt.alpha = 1;
    CHECK(impasto_attention(ctx, adain, p, styles, 0, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    const double zero[1] = {0};
    opt.style_weights = zero;
    CHECK(impasto_attention(ctx, adain, p, styles, 1, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    opt.style_weights = NULL;
    /* A memory budget the paintings' patches alone exceed. */
    opt.memory_mb = 200;
    opt.patch = 9;
    impasto_image *big = picture(ctx, 512, 512, 9);
    styles[0] = big;
    CHECK(impasto_attention(ctx, adain, p, styles, 1, &opt, &out) == IMPASTO_ERR_INVALID_ARG && !out);
    printf("  %s\n", impasto_ctx_error(ctx));
    impasto_image_free(big), impasto_image_free(p), impasto_image_free(small);
    impasto_ctx_free(ctx);
}

int main(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    struct stat st;
    if (stat("models/adain.safetensors", &st) == 0 && impasto_model_load(ctx, "models/adain.safetensors", &adain) != IMPASTO_OK) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        test_failed_count++;
    }
    if (safetensors_open(ctx, GOLDEN, &golden) != IMPASTO_OK) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        test_failed_count++;
    }
    RUN(test_streaming_softmax);
    if (golden) RUN(test_golden_fusion);
    RUN(test_self_features);
    RUN(test_self_picture);
    RUN(test_flat_painting);
    RUN(test_tiles_and_progress);
    RUN(test_errors);
    impasto_model_free(adain);
    safetensors_close(golden);
    impasto_ctx_free(ctx);
    return test_summary();
}
