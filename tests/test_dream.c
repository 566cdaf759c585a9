/* DeepDream (src/methods/dream.c): each part against PyTorch (tests/data/dream_golden.safetensors,
 * made by tools/gen_golden_dream.py in float64 from the same converted weights): the objective's
 * gradient with respect to the picture (L2 with a channel, and a guide), the octave pyramid, one
 * step with a fixed roll and a whole two-octave dream with fixed rolls; that tiles with the exact
 * halo give the untiled gradient; that the chosen layer's activations grow; and the refusals.
 *
 * Tolerances, against the float64 reference: float32 VGG-19 lands within ~1e-6 of the largest
 * activation per layer (tests/test_vgg19_golden.c); gradients through three or four layers are
 * checked to 1e-4 of their largest value, objectives to 1e-5 relative, the pyramid (interpolation
 * only) to 1e-4 in 0..255 units, one step to 1e-3 and a four-step dream to 2e-2 (each step divides
 * by mean|g| and the errors of the gradients add up; a step moves pixels by ~9 units).
 *
 * Weights: models/vgg19.safetensors (`make models`); skipped when missing. */
#include "core/image.h"
#include "formats/safetensors.h"
#include "methods/dream.h"
#include "models/model.h"
#include "test.h"

#include <sys/stat.h>

#define GOLDEN "tests/data/dream_golden.safetensors"
#define MODEL "models/vgg19.safetensors"

static impasto_ctx *ctx;
static impasto_model *model;
static safetensors *golden;

/* A golden tensor of n floats (malloc'd), its shape checked against the count. */
static float *load(const char *name, size_t n) {
    const st_tensor *t = safetensors_find(golden, name);
    size_t numel = 1;
    for (int i = 0; t && i < t->ndim; i++) numel *= (size_t)t->shape[i];
    if (!t || numel != n) {
        fprintf(stderr, "  golden tensor %s missing or of the wrong size\n", name);
        return NULL;
    }
    float *v = malloc(n * sizeof *v);
    if (v && safetensors_get_f32(ctx, golden, name, t->ndim, t->shape, v) != IMPASTO_OK) {
        free(v);
        return NULL;
    }
    return v;
}

/* max |a - b| and max |b|. */
static void diff(const float *a, const float *b, size_t n, double *maxdiff, double *maxref) {
    *maxdiff = 0;
    *maxref = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= *maxdiff)) *maxdiff = d;
        if (fabs(b[i]) > *maxref) *maxref = fabs(b[i]);
    }
}

enum { H = 40, W = 56, N = 3 * H * W };

static impasto_image *guide_image(void) {
    float *g = load("guide", 3 * 24 * 32);
    impasto_image *img = NULL;
    if (g && image_alloc(ctx, 32, 24, 3, &img) == IMPASTO_OK)
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 24 * 32; i++) img->data[3 * i + c] = g[c * 24 * 32 + i];
    free(g);
    return img;
}

static void test_parse_layers(void) {
    dream_spec s;
    CHECK(dream_parse_layers(ctx, "relu4_2,relu5_1:17", &s) == IMPASTO_OK);
    CHECK(s.n == 2 && s.e[0].channel == -1 && s.e[1].channel == 17 && s.last == vgg19_layer_index("relu5_1"));
    CHECK(dream_parse_layers(ctx, "relu5_1:511, relu5_1", &s) == IMPASTO_OK && s.n == 2);
    static const char *const bad[] = {"relu9_9", "relu5_1:512", "relu5_1:-1", "relu5_1:x", "relu5_1:", "",
                                      " , ", "relu4_2,relu4_2", "conv1_1:64", "relu4_2:1e1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        impasto_status st = dream_parse_layers(ctx, bad[i], &s);
        CHECK_MSG(st == IMPASTO_ERR_INVALID_ARG, "'%s' was accepted", bad[i]);
    }
    dream_parse_layers(ctx, "relu5_1:512", &s);
    CHECK(strstr(impasto_ctx_error(ctx), "0..511") != NULL);
    /* The exact halos docs/dream.md gives, and a halo asked for rounded up onto the stride. */
    int align = 0;
    CHECK(dream_exact_halo(vgg19_layer_index("relu3_1"), &align) == 24 && align == 4);
    CHECK(dream_exact_halo(vgg19_layer_index("relu4_1"), NULL) == 72);
    CHECK(dream_exact_halo(vgg19_layer_index("relu4_2"), &align) == 88 && align == 8);
    CHECK(dream_exact_halo(vgg19_layer_index("relu5_1"), NULL) == 160);
    CHECK(dream_exact_halo(vgg19_layer_index("relu5_4"), &align) == 256 && align == 16);
    dream_run r;
    CHECK(dream_run_init(ctx, &r, model->vgg, "relu5_1", POOL_MAX, NULL, 64, 8) == IMPASTO_OK && r.halo == 16);
    dream_run_free(&r);
    CHECK(dream_run_init(ctx, &r, model->vgg, "relu5_1", POOL_MAX, NULL, 16, 8) == IMPASTO_ERR_INVALID_ARG);
    dream_run_free(&r);
}

