/* Reading video (impasto.h's impasto_video_open / _read): a file demuxed by libavformat and decoded
 * by libavcodec, each frame converted to RGB by libswscale; or a folder of PNG/JPEG frames. */
#include "video/video.h"

#include "core/ctx.h"
#include "core/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef IMPASTO_VIDEO
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#endif

int impasto_video_supported(void) {
#ifdef IMPASTO_VIDEO
    return 1;
#else
    return 0;
#endif
}

int video_path_is_folder(const char *path) {
    size_t n = strlen(path);
    if (n && path[n - 1] == '/') return 1;
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

long impasto_video_frames_read(const impasto_video_reader *r) { return r ? r->frames_read : 0; }

void impasto_video_get_info(const impasto_video_reader *r, impasto_video_info *info) {
    if (r && info) *info = r->info;
}

/* ---- a folder of frames ------------------------------------------------------------------- */

static int has_frame_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static impasto_status open_folder(impasto_ctx *ctx, const char *path, impasto_video_reader *r) {
    DIR *d = opendir(path);
    if (!d) return ctx_fail(ctx, IMPASTO_ERR_IO, "cannot open the folder %s: %s", path, strerror(errno));
    size_t cap = 0;
    impasto_status s = IMPASTO_OK;
    for (struct dirent *e; s == IMPASTO_OK && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.' || !has_frame_ext(e->d_name)) continue;
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        char *p = malloc(len);
        if (!p) { s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory listing %s", path); break; }
        snprintf(p, len, "%s/%s", path, e->d_name);
        if (r->nfiles == cap) {
            size_t nc = cap ? 2 * cap : 64;
            char **q = realloc(r->files, nc * sizeof *q);
            if (!q) { free(p); s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory listing %s", path); break; }
            r->files = q;
            cap = nc;
        }
        r->files[r->nfiles++] = p;
    }
    closedir(d);
    if (s != IMPASTO_OK) return s;
    if (r->nfiles == 0) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s has no PNG or JPEG frames", path);
    qsort(r->files, r->nfiles, sizeof *r->files, cmp_names);
    /* The first frame gives the size (the others are scaled to it). */
    impasto_image *first = NULL;
    s = impasto_image_load(ctx, r->files[0], &first);
    if (s != IMPASTO_OK) return s;
    r->info.width = first->width;
    r->info.height = first->height;
    impasto_image_free(first);
    r->info.fps_num = 25;
    r->info.fps_den = 1;
    r->info.frames = (long)r->nfiles;
    r->info.sar_num = 0;
    r->info.sar_den = 1;
    r->info.is_folder = 1;
    snprintf(r->info.codec, sizeof r->info.codec, "images");
    return IMPASTO_OK;
}

/* Frame i of the folder as RGB of the first frame's size. */
static impasto_status read_folder(impasto_ctx *ctx, impasto_video_reader *r, impasto_image **frame) {
    if ((size_t)r->frames_read >= r->nfiles) return IMPASTO_OK;
    impasto_image *img = NULL;
    impasto_status s = impasto_image_load(ctx, r->files[r->frames_read], &img);
    if (s != IMPASTO_OK) return s;
    impasto_image *rgb = NULL;
    if (img->width != r->info.width || img->height != r->info.height) {
        s = impasto_image_resize(ctx, img, r->info.width, r->info.height, &rgb);
        impasto_image_free(img);
        if (s != IMPASTO_OK) return s;
        img = rgb;
        rgb = NULL;
    }
    if (img->channels != 3) {
        s = image_alloc(ctx, img->width, img->height, 3, &rgb);
        if (s != IMPASTO_OK) { impasto_image_free(img); return s; }
        const size_t n = (size_t)img->width * (size_t)img->height;
        const int ch = img->channels;
        for (size_t i = 0; i < n; i++) {
            const float *p = img->data + i * (size_t)ch;
            /* Gray is replicated; alpha is composited over white, as JPEG saving does. */
            const float a = ch == 2 ? p[1] : ch == 4 ? p[3] : 1.0f;
            for (int c = 0; c < 3; c++) {
                const float v = ch <= 2 ? p[0] : p[c];
                rgb->data[3 * i + (size_t)c] = v * a + (1.0f - a);
            }
        }
        impasto_image_free(img);
        img = rgb;
    }
    *frame = img;
    r->frames_read++;
    return IMPASTO_OK;
}

/* ---- FFmpeg ------------------------------------------------------------------------------- */

#ifdef IMPASTO_VIDEO

static const char *av_err(int e, char *buf, size_t n) {
    if (av_strerror(e, buf, n) < 0) snprintf(buf, n, "error %d", e);
    return buf;
}

static int mem_read(void *opaque, uint8_t *buf, int n) {
    impasto_video_reader *r = opaque;
    size_t left = r->mem_size - r->mem_pos;
    if (left == 0) return AVERROR_EOF;
    size_t k = (size_t)n < left ? (size_t)n : left;
    memcpy(buf, r->mem + r->mem_pos, k);
    r->mem_pos += k;
    return (int)k;
}

static int64_t mem_seek(void *opaque, int64_t offset, int whence) {
    impasto_video_reader *r = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)r->mem_size;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)r->mem_pos; break;
    case SEEK_END: base = (int64_t)r->mem_size; break;
    default: return AVERROR(EINVAL);
    }
    if (offset > INT64_MAX - base) return AVERROR(EINVAL);
    int64_t p = base + offset;
    if (p < 0 || p > (int64_t)r->mem_size) return AVERROR(EINVAL);
    r->mem_pos = (size_t)p;
    return p;
}

