/* bench_gatys — times one Gatys et al. (CVPR 2016) iteration as jcjohnson/neural-style runs it,
 * or one VGG-19 forward pass to relu5_1, on tensors prepared by bench/gatys_bench.py, so that
 * impasto and PyTorch see the same bytes. One size and one mode per process, so the caller can
 * read this process's peak RSS on its own.
 *
 * An iteration is what the optimiser pays per function evaluation: forward to relu5_1, the
 * content loss (relu4_2), the five style losses (relu1_1 ... relu5_1), backward to the image,
 * and total variation on the image. Targets are computed once, untimed.
 *
 * Input files are raw little-endian float32 (3, H, W), Caffe-preprocessed (RGB 0..255 minus the
 * ImageNet mean). The result is one JSON line on stdout; --out writes the gradient (3, H, W)
 * (gatys mode) or the relu5_1 features (512, H/16, W/16) (forward mode) for the caller to
 * compare with PyTorch's.
 *
 * --mode layers times each convolution to conv5_1 on its own, on the activations of a forward pass
 * of --init (through a plan that keeps every output): the forward as vgg19_forward runs it (conv +
 * ReLU, fused) and the backward-data as vgg19_backward does (ReLU backward + input gradient of the
 * conv, fused where Winograd runs it), against a pseudo-random output gradient. Each layer's
 * result is also computed once by im2col + GEMM (conv2d.c), timed (one run) and compared: the
 * relative L2 difference of the forward outputs and of the input gradients. */
#include "bench_util.h"
#include "core/ctx.h"
#include "core/fileio.h"
#include "core/gemm.h"
#include "loss/loss.h"
#include "models/vgg19.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* neural-style's defaults. */
#define CONTENT_WEIGHT 5.0
#define STYLE_WEIGHT 100.0
#define TV_WEIGHT 1e-3
#define MAX_RUNS 1000
#define MIN_RUNS 3  /* timed runs made even when --budget is used up */

static const char *const style_names[] = {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"};
#define NUM_STYLE 5

typedef struct options {
    const char *model, *content, *style, *init, *out, *mode;
    int h, w, runs, warmup, threads;
    double budget;  /* seconds of timed runs after which to stop early; 0 = none */
} options;

static void usage(void) {
    fprintf(stderr,
            "usage: bench_gatys --model vgg19.safetensors --height H --width W --init x.f32\n"
            "                   [--mode gatys|forward|layers] [--content c.f32 --style s.f32]\n"
            "                   [--runs 5] [--warmup 1] [--threads 2] [--budget 0]\n"
            "                   [--out result.f32]\n"
            "  *.f32: raw float32 (3, H, W), Caffe-preprocessed RGB. Prints one JSON line.\n");
}

static int parse_args(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    o->mode = "gatys";
    o->runs = 5;
    o->warmup = 1;
    o->threads = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return 0;
        int ok = 1;
        if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--content")) o->content = v;
        else if (!strcmp(a, "--style")) o->style = v;
        else if (!strcmp(a, "--init")) o->init = v;
        else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--mode")) o->mode = v;
        else if (!strcmp(a, "--height")) ok = parse_int(v, 16, 8192, &o->h);
        else if (!strcmp(a, "--width")) ok = parse_int(v, 16, 8192, &o->w);
        else if (!strcmp(a, "--runs")) ok = parse_int(v, 1, MAX_RUNS, &o->runs);
        else if (!strcmp(a, "--warmup")) ok = parse_int(v, 0, 100, &o->warmup);
        else if (!strcmp(a, "--threads")) ok = parse_int(v, 1, 256, &o->threads);
        else if (!strcmp(a, "--budget")) ok = parse_seconds(v, &o->budget);
        else ok = 0;
        if (!ok) {
            fprintf(stderr, "bench_gatys: bad option %s %s\n", a, v);
            return 0;
        }
        i++;
    }
    int gatys = !strcmp(o->mode, "gatys");
    if (!gatys && strcmp(o->mode, "forward") && strcmp(o->mode, "layers")) return 0;
    if (!o->model || !o->init || !o->h || !o->w) return 0;
    if (gatys && (!o->content || !o->style)) return 0;
    return 1;
}

