/* End-to-end tests of the Gatys method through the public API, on the converted VGG-19
 * (models/vgg19.safetensors, which `make test` builds first) and the bundled example images.
 * The non-finite test reaches into the loaded model (models/model.h) to make one bias huge. */
#include "impasto.h"
#include "model_patch.h"
#include "models/model.h"
#include "test.h"

#include <unistd.h>

#define MODEL "models/vgg19.safetensors"
#define CONTENT "examples/images/horses.jpg"
#define STYLE "examples/images/scream.jpg"

static impasto_ctx *ctx;
static impasto_model *vgg;
static impasto_image *content, *style;

typedef struct trace {
    int calls, last_iter, cancel_at, images;
    double first_loss, last_loss;
    double first_content, first_style;
    int scale_changes, last_scale, max_width;
} trace;

static int record(const impasto_progress *p, void *user) {
    trace *t = user;
    if (t->calls == 0) {
        t->first_loss = p->loss;
        t->first_content = p->content_loss;
        t->first_style = p->style_loss;
        t->last_scale = p->scale_index;
    }
    if (p->scale_index != t->last_scale) t->scale_changes++, t->last_scale = p->scale_index;
    t->calls++;
    t->last_iter = p->iteration;
    t->last_loss = p->loss;
    if (p->image) t->images++;
    if (p->width > t->max_width) t->max_width = p->width;
    CHECK(p->loss >= 0 && p->loss == p->loss);
    CHECK_NEAR(p->loss, p->content_loss + p->style_loss + p->tv_loss, 1e-6 * p->loss + 1e-9);
    return t->cancel_at && p->iteration >= t->cancel_at;
}

static const impasto_image *const *one_style(void) {
    static const impasto_image *s[1];
    s[0] = style;
    return s;
}

/* 64 px, 60 L-BFGS iterations from noise, neural-style's weights: the total loss must fall by
 * at least 10x (measured: 24x) and the output must be a picture of the right size. */
