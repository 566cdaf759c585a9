/* Declared networks (src/models/net.h) and CycleGAN's / pix2pix's networks on them
 * (src/models/gan_nets.h): whole-network gradients against finite differences, the fast
 * convolution paths against im2col, inference plans against training plans, and the state_dict
 * names and shapes of the reference's networks. The forward passes and a training step against
 * PyTorch are in test_gan_golden.c. */
#include "test.h"

#include "core/ctx.h"
#include "core/rng.h"
#include "models/gan_nets.h"

#include <stdint.h>

static impasto_ctx *ctx;

/* A network's parameters away from the reference's init (gain 0.3, biases and batch norms
 * perturbed) so that every path through it carries a gradient a wiring mistake would change. */
static void randomise(net *n, uint64_t seed) {
    uint64_t g = seed;
    net_init_normal(n, 0.3f, &g);
    for (size_t i = 0; i < n->nparams; i++)
        if (n->params[i] == 0.0f) n->params[i] = (float)(0.2 * (rng_uniform(&g) - 0.5));
    for (int i = 0; i < n->n; i++) {
        const net_layer *l = &n->layers[i];
        if (l->op != NET_BATCH_NORM) continue;
        for (int c = 0; c < l->oc; c++) {
            n->buffers[l->rm_off + (size_t)c] = (float)(0.2 * (rng_uniform(&g) - 0.5));
            n->buffers[l->rv_off + (size_t)c] = (float)(0.5 + rng_uniform(&g));
        }
    }
}

static void fill(float *x, size_t n, uint64_t seed) {
    uint64_t g = seed;
    for (size_t i = 0; i < n; i++) x[i] = (float)(2.0 * rng_uniform(&g) - 1.0);
}

/* loss = sum r * net(x) in double, from the plan's input as it is; the dropout state copied so
 * every evaluation draws the same mask. */
static double eval_loss(net *n, net_plan *p, const float *r, uint64_t rng) {
    const float *y;
    if (net_forward(ctx, n, p, &rng, &y)) return NAN;
    int c, h, w;
    net_plan_out_shape(p, &c, &h, &w);
    double s = 0;
    for (size_t i = 0; i < (size_t)c * (size_t)h * (size_t)w; i++) s += (double)r[i] * y[i];
    return s;
}

/* Checks net_backward's parameter and input gradients against central differences at a sample of
 * positions. Tolerance: float32 forward passes through norms give the difference quotient an
 * error of about 1e-3 of the largest gradient at step 1e-2; a wrong wiring is off by O(1). A
 * sampled value next to a ReLU kink can legitimately miss, so one miss in 40 is allowed. */
static void check_gradients(net *n, int c, int h, int w, int flags, const char *what) {
    net_plan *p = NULL;
    CHECK(net_plan_create(ctx, n, c, h, w, flags | NET_KEEP, 2, &p) == IMPASTO_OK);
    if (!p) return;
    int oc, oh, ow;
    net_plan_out_shape(p, &oc, &oh, &ow);
    const size_t nin = (size_t)c * (size_t)h * (size_t)w, nout = (size_t)oc * (size_t)oh * (size_t)ow;
    float *x = malloc(nin * sizeof *x), *r = malloc(nout * sizeof *r), *dx = malloc(nin * sizeof *dx);
    float *grads = calloc(n->nparams, sizeof *grads);
    fill(x, nin, 11);
    fill(r, nout, 12);
    const uint64_t rng = 99;
    memcpy(net_plan_input(p), x, nin * sizeof *x);
    uint64_t g = rng;
    const float *y;
    CHECK(net_forward(ctx, n, p, &g, &y) == IMPASTO_OK);
    CHECK(net_backward(ctx, n, p, r, grads, dx) == IMPASTO_OK);
    double scale_p = 0, scale_x = 0;
    for (size_t i = 0; i < n->nparams; i++) scale_p = fmax(scale_p, fabs(grads[i]));
    for (size_t i = 0; i < nin; i++) scale_x = fmax(scale_x, fabs(dx[i]));
    CHECK_MSG(scale_p > 0 && scale_x > 0, "%s: zero gradients", what);
    const double step = 1e-3;
    int checked = 0, missed = 0;
    uint64_t pick = 5;
    for (int k = 0; k < 30; k++, checked++) {
        const size_t i = rng_below(&pick, n->nparams);
        const float keep = n->params[i];
        n->params[i] = keep + (float)step;
        memcpy(net_plan_input(p), x, nin * sizeof *x);
        const double lp = eval_loss(n, p, r, rng);
        n->params[i] = keep - (float)step;
        memcpy(net_plan_input(p), x, nin * sizeof *x);
        const double lm = eval_loss(n, p, r, rng);
        n->params[i] = keep;
        const double num = (lp - lm) / (2 * step);
        if (fabs(num - grads[i]) > 0.02 * fabs(num) + 3e-3 * scale_p) {
            missed++;
            fprintf(stderr, "  %s: parameter %zu: numeric %g, backward %g\n", what, i, num, grads[i]);
        }
    }
    for (int k = 0; k < 10; k++, checked++) {
        const size_t i = rng_below(&pick, nin);
        memcpy(net_plan_input(p), x, nin * sizeof *x);
        net_plan_input(p)[i] = x[i] + (float)step;
        const double lp = eval_loss(n, p, r, rng);
        memcpy(net_plan_input(p), x, nin * sizeof *x);
        net_plan_input(p)[i] = x[i] - (float)step;
        const double lm = eval_loss(n, p, r, rng);
        const double num = (lp - lm) / (2 * step);
        if (fabs(num - dx[i]) > 0.02 * fabs(num) + 3e-3 * scale_x) {
            missed++;
            fprintf(stderr, "  %s: input %zu: numeric %g, backward %g\n", what, i, num, dx[i]);
        }
    }
    CHECK_MSG(missed <= checked / 40, "%s: %d of %d gradients off", what, missed, checked);
    free(x), free(r), free(dx), free(grads);
    net_plan_free(p);
}

