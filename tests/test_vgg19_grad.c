/* VGG-19's plan, forward and backward on random weights (the comparison with PyTorch on the
 * real weights is test_vgg19_golden's): the input gradient against central finite differences
 * of the scalar the injected gradients define, the shapes of the stored outputs, fusion not
 * changing results, determinism, Caffe preprocessing and the loader's checks. */
#include "test.h"

#include "core/image.h"
#include "formats/safetensors.h"
#include "models/vgg19.h"

#include <stdint.h>
#include <unistd.h>

#define IN_H 20
#define IN_W 28
#define IN_N (3 * IN_H * IN_W)

static vgg19 *g_net;
static float g_zero_bias[512];

/* He-uniform weights (fan-in scaled) keep the activations of a random 16-layer ReLU net O(1). */
static vgg19 *random_net(unsigned long long seed) {
    vgg19 *net = calloc(1, sizeof *net);
    const vgg19_layer *L = vgg19_layers();
    for (int l = 0; l < VGG19_NUM_LAYERS; l++) {
        if (L[l].kind != VGG_CONV) continue;
        size_t n = (size_t)L[l].out_c * L[l].in_c * 9;
        float a = sqrtf(6.0f / (float)(L[l].in_c * 9));
        net->w[L[l].conv] = test_falloc(n);
        net->b[L[l].conv] = test_falloc((size_t)L[l].out_c);
        for (size_t i = 0; i < n; i++) net->w[L[l].conv][i] = test_uniform(&seed, -a, a);
        for (int i = 0; i < L[l].out_c; i++) net->b[L[l].conv][i] = test_uniform(&seed, -0.1f, 0.1f);
    }
    return net;
}