static void test_loss_falls_at_64px(void) {
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    opt.image_size = 64;
    opt.num_iterations = 60;
    opt.seed = 1;
    opt.save_iter = 20;
    trace t = {0};
    opt.progress = record;
    opt.progress_user = &t;
    impasto_image *out = NULL;
    impasto_status s = impasto_transfer(ctx, vgg, content, one_style(), 1, &opt, &out);
    CHECK_MSG(s == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    if (!out) return;
    CHECK(impasto_image_width(out) == 64);
    CHECK(impasto_image_height(out) == 42); /* 773x512 -> 64x42 */
    CHECK(impasto_image_channels(out) == 3);
    CHECK(t.last_iter == 60);
    CHECK(t.images == 2); /* iterations 20 and 40 (60 is the final picture) */
    CHECK_MSG(t.last_loss * 10 < t.first_loss, "loss %g -> %g", t.first_loss, t.last_loss);
    printf("  64px: loss %.4g -> %.4g (x%.1f lower)\n", t.first_loss, t.last_loss, t.first_loss / t.last_loss);
    /* Not a flat or saturated picture: some spread of values. */
    const float *d = impasto_image_cdata(out);
    double mean = 0, var = 0;
    size_t n = (size_t)64 * 42 * 3;
    for (size_t i = 0; i < n; i++) mean += d[i];
    mean /= n;
    for (size_t i = 0; i < n; i++) var += (d[i] - mean) * (d[i] - mean);
    var /= n;
    CHECK(mean > 0.1 && mean < 0.9);
    CHECK(var > 0.002);
    impasto_image_free(out);
}

/* Same seed, same result; Adam also lowers the loss. */
static void test_deterministic_and_adam(void) {
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    opt.image_size = 32;
    opt.num_iterations = 5;
    opt.seed = 7;
    impasto_image *a = NULL, *b = NULL;
    CHECK(impasto_transfer(ctx, vgg, content, one_style(), 1, &opt, &a) == IMPASTO_OK);
    CHECK(impasto_transfer(ctx, vgg, content, one_style(), 1, &opt, &b) == IMPASTO_OK);
    if (a && b) {
        size_t n = (size_t)impasto_image_width(a) * impasto_image_height(a) * 3;
        CHECK(memcmp(impasto_image_cdata(a), impasto_image_cdata(b), n * sizeof(float)) == 0);
    }
    impasto_image_free(a);
    impasto_image_free(b);

    opt.optimizer = IMPASTO_OPTIM_ADAM;
    opt.num_iterations = 40;
    trace t = {0};
    opt.progress = record;
    opt.progress_user = &t;
    impasto_image *c = NULL;
    CHECK(impasto_transfer(ctx, vgg, content, one_style(), 1, &opt, &c) == IMPASTO_OK);
    CHECK_MSG(t.last_loss * 2 < t.first_loss, "adam loss %g -> %g", t.first_loss, t.last_loss);
    impasto_image_free(c);
}

/* The progress callback cancels: the call says so and still hands back the picture so far. */
static void test_cancel(void) {
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    opt.image_size = 32;
    opt.num_iterations = 50;
    opt.seed = 3;
    trace t = {0};
    t.cancel_at = 4;
    opt.progress = record;
    opt.progress_user = &t;
    impasto_image *out = NULL;
    CHECK(impasto_transfer(ctx, vgg, content, one_style(), 1, &opt, &out) == IMPASTO_ERR_CANCELLED);
    CHECK(t.last_iter == 4);
    CHECK(out != NULL);
    impasto_image_free(out);
}

/* Coarse to fine: two scales run in turn, the result has the finer size. */
static void test_scales(void) {
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    opt.num_scales = 2;
    opt.scales[0] = 32;
    opt.scales[1] = 48;
    opt.num_iterations = 5;
    opt.seed = 5;
    trace t = {0};
    opt.progress = record;
    opt.progress_user = &t;
    impasto_image *out = NULL;
    CHECK(impasto_transfer(ctx, vgg, content, one_style(), 1, &opt, &out) == IMPASTO_OK);
    CHECK(t.scale_changes == 1);
    CHECK(t.max_width == 48);
    CHECK(out && impasto_image_width(out) == 48);
    impasto_image_free(out);
}

/* Two styles blended, init from the content image, original colours, avg pooling. */
static void test_blend_init_colors(void) {
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    opt.image_size = 32;
    opt.num_iterations = 0;
    opt.init = IMPASTO_INIT_IMAGE;
    impasto_image *out = NULL;
    CHECK(impasto_transfer(ctx, vgg, content, one_style(), 1, &opt, &out) == IMPASTO_OK);
    /* Zero iterations from the content image: the output is the content at that size. */
    impasto_image *small = NULL;
    CHECK(impasto_image_resize_max_side(ctx, content, 32, &small) == IMPASTO_OK);
    if (out && small) {
        size_t n = (size_t)impasto_image_width(out) * impasto_image_height(out) * 3;
        double maxd = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs(impasto_image_cdata(out)[i] - impasto_image_cdata(small)[i]);
            if (d > maxd) maxd = d;
        }
        CHECK_NEAR(maxd, 0, 1e-4);
    }
    impasto_image_free(out);

    const impasto_image *two[2] = {style, content};
    double blend[2] = {3, 1};
    opt.num_iterations = 3;
    opt.style_blend_weights = blend;
    opt.original_colors = 1;
    opt.pooling = IMPASTO_POOL_AVG;
    out = NULL;
    CHECK(impasto_transfer(ctx, vgg, content, two, 2, &opt, &out) == IMPASTO_OK);
    if (out && small) {
        /* Original colours: chrominance of the content, so a pixel's U and V match it. */
        const float *o = impasto_image_cdata(out), *c = impasto_image_cdata(small);
        size_t npix = (size_t)impasto_image_width(out) * impasto_image_height(out), bad = 0;
        for (size_t i = 0; i < npix; i++) {
            double uo = -0.14713 * o[3 * i] - 0.28886 * o[3 * i + 1] + 0.436 * o[3 * i + 2];
            double uc = -0.14713 * c[3 * i] - 0.28886 * c[3 * i + 1] + 0.436 * c[3 * i + 2];
            if (fabs(uo - uc) > 0.02) bad++; /* clamping to 0..1 may move a few */
        }
        CHECK_MSG(bad < npix / 20, "%zu of %zu pixels lost their chrominance", bad, npix);
    }
    impasto_image_free(out);
    impasto_image_free(small);
}

