/* The fuzz targets' entry points, shared by the libFuzzer harnesses (fuzz/fuzz_*.c, built with
 * clang -fsanitize=fuzzer,address,undefined by `make fuzz`), the seed generator
 * (fuzz/gen_seeds.c) and the regression replay (tests/test_fuzz_regressions.c, plain gcc), so a
 * saved crash is replayed exactly as the fuzzer ran it.
 *
 * Each fuzz_run_* takes one input of any bytes and returns the library's status; the only
 * requirement is that it returns at all (no crash, leak or undefined behaviour: the sanitizers
 * decide that) with IMPASTO_OK or a status and a non-empty message. */
#ifndef IMPASTO_FUZZ_TARGETS_H
#define IMPASTO_FUZZ_TARGETS_H

#include "core/ctx.h"
#include "formats/convert_gan.h"
#include "formats/pth.h"
#include "io/codec.h"
#include "formats/graphdef.h"
#include "formats/ncnn.h"
#include "formats/safetensors.h"
#include "formats/vgg19_upstream.h"
#include "methods/gan_model.h"
#include "video/video.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A pixel limit well under libFuzzer's default 2 GB malloc limit: 4 Mpx of RGBA float is 64 MB.
 * The default (100 Mpx) is legitimate but would make every large-header input an OOM report. */
#define FUZZ_MAX_PIXELS ((size_t)4 << 20)

/* A failed call must say why. */
static inline int fuzz_status_ok(const impasto_ctx *ctx, impasto_status s) {
    return s == IMPASTO_OK || impasto_ctx_error(ctx)[0] != 0;
}

static inline impasto_ctx *fuzz_ctx(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    if (ctx) impasto_ctx_set_max_pixels(ctx, FUZZ_MAX_PIXELS);
    return ctx;
}

/* Decodes the bytes as PNG (png != 0) or JPEG and touches every pixel. */
static inline impasto_status fuzz_run_image(const uint8_t *data, size_t size, int png, int *well_formed) {
    *well_formed = 1;
    impasto_ctx *ctx = fuzz_ctx();
    if (!ctx) return IMPASTO_ERR_NOMEM;
    impasto_image *img = NULL;
    impasto_status s = png ? image_png_decode(ctx, "fuzz.png", data, size, &img)
                           : image_jpeg_decode(ctx, "fuzz.jpg", data, size, &img);
    *well_formed = fuzz_status_ok(ctx, s);
    if (s == IMPASTO_OK) {
        /* Every sample is read (so ASan sees the whole buffer) and must be in 0..1. */
        size_t n = (size_t)img->width * (size_t)img->height * (size_t)img->channels;
        for (size_t i = 0; i < n; i++)
            if (!(img->data[i] >= 0.0f && img->data[i] <= 1.0f)) *well_formed = 0;
    }
    impasto_image_free(img);
    impasto_ctx_free(ctx);
    return s;
}

/* Parses the bytes as safetensors and converts every floating-point tensor to float32. */
static inline impasto_status fuzz_run_safetensors(const uint8_t *data, size_t size, int *well_formed) {
    *well_formed = 1;
    impasto_ctx *ctx = fuzz_ctx();
    if (!ctx) return IMPASTO_ERR_NOMEM;
    safetensors *st = NULL;
    impasto_status s = safetensors_parse(ctx, data, size, "fuzz.safetensors", &st);
    *well_formed = fuzz_status_ok(ctx, s);
    for (size_t i = 0; s == IMPASTO_OK && i < safetensors_count(st); i++) {
        const st_tensor *t = safetensors_at(st, i);
        if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16) continue;
        /* Bounded by the input's size: nelem * 2 <= nbytes <= size. */
        float *out = malloc(t->nelem ? t->nelem * sizeof *out : 1);
        if (!out) continue;
        /* A tensor read with its own shape must convert. */
        if (safetensors_get_f32(ctx, st, t->name, t->ndim, t->shape, out) != IMPASTO_OK) *well_formed = 0;
        free(out);
    }
    safetensors_meta(st, "kind");
    safetensors_close(st);
    impasto_ctx_free(ctx);
    return s;
}

/* Parses the bytes as safetensors and reads them as a CycleGAN / pix2pix model (impasto_gan_load's
 * path after the file is read): the kind and the generator's metadata, a network declared from
 * them (no larger than the file's tensors can fill), then every tensor by name and shape. */
