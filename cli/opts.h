/* Option tables: every command declares its options once — name, short name, type, range, the
 * field it sets, one line of help, the group it belongs to — and parsing, --help, the man page
 * and bash completion are all generated from the tables (opts.c, doc.c), so they cannot
 * disagree. Groups several commands share (input and output, models, sizes, tiling, the common
 * options) are macros in this header: one definition each, instantiated per command with that
 * command's settings fields. */
#ifndef IMPASTO_CLI_OPTS_H
#define IMPASTO_CLI_OPTS_H

#include "cli.h"
#include <stddef.h>
#include <stdint.h>

typedef enum cli_type {
    CLI_FLAG,    /* int, set to 1; --name=BOOL (1/0, yes/no, true/false, on/off) also accepted */
    CLI_INT,     /* int in [lo, hi] */
    CLI_LONG,    /* long in [lo, hi] */
    CLI_I64,     /* int64_t in [lo, hi] */
    CLI_U64,     /* uint64_t in [lo, hi] */
    CLI_SIZE,    /* size_t in [lo, hi] */
    CLI_DOUBLE,  /* double in [lo, hi] */
    CLI_STRING,  /* const char *: the argument itself */
    CLI_CHOICE,  /* int: the index of the argument in `choices` ("lbfgs|adam" -> 0, 1) */
    CLI_LIST,    /* cli_numbers: a comma-separated list of numbers in [lo, hi] */
    CLI_PATHS,   /* cli_paths: repeatable; a comma list of files when no file has the whole name */
} cli_type;

/* What bash completion offers for an option's value. */
enum { CLI_COMPLETE_NONE, CLI_COMPLETE_FILE, CLI_COMPLETE_IMAGE, CLI_COMPLETE_DIR, CLI_COMPLETE_MODEL };

#define CLI_MAX_LIST 64
/* The largest --seed (the generators take 31 bits, as neural-style's torch.manualSeed does). */
#define CLI_MAX_SEED 0x7fffffff

typedef struct cli_numbers {
    int n;
    double v[CLI_MAX_LIST];
} cli_numbers;

typedef struct cli_paths {
    int n, nowned;
    const char *v[CLI_MAX_STYLES];
    char *owned[CLI_MAX_STYLES];  /* split copies of comma lists, freed by cli_settings_free */
} cli_paths;

struct cli_opt;
/* Extra validation after a value is stored; returns 0 after printing why it is refused. */
typedef int (*cli_check_fn)(const char *cmd, const struct cli_opt *o, void *field);

typedef struct cli_opt {
    const char *group;       /* the heading it is listed under in --help and the man page */
    const char *name;        /* long name, without "--" */
    char short_name;         /* or 0 */
    cli_type type;
    size_t offset;           /* of the field in the command's settings */
    const char *arg;         /* what the value is, in help ("N", "FILE"); NULL for flags */
    double lo, hi;           /* numbers: the accepted range; lists: each value's */
    const char *choices;     /* CLI_CHOICE: "a|b|c" */
    const char *def;         /* the default as help says it; NULL: the field's initial value */
    const char *help;        /* one line */
    int complete;            /* CLI_COMPLETE_* */
    cli_check_fn check;      /* or NULL */
} cli_opt;

typedef struct cli_command {
    const char *name;
    const char *summary;      /* one line, for `impasto help` */
    const char *synopsis;     /* after "impasto NAME " */
    const char *description;  /* paragraphs for --help and the man page */
    const cli_opt *opts;      /* ended by an entry with name NULL */
    size_t settings_size;
    void (*init)(void *settings);  /* every default; the settings are zeroed first */
    /* After parsing: argv holds the positional arguments. Returns the exit code. */
    int (*run)(void *settings, int argc, char **argv);
    const char *positional;   /* e.g. "IMAGE..." (NULL: none are taken) */
    int positional_complete;  /* CLI_COMPLETE_* for them */
    /* 1: the processes of an MPI job share the work (training by data parallelism, folders by
     * picture; docs/cluster.md); 0: under mpirun -np N > 1 the command refuses to run, since every
     * process would do the same work. */
    int processes;
} cli_command;

#define CLI_MAX_OPTS 96

/* The options every command takes, first in each settings struct; and which options were given
 * (by their index in the command's table), for the few rules that depend on it. */
typedef struct cli_common {
    int threads;
    size_t max_pixels;
    int quiet;
    int json;
    unsigned char given[CLI_MAX_OPTS];
} cli_common;

/* 1 when option `name` of c was on the command line. */
int cli_given(const cli_command *c, const void *settings, const char *name);

/* A context with the common options' thread count and pixel limit; NULL after printing "out of
 * memory". */
impasto_ctx *cli_ctx_create(const char *cmd, const cli_common *c);
/* Before any work on a single output: it is none of the inputs (EXIT_USAGE otherwise) and its
 * folder can be written (1 otherwise). Returns 0 when it may be written. */
int cli_output_check(const char *cmd, const cli_inputs *in, const char *output);

/* Parses argv (argv[0] is the command name) into a zeroed, init'ed settings struct and calls
 * the command. --help prints the generated help. Returns the exit code. */
int cli_command_main(const cli_command *c, int argc, char **argv);
/* Frees what parsing allocated (comma lists split into owned copies). */
void cli_settings_free(const cli_command *c, void *settings);

/* Generated documents: --help of a command, the man page (troff) and bash completion. */
void cli_print_help(const cli_command *c, FILE *f);
void cli_print_man(const cli_command *const *cmds, size_t n, FILE *f);
void cli_print_bash_completion(const cli_command *const *cmds, size_t n, FILE *f);