/* Everything one Gatys evaluation touches, allocated before timing starts. */
typedef struct gatys_state {
    const vgg19 *net;
    vgg19_plan *plan;
    int h, w;
    int content_layer, style_layer[NUM_STYLE];
    float *content_target;             /* (C, H, W) at relu4_2 */
    float *style_target[NUM_STYLE];    /* (C, C) Gram at each style layer */
    float *grad_at[VGG19_NUM_LAYERS];  /* (C, H, W) where a loss sits, else NULL */
    float *gram_ws;                    /* (512, 512) */
    float *tv_grad;                    /* (3, H, W) */
    double content, style, tv;
} gatys_state;

static void gatys_state_free(gatys_state *s) {
    free(s->content_target);
    for (int i = 0; i < NUM_STYLE; i++) free(s->style_target[i]);
    for (int i = 0; i < VGG19_NUM_LAYERS; i++) free(s->grad_at[i]);
    free(s->gram_ws);
    free(s->tv_grad);
}

static size_t layer_size(const vgg19_plan *p, int layer, int *c, size_t *hw) {
    int lc = 0, lh = 0, lw = 0;
    vgg19_plan_output(p, layer, &lc, &lh, &lw);
    if (c) *c = lc;
    if (hw) *hw = (size_t)lh * lw;
    return (size_t)lc * lh * lw;
}

/* Targets from the content and style tensors through the same plan (untimed), and the gradient
 * buffers. Returns 0 when out of memory. */
static int gatys_setup(gatys_state *s, const float *content, const float *style) {
    vgg19_forward(s->net, s->plan, content);
    size_t n = layer_size(s->plan, s->content_layer, NULL, NULL);
    if (!(s->content_target = malloc(n * sizeof(float)))) return 0;
    memcpy(s->content_target, vgg19_plan_output(s->plan, s->content_layer, NULL, NULL, NULL),
           n * sizeof(float));
    if (!(s->grad_at[s->content_layer] = malloc(n * sizeof(float)))) return 0;

    vgg19_forward(s->net, s->plan, style);
    for (int i = 0; i < NUM_STYLE; i++) {
        int c;
        size_t hw, len = layer_size(s->plan, s->style_layer[i], &c, &hw);
        if (!(s->style_target[i] = malloc((size_t)c * c * sizeof(float)))) return 0;
        gram_matrix(c, hw, vgg19_plan_output(s->plan, s->style_layer[i], NULL, NULL, NULL),
                    s->style_target[i]);
        if (!(s->grad_at[s->style_layer[i]] = malloc(len * sizeof(float)))) return 0;
    }
    s->gram_ws = malloc((size_t)512 * 512 * sizeof(float));
    s->tv_grad = malloc((size_t)3 * s->h * s->w * sizeof(float));
    return s->gram_ws && s->tv_grad;
}

/* One evaluation of f(x) and g = df/dx, x and g (3, H, W); the content and style layers are
 * distinct, so each loss writes its layer's gradient buffer directly. */
static void gatys_evaluate(gatys_state *s, const float *x, float *g) {
    vgg19_forward(s->net, s->plan, x);
    size_t n = layer_size(s->plan, s->content_layer, NULL, NULL);
    s->content = content_loss(n, vgg19_plan_output(s->plan, s->content_layer, NULL, NULL, NULL),
                              s->content_target, CONTENT_WEIGHT, s->grad_at[s->content_layer]);
    s->style = 0;
    for (int i = 0; i < NUM_STYLE; i++) {
        int layer = s->style_layer[i], c;
        size_t hw;
        layer_size(s->plan, layer, &c, &hw);
        s->style += style_loss(c, hw, vgg19_plan_output(s->plan, layer, NULL, NULL, NULL),
                               s->style_target[i], STYLE_WEIGHT, s->gram_ws, s->grad_at[layer]);
    }
    vgg19_backward(s->net, s->plan, (const float *const *)s->grad_at, g);
    s->tv = tv_loss(3, s->h, s->w, x, TV_WEIGHT, s->tv_grad);
    size_t nx = (size_t)3 * s->h * s->w;
#pragma omp parallel for if (nx > 65536)
    for (size_t i = 0; i < nx; i++) g[i] += s->tv_grad[i];
}