static void queue_clear(video_packet_queue *q) {
    for (size_t i = 0; i < q->n; i++) av_packet_free(&q->pkt[(q->head + i) % q->cap]);
    free(q->pkt);
    memset(q, 0, sizeof *q);
}

static int queue_push(video_packet_queue *q, AVPacket *p) {
    if (q->n == q->cap) {
        size_t nc = q->cap ? 2 * q->cap : 64;
        AVPacket **np = malloc(nc * sizeof *np);
        if (!np) return 0;
        for (size_t i = 0; i < q->n; i++) np[i] = q->pkt[(q->head + i) % q->cap];
        free(q->pkt);
        q->pkt = np;
        q->cap = nc;
        q->head = 0;
    }
    q->pkt[(q->head + q->n) % q->cap] = p;
    q->n++;
    return 1;
}

AVPacket *video_reader_pop_audio(impasto_video_reader *r) {
    video_packet_queue *q = &r->audio;
    if (!q->n) return NULL;
    AVPacket *p = q->pkt[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    return p;
}

const AVPacket *video_reader_peek_audio(const impasto_video_reader *r) {
    return r->audio.n ? r->audio.pkt[r->audio.head] : NULL;
}

const AVStream *video_reader_vstream(const impasto_video_reader *r) {
    return r->fmt ? r->fmt->streams[r->vstream] : NULL;
}

const AVStream *video_reader_astream(const impasto_video_reader *r) {
    return r->fmt && r->astream >= 0 ? r->fmt->streams[r->astream] : NULL;
}

/* After avformat_open_input: the streams, the decoder, the metadata. */
static impasto_status setup_streams(impasto_ctx *ctx, const char *name, impasto_video_reader *r) {
    char e[128];
    int ret = avformat_find_stream_info(r->fmt, NULL);
    if (ret < 0) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: cannot read the streams: %s", name, av_err(ret, e, sizeof e));
    const AVCodec *codec = NULL;
    r->vstream = -1;
    r->astream = -1;
    for (unsigned i = 0; i < r->fmt->nb_streams; i++) {
        const AVStream *st = r->fmt->streams[i];
        if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(st->disposition & AV_DISPOSITION_ATTACHED_PIC) &&
            r->vstream < 0)
            r->vstream = (int)i;
        if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO && r->astream < 0) r->astream = (int)i;
    }
    if (r->vstream < 0) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s has no video stream", name);
    AVStream *vs = r->fmt->streams[r->vstream];
    const AVCodecParameters *par = vs->codecpar;
    const char *cname = avcodec_get_name(par->codec_id);
    snprintf(r->info.codec, sizeof r->info.codec, "%s", cname ? cname : "unknown");
    codec = avcodec_find_decoder(par->codec_id);
    if (!codec && par->codec_id == AV_CODEC_ID_NONE) {
        char tag[AV_FOURCC_MAX_STRING_SIZE];
        av_fourcc_make_string(tag, par->codec_tag);
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: an unknown video codec (tag '%s') that FFmpeg cannot decode",
                        name, tag);
    }
    if (!codec)
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: the video codec '%s' is not one this FFmpeg can decode", name,
                        r->info.codec);
    if (par->width <= 0 || par->height <= 0)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the video stream has no frame size", name);
    if (par->width > IMPASTO_MAX_SIDE || par->height > IMPASTO_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "%s: frames of %dx%d are larger than %d pixels on a side", name,
                        par->width, par->height, IMPASTO_MAX_SIDE);
    impasto_status s = image_check_pixels(ctx, name, (uint64_t)par->width, (uint64_t)par->height);
    if (s != IMPASTO_OK) return s;
    if (!(r->dec = avcodec_alloc_context3(codec)) || avcodec_parameters_to_context(r->dec, par) < 0)
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "%s: out of memory for the decoder", name);
    r->dec->thread_count = ctx_threads(ctx);
    r->dec->opaque = r;
    /* A damaged packet is an error, not a frame patched up by concealment. */
    r->dec->err_recognition |= AV_EF_EXPLODE;
    if ((ret = avcodec_open2(r->dec, codec, NULL)) < 0)
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: cannot start the '%s' decoder: %s", name, r->info.codec,
                        av_err(ret, e, sizeof e));
    if (!(r->pkt = av_packet_alloc()) || !(r->frame = av_frame_alloc()))
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    r->info.width = par->width;
    r->info.height = par->height;
    AVRational fr = vs->avg_frame_rate.num > 0 && vs->avg_frame_rate.den > 0 ? vs->avg_frame_rate : vs->r_frame_rate;
    /* A constant rate stored with coarse stamps (Matroska's milliseconds) averages to 11.98 for 12:
     * FFmpeg's guess of the base rate is taken when it is within 1% of the average. */
    if (vs->r_frame_rate.num > 0 && vs->r_frame_rate.den > 0 && fr.num > 0 && fr.den > 0 &&
        fabs(av_q2d(vs->r_frame_rate) / av_q2d(fr) - 1) < 0.01)
        fr = vs->r_frame_rate;
    if (fr.num <= 0 || fr.den <= 0) fr = (AVRational){25, 1};
    r->info.fps_num = fr.num;
    r->info.fps_den = fr.den;
    r->info.frames = vs->nb_frames > 0 ? (long)vs->nb_frames : -1;
    if (r->info.frames < 0 && vs->duration > 0)
        r->info.frames = (long)av_rescale_q(vs->duration, vs->time_base, av_inv_q(fr));
    AVRational sar = vs->sample_aspect_ratio.num ? vs->sample_aspect_ratio : par->sample_aspect_ratio;
    r->info.sar_num = sar.num > 0 && sar.den > 0 ? sar.num : 0;
    r->info.sar_den = sar.num > 0 && sar.den > 0 ? sar.den : 1;
    size_t dm_size = 0;
    const uint8_t *dm = av_stream_get_side_data(vs, AV_PKT_DATA_DISPLAYMATRIX, &dm_size);
    if (dm && dm_size >= 9 * sizeof(int32_t)) {
        double rot = av_display_rotation_get((const int32_t *)dm);
        r->info.rotation = rot == rot ? rot : 0;
    }
    r->info.has_audio = r->astream >= 0;
    if (vs->duration > 0 && vs->duration != AV_NOPTS_VALUE) r->info.duration = (double)vs->duration * av_q2d(vs->time_base);
    else if (r->fmt->duration > 0) r->info.duration = (double)r->fmt->duration / AV_TIME_BASE;
    r->frame_step = av_rescale_q(1, av_inv_q(fr), vs->time_base);
    if (r->frame_step <= 0) r->frame_step = 1;
    r->last_pts = AV_NOPTS_VALUE;
    return IMPASTO_OK;
}

