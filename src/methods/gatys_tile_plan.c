/* Gatys' optimisation at any picture size within a memory budget (issue #20): which tiles, and how
 * long an L-BFGS history, a scale runs with (gatys_tiles_choose), and the tiles' geometry. Running
 * VGG-19 over the tiles is gatys_tile.c's.
 *
 * Memory (gatys_tiles_choose): the optimiser's vectors (L-BFGS: x, g, g_old, d and 2 m history
 * vectors of the picture's size; Adam: x, g and its two moments), the content targets (the whole
 * picture's maps at the content layers), and either the whole picture's VGG plan or one crop's
 * plan and buffers. */
#include "methods/gatys_tile.h"

#include "core/ctx.h"
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- geometry ------------------------------------------------------------------------------ */

/* Receptive field of one position of `layer`: input pixels stride q - a ... stride q + b. A 3x3
 * convolution (padding 1) widens it by one position each way, a 2x2 stride-2 pooling doubles
 * the stride and adds a position at the far end. */
static void receptive_field(int layer, int *a, int *b, int *stride) {
    const vgg19_layer *L = vgg19_layers();
    int s = 1, lo = 0, hi = 0;
    for (int l = 0; l <= layer; l++) {
        if (L[l].kind == VGG_CONV) {
            lo += s;
            hi += s;
        } else if (L[l].kind == VGG_POOL) {
            hi += s;
            s *= 2;
        }
    }
    *a = lo;
    *b = hi;
    *stride = s;
}

static int round_up(int v, int m) { return (v + m - 1) / m * m; }

int gatys_tiles_axis_cut(int n, int t, int o, int merge, int *b) {
    int k = 0;
    b[k++] = 0;
    for (int p = o > 0 ? o : t; p < n; p += t) b[k++] = p;
    b[k++] = n;
    if (k > 2 && b[1] - b[0] < merge) {
        memmove(b + 1, b + 2, (size_t)(k - 2) * sizeof *b);
        k--;
    }
    if (k > 2 && b[k - 1] - b[k - 2] < merge) {
        b[k - 2] = n;
        k--;
    }
    return k - 1;
}

void gatys_tiles_whole_shapes(gatys_tiles *T, int h, int w) {
    const vgg19_layer *L = vgg19_layers();
    int s = 1;
    for (int l = 0; l <= T->last; l++) {
        if (L[l].kind == VGG_POOL) {
            pool_desc d = {L[l].in_c, h, w, 2, 2, 0, 1, POOL_MAX};
            h = pool_out_h(&d);
            w = pool_out_w(&d);
            s *= 2;
        }
        T->lh[l] = h;
        T->lw[l] = w;
        T->stride[l] = s;
    }
}

void gatys_tiles_free(gatys_tiles *T) {
    if (!T) return;
    vgg19_plan_free(T->plan);
    free(T->xc);
    free(T->gc);
    for (int i = 0; i < IMPASTO_MAX_LAYERS; i++) {
        free(T->acc[i]);
        free(T->gmt[i]);
    }
    free(T->gram_f);
    free(T->fm);
    free(T->mt);
    free(T->by);
    free(T->bx);
    free(T);
}

int gatys_tiles_count(const gatys_tiles *T) {
    if (!T) return 1;
    int ny, nx, th, tw;
    gatys_tiles_geometry(T, &th, &tw, &ny, &nx);
    return ny * nx;
}

void gatys_tiles_geometry(const gatys_tiles *T, int *th, int *tw, int *ny, int *nx) {
    const int merge = T->mode == IMPASTO_TILING_RANDOM ? GT_MERGE : 0;
    *th = T->th;
    *tw = T->tw;
    *ny = (T->h + T->th - 1) / T->th;
    *nx = (T->w + T->tw - 1) / T->tw;
    if (*ny > 1 && T->h - (*ny - 1) * T->th < merge) (*ny)--;
    if (*nx > 1 && T->w - (*nx - 1) * T->tw < merge) (*nx)--;
}

/* ---- memory ---------------------------------------------------------------------------------- */

/* Keep flags and deepest layer of a run's plan. */
static int plan_keep(const gatys_run *r, unsigned char *keep) {
    memset(keep, 0, VGG19_NUM_LAYERS);
    int last = 0;
    for (int i = 0; i < r->content.n; i++) keep[r->content.index[i]] = 1;
    for (int i = 0; i < r->style.n; i++) keep[r->style.index[i]] = 1;
    for (int l = 0; l < VGG19_NUM_LAYERS; l++)
        if (keep[l]) last = l;
    return last;
}

