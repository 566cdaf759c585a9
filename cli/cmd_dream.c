/* impasto dream: DeepDream on a photo (impasto_dream), with ProGamerGov/neural-dream's option set as
 * far as a VGG-19 takes it, and zoom sequences (numbered frames). */
#include "opts.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *CMD = "dream";

typedef struct dream_settings {
    cli_common common;
    const char *content, *output, *model, *guide;
    int print_iter;  /* -1: none piped, none on a terminal (the live line says it) */
    impasto_dream_options opt;
} dream_settings;

#define S dream_settings
#define G_DREAM "Dream"
#define G_ZOOM "Zoom sequence"
static const cli_opt OPTS[] = {
    {CLI_G_IO, "content", 'c', CLI_STRING, offsetof(S, content), "FILE", 0, 0, NULL, NULL,
     "the photo (PNG or JPEG; EXIF orientation applied; alpha carried to the output)", CLI_COMPLETE_IMAGE, NULL},
    {CLI_G_IO, "output", 'o', CLI_STRING, offsetof(S, output), "FILE", 0, 0, NULL, "out.png",
     ".png or .jpg, written atomically; with --zoom-frames, OUT_0001.png, OUT_0002.png, ...", CLI_COMPLETE_FILE,
     NULL},
    {CLI_G_IO, "print-iter", 0, CLI_INT, offsetof(S, print_iter), "N", 0, 1000000, NULL, "0",
     "log a line every N steps on stdout", 0, NULL},
    CLI_OPT_MODEL(S, model, "the converted VGG-19 (default vgg19)"),
    {CLI_G_SIZES, "image-size", 0, CLI_INT, offsetof(S, opt.image_size), "N", 0, IMPASTO_MAX_SIDE, NULL, NULL,
     "longest side of the output; 0 keeps the photo's", 0, NULL},
    {G_DREAM, "layers", 0, CLI_STRING, offsetof(S, opt.layers), "L[:C],...", 0, 0, NULL, NULL,
     "VGG-19 layers to amplify (conv1_1 ... relu5_4, pool1 ... pool5), each with one channel C or all",
     0, cli_check_layers},
    {G_DREAM, "octaves", 0, CLI_INT, offsetof(S, opt.octaves), "N", 0, 32, NULL, NULL,
     "scales, each octave-scale times smaller than the next", 0, NULL},
    {G_DREAM, "octave-scale", 0, CLI_DOUBLE, offsetof(S, opt.octave_scale), "S", 0, 16, NULL, NULL,
     "size ratio between octaves (above 1)", 0, NULL},
    {G_DREAM, "iterations", 0, CLI_INT, offsetof(S, opt.iterations), "N", 0, 1000000, NULL, NULL,
     "gradient ascent steps per octave", 0, NULL},
    {G_DREAM, "learning-rate", 0, CLI_DOUBLE, offsetof(S, opt.learning_rate), "R", 1e-9, 1e6, NULL, NULL,
     "step size, in 0..255 pixel units per mean |gradient|", 0, NULL},
    {G_DREAM, "jitter", 0, CLI_INT, offsetof(S, opt.jitter), "N", 0, IMPASTO_MAX_SIDE, NULL, NULL,
     "each step rolls the picture by a random shift of up to N pixels", 0, NULL},
    {G_DREAM, "guide", 0, CLI_STRING, offsetof(S, guide), "FILE", 0, 0, NULL, NULL,
     "dream towards this picture's features (the largest dot product) instead of the L2 norm",
     CLI_COMPLETE_IMAGE, NULL},
    {G_DREAM, "guide-size", 0, CLI_INT, offsetof(S, opt.guide_size), "N", 0, IMPASTO_MAX_SIDE, NULL, NULL,
     "longest side the guide is resized to; 0 keeps it", 0, NULL},
    {G_DREAM, "pooling", 0, CLI_CHOICE, offsetof(S, opt.pooling), NULL, 0, 0, "max|avg", NULL, "VGG's pooling", 0,
     NULL},
    {G_DREAM, "original-colors", 0, CLI_FLAG, offsetof(S, opt.original_colors), NULL, 0, 0, NULL, NULL,
     "keep the photo's colours (only the luminance dreams)", 0, NULL},
    {G_DREAM, "seed", 0, CLI_I64, offsetof(S, opt.seed), "N", -1, CLI_MAX_SEED, NULL, NULL,
     "jitter and tile offsets; -1: from the clock", 0, NULL},
    {G_ZOOM, "zoom-frames", 0, CLI_INT, offsetof(S, opt.zoom_frames), "N", 0, 100000, NULL, NULL,
     "write N frames, each dreamt on the one before, zoomed", 0, NULL},
    {G_ZOOM, "zoom", 0, CLI_DOUBLE, offsetof(S, opt.zoom), "F", 1, 4, NULL, NULL,
     "how much each frame enlarges the last about its centre", 0, NULL},
    {CLI_G_TILING, "tile", 0, CLI_INT, offsetof(S, opt.tile), "N", 0, IMPASTO_MAX_SIDE, NULL, NULL,
     "pictures with a side over N run in tiles of at most N (the grid moves each step); 0 never", 0, NULL},
    {CLI_G_TILING, "tile-halo", 0, CLI_INT, offsetof(S, opt.tile_halo), "N", -1, 512, NULL, "exact",
     "pixels computed around each tile and thrown away, a multiple of 8 (-1: the receptive field)", 0, NULL},
    CLI_OPTS_COMMON(S),
    CLI_OPT_JSON(S),
    CLI_OPTS_END};
