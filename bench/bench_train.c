/* bench_train — times training steps of the fast style network (Johnson et al. 2016, `impasto
 * train`) for bench/train_bench.py, so that impasto and PyTorch run the same step on the same
 * photos, style and starting weights.
 *
 * Step mode (default): runs impasto_train (the library's public entry point, exactly what `impasto
 * train` runs) for warmup + runs steps from the checkpoint --init (weights, zero Adam moments, step
 * 0, written by train_bench.py from PyTorch's initialisation), on the photos in --data (as many as
 * the batch: each exactly --size pixels square, so the random crop is the whole photo and the
 * batch is the same set of images as PyTorch's) and the style --style (used as given). A step's
 * time is the difference of the progress callback's clocks: it covers the batch's forward and
 * backward passes and the Adam update, nothing else (photos are decoded before the first step).
 * Prints one JSON line: every timed step's seconds and every step's losses.
 *
 * Profile mode (--profile): one image at --size through TransformerNet's training forward and
 * backward (the declared network's NET_KEEP plan, as impasto_train runs it; per layer by
 * net_plan_set_timers, each convolution's entry adding the layers after it up to the next: its
 * norm, ReLU and residual add; the upsamplings run inside deconv1 and deconv2) and through VGG-19
 * to relu4_3 forward and backward, timed --runs times after --warmup; prints one JSON line of
 * median seconds per part. --reference runs TransformerNet's convolutions by im2col + GEMM (the
 * path before the fast kernels). */
#include "bench_util.h"
#include "core/ctx.h"
#include "core/gemm.h"
#include "impasto.h"
#include "models/net.h"
#include "models/transformer_net.h"
#include "models/vgg19.h"

#include <dirent.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RUNS 200
#define MAX_PHOTOS 64

typedef struct options {
    const char *model, *style, *data, *init;
    int size, batch, runs, warmup, threads, profile, reference;
} options;

static void usage(void) {
    fprintf(stderr,
            "usage: bench_train --model vgg19.safetensors --style s.png --data DIR --init ckpt.safetensors\n"
            "                   [--size 256] [--batch 4] [--runs 3] [--warmup 1] [--threads 2]\n"
            "       bench_train --profile --model vgg19.safetensors [--size 256] [--runs 3] [--warmup 1]\n"
            "                   [--reference]   (TransformerNet by im2col + GEMM throughout)\n"
            "Prints one JSON line.\n");
}

static int parse_args(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    o->size = 256;
    o->batch = 4;
    o->runs = 3;
    o->warmup = 1;
    o->threads = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--profile") || !strcmp(a, "--reference")) {
            if (a[2] == 'p') o->profile = 1;
            else o->reference = 1;
            continue;
        }
        if (!v) return 0;
        int ok = 1;
        if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--style")) o->style = v;
        else if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--init")) o->init = v;
        else if (!strcmp(a, "--size")) ok = parse_int(v, 16, 4096, &o->size) && o->size % 4 == 0;
        else if (!strcmp(a, "--batch")) ok = parse_int(v, 1, MAX_PHOTOS, &o->batch);
        else if (!strcmp(a, "--runs")) ok = parse_int(v, 1, MAX_RUNS, &o->runs);
        else if (!strcmp(a, "--warmup")) ok = parse_int(v, 0, 100, &o->warmup);
        else if (!strcmp(a, "--threads")) ok = parse_int(v, 1, 256, &o->threads);
        else ok = 0;
        if (!ok) {
            fprintf(stderr, "bench_train: bad option %s %s\n", a, v);
            return 0;
        }
        i++;
    }
    return o->model && (o->profile || (o->style && o->data && o->init));
}

/* ---- step mode ---------------------------------------------------------------------------- */

typedef struct record {
    int n;
    double t[MAX_RUNS + 100];        /* clock after each step */
    double loss[MAX_RUNS + 100], content[MAX_RUNS + 100], style[MAX_RUNS + 100];
} record;

