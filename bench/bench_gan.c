/* impasto's side of bench/gan_bench.py: one CycleGAN step, one pix2pix step or one CycleGAN
 * generator forward pass, on the starting weights and inputs the script wrote, timed as the script
 * times PyTorch (--warmup untimed, --runs timed, each a whole step on the same batch, the weights
 * moving on). Prints one JSON line {"impl": "impasto", "times": [...], "losses": [...]}, the losses
 * of each run as the script's PyTorch child reports them: cyclegan [loss_G, loss_D_A, loss_D_B],
 * pix2pix [loss_G, loss_D], forward [mean |y|].
 *
 *   bench_gan --row cyclegan|pix2pix|forward --size N --weights DIR --inputs DIR
 *             [--runs R] [--warmup W] [--threads T] */
#include "bench_util.h"

#include "formats/safetensors.h"
#include "methods/gan_train.h"
#include "models/gan_nets.h"

#include <math.h>

#define MAX_RUNS 100

typedef struct options {
    const char *row, *weights, *inputs;
    int size, runs, warmup, threads;
} options;

static int parse_args(int argc, char **argv, options *o) {
    *o = (options){NULL, NULL, NULL, 0, 3, 1, 2};
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return 0;
        int ok = 1;
        if (!strcmp(a, "--row")) o->row = v;
        else if (!strcmp(a, "--weights")) o->weights = v;
        else if (!strcmp(a, "--inputs")) o->inputs = v;
        else if (!strcmp(a, "--size")) ok = parse_int(v, 16, 4096, &o->size);
        else if (!strcmp(a, "--runs")) ok = parse_int(v, 1, MAX_RUNS, &o->runs);
        else if (!strcmp(a, "--warmup")) ok = parse_int(v, 0, MAX_RUNS, &o->warmup);
        else if (!strcmp(a, "--threads")) ok = parse_int(v, 1, 256, &o->threads);
        else ok = 0;
        if (!ok) return 0;
    }
    return o->row && o->weights && o->inputs && o->size &&
           (!strcmp(o->row, "cyclegan") || !strcmp(o->row, "pix2pix") || !strcmp(o->row, "forward"));
}

/* DIR/NAME.safetensors (the reference's keys, no prefix) into n. */
static int load_net(impasto_ctx *ctx, net *n, const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    safetensors *st = NULL;
    impasto_status s = safetensors_open(ctx, path, &st);
    if (!s) s = net_load(ctx, n, st, "", path);
    safetensors_close(st);
    if (s) fprintf(stderr, "bench_gan: %s\n", impasto_ctx_error(ctx));
    return s == IMPASTO_OK;
}

static float *read_input(impasto_ctx *ctx, const options *o, const char *name, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.f32", o->inputs, name);
    return read_floats(ctx, "bench_gan", path, n);
}

/* times of the timed runs; losses of every step, the warm-up ones first (as the PyTorch child reports
 * them), so that the first steps of the two sides, taken from the same weights, can be compared. */
static void print_result(const double *times, const double *losses, int runs, int steps, int nl) {
    printf("{\"impl\": \"impasto\", \"times\": [");
    for (int i = 0; i < runs; i++) printf("%s%.6f", i ? ", " : "", times[i]);
    printf("], \"losses\": [");
    for (int i = 0; i < steps; i++) {
        printf("%s[", i ? ", " : "");
        for (int k = 0; k < nl; k++) printf("%s%.9g", k ? ", " : "", losses[i * nl + k]);
        printf("]");
    }
    printf("]}\n");
}