/* FFmpeg's log: nothing is printed (the library never prints); an error a demuxer or decoder of
 * ours reports is counted on its reader (found through the context's opaque pointer), so damage
 * FFmpeg steps over (a demuxer resyncing past garbage) still fails the read. */
static void video_log(void *avcl, int level, const char *fmt, va_list vl) {
    (void)fmt;
    (void)vl;
    if (level > AV_LOG_ERROR || !avcl) return;
    const AVClass *c = *(const AVClass *const *)avcl;
    impasto_video_reader *r = NULL;
    if (c && c->class_name && !strcmp(c->class_name, "AVFormatContext")) r = ((AVFormatContext *)avcl)->opaque;
    else if (c && c->class_name && !strcmp(c->class_name, "AVCodecContext")) r = ((AVCodecContext *)avcl)->opaque;
    if (r && r->magic == VIDEO_READER_MAGIC) r->log_errors++;
}

void video_quiet_log(void) { av_log_set_callback(video_log); }

/* The demuxer stops at damage (err_detect explode) rather than skipping to the next part it can
 * read, so a corrupt file is reported instead of losing frames silently. */
static AVDictionary *strict_options(void) {
    AVDictionary *d = NULL;
    av_dict_set(&d, "err_detect", "explode", 0);
    return d;
}

