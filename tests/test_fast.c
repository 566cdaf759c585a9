/* TransformerNet forward against PyTorch: tests/data/fast_golden.safetensors
 * (tools/gen_golden_fast.py) holds two inputs, 3x24x20 and 3x21x19 (odd sides: the output is
 * 3x24x20, as PyTorch's), and the PyTorch examples' TransformerNet's outputs for them, computed in
 * float64 from the candy network converted by impasto (the golden file holds no weights).
 *
 * Tolerance: max |impasto - reference| <= 1e-4 * max |reference|. PyTorch's own float32 forward
 * lands within 2e-6 of the maximum (printed by the generator); 1e-4 leaves room for any summation
 * order, while a real mistake (a norm's gamma and beta swapped, a wrong padding mode, an upsample
 * off by a pixel) is off by order 1.
 *
 * Also: the plan gives the same answer when reused and with 1 or 3 threads; impasto_fast_stylize's
 * picture (clamped, /255) matches the golden output, keeps alpha, handles gray and odd sizes,
 * --content-scale sizes, and refuses inputs too small for the network. Bad weights: NaN refused at
 * load, huge ones giving IMPASTO_ERR_NOT_FINITE (tests/model_patch.h copies the model with some
 * values replaced); the caller's OpenMP thread count is the same after a call as before.
 *
 * Weights: models/candy.safetensors when present (`make test` builds it with `make models`), else a
 * fresh conversion from ../shared; skipped (passes) when neither is available. */
#include "core/ctx.h"
#include "core/image.h"
#include "formats/safetensors.h"
#include "models/transformer_net.h"
#include "model_patch.h"
#include "test.h"

#include <omp.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define GOLDEN "tests/data/fast_golden.safetensors"
#define TOL 1e-4

static char model_path[512];
static char tmp_model[256];
static safetensors *golden;
static transformer_net *net;

static float *golden_get(const char *name, int64_t *shape) {
    const st_tensor *t = safetensors_find(golden, name);
    CHECK_MSG(t && t->ndim == 3, "golden tensor %s", name);
    if (!t || t->ndim != 3) return NULL;
    float *p = malloc(t->nelem * sizeof *p);
    CHECK(safetensors_get_f32(NULL, golden, name, 3, t->shape, p) == IMPASTO_OK);
    memcpy(shape, t->shape, 3 * sizeof *shape);
    return p;
}

/* Largest |a - ref| over n values, and max |ref| in *max_ref. */
static double max_err(const float *a, const float *ref, size_t n, double *max_ref) {
    double m = 0;
    *max_ref = 0;
    for (size_t i = 0; i < n; i++) {
        m = fmax(m, fabs((double)a[i] - ref[i]));
        *max_ref = fmax(*max_ref, fabs(ref[i]));
    }
    return m;
}

