/* Writing video (impasto.h's impasto_video_writer_*): frames encoded by libavcodec (H.264 by
 * libx264 unless told otherwise) and muxed by libavformat into a temporary file beside the
 * output, with the source's time stamps, rate, aspect, rotation and a copy of its audio; or PNG
 * frames into a temporary folder. Renamed into place by impasto_video_writer_finish. */
#include "video/video.h"

#include "core/ctx.h"
#include "core/image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef IMPASTO_VIDEO
#include <libavutil/opt.h>
#endif

struct impasto_video_writer {
    char *path, *tmp;         /* the output's name and the temporary file or folder */
    int folder;
    int width, height;        /* of the output frames (0 until the first frame when not given) */
    long frames;
    int finished;
    impasto_video_writer_options opt;
    impasto_video_reader *src;
#ifdef IMPASTO_VIDEO
    const AVOutputFormat *ofmt;
    AVFormatContext *fmt;
    AVCodecContext *enc;
    AVStream *vst, *ast;
    struct SwsContext *sws;
    AVFrame *frame;
    AVPacket *pkt;
    AVRational in_tb;         /* the time base of the frames' stamps */
    int64_t last_pts;
    int header_written;
#endif
};

void impasto_video_writer_options_init(impasto_video_writer_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->crf = 18;
}

/* "dir/.name.XXXXXX" beside path (without a trailing '/'). */
static char *temp_name(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    const char *slash = memrchr(path, '/', n);
    size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
    char *t = malloc(n + 16);
    if (!t) return NULL;
    snprintf(t, n + 16, "%.*s.%.*s.XXXXXX", (int)dir, path, (int)(n - dir), path + dir);
    return t;
}

#ifdef IMPASTO_VIDEO

static const char *av_err(int e, char *buf, size_t n) {
    if (av_strerror(e, buf, n) < 0) snprintf(buf, n, "error %d", e);
    return buf;
}

/* Writes the packets the encoder has ready. */
static impasto_status drain_encoder(impasto_ctx *ctx, impasto_video_writer *w) {
    char e[128];
    for (;;) {
        int ret = avcodec_receive_packet(w->enc, w->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return IMPASTO_OK;
        if (ret < 0) return ctx_fail(ctx, IMPASTO_ERR_IO, "encoding failed: %s", av_err(ret, e, sizeof e));
        av_packet_rescale_ts(w->pkt, w->enc->time_base, w->vst->time_base);
        w->pkt->stream_index = w->vst->index;
        ret = av_interleaved_write_frame(w->fmt, w->pkt);
        if (ret < 0) return ctx_fail(ctx, IMPASTO_ERR_IO, "writing %s failed: %s", w->path, av_err(ret, e, sizeof e));
    }
}

/* Copies the queued audio packets that start before `until` (in the video's time base; INT64_MAX:
 * all of them). */
static impasto_status copy_audio(impasto_ctx *ctx, impasto_video_writer *w, int64_t until) {
    if (!w->ast) return IMPASTO_OK;
    const AVStream *ain = video_reader_astream(w->src);
    char e[128];
    for (const AVPacket *p; (p = video_reader_peek_audio(w->src)) != NULL;) {
        if (until != INT64_MAX && p->pts != AV_NOPTS_VALUE &&
            av_compare_ts(p->pts, ain->time_base, until, w->in_tb) > 0)
            break;
        AVPacket *q = video_reader_pop_audio(w->src);
        av_packet_rescale_ts(q, ain->time_base, w->ast->time_base);
        q->stream_index = w->ast->index;
        q->pos = -1;
        int ret = av_interleaved_write_frame(w->fmt, q);
        av_packet_free(&q);
        if (ret < 0) return ctx_fail(ctx, IMPASTO_ERR_IO, "copying the audio into %s failed: %s", w->path,
                                     av_err(ret, e, sizeof e));
    }
    return IMPASTO_OK;
}

static const AVCodec *find_encoder(impasto_ctx *ctx, const char *name, impasto_status *s) {
    const AVCodec *c = NULL;
    if (!name || !strcmp(name, "h264") || !strcmp(name, "libx264")) {
        c = avcodec_find_encoder_by_name("libx264");
        if (!c) c = avcodec_find_encoder(AV_CODEC_ID_H264);
        if (!c) *s = ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "this FFmpeg has no H.264 encoder; choose another codec");
        return c;
    }
    c = avcodec_find_encoder_by_name(name);
    if (!c) {
        const AVCodecDescriptor *d = avcodec_descriptor_get_by_name(name);
        if (d) c = avcodec_find_encoder(d->id);
    }
    if (!c) *s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "no video encoder '%s' in this FFmpeg", name);
    else if (c->type != AVMEDIA_TYPE_VIDEO) {
        *s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "'%s' is not a video encoder", name);
        c = NULL;
    }
    return c;
}