static net *make_gen(const char *name, int ngf, gan_norm norm, int dropout) {
    gan_gen_spec s = {0};
    CHECK(gan_gen_parse(name, &s) == 0);
    s.in_c = 3, s.out_c = 3, s.ngf = ngf, s.norm = norm, s.dropout = dropout;
    net *n = NULL;
    CHECK(gan_generator_create(ctx, &s, &n) == IMPASTO_OK);
    return n;
}

static net *make_disc(gan_disc_kind kind, int in_c, int ndf, int layers, gan_norm norm) {
    gan_disc_spec s = {kind, in_c, ndf, layers, norm};
    net *n = NULL;
    CHECK(gan_discriminator_create(ctx, &s, &n) == IMPASTO_OK);
    return n;
}

static void test_gradients_resnet(void) {
    net *n = make_gen("resnet_1blocks", 3, GAN_NORM_INSTANCE, 0);
    if (!n) return;
    randomise(n, 1);
    check_gradients(n, 3, 12, 16, 0, "resnet instance");
    net_free(n);
    n = make_gen("resnet_2blocks", 2, GAN_NORM_BATCH, 1);
    if (!n) return;
    randomise(n, 2);
    check_gradients(n, 3, 12, 8, NET_BATCH_STATS | NET_DROPOUT_ON, "resnet batch+dropout train");
    check_gradients(n, 3, 12, 8, 0, "resnet batch eval");
    net_free(n);
}

static void test_gradients_unet(void) {
    net *n = make_gen("unet_32", 2, GAN_NORM_BATCH, 1);
    if (!n) return;
    randomise(n, 3);
    check_gradients(n, 3, 32, 32, NET_BATCH_STATS | NET_DROPOUT_ON, "unet train");
    check_gradients(n, 3, 32, 64, 0, "unet eval");
    net_free(n);
}

static void test_gradients_discriminators(void) {
    net *n = make_disc(GAN_D_BASIC, 6, 2, 3, GAN_NORM_BATCH);
    if (n) randomise(n, 4), check_gradients(n, 6, 32, 32, NET_BATCH_STATS, "patchgan batch");
    net_free(n);
    n = make_disc(GAN_D_NLAYERS, 3, 3, 2, GAN_NORM_INSTANCE);
    if (n) randomise(n, 5), check_gradients(n, 3, 24, 20, 0, "patchgan instance");
    net_free(n);
    n = make_disc(GAN_D_PIXEL, 6, 3, 0, GAN_NORM_BATCH);
    if (n) randomise(n, 6), check_gradients(n, 6, 8, 8, NET_BATCH_STATS, "pixel");
    net_free(n);
}

/* The Winograd, direct and conv_train.c paths against im2col + GEMM, forward and backward, for
 * inputs (3, H, W); out_tol bounds the outputs' largest difference. */
