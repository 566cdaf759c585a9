/* impasto gan train: trains a CycleGAN (Zhu et al. 2017) on two folders of unpaired pictures, or a
 * pix2pix (Isola et al. 2017) on pairs, with junyanz/pytorch-CycleGAN-and-pix2pix's train.py
 * options and defaults (kebab-case: --lambda_A is --lambda-a). Every step's losses go to a CSV
 * file; Ctrl-C writes a checkpoint and exits 130; --resume continues from one. */
#include "opts.h"

#include <limits.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *CMD = "gan train";

/* --discriminator, in the order of its choices. */
#define DISCRIMINATORS "basic|n_layers|pixel"
static const char *const DISCRIMINATOR_NAMES[] = {"basic", "n_layers", "pixel"};

typedef struct gan_settings {
    cli_common common;
    const char *a, *b, *output, *checkpoint_dir, *preview_image, *losses;
    int discriminator;  /* index into DISCRIMINATOR_NAMES */
    int no_dropout;
    int print_every;    /* -1: 10 on a terminal, 0 piped */
    impasto_gan_train_options opt;
} gan_settings;

#define S gan_settings
#define G_NETS "Networks"
#define G_LOSS "Losses"
#define G_RUN "Training"
static const cli_opt OPTS[] = {
    {CLI_G_IO, "model", 0, CLI_CHOICE, offsetof(S, opt.model), NULL, 0, 0, "cyclegan|pix2pix", NULL,
     "cyclegan: two unpaired folders, A <-> B; pix2pix: pairs, A -> B", 0, NULL},
    {CLI_G_IO, "a", 'a', CLI_STRING, offsetof(S, a), "DIR", 0, 0, NULL, NULL,
     "the pictures of domain A, every PNG/JPEG in DIR; for pix2pix the pairs (see --task)", CLI_COMPLETE_DIR, NULL},
    {CLI_G_IO, "b", 'b', CLI_STRING, offsetof(S, b), "DIR", 0, 0, NULL, NULL,
     "cyclegan: the pictures of domain B (unpaired with A's)", CLI_COMPLETE_DIR, NULL},
    {CLI_G_IO, "task", 0, CLI_CHOICE, offsetof(S, opt.pairs), NULL, 0, 0, "ab|colorize|edges", NULL,
     "pix2pix: where the pairs come from: ab, pictures of A and B side by side (A left, an even width, as the "
     "reference's aligned datasets); colorize, photos from their grey; edges, photos from their edges", 0, NULL},
    {CLI_G_IO, "output", 'o', CLI_STRING, offsetof(S, output), "FILE", 0, 0, NULL, NULL,
     "the trained model (.safetensors), what `impasto translate -m` loads", CLI_COMPLETE_FILE, NULL},
    {CLI_G_IO, "losses", 0, CLI_STRING, offsetof(S, losses), "FILE", 0, 0, NULL, "OUT_losses.csv",
     "every step's losses as CSV (step,epoch,lr,<losses>,seconds); a resumed run appends", CLI_COMPLETE_FILE, NULL},
    {CLI_G_IO, "checkpoint-every", 0, CLI_INT, offsetof(S, opt.checkpoint_every), "N", 0, 1e9, NULL, NULL,
     "also write gan_step_<N>.safetensors every N steps (0: only on Ctrl-C)", 0, NULL},
    {CLI_G_IO, "checkpoint-dir", 0, CLI_STRING, offsetof(S, checkpoint_dir), "DIR", 0, 0, NULL,
     "the output's folder", "where checkpoints go", CLI_COMPLETE_DIR, NULL},
    {CLI_G_IO, "resume", 0, CLI_STRING, offsetof(S, opt.resume), "CKPT", 0, 0, NULL, NULL,
     "continue from a checkpoint: the same next steps as a run never stopped (give the same networks and --size)",
     CLI_COMPLETE_FILE, NULL},
    {CLI_G_IO, "preview-every", 0, CLI_INT, offsetof(S, opt.preview_every), "N", 0, 1e9, NULL, NULL,
     "save OUT_preview_<step>.png, the preview translated A -> B, every N steps (0: never)", 0, NULL},
    {CLI_G_IO, "preview-image", 0, CLI_STRING, offsetof(S, preview_image), "FILE", 0, 0, NULL,
     "the first picture of A", "the picture to preview", CLI_COMPLETE_IMAGE, NULL},
    {CLI_G_IO, "print-every", 0, CLI_INT, offsetof(S, print_every), "N", 0, 1e9, NULL, "10 on a terminal, 0 piped",
     "log a line every N steps on stdout", 0, NULL},
    {G_NETS, "generator", 0, CLI_STRING, offsetof(S, opt.generator), "NAME", 0, 0, NULL,
     "resnet_9blocks (cyclegan), unet_256 (pix2pix)",
     "resnet_9blocks, resnet_6blocks, unet_256, unet_128, or any resnet_<n>blocks or unet_<2^k>", 0, NULL},
    {G_NETS, "discriminator", 0, CLI_CHOICE, offsetof(S, discriminator), NULL, 0, 0, DISCRIMINATORS, NULL,
     "basic: the 70x70 PatchGAN; n_layers: --n-layers-d of them; pixel: 1x1", 0, NULL},
    {G_NETS, "n-layers-d", 0, CLI_INT, offsetof(S, opt.n_layers_d), "N", 1, 10, NULL, NULL,
     "the n_layers discriminator's layers", 0, NULL},
    {G_NETS, "ngf", 0, CLI_INT, offsetof(S, opt.ngf), "N", 1, 512, NULL, NULL,
     "the generator's filters in its first layer", 0, NULL},
    {G_NETS, "ndf", 0, CLI_INT, offsetof(S, opt.ndf), "N", 1, 512, NULL, NULL,
     "the discriminator's filters in its first layer", 0, NULL},
    {G_NETS, "norm", 0, CLI_CHOICE, offsetof(S, opt.norm), NULL, 0, 0, "instance|batch|none",
     "instance (cyclegan), batch (pix2pix)", "the normalisation layers", 0, NULL},
    {G_NETS, "dropout", 0, CLI_FLAG, offsetof(S, opt.dropout), NULL, 0, 0, NULL, "off (cyclegan), on (pix2pix)",
     "dropout in the generator (also --dropout=on|off)", 0, NULL},
    {G_NETS, "no-dropout", 0, CLI_FLAG, offsetof(S, no_dropout), NULL, 0, 0, NULL, NULL,
     "no dropout in the generator (the reference's --no_dropout)", 0, NULL},
    {G_LOSS, "gan-mode", 0, CLI_CHOICE, offsetof(S, opt.gan_mode), NULL, 0, 0, "lsgan|vanilla",
     "lsgan (cyclegan), vanilla (pix2pix)", "the adversarial loss: least squares, or the cross-entropy one", 0, NULL},
    {G_LOSS, "lambda-a", 0, CLI_DOUBLE, offsetof(S, opt.lambda_a), "W", 0, 1e6, NULL, NULL,
     "cyclegan: weight of the cycle loss A -> B -> A", 0, NULL},
    {G_LOSS, "lambda-b", 0, CLI_DOUBLE, offsetof(S, opt.lambda_b), "W", 0, 1e6, NULL, NULL,
     "cyclegan: weight of the cycle loss B -> A -> B", 0, NULL},
    {G_LOSS, "lambda-identity", 0, CLI_DOUBLE, offsetof(S, opt.lambda_identity), "W", 0, 1e6, NULL, NULL,
     "cyclegan: weight of the identity loss, times the cycle weight (0: none)", 0, NULL},
    {G_LOSS, "lambda-l1", 0, CLI_DOUBLE, offsetof(S, opt.lambda_l1), "W", 0, 1e6, NULL, NULL,
     "pix2pix: weight of the L1 loss to the true B", 0, NULL},
    {G_RUN, "size", 0, CLI_INT, offsetof(S, opt.crop_size), "N", 16, 4096, NULL, NULL,
     "the training crops' side: a multiple of 4 for resnet generators, of 2^k for unet_<2^k>", 0, NULL},
    {G_RUN, "load-size", 0, CLI_INT, offsetof(S, opt.load_size), "N", 0, 8192, NULL, "N * 286 / 256",
     "pictures are resized to N x N before the random crop", 0, NULL},
    {G_RUN, "no-flip", 0, CLI_FLAG, offsetof(S, opt.no_flip), NULL, 0, 0, NULL, NULL, "no random horizontal flips", 0,
     NULL},
    {G_RUN, "batch-size", 0, CLI_INT, offsetof(S, opt.batch_size), "N", 1, 1024, NULL, NULL,
     "pictures (pairs) per step, every loss their mean; under mpirun shared by the processes (docs/cluster.md)", 0,
     NULL},
    {G_RUN, "pool-size", 0, CLI_INT, offsetof(S, opt.pool_size), "N", 0, 1000, NULL, "50 (cyclegan), 0 (pix2pix)",
     "earlier fakes the discriminators see (0: only the newest)", 0, NULL},
    {G_RUN, "lr", 0, CLI_DOUBLE, offsetof(S, opt.learning_rate), "R", 1e-12, 1, NULL, NULL, "Adam's learning rate", 0,
     NULL},
    {G_RUN, "beta1", 0, CLI_DOUBLE, offsetof(S, opt.beta1), "B", 0, 1, NULL, NULL, "Adam's first momentum", 0, NULL},
    {G_RUN, "epochs", 0, CLI_INT, offsetof(S, opt.epochs), "N", 0, 1e6, NULL, NULL,
     "epochs at the learning rate (an epoch: every picture of the larger folder once)", 0, NULL},
    {G_RUN, "epochs-decay", 0, CLI_INT, offsetof(S, opt.epochs_decay), "N", 0, 1e6, NULL, NULL,
     "then epochs with the learning rate falling linearly to 0", 0, NULL},
    {G_RUN, "steps", 0, CLI_LONG, offsetof(S, opt.steps), "N", 1, 1e9, NULL, "",
     "stop after N steps in all instead (the epochs then split them, decay included)", 0, NULL},
    {G_RUN, "seed", 0, CLI_U64, offsetof(S, opt.seed), "N", 0, CLI_MAX_SEED, NULL, NULL,
     "initialisation, picture order, crops, flips, dropout", 0, NULL},
    CLI_OPTS_COMMON(S),
    CLI_OPT_JSON(S),
    CLI_OPTS_END};