/* The encoder's pixel format: 4:2:0 when the sides are even and it takes it, else 4:4:4 or the
 * encoder's first. */
static enum AVPixelFormat pick_pix_fmt(const AVCodec *c, int w, int h) {
    enum AVPixelFormat want = (w % 2 == 0 && h % 2 == 0) ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_YUV444P;
    if (!c->pix_fmts) return want;
    for (const enum AVPixelFormat *p = c->pix_fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == want) return want;
    if (want == AV_PIX_FMT_YUV420P) return c->pix_fmts[0];
    for (const enum AVPixelFormat *p = c->pix_fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == AV_PIX_FMT_YUVJ444P || *p == AV_PIX_FMT_RGB24 || *p == AV_PIX_FMT_BGR24 || *p == AV_PIX_FMT_GBRP)
            return *p;
    return c->pix_fmts[0];
}

/* Sets up the encoder and the container at the first frame (when the size is known). */
static impasto_status start_file(impasto_ctx *ctx, impasto_video_writer *w) {
    char e[128];
    impasto_status s = IMPASTO_OK;
    const AVCodec *codec = find_encoder(ctx, w->opt.codec, &s);
    if (!codec) return s;
    if (avformat_alloc_output_context2(&w->fmt, w->ofmt, NULL, w->path) < 0 || !w->fmt)
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for the container");
    if (!(w->enc = avcodec_alloc_context3(codec)) || !(w->vst = avformat_new_stream(w->fmt, NULL)) ||
        !(w->frame = av_frame_alloc()) || !(w->pkt = av_packet_alloc()))
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for the encoder");
    const AVStream *vin = w->src ? video_reader_vstream(w->src) : NULL;
    AVRational fps = {w->opt.fps_num, w->opt.fps_den};
    if (fps.num <= 0 || fps.den <= 0) {
        impasto_video_info info;
        if (w->src) impasto_video_get_info(w->src, &info);
        fps = w->src ? (AVRational){info.fps_num, info.fps_den} : (AVRational){25, 1};
    }
    w->in_tb = vin && !w->opt.fps_num ? vin->time_base : av_inv_q(fps);
    AVCodecContext *c = w->enc;
    c->width = w->width;
    c->height = w->height;
    c->time_base = w->in_tb;
    c->framerate = fps;
    c->pix_fmt = pick_pix_fmt(codec, w->width, w->height);
    c->thread_count = ctx_threads(ctx);
    if (w->src) {
        impasto_video_info info;
        impasto_video_get_info(w->src, &info);
        if (info.sar_num > 0) c->sample_aspect_ratio = (AVRational){info.sar_num, info.sar_den};
    }
    if (w->opt.sar_num > 0 && w->opt.sar_den > 0) c->sample_aspect_ratio = (AVRational){w->opt.sar_num, w->opt.sar_den};
    if (w->fmt->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (av_opt_find(c->priv_data, "crf", NULL, 0, 0)) av_opt_set_int(c->priv_data, "crf", w->opt.crf, 0);
    if (c->time_base.den > 65535 && codec->id == AV_CODEC_ID_MPEG4) c->time_base = av_inv_q(fps);
    int ret = avcodec_open2(c, codec, NULL);
    if (ret < 0)
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "cannot start the '%s' encoder for %dx%d frames: %s", codec->name,
                        w->width, w->height, av_err(ret, e, sizeof e));
    if (avcodec_parameters_from_context(w->vst->codecpar, c) < 0) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    w->vst->time_base = c->time_base;
    w->vst->avg_frame_rate = fps;
    w->vst->sample_aspect_ratio = c->sample_aspect_ratio;
    if (vin) {
        size_t n = 0;
        const uint8_t *dm = av_stream_get_side_data(vin, AV_PKT_DATA_DISPLAYMATRIX, &n);
        if (dm && n >= 9 * sizeof(int32_t)) {
            uint8_t *copy = av_stream_new_side_data(w->vst, AV_PKT_DATA_DISPLAYMATRIX, n);
            if (!copy) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
            memcpy(copy, dm, n);
        }
        const AVStream *ain = video_reader_astream(w->src);
        if (ain) {
            if (!(w->ast = avformat_new_stream(w->fmt, NULL)) || avcodec_parameters_copy(w->ast->codecpar, ain->codecpar) < 0)
                return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
            w->ast->codecpar->codec_tag = 0;
            w->ast->time_base = ain->time_base;
        }
    }
    if ((ret = avio_open(&w->fmt->pb, w->tmp, AVIO_FLAG_WRITE)) < 0)
        return ctx_fail(ctx, IMPASTO_ERR_IO, "cannot write beside %s: %s", w->path, av_err(ret, e, sizeof e));
    if ((ret = avformat_write_header(w->fmt, NULL)) < 0) {
        if (w->ast)
            return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: the container cannot hold this video and its '%s' audio "
                            "(%s); try .mkv", w->path, avcodec_get_name(w->ast->codecpar->codec_id),
                            av_err(ret, e, sizeof e));
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: the container cannot hold '%s' video (%s)", w->path,
                        codec->name, av_err(ret, e, sizeof e));
    }
    w->header_written = 1;
    w->frame->format = c->pix_fmt;
    w->frame->width = w->width;
    w->frame->height = w->height;
    if (av_frame_get_buffer(w->frame, 0) < 0) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for a frame");
    w->last_pts = AV_NOPTS_VALUE;
    return IMPASTO_OK;
}