static void compare_paths(net *n, int H, int W, double out_tol, const char *what) {
    net_plan *p[2] = {NULL, NULL};
    const size_t nin = 3 * (size_t)H * (size_t)W;
    float *out[2] = {NULL, NULL}, *dx[2] = {NULL, NULL}, *gr[2] = {NULL, NULL};
    float *x = malloc(nin * sizeof *x), *r = NULL;
    size_t nout = 0;
    fill(x, nin, 8);
    for (int k = 0; k < 2; k++) {
        CHECK(net_plan_create(ctx, n, 3, H, W, NET_TRAIN, 2, &p[k]) == IMPASTO_OK);
        if (!p[k]) return;
        int oc, oh, ow;
        net_plan_out_shape(p[k], &oc, &oh, &ow);
        nout = (size_t)oc * (size_t)oh * (size_t)ow;
        if (!r) fill(r = malloc(nout * sizeof *r), nout, 9);
        net_plan_set_reference(p[k], k);
        memcpy(net_plan_input(p[k]), x, nin * sizeof *x);
        const float *y;
        CHECK(net_forward(ctx, n, p[k], NULL, &y) == IMPASTO_OK);
        out[k] = malloc(nout * sizeof(float));
        memcpy(out[k], y, nout * sizeof(float));
        dx[k] = malloc(nin * sizeof(float));
        gr[k] = calloc(n->nparams, sizeof(float));
        CHECK(net_backward(ctx, n, p[k], r, gr[k], dx[k]) == IMPASTO_OK);
    }
    double e = 0, ge = 0, gs = 0, xe = 0, xs = 0;
    for (size_t i = 0; i < nout; i++) e = fmax(e, fabs(out[0][i] - out[1][i]));
    for (size_t i = 0; i < n->nparams; i++) ge = fmax(ge, fabs(gr[0][i] - gr[1][i])), gs = fmax(gs, fabs(gr[1][i]));
    for (size_t i = 0; i < nin; i++) xe = fmax(xe, fabs(dx[0][i] - dx[1][i])), xs = fmax(xs, fabs(dx[1][i]));
    /* float32 sums in another order (Winograd's transforms lose ~3 bits): gradients agree to 1e-3
     * of their largest */
    CHECK_MSG(e < out_tol, "%s: outputs differ by %g", what, e);
    CHECK_MSG(ge < 1e-3 * gs, "%s: parameter gradients differ by %g (largest %g)", what, ge, gs);
    CHECK_MSG(xe < 1e-3 * xs, "%s: input gradients differ by %g (largest %g)", what, xe, xs);
    for (int k = 0; k < 2; k++) free(out[k]), free(dx[k]), free(gr[k]), net_plan_free(p[k]);
    free(x), free(r);
}

static void test_fast_paths(void) {
    net *n = make_gen("resnet_2blocks", 4, GAN_NORM_INSTANCE, 0);
    if (!n) return;
    randomise(n, 7);
    compare_paths(n, 20, 28, 1e-4, "resnet");  /* tanh outputs */
    net_free(n);
}

/* What the plan fuses (net_plan.c) and what it must not: an upsampling read only by a 3x3 and by
 * a 9x9 convolution runs inside them (Winograd's sub-pixel path, the direct kernels with
 * upsampling, the data gradient summed back to the small map), one that an add also reads stays a
 * layer of its own; a ReLU over an instance norm runs inside it, one over a convolution does not.
 * Gradients against finite differences, the fast paths against im2col, and a lean plan (buffers
 * reused after their last reader) giving the training plan's output. */
