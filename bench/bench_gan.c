/* impasto's side of bench/gan_bench.py: one CycleGAN step, one pix2pix step or one CycleGAN
 * generator forward pass, on the starting weights and inputs the script wrote, timed as the script
 * times PyTorch (--warmup untimed, --runs timed, each a whole step on the same batch, the weights
 * moving on). Prints one JSON line {"impl": "impasto", "times": [...], "losses": [...]}, the losses
 * of each run as the script's PyTorch child reports them: cyclegan [loss_G, loss_D_A, loss_D_B],
 * pix2pix [loss_G, loss_D], forward [mean |y|]; and "cpu_times", the CPU seconds of the whole process
 * (all threads) per timed run, which a shared machine disturbs less than the wall times.
 *
 *   bench_gan --row cyclegan|pix2pix|forward --size N --weights DIR --inputs DIR
 *             [--runs R] [--warmup W] [--threads T]
 *
 * Profile mode (--row profile, no --weights/--inputs): where a CycleGAN step's time goes, on the
 * reference's initialisation and synthetic inputs. For each convolution of resnet_9blocks and of the
 * basic discriminator, each distinct shape once with its count per network: the medians of its
 * forward, data gradient and weight gradient (bias included; the least of --runs) through the kernels
 * the trainer runs
 * (net_conv.c, conv_transpose.c); then every layer kind's share of a whole NET_TRAIN forward and
 * backward (net_plan_set_timers, wall clock) and each whole pass. Times are CPU time of the process
 * (all threads), which a shared machine disturbs less than wall time. Prints text. */
#include "bench_util.h"

#include "formats/safetensors.h"
#include "methods/gan_train.h"
#include "models/gan_nets.h"

#include <math.h>
#include <time.h>

#define MAX_RUNS 100

#include "models/net_conv.h"
#include "models/net.h"

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
    if (o->row && !strcmp(o->row, "profile")) return o->size != 0;
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

/* CPU seconds of the whole process (all threads): what a profile on a shared machine can trust. */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* times of the timed runs; losses of every step, the warm-up ones first (as the PyTorch child reports
 * them), so that the first steps of the two sides, taken from the same weights, can be compared. */
static void print_result(const double *times, const double *cpu, const double *losses, int runs, int steps, int nl) {
    printf("{\"impl\": \"impasto\", \"times\": [");
    for (int i = 0; i < runs; i++) printf("%s%.6f", i ? ", " : "", times[i]);
    printf("], \"cpu_times\": [");
    for (int i = 0; i < runs; i++) printf("%s%.6f", i ? ", " : "", cpu[i]);
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
    double times[MAX_RUNS], cpu[MAX_RUNS], losses[2 * MAX_RUNS];
    int ok = x && gan_generator_create(ctx, &g, &n) == IMPASTO_OK && load_net(ctx, n, o->weights, "G") &&
             net_plan_create(ctx, n, 3, o->size, o->size, 0, o->threads, &p) == IMPASTO_OK;
    for (int r = -o->warmup; ok && r < o->runs; r++) {
        const float *y;
        const double t0 = now_seconds(), c0 = cpu_seconds();
        memcpy(net_plan_input(p), x, img * sizeof *x);
        ok = net_forward(ctx, n, p, NULL, &y) == IMPASTO_OK;
        const double dt = now_seconds() - t0, dc = cpu_seconds() - c0;
        if (!ok) continue;
        double s = 0;
        for (size_t i = 0; i < img; i++) s += fabs(y[i]);
        losses[r + o->warmup] = s / (double)img;
        if (r >= 0) times[r] = dt, cpu[r] = dc;
    }
    if (ok) print_result(times, cpu, losses, o->runs, o->runs + o->warmup, 1);
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
    double times[MAX_RUNS], cpu[MAX_RUNS], losses[3 * 2 * MAX_RUNS];
    const int nl = cyc ? 3 : 2;
    uint64_t rng = 1;
    for (int r = -o->warmup; ok && r < o->runs; r++) {
        memcpy(gan_trainer_real(t, 0), a, img * sizeof *a);
        memcpy(gan_trainer_real(t, 1), b, img * sizeof *b);
        double L[8];
        const double t0 = now_seconds(), c0 = cpu_seconds();
        ok = gan_trainer_step(t, &rng, L) == IMPASTO_OK;
        const double dt = now_seconds() - t0, dc = cpu_seconds() - c0;
        if (!ok) continue;
        if (r >= 0) times[r] = dt, cpu[r] = dc;
        double *l = losses + (r + o->warmup) * nl;
        if (cyc) {
            l[0] = L[1] + L[2] + L[3] + L[5] + L[6] + L[7];
            l[1] = L[0], l[2] = L[4];
        } else {
            l[0] = L[0] + L[1];
            l[1] = 0.5 * (L[2] + L[3]);
        }
    }
    if (ok) print_result(times, cpu, losses, o->runs, o->runs + o->warmup, nl);
    else fprintf(stderr, "bench_gan: %s\n", impasto_ctx_error(ctx));
    gan_trainer_free(t);
    free(a), free(b);
    return ok;
}

