/* impasto video over the processes of an MPI job (video_ranks.h, docs/cluster.md).
 *
 * Process 0 counts the frames by decoding them (a container's count is a hint that may lie) and
 * makes a folder for the parts beside the output, which every process must see (a cluster's shared
 * file system). Process r of N takes the frames [r n / N, (r + 1) n / N): it decodes from the start
 * of the file (no seeking: exact on every container), repaints from K frames before its first one
 * with the temporal consistency running, keeps only its own frames and saves each as a PNG in the
 * parts folder (lossless: the single process's encoder is given the same 8-bit pixels). When every
 * process is done, process 0 reads the input once more for each frame's time stamp and encodes the
 * parts in order with the writer one process uses, so the frame count, time stamps, aspect,
 * rotation and the audio (copied once, packet for packet) are as one process makes them. Encoding
 * chunks in parallel and joining them by stream copy would save process 0 that last pass but ties
 * the result to each codec's and container's rules for joining (keyframes, B-frame reordering,
 * edit lists, audio interleaving); repainting is what costs, encoding is cheap beside it.
 *
 * The warm-up K: where the flow is trusted, the blend makes out_t = (1 - w) s_t + w warp(out_{t-1})
 * (impasto_temporal_blend; s_t the frame's own stylisation, which for fast, adain and wct does not
 * depend on the past). Two runs that differ only in what came before frame t0 then differ at frame
 * t0 + j by at most w^(j+1) (warping interpolates, so it never widens a difference), so with
 * w^K < 1/510 the first frame of a chunk is within half an 8-bit level of one process's result.
 * transfer starts each frame's optimisation from the previous result, so for it the bound does not
 * hold and seams are close, not equal. */
#include "video_ranks.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The longest warm-up (a temporal weight near 1 remembers for ever): 10 s at 25 fps. */
#define VIDEO_RANKS_MAX_WARMUP 250
/* Half an 8-bit level: what the warm-up leaves of the previous chunk's influence at most. */
#define VIDEO_RANKS_SEAM_TOLERANCE (1.0 / 510.0)

enum { PART_OK = 0, PART_FAILED, PART_INTERRUPTED, PART_NO_FOLDER };

/* K frames with w^K below the tolerance (0 without temporal consistency). */
static long warmup(const impasto_temporal_options *t) {
    if (!t || !(t->weight > 0)) return 0;
    if (t->weight >= 1) return VIDEO_RANKS_MAX_WARMUP;
    const long k = (long)ceil(log(VIDEO_RANKS_SEAM_TOLERANCE) / log(t->weight));
    return k < VIDEO_RANKS_MAX_WARMUP ? k : VIDEO_RANKS_MAX_WARMUP;
}

/* The part of frame i; 0 when the name does not fit. */
static int part_path(const char *parts, long i, char *buf, size_t n) {
    const int len = snprintf(buf, n, "%s/%09ld.png", parts, i);
    return len >= 0 && (size_t)len < n;
}

/* Frames in the file, counted by decoding them all (at most max, when max > 0). */
static impasto_status count_frames(impasto_ctx *ctx, const char *content, long max, long *n) {
    impasto_video_reader *r = NULL;
    impasto_image *f = NULL;
    *n = 0;
    impasto_status s = impasto_video_open(ctx, content, &r);
    while (s == IMPASTO_OK && (max <= 0 || *n < max) && (s = impasto_video_read(ctx, r, &f)) == IMPASTO_OK && f) {
        impasto_image_free(f);
        f = NULL;
        ++*n;
    }
    impasto_video_close(r);
    return s;
}

/* The live line of process 0: its own chunk's frames. */
static void show(const video_ranks_job *j, long done, long total, double t0) {
    cli_progress *p = j->progress;
    if (!p->live) return;
    const double now = cli_now();
    if (done < total && now - p->last_draw < 0.1) return;
    p->last_draw = now;
    const double secs = now - t0, fps = secs > 0 ? (double)done / secs : 0;
    char eta[32] = "?";
    if (fps > 0) cli_format_duration((double)(total - done) / fps, eta, sizeof eta);
    fprintf(stderr, "\r\033[Kframe %ld/%ld of process 0's %ld (of %d processes)  %.2f fps  ETA %s", done, total, total,
            cluster_size(), fps, eta);
    fflush(stderr);
    p->line_open = 1;
}

/* This process's frames [first, end), repainted from `from` on, saved into parts; *done counts
 * the saved ones. Returns a PART_ code, having said what failed. */