static int on_step(const impasto_train_progress *p, void *user) {
    record *r = user;
    if (r->n < MAX_RUNS + 100) {
        r->t[r->n] = p->seconds;
        r->loss[r->n] = p->loss;
        r->content[r->n] = p->content_loss;
        r->style[r->n] = p->style_loss;
        r->n++;
    }
    return 0;
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int run_steps(impasto_ctx *ctx, const options *o) {
    char *paths[MAX_PHOTOS];
    int n = 0, rc = 1;
    DIR *dir = opendir(o->data);
    if (!dir) {
        fprintf(stderr, "bench_train: cannot open %s\n", o->data);
        return 1;
    }
    for (struct dirent *e; (e = readdir(dir)) && n < MAX_PHOTOS;) {
        const char *dot = strrchr(e->d_name, '.');
        if (e->d_name[0] == '.' || !dot || strcmp(dot, ".png")) continue;
        size_t len = strlen(o->data) + strlen(e->d_name) + 2;
        if (!(paths[n] = malloc(len))) break;
        snprintf(paths[n++], len, "%s/%s", o->data, e->d_name);
    }
    closedir(dir);
    qsort(paths, (size_t)n, sizeof *paths, name_cmp);
    impasto_model *vgg = NULL;
    impasto_image *style = NULL;
    record *rec = calloc(1, sizeof *rec);
    impasto_train_options opt;
    impasto_train_options_init(&opt);
    opt.batch_size = o->batch;
    opt.image_size = o->size;
    opt.steps = o->warmup + o->runs;
    opt.resume = o->init;
    opt.progress = on_step;
    opt.progress_user = rec;
    char out[] = "/tmp/bench_train_XXXXXX";
    int fd = mkstemp(out);
    if (n != o->batch) fprintf(stderr, "bench_train: %s holds %d .png photos, need --batch %d\n", o->data, n, o->batch);
    else if (fd < 0 || !rec) fprintf(stderr, "bench_train: cannot make a temporary file\n");
    else if (impasto_model_load(ctx, o->model, &vgg) != IMPASTO_OK || impasto_image_load(ctx, o->style, &style) != IMPASTO_OK ||
             impasto_train(ctx, vgg, style, (const char *const *)paths, (size_t)n, &opt, out) != IMPASTO_OK)
        fprintf(stderr, "bench_train: %s\n", impasto_ctx_error(ctx));
    else {
        printf("{\"impl\": \"impasto\", \"size\": %d, \"batch\": %d, \"threads\": %d, \"times\": [", o->size, o->batch,
               o->threads);
        for (int i = o->warmup; i < rec->n; i++)
            printf("%s%.6f", i > o->warmup ? ", " : "", rec->t[i] - (i ? rec->t[i - 1] : 0.0));
        printf("], \"loss\": [");
        for (int i = 0; i < rec->n; i++) printf("%s%.9g", i ? ", " : "", rec->loss[i]);
        printf("], \"content\": [");
        for (int i = 0; i < rec->n; i++) printf("%s%.9g", i ? ", " : "", rec->content[i]);
        printf("], \"style\": [");
        for (int i = 0; i < rec->n; i++) printf("%s%.9g", i ? ", " : "", rec->style[i]);
        printf("]}\n");
        rc = 0;
    }
    if (fd >= 0) {
        close(fd);
        unlink(out);
    }
    impasto_image_free(style);
    impasto_model_free(vgg);
    free(rec);
    for (int i = 0; i < n; i++) free(paths[i]);
    return rc;
}

/* ---- profile mode ------------------------------------------------------------------------- */

static double uniform01(void *state) {
    unsigned long long *s = state;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

/* The convolution (0 .. TNET_NUM_CONV - 1) each layer of the declared network is counted with:
 * the last one at or before it. */
static void conv_of_layers(const net *n, int *conv_of) {
    int seen = -1;
    for (int i = 0; i < n->n; i++) {
        if (n->layers[i].op == NET_CONV) seen++;
        conv_of[i] = seen < 0 ? 0 : seen;
    }
}

static int run_profile(impasto_ctx *ctx, const options *o) {
    const int S = o->size, R = o->runs;
    const size_t n3 = (size_t)3 * S * S;
    vgg19 *vgg = NULL;
    vgg19_plan *vp = NULL;
    net *tn = NULL;
    net_plan *tp = NULL;
    float *dy = malloc(n3 * sizeof *dy), *vin = malloc(n3 * sizeof *vin);
    double *lf = NULL, *lb = NULL;
    int *conv_of = NULL;
    const float *grad_at[VGG19_NUM_LAYERS] = {0};
    float *lg[VGG19_NUM_LAYERS] = {0};
    static double fwd[MAX_RUNS][TNET_NUM_CONV], bwd[MAX_RUNS][TNET_NUM_CONV];
    double tf[MAX_RUNS], tb[MAX_RUNS], vf[MAX_RUNS], vb[MAX_RUNS];
    int rc = 1;
    const char *loss_layers[] = {"relu1_2", "relu2_2", "relu3_3", "relu4_3"};
    unsigned char keep[VGG19_NUM_LAYERS] = {0};
    int last = 0;
    for (int i = 0; i < 4; i++) {
        int l = vgg19_layer_index(loss_layers[i]);
        keep[l] = 1;
        if (l > last) last = l;
    }
    if (!dy || !vin) goto done;
    if (vgg19_load(ctx, o->model, &vgg) != IMPASTO_OK ||
        vgg19_plan_create(ctx, vgg, S, S, last, POOL_MAX, keep, &vp) != IMPASTO_OK ||
        tnet_declare(ctx, &tn) != IMPASTO_OK ||
        net_plan_create(ctx, tn, 3, S, S, NET_KEEP, o->threads, &tp) != IMPASTO_OK) {
        fprintf(stderr, "bench_train: %s\n", impasto_ctx_error(ctx));
        goto done;
    }
    if (!(lf = calloc((size_t)tn->n, sizeof *lf)) || !(lb = calloc((size_t)tn->n, sizeof *lb)) ||
        !(conv_of = malloc((size_t)tn->n * sizeof *conv_of)))
        goto done;
    conv_of_layers(tn, conv_of);
    net_plan_set_reference(tp, o->reference);
    unsigned long long rng = 7;
    net_init_default(tn, uniform01, &rng);
    float *x = net_plan_input(tp);
    for (size_t i = 0; i < n3; i++) x[i] = (float)(255.0 * uniform01(&rng));
    for (size_t i = 0; i < n3; i++) dy[i] = (float)(uniform01(&rng) - 0.5);
    for (int i = 0; i < 4; i++) {
        int l = vgg19_layer_index(loss_layers[i]), c, h, w;
        vgg19_plan_output(vp, l, &c, &h, &w);
        size_t n = (size_t)c * h * w;
        if (!(lg[l] = malloc(n * sizeof(float)))) goto done;
        for (size_t j = 0; j < n; j++) lg[l][j] = (float)(uniform01(&rng) - 0.5) * 1e-3f;
        grad_at[l] = lg[l];
    }
    for (int r = -o->warmup; r < R; r++) {
        double zf[TNET_NUM_CONV] = {0}, zb[TNET_NUM_CONV] = {0};
        memset(lf, 0, (size_t)tn->n * sizeof *lf);
        memset(lb, 0, (size_t)tn->n * sizeof *lb);
        net_plan_set_timers(tp, lf, lb);
        const float *y;
        double t0 = now_seconds();
        if (net_forward(ctx, tn, tp, NULL, &y) != IMPASTO_OK) goto fail;
        double t1 = now_seconds();
        if (net_backward(ctx, tn, tp, dy, tn->grads, NULL) != IMPASTO_OK) goto fail;
        double t2 = now_seconds();
        for (int i = 0; i < tn->n; i++) zf[conv_of[i]] += lf[i], zb[conv_of[i]] += lb[i];
        vgg19_preprocess_rgb255(y, (size_t)S * S, vin);
        double t3 = now_seconds();
        vgg19_forward(vgg, vp, vin);
        double t4 = now_seconds();
        vgg19_backward(vgg, vp, grad_at, vin);
        double t5 = now_seconds();
        if (r < 0) continue;
        tf[r] = t1 - t0;
        tb[r] = t2 - t1;
        vf[r] = t4 - t3;
        vb[r] = t5 - t4;
        memcpy(fwd[r], zf, sizeof zf);
        memcpy(bwd[r], zb, sizeof zb);
    }
    net_plan_set_timers(tp, NULL, NULL);
    printf("{\"mode\": \"profile\", \"reference\": %d, \"size\": %d, \"threads\": %d, \"runs\": %d, \"tnet_forward\": %.6f, "
           "\"tnet_backward\": %.6f, \"vgg_forward\": %.6f, \"vgg_backward\": %.6f, \"layers\": [",
           o->reference, S, o->threads, R, median(tf, R), median(tb, R), median(vf, R), median(vb, R));
    for (int i = 0; i < TNET_NUM_CONV; i++) {
        double a[MAX_RUNS], b[MAX_RUNS];
        for (int r = 0; r < R; r++) {
            a[r] = fwd[r][i];
            b[r] = bwd[r][i];
        }
        printf("%s{\"name\": \"%s\", \"forward\": %.6f, \"backward\": %.6f}", i ? ", " : "", tnet_convs()[i].conv,
               median(a, R), median(b, R));
    }
    printf("]}\n");
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "bench_train: %s\n", impasto_ctx_error(ctx));
done:
    for (int l = 0; l < VGG19_NUM_LAYERS; l++) free(lg[l]);
    net_plan_free(tp);
    net_free(tn);
    vgg19_plan_free(vp);
    vgg19_free(vgg);
    free(lf);
    free(lb);
    free(conv_of);
    free(dy);
    free(vin);
    return rc;
}

int main(int argc, char **argv) {
    options o;
    if (!parse_args(argc, argv, &o)) {
        usage();
        return 2;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    if (!ctx) return 1;
    impasto_ctx_set_threads(ctx, o.threads);
    gemm_set_threads(o.threads);
    omp_set_num_threads(o.threads);
    int rc = o.profile ? run_profile(ctx, &o) : run_steps(ctx, &o);
    impasto_ctx_free(ctx);
    return rc;
}