static void print_times(const double *t, int n);

/* ||a - b|| / ||b|| in double. */
static double rel_l2(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Runs one layer's forward (which = 0) or backward-data (1), Winograd (wino; with the kernels uk
 * kept transformed for tile height uk_mr, or NULL) or im2col. in (C,H,W), mask = the ReLU's
 * bitmap (OC planes of H*W bits, as the plan keeps it), dy (OC,H,W); y (OC,H,W) or dx (C,H,W).
 * tmp (OC,H,W) holds the masked gradient on the im2col path. */
static void layer_run(const conv2d_desc *d, int which, int wino, const float *uk, int uk_mr, const float *w,
                      const float *b, const float *in, const uint64_t *mask, const float *dy, float *out,
                      float *tmp, float *ws) {
    const size_t hw = (size_t)d->h * (size_t)d->w;
    if (which == 0) {
        if (wino) conv2d_winograd_forward_pre(d, in, w, uk, uk_mr, b, out, 1, ws);
        else conv2d_forward(d, in, w, b, out, 1, ws);
    } else if (wino) {
        conv2d_winograd_backward_data_bits(d, w, uk, uk_mr, dy, mask, out, ws);
    } else {
        relu_backward_bits(d->oc, hw, mask, dy, tmp);
        conv2d_backward(d, NULL, w, tmp, out, NULL, NULL, ws);
    }
}

