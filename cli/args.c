#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void cli_error(const char *cmd, int hint, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "impasto%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (hint) fprintf(stderr, " (see 'impasto%s%s --help')", cmd ? " " : "", cmd ? cmd : "");
    fputc('\n', stderr);
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

int cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* Overflow is out of range; underflow (a value below DBL_MIN) is kept as the tiny number. */
    if (errno == ERANGE && end != s && !*end && (v == HUGE_VAL || v == -HUGE_VAL)) {
        cli_error(cmd, 0, "%s must be between %g and %g, got '%s'", opt, lo, hi, s);
        return 0;
    }
    if (errno == ERANGE && v != HUGE_VAL && v != -HUGE_VAL) errno = 0;
    if (errno || end == s || *end || v != v) {
        cli_error(cmd, 0, "%s expects a number, got '%s'", opt, s);
        return 0;
    }
    if (v < lo || v > hi) {
        cli_error(cmd, 0, "%s must be between %g and %g, got %g", opt, lo, hi, v);
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

const char *cli_find_model(const char *given, const char *name, const char *argv0) {
    static char buf[PATH_MAX + 64];
    if (given) return given;
    const char *dir = getenv("IMPASTO_MODEL_DIR");
    if (dir) {
        snprintf(buf, sizeof buf, "%s/%s", dir, name);
        if (access(buf, R_OK) == 0) return buf;
    }
    snprintf(buf, sizeof buf, "models/%s", name);
    if (access(buf, R_OK) == 0) return buf;
    /* Beside the executable: build/impasto -> models/ one level up. */
    char exe[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(buf, sizeof buf, "%s/../models/%s", exe, name);
            if (access(buf, R_OK) == 0) return buf;
        }
    }
    (void)argv0;
    snprintf(buf, sizeof buf, "models/%s", name);
    return buf;
}

/* Adds one -s argument: a file name, or a comma-separated list of them when no file by the
 * whole name exists. Returns 1, 0 past CLI_MAX_STYLES images, -1 for a list with no names in it. */
int cli_add_styles(const char *arg, const char **styles, int *n, char **owned, int *nowned) {
    if (access(arg, F_OK) == 0 || !strchr(arg, ',')) {
        if (*n == CLI_MAX_STYLES) return 0;
        styles[(*n)++] = arg;
        return 1;
    }
    /* Every list kept adds at least one image, so nowned stays below CLI_MAX_STYLES too. */
    if (*n == CLI_MAX_STYLES) return 0;
    char *copy = strdup(arg);
    if (!copy) return 0;
    int before = *n;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == CLI_MAX_STYLES) {
            *n = before;
            free(copy);
            return 0;
        }
        styles[(*n)++] = tok;
    }
    if (*n == before) {
        free(copy);
        return -1;
    }
    owned[(*nowned)++] = copy;
    return 1;
}

/* An output whose format cannot be told from its name, or whose folder cannot be written, is
 * refused before any work: otherwise a long run would fail only at its very end. */
int cli_output_format_ok(const char *cmd, const char *output) {
    const char *slash = strrchr(output, '/');
    const char *dot = strrchr(slash ? slash + 1 : output, '.');
    if (dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"))) return 1;
    cli_error(cmd, 1, "cannot tell the format of '%s' from its name (use .png, .jpg or .jpeg)", output);
    return 0;
}

int cli_output_folder_ok(const char *cmd, const char *output) {
    const char *slash = strrchr(output, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", slash == output ? 1 : (int)(slash - output), output);
    if (access(dir, W_OK) == 0) return 1;
    cli_error(cmd, 0, "cannot write %s: the folder %s is missing or not writable", output, dir);
    return 0;
}

int cli_parse_tile(const char *cmd, const char *s, int *out) {
    long v;
    if (!cli_parse_int(cmd, "--tile", s, 0, 16384, &v)) return 0;
    if (v != 0 && (v < 32 || v % 8 != 0)) {
        cli_error(cmd, 0, "--tile must be 0 (never tile) or a multiple of 8 of at least 32 (the encoder pools three "
                  "times), got %ld", v);
        return 0;
    }
    *out = (int)v;
    return 1;
}

int cli_parse_tile_halo(const char *cmd, const char *s, int *out) {
    long v;
    if (!cli_parse_int(cmd, "--tile-halo", s, 0, 256, &v)) return 0;
    if (v % 8 != 0) {
        cli_error(cmd, 0, "--tile-halo must be a multiple of 8, got %ld", v);
        return 0;
    }
    *out = (int)v;
    return 1;
}