#undef S

static void init(void *p) {
    gan_settings *s = p;
    impasto_gan_train_options_init(&s->opt);
    s->print_every = -1;
}

/* Options that belong to one model only, as in the reference (where the other model's
 * train.py does not know them): given with the other model, they are a mistake, not ignored. */
static const struct {
    const char *name;
    impasto_gan_kind_t model;
} ONE_MODEL_ONLY[] = {
    {"b", IMPASTO_GAN_CYCLEGAN},       {"lambda-a", IMPASTO_GAN_CYCLEGAN}, {"lambda-b", IMPASTO_GAN_CYCLEGAN},
    {"lambda-identity", IMPASTO_GAN_CYCLEGAN}, {"task", IMPASTO_GAN_PIX2PIX}, {"lambda-l1", IMPASTO_GAN_PIX2PIX},
};

/* Returns 0, or EXIT_USAGE after one line. */
static int check_usage(const gan_settings *st) {
    const int cyc = st->opt.model == IMPASTO_GAN_CYCLEGAN;
    for (size_t i = 0; i < sizeof ONE_MODEL_ONLY / sizeof ONE_MODEL_ONLY[0]; i++)
        if (ONE_MODEL_ONLY[i].model != st->opt.model && cli_given(&CLI_GAN_TRAIN, st, ONE_MODEL_ONLY[i].name)) {
            const char *n = ONE_MODEL_ONLY[i].name;
            cli_error(CMD, 1, "%s%s is for --model %s only%s", n[1] ? "--" : "-", n, cyc ? "pix2pix" : "cyclegan",
                      !strcmp(n, "b") ? " (pix2pix learns from pairs, all in -a: see --task)" : "");
            return EXIT_USAGE;
        }
    if (!st->a) {
        cli_error(CMD, 1, cyc ? "no pictures of domain A (-a DIR)" : "no pairs (-a DIR)");
        return EXIT_USAGE;
    }
    if (cyc && !st->b) {
        cli_error(CMD, 1, "a CycleGAN learns from two folders: give domain B's pictures too (-b DIR)");
        return EXIT_USAGE;
    }
    if (!st->output) {
        cli_error(CMD, 1, "no output model (-o FILE.safetensors)");
        return EXIT_USAGE;
    }
    if (st->no_dropout && cli_given(&CLI_GAN_TRAIN, st, "dropout")) {
        cli_error(CMD, 1, "--dropout and --no-dropout contradict each other");
        return EXIT_USAGE;
    }
    return cli_model_output_ok(CMD, st->output) ? 0 : EXIT_USAGE;
}

