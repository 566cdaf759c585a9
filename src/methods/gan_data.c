/* Training pictures for CycleGAN and pix2pix (gan_data.h). */
#include "methods/gan_data.h"

#include "core/ctx.h"
#include "core/image.h"
#include "core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void gan_domain_free(gan_domain *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) free(d->pics[i].rgb);
    free(d->pics);
    memset(d, 0, sizeof *d);
}

/* img resized to load x load as 8-bit RGB (grey replicated, alpha dropped). */
static impasto_status to_rgb8(impasto_ctx *ctx, const impasto_image *img, int load, unsigned char **out) {
    impasto_image *r = NULL;
    impasto_status s = impasto_image_resize(ctx, img, load, load, &r);
    if (s) return s;
    const size_t n = (size_t)load * (size_t)load;
    unsigned char *rgb = malloc(n * 3);
    if (!rgb) {
        impasto_image_free(r);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory keeping the pictures");
    }
    const int ch = r->channels;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) {
            float v = r->data[i * (size_t)ch + (size_t)(ch >= 3 ? c : 0)];
            v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
            rgb[i * 3 + (size_t)c] = (unsigned char)(v * 255.0f + 0.5f);
        }
    impasto_image_free(r);
    *out = rgb;
    return IMPASTO_OK;
}

/* The left (half 0) or right (1) half of img, as a new image. */
static impasto_status half(impasto_ctx *ctx, const impasto_image *img, int which, impasto_image **out) {
    const int w = img->width / 2, h = img->height, ch = img->channels;
    impasto_status s = impasto_image_create(ctx, w, h, ch, out);
    if (s) return s;
    for (int y = 0; y < h; y++)
        memcpy((*out)->data + (size_t)y * (size_t)w * (size_t)ch,
               img->data + ((size_t)y * (size_t)img->width + (size_t)(which * w)) * (size_t)ch,
               (size_t)w * (size_t)ch * sizeof(float));
    return IMPASTO_OK;
}

/* BT.601 luma into all three channels. */
static void grey(unsigned char *rgb, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = rgb + 3 * i;
        const int y = (299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000;
        p[0] = p[1] = p[2] = (unsigned char)y;
    }
}

static int cmp_float(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void gan_edges(unsigned char *rgb, int w, int h) {
    const size_t n = (size_t)w * (size_t)h;
    float *g = malloc(n * sizeof *g), *b = malloc(n * sizeof *b), *m = malloc(n * sizeof *m);
    if (!g || !b || !m) {
        free(g), free(b), free(m);
        memset(rgb, 255, n * 3);
        return;
    }
    for (size_t i = 0; i < n; i++) g[i] = (0.299f * rgb[3 * i] + 0.587f * rgb[3 * i + 1] + 0.114f * rgb[3 * i + 2]);
#define AT(a, yy, xx) (a)[(size_t)((yy) < 0 ? 0 : (yy) >= h ? h - 1 : (yy)) * (size_t)w + (size_t)((xx) < 0 ? 0 : (xx) >= w ? w - 1 : (xx))]
    /* 3x3 binomial blur (1 2 1)^T (1 2 1) / 16: the Sobel operator then sees edges, not grain */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float s = 0.0f;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) s += (float)((2 - abs(dy)) * (2 - abs(dx))) * AT(g, y + dy, x + dx);
            b[(size_t)y * (size_t)w + (size_t)x] = s / 16.0f;
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const float gx = AT(b, y - 1, x + 1) + 2 * AT(b, y, x + 1) + AT(b, y + 1, x + 1) - AT(b, y - 1, x - 1) -
                             2 * AT(b, y, x - 1) - AT(b, y + 1, x - 1);
            const float gy = AT(b, y + 1, x - 1) + 2 * AT(b, y + 1, x) + AT(b, y + 1, x + 1) - AT(b, y - 1, x - 1) -
                             2 * AT(b, y - 1, x) - AT(b, y - 1, x + 1);
            m[(size_t)y * (size_t)w + (size_t)x] = sqrtf(gx * gx + gy * gy);
        }
#undef AT
    /* scale by the 90th percentile so a picture's strong edges draw black whatever its contrast:
     * darkness = clamp(2 (m / p90 - 0.5), 0, 1) */
    memcpy(g, m, n * sizeof *g);
    qsort(g, n, sizeof *g, cmp_float);
    const float p90 = g[(n * 9) / 10] > 1.0f ? g[(n * 9) / 10] : 1.0f;
    for (size_t i = 0; i < n; i++) {
        float d = 2.0f * (m[i] / p90 - 0.5f);
        d = d < 0.0f ? 0.0f : d > 1.0f ? 1.0f : d;
        const unsigned char v = (unsigned char)(255.0f * (1.0f - d) + 0.5f);
        rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = v;
    }
    free(g), free(b), free(m);
}