/* Bytes of a plan for an h x w input: the plan is made and freed untouched (its buffers are
 * reserved, not yet written), so this costs no memory. SIZE_MAX when it cannot be made. */
static size_t plan_bytes(impasto_ctx *ctx, const gatys_run *r, int h, int w) {
    unsigned char keep[VGG19_NUM_LAYERS];
    const int last = plan_keep(r, keep);
    vgg19_plan *p = NULL;
    pool_kind pooling = r->opt->pooling == IMPASTO_POOL_AVG ? POOL_AVG : POOL_MAX;
    if (vgg19_plan_create(ctx, r->net, h, w, last, pooling, keep, &p) != IMPASTO_OK) return SIZE_MAX;
    size_t b = vgg19_plan_bytes(p);
    vgg19_plan_free(p);
    return b;
}

/* The optimiser's vectors of n floats: L-BFGS x, g, g_old, d, 2 m history (+4 with the line
 * search); Adam x, g, m, v. */
static double optimizer_bytes(const impasto_transfer_options *opt, size_t n, int m) {
    double vecs = opt->optimizer == IMPASTO_OPTIM_ADAM ? 4 : 4 + 2.0 * m + (opt->lbfgs_line_search ? 4 : 0);
    return vecs * (double)n * sizeof(float);
}

/* The content targets: the whole picture's maps at the content layers. */
static double content_bytes(const gatys_run *r, const gatys_tiles *shapes) {
    double b = 0;
    const vgg19_layer *L = vgg19_layers();
    for (int i = 0; i < r->content.n; i++) {
        int l = r->content.index[i];
        b += (double)L[l].out_c * shapes->lh[l] * shapes->lw[l] * sizeof(float);
    }
    return b;
}

/* With a mask, floats of a crop of side (ch, cw)'s buffers: f o m at the style layer of most
 * values into *fm, the regions' weights at the stride-1 interior (at most the crop) into *mt. */
static void mask_crop_floats(const gatys_run *r, int ch, int cw, size_t *fm, size_t *mt) {
    *fm = *mt = 0;
    if (!r->nregions) return;
    int lh[VGG19_NUM_LAYERS], lw[VGG19_NUM_LAYERS], stride[VGG19_NUM_LAYERS];
    gatys_layer_shapes(ch, cw, VGG19_NUM_LAYERS - 1, lh, lw, stride);
    for (int i = 0; i < r->style.n; i++) {
        const int l = r->style.index[i];
        const size_t v = (size_t)vgg19_layers()[l].out_c * lh[l] * lw[l];
        if (v > *fm) *fm = v;
    }
    *mt = (size_t)r->nregions * ch * cw;
}

/* The whole picture's bytes for a mask: each region's weights at each style layer, its targets,
 * its Gram accumulators and G - T. */
static double mask_bytes(const gatys_run *r, const gatys_tiles *shapes) {
    double b = 0;
    for (int i = 0; i < r->style.n && r->nregions; i++) {
        const int l = r->style.index[i];
        const double c = vgg19_layers()[l].out_c;
        b += (double)r->nregions * ((double)shapes->lh[l] * shapes->lw[l] * sizeof(float) + c * c * 16.0);
    }
    return b;
}

/* One crop of side (ch, cw): its plan, the crop and its gradient (and a mask's buffers). */
static double crop_bytes(impasto_ctx *ctx, const gatys_run *r, int ch, int cw) {
    size_t p = plan_bytes(ctx, r, ch, cw), fm, mt;
    if (p == SIZE_MAX) return INFINITY;
    mask_crop_floats(r, ch, cw, &fm, &mt);
    return (double)p + 2.0 * 3 * ch * cw * sizeof(float) + (double)(fm + mt) * sizeof(float) +
           (double)GT_FIXED_BYTES;
}

typedef struct choice {
    int tile;        /* 0: untiled, else the interior side */
    int history;
} choice;

/* The crop side for interior side t on an axis of n pixels. */
static int crop_side(const gatys_tiles *T, int t, int n) {
    int c = t + T->ehl + T->ehr;
    if (T->mode == IMPASTO_TILING_RANDOM) {
        /* its own crops — a tile may take in a thin piece at both ends (axis_cut: less than
         * GT_MERGE each, when the picture holds only three pieces) — and the exact passes over
         * the targets with at least GT_MIN_TILE inside */
        c = t + 2 * GT_MERGE;
        if (c < GT_MIN_TILE + T->ehl + T->ehr) c = GT_MIN_TILE + T->ehl + T->ehr;
    }
    return c < n ? c : n;
}

