/* bench_fast — times one TransformerNet forward pass (Johnson et al. 2016, the fast style network,
 * src/models/transformer_net.h) on a tensor prepared by bench/fast_bench.py, so that impasto,
 * PyTorch and onnxruntime see the same bytes. One size per process, so the caller can read this
 * process's peak RSS on its own.
 *
 * The input file is raw little-endian float32 (3, H, W), RGB 0..255. The plan (every buffer of
 * the forward pass at that size) is made once, untimed, as impasto_fast_stylize keeps it between
 * frames; each timed run copies the input into the plan and runs the network. The result is one
 * JSON line on stdout; --out writes the output (3, OH, OW) for the caller to compare. */
#include "bench_util.h"
#include "core/ctx.h"
#include "core/fileio.h"
#include "core/gemm.h"
#include "models/transformer_net.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 1000
#define MIN_RUNS 3  /* timed runs made even when --budget is used up */

typedef struct options {
    const char *model, *input, *out;
    int h, w, runs, warmup, threads, layers;
    double budget;  /* seconds of timed runs after which to stop early; 0 = none */
} options;

static void usage(void) {
    fprintf(stderr,
            "usage: bench_fast --model candy.safetensors --height H --width W --input x.f32\n"
            "                  [--runs 5] [--warmup 1] [--threads 2] [--budget 0] [--out y.f32] [--layers]\n"
            "  x.f32: raw float32 (3, H, W), RGB 0..255. Prints one JSON line; --layers adds each\n"
            "  convolution's median seconds (with its norm) as \"layers\".\n");
}

static int parse_args(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    o->runs = 5;
    o->warmup = 1;
    o->threads = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--layers")) {
            o->layers = 1;
            continue;
        }
        if (!v) return 0;
        int ok = 1;
        if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--input")) o->input = v;
        else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--height")) ok = parse_int(v, TNET_MIN_SIDE, 8192, &o->h);
        else if (!strcmp(a, "--width")) ok = parse_int(v, TNET_MIN_SIDE, 8192, &o->w);
        else if (!strcmp(a, "--runs")) ok = parse_int(v, 1, MAX_RUNS, &o->runs);
        else if (!strcmp(a, "--warmup")) ok = parse_int(v, 0, 100, &o->warmup);
        else if (!strcmp(a, "--threads")) ok = parse_int(v, 1, 256, &o->threads);
        else if (!strcmp(a, "--budget")) ok = parse_seconds(v, &o->budget);
        else ok = 0;
        if (!ok) {
            fprintf(stderr, "bench_fast: bad option %s %s\n", a, v);
            return 0;
        }
        i++;
    }
    return o->model && o->input && o->h && o->w;
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

    int rc = 1, oh, ow;
    transformer_net *net = NULL;
    tnet_plan *plan = NULL;
    const size_t nin = (size_t)3 * o.h * o.w;
    float *x = NULL;  /* (3, H, W) */
    double times[MAX_RUNS];
    static double layer_t[MAX_RUNS][TNET_NUM_CONV];
    const float *y = NULL;
    tnet_out_size(o.h, o.w, &oh, &ow);
    if (!(x = read_floats(ctx, "bench_fast", o.input, nin))) goto done;
    if (transformer_net_load(ctx, o.model, &net) != IMPASTO_OK ||
        tnet_plan_create(ctx, o.h, o.w, o.threads, &plan) != IMPASTO_OK) {
        fprintf(stderr, "bench_fast: %s\n", impasto_ctx_error(ctx));
        goto done;
    }

    /* Warm-up runs, then timed runs until --runs, or --budget once MIN_RUNS are done. */
    int nruns = 0;
    double spent = 0;
    for (int r = -o.warmup; r < o.runs; r++) {
        double lt[TNET_NUM_CONV] = {0};
        if (o.layers) tnet_plan_set_timers(plan, lt);
        double t0 = now_seconds();
        memcpy(tnet_plan_input(plan), x, nin * sizeof *x);
        y = tnet_forward(net, plan);
        double t = now_seconds() - t0;
        tnet_plan_set_timers(plan, NULL);
        if (r < 0) continue;
        memcpy(layer_t[nruns], lt, sizeof lt);
        times[nruns++] = t;
        spent += t;
        if (o.budget > 0 && spent > o.budget && nruns >= MIN_RUNS) break;
    }

    if (o.out && !write_floats(o.out, y, (size_t)3 * oh * ow)) {
        fprintf(stderr, "bench_fast: cannot write %s\n", o.out);
        goto done;
    }
    printf("{\"impl\": \"impasto\", \"h\": %d, \"w\": %d, \"oh\": %d, \"ow\": %d, \"threads\": %d, "
           "\"plan_bytes\": %zu, \"times\": [",
           o.h, o.w, oh, ow, o.threads, tnet_plan_bytes(plan));
    for (int i = 0; i < nruns; i++) printf("%s%.6f", i ? ", " : "", times[i]);
    printf("]");
    if (o.layers) {
        printf(", \"layers\": {");
        for (int l = 0; l < TNET_NUM_CONV; l++) {
            double v[MAX_RUNS];
            for (int i = 0; i < nruns; i++) v[i] = layer_t[i][l];
            printf("%s\"%s\": %.6f", l ? ", " : "", tnet_convs()[l].conv, median(v, nruns));
        }
        printf("}");
    }
    printf("}\n");
    rc = 0;

done:
    tnet_plan_free(plan);
    transformer_net_free(net);
    free(x);
    impasto_ctx_free(ctx);
    return rc;
}