static void run_golden(const char *tag) {
    char in_name[32], out_name[32];
    snprintf(in_name, sizeof in_name, "input_%s", tag);
    snprintf(out_name, sizeof out_name, "output_%s", tag);
    int64_t xs[3], ys[3];
    float *x = golden_get(in_name, xs), *ref = golden_get(out_name, ys);
    if (!x || !ref) goto done;
    int h = (int)xs[1], w = (int)xs[2], oh, ow;
    tnet_out_size(h, w, &oh, &ow);
    CHECK_MSG(oh == ys[1] && ow == ys[2], "output %dx%d, PyTorch's %lldx%lld", ow, oh, (long long)ys[2],
              (long long)ys[1]);
    size_t n = (size_t)3 * oh * ow;
    float *first = malloc(n * sizeof *first);
    for (int threads = 1; threads <= 3; threads += 2) {
        impasto_ctx *ctx = impasto_ctx_create();
        tnet_plan *p = NULL;
        CHECK_MSG(tnet_plan_create(ctx, h, w, threads, &p) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
        if (p) {
            memcpy(tnet_plan_input(p), x, (size_t)3 * h * w * sizeof *x);
            const float *y = tnet_forward(net, p);
            double mref, e = max_err(y, ref, n, &mref);
            printf("  %-4s 3x%dx%d -> 3x%dx%d, %d thread(s): max|ref| %.4g, max err %.3g (%.2g of max)\n", tag, h, w,
                   oh, ow, threads, mref, e, e / mref);
            CHECK_MSG(e <= TOL * mref, "%s: max error %g > %g * %g", tag, e, TOL, mref);
            if (threads == 1) {
                memcpy(first, y, n * sizeof *y);
                /* Reused: same buffers, same answer, even after the input buffer is refilled. */
                memcpy(tnet_plan_input(p), x, (size_t)3 * h * w * sizeof *x);
                const float *y2 = tnet_forward(net, p);
                CHECK(y2 == y);
                CHECK(memcmp(first, y2, n * sizeof *y2) == 0);
            } else {
                double m2;
                CHECK(max_err(y, first, n, &m2) <= 1e-5 * mref);
            }
            printf("  plan for %dx%d: %.2f MB\n", w, h, (double)tnet_plan_bytes(p) / 1048576.0);
        }
        tnet_plan_free(p);
        impasto_ctx_free(ctx);
    }
    free(first);
done:
    free(x);
    free(ref);
}

static void test_golden_even(void) { run_golden("even"); }
static void test_golden_odd(void) { run_golden("odd"); }

/* The library call on the golden input as a picture: the same numbers, clamped and scaled. */
static void test_stylize(void) {
    int64_t xs[3], ys[3];
    float *x = golden_get("input_odd", xs), *ref = golden_get("output_odd", ys);
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_fast_model *m = NULL;
    impasto_image *rgba = NULL, *out = NULL, *gray = NULL, *gout = NULL;
    CHECK(impasto_fast_load(ctx, model_path, &m) == IMPASTO_OK);
    if (!x || !ref || !m) goto done;
    CHECK(strcmp(impasto_fast_style(m), "candy") == 0);
    const int h = (int)xs[1], w = (int)xs[2], ow = (int)ys[2];
    CHECK(impasto_image_create(ctx, w, h, 4, &rgba) == IMPASTO_OK);
    float *px = impasto_image_data(rgba);
    for (int i = 0; i < h * w; i++) {
        for (int k = 0; k < 3; k++) px[4 * i + k] = x[(size_t)k * h * w + i] / 255.0f;
        px[4 * i + 3] = (float)(i % 7) / 6.0f;
    }
    for (int rep = 0; rep < 2; rep++) {
        impasto_image_free(out);
        out = NULL;
        CHECK(impasto_fast_stylize(ctx, m, rgba, NULL, &out) == IMPASTO_OK);
    }
    CHECK(out && impasto_image_width(out) == w && impasto_image_height(out) == h && impasto_image_channels(out) == 4);
    if (!out) goto done;
    const float *o = impasto_image_cdata(out);
    double worst = 0;
    int alpha_wrong = 0;
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++) {
            for (int k = 0; k < 3; k++) {
                double want = ref[((size_t)k * ys[1] + r) * ow + c];
                want = want < 0 ? 0 : want > 255 ? 1 : want / 255.0;
                worst = fmax(worst, fabs(o[4 * (r * w + c) + k] - want));
            }
            alpha_wrong += o[4 * (r * w + c) + 3] != px[4 * (r * w + c) + 3];
        }
    CHECK_MSG(worst <= 1e-4, "picture differs from PyTorch's by %g", worst);
    CHECK(alpha_wrong == 0);
    /* Gray content: treated as RGB with three equal channels; into an existing image. */
    CHECK(impasto_image_create(ctx, 16, 13, 1, &gray) == IMPASTO_OK);
    for (int i = 0; i < 16 * 13; i++) impasto_image_data(gray)[i] = (float)(i % 11) / 10.0f;
    CHECK(impasto_image_create(ctx, 16, 13, 3, &gout) == IMPASTO_OK);
    CHECK(impasto_fast_stylize_into(ctx, m, gray, NULL, gout) == IMPASTO_OK);
    /* The wrong size of output is refused. */
    CHECK(impasto_fast_stylize_into(ctx, m, rgba, NULL, gout) == IMPASTO_ERR_INVALID_ARG);
done:
    impasto_image_free(rgba), impasto_image_free(out), impasto_image_free(gray), impasto_image_free(gout);
    impasto_fast_free(m);
    impasto_ctx_free(ctx);
    free(x), free(ref);
}

