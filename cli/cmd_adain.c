/* impasto adain: arbitrary style transfer in one pass (Huang & Belongie 2017), with
 * naoto0804/pytorch-AdaIN's test.py options (kebab-case) on top of impasto_adain(). */
#include "breed.h"
#include "opts.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *CMD = "adain";

typedef struct adain_settings {
    cli_common common;
    const char *content, *output, *model, *mask;
    cli_paths styles;
    cli_numbers weights;
    impasto_adain_options opt;
} adain_settings;

#define S adain_settings
static const cli_opt OPTS[] = {
    CLI_OPT_CONTENT_OR_FOLDER(S, content),
    {CLI_G_IO, "style", 's', CLI_PATHS, offsetof(S, styles), "FILE[,FILE...]|DIR", 0, 0, NULL, NULL,
     "style image(s) or genes files (impasto breed), interpolated; repeat -s or give a comma list; or one folder", CLI_COMPLETE_IMAGE, NULL},
    CLI_OPT_OUTPUT_OR_FOLDER(S, output, "the output folder for folders"),
    {CLI_G_IO, "mask", 0, CLI_STRING, offsetof(S, mask), "FILE", 0, 0, NULL, NULL,
     "spatial control: each gray level of FILE (a PNG), darkest first, takes its own -s style", CLI_COMPLETE_IMAGE,
     NULL},
    CLI_OPT_MODEL(S, model, "the converted AdaIN network (default adain)"),
    {"Style", "alpha", 0, CLI_DOUBLE, offsetof(S, opt.alpha), "A", 0, 1, NULL, NULL,
     "style strength: 0 keeps the photo's features, 1 the full style", 0, NULL},
    {"Style", "style-weights", 0, CLI_LIST, offsetof(S, weights), "W,W,...", 0, 1e9, NULL, "equal",
     "one per style image, normalised to sum 1", 0, NULL},
    {"Style", "preserve-color", 0, CLI_FLAG, offsetof(S, opt.preserve_color), NULL, 0, 0, NULL, NULL,
     "match each style's colours to the photo's (mean and covariance) first", 0, NULL},
    CLI_OPTS_SIZES(S, opt.content_size, opt.style_size),
    {CLI_G_SIZES, "crop", 0, CLI_FLAG, offsetof(S, opt.crop), NULL, 0, 0, NULL, NULL,
     "resize the SHORTER sides to those sizes and cut the centred squares", 0, NULL},
    CLI_OPTS_TILING(S, opt.tile, opt.tile_halo, opt.memory_mb),
    CLI_OPTS_COMMON(S),
    CLI_OPT_JSON(S),
    CLI_OPTS_END};
#undef S

static void init(void *p) {
    adain_settings *s = p;
    impasto_adain_options_init(&s->opt);
}

typedef struct adain_job {
    const impasto_model *model;
    impasto_adain_options *opt;
} adain_job;

/* One content x style pair of a folder run. */
static impasto_status run_pair(void *user, impasto_ctx *ctx, const impasto_image *content, const impasto_image *style,
                               impasto_image **out) {
    const adain_job *j = user;
    return impasto_adain(ctx, j->model, content, &style, 1, j->opt, out);
}

/* The live line, and Ctrl-C: the run stops at its next unit of work. */
static int on_progress(const impasto_pass_progress *p, void *user) {
    progress_pass(user, p);
    return cli_interrupted();
}

