/* impasto train: trains a fast style network (Johnson et al. 2016) on a folder of photos, with
 * the PyTorch examples' fast_neural_style `train` options and defaults (kebab-case). Ctrl-C
 * writes a checkpoint and exits 130; --resume continues from one. */
#include "opts.h"

#include <string.h>
#include <unistd.h>

static const char *CMD = "train";

typedef struct train_settings {
    cli_common common;
    const char *style, *data, *output, *model, *checkpoint_dir, *preview_image, *paintings;
    int print_every;  /* -1: 10 on a terminal, 0 piped */
    impasto_train_options opt;
} train_settings;

static int check_size(const char *cmd, const cli_opt *o, void *f) {
    int v = *(int *)f;
    if (v % 4 == 0) return 1;
    cli_error(cmd, 1, "--image-size must be a multiple of 4, got %d", v);
    return 0;
}

#define S train_settings
#define G_LOSS "Losses"
#define G_RUN "Training"
static const cli_opt OPTS[] = {
    {CLI_G_IO, "style", 's', CLI_STRING, offsetof(S, style), "FILE", 0, 0, NULL, NULL, "the style image",
     CLI_COMPLETE_IMAGE, NULL},
    {CLI_G_IO, "data", 'd', CLI_STRING, offsetof(S, data), "DIR", 0, 0, NULL, NULL,
     "the training photos: every PNG/JPEG in DIR (`make train-data` makes one)", CLI_COMPLETE_DIR, NULL},
    {CLI_G_IO, "output", 'o', CLI_STRING, offsetof(S, output), "FILE", 0, 0, NULL, NULL,
     "the trained model (.safetensors), what `impasto fast -m` loads", CLI_COMPLETE_FILE, NULL},
    {CLI_G_IO, "checkpoint-every", 0, CLI_INT, offsetof(S, opt.checkpoint_every), "N", 0, 1e9, NULL, NULL,
     "also write ckpt_step_<N>.safetensors every N steps (0: only on Ctrl-C)", 0, NULL},
    {CLI_G_IO, "checkpoint-dir", 0, CLI_STRING, offsetof(S, checkpoint_dir), "DIR", 0, 0, NULL, "the output's folder",
     "where checkpoints go", CLI_COMPLETE_DIR, NULL},
    {CLI_G_IO, "resume", 0, CLI_STRING, offsetof(S, opt.resume), "CKPT", 0, 0, NULL, NULL,
     "continue from a checkpoint: the same next steps as a run never stopped", CLI_COMPLETE_FILE, NULL},
    {CLI_G_IO, "preview-every", 0, CLI_INT, offsetof(S, opt.preview_every), "N", 0, 1e9, NULL, NULL,
     "save OUT_preview_<step>.png every N steps (0: never)", 0, NULL},
    {CLI_G_IO, "preview-image", 0, CLI_STRING, offsetof(S, preview_image), "FILE", 0, 0, NULL, "the first photo",
     "the photo to preview", CLI_COMPLETE_IMAGE, NULL},
    {CLI_G_IO, "print-every", 0, CLI_INT, offsetof(S, print_every), "N", 0, 1e9, NULL, "10 on a terminal, 0 piped",
     "log a line every N steps on stdout", 0, NULL},
    CLI_OPT_MODEL(S, model, "the converted VGG-19 (default vgg19)"),
    {G_LOSS, "content-weight", 0, CLI_DOUBLE, offsetof(S, opt.content_weight), "W", 0, 1e20, NULL, NULL,
     "weight of the content loss", 0, NULL},
    {G_LOSS, "style-weight", 0, CLI_DOUBLE, offsetof(S, opt.style_weight), "W", 0, 1e20, NULL, NULL,
     "weight of the style loss (start with 1e8 under impasto's Caffe VGG-19)", 0, NULL},
    {G_LOSS, "content-layers", 0, CLI_STRING, offsetof(S, opt.content_layers), "L,...", 0, 0, NULL, NULL,
     "VGG-19 layers of the content loss", 0, cli_check_layers},
    {G_LOSS, "style-layers", 0, CLI_STRING, offsetof(S, opt.style_layers), "L,...", 0, 0, NULL, NULL,
     "VGG-19 layers of the style loss", 0, cli_check_layers},
    {G_LOSS, "adversarial-weight", 0, CLI_DOUBLE, offsetof(S, opt.adversarial_weight), "W", 0, 1e20, NULL, "0 (off)",
     "add a PatchGAN discriminator's loss (Li & Wand's Markovian GAN on pixels), judging the outputs "
     "against crops of the style image or of --paintings; start near 1e-3 of the step's loss", 0, NULL},
    {G_LOSS, "paintings", 0, CLI_STRING, offsetof(S, paintings), "DIR", 0, 0, NULL, "the style image",
     "what the discriminator calls real: every PNG/JPEG in DIR (with --adversarial-weight)", CLI_COMPLETE_DIR, NULL},
    {G_RUN, "lr", 0, CLI_DOUBLE, offsetof(S, opt.learning_rate), "R", 1e-12, 100, NULL, NULL, "Adam's learning rate",
     0, NULL},
    {G_RUN, "batch-size", 0, CLI_INT, offsetof(S, opt.batch_size), "N", 1, 1024, NULL, NULL, "photos per step", 0,
     NULL},
    {G_RUN, "image-size", 0, CLI_INT, offsetof(S, opt.image_size), "N", 16, 4096, NULL, NULL,
     "photos resized so the shorter side is N, then a random N x N crop (a multiple of 4)", 0, check_size},
    {G_RUN, "style-size", 0, CLI_INT, offsetof(S, opt.style_size), "N", 0, 8192, NULL, "as given",
     "longer side of the style image", 0, NULL},
    {G_RUN, "epochs", 0, CLI_INT, offsetof(S, opt.epochs), "N", 1, 1e6, NULL, NULL, "passes over the photos", 0, NULL},
    {G_RUN, "steps", 0, CLI_LONG, offsetof(S, opt.steps), "N", 1, 1e9, NULL, "", "stop after N steps in all instead",
     0, NULL},
    {G_RUN, "seed", 0, CLI_U64, offsetof(S, opt.seed), "N", 0, CLI_MAX_SEED, NULL, NULL,
     "initialisation, photo order and crops", 0, NULL},
    CLI_OPTS_COMMON(S),
    CLI_OPT_JSON(S),
    CLI_OPTS_END};
