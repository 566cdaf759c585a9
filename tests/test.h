/* A minimal test harness: each tests/test_*.c is one binary whose main() calls RUN(fn) for each
 * test function and returns test_summary(). A failed CHECK prints file:line and the expression
 * and marks the current test failed; the binary's last line is "N passed, N failed". */
#ifndef IMPASTO_TEST_H
#define IMPASTO_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed_count, test_failed_count, test_current_failed;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);           \
            test_current_failed = 1;                                                    \
        }                                                                               \
    } while (0)

#define CHECK_MSG(cond, ...)                                                            \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                               \
            fprintf(stderr, "\n");                                                      \
            test_current_failed = 1;                                                    \
        }                                                                               \
    } while (0)

/* |a - b| <= tol, printing both values when not. */
#define CHECK_NEAR(a, b, tol)                                                           \
    do {                                                                                \
        double test_a_ = (a), test_b_ = (b);                                            \
        if (!(fabs(test_a_ - test_b_) <= (tol))) {                                      \
            fprintf(stderr, "  FAIL %s:%d: %s = %.9g, %s = %.9g, tolerance %g\n",       \
                    __FILE__, __LINE__, #a, test_a_, #b, test_b_, (double)(tol));       \
            test_current_failed = 1;                                                    \
        }                                                                               \
    } while (0)

#define RUN(fn)                                                                         \
    do {                                                                                \
        test_current_failed = 0;                                                        \
        fn();                                                                           \
        if (test_current_failed) {                                                      \
            test_failed_count++;                                                        \
            fprintf(stderr, "not ok %s\n", #fn);                                        \
        } else {                                                                        \
            test_passed_count++;                                                        \
            printf("ok %s\n", #fn);                                                     \
        }                                                                               \
        fflush(stdout);                                                                 \
    } while (0)

static inline int test_summary(void) {
    printf("%d passed, %d failed\n", test_passed_count, test_failed_count);
    return test_failed_count ? 1 : 0;
}

/* Where the shared data lives (../shared beside the project unless IMPASTO_SHARED says). */
static inline const char *test_shared_dir(void) {
    const char *s = getenv("IMPASTO_SHARED");
    return s ? s : "../shared";
}

/* n floats (at least one) from malloc; a test cannot go on without them, so it aborts. */
static inline float *test_falloc(size_t n) {
    float *p = (float *)malloc((n ? n : 1) * sizeof *p);
    if (!p) abort();
    return p;
}

/* The index that reflection padding reads for i in (-n, 2n - 1) on an axis of n (PyTorch's
 * ReflectionPad2d), for the tests' direct references. */
static inline int test_reflect_index(int i, int n) {
    if (i < 0) return -i;
    if (i >= n) return 2 * (n - 1) - i;
    return i;
}

/* Deterministic uniform floats in [lo, hi) for test inputs (xorshift; state is the caller's). */
static inline float test_uniform(unsigned long long *state, float lo, float hi) {
    unsigned long long x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return lo + (hi - lo) * (float)((x >> 40) * (1.0 / 16777216.0));
}

#endif