#undef S

static void init(void *p) {
    dream_settings *s = p;
    impasto_dream_options_init(&s->opt);
    s->print_iter = 0;
}

typedef struct run_state {
    impasto_ctx *ctx;
    cli_progress progress;
    const char *output;
    int digits;                  /* of the frame numbers */
    long steps;                  /* done in the whole run */
    impasto_dream_progress last;
    int frames_written;
    int save_failed;
} run_state;

/* "out.png" + "0003" -> "out_0003.png". */
static void tagged_path(const char *output, const char *tag, char *buf, size_t n) {
    const char *slash = strrchr(output, '/'), *dot = strrchr(output, '.');
    if (!dot || (slash && dot < slash)) dot = output + strlen(output);
    snprintf(buf, n, "%.*s_%s%s", (int)(dot - output), output, tag, dot);
}

static void frame_path(const run_state *rs, int index, char *buf, size_t n) {
    char tag[32];
    snprintf(tag, sizeof tag, "%0*d", rs->digits, index + 1);
    tagged_path(rs->output, tag, buf, n);
}

/* The live line: frame, octave and its size, step, objective, time and ETA from the share of
 * the work done (octaves cost by their pixels). */
static int on_progress(const impasto_dream_progress *p, void *user) {
    run_state *rs = user;
    cli_progress *pr = &rs->progress;
    rs->last = *p;
    rs->steps++;
    char frame[48] = "";
    if (p->num_frames > 1) snprintf(frame, sizeof frame, "frame %d/%d  ", p->frame + 1, p->num_frames);
    if (pr->print_every > 0 && rs->steps % pr->print_every == 0) {
        FILE *log = pr->json ? stderr : stdout;
        progress_clear(pr);
        fprintf(log, "%soctave %d/%d %dx%d  step %d/%d  objective %.6g  %.1fs\n", frame, p->octave + 1,
                p->num_octaves, p->width, p->height, p->iteration, p->num_iterations, p->objective, p->seconds);
        fflush(log);
    }
    double t = cli_now();
    if (pr->live && (t - pr->last_draw >= 0.1 || p->done >= 1)) {
        char el[32], eta[32] = "?";
        cli_format_duration(p->seconds, el, sizeof el);
        if (p->done > 0) cli_format_duration(p->seconds * (1 - p->done) / p->done, eta, sizeof eta);
        fprintf(stderr, "\r\033[K%soctave %d/%d %dx%d  step %d/%d  objective %.4g  %3.0f%%  %s  ETA %s", frame,
                p->octave + 1, p->num_octaves, p->width, p->height, p->iteration, p->num_iterations, p->objective,
                100 * p->done, el, eta);
        fflush(stderr);
        pr->line_open = 1;
        pr->last_draw = t;
    }
    return cli_interrupted();
}

/* Each finished frame of a zoom sequence is written at once, so Ctrl-C keeps them. */
static int on_frame(const impasto_image *frame, int index, void *user) {
    run_state *rs = user;
    char path[4096];
    frame_path(rs, index, path, sizeof path);
    if (impasto_image_save(rs->ctx, frame, path, 0) != IMPASTO_OK) {
        progress_clear(&rs->progress);
        cli_error(CMD, 0, "%s", impasto_ctx_error(rs->ctx));
        rs->save_failed = 1;
        return 1;
    }
    rs->frames_written++;
    cli_wrote(&rs->progress, path, impasto_image_width(frame), impasto_image_height(frame));
    return 0;
}

static impasto_image *load_or_report(impasto_ctx *ctx, const char *path) {
    impasto_image *img = NULL;
    impasto_status s = impasto_image_load(ctx, path, &img);
    if (s != IMPASTO_OK) cli_fail(CMD, ctx, s, path);
    return img;
}