static impasto_status open_file(impasto_ctx *ctx, const char *path, impasto_video_reader *r) {
    /* A FIFO or a device is refused before FFmpeg opens it (it would wait for a writer). */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return ctx_fail(ctx, IMPASTO_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    int regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    close(fd);
    if (!regular) return ctx_fail(ctx, IMPASTO_ERR_IO, "%s is not a regular file", path);
    if (st.st_size == 0) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s is empty, not a video", path);
    video_quiet_log();
    char e[128];
    if (!(r->fmt = avformat_alloc_context())) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    r->fmt->opaque = r;
    AVDictionary *opts = strict_options();
    int ret = avformat_open_input(&r->fmt, path, NULL, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        r->fmt = NULL;
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s is not a video FFmpeg can read (%s)", path, av_err(ret, e, sizeof e));
    }
    return setup_streams(ctx, path, r);
}

impasto_status video_reader_open_memory(impasto_ctx *ctx, const uint8_t *data, size_t size, const char *name,
                                        impasto_video_reader **out) {
    *out = NULL;
    if (size > VIDEO_MEMORY_MAX_BYTES) return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "%s: too large", name);
    impasto_video_reader *r = calloc(1, sizeof *r);
    if (!r) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    r->mem = data;
    r->mem_size = size;
    r->astream = -1;
    r->magic = VIDEO_READER_MAGIC;
    video_quiet_log();
    enum { IO_BUF = 4096 };
    unsigned char *buf = av_malloc(IO_BUF);
    impasto_status s = IMPASTO_OK;
    if (!buf || !(r->mem_io = avio_alloc_context(buf, IO_BUF, 0, r, mem_read, NULL, mem_seek)) ||
        !(r->fmt = avformat_alloc_context())) {
        if (!r->mem_io) av_free(buf);
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    } else {
        r->fmt->pb = r->mem_io;
        r->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
        r->fmt->opaque = r;
        char e[128];
        AVDictionary *opts = strict_options();
        int ret = avformat_open_input(&r->fmt, name, NULL, &opts);
        av_dict_free(&opts);
        if (ret < 0) {
            r->fmt = NULL; /* freed by avformat_open_input */
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s is not a video FFmpeg can read (%s)", name, av_err(ret, e, sizeof e));
        } else {
            s = setup_streams(ctx, name, r);
        }
    }
    if (s != IMPASTO_OK) {
        impasto_video_close(r);
        return s;
    }
    *out = r;
    return IMPASTO_OK;
}

