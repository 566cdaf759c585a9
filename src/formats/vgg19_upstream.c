/* Readers for the two upstream VGG-19 weight sets (see vgg19_upstream.h, ../shared/README.md).
 *
 * Layout facts, each checked against the bytes by comparing the float32 head with the dequantised
 * uint8 set (tools/gen_golden_vgg19.py and tests/test_convert.c repeat the check):
 *  - TensorFlow.js (Keras VGG19 converted from Caffe): kernels (KH, KW, IC, OC), conv1_1's input
 *    channels B, G, R. Read as stored, the two sets differ by ~100-200 quantisation steps; with the
 *    uint8 set read as (KW, KH, IC, OC) and conv1_1's input channels of one of them reversed, they
 *    agree to 0.50 steps in every layer (rounding to nearest), which fixes both facts at once.
 *  - uint8 manifest: kernels (KW, KH, IC, OC), RGB input, float = min_value + scale * q, one file per
 *    tensor with its md5 in the manifest.
 * Output for both: w (OC, IC, 3, 3) indexed [o][i][kh][kw] with RGB input channels, b (OC). */
#include "formats/vgg19_upstream.h"
#include "core/ctx.h"
#include "core/fileio.h"
#include "core/limits.h"
#include "formats/md5.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* VGG-19's convolutions (Simonyan & Zisserman 2015, configuration E), all 3x3. */
static const struct {
    const char *name;   /* uint8 manifest and impasto: "conv1_1" */
    const char *keras;  /* TensorFlow.js / Keras: "block1_conv1" */
    int ic, oc;
} vgg_arch[16] = {
    {"conv1_1", "block1_conv1", 3, 64},     {"conv1_2", "block1_conv2", 64, 64},
    {"conv2_1", "block2_conv1", 64, 128},   {"conv2_2", "block2_conv2", 128, 128},
    {"conv3_1", "block3_conv1", 128, 256},  {"conv3_2", "block3_conv2", 256, 256},
    {"conv3_3", "block3_conv3", 256, 256},  {"conv3_4", "block3_conv4", 256, 256},
    {"conv4_1", "block4_conv1", 256, 512},  {"conv4_2", "block4_conv2", 512, 512},
    {"conv4_3", "block4_conv3", 512, 512},  {"conv4_4", "block4_conv4", 512, 512},
    {"conv5_1", "block5_conv1", 512, 512},  {"conv5_2", "block5_conv2", 512, 512},
    {"conv5_3", "block5_conv3", 512, 512},  {"conv5_4", "block5_conv4", 512, 512},
};

void vgg19_upstream_clear(vgg19_upstream *u) {
    if (!u) return;
    for (int c = 0; c < 16; c++) {
        free(u->conv[c].w);
        free(u->conv[c].b);
    }
    memset(u, 0, sizeof *u);
}

/* Which convolution and part a tensor name is: *part 0 = kernel, 1 = bias; -1 if neither. */
static int conv_of_name(const char *name, int keras, int *part) {
    for (int c = 0; c < 16; c++) {
        const char *base = keras ? vgg_arch[c].keras : vgg_arch[c].name;
        size_t n = strlen(base);
        if (strncmp(name, base, n) != 0) continue;
        if (strcmp(name + n, "/kernel") == 0) return *part = 0, c;
        if (strcmp(name + n, "/bias") == 0) return *part = 1, c;
    }
    return -1;
}

static char *path_join(const char *dir, const char *file) {
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, file);
    return p;
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A file name from a manifest must stay inside its folder. */
static int safe_file_name(const char *s) {
    return s[0] && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && !strchr(s, '/') && !strchr(s, '\\');
}

/* The manifest text (n bytes, not necessarily NUL-terminated) as a JSON object; a NUL inside it
 * would let the parser stop early and ignore the rest, so it is refused. */
static impasto_status parse_json(impasto_ctx *ctx, const char *mpath, const char *text, size_t n,
                                 cJSON **out) {
    *out = NULL;
    if (n > UPSTREAM_MAX_JSON_BYTES)
        return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "%s is %zu bytes, more than the limit of %zu", mpath, n,
                        UPSTREAM_MAX_JSON_BYTES);
    char *copy = malloc(n + 1);
    if (!copy) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", mpath);
    if (n) memcpy(copy, text, n);
    copy[n] = 0;
    cJSON *j = strlen(copy) == n ? cJSON_ParseWithOpts(copy, NULL, 1) : NULL;
    free(copy);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: not a JSON object", mpath);
    }
    *out = j;
    return IMPASTO_OK;
}

