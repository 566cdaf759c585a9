/* impasto transfer: neural-style's options (kebab-case, same meanings and defaults) on top of
 * impasto_transfer(). */
#include "opts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *CMD = "transfer";

typedef struct transfer_settings {
    cli_common common;
    const char *content, *output, *model, *init_image;
    cli_paths styles;
    cli_paths masks;  /* --mask: one mask of gray levels, or one soft mask per style */
    cli_numbers blend, layer_weights, iterations, scales;
    int print_iter;  /* -1: 50 on a terminal, 0 piped */
    impasto_transfer_options opt;
} transfer_settings;

#define S transfer_settings
#define G_LOSS "Losses"
#define G_OPT "Optimisation"
static const cli_opt OPTS[] = {
    {CLI_G_IO, "content", 'c', CLI_STRING, offsetof(S, content), "FILE|DIR", 0, 0, NULL, NULL,
     "the photo (PNG or JPEG; EXIF orientation applied; alpha carried to the output), or a folder of them",
     CLI_COMPLETE_IMAGE, NULL},
    {CLI_G_IO, "style", 's', CLI_PATHS, offsetof(S, styles), "FILE[,FILE...]", 0, 0, NULL, NULL,
     "style image(s); repeat -s or give a comma list to blend several", CLI_COMPLETE_IMAGE, NULL},
    {CLI_G_IO, "mask", 0, CLI_PATHS, offsetof(S, masks), "FILE[,FILE...]", 0, 0, NULL, NULL,
     "spatial control (guided Gram matrices): one FILE whose gray levels, darkest first, each take their own -s "
     "style (a PNG), or one soft mask per style (white: that style)", CLI_COMPLETE_IMAGE, NULL},
    {CLI_G_IO, "output", 'o', CLI_STRING, offsetof(S, output), "FILE|DIR", 0, 0, NULL, "out.png",
     ".png or .jpg, written atomically; for a folder, the output folder", CLI_COMPLETE_FILE, NULL},
    {CLI_G_IO, "init-image", 0, CLI_STRING, offsetof(S, init_image), "FILE", 0, 0, NULL, NULL,
     "start from this picture (implies --init image)", CLI_COMPLETE_IMAGE, NULL},
    {CLI_G_IO, "print-iter", 0, CLI_INT, offsetof(S, print_iter), "N", 0, 1000000, NULL, "50 on a terminal, 0 piped",
     "log a line every N iterations on stdout", 0, NULL},
    {CLI_G_IO, "save-iter", 0, CLI_INT, offsetof(S, opt.save_iter), "N", 0, 1000000, NULL, NULL,
     "save OUT_<iteration> every N iterations (0: never)", 0, NULL},
    CLI_OPT_MODEL(S, model, "the converted VGG-19 (default vgg19)"),
    {CLI_G_SIZES, "image-size", 0, CLI_INT, offsetof(S, opt.image_size), "N", 16, IMPASTO_MAX_SIDE, NULL, NULL,
     "longest side of the output", 0, NULL},
    {CLI_G_SIZES, "scales", 0, CLI_LIST, offsetof(S, scales), "A,B,...", 16, IMPASTO_MAX_SIDE, NULL, NULL,
     "coarse to fine, e.g. 256,512,1024: each scale starts from the last result", 0, NULL},
    {CLI_G_SIZES, "style-scale", 0, CLI_DOUBLE, offsetof(S, opt.style_scale), "S", 1e-3, 16, NULL, NULL,
     "style images are resized to image-size x S", 0, NULL},
    {G_LOSS, "content-weight", 0, CLI_DOUBLE, offsetof(S, opt.content_weight), "W", 0, 1e12, NULL, NULL,
     "weight of the content loss", 0, NULL},
    {G_LOSS, "style-weight", 0, CLI_DOUBLE, offsetof(S, opt.style_weight), "W", 0, 1e12, NULL, NULL,
     "weight of the style loss", 0, NULL},
    {G_LOSS, "tv-weight", 0, CLI_DOUBLE, offsetof(S, opt.tv_weight), "W", 0, 1e12, NULL, NULL,
     "total-variation smoothing", 0, NULL},
    {G_LOSS, "style-blend-weights", 0, CLI_LIST, offsetof(S, blend), "W,...", 0, 1e9, NULL, "equal",
     "one per style image, normalised to sum 1", 0, NULL},
    {G_LOSS, "content-layers", 0, CLI_STRING, offsetof(S, opt.content_layers), "L,...", 0, 0, NULL, NULL,
     "any of conv1_1 ... relu5_4, pool1 ... pool5", 0, cli_check_layers},
    {G_LOSS, "style-layers", 0, CLI_STRING, offsetof(S, opt.style_layers), "L,...", 0, 0, NULL, NULL,
     "the layers whose Gram matrices are matched",
     0, cli_check_layers},
    {G_LOSS, "style-layer-weights", 0, CLI_LIST, offsetof(S, layer_weights), "W,...", 0, 1e12, NULL, "1 each",
     "multiplies --style-weight per style layer", 0, NULL},
    {G_LOSS, "pooling", 0, CLI_CHOICE, offsetof(S, opt.pooling), NULL, 0, 0, "max|avg", NULL, "VGG's pooling", 0, NULL},
    {G_LOSS, "original-colors", 0, CLI_FLAG, offsetof(S, opt.original_colors), NULL, 0, 0, NULL, NULL,
     "keep the photo's colours (luminance-only transfer)", 0, NULL},
    {G_LOSS, "normalize-gradients", 0, CLI_FLAG, offsetof(S, opt.normalize_gradients), NULL, 0, 0, NULL, NULL,
     "divide each loss's gradient by its L1 norm", 0, NULL},
    {G_OPT, "num-iterations", 0, CLI_LIST, offsetof(S, iterations), "N[,N...]", 0, 1000000, NULL, NULL,
     "per scale; with --scales, one number for all or one per scale", 0, NULL},
    {G_OPT, "init", 0, CLI_CHOICE, offsetof(S, opt.init), NULL, 0, 0, "random|image", NULL,
     "start from noise or from the photo", 0, NULL},
    {G_OPT, "seed", 0, CLI_I64, offsetof(S, opt.seed), "N", -1, CLI_MAX_SEED, NULL, NULL, "-1: from the clock", 0, NULL},
    {G_OPT, "optimizer", 0, CLI_CHOICE, offsetof(S, opt.optimizer), NULL, 0, 0, "lbfgs|adam", NULL,
     "L-BFGS (neural-style's) or Adam", 0, NULL},
    {G_OPT, "learning-rate", 0, CLI_DOUBLE, offsetof(S, opt.learning_rate), "R", 1e-12, 1e9, NULL, NULL,
     "Adam's step size", 0, NULL},
    {G_OPT, "lbfgs-history", 0, CLI_INT, offsetof(S, opt.lbfgs_history), "N", 1, 1000, NULL, NULL,
     "L-BFGS corrections kept", 0, NULL},
    {G_OPT, "line-search", 0, CLI_FLAG, offsetof(S, opt.lbfgs_line_search), NULL, 0, 0, NULL, NULL,
     "L-BFGS with a strong Wolfe line search (neural-style uses none)", 0, NULL},
    {CLI_G_TILING, "memory", 0, CLI_INT, offsetof(S, opt.memory_mb), "MB", 0, 1 << 24, NULL, "no bound",
     "the working memory each scale keeps to: tiles and a shorter L-BFGS history when it must", 0, NULL},
    {CLI_G_TILING, "tile", 0, CLI_INT, offsetof(S, opt.tile), "N", 0, IMPASTO_MAX_SIDE, NULL, "automatic",
     "run VGG-19 in N x N tiles (a multiple of 16, >= 32); 0 never tiles; automatic: only over --memory", 0, NULL},
    {CLI_G_TILING, "tiling", 0, CLI_CHOICE, offsetof(S, opt.tiling), NULL, 0, 0, "exact|random", NULL,
     "exact: the whole picture's gradient; random: no halo, a random cut each iteration (approximate)", 0, NULL},
    CLI_OPTS_COMMON(S),
    CLI_OPT_JSON(S),
    CLI_OPTS_END};
