/* impasto video: every frame of a video (or a folder of frames) repainted by a fast network, AdaIN,
 * WCT or the Gatys optimisation, made consistent in time by default (the previous stylised frame
 * carried along the optical flow and blended in where the flow is trusted: impasto_temporal_*),
 * and encoded with the input's timing, aspect, rotation and audio (impasto_video_writer_*). */
#include "opts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *CMD = "video";

enum { M_FAST, M_ADAIN, M_WCT, M_TRANSFER, M_NONE };

typedef struct video_settings {
    cli_common common;
    const char *content, *output, *model, *model_r31, *style, *codec;
    int method;
    int size, style_size, iterations, crf, flow_preset, no_temporal, info;
    long max_frames;
    double alpha, temporal_weight, fps;
} video_settings;

#define S video_settings
#define G_METHOD "Method"
#define G_TIME "Temporal consistency"
#define G_ENC "Encoding"
static const cli_opt OPTS[] = {
    {CLI_G_IO, "content", 'c', CLI_STRING, offsetof(S, content), "FILE|DIR", 0, 0, NULL, NULL,
     "the video (any container and codec FFmpeg reads), or a folder of PNG/JPEG frames", CLI_COMPLETE_FILE, NULL},
    {CLI_G_IO, "output", 'o', CLI_STRING, offsetof(S, output), "FILE|DIR/", 0, 0, NULL, "out.mp4",
     ".mp4, .mkv, .mov, .avi ...; or a folder (ending in '/') of PNG frames; written atomically", CLI_COMPLETE_FILE,
     NULL},
    {CLI_G_IO, "info", 0, CLI_FLAG, offsetof(S, info), NULL, 0, 0, NULL, NULL,
     "only print what impasto reads of -c (size, rate, frames counted, aspect, rotation, audio)", 0, NULL},
    {CLI_G_IO, "frames", 0, CLI_LONG, offsetof(S, max_frames), "N", 0, 1e9, NULL, "all",
     "only the first N frames (the audio is cut there too)", 0, NULL},
    {CLI_G_IO, "fps", 0, CLI_DOUBLE, offsetof(S, fps), "R", 0.01, 1000, NULL, "25",
     "the frame rate of a folder of frames", 0, NULL},
    {G_METHOD, "method", 0, CLI_CHOICE, offsetof(S, method), NULL, 0, 0, "fast|adain|wct|transfer|none", NULL,
     "fast network (-m), AdaIN or WCT with a painting (-s), the Gatys optimisation (-s), or none (re-encode)", 0,
     NULL},
    CLI_OPT_MODEL(S, model, "fast: the network (candy, ...); adain, wct: adain; transfer: vgg19"),
    {G_METHOD, "model-r31", 0, CLI_STRING, offsetof(S, model_r31), "NAME|FILE", 0, 0, NULL, "lst-r31",
     "wct: the relu3_1 pair for the second level", CLI_COMPLETE_MODEL, NULL},
    {G_METHOD, "style", 's', CLI_STRING, offsetof(S, style), "FILE", 0, 0, NULL, NULL,
     "the painting (adain, wct, transfer)", CLI_COMPLETE_IMAGE, NULL},
    {G_METHOD, "alpha", 0, CLI_DOUBLE, offsetof(S, alpha), "A", 0, 1, NULL, NULL, "adain, wct: style strength", 0, NULL},
    {G_METHOD, "style-size", 0, CLI_INT, offsetof(S, style_size), "N", 16, IMPASTO_MAX_SIDE, NULL, NULL,
     "longest side the painting is resized to (once)", 0, NULL},
    {G_METHOD, "num-iterations", 0, CLI_INT, offsetof(S, iterations), "N", 1, 100000, NULL, NULL,
     "transfer: L-BFGS iterations per frame", 0, NULL},
    {CLI_G_SIZES, "size", 0, CLI_INT, offsetof(S, size), "N", 8, IMPASTO_MAX_SIDE, NULL, "the input's",
     "longest side of the output frames (aspect kept, even sides)", 0, NULL},
    {G_TIME, "no-temporal", 0, CLI_FLAG, offsetof(S, no_temporal), NULL, 0, 0, NULL, NULL,
     "frame by frame, without temporal consistency", 0, NULL},
    {G_TIME, "temporal-weight", 0, CLI_DOUBLE, offsetof(S, temporal_weight), "W", 0, 1, NULL, NULL,
     "how much of the previous stylised frame, carried by the flow, is kept where the flow is trusted", 0, NULL},
    {G_TIME, "flow-preset", 0, CLI_CHOICE, offsetof(S, flow_preset), NULL, 0, 0, "ultrafast|fast|medium", NULL,
     "the optical flow's speed and accuracy (DIS presets)", 0, NULL},
    {G_ENC, "crf", 0, CLI_INT, offsetof(S, crf), "N", 0, 63, NULL, NULL,
     "the encoder's constant rate factor (x264: 0 lossless .. 51; lower is better)", 0, NULL},
    {G_ENC, "codec", 0, CLI_STRING, offsetof(S, codec), "NAME", 0, 0, NULL, "libx264",
     "an FFmpeg video encoder (libx264, libx265, libvpx-vp9, mpeg4, ...)", 0, NULL},
    CLI_OPTS_COMMON(S),
    CLI_OPT_JSON(S),
    CLI_OPTS_END};