static double dotf(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

static size_t out_numel(const vgg19_plan *p, int layer) {
    int c = 0, h = 0, w = 0;
    vgg19_plan_shape(p, layer, &c, &h, &w);
    return (size_t)c * h * w;
}

/* The scalar whose gradient vgg19_backward computes: sum over layers of <grad_at[l], out_l>.
 * A fused conv's output is not stored, so injections there are only tested on kept convs. */
static double scalar(const vgg19 *net, vgg19_plan *p, const float *x, float *const *grad_at) {
    vgg19_forward(net, p, x);
    double s = 0.0;
    for (int l = 0; l < VGG19_NUM_LAYERS; l++) {
        if (!grad_at[l]) continue;
        const float *o = vgg19_plan_output(p, l, NULL, NULL, NULL);
        if (!o) return NAN;
        s += dotf(grad_at[l], o, out_numel(p, l));
    }
    return s;
}

/* Backward with random gradients injected at `inject` (two layers), checked two ways.
 *
 * Finite differences: the net is piecewise linear in x, so a central difference is exact unless
 * a ReLU or max-pool kink lies within the step, and at relu5_1 every unit of every layer
 * depends on every pixel, so with float32 roundoff on one side and kinks on the other no step
 * is clean for every element: measured, the error is a few % of the gradient's rms at worst.
 * The test bounds each element (20% of rms) and the relative L2 error over the sample (10%);
 * a wrong mask, route or kernel index gives errors of the order of the gradient itself.
 *
 * Euler's identity, exact: with zero biases every layer is positively homogeneous of degree 1
 * (conv, ReLU, max and average pooling), so the scalar L satisfies L(x) = <grad L(x), x>. */
static void check_gradient(int last, pool_kind pooling, const int *inject, const unsigned char *keep,
                           unsigned long long seed) {
    impasto_ctx *ctx = impasto_ctx_create();
    vgg19_plan *p = NULL;
    CHECK(vgg19_plan_create(ctx, g_net, IN_H, IN_W, last, pooling, keep, &p) == IMPASTO_OK);
    if (!p) {
        impasto_ctx_free(ctx);
        return;
    }
    float *grad_at[VGG19_NUM_LAYERS] = {0};
    for (int i = 0; i < 2; i++) {
        size_t n = out_numel(p, inject[i]);
        CHECK(n > 0);
        grad_at[inject[i]] = test_falloc(n);
        for (size_t k = 0; k < n; k++) grad_at[inject[i]][k] = test_uniform(&seed, -1, 1);
    }
    float *x = test_falloc(IN_N), *dx = test_falloc(IN_N), *xp = test_falloc(IN_N);
    for (int i = 0; i < IN_N; i++) x[i] = test_uniform(&seed, -2, 2);
    vgg19_forward(g_net, p, x);
    vgg19_backward(g_net, p, (const float *const *)grad_at, dx);
    double rms = sqrt(dotf(dx, dx, IN_N) / IN_N);
    CHECK(rms > 0.0);

    /* corners, edges and a random sample of the input */
    int idx[24], nidx = 0;
    const int fixed[] = {0, IN_W - 1, (IN_H - 1) * IN_W, IN_H * IN_W - 1, IN_H * IN_W + 5 * IN_W,
                         2 * IN_H * IN_W + 7 * IN_W + 13};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) idx[nidx++] = fixed[i];
    while (nidx < 24) idx[nidx++] = (int)test_uniform(&seed, 0, IN_N - 1);
    const float eps = 2e-3f;
    double err2 = 0.0, ref2 = 0.0;
    int bad = 0;
    memcpy(xp, x, IN_N * sizeof *x);
    for (int k = 0; k < nidx; k++) {
        int i = idx[k];
        xp[i] = x[i] + eps;
        double lp = scalar(g_net, p, xp, grad_at);
        xp[i] = x[i] - eps;
        double lm = scalar(g_net, p, xp, grad_at);
        xp[i] = x[i];
        double num = (lp - lm) / ((double)(x[i] + eps) - (double)(x[i] - eps));
        err2 += (num - dx[i]) * (num - dx[i]);
        ref2 += num * num;
        if (!(fabs(num - dx[i]) <= 0.2 * rms)) {
            if (bad < 3) fprintf(stderr, "  dx[%d]: analytic %.7g numeric %.7g (rms %.3g)\n", i, dx[i], num, rms);
            bad++;
        }
    }
    CHECK_MSG(bad == 0 && err2 <= 0.01 * ref2, "%d elements off, relative L2 error %.3g", bad,
              sqrt(err2 / ref2));

    /* Euler's identity on the same weights without biases */
    float *saved[VGG19_NUM_CONV];
    for (int i = 0; i < VGG19_NUM_CONV; i++) {
        saved[i] = g_net->b[i];
        g_net->b[i] = g_zero_bias;
    }
    double l0 = scalar(g_net, p, x, grad_at);
    vgg19_backward(g_net, p, (const float *const *)grad_at, dx);
    double euler = dotf(dx, x, IN_N), terms = 0.0;
    for (int i = 0; i < IN_N; i++) terms += fabs((double)dx[i] * (double)x[i]);
    /* float32 sums of terms of both signs: the error scales with their magnitude, not with L (a
     * small L is a cancellation of large terms). */
    CHECK_MSG(fabs(euler - l0) <= 1e-5 * terms && l0 != 0.0, "L %.9g, <dL/dx, x> %.9g, sum |terms| %.4g", l0,
              euler, terms);
    fprintf(stderr, "  Euler: L %.9g, <dL/dx, x> %.9g, sum |terms| %.4g\n", l0, euler, terms);
    for (int i = 0; i < VGG19_NUM_CONV; i++) g_net->b[i] = saved[i];

    for (int i = 0; i < VGG19_NUM_LAYERS; i++) free(grad_at[i]);
    free(x), free(dx), free(xp);
    vgg19_plan_free(p);
    impasto_ctx_free(ctx);
}

static void test_grad_max_pool(void) {
    const int inject[] = {vgg19_layer_index("relu3_1"), vgg19_layer_index("relu5_1")};
    unsigned char keep[VGG19_NUM_LAYERS] = {0};
    keep[inject[0]] = keep[inject[1]] = 1;
    check_gradient(inject[1], POOL_MAX, inject, keep, 1001);
}

/* A kept ReLU feeding a max pool: the pool routes by its bitmap and the ReLU, injected into, masks
 * by its own. */
static void test_grad_max_pool_kept_relu(void) {
    const int inject[] = {vgg19_layer_index("relu2_2"), vgg19_layer_index("relu4_1")};
    unsigned char keep[VGG19_NUM_LAYERS] = {0};
    keep[inject[0]] = keep[inject[1]] = 1;
    check_gradient(inject[1], POOL_MAX, inject, keep, 3003);
}