#undef S

static void init(void *p) {
    transfer_settings *s = p;
    impasto_transfer_options_init(&s->opt);
    s->print_iter = -1;
    s->iterations.n = 1;
    s->iterations.v[0] = s->opt.num_iterations;
}

typedef struct run_state {
    impasto_ctx *ctx;
    cli_progress progress;
    const char *output;
    int save_failed;
    int multi_scale;
    int requested_history;
    int noted_scale;        /* the last scale whose tiling was told (-1: none) */
    impasto_progress last;  /* the last iteration's numbers, for --json */
} run_state;

/* "out.png" + iteration 100 -> "out_100.png" (with scales: "out_512px_100.png"). */
static void numbered_path(const char *output, const char *tag, char *buf, size_t n) {
    const char *slash = strrchr(output, '/');
    const char *dot = strrchr(output, '.');
    if (!dot || (slash && dot < slash)) dot = output + strlen(output);
    snprintf(buf, n, "%.*s_%s%s", (int)(dot - output), output, tag, dot);
}

static int on_progress(const impasto_progress *p, void *user) {
    run_state *rs = user;
    if (p->scale_index != rs->noted_scale && !rs->progress.quiet) {
        /* Once per scale: how the memory budget is met, when it changes anything. */
        rs->noted_scale = p->scale_index;
        int asked = rs->requested_history < p->num_iterations ? rs->requested_history : p->num_iterations;
        int shorter = p->lbfgs_history > 0 && p->lbfgs_history < asked;
        if (p->num_tiles > 1 || shorter) {
            progress_clear(&rs->progress);
            fprintf(stderr, "%dx%d: %d tile%s", p->width, p->height, p->num_tiles, p->num_tiles > 1 ? "s" : "");
            if (p->lbfgs_history > 0) fprintf(stderr, ", L-BFGS history %d%s", p->lbfgs_history, shorter ? " (shortened to fit --memory)" : "");
            fputc('\n', stderr);
        }
    }
    if (p->tile_runs > 0) {
        /* inside a tiled evaluation: the live line only */
        progress_update(&rs->progress, p);
        return cli_interrupted();
    }
    rs->last = *p;
    rs->last.image = NULL;
    progress_update(&rs->progress, p);
    if (p->image) {
        char tag[64], path[4096];
        if (rs->multi_scale) snprintf(tag, sizeof tag, "%dpx_%d", p->width > p->height ? p->width : p->height, p->iteration);
        else snprintf(tag, sizeof tag, "%d", p->iteration);
        numbered_path(rs->output, tag, path, sizeof path);
        if (impasto_image_save(rs->ctx, p->image, path, 0) != IMPASTO_OK && !rs->save_failed) {
            progress_clear(&rs->progress);
            cli_error(CMD, 0, "warning: %s", impasto_ctx_error(rs->ctx));
            rs->save_failed = 1;
        }
    }
    return cli_interrupted();
}