static int run(void *p, int argc, char **argv) {
    adain_settings *st = p;
    impasto_adain_options *opt = &st->opt;
    const char *content_path = st->content, *output = st->output, *mask_path = st->mask;
    const char **styles = st->styles.v;
    const int nstyles = st->styles.n;
    int folders;
    const int bad = cli_styles_check(CMD, content_path, styles, nstyles, mask_path, st->weights.v, st->weights.n,
                                     "style images",
                                     &output, &folders);
    if (bad) return bad;
    if (st->weights.n) opt->style_weights = st->weights.v;
    char model_path[4096];
    if (!cli_find_model(CMD, st->model, "adain", 0, model_path, sizeof model_path)) return 1;
    cli_inputs in = {0};
    int rc = 1, ok = cli_inputs_add(CMD, &in, model_path) && cli_inputs_add(CMD, &in, content_path) &&
                     cli_inputs_add(CMD, &in, mask_path);
    for (int i = 0; ok && i < nstyles; i++) ok = cli_inputs_add(CMD, &in, styles[i]);
    if (ok && !folders && (rc = cli_output_check(CMD, &in, output)) != 0) ok = 0;
    impasto_ctx *ctx = ok ? cli_ctx_create(CMD, &st->common) : NULL;
    if (!ctx) {
        cli_inputs_free(&in);
        return rc ? rc : 1;
    }
    rc = 1;
    impasto_model *model = NULL;
    impasto_image *content = NULL, *result = NULL, *mask = NULL;
    impasto_image *style_imgs[CLI_MAX_STYLES] = {0};
    impasto_genes *genes[CLI_MAX_STYLES] = {0};
    cli_progress progress;
    progress_init(&progress, st->common.quiet, 0);
    if (st->common.json && !cli_json_begin(&progress, CMD)) cli_error(CMD, 0, "out of memory for --json");
    opt->progress = on_progress;
    opt->progress_user = &progress;
    cli_sigint_begin();
    impasto_status s = impasto_model_load(ctx, model_path, &model);
    if (s != IMPASTO_OK) goto failed;
    if (folders) {
        adain_job job = {model, opt};
        cli_batch b = {.cmd = CMD, .content = content_path, .style = styles[0], .outdir = output, .inputs = &in,
                       .fn = run_pair, .user = &job, .progress = &progress};
        rc = cli_batch_run(ctx, &b);
        goto done;
    }
    if ((rc = cli_one_process(CMD)) != 0) goto done;
    if ((s = impasto_image_load(ctx, content_path, &content)) != IMPASTO_OK) goto failed;
    for (int i = 0; i < nstyles; i++) {
        /* A genes file (impasto breed) stands for a painting. */
        if (cli_is_genes(styles[i])) {
            if ((s = impasto_genes_load(ctx, styles[i], &genes[i])) != IMPASTO_OK) goto failed;
            opt->style_genes = (const impasto_genes *const *)genes;
        } else if ((s = impasto_image_load(ctx, styles[i], &style_imgs[i])) != IMPASTO_OK) {
            goto failed;
        }
    }
    if (mask_path) {
        if ((s = impasto_image_load(ctx, mask_path, &mask)) != IMPASTO_OK) goto failed;
        cli_mask_aspect_note(CMD, mask, impasto_image_width(content), impasto_image_height(content));
        opt->mask = mask;
    }
    if ((s = impasto_adain(ctx, model, content, (const impasto_image *const *)style_imgs, (size_t)nstyles, opt,
                           &result)) == IMPASTO_OK)
        s = impasto_image_save(ctx, result, output, 0);
failed:
    rc = cli_finish_one(CMD, ctx, &progress, s, NULL, content_path, output, result);
done:
    cli_sigint_end();
    cli_json_end(&progress, rc);
    impasto_image_free(result);
    impasto_image_free(mask);
    impasto_image_free(content);
    for (int i = 0; i < nstyles; i++) impasto_image_free(style_imgs[i]), impasto_genes_free(genes[i]);
    impasto_model_free(model);
    impasto_ctx_free(ctx);
    cli_inputs_free(&in);
    (void)argc;
    (void)argv;
    return rc;
}

const cli_command CLI_ADAIN = {
    .name = "adain",
    .summary = "repaint a photo in one pass of the AdaIN network (Huang & Belongie)",
    .synopsis = "-c CONTENT -s STYLE[,STYLE...] [-o OUT] [options]",
    .description = "Repaints CONTENT in the style of STYLE in one pass of the AdaIN network (Huang & Belongie\n"
                   "2017, as naoto0804/pytorch-AdaIN): the photo's VGG features take each channel's mean and\n"
                   "deviation from the painting's. CONTENT and STYLE may be folders (with one -s): every pair is\n"
                   "written to the folder OUT as <content>_<style>.png.",
    .opts = OPTS,
    .settings_size = sizeof(adain_settings),
    .init = init,
    .run = run,
    .processes = 1,
};
