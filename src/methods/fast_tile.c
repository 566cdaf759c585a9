/* Tiled fast style networks with the whole picture's instance-norm statistics (see fast_tile.h). */
#include "methods/fast_tile.h"

#include "core/ctx.h"
#include "core/image.h"
#include "methods/tile.h"
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The crop side along an axis of n pixels for interior tiles of t: t plus both halos, grown by up
 * to 3 so that n - side is a multiple of 4 (the last crop, ending at n, then starts on a multiple
 * of 4 as every other does); n itself when that reaches it. */
static int crop_side(int n, int t, int halo) {
    int c = t + 2 * halo;
    if (c >= n) return n;
    return c + (n - c) % 4;
}

static size_t crop_bytes(int h, int w, int s, int halo, int threads) {
    return tnet_plan_size(crop_side(h, s, halo), crop_side(w, s, halo), threads);
}

impasto_status fast_grid_make(impasto_ctx *ctx, int h, int w, int threads, const impasto_fast_options *opt,
                              fast_grid *g) {
    memset(g, 0, sizeof *g);
    g->h = h;
    g->w = w;
    g->halo = opt->tile_halo < 0 ? FAST_EXACT_HALO : opt->tile_halo;
    const int mb = opt->memory_mb > 0 ? opt->memory_mb : FAST_DEFAULT_MEMORY_MB;
    const size_t budget = (size_t)mb << 20;
    int th = h, tw = w;
    const size_t whole = tnet_plan_size(h, w, threads);
    if (opt->tile > 0) {
        th = tw = opt->tile;
    } else if (opt->tile < 0 && (whole == 0 || whole > budget)) {
        /* The largest side s (a multiple of 8) whose crop's plan fits, then evened out. */
        const size_t least = crop_bytes(h, w, FAST_MIN_TILE, g->halo, threads);
        if (least == 0 || least > budget)
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "a memory budget of %d MB is too small for the fast "
                            "network on a %dx%d picture: its smallest tiles (%d pixels with a %d-pixel halo) need "
                            "%zu MB", mb, w, h, FAST_MIN_TILE, g->halo, (least >> 20) + 1);
        const int longest = h > w ? h : w;
        int s = FAST_MIN_TILE;
        while (s < longest && crop_bytes(h, w, s + 8, g->halo, threads) <= budget) s += 8;
        const int ky = (h + s - 1) / s, kx = (w + s - 1) / s;
        th = ((h + ky - 1) / ky + 7) / 8 * 8;
        tw = ((w + kx - 1) / kx + 7) / 8 * 8;
    }
    g->ch = opt->tile == 0 ? h : crop_side(h, th, g->halo);
    g->cw = opt->tile == 0 ? w : crop_side(w, tw, g->halo);
    if (th >= h || g->ch == h) th = g->ch = h;
    if (tw >= w || g->cw == w) tw = g->cw = w;
    g->th = th;
    g->tw = tw;
    g->ny = (h + th - 1) / th;
    g->nx = (w + tw - 1) / tw;
    return IMPASTO_OK;
}

/* Tile (ty, tx): its interior [y0, y1) x [x0, x1) and its crop's corner (cy0, cx0). */
typedef struct fast_rect {
    int y0, y1, x0, x1, cy0, cx0;
} fast_rect;

static void rect_of(const fast_grid *g, int ty, int tx, fast_rect *r) {
    r->y0 = ty * g->th;
    r->y1 = ty == g->ny - 1 ? g->h : r->y0 + g->th;
    r->x0 = tx * g->tw;
    r->x1 = tx == g->nx - 1 ? g->w : r->x0 + g->tw;
    int cy = r->y0 - g->halo, cx = r->x0 - g->halo;
    r->cy0 = cy < 0 ? 0 : cy > g->h - g->ch ? g->h - g->ch : cy;
    r->cx0 = cx < 0 ? 0 : cx > g->w - g->cw ? g->w - g->cw : cx;
}

/* x (3, h, w) = 255 * src's pixels from (y0, x0); gray replicated, alpha left out. */
static void fill(const impasto_image *src, int y0, int x0, int h, int w, float *x) {
    const int cc = src->channels, color = cc >= 3;
    const size_t plane = (size_t)h * (size_t)w;
    for (int k = 0; k < 3; k++)
        for (int r = 0; r < h; r++) {
            const float *row = src->data + ((size_t)(y0 + r) * (size_t)src->width + (size_t)x0) * (size_t)cc;
            float *d = x + (size_t)k * plane + (size_t)r * (size_t)w;
            for (int c = 0; c < w; c++) d[c] = 255.0f * row[(size_t)c * (size_t)cc + (size_t)(color ? k : 0)];
        }
}