/* ---- profile mode ------------------------------------------------------------------------ */

#define PROF_MAX_SHAPES 32

typedef struct prof_shape {
    int transposed;
    conv2d_desc d;   /* a convolution's */
    convt_desc t;    /* a transposed convolution's */
    int count;
} prof_shape;

static float *prof_fill(size_t n, uint64_t *s) {
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; v && i < n; i++) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        v[i] = (float)((double)(*s >> 40) / (double)(1ULL << 24) - 0.5);
    }
    return v;
}

/* The distinct convolution shapes of n on inputs (c, h, w), with their counts. */
static int prof_shapes(const net *n, int c, int h, int w, int threads, prof_shape *sh) {
    int ns = 0, *tc = malloc((size_t)n->n * 3 * sizeof(int));
    if (!tc) return 0;
    for (int i = 0; i < n->n; i++) {
        const net_layer *l = &n->layers[i];
        const int *in = l->in0 == NET_INPUT ? NULL : tc + 3 * l->in0;
        int ic = in ? in[0] : c, ih = in ? in[1] : h, iw = in ? in[2] : w;
        int *o = tc + 3 * i;
        o[0] = ic, o[1] = ih, o[2] = iw;
        prof_shape e = {0};
        if (l->op == NET_CONV) {
            e.d = (conv2d_desc){ic, ih, iw, l->oc, l->k, l->k, l->stride, l->pad, l->padding, threads};
            o[0] = l->oc, o[1] = conv2d_out_h(&e.d), o[2] = conv2d_out_w(&e.d);
        } else if (l->op == NET_CONVT) {
            e.transposed = 1;
            e.t = (convt_desc){ic, ih, iw, l->oc, l->k, l->stride, l->pad, l->out_pad, threads};
            o[0] = l->oc, o[1] = convt_out_h(&e.t), o[2] = convt_out_w(&e.t);
        } else if (l->op == NET_CONCAT) {
            o[0] += tc[3 * l->in1];
            continue;
        } else {
            continue;
        }
        int k = 0;
        while (k < ns && memcmp(&sh[k].d, &e.d, sizeof e.d) | memcmp(&sh[k].t, &e.t, sizeof e.t)) k++;
        if (k == ns && ns < PROF_MAX_SHAPES) sh[ns++] = e;
        if (k < ns) sh[k].count++;
    }
    free(tc);
    return ns;
}

/* The least seconds (what the kernel costs when nothing else disturbs it) of forward, data
 * gradient and weight + bias gradient of one shape. */
