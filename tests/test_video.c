/* Video: the writer and reader round trip (pixels, frame count, rate, aspect), the folder reader,
 * temporal consistency on frames with a known motion (the warped previous frame lands on the new
 * one; the blend is the stated mix), the warping error against values worked by hand, and refused
 * arguments. Without FFmpeg (VIDEO=0) the file-based parts report the build and skip. */
#include "test.h"

#include "impasto.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A smooth pattern (RGB, 0..1) moved dx pixels right: frame(x) = pattern(x - dx). */
static impasto_image *pattern(impasto_ctx *ctx, int w, int h, double dx) {
    impasto_image *img = NULL;
    if (impasto_image_create(ctx, w, h, 3, &img) != IMPASTO_OK) return NULL;
    float *p = impasto_image_data(img);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const double u = x - dx;
            const double v = 0.5 + 0.25 * sin(u / 4.0) + 0.2 * cos(y / 5.0 + u / 9.0);
            float *q = p + ((size_t)y * (size_t)w + (size_t)x) * 3;
            q[0] = (float)v;
            q[1] = (float)(1 - v);
            q[2] = (float)(0.5 + 0.3 * sin(y / 6.0));
        }
    return img;
}

static double mean_abs_diff(const impasto_image *a, const impasto_image *b) {
    const size_t n = (size_t)impasto_image_width(a) * (size_t)impasto_image_height(a) * 3;
    const float *p = impasto_image_cdata(a), *q = impasto_image_cdata(b);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += fabs((double)p[i] - (double)q[i]);
    return s / (double)n;
}

static char tmpdir[256];

