/* bench_adain — times one AdaIN style transfer (Huang & Belongie 2017) through impasto's network:
 * encode the content and the style to relu4_1, the AdaIN step (alpha 1), decode. Inputs are
 * prepared by bench/adain_bench.py so that impasto and PyTorch see the same bytes: raw
 * little-endian float32 RGB planes in 0..1, content (3, H, W) and style (3, SH, SW). One process
 * per measurement, so the caller reads this process's peak RSS on its own.
 *
 * Prints one JSON line: {"times": [seconds, ...], "out_shape": [3, OH, OW]}; --out writes the
 * decoder's unclamped output (3, OH, OW) for the caller to compare with PyTorch's. */
#include "bench_util.h"
#include "core/ctx.h"
#include "core/fileio.h"
#include "core/gemm.h"
#include "models/model.h"
#include "nn/nn.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 1000

static void usage(void) {
    fprintf(stderr, "usage: bench_adain --model adain.safetensors --content c.f32 --height H --width W\n"
                    "                   --style s.f32 --style-height SH --style-width SW\n"
                    "                   [--runs 5] [--warmup 1] [--threads 2] [--out out.f32]\n");
}

/* One transfer: *img (3, 8 FH, 8 FW) malloc'd. */
static impasto_status transfer(impasto_ctx *ctx, const adain_net *net, const float *c, int h, int w, const float *s,
                               int sh, int sw, float **img, int *fh, int *fw) {
    float *fc = NULL, *fs = NULL;  // (512, FH, FW), (512, SFH, SFW)
    int sfh = 0, sfw = 0;
    impasto_status st = adain_encode(ctx, net, c, h, w, &fc, fh, fw);
    if (st == IMPASTO_OK) st = adain_encode(ctx, net, s, sh, sw, &fs, &sfh, &sfw);
    if (st == IMPASTO_OK) {
        float mean[ADAIN_FEAT_C], sd[ADAIN_FEAT_C];
        adain_moments(ADAIN_FEAT_C, (size_t)sfh * (size_t)sfw, fs, mean, sd);
        adain_forward(ADAIN_FEAT_C, (size_t)*fh * (size_t)*fw, fc, mean, sd, 1.0f, fc);
        st = adain_decode(ctx, net, fc, *fh, *fw, img);
    }
    free(fs);
    free(fc);
    return st;
}

int main(int argc, char **argv) {
    const char *model = NULL, *cpath = NULL, *spath = NULL, *out = NULL;
    int h = 0, w = 0, sh = 0, sw = 0, runs = 5, warmup = 1, threads = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = v != NULL;
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--content")) cpath = v;
        else if (!strcmp(a, "--style")) spath = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--height")) ok = ok && parse_int(v, 1, 16384, &h);
        else if (!strcmp(a, "--width")) ok = ok && parse_int(v, 1, 16384, &w);
        else if (!strcmp(a, "--style-height")) ok = ok && parse_int(v, 1, 16384, &sh);
        else if (!strcmp(a, "--style-width")) ok = ok && parse_int(v, 1, 16384, &sw);
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
    if (!model || !cpath || !spath || !h || !w || !sh || !sw) {
        usage();
        return 2;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, threads);
    gemm_set_threads(threads);
    omp_set_num_threads(threads);
    impasto_model *m = NULL;
    if (impasto_model_load(ctx, model, &m) != IMPASTO_OK || !m->adain) {
        fprintf(stderr, "bench_adain: %s\n", m ? "not an AdaIN model" : impasto_ctx_error(ctx));
        return 1;
    }
    float *c = read_floats(ctx, "bench_adain", cpath, (size_t)3 * h * w);
    float *s = read_floats(ctx, "bench_adain", spath, (size_t)3 * sh * sw);
    if (!c || !s) return 1;
    double times[MAX_RUNS];
    float *img = NULL;  // (3, 8 FH, 8 FW)
    int fh = 0, fw = 0;
    for (int r = 0; r < warmup + runs; r++) {
        free(img);
        img = NULL;
        double t0 = now_seconds();
        if (transfer(ctx, m->adain, c, h, w, s, sh, sw, &img, &fh, &fw) != IMPASTO_OK) {
            fprintf(stderr, "bench_adain: %s\n", impasto_ctx_error(ctx));
            return 1;
        }
        if (r >= warmup) times[r - warmup] = now_seconds() - t0;
    }
    if (out) {
        FILE *f = fopen(out, "wb");
        size_t n = (size_t)3 * 64 * (size_t)fh * (size_t)fw;
        if (!f || fwrite(img, sizeof *img, n, f) != n || fclose(f) != 0) {
            fprintf(stderr, "bench_adain: cannot write %s\n", out);
            return 1;
        }
    }
    printf("{\"times\": [");
    for (int r = 0; r < runs; r++) printf("%s%.6f", r ? ", " : "", times[r]);
    printf("], \"out_shape\": [3, %d, %d]}\n", 8 * fh, 8 * fw);
    free(img);
    free(c);
    free(s);
    impasto_model_free(m);
    impasto_ctx_free(ctx);
    return 0;
}