static impasto_status write_file_frame(impasto_ctx *ctx, impasto_video_writer *w, const impasto_image *img) {
    char e[128];
    const int iw = img->width, ih = img->height, ch = img->channels;
    /* RGB24 rows of the picture as given, scaled and converted by swscale. */
    const size_t stride = (size_t)(3 * iw + 63) & ~(size_t)63;
    uint8_t *rgb = av_malloc(stride * (size_t)ih + 64);
    if (!rgb) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    for (int y = 0; y < ih; y++)
        for (int x = 0; x < iw; x++) {
            const float *p = img->data + ((size_t)y * (size_t)iw + (size_t)x) * (size_t)ch;
            for (int c = 0; c < 3; c++) {
                float v = ch <= 2 ? p[0] : p[c];
                v = v != v ? 0.0f : v < 0 ? 0.0f : v > 1 ? 1.0f : v;
                rgb[(size_t)y * stride + 3 * (size_t)x + (size_t)c] = (uint8_t)(v * 255.0f + 0.5f);
            }
        }
    w->sws = sws_getCachedContext(w->sws, iw, ih, AV_PIX_FMT_RGB24, w->width, w->height, w->enc->pix_fmt,
                                  SWS_BICUBIC, NULL, NULL, NULL);
    int ret = w->sws ? av_frame_make_writable(w->frame) : -1;
    if (ret < 0) {
        av_free(rgb);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "cannot convert frames for the encoder");
    }
    const uint8_t *src[4] = {rgb, NULL, NULL, NULL};
    int src_stride[4] = {(int)stride, 0, 0, 0};
    sws_scale(w->sws, src, src_stride, 0, ih, w->frame->data, w->frame->linesize);
    av_free(rgb);
    /* The source's stamp for this frame, else the frame's index at the frame rate; kept rising. */
    int64_t pts = w->src && w->src->fmt && !w->opt.fps_num ? w->src->last_pts : w->frames;
    if (w->last_pts != AV_NOPTS_VALUE && pts <= w->last_pts) pts = w->last_pts + 1;
    w->last_pts = pts;
    w->frame->pts = av_rescale_q(pts, w->in_tb, w->enc->time_base);
    ret = avcodec_send_frame(w->enc, w->frame);
    if (ret < 0) return ctx_fail(ctx, IMPASTO_ERR_IO, "encoding frame %ld failed: %s", w->frames + 1, av_err(ret, e, sizeof e));
    impasto_status s = drain_encoder(ctx, w);
    if (s == IMPASTO_OK) s = copy_audio(ctx, w, pts);
    return s;
}

