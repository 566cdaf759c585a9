/* impasto_convert_vgg19: the upstream VGG-19 files -> impasto's safetensors (see include/impasto.h).
 *
 * Each layer comes from the most exact source that has it (float32 before uint8). Where several
 * sources have a layer they must agree within their quantisation steps: this is what catches a
 * layout mistake (a swapped kernel axis or channel order is off by ~100 steps), so a wrong layout
 * can never be converted silently. With the shipped files, conv1_1 ... conv3_4 of the float32 head
 * and the uint8 set differ by at most 0.50 steps (weights and biases alike), i.e. the uint8 set
 * is the float32 one rounded to nearest; the "agreement" metadata records the observed maxima. */
#include "core/ctx.h"
#include "formats/safetensors.h"
#include "formats/vgg19_upstream.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const conv_names[16] = {
    "conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv3_4",
    "conv4_1", "conv4_2", "conv4_3", "conv4_4", "conv5_1", "conv5_2", "conv5_3", "conv5_4",
};
static const int conv_ic[16] = {3, 64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512};
static const int conv_oc[16] = {64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512};

/* The last path component of dir (trailing slashes ignored) into buf. */
static const char *dir_base(const char *dir, char *buf, size_t cap) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    snprintf(buf, cap, "%.*s", (int)(n - b), dir + b);
    return buf;
}

static double max_abs_diff(const float *a, const float *b, size_t n, double *max_abs) {
    double m = 0;
    *max_abs = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m) m = d;
        if (fabs(a[i]) > *max_abs) *max_abs = fabs(a[i]);
    }
    return m;
}

/* Checks that two sources of one tensor agree: within the sum of their quantisation steps
 * (each rounds to within half a step; 1% slack for the steps' own float rounding), plus a
 * float32 rounding allowance for two exact sources. *steps is the difference in units of the
 * coarser step (0 for two exact sources). */
static int agree(const float *a, float sa, const float *b, float sb, size_t n, double *steps, double *diff) {
    double amax, d = max_abs_diff(a, b, n, &amax);
    double tol = 1.01 * ((double)sa + sb) + 1e-6 * (1.0 + amax);
    double step = sa > sb ? sa : sb;
    *diff = d;
    *steps = step > 0 ? d / step : 0;
    return d <= tol;
}

typedef struct strbuf {
    char *p;
    size_t len, cap;
} strbuf;

/* Appends formatted text; returns 0 when out of memory. */
__attribute__((format(printf, 2, 3))) static int sb_printf(strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return 0;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->len + (size_t)n + 1) * 2;
        char *q = realloc(b->p, cap);
        if (!q) return 0;
        b->p = q;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 1;
}

/* The upstream file a source's layers came from: the float32 sources are TensorFlow.js. */
static const char *source_file(const vgg19_upstream_conv *cv) {
    return cv->w_step == 0 ? "model.json (float32)" : "manifest.json (uint8, md5 verified)";
}

