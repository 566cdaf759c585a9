#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int cli_exit_code(impasto_status s) {
    switch (s) {
    case IMPASTO_OK: return 0;
    case IMPASTO_ERR_INVALID_ARG: return EXIT_USAGE;
    case IMPASTO_ERR_CANCELLED: return EXIT_INTERRUPTED;
    default: return 1;
    }
}

int cli_fail(const char *cmd, impasto_ctx *ctx, impasto_status s, const char *what) {
    const char *msg = impasto_ctx_error(ctx);
    const char *hint = s == IMPASTO_ERR_TOO_LARGE && strstr(msg, "pixels") ? " (--max-pixels raises the limit)" : "";
    if (what && !strstr(msg, what)) cli_error(cmd, 0, "%s: %s%s", what, msg, hint);
    else cli_error(cmd, 0, "%s%s", msg, hint);
    return cli_exit_code(s);
}

void cli_error(const char *cmd, int hint, const char *fmt, ...) {
    va_list ap;
    if (cluster_size() > 1)
        fprintf(stderr, "impasto%s%s [process %d of %d]: ", cmd ? " " : "", cmd ? cmd : "", cluster_rank(),
                cluster_size());
    else
        fprintf(stderr, "impasto%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (hint) fprintf(stderr, " (see 'impasto%s%s --help')", cmd ? " " : "", cmd ? cmd : "");
    fputc('\n', stderr);
}

void cli_mask_aspect_note(const char *cmd, const impasto_image *mask, int w, int h) {
    const int mw = impasto_image_width(mask), mh = impasto_image_height(mask);
    const double a = (double)mw / mh, b = (double)w / h;
    if (fabs(a / b - 1.0) > 0.01)
        cli_error(cmd, 0, "note: the mask is %dx%d, another aspect ratio than the %dx%d picture: it is stretched "
                  "over it", mw, mh, w, h);
}

int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno == ERANGE && end != s && !*end) {
        cli_error(cmd, 0, "%s must be between %ld and %ld, got '%s'", opt, lo, hi, s);
        return 0;
    }
    if (errno || end == s || *end) {
        cli_error(cmd, 0, "%s expects a whole number, got '%s'", opt, s);
        return 0;
    }
    if (v < lo || v > hi) {
        cli_error(cmd, 0, "%s must be between %ld and %ld, got %ld", opt, lo, hi, v);
        return 0;
    }
    *out = v;
    return 1;
}

/* A bound as a user would write it: whole numbers below ten million in full, others as %g. */
static void bound_text(double v, char *buf, size_t n) {
    if (v == (double)(long)v && v > -1e7 && v < 1e7) snprintf(buf, n, "%ld", (long)v);
    else snprintf(buf, n, "%g", v);
}

int cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out) {
    char los[32], his[32];
    bound_text(lo, los, sizeof los);
    bound_text(hi, his, sizeof his);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* Overflow is out of range; underflow (a value below DBL_MIN) is kept as the tiny number. */
    if (errno == ERANGE && end != s && !*end && (v == HUGE_VAL || v == -HUGE_VAL)) {
        cli_error(cmd, 0, "%s must be between %s and %s, got '%s'", opt, los, his, s);
        return 0;
    }
    if (errno == ERANGE && v != HUGE_VAL && v != -HUGE_VAL) errno = 0;
    if (errno || end == s || *end || v != v) {
        cli_error(cmd, 0, "%s expects a number, got '%s'", opt, s);
        return 0;
    }
    if (v < lo || v > hi) {
        cli_error(cmd, 0, "%s must be between %s and %s, got %g", opt, los, his, v);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_double_list(const char *cmd, const char *opt, const char *s, double lo, double hi,
                          double *out, int max) {
    int n = 0;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char buf[64];
        if (len == 0 || len >= sizeof buf) {
            cli_error(cmd, 0, "%s expects a comma-separated list of numbers, got '%s'", opt, s);
            return -1;
        }
        if (n == max) {
            cli_error(cmd, 0, "%s takes at most %d values", opt, max);
            return -1;
        }
        memcpy(buf, p, len);
        buf[len] = 0;
        if (!cli_parse_double(cmd, opt, buf, lo, hi, &out[n])) return -1;
        n++;
        if (!comma) break;
        p = comma + 1;
    }
    return n;
}

int cli_parse_bool(const char *cmd, const char *opt, const char *s, int *out) {
    static const char *yes[] = {"1", "yes", "true", "on"}, *no[] = {"0", "no", "false", "off"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) return *out = 1, 1;
        if (!strcasecmp(s, no[i])) return *out = 0, 1;
    }
    cli_error(cmd, 0, "%s expects 0 or 1, got '%s'", opt, s);
    return 0;
}

int cli_layers_ok(const char *cmd, const char *opt, const char *s) {
    for (const char *p = s; *p; p++)
        if (*p != ',' && *p != ' ') return 1;
    cli_error(cmd, 1, "%s names no layer", opt);
    return 0;
}
