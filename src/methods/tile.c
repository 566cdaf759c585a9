/* Tiled encoder/decoder runs (see tile.h). */
#include "methods/tile.h"

#include "core/clock.h"
#include "core/ctx.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A last row/column of tiles narrower than this is merged into the one before it, so no crop is
 * too thin for the encoder's poolings even without a halo. */
#define TILE_MIN_LAST 16

impasto_status tile_check_options(impasto_ctx *ctx, int tile, int halo, int memory_mb) {
    if (tile != -1 && tile != 0 && (tile < TILE_MIN || tile % 8 != 0))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the tile size must be -1 (automatic), 0 (never tile) or a "
                        "multiple of 8 of at least %d, not %d", TILE_MIN, tile);
    if (halo < -1 || (halo >= 0 && halo % 8 != 0) || halo > 256)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the tile halo must be -1 (exact) or a multiple of 8 up to "
                        "256, not %d", halo);
    if (memory_mb < 0) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the memory budget must not be negative");
    return IMPASTO_OK;
}

impasto_status tile_check_method_options(impasto_ctx *ctx, double alpha, int content_size, int style_size, int tile,
                                         int halo, int memory_mb, const double *style_weights, size_t nstyles,
                                         const impasto_image *mask) {
    if (!(alpha >= 0 && alpha <= 1)) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "alpha must be between 0 and 1");
    if (content_size < 0 || content_size > IMPASTO_MAX_SIDE || style_size < 0 || style_size > IMPASTO_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "content and style sizes must be 0 (keep) .. %d", IMPASTO_MAX_SIDE);
    impasto_status ts = tile_check_options(ctx, tile, halo, memory_mb);
    if (ts != IMPASTO_OK || !style_weights) return ts;
    double sum = 0;
    for (size_t i = 0; i < nstyles; i++) {
        if (!(style_weights[i] >= 0) || !isfinite(style_weights[i]))
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style weights must be finite and not negative");
        sum += style_weights[i];
    }
    if (!(sum > 0)) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "style weights sum to zero");
    if (mask) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "a mask gives each style its own region: no style weights");
    return IMPASTO_OK;
}

void tile_meter_start(tile_meter *m, impasto_pass_progress_fn fn, void *user, int num_levels, int total) {
    memset(m, 0, sizeof *m);
    m->fn = fn;
    m->user = user;
    m->p.num_levels = num_levels;
    m->p.total = total;
    m->t0 = clock_seconds();
}

impasto_status tile_meter_tick(impasto_ctx *ctx, tile_meter *m, const char *stage) {
    if (!m) return IMPASTO_OK;
    m->p.done++;
    m->p.stage = stage;
    if (!m->fn) return IMPASTO_OK;
    m->p.seconds = clock_seconds() - m->t0;
    if (m->fn(&m->p, m->user)) return ctx_fail(ctx, IMPASTO_ERR_CANCELLED, "cancelled");
    return IMPASTO_OK;
}

int tile_count(const tile_plan *p) { return p->ny * p->nx; }

int tile_exact_halo(tile_net_kind kind) { return kind == TILE_NET_ADAIN ? 64 : 24; }
static int tile_encoder_halo(tile_net_kind kind) { return kind == TILE_NET_ADAIN ? 32 : 16; }

static size_t run_bytes(int h, int w) {
    return (size_t)h * (size_t)w * TILE_BYTES_PER_PIXEL + TILE_FIXED_BYTES;
}

static int tiles_along(int n, int t) {
    int k = (n + t - 1) / t;
    if (k > 1 && n - (k - 1) * t < TILE_MIN_LAST) k--;
    return k;
}