/* The content's alpha channel comes through to the output. */
static void test_alpha_carried(void) {
    impasto_image *rgba = NULL;
    CHECK(impasto_image_create(ctx, 40, 30, 4, &rgba) == IMPASTO_OK);
    if (!rgba) return;
    float *d = impasto_image_data(rgba);
    for (int y = 0; y < 30; y++)
        for (int x = 0; x < 40; x++) {
            float *p = d + 4 * (y * 40 + x);
            p[0] = x / 40.f, p[1] = y / 30.f, p[2] = 0.5f;
            p[3] = x < 20 ? 1.f : 0.25f;
        }
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    opt.image_size = 40;
    opt.num_iterations = 2;
    opt.seed = 1;
    impasto_image *out = NULL;
    CHECK(impasto_transfer(ctx, vgg, rgba, one_style(), 1, &opt, &out) == IMPASTO_OK);
    CHECK(out && impasto_image_channels(out) == 4);
    if (out) {
        const float *o = impasto_image_cdata(out);
        CHECK_NEAR(o[4 * (10 * 40 + 5) + 3], 1.0, 1e-5);
        CHECK_NEAR(o[4 * (10 * 40 + 35) + 3], 0.25, 1e-5);
    }
    impasto_image_free(out);
    impasto_image_free(rgba);
}