#undef S

static void init(void *p) {
    video_settings *s = p;
    impasto_temporal_options t;
    impasto_temporal_options_init(&t);
    impasto_video_writer_options w;
    impasto_video_writer_options_init(&w);
    s->alpha = 1.0;
    s->style_size = 512;
    s->iterations = 100;
    s->temporal_weight = t.weight;
    s->flow_preset = t.flow_preset;
    s->crf = w.crf;
}

/* ---- the methods ---------------------------------------------------------------------------- */

typedef struct stylizer {
    int method;
    impasto_fast_model *fast;
    impasto_model *model, *lst;
    impasto_image *style;
    impasto_adain_options adain;
    impasto_wct_options wct;
    impasto_transfer_options transfer;
    impasto_image *init;  /* transfer: the start picture of this frame */
} stylizer;

static int on_pass(const impasto_pass_progress *p, void *user) {
    (void)p;
    (void)user;
    return cli_interrupted();
}

static int on_iter(const impasto_progress *p, void *user) {
    (void)p;
    (void)user;
    return cli_interrupted();
}

/* One frame: *out a new RGB image of the frame's size. For transfer, the optimisation starts from
 * the previous stylised frame carried by the flow where it is trusted (Ruder et al.'s init), from
 * the frame itself elsewhere and on a shot's first frame. */
static impasto_status stylize(impasto_ctx *ctx, stylizer *z, const impasto_image *frame, const impasto_image *warped,
                              const impasto_image *mask, impasto_image **out) {
    switch (z->method) {
    case M_FAST: return impasto_fast_stylize(ctx, z->fast, frame, NULL, out);
    case M_ADAIN: return impasto_adain(ctx, z->model, frame, (const impasto_image *const *)&z->style, 1, &z->adain, out);
    case M_WCT: return impasto_wct(ctx, z->model, z->lst, frame, z->style, &z->wct, out);
    case M_NONE: {
        impasto_status s = impasto_image_create(ctx, impasto_image_width(frame), impasto_image_height(frame), 3, out);
        if (s == IMPASTO_OK)
            memcpy(impasto_image_data(*out), impasto_image_cdata(frame),
                   (size_t)impasto_image_width(frame) * (size_t)impasto_image_height(frame) * 3 * sizeof(float));
        return s;
    }
    default: break;
    }
    impasto_transfer_options *o = &z->transfer;
    o->init = IMPASTO_INIT_IMAGE;
    o->init_image = NULL;
    if (warped) {
        const int w = impasto_image_width(frame), h = impasto_image_height(frame);
        if (!z->init) {
            impasto_status s = impasto_image_create(ctx, w, h, 3, &z->init);
            if (s != IMPASTO_OK) return s;
        }
        const float *f = impasto_image_cdata(frame), *wd = impasto_image_cdata(warped), *m = impasto_image_cdata(mask);
        float *d = impasto_image_data(z->init);
        const size_t n = (size_t)w * (size_t)h;
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 3; c++) d[3 * i + (size_t)c] = m[i] > 0 ? wd[3 * i + (size_t)c] : f[3 * i + (size_t)c];
        o->init_image = z->init;
    }
    o->image_size = impasto_image_width(frame) > impasto_image_height(frame) ? impasto_image_width(frame)
                                                                           : impasto_image_height(frame);
    return impasto_transfer(ctx, z->model, frame, (const impasto_image *const *)&z->style, 1, o, out);
}