impasto_status tile_plan_make(impasto_ctx *ctx, tile_net_kind kind, int h, int w, int tile, int halo,
                              int memory_mb, tile_plan *p) {
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->scale = kind == TILE_NET_ADAIN ? 8 : 4;
    p->c = kind == TILE_NET_ADAIN ? ADAIN_FEAT_C : LST_FEAT_C;
    p->h = h;
    p->w = w;
    p->halo = halo < 0 ? tile_exact_halo(kind) : halo;
    p->enc_halo = p->halo < tile_encoder_halo(kind) ? p->halo : tile_encoder_halo(kind);
    const size_t budget = (size_t)(memory_mb > 0 ? memory_mb : TILE_DEFAULT_MEMORY_MB) << 20;
    int th = h, tw = w;
    if (tile > 0) {
        th = tw = tile;
    } else if (tile < 0 && run_bytes(h, w) > budget) {
        /* The largest side s (a multiple of 8) whose crop (s + 2 halo)^2 fits the budget. */
        if (budget <= TILE_FIXED_BYTES)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "a memory budget of %d MB is too small to tile in", memory_mb);
        size_t px = (budget - TILE_FIXED_BYTES) / TILE_BYTES_PER_PIXEL;
        long s = 8;
        while ((s + 8 + 2 * p->halo) * (s + 8 + 2 * p->halo) <= (long)px) s += 8;
        if ((s + 2 * p->halo) * (s + 2 * p->halo) > (long)px || s < TILE_MIN)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "a memory budget of %d MB is too small for a %dx%d image "
                            "with a %d-pixel halo", memory_mb, w, h, p->halo);
        /* Even the tiles out: as many as needed at side s, then the smallest side giving that many. */
        int ky = (h + (int)s - 1) / (int)s, kx = (w + (int)s - 1) / (int)s;
        th = ((h + ky - 1) / ky + 7) / 8 * 8;
        tw = ((w + kx - 1) / kx + 7) / 8 * 8;
    }
    if (th >= h) th = h;
    if (tw >= w) tw = w;
    p->th = th;
    p->tw = tw;
    p->ny = tiles_along(h, th);
    p->nx = tiles_along(w, tw);
    return IMPASTO_OK;
}

/* Tile (ty, tx): interior [y0, y1) x [x0, x1) and crop [cy0, cy1) x [cx0, cx1) with halo. */
typedef struct tile_rect {
    int y0, y1, x0, x1, cy0, cy1, cx0, cx1;
} tile_rect;

static void span(int i, int k, int t, int n, int halo, int *a0, int *a1, int *c0, int *c1) {
    *a0 = i * t;
    *a1 = i == k - 1 ? n : (i + 1) * t;
    *c0 = *a0 - halo < 0 ? 0 : *a0 - halo;
    *c1 = *a1 + halo > n ? n : *a1 + halo;
}

static void rect_of(const tile_plan *p, int ty, int tx, int halo, tile_rect *r) {
    span(ty, p->ny, p->th, p->h, halo, &r->y0, &r->y1, &r->cy0, &r->cy1);
    span(tx, p->nx, p->tw, p->w, halo, &r->x0, &r->x1, &r->cx0, &r->cx1);
}

/* x (3, h, w) -> the crop (3, cy1 - cy0, cx1 - cx0), malloc'd. */
static float *crop(const tile_plan *p, const float *x, const tile_rect *r) {
    const size_t ch = (size_t)(r->cy1 - r->cy0), cw = (size_t)(r->cx1 - r->cx0);
    float *o = malloc(3 * ch * cw * sizeof *o);
    if (!o) return NULL;
    for (int c = 0; c < 3; c++)
        for (size_t y = 0; y < ch; y++)
            memcpy(o + ((size_t)c * ch + y) * cw,
                   x + ((size_t)c * (size_t)p->h + (size_t)r->cy0 + y) * (size_t)p->w + (size_t)r->cx0,
                   cw * sizeof *o);
    return o;
}

static impasto_status encode(impasto_ctx *ctx, const adain_net *net, const tile_plan *p, const float *x, int h,
                             int w, float **f, int *fh, int *fw) {
    return p->kind == TILE_NET_ADAIN ? adain_encode(ctx, net, x, h, w, f, fh, fw)
                                     : lst_encode(ctx, net, x, h, w, f, fh, fw);
}

static impasto_status decode(impasto_ctx *ctx, const adain_net *net, const tile_plan *p, const float *f, int fh,
                             int fw, float **img) {
    return p->kind == TILE_NET_ADAIN ? adain_decode(ctx, net, f, fh, fw, img) : lst_decode(ctx, net, f, fh, fw, img);
}