static impasto_image *load_or_report(impasto_ctx *ctx, const char *path) {
    impasto_image *img = NULL;
    impasto_status s = impasto_image_load(ctx, path, &img);
    if (s != IMPASTO_OK) cli_fail(CMD, ctx, s, path);
    return img;
}

/* --mask: the mask of gray levels (opt->mask) or the soft masks (opt->style_masks) into masks[];
 * a mask of another shape than the content is stretched over it, and the user is told so. 0 after
 * printing why not. */
static int load_masks(impasto_ctx *ctx, transfer_settings *st, const impasto_image *content, impasto_image **masks) {
    for (int i = 0; i < st->masks.n; i++) {
        if (!(masks[i] = load_or_report(ctx, st->masks.v[i]))) return 0;
        const double cw = impasto_image_width(content), ch = impasto_image_height(content);
        const double mw = impasto_image_width(masks[i]), mh = impasto_image_height(masks[i]);
        if (fabs(mw / mh - cw / ch) > 0.01 * (cw / ch) && !st->common.quiet)
            cli_error(CMD, 0, "warning: the mask %s (%.0fx%.0f) has another shape than the content (%.0fx%.0f): it "
                      "is stretched over it", st->masks.v[i], mw, mh, cw, ch);
    }
    if (st->masks.n == 1) st->opt.mask = masks[0];
    else if (st->masks.n > 1) st->opt.style_masks = (const impasto_image *const *)masks;
    return 1;
}