#endif

/* ---- the API ------------------------------------------------------------------------------ */

impasto_status impasto_video_writer_open(impasto_ctx *ctx, const char *path, impasto_video_reader *src,
                                         const impasto_video_writer_options *opt, impasto_video_writer **out) {
    if (out) *out = NULL;
    if (!ctx || !path || !out || !path[0]) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "writing a video: no file name");
    impasto_video_writer *w = calloc(1, sizeof *w);
    if (!w) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (opt) w->opt = *opt;
    else impasto_video_writer_options_init(&w->opt);
    if (w->opt.width < 0 || w->opt.height < 0 || w->opt.width > IMPASTO_MAX_SIDE || w->opt.height > IMPASTO_MAX_SIDE ||
        (w->opt.width == 0) != (w->opt.height == 0)) {
        free(w);
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the output size must be both sides, each 1..%d", IMPASTO_MAX_SIDE);
    }
    w->width = w->opt.width;
    w->height = w->opt.height;
    w->src = src;
    w->folder = video_path_is_folder(path);
    impasto_status s = IMPASTO_OK;
    if (!(w->path = strdup(path)) || !(w->tmp = temp_name(path))) {
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    } else if (w->folder) {
        if (!mkdtemp(w->tmp)) {
            s = ctx_fail(ctx, IMPASTO_ERR_IO, "cannot make a folder beside %s: %s", path, strerror(errno));
            w->tmp[0] = 0;
        }
    } else {
#ifdef IMPASTO_VIDEO
        video_quiet_log();
        if (!(w->ofmt = av_guess_format(NULL, path, NULL))) {
            s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s: cannot tell the container from the name (.mp4, .mkv, .mov, "
                         ".avi, or a folder ending in '/')", path);
        } else if (!(w->ofmt->flags & AVFMT_NOFILE) && w->ofmt->video_codec == AV_CODEC_ID_NONE) {
            s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s: the '%s' container holds no video", path, w->ofmt->name);
        } else {
            int fd = mkstemp(w->tmp);
            if (fd < 0) {
                s = ctx_fail(ctx, IMPASTO_ERR_IO, "cannot write beside %s: %s", path, strerror(errno));
                w->tmp[0] = 0;
            } else {
                /* mkstemp makes it 0600; an output is readable as the image writers' are. */
                fchmod(fd, 0644);
                close(fd);
            }
        }
        if (s == IMPASTO_OK && src && src->fmt && src->astream >= 0) src->keep_audio = 1;
#else
        s = ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: impasto was built without video support (FFmpeg's libraries)",
                     path);
#endif
    }
    if (s != IMPASTO_OK) {
        impasto_video_writer_free(w);
        return s;
    }
    *out = w;
    return IMPASTO_OK;
}

impasto_status impasto_video_write(impasto_ctx *ctx, impasto_video_writer *w, const impasto_image *frame) {
    if (!ctx || !w || !frame || w->finished) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "writing a frame: no writer or frame");
    if (!w->width) {
        w->width = frame->width;
        w->height = frame->height;
    }
    if (w->folder) {
        char name[64];
        snprintf(name, sizeof name, "/frame_%06ld.png", w->frames + 1);
        size_t n = strlen(w->tmp) + sizeof name;
        char *p = malloc(n);
        if (!p) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        snprintf(p, n, "%s%s", w->tmp, name);
        impasto_image *sized = NULL;
        impasto_status s = IMPASTO_OK;
        if (frame->width != w->width || frame->height != w->height)
            s = impasto_image_resize(ctx, frame, w->width, w->height, &sized);
        if (s == IMPASTO_OK) s = impasto_image_save(ctx, sized ? sized : frame, p, 0);
        impasto_image_free(sized);
        free(p);
        if (s == IMPASTO_OK) w->frames++;
        return s;
    }
