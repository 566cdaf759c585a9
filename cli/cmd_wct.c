/* impasto wct: universal style transfer by whitening and colouring transforms (Li et al. 2017),
 * multi-level relu4_1 then relu3_1, on top of impasto_wct(). */
#include "breed.h"
#include "opts.h"

#include <string.h>
#include <unistd.h>

static const char *CMD = "wct";

typedef struct wct_settings {
    cli_common common;
    const char *content, *output, *model, *model_r31, *mask;
    cli_paths style;
    int levels;
    impasto_wct_options opt;
} wct_settings;

#define S wct_settings
static const cli_opt OPTS[] = {
    CLI_OPT_CONTENT_OR_FOLDER(S, content),
    {CLI_G_IO, "style", 's', CLI_PATHS, offsetof(S, style), "FILE[,FILE...]|DIR", 0, 0, NULL, NULL,
     "the style image or a genes file with covariance (impasto breed; --levels 1), or a folder; with --mask, one "
     "per region", CLI_COMPLETE_IMAGE, NULL},
    CLI_OPT_OUTPUT_OR_FOLDER(S, output, "the output folder for folders"),
    {CLI_G_IO, "mask", 0, CLI_STRING, offsetof(S, mask), "FILE", 0, 0, NULL, NULL,
     "spatial control: each gray level of FILE (a PNG), darkest first, is whitened on its own and coloured by its "
     "own -s style", CLI_COMPLETE_IMAGE, NULL},
    CLI_OPT_MODEL(S, model, "the converted AdaIN network, relu4_1 (default adain)"),
    {CLI_G_MODEL, "model-r31", 0, CLI_STRING, offsetof(S, model_r31), "NAME|FILE", 0, 0, NULL, "lst-r31",
     "the converted relu3_1 encoder and decoder", CLI_COMPLETE_MODEL, NULL},
    {"Style", "levels", 0, CLI_INT, offsetof(S, levels), "N", 1, 2, NULL, NULL,
     "2: relu4_1 then relu3_1; 1: relu4_1 only", 0, NULL},
    {"Style", "alpha", 0, CLI_DOUBLE, offsetof(S, opt.alpha), "A", 0, 1, NULL, NULL,
     "style strength at each level, 0 (content) .. 1 (full)", 0, NULL},
    CLI_OPTS_SIZES(S, opt.content_size, opt.style_size),
    CLI_OPTS_TILING(S, opt.tile, opt.tile_halo, opt.memory_mb),
    CLI_OPTS_COMMON(S),
    CLI_OPT_JSON(S),
    CLI_OPTS_END};
#undef S

static void init(void *p) {
    wct_settings *s = p;
    impasto_wct_options_init(&s->opt);
    s->levels = 2;
}

typedef struct wct_job {
    const impasto_model *adain, *lst;
    const impasto_wct_options *opt;
} wct_job;

static impasto_status run_pair(void *user, impasto_ctx *ctx, const impasto_image *content, const impasto_image *style,
                               impasto_image **out) {
    const wct_job *j = user;
    return impasto_wct(ctx, j->adain, j->lst, content, style, j->opt, out);
}

/* The live line, and Ctrl-C: the run stops at its next unit of work. */
static int on_progress(const impasto_pass_progress *p, void *user) {
    progress_pass(user, p);
    return cli_interrupted();
}

