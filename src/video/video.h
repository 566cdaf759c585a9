/* Video in and out (impasto.h's impasto_video_*): what the reader (reader.c) and the writer
 * (writer.c) share. Built with FFmpeg's libraries when the Makefile defines IMPASTO_VIDEO; the
 * folder-of-frames paths need nothing but the picture codecs. */
#ifndef IMPASTO_VIDEO_VIDEO_H
#define IMPASTO_VIDEO_VIDEO_H

#include "impasto.h"

#include <stddef.h>
#include <stdint.h>

#ifdef IMPASTO_VIDEO
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
#endif

/* Audio packets demuxed ahead of the frames being written, waiting for the writer. */
typedef struct video_packet_queue {
#ifdef IMPASTO_VIDEO
    AVPacket **pkt;
#endif
    size_t head, n, cap;
} video_packet_queue;

#define VIDEO_READER_MAGIC 0x76696472u

struct impasto_video_reader {
    unsigned magic;             /* VIDEO_READER_MAGIC, for FFmpeg's log callback */
    long log_errors;            /* errors FFmpeg logged about this file (video_log) */
    impasto_video_info info;
    long frames_read;
    /* A folder of frames: its sorted file names. */
    char **files;
    size_t nfiles;
#ifdef IMPASTO_VIDEO
    AVFormatContext *fmt;
    AVIOContext *mem_io;        /* reading from memory (video_reader_open_memory), else NULL */
    const uint8_t *mem;         /* that memory, its size and read position */
    size_t mem_size, mem_pos;
    AVCodecContext *dec;
    struct SwsContext *sws;
    AVPacket *pkt;
    AVFrame *frame;
    int vstream, astream;       /* stream indices (astream -1: no audio) */
    int keep_audio;             /* a writer copies the audio: queue its packets */
    video_packet_queue audio;
    int demux_done, flushing, decoder_done;
    long packets;               /* video packets sent to the decoder */
    int64_t last_pts;           /* the last frame's time stamp in the video stream's time base */
    int64_t frame_step;         /* one frame's duration in that time base, for missing stamps */
#endif
};

/* A video whose frames end before this share of its declared duration is truncated. */
#define VIDEO_MIN_COVERED 0.9

/* The longest input the memory reader (the fuzz target) takes, and the probe it allows. */
#define VIDEO_MEMORY_MAX_BYTES ((size_t)64 << 20)

/* impasto_video_open over `size` bytes in memory (a custom AVIOContext; FFmpeg builds only):
 * the demuxing and decoding path the fuzz target exercises. `name` is for messages. */
impasto_status video_reader_open_memory(impasto_ctx *ctx, const uint8_t *data, size_t size, const char *name,
                                        impasto_video_reader **out);

#ifdef IMPASTO_VIDEO
/* Reads on to the end of the file, queueing the audio packets (for the writer's last copy). */
impasto_status video_reader_drain_audio(impasto_ctx *ctx, impasto_video_reader *r);
/* The oldest queued audio packet, removed from the queue (the caller frees it), or NULL. */
AVPacket *video_reader_pop_audio(impasto_video_reader *r);
/* The oldest queued audio packet without removing it, or NULL. */
const AVPacket *video_reader_peek_audio(const impasto_video_reader *r);
/* The streams, for the writer's metadata and its copy of the audio. */
const AVStream *video_reader_vstream(const impasto_video_reader *r);
const AVStream *video_reader_astream(const impasto_video_reader *r);
#endif

/* Routes FFmpeg's log to the reader it concerns (counting errors) and prints nothing. */
void video_quiet_log(void);

/* 1 when `path` ends in '/' or is an existing folder: a folder of frames. */
int video_path_is_folder(const char *path);

#endif