/* The decoded frame as a new RGB image of the stream's first size. */
static impasto_status frame_to_image(impasto_ctx *ctx, impasto_video_reader *r, impasto_image **out) {
    const AVFrame *f = r->frame;
    const int w = r->info.width, h = r->info.height;
    if (f->width <= 0 || f->height <= 0 || f->width > IMPASTO_MAX_SIDE || f->height > IMPASTO_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "frame %ld has an impossible size %dx%d", r->frames_read + 1, f->width,
                        f->height);
    r->sws = sws_getCachedContext(r->sws, f->width, f->height, (enum AVPixelFormat)f->format, w, h, AV_PIX_FMT_RGB24,
                                  SWS_BICUBIC, NULL, NULL, NULL);
    if (!r->sws)
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "frame %ld: cannot convert its pixel format '%s' to RGB",
                        r->frames_read + 1, av_get_pix_fmt_name((enum AVPixelFormat)f->format) ?
                        av_get_pix_fmt_name((enum AVPixelFormat)f->format) : "?");
    impasto_image *img = NULL;
    impasto_status s = image_alloc(ctx, w, h, 3, &img);
    if (s != IMPASTO_OK) return s;
    const int stride = (3 * w + 63) & ~63;
    uint8_t *rgb = av_malloc((size_t)stride * (size_t)h + 64);
    if (!rgb) {
        impasto_image_free(img);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for a %dx%d frame", w, h);
    }
    uint8_t *dst[4] = {rgb, NULL, NULL, NULL};
    int dst_stride[4] = {stride, 0, 0, 0};
    sws_scale(r->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dst_stride);
    for (int y = 0; y < h; y++) {
        const uint8_t *row = rgb + (size_t)y * (size_t)stride;
        float *o = img->data + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < 3 * w; x++) o[x] = (float)row[x] * (1.0f / 255.0f);
    }
    av_free(rgb);
    /* The time stamp: the decoder's best guess, else one frame after the last. */
    int64_t pts = f->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE || (r->last_pts != AV_NOPTS_VALUE && pts <= r->last_pts))
        pts = r->last_pts == AV_NOPTS_VALUE ? 0 : r->last_pts + r->frame_step;
    r->last_pts = pts;
    *out = img;
    r->frames_read++;
    return IMPASTO_OK;
}

/* Demuxes one packet: video to the decoder, audio to the queue when a writer wants it.
 * Returns 1 when a video packet was sent, 0 for another packet, -1 at the end, or -2 on error
 * (ctx's message set). */
static int demux_one(impasto_ctx *ctx, impasto_video_reader *r) {
    char e[128];
    int ret = av_read_frame(r->fmt, r->pkt);
    if (ret == AVERROR_EOF || (ret < 0 && avio_feof(r->fmt->pb) && !r->fmt->pb->error)) return -1;
    if (ret < 0) {
        ctx_fail(ctx, IMPASTO_ERR_FORMAT, "the file is damaged or truncated after frame %ld (%s)", r->frames_read,
                 av_err(ret, e, sizeof e));
        return -2;
    }
    if (r->log_errors) {
        av_packet_unref(r->pkt);
        ctx_fail(ctx, IMPASTO_ERR_FORMAT, "the file is damaged or truncated after frame %ld", r->frames_read);
        return -2;
    }
    int sent = 0;
    if (r->pkt->stream_index == r->vstream && r->pkt->size == 0) {
        r->packets++; /* an empty packet repeats the last frame (AVI); to the decoder it would mean the end */
    } else if (r->pkt->stream_index == r->vstream) {
        ret = avcodec_send_packet(r->dec, r->pkt);
        if (ret < 0 && ret != AVERROR(EAGAIN)) {
            av_packet_unref(r->pkt);
            ctx_fail(ctx, IMPASTO_ERR_FORMAT, "the video is damaged after frame %ld (%s)", r->frames_read,
                     av_err(ret, e, sizeof e));
            return -2;
        }
        r->packets++;
        sent = 1;
    } else if (r->pkt->stream_index == r->astream && r->keep_audio) {
        AVPacket *copy = av_packet_clone(r->pkt);
        if (!copy || !queue_push(&r->audio, copy)) {
            av_packet_free(&copy);
            av_packet_unref(r->pkt);
            ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for the audio");
            return -2;
        }
    }
    av_packet_unref(r->pkt);
    return sent;
}

/* At the end: a file cut short ends its frames well before the duration its header declares (the
 * stream's, else the container's). A frame count that lies is not an error (the frames decoded
 * are the video), but time does not: the frames must reach VIDEO_MIN_COVERED of the duration. */
static impasto_status check_complete(impasto_ctx *ctx, impasto_video_reader *r) {
    const AVStream *vs = r->fmt->streams[r->vstream];
    double declared = 0;
    if (vs->duration > 0 && vs->duration != AV_NOPTS_VALUE) declared = (double)vs->duration * av_q2d(vs->time_base);
    else if (r->fmt->duration > 0) declared = (double)r->fmt->duration / AV_TIME_BASE;
    if (!(declared > 0) || r->last_pts == AV_NOPTS_VALUE) return IMPASTO_OK;
    const int64_t start = vs->start_time != AV_NOPTS_VALUE ? vs->start_time : 0;
    const double reached = (double)(r->last_pts + r->frame_step - start) * av_q2d(vs->time_base);
    if (reached < VIDEO_MIN_COVERED * declared)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "the video's frames end at %.2f s of the %.2f s its header declares "
                        "(truncated, or the header lies)", reached, declared);
    return IMPASTO_OK;
}

