/* CycleGAN's and pix2pix's networks and one training step of each against PyTorch:
 * tests/data/gan_golden.safetensors, made by tools/gen_golden_gan.py from the reference's modules
 * (junyanz/pytorch-CycleGAN-and-pix2pix, rebuilt layer for layer in tools/gan_ref.py) with small
 * widths, computed in float64 from float32 weights. Its metadata says what each case is.
 *
 * Tolerances, from the float32-vs-float64 differences the generator prints (at most 1.3e-6 on the
 * outputs, 1.3e-5 relative on a gradient tensor): outputs 1e-4 absolute (values within [-1, 1] or
 * raw scores of a few units), losses 1e-4 relative, gradients 1e-3 of their tensor's largest plus
 * 1e-5 of the network's (see check_net_after), and
 * the weights after Adam's first step 1e-6 wherever the gradient is not tiny: the first step moves
 * each weight by lr * g / (|g| + eps), a sign when |g| >> eps, so where the gradient is near zero
 * the step's size follows its rounding (the generator sees 2e-4 = lr there between float32 and
 * float64) and the check is skipped. */
#include "test.h"

#include "core/ctx.h"
#include "formats/safetensors.h"
#include "methods/gan_train.h"
#include "models/gan_nets.h"

#define GOLDEN "tests/data/gan_golden.safetensors"

static impasto_ctx *ctx;
static safetensors *st;

/* net's tensors from "<prefix><name>" (PyTorch's key); 0 when all were there. */
static int load_prefixed(net *n, const char *prefix, float *into_params) {
    int bad = 0;
    for (size_t i = 0; i < net_tensor_count(n); i++) {
        net_tensor t;
        net_tensor_at(n, i, &t);
        char name[NET_MAX_NAME + 160];
        snprintf(name, sizeof name, "%s%s", prefix, t.name);
        float *dst = t.data;
        if (into_params) dst = (t.is_buffer ? n->buffers : into_params) + (t.data - (t.is_buffer ? n->buffers : n->params));
        if (safetensors_get_f32(ctx, st, name, t.ndim, t.shape, dst) != IMPASTO_OK) {
            fprintf(stderr, "  %s\n", impasto_ctx_error(ctx));
            bad = 1;
        }
    }
    return bad;
}

/* A tensor's floats (any shape) in a new array, or NULL. */
static float *get(const char *name, size_t *n) {
    const st_tensor *t = safetensors_find(st, name);
    if (!t) {
        fprintf(stderr, "  missing %s\n", name);
        return NULL;
    }
    float *x = malloc(t->nelem * sizeof *x);
    if (x && !safetensors_decode_f32(t, x)) {
        free(x);
        return NULL;
    }
    if (n) *n = t->nelem;
    return x;
}

static double scalar(const char *name) {
    float *x = get(name, NULL);
    double v = x ? x[0] : NAN;
    free(x);
    return v;
}

/* Runs n on input `xname` with flags and compares with `yname`. */
static void check_forward(net *n, const char *xname, int c, int h, int w, int flags, const char *yname) {
    size_t nx, ny;
    float *x = get(xname, &nx), *y = get(yname, &ny);
    net_plan *p = NULL;
    CHECK(x && y && nx == (size_t)c * (size_t)h * (size_t)w);
    if (x && y && net_plan_create(ctx, n, c, h, w, flags, 2, &p) == IMPASTO_OK) {
        int oc, oh, ow;
        net_plan_out_shape(p, &oc, &oh, &ow);
        CHECK_MSG((size_t)oc * (size_t)oh * (size_t)ow == ny, "%s: output %dx%dx%d", yname, oc, oh, ow);
        memcpy(net_plan_input(p), x, nx * sizeof *x);
        const float *out;
        CHECK(net_forward(ctx, n, p, NULL, &out) == IMPASTO_OK);
        double e = 0;
        for (size_t i = 0; i < ny; i++) e = fmax(e, fabs(out[i] - y[i]));
        CHECK_MSG(e < 1e-4, "%s: max difference %g", yname, e);
    } else {
        CHECK_MSG(0, "%s: %s", yname, impasto_ctx_error(ctx));
    }
    net_plan_free(p);
    free(x), free(y);
}

static net *gen(const char *arch, int ngf, gan_norm norm, int dropout) {
    gan_gen_spec s = {0};
    gan_gen_parse(arch, &s);
    s.in_c = s.out_c = 3, s.ngf = ngf, s.norm = norm, s.dropout = dropout;
    net *n = NULL;
    CHECK(gan_generator_create(ctx, &s, &n) == IMPASTO_OK);
    return n;
}

static net *disc(gan_disc_kind kind, int in_c, int ndf, gan_norm norm) {
    gan_disc_spec s = {kind, in_c, ndf, 3, norm};
    net *n = NULL;
    CHECK(gan_discriminator_create(ctx, &s, &n) == IMPASTO_OK);
    return n;
}