static int run_part(impasto_ctx *ctx, const video_ranks_job *j, const char *parts, long from, long first, long end,
                    long *done) {
    const int ow = j->wopt->width, oh = j->wopt->height;
    impasto_temporal *tp = NULL;
    impasto_image *frame = NULL, *sized = NULL, *result = NULL;
    impasto_status s = IMPASTO_OK;
    int rc = PART_OK;
    const double t0 = cli_now();
    if (j->temporal) s = impasto_temporal_create(ctx, ow, oh, j->temporal, &tp);
    for (long i = 0; s == IMPASTO_OK && i < end; i++) {
        if ((s = impasto_video_read(ctx, j->reader, &frame)) != IMPASTO_OK || !frame) break;
        if (i >= from) {
            const impasto_image *f = frame;
            if (impasto_image_width(frame) != ow || impasto_image_height(frame) != oh) {
                if ((s = impasto_image_resize(ctx, frame, ow, oh, &sized)) != IMPASTO_OK) break;
                f = sized;
            }
            const impasto_image *warped = NULL, *mask = NULL;
            if (tp && (s = impasto_temporal_next(ctx, tp, f, &warped, &mask)) != IMPASTO_OK) break;
            if ((s = j->stylize(j->user, ctx, f, warped, mask, &result)) != IMPASTO_OK) break;
            if (tp && (s = impasto_temporal_blend(ctx, tp, result)) != IMPASTO_OK) break;
            if (i >= first) {
                char path[PATH_MAX];
                if (!part_path(parts, i, path, sizeof path)) s = IMPASTO_ERR_INVALID_ARG;
                if (s != IMPASTO_OK || (s = impasto_image_save(ctx, result, path, 0)) != IMPASTO_OK) break;
                ++*done;
                show(j, *done, end - first, t0);
            }
        }
        impasto_image_free(result);
        impasto_image_free(sized);
        impasto_image_free(frame);
        result = sized = frame = NULL;
        if (cli_interrupted()) {
            rc = PART_INTERRUPTED;
            break;
        }
    }
    progress_clear(j->progress);
    if (s == IMPASTO_ERR_CANCELLED) {
        rc = PART_INTERRUPTED;
    } else if (s != IMPASTO_OK) {
        cli_fail(j->cmd, ctx, s, j->content);
        cli_json_failed(j->progress, j->content, impasto_ctx_error(ctx));
        rc = PART_FAILED;
    }
    impasto_image_free(result);
    impasto_image_free(sized);
    impasto_image_free(frame);
    impasto_temporal_free(tp);
    return rc;
}

/* Process 0: the first n parts encoded in order with the input's time stamps and audio, into the
 * output (or final, for the frames of an interrupted run). Returns 0, or 1 having said why. */
static int assemble(impasto_ctx *ctx, const video_ranks_job *j, const char *parts, long n, const char *final,
                               int rest_of_audio) {
    impasto_video_reader *r = NULL;
    impasto_video_writer *w = NULL;
    impasto_image *in = NULL, *part = NULL;
    long frames_in = 0;
    impasto_status s = impasto_video_open(ctx, j->content, &r);
    if (s == IMPASTO_OK) {
        impasto_video_info info;
        impasto_video_get_info(r, &info);
        s = impasto_video_writer_open(ctx, j->output, info.is_folder ? NULL : r, j->wopt, &w);
    }
    for (long i = 0; s == IMPASTO_OK && i < n; i++) {
        char path[PATH_MAX];
        if (!part_path(parts, i, path, sizeof path)) break;
        /* the input frame read first: the writer stamps each frame with the last one read */
        if ((s = impasto_video_read(ctx, r, &in)) != IMPASTO_OK || !in) break;
        frames_in++;
        if ((s = impasto_image_load(ctx, path, &part)) == IMPASTO_OK) s = impasto_video_write(ctx, w, part);
        impasto_image_free(in);
        impasto_image_free(part);
        in = part = NULL;
    }
    /* the file was counted by decoding it: it cannot end sooner unless it changed meanwhile */
    const int short_read = s == IMPASTO_OK && frames_in < n;
    if (s == IMPASTO_OK && !short_read) s = impasto_video_writer_finish(ctx, w, final, rest_of_audio);
    impasto_video_writer_free(w);
    impasto_video_close(r);
    if (short_read) cli_error(j->cmd, 0, "%s ended at frame %ld of %ld: did it change during the run?", j->content,
                              frames_in, n);
    else if (s != IMPASTO_OK) cli_fail(j->cmd, ctx, s, j->content);
    if (s != IMPASTO_OK || short_read) cli_json_failed(j->progress, j->content, short_read ? "input changed" : impasto_ctx_error(ctx));
    return s != IMPASTO_OK || short_read;
}

/* The parts folder and every part in it, gone. */
static void remove_parts(const char *parts, long n) {
    for (long i = 0; i < n; i++) {
        char path[PATH_MAX];
        if (part_path(parts, i, path, sizeof path)) unlink(path);
    }
    rmdir(parts);
}

