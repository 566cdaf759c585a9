/* impasto attention: the photo's features attend over the paintings' (SANet-like fusion without
 * learned projections; --patch 3 --hard is Chen & Schmidt's style swap), on top of
 * impasto_attention(). */
#include "opts.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *CMD = "attention";

typedef struct attention_settings {
    cli_common common;
    const char *content, *output, *model, *model_r31, *mask;
    int layers;  /* LAYERS_*: which levels run */
    cli_paths styles;
    cli_numbers weights;
    impasto_attention_options opt;
} attention_settings;

/* --layers: the choices' order is LAYERS_*. */
enum { LAYERS_R41, LAYERS_R31, LAYERS_BOTH };

#define S attention_settings
static const cli_opt OPTS[] = {
    CLI_OPT_CONTENT_OR_FOLDER(S, content),
    {CLI_G_IO, "style", 's', CLI_PATHS, offsetof(S, styles), "FILE[,FILE...]|DIR", 0, 0, NULL, NULL,
     "painting(s): each photo position attends over all their patches; or one folder", CLI_COMPLETE_IMAGE, NULL},
    CLI_OPT_OUTPUT_OR_FOLDER(S, output, "the output folder for folders"),
    {CLI_G_IO, "mask", 0, CLI_STRING, offsetof(S, mask), "FILE", 0, 0, NULL, NULL,
     "spatial control: each gray level of FILE (a PNG), darkest first, attends over its own -s painting",
     CLI_COMPLETE_IMAGE, NULL},
    CLI_OPT_MODEL(S, model, "the converted AdaIN network (default adain): relu4_1's encoder and decoder"),
    {CLI_G_MODEL, "model-r31", 0, CLI_STRING, offsetof(S, model_r31), "NAME|FILE", 0, 0, NULL, "lst-r31",
     "the converted relu3_1 encoder and decoder", CLI_COMPLETE_MODEL, NULL},
    {"Attention", "layers", 0, CLI_CHOICE, offsetof(S, layers), NULL, 0, 0, "relu4_1|relu3_1|relu4_1,relu3_1",
     "relu4_1", "where the features attend: relu4_1 (the AdaIN model), relu3_1 (lst-r31: finer, 4 pixels a "
     "position) or both, coarse to fine as wct's levels", 0, NULL},
    {"Attention", "temperature", 't', CLI_DOUBLE, offsetof(S, opt.temperature), "T", 0, 1e9, NULL, NULL,
     "softmax temperature on cosine scores, 0.0001 .. 100: low copies the best match, high blends many", 0, NULL},
    {"Attention", "patch", 0, CLI_INT, offsetof(S, opt.patch), "N", 0, 1000000, NULL, NULL,
     "attend over N x N patches of the features (odd, 1 .. 9); overlaps are averaged", 0, NULL},
    {"Attention", "hard", 0, CLI_FLAG, offsetof(S, opt.hard), NULL, 0, 0, NULL, NULL,
     "take the best-matching patch alone (with --patch 3: style swap)", 0, NULL},
    {"Attention", "alpha", 0, CLI_DOUBLE, offsetof(S, opt.alpha), "A", 0, 1, NULL, NULL,
     "style strength: 0 keeps the photo's features, 1 the attended ones", 0, NULL},
    {"Attention", "style-weights", 0, CLI_LIST, offsetof(S, weights), "W,W,...", 0, 1e9, NULL, "equal",
     "one per painting: its patches' attention is multiplied by W (normalised)", 0, NULL},
    CLI_OPTS_SIZES(S, opt.content_size, opt.style_size),
    CLI_OPTS_TILING(S, opt.tile, opt.tile_halo, opt.memory_mb),
    CLI_OPTS_COMMON(S),
    CLI_OPT_JSON(S),
    CLI_OPTS_END};
#undef S

static void init(void *p) {
    attention_settings *s = p;
    impasto_attention_options_init(&s->opt);
}

typedef struct attention_job {
    const impasto_model *adain, *lst;
    impasto_attention_options *opt;
} attention_job;

/* One content x painting pair of a folder run. */
static impasto_status run_pair(void *user, impasto_ctx *ctx, const impasto_image *content, const impasto_image *style,
                               impasto_image **out) {
    const attention_job *j = user;
    return impasto_attention(ctx, j->adain, j->lst, content, &style, 1, j->opt, out);
}

/* The live line, and Ctrl-C: the run stops at its next unit of work. */
static int on_progress(const impasto_pass_progress *p, void *user) {
    progress_pass(user, p);
    return cli_interrupted();
}