static void prof_time(const prof_shape *e, int runs, double out[3]) {
    const conv2d_desc *d = &e->d;
    const convt_desc *t = &e->t;
    size_t xin, xout, wn, bn, ws;
    if (e->transposed) {
        xin = (size_t)t->c * t->h * t->w, xout = (size_t)t->oc * convt_out_h(t) * convt_out_w(t);
        wn = (size_t)t->c * t->oc * t->k * t->k, bn = (size_t)t->oc, ws = convt_workspace(t);
    } else {
        xin = (size_t)d->c * d->h * d->w, xout = (size_t)d->oc * conv2d_out_h(d) * conv2d_out_w(d);
        wn = (size_t)d->oc * d->c * d->kh * d->kw, bn = (size_t)d->oc, ws = net_conv_workspace(d, 1, 1);
    }
    uint64_t s = 5;
    float *x = prof_fill(xin, &s), *y = prof_fill(xout, &s), *w = prof_fill(wn, &s), *b = prof_fill(bn, &s);
    float *dx = prof_fill(xin, &s), *dw = prof_fill(wn, &s), *db = prof_fill(bn, &s), *wsp = prof_fill(ws, &s);
    double tt[3][MAX_RUNS];
    for (int r = -1; r < runs; r++) {
        for (int k = 0; k < 3; k++) {
            const double t0 = cpu_seconds();
            if (e->transposed) {
                if (k == 0) convt_forward(t, x, w, b, y, wsp);
                else if (k == 1) convt_backward(t, x, w, y, dx, NULL, NULL, wsp);
                else convt_backward(t, x, w, y, NULL, dw, db, wsp);
            } else {
                if (k == 0) net_conv_forward(d, 1, 0, x, w, b, y, wsp);
                else if (k == 1) net_conv_backward(d, 1, 0, x, w, y, dx, NULL, NULL, wsp);
                else net_conv_backward(d, 1, 0, x, w, y, NULL, dw, db, wsp);
            }
            if (r >= 0) tt[k][r] = cpu_seconds() - t0;
        }
    }
    for (int k = 0; k < 3; k++) {
        out[k] = tt[k][0];
        for (int r = 1; r < runs; r++) out[k] = tt[k][r] < out[k] ? tt[k][r] : out[k];
    }
    free(x), free(y), free(w), free(b), free(dx), free(dw), free(db), free(wsp);
}

static const char *prof_op_name(net_op op) {
    static const char *const names[] = {"conv", "convt", "instance_norm", "batch_norm", "relu", "leaky_relu",
                                        "tanh", "dropout", "upsample", "add", "concat"};
    return names[op];
}

/* Per layer kind: the medians over runs of a NET_TRAIN forward and a backward (with the input's
 * gradient when dx). */
static int prof_net(impasto_ctx *ctx, net *n, int c, int size, int threads, int runs, int dx_too) {
    net_plan *p = NULL;
    if (net_plan_create(ctx, n, c, size, size, NET_TRAIN, threads, &p) != IMPASTO_OK) return 0;
    int oc, oh, ow;
    net_plan_out_shape(p, &oc, &oh, &ow);
    uint64_t s = 9;
    const size_t nin = (size_t)c * size * size, nout = (size_t)oc * oh * ow;
    float *dy = prof_fill(nout, &s), *dx = prof_fill(nin, &s), *x = prof_fill(nin, &s);
    double *lf = calloc((size_t)n->n, sizeof *lf), *lb = calloc((size_t)n->n, sizeof *lb);
    double kind[11][2][MAX_RUNS] = {{{0}}}, tot[2][MAX_RUNS];
    int ok = dy && dx && x && lf && lb;
    for (int r = -1; ok && r < runs; r++) {
        memset(lf, 0, (size_t)n->n * sizeof *lf);
        memset(lb, 0, (size_t)n->n * sizeof *lb);
        memcpy(net_plan_input(p), x, nin * sizeof *x);
        net_plan_set_timers(p, lf, lb);
        const float *y;
        uint64_t rng = 3;
        const double t0 = cpu_seconds();
        ok = net_forward(ctx, n, p, &rng, &y) == IMPASTO_OK;
        const double t1 = cpu_seconds();
        ok = ok && net_backward(ctx, n, p, dy, n->grads, dx_too ? dx : NULL) == IMPASTO_OK;
        const double t2 = cpu_seconds();
        if (r < 0) continue;
        tot[0][r] = t1 - t0, tot[1][r] = t2 - t1;
        for (int i = 0; i < n->n; i++) kind[n->layers[i].op][0][r] += lf[i], kind[n->layers[i].op][1][r] += lb[i];
    }
    net_plan_set_timers(p, NULL, NULL);
    if (ok) {
        printf("  %-14s %9s %9s   (wall clock, per layer)\n", "layer kind", "fwd ms", "bwd ms");
        for (int k = 0; k < 11; k++) {
            double f = median(kind[k][0], runs), b = median(kind[k][1], runs);
            if (f > 0 || b > 0) printf("  %-14s %9.2f %9.2f\n", prof_op_name((net_op)k), 1e3 * f, 1e3 * b);
        }
        printf("  %-14s %9.2f %9.2f   (CPU time; backward %s the input's gradient)\n", "whole pass", 1e3 * median(tot[0], runs),
               1e3 * median(tot[1], runs), dx_too ? "with" : "without");
    }
    free(dy), free(dx), free(x), free(lf), free(lb);
    net_plan_free(p);
    return ok;
}