impasto_status gan_domain_load(impasto_ctx *ctx, const char *const *paths, size_t n, int load,
                               impasto_pairs pairs, gan_domain *d, gan_domain *b) {
    memset(d, 0, sizeof *d);
    if (b) memset(b, 0, sizeof *b);
    d->load = load;
    if (!(d->pics = calloc(n ? n : 1, sizeof *d->pics))) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (b) {
        b->load = load;
        if (!(b->pics = calloc(n ? n : 1, sizeof *b->pics))) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    const size_t npix = (size_t)load * (size_t)load;
    for (size_t i = 0; i < n; i++) {
        impasto_image *img = NULL, *h0 = NULL, *h1 = NULL;
        impasto_status s = impasto_image_load(ctx, paths[i], &img);
        if (s == IMPASTO_OK && b && pairs == IMPASTO_PAIRS_AB) {
            if (img->width % 2 || img->width < 2)
                s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "%s: an A|B picture must have an even width (it is %d)",
                             paths[i], img->width);
            if (!s) s = half(ctx, img, 0, &h0);
            if (!s) s = half(ctx, img, 1, &h1);
            if (!s) s = to_rgb8(ctx, h0, load, &d->pics[i].rgb);
            if (!s) s = to_rgb8(ctx, h1, load, &b->pics[i].rgb);
        } else if (s == IMPASTO_OK && b) {
            s = to_rgb8(ctx, img, load, &b->pics[i].rgb);
            if (!s && !(d->pics[i].rgb = malloc(npix * 3))) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
            if (!s) {
                memcpy(d->pics[i].rgb, b->pics[i].rgb, npix * 3);
                if (pairs == IMPASTO_PAIRS_EDGES) gan_edges(d->pics[i].rgb, load, load);
                else grey(d->pics[i].rgb, npix);
            }
        } else if (s == IMPASTO_OK) {
            s = to_rgb8(ctx, img, load, &d->pics[i].rgb);
        }
        impasto_image_free(img);
        impasto_image_free(h0);
        impasto_image_free(h1);
        d->n = i + 1;
        if (b) b->n = i + 1;
        if (s) {
            /* name the picture unless the message already does */
            if (!strstr(ctx->error, paths[i])) {
                char msg[sizeof ctx->error];
                memcpy(msg, ctx->error, sizeof msg);
                ctx_fail(ctx, s, "%s: %s", paths[i], msg);
            }
            return s;
        }
    }
    return IMPASTO_OK;
}

impasto_status gan_a_side(impasto_ctx *ctx, const impasto_image *img, impasto_pairs pairs, impasto_image **out) {
    *out = NULL;
    impasto_image *h = NULL;
    impasto_status s = IMPASTO_OK;
    if (pairs == IMPASTO_PAIRS_AB) {
        if (img->width < 2) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "an A|B picture must be at least 2 pixels wide");
        if ((s = half(ctx, img, 0, &h))) return s;
        img = h;
    }
    const int w = img->width, ht = img->height, ch = img->channels;
    const size_t n = (size_t)w * (size_t)ht;
    unsigned char *rgb = malloc(n * 3);
    if (!rgb) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (!s) {
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 3; c++) {
                float v = img->data[i * (size_t)ch + (size_t)(ch >= 3 ? c : 0)];
                rgb[3 * i + (size_t)c] = (unsigned char)((v < 0 ? 0 : v > 1 ? 1 : v) * 255.0f + 0.5f);
            }
        if (pairs == IMPASTO_PAIRS_COLORIZE) grey(rgb, n);
        else if (pairs == IMPASTO_PAIRS_EDGES) gan_edges(rgb, w, ht);
        s = impasto_image_create(ctx, w, ht, 3, out);
    }
    if (!s)
        for (size_t i = 0; i < 3 * n; i++) (*out)->data[i] = (float)rgb[i] / 255.0f;
    free(rgb);
    impasto_image_free(h);
    return s;
}

gan_aug gan_aug_draw(int load, int crop, int no_flip, uint64_t *rng) {
    gan_aug a;
    a.x = (int)rng_below(rng, (size_t)(load - crop + 1));
    a.y = (int)rng_below(rng, (size_t)(load - crop + 1));
    a.flip = no_flip ? 0 : rng_uniform(rng) > 0.5;
    return a;
}

void gan_aug_apply(const gan_picture *p, int load, int crop, gan_aug a, float *x) {
    const size_t plane = (size_t)crop * (size_t)crop;
    for (int r = 0; r < crop; r++) {
        const unsigned char *row = p->rgb + ((size_t)(a.y + r) * (size_t)load + (size_t)a.x) * 3;
        for (int c = 0; c < crop; c++) {
            const int sc = a.flip ? crop - 1 - c : c;
            for (int k = 0; k < 3; k++)
                x[(size_t)k * plane + (size_t)r * (size_t)crop + (size_t)c] = (float)row[sc * 3 + k] / 127.5f - 1.0f;
        }
    }
}

impasto_status gan_pool_init(impasto_ctx *ctx, gan_pool *p, int size, size_t floats) {
    memset(p, 0, sizeof *p);
    p->size = size > 0 ? size : 0;
    p->floats = floats;
    if (p->size) {
        size_t bytes;
        if (!size_mul3((size_t)p->size, floats, sizeof(float), &bytes) || !(p->images = malloc(bytes)))
            return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for the history of %d fakes", size);
    }
    return IMPASTO_OK;
}

void gan_pool_free(gan_pool *p) {
    if (!p) return;
    free(p->images);
    memset(p, 0, sizeof *p);
}

void gan_pool_query(gan_pool *p, const float *fake, float *out, uint64_t *rng) {
    const size_t bytes = p->floats * sizeof(float);
    if (p->size == 0) {
        memcpy(out, fake, bytes);
        return;
    }
    if (p->count < p->size) {
        memcpy(p->images + (size_t)p->count++ * p->floats, fake, bytes);
        memcpy(out, fake, bytes);
        return;
    }
    if (rng_uniform(rng) > 0.5) {
        float *slot = p->images + rng_below(rng, (size_t)p->size) * p->floats;
        memcpy(out, slot, bytes);
        memcpy(slot, fake, bytes);
    } else {
        memcpy(out, fake, bytes);
    }
}