static void check_gradient(const char *spec, const impasto_image *guide, const char *gname, const char *oname) {
    float *x = load("x", N), *ref = load(gname, N), *obj = load(oname, 1), *g = malloc(N * sizeof *g);
    dream_run r;
    double o = 0, md, mr;
    CHECK(x && ref && obj && g);
    if (x && ref && obj && g &&
        dream_run_init(ctx, &r, model->vgg, spec, POOL_MAX, guide, 0, -1) == IMPASTO_OK) {
        CHECK(dream_gradient(ctx, &r, x, H, W, g, &o) == IMPASTO_OK);
        diff(g, ref, N, &md, &mr);
        printf("  %s: max |g - ref| %.3g of max |ref| %.4g; objective %.9g vs %.9g\n", spec, md, mr, o, obj[0]);
        CHECK(md <= 1e-4 * mr);
        CHECK_NEAR(o / obj[0], 1.0, 1e-5);
        dream_run_free(&r);
    } else {
        CHECK(0);
    }
    free(x);
    free(ref);
    free(obj);
    free(g);
}

static void test_gradient_l2(void) { check_gradient("relu2_1,relu3_1:7", NULL, "grad_l2", "obj_l2"); }

static void test_gradient_guide(void) {
    impasto_image *guide = guide_image();
    CHECK(guide != NULL);
    if (guide) check_gradient("relu3_1,relu2_1:5", guide, "grad_guide", "obj_guide");
    impasto_image_free(guide);
}

static void test_pyramid(void) {
    int hs[3], ws[3];
    dream_octave_sizes(H, W, 3, 1.4, hs, ws);
    CHECK(hs[1] == 29 && ws[1] == 40 && hs[2] == 21 && ws[2] == 29);
    float *x = load("x", N), *o1 = load("octave1", 3 * 29 * 40), *o2 = load("octave2", 3 * 21 * 29);
    float *y1 = malloc(3 * 29 * 40 * sizeof(float)), *y2 = malloc(3 * 21 * 29 * sizeof(float));
    CHECK(x && o1 && o2 && y1 && y2);
    if (x && o1 && o2 && y1 && y2) {
        double md, mr;
        dream_resize(x, 3, H, W, 29, 40, y1);
        dream_resize(y1, 3, 29, 40, 21, 29, y2);
        diff(y1, o1, 3 * 29 * 40, &md, &mr);
        CHECK(md <= 1e-4);
        diff(y2, o2, 3 * 21 * 29, &md, &mr);
        CHECK(md <= 1e-4);
        /* Enlarging back is the same formula the other way. */
        dream_resize(y2, 3, 21, 29, 29, 40, y1);
        CHECK(isfinite(y1[0]));
    }
    free(x);
    free(o1);
    free(o2);
    free(y1);
    free(y2);
}