static int run_forward(impasto_ctx *ctx, const options *o) {
    gan_gen_spec g = {0};
    gan_gen_parse("resnet_9blocks", &g);
    g.in_c = g.out_c = 3, g.ngf = 64, g.norm = GAN_NORM_INSTANCE;
    net *n = NULL;
    net_plan *p = NULL;
    const size_t img = 3 * (size_t)o->size * (size_t)o->size;
    float *x = read_input(ctx, o, "real_A", img);
    double times[MAX_RUNS], losses[2 * MAX_RUNS];
    int ok = x && gan_generator_create(ctx, &g, &n) == IMPASTO_OK && load_net(ctx, n, o->weights, "G") &&
             net_plan_create(ctx, n, 3, o->size, o->size, 0, o->threads, &p) == IMPASTO_OK;
    for (int r = -o->warmup; ok && r < o->runs; r++) {
        const float *y;
        const double t0 = now_seconds();
        memcpy(net_plan_input(p), x, img * sizeof *x);
        ok = net_forward(ctx, n, p, NULL, &y) == IMPASTO_OK;
        const double dt = now_seconds() - t0;
        if (!ok) continue;
        double s = 0;
        for (size_t i = 0; i < img; i++) s += fabs(y[i]);
        losses[r + o->warmup] = s / (double)img;
        if (r >= 0) times[r] = dt;
    }
    if (ok) print_result(times, losses, o->runs, o->runs + o->warmup, 1);
    else fprintf(stderr, "bench_gan: %s\n", impasto_ctx_error(ctx));
    net_plan_free(p);
    net_free(n);
    free(x);
    return ok;
}

static int run_step(impasto_ctx *ctx, const options *o) {
    const int cyc = !strcmp(o->row, "cyclegan");
    impasto_gan_train_options opt;
    impasto_gan_train_options_init(&opt);
    opt.crop_size = o->size;
    if (!cyc) {
        opt.model = IMPASTO_GAN_PIX2PIX;
        opt.generator = o->size % 256 == 0 ? "unet_256" : "unet_128";
    }
    gan_trainer *t = NULL;
    const size_t img = 3 * (size_t)o->size * (size_t)o->size;
    float *a = read_input(ctx, o, "real_A", img), *b = read_input(ctx, o, "real_B", img);
    int ok = a && b && gan_trainer_create(ctx, &opt, &t) == IMPASTO_OK;
    static const char *const CYC[4] = {"G_A", "G_B", "D_A", "D_B"};
    static const char *const P2P[4] = {"G", NULL, "D", NULL};
    for (int i = 0; ok && i < 4; i++) {
        const char *name = cyc ? CYC[i] : P2P[i];
        if (name) ok = load_net(ctx, gan_trainer_net(t, i), o->weights, name);
    }
    double times[MAX_RUNS], losses[3 * 2 * MAX_RUNS];
    const int nl = cyc ? 3 : 2;
    uint64_t rng = 1;
    for (int r = -o->warmup; ok && r < o->runs; r++) {
        memcpy(gan_trainer_real(t, 0), a, img * sizeof *a);
        memcpy(gan_trainer_real(t, 1), b, img * sizeof *b);
        double L[8];
        const double t0 = now_seconds();
        ok = gan_trainer_step(t, &rng, L) == IMPASTO_OK;
        const double dt = now_seconds() - t0;
        if (!ok) continue;
        if (r >= 0) times[r] = dt;
        double *l = losses + (r + o->warmup) * nl;
        if (cyc) {
            l[0] = L[1] + L[2] + L[3] + L[5] + L[6] + L[7];
            l[1] = L[0], l[2] = L[4];
        } else {
            l[0] = L[0] + L[1];
            l[1] = 0.5 * (L[2] + L[3]);
        }
    }
    if (ok) print_result(times, losses, o->runs, o->runs + o->warmup, nl);
    else fprintf(stderr, "bench_gan: %s\n", impasto_ctx_error(ctx));
    gan_trainer_free(t);
    free(a), free(b);
    return ok;
}

int main(int argc, char **argv) {
    options o;
    if (!parse_args(argc, argv, &o)) {
        fprintf(stderr, "usage: bench_gan --row cyclegan|pix2pix|forward --size N --weights DIR --inputs DIR "
                        "[--runs R] [--warmup W] [--threads T]\n");
        return 2;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, o.threads);
    int ok = !strcmp(o.row, "forward") ? run_forward(ctx, &o) : run_step(ctx, &o);
    impasto_ctx_free(ctx);
    return ok ? 0 : 1;
}