/* The element count of a JSON shape array if it is exactly `want` (ndim entries), else 0. */
static size_t shape_matches(const cJSON *shape, const int *want, int ndim) {
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) != ndim) return 0;
    size_t n = 1;
    int i = 0;
    for (const cJSON *d = shape->child; d; d = d->next, i++) {
        if (!cJSON_IsNumber(d) || d->valuedouble != (double)want[i]) return 0;
        n *= (size_t)want[i];
    }
    return n;
}

/* Expected shape of conv c's kernel (3, 3, IC, OC) or bias (OC); returns ndim. */
static int expected_shape(int c, int part, int shape[4]) {
    if (part == 1) {
        shape[0] = vgg_arch[c].oc;
        return 1;
    }
    shape[0] = shape[1] = 3;
    shape[2] = vgg_arch[c].ic;
    shape[3] = vgg_arch[c].oc;
    return 4;
}

/* src (A, B, IC, OC) with (A, B) = (KH, KW) or, when swap_hw, (KW, KH) -> dst (OC, IC, 3, 3)
 * indexed [o][i][kh][kw]; flip_rgb reverses the input channels (BGR -> RGB). */
static void kernel_to_oihw(const float *src, int ic, int oc, int swap_hw, int flip_rgb, float *dst) {
    for (int o = 0; o < oc; o++)
        for (int i = 0; i < ic; i++) {
            int si = flip_rgb ? ic - 1 - i : i;
            for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++) {
                    int a = swap_hw ? kw : kh, b = swap_hw ? kh : kw;
                    dst[(((size_t)o * ic + i) * 3 + kh) * 3 + kw] = src[(((size_t)a * 3 + b) * ic + si) * oc + o];
                }
        }
}

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Stores conv c's kernel (in source layout `src`) or bias into u after checks. */
static impasto_status store_part(impasto_ctx *ctx, const char *file, vgg19_upstream *u, int c, int part,
                                 const float *src, int swap_hw, int flip_rgb, float step) {
    vgg19_upstream_conv *cv = &u->conv[c];
    int ic = vgg_arch[c].ic, oc = vgg_arch[c].oc;
    size_t n = part ? (size_t)oc : (size_t)oc * ic * 9;
    if (part ? cv->b != NULL : cv->w != NULL)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: %s's %s appears twice", file, vgg_arch[c].name,
                        part ? "bias" : "kernel");
    if (!all_finite(src, n))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: %s's %s holds NaN or infinity", file, vgg_arch[c].name,
                        part ? "bias" : "kernel");
    float *dst = malloc(n * sizeof *dst);
    if (!dst) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", file);
    if (part) {
        memcpy(dst, src, n * sizeof *dst);
        cv->b = dst;
        cv->b_step = step;
    } else {
        kernel_to_oihw(src, ic, oc, swap_hw, flip_rgb, dst);
        cv->w = dst;
        cv->w_step = step;
    }
    return IMPASTO_OK;
}

/* Every convolution has both parts or neither. */
static impasto_status finish(impasto_ctx *ctx, const char *file, vgg19_upstream *u) {
    for (int c = 0; c < 16; c++) {
        vgg19_upstream_conv *cv = &u->conv[c];
        if (!cv->w != !cv->b)
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: has %s's %s but not its %s", file, vgg_arch[c].name,
                            cv->w ? "kernel" : "bias", cv->w ? "bias" : "kernel");
        cv->present = cv->w != NULL;
    }
    return IMPASTO_OK;
}

/* ---- TensorFlow.js layers format ----------------------------------------------------------- */

/* One weightsManifest group: its shards concatenated hold its weights in the listed order.
 * A group none of whose shards exist is skipped (the f32 head ships only groups 1-8 of 16). */