static void test_fusions(void) {
    net *n = net_create("fusions");
    int x = net_conv(n, NET_INPUT, "c0", 3, 4, 3, 1, 1, PAD_REFLECT, 1);
    x = net_relu(n, net_instance_norm(n, x, "n0", 4, 1));
    x = net_conv(n, net_upsample(n, x, 2), "c1", 4, 4, 3, 1, 1, PAD_REFLECT, 1);
    const int u = net_upsample(n, net_relu(n, x), 2);
    x = net_add(n, u, net_conv(n, u, "c2", 4, 4, 3, 1, 1, PAD_ZERO, 0));
    x = net_conv(n, net_upsample(n, x, 2), "c3", 4, 3, 9, 1, 4, PAD_REFLECT, 1);
    CHECK(net_finish(ctx, n) == IMPASTO_OK);
    if (n->params) {
        randomise(n, 21);
        check_gradients(n, 3, 5, 6, 0, "fusions");
        compare_paths(n, 5, 6, 1e-4 * 4, "fusions");
        net_plan *keep = NULL, *lean = NULL;
        CHECK(net_plan_create(ctx, n, 3, 7, 5, NET_KEEP, 2, &keep) == IMPASTO_OK);
        CHECK(net_plan_create(ctx, n, 3, 7, 5, 0, 2, &lean) == IMPASTO_OK);
        if (keep && lean) {
            fill(net_plan_input(keep), 3 * 7 * 5, 22);
            memcpy(net_plan_input(lean), net_plan_input(keep), 3 * 7 * 5 * sizeof(float));
            const float *a, *b;
            CHECK(net_forward(ctx, n, keep, NULL, &a) == IMPASTO_OK);
            CHECK(net_forward(ctx, n, lean, NULL, &b) == IMPASTO_OK);
            int c, h, w;
            net_plan_out_shape(lean, &c, &h, &w);
            CHECK(c == 3 && h == 56 && w == 40);
            CHECK(memcmp(a, b, (size_t)c * (size_t)h * (size_t)w * sizeof(float)) == 0);
        }
        net_plan_free(keep);
        net_plan_free(lean);
    }
    net_free(n);
}

/* An inference plan (buffers reused) gives the training plan's output in less memory, and the
 * batch norm's running statistics move only with NET_UPDATE_STATS. */
static void test_inference_plan(void) {
    net *n = make_gen("unet_32", 4, GAN_NORM_BATCH, 1);
    if (!n) return;
    randomise(n, 10);
    net_plan *keep = NULL, *lean = NULL;
    CHECK(net_plan_create(ctx, n, 3, 64, 64, NET_KEEP | NET_BATCH_STATS, 2, &keep) == IMPASTO_OK);
    CHECK(net_plan_create(ctx, n, 3, 64, 64, NET_BATCH_STATS, 2, &lean) == IMPASTO_OK);
    if (!keep || !lean) return;
    CHECK(net_plan_bytes(lean) < net_plan_bytes(keep));
    fill(net_plan_input(keep), 3 * 64 * 64, 13);
    memcpy(net_plan_input(lean), net_plan_input(keep), 3 * 64 * 64 * sizeof(float));
    float *before = malloc(n->nbuffers * sizeof(float));
    memcpy(before, n->buffers, n->nbuffers * sizeof(float));
    const float *a, *b;
    CHECK(net_forward(ctx, n, keep, NULL, &a) == IMPASTO_OK);
    CHECK(net_forward(ctx, n, lean, NULL, &b) == IMPASTO_OK);
    CHECK(memcmp(a, b, 3 * 64 * 64 * sizeof(float)) == 0);
    CHECK(memcmp(before, n->buffers, n->nbuffers * sizeof(float)) == 0);
    net_plan_free(keep);
    CHECK(net_plan_create(ctx, n, 3, 64, 64, NET_TRAIN, 2, &keep) == IMPASTO_OK);
    uint64_t g = 1;
    fill(net_plan_input(keep), 3 * 64 * 64, 13);
    CHECK(net_forward(ctx, n, keep, &g, &a) == IMPASTO_OK);
    CHECK(memcmp(before, n->buffers, n->nbuffers * sizeof(float)) != 0);
    free(before);
    net_plan_free(keep);
    net_plan_free(lean);
    net_free(n);
}

