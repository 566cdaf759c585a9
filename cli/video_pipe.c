/* impasto video's I/O thread (video_pipe.h). One thread does both the reading and the writing, in
 * that order of priority: queued frames are encoded first, then frames are read ahead while there
 * is room. The reader and the writer are never used by two threads at once (the writer copies the
 * audio the reader queues), and the writer never falls more than PIPE_AHEAD + 1 + PIPE_BEHIND
 * frames behind the reader, within the VIDEO_PTS_RING stamps the reader keeps. */
#include "video_pipe.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#define PIPE_AHEAD 2   /* frames read ahead */
#define PIPE_BEHIND 2  /* stylised frames waiting for the encoder */

struct video_pipe {
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    impasto_ctx *io;
    impasto_video_reader *reader;
    impasto_video_writer *writer;
    int width, height;
    long max_frames, frames_read;
    impasto_image *in[PIPE_AHEAD];    /* read ahead, oldest at in_head */
    int in_head, in_n;
    int read_end;                     /* 1: the stream ended; 2: max_frames reached */
    impasto_status read_status;
    impasto_image *out[PIPE_BEHIND];  /* to encode, oldest at out_head */
    int out_head, out_n;
    impasto_status write_status;
    int stopping;                     /* 1: encode what is queued and end; 2: drop it and end */
};

/* One frame from the reader, resized when its size is not the output's. Called unlocked. */
static impasto_status read_one(video_pipe *p, impasto_image **frame) {
    impasto_image *f = NULL, *sized = NULL;
    impasto_status s = impasto_video_read(p->io, p->reader, &f);
    if (s == IMPASTO_OK && f && (impasto_image_width(f) != p->width || impasto_image_height(f) != p->height)) {
        s = impasto_image_resize(p->io, f, p->width, p->height, &sized);
        impasto_image_free(f);
        f = sized;
    }
    *frame = s == IMPASTO_OK ? f : NULL;
    if (s != IMPASTO_OK) impasto_image_free(f);
    return s;
}

static void *pipe_thread(void *arg) {
    video_pipe *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->out_n > 0 && p->write_status == IMPASTO_OK && p->stopping != 2) {
            impasto_image *f = p->out[p->out_head];
            pthread_mutex_unlock(&p->mu);
            impasto_status s = impasto_video_write(p->io, p->writer, f);
            impasto_image_free(f);
            pthread_mutex_lock(&p->mu);
            p->out_head = (p->out_head + 1) % PIPE_BEHIND;
            p->out_n--;
            if (s != IMPASTO_OK) p->write_status = s;
            pthread_cond_broadcast(&p->cv);
            continue;
        }
        while (p->out_n > 0) {  /* after a failed write, or dropped */
            impasto_image_free(p->out[p->out_head]);
            p->out_head = (p->out_head + 1) % PIPE_BEHIND;
            p->out_n--;
        }
        if (p->stopping) break;
        if (!p->read_end && p->read_status == IMPASTO_OK && p->in_n < PIPE_AHEAD) {
            if (p->max_frames && p->frames_read >= p->max_frames) {
                p->read_end = 2;
            } else {
                pthread_mutex_unlock(&p->mu);
                impasto_image *f = NULL;
                impasto_status s = read_one(p, &f);
                pthread_mutex_lock(&p->mu);
                if (s != IMPASTO_OK) p->read_status = s;
                else if (!f) p->read_end = 1;
                else {
                    p->in[(p->in_head + p->in_n) % PIPE_AHEAD] = f;
                    p->in_n++;
                    p->frames_read++;
                }
            }
            pthread_cond_broadcast(&p->cv);
            continue;
        }
        pthread_cond_wait(&p->cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

video_pipe *video_pipe_start(impasto_ctx *io, impasto_video_reader *r, impasto_video_writer *w, int width, int height,
                             long max_frames) {
    video_pipe *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->io = io;
    p->reader = r;
    p->writer = w;
    p->width = width;
    p->height = height;
    p->max_frames = max_frames;
    if (pthread_mutex_init(&p->mu, NULL)) {
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->cv, NULL)) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    /* Ctrl-C goes to the main thread, which stops at a frame's end; this one is never interrupted
     * inside FFmpeg. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    p->started = pthread_create(&p->thread, NULL, pipe_thread, p) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!p->started) {
        video_pipe_free(p);
        return NULL;
    }
    return p;
}

impasto_status video_pipe_next(video_pipe *p, impasto_image **frame, int *cut) {
    *frame = NULL;
    *cut = 0;
    pthread_mutex_lock(&p->mu);
    while (p->in_n == 0 && !p->read_end && p->read_status == IMPASTO_OK) pthread_cond_wait(&p->cv, &p->mu);
    impasto_status s = IMPASTO_OK;
    if (p->in_n > 0) {
        *frame = p->in[p->in_head];
        p->in_head = (p->in_head + 1) % PIPE_AHEAD;
        p->in_n--;
        pthread_cond_broadcast(&p->cv);
    } else if (p->read_status != IMPASTO_OK) {
        s = p->read_status;
    } else {
        *cut = p->read_end == 2;
    }
    pthread_mutex_unlock(&p->mu);
    return s;
}

impasto_status video_pipe_write(video_pipe *p, impasto_image *frame) {
    pthread_mutex_lock(&p->mu);
    while (p->out_n == PIPE_BEHIND && p->write_status == IMPASTO_OK) pthread_cond_wait(&p->cv, &p->mu);
    impasto_status s = p->write_status;
    if (s == IMPASTO_OK) {
        p->out[(p->out_head + p->out_n) % PIPE_BEHIND] = frame;
        p->out_n++;
        pthread_cond_broadcast(&p->cv);
    } else {
        impasto_image_free(frame);
    }
    pthread_mutex_unlock(&p->mu);
    return s;
}

impasto_status video_pipe_stop(video_pipe *p, int finish) {
    if (!p) return IMPASTO_OK;
    pthread_mutex_lock(&p->mu);
    if (!p->stopping || !finish) p->stopping = finish ? 1 : 2;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (p->started) pthread_join(p->thread, NULL);
    p->started = 0;
    return p->write_status;
}

void video_pipe_free(video_pipe *p) {
    if (!p) return;
    video_pipe_stop(p, 0);
    while (p->in_n > 0) {
        impasto_image_free(p->in[p->in_head]);
        p->in_head = (p->in_head + 1) % PIPE_AHEAD;
        p->in_n--;
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