#ifdef IMPASTO_VIDEO
    impasto_status s = IMPASTO_OK;
    if (!w->enc) s = start_file(ctx, w);
    if (s == IMPASTO_OK) s = write_file_frame(ctx, w, frame);
    if (s == IMPASTO_OK) w->frames++;
    return s;
#else
    return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "impasto was built without video support");
#endif
}

impasto_status impasto_video_writer_finish(impasto_ctx *ctx, impasto_video_writer *w, const char *final_path,
                                           int rest_of_audio) {
    if (!ctx || !w || w->finished) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "finishing a video: no writer");
    if (w->frames == 0) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s: no frames were written", w->path);
    const char *dest = final_path ? final_path : w->path;
    impasto_status s = IMPASTO_OK;
#ifdef IMPASTO_VIDEO
    if (!w->folder) {
        char e[128];
        int ret = avcodec_send_frame(w->enc, NULL);
        if (ret < 0 && ret != AVERROR_EOF) s = ctx_fail(ctx, IMPASTO_ERR_IO, "flushing the encoder: %s", av_err(ret, e, sizeof e));
        if (s == IMPASTO_OK) s = drain_encoder(ctx, w);
        if (s == IMPASTO_OK && w->ast && rest_of_audio) {
            s = video_reader_drain_audio(ctx, w->src);
            if (s == IMPASTO_OK) s = copy_audio(ctx, w, INT64_MAX);
        }
        if (s == IMPASTO_OK && w->ast && !rest_of_audio) {
            /* Up to the end of the last frame written. */
            s = copy_audio(ctx, w, w->last_pts + (w->src ? w->src->frame_step : 1));
        }
        if (s == IMPASTO_OK && (ret = av_write_trailer(w->fmt)) < 0)
            s = ctx_fail(ctx, IMPASTO_ERR_IO, "finishing %s failed: %s", w->path, av_err(ret, e, sizeof e));
        if (s == IMPASTO_OK && (ret = avio_closep(&w->fmt->pb)) < 0)
            s = ctx_fail(ctx, IMPASTO_ERR_IO, "writing %s failed: %s", w->path, av_err(ret, e, sizeof e));
    }
#endif
    if (s != IMPASTO_OK) return s;
    if (w->folder) {
        /* A folder replaces an empty one of that name (rename(2) refuses a non-empty one). */
        size_t n = strlen(dest);
        char *d = strdup(dest);
        if (!d) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        while (n > 1 && d[n - 1] == '/') d[--n] = 0;
        int ok = rename(w->tmp, d) == 0;
        int err = errno;
        free(d);
        if (!ok)
            return ctx_fail(ctx, IMPASTO_ERR_IO, "cannot put the frames in %s: %s", dest,
                            err == ENOTEMPTY || err == EEXIST ? "the folder is not empty" : strerror(err));
    } else if (rename(w->tmp, dest) != 0) {
        return ctx_fail(ctx, IMPASTO_ERR_IO, "cannot rename the finished video to %s: %s", dest, strerror(errno));
    }
    w->tmp[0] = 0;
    w->finished = 1;
    return IMPASTO_OK;
}

static void remove_folder(const char *dir, long frames) {
    char name[64];
    size_t n = strlen(dir) + sizeof name;
    char *p = malloc(n);
    if (p) {
        for (long i = 1; i <= frames + 1; i++) {
            snprintf(p, n, "%s/frame_%06ld.png", dir, i);
            unlink(p);
        }
        free(p);
    }
    rmdir(dir);
}

void impasto_video_writer_free(impasto_video_writer *w) {
    if (!w) return;
#ifdef IMPASTO_VIDEO
    if (w->fmt) {
        if (w->fmt->pb) avio_closep(&w->fmt->pb);
        avformat_free_context(w->fmt);
    }
    avcodec_free_context(&w->enc);
    av_frame_free(&w->frame);
    av_packet_free(&w->pkt);
    sws_freeContext(w->sws);
#endif
    if (w->tmp && w->tmp[0]) {
        if (w->folder) remove_folder(w->tmp, w->frames);
        else unlink(w->tmp);
    }
    free(w->tmp);
    free(w->path);
    free(w);
}
