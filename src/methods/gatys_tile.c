/* Gatys' optimisation at any picture size within a memory budget (issue #20): VGG-19 runs tile
 * by tile, and the optimiser's own vectors are counted in the budget.
 *
 * Exact tiling (the default). The loss of neural-style is a function of the whole picture's
 * features: content (MSE over every position of relu4_2) and style (the Gram matrix G = F F^T /
 * (C H W) of each style layer, a sum over positions). With tile interiors that partition the
 * picture on a grid of multiples of 2^k (k = the poolings before the deepest layer used), the
 * feature positions of every layer partition the same way, so
 *   - pass 1 runs each tile's crop forward and adds the Gram of its interior's features: the
 *     whole picture's G, in double;
 *   - pass 2 runs each crop forward again, puts dL/dF = coef (G - T) F (and the content term) at
 *     the interior's positions only, zero elsewhere, runs it backward, and ADDS the crop's whole
 *     input gradient (interior and halo) into the picture's gradient.
 * The sum over tiles of J_crop^T (dL/dF on the interior) is the whole picture's gradient as long as
 * every interior feature is computed exactly by the crop, i.e. its receptive field lies in the crop
 * (or beyond the picture's own border, where the crop's border is the picture's and VGG pads the
 * same way). So the halo is the receptive field of the deepest layer used, once — relu5_1 reads
 * pixels 70 before to 85 after its 16 x 16 block (conv1_1 .. conv5_1, four 2x2 poolings): 80 px
 * each side rounded to the grid of 16 — not twice that. Crop origins fall on multiples of 2^k, so
 * every pooling sees the windows it sees on the whole picture. The result equals the untiled
 * gradient up to float rounding (tests/test_gatys_tile.c).
 *
 * Random tiling (after crowsonkb/style_transfer's jitter): no halo and one pass; each evaluation
 * cuts the picture at a random offset, and each tile is its own small picture: its style loss is
 * its own Gram matrix against the target (weighted by its share of the picture) and its features
 * near the tile edge see zero padding instead of their neighbours. The seams move every
 * evaluation, so they do not settle, but the objective is not the untiled one (README measures
 * the difference).
 *
 * Memory (gatys_tiles_choose): the optimiser's vectors (L-BFGS: x, g, g_old, d and 2 m history
 * vectors of the picture's size; Adam: x, g and its two moments), the content targets (the whole
 * picture's maps at the content layers), and either the whole picture's VGG plan or one crop's
 * plan and buffers. */
#include "methods/gatys.h"

#include "core/clock.h"
#include "core/ctx.h"
#include "core/gemm.h"
#include "core/rng.h"
#include "loss/loss.h"
#include "nn/nn.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GT_MIN_TILE 32           /* the smallest interior side tried */
#define GT_GOOD_TILE 512         /* the history is shortened before tiles get smaller than this */
#define GT_MIN_HISTORY 5         /* ... but never below this */
#define GT_MERGE 32              /* random tiling: an edge piece thinner than this joins its neighbour */
#define GT_FIXED_BYTES ((size_t)24 << 20)  /* Grams, their accumulators, descriptors */

struct gatys_tiles {
    impasto_tiling mode;
    int align;                       /* 2^k: tile interiors and crop origins are multiples of it */
    int h, w;                        /* the picture */
    int hl, hr;                      /* halo before / after an interior, pixels (0: random) */
    int ehl, ehr;                    /* the exact halos (the targets are always computed exactly) */
    int th, tw;                      /* interior side */
    int eth;                         /* interior side of the exact passes over targets (th when exact) */
    int max_ch, max_cw;              /* the largest crop the plan takes */
    int last;                        /* deepest layer run */
    vgg19_plan *plan;
    float *xc, *gc;                  /* (3, max_ch, max_cw): a crop and its input gradient */
    double *acc[IMPASTO_MAX_LAYERS]; /* (R, C, C) pass 1's Gram accumulators, per style layer and
                                        region (R = 1 without a mask) */
    float *gmt[IMPASTO_MAX_LAYERS];  /* (R, C, C) G - T of the current evaluation, per style layer */
    float *gram_f;                   /* (C, C) scratch */
    float *fm;                       /* with a mask: (C, core) f o m of the widest interior map */
    float *mt;                       /* with a mask: (R, core) the regions' weights at an interior */
    int *by, *bx;                    /* the current cut: boundaries along y and x */
    int nby, nbx;                    /* pieces along y and x (boundaries: one more) */
    int stride[VGG19_NUM_LAYERS];    /* pixels per position at each layer */
    int lh[VGG19_NUM_LAYERS], lw[VGG19_NUM_LAYERS];  /* the whole picture's layer shapes */
    uint64_t rng;
    int runs;                        /* tile runs in the current evaluation */
};

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