impasto_status impasto_convert_vgg19(impasto_ctx *ctx, const char *const *dirs, size_t ndirs,
                                     const char *out_path) {
    if (!dirs || ndirs == 0 || !out_path)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "convert vgg19: give at least one upstream folder and an output");
    for (size_t d = 0; d < ndirs; d++)
        if (!dirs[d]) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "convert vgg19: folder %zu is NULL", d);
    vgg19_upstream *u = calloc(ndirs, sizeof *u);
    if (!u) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    impasto_status s = IMPASTO_OK;
    for (size_t d = 0; d < ndirs && s == IMPASTO_OK; d++) s = vgg19_upstream_read(ctx, dirs[d], &u[d]);

    /* Each layer from its most exact source: the first float32 one, else the first at all. */
    int pick[16];
    for (int c = 0; c < 16 && s == IMPASTO_OK; c++) {
        pick[c] = -1;
        for (size_t d = 0; d < ndirs; d++) {
            const vgg19_upstream_conv *cv = &u[d].conv[c];
            if (cv->present && (pick[c] < 0 || (cv->w_step == 0 && u[pick[c]].conv[c].w_step != 0)))
                pick[c] = (int)d;
        }
        if (pick[c] < 0)
            s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "convert vgg19: %s is in none of the %zu folder(s) given "
                         "(the uint8 set has all 16 convolutions)", conv_names[c], ndirs);
    }

    strbuf source = {0}, agreement = {0};
    int oom = 0;
    for (int c = 0; c < 16 && s == IMPASTO_OK; c++) {
        const vgg19_upstream_conv *best = &u[pick[c]].conv[c];
        size_t nw = (size_t)conv_oc[c] * conv_ic[c] * 9, nb = (size_t)conv_oc[c];
        for (size_t d = 0; d < ndirs && s == IMPASTO_OK; d++) {
            const vgg19_upstream_conv *cv = &u[d].conv[c];
            if ((int)d == pick[c] || !cv->present) continue;
            double sw, sb, dw, db;
            int ok_w = agree(best->w, best->w_step, cv->w, cv->w_step, nw, &sw, &dw);
            int ok_b = agree(best->b, best->b_step, cv->b, cv->b_step, nb, &sb, &db);
            if (!ok_w || !ok_b)
                s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "convert vgg19: %s differs between %s and %s by %.3g in "
                             "its %s (%.1f quantisation steps): not the same network, or a layout mistake",
                             conv_names[c], dirs[pick[c]], dirs[d], ok_w ? db : dw, ok_w ? "bias" : "weights",
                             ok_w ? sb : sw);
            else
                oom |= !sb_printf(&agreement, "%s%s: weights %.2f, bias %.2f steps", agreement.len ? "; " : "",
                                  conv_names[c], sw, sb);
        }
    }

    /* Runs of layers from the same folder are named once: "conv1_1..conv3_4: folder/file". */
    for (int c = 0, start = 0; c < 16 && s == IMPASTO_OK; c++) {
        if (c < 15 && pick[c + 1] == pick[c]) continue;
        char base[256];
        oom |= !sb_printf(&source, "%s%s%s%s: %s/%s", source.len ? "; " : "", conv_names[start],
                          start == c ? "" : "..", start == c ? "" : conv_names[c],
                          dir_base(dirs[pick[c]], base, sizeof base), source_file(&u[pick[c]].conv[c]));
        start = c + 1;
    }
    if (s == IMPASTO_OK && oom) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");

    if (s == IMPASTO_OK) {
        st_write_tensor t[32];
        char names[32][24];
        memset(t, 0, sizeof t);
        for (int c = 0; c < 16; c++) {
            const vgg19_upstream_conv *cv = &u[pick[c]].conv[c];
            snprintf(names[2 * c], sizeof names[0], "%s.weight", conv_names[c]);
            snprintf(names[2 * c + 1], sizeof names[0], "%s.bias", conv_names[c]);
            t[2 * c] = (st_write_tensor){.name = names[2 * c], .ndim = 4,
                                         .shape = {conv_oc[c], conv_ic[c], 3, 3}, .data = cv->w};
            t[2 * c + 1] = (st_write_tensor){.name = names[2 * c + 1], .ndim = 1, .shape = {conv_oc[c]},
                                             .data = cv->b};
        }
        const char *meta[] = {
            "kind", "vgg19",
            "input", "rgb-caffe",
            "layout", "weight (OC, IC, KH, KW), bias (OC); conv1_1 input channels R, G, B; input 0..255 "
                      "minus mean R 123.68 G 116.779 B 103.939",
            "source", source.p,
            "agreement", agreement.p ? agreement.p : "single source per layer, nothing to compare",
            "impasto_version", IMPASTO_VERSION,
        };
        s = safetensors_write(ctx, out_path, t, 32, meta, sizeof meta / sizeof meta[0] / 2);
    }
    free(source.p);
    free(agreement.p);
    for (size_t d = 0; d < ndirs; d++) vgg19_upstream_clear(&u[d]);
    free(u);
    return s;
}