static impasto_status tfjs_group(impasto_ctx *ctx, const char *dir, const char *mpath, const cJSON *g,
                                 vgg19_upstream *u) {
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(g, "paths");
    const cJSON *weights = cJSON_GetObjectItemCaseSensitive(g, "weights");
    if (!cJSON_IsArray(paths) || !cJSON_IsArray(weights) || cJSON_GetArraySize(paths) < 1)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: a weightsManifest group lacks paths or weights", mpath);
    int npaths = 0, nexist = 0;
    size_t on_disk = 0; /* bytes in the shards that exist (saturating) */
    for (const cJSON *p = paths->child; p; p = p->next, npaths++) {
        if (!cJSON_IsString(p) || !safe_file_name(p->valuestring))
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: a shard path is not a plain file name", mpath);
        char *full = path_join(dir, p->valuestring);
        if (!full) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        struct stat st;
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
            nexist++;
            size_t sz = (size_t)st.st_size;
            on_disk = on_disk + sz < on_disk ? SIZE_MAX : on_disk + sz;
        }
        free(full);
    }

    /* Sizes of the listed weights; all float32. */
    size_t total = 0;
    int wanted = 0;
    for (const cJSON *w = weights->child; w; w = w->next) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(w, "name");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(w, "shape");
        const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(w, "dtype");
        if (!cJSON_IsString(name) || !cJSON_IsArray(shape) || !cJSON_IsString(dtype))
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: a weight lacks name, shape or dtype", mpath);
        if (strcmp(dtype->valuestring, "float32") != 0 || cJSON_GetObjectItemCaseSensitive(w, "quantization"))
            return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: weight '%s' is not plain float32", mpath,
                            name->valuestring);
        size_t n = 4;
        for (const cJSON *d = shape->child; d; d = d->next) {
            if (!cJSON_IsNumber(d) || !(d->valuedouble >= 0) || d->valuedouble > 1e9 ||
                d->valuedouble != floor(d->valuedouble) || !size_mul(n, (size_t)d->valuedouble, &n))
                return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: weight '%s' has a bad shape", mpath,
                                name->valuestring);
        }
        if (total + n < total)
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: a weight group's size overflows", mpath);
        total += n;
        int part;
        wanted |= conv_of_name(name->valuestring, 1, &part) >= 0;
    }
    /* Groups without convolutions (a full model's dense layers) are not read at all. */
    if (nexist == 0 || !wanted) return IMPASTO_OK;
    if (total > UPSTREAM_MAX_WEIGHTS_BYTES)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: a weight group of %zu bytes is implausibly large", mpath, total);
    /* The manifest's claim is checked against the files before it decides an allocation. */
    if (nexist == npaths && on_disk != total)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: shard%s %s%s hold%s %zu bytes, its weights need %zu", mpath,
                        npaths > 1 ? "s" : "", paths->child->valuestring, npaths > 1 ? "..." : "",
                        npaths > 1 ? "" : "s", on_disk, total);

    unsigned char *buf = malloc(total ? total : 1);
    if (!buf) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", mpath);
    size_t got = 0;
    impasto_status s = IMPASTO_OK;
    for (const cJSON *p = paths->child; p && s == IMPASTO_OK; p = p->next) {
        char *full = path_join(dir, p->valuestring);
        unsigned char *shard = NULL;
        size_t n = 0;
        if (!full) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        else if (!is_file(full))
            s = ctx_fail(ctx, IMPASTO_ERR_IO, "%s is missing (its group's other shards are present)", full);
        else s = file_read_all(ctx, full, UPSTREAM_MAX_WEIGHTS_BYTES, &shard, &n);
        if (s == IMPASTO_OK && n > total - got)
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the group's shards hold more than the %zu bytes its "
                         "weights need", full, total);
        if (s == IMPASTO_OK) memcpy(buf + got, shard, n), got += n;
        free(shard);
        if (s == IMPASTO_OK && !p->next && got != total)
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the group's shards hold %zu bytes, its weights need %zu",
                         full, got, total);
        free(full);
    }

    /* Walk the weights in order; the bytes are little-endian float32. */
    size_t off = 0;
    float *tmp = NULL;
    for (const cJSON *w = weights->child; w && s == IMPASTO_OK; w = w->next) {
        const char *name = cJSON_GetObjectItemCaseSensitive(w, "name")->valuestring;
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(w, "shape");
        size_t nbytes = 4;
        for (const cJSON *d = shape->child; d; d = d->next) nbytes *= (size_t)d->valuedouble;
        int part, c = conv_of_name(name, 1, &part);
        if (c >= 0) {
            int want[4], nd = expected_shape(c, part, want);
            size_t n = shape_matches(shape, want, nd);
            if (!n) {
                s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: weight '%s' does not have VGG-19's shape", mpath, name);
                break;
            }
            tmp = malloc(n * sizeof *tmp);
            if (!tmp) {
                s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", mpath);
                break;
            }
            for (size_t i = 0; i < n; i++) {
                const unsigned char *q = buf + off + 4 * i;
                uint32_t bits = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
                memcpy(&tmp[i], &bits, 4);
            }
            s = store_part(ctx, mpath, u, c, part, tmp, 0, c == 0, 0.0f);
            free(tmp);
            tmp = NULL;
        }
        off += nbytes;
    }
    free(buf);
    return s;
}