static void test_step(void) {
    float *x = load("x", N), *ref = load("step", N), *obj = load("obj_step", 1), *work = malloc(2 * N * sizeof(float));
    dream_run r;
    CHECK(x && ref && obj && work);
    if (x && ref && obj && work && dream_run_init(ctx, &r, model->vgg, "relu2_1,relu3_1:7", POOL_MAX, NULL, 0, -1) == IMPASTO_OK) {
        double o = 0, md, mr;
        CHECK(dream_step(ctx, &r, x, H, W, 3, -5, 1.5, work, &o) == IMPASTO_OK);
        diff(x, ref, N, &md, &mr);
        printf("  step: max |x - ref| %.3g (0..255 units); objective %.9g vs %.9g\n", md, o, obj[0]);
        CHECK(md <= 1e-3);
        CHECK_NEAR(o / obj[0], 1.0, 1e-5);
        dream_run_free(&r);
    }
    free(x);
    free(ref);
    free(obj);
    free(work);
}

static void test_whole_dream(void) {
    static const int shifts[] = {1, 2, -3, 4, 5, -6, 0, 7};
    float *x = load("x", N), *ref = load("dream", N);
    dream_run r;
    CHECK(x && ref);
    if (x && ref && dream_run_init(ctx, &r, model->vgg, "relu2_1,relu3_1:7", POOL_MAX, NULL, 0, -1) == IMPASTO_OK) {
        dream_octave_params p = {2, 1.4, 2, 1.5, 0, shifts, NULL};
        double md, mr;
        CHECK(dream_octaves(ctx, &r, x, H, W, &p, NULL, NULL) == IMPASTO_OK);
        diff(x, ref, N, &md, &mr);
        printf("  two octaves x two steps: max |x - ref| %.3g (0..255 units)\n", md);
        CHECK(md <= 2e-2);
        dream_run_free(&r);
    }
    free(x);
    free(ref);
}

/* Tiles with the exact halo: the gradient equals the untiled one (Winograd's tiles fall
 * differently on smaller maps, so up to float rounding). */
static void test_tiles_exact(void) {
    enum { TH = 100, TW = 76, TN = 3 * TH * TW };
    float *x = malloc(TN * sizeof(float)), *g0 = malloc(TN * sizeof(float)), *g1 = malloc(TN * sizeof(float));
    unsigned long long seed = 7;
    for (int i = 0; i < TN; i++) x[i] = test_uniform(&seed, -100, 100);
    static const char *const specs[] = {"relu3_1,relu2_2:3", "relu4_1:11"};
    for (int k = 0; k < 2; k++) {
        dream_run a, b;
        double oa = 0, ob = 0, md, mr;
        CHECK(dream_run_init(ctx, &a, model->vgg, specs[k], POOL_MAX, NULL, 0, -1) == IMPASTO_OK);
        CHECK(dream_run_init(ctx, &b, model->vgg, specs[k], POOL_MAX, NULL, 32, -1) == IMPASTO_OK);
        CHECK(dream_gradient(ctx, &a, x, TH, TW, g0, &oa) == IMPASTO_OK);
        CHECK(dream_gradient(ctx, &b, x, TH, TW, g1, &ob) == IMPASTO_OK);
        diff(g1, g0, TN, &md, &mr);
        printf("  %s tiled 32 (halo %d): max |tiled - untiled| %.3g of %.4g; objective %.9g vs %.9g\n", specs[k],
               b.halo, md, mr, ob, oa);
        CHECK(md <= 1e-4 * mr);
        CHECK_NEAR(ob / oa, 1.0, 1e-5);
        /* With no halo the tiles' borders differ: the check above is not vacuous. */
        dream_run_free(&b);
        CHECK(dream_run_init(ctx, &b, model->vgg, specs[k], POOL_MAX, NULL, 32, 0) == IMPASTO_OK);
        CHECK(dream_gradient(ctx, &b, x, TH, TW, g1, &ob) == IMPASTO_OK);
        diff(g1, g0, TN, &md, &mr);
        CHECK(md > 1e-2 * mr);
        dream_run_free(&a);
        dream_run_free(&b);
    }
    free(x);
    free(g0);
    free(g1);
}