static int run(void *p, int argc, char **argv) {
    attention_settings *st = p;
    impasto_attention_options *opt = &st->opt;
    const char *content_path = st->content, *output = st->output, *mask_path = st->mask;
    const char **styles = st->styles.v;
    const int nstyles = st->styles.n;
    if (!(opt->temperature > 0)) {
        cli_error(CMD, 1, "--temperature must be greater than 0 (for the best match alone, use --hard), got %g",
                  opt->temperature);
        return EXIT_USAGE;
    }
    int folders;
    const int bad = cli_styles_check(CMD, content_path, styles, nstyles, mask_path, st->weights.v, st->weights.n,
                                     "paintings",
                                     &output, &folders);
    if (bad) return bad;
    if (st->weights.n) opt->style_weights = st->weights.v;
    const int want_r41 = st->layers != LAYERS_R31, want_r31 = st->layers != LAYERS_R41;
    char model_path[4096], r31_path[4096];
    if (want_r41 && !cli_find_model(CMD, st->model, "adain", 0, model_path, sizeof model_path)) return 1;
    if (want_r31 && !cli_find_model(CMD, st->model_r31, "lst-r31", 0, r31_path, sizeof r31_path)) return 1;
    cli_inputs in = {0};
    int rc = 1, ok = (!want_r41 || cli_inputs_add(CMD, &in, model_path)) &&
                     (!want_r31 || cli_inputs_add(CMD, &in, r31_path)) && cli_inputs_add(CMD, &in, content_path) &&
                     cli_inputs_add(CMD, &in, mask_path);
    for (int i = 0; ok && i < nstyles; i++) ok = cli_inputs_add(CMD, &in, styles[i]);
    if (ok && !folders && (rc = cli_output_check(CMD, &in, output)) != 0) ok = 0;
    impasto_ctx *ctx = ok ? cli_ctx_create(CMD, &st->common) : NULL;
    if (!ctx) {
        cli_inputs_free(&in);
        return rc ? rc : 1;
    }
    rc = 1;
    impasto_model *adain = NULL, *lst = NULL;
    impasto_image *content = NULL, *result = NULL, *mask = NULL;
    impasto_image *style_imgs[CLI_MAX_STYLES] = {0};
    cli_progress progress;
    progress_init(&progress, st->common.quiet, 0);
    if (st->common.json && !cli_json_begin(&progress, CMD)) cli_error(CMD, 0, "out of memory for --json");
    opt->progress = on_progress;
    opt->progress_user = &progress;
    cli_sigint_begin();
    impasto_status s = IMPASTO_OK;
    if ((want_r41 && (s = impasto_model_load(ctx, model_path, &adain)) != IMPASTO_OK) ||
        (want_r31 && (s = impasto_model_load(ctx, r31_path, &lst)) != IMPASTO_OK))
        goto failed;
    if (folders) {
        attention_job job = {adain, lst, opt};
        cli_batch b = {.cmd = CMD, .content = content_path, .style = styles[0], .outdir = output, .inputs = &in,
                       .fn = run_pair, .user = &job, .progress = &progress};
        rc = cli_batch_run(ctx, &b);
        goto done;
    }
    if ((rc = cli_one_process(CMD)) != 0) goto done;
    if ((s = impasto_image_load(ctx, content_path, &content)) != IMPASTO_OK) goto failed;
    for (int i = 0; i < nstyles; i++)
        if ((s = impasto_image_load(ctx, styles[i], &style_imgs[i])) != IMPASTO_OK) goto failed;
    if (mask_path) {
        if ((s = impasto_image_load(ctx, mask_path, &mask)) != IMPASTO_OK) goto failed;
        cli_mask_aspect_note(CMD, mask, impasto_image_width(content), impasto_image_height(content));
        opt->mask = mask;
    }
    if ((s = impasto_attention(ctx, adain, lst, content, (const impasto_image *const *)style_imgs, (size_t)nstyles, opt,
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
    for (int i = 0; i < nstyles; i++) impasto_image_free(style_imgs[i]);
    impasto_model_free(lst);
    impasto_model_free(adain);
    impasto_ctx_free(ctx);
    cli_inputs_free(&in);
    (void)argc;
    (void)argv;
    return rc;
}

const cli_command CLI_ATTENTION = {
    .name = "attention",
    .summary = "repaint a photo by attention over a painting's VGG features (SANet-like, style swap)",
    .synopsis = "-c CONTENT -s STYLE[,STYLE...] [-o OUT] [options]",
    .description = "Repaints CONTENT with the features of STYLE: each position of the photo's relu4_1 features\n"
                   "(normalised per channel) attends over every N x N patch of the painting's, by a softmax of\n"
                   "cosine scores over --temperature, and takes the attention-weighted mix of the painting's\n"
                   "own features, which the AdaIN decoder paints (SANet's fusion without its learned\n"
                   "projections; --patch 3 --hard is Chen & Schmidt's style swap). --layers relu3_1 attends\n"
                   "at relu3_1 instead (the lst-r31 pair, as wct's second level), relu4_1,relu3_1 at both,\n"
                   "coarse to fine. CONTENT and STYLE may be folders (with one -s): every pair is written to\n"
                   "the folder OUT as <content>_<style>.png.",
    .opts = OPTS,
    .settings_size = sizeof(attention_settings),
    .init = init,
    .run = run,
    .processes = 1,
};
