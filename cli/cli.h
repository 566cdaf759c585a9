/* The impasto command line: argument helpers, the progress display and the subcommands.
 * This is the only code in the project that prints to the terminal or exits. */
#ifndef IMPASTO_CLI_H
#define IMPASTO_CLI_H

#include "impasto.h"
#include <stdio.h>

/* Exit codes: 0 ok, 1 a failure while working, 2 bad usage, 130 interrupted (Ctrl-C). */
enum { EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

/* "impasto transfer: <message>" on stderr, with a usage hint when `hint` is set. */
void cli_error(const char *cmd, int hint, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Strict number parsing for option values: the whole string must be a number in [lo, hi].
 * On failure prints one line naming the option and returns 0. */
int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
/* A comma-separated list of numbers; returns the count or -1 after printing an error. */
int cli_parse_double_list(const char *cmd, const char *opt, const char *s, double lo, double hi,
                          double *out, int max);
/* 0/1, yes/no, true/false, on/off. */
int cli_parse_bool(const char *cmd, const char *opt, const char *s, int *out);
/* --tile N for adain and wct: 0 (never tile) or a multiple of 8 of at least 32. */
int cli_parse_tile(const char *cmd, const char *s, int *out);
/* --tile-halo N: a multiple of 8, 0 .. 256. */
int cli_parse_tile_halo(const char *cmd, const char *s, int *out);

/* The model file: --model if given, else $IMPASTO_MODEL_DIR/<name>, models/<name>, or
 * ../models/<name> beside the executable. Returns a static buffer or NULL. */
const char *cli_find_model(const char *given, const char *name, const char *argv0);

/* Style images on one command line. */
#define CLI_MAX_STYLES 32
/* Adds one -s argument to styles (*n used): a file name, or a comma-separated list of them when
 * no file by the whole name exists (the list copy goes to owned[*nowned], for the caller to
 * free). Returns 1, 0 past CLI_MAX_STYLES images, -1 for a list with no names in it. */
int cli_add_styles(const char *arg, const char **styles, int *n, char **owned, int *nowned);
/* An output whose format cannot be told from its name (.png, .jpg, .jpeg), or whose folder
 * cannot be written, is refused before any work (one line printed; returns 0). */
int cli_output_format_ok(const char *cmd, const char *output);
int cli_output_folder_ok(const char *cmd, const char *output);

/* Folders for the one-pass methods (adain, wct): -c and -s each name an image or a folder (its
 * .png/.jpg/.jpeg files, hidden ones skipped, in sorted order); every content x style pair is
 * written to OUTDIR/<content>_<style>.png, the names being the inputs' file names without their
 * extensions. */
int cli_is_dir(const char *path);
/* Makes OUTDIR if missing and refuses it when it is the content or style folder. Returns 0, 1
 * (failure) or EXIT_USAGE, after printing why. */
int cli_pairs_prepare(const char *cmd, const char *content, const char *style, const char *outdir);
/* Runs one pair: *out a new image, or a status with the message in ctx. */
typedef impasto_status (*cli_pair_fn)(void *user, impasto_ctx *ctx, const impasto_image *content,
                                      const impasto_image *style, impasto_image **out);
/* Every pair through fn. An unreadable input or a failed pair is reported and skipped, the rest
 * are made; returns 0 when all were written, 1 otherwise. `verbose` prints each file written. */
int cli_pairs_run(const char *cmd, impasto_ctx *ctx, const char *content, const char *style, const char *outdir,
                  cli_pair_fn fn, void *user, int verbose);

/* Progress: a live status line on a terminal (stderr), nothing when stderr is not a terminal
 * unless log lines were asked for. */
typedef struct cli_progress {
    int live;         /* stderr is a terminal and not --quiet */
    int print_every;  /* log a line every N iterations (0 = never) */
    int line_open;    /* a live line is on screen */
    double last_draw;
    int scale_seen;   /* the scale the ETA's rate was started for */
    double scale_t0;  /* seconds and iteration when that scale was first seen */
    int scale_i0;
} cli_progress;

void progress_init(cli_progress *p, int quiet, int print_every);
/* Redraws the live line (at most ~10 times a second) and prints log lines. */
void progress_update(cli_progress *p, const impasto_progress *st);
/* Clears the live line before other output. */
void progress_clear(cli_progress *p);
/* "42s", "3m05s", "2h10m". */
void cli_format_duration(double seconds, char *buf, size_t n);

int cmd_transfer(int argc, char **argv);
int cmd_fast(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_adain(int argc, char **argv);
int cmd_wct(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_grid(int argc, char **argv);
int cmd_train(int argc, char **argv);

#endif