static impasto_status ensure_plan(impasto_ctx *ctx, tnet_plan **plan, int *plan_threads, int h, int w, int threads) {
    if (*plan && tnet_plan_height(*plan) == h && tnet_plan_width(*plan) == w && *plan_threads == threads)
        return IMPASTO_OK;
    tnet_plan_free(*plan);
    *plan = NULL;
    impasto_status s = tnet_plan_create(ctx, h, w, threads, plan);
    if (s == IMPASTO_OK) *plan_threads = threads;
    return s;
}

/* Whole-picture sums of one layer's channels about a shift (the first tile's interior mean), in
 * double: s1 = sum (x - shift), s2 = sum (x - shift)^2 over n positions. */
typedef struct layer_sums {
    int started;
    size_t n;
    float shift[TNET_MAX_C];
    double s1[TNET_MAX_C], s2[TNET_MAX_C];
} layer_sums;

/* Adds the interior rows [iy0, iy1) x columns [ix0, ix1) of y (c, hl, wl). */
static void sums_add(layer_sums *a, int c, const float *y, int hl, int wl, int iy0, int iy1, int ix0, int ix1) {
    const size_t plane = (size_t)hl * (size_t)wl, nw = (size_t)(ix1 - ix0);
    const size_t ni = (size_t)(iy1 - iy0) * nw;
    if (ni == 0) return;
    const int first = !a->started;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const float *yc = y + (size_t)ch * plane;  // (hl, wl)
        if (first) {
            double m = 0, q;
            for (int r = iy0; r < iy1; r++) {
                double p1;
                norm_sums(yc + (size_t)r * (size_t)wl + (size_t)ix0, nw, 0.0f, &p1, &q);
                m += p1;
            }
            a->shift[ch] = (float)(m / (double)ni);
        }
        double t1 = 0, t2 = 0;
        for (int r = iy0; r < iy1; r++) {
            double p1, p2;
            norm_sums(yc + (size_t)r * (size_t)wl + (size_t)ix0, nw, a->shift[ch], &p1, &p2);
            t1 += p1;
            t2 += p2;
        }
        a->s1[ch] += t1;
        a->s2[ch] += t2;
    }
    a->started = 1;
    a->n += ni;
}

/* Layer i's mean and 1 / sqrt(biased variance + eps) from its sums, as instance_norm_forward. */
static void sums_finish(const layer_sums *a, int c, tnet_stats *st, int i) {
    const double n = (double)a->n;
    for (int ch = 0; ch < c; ch++) {
        const double d = a->s1[ch] / n, v = a->s2[ch] / n - d * d;
        st->mean[i][ch] = (float)((double)a->shift[ch] + d);
        st->invstd[i][ch] = (float)(1.0 / sqrt((v > 0.0 ? v : 0.0) + (double)TNET_EPS));
    }
}

/* The interior of tile r in the map of layer i (hl x wl for the crop): rows and columns. */
static void interior(const fast_grid *g, const fast_rect *r, int i, int hl, int wl, int *iy0, int *iy1, int *ix0,
                     int *ix1) {
    const int f = tnet_conv_scale(i);
    *iy0 = (r->y0 - r->cy0) / f;
    *ix0 = (r->x0 - r->cx0) / f;
    /* Interior ends are multiples of 8 inside the picture; at its end the crop map's own end
     * (the network's extra rows and columns of a side that is not a multiple of 4 included, as
     * the untiled norm counts them). */
    *iy1 = r->y1 == g->h ? hl : (r->y1 - r->cy0) / f;
    *ix1 = r->x1 == g->w ? wl : (r->x1 - r->cx0) / f;
}

/* The statistics from an untiled run on src shrunk to a longer side of opt->stats_side. */
static impasto_status estimate_stats(impasto_ctx *ctx, const transformer_net *net, const impasto_image *src,
                                     const impasto_fast_options *opt, int threads, tnet_stats *st) {
    const int side = opt->stats_side > 0 ? opt->stats_side : FAST_DEFAULT_STATS_SIDE;
    const int longest = src->width > src->height ? src->width : src->height;
    impasto_image *small = NULL;
    impasto_status s = IMPASTO_OK;
    if (longest > side) {
        const double k = (double)side / longest;
        int w = (int)lround(src->width * k), h = (int)lround(src->height * k);
        w = w < TNET_MIN_SIDE ? TNET_MIN_SIDE : w;
        h = h < TNET_MIN_SIDE ? TNET_MIN_SIDE : h;
        if ((s = impasto_image_resize(ctx, src, w, h, &small)) != IMPASTO_OK) return s;
    }
    const impasto_image *x = small ? small : src;
    tnet_plan *p = NULL;
    if ((s = tnet_plan_create(ctx, x->height, x->width, threads, &p)) == IMPASTO_OK) {
        fill(x, 0, 0, x->height, x->width, tnet_plan_input(p));
        tnet_forward_stats(net, p, NULL, 0, st, TNET_NUM_CONV);
    }
    tnet_plan_free(p);
    impasto_image_free(small);
    return s;
}

