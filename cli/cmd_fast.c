/* impasto fast: one forward pass of a pretrained fast style network (Johnson et al. 2016) over a
 * photo, or over every PNG/JPEG in a folder (one output per input, same file name), as the PyTorch
 * examples' `neural_style.py eval` with its --content-scale. */
#include "opts.h"

#include <string.h>

static const char *CMD = "fast";

typedef struct fast_settings {
    cli_common common;
    const char *content, *output, *mask;
    cli_paths model;
    int feather;
    impasto_fast_options opt;
} fast_settings;

#define S fast_settings
static const cli_opt OPTS[] = {
    CLI_OPT_CONTENT_OR_FOLDER(S, content),
    CLI_OPT_OUTPUT_OR_FOLDER(S, output, "for a folder, the output folder (same file names)"),
    {CLI_G_MODEL, "model", 'm', CLI_PATHS, offsetof(S, model), "NAME|FILE[,...]", 0, 0, NULL, NULL,
     "the network: a style's name (candy, mosaic, ...) or a converted file; with --mask one per region",
     CLI_COMPLETE_MODEL, NULL},
    {CLI_G_IO, "mask", 0, CLI_STRING, offsetof(S, mask), "FILE", 0, 0, NULL, NULL,
     "spatial control: each gray level of FILE is a region, darkest first, repainted by the matching -m "
     "network (as many networks as levels); use a PNG; it is stretched over the photo", CLI_COMPLETE_IMAGE, NULL},
    {CLI_G_IO, "feather", 0, CLI_INT, offsetof(S, feather), "N", 0, 100000, NULL, "1% of the longer side",
     "--mask: the networks are blended over N pixels either side of each region's edge (0: hard edges)", 0,
     NULL},
    {CLI_G_SIZES, "content-scale", 0, CLI_DOUBLE, offsetof(S, opt.content_scale), "F", 1e-3, 1e3, NULL, NULL,
     "shrink the photo by F first (the output has the shrunk size)", 0, NULL},
    CLI_OPTS_TILING(S, opt.tile, opt.tile_halo, opt.memory_mb),
    {CLI_G_TILING, "norm-stats", 0, CLI_CHOICE, offsetof(S, opt.stats), NULL, 0, 0, "exact|estimate", NULL,
     "tiled runs: the norms' whole-picture statistics gathered over the tiles (exact, ~8x the work) or "
     "estimated from a shrunk copy", 0, NULL},
    {CLI_G_TILING, "stats-side", 0, CLI_INT, offsetof(S, opt.stats_side), "N", 64, IMPASTO_MAX_SIDE, NULL, NULL,
     "--norm-stats estimate: the shrunk copy's longer side", 0, NULL},
    CLI_OPTS_COMMON(S),
    CLI_OPT_JSON(S),
    CLI_OPTS_END};
#undef S

static void init(void *p) {
    fast_settings *s = p;
    impasto_fast_options_init(&s->opt);
    s->feather = -1;
}

/* The live line of a tiled run, and Ctrl-C: the run stops at its next tile. */
static int on_progress(const impasto_pass_progress *p, void *user) {
    progress_pass(user, p);
    return cli_interrupted();
}

/* --mask: every network over the photo, blended by region. */
static int run_regions(fast_settings *st, const char *output) {
    const int n = st->model.n;
    char paths[CLI_MAX_STYLES][4096];
    cli_inputs in = {0};
    int ok = cli_inputs_add(CMD, &in, st->content) && cli_inputs_add(CMD, &in, st->mask);
    for (int i = 0; ok && i < n; i++)
        ok = cli_find_model(CMD, st->model.v[i], NULL, 1, paths[i], sizeof paths[i]) && cli_inputs_add(CMD, &in, paths[i]);
    int rc = 1;
    if (ok && (rc = cli_output_check(CMD, &in, output)) != 0) ok = 0;
    impasto_ctx *ctx = ok ? cli_ctx_create(CMD, &st->common) : NULL;
    if (!ctx) {
        cli_inputs_free(&in);
        return rc ? rc : 1;
    }
    impasto_fast_model *models[CLI_MAX_STYLES] = {0};
    impasto_image *content = NULL, *mask = NULL, *result = NULL;
    cli_progress progress;
    progress_init(&progress, st->common.quiet, 0);
    if (st->common.json && !cli_json_begin(&progress, CMD)) cli_error(CMD, 0, "out of memory for --json");
    st->opt.progress = on_progress;
    st->opt.progress_user = &progress;
    cli_sigint_begin();
    impasto_status s = IMPASTO_OK;
    for (int i = 0; i < n && s == IMPASTO_OK; i++) s = impasto_fast_load(ctx, paths[i], &models[i]);
    if (s == IMPASTO_OK) s = impasto_image_load(ctx, st->content, &content);
    if (s == IMPASTO_OK) s = impasto_image_load(ctx, st->mask, &mask);
    if (s == IMPASTO_OK) {
        cli_mask_aspect_note(CMD, mask, impasto_image_width(content), impasto_image_height(content));
        s = impasto_fast_stylize_regions(ctx, models, (size_t)n, content, mask, st->feather, &st->opt, &result);
    }
    if (s == IMPASTO_OK) s = impasto_image_save(ctx, result, output, 0);
    rc = cli_finish_one(CMD, ctx, &progress, s, NULL, st->content, output, result);
    cli_sigint_end();
    cli_json_end(&progress, rc);
    impasto_image_free(result);
    impasto_image_free(mask);
    impasto_image_free(content);
    for (int i = 0; i < n; i++) impasto_fast_free(models[i]);
    impasto_ctx_free(ctx);
    cli_inputs_free(&in);
    return rc;
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
    if (!st->model.n) { cli_error(CMD, 1, "no model (-m NAME or FILE, e.g. -m candy)"); return EXIT_USAGE; }
    if (!content) { cli_error(CMD, 1, "no content image (-c FILE or folder)"); return EXIT_USAGE; }
    if (st->mask) {
        if (cli_is_dir(content)) { cli_error(CMD, 1, "--mask takes one content file, not a folder"); return EXIT_USAGE; }
        if (!output) output = "out.png";
        if (!cli_output_format_ok(CMD, output)) return EXIT_USAGE;
        return run_regions(st, output);
    }
    if (st->model.n > 1) { cli_error(CMD, 1, "several networks (-m a,b) need a --mask giving each its region"); return EXIT_USAGE; }
    if (st->feather >= 0) { cli_error(CMD, 1, "--feather goes with --mask"); return EXIT_USAGE; }
    int rc = cli_one_or_folder_check(CMD, content, &output);
    if (rc) return rc;
    char model_path[4096];
    if (!cli_find_model(CMD, st->model.v[0], NULL, 1, model_path, sizeof model_path)) return 1;
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
    st->opt.progress = on_progress;
    st->opt.progress_user = &progress;
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
    .synopsis = "-m MODEL[,MODEL...] -c CONTENT [-o OUT] [--mask MASK] [options]",
    .description = "Repaints CONTENT with a pretrained fast style network (Johnson et al. 2016; convert one with\n"
                   "`impasto convert ncnn-transformernet`, or `make models`). CONTENT may be a folder: then every\n"
                   "PNG and JPEG in it is repainted into the folder OUT under the same file name.\n"
                   "A photo larger than --memory allows runs in tiles, each norm with the whole photo's statistics\n"
                   "(docs/print-size.md). With --mask, each gray level of MASK is repainted by its own network.",
    .opts = OPTS,
    .settings_size = sizeof(fast_settings),
    .init = init,
    .run = run,
    .processes = 1,
};