static void test_sizes(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_fast_options opt;
    impasto_fast_options_init(&opt);
    CHECK(opt.content_scale == 1.0);
    int w = 0, h = 0;
    CHECK(impasto_fast_output_size(ctx, 773, 512, &opt, &w, &h) == IMPASTO_OK && w == 773 && h == 512);
    opt.content_scale = 2;
    CHECK(impasto_fast_output_size(ctx, 773, 512, &opt, &w, &h) == IMPASTO_OK && w == 386 && h == 256);
    opt.content_scale = 0;
    CHECK(impasto_fast_output_size(ctx, 773, 512, &opt, &w, &h) == IMPASTO_ERR_INVALID_ARG);
    opt.content_scale = 200;
    CHECK(impasto_fast_output_size(ctx, 773, 512, &opt, &w, &h) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(ctx), "minimum") != NULL);
    int oh, ow;
    tnet_out_size(21, 19, &oh, &ow);
    CHECK(oh == 24 && ow == 20);
    tnet_out_size(512, 512, &oh, &ow);
    CHECK(oh == 512 && ow == 512);
    tnet_out_size(5, 6, &oh, &ow);
    CHECK(oh == 8 && ow == 8);
    tnet_plan *p = NULL;
    CHECK(tnet_plan_create(ctx, 4, 100, 1, &p) == IMPASTO_ERR_INVALID_ARG && p == NULL);
    CHECK(tnet_plan_create(ctx, 100000, 100000, 1, &p) == IMPASTO_ERR_TOO_LARGE && p == NULL);
    /* The smallest input runs; content scale shrinks before the network. */
    impasto_fast_model *m = NULL;
    impasto_image *img = NULL, *out = NULL;
    CHECK(impasto_fast_load(ctx, model_path, &m) == IMPASTO_OK);
    CHECK(impasto_image_create(ctx, 5, 5, 3, &img) == IMPASTO_OK);
    CHECK(m && impasto_fast_stylize(ctx, m, img, NULL, &out) == IMPASTO_OK && impasto_image_width(out) == 5);
    impasto_image_free(img), impasto_image_free(out);
    img = out = NULL;
    opt.content_scale = 2.5;
    CHECK(impasto_image_create(ctx, 40, 23, 3, &img) == IMPASTO_OK);
    CHECK(m && impasto_fast_stylize(ctx, m, img, &opt, &out) == IMPASTO_OK);
    CHECK(out && impasto_image_width(out) == 16 && impasto_image_height(out) == 9);
    /* A VGG model or a missing file is not a fast model. */
    impasto_fast_model *bad = NULL;
    CHECK(impasto_fast_load(ctx, "/nonexistent.safetensors", &bad) == IMPASTO_ERR_IO && !bad);
    /* ... and a fast model is not a VGG-19: the VGG loader says what it is. */
    impasto_model *vgg = NULL;
    CHECK(impasto_model_load(ctx, model_path, &vgg) == IMPASTO_ERR_UNSUPPORTED && !vgg);
    CHECK(strstr(impasto_ctx_error(ctx), "fast style network") != NULL);
    impasto_image_free(img), impasto_image_free(out);
    impasto_fast_free(m);
    impasto_fast_free(NULL);
    impasto_ctx_free(ctx);
}

/* Bad weights: a NaN is refused at load, naming the file and the tensor; finite but huge weights
 * (3e38, near FLT_MAX) load, and the run stops with IMPASTO_ERR_NOT_FINITE instead of clamping
 * the overflow into a picture (no image from impasto_fast_stylize, `out` of _into untouched). */
static void test_bad_weights(void) {
    char nan_path[96], huge_path[96], want[200];
    snprintf(nan_path, sizeof nan_path, "/tmp/impasto-test-fast-nan-%d.safetensors", (int)getpid());
    snprintf(huge_path, sizeof huge_path, "/tmp/impasto-test-fast-huge-%d.safetensors", (int)getpid());
    CHECK(model_patch_copy(model_path, nan_path, "in3.weight", 7, 1, NAN));
    CHECK(model_patch_copy(model_path, huge_path, "deconv3.conv2d.weight", 0, SIZE_MAX, 3e38f));
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_fast_model *m = NULL;
    CHECK(impasto_fast_load(ctx, nan_path, &m) == IMPASTO_ERR_FORMAT && !m);
    snprintf(want, sizeof want, "%s: tensor 'in3.weight' holds NaN or infinite values", nan_path);
    CHECK_MSG(strcmp(impasto_ctx_error(ctx), want) == 0, "message: %s", impasto_ctx_error(ctx));
    CHECK_MSG(impasto_fast_load(ctx, huge_path, &m) == IMPASTO_OK && m, "%s", impasto_ctx_error(ctx));
    impasto_image *img = NULL, *out = NULL, *into = NULL;
    CHECK(impasto_image_create(ctx, 24, 20, 3, &img) == IMPASTO_OK);
    CHECK(impasto_image_create(ctx, 24, 20, 3, &into) == IMPASTO_OK);
    for (int i = 0; img && i < 24 * 20 * 3; i++) impasto_image_data(img)[i] = (float)(i % 13) / 12.0f;
    for (int i = 0; into && i < 24 * 20 * 3; i++) impasto_image_data(into)[i] = 0.25f;
    if (m && img && into) {
        CHECK(impasto_fast_stylize(ctx, m, img, NULL, &out) == IMPASTO_ERR_NOT_FINITE && !out);
        CHECK(strstr(impasto_ctx_error(ctx), "NaN or infinite") != NULL);
        CHECK(strcmp(impasto_status_string(IMPASTO_ERR_NOT_FINITE), "a value became NaN or infinite") == 0);
        impasto_status st = impasto_fast_stylize_into(ctx, m, img, NULL, into);
        CHECK_MSG(st == IMPASTO_ERR_NOT_FINITE, "status %d: %s", (int)st, impasto_ctx_error(ctx));
        int untouched = 1;
        for (int i = 0; i < 24 * 20 * 3; i++) untouched &= impasto_image_cdata(into)[i] == 0.25f;
        CHECK(untouched);
    }
    impasto_image_free(img), impasto_image_free(out), impasto_image_free(into);
    impasto_fast_free(m);
    impasto_ctx_free(ctx);
    unlink(nan_path);
    unlink(huge_path);
}