typedef struct gan_run {
    impasto_ctx *ctx;
    cli_training files;
    cli_progress progress;
    cli_loss_log log;
    long first_step;  /* the step the run started from (resumed runs start later) */
    long step;        /* the last step done */
    long images;      /* pictures this process trained on */
    double sum_seconds;
    int nlosses;      /* its losses, for --json (the library's are gone once it returns) */
    char names[8][32];
    double losses[8];
} gan_run;

static int on_progress(const impasto_gan_progress *p, void *user) {
    gan_run *r = user;
    if (r->first_step < 0) r->first_step = p->step - 1;
    r->step = p->step;
    r->images = p->images;
    r->sum_seconds = p->sum_seconds;
    r->nlosses = p->nlosses < 8 ? p->nlosses : 8;
    for (int i = 0; i < r->nlosses; i++) {
        snprintf(r->names[i], sizeof r->names[i], "%s", p->loss_names[i]);
        r->losses[i] = p->losses[i];
    }
    if (p->preview) cli_training_preview(&r->files, r->ctx, &r->progress, p->step, p->preview);
    if (p->checkpoint) cli_json_string(&r->progress, "checkpoint", p->checkpoint);
    cli_loss_log_step(&r->log, &r->progress, p, r->first_step);
    progress_gan(&r->progress, p, r->first_step);
    return cli_interrupted();
}

