/* gemm.h on every path (gemm_internal.h: openblas, avx512, avx2, portable, unpacked and auto;
 * paths the CPU lacks are skipped, saying so) against a naive double-precision product.
 *
 * Tolerance: |C - C_ref| <= 1e-5 * (|alpha| * sum_p |op(A)_ip| |op(B)_pj| + |beta| |C0_ij|)
 * + 1e-30 per element — float32 accumulation over up to a few thousand terms stays well inside
 * (its error grows like sqrt(K) * 6e-8 of that sum for random signs). A NaN anywhere fails. */
#include "core/gemm.h"
#include "core/gemm_internal.h"
#include "test.h"

#include <omp.h>

static const char *const paths[] = {"openblas", "avx512", "avx2", "portable", "unpacked", "auto"};
#define NPATHS 6
#define PAD 3 /* extra columns beyond each operand's width, poisoned in C to catch overruns */

typedef struct {
    int ta, tb;
    size_t m, n, k;
    float alpha, beta;
} gemm_case;

static float poison(void) { return nanf(""); }

/* Random op(A) (M,K) stored as A (M, lda) or (K, lda) when ta, likewise B; C0 (M, ldc) with its
 * padding columns NaN, and its body NaN too when beta = 0 (which must overwrite it). */
typedef struct {
    gemm_case g;
    size_t lda, ldb, ldc;
    float *a, *b, *c0;
    double *ref, *bound; /* (M, N) */
} gemm_problem;

static void problem_free(gemm_problem *p) {
    free(p->a);
    free(p->b);
    free(p->c0);
    free(p->ref);
    free(p->bound);
}

static int problem_make(gemm_problem *p, const gemm_case *g, unsigned long long seed) {
    memset(p, 0, sizeof *p);
    p->g = *g;
    size_t arows = g->ta ? g->k : g->m, acols = g->ta ? g->m : g->k;
    size_t brows = g->tb ? g->n : g->k, bcols = g->tb ? g->k : g->n;
    p->lda = acols + PAD;
    p->ldb = bcols + PAD;
    p->ldc = g->n + PAD;
    p->a = malloc(arows * p->lda * sizeof *p->a);
    p->b = malloc(brows * p->ldb * sizeof *p->b);
    p->c0 = malloc(g->m * p->ldc * sizeof *p->c0);
    p->ref = malloc(g->m * g->n * sizeof *p->ref);
    p->bound = malloc(g->m * g->n * sizeof *p->bound);
    if (!p->a || !p->b || !p->c0 || !p->ref || !p->bound) {
        problem_free(p);
        return 0;
    }
    /* Padding of A and B is NaN too: reading past an operand's width would show in C. */
    for (size_t i = 0; i < arows * p->lda; i++)
        p->a[i] = i % p->lda < acols ? test_uniform(&seed, -1, 1) : poison();
    for (size_t i = 0; i < brows * p->ldb; i++)
        p->b[i] = i % p->ldb < bcols ? test_uniform(&seed, -1, 1) : poison();
    for (size_t i = 0; i < g->m * p->ldc; i++)
        p->c0[i] = i % p->ldc < g->n && g->beta != 0.0f ? test_uniform(&seed, -1, 1) : poison();
    for (size_t i = 0; i < g->m; i++)
        for (size_t j = 0; j < g->n; j++) {
            double s = 0.0, sa = 0.0;
            for (size_t q = 0; q < g->k; q++) {
                double x = g->ta ? p->a[q * p->lda + i] : p->a[i * p->lda + q];
                double y = g->tb ? p->b[j * p->ldb + q] : p->b[q * p->ldb + j];
                s += x * y;
                sa += fabs(x * y);
            }
            double c = g->beta != 0.0f ? p->c0[i * p->ldc + j] : 0.0;
            p->ref[i * g->n + j] = g->alpha * s + g->beta * c;
            p->bound[i * g->n + j] = 1e-5 * (fabs(g->alpha) * sa + fabs(g->beta * c)) + 1e-30;
        }
    return 1;
}

/* Runs the problem on the current path; returns 1 when every element is within bound and the
 * padding of C is untouched, printing the first bad element otherwise. */
