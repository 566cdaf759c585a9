/* impasto video's I/O thread (video_pipe.c): decoding runs ahead of the frame being stylised and
 * encoding behind it, so that the serial work of FFmpeg's codecs and the conversions overlaps the
 * stylisation's parallel work instead of following it. */
#ifndef IMPASTO_CLI_VIDEO_PIPE_H
#define IMPASTO_CLI_VIDEO_PIPE_H

#include "impasto.h"

typedef struct video_pipe video_pipe;

/* Starts the thread on reader r and writer w, which only the pipe then uses until video_pipe_stop;
 * frames are resized to width x height; at most max_frames of them (0: all). `io` is the thread's
 * own context: the messages of the pipe's failures are there. NULL when out of memory or no thread
 * could be started. */
video_pipe *video_pipe_start(impasto_ctx *io, impasto_video_reader *r, impasto_video_writer *w, int width, int height,
                             long max_frames);
/* The next frame (the caller frees it), or *frame NULL at the end (*cut 1 when max_frames ended
 * it). Frames before a damaged part come first; then the reader's failure. */
impasto_status video_pipe_next(video_pipe *p, impasto_image **frame, int *cut);
/* Queues a stylised frame for the encoder; the pipe takes it (also on failure). Returns the failure
 * of an earlier frame's encoding, if any. */
impasto_status video_pipe_write(video_pipe *p, impasto_image *frame);
/* Encodes the frames still queued (finish 1) or drops them (0), and ends the thread. Returns the
 * encoder's failure, if any. Also by video_pipe_free. */
impasto_status video_pipe_stop(video_pipe *p, int finish);
void video_pipe_free(video_pipe *p);

#endif
