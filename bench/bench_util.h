/* Shared by the C bench drivers (bench_*.c): argument parsing, the clock, medians and raw float32
 * files, the helpers every driver needs the same way. Header-only, as each driver is one file. */
#ifndef IMPASTO_BENCH_UTIL_H
#define IMPASTO_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/ctx.h"
#include "core/fileio.h"

/* A whole decimal number in [lo, hi]; 0 on anything else. */
static inline int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

/* A number of seconds in [0, 1e6]. */
static inline int parse_seconds(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0 && v <= 1e6)) return 0;
    *out = v;
    return 1;
}

/* The library's clock (CLOCK_MONOTONIC in seconds): what every timed run is measured with. */
static inline double now_seconds(void) { return clock_seconds(); }

static inline int bench_dbl_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of v[0..n) (n >= 1); sorts v in place. */
static inline double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_dbl_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* x (n) as raw little-endian float32 (the scripts read it with numpy.fromfile). */
static inline int write_floats(const char *path, const float *x, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(x, sizeof *x, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* A raw float32 file of exactly n values (the scripts' inputs), malloc'd; NULL after a message
 * naming `prog` on stderr. */
static inline float *read_floats(impasto_ctx *ctx, const char *prog, const char *path, size_t n) {
    unsigned char *data = NULL;
    size_t size = 0;
    if (file_read_all(ctx, path, n * sizeof(float) + 1, &data, &size) != IMPASTO_OK) {
        fprintf(stderr, "%s: %s\n", prog, impasto_ctx_error(ctx));
        return NULL;
    }
    float *x = NULL;
    if (size != n * sizeof(float))
        fprintf(stderr, "%s: %s holds %zu bytes, expected %zu (%zu float32)\n", prog, path, size, n * sizeof(float), n);
    else if ((x = malloc(n * sizeof *x)))
        memcpy(x, data, n * sizeof *x);
    free(data);
    return x;
}

#endif