static impasto_status read_tfjs(impasto_ctx *ctx, const char *dir, const char *mpath, cJSON *j,
                                vgg19_upstream *u) {
    impasto_status s = IMPASTO_OK;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(j, "weightsManifest");
    if (!cJSON_IsArray(wm)) s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: no weightsManifest array", mpath);
    for (const cJSON *g = wm ? wm->child : NULL; g && s == IMPASTO_OK; g = g->next)
        s = tfjs_group(ctx, dir, mpath, g, u);
    return s == IMPASTO_OK ? finish(ctx, mpath, u) : s;
}

/* ---- uint8 manifest ------------------------------------------------------------------------ */

static impasto_status uint8_entry(impasto_ctx *ctx, const char *dir, const char *mpath, const cJSON *e,
                                  int c, int part, vgg19_upstream *u) {
    const char *name = e->string;
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(e, "filename");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(e, "size");
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *quant = cJSON_GetObjectItemCaseSensitive(e, "quantization");
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(e, "checksum");
    if (!cJSON_IsString(fn) || !safe_file_name(fn->valuestring) || !cJSON_IsString(sum) ||
        strlen(sum->valuestring) != 32 || !cJSON_IsObject(quant) || !cJSON_IsNumber(size))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: entry '%s' lacks a plain filename, an md5 checksum, "
                        "a size or quantization", mpath, name);
    if (dtype && (!cJSON_IsString(dtype) || strcmp(dtype->valuestring, "float32") != 0))
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: entry '%s' is not a float32 tensor", mpath, name);
    const cJSON *qd = cJSON_GetObjectItemCaseSensitive(quant, "dtype");
    const cJSON *scale = cJSON_GetObjectItemCaseSensitive(quant, "scale");
    const cJSON *minv = cJSON_GetObjectItemCaseSensitive(quant, "min_value");
    if (!cJSON_IsString(qd) || strcmp(qd->valuestring, "uint8") != 0)
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: entry '%s' is not uint8-quantised", mpath, name);
    if (!cJSON_IsNumber(scale) || !cJSON_IsNumber(minv) || !(scale->valuedouble > 0) ||
        !isfinite(scale->valuedouble) || !isfinite(minv->valuedouble))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: entry '%s' has a bad scale or min_value", mpath, name);
    int want[4], nd = expected_shape(c, part, want);
    size_t n = shape_matches(shape, want, nd);
    if (!n || size->valuedouble != (double)n)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: entry '%s' does not have VGG-19's shape and size", mpath,
                        name);

    char *file = path_join(dir, fn->valuestring);
    if (!file) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    unsigned char *q = NULL;
    size_t got = 0;
    float *tmp = NULL;
    impasto_status s = file_read_all(ctx, file, UPSTREAM_MAX_WEIGHTS_BYTES, &q, &got);
    if (s == IMPASTO_OK && got != n)
        s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s is %zu bytes, %s says %zu", file, got, mpath, n);
    if (s == IMPASTO_OK) {
        char hex[33];
        md5_hex(q, got, hex);
        if (strcasecmp(hex, sum->valuestring) != 0)
            s = ctx_fail(ctx, IMPASTO_ERR_CHECKSUM, "%s: md5 is %s but %s says %.32s (corrupt or altered file)",
                         file, hex, mpath, sum->valuestring);
    }
    if (s == IMPASTO_OK && !(tmp = malloc(n * sizeof *tmp)))
        s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", file);
    if (s == IMPASTO_OK) {
        /* Dequantise in double so min + scale * q rounds once, to the float nearest the intent. */
        for (size_t i = 0; i < n; i++) tmp[i] = (float)(minv->valuedouble + scale->valuedouble * q[i]);
        s = store_part(ctx, file, u, c, part, tmp, 1, 0, (float)scale->valuedouble);
    }
    free(tmp);
    free(q);
    free(file);
    return s;
}