/* Bad options are refused with a message, before any work. */
static void test_bad_options(void) {
    impasto_transfer_options opt;
    impasto_image *out = NULL;
    impasto_transfer_options_init(&opt);
    opt.style_layers = "relu1_1,relu9_9";
    CHECK(impasto_transfer(ctx, vgg, content, one_style(), 1, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(ctx), "relu9_9") != NULL);
    impasto_transfer_options_init(&opt);
    opt.image_size = 0;
    CHECK(impasto_transfer(ctx, vgg, content, one_style(), 1, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    impasto_transfer_options_init(&opt);
    opt.content_weight = -1;
    CHECK(impasto_transfer(ctx, vgg, content, one_style(), 1, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    impasto_transfer_options_init(&opt);
    CHECK(impasto_transfer(ctx, vgg, content, one_style(), 0, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    impasto_transfer_options_init(&opt);
    opt.num_scales = 2;
    opt.scales[0] = 512;
    opt.scales[1] = 256;
    CHECK(impasto_transfer(ctx, vgg, content, one_style(), 1, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    CHECK(out == NULL);
}

/* A w x h RGB image of one gray. */
static impasto_image *flat(int w, int h) {
    impasto_image *img = NULL;
    if (impasto_image_create(ctx, w, h, 3, &img) != IMPASTO_OK) return NULL;
    for (size_t i = 0; i < (size_t)w * (size_t)h * 3; i++) impasto_image_data(img)[i] = 0.5f;
    return img;
}

/* impasto_transfer on content and one style with opt is refused with IMPASTO_ERR_INVALID_ARG,
 * no picture and a message containing `want`. */
static void check_refused(const impasto_image *c, const impasto_image *st, const impasto_transfer_options *opt,
                          const char *want) {
    const impasto_image *styles[1] = {st};
    impasto_image *out = NULL;
    impasto_status s = impasto_transfer(ctx, vgg, c, styles, 1, opt, &out);
    CHECK_MSG(s == IMPASTO_ERR_INVALID_ARG && !out, "status %d", (int)s);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), want) != NULL, "message: %s", impasto_ctx_error(ctx));
    impasto_image_free(out);
}

/* Images too small for the deepest layer, at the size they would run at, are refused before any
 * work with a message saying which image, its size, the layer and the minimum (2^k after k
 * poolings); so are empty layer lists. An image just large enough runs. */
static void test_min_sizes_and_layers(void) {
    impasto_transfer_options opt;
    impasto_image *out = NULL, *line = flat(100000, 1), *thin = flat(300, 10), *narrow = flat(64, 20);
    impasto_image *small = flat(64, 4);
    impasto_transfer_options_init(&opt);
    opt.num_iterations = 2;
    check_refused(line, style, &opt, "the content is 512x1 pixels at size 512; relu5_1 needs at least 16 pixels on "
                  "each side");
    opt.image_size = 64;
    check_refused(content, thin, &opt, "the style image is 64x2 pixels at size 64; relu5_1 needs at least 16 pixels "
                  "on each side");
    /* Every scale is checked, the first (coarsest) too. */
    opt.num_scales = 2;
    opt.scales[0] = 32;
    opt.scales[1] = 64;
    check_refused(narrow, style, &opt, "the content is 32x10 pixels at size 32; relu5_1 needs at least 16 pixels on "
                  "each side");
    /* The deepest layer asked for decides: relu3_1 (two poolings) needs 4. */
    impasto_transfer_options_init(&opt);
    opt.image_size = 64;
    opt.num_iterations = 2;
    opt.content_layers = "relu2_2";
    opt.style_layers = "relu1_1,relu3_1";
    opt.seed = 1;
    CHECK_MSG(impasto_transfer(ctx, vgg, small, one_style(), 1, &opt, &out) == IMPASTO_OK && out, "%s",
              impasto_ctx_error(ctx));
    impasto_image_free(out);
    opt.style_layers = "relu1_1,relu4_1";
    check_refused(small, style, &opt, "relu4_1 needs at least 8 pixels on each side");
    /* Empty lists, "" or separators only. */
    impasto_transfer_options_init(&opt);
    opt.image_size = 32;
    opt.num_iterations = 2;
    opt.content_layers = "";
    check_refused(content, style, &opt, "no content layers given");
    opt.content_layers = "relu4_2";
    opt.style_layers = " , ,";
    check_refused(content, style, &opt, "no style layers given");
    /* No model: said in plain words. */
    CHECK(impasto_transfer(ctx, NULL, content, one_style(), 1, &opt, &out) == IMPASTO_ERR_INVALID_ARG && !out);
    CHECK_MSG(!strcmp(impasto_ctx_error(ctx), "style transfer needs a model of kind 'vgg19' (impasto convert vgg19); "
                      "none was given"), "%s", impasto_ctx_error(ctx));
    impasto_image_free(line), impasto_image_free(thin), impasto_image_free(narrow), impasto_image_free(small);
}

/* Finite but huge weights (conv5_1's bias at 3e38: relu5_1's Gram matrices overflow): the loss is
 * NaN from the first evaluation, and the transfer stops with IMPASTO_ERR_NOT_FINITE naming the
 * iteration and the scale, with no picture, for L-BFGS and Adam alike. */
static void test_non_finite_loss(void) {
    const int conv5_1 = 12;
    float saved[512];
    memcpy(saved, vgg->vgg->b[conv5_1], sizeof saved);
    for (int i = 0; i < 512; i++) vgg->vgg->b[conv5_1][i] = 3e38f;
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    opt.image_size = 32;
    opt.num_iterations = 3;
    opt.seed = 1;
    for (int optim = 0; optim < 2; optim++) {
        opt.optimizer = optim ? IMPASTO_OPTIM_ADAM : IMPASTO_OPTIM_LBFGS;
        impasto_image *out = NULL;
        impasto_status s = impasto_transfer(ctx, vgg, content, one_style(), 1, &opt, &out);
        CHECK_MSG(s == IMPASTO_ERR_NOT_FINITE && !out, "status %d: %s", (int)s, impasto_ctx_error(ctx));
        CHECK_MSG(strstr(impasto_ctx_error(ctx), "the loss became NaN or infinite at iteration 1 of scale 1 of 1"),
                  "%s", impasto_ctx_error(ctx));
        impasto_image_free(out);
    }
    memcpy(vgg->vgg->b[conv5_1], saved, sizeof saved);
}

/* A NaN in a VGG-19 file is refused at load, naming the file and the tensor. */
static void test_nan_weight_refused(void) {
    char path[96], want[200];
    snprintf(path, sizeof path, "/tmp/impasto-test-gatys-nan-%d.safetensors", (int)getpid());
    CHECK(model_patch_copy(MODEL, path, "conv3_2.weight", 1000, 1, NAN));
    impasto_model *m = NULL;
    CHECK(impasto_model_load(ctx, path, &m) == IMPASTO_ERR_FORMAT && !m);
    snprintf(want, sizeof want, "%s: tensor 'conv3_2.weight' holds NaN or infinite values", path);
    CHECK_MSG(!strcmp(impasto_ctx_error(ctx), want), "%s", impasto_ctx_error(ctx));
    unlink(path);
}

int main(void) {
    ctx = impasto_ctx_create();
    if (impasto_model_load(ctx, MODEL, &vgg) != IMPASTO_OK ||
        impasto_image_load(ctx, CONTENT, &content) != IMPASTO_OK ||
        impasto_image_load(ctx, STYLE, &style) != IMPASTO_OK) {
        fprintf(stderr, "setup failed: %s (run `make models` first)\n", impasto_ctx_error(ctx));
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_loss_falls_at_64px);
    RUN(test_deterministic_and_adam);
    RUN(test_cancel);
    RUN(test_scales);
    RUN(test_blend_init_colors);
    RUN(test_alpha_carried);
    RUN(test_bad_options);
    RUN(test_min_sizes_and_layers);
    RUN(test_non_finite_loss);
    RUN(test_nan_weight_refused);
    impasto_image_free(content);
    impasto_image_free(style);
    impasto_model_free(vgg);
    impasto_ctx_free(ctx);
    return test_summary();
}