/* The checks that need several options together; 0 after printing why not. */
static int check_settings(const cli_command *c, transfer_settings *st) {
    impasto_transfer_options *opt = &st->opt;
    /* Whichever came last, the two say opposite things: refuse rather than guess. */
    if (st->init_image && cli_given(c, st, "init") && opt->init == IMPASTO_INIT_RANDOM) {
        cli_error(CMD, 1, "--init random conflicts with --init-image (which starts from that picture)");
        return 0;
    }
    if (st->init_image) opt->init = IMPASTO_INIT_IMAGE;
    const char *output = st->output ? st->output : "out.png";
    if (!st->content) { cli_error(CMD, 1, "no content image (-c FILE)"); return 0; }
    if (!cli_is_dir(st->content) && !cli_output_format_ok(CMD, output)) return 0;
    if (st->styles.n == 0) { cli_error(CMD, 1, "no style image (-s FILE)"); return 0; }
    if (st->blend.n && st->blend.n != st->styles.n) {
        cli_error(CMD, 1, "--style-blend-weights has %d values for %d style images", st->blend.n, st->styles.n);
        return 0;
    }
    if (st->blend.n) opt->style_blend_weights = st->blend.v;
    if (st->masks.n && st->blend.n) {
        cli_error(CMD, 1, "--mask gives each style its own region: no --style-blend-weights");
        return 0;
    }
    if (st->masks.n > 1 && st->masks.n != st->styles.n) {
        cli_error(CMD, 1, "--mask has %d files for %d style images (give one mask of gray levels, or one soft mask "
                  "per style)", st->masks.n, st->styles.n);
        return 0;
    }
    if (st->layer_weights.n) {
        /* Counted as the library splits the list (commas or spaces, empty items skipped), so the
         * library never reads a weight past the ones given. */
        int nlayers = 0;
        for (const char *p = opt->style_layers; *p; p++)
            nlayers += *p != ',' && *p != ' ' && (p == opt->style_layers || p[-1] == ',' || p[-1] == ' ');
        if (st->layer_weights.n != nlayers) {
            cli_error(CMD, 1, "--style-layer-weights has %d values for %d style layers", st->layer_weights.n, nlayers);
            return 0;
        }
        if (st->layer_weights.n > IMPASTO_MAX_LAYERS) {
            cli_error(CMD, 1, "--style-layer-weights takes at most %d values", IMPASTO_MAX_LAYERS);
            return 0;
        }
        opt->style_layer_weights = st->layer_weights.v;
    }
    if (st->scales.n > IMPASTO_MAX_SCALES) {
        cli_error(CMD, 1, "--scales takes at most %d values", IMPASTO_MAX_SCALES);
        return 0;
    }
    for (int i = 0; i < st->scales.n; i++) {
        opt->scales[i] = (int)st->scales.v[i];
        if (opt->scales[i] != st->scales.v[i] || (i && st->scales.v[i] < st->scales.v[i - 1])) {
            cli_error(CMD, 1, "--scales takes whole sizes from coarse to fine");
            return 0;
        }
    }
    opt->num_scales = st->scales.n;
    const cli_numbers *its = &st->iterations;
    for (int i = 0; i < its->n; i++)
        if (its->v[i] != (int)its->v[i]) {
            cli_error(CMD, 1, "--num-iterations takes whole numbers");
            return 0;
        }
    if (its->n > 1 && its->n != opt->num_scales) {
        cli_error(CMD, 1, "--num-iterations has %d values for %d scales (give one, or one per scale)", its->n,
                  opt->num_scales);
        return 0;
    }
    opt->num_iterations = (int)its->v[0];
    for (int i = 0; its->n > 1 && i < its->n; i++) opt->scale_iterations[i] = (int)its->v[i];
    if (opt->num_scales) opt->image_size = opt->scales[opt->num_scales - 1];
    if (opt->tile > 0 && (opt->tile < 32 || opt->tile % 16 != 0)) {
        cli_error(CMD, 1, "--tile takes 0 or a multiple of 16 of at least 32, not %d", opt->tile);
        return 0;
    }
    return 1;
}

/* ---- -c DIR: every photo of the folder with the same styles (cli_batch_run) ---------------- */

typedef struct folder_job {
    run_state *rs;
    const impasto_model *vgg;
    const impasto_image *const *styles;
    size_t nstyles;
    impasto_transfer_options *opt;
    const char *outdir;
    const char *out_now;  /* the output being made (cli_batch.out_now) */
} folder_job;

/* One photo of the folder: its intermediate pictures (--save-iter) and, at Ctrl-C, the picture so
 * far are written beside its output, as for one photo. */