/* Average pooling, and an injection at a kept (so unfused) conv below an injected ReLU. */
static void test_grad_avg_pool_kept_conv(void) {
    const int inject[] = {vgg19_layer_index("relu1_2"), vgg19_layer_index("conv4_2")};
    unsigned char keep[VGG19_NUM_LAYERS] = {0};
    keep[inject[0]] = keep[inject[1]] = 1;
    check_gradient(vgg19_layer_index("relu4_2"), POOL_AVG, inject, keep, 2002);
}

static void test_table(void) {
    const vgg19_layer *L = vgg19_layers();
    int convs = 0, pools = 0, c = 3;
    for (int l = 0; l < VGG19_NUM_LAYERS; l++) {
        CHECK(vgg19_layer_index(L[l].name) == l);
        CHECK(L[l].in_c == c);
        if (L[l].kind == VGG_CONV) CHECK(L[l].conv == convs++);
        else CHECK(L[l].conv == -1);
        if (L[l].kind == VGG_POOL) pools++;
        if (L[l].kind == VGG_RELU) CHECK(l > 0 && L[l - 1].kind == VGG_CONV);
        c = L[l].out_c;
    }
    CHECK(convs == 16 && pools == 5 && c == 512);
    CHECK(vgg19_layer_index("relu4_2") == 22 && vgg19_layer_index("relu5_1") == 29);
    CHECK(vgg19_layer_index("pool5") == 36 && vgg19_layer_index("conv1_1") == 0);
    CHECK(vgg19_layer_index("relu6_1") == -1 && vgg19_layer_index(NULL) == -1);
}

static void test_shapes(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    unsigned char keep[VGG19_NUM_LAYERS] = {0};
    const int last = vgg19_layer_index("relu5_1");
    keep[vgg19_layer_index("relu1_1")] = 1;
    vgg19_plan *p = NULL;
    CHECK(vgg19_plan_create(ctx, g_net, IN_H, IN_W, last, POOL_MAX, keep, &p) == IMPASTO_OK);
    if (!p) return;
    /* 20x28 -> pools in ceil mode: 10x14, 5x7, 3x4, 2x2 */
    static const struct { const char *name; int c, h, w; } want[] = {
        {"relu1_1", 64, 20, 28}, {"relu1_2", 64, 20, 28}, {"pool1", 64, 10, 14},
        {"relu2_2", 128, 10, 14}, {"pool2", 128, 5, 7}, {"relu3_4", 256, 5, 7},
        {"pool3", 256, 3, 4}, {"relu4_1", 512, 3, 4}, {"pool4", 512, 2, 2}, {"relu5_1", 512, 2, 2},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int c = 0, h = 0, w = 0;
        CHECK_MSG(vgg19_plan_shape(p, vgg19_layer_index(want[i].name), &c, &h, &w) && c == want[i].c &&
                      h == want[i].h && w == want[i].w,
                  "%s: %dx%dx%d", want[i].name, c, h, w);
    }
    /* only the kept layers and the last one are stored; convs nobody reads are fused; nothing
     * beyond last */
    CHECK(vgg19_plan_output(p, vgg19_layer_index("relu1_1"), NULL, NULL, NULL) != NULL);
    CHECK(vgg19_plan_output(p, vgg19_layer_index("relu5_1"), NULL, NULL, NULL) != NULL);
    CHECK(vgg19_plan_output(p, vgg19_layer_index("relu1_2"), NULL, NULL, NULL) == NULL);
    CHECK(vgg19_plan_output(p, vgg19_layer_index("pool4"), NULL, NULL, NULL) == NULL);
    CHECK(!vgg19_plan_shape(p, vgg19_layer_index("conv5_2"), NULL, NULL, NULL));
    CHECK(vgg19_plan_output(p, vgg19_layer_index("conv1_1"), NULL, NULL, NULL) == NULL);
    CHECK(vgg19_plan_output(p, vgg19_layer_index("conv5_1"), NULL, NULL, NULL) == NULL);
    CHECK(vgg19_plan_output(p, vgg19_layer_index("conv5_2"), NULL, NULL, NULL) == NULL);
    CHECK(vgg19_plan_output(p, -1, NULL, NULL, NULL) == NULL);
    CHECK(vgg19_plan_bytes(p) > 0);
    vgg19_plan_free(p);
    /* the last layer is stored even when it is a conv and not kept */
    CHECK(vgg19_plan_create(ctx, g_net, 1, 1, 2, POOL_MAX, keep, &p) == IMPASTO_OK);
    int c = 0, h = 0, w = 0;
    CHECK(vgg19_plan_output(p, 2, &c, &h, &w) != NULL && c == 64 && h == 1 && w == 1);
    vgg19_plan_free(p);
    /* bad arguments */
    CHECK(vgg19_plan_create(ctx, g_net, 0, 5, 3, POOL_MAX, NULL, &p) == IMPASTO_ERR_INVALID_ARG && !p);
    CHECK(vgg19_plan_create(ctx, g_net, 5, 5, 37, POOL_MAX, NULL, &p) == IMPASTO_ERR_INVALID_ARG);
    CHECK(vgg19_plan_create(ctx, g_net, 1 << 30, 1 << 30, 3, POOL_MAX, NULL, &p) == IMPASTO_ERR_TOO_LARGE);
    impasto_ctx_free(ctx);
}

