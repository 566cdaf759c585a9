/* bench_attention — times impasto's attention fusion (methods/attention.c) on given features: the
 * content's per-channel moments, the paintings' keys and values (attn_keys_build) and the fusion
 * in blocks with the streaming softmax (attn_fuse), on the whole content map at once (one tile).
 * The encoder and decoder are not part of it. Inputs are prepared by bench/attention_bench.py so
 * that impasto and PyTorch see the same bytes: raw little-endian float32 features, content
 * (C, H, W) and painting (C, SH, SW). One process per measurement, so the caller reads this
 * process's peak RSS on its own; the RSS before the fusion is printed too (its inputs loaded).
 *
 * Prints one JSON line: {"times": [seconds, ...], "rss_before_kib": N}; --out writes the fused
 * features (C, H, W) of the last run for the caller to compare with PyTorch's. */
#include "bench_util.h"
#include "core/ctx.h"
#include "core/gemm.h"
#include "methods/attention.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 1000

static void usage(void) {
    fprintf(stderr, "usage: bench_attention --content c.f32 --channels C --height H --width W\n"
                    "                       --style s.f32 --style-height SH --style-width SW\n"
                    "                       [--patch 1] [--temperature 0.05] [--hard 0|1] [--runs 3] [--warmup 1]\n"
                    "                       [--threads 2] [--out out.f32]\n");
}

/* VmRSS of this process in KiB (from /proc/self/status), 0 when unknown. */
/* A field of /proc/self/status in KiB: "VmRSS:" now, "VmHWM:" the peak of this program (exec starts
 * it afresh, unlike wait4's ru_maxrss, which counts the parent's RSS at the fork). */
static long status_kib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = 0;
    const size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n)) v = strtol(line + n, NULL, 10);
    if (f) fclose(f);
    return v;
}

/* One fusion of a copy of the content features into f (C, H, W). */
static impasto_status fuse(impasto_ctx *ctx, int c, int h, int w, const float *content, const float *style, int sh,
                           int sw, int patch, double t, int hard, float *f) {
    const size_t n = (size_t)h * (size_t)w;
    double *mean = malloc((size_t)c * sizeof *mean), *sd = malloc((size_t)c * sizeof *sd);  // (C), (C)
    if (!mean || !sd) {
        free(mean), free(sd);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    memcpy(f, content, (size_t)c * n * sizeof *f);
    /* The content's moments in double, as the method's pass 1 (unbiased variance + 1e-5). */
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const float *x = f + (size_t)ch * n;
        double s = 0, ss = 0;
        for (size_t i = 0; i < n; i++) s += x[i];
        const double m = s / (double)n;
        for (size_t i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
        mean[ch] = m;
        sd[ch] = sqrt(ss / (double)(n > 1 ? n - 1 : 1) + 1e-5);
    }
    attn_keys *keys = NULL;
    const float *feats[1] = {style};
    impasto_status s = attn_keys_build(ctx, c, patch, feats, &sh, &sw, 1, NULL, &keys);
    if (s == IMPASTO_OK) s = attn_fuse(ctx, keys, mean, sd, t, hard, 1.0, NULL, f, h, w, NULL);
    attn_keys_free(keys);
    free(mean), free(sd);
    return s;
}

int main(int argc, char **argv) {
    const char *cpath = NULL, *spath = NULL, *out = NULL;
    int c = 0, h = 0, w = 0, sh = 0, sw = 0, patch = 1, hard = 0, runs = 3, warmup = 1, threads = 2;
    double t = 0.05;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = v != NULL;
        if (!strcmp(a, "--content")) cpath = v;
        else if (!strcmp(a, "--style")) spath = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--channels")) ok = ok && parse_int(v, 1, 4096, &c);
        else if (!strcmp(a, "--height")) ok = ok && parse_int(v, 1, 16384, &h);
        else if (!strcmp(a, "--width")) ok = ok && parse_int(v, 1, 16384, &w);
        else if (!strcmp(a, "--style-height")) ok = ok && parse_int(v, 1, 16384, &sh);
        else if (!strcmp(a, "--style-width")) ok = ok && parse_int(v, 1, 16384, &sw);
        else if (!strcmp(a, "--patch")) ok = ok && parse_int(v, 1, ATTN_MAX_PATCH, &patch);
        else if (!strcmp(a, "--hard")) ok = ok && parse_int(v, 0, 1, &hard);
        else if (!strcmp(a, "--temperature")) ok = ok && parse_seconds(v, &t) && t > 0;
        else if (!strcmp(a, "--runs")) ok = ok && parse_int(v, 1, MAX_RUNS, &runs);
        else if (!strcmp(a, "--warmup")) ok = ok && parse_int(v, 0, 100, &warmup);
        else if (!strcmp(a, "--threads")) ok = ok && parse_int(v, 1, 1024, &threads);
        else ok = 0;
        if (!ok) {
            usage();
            return 2;
        }
        i++;
    }
    if (!cpath || !spath || !c || !h || !w || !sh || !sw) {
        usage();
        return 2;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, threads);
    gemm_set_threads(threads);
    omp_set_num_threads(threads);
    const size_t n = (size_t)c * (size_t)h * (size_t)w;
    float *content = read_floats(ctx, "bench_attention", cpath, n);                              // (C, H, W)
    float *style = read_floats(ctx, "bench_attention", spath, (size_t)c * (size_t)sh * (size_t)sw);  // (C, SH, SW)
    float *f = malloc(n * sizeof *f);                                                           // (C, H, W)
    if (!content || !style || !f) return 1;
    memset(f, 0, n * sizeof *f);  /* touched: counted in the RSS before the fusion, as PyTorch's output */
    const long before = status_kib("VmRSS:");
    double times[MAX_RUNS];
    for (int r = 0; r < warmup + runs; r++) {
        const double t0 = now_seconds();
        if (fuse(ctx, c, h, w, content, style, sh, sw, patch, t, hard, f) != IMPASTO_OK) {
            fprintf(stderr, "bench_attention: %s\n", impasto_ctx_error(ctx));
            return 1;
        }
        if (r >= warmup) times[r - warmup] = now_seconds() - t0;
    }
    if (out && !write_floats(out, f, n)) {
        fprintf(stderr, "bench_attention: cannot write %s\n", out);
        return 1;
    }
    printf("{\"times\": [");
    for (int r = 0; r < runs; r++) printf("%s%.6f", r ? ", " : "", times[r]);
    printf("], \"rss_before_kib\": %ld, \"peak_rss_kib\": %ld}\n", before, status_kib("VmHWM:"));
    free(f), free(content), free(style);
    impasto_ctx_free(ctx);
    return 0;
}