static impasto_status folder_item(void *user, impasto_ctx *ctx, const impasto_image *content, const impasto_image *style,
                                  impasto_image **out) {
    folder_job *j = user;
    run_state *rs = j->rs;
    rs->output = j->out_now;
    rs->noted_scale = -1;
    rs->save_failed = 0;
    if (j->opt->save_iter > 0 && !cli_is_dir(j->outdir)) mkdir(j->outdir, 0777);
    impasto_status s = impasto_transfer(ctx, j->vgg, content, j->styles, j->nstyles, j->opt, out);
    if (s == IMPASTO_ERR_CANCELLED && *out) {
        char path[4096];
        numbered_path(j->out_now, "interrupted", path, sizeof path);
        progress_clear(&rs->progress);
        if ((cli_is_dir(j->outdir) || mkdir(j->outdir, 0777) == 0) && impasto_image_save(ctx, *out, path, 0) == IMPASTO_OK)
            cli_error(CMD, 0, "interrupted; the picture so far of %s is in %s", j->out_now, path);
        impasto_image_free(*out);
        *out = NULL;
    }
    (void)style;
    return s;
}

static int run_folder(transfer_settings *st, impasto_ctx *ctx, run_state *rs, const impasto_model *vgg,
                      const impasto_image *const *styles, cli_inputs *in) {
    folder_job job = {rs, vgg, styles, (size_t)st->styles.n, &st->opt, st->output, NULL};
    cli_batch b = {.cmd = CMD, .content = st->content, .style = NULL, .outdir = st->output, .inputs = in,
                   .fn = folder_item, .user = &job, .progress = &rs->progress, .out_now = &job.out_now};
    cli_sigint_begin();
    int rc = cli_batch_run(ctx, &b);
    cli_sigint_end();
    return rc;
}

static int run(void *p, int argc, char **argv) {
    transfer_settings *st = p;
    impasto_transfer_options *opt = &st->opt;
    if (!check_settings(&CLI_TRANSFER, st)) return EXIT_USAGE;
    const char *output = st->output ? st->output : "out.png", *content_path = st->content;
    const int nstyles = st->styles.n, folder = cli_is_dir(content_path);
    if (folder) {
        int r;
        if (!st->output) { cli_error(CMD, 1, "-c is a folder: give an output folder (-o DIR)"); return EXIT_USAGE; }
        if (st->init_image) { cli_error(CMD, 1, "--init-image is one picture; -c is a folder of photos"); return EXIT_USAGE; }
        if ((r = cli_batch_check(CMD, content_path, NULL, output)) != 0) return r;
        /* Intermediate pictures of every photo only when asked for. */
        if (!cli_given(&CLI_TRANSFER, st, "save-iter")) opt->save_iter = 0;
    } else if (cli_one_process(CMD)) {
        return EXIT_USAGE;
    }
    char model_path[4096];
    if (!cli_find_model(CMD, st->model, "vgg19", 0, model_path, sizeof model_path)) return 1;
    cli_inputs in = {0};
    int rc = 1, ok = cli_inputs_add(CMD, &in, model_path) && cli_inputs_add(CMD, &in, content_path) &&
                     cli_inputs_add(CMD, &in, st->init_image);
    for (int i = 0; ok && i < nstyles; i++) ok = cli_inputs_add(CMD, &in, st->styles.v[i]);
    for (int i = 0; ok && i < st->masks.n; i++) ok = cli_inputs_add(CMD, &in, st->masks.v[i]);
    if (ok && !folder && (rc = cli_output_check(CMD, &in, output)) != 0) ok = 0;
    if (!folder) cli_inputs_free(&in);
    impasto_ctx *ctx = ok ? cli_ctx_create(CMD, &st->common) : NULL;
    if (!ctx) {
        cli_inputs_free(&in);
        return rc ? rc : 1;
    }
    rc = 1;
    impasto_model *vgg = NULL;
    impasto_image *content = NULL, *init_img = NULL, *result = NULL;
    impasto_image *style_imgs[CLI_MAX_STYLES] = {0}, *masks[CLI_MAX_STYLES] = {0};
    run_state rs = {.ctx = ctx, .output = output, .multi_scale = opt->num_scales > 1,
                    .requested_history = opt->lbfgs_history, .noted_scale = -1};
    progress_init(&rs.progress, st->common.quiet,
                  st->print_iter >= 0 ? st->print_iter : (isatty(STDERR_FILENO) ? 50 : 0));
    if (st->common.json && !cli_json_begin(&rs.progress, CMD)) cli_error(CMD, 0, "out of memory for --json");
    impasto_status s;

    if (!folder && !(content = load_or_report(ctx, content_path))) goto cleanup;
    for (int i = 0; i < nstyles; i++)
        if (!(style_imgs[i] = load_or_report(ctx, st->styles.v[i]))) goto cleanup;
    if (st->init_image && !(init_img = load_or_report(ctx, st->init_image))) goto cleanup;
    if (!load_masks(ctx, st, content, masks)) goto cleanup;
    if ((s = impasto_model_load(ctx, model_path, &vgg)) != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, s, NULL);
        goto cleanup;
    }
    opt->init_image = init_img;
    opt->progress = on_progress;
    opt->progress_user = &rs;
    if (folder) {
        rc = run_folder(st, ctx, &rs, vgg, (const impasto_image *const *)style_imgs, &in);
        goto cleanup;
    }
    cli_sigint_begin();
    s = impasto_transfer(ctx, vgg, content, (const impasto_image *const *)style_imgs, (size_t)nstyles, opt, &result);
    cli_sigint_end();
    progress_clear(&rs.progress);
    if (rs.last.iteration > 0) {
        cli_json_number(&rs.progress, "iterations", rs.last.iteration);
        cli_json_number(&rs.progress, "loss", rs.last.loss);
        cli_json_number(&rs.progress, "content_loss", rs.last.content_loss);
        cli_json_number(&rs.progress, "style_loss", rs.last.style_loss);
        cli_json_number(&rs.progress, "tv_loss", rs.last.tv_loss);
    }
    if (s == IMPASTO_ERR_CANCELLED && result) {
        /* Keep the user's previous output; the picture so far goes beside it. */
        char path[4096];
        numbered_path(output, "interrupted", path, sizeof path);
        if (impasto_image_save(ctx, result, path, 0) == IMPASTO_OK) {
            cli_error(CMD, 0, "interrupted; the picture so far is in %s", path);
            cli_wrote(&rs.progress, path, impasto_image_width(result), impasto_image_height(result));
        } else {
            cli_error(CMD, 0, "interrupted; %s", impasto_ctx_error(ctx));
        }
        rc = EXIT_INTERRUPTED;
        goto cleanup;
    }
    if (s != IMPASTO_OK || (s = impasto_image_save(ctx, result, output, 0)) != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, s, NULL);
        cli_json_failed(&rs.progress, content_path, impasto_ctx_error(ctx));
        goto cleanup;
    }
    cli_wrote(&rs.progress, output, impasto_image_width(result), impasto_image_height(result));
    rc = 0;