static void test_resnet_forward(void) {
    net *n = gen("resnet_2blocks", 2, GAN_NORM_INSTANCE, 0);
    if (!n || load_prefixed(n, "res.", NULL)) { CHECK(0); return; }
    check_forward(n, "res.x", 3, 20, 24, 0, "res.y");
    check_forward(n, "res.x_odd", 3, 21, 19, 0, "res.y_odd");
    net_free(n);
}

static void test_unet_forward(void) {
    net *n = gen("unet_32", 1, GAN_NORM_BATCH, 1);
    if (!n || load_prefixed(n, "unet.", NULL)) { CHECK(0); return; }
    check_forward(n, "unet.x", 3, 32, 32, NET_BATCH_STATS, "unet.y_train");
    check_forward(n, "unet.x", 3, 32, 32, 0, "unet.y_eval");
    net_free(n);
}

static void test_discriminators_forward(void) {
    net *n = disc(GAN_D_BASIC, 6, 1, GAN_NORM_BATCH);
    if (!n || load_prefixed(n, "patch.", NULL)) { CHECK(0); return; }
    check_forward(n, "patch.x", 6, 32, 32, NET_BATCH_STATS, "patch.y_train");
    check_forward(n, "patch.x", 6, 32, 32, 0, "patch.y_eval");
    net_free(n);
    n = disc(GAN_D_BASIC, 3, 1, GAN_NORM_INSTANCE);
    if (!n || load_prefixed(n, "patchi.", NULL)) { CHECK(0); return; }
    check_forward(n, "patchi.x", 3, 32, 32, 0, "patchi.y");
    net_free(n);
    n = disc(GAN_D_PIXEL, 6, 4, GAN_NORM_BATCH);
    if (!n || load_prefixed(n, "pixel.", NULL)) { CHECK(0); return; }
    check_forward(n, "pixel.x", 6, 16, 16, NET_BATCH_STATS, "pixel.y_train");
    check_forward(n, "pixel.x", 6, 16, 16, 0, "pixel.y_eval");
    net_free(n);
}

/* n's gradients and, after the step, parameters and running statistics against
 * "<case>.grad.<net>.<key>" and "<case>.after.<net>.<key>". */
static void check_net_after(net *n, const char *kase, const char *netname) {
    char prefix[64];
    float *want_p = calloc(n->nparams + 1, sizeof(float)), *want_g = calloc(n->nparams + 1, sizeof(float));
    float *want_b = calloc(n->nbuffers + 1, sizeof(float));
    float *keep_b = malloc((n->nbuffers + 1) * sizeof(float));
    memcpy(keep_b, n->buffers, n->nbuffers * sizeof(float));
    /* load_prefixed writes buffers into n->buffers: swap them through keep_b */
    snprintf(prefix, sizeof prefix, "%s.after.%s.", kase, netname);
    CHECK(load_prefixed(n, prefix, want_p) == 0);
    memcpy(want_b, n->buffers, n->nbuffers * sizeof(float));
    snprintf(prefix, sizeof prefix, "%s.grad.%s.", kase, netname);
    for (size_t i = 0; i < net_tensor_count(n); i++) {
        net_tensor t;
        net_tensor_at(n, i, &t);
        if (t.is_buffer) continue;
        char name[NET_MAX_NAME + 160];
        snprintf(name, sizeof name, "%s%s", prefix, t.name);
        CHECK(safetensors_get_f32(ctx, st, name, t.ndim, t.shape, want_g + (t.data - n->params)) == IMPASTO_OK);
    }
    memcpy(n->buffers, keep_b, n->nbuffers * sizeof(float));
    /* the largest gradient of the whole network: the biases of convolutions followed by an instance
     * norm have a gradient of exactly 0 (the norm removes their shift), which float32 sums leave at
     * about 1e-6 of the network's scale */
    double netmax = 0;
    for (size_t k = 0; k < n->nparams; k++) netmax = fmax(netmax, fabs(want_g[k]));
    for (size_t i = 0; i < net_tensor_count(n); i++) {
        net_tensor t;
        net_tensor_at(n, i, &t);
        size_t cnt = 1;
        for (int d = 0; d < t.ndim; d++) cnt *= (size_t)t.shape[d];
        if (t.is_buffer) {
            const size_t off = (size_t)(t.data - n->buffers);
            double e = 0;
            for (size_t k = 0; k < cnt; k++) e = fmax(e, fabs(n->buffers[off + k] - want_b[off + k]));
            CHECK_MSG(e < 1e-5, "%s %s %s: running statistics differ by %g", kase, netname, t.name, e);
            continue;
        }
        const size_t off = (size_t)(t.data - n->params);
        double gmax = 0, ge = 0, pe = 0;
        for (size_t k = 0; k < cnt; k++) gmax = fmax(gmax, fabs(want_g[off + k]));
        for (size_t k = 0; k < cnt; k++) {
            ge = fmax(ge, fabs(n->grads[off + k] - want_g[off + k]));
            if (fabs(want_g[off + k]) > 1e-3 * gmax && fabs(want_g[off + k]) > 1e-6)
                pe = fmax(pe, fabs(n->params[off + k] - want_p[off + k]));
        }
        CHECK_MSG(ge <= 1e-3 * gmax + 1e-5 * netmax, "%s %s %s: gradient off by %g (largest %g)", kase, netname, t.name, ge, gmax);
        CHECK_MSG(pe <= 1e-6, "%s %s %s: weights after the step off by %g", kase, netname, t.name, pe);
    }
    free(want_p), free(want_g), free(want_b), free(keep_b);
}