/* The largest interior side (a multiple of step, >= GT_MIN_TILE) whose crop fits `room` bytes,
 * or 0. The largest side of the picture and the styles bounds the crop. */
static int largest_tile(impasto_ctx *ctx, const gatys_run *r, const gatys_tiles *T, int step, int maxside,
                        double room) {
    int lo = 0, hi = round_up(maxside, step) / step;  /* in steps; lo fits (0 = none) */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2, t = mid * step;
        if (t < GT_MIN_TILE) {
            lo = mid;
            continue;
        }
        int c = crop_side(T, t, maxside);
        if (crop_bytes(ctx, r, c, c) <= room) lo = mid;
        else hi = mid - 1;
    }
    int t = lo * step;
    return t >= GT_MIN_TILE ? t : 0;
}

/* The largest side among the picture and the styles at this scale (gatys.c sets it). */
impasto_status gatys_tiles_choose(impasto_ctx *ctx, gatys_run *r) {
    const impasto_transfer_options *opt = r->opt;
    const int iters = opt->num_scales && opt->scale_iterations[r->scale_index] > 0
                          ? opt->scale_iterations[r->scale_index] : opt->num_iterations;
    int req = opt->lbfgs_history;
    if (iters >= 1 && req > iters) req = iters;  /* lbfgs_minimize never keeps more */
    if (req < 1) req = 1;
    r->history = opt->optimizer == IMPASTO_OPTIM_ADAM ? 0 : req;
    r->tiles = NULL;
    if (opt->tile == 0 || (opt->tile < 0 && opt->memory_mb <= 0)) return IMPASTO_OK;

    gatys_tiles *T = calloc(1, sizeof *T);
    if (!T) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    T->mode = opt->tiling;
    unsigned char keep[VGG19_NUM_LAYERS];
    T->last = plan_keep(r, keep);
    int a, b, s;
    receptive_field(T->last, &a, &b, &s);
    T->align = s;
    T->ehl = round_up(a, s);
    T->ehr = round_up(b - s + 1, s);
    if (T->mode == IMPASTO_TILING_EXACT) {
        T->hl = T->ehl;
        T->hr = T->ehr;
    }
    T->h = r->h;
    T->w = r->w;
    gatys_tiles_whole_shapes(T, r->h, r->w);
    const int step = s > 16 ? s : 16;
    const int maxside = r->max_side > r->h && r->max_side > r->w ? r->max_side : r->h > r->w ? r->h : r->w;
    const size_t n = (size_t)3 * r->h * r->w;
    choice c = {0, r->history};

    if (opt->tile > 0) {
        c.tile = round_up(opt->tile, step);
    } else {
        const double budget = (double)opt->memory_mb * 1048576.0;
        const double content = content_bytes(r, T) + mask_bytes(r, T);
        int found = 0;
        int m = r->history;
        for (;;) {
            const double fixed = optimizer_bytes(opt, n, m) + content;
            /* untiled: the whole picture's plan and the TV gradient */
            size_t whole = plan_bytes(ctx, r, r->h, r->w);
            if (whole != SIZE_MAX && fixed + (double)whole + (double)n * sizeof(float) + GT_FIXED_BYTES <= budget) {
                c.tile = 0;
                found = 1;
                break;
            }
            const int last_try = opt->optimizer == IMPASTO_OPTIM_ADAM || m <= GT_MIN_HISTORY;
            int t = budget > fixed ? largest_tile(ctx, r, T, step, maxside, budget - fixed) : 0;
            if (t && (t >= GT_GOOD_TILE || t >= maxside || last_try)) {
                c.tile = t;
                found = 1;
                break;
            }
            if (last_try) break;
            m = m / 2 > GT_MIN_HISTORY ? m / 2 : GT_MIN_HISTORY;
        }
        if (!found) {
            /* The least budget: the shortest history with the smallest tile; and Adam's. */
            const int cmin = crop_side(T, GT_MIN_TILE, maxside);
            double tile_min = crop_bytes(ctx, r, cmin, cmin);
            /* on a small picture the whole picture's plan may take less than the smallest crop's */
            size_t whole = plan_bytes(ctx, r, r->h, r->w);
            if (whole != SIZE_MAX && (double)whole + (double)n * sizeof(float) + GT_FIXED_BYTES < tile_min)
                tile_min = (double)whole + (double)n * sizeof(float) + GT_FIXED_BYTES;
            const double fixed = content_bytes(r, T) + mask_bytes(r, T);
            const double need = optimizer_bytes(opt, n, m) + fixed + tile_min;
            impasto_transfer_options adam = *opt;
            adam.optimizer = IMPASTO_OPTIM_ADAM;
            const double need_adam = optimizer_bytes(&adam, n, 0) + fixed + tile_min;
            gatys_tiles_free(T);
            if (opt->optimizer == IMPASTO_OPTIM_ADAM)
                return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "a memory budget of %d MB is too small for a %dx%d "
                                "transfer: it needs at least %.0f MB", opt->memory_mb, r->w, r->h,
                                ceil(need / 1048576.0));
            return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "a memory budget of %d MB is too small for a %dx%d "
                            "transfer: it needs at least %.0f MB (L-BFGS with a history of %d), or %.0f MB with "
                            "Adam", opt->memory_mb, r->w, r->h, ceil(need / 1048576.0), m,
                            ceil(need_adam / 1048576.0));
        }
        c.history = opt->optimizer == IMPASTO_OPTIM_ADAM ? 0 : m;
    }
    r->history = c.history;
    if (c.tile == 0 || (c.tile >= r->h && c.tile >= r->w && T->mode == IMPASTO_TILING_EXACT)) {
        gatys_tiles_free(T);
        return IMPASTO_OK;
    }
    if (opt->normalize_gradients) {
        gatys_tiles_free(T);
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "normalized gradients need the whole picture's gradient "
                        "norms: they are not available when the picture is tiled (%dx%d)", r->w, r->h);
    }
    T->th = T->tw = c.tile;
    T->max_ch = T->max_cw = crop_side(T, c.tile, maxside);
    /* the exact passes' interiors: what the crop holds besides the exact halos */
    T->eth = T->mode == IMPASTO_TILING_EXACT ? c.tile : (T->max_ch - T->ehl - T->ehr) / step * step;
    if (T->eth < step) T->eth = step;
    T->rng = opt->seed >= 0 ? (uint64_t)opt->seed * 0x9E3779B97F4A7C15ull + 1 : 0x2545F4914F6CDD1Dull;
    pool_kind pooling = opt->pooling == IMPASTO_POOL_AVG ? POOL_AVG : POOL_MAX;
    impasto_status st = vgg19_plan_create(ctx, r->net, T->max_ch, T->max_cw, T->last, pooling, keep, &T->plan);
    const size_t crop = (size_t)3 * T->max_ch * T->max_cw;
    size_t gram = 1;
    for (int i = 0; i < r->style.n; i++) {
        size_t ch = (size_t)vgg19_layers()[r->style.index[i]].out_c;
        if (ch * ch > gram) gram = ch * ch;
    }
    if (st == IMPASTO_OK) {
        T->xc = malloc(crop * sizeof(float));
        T->gc = malloc(crop * sizeof(float));
        T->gram_f = malloc(gram * sizeof(float));
        T->by = malloc((size_t)(maxside / 16 + 4) * sizeof(int));
        T->bx = malloc((size_t)(maxside / 16 + 4) * sizeof(int));
        int ok = T->xc && T->gc && T->gram_f && T->by && T->bx;
        const size_t nr = (size_t)(r->nregions ? r->nregions : 1);
        for (int i = 0; i < r->style.n && ok; i++) {
            size_t ch = (size_t)vgg19_layers()[r->style.index[i]].out_c;
            ok = (T->acc[i] = malloc(nr * ch * ch * sizeof(double))) &&
                 (T->gmt[i] = malloc(nr * ch * ch * sizeof(float)));
        }
        if (ok && r->nregions) {
            size_t fm, mt;
            mask_crop_floats(r, T->max_ch, T->max_cw, &fm, &mt);
            ok = (T->fm = malloc(fm * sizeof(float))) && (T->mt = malloc(mt * sizeof(float)));
        }
        if (!ok) st = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (tiles of %d)", c.tile);
    }
    if (st != IMPASTO_OK) {
        gatys_tiles_free(T);
        return st;
    }
    r->tiles = T;
    return IMPASTO_OK;
}