static void stylizer_free(stylizer *z) {
    impasto_fast_free(z->fast);
    impasto_model_free(z->model);
    impasto_model_free(z->lst);
    impasto_image_free(z->style);
    impasto_image_free(z->init);
}

/* Loads the method's models and painting (the painting resized once: its statistics are the same
 * for every frame). Returns 0, or the exit code after one line. */
static int stylizer_load(impasto_ctx *ctx, const video_settings *st, const char *model_path, const char *r31_path,
                         stylizer *z) {
    impasto_status s = IMPASTO_OK;
    z->method = st->method;
    if (st->method == M_NONE) return 0;
    if (st->method == M_FAST) {
        s = impasto_fast_load(ctx, model_path, &z->fast);
    } else {
        s = impasto_model_load(ctx, model_path, &z->model);
        if (s == IMPASTO_OK && r31_path[0]) s = impasto_model_load(ctx, r31_path, &z->lst);
        impasto_image *raw = NULL;
        if (s == IMPASTO_OK) s = impasto_image_load(ctx, st->style, &raw);
        if (s == IMPASTO_OK) s = impasto_image_resize_max_side(ctx, raw, st->style_size, &z->style);
        impasto_image_free(raw);
        if (s != IMPASTO_OK) return cli_fail(CMD, ctx, s, NULL);
        const char *want = st->method == M_TRANSFER ? "vgg19" : "adain";
        if (strcmp(impasto_model_kind(z->model), want)) {
            cli_error(CMD, 1, "%s is a model of kind '%s'; --method %s needs %s", model_path,
                      impasto_model_kind(z->model), st->method == M_TRANSFER ? "transfer" : st->method == M_WCT ? "wct" : "adain",
                      want);
            return EXIT_USAGE;
        }
    }
    if (s != IMPASTO_OK) return cli_fail(CMD, ctx, s, NULL);
    impasto_adain_options_init(&z->adain);
    z->adain.alpha = st->alpha;
    z->adain.content_size = 0;
    z->adain.style_size = 0;
    z->adain.progress = on_pass;
    impasto_wct_options_init(&z->wct);
    z->wct.alpha = st->alpha;
    z->wct.content_size = 0;
    z->wct.style_size = 0;
    z->wct.progress = on_pass;
    impasto_transfer_options_init(&z->transfer);
    z->transfer.num_iterations = st->iterations;
    z->transfer.seed = 1;
    z->transfer.save_iter = 0;
    z->transfer.progress = on_iter;
    return 0;
}

/* ---- the run -------------------------------------------------------------------------------- */

/* The live line: frames done, frames per second, ETA (when the count is known). */
static void show_progress(cli_progress *p, long done, long total, double t0, int final) {
    if (!p->live) return;
    double now = cli_now();
    if (!final && now - p->last_draw < 0.1) return;
    p->last_draw = now;
    double secs = now - t0, fps = secs > 0 ? (double)done / secs : 0;
    char eta[32] = "?", el[32];
    if (total > 0 && done <= total && fps > 0) cli_format_duration((double)(total - done) / fps, eta, sizeof eta);
    cli_format_duration(secs, el, sizeof el);
    if (total > 0 && done <= total)
        fprintf(stderr, "\r\033[Kframe %ld/%ld  %.2f fps  %s  ETA %s", done, total, fps, el, eta);
    else
        fprintf(stderr, "\r\033[Kframe %ld  %.2f fps  %s", done, fps, el);
    fflush(stderr);
    p->line_open = 1;
}

