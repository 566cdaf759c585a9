/* VGG-19 forward against PyTorch: tests/data/vgg19_golden.safetensors (tools/gen_golden_vgg19.py)
 * holds a 3x26x38 preprocessed input and PyTorch's relu1_1 (first 32 channels), relu2_1, relu3_1,
 * relu4_1, relu4_2 and relu5_1 for max pooling and relu5_1 for average pooling, computed in float64
 * from impasto's converted weights (the golden file holds no weights).
 *
 * Tolerance: max |impasto - reference| <= 1e-4 * max |reference| per layer. A float32 forward
 * differs from the exact answer only by summation order; PyTorch's own float32 forward lands within
 * 5e-7 of the layer maximum (printed by the generator), so 1e-4 leaves room for any blocking or
 * accumulation order while any real mistake (a flipped kernel, a channel order, a pooling edge
 * rule) is off by order 1 of the maximum.
 *
 * Weights: models/vgg19.safetensors when present (`make test` builds it with `make models`), else a
 * fresh conversion from ../shared; skipped (passes) when neither is available. */
#include "core/ctx.h"
#include "formats/safetensors.h"
#include "models/vgg19.h"
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

#define GOLDEN "tests/data/vgg19_golden.safetensors"
#define TOL 1e-4

static char model_path[512];
static char tmp_model[256];
static safetensors *golden;
static vgg19 *net;

/* Compares layer `name` of a forward run with golden tensor `gname` (whose channel count may be
 * a prefix of the layer's). */
static void compare(const vgg19_plan *p, const char *name, const char *gname) {
    const st_tensor *g = safetensors_find(golden, gname);
    CHECK_MSG(g && g->ndim == 3, "golden tensor %s", gname);
    int layer = vgg19_layer_index(name), c = 0, h = 0, w = 0;
    CHECK(layer >= 0);
    if (!g || g->ndim != 3 || layer < 0) return;
    const float *y = vgg19_plan_output(p, layer, &c, &h, &w);
    CHECK_MSG(y != NULL, "no output kept for %s", name);
    CHECK_MSG(g->shape[0] <= c && g->shape[1] == h && g->shape[2] == w,
              "%s: impasto (%d, %d, %d), golden (%lld, %lld, %lld)", name, c, h, w, (long long)g->shape[0],
              (long long)g->shape[1], (long long)g->shape[2]);
    if (!y || g->shape[0] > c || g->shape[1] != h || g->shape[2] != w) return;
    float *ref = malloc(g->nelem * sizeof *ref);
    CHECK(safetensors_get_f32(NULL, golden, gname, g->ndim, g->shape, ref) == IMPASTO_OK);
    /* The stored channels are the first ones, so the compared data is a prefix of y (C, H, W). */
    double max_ref = 0, max_err = 0, sum_err = 0;
    for (size_t i = 0; i < g->nelem; i++) {
        double e = fabs((double)y[i] - ref[i]);
        max_ref = fmax(max_ref, fabs(ref[i]));
        max_err = fmax(max_err, e);
        sum_err += e;
    }
    printf("  %-12s (%3lld, %2d, %2d): max|ref| %9.4g  max err %9.3g (%.2g of max)  mean err %9.3g\n", gname,
           (long long)g->shape[0], h, w, max_ref, max_err, max_err / max_ref, sum_err / (double)g->nelem);
    CHECK(max_ref > 0);
    CHECK_MSG(max_err <= TOL * max_ref, "%s: max error %g > %g * %g", gname, max_err, TOL, max_ref);
    free(ref);
}

static void run(pool_kind pooling, const char *const *layers, const char *const *gnames, int n) {
    const st_tensor *in = safetensors_find(golden, "input");
    CHECK(in && in->ndim == 3 && in->shape[0] == 3);
    if (!in || in->ndim != 3) return;
    int h = (int)in->shape[1], w = (int)in->shape[2];
    float *x = malloc(in->nelem * sizeof *x);
    CHECK(safetensors_get_f32(NULL, golden, "input", 3, in->shape, x) == IMPASTO_OK);
    unsigned char keep[VGG19_NUM_LAYERS] = {0};
    int last = 0;
    for (int i = 0; i < n; i++) {
        int l = vgg19_layer_index(layers[i]);
        if (l < 0) continue;
        keep[l] = 1;
        if (l > last) last = l;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    vgg19_plan *p = NULL;
    CHECK_MSG(vgg19_plan_create(ctx, net, h, w, last, pooling, keep, &p) == IMPASTO_OK, "%s",
              impasto_ctx_error(ctx));
    if (p) {
        vgg19_forward(net, p, x);
        for (int i = 0; i < n; i++) compare(p, layers[i], gnames[i]);
        /* A second run on the same plan gives the same answer (no state left behind). */
        vgg19_forward(net, p, x);
        compare(p, layers[n - 1], gnames[n - 1]);
    }
    vgg19_plan_free(p);
    impasto_ctx_free(ctx);
    free(x);
}

static void test_max_pooling(void) {
    static const char *const l[] = {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"};
    run(POOL_MAX, l, l, 6);
}

static void test_avg_pooling(void) {
    static const char *const l[] = {"relu5_1"}, *const g[] = {"relu5_1_avg"};
    run(POOL_AVG, l, g, 1);
}

int main(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    struct stat st;
    if (stat("models/vgg19.safetensors", &st) == 0) {
        snprintf(model_path, sizeof model_path, "models/vgg19.safetensors");
    } else {
        char f32[512], u8[512];
        snprintf(f32, sizeof f32, "%s/models/upstream/vgg19-imagenet-f32-head", test_shared_dir());
        snprintf(u8, sizeof u8, "%s/models/upstream/vgg19-imagenet-uint8", test_shared_dir());
        if (stat(u8, &st) != 0) {
            printf("skipped (no models/vgg19.safetensors and no %s)\n", u8);
            impasto_ctx_free(ctx);
            return test_summary();
        }
        snprintf(tmp_model, sizeof tmp_model, "/tmp/impasto-test-golden-%d.safetensors", (int)getpid());
        const char *dirs[2] = {f32, u8};
        if (impasto_convert_vgg19(ctx, dirs, 2, tmp_model) != IMPASTO_OK) {
            fprintf(stderr, "conversion failed: %s\n", impasto_ctx_error(ctx));
            return 1;
        }
        snprintf(model_path, sizeof model_path, "%s", tmp_model);
    }
    int ok = safetensors_open(ctx, GOLDEN, &golden) == IMPASTO_OK;
    if (!ok) fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
    ok = ok && vgg19_load(ctx, model_path, &net) == IMPASTO_OK;
    if (ok) {
        RUN(test_max_pooling);
        RUN(test_avg_pooling);
    } else {
        fprintf(stderr, "setup failed: %s\n", impasto_ctx_error(ctx));
        test_failed_count++;
    }
    vgg19_free(net);
    safetensors_close(golden);
    impasto_ctx_free(ctx);
    if (tmp_model[0]) unlink(tmp_model);
    return test_summary();
}