static int problem_check(const gemm_problem *p, const char *path) {
    const gemm_case *g = &p->g;
    float *c = malloc(g->m * p->ldc * sizeof *c);
    if (!c) return 0;
    memcpy(c, p->c0, g->m * p->ldc * sizeof *c);
    gemm(g->ta, g->tb, g->m, g->n, g->k, g->alpha, p->a, p->lda, p->b, p->ldb, g->beta, c, p->ldc);
    int ok = 1;
    for (size_t i = 0; i < g->m && ok; i++) {
        for (size_t j = 0; j < g->n && ok; j++) {
            double got = c[i * p->ldc + j], want = p->ref[i * g->n + j];
            if (!(fabs(got - want) <= p->bound[i * g->n + j])) {
                fprintf(stderr, "  %s: ta=%d tb=%d m=%zu n=%zu k=%zu alpha=%g beta=%g: ", path, g->ta,
                        g->tb, g->m, g->n, g->k, g->alpha, g->beta);
                fprintf(stderr, "C[%zu,%zu] = %.9g, want %.9g\n", i, j, got, want);
                ok = 0;
            }
        }
        for (size_t j = g->n; j < p->ldc && ok; j++)
            if (!isnan(c[i * p->ldc + j])) {
                fprintf(stderr, "  %s: m=%zu n=%zu k=%zu: padding C[%zu,%zu] written\n", path, g->m, g->n,
                        g->k, i, j);
                ok = 0;
            }
    }
    free(c);
    return ok;
}

/* Each case on every path the CPU has, on 1 thread and (outside a parallel region, so gemm()
 * splits large products) 2 threads. */
static void run_cases(const gemm_case *cases, size_t ncases) {
    for (size_t ci = 0; ci < ncases; ci++) {
        gemm_problem p;
        if (!problem_make(&p, &cases[ci], 0x9E3779B97F4A7C15ull + ci)) {
            CHECK_MSG(0, "out of memory");
            return;
        }
        for (int pi = 0; pi < NPATHS; pi++) {
            if (gemm_set_path(paths[pi]) != 0) continue;
            for (int th = 1; th <= 2; th++) {
                gemm_set_threads(th);
                CHECK_MSG(problem_check(&p, paths[pi]), "path %s, %d thread(s), case %zu", paths[pi], th, ci);
            }
        }
        problem_free(&p);
    }
    gemm_set_path("auto");
    gemm_set_threads(2);
}

static void test_paths_known(void) {
    for (int pi = 0; pi < NPATHS; pi++) {
        if (gemm_path_supported(paths[pi])) {
            CHECK(gemm_set_path(paths[pi]) == 0);
            CHECK(strcmp(gemm_path_name(), paths[pi]) == 0);
        } else {
            printf("  skipping path %s: this CPU cannot run it\n", paths[pi]);
            CHECK(gemm_set_path(paths[pi]) == -1);
        }
    }
    CHECK(gemm_path_supported("openblas") && gemm_path_supported("portable") && gemm_path_supported("auto"));
    CHECK(gemm_set_path("auto") == 0);
    CHECK(gemm_set_path("no-such-path") == -1);
    CHECK(gemm_set_path(NULL) == -1);
    CHECK(strcmp(gemm_path_name(), "auto") == 0);
}

/* Tiny shapes and ones straddling every tile and block size (MR 4..8, NR 16..32, KC 256,
 * MC 120..256, NC 4096), each transpose combination. */
static void test_shapes_transposes(void) {
    static const size_t shapes[][3] = {{1, 1, 1},   {2, 3, 1},    {1, 40, 7},   {40, 1, 7},  {8, 32, 256},
                                       {9, 33, 257}, {13, 37, 519}, {6, 16, 16}, {7, 15, 255}, {300, 20, 40},
                                       {5, 4100, 3}, {31, 65, 513}};
    gemm_case cases[sizeof shapes / sizeof shapes[0] * 4];
    size_t n = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            cases[n++] = (gemm_case){t >> 1, t & 1, shapes[s][0], shapes[s][1], shapes[s][2], 1.0f, 0.0f};
    run_cases(cases, n);
}

/* alpha and beta: beta = 0 must overwrite NaN in C, beta = 1 accumulate (the weight gradient's
 * use), general values scale; alpha = 0 leaves beta * C. */