impasto_status fast_tiled_run(impasto_ctx *ctx, const transformer_net *net, tnet_plan **plan, int *plan_threads,
                              const fast_grid *g, const impasto_fast_options *opt, const impasto_image *src,
                              impasto_image *out) {
    const int threads = ctx_threads(ctx), ntiles = g->ny * g->nx;
    const int estimate = opt->stats == IMPASTO_FAST_STATS_ESTIMATE;
    const int nnorm = TNET_NUM_CONV - 1;  /* every convolution but deconv3 has a norm */
    tile_meter meter;
    tile_meter_start(&meter, opt->progress, opt->progress_user, 1, (estimate ? 1 : nnorm * ntiles) + ntiles);
    tnet_stats *st = malloc(sizeof *st);
    layer_sums *acc = malloc(sizeof *acc);
    if (!st || !acc) {
        free(st);
        free(acc);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    impasto_status s = IMPASTO_OK;
    if (estimate) {
        /* Before the tiles' plan, so the two are never held together. */
        tnet_plan_free(*plan);
        *plan = NULL;
        s = estimate_stats(ctx, net, src, opt, threads, st);
        if (s == IMPASTO_OK) s = tile_meter_tick(ctx, &meter, "statistics");
    }
    if (s == IMPASTO_OK) s = ensure_plan(ctx, plan, plan_threads, g->ch, g->cw, threads);
    /* Exact: norm i's statistics over every tile's interior, with norms 0..i-1 already known. */
    for (int i = 0; !estimate && i < nnorm && s == IMPASTO_OK; i++) {
        memset(acc, 0, sizeof *acc);
        const int oc = tnet_convs()[i].oc;
        int hl, wl;
        tnet_map_size(g->ch, g->cw, i, &hl, &wl);
        for (int t = 0; t < ntiles && s == IMPASTO_OK; t++) {
            fast_rect r;
            rect_of(g, t / g->nx, t % g->nx, &r);
            fill(src, r.cy0, r.cx0, g->ch, g->cw, tnet_plan_input(*plan));
            const float *y = tnet_forward_stats(net, *plan, st, i, NULL, i);  // (oc, hl, wl) before norm i
            int iy0, iy1, ix0, ix1;
            interior(g, &r, i, hl, wl, &iy0, &iy1, &ix0, &ix1);
            sums_add(acc, oc, y, hl, wl, iy0, iy1, ix0, ix1);
            s = tile_meter_tick(ctx, &meter, "statistics");
        }
        if (s == IMPASTO_OK) sums_finish(acc, oc, st, i);
    }
    /* Stylize: every norm with the whole picture's statistics; each tile's interior written. */
    int oh, ow;
    tnet_out_size(g->ch, g->cw, &oh, &ow);
    const size_t onpix = (size_t)oh * (size_t)ow;
    const int cc = src->channels, oc = out->channels, alpha = oc == 4;
    for (int t = 0; t < ntiles && s == IMPASTO_OK; t++) {
        fast_rect r;
        rect_of(g, t / g->nx, t % g->nx, &r);
        fill(src, r.cy0, r.cx0, g->ch, g->cw, tnet_plan_input(*plan));
        const float *y = tnet_forward_stats(net, *plan, st, TNET_NUM_CONV, NULL, TNET_NUM_CONV);  // (3, oh, ow)
        int finite = 1;
        for (int k = 0; k < 3 && finite; k++)
            for (int yy = r.y0; yy < r.y1 && finite; yy++)
                finite = floats_all_finite(y + (size_t)k * onpix + (size_t)(yy - r.cy0) * (size_t)ow + (size_t)(r.x0 - r.cx0),
                                           (size_t)(r.x1 - r.x0));
        if (!finite) {
            s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "fast style transfer: the network's output holds NaN or "
                         "infinite values (its weights overflow on this picture)");
            break;
        }
        for (int yy = r.y0; yy < r.y1; yy++)
            for (int xx = r.x0; xx < r.x1; xx++) {
                const size_t i = (size_t)yy * (size_t)g->w + (size_t)xx;
                float *px = out->data + i * (size_t)oc;
                for (int k = 0; k < 3; k++) {
                    float v = y[(size_t)k * onpix + (size_t)(yy - r.cy0) * (size_t)ow + (size_t)(xx - r.cx0)];
                    v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
                    px[k] = v / 255.0f;
                }
                if (alpha) px[3] = src->data[i * (size_t)cc + (size_t)cc - 1];
            }
        s = tile_meter_tick(ctx, &meter, "stylize");
    }
    free(st);
    free(acc);
    return s;
}
