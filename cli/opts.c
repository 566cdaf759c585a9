/* Parsing a command line with a command's option table (opts.h). GNU style: --name VALUE,
 * --name=VALUE, a unique prefix of a long name, -x VALUE, -xVALUE, flags anywhere, positional
 * arguments between options, "--" ends the options. */
#include "opts.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void *field(void *settings, const cli_opt *o) { return (char *)settings + o->offset; }

static cli_common *common_of(void *settings) { return settings; }

int cli_given(const cli_command *c, const void *settings, const char *name) {
    const cli_common *cm = settings;
    for (int i = 0; c->opts[i].name && i < CLI_MAX_OPTS; i++)
        if (!strcmp(c->opts[i].name, name)) return cm->given[i];
    return 0;
}

/* "--alpha" or "-m" as the user would write the option, for messages. */
static void opt_label(const cli_opt *o, char *buf, size_t n) { snprintf(buf, n, "--%s", o->name); }

/* Index of `value` in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *value) {
    int i = 0;
    for (const char *p = choices;; i++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (strlen(value) == len && !strncmp(p, value, len)) return i;
        if (!bar) return -1;
        p = bar + 1;
    }
}

/* Stores one value into its field; returns 0 after printing why not. */
static int store(const cli_command *c, void *settings, const cli_opt *o, const char *val) {
    const char *cmd = c->name;
    char label[80];
    opt_label(o, label, sizeof label);
    void *f = field(settings, o);
    long l;
    double d;
    switch (o->type) {
    case CLI_FLAG:
        if (!val) return *(int *)f = 1, 1;
        if (!cli_parse_bool(cmd, label, val, (int *)f)) return 0;
        break;
    case CLI_INT:
        if (!cli_parse_int(cmd, label, val, (long)o->lo, (long)o->hi, &l)) return 0;
        *(int *)f = (int)l;
        break;
    case CLI_LONG:
        if (!cli_parse_int(cmd, label, val, (long)o->lo, (long)o->hi, &l)) return 0;
        *(long *)f = l;
        break;
    case CLI_I64:
        if (!cli_parse_int(cmd, label, val, (long)o->lo, (long)o->hi, &l)) return 0;
        *(int64_t *)f = l;
        break;
    case CLI_U64:
        if (!cli_parse_int(cmd, label, val, (long)o->lo, (long)o->hi, &l)) return 0;
        *(uint64_t *)f = (uint64_t)l;
        break;
    case CLI_SIZE:
        if (!cli_parse_int(cmd, label, val, (long)o->lo, (long)o->hi, &l)) return 0;
        *(size_t *)f = (size_t)l;
        break;
    case CLI_DOUBLE:
        if (!cli_parse_double(cmd, label, val, o->lo, o->hi, &d)) return 0;
        *(double *)f = d;
        break;
    case CLI_STRING: *(const char **)f = val; break;
    case CLI_CHOICE: {
        int k = choice_index(o->choices, val);
        if (k < 0) {
            /* 'a' or 'b' or 'c': each '|' grows by 5 characters, in place while there is room */
            char list[512];
            snprintf(list, sizeof list, "'%s'", o->choices);
            for (char *p = list; (p = strchr(p, '|')) != NULL && strlen(list) + 6 <= sizeof list;) {
                memmove(p + 6, p + 1, strlen(p + 1) + 1);
                memcpy(p, "' or '", 6);
                p += 6;
            }
            cli_error(cmd, 1, "%s is %s, got '%s'", label, list, val);
            return 0;
        }
        *(int *)f = k;
        break;
    }
    case CLI_LIST: {
        cli_numbers *nums = f;
        int n = cli_parse_double_list(cmd, label, val, o->lo, o->hi, nums->v, CLI_MAX_LIST);
        if (n < 0) return 0;
        nums->n = n;
        break;
    }
    case CLI_PATHS: {
        cli_paths *ps = f;
        int added = cli_add_styles(val, ps->v, &ps->n, ps->owned, &ps->nowned);
        if (added == 0) cli_error(cmd, 0, "at most %d style images", CLI_MAX_STYLES);
        if (added < 0) cli_error(cmd, 1, "-%c expects a file name or a comma-separated list of them, got '%s'",
                                 o->short_name ? o->short_name : '-', val);
        if (added <= 0) return 0;
        break;
    }
    }
    return !o->check || o->check(cmd, o, f);
}