/* The reference's state_dict: names, order and shapes for the default networks. */
static void test_names(void) {
    net *n = make_gen("resnet_9blocks", 64, GAN_NORM_INSTANCE, 0);
    if (!n) return;
    net_tensor t;
    CHECK(net_tensor_count(n) == 2 * (3 + 18 + 2 + 1));  /* convs with biases; instance norms have none */
    net_tensor_at(n, 0, &t);
    CHECK(!strcmp(t.name, "model.1.weight") && t.shape[0] == 64 && t.shape[1] == 3 && t.shape[2] == 7);
    net_tensor_at(n, 6, &t);
    CHECK(!strcmp(t.name, "model.10.conv_block.1.weight") && t.shape[0] == 256);
    net_tensor_at(n, 8, &t);
    CHECK(!strcmp(t.name, "model.10.conv_block.5.weight"));
    net_tensor_at(n, 42, &t);
    CHECK(!strcmp(t.name, "model.19.weight") && t.shape[0] == 256 && t.shape[1] == 128);  /* ConvTranspose2d (in, out) */
    net_tensor_at(n, 46, &t);
    CHECK(!strcmp(t.name, "model.26.weight") && t.shape[0] == 3);
    size_t np = n->nparams;
    CHECK(np == 11378179);  /* the reference's resnet_9blocks: 11.378 M parameters */
    net_free(n);
    n = make_gen("unet_256", 64, GAN_NORM_BATCH, 1);
    if (!n) return;
    CHECK(n->nparams == 54413955);  /* the reference prints 54.414 M for unet_256 */
    net_tensor_at(n, 0, &t);
    CHECK(!strcmp(t.name, "model.model.0.weight") && t.shape[0] == 64 && t.shape[1] == 3 && t.shape[2] == 4);
    net_tensor_at(n, 1, &t);
    CHECK(!strcmp(t.name, "model.model.1.model.1.weight"));  /* no bias with batch norm */
    net_tensor_at(n, 2, &t);
    CHECK(!strcmp(t.name, "model.model.1.model.2.weight"));
    net_tensor_at(n, 4, &t);
    CHECK(!strcmp(t.name, "model.model.1.model.2.running_mean"));
    /* the innermost names are 69 characters: every name whole and distinct */
    const size_t count = net_tensor_count(n);
    int dup = 0;
    for (size_t i = 0; i < count; i++) {
        net_tensor a, b;
        net_tensor_at(n, i, &a);
        for (size_t j = i + 1; j < count; j++) {
            net_tensor_at(n, j, &b);
            dup += !strcmp(a.name, b.name);
        }
    }
    CHECK(dup == 0);
    net_tensor_at(n, 31, &t);  /* the innermost block's downconv (no bias: batch norm) */
    CHECK(!strcmp(t.name, "model.model.1.model.3.model.3.model.3.model.3.model.3.model.3.model.1.weight"));
    CHECK(t.shape[0] == 512 && t.shape[1] == 512 && t.shape[2] == 4);
    net_free(n);
    n = make_disc(GAN_D_BASIC, 3, 64, 3, GAN_NORM_INSTANCE);
    if (!n) return;
    CHECK(n->nparams == 2764737);  /* the 70x70 PatchGAN: 2.767 M */
    net_tensor_at(n, net_tensor_count(n) - 2, &t);
    CHECK(!strcmp(t.name, "model.11.weight") && t.shape[0] == 1 && t.shape[1] == 512);
    net_free(n);
}

/* Bad declarations and shapes are refused with a message, never a crash. */
static void test_refusals(void) {
    net *n = net_create("bad");
    net_conv(n, 5, "x", 3, 3, 3, 1, 1, PAD_ZERO, 1);  /* reads a later layer */
    CHECK(net_finish(ctx, n) == IMPASTO_ERR_INVALID_ARG);
    net_free(n);
    net_free(NULL);
    n = make_gen("unet_32", 2, GAN_NORM_BATCH, 0);
    net_plan *p = NULL;
    CHECK(net_plan_create(ctx, n, 3, 48, 48, 0, 1, &p) == IMPASTO_ERR_INVALID_ARG);  /* 48 is not a multiple of 32 */
    CHECK(p == NULL);
    CHECK(net_plan_create(ctx, n, 1, 32, 32, 0, 1, &p) == IMPASTO_ERR_INVALID_ARG);  /* channels */
    net_free(n);
    n = make_gen("resnet_1blocks", 2, GAN_NORM_INSTANCE, 0);
    CHECK(net_plan_create(ctx, n, 3, 3, 3, 0, 1, &p) == IMPASTO_ERR_INVALID_ARG);  /* smaller than the padding */
    net_free(n);
    gan_gen_spec s = {0};
    CHECK(gan_gen_parse("resnet_0blocks", &s) == -1);
    CHECK(gan_gen_parse("unet_100", &s) == -1);
    CHECK(gan_gen_parse("unet_256x", &s) == -1);
    CHECK(gan_gen_parse("unet_128", &s) == 0 && s.depth == 7);
}

int main(void) {
    ctx = impasto_ctx_create();
    RUN(test_gradients_resnet);
    RUN(test_gradients_unet);
    RUN(test_gradients_discriminators);
    RUN(test_fast_paths);
    RUN(test_fusions);
    RUN(test_inference_plan);
    RUN(test_names);
    RUN(test_refusals);
    impasto_ctx_free(ctx);
    return test_summary();
}