/* --mode layers: one JSON line with a "layers" array. Returns 0 when out of memory. */
static int bench_layers(const options *o, impasto_ctx *ctx, const vgg19 *net, const float *x) {
    const vgg19_layer *L = vgg19_layers();
    const int last = vgg19_layer_index("relu5_1");
    vgg19_plan *p = NULL;
    if (vgg19_plan_create(ctx, net, o->h, o->w, last, POOL_MAX, NULL, &p) != IMPASTO_OK) return 0;
    (void)vgg19_plan_keep_kernels(p, net);  /* as gatys.c's optimisation loop */
    vgg19_forward(net, p, x);
    size_t nmax = 0, wsmax = 0;
    for (int l = 0; l <= last; l++) {
        if (L[l].kind != VGG_CONV) continue;
        int c, h, w;
        vgg19_plan_output(p, l, &c, &h, &w);
        const conv2d_desc d = {L[l].in_c, h, w, c, 3, 3, 1, 1, PAD_ZERO, o->threads};
        const size_t n = (size_t)(c > d.c ? c : d.c) * (size_t)h * (size_t)w;
        const size_t ws[3] = {conv2d_workspace(&d), conv2d_winograd_workspace(&d, 1),
                              conv2d_winograd_backward_workspace(&d)};
        if (n > nmax) nmax = n;
        for (int i = 0; i < 3; i++)
            if (ws[i] > wsmax) wsmax = ws[i];
    }
    float *bufs[6] = {NULL};
    int ok = 1;
    for (int i = 0; i < 6 && ok; i++) ok = (bufs[i] = malloc((i == 5 ? wsmax : nmax) * sizeof(float))) != NULL;
    float *dy = bufs[0], *out = bufs[1], *ref = bufs[2], *tmp = bufs[3], *ws = bufs[5];
    /* A bitmap of up to nmax bits in up to 512 planes, each rounded up to a whole word. */
    uint64_t *mask = ok ? malloc((nmax / 64 + 512) * sizeof *mask) : NULL;
    ok = ok && mask;
    if (ok) {
        unsigned long long seed = 12345;
        for (size_t i = 0; i < nmax; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            dy[i] = (float)((double)(seed >> 11) / 9007199254740992.0 - 0.5);
        }
        printf("{\"impl\": \"impasto\", \"mode\": \"layers\", \"h\": %d, \"w\": %d, \"threads\": %d, "
               "\"layers\": [", o->h, o->w, o->threads);
        int first = 1;
        for (int l = 0; l <= last; l++) {
            if (L[l].kind != VGG_CONV) continue;
            int c, h, w;
            vgg19_plan_output(p, l, &c, &h, &w);
            const conv2d_desc d = {L[l].in_c, h, w, c, 3, 3, 1, 1, PAD_ZERO, o->threads};
            const float *in = l == 0 ? x : vgg19_plan_output(p, l - 1, NULL, NULL, NULL);
            relu_mask_bits(c, (size_t)h * w, vgg19_plan_output(p, l + 1, NULL, NULL, NULL), mask);
            const float *wt = net->w[L[l].conv], *bias = net->b[L[l].conv];
            /* As vgg19.c chooses: Winograd but for conv1_1's forward (3 input channels). */
            const int wino_ok = conv2d_winograd_backward_supported(&d), wino_dir[2] = {wino_ok && d.c >= 16, wino_ok};
            const size_t nout[2] = {(size_t)c * h * w, (size_t)d.c * h * w};
            printf("%s{\"name\": \"%s\", \"c\": %d, \"oc\": %d, \"h\": %d, \"w\": %d, \"algo\": \"%s\"",
                   first ? "" : ", ", L[l].name, d.c, c, h, w,
                   wino_dir[0] ? "winograd" : wino_dir[1] ? "im2col/wino" : "im2col");
            first = 0;
            for (int which = 0; which < 2; which++) {
                double times[MAX_RUNS], spent = 0;
                int nruns = 0;
                int uk_mr = 0;
                const float *uk = vgg19_plan_winograd_kernels(p, l, which, &uk_mr);
                for (int r = -o->warmup; r < o->runs; r++) {
                    const double t0 = now_seconds();
                    layer_run(&d, which, wino_dir[which], uk, uk_mr, wt, bias, in, mask, dy, out, tmp, ws);
                    const double t = now_seconds() - t0;
                    if (r < 0) continue;
                    times[nruns++] = t;
                    spent += t;
                    if (o->budget > 0 && spent > o->budget && nruns >= MIN_RUNS) break;
                }
                const double t0 = now_seconds();
                layer_run(&d, which, 0, NULL, 0, wt, bias, in, mask, dy, ref, tmp, ws);
                const double t_ref = now_seconds() - t0;
                printf(", \"%s_kept\": %s, \"%s_times\": ", which ? "bwd" : "fwd", uk ? "true" : "false",
                       which ? "bwd" : "fwd");
                print_times(times, nruns);
                printf(", \"%s_im2col_s\": %.6f, \"%s_rel_l2\": %.3e", which ? "bwd" : "fwd", t_ref,
                       which ? "bwd" : "fwd", rel_l2(out, ref, nout[which]));
            }
            printf("}");
        }
        printf("]}\n");
    }
    for (int i = 0; i < 6; i++) free(bufs[i]);
    free(mask);
    vgg19_plan_free(p);
    return ok;
}

static void print_times(const double *t, int n) {
    printf("[");
    for (int i = 0; i < n; i++) printf("%s%.6f", i ? ", " : "", t[i]);
    printf("]");
}

