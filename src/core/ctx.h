/* The library context: settings and the last error message. No global mutable state lives
 * anywhere else in libimpasto. */
#ifndef IMPASTO_CORE_CTX_H
#define IMPASTO_CORE_CTX_H

#include "impasto.h"
#include <stddef.h>

struct impasto_ctx {
    int nthreads;        /* 0 = one per core */
    size_t max_pixels;   /* largest width*height accepted from a file or a user */
    char error[512];
};

/* Records a printf-style message and returns `status`, so callers can write
 * `return ctx_fail(ctx, IMPASTO_ERR_IO, "cannot open %s: %s", path, strerror(errno));`. */
impasto_status ctx_fail(impasto_ctx *ctx, impasto_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Effective thread count (resolves 0 to the number of online cores). */
int ctx_threads(const impasto_ctx *ctx);

/* Size arithmetic that cannot overflow: returns 0 and leaves *out untouched on overflow. */
int size_mul(size_t a, size_t b, size_t *out);
int size_mul3(size_t a, size_t b, size_t c, size_t *out);

/* 1 when none of the n floats of x is NaN or +-Inf (checked on the bits, so it holds under any
 * floating-point flags), else 0. */
int floats_all_finite(const float *x, size_t n);

#endif