/* Checks shared by several tables. */
int cli_check_tile(const char *cmd, const cli_opt *o, void *field);
int cli_check_halo(const char *cmd, const cli_opt *o, void *field);
int cli_check_layers(const char *cmd, const cli_opt *o, void *field);

/* ---- shared groups ------------------------------------------------------------------------ */

#define CLI_G_IO "Input and output"
#define CLI_G_MODEL "Model"
#define CLI_G_SIZES "Sizes"
#define CLI_G_TILING "Any size (tiling)"
#define CLI_G_COMMON "Common"

/* --max-pixels: the context's pixel limit (its default printed from IMPASTO_DEFAULT_MAX_PIXELS). */
#define CLI_OPT_MAX_PIXELS(S)                                                                                   \
    {CLI_G_COMMON, "max-pixels", 0, CLI_SIZE, offsetof(S, common.max_pixels), "N", 1,                          \
     (double)IMPASTO_MAX_SIDE * IMPASTO_MAX_SIDE, NULL, NULL, "the largest image (width x height) decoded or made", \
     0, NULL}

/* The options every command takes (S: the settings struct, whose first member is `common`). */
#define CLI_OPTS_COMMON(S)                                                                                      \
    {CLI_G_COMMON, "threads", 0, CLI_INT, offsetof(S, common.threads), "N", 0, 1024, NULL, "all cores",        \
     "worker threads", 0, NULL},                                                                               \
    CLI_OPT_MAX_PIXELS(S),                                                                                    \
    {CLI_G_COMMON, "quiet", 'q', CLI_FLAG, offsetof(S, common.quiet), NULL, 0, 0, NULL, NULL,                  \
     "no progress display and no \"wrote\" lines", 0, NULL}

/* --json, for the commands that write pictures or models. */
#define CLI_OPT_JSON(S)                                                                                         \
    {CLI_G_COMMON, "json", 0, CLI_FLAG, offsetof(S, common.json), NULL, 0, 0, NULL, NULL,                      \
     "print a JSON summary on stdout at the end (what was written, sizes, losses, time)", 0, NULL}

/* -c and -o of the commands that also take folders (fast, adain, wct). */
#define CLI_OPT_CONTENT_OR_FOLDER(S, field)                                                                    \
    {CLI_G_IO, "content", 'c', CLI_STRING, offsetof(S, field), "FILE|DIR", 0, 0, NULL, NULL,                   \
     "the photo (PNG or JPEG; alpha carried to the output), or a folder of them", CLI_COMPLETE_IMAGE, NULL}
#define CLI_OPT_OUTPUT_OR_FOLDER(S, field, folder_help)                                                        \
    {CLI_G_IO, "output", 'o', CLI_STRING, offsetof(S, field), "FILE|DIR", 0, 0, NULL, "out.png",                \
     ".png or .jpg, written atomically; " folder_help, CLI_COMPLETE_FILE, NULL}

/* -m for a model of kind NAME. */
#define CLI_OPT_MODEL(S, field, kind_help)                                                                      \
    {CLI_G_MODEL, "model", 'm', CLI_STRING, offsetof(S, field), "NAME|FILE", 0, 0, NULL, NULL, kind_help,       \
     CLI_COMPLETE_MODEL, NULL}

/* --content-size / --style-size (0 keeps the image's size). */
#define CLI_OPTS_SIZES(S, content_field, style_field)                                                           \
    {CLI_G_SIZES, "content-size", 0, CLI_INT, offsetof(S, content_field), "N", 0, IMPASTO_MAX_SIDE, NULL, NULL, \
     "longest side the content is resized to; 0 keeps it", 0, NULL},                                          \
    {CLI_G_SIZES, "style-size", 0, CLI_INT, offsetof(S, style_field), "N", 0, IMPASTO_MAX_SIDE, NULL, NULL,     \
     "longest side each style image is resized to; 0 keeps it", 0, NULL}

/* --tile, --tile-halo, --memory (adain, wct). */
#define CLI_OPTS_TILING(S, tile_field, halo_field, memory_field)                                               \
    {CLI_G_TILING, "tile", 0, CLI_INT, offsetof(S, tile_field), "N", 0, IMPASTO_MAX_SIDE, NULL, "automatic",    \
     "run in N x N tiles (a multiple of 8, >= 32); 0 never tiles; automatic: only when over --memory", 0,     \
     cli_check_tile},                                                                                          \
    {CLI_G_TILING, "tile-halo", 0, CLI_INT, offsetof(S, halo_field), "N", 0, 256, NULL, "exact",                \
     "pixels computed around each tile and thrown away, a multiple of 8", 0, cli_check_halo},                 \
    {CLI_G_TILING, "memory", 0, CLI_INT, offsetof(S, memory_field), "MB", 128, 1 << 24, NULL, NULL,             \
     "the working memory automatic tiling keeps to", 0, NULL}

#define CLI_OPTS_END {NULL, NULL, 0, 0, 0, NULL, 0, 0, NULL, NULL, NULL, 0, NULL}

/* The commands, for `impasto help`, the man page and completion (main.c). */
extern const cli_command CLI_ATTENTION, CLI_BREED;
extern const cli_command CLI_TRANSFER, CLI_ADAIN, CLI_WCT, CLI_FAST, CLI_TRAIN, CLI_GAN_TRAIN, CLI_TRANSLATE,
    CLI_CONVERT, CLI_EVAL, CLI_COMPARE, CLI_GRID, CLI_MODELS, CLI_SERVE;
extern const cli_command CLI_DREAM;
extern const cli_command CLI_VIDEO;

#endif