static void check_loss(double got, const char *name) {
    const double want = scalar(name);
    CHECK_MSG(fabs(got - want) <= 1e-4 * fabs(want) + 1e-7, "%s: %.9g, PyTorch %.9g", name, got, want);
}

static void set_real(gan_trainer *t, const char *a, const char *b, size_t img) {
    size_t n;
    float *x = get(a, &n);
    CHECK(x && n == img);
    if (x && n == img) memcpy(gan_trainer_real(t, 0), x, img * sizeof *x);
    free(x);
    x = get(b, &n);
    CHECK(x && n == img);
    if (x && n == img) memcpy(gan_trainer_real(t, 1), x, img * sizeof *x);
    free(x);
}

static void test_cyclegan_step(void) {
    impasto_gan_train_options o;
    impasto_gan_train_options_init(&o);
    o.generator = "resnet_2blocks";
    o.ngf = 1, o.ndf = 1, o.crop_size = 24;
    gan_trainer *t = NULL;
    CHECK(gan_trainer_create(ctx, &o, &t) == IMPASTO_OK);
    if (!t) return;
    const char *names[4] = {"G_A", "G_B", "D_A", "D_B"};
    for (int i = 0; i < 4; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "cyc.%s.", names[i]);
        CHECK(load_prefixed(gan_trainer_net(t, i), prefix, NULL) == 0);
    }
    set_real(t, "cyc.real_A", "cyc.real_B", 3 * 24 * 24);
    double L[8];
    uint64_t rng = 1;
    CHECK(gan_trainer_step(t, &rng, L) == IMPASTO_OK);
    check_loss(L[0], "cyc.loss_D_A");
    check_loss(L[1], "cyc.loss_G_A");
    check_loss(L[2], "cyc.loss_cycle_A");
    check_loss(L[3], "cyc.loss_idt_A");
    check_loss(L[4], "cyc.loss_D_B");
    check_loss(L[5], "cyc.loss_G_B");
    check_loss(L[6], "cyc.loss_cycle_B");
    check_loss(L[7], "cyc.loss_idt_B");
    for (int i = 0; i < 4; i++) check_net_after(gan_trainer_net(t, i), "cyc", names[i]);
    gan_trainer_free(t);
}

static void test_pix2pix_step(void) {
    impasto_gan_train_options o;
    impasto_gan_train_options_init(&o);
    o.model = IMPASTO_GAN_PIX2PIX;
    o.generator = "unet_32";
    o.ngf = 1, o.ndf = 1, o.crop_size = 32, o.dropout = 0;
    gan_trainer *t = NULL;
    CHECK(gan_trainer_create(ctx, &o, &t) == IMPASTO_OK);
    if (!t) return;
    CHECK(load_prefixed(gan_trainer_net(t, 0), "p2p.G.", NULL) == 0);
    CHECK(load_prefixed(gan_trainer_net(t, 2), "p2p.D.", NULL) == 0);
    set_real(t, "p2p.real_A", "p2p.real_B", 3 * 32 * 32);
    double L[8];
    uint64_t rng = 1;
    CHECK(gan_trainer_step(t, &rng, L) == IMPASTO_OK);
    check_loss(L[0], "p2p.loss_G_GAN");
    check_loss(L[1], "p2p.loss_G_L1");
    check_loss(L[2], "p2p.loss_D_real");
    check_loss(L[3], "p2p.loss_D_fake");
    check_net_after(gan_trainer_net(t, 0), "p2p", "G");
    check_net_after(gan_trainer_net(t, 2), "p2p", "D");
    gan_trainer_free(t);
}

int main(void) {
    ctx = impasto_ctx_create();
    if (safetensors_open(ctx, GOLDEN, &st) != IMPASTO_OK) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        return 1;
    }
    RUN(test_resnet_forward);
    RUN(test_unet_forward);
    RUN(test_discriminators_forward);
    RUN(test_cyclegan_step);
    RUN(test_pix2pix_step);
    safetensors_close(st);
    impasto_ctx_free(ctx);
    return test_summary();
}
