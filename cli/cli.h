/* The impasto command line: argument helpers, the progress display, the folder runner, the model
 * search and the subcommands. This is the only code in the project that prints to the terminal
 * or exits. */
#ifndef IMPASTO_CLI_H
#define IMPASTO_CLI_H

#include "cluster.h"
#include "impasto.h"
#include <stdio.h>
#include <sys/types.h>

/* Exit codes: 0 ok, 1 a failure while working, 2 bad usage (an option, argument or input the
 * run cannot use), 130 interrupted (Ctrl-C). */
enum { EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

/* "impasto transfer: <message>" on stderr, with a usage hint when `hint` is set. */
void cli_error(const char *cmd, int hint, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Reports a failed library call (the context's message, plus how to raise the pixel limit when
 * that was hit) and returns its exit code: 2 for an argument the run cannot use, 130 for a
 * cancelled run, 1 otherwise. `what`, when set, is named first unless the message names it. */
int cli_fail(const char *cmd, impasto_ctx *ctx, impasto_status s, const char *what);
/* A note on stderr when the mask (mw x mh) has another aspect ratio than the picture it is
 * stretched over (w x h, more than 1% apart). */
void cli_mask_aspect_note(const char *cmd, const impasto_image *mask, int w, int h);
/* The exit code of a library status (0 for IMPASTO_OK). */
int cli_exit_code(impasto_status s);

/* Strict number parsing for option values: the whole string must be a number in [lo, hi].
 * On failure prints one line naming the option and returns 0. */
int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
/* A comma-separated list of numbers; returns the count or -1 after printing an error. */
int cli_parse_double_list(const char *cmd, const char *opt, const char *s, double lo, double hi,
                          double *out, int max);
/* 0/1, yes/no, true/false, on/off. */
int cli_parse_bool(const char *cmd, const char *opt, const char *s, int *out);
/* A layer list option must name at least one layer. */
int cli_layers_ok(const char *cmd, const char *opt, const char *s);

/* ---- models (models.c) ---------------------------------------------------------------------- */

/* Where models are looked for, in this order: $IMPASTO_MODEL_DIR, the user's data folder
 * ($XDG_DATA_HOME/impasto/models, default ~/.local/share/impasto/models), the installed one
 * (<bindir>/../share/impasto/models, PREFIX/share when installed), ./models, and the source
 * tree's models/ (<bindir>/../models, for build/impasto). */
#define CLI_MODEL_HELP                                                                                   \
    "\nModels: -m NAME is NAME.safetensors in the first of these folders that has it: $IMPASTO_MODEL_DIR,\n" \
    "$XDG_DATA_HOME/impasto/models (~/.local/share/impasto/models), <bindir>/../share/impasto/models\n"     \
    "(installed by 'make install-models'), ./models, <bindir>/../models (the source tree's, 'make models').\n"
/* Resolves -m: an argument with a '/' or a '.', or naming an existing file, is a path; a bare
 * NAME (or no argument: default_name) is NAME.safetensors in the first of those folders that
 * has it. Returns 1 with the path in out, or 0 after printing one line that names every place
 * searched (and, for fast networks, the networks found and the closest name). */
int cli_find_model(const char *cmd, const char *arg, const char *default_name, int fast_network,
                   char *out, size_t n);

/* The first NAME.safetensors in those folders, silently: 1 with its path, 0 when there is none. */
int cli_model_path(const char *name, char *out, size_t n);
/* The names of the fast networks found there (every model but vgg19, adain, lst-r31 and training
 * checkpoints), sorted, at most max. */
int cli_network_names(char names[][128], int max);

/* ---- files and folders (files.c) ------------------------------------------------------------ */

/* Style images on one command line. */
#define CLI_MAX_STYLES 32
/* Adds one -s argument to styles (*n used): a file name, or a comma-separated list of them when
 * no file by the whole name exists (the list copy goes to owned[*nowned], for the caller to
 * free). Returns 1, 0 past CLI_MAX_STYLES images, -1 for a list with no names in it. */
int cli_add_styles(const char *arg, const char **styles, int *n, char **owned, int *nowned);
/* .png, .jpg or .jpeg (any case). */
int cli_has_image_ext(const char *name);
int cli_is_dir(const char *path);
/* An output whose format cannot be told from its name (.png, .jpg, .jpeg), or whose folder
 * cannot be written, is refused before any work (one line printed; returns 0). */
int cli_output_format_ok(const char *cmd, const char *output);
int cli_output_folder_ok(const char *cmd, const char *output);
/* A model output (convert, train, gan train) must be named .safetensors (one line printed; returns 0). */
int cli_model_output_ok(const char *cmd, const char *output);
/* The folder `path` is in ("." for a bare file name). */
void cli_parent_dir(const char *path, char *buf, size_t n);
/* A file beside `path` named after it: path without its extension, then `suffix`
 * ("out/m.safetensors", "_preview_100.png" -> "out/m_preview_100.png"). */
void cli_sibling_path(const char *path, const char *suffix, char *buf, size_t n);

/* The files a run reads, by device and inode, so that no output is ever written over one of
 * them (not through another name, a link or a symlink either). */
typedef struct cli_inputs {
    int n, cap;
    dev_t *dev;
    ino_t *ino;
    const char **path;
} cli_inputs;
/* Adds a file (NULL or a missing file is ignored: its reader reports it). Returns 0 when out of
 * memory, after printing why. */
int cli_inputs_add(const char *cmd, cli_inputs *in, const char *path);
void cli_inputs_free(cli_inputs *in);
/* 1 when `output` does not exist or is none of the inputs; else prints one line and returns 0. */
int cli_output_not_input(const char *cmd, const cli_inputs *in, const char *output);

/* A sorted list of the image files of a folder (or one file). */
typedef struct cli_list {
    char **path;     /* full paths, sorted so runs repeat */
    size_t n;
    size_t skipped;  /* entries reported and left out (not regular files) */
} cli_list;
/* A file is a one-entry list; a folder lists its .png/.jpg/.jpeg files (hidden ones skipped).
 * Entries that are not regular files (a FIFO, a device, a folder named x.png) are reported and
 * skipped, so no reader ever blocks on one. Returns 0, or 1 after printing why (also when the
 * folder has no image). */
int cli_list_images(const char *cmd, const char *arg, cli_list *out);
void cli_list_free(cli_list *l);

/* ---- the run's display: progress, Ctrl-C, "wrote" lines (progress.c) ------------------------ */

/* Progress: a live status line on a terminal (stderr), nothing when stderr is not a terminal
 * unless log lines were asked for. */
typedef struct cli_progress {
    int live;         /* stderr is a terminal and not --quiet */
    int quiet;
    int print_every;  /* log a line every N iterations (0 = never) */
    int line_open;    /* a live line is on screen */
    double last_draw;
    int scale_seen;   /* the scale the ETA's rate was started for */
    double scale_t0;  /* seconds and iteration when that scale was first seen */
    int scale_i0;
    /* Folder runs: item (0-based) of items, its output's name, when the run started. */
    size_t item, items;
    const char *item_name;
    double t0;
    /* --json: the summary being gathered (a cJSON object), else NULL. */
    void *json;
} cli_progress;

void progress_init(cli_progress *p, int quiet, int print_every);
/* Redraws the live line (at most ~10 times a second) and prints log lines. */
void progress_update(cli_progress *p, const impasto_progress *st);
/* The live line of a one-pass method (adain, wct): stage, share done, ETA; within a folder run
 * the item too. */
void progress_pass(cli_progress *p, const impasto_pass_progress *st);
/* A training step's log line and live line (first_step: where a resumed run started). */
void progress_train(cli_progress *p, const impasto_train_progress *st, long first_step);
/* The same for a CycleGAN or pix2pix step, whose losses are a list of named numbers. */
void progress_gan(cli_progress *p, const impasto_gan_progress *st, long first_step);
/* A folder run moved to item `item` of `items` (its output `name`). */
void progress_item(cli_progress *p, size_t item, size_t items, const char *name);
/* Clears the live line before other output. */
void progress_clear(cli_progress *p);
/* "wrote PATH" on stdout when it is a terminal and not --quiet (nor --json); the file and its
 * size go into the JSON summary. */
void cli_wrote(cli_progress *p, const char *path, int width, int height);
/* --json: start gathering the summary of command `cmd` (returns 0 when out of memory). */
int cli_json_begin(cli_progress *p, const char *cmd);
/* Adds a number, a string, or one failed input (with its message) to the summary. */
void cli_json_number(cli_progress *p, const char *key, double v);
void cli_json_string(cli_progress *p, const char *key, const char *v);
void cli_json_failed(cli_progress *p, const char *input, const char *message);
/* Adds named numbers as one object under `key` ({"D_A": 0.25, ...}). */
void cli_json_numbers(cli_progress *p, const char *key, const char *const *names, const double *v, int n);
/* Prints the summary on stdout, with the exit code and the seconds taken, and frees it. */
void cli_json_end(cli_progress *p, int exit_code);
/* The end of a run with one output: on success "wrote" and its JSON entry; else one line (an
 * interrupted run says the old output is as it was; `what`, if set, is named unless the message
 * names it) and the failure in the JSON under `input`. Returns the exit code. */
int cli_finish_one(const char *cmd, impasto_ctx *ctx, cli_progress *p, impasto_status s, const char *what,
                   const char *input, const char *output, const impasto_image *result);
/* "42s", "3m05s", "2h10m". */
void cli_format_duration(double seconds, char *buf, size_t n);
double cli_now(void);

/* Ctrl-C: the first asks the run to stop at its next progress call (cli_interrupted() turns 1);
 * a second one kills. */
void cli_sigint_begin(void);
void cli_sigint_end(void);
int cli_interrupted(void);

/* ---- folders of photos (batch.c) ----------------------------------------------------------- */

/* One output of a folder run: content (and style, for pair runs) in, *out a new image. */
typedef impasto_status (*cli_batch_fn)(void *user, impasto_ctx *ctx, const impasto_image *content,
                                       const impasto_image *style, impasto_image **out);

typedef struct cli_batch {
    const char *cmd;
    const char *content;        /* a photo or a folder of them */
    const char *style;          /* a style image or a folder; NULL: one output per photo, under
                                   the photo's own file name (fast) */
    const char *outdir;         /* the output folder, made when the first output is written
                                   (cli_one_or_folder_run with one photo: the output file) */
    const cli_inputs *inputs;   /* other files the run reads (models): never written over */
    cli_batch_fn fn;
    void *user;
    cli_progress *progress;
    const char **out_now;       /* NULL, or set to each output's path just before fn makes it */
} cli_batch;

/* Before any work: -o must name a folder (not an existing file, not an image name), and not the
 * content or style folder. Returns 0, or EXIT_USAGE after printing why. */
int cli_batch_check(const char *cmd, const char *content, const char *style, const char *outdir);
/* Every content (x every style) through fn: with styles, OUTDIR/<content>_<style>.png (the
 * file names without extensions); without, OUTDIR/<content's file name>. A file that cannot be
 * read, or an output that fails, is reported and skipped and the others are still made. Stops
 * at Ctrl-C (the outputs written are kept). Returns 0 when every output was written, 1 when
 * some were not, EXIT_INTERRUPTED when interrupted. */
int cli_batch_run(impasto_ctx *ctx, const cli_batch *b);

/* -c, -s, --mask, --style-weights and -o of the commands that repaint photos after style pictures
 * (adain, attention, wct), before any work: a content and at least one style are given; with a
 * folder among them (*folders set) there is one -s, no --mask, and -o names an output folder
 * (cli_batch_check); --mask and --style-weights exclude each other (the mask gives each style its
 * region); the weights are one per style and sum to more than zero; one photo's output, out.png
 * when not given (*output set), is a picture name. nweights 0: none given. noun names
 * the style pictures in messages ("style images", "paintings"). Returns 0, or EXIT_USAGE after one
 * line. */
int cli_styles_check(const char *cmd, const char *content, const char *const *styles, int nstyles,
                     const char *mask, const double *weights, int nweights, const char *noun, const char **output,
                     int *folders);
/* In a job of several processes (impasto-mpi under mpirun), a command given one picture refuses
 * with one line from the first process and returns EXIT_USAGE; alone it returns 0. */
int cli_one_process(const char *cmd);
/* -c and -o of the commands that take one photo or a folder and no style (fast, translate), before
 * any work: for a folder, -o must be given and be a folder (cli_batch_check); for a photo it is
 * an image name, out.png when not given (*output is set). Returns 0, or EXIT_USAGE after one line. */
int cli_one_or_folder_check(const char *cmd, const char *content, const char **output);
/* Runs b (no style): a folder through cli_batch_run; one photo (b->content a file) is read, made
 * by b->fn and written to b->outdir, which is then the output file's name (never one of the
 * inputs: EXIT_USAGE), ending as cli_finish_one. Returns the exit code. */
int cli_one_or_folder_run(impasto_ctx *ctx, const cli_batch *b);

/* ---- training runs: what train and gan train share (training.c) ---------------------------- */

/* Where a training run writes besides its model: checkpoints and previews. */
typedef struct cli_training {
    const char *cmd;
    const char *output;             /* the model (.safetensors) */
    char checkpoint_dir[4096];      /* --checkpoint-dir, or the output's folder */
    int made_checkpoint_dir;        /* made by this run (removed again if it stays empty) */
    int preview_failed;             /* a preview could not be written: said once */
} cli_training;

/* Before any work: the output is none of the inputs (EXIT_USAGE) and its folder can be written
 * (1); checkpoints go to checkpoint_dir, or beside the output when NULL (so Ctrl-C always has
 * somewhere to write). Returns 0, or the exit code after one line. */
int cli_training_begin(cli_training *t, const char *cmd, const char *output, const char *checkpoint_dir,
                       const cli_inputs *in);
/* Makes the checkpoint folder if it is missing; called just before training, so that a run
 * refused earlier leaves no folder behind. Returns 1, or 0 after one line. */
int cli_training_make_dirs(cli_training *t);
/* After the run: the checkpoint folder this run made is removed again if nothing went into it. */
void cli_training_end(cli_training *t);
/* Writes OUT_preview_<step>.png; a failure is a warning, said once: training goes on. */
void cli_training_preview(cli_training *t, impasto_ctx *ctx, cli_progress *p, long step, const impasto_image *img);
/* The pictures of a training folder (every PNG/JPEG in it); `what` names the folder in messages
 * ("photo folder"). Returns 0, or 1 after one line (missing, not a folder, no pictures). */
int cli_training_folder(const char *cmd, const char *what, const char *dir, cli_list *out);

/* ---- the losses of a GAN training run, as CSV (loss_log.c) ---------------------------------- */

typedef struct cli_loss_log {
    const char *cmd, *path;  /* path NULL: no log */
    int resumed;             /* the run continues from a checkpoint */
    FILE *f;                 /* opened at the first step, when the loss names are known */
    double seconds0;         /* a resumed run's earlier training time, so the column is the whole run's */
    int failed;              /* a write failed: said once, and the run goes on without the log */
} cli_loss_log;

void cli_loss_log_init(cli_loss_log *l, const char *cmd, const char *path, int resumed);
/* One row "step,epoch,lr,<losses>,seconds", flushed. At the first step the log is opened: a
 * fresh run writes the header (replacing an old file); a resumed one, starting after first_step,
 * keeps the rows up to first_step under the same header and appends (rows a run wrote past its
 * checkpoint are dropped: this run redoes those steps). */
void cli_loss_log_step(cli_loss_log *l, cli_progress *pr, const impasto_gan_progress *p, long first_step);
void cli_loss_log_close(cli_loss_log *l);

/* ---- video (video_eval.c) ------------------------------------------------------------------- */

/* impasto eval --temporal OUT --reference IN: the warping error of OUT's frames along IN's flow,
 * printed as a mean (per frame pair too with verbose) or JSON. Returns the exit code. */
int cli_eval_temporal(const char *output, const char *reference, int json, int verbose, int threads,
                      size_t max_pixels);

#endif