static impasto_image *test_photo(int w, int h) {
    impasto_image *img = NULL;
    if (image_alloc(ctx, w, h, 3, &img) != IMPASTO_OK) return NULL;
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            float *p = img->data + 3 * ((size_t)i * w + j);
            p[0] = 0.5f + 0.4f * sinf(0.2f * j + 0.1f * i);
            p[1] = 0.5f + 0.4f * cosf(0.15f * i);
            p[2] = (i - h / 2) * (i - h / 2) + (j - w / 2) * (j - w / 2) < h * w / 8 ? 0.8f : 0.2f;
        }
    return img;
}

/* The objective (0.5 |a|^2 at the layer) of an image, untiled. */
static double objective_of(const impasto_image *img, const char *spec) {
    dream_run r;
    double o = -1;
    size_t n = (size_t)3 * img->width * img->height;
    float *x = malloc(n * sizeof *x), *g = malloc(n * sizeof *g);
    vgg19_preprocess(img, x);
    if (dream_run_init(ctx, &r, model->vgg, spec, POOL_MAX, NULL, 0, -1) == IMPASTO_OK &&
        dream_gradient(ctx, &r, x, img->height, img->width, g, &o) != IMPASTO_OK)
        o = -1;
    dream_run_free(&r);
    free(x);
    free(g);
    return o;
}

static void test_activation_grows(void) {
    impasto_image *photo = test_photo(64, 48), *out = NULL;
    impasto_dream_options opt;
    impasto_dream_options_init(&opt);
    opt.layers = "relu4_2";
    opt.image_size = 0;
    opt.octaves = 2;
    opt.iterations = 5;
    opt.jitter = 8;
    opt.seed = 3;
    CHECK(impasto_dream(ctx, model, photo, &opt, &out) == IMPASTO_OK);
    CHECK(out && impasto_image_width(out) == 64 && impasto_image_height(out) == 48);
    if (out) {
        double before = objective_of(photo, "relu4_2"), after = objective_of(out, "relu4_2");
        printf("  0.5 |relu4_2|^2: %.4g before, %.4g after 2 octaves x 5 steps\n", before, after);
        CHECK(before > 0 && after > 2 * before);
        /* The same seed gives the same picture. */
        impasto_image *again = NULL;
        CHECK(impasto_dream(ctx, model, photo, &opt, &again) == IMPASTO_OK);
        CHECK(again && !memcmp(again->data, out->data, sizeof(float) * 3 * 64 * 48));
        impasto_image_free(again);
    }
    /* One channel: that channel's activation grows. */
    impasto_image_free(out);
    out = NULL;
    opt.layers = "relu4_2:100";
    CHECK(impasto_dream(ctx, model, photo, &opt, &out) == IMPASTO_OK);
    if (out) {
        double before = objective_of(photo, "relu4_2:100"), after = objective_of(out, "relu4_2:100");
        printf("  0.5 |relu4_2 channel 100|^2: %.4g before, %.4g after\n", before, after);
        CHECK(after > 2 * before);
    }
    impasto_image_free(out);
    impasto_image_free(photo);
}

static int cancel_at(const impasto_dream_progress *p, void *user) {
    int *calls = user;
    ++*calls;
    return p->octave == 1 && p->iteration == 1;
}

static int count_frame(const impasto_image *frame, int index, void *user) {
    int *frames = user;
    if (frame && index == *frames) ++*frames;
    return 0;
}

static void test_cancel_and_frames(void) {
    impasto_image *photo = test_photo(40, 32), *out = NULL;
    impasto_dream_options opt;
    impasto_dream_options_init(&opt);
    opt.layers = "relu3_1";
    opt.image_size = 0;
    opt.octaves = 3;
    opt.iterations = 3;
    int calls = 0;
    opt.progress = cancel_at;
    opt.progress_user = &calls;
    CHECK(impasto_dream(ctx, model, photo, &opt, &out) == IMPASTO_ERR_CANCELLED);
    CHECK(calls == 4 && out && impasto_image_width(out) == 40 && impasto_image_height(out) == 32);
    impasto_image_free(out);
    out = NULL;
    int frames = 0;
    opt.progress = NULL;
    opt.frame = count_frame;
    opt.progress_user = &frames;
    opt.zoom_frames = 3;
    opt.octaves = 1;
    opt.iterations = 1;
    CHECK(impasto_dream(ctx, model, photo, &opt, &out) == IMPASTO_OK);
    CHECK(frames == 3 && out != NULL);
    impasto_image_free(out);
    impasto_image_free(photo);
}

