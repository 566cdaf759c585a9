/* bench_gemm — GFLOP/s of each GEMM path (gemm_internal.h) on the shapes impasto's layers use,
 * on 1 and 2 threads, to choose the default path and check that it beats OpenBLAS.
 *
 *   build/bench/bench_gemm [quick] [cpu] [path...]
 *   build/bench/bench_gemm ceiling [threads]   # one JSON line: the square's GFLOP/s, OpenBLAS and auto
 *
 * Shapes (row-major C (M,N) = op(A) (M,K) op(B) (K,N)): a square 2048^3, and VGG-19's 3x3
 * convolutions as conv2d.c issues them — forward y = W x col (M = OC, K = 9C, N = columns),
 * backward-data dcol = W^T x dy (trans_a; M = 9C, K = OC) and backward-weights dW += dy x col^T
 * (trans_b; K = columns). Each cell is the best of several timed repetitions after a warm-up
 * (at least 0.2 s of repetitions; "quick" makes it one repetition). The machine should be idle:
 * the load average is printed first so a loaded run can be recognised. On a shared machine,
 * "cpu" times by the process's CPU time divided by the thread count instead of wall time, which
 * discounts time the threads spent descheduled (but counts OpenMP's spin-waiting). */
#include "core/clock.h"
#include "core/gemm.h"
#include "core/gemm_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *what;
    int ta, tb;
    size_t m, n, k;
} shape;

static const shape shapes[] = {
    {"square", 0, 0, 2048, 2048, 2048},
    {"fwd conv1_2", 0, 0, 64, 8192, 576},
    {"fwd conv3_x", 0, 0, 256, 4096, 2304},
    {"fwd conv5_x", 0, 0, 512, 1024, 4608},
    {"bwd-data conv1_2", 1, 0, 576, 8192, 64},
    {"bwd-data conv4_x", 1, 0, 2304, 2048, 512},
    {"bwd-weights conv1_2", 0, 1, 64, 576, 8192},
    {"gram relu3_1", 0, 1, 256, 256, 16384},
};

static int use_cpu_time, cur_threads = 1;

/* Seconds of wall time, or of process CPU time per thread. */
static double now(void) {
    struct timespec ts;
    if (use_cpu_time) {
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return ((double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec) / cur_threads;
    }
    return clock_seconds();
}

static float *filled(size_t count, unsigned seed) {
    float *p = malloc(count * sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < count; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
    return p;
}

/* Best GFLOP/s of `gemm` on the shape with the current path and thread count. */
static double time_shape(const shape *s, int quick) {
    /* A (M,K) or (K,M) when trans_a, B (K,N) or (N,K) when trans_b; both stored densely. */
    size_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    float *a = filled(s->m * s->k, 1), *b = filled(s->k * s->n, 2), *c = filled(s->m * s->n, 3);
    double flops = 2.0 * (double)s->m * (double)s->n * (double)s->k, best = 0.0, spent = 0.0;
    gemm(s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n);
    for (int rep = 0; rep < 50 && (rep < 2 || spent < 0.2) && !(quick && rep >= 1); rep++) {
        double t0 = now();
        gemm(s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n);
        double dt = now() - t0;
        spent += dt;
        if (flops / dt > best) best = flops / dt;
    }
    free(a);
    free(b);
    free(c);
    return best * 1e-9;
}

int main(int argc, char **argv) {
    static const char *const all[] = {"openblas", "avx512", "avx2", "portable", "auto"};
    const char *paths[8];
    int npaths = 0, quick = 0;
    if (argc >= 2 && strcmp(argv[1], "ceiling") == 0) {
        /* The machine's fp32 GEMM ceiling as the Gatys benchmark quotes it: the square on
         * `threads` threads, with OpenBLAS's kernel (as the environment configures it) and with
         * the path impasto picks. */
        int th = argc >= 3 ? atoi(argv[2]) : 2;
        if (th < 1 || th > 256) th = 2;
        gemm_set_threads(th);
        cur_threads = th;
        gemm_set_path("openblas");
        double ob = time_shape(&shapes[0], 0);
        gemm_set_path("auto");
        const gemm_kernel *kr = gemm_active_kernel();
        double au = time_shape(&shapes[0], 0);
        printf("{\"threads\": %d, \"openblas_gflops\": %.1f, \"auto_gflops\": %.1f, \"auto_path\": \"%s\"}\n",
               th, ob, au, kr ? kr->name : "openblas");
        return 0;
    }
    for (int i = 1; i < argc && npaths < 8; i++) {
        if (strcmp(argv[i], "quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "cpu") == 0)
            use_cpu_time = 1;
        else
            paths[npaths++] = argv[i];
    }
    if (npaths == 0)
        for (int i = 0; i < 5; i++) paths[npaths++] = all[i];
    double load[3] = {0};
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1.0;
        fclose(f);
    }
    printf("load average %.2f %.2f %.2f; GFLOP/s by %s, best of repetitions\n", load[0], load[1], load[2],
           use_cpu_time ? "CPU time per thread" : "wall time");
    printf("%-22s %2s %5s %5s %5s %2s", "shape", "tt", "M", "N", "K", "th");
    for (int p = 0; p < npaths; p++) printf(" %9s", paths[p]);
    printf("\n");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const shape *s = &shapes[si];
        for (int th = 1; th <= 2; th++) {
            gemm_set_threads(th);
            cur_threads = th;
            printf("%-22s %d%d %5zu %5zu %5zu %2d", s->what, s->ta, s->tb, s->m, s->n, s->k, th);
            for (int p = 0; p < npaths; p++) {
                if (gemm_set_path(paths[p]) != 0) {
                    printf(" %9s", "n/a");
                    continue;
                }
                printf(" %9.1f", time_shape(s, quick));
                fflush(stdout);
            }
            printf("\n");
        }
    }
    gemm_set_path("auto");
    return 0;
}