int main(int argc, char **argv) {
    options o;
    if (!parse_args(argc, argv, &o)) {
        usage();
        return 2;
    }
    int gatys = !strcmp(o.mode, "gatys");
    impasto_ctx *ctx = impasto_ctx_create();
    if (!ctx) return 1;
    impasto_ctx_set_threads(ctx, o.threads);
    gemm_set_threads(o.threads);
    omp_set_num_threads(o.threads);

    int rc = 1;
    vgg19 *net = NULL;
    gatys_state s;
    memset(&s, 0, sizeof s);
    float *x = read_floats(ctx, "bench_gatys", o.init, (size_t)3 * o.h * o.w);
    float *content = gatys ? read_floats(ctx, "bench_gatys", o.content, (size_t)3 * o.h * o.w) : NULL;
    float *style = gatys ? read_floats(ctx, "bench_gatys", o.style, (size_t)3 * o.h * o.w) : NULL;
    float *g = malloc((size_t)3 * o.h * o.w * sizeof(float));
    double times[MAX_RUNS];
    if (!x || !g || (gatys && (!content || !style))) goto done;

    if (vgg19_load(ctx, o.model, &net) != IMPASTO_OK) {
        fprintf(stderr, "bench_gatys: %s\n", impasto_ctx_error(ctx));
        goto done;
    }
    if (!strcmp(o.mode, "layers")) {
        if (bench_layers(&o, ctx, net, x)) rc = 0;
        else fprintf(stderr, "bench_gatys: out of memory\n");
        goto done;
    }
    s.net = net;
    s.h = o.h;
    s.w = o.w;
    s.content_layer = vgg19_layer_index("relu4_2");
    unsigned char keep[VGG19_NUM_LAYERS] = {0};
    int last = vgg19_layer_index("relu5_1");
    keep[last] = 1;
    if (gatys) {
        keep[s.content_layer] = 1;
        for (int i = 0; i < NUM_STYLE; i++) keep[s.style_layer[i] = vgg19_layer_index(style_names[i])] = 1;
    }
    if (vgg19_plan_create(ctx, net, o.h, o.w, last, POOL_MAX, keep, &s.plan) != IMPASTO_OK) {
        fprintf(stderr, "bench_gatys: %s\n", impasto_ctx_error(ctx));
        goto done;
    }
    (void)vgg19_plan_keep_kernels(s.plan, net);  /* as gatys.c's optimisation loop */
    if (gatys && !gatys_setup(&s, content, style)) {
        fprintf(stderr, "bench_gatys: out of memory\n");
        goto done;
    }

    /* Warm-up runs, then timed runs until --runs, or --budget once MIN_RUNS are done. */
    int nruns = 0;
    double spent = 0;
    for (int r = -o.warmup; r < o.runs; r++) {
        double t0 = now_seconds();
        if (gatys) gatys_evaluate(&s, x, g);
        else vgg19_forward(net, s.plan, x);
        double t = now_seconds() - t0;
        if (r < 0) continue;
        times[nruns++] = t;
        spent += t;
        if (o.budget > 0 && spent > o.budget && nruns >= MIN_RUNS) break;
    }

    if (o.out) {
        int ok;
        if (gatys) {
            ok = write_floats(o.out, g, (size_t)3 * o.h * o.w);
        } else {
            size_t n = layer_size(s.plan, last, NULL, NULL);
            ok = write_floats(o.out, vgg19_plan_output(s.plan, last, NULL, NULL, NULL), n);
        }
        if (!ok) {
            fprintf(stderr, "bench_gatys: cannot write %s\n", o.out);
            goto done;
        }
    }

    printf("{\"impl\": \"impasto\", \"mode\": \"%s\", \"h\": %d, \"w\": %d, \"threads\": %d, "
           "\"plan_bytes\": %zu, \"times\": ",
           o.mode, o.h, o.w, o.threads, vgg19_plan_bytes(s.plan));
    print_times(times, nruns);
    if (gatys)
        printf(", \"loss\": %.9g, \"content\": %.9g, \"style\": %.9g, \"tv\": %.9g",
               s.content + s.style + s.tv, s.content, s.style, s.tv);
    printf("}\n");
    rc = 0;

done:
    gatys_state_free(&s);
    vgg19_plan_free(s.plan);
    vgg19_free(net);
    free(x);
    free(content);
    free(style);
    free(g);
    impasto_ctx_free(ctx);
    return rc;
}
