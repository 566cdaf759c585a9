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
    const int folder = cli_is_dir(content);
    if (!output && folder) { cli_error(CMD, 1, "-c is a folder: give an output folder (-o DIR)"); return EXIT_USAGE; }
    if (!output) output = "out.png";
    if (folder) {
        int r = cli_batch_check(CMD, content, NULL, output);
        if (r) return r;
    } else if (!cli_output_format_ok(CMD, output)) {
        return EXIT_USAGE;
    }
    char model_path[4096];
    if (!cli_find_model(CMD, st->model, NULL, 1, model_path, sizeof model_path)) return 1;
    cli_inputs in = {0};
    int rc = 1, ok = cli_inputs_add(CMD, &in, model_path) && cli_inputs_add(CMD, &in, content);
    if (ok && !folder && (rc = cli_output_check(CMD, &in, output)) != 0) ok = 0;
    impasto_ctx *ctx = ok ? cli_ctx_create(CMD, &st->common) : NULL;
    if (!ctx) {
        cli_inputs_free(&in);
        return rc ? rc : 1;
    }
    rc = 1;
    impasto_fast_model *m = NULL;
    impasto_image *img = NULL, *res = NULL;
    cli_progress progress;
    progress_init(&progress, st->common.quiet, 0);
    if (st->common.json && !cli_json_begin(&progress, CMD)) cli_error(CMD, 0, "out of memory for --json");
    cli_sigint_begin();
    impasto_status s = impasto_fast_load(ctx, model_path, &m);
    if (s != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, s, NULL);
    } else if (folder) {
        fast_job job = {m, &st->opt};
        cli_batch b = {.cmd = CMD, .content = content, .outdir = output, .inputs = &in, .fn = run_one,
                       .user = &job, .progress = &progress};
        rc = cli_batch_run(ctx, &b);
    } else {
        if ((s = impasto_image_load(ctx, content, &img)) == IMPASTO_OK &&
            (s = impasto_fast_stylize(ctx, m, img, &st->opt, &res)) == IMPASTO_OK)
            s = impasto_image_save(ctx, res, output, 0);
        rc = cli_finish_one(CMD, ctx, &progress, s, content, content, output, res);
    }
    cli_sigint_end();
    if (m) cli_json_string(&progress, "style", impasto_fast_style(m));
    cli_json_end(&progress, rc);
    impasto_image_free(img);
    impasto_image_free(res);
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
};