/* Fused and unfused plans compute the same numbers, and repeated runs are bitwise equal. */
static void test_fusion_and_determinism(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    const int last = vgg19_layer_index("relu5_1");
    unsigned char keep[VGG19_NUM_LAYERS] = {0};
    keep[last] = 1;
    vgg19_plan *pf = NULL, *pa = NULL;
    CHECK(vgg19_plan_create(ctx, g_net, IN_H, IN_W, last, POOL_MAX, keep, &pf) == IMPASTO_OK);
    CHECK(vgg19_plan_create(ctx, g_net, IN_H, IN_W, last, POOL_MAX, NULL, &pa) == IMPASTO_OK);
    if (!pf || !pa) return;
    CHECK(vgg19_plan_bytes(pf) < vgg19_plan_bytes(pa));
    CHECK(vgg19_plan_output(pa, 0, NULL, NULL, NULL) != NULL);
    unsigned long long s = 5;
    float *x = test_falloc(IN_N), *dx1 = test_falloc(IN_N), *dx2 = test_falloc(IN_N), *dx3 = test_falloc(IN_N);
    for (int i = 0; i < IN_N; i++) x[i] = test_uniform(&s, -2, 2);
    size_t n = out_numel(pf, last);
    float *g = test_falloc(n), *y1 = test_falloc(n);
    for (size_t i = 0; i < n; i++) g[i] = test_uniform(&s, -1, 1);
    const float *grad_at[VGG19_NUM_LAYERS] = {0};
    grad_at[last] = g;
    vgg19_forward(g_net, pf, x);
    memcpy(y1, vgg19_plan_output(pf, last, NULL, NULL, NULL), n * sizeof *y1);
    vgg19_backward(g_net, pf, grad_at, dx1);
    vgg19_forward(g_net, pf, x);
    CHECK(memcmp(y1, vgg19_plan_output(pf, last, NULL, NULL, NULL), n * sizeof *y1) == 0);
    /* The backward pass reads no outputs: the gradient may be written over the features, and the
     * scratch is free between the passes. */
    float *own = vgg19_plan_output(pf, last, NULL, NULL, NULL);
    memcpy(own, g, n * sizeof *g);
    size_t ns = 0;
    float *scratch = vgg19_plan_scratch(pf, &ns);
    CHECK(ns >= (size_t)64 * IN_H * IN_W);
    memset(scratch, 0xff, ns * sizeof *scratch);
    const float *grad_own[VGG19_NUM_LAYERS] = {0};
    grad_own[last] = own;
    vgg19_backward(g_net, pf, grad_own, dx2);
    CHECK(memcmp(dx1, dx2, IN_N * sizeof *dx1) == 0);
    vgg19_forward(g_net, pa, x);
    CHECK(memcmp(y1, vgg19_plan_output(pa, last, NULL, NULL, NULL), n * sizeof *y1) == 0);
    vgg19_backward(g_net, pa, grad_at, dx3);
    CHECK(memcmp(dx1, dx3, IN_N * sizeof *dx1) == 0);
    /* no gradient anywhere: dx is zero */
    const float *none[VGG19_NUM_LAYERS] = {0};
    vgg19_backward(g_net, pf, none, dx3);
    double z = 0;
    for (int i = 0; i < IN_N; i++) z += fabs(dx3[i]);
    CHECK(z == 0.0);
    free(x), free(dx1), free(dx2), free(dx3), free(g), free(y1);
    vgg19_plan_free(pf);
    vgg19_plan_free(pa);
    impasto_ctx_free(ctx);
}

