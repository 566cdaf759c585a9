/* bench_flow — times impasto's DIS optical flow (src/video/flow.c) on consecutive grey frames that
 * bench/flow_bench.py prepared (the same bytes OpenCV's DISOpticalFlow is timed on): a raw
 * little-endian float32 file of N frames (H, W) in 0..1. Each of the N-1 consecutive pairs is
 * computed `runs` times after `warmup` untimed runs; the flow context is created once, as a video
 * would. One process per measurement, so the caller reads this process's peak RSS on its own.
 *
 * Prints one JSON line {"times": [wall seconds per pair, ...], "cpu": [...]}: the median wall time
 * and the median CPU time of the process (all threads, CLOCK_PROCESS_CPUTIME_ID) of each pair,
 * the second less sensitive to other work on a shared machine; --out writes the flows of the pairs
 * in order, each (2, H, W), for the caller to score. */
#include "bench_util.h"
#include "video/flow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RUNS 1000

static void usage(void) {
    fprintf(stderr, "usage: bench_flow --frames f.f32 --count N --height H --width W\n"
                    "                  [--preset ultrafast|fast|medium] [--runs 5] [--warmup 1]\n"
                    "                  [--threads 2] [--out flows.f32]\n");
}

int main(int argc, char **argv) {
    const char *fpath = NULL, *out = NULL, *preset_name = "medium";
    int count = 0, h = 0, w = 0, runs = 5, warmup = 1, threads = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = v != NULL;
        if (!strcmp(a, "--frames")) fpath = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--preset")) preset_name = v;
        else if (!strcmp(a, "--count")) ok = ok && parse_int(v, 2, 100000, &count);
        else if (!strcmp(a, "--height")) ok = ok && parse_int(v, 1, 16384, &h);
        else if (!strcmp(a, "--width")) ok = ok && parse_int(v, 1, 16384, &w);
        else if (!strcmp(a, "--runs")) ok = ok && parse_int(v, 1, MAX_RUNS, &runs);
        else if (!strcmp(a, "--warmup")) ok = ok && parse_int(v, 0, MAX_RUNS, &warmup);
        else if (!strcmp(a, "--threads")) ok = ok && parse_int(v, 1, 1024, &threads);
        else ok = 0;
        if (!ok) {
            usage();
            return 2;
        }
        i++;
    }
    int preset;
    if (!strcmp(preset_name, "ultrafast")) preset = FLOW_PRESET_ULTRAFAST;
    else if (!strcmp(preset_name, "fast")) preset = FLOW_PRESET_FAST;
    else if (!strcmp(preset_name, "medium")) preset = FLOW_PRESET_MEDIUM;
    else {
        usage();
        return 2;
    }
    if (!fpath || !count || !h || !w) {
        usage();
        return 2;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    if (!ctx) return 1;
    impasto_ctx_set_threads(ctx, threads);
    size_t n = (size_t)h * (size_t)w;
    float *frames = read_floats(ctx, "bench_flow", fpath, n * (size_t)count);
    flow_params p;
    flow_params_default(&p, preset);
    flow_ctx *f = flow_create((size_t)w, (size_t)h, &p);
    size_t npairs = (size_t)count - 1;
    float *flows = malloc(2 * n * npairs * sizeof(float));
    double *times = malloc(npairs * sizeof(double));
    double *rt = malloc((size_t)runs * sizeof(double));
    double *ct = malloc((size_t)runs * sizeof(double));
    double *cpu = malloc(npairs * sizeof(double));
    int rc = 0;
    if (!frames || !f || !flows || !times || !rt || !ct || !cpu) {
        fprintf(stderr, "bench_flow: out of memory or unreadable frames\n");
        rc = 1;
    }
    for (size_t k = 0; !rc && k < npairs; k++) {
        const float *a = frames + k * n, *b = frames + (k + 1) * n;
        float *fl = flows + 2 * n * k;
        for (int r = 0; !rc && r < warmup + runs; r++) {
            struct timespec c0, c1;
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
            double t0 = now_seconds();
            if (flow_compute(f, ctx, a, b, fl) != IMPASTO_OK) {
                fprintf(stderr, "bench_flow: %s\n", impasto_ctx_error(ctx));
                rc = 1;
            }
            double t1 = now_seconds();
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
            if (r >= warmup) {
                rt[r - warmup] = t1 - t0;
                ct[r - warmup] = (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);
            }
        }
        times[k] = median(rt, runs);
        cpu[k] = median(ct, runs);
    }
    if (!rc && out && !write_floats(out, flows, 2 * n * npairs)) {
        fprintf(stderr, "bench_flow: cannot write %s\n", out);
        rc = 1;
    }
    if (!rc) {
        printf("{\"times\": [");
        for (size_t k = 0; k < npairs; k++) printf("%s%.6f", k ? ", " : "", times[k]);
        printf("], \"cpu\": [");
        for (size_t k = 0; k < npairs; k++) printf("%s%.6f", k ? ", " : "", cpu[k]);
        printf("]}\n");
    }
    free(rt);
    free(ct);
    free(cpu);
    free(times);
    free(flows);
    flow_free(f);
    free(frames);
    impasto_ctx_free(ctx);
    return rc;
}
