/* impasto translate: a CycleGAN or pix2pix generator over a picture, or over every PNG/JPEG in a
 * folder (one output per input, same file name), as the reference's test.py: A -> B, or B -> A
 * with a CycleGAN's second generator. */
#include "opts.h"

#include <string.h>

static const char *CMD = "translate";

typedef struct translate_settings {
    cli_common common;
    const char *model, *content, *output;
    impasto_translate_options opt;
} translate_settings;

#define S translate_settings
static const cli_opt OPTS[] = {
    CLI_OPT_CONTENT_OR_FOLDER(S, content),
    CLI_OPT_OUTPUT_OR_FOLDER(S, output, "for a folder, the output folder (same file names)"),
    CLI_OPT_MODEL(S, model, "a model of `impasto gan train` (CycleGAN or pix2pix) or a converted generator"),
    {CLI_G_MODEL, "direction", 0, CLI_CHOICE, offsetof(S, opt.direction), NULL, 0, 0, "AtoB|BtoA", NULL,
     "which way: BtoA needs a CycleGAN (it has both generators)", 0, NULL},
    {CLI_G_MODEL, "eval", 0, CLI_FLAG, offsetof(S, opt.eval_mode), NULL, 0, 0, NULL, NULL,
     "batch norm from its running statistics and no dropout, as test.py --eval (default: the picture's own "
     "statistics and dropout on, as test.py without it)", 0, NULL},
    {CLI_G_MODEL, "seed", 0, CLI_U64, offsetof(S, opt.seed), "N", 0, CLI_MAX_SEED, NULL, NULL,
     "dropout's draws (pix2pix without --eval)", 0, NULL},
    {CLI_G_SIZES, "size", 0, CLI_INT, offsetof(S, opt.size), "N", 0, IMPASTO_MAX_SIDE, NULL, NULL,
     "resize the picture so its longer side is N first (the output has that size; 0 keeps it)", 0, NULL},
    CLI_OPTS_COMMON(S),
    CLI_OPT_JSON(S),
    CLI_OPTS_END};
#undef S

static void init(void *p) {
    translate_settings *s = p;
    impasto_translate_options_init(&s->opt);
}

typedef struct translate_job {
    impasto_gan_model *model;
    const impasto_translate_options *opt;
} translate_job;

static impasto_status run_one(void *user, impasto_ctx *ctx, const impasto_image *content, const impasto_image *style,
                              impasto_image **out) {
    const translate_job *j = user;
    (void)style;
    return impasto_translate(ctx, j->model, content, j->opt, out);
}

static int run(void *p, int argc, char **argv) {
    translate_settings *st = p;
    const char *content = st->content, *output = st->output;
    if (!st->model) { cli_error(CMD, 1, "no model (-m NAME or FILE, from `impasto gan train`)"); return EXIT_USAGE; }
    if (!content) { cli_error(CMD, 1, "no picture (-c FILE or folder)"); return EXIT_USAGE; }
    int rc = cli_one_or_folder_check(CMD, content, &output);
    if (rc) return rc;
    char model_path[4096];
    if (!cli_find_model(CMD, st->model, NULL, 0, model_path, sizeof model_path)) return 1;
    cli_inputs in = {0};
    impasto_ctx *ctx = cli_inputs_add(CMD, &in, model_path) ? cli_ctx_create(CMD, &st->common) : NULL;
    if (!ctx) {
        cli_inputs_free(&in);
        return 1;
    }
    impasto_gan_model *m = NULL;
    cli_progress progress;
    progress_init(&progress, st->common.quiet, 0);
    if (st->common.json && !cli_json_begin(&progress, CMD)) cli_error(CMD, 0, "out of memory for --json");
    cli_sigint_begin();
    impasto_status s = impasto_gan_load(ctx, model_path, &m);
    if (s != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, s, NULL);
    } else if (st->opt.direction == IMPASTO_B_TO_A && !impasto_gan_has_reverse(m)) {
        /* Said once here, rather than once for every picture of a folder. */
        cli_error(CMD, 1, "%s is a %s model: it translates only A to B (--direction BtoA needs a CycleGAN)",
                  model_path, impasto_gan_kind(m));
        rc = EXIT_USAGE;
    } else {
        translate_job job = {m, &st->opt};
        cli_batch b = {.cmd = CMD, .content = content, .outdir = output, .inputs = &in, .fn = run_one,
                       .user = &job, .progress = &progress};
        rc = cli_one_or_folder_run(ctx, &b);
    }
    cli_sigint_end();
    if (m) {
        cli_json_string(&progress, "model", impasto_gan_kind(m));
        cli_json_string(&progress, "generator", impasto_gan_generator(m));
        cli_json_string(&progress, "direction", st->opt.direction == IMPASTO_B_TO_A ? "BtoA" : "AtoB");
    }
    cli_json_end(&progress, rc);
    impasto_gan_free(m);
    impasto_ctx_free(ctx);
    cli_inputs_free(&in);
    (void)argc;
    (void)argv;
    return rc;
}

const cli_command CLI_TRANSLATE = {
    .name = "translate",
    .summary = "translate pictures with a CycleGAN or pix2pix model (horse -> zebra, edges -> photo)",
    .synopsis = "-m MODEL -c PICTURE [-o OUT] [--direction AtoB|BtoA] [options]",
    .description = "Runs the generator of a model trained by `impasto gan train` (CycleGAN: A -> B, or B -> A\n"
                   "with --direction BtoA; pix2pix: A -> B) over PICTURE, as junyanz/pytorch-CycleGAN-and-pix2pix's\n"
                   "test.py. The output has the picture's size (alpha carried over). PICTURE may be a folder: then\n"
                   "every PNG and JPEG in it is translated into the folder OUT under the same file name.",
    .opts = OPTS,
    .settings_size = sizeof(translate_settings),
    .init = init,
    .run = run,
    .processes = 1,
};