static int run(void *p, int argc, char **argv) {
    wct_settings *st = p;
    impasto_wct_options *opt = &st->opt;
    const char *content_path = st->content, *output = st->output, *mask_path = st->mask;
    const int nstyles = st->style.n;
    if (nstyles > 1 && !mask_path) {
        cli_error(CMD, 1, "wct takes one style (-s FILE or folder), or one per region of a --mask; adain blends several");
        return EXIT_USAGE;
    }
    const char *style_path = nstyles ? st->style.v[0] : NULL;
    int folders;
    const int bad = cli_styles_check(CMD, content_path, st->style.v, nstyles, mask_path, NULL, 0, "style images",
                                     &output, &folders);
    if (bad) return bad;
    for (int i = 0; nstyles > 1 && i < nstyles; i++)
        if (cli_is_genes(st->style.v[i])) {
            cli_error(CMD, 1, "%s: a genes file stands for the only style; with --mask, give a picture per region",
                      st->style.v[i]);
            return EXIT_USAGE;
        }
    char model_path[4096], r31_path[4096];
    if (!cli_find_model(CMD, st->model, "adain", 0, model_path, sizeof model_path)) return 1;
    if (st->levels == 2 && !cli_find_model(CMD, st->model_r31, "lst-r31", 0, r31_path, sizeof r31_path)) return 1;
    cli_inputs in = {0};
    int rc = 1, ok = cli_inputs_add(CMD, &in, model_path) && (st->levels != 2 || cli_inputs_add(CMD, &in, r31_path)) &&
                     cli_inputs_add(CMD, &in, content_path) && cli_inputs_add(CMD, &in, mask_path);
    for (int i = 0; ok && i < nstyles; i++) ok = cli_inputs_add(CMD, &in, st->style.v[i]);
    if (ok && !folders && (rc = cli_output_check(CMD, &in, output)) != 0) ok = 0;
    impasto_ctx *ctx = ok ? cli_ctx_create(CMD, &st->common) : NULL;
    if (!ctx) {
        cli_inputs_free(&in);
        return rc ? rc : 1;
    }
    rc = 1;
    impasto_model *adain = NULL, *lst = NULL;
    impasto_image *content = NULL, *result = NULL, *mask = NULL;
    impasto_image *styles[CLI_MAX_STYLES] = {0};
    impasto_genes *genes = NULL;
    cli_progress progress;
    progress_init(&progress, st->common.quiet, 0);
    if (st->common.json && !cli_json_begin(&progress, CMD)) cli_error(CMD, 0, "out of memory for --json");
    opt->progress = on_progress;
    opt->progress_user = &progress;
    cli_sigint_begin();
    impasto_status s;
    if ((s = impasto_model_load(ctx, model_path, &adain)) != IMPASTO_OK ||
        (st->levels == 2 && (s = impasto_model_load(ctx, r31_path, &lst)) != IMPASTO_OK))
        goto failed;
    wct_job job = {adain, lst, opt};
    if (folders) {
        cli_batch b = {.cmd = CMD, .content = content_path, .style = style_path, .outdir = output, .inputs = &in,
                       .fn = run_pair, .user = &job, .progress = &progress};
        rc = cli_batch_run(ctx, &b);
        goto done;
    }
    if ((rc = cli_one_process(CMD)) != 0) goto done;
    if (nstyles == 1 && cli_is_genes(style_path)) {
        /* A genes file (impasto breed) with its covariance stands for the painting at relu4_1. */
        if ((s = impasto_genes_load(ctx, style_path, &genes)) != IMPASTO_OK) goto failed;
        opt->style_genes = genes;
    }
    if ((s = impasto_image_load(ctx, content_path, &content)) != IMPASTO_OK) goto failed;
    for (int i = 0; !genes && i < nstyles; i++)
        if ((s = impasto_image_load(ctx, st->style.v[i], &styles[i])) != IMPASTO_OK) goto failed;
    if (mask_path) {
        if ((s = impasto_image_load(ctx, mask_path, &mask)) != IMPASTO_OK) goto failed;
        cli_mask_aspect_note(CMD, mask, impasto_image_width(content), impasto_image_height(content));
        opt->mask = mask;
    }
    if ((s = impasto_wct_styles(ctx, adain, lst, content, (const impasto_image *const *)styles, (size_t)nstyles, opt,
                                &result)) == IMPASTO_OK)
        s = impasto_image_save(ctx, result, output, 0);
failed:
    rc = cli_finish_one(CMD, ctx, &progress, s, NULL, content_path, output, result);
done:
    cli_sigint_end();
    cli_json_end(&progress, rc);
    impasto_image_free(result);
    impasto_image_free(mask);
    for (int i = 0; i < nstyles; i++) impasto_image_free(styles[i]);
    impasto_genes_free(genes);
    impasto_image_free(content);
    impasto_model_free(lst);
    impasto_model_free(adain);
    impasto_ctx_free(ctx);
    cli_inputs_free(&in);
    (void)argc;
    (void)argv;
    return rc;
}

const cli_command CLI_WCT = {
    .name = "wct",
    .summary = "repaint a photo by whitening and colouring VGG features (Li et al.)",
    .synopsis = "-c CONTENT -s STYLE[,STYLE...] [--mask MASK] [-o OUT] [options]",
    .description = "Repaints CONTENT in the style of STYLE by whitening its VGG features and colouring them with\n"
                   "the style's covariance (Li et al. 2017, \"Universal Style Transfer via Feature Transforms\"),\n"
                   "coarse to fine: relu4_1 (the AdaIN model's decoder), then relu3_1 (the lst-r31 pair).\n"
                   "CONTENT and STYLE may be folders: every pair is written to the folder OUT as\n"
                   "<content>_<style>.png. With --mask, each gray level of MASK (darkest first) is a region\n"
                   "whitened with its own statistics and coloured by its own STYLE (one -s per level).",
    .opts = OPTS,
    .settings_size = sizeof(wct_settings),
    .init = init,
    .run = run,
    .processes = 1,
};
