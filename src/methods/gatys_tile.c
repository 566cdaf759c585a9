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
 * evaluation, so they do not settle, but the objective is not the untiled one (docs/print-size.md
 * measures the difference: with 128-pixel tiles, pictures three to four times further from the
 * optimum than the exact tiling's). */
#include "methods/gatys_tile.h"

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
    T->nby = gatys_tiles_axis_cut(h, t, oy, merge, T->by);
    T->nbx = gatys_tiles_axis_cut(w, t, ox, merge, T->bx);
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
    gatys_tiles_whole_shapes(T, h, w);
    acc_zero(T, r);
    int ok = gather_exact(T, r, x, h, w, 1, NULL, 0);
    gatys_tiles_whole_shapes(T, r->h, r->w);
    if (!ok) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (tiles of a %dx%d style image)", w, h);
    for (int i = 0; i < r->style.n; i++) {
        size_t ch = (size_t)vgg19_layers()[r->style.index[i]].out_c;
        for (size_t k = 0; k < ch * ch; k++) targets[i][k] += (float)(blend * T->acc[i][k]);
    }
    gatys_tiles_whole_shapes(T, r->h, r->w);
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