#undef S

static void init(void *p) {
    train_settings *s = p;
    impasto_train_options_init(&s->opt);
    s->print_every = -1;
}

typedef struct run_state {
    impasto_ctx *ctx;
    cli_training files;
    cli_progress progress;
    long first_step;                /* the step the run started from (resumed runs start later) */
    impasto_train_progress last;    /* the last step's numbers, for --json */
} run_state;

static int on_progress(const impasto_train_progress *p, void *user) {
    run_state *rs = user;
    if (rs->first_step < 0) rs->first_step = p->step - 1;
    rs->last = *p;
    rs->last.checkpoint = NULL;
    rs->last.preview = NULL;
    if (p->preview) cli_training_preview(&rs->files, rs->ctx, &rs->progress, p->step, p->preview);
    if (p->checkpoint) cli_json_string(&rs->progress, "checkpoint", p->checkpoint);
    progress_train(&rs->progress, p, rs->first_step);
    return cli_interrupted();
}

static int run(void *p, int argc, char **argv) {
    train_settings *st = p;
    impasto_train_options *opt = &st->opt;
    const char *output = st->output;
    if (!st->style) { cli_error(CMD, 1, "no style image (-s FILE)"); return EXIT_USAGE; }
    if (!st->data) { cli_error(CMD, 1, "no photo folder (-d DIR; `make train-data` makes one)"); return EXIT_USAGE; }
    if (!output) { cli_error(CMD, 1, "no output model (-o FILE.safetensors)"); return EXIT_USAGE; }
    if (!cli_model_output_ok(CMD, output)) return EXIT_USAGE;
    char model_path[4096];
    if (!cli_find_model(CMD, st->model, "vgg19", 0, model_path, sizeof model_path)) return 1;
    run_state rs = {.first_step = -1};
    cli_inputs in = {0};
    int rc = 1;
    if (cli_inputs_add(CMD, &in, model_path) && cli_inputs_add(CMD, &in, st->style) &&
        cli_inputs_add(CMD, &in, st->preview_image) && cli_inputs_add(CMD, &in, opt->resume))
        rc = cli_training_begin(&rs.files, CMD, output, st->checkpoint_dir, &in);
    cli_inputs_free(&in);
    if (rc) return rc;
    opt->checkpoint_dir = rs.files.checkpoint_dir;
    if (st->paintings && !(opt->adversarial_weight > 0)) {
        cli_error(CMD, 1, "--paintings is for --adversarial-weight W (W > 0)");
        return EXIT_USAGE;
    }
    cli_list photos, paintings = {0};
    if (cli_training_folder(CMD, "photo folder", st->data, &photos)) return 1;
    if (st->paintings && cli_training_folder(CMD, "paintings folder", st->paintings, &paintings)) {
        cli_list_free(&photos);
        return 1;
    }
    opt->paintings = (const char *const *)paintings.path;
    opt->npaintings = paintings.n;
    impasto_ctx *ctx = cli_ctx_create(CMD, &st->common);
    impasto_model *vgg = NULL;
    impasto_image *style = NULL, *preview = NULL;
    rs.ctx = ctx;
    progress_init(&rs.progress, st->common.quiet,
                  st->print_every >= 0 ? st->print_every : (isatty(STDOUT_FILENO) ? 10 : 0));
    if (st->common.json && !cli_json_begin(&rs.progress, CMD)) cli_error(CMD, 0, "out of memory for --json");
    rc = 1;
    if (!ctx) goto cleanup;
    impasto_status s;
    if ((s = impasto_image_load(ctx, st->style, &style)) != IMPASTO_OK ||
        (st->preview_image && (s = impasto_image_load(ctx, st->preview_image, &preview)) != IMPASTO_OK) ||
        (s = impasto_model_load(ctx, model_path, &vgg)) != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, s, NULL);
        goto cleanup;
    }
    /* The style's name: its file name without folder or extension. */
    char name[128];
    const char *base = strrchr(st->style, '/');
    base = base ? base + 1 : st->style;
    snprintf(name, sizeof name, "%.*s", (int)(strchr(base, '.') ? strchr(base, '.') - base : (long)strlen(base)), base);
    opt->style_name = name;
    opt->preview_image = preview;
    opt->progress = on_progress;
    opt->progress_user = &rs;
    /* In an MPI job the processes train together (docs/cluster.md); the first writes the files. */
    opt->group = cluster_group();
    if (cluster_rank() == 0 && !cli_training_make_dirs(&rs.files)) goto cleanup;
    cli_sigint_begin();
    cluster_lockstep(1);
    s = impasto_train(ctx, vgg, style, (const char *const *)photos.path, photos.n, opt, output);
    cli_sigint_end();
    progress_clear(&rs.progress);
    cli_json_number(&rs.progress, "photos", (double)photos.n);
    if (rs.last.step > 0) {
        cli_json_number(&rs.progress, "steps", rs.last.step);
        cli_json_number(&rs.progress, "loss", rs.last.loss);
        cli_json_number(&rs.progress, "content_loss", rs.last.content_loss);
        cli_json_number(&rs.progress, "style_loss", rs.last.style_loss);
        if (opt->adversarial_weight > 0) {
            cli_json_number(&rs.progress, "adversarial_loss", rs.last.adversarial_loss);
            cli_json_number(&rs.progress, "discriminator_loss", rs.last.discriminator_loss);
        }
        /* this process's share of the run (all of it alone) */
        cli_json_number(&rs.progress, "images", (double)rs.last.images);
        if (cluster_size() > 1) cli_json_number(&rs.progress, "sum_seconds", rs.last.sum_seconds);
    }
    /* Ends every process of a job meets alike (the options, a NaN loss: the losses are summed, a
     * cancel: it is agreed) leave it together, and only the first says why; any other failure
     * leaves the rest waiting, so it ends the job (cluster_lockstep). */
    const int alike = s == IMPASTO_OK || s == IMPASTO_ERR_CANCELLED || s == IMPASTO_ERR_INVALID_ARG ||
                      s == IMPASTO_ERR_NOT_FINITE;
    if (alike) cluster_lockstep(0);
    if (alike && s != IMPASTO_OK && cluster_rank() != 0) {
        rc = cli_exit_code(s);
    } else if (s == IMPASTO_ERR_CANCELLED) {
        cli_error(CMD, 0, "interrupted: %s", impasto_ctx_error(ctx));
        rc = EXIT_INTERRUPTED;
    } else if (s != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, s, NULL);
        cli_json_failed(&rs.progress, st->data, impasto_ctx_error(ctx));
    } else {
        if (cluster_rank() == 0) cli_wrote(&rs.progress, output, 0, 0);
        rc = 0;
    }

cleanup:
    cli_training_end(&rs.files);
    cli_json_end(&rs.progress, rc);
    cli_list_free(&photos);
    cli_list_free(&paintings);
    impasto_image_free(style);
    impasto_image_free(preview);
    impasto_model_free(vgg);
    impasto_ctx_free(ctx);
    (void)argc;
    (void)argv;
    return rc;
}

const cli_command CLI_TRAIN = {
    .name = "train",
    .summary = "train a fast style network on a folder of photos (Johnson et al.)",
    .synopsis = "-s STYLE -d PHOTOS/ -o MODEL.safetensors [options]",
    .description = "Trains a fast style network (Johnson et al. 2016, the PyTorch examples' fast_neural_style)\n"
                   "to repaint photos in the style of STYLE, on every PNG/JPEG in the folder PHOTOS\n"
                   "(`make train-data` assembles one). The result runs with `impasto fast -m MODEL`. Ctrl-C\n"
                   "writes a checkpoint and names it; --resume continues from it.",
    .opts = OPTS,
    .settings_size = sizeof(train_settings),
    .init = init,
    .run = run,
    .processes = 1,
};