/* Encodes tile r's crop into t (features, interior and global position). */
static impasto_status encode_tile(impasto_ctx *ctx, const adain_net *net, const tile_plan *p, const float *x,
                                  const tile_rect *r, tile_feat *t) {
    memset(t, 0, sizeof *t);
    float *xc = NULL;  // (3, cy1 - cy0, cx1 - cx0)
    const int whole = r->cy0 == 0 && r->cx0 == 0 && r->cy1 == p->h && r->cx1 == p->w;
    if (!whole && !(xc = crop(p, x, r))) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (tile)");
    impasto_status s = encode(ctx, net, p, whole ? x : xc, r->cy1 - r->cy0, r->cx1 - r->cx0, &t->f, &t->fh, &t->fw);
    free(xc);
    if (s != IMPASTO_OK) return s;
    const int sc = p->scale;
    t->iy0 = (r->y0 - r->cy0) / sc;
    t->ix0 = (r->x0 - r->cx0) / sc;
    /* Interior ends are multiples of 8 inside the image; at its end the crop's own last row. */
    t->iy1 = r->y1 == p->h ? t->fh : (r->y1 - r->cy0) / sc;
    t->ix1 = r->x1 == p->w ? t->fw : (r->x1 - r->cx0) / sc;
    t->gy = r->cy0 / sc;
    t->gx = r->cx0 / sc;
    return IMPASTO_OK;
}

impasto_status tile_features(impasto_ctx *ctx, const adain_net *net, const tile_plan *p, const float *x,
                             tile_stats_fn stats, void *user, float **keep, tile_meter *meter) {
    if (keep) *keep = NULL;
    for (int ty = 0; ty < p->ny; ty++)
        for (int tx = 0; tx < p->nx; tx++) {
            tile_rect r;
            tile_feat t;
            rect_of(p, ty, tx, p->enc_halo, &r);
            impasto_status s = encode_tile(ctx, net, p, x, &r, &t);
            if (s == IMPASTO_OK) s = stats(user, ctx, &t);
            if (s == IMPASTO_OK && keep && p->ny == 1 && p->nx == 1) {
                *keep = t.f;
                t.f = NULL;
            }
            free(t.f);
            if (s == IMPASTO_OK && meter) s = tile_meter_tick(ctx, meter, "statistics");
            if (s != IMPASTO_OK) {
                if (keep) {
                    free(*keep);
                    *keep = NULL;
                }
                return s;
            }
        }
    return IMPASTO_OK;
}

impasto_status tile_stylize(impasto_ctx *ctx, const adain_net *net, const tile_plan *p, const float *x,
                            float *keep, tile_transform_fn transform, void *user, float *y, tile_meter *meter) {
    impasto_status s = IMPASTO_OK;
    for (int ty = 0; ty < p->ny && s == IMPASTO_OK; ty++)
        for (int tx = 0; tx < p->nx && s == IMPASTO_OK; tx++) {
            tile_rect r;
            tile_feat t;
            rect_of(p, ty, tx, p->halo, &r);
            if (keep) {
                /* The single tile's pass-1 features (the whole image: no halo, no crop). */
                memset(&t, 0, sizeof t);
                t.f = keep;
                keep = NULL;
                t.fh = p->kind == TILE_NET_ADAIN ? (p->h + 7) / 8 : p->h / 4;
                t.fw = p->kind == TILE_NET_ADAIN ? (p->w + 7) / 8 : p->w / 4;
                t.iy1 = t.fh;
                t.ix1 = t.fw;
            } else {
                s = encode_tile(ctx, net, p, x, &r, &t);
            }
            float *img = NULL;  // (3, scale fh, scale fw)
            if (s == IMPASTO_OK) s = transform(user, ctx, &t);
            if (s == IMPASTO_OK) s = decode(ctx, net, p, t.f, t.fh, t.fw, &img);
            if (s == IMPASTO_OK) {
                /* The interior, from the decoded crop (which may run up to 7 pixels past the image). */
                const size_t dh = (size_t)p->scale * (size_t)t.fh, dw = (size_t)p->scale * (size_t)t.fw;
                const size_t rows = (size_t)(r.y1 - r.y0), cols = (size_t)(r.x1 - r.x0);
                for (int c = 0; c < 3; c++)
                    for (size_t j = 0; j < rows; j++)
                        memcpy(y + ((size_t)c * (size_t)p->h + (size_t)r.y0 + j) * (size_t)p->w + (size_t)r.x0,
                               img + ((size_t)c * dh + (size_t)(r.y0 - r.cy0) + j) * dw + (size_t)(r.x0 - r.cx0),
                               cols * sizeof *y);
            }
            free(img);
            free(t.f);
            if (s == IMPASTO_OK && meter) s = tile_meter_tick(ctx, meter, "stylize");
        }
    free(keep);
    return s;
}