/* Winograd (the default) against im2col + GEMM for every layer (vgg19_plan_set_winograd(p, 0)),
 * on a larger map than the gradient tests so every layer has whole tiles and several threads:
 * relu5_1 and the input gradient of injections at relu3_1 (with the fused ReLU masks below it)
 * and relu5_1 agree to 1e-4 relative L2 (Winograd's float32 error is ~1e-6 per layer). */
static void test_winograd_matches_im2col(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, 2);
    const int h = 70, w = 54, last = vgg19_layer_index("relu5_1"), mid = vgg19_layer_index("relu3_1");
    vgg19_plan *p = NULL;
    CHECK(vgg19_plan_create(ctx, g_net, h, w, last, POOL_MAX, NULL, &p) == IMPASTO_OK);
    if (!p) {
        impasto_ctx_free(ctx);
        return;
    }
    CHECK(vgg19_plan_keep_kernels(p, g_net));
    int mr = 0;
    CHECK(vgg19_plan_winograd_kernels(p, vgg19_layer_index("conv5_1"), 1, &mr) != NULL && mr > 0);
    unsigned long long seed = 99;
    const size_t nx = (size_t)3 * h * w, n5 = out_numel(p, last), n3 = out_numel(p, mid);
    float *x = test_falloc(nx), *g5 = test_falloc(n5), *g3 = test_falloc(n3), *f[2], *dx[2];
    for (size_t i = 0; i < nx; i++) x[i] = test_uniform(&seed, -100.0f, 100.0f);
    for (size_t i = 0; i < n5; i++) g5[i] = test_uniform(&seed, -1.0f, 1.0f);
    for (size_t i = 0; i < n3; i++) g3[i] = test_uniform(&seed, -1.0f, 1.0f);
    const float *grad_at[VGG19_NUM_LAYERS] = {0};
    grad_at[last] = g5;
    grad_at[mid] = g3;
    for (int k = 0; k < 2; k++) {
        vgg19_plan_set_winograd(p, k == 0);
        f[k] = test_falloc(n5);
        dx[k] = test_falloc(nx);
        vgg19_forward(g_net, p, x);
        memcpy(f[k], vgg19_plan_output(p, last, NULL, NULL, NULL), n5 * sizeof(float));
        vgg19_backward(g_net, p, grad_at, dx[k]);
    }
    double ef = 0, nf = 0, eg = 0, ng = 0;
    for (size_t i = 0; i < n5; i++) {
        ef += ((double)f[0][i] - f[1][i]) * ((double)f[0][i] - f[1][i]);
        nf += (double)f[1][i] * f[1][i];
    }
    for (size_t i = 0; i < nx; i++) {
        eg += ((double)dx[0][i] - dx[1][i]) * ((double)dx[0][i] - dx[1][i]);
        ng += (double)dx[1][i] * dx[1][i];
    }
    printf("  Winograd vs im2col: relu5_1 relative L2 %.2e, input gradient %.2e\n", sqrt(ef / nf), sqrt(eg / ng));
    CHECK(nf > 0 && sqrt(ef / nf) <= 1e-4);
    CHECK(ng > 0 && sqrt(eg / ng) <= 1e-4);
    for (int k = 0; k < 2; k++) {
        free(f[k]);
        free(dx[k]);
    }
    free(x);
    free(g5);
    free(g3);
    vgg19_plan_free(p);
    impasto_ctx_free(ctx);
}