/* The run's summary for --json: pictures, steps, the last losses. */
static void json_summary(gan_run *r, const cli_list *a, const cli_list *b) {
    cli_json_number(&r->progress, "pictures_a", (double)a->n);
    if (b->n) cli_json_number(&r->progress, "pictures_b", (double)b->n);
    if (r->log.path) cli_json_string(&r->progress, "losses_csv", r->log.path);
    if (r->step <= 0) return;
    const char *names[8];
    for (int i = 0; i < r->nlosses; i++) names[i] = r->names[i];
    cli_json_number(&r->progress, "steps", (double)r->step);
    cli_json_numbers(&r->progress, "losses", names, r->losses, r->nlosses);
    /* this process's share of the run (all of it alone) */
    cli_json_number(&r->progress, "images", (double)r->images);
    if (cluster_size() > 1) cli_json_number(&r->progress, "sum_seconds", r->sum_seconds);
}

/* Every file the run reads, so that no output is written over one. Returns 0 when out of memory. */
static int add_inputs(cli_inputs *in, const cli_list *a, const cli_list *b, const gan_settings *st) {
    for (size_t i = 0; i < a->n; i++)
        if (!cli_inputs_add(CMD, in, a->path[i])) return 0;
    for (size_t i = 0; i < b->n; i++)
        if (!cli_inputs_add(CMD, in, b->path[i])) return 0;
    return cli_inputs_add(CMD, in, st->preview_image) && cli_inputs_add(CMD, in, st->opt.resume);
}