/* The cut of an axis of n pixels at o, o + t, o + 2t, ... (0 <= o < t), edge pieces thinner
 * than `merge` joined to their neighbour: boundaries into b (room for n / t + 3), returns pieces. */
static int axis_cut(int n, int t, int o, int merge, int *b) {
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

/* The whole picture's shape at each layer, as the plan would give it. */
static void whole_shapes(gatys_tiles *T, int h, int w) {
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
    whole_shapes(T, r->h, r->w);
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

/* ---- running tiles ----------------------------------------------------------------------------- */

typedef struct tile_rect {
    int y0, y1, x0, x1;      /* interior */
    int cy0, cy1, cx0, cx1;  /* crop */
} tile_rect;

/* Tile (i, j) of the current cut of an h x w picture, with halos hl before and hr after. */
static void rect_at(const gatys_tiles *T, int h, int w, int i, int j, int hl, int hr, tile_rect *q) {
    q->y0 = T->by[i];
    q->y1 = T->by[i + 1];
    q->x0 = T->bx[j];
    q->x1 = T->bx[j + 1];
    q->cy0 = q->y0 - hl > 0 ? q->y0 - hl : 0;
    q->cx0 = q->x0 - hl > 0 ? q->x0 - hl : 0;
    q->cy1 = q->y1 + hr < h ? q->y1 + hr : h;
    q->cx1 = q->x1 + hr < w ? q->x1 + hr : w;
}

/* Cuts an h x w picture into interiors of side t: at offset 0, or (random) at a random offset on
 * the grid with thin edge pieces merged. */
static void cut(gatys_tiles *T, int h, int w, int t, int random) {
    int oy = 0, ox = 0;
    if (random) {
        oy = (int)(rng_next(&T->rng) % (uint64_t)(t / T->align)) * T->align;
        ox = (int)(rng_next(&T->rng) % (uint64_t)(t / T->align)) * T->align;
    }
    const int merge = random ? GT_MERGE : 0;
    T->nby = axis_cut(h, t, oy, merge, T->by);
    T->nbx = axis_cut(w, t, ox, merge, T->bx);
}

/* Every tile of an h x w picture x cut exactly (interiors eth, exact halos), through gather_tile;
 * 0 when a crop did not fit the plan (out of memory growing its workspace). */
static int gather_exact(gatys_tiles *T, const gatys_run *r, const float *x, int h, int w, int grams,
                        float **content, int guided);

/* Copies the crop of x (3, h, w) and runs it forward. The plan was made for the largest crop
 * (gatys_tiles_choose), so every crop fits it. */
static int run_forward(gatys_tiles *T, const vgg19 *net, const float *x, int h, int w, const tile_rect *q) {
    const int ch = q->cy1 - q->cy0, cw = q->cx1 - q->cx0;
    if (ch > T->max_ch || cw > T->max_cw) return 0;  /* never: the buffers hold the largest crop */
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < ch; y++)
            memcpy(T->xc + ((size_t)c * ch + y) * cw, x + ((size_t)c * h + q->cy0 + y) * w + q->cx0,
                   (size_t)cw * sizeof(float));
    if (!vgg19_plan_set_input(T->plan, ch, cw)) return 0;
    vgg19_forward(net, T->plan, T->xc);
    return 1;
}

/* The interior's positions at `layer` in the crop's map (fh x fw): rows [*r0, *r1), cols [*c0, *c1). */
static void core_of(const gatys_tiles *T, int layer, int h, int w, const tile_rect *q, int fh, int fw, int *r0,
                    int *r1, int *c0, int *c1) {
    const int s = T->stride[layer];
    *r0 = (q->y0 - q->cy0) / s;
    *r1 = q->y1 == h ? fh : (q->y1 - q->cy0) / s;
    *c0 = (q->x0 - q->cx0) / s;
    *c1 = q->x1 == w ? fw : (q->x1 - q->cx0) / s;
}

/* feat (C, fh, fw) rows r0..r1, cols c0..c1 -> dst (C, (r1-r0)(c1-c0)). */
static void copy_core(int c, int fh, int fw, const float *feat, int r0, int r1, int c0, int c1, float *dst) {
    const size_t cw = (size_t)(c1 - c0), chw = (size_t)(r1 - r0) * cw;
#pragma omp parallel for if ((size_t)c * chw > 65536)
    for (int k = 0; k < c; k++)
        for (int y = r0; y < r1; y++)
            memcpy(dst + (size_t)k * chw + (size_t)(y - r0) * cw, feat + ((size_t)k * fh + y) * fw + c0,
                   cw * sizeof(float));
}

/* The regions' weights at the interior rows r0..r1, cols c0..c1 of a crop's map at `layer`
 * (style layer si) -> T->mt (R, core), from the whole picture's r->region_mask[si]. */
static void copy_mask(gatys_tiles *T, const gatys_run *r, int si, int layer, const tile_rect *q, int r0, int r1,
                      int c0, int c1) {
    const int s = T->stride[layer], gy = q->cy0 / s + r0, gx = q->cx0 / s + c0;
    const size_t cw = (size_t)(c1 - c0), core = (size_t)(r1 - r0) * cw;
    const size_t plane = (size_t)T->lh[layer] * T->lw[layer];
    for (int k = 0; k < r->nregions; k++)
        for (int y = 0; y < r1 - r0; y++)
            memcpy(T->mt + (size_t)k * core + (size_t)y * cw,
                   r->region_mask[si] + (size_t)k * plane + (size_t)(gy + y) * T->lw[layer] + gx, cw * sizeof(float));
}

/* One tile's forward for the Gram matrices of its interior: added into T->acc (whole-picture
 * normalisation hw_total at each layer; `guided`: each region's guided Gram, normalised by the
 * whole picture's mass of the region); with `content`, its interior's features are copied into
 * the whole-picture maps content[i]. */
static int gather_tile(gatys_tiles *T, const gatys_run *r, const float *x, int h, int w, const tile_rect *q,
                       int grams, float **content, int guided) {
    if (!run_forward(T, r->net, x, h, w, q)) return 0;
    float *S = vgg19_plan_scratch(T->plan, NULL);
    for (int l = 0; l <= T->last; l++) {
        const int si = grams ? r->style_at[l] : -1, ci = content ? r->content_at[l] : -1;
        if (si < 0 && ci < 0) continue;
        int c, fh, fw, r0, r1, c0, c1;
        float *feat = vgg19_plan_output(T->plan, l, &c, &fh, &fw);
        core_of(T, l, h, w, q, fh, fw, &r0, &r1, &c0, &c1);
        const size_t core = (size_t)(r1 - r0) * (size_t)(c1 - c0);
        if (core == 0) continue;
        if (ci >= 0) {
            /* into the whole map (C, lh, lw) at the interior's global position */
            const int s = T->stride[l], gy = q->cy0 / s + r0, gx = q->cx0 / s + c0;
            for (int k = 0; k < c; k++)
                for (int y = r0; y < r1; y++)
                    memcpy(content[ci] + ((size_t)k * T->lh[l] + gy + y - r0) * T->lw[l] + gx,
                           feat + ((size_t)k * fh + y) * fw + c0, (size_t)(c1 - c0) * sizeof(float));
        }
        if (si >= 0 && guided) {
            copy_core(c, fh, fw, feat, r0, r1, c0, c1, S);
            copy_mask(T, r, si, l, q, r0, r1, c0, c1);
            const size_t cc = (size_t)c * c;
            for (int k = 0; k < r->nregions; k++) {
                const double mass = r->region_mass[si][k];
                if (!(mass > 0)) continue;
                guided_gram(c, core, S, T->mt + (size_t)k * core, 1.0 / ((double)c * mass), T->fm, T->gram_f);
                double *acc = T->acc[si] + (size_t)k * cc;
                for (size_t e = 0; e < cc; e++) acc[e] += T->gram_f[e];
            }
        } else if (si >= 0) {
            copy_core(c, fh, fw, feat, r0, r1, c0, c1, S);
            const double hw = (double)T->lh[l] * T->lw[l];
            gemm(0, 1, (size_t)c, (size_t)c, core, (float)(1.0 / ((double)c * hw)), S, core, S, core, 0.0f,
                 T->gram_f, (size_t)c);
            double *acc = T->acc[si];
            const size_t cc = (size_t)c * c;
            for (size_t k = 0; k < cc; k++) acc[k] += T->gram_f[k];
        }
    }
    return 1;
}

static void acc_zero(gatys_tiles *T, const gatys_run *r) {
    const size_t nr = (size_t)(r->nregions ? r->nregions : 1);
    for (int i = 0; i < r->style.n; i++) {
        size_t ch = (size_t)vgg19_layers()[r->style.index[i]].out_c;
        memset(T->acc[i], 0, nr * ch * ch * sizeof(double));
    }
}

static int gather_exact(gatys_tiles *T, const gatys_run *r, const float *x, int h, int w, int grams,
                        float **content, int guided) {
    cut(T, h, w, T->eth, 0);
    for (int i = 0; i < T->nby; i++)
        for (int j = 0; j < T->nbx; j++) {
            tile_rect q;
            rect_at(T, h, w, i, j, T->ehl, T->ehr, &q);
            if (!gather_tile(T, r, x, h, w, &q, grams, content, guided)) return 0;
        }
    return 1;
}

impasto_status gatys_tiles_content(impasto_ctx *ctx, gatys_run *r, const float *x) {
    gatys_tiles *T = r->tiles;
    for (int i = 0; i < r->content.n; i++) {
        const int l = r->content.index[i];
        const size_t len = (size_t)vgg19_layers()[l].out_c * T->lh[l] * T->lw[l];
        if (!(r->content_target[i] = malloc(len * sizeof(float))))
            return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (content targets of %dx%d)", r->w, r->h);
    }
    if (!gather_exact(T, r, x, r->h, r->w, 0, r->content_target, 0))
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (tiles of %dx%d)", r->w, r->h);
    return IMPASTO_OK;
}

impasto_status gatys_tiles_style(impasto_ctx *ctx, gatys_run *r, const float *x, int h, int w, double blend,
                                 float **targets) {
    gatys_tiles *T = r->tiles;
    for (int i = 0; i < r->style.n; i++) {
        size_t ch = (size_t)vgg19_layers()[r->style.index[i]].out_c;
        if (!targets[i] && !(targets[i] = calloc(ch * ch, sizeof(float))))
            return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    /* The style's own shapes for the Gram normalisation; the picture's are put back after. The
     * painting's whole Gram (the first region's slot of T->acc), unguided. */
    whole_shapes(T, h, w);
    acc_zero(T, r);
    int ok = gather_exact(T, r, x, h, w, 1, NULL, 0);
    whole_shapes(T, r->h, r->w);
    if (!ok) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (tiles of a %dx%d style image)", w, h);
    for (int i = 0; i < r->style.n; i++) {
        size_t ch = (size_t)vgg19_layers()[r->style.index[i]].out_c;
        for (size_t k = 0; k < ch * ch; k++) targets[i][k] += (float)(blend * T->acc[i][k]);
    }
    whole_shapes(T, r->h, r->w);
    return IMPASTO_OK;
}

/* Tells the progress callback that a tile run finished; non-zero when it cancels. */
static int tile_tick(gatys_run *r, int total) {
    gatys_tiles *T = r->tiles;
    T->runs++;
    const impasto_transfer_options *opt = r->opt;
    if (!opt->progress) return 0;
    impasto_progress p = {0};
    p.scale_index = r->scale_index;
    p.num_scales = r->num_scales;
    p.width = r->w;
    p.height = r->h;
    p.iteration = r->iteration;
    p.loss = r->last_content + r->last_style + r->last_tv;
    p.content_loss = r->last_content;
    p.style_loss = r->last_style;
    p.tv_loss = r->last_tv;
    p.num_tiles = gatys_tiles_count(T);
    p.lbfgs_history = r->history;
    p.num_iterations = opt->num_scales && opt->scale_iterations[r->scale_index] > 0
                           ? opt->scale_iterations[r->scale_index] : opt->num_iterations;
    p.tile_done = T->runs;
    p.tile_runs = total;
    p.seconds = clock_seconds() - r->t0;
    return opt->progress(&p, opt->progress_user);
}

int gatys_tiles_evaluate(void *user, const float *x, float *g, size_t n, double *f) {
    gatys_run *r = user;
    gatys_tiles *T = r->tiles;
    const impasto_transfer_options *opt = r->opt;
    const int h = r->h, w = r->w, exact = T->mode == IMPASTO_TILING_EXACT;
    T->runs = 0;

    double tv = 0;
    if (opt->tv_weight > 0) tv = tv_loss(3, h, w, x, opt->tv_weight, g);
    else memset(g, 0, n * sizeof *g);

    cut(T, h, w, T->th, !exact);
    const int ntiles = T->nby * T->nbx, total = exact ? 2 * ntiles : ntiles;
    double style = 0, content = 0;
    if (exact) {
        /* pass 1: the whole picture's Gram matrices, then G - T and the style loss */
        acc_zero(T, r);
        for (int i = 0; i < T->nby; i++)
            for (int j = 0; j < T->nbx; j++) {
                tile_rect q;
                rect_at(T, h, w, i, j, T->hl, T->hr, &q);
                if (!gather_tile(T, r, x, h, w, &q, 1, NULL, r->nregions > 0)) return GATYS_NO_MEMORY;
                if (tile_tick(r, total)) return GATYS_CANCELLED;
            }
        for (int i = 0; i < r->style.n; i++) {
            const int l = r->style.index[i];
            const size_t c = (size_t)vgg19_layers()[l].out_c, cc = c * c;
            if (r->nregions) {
                /* each region's term weighted by its share of the positions (loss/guided.c) */
                const double npos = (double)T->lh[l] * T->lw[l];
                for (int k = 0; k < r->nregions; k++) {
                    const double mass = r->region_mass[i][k];
                    const double *a = T->acc[i] + (size_t)k * cc;
                    const float *t = r->region_target[i] + (size_t)k * cc;
                    float *e = T->gmt[i] + (size_t)k * cc;
                    double sum = 0;
                    for (size_t j = 0; j < cc; j++) {
                        double d = mass > 0 ? a[j] - (double)t[j] : 0.0;
                        e[j] = (float)d;
                        sum += d * d;
                    }
                    style += r->style_layer_weight[i] * (mass / npos) * sum / (double)cc;
                }
                continue;
            }
            double sum = 0;
            for (size_t k = 0; k < cc; k++) {
                double d = T->acc[i][k] - (double)r->style_target[i][k];
                T->gmt[i][k] = (float)d;
                sum += d * d;
            }
            style += r->style_layer_weight[i] * sum / (double)cc;
        }
    }

    /* pass 2 (random: the only one): each tile's loss gradient at its interior, backward, added */
    const float *grad_at[VGG19_NUM_LAYERS];
    for (int i = 0; i < T->nby; i++)
        for (int j = 0; j < T->nbx; j++) {
            tile_rect q;
            rect_at(T, h, w, i, j, T->hl, T->hr, &q);
            if (!run_forward(T, r->net, x, h, w, &q)) return GATYS_NO_MEMORY;
            memset(grad_at, 0, sizeof grad_at);
            float *S = vgg19_plan_scratch(T->plan, NULL), *D = vgg19_plan_scratch2(T->plan);
            for (int l = 0; l <= T->last; l++) {
                const int si = r->style_at[l], ci = r->content_at[l];
                if (si < 0 && ci < 0) continue;
                int c, fh, fw, r0, r1, c0, c1;
                float *feat = vgg19_plan_output(T->plan, l, &c, &fh, &fw);
                core_of(T, l, h, w, &q, fh, fw, &r0, &r1, &c0, &c1);
                const size_t core = (size_t)(r1 - r0) * (size_t)(c1 - c0), len = (size_t)c * core;
                const double hw = (double)T->lh[l] * T->lw[l];
                copy_core(c, fh, fw, feat, r0, r1, c0, c1, S);  /* S (C, core) */
                if (si >= 0 && r->nregions) {
                    const double wt = r->style_layer_weight[si], cc = (double)c * c;
                    copy_mask(T, r, si, l, &q, r0, r1, c0, c1);
                    if (!exact) {
                        /* each region's Gram over this tile alone, against its target, weighted by
                         * the tile's share of the region (the unguided random tiling's, per region) */
                        for (int k = 0; k < r->nregions; k++) {
                            const float *mk = T->mt + (size_t)k * core;
                            float *e = T->gmt[si] + (size_t)k * c * c;
                            double mass = 0, sum = 0;
                            for (size_t p = 0; p < core; p++) mass += (double)mk[p] * mk[p];
                            if (!(mass > 0)) {
                                memset(e, 0, (size_t)c * c * sizeof *e);
                                continue;
                            }
                            guided_gram(c, core, S, mk, 1.0 / ((double)c * mass), T->fm, e);
                            const float *t = r->region_target[si] + (size_t)k * c * c;
                            for (size_t u = 0; u < (size_t)c * c; u++) {
                                double d = (double)e[u] - (double)t[u];
                                e[u] = (float)d;
                                sum += d * d;
                            }
                            style += wt * (mass / hw) * sum / cc;
                        }
                    }
                    /* dL/dF = 4 w / (C^3 N) sum_r (G_r - T_r)(F o m_r^2) (loss/guided.c) */
                    guided_style_grad(c, core, S, r->nregions, T->mt, T->gmt[si], wt * 4.0 / (cc * c * hw), T->fm, D);
                } else if (si >= 0) {
                    const float *gm = T->gmt[si];
                    const double wt = r->style_layer_weight[si], cc = (double)c * c;
                    if (!exact) {
                        /* this tile's own Gram against the target, weighted by its share */
                        gemm(0, 1, (size_t)c, (size_t)c, core, (float)(1.0 / ((double)c * (double)core)), S, core, S,
                             core, 0.0f, T->gram_f, (size_t)c);
                        double sum = 0;
                        for (size_t k = 0; k < (size_t)c * c; k++) {
                            double d = (double)T->gram_f[k] - (double)r->style_target[si][k];
                            T->gram_f[k] = (float)d;
                            sum += d * d;
                        }
                        style += wt * sum / cc * ((double)core / hw);
                        gm = T->gram_f;
                    }
                    /* dL/dF = w (2 / C^2) (2 / (C HW)) (G - T) F (style.c), HW the whole picture's */
                    const double coef = wt * (2.0 / cc) * (2.0 / ((double)c * hw));
                    gemm(0, 0, (size_t)c, core, (size_t)c, (float)coef, gm, (size_t)c, S, core, 0.0f, D, core);
                } else {
                    memset(D, 0, len * sizeof *D);
                }
                if (ci >= 0) {
                    /* content: weight * mean (F - target)^2 over the whole map; gradient 2 w / n (F - t) */
                    const int s = T->stride[l], gy = q.cy0 / s + r0, gx = q.cx0 / s + c0;
                    const size_t cw = (size_t)(c1 - c0);
                    const double nall = (double)c * hw, gs = r->content_layer_weight * 2.0 / nall;
                    const float *tgt = r->content_target[ci];
                    double sum = 0;
#pragma omp parallel for reduction(+ : sum) if (len > 65536)
                    for (int k = 0; k < c; k++)
                        for (int y = 0; y < r1 - r0; y++) {
                            const float *tr = tgt + ((size_t)k * T->lh[l] + gy + y) * T->lw[l] + gx;
                            const float *sr = S + (size_t)k * core + (size_t)y * cw;
                            float *dr = D + (size_t)k * core + (size_t)y * cw;
                            for (size_t xx = 0; xx < cw; xx++) {
                                double d = (double)sr[xx] - (double)tr[xx];
                                sum += d * d;
                                dr[xx] += (float)(gs * d);
                            }
                        }
                    content += r->content_layer_weight * sum / nall;
                }
                /* the gradient over the layer's output: D at the interior, zero in the halo */
                const size_t cw = (size_t)(c1 - c0);
                memset(feat, 0, (size_t)c * fh * fw * sizeof *feat);
                for (int k = 0; k < c; k++)
                    for (int y = r0; y < r1; y++)
                        memcpy(feat + ((size_t)k * fh + y) * fw + c0, D + (size_t)k * core + (size_t)(y - r0) * cw,
                               cw * sizeof(float));
                grad_at[l] = feat;
            }
            vgg19_backward(r->net, T->plan, grad_at, T->gc);
            /* the crop's whole input gradient (interior and halo) into the picture's */
            const int ch = q.cy1 - q.cy0, cwid = q.cx1 - q.cx0;
            for (int k = 0; k < 3; k++)
                for (int y = 0; y < ch; y++) {
                    float *gr = g + ((size_t)k * h + q.cy0 + y) * w + q.cx0;
                    const float *cr = T->gc + ((size_t)k * ch + y) * cwid;
#pragma omp simd
                    for (int xx = 0; xx < cwid; xx++) gr[xx] += cr[xx];
                }
            if (tile_tick(r, total)) return GATYS_CANCELLED;
        }
    r->last_content = content;
    r->last_style = style;
    r->last_tv = tv;
    *f = content + style + tv;
    if (!isfinite(*f)) return GATYS_NOT_FINITE;
    return 0;
}