cleanup:
    cli_inputs_free(&in);
    cli_json_end(&rs.progress, rc);
    impasto_image_free(result);
    impasto_image_free(content);
    impasto_image_free(init_img);
    for (int i = 0; i < nstyles; i++) impasto_image_free(style_imgs[i]);
    for (int i = 0; i < st->masks.n; i++) impasto_image_free(masks[i]);
    impasto_model_free(vgg);
    impasto_ctx_free(ctx);
    (void)argc;
    (void)argv;
    return rc;
}

const cli_command CLI_TRANSFER = {
    .name = "transfer",
    .summary = "repaint a photo in the style of a painting (Gatys et al., neural-style)",
    .synopsis = "-c CONTENT|DIR -s STYLE[,STYLE...] [-o OUT|OUTDIR] [options]",
    .description = "Repaints CONTENT in the style of STYLE by optimising the picture's VGG-19 features (Gatys,\n"
                   "Ecker & Bethge 2016), with jcjohnson/neural-style's options and defaults. On a terminal a\n"
                   "live line shows the losses and the ETA; Ctrl-C stops, keeps the old output and saves the\n"
                   "picture so far as OUT_interrupted.png. CONTENT may be a folder: every photo in it is\n"
                   "repainted with the same styles into the folder OUTDIR under its own file name; one that\n"
                   "fails is reported and the others are still made. With --mask each region of the picture\n"
                   "takes its own style (Gatys et al. 2017's guided Gram matrices): -s a.jpg,b.jpg --mask m.png\n"
                   "paints m.png's darker level like a.jpg and its lighter like b.jpg.",
    .opts = OPTS,
    .settings_size = sizeof(transfer_settings),
    .init = init,
    .run = run,
    .processes = 1,
};