static int run_profile(impasto_ctx *ctx, const options *o) {
    gan_gen_spec g = {0};
    gan_gen_parse("resnet_9blocks", &g);
    g.in_c = g.out_c = 3, g.ngf = 64, g.norm = GAN_NORM_INSTANCE;
    gan_disc_spec ds = {0};
    ds.kind = GAN_D_BASIC, ds.in_c = 3, ds.ndf = 64, ds.n_layers = 3, ds.norm = GAN_NORM_INSTANCE;
    net *G = NULL, *D = NULL;
    int ok = gan_generator_create(ctx, &g, &G) == IMPASTO_OK && gan_discriminator_create(ctx, &ds, &D) == IMPASTO_OK;
    uint64_t rng = 1;
    if (ok) net_init_normal(G, 0.02f, &rng), net_init_normal(D, 0.02f, &rng);
    printf("profile at %d px, %d thread(s), CPU ms of the process: least of %d runs per convolution, medians "
           "for the passes\n", o->size, o->threads, o->runs);
    for (int m = 0; ok && m < 2; m++) {
        prof_shape sh[PROF_MAX_SHAPES];
        int ns = prof_shapes(m ? D : G, 3, o->size, o->size, o->threads, sh);
        printf("%s convolutions:\n  %-36s %5s %9s %9s %9s %9s\n", m ? "basic discriminator" : "resnet_9blocks",
               "shape (C x H x W -> OC, k, stride)", "count", "fwd", "bwd-data", "bwd-wt", "x count");
        double sum[3] = {0};
        for (int i = 0; i < ns; i++) {
            double t[3];
            prof_time(&sh[i], o->runs, t);
            char name[64];
            if (sh[i].transposed)
                snprintf(name, sizeof name, "T %dx%dx%d -> %d, k%d s%d", sh[i].t.c, sh[i].t.h, sh[i].t.w, sh[i].t.oc,
                         sh[i].t.k, sh[i].t.stride);
            else
                snprintf(name, sizeof name, "%dx%dx%d -> %d, k%d s%d%s", sh[i].d.c, sh[i].d.h, sh[i].d.w, sh[i].d.oc,
                         sh[i].d.kh, sh[i].d.stride, sh[i].d.padding == PAD_REFLECT ? " refl" : "");
            printf("  %-36s %5d %9.2f %9.2f %9.2f %9.2f\n", name, sh[i].count, 1e3 * t[0], 1e3 * t[1], 1e3 * t[2],
                   1e3 * sh[i].count * (t[0] + t[1] + t[2]));
            for (int k = 0; k < 3; k++) sum[k] += sh[i].count * t[k];
        }
        printf("  %-36s %5s %9.2f %9.2f %9.2f\n", "all (x count)", "", 1e3 * sum[0], 1e3 * sum[1], 1e3 * sum[2]);
    }
    printf("resnet_9blocks, NET_TRAIN plan:\n");
    ok = ok && prof_net(ctx, G, 3, o->size, o->threads, o->runs, 1);
    printf("basic discriminator, NET_TRAIN plan:\n");
    ok = ok && prof_net(ctx, D, 3, o->size, o->threads, o->runs, 1);
    net_free(G), net_free(D);
    if (!ok) fprintf(stderr, "bench_gan: %s\n", impasto_ctx_error(ctx));
    return ok;
}

int main(int argc, char **argv) {
    options o;
    if (!parse_args(argc, argv, &o)) {
        fprintf(stderr, "usage: bench_gan --row cyclegan|pix2pix|forward --size N --weights DIR --inputs DIR "
                        "[--runs R] [--warmup W] [--threads T]\n"
                        "       bench_gan --row profile --size N [--runs R] [--threads T]\n");
        return 2;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, o.threads);
    int ok = !strcmp(o.row, "profile")   ? run_profile(ctx, &o)
             : !strcmp(o.row, "forward") ? run_forward(ctx, &o)
                                         : run_step(ctx, &o);
    impasto_ctx_free(ctx);
    return ok ? 0 : 1;
}