static int run(void *p, int argc, char **argv) {
    gan_settings *st = p;
    impasto_gan_train_options *opt = &st->opt;
    int rc = check_usage(st);
    if (rc) return rc;
    if (st->no_dropout) opt->dropout = 0;
    opt->discriminator = DISCRIMINATOR_NAMES[st->discriminator];
    char losses[PATH_MAX];
    if (st->losses) snprintf(losses, sizeof losses, "%s", st->losses);
    else cli_sibling_path(st->output, "_losses.csv", losses, sizeof losses);
    const size_t len = strlen(losses);
    if (len <= 4 || strcasecmp(losses + len - 4, ".csv")) {
        cli_error(CMD, 1, "--losses is a table of numbers: name it FILE.csv, got '%s'", losses);
        return EXIT_USAGE;
    }
    cli_list a = {0}, b = {0};
    gan_run r = {.first_step = -1};
    if (cli_training_folder(CMD, "-a folder", st->a, &a) ||
        (st->b && cli_training_folder(CMD, "-b folder", st->b, &b))) {
        cli_list_free(&a);
        return 1;
    }
    cli_inputs in = {0};
    rc = 1;
    if (add_inputs(&in, &a, &b, st)) {
        rc = cli_training_begin(&r.files, CMD, st->output, st->checkpoint_dir, &in);
        if (!rc && !cli_output_not_input(CMD, &in, losses)) rc = EXIT_USAGE;
        if (!rc && !cli_output_folder_ok(CMD, losses)) rc = 1;
    }
    cli_inputs_free(&in);
    impasto_ctx *ctx = rc ? NULL : cli_ctx_create(CMD, &st->common);
    impasto_image *preview = NULL;
    r.ctx = ctx;
    progress_init(&r.progress, st->common.quiet,
                  st->print_every >= 0 ? st->print_every : (isatty(STDOUT_FILENO) ? 10 : 0));
    /* In an MPI job the processes train together (docs/cluster.md); the first writes the files. */
    const int writer = cluster_rank() == 0;
    cli_loss_log_init(&r.log, CMD, writer ? losses : NULL, opt->resume != NULL);
    if (!ctx) {
        if (!rc) rc = 1;  /* out of memory, said by cli_ctx_create */
        goto cleanup;
    }
    if (st->common.json && !cli_json_begin(&r.progress, CMD)) cli_error(CMD, 0, "out of memory for --json");
    impasto_status s;
    if (st->preview_image && (s = impasto_image_load(ctx, st->preview_image, &preview)) != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, s, NULL);
        goto cleanup;
    }
    opt->checkpoint_dir = r.files.checkpoint_dir;
    opt->preview_image = preview;
    opt->progress = on_progress;
    opt->progress_user = &r;
    opt->group = cluster_group();
    rc = 1;
    if (writer && !cli_training_make_dirs(&r.files)) goto cleanup;
    cli_sigint_begin();
    cluster_lockstep(1);
    s = impasto_gan_train(ctx, (const char *const *)a.path, a.n, (const char *const *)b.path, b.n, opt, st->output);
    cli_sigint_end();
    progress_clear(&r.progress);
    json_summary(&r, &a, &b);
    /* Ends every process meets alike (the options, a non-finite step: sums are shared, a cancel:
     * it is agreed) leave the job together, only the first saying why; any other failure leaves
     * the rest waiting, so it ends the job (cluster_lockstep). */
    const int alike = s == IMPASTO_OK || s == IMPASTO_ERR_CANCELLED || s == IMPASTO_ERR_INVALID_ARG ||
                      s == IMPASTO_ERR_NOT_FINITE;
    if (alike) cluster_lockstep(0);
    if (alike && s != IMPASTO_OK && !writer) {
        rc = cli_exit_code(s);
    } else if (s == IMPASTO_ERR_CANCELLED) {
        cli_error(CMD, 0, "interrupted: %s", impasto_ctx_error(ctx));
        rc = EXIT_INTERRUPTED;
    } else if (s != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, s, NULL);
        cli_json_failed(&r.progress, st->a, impasto_ctx_error(ctx));
    } else {
        if (writer) cli_wrote(&r.progress, st->output, 0, 0);
        rc = 0;
    }

cleanup:
    cli_loss_log_close(&r.log);
    cli_training_end(&r.files);
    cli_json_end(&r.progress, rc);
    cli_list_free(&a);
    cli_list_free(&b);
    impasto_image_free(preview);
    impasto_ctx_free(ctx);
    (void)argc;
    (void)argv;
    return rc;
}

const cli_command CLI_GAN_TRAIN = {
    .name = "gan train",
    .summary = "train a CycleGAN or pix2pix picture-to-picture translator",
    .synopsis = "[--model cyclegan] -a A/ -b B/ -o MODEL.safetensors [options]\n"
                "       impasto gan train --model pix2pix -a PAIRS/ [--task ab|colorize|edges] -o MODEL.safetensors "
                "[options]",
    .description = "Trains a CycleGAN (Zhu et al. 2017: two unpaired folders of pictures, A and B, translated\n"
                   "both ways) or a pix2pix (Isola et al. 2017: pairs, A -> B) with the networks, options and\n"
                   "defaults of junyanz/pytorch-CycleGAN-and-pix2pix. The result runs with\n"
                   "`impasto translate -m MODEL`. Every step's losses go to a CSV file (--losses). Ctrl-C writes\n"
                   "a checkpoint and names it; --resume continues from it, and a run resumed takes the same\n"
                   "steps as one never stopped (the same model, byte for byte).",
    .opts = OPTS,
    .settings_size = sizeof(gan_settings),
    .init = init,
    .run = run,
    .processes = 1,
};