/* The option a long name (or a unique prefix of one) names; NULL after printing why not. */
static const cli_opt *find_long(const cli_command *c, const char *name, size_t len, const char *arg) {
    const cli_opt *hit = NULL;
    int nhits = 0;
    for (const cli_opt *o = c->opts; o->name; o++) {
        if (strlen(o->name) == len && !strncmp(o->name, name, len)) return o;
        if (strlen(o->name) > len && !strncmp(o->name, name, len)) hit = o, nhits++;
    }
    if (nhits == 1) return hit;
    if (nhits > 1) {
        char list[512];
        size_t w = 0;
        for (const cli_opt *o = c->opts; o->name && w < sizeof list; o++)
            if (!strncmp(o->name, name, len)) w += (size_t)snprintf(list + w, sizeof list - w, "%s--%s", w ? ", " : "", o->name);
        cli_error(c->name, 1, "option '%s' is ambiguous: %s", arg, list);
    } else {
        cli_error(c->name, 1, "unknown option '%s'", arg);
    }
    return NULL;
}

static const cli_opt *find_short(const cli_command *c, char ch, const char *arg) {
    for (const cli_opt *o = c->opts; o->name; o++)
        if (o->short_name == ch) return o;
    cli_error(c->name, 1, "unknown option '%s'", arg);
    return NULL;
}

static int takes_value(const cli_opt *o) { return o->type != CLI_FLAG; }

void cli_settings_free(const cli_command *c, void *settings) {
    for (const cli_opt *o = c->opts; o->name; o++)
        if (o->type == CLI_PATHS) {
            cli_paths *ps = field(settings, o);
            for (int i = 0; i < ps->nowned; i++) free(ps->owned[i]);
            ps->nowned = 0;
        }
}

int cli_command_main(const cli_command *c, int argc, char **argv) {
    void *settings = calloc(1, c->settings_size);
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (!settings || !pos) {
        free(settings);
        free(pos);
        cli_error(c->name, 0, "out of memory");
        return 1;
    }
    cli_common *cm = common_of(settings);
    cm->max_pixels = IMPASTO_DEFAULT_MAX_PIXELS;
    c->init(settings);
    int npos = 0, rc = EXIT_USAGE, only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == 0) {
            pos[npos++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_print_help(c, stdout);
            rc = 0;
            goto done;
        }
        const cli_opt *o;
        const char *val = NULL;
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            char shown[256];
            snprintf(shown, sizeof shown, "%.*s", (int)(eq ? eq - a : (long)strlen(a)), a);
            if (!(o = find_long(c, a + 2, len, shown))) goto done;
            if (eq) val = eq + 1;
        } else {
            if (!(o = find_short(c, a[1], a))) goto done;
            if (a[2]) {
                if (!takes_value(o)) {
                    cli_error(c->name, 1, "unknown option '%s'", a);
                    goto done;
                }
                val = a + 2;
            }
        }
        if (takes_value(o) && !val) {
            if (i + 1 >= argc) {
                cli_error(c->name, 1, "%s needs a value", a);
                goto done;
            }
            val = argv[++i];
        }
        if (!store(c, settings, o, val)) goto done;
        cm->given[o - c->opts] = 1;
    }
    if (npos && !c->positional) {
        cli_error(c->name, 1, "unexpected argument '%s'", pos[0]);
        goto done;
    }
    if (cluster_size() > 1 && !c->processes) {
        if (cluster_rank() == 0)
            cli_error(c->name, 0, "runs as one process: under mpirun -np %d every process would do the same work "
                      "(train and gan train share theirs, video its frames, and transfer, fast, adain, wct, attention and translate "
                      "a folder's pictures)", cluster_size());
        goto done;
    }
    rc = c->run(settings, npos, pos);
done:
    cli_settings_free(c, settings);
    free(settings);
    free(pos);
    return rc;
}

int cli_check_tile(const char *cmd, const cli_opt *o, void *f) {
    int v = *(int *)f;
    if (v != 0 && (v < 32 || v % 8 != 0)) {
        cli_error(cmd, 0, "--tile must be 0 (never tile) or a multiple of 8 of at least 32 (the encoder pools three "
                  "times), got %d", v);
        return 0;
    }
    return 1;
}

int cli_check_halo(const char *cmd, const cli_opt *o, void *f) {
    int v = *(int *)f;
    if (v % 8 != 0) {
        cli_error(cmd, 0, "--tile-halo must be a multiple of 8, got %d", v);
        return 0;
    }
    return 1;
}

int cli_check_layers(const char *cmd, const cli_opt *o, void *f) {
    char label[80];
    opt_label(o, label, sizeof label);
    return cli_layers_ok(cmd, label, *(const char **)f);
}

impasto_ctx *cli_ctx_create(const char *cmd, const cli_common *c) {
    impasto_ctx *ctx = impasto_ctx_create();
    if (!ctx) {
        cli_error(cmd, 0, "out of memory");
        return NULL;
    }
    impasto_ctx_set_threads(ctx, c->threads);
    impasto_ctx_set_max_pixels(ctx, c->max_pixels);
    return ctx;
}

int cli_output_check(const char *cmd, const cli_inputs *in, const char *output) {
    if (!cli_output_not_input(cmd, in, output)) return EXIT_USAGE;
    return cli_output_folder_ok(cmd, output) ? 0 : 1;
}
