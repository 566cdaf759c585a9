/* impasto video in a job of several processes (docs/cluster.md): the frames split into one
 * contiguous chunk per process, each repainted by its process with a warm-up before it so that the
 * temporal consistency carries across the seams, then encoded by process 0 as one process would. */
#ifndef IMPASTO_CLI_VIDEO_RANKS_H
#define IMPASTO_CLI_VIDEO_RANKS_H

#include "cli.h"

/* One frame repainted: *out a new RGB image of the frame's size (warped and mask as
 * impasto_temporal_next gave them, NULL on a shot's first frame or without temporal consistency). */
typedef impasto_status (*video_ranks_stylize_fn)(void *user, impasto_ctx *ctx, const impasto_image *frame,
                                                  const impasto_image *warped, const impasto_image *mask,
                                                  impasto_image **out);

typedef struct video_ranks_job {
    const char *cmd;
    const char *content, *output;       /* -c and -o as given */
    const char *interrupted_output;     /* where the frames done go after a Ctrl-C */
    impasto_video_reader *reader;       /* open on content, nothing read yet */
    const impasto_video_writer_options *wopt;  /* width and height: the output frames' */
    const impasto_temporal_options *temporal;  /* NULL: frame by frame */
    long max_frames;                    /* 0: every frame */
    video_ranks_stylize_fn stylize;
    void *user;
    cli_progress *progress;
} video_ranks_job;

/* Runs this process's part of the job; returns the exit code (process 0's says what became of the
 * output; every process reports its own failures). */
int video_ranks_run(impasto_ctx *ctx, const video_ranks_job *job);

#endif