static inline impasto_status fuzz_run_gan_model(const uint8_t *data, size_t size, int *well_formed) {
    *well_formed = 1;
    impasto_ctx *ctx = fuzz_ctx();
    if (!ctx) return IMPASTO_ERR_NOMEM;
    safetensors *st = NULL;
    impasto_status s = safetensors_parse(ctx, data, size, "fuzz.safetensors", &st);
    if (s == IMPASTO_OK) {
        impasto_gan_model *m = NULL;
        s = gan_model_from_safetensors(ctx, st, "fuzz.safetensors", &m);
        if (s == IMPASTO_OK && (!m || !m->g[0])) *well_formed = 0;
        impasto_gan_free(m);
    }
    *well_formed = *well_formed && fuzz_status_ok(ctx, s);
    safetensors_close(st);
    impasto_ctx_free(ctx);
    return s;
}

/* Parses the bytes as a TensorFlow GraphDef, then asks every node for its float32 value (most are
 * refused: not constants, wrong types) and looks every input up. */
static inline impasto_status fuzz_run_graphdef(const uint8_t *data, size_t size, int *well_formed) {
    *well_formed = 1;
    impasto_ctx *ctx = fuzz_ctx();
    if (!ctx) return IMPASTO_ERR_NOMEM;
    graphdef *g = NULL;
    impasto_status s = graphdef_parse(ctx, data, size, "fuzz.pb", &g);
    *well_formed = fuzz_status_ok(ctx, s);
    for (size_t i = 0; s == IMPASTO_OK && i < g->nnodes; i++) {
        const gd_node *nd = &g->nodes[i];
        for (size_t j = 0; j < nd->ninputs; j++) graphdef_find(g, nd->inputs[j]);
        float *v = NULL;
        int ndim = 0;
        int64_t shape[TENSOR_MAX_DIMS];
        impasto_status t = graphdef_tensor_f32(ctx, g, nd->name, &v, &ndim, shape);
        if (!fuzz_status_ok(ctx, t)) *well_formed = 0;
        free(v);
    }
    graphdef_free(g);
    impasto_ctx_free(ctx);
    return s;
}

/* Parses the bytes as a PyTorch checkpoint (zip or legacy; the restricted unpickler runs on
 * every pickle in it), then reads every floating-point tensor as float32 through its strides.
 * Each tensor has at most as many elements as its storage, whose bytes are inside the input, so
 * the buffers stay within a few times the input's size. Then the CycleGAN / pix2pix converter
 * reads it as a generator (arch auto), without writing: the net it allocates is at most a few
 * hundred times a convolution whose shape it first finds among the input's tensors. */
static inline impasto_status fuzz_run_pth(const uint8_t *data, size_t size, int *well_formed) {
    *well_formed = 1;
    impasto_ctx *ctx = fuzz_ctx();
    if (!ctx) return IMPASTO_ERR_NOMEM;
    pth_file *f = NULL;
    impasto_status s = pth_parse(ctx, data, size, "fuzz.pth", &f);
    *well_formed = fuzz_status_ok(ctx, s);
    for (size_t i = 0; s == IMPASTO_OK && i < pth_count(f); i++) {
        const pth_tensor *t = pth_at(f, i);
        if (t->numel > t->storage_numel || !t->name[0]) *well_formed = 0;
        float *out = malloc(t->numel ? t->numel * sizeof *out : 1);
        if (!out) continue;
        if (!fuzz_status_ok(ctx, pth_get_f32(ctx, f, t, out))) *well_formed = 0;
        free(out);
    }
    if (s == IMPASTO_OK) {
        gan_gen_spec spec;
        net *g = NULL;
        size_t dropped;
        if (!fuzz_status_ok(ctx, convert_gan_read(ctx, f, "fuzz.pth", "auto", &spec, &g, &dropped))) *well_formed = 0;
        net_free(g);
    }
    pth_close(f);
    impasto_ctx_free(ctx);
    return s;
}

/* ---- the upstream manifests --------------------------------------------------------------
 * The manifest readers open the data files a manifest names, so the target gets a folder of
 * small ones (made once per process): VGG-19's conv1_1 as a TensorFlow.js shard (kernel (3, 3, 3,
 * 64) then bias (64), float32) and as uint8 files (kernel 1728 bytes, bias 64 bytes). */