/* A call runs with its context's thread count and leaves the caller's OpenMP setting as it was:
 * set to 1 here, after runs with contexts of 2 and 3 threads it is still 1. */
static void test_threads_restored(void) {
    impasto_fast_model *m = NULL;
    impasto_image *img = NULL, *out = NULL;
    impasto_ctx *c2 = impasto_ctx_create(), *c3 = impasto_ctx_create();
    impasto_ctx_set_threads(c2, 2);
    impasto_ctx_set_threads(c3, 3);
    CHECK(impasto_fast_load(c2, model_path, &m) == IMPASTO_OK);
    CHECK(impasto_image_create(c2, 20, 16, 3, &img) == IMPASTO_OK);
    omp_set_num_threads(1);
    CHECK(m && impasto_fast_stylize(c2, m, img, NULL, &out) == IMPASTO_OK);
    CHECK_MSG(omp_get_max_threads() == 1, "the caller's OpenMP threads are now %d", omp_get_max_threads());
    CHECK(m && out && impasto_fast_stylize_into(c3, m, img, NULL, out) == IMPASTO_OK);
    CHECK_MSG(omp_get_max_threads() == 1, "the caller's OpenMP threads are now %d", omp_get_max_threads());
    /* A failing call restores it too. */
    CHECK(m && impasto_fast_stylize_into(c3, m, img, NULL, img) == IMPASTO_OK);
    impasto_image *gray = NULL;
    CHECK(impasto_image_create(c2, 20, 16, 1, &gray) == IMPASTO_OK);
    CHECK(m && impasto_fast_stylize_into(c2, m, img, NULL, gray) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(c2), "impasto_") == NULL);
    CHECK(omp_get_max_threads() == 1);
    omp_set_num_threads(omp_get_num_procs());
    impasto_image_free(img), impasto_image_free(out), impasto_image_free(gray);
    impasto_fast_free(m);
    impasto_ctx_free(c2);
    impasto_ctx_free(c3);
}

int main(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    struct stat st;
    if (stat("models/candy.safetensors", &st) == 0) {
        snprintf(model_path, sizeof model_path, "models/candy.safetensors");
    } else {
        char param[512], bin[512];
        snprintf(param, sizeof param, "%s/models/upstream/fast-neural-style/transformernet.param.bin", test_shared_dir());
        snprintf(bin, sizeof bin, "%s/models/upstream/fast-neural-style/candy.bin", test_shared_dir());
        if (stat(param, &st) != 0 || stat(bin, &st) != 0) {
            printf("skipped (no models/candy.safetensors and no %s)\n", bin);
            impasto_ctx_free(ctx);
            return test_summary();
        }
        snprintf(tmp_model, sizeof tmp_model, "/tmp/impasto-test-fast-%d.safetensors", (int)getpid());
        if (impasto_convert_ncnn_transformernet(ctx, param, bin, tmp_model) != IMPASTO_OK) {
            fprintf(stderr, "conversion failed: %s\n", impasto_ctx_error(ctx));
            return 1;
        }
        snprintf(model_path, sizeof model_path, "%s", tmp_model);
    }
    int ok = safetensors_open(ctx, GOLDEN, &golden) == IMPASTO_OK;
    if (!ok) fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
    ok = ok && transformer_net_load(ctx, model_path, &net) == IMPASTO_OK;
    if (ok) {
        RUN(test_golden_even);
        RUN(test_golden_odd);
        RUN(test_stylize);
        RUN(test_sizes);
        RUN(test_bad_weights);
        RUN(test_threads_restored);
    } else {
        fprintf(stderr, "setup failed: %s\n", impasto_ctx_error(ctx));
        test_failed_count++;
    }
    transformer_net_free(net);
    safetensors_close(golden);
    impasto_ctx_free(ctx);
    if (tmp_model[0]) unlink(tmp_model);
    return test_summary();
}