/* OUT_interrupted.mp4 beside OUT (a folder: OUT_interrupted/). */
static void interrupted_path(const char *output, int folder, char *buf, size_t n) {
    if (folder) {
        size_t len = strlen(output);
        while (len > 1 && output[len - 1] == '/') len--;
        snprintf(buf, n, "%.*s_interrupted/", (int)len, output);
        return;
    }
    const char *slash = strrchr(output, '/'), *dot = strrchr(output, '.');
    char suffix[64];
    snprintf(suffix, sizeof suffix, "_interrupted%s", dot && (!slash || dot > slash) ? dot : "");
    cli_sibling_path(output, suffix, buf, n);
}

static int out_is_folder(const char *path) {
    size_t n = strlen(path);
    return (n && path[n - 1] == '/') || cli_is_dir(path);
}

/* --info: what the reader makes of the file, the frames counted by decoding them all. */
static int print_info(const video_settings *st) {
    impasto_ctx *ctx = cli_ctx_create(CMD, &st->common);
    if (!ctx) return 1;
    impasto_video_reader *r = NULL;
    impasto_image *f = NULL;
    impasto_status s = impasto_video_open(ctx, st->content, &r);
    while (s == IMPASTO_OK && (s = impasto_video_read(ctx, r, &f)) == IMPASTO_OK && f) {
        impasto_image_free(f);
        f = NULL;
    }
    int rc = 0;
    if (s != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, s, st->content);
    } else {
        impasto_video_info i;
        impasto_video_get_info(r, &i);
        const long n = impasto_video_frames_read(r);
        if (st->common.json)
            printf("{\"width\": %d, \"height\": %d, \"fps\": \"%d/%d\", \"frames\": %ld, \"frames_claimed\": %ld, "
                   "\"sar\": \"%d:%d\", \"rotation\": %g, \"duration\": %.3f, \"audio\": %s, \"codec\": \"%s\"}\n",
                   i.width, i.height, i.fps_num, i.fps_den, n, i.frames, i.sar_num, i.sar_den, i.rotation, i.duration,
                   i.has_audio ? "true" : "false", i.codec);
        else
            printf("%s: %s %dx%d, %d/%d fps, %ld frames (the container says %ld), %.3f s, aspect %d:%d, rotation %g, "
                   "%s\n", st->content, i.codec, i.width, i.height, i.fps_num, i.fps_den, n, i.frames, i.duration,
                   i.sar_num, i.sar_den, i.rotation, i.has_audio ? "audio" : "no audio");
    }
    impasto_video_close(r);
    impasto_ctx_free(ctx);
    return rc;
}