static void test_alpha_beta(void) {
    static const float ab[][2] = {{1.0f, 0.0f},   {0.5f, 0.0f},  {1.0f, 1.0f},
                                  {-1.5f, 0.25f}, {2.0f, -1.0f}, {0.0f, 2.0f}};
    gemm_case cases[6 * 4];
    size_t n = 0;
    for (int i = 0; i < 6; i++)
        for (int t = 0; t < 4; t++) cases[n++] = (gemm_case){t >> 1, t & 1, 19, 45, 300, ab[i][0], ab[i][1]};
    run_cases(cases, n);
}

/* The shapes conv2d.c issues for VGG-19 (smaller column counts): forward y = W x col, backward
 * data dcol = W^T x dy (trans_a), backward weights dW += dy x col^T (trans_b, beta 1). */
static void test_conv_shapes(void) {
    static const gemm_case cases[] = {
        {0, 0, 64, 1024, 576, 1.0f, 0.0f},
        {0, 0, 256, 96, 2304, 1.0f, 0.0f},
        {1, 0, 576, 512, 64, 1.0f, 0.0f},
        {0, 1, 32, 576, 1024, 1.0f, 1.0f},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* k = 0 and m = 0 or n = 0: C is beta * C, or untouched. */
static void test_empty(void) {
    float a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4};
    for (int pi = 0; pi < NPATHS; pi++) {
        if (gemm_set_path(paths[pi]) != 0) continue;
        float c[4] = {1, 2, 3, 4};
        gemm(0, 0, 2, 2, 0, 1.0f, a, 1, b, 2, 0.5f, c, 2);
        CHECK(c[0] == 0.5f && c[3] == 2.0f);
        float d[4] = {nanf(""), 1, 1, 1};
        gemm(0, 0, 2, 2, 0, 1.0f, a, 1, b, 2, 0.0f, d, 2);
        CHECK(d[0] == 0.0f);
        float e[4] = {1, 2, 3, 4};
        gemm(0, 0, 0, 2, 2, 1.0f, a, 2, b, 2, 0.0f, e, 2);
        gemm(0, 0, 2, 0, 2, 1.0f, a, 2, b, 2, 0.0f, e, 2);
        CHECK(e[0] == 1.0f && e[3] == 4.0f);
    }
    gemm_set_path("auto");
}

/* Inside a parallel region each member multiplies on its own (serially, with its own packing
 * buffer): members computing different products at once must not disturb each other. */
static void test_inside_parallel(void) {
    for (int pi = 0; pi < NPATHS; pi++) {
        if (gemm_set_path(paths[pi]) != 0) continue;
        gemm_problem p[2];
        static const gemm_case cs[2] = {{0, 0, 40, 300, 270, 1.0f, 0.0f}, {1, 1, 70, 90, 300, 0.5f, 1.0f}};
        int made0 = problem_make(&p[0], &cs[0], 11), made1 = problem_make(&p[1], &cs[1], 12);
        CHECK(made0 && made1);
        if (made0 && made1) {
            int ok[2] = {0, 0};
#pragma omp parallel num_threads(2)
            {
                int t = omp_get_thread_num();
                if (t < 2)
                    for (int r = 0; r < 3; r++) ok[t] += problem_check(&p[t], paths[pi]);
            }
            /* With fewer threads than asked for, the second product is checked here. */
            if (ok[1] == 0 && omp_get_max_threads() < 2) ok[1] = 3 * problem_check(&p[1], paths[pi]);
            CHECK_MSG(ok[0] == 3 && ok[1] == 3, "path %s", paths[pi]);
        }
        if (made0) problem_free(&p[0]);
        if (made1) problem_free(&p[1]);
    }
    gemm_set_path("auto");
}

static int env_path_ok;

static void test_env_path(void) { CHECK_MSG(env_path_ok, "IMPASTO_GEMM=portable not honoured"); }

int main(void) {
    /* IMPASTO_GEMM is read once, by the first GEMM call: this is it (overriding any setting the
     * caller made, which the tests replace path by path anyway). */
    setenv("IMPASTO_GEMM", "portable", 1);
    env_path_ok = strcmp(gemm_path_name(), "portable") == 0;
    unsetenv("IMPASTO_GEMM");
    RUN(test_env_path);
    RUN(test_paths_known);
    RUN(test_shapes_transposes);
    RUN(test_alpha_beta);
    RUN(test_conv_shapes);
    RUN(test_empty);
    RUN(test_inside_parallel);
    return test_summary();
}
