/* impasto fast: one forward pass of a pretrained fast style network (Johnson et al. 2016) over a
 * photo, or over every PNG/JPEG in a folder (one output per input, same file name), as the PyTorch
 * examples' `neural_style.py eval` with its --content-scale. */
#include "opts.h"

#include <string.h>

static const char *CMD = "fast";

typedef struct fast_settings {
    cli_common common;
    const char *model, *content, *output;
    impasto_fast_options opt;
} fast_settings;

#define S fast_settings
static const cli_opt OPTS[] = {
    CLI_OPT_CONTENT_OR_FOLDER(S, content),
    CLI_OPT_OUTPUT_OR_FOLDER(S, output, "for a folder, the output folder (same file names)"),
    CLI_OPT_MODEL(S, model, "the network: a style's name (candy, mosaic, ...) or a converted file"),
    {CLI_G_SIZES, "content-scale", 0, CLI_DOUBLE, offsetof(S, opt.content_scale), "F", 1e-3, 1e3, NULL, NULL,
     "shrink the photo by F first (the output has the shrunk size)", 0, NULL},
    CLI_OPTS_COMMON(S),
    CLI_OPT_JSON(S),
    CLI_OPTS_END};
#undef S

static void init(void *p) {
    fast_settings *s = p;
    impasto_fast_options_init(&s->opt);
}

typedef struct fast_job {
    impasto_fast_model *model;
    const impasto_fast_options *opt;
} fast_job;

static impasto_status run_one(void *user, impasto_ctx *ctx, const impasto_image *content, const impasto_image *style,
                              impasto_image **out) {
    const fast_job *j = user;
    (void)style;
    return impasto_fast_stylize(ctx, j->model, content, j->opt, out);
}

static int run(void *p, int argc, char **argv) {
    fast_settings *st = p;
    const char *content = st->content, *output = st->output;
    if (!st->model) { cli_error(CMD, 1, "no model (-m NAME or FILE, e.g. -m candy)"); return EXIT_USAGE; }
    if (!content) { cli_error(CMD, 1, "no content image (-c FILE or folder)"); return EXIT_USAGE; }
    int rc = cli_one_or_folder_check(CMD, content, &output);
    if (rc) return rc;
    char model_path[4096];
    if (!cli_find_model(CMD, st->model, NULL, 1, model_path, sizeof model_path)) return 1;
    cli_inputs in = {0};
    impasto_ctx *ctx = cli_inputs_add(CMD, &in, model_path) ? cli_ctx_create(CMD, &st->common) : NULL;
    if (!ctx) {
        cli_inputs_free(&in);
        return 1;
    }
    impasto_fast_model *m = NULL;
    cli_progress progress;
    progress_init(&progress, st->common.quiet, 0);
    if (st->common.json && !cli_json_begin(&progress, CMD)) cli_error(CMD, 0, "out of memory for --json");
    cli_sigint_begin();
    impasto_status s = impasto_fast_load(ctx, model_path, &m);
    if (s != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, s, NULL);
    } else {
        fast_job job = {m, &st->opt};
        cli_batch b = {.cmd = CMD, .content = content, .outdir = output, .inputs = &in, .fn = run_one,
                       .user = &job, .progress = &progress};
        rc = cli_one_or_folder_run(ctx, &b);
    }
    cli_sigint_end();
    if (m) cli_json_string(&progress, "style", impasto_fast_style(m));
    cli_json_end(&progress, rc);
    impasto_fast_free(m);
    impasto_ctx_free(ctx);
    cli_inputs_free(&in);
    (void)argc;
    (void)argv;
    return rc;
}

const cli_command CLI_FAST = {
    .name = "fast",
    .summary = "repaint photos with a pretrained fast style network (Johnson et al.)",
    .synopsis = "-m MODEL -c CONTENT [-o OUT] [options]",
    .description = "Repaints CONTENT with a pretrained fast style network (Johnson et al. 2016; convert one with\n"
                   "`impasto convert ncnn-transformernet`, or `make models`). CONTENT may be a folder: then every\n"
                   "PNG and JPEG in it is repainted into the folder OUT under the same file name.",
    .opts = OPTS,
    .settings_size = sizeof(fast_settings),
    .init = init,
    .run = run,
    .processes = 1,
};