static int run(void *p, int argc, char **argv) {
    video_settings *st = p;
    (void)argc;
    (void)argv;
    if (!impasto_video_supported()) {
        cli_error(CMD, 0, "this impasto was built without video support (FFmpeg's libraries): run "
                          "'bash tools/install-deps.sh --video' and rebuild");
        return 1;
    }
    const char *output = st->output ? st->output : "out.mp4";
    if (!st->content) { cli_error(CMD, 1, "no video (-c FILE or folder)"); return EXIT_USAGE; }
    if (st->info) return print_info(st);
    if (st->method == M_FAST && !st->model) { cli_error(CMD, 1, "no network (-m NAME, e.g. -m candy)"); return EXIT_USAGE; }
    if (st->method != M_FAST && st->method != M_NONE && !st->style) { cli_error(CMD, 1, "no painting (-s FILE)"); return EXIT_USAGE; }
    if (st->method == M_FAST && st->style) {
        cli_error(CMD, 1, "a fast network has its own style: -s is for --method adain, wct or transfer");
        return EXIT_USAGE;
    }
    const int folder_out = out_is_folder(output);
    if (folder_out && cli_is_dir(output)) {
        cli_list l;
        /* An existing output folder must be empty (the frames replace it as a whole). */
        int has = 0;
        if (cli_list_images(CMD, output, &l) == 0) has = l.n > 0;
        cli_list_free(&l);
        if (has) { cli_error(CMD, 1, "the output folder %s is not empty", output); return EXIT_USAGE; }
    }
    char model_path[4096] = "", r31_path[4096] = "";
    const char *def = st->method == M_TRANSFER ? "vgg19" : "adain";
    if (st->method != M_NONE && !cli_find_model(CMD, st->model, st->method == M_FAST ? NULL : def, st->method == M_FAST, model_path,
                        sizeof model_path))
        return 1;
    if (st->method == M_WCT && !cli_find_model(CMD, st->model_r31, "lst-r31", 0, r31_path, sizeof r31_path)) return 1;
    cli_inputs in = {0};
    int rc = 1, ok = (!model_path[0] || cli_inputs_add(CMD, &in, model_path)) && cli_inputs_add(CMD, &in, st->content) &&
                     cli_inputs_add(CMD, &in, st->style) && (!r31_path[0] || cli_inputs_add(CMD, &in, r31_path));
    if (ok && !folder_out && (rc = cli_output_check(CMD, &in, output)) != 0) ok = 0;
    if (ok && folder_out && !cli_output_not_input(CMD, &in, output)) ok = 0, rc = EXIT_USAGE;
    impasto_ctx *ctx = ok ? cli_ctx_create(CMD, &st->common) : NULL;
    if (!ctx) {
        cli_inputs_free(&in);
        return rc ? rc : 1;
    }
    stylizer z = {0};
    impasto_video_reader *reader = NULL;
    impasto_video_writer *writer = NULL;
    impasto_temporal *temporal = NULL;
    impasto_image *frame = NULL, *sized = NULL, *result = NULL;
    cli_progress progress;
    progress_init(&progress, st->common.quiet, 0);
    if (st->common.json && !cli_json_begin(&progress, CMD)) cli_error(CMD, 0, "out of memory for --json");
    cli_sigint_begin();
    impasto_status s = IMPASTO_OK;
    long written = 0;
    int interrupted = 0, cut = 0;
    if ((rc = stylizer_load(ctx, st, model_path, r31_path, &z)) != 0) goto done;
    rc = 1;
    if ((s = impasto_video_open(ctx, st->content, &reader)) != IMPASTO_OK) goto failed;
    impasto_video_info info;
    impasto_video_get_info(reader, &info);
    /* The output's size: --size on the longer side, even sides (4:2:0), else the input's. */
    int ow = info.width, oh = info.height;
    if (st->size) {
        const int longest = ow > oh ? ow : oh;
        ow = (int)lround((double)info.width * st->size / longest / 2) * 2;
        oh = (int)lround((double)info.height * st->size / longest / 2) * 2;
        if (ow < 2) ow = 2;
        if (oh < 2) oh = 2;
    }
    impasto_video_writer_options wopt;
    impasto_video_writer_options_init(&wopt);
    wopt.width = ow;
    wopt.height = oh;
    wopt.crf = st->crf;
    wopt.codec = st->codec;
    if (info.is_folder) {
        double fps = st->fps > 0 ? st->fps : 25;
        wopt.fps_num = (int)lround(fps * 1000);
        wopt.fps_den = 1000;
    }
    if ((s = impasto_video_writer_open(ctx, output, info.is_folder ? NULL : reader, &wopt, &writer)) != IMPASTO_OK)
        goto failed;
    if (!st->no_temporal && st->method != M_NONE) {
        impasto_temporal_options topt;
        impasto_temporal_options_init(&topt);
        topt.weight = st->temporal_weight;
        topt.flow_preset = st->flow_preset;
        if ((s = impasto_temporal_create(ctx, ow, oh, &topt, &temporal)) != IMPASTO_OK) goto failed;
    }
    const double t0 = cli_now();
    const long total = st->max_frames && (info.frames < 0 || st->max_frames < info.frames) ? st->max_frames : info.frames;
    show_progress(&progress, 0, total, t0, 1);
    for (;;) {
        if (st->max_frames && written >= st->max_frames) {
            cut = 1;
            break;
        }
        if ((s = impasto_video_read(ctx, reader, &frame)) != IMPASTO_OK) goto failed;
        if (!frame) break;
        const impasto_image *f = frame;
        if (impasto_image_width(frame) != ow || impasto_image_height(frame) != oh) {
            if ((s = impasto_image_resize(ctx, frame, ow, oh, &sized)) != IMPASTO_OK) goto failed;
            f = sized;
        }
        const impasto_image *warped = NULL, *mask = NULL;
        if (temporal && (s = impasto_temporal_next(ctx, temporal, f, &warped, &mask)) != IMPASTO_OK) goto failed;
        s = stylize(ctx, &z, f, warped, mask, &result);
        if (s == IMPASTO_ERR_CANCELLED) {
            interrupted = 1;
            break;
        }
        if (s != IMPASTO_OK) goto failed;
        if (temporal && (s = impasto_temporal_blend(ctx, temporal, result)) != IMPASTO_OK) goto failed;
        if ((s = impasto_video_write(ctx, writer, result)) != IMPASTO_OK) goto failed;
        written++;
        impasto_image_free(result);
        impasto_image_free(sized);
        impasto_image_free(frame);
        result = sized = frame = NULL;
        show_progress(&progress, written, total, t0, 0);
        if (cli_interrupted()) {
            interrupted = 1;
            break;
        }
    }
    show_progress(&progress, written, total, t0, 1);
    progress_clear(&progress);
    const double secs = cli_now() - t0;
    if (interrupted) {
        rc = EXIT_INTERRUPTED;
        if (written == 0) {
            cli_error(CMD, 0, "interrupted before the first frame was done; %s is as it was", output);
            goto done;
        }
        char path[4096];
        interrupted_path(output, folder_out, path, sizeof path);
        if ((s = impasto_video_writer_finish(ctx, writer, path, 0)) != IMPASTO_OK) {
            cli_error(CMD, 0, "interrupted; the %ld frames done could not be kept: %s", written, impasto_ctx_error(ctx));
            goto done;
        }
        cli_error(CMD, 0, "interrupted; the %ld frames done are in %s (%s is as it was)", written, path, output);
        cli_json_failed(&progress, st->content, "interrupted");
        goto done;
    }
    if ((s = impasto_video_writer_finish(ctx, writer, NULL, !cut)) != IMPASTO_OK) goto failed;
    cli_wrote(&progress, output, ow, oh);
    cli_json_number(&progress, "frames", (double)written);
    cli_json_number(&progress, "fps", secs > 0 ? (double)written / secs : 0);
    rc = 0;
    goto done;
failed:
    progress_clear(&progress);
    rc = cli_fail(CMD, ctx, s, st->content);
    cli_json_failed(&progress, st->content, impasto_ctx_error(ctx));
done:
    cli_sigint_end();
    cli_json_end(&progress, rc);
    impasto_image_free(result);
    impasto_image_free(sized);
    impasto_image_free(frame);
    impasto_temporal_free(temporal);
    impasto_video_writer_free(writer);
    impasto_video_close(reader);
    stylizer_free(&z);
    impasto_ctx_free(ctx);
    cli_inputs_free(&in);
    return rc;
}

const cli_command CLI_VIDEO = {
    .name = "video",
    .summary = "repaint a video, consistent from frame to frame (fast, adain, wct, transfer)",
    .synopsis = "-c IN.mp4 [-m MODEL | --method adain|wct|transfer -s PAINTING] [-o OUT.mp4] [options]",
    .description =
        "Repaints every frame of IN (a video FFmpeg reads, or a folder of PNG/JPEG frames) and encodes\n"
        "them (H.264 by default) with IN's frame rate and time stamps, frame count, pixel aspect,\n"
        "rotation and audio (copied untouched). By default the result is made consistent in time: the\n"
        "optical flow between consecutive input frames (DIS) carries the previous stylised frame onto\n"
        "the new one, and where the forward-backward check trusts it, it is blended in\n"
        "(--temporal-weight; Ruder et al. 2016). --no-temporal gives the frame-by-frame result.\n"
        "Ctrl-C keeps the frames done as a playable OUT_interrupted.mp4 (exit 130). Measure flicker\n"
        "with 'impasto eval --temporal OUT --reference IN'.",
    .opts = OPTS,
    .settings_size = sizeof(video_settings),
    .init = init,
    .run = run,
};