int video_ranks_run(impasto_ctx *ctx, const video_ranks_job *j) {
    const impasto_process_group *g = cluster_group();
    const int rank = cluster_rank(), np = cluster_size();
    const char *cmd = j->cmd;
    /* 1. Process 0 counts the frames and makes the parts folder; the others learn both. */
    /* beside the output (a folder of frames: beside that folder) */
    char dir[PATH_MAX - 64], parts[PATH_MAX], out[PATH_MAX];
    snprintf(out, sizeof out, "%s", j->output);
    for (size_t len = strlen(out); len > 1 && out[len - 1] == '/'; len--) out[len - 1] = 0;
    cli_parent_dir(out, dir, sizeof dir);
    double head[2] = {0, 0};  /* frames (negative: process 0 failed and said why), the folder's number */
    if (rank == 0) {
        long n = 0;
        impasto_status s = count_frames(ctx, j->content, j->max_frames, &n);
        head[0] = (double)n;
        head[1] = (double)getpid();
        snprintf(parts, sizeof parts, "%s/.impasto-video-parts-%.0f", dir, head[1]);
        if (s != IMPASTO_OK) {
            cli_fail(cmd, ctx, s, j->content);
            head[0] = -1;
        } else if (mkdir(parts, 0777) != 0) {
            cli_error(cmd, 0, "cannot make the folder %s for the processes' frames: %s", parts, strerror(errno));
            head[0] = -1;
        }
    }
    if (g->sum(g->user, head, 2, 1) != 0) {
        cli_error(cmd, 0, "the processes of the job lost each other");
        return 1;
    }
    if (head[0] < 0) return 1;
    const long n = (long)head[0], first = n * rank / np, end = n * (rank + 1) / np;
    const long warm = warmup(j->temporal), from = first > warm ? first - warm : 0;
    snprintf(parts, sizeof parts, "%s/.impasto-video-parts-%.0f", dir, head[1]);

    /* 2. Every process its chunk. */
    long done = 0;
    int part = PART_OK;
    if (!cli_is_dir(parts)) part = PART_NO_FOLDER;
    else if (first < end) part = run_part(ctx, j, parts, from, first, end, &done);
    cli_json_number(j->progress, "first_frame", (double)first);
    cli_json_number(j->progress, "frames", (double)done);
    cli_json_number(j->progress, "warmup_frames", (double)(first - from));

    /* 3. What each did, to every process (each fills its own entries: the rest are zeros). */
    double *v = calloc(2 * (size_t)np, sizeof *v);
    if (!v) {
        cli_error(cmd, 0, "out of memory");
        cluster_lockstep(1);  /* the others wait in the sum: leaving ends the job (cluster_finish) */
        return 1;
    }
    v[rank] = part;
    v[np + rank] = (double)done;
    if (g->sum(g->user, v, 2 * (size_t)np, 1) != 0) {
        free(v);
        cli_error(cmd, 0, "the processes of the job lost each other");
        return 1;
    }
    int rc = part == PART_OK ? 0 : part == PART_INTERRUPTED ? EXIT_INTERRUPTED : 1;
    if (rank != 0) {
        free(v);
        return rc;
    }
    /* 4. Process 0 encodes: everything, or after a Ctrl-C the frames done from the first on. */
    long keep = 0;
    int failed = 0, interrupted = 0;
    for (int r = 0; r < np; r++) {
        const int pr = (int)v[r];
        if (pr == PART_NO_FOLDER)
            cli_error(cmd, 0, "process %d does not see the folder %s: the output's folder must be shared by the "
                      "processes (a cluster's shared file system)", r, parts);
        failed |= pr == PART_FAILED || pr == PART_NO_FOLDER;
        interrupted |= pr == PART_INTERRUPTED;
    }
    for (int r = 0; r < np; r++) {
        const long size = n * (r + 1) / np - n * r / np;
        keep += (long)v[np + r];
        if ((long)v[np + r] < size) break;
    }
    free(v);
    if (failed) {
        if (part == PART_OK) cli_error(cmd, 0, "another process failed (its message above): %s was not written", j->output);
        rc = 1;
    } else if (interrupted && keep == 0) {
        cli_error(cmd, 0, "interrupted before the first frame was done; %s is as it was", j->output);
        rc = EXIT_INTERRUPTED;
    } else if (interrupted) {
        if (assemble(ctx, j, parts, keep, j->interrupted_output, 0) == 0) {
            cli_error(cmd, 0, "interrupted; the %ld frames done from the first on are in %s (%s is as it was)", keep,
                      j->interrupted_output, j->output);
            cli_json_failed(j->progress, j->content, "interrupted");
        }
        rc = EXIT_INTERRUPTED;
    } else if (assemble(ctx, j, parts, n, NULL, !(j->max_frames > 0 && n == j->max_frames)) != 0) {
        rc = 1;
    } else {
        cli_wrote(j->progress, j->output, j->wopt->width, j->wopt->height);
        rc = 0;
    }
    remove_parts(parts, n);
    return rc;
}