static void test_preprocess(void) {
    float px[4 * 4] = {0.0f, 0.5f, 1.0f, 0.25f, 0.2f, 0.4f, 0.6f, 1.0f,
                       1.0f, 1.0f, 1.0f, 0.0f, 0.1f, 0.9f, 0.3f, 0.5f};
    impasto_image rgba = {2, 2, 4, px};  /* 2x2, alpha ignored */
    float x[12], rgb[12];
    vgg19_preprocess(&rgba, x);
    CHECK_NEAR(x[0], 0.0f * 255 - 123.68f, 1e-3);     /* R of pixel 0 */
    CHECK_NEAR(x[4 + 1], 0.4f * 255 - 116.779f, 1e-3); /* G of pixel 1 */
    CHECK_NEAR(x[8 + 3], 0.3f * 255 - 103.939f, 1e-3); /* B of pixel 3 */
    vgg19_deprocess(x, 2, 2, rgb);
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 3; c++) CHECK_NEAR(rgb[i * 3 + c], px[i * 4 + c], 1e-5);
    float g[2] = {0.5f, 1.0f};
    impasto_image gray = {2, 1, 1, g};
    float xg[6];
    vgg19_preprocess(&gray, xg);
    CHECK_NEAR(xg[0], 127.5f - 123.68f, 1e-3);
    CHECK_NEAR(xg[2 + 1], 255.0f - 116.779f, 1e-3);
    CHECK_NEAR(xg[4 + 0], 127.5f - 103.939f, 1e-3);
    float far[3] = {1000.0f, -1000.0f, 0.0f}, out[3];
    vgg19_deprocess(far, 1, 1, out);
    CHECK(out[0] == 1.0f && out[1] == 0.0f);
    CHECK_NEAR(out[2], 103.939 / 255, 1e-6);
}

/* vgg19_load: a full round trip through a safetensors file, a wrong kind, a missing tensor. */
static void test_load(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    char path[] = "/tmp/impasto_vgg19_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    const vgg19_layer *L = vgg19_layers();
    st_write_tensor t[2 * VGG19_NUM_CONV];
    char names[2 * VGG19_NUM_CONV][32];
    size_t n = 0;
    for (int l = 0; l < VGG19_NUM_LAYERS; l++) {
        if (L[l].kind != VGG_CONV) continue;
        snprintf(names[n], 32, "%s.weight", L[l].name);
        t[n] = (st_write_tensor){names[n], 4, {L[l].out_c, L[l].in_c, 3, 3}, g_net->w[L[l].conv]};
        n++;
        snprintf(names[n], 32, "%s.bias", L[l].name);
        t[n] = (st_write_tensor){names[n], 1, {L[l].out_c}, g_net->b[L[l].conv]};
        n++;
    }
    const char *meta[] = {"kind", "vgg19"}, *other[] = {"kind", "transformer"};
    vgg19 *net = NULL;
    CHECK(safetensors_write(ctx, path, t, n, meta, 1) == IMPASTO_OK);
    CHECK(vgg19_load(ctx, path, &net) == IMPASTO_OK);
    if (net) {
        CHECK(memcmp(net->w[15], g_net->w[15], (size_t)512 * 512 * 9 * sizeof(float)) == 0);
        CHECK(memcmp(net->b[0], g_net->b[0], 64 * sizeof(float)) == 0);
        vgg19_free(net);
        net = NULL;
    }
    CHECK(safetensors_write(ctx, path, t, n, other, 1) == IMPASTO_OK);
    CHECK(vgg19_load(ctx, path, &net) != IMPASTO_OK && !net);
    CHECK(safetensors_write(ctx, path, t, n - 1, meta, 1) == IMPASTO_OK);  /* no conv5_4.bias */
    CHECK(vgg19_load(ctx, path, &net) != IMPASTO_OK && !net);
    CHECK(strstr(impasto_ctx_error(ctx), "conv5_4.bias") != NULL);
    unlink(path);
    impasto_ctx_free(ctx);
}

int main(void) {
    g_net = random_net(77);
    RUN(test_table);
    RUN(test_shapes);
    RUN(test_fusion_and_determinism);
    RUN(test_grad_max_pool);
    RUN(test_grad_max_pool_kept_relu);
    RUN(test_grad_avg_pool_kept_conv);
    RUN(test_winograd_matches_im2col);
    RUN(test_preprocess);
    RUN(test_load);
    vgg19_free(g_net);
    return test_summary();
}