static void test_zoom(void) {
    float x[2 * 5 * 7], y[2 * 5 * 7];
    for (int i = 0; i < 70; i++) x[i] = (float)(i * i % 13);
    dream_zoom(x, 2, 5, 7, 1.0, y);
    CHECK(!memcmp(x, y, sizeof x));
    dream_zoom(x, 2, 5, 7, 2.0, y);
    /* The centre stays; the corner (0, 0) samples (1, 1.5), halfway to the centre (2, 3). */
    CHECK(y[2 * 7 + 3] == x[2 * 7 + 3]);
    CHECK_NEAR(y[0], 0.5 * (x[7 + 1] + x[7 + 2]), 1e-5);
    float r[2 * 5 * 7];
    dream_roll(x, 2, 5, 7, 1, -2, r);
    CHECK(r[1 * 7 + 0] == x[0 * 7 + 2] && r[0] == x[4 * 7 + 2]);
}

static void test_refusals(void) {
    impasto_image *photo = test_photo(40, 32), *out = NULL, *tiny = test_photo(12, 12);
    impasto_dream_options opt;
    struct { const char *layers; int octaves; double scale; int iterations; const char *says; } bad[] = {
        {"relu9_1", 4, 1.4, 10, "unknown dream layer 'relu9_1'"},
        {"relu5_1:512", 4, 1.4, 10, "relu5_1 has channels 0..511"},
        {"relu4_2", 0, 1.4, 10, "octaves"},
        {"relu4_2", 4, 1.0, 10, "octave scale"},
        {"relu4_2", 4, 1.4, 0, "iterations"},
        {"relu5_1", 4, 1.4, 10, "the smallest of 4 octaves is 15x11 pixels; relu5_1 needs at least 16"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        impasto_dream_options_init(&opt);
        opt.image_size = 0;
        opt.layers = bad[i].layers;
        opt.octaves = bad[i].octaves;
        opt.octave_scale = bad[i].scale;
        opt.iterations = bad[i].iterations;
        CHECK(impasto_dream(ctx, model, photo, &opt, &out) == IMPASTO_ERR_INVALID_ARG && out == NULL);
        CHECK_MSG(strstr(impasto_ctx_error(ctx), bad[i].says) != NULL, "%s", impasto_ctx_error(ctx));
    }
    impasto_dream_options_init(&opt);
    opt.image_size = 0;
    opt.octaves = 1;
    opt.guide = tiny;
    opt.guide_size = 0;
    opt.layers = "relu5_1";
    CHECK(impasto_dream(ctx, model, photo, &opt, &out) == IMPASTO_ERR_INVALID_ARG && out == NULL);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "the guide is 12x12") != NULL, "%s", impasto_ctx_error(ctx));
    CHECK(impasto_dream(ctx, NULL, photo, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    impasto_image_free(photo);
    impasto_image_free(tiny);
}

int main(void) {
    struct stat st;
    if (stat(MODEL, &st) != 0) {
        printf("skipped (no %s: make models)\n", MODEL);
        return test_summary();
    }
    ctx = impasto_ctx_create();
    if (impasto_model_load(ctx, MODEL, &model) != IMPASTO_OK || safetensors_open(ctx, GOLDEN, &golden) != IMPASTO_OK) {
        fprintf(stderr, "setup failed: %s\n", impasto_ctx_error(ctx));
        return 1;
    }
    RUN(test_parse_layers);
    RUN(test_gradient_l2);
    RUN(test_gradient_guide);
    RUN(test_pyramid);
    RUN(test_step);
    RUN(test_whole_dream);
    RUN(test_tiles_exact);
    RUN(test_activation_grows);
    RUN(test_cancel_and_frames);
    RUN(test_zoom);
    RUN(test_refusals);
    safetensors_close(golden);
    impasto_model_free(model);
    impasto_ctx_free(ctx);
    return test_summary();
}