static void test_round_trip(void) {
    if (!impasto_video_supported()) {
        printf("  (built without FFmpeg: skipped)\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    char path[512];
    snprintf(path, sizeof path, "%s/rt.mp4", tmpdir);
    impasto_video_writer_options opt;
    impasto_video_writer_options_init(&opt);
    opt.crf = 0;
    opt.fps_num = 12;
    opt.fps_den = 1;
    opt.sar_num = 4;
    opt.sar_den = 3;
    impasto_video_writer *w = NULL;
    CHECK(impasto_video_writer_open(ctx, path, NULL, &opt, &w) == IMPASTO_OK);
    /* Unfinished: nothing under the name yet. */
    CHECK(access(path, F_OK) != 0);
    impasto_image *frames[5] = {0};
    for (int k = 0; k < 5; k++) {
        frames[k] = pattern(ctx, 48, 32, 2.0 * k);
        CHECK(impasto_video_write(ctx, w, frames[k]) == IMPASTO_OK);
    }
    CHECK(impasto_video_writer_finish(ctx, w, NULL, 1) == IMPASTO_OK);
    impasto_video_writer_free(w);
    CHECK(access(path, F_OK) == 0);

    impasto_video_reader *r = NULL;
    CHECK_MSG(impasto_video_open(ctx, path, &r) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    impasto_video_info info;
    impasto_video_get_info(r, &info);
    CHECK(info.width == 48 && info.height == 32);
    CHECK(info.fps_num == 12 && info.fps_den == 1);
    CHECK_MSG(info.sar_num == 4 && info.sar_den == 3, "sar %d:%d", info.sar_num, info.sar_den);
    int n = 0;
    for (impasto_image *f = NULL; impasto_video_read(ctx, r, &f) == IMPASTO_OK && f; n++) {
        /* Lossless H.264 of 4:2:0 YUV: only the conversion to limited-range 8-bit YUV and the chroma's
         * subsampling (this pattern has detail at 4 pixels) differ. */
        if (n < 5) CHECK_MSG(mean_abs_diff(f, frames[n]) < 0.03, "frame %d differs by %g", n, mean_abs_diff(f, frames[n]));
        impasto_image_free(f);
    }
    CHECK(n == 5 && impasto_video_frames_read(r) == 5);

    /* A copy with the reader as source keeps rate and aspect. */
    char path2[512];
    snprintf(path2, sizeof path2, "%s/rt2.mov", tmpdir);
    impasto_video_close(r);
    CHECK(impasto_video_open(ctx, path, &r) == IMPASTO_OK);
    impasto_video_writer_options_init(&opt);
    CHECK(impasto_video_writer_open(ctx, path2, r, &opt, &w) == IMPASTO_OK);
    for (impasto_image *f = NULL; impasto_video_read(ctx, r, &f) == IMPASTO_OK && f;) {
        CHECK(impasto_video_write(ctx, w, f) == IMPASTO_OK);
        impasto_image_free(f);
    }
    CHECK(impasto_video_writer_finish(ctx, w, NULL, 1) == IMPASTO_OK);
    impasto_video_writer_free(w);
    impasto_video_close(r);
    CHECK(impasto_video_open(ctx, path2, &r) == IMPASTO_OK);
    impasto_video_get_info(r, &info);
    CHECK_MSG(info.fps_num == 12 && info.fps_den == 1 && info.sar_num == 4 && info.sar_den == 3 && info.frames == 5,
              "fps %d/%d sar %d:%d frames %ld", info.fps_num, info.fps_den, info.sar_num, info.sar_den, info.frames);
    impasto_video_close(r);

    /* No frames: finishing is refused and the temporary file goes with the writer. */
    char path3[512];
    snprintf(path3, sizeof path3, "%s/empty.mp4", tmpdir);
    CHECK(impasto_video_writer_open(ctx, path3, NULL, NULL, &w) == IMPASTO_OK);
    CHECK(impasto_video_writer_finish(ctx, w, NULL, 1) == IMPASTO_ERR_INVALID_ARG);
    impasto_video_writer_free(w);
    CHECK(access(path3, F_OK) != 0);
    CHECK(impasto_video_writer_open(ctx, "x.unknownext", NULL, NULL, &w) == IMPASTO_ERR_INVALID_ARG && !w);
    for (int k = 0; k < 5; k++) impasto_image_free(frames[k]);
    unlink(path);
    unlink(path2);
    impasto_ctx_free(ctx);
}

/* A folder of frames reads in name order, scaled to the first frame's size. */
static void test_folder(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    char dir[512], p[600];
    snprintf(dir, sizeof dir, "%s/frames", tmpdir);
    CHECK(mkdir(dir, 0755) == 0);
    impasto_image *a = pattern(ctx, 20, 10, 0), *b = pattern(ctx, 40, 20, 0);
    snprintf(p, sizeof p, "%s/b.png", dir);
    CHECK(impasto_image_save(ctx, b, p, 0) == IMPASTO_OK);
    snprintf(p, sizeof p, "%s/a.png", dir);
    CHECK(impasto_image_save(ctx, a, p, 0) == IMPASTO_OK);
    impasto_video_reader *r = NULL;
    CHECK(impasto_video_open(ctx, dir, &r) == IMPASTO_OK);
    impasto_video_info info;
    impasto_video_get_info(r, &info);
    CHECK(info.is_folder && info.width == 20 && info.height == 10 && info.frames == 2);
    impasto_image *f = NULL;
    CHECK(impasto_video_read(ctx, r, &f) == IMPASTO_OK && f && mean_abs_diff(f, a) < 0.003);
    impasto_image_free(f);
    CHECK(impasto_video_read(ctx, r, &f) == IMPASTO_OK && f && impasto_image_width(f) == 20);
    impasto_image_free(f);
    CHECK(impasto_video_read(ctx, r, &f) == IMPASTO_OK && !f);
    impasto_video_close(r);
    unlink(p);
    snprintf(p, sizeof p, "%s/b.png", dir);
    unlink(p);
    rmdir(dir);
    impasto_image_free(a);
    impasto_image_free(b);
    impasto_ctx_free(ctx);
}

/* Frames moving 2 px a frame: the previous frame, carried by the flow, is the new one where trusted. */
static void test_temporal_motion(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, 2);
    impasto_temporal_options opt;
    impasto_temporal_options_init(&opt);
    impasto_temporal *t = NULL;
    CHECK(impasto_temporal_create(ctx, 96, 64, &opt, &t) == IMPASTO_OK);
    impasto_image *f0 = pattern(ctx, 96, 64, 0), *f1 = pattern(ctx, 96, 64, 2);
    const impasto_image *warped = NULL, *mask = NULL;
    CHECK(impasto_temporal_next(ctx, t, f0, &warped, &mask) == IMPASTO_OK && !warped && !mask);
    impasto_image *s0 = NULL;
    impasto_image_create(ctx, 96, 64, 3, &s0);
    memcpy(impasto_image_data(s0), impasto_image_cdata(f0), 96 * 64 * 3 * sizeof(float));
    CHECK(impasto_temporal_blend(ctx, t, s0) == IMPASTO_OK);
    CHECK(impasto_temporal_next(ctx, t, f1, &warped, &mask) == IMPASTO_OK && warped && mask);
    if (warped && mask) {
        const float *m = impasto_image_cdata(mask), *w = impasto_image_cdata(warped), *g = impasto_image_cdata(f1);
        double err = 0, before = 0, trusted = 0;
        const float *g0 = impasto_image_cdata(f0);
        for (size_t i = 0; i < 96 * 64; i++) {
            if (m[i] <= 0) continue;
            trusted++;
            for (int c = 0; c < 3; c++) {
                err += fabs((double)w[3 * i + (size_t)c] - g[3 * i + (size_t)c]);
                before += fabs((double)g0[3 * i + (size_t)c] - g[3 * i + (size_t)c]);
            }
        }
        CHECK_MSG(trusted > 0.8 * 96 * 64, "only %.0f pixels trusted", trusted);
        err /= 3 * trusted;
        before /= 3 * trusted;
        /* The warp takes the 2-pixel shift away: far closer than the frame before it. */
        CHECK_MSG(err < 0.01 && err < 0.2 * before, "warped off by %g (unwarped %g)", err, before);
    }
    impasto_image_free(f0);
    impasto_image_free(f1);
    impasto_image_free(s0);
    impasto_temporal_free(t);
    impasto_ctx_free(ctx);
}

/* The same frame twice (zero flow, all trusted): the blend is (1 - w) new + w previous. */
static void test_temporal_blend(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_temporal_options opt;
    impasto_temporal_options_init(&opt);
    opt.weight = 0.25;
    impasto_temporal *t = NULL;
    CHECK(impasto_temporal_create(ctx, 40, 30, &opt, &t) == IMPASTO_OK);
    impasto_image *f = pattern(ctx, 40, 30, 0), *s = NULL;
    impasto_image_create(ctx, 40, 30, 3, &s);
    float *d = impasto_image_data(s);
    const impasto_image *warped = NULL, *mask = NULL;
    CHECK(impasto_temporal_next(ctx, t, f, &warped, &mask) == IMPASTO_OK);
    for (size_t i = 0; i < 40 * 30 * 3; i++) d[i] = 0.2f;
    CHECK(impasto_temporal_blend(ctx, t, s) == IMPASTO_OK);
    CHECK(fabsf(d[0] - 0.2f) < 1e-6f);  /* the first frame is left as it is */
    CHECK(impasto_temporal_next(ctx, t, f, &warped, &mask) == IMPASTO_OK && warped);
    for (size_t i = 0; i < 40 * 30 * 3; i++) d[i] = 0.8f;
    CHECK(impasto_temporal_blend(ctx, t, s) == IMPASTO_OK);
    double worst = 0;
    const float *m = mask ? impasto_image_cdata(mask) : NULL;
    for (size_t i = 0; m && i < 40 * 30; i++)
        if (m[i] > 0 && fabs(d[3 * i] - (0.75 * 0.8 + 0.25 * 0.2)) > worst) worst = fabs(d[3 * i] - 0.65);
    CHECK_MSG(worst < 1e-4, "blend off by %g", worst);
    /* After a reset the next frame starts a shot. */
    impasto_temporal_reset(t);
    CHECK(impasto_temporal_next(ctx, t, f, &warped, &mask) == IMPASTO_OK && !warped);
    /* Refused: a frame of another size, a weight outside 0..1. */
    impasto_image *small = pattern(ctx, 20, 30, 0);
    CHECK(impasto_temporal_next(ctx, t, small, &warped, &mask) == IMPASTO_ERR_INVALID_ARG);
    CHECK(impasto_temporal_blend(ctx, t, small) == IMPASTO_ERR_INVALID_ARG);
    impasto_temporal *t2 = NULL;
    opt.weight = 1.5;
    CHECK(impasto_temporal_create(ctx, 40, 30, &opt, &t2) == IMPASTO_ERR_INVALID_ARG && !t2);
    impasto_image_free(small);
    impasto_image_free(f);
    impasto_image_free(s);
    impasto_temporal_free(t);
    impasto_temporal_free(NULL);
    impasto_ctx_free(ctx);
}

/* Warping error: an output that follows the motion scores near 0; one that also flickers by a
 * constant 0.1 on every channel scores 3 x 0.1^2 = 0.03 (squared differences summed over RGB). */
static void test_warping_error(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *a = pattern(ctx, 80, 60, 0), *b = pattern(ctx, 80, 60, 1.5), *bf = pattern(ctx, 80, 60, 1.5);
    float *p = impasto_image_data(bf);
    for (size_t i = 0; i < 80 * 60 * 3; i++) p[i] += 0.1f;
    double e = -1, trusted = 0, ef = -1;
    CHECK(impasto_warping_error(ctx, a, b, a, b, &e, &trusted) == IMPASTO_OK);
    CHECK_MSG(e >= 0 && e < 2e-4, "error %g", e);
    CHECK_MSG(trusted > 0.8, "trusted %g", trusted);
    CHECK(impasto_warping_error(ctx, a, b, a, bf, &ef, NULL) == IMPASTO_OK);
    CHECK_MSG(fabs(ef - 0.03) < 0.003, "flicker error %g, wanted 0.03", ef);
    impasto_image *small = pattern(ctx, 40, 60, 0);
    CHECK(impasto_warping_error(ctx, a, small, a, b, &e, NULL) == IMPASTO_ERR_INVALID_ARG);
    impasto_image_free(small);
    impasto_image_free(a);
    impasto_image_free(b);
    impasto_image_free(bf);
    impasto_ctx_free(ctx);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/impasto-video-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "cannot make a temporary folder\n");
        return 1;
    }
    RUN(test_round_trip);
    RUN(test_folder);
    RUN(test_temporal_motion);
    RUN(test_temporal_blend);
    RUN(test_warping_error);
    rmdir(tmpdir);
    return test_summary();
}
