#include "core/ctx.h"

#include "core/limits.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

impasto_ctx *impasto_ctx_create(void) {
    impasto_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->max_pixels = IMPASTO_DEFAULT_MAX_PIXELS;
    return ctx;
}

void impasto_ctx_free(impasto_ctx *ctx) { free(ctx); }

const char *impasto_ctx_error(const impasto_ctx *ctx) { return ctx ? ctx->error : "no context"; }

void impasto_ctx_set_threads(impasto_ctx *ctx, int nthreads) { ctx->nthreads = nthreads < 0 ? 0 : nthreads; }
int impasto_ctx_threads(const impasto_ctx *ctx) { return ctx_threads(ctx); }

void impasto_ctx_set_max_pixels(impasto_ctx *ctx, size_t max_pixels) { ctx->max_pixels = max_pixels; }
size_t impasto_ctx_max_pixels(const impasto_ctx *ctx) { return ctx->max_pixels; }

int ctx_threads(const impasto_ctx *ctx) {
    if (ctx && ctx->nthreads > 0) return ctx->nthreads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

impasto_status ctx_fail(impasto_ctx *ctx, impasto_status status, const char *fmt, ...) {
    if (ctx) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
        va_end(ap);
    }
    return status;
}

const char *impasto_status_string(impasto_status s) {
    switch (s) {
    case IMPASTO_OK: return "ok";
    case IMPASTO_ERR_INVALID_ARG: return "invalid argument";
    case IMPASTO_ERR_IO: return "input/output error";
    case IMPASTO_ERR_FORMAT: return "corrupt or unrecognised file";
    case IMPASTO_ERR_TOO_LARGE: return "too large";
    case IMPASTO_ERR_NOMEM: return "out of memory";
    case IMPASTO_ERR_UNSUPPORTED: return "unsupported";
    case IMPASTO_ERR_CHECKSUM: return "checksum mismatch";
    case IMPASTO_ERR_CANCELLED: return "cancelled";
    case IMPASTO_ERR_NOT_FINITE: return "a value became NaN or infinite";
    }
    return "unknown status";
}

int size_mul(size_t a, size_t b, size_t *out) {
    size_t r;
    if (__builtin_mul_overflow(a, b, &r)) return 0;
    *out = r;
    return 1;
}

int size_mul3(size_t a, size_t b, size_t c, size_t *out) {
    size_t r;
    if (!size_mul(a, b, &r) || !size_mul(r, c, &r)) return 0;
    *out = r;
    return 1;
}

int floats_all_finite(const float *x, size_t n) {
    /* An exponent field of all ones (0x7f800000 under the sign) is Inf or NaN. An integer OR,
     * which the compiler may vectorise without reordering any float arithmetic. */
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return !bad;
}