#define FUZZ_TFJS_SHARD "group1-shard1of1.bin"
#define FUZZ_TFJS_SHARD_BYTES ((3 * 3 * 3 * 64 + 64) * 4)
#define FUZZ_U8_KERNEL "conv1_1_kernel"
#define FUZZ_U8_KERNEL_BYTES (3 * 3 * 3 * 64)
#define FUZZ_U8_BIAS "conv1_1_bias"
#define FUZZ_U8_BIAS_BYTES 64

/* The data files' bytes, deterministic so the seeds' md5 checksums match them. */
static inline void fuzz_data_file(const char *name, unsigned char *buf, size_t n) {
    uint32_t x = (uint32_t)strlen(name) * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        buf[i] = (unsigned char)(x >> 24);
    }
    if (strcmp(name, FUZZ_TFJS_SHARD) == 0) {
        /* Small finite little-endian float32 values: k / 1024 for k in -128..127. */
        for (size_t i = 0; i + 4 <= n; i += 4) {
            float v = (float)((int)buf[i] - 128) / 1024.0f;
            uint32_t u;
            memcpy(&u, &v, 4);
            for (int b = 0; b < 4; b++) buf[i + (size_t)b] = (unsigned char)(u >> (8 * b));
        }
    }
}

static inline int fuzz_write_data_file(const char *dir, const char *name, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unsigned char *buf = malloc(n);
    if (!buf) return 0;
    fuzz_data_file(name, buf, n);
    FILE *fp = fopen(path, "wb");
    int ok = fp && fwrite(buf, 1, n, fp) == n;
    if (fp && fclose(fp) != 0) ok = 0;
    free(buf);
    return ok;
}

/* The folder of data files: created on first use under $TMPDIR (or /tmp), removed by
 * fuzz_manifest_dir_remove. */
static char fuzz_dir_path[256];

static inline void fuzz_manifest_dir_remove(void) {
    if (!fuzz_dir_path[0]) return;
    const char *names[] = {FUZZ_TFJS_SHARD, FUZZ_U8_KERNEL, FUZZ_U8_BIAS};
    char path[512];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", fuzz_dir_path, names[i]);
        unlink(path);
    }
    rmdir(fuzz_dir_path);
    fuzz_dir_path[0] = 0;
}

static inline const char *fuzz_manifest_dir(void) {
    if (fuzz_dir_path[0]) return fuzz_dir_path;
    const char *tmp = getenv("TMPDIR");
    snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/impasto-fuzz-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(fuzz_dir_path) || !fuzz_write_data_file(fuzz_dir_path, FUZZ_TFJS_SHARD, FUZZ_TFJS_SHARD_BYTES) ||
        !fuzz_write_data_file(fuzz_dir_path, FUZZ_U8_KERNEL, FUZZ_U8_KERNEL_BYTES) ||
        !fuzz_write_data_file(fuzz_dir_path, FUZZ_U8_BIAS, FUZZ_U8_BIAS_BYTES)) {
        fuzz_manifest_dir_remove();
        return NULL;
    }
    atexit(fuzz_manifest_dir_remove);
    return fuzz_dir_path;
}

/* The first byte picks the format (even: uint8 manifest.json, odd: TensorFlow.js model.json);
 * the rest is the manifest text. */
static inline impasto_status fuzz_run_manifest(const uint8_t *data, size_t size, int *well_formed) {
    *well_formed = 1;
    if (size < 1) return IMPASTO_OK;
    const char *dir = fuzz_manifest_dir();
    if (!dir) return IMPASTO_ERR_IO;
    impasto_ctx *ctx = fuzz_ctx();
    if (!ctx) return IMPASTO_ERR_NOMEM;
    int tfjs = data[0] & 1;
    vgg19_upstream u;
    impasto_status s = vgg19_upstream_parse(ctx, dir, tfjs ? "model.json" : "manifest.json",
                                            (const char *)data + 1, size - 1, tfjs, &u);
    for (int c = 0; s == IMPASTO_OK && c < 16; c++)
        if (u.conv[c].present && (!u.conv[c].w || !u.conv[c].b))
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "a present convolution without its tensors");
    *well_formed = fuzz_status_ok(ctx, s);
    vgg19_upstream_clear(&u);
    impasto_ctx_free(ctx);
    return s;
}