static impasto_status read_uint8(impasto_ctx *ctx, const char *dir, const char *mpath, cJSON *j,
                                 vgg19_upstream *u) {
    impasto_status s = IMPASTO_OK;
    const cJSON *ws = cJSON_GetObjectItemCaseSensitive(j, "weights");
    if (!cJSON_IsObject(ws)) s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: no \"weights\" object", mpath);
    for (const cJSON *e = ws ? ws->child : NULL; e && s == IMPASTO_OK; e = e->next) {
        int part, c = conv_of_name(e->string, 0, &part);
        if (c < 0) continue;  /* not a convolution impasto uses (e.g. fully connected layers) */
        if (!cJSON_IsObject(e)) s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: entry '%s' is not an object", mpath, e->string);
        else s = uint8_entry(ctx, dir, mpath, e, c, part, u);
    }
    return s == IMPASTO_OK ? finish(ctx, mpath, u) : s;
}

impasto_status vgg19_upstream_parse(impasto_ctx *ctx, const char *dir, const char *mpath, const char *text,
                                    size_t n, int tfjs, vgg19_upstream *u) {
    if (!dir || !mpath || (!text && n) || !u)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "reading the upstream VGG-19 files: bad arguments");
    memset(u, 0, sizeof *u);
    cJSON *j;
    impasto_status s = parse_json(ctx, mpath, text ? text : "", n, &j);
    if (s == IMPASTO_OK) s = tfjs ? read_tfjs(ctx, dir, mpath, j, u) : read_uint8(ctx, dir, mpath, j, u);
    cJSON_Delete(j);
    if (s != IMPASTO_OK) vgg19_upstream_clear(u);
    return s;
}

/* Reads the manifest file `mpath` and parses it as vgg19_upstream_parse does. */
static impasto_status read_manifest(impasto_ctx *ctx, const char *dir, const char *mpath, int tfjs,
                                    vgg19_upstream *u) {
    unsigned char *text;
    size_t n;
    impasto_status s = file_read_all(ctx, mpath, UPSTREAM_MAX_JSON_BYTES, &text, &n);
    if (s != IMPASTO_OK) return s;
    s = vgg19_upstream_parse(ctx, dir, mpath, (const char *)text, n, tfjs, u);
    free(text);
    return s;
}

impasto_status vgg19_upstream_read(impasto_ctx *ctx, const char *dir, vgg19_upstream *u) {
    if (!dir || !u) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "reading the upstream VGG-19 files: no folder given");
    memset(u, 0, sizeof *u);
    struct stat st;
    if (stat(dir, &st) != 0) return ctx_fail(ctx, IMPASTO_ERR_IO, "cannot open %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s is not a folder", dir);
    char *tfjs = path_join(dir, "model.json"), *man = path_join(dir, "manifest.json");
    impasto_status s;
    if (!tfjs || !man) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    else if (is_file(tfjs) && is_file(man))
        s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s holds both model.json and manifest.json; give each format "
                     "its own folder", dir);
    else if (is_file(tfjs)) s = read_manifest(ctx, dir, tfjs, 1, u);
    else if (is_file(man)) s = read_manifest(ctx, dir, man, 0, u);
    else
        s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s holds neither model.json (TensorFlow.js VGG19) nor "
                     "manifest.json (uint8 VGG-19)", dir);
    free(tfjs);
    free(man);
    if (s != IMPASTO_OK) vgg19_upstream_clear(u);
    return s;
}