static int run(void *p, int argc, char **argv) {
    dream_settings *st = p;
    impasto_dream_options *opt = &st->opt;
    const char *output = st->output ? st->output : "out.png";
    if (!cli_output_format_ok(CMD, output)) return EXIT_USAGE;
    if (!st->content) {
        cli_error(CMD, 1, "no photo (-c FILE)");
        return EXIT_USAGE;
    }
    char model_path[4096];
    if (!cli_find_model(CMD, st->model, "vgg19", 0, model_path, sizeof model_path)) return 1;
    run_state rs = {.output = output, .digits = 4};
    for (int n = opt->zoom_frames; n >= 10000; n /= 10) rs.digits++;
    /* Every file this run may write is checked against the inputs before any work. */
    cli_inputs in = {0};
    int rc = 1, ok = cli_inputs_add(CMD, &in, model_path) && cli_inputs_add(CMD, &in, st->content) &&
                     cli_inputs_add(CMD, &in, st->guide);
    char path[4096];
    if (ok && opt->zoom_frames == 0 && (rc = cli_output_check(CMD, &in, output)) != 0) ok = 0;
    for (int i = 0; ok && i < opt->zoom_frames; i++) {
        frame_path(&rs, i, path, sizeof path);
        if ((rc = cli_output_check(CMD, &in, path)) != 0) ok = 0;
    }
    tagged_path(output, "interrupted", path, sizeof path);
    if (ok && (rc = cli_output_check(CMD, &in, path)) != 0) ok = 0;
    cli_inputs_free(&in);
    impasto_ctx *ctx = ok ? cli_ctx_create(CMD, &st->common) : NULL;
    if (!ctx) return rc ? rc : 1;
    rc = 1;
    rs.ctx = ctx;
    impasto_model *vgg = NULL;
    impasto_image *content = NULL, *guide = NULL, *result = NULL;
    progress_init(&rs.progress, st->common.quiet, st->print_iter);
    if (st->common.json && !cli_json_begin(&rs.progress, CMD)) cli_error(CMD, 0, "out of memory for --json");
    impasto_status s;

    if (!(content = load_or_report(ctx, st->content))) goto cleanup;
    if (st->guide && !(guide = load_or_report(ctx, st->guide))) goto cleanup;
    if ((s = impasto_model_load(ctx, model_path, &vgg)) != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, s, NULL);
        goto cleanup;
    }
    opt->guide = guide;
    opt->progress = on_progress;
    opt->frame = opt->zoom_frames > 0 ? on_frame : NULL;
    opt->progress_user = &rs;
    cli_sigint_begin();
    s = impasto_dream(ctx, vgg, content, opt, &result);
    cli_sigint_end();
    progress_clear(&rs.progress);
    cli_json_number(&rs.progress, "steps", (double)rs.steps);
    if (rs.steps > 0) cli_json_number(&rs.progress, "objective", rs.last.objective);
    if (opt->zoom_frames > 0) cli_json_number(&rs.progress, "frames", rs.frames_written);
    if (s == IMPASTO_ERR_CANCELLED && rs.save_failed) {
        rc = 1;
        goto cleanup;
    }
    if (s == IMPASTO_ERR_CANCELLED && result) {
        /* Keep the user's previous output (and the frames written); the picture so far goes beside it. */
        tagged_path(output, "interrupted", path, sizeof path);
        if (impasto_image_save(ctx, result, path, 0) == IMPASTO_OK) {
            cli_error(CMD, 0, "interrupted; the picture so far is in %s", path);
            cli_wrote(&rs.progress, path, impasto_image_width(result), impasto_image_height(result));
        } else {
            cli_error(CMD, 0, "interrupted; %s", impasto_ctx_error(ctx));
        }
        rc = EXIT_INTERRUPTED;
        goto cleanup;
    }
    if (s == IMPASTO_OK && opt->zoom_frames > 0) {
        rc = 0;
        goto cleanup;
    }
    if (s != IMPASTO_OK || (s = impasto_image_save(ctx, result, output, 0)) != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, s, NULL);
        cli_json_failed(&rs.progress, st->content, impasto_ctx_error(ctx));
        goto cleanup;
    }
    cli_wrote(&rs.progress, output, impasto_image_width(result), impasto_image_height(result));
    rc = 0;

cleanup:
    cli_json_end(&rs.progress, rc);
    impasto_image_free(result);
    impasto_image_free(content);
    impasto_image_free(guide);
    impasto_model_free(vgg);
    impasto_ctx_free(ctx);
    (void)argc;
    (void)argv;
    return rc;
}

const cli_command CLI_DREAM = {
    .name = "dream",
    .summary = "DeepDream: amplify what VGG-19 sees in a photo (octaves, jitter, guide, zoom frames)",
    .synopsis = "-c PHOTO [-o OUT] [options]",
    .description = "Gradient ascent on the photo to amplify the activations of VGG-19 layers (or single\n"
                   "channels: --layers relu4_2,relu5_1:17), as Google's deepdream notebook does it: octaves\n"
                   "from small to large carrying the dreamt detail up, a random roll each step, steps\n"
                   "normalised by the gradient's mean magnitude. --guide dreams towards another picture's\n"
                   "features; --zoom-frames N writes a zooming sequence OUT_0001.png ... On a terminal a\n"
                   "live line shows the octave, step and ETA; Ctrl-C stops, keeps the old output (and the\n"
                   "frames written) and saves the picture so far as OUT_interrupted.png.",
    .opts = OPTS,
    .settings_size = sizeof(dream_settings),
    .init = init,
    .run = run,
};