/* ---- ncnn ---------------------------------------------------------------------------------
 * The first byte picks the reader. Even: the rest is a binary param file, parsed, then every
 * layer's blobs and parameters read back. Odd: the rest is a weights file, read blob after blob
 * until it fails or ends, blob k holding (first byte >> 1) + k values, tagged when k is even. */
static inline impasto_status fuzz_run_ncnn(const uint8_t *data, size_t size, int *well_formed) {
    *well_formed = 1;
    if (size < 1) return IMPASTO_OK;
    impasto_ctx *ctx = fuzz_ctx();
    if (!ctx) return IMPASTO_ERR_NOMEM;
    impasto_status s = IMPASTO_OK;
    if ((data[0] & 1) == 0) {
        ncnn_net param;
        s = ncnn_param_parse(ctx, data + 1, size - 1, "fuzz.param.bin", &param);
        for (int i = 0; s == IMPASTO_OK && i < param.nlayers; i++) {
            const ncnn_layer *l = &param.layers[i];
            long sum = 0;
            for (int k = 0; k < l->nbottom; k++) sum += l->bottom[k];
            for (int k = 0; k < l->ntop; k++) sum += l->top[k];
            for (int id = 0; id < NCNN_MAX_PARAM_ID; id++) {
                sum += ncnn_param_int(l, id, 0) != 0;
                for (uint32_t k = 0; l->param[id].is_array && k < l->param[id].count; k++) sum += l->param[id].array[4 * k];
            }
            if (sum < 0) *well_formed = 0;  /* indices are never negative */
        }
        ncnn_net_clear(&param);
    } else {
        ncnn_bin b = {data + 1, size - 1, 0, "fuzz.bin"};
        size_t n = data[0] >> 1;
        float *out = malloc((n + size) * sizeof *out);
        if (!out) {
            impasto_ctx_free(ctx);
            return IMPASTO_ERR_NOMEM;
        }
        /* Each blob takes at least 4 bytes, so the loop ends within size / 4 blobs. */
        for (size_t k = 0; s == IMPASTO_OK && b.pos < b.size; k++) {
            size_t before = b.pos;
            s = ncnn_bin_read(ctx, &b, n + k, (k & 1) == 0, "blob", out);
            if (s == IMPASTO_OK && (b.pos < before || b.pos > b.size)) *well_formed = 0;
        }
        free(out);
    }
    if (!fuzz_status_ok(ctx, s)) *well_formed = 0;
    impasto_ctx_free(ctx);
    return s;
}

/* ---- video ---------------------------------------------------------------------------------
 * The bytes as a video file read from memory (a custom AVIOContext): demuxed and decoded frame by
 * frame (at most FUZZ_VIDEO_MAX_FRAMES), every pixel checked to be in 0..1. Builds without FFmpeg
 * have no such target. */
#ifdef IMPASTO_VIDEO
#define FUZZ_VIDEO_MAX_FRAMES 64
static inline impasto_status fuzz_run_video(const uint8_t *data, size_t size, int *well_formed) {
    *well_formed = 1;
    impasto_ctx *ctx = fuzz_ctx();
    if (!ctx) return IMPASTO_ERR_NOMEM;
    impasto_ctx_set_threads(ctx, 1);
    impasto_video_reader *r = NULL;
    impasto_status s = video_reader_open_memory(ctx, data, size, "fuzz.video", &r);
    for (int k = 0; s == IMPASTO_OK && k < FUZZ_VIDEO_MAX_FRAMES; k++) {
        impasto_image *f = NULL;
        s = impasto_video_read(ctx, r, &f);
        if (s != IMPASTO_OK || !f) break;
        const size_t n = (size_t)f->width * (size_t)f->height * (size_t)f->channels;
        if (f->channels != 3 || f->width != r->info.width || f->height != r->info.height) *well_formed = 0;
        for (size_t i = 0; i < n; i++)
            if (!(f->data[i] >= 0.0f && f->data[i] <= 1.0f)) *well_formed = 0;
        impasto_image_free(f);
    }
    *well_formed = *well_formed && fuzz_status_ok(ctx, s);
    impasto_video_close(r);
    impasto_ctx_free(ctx);
    return s;
}
#endif

#endif