static impasto_status read_file(impasto_ctx *ctx, impasto_video_reader *r, impasto_image **frame) {
    char e[128];
    for (;;) {
        if (!r->decoder_done) {
            int ret = avcodec_receive_frame(r->dec, r->frame);
            if (ret >= 0) {
                if ((r->frame->flags & AV_FRAME_FLAG_CORRUPT) || r->frame->decode_error_flags) {
                    av_frame_unref(r->frame);
                    return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "the video is damaged at frame %ld", r->frames_read + 1);
                }
                impasto_status s = frame_to_image(ctx, r, frame);
                av_frame_unref(r->frame);
                return s;
            }
            if (ret == AVERROR_EOF) {
                r->decoder_done = 1;
            } else if (ret != AVERROR(EAGAIN)) {
                return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "the video is damaged after frame %ld (%s)", r->frames_read,
                                av_err(ret, e, sizeof e));
            }
        }
        if (r->decoder_done) break;
        if (r->demux_done) {
            if (!r->flushing) {
                avcodec_send_packet(r->dec, NULL);
                r->flushing = 1;
                continue;
            }
            r->decoder_done = 1;
            break;
        }
        int d = demux_one(ctx, r);
        if (d == -2) return IMPASTO_ERR_FORMAT;
        if (d == -1) r->demux_done = 1;
    }
    if (r->log_errors) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "the file is damaged or truncated after frame %ld", r->frames_read);
    if (r->frames_read == 0) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "the video has no frames");
    return check_complete(ctx, r);
}

impasto_status video_reader_drain_audio(impasto_ctx *ctx, impasto_video_reader *r) {
    while (!r->demux_done) {
        int d = demux_one(ctx, r);
        if (d == -2) return IMPASTO_ERR_FORMAT;
        if (d == -1) r->demux_done = 1;
    }
    return IMPASTO_OK;
}

#endif

/* ---- the API ------------------------------------------------------------------------------ */

impasto_status impasto_video_open(impasto_ctx *ctx, const char *path, impasto_video_reader **out) {
    if (out) *out = NULL;
    if (!ctx || !path || !out) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "opening a video: no file name given");
    impasto_video_reader *r = calloc(1, sizeof *r);
    if (!r) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    r->magic = VIDEO_READER_MAGIC;
    impasto_status s;
    if (video_path_is_folder(path)) {
        s = open_folder(ctx, path, r);
    } else {
#ifdef IMPASTO_VIDEO
        r->astream = -1;
        s = open_file(ctx, path, r);
#else
        s = ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: impasto was built without video support (FFmpeg's libraries)",
                     path);
#endif
    }
    if (s != IMPASTO_OK) {
        impasto_video_close(r);
        return s;
    }
    *out = r;
    return IMPASTO_OK;
}

impasto_status impasto_video_read(impasto_ctx *ctx, impasto_video_reader *r, impasto_image **frame) {
    if (frame) *frame = NULL;
    if (!ctx || !r || !frame) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "reading a frame: no reader given");
    if (r->info.is_folder) return read_folder(ctx, r, frame);
#ifdef IMPASTO_VIDEO
    return read_file(ctx, r, frame);
#else
    return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "impasto was built without video support");
#endif
}

void impasto_video_close(impasto_video_reader *r) {
    if (!r) return;
    for (size_t i = 0; i < r->nfiles; i++) free(r->files[i]);
    free(r->files);
#ifdef IMPASTO_VIDEO
    queue_clear(&r->audio);
    av_packet_free(&r->pkt);
    av_frame_free(&r->frame);
    avcodec_free_context(&r->dec);
    sws_freeContext(r->sws);
    avformat_close_input(&r->fmt);
    if (r->mem_io) {
        av_freep(&r->mem_io->buffer);
        avio_context_free(&r->mem_io);
    }
#endif
    free(r);
}
