/* Spatial control for Gatys' optimisation (impasto_transfer_options.mask / .style_masks): the
 * guidance channels of Gatys et al. 2017 ("Controlling Perceptual Factors in Neural Style
 * Transfer", section 4.1) at each style layer, for the guided Gram matrices of loss/guided.c.
 *
 * A region's weight at the picture's pixels is 1 inside it and 0 outside (a mask of gray levels,
 * one region per level as adain's mask: methods/mask.c), or the gray value of the region's own
 * soft mask. The paper propagates these channels to each layer either by simply downsampling them
 * to the layer's size or, more strictly, by keeping only the positions whose receptive field lies
 * inside the region; this does the first, by area averaging: a position at stride s stands for the
 * s x s pixels pooled into it (clipped at the picture's edge, as the ceil-mode poolings do) and
 * takes their mean weight, so positions on a region's border get fractional weights in both
 * regions. */
#include "methods/gatys.h"

#include "core/ctx.h"
#include "core/image.h"
#include "methods/mask.h"
#include "nn/nn.h"

#include <stdlib.h>
#include <string.h>

void gatys_layer_shapes(int h, int w, int last, int *lh, int *lw, int *stride) {
    const vgg19_layer *L = vgg19_layers();
    int s = 1;
    for (int l = 0; l <= last; l++) {
        if (L[l].kind == VGG_POOL) {
            pool_desc d = {L[l].in_c, h, w, 2, 2, 0, 1, POOL_MAX};
            h = pool_out_h(&d);
            w = pool_out_w(&d);
            s *= 2;
        }
        lh[l] = h;
        lw[l] = w;
        stride[l] = s;
    }
}

/* full (h, w) -> out (lh, lw): the mean over each position's s x s block. */
static void area_average(const float *full, int h, int w, int s, int lh, int lw, float *out) {
#pragma omp parallel for if ((size_t)h * w > 65536)
    for (int y = 0; y < lh; y++) {
        const int y0 = y * s, y1 = y0 + s < h ? y0 + s : h;
        for (int x = 0; x < lw; x++) {
            const int x0 = x * s, x1 = x0 + s < w ? x0 + s : w;
            double sum = 0;
            for (int py = y0; py < y1; py++)
                for (int px = x0; px < x1; px++) sum += full[(size_t)py * w + px];
            const int cnt = (y1 - y0) * (x1 - x0);
            out[(size_t)y * lw + x] = cnt > 0 ? (float)(sum / cnt) : 0.0f;
        }
    }
}

/* Region k's weights at the picture's pixels, (h, w), from its soft mask: the gray value (RGB
 * averaged, alpha ignored), the mask stretched over the picture. */
static impasto_status soft_weights(impasto_ctx *ctx, const impasto_image *m, int h, int w, float *full) {
    impasto_image *sm = NULL;
    impasto_status s = impasto_image_resize(ctx, m, w, h, &sm);
    if (s != IMPASTO_OK) return s;
    const int ch = sm->channels;
    const size_t n = (size_t)h * w;
    for (size_t i = 0; i < n; i++) {
        const float *p = sm->data + i * (size_t)ch;
        float v = ch >= 3 ? (p[0] + p[1] + p[2]) / 3.0f : p[0];
        full[i] = v < 0 ? 0.0f : v > 1 ? 1.0f : v;
    }
    impasto_image_free(sm);
    return IMPASTO_OK;
}

impasto_status gatys_mask_build(impasto_ctx *ctx, gatys_run *r) {
    const impasto_transfer_options *opt = r->opt;
    const int R = r->nregions, h = r->h, w = r->w;
    if (R == 0) return IMPASTO_OK;
    int lh[VGG19_NUM_LAYERS], lw[VGG19_NUM_LAYERS], stride[VGG19_NUM_LAYERS];
    gatys_layer_shapes(h, w, VGG19_NUM_LAYERS - 1, lh, lw, stride);
    const size_t npix = (size_t)h * w;
    int *region = NULL;  /* (h, w) with a mask of levels */
    float *full = malloc(npix * sizeof *full);  /* (h, w) one region's weights */
    if (!full) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (mask of %dx%d)", w, h);
    impasto_status s = IMPASTO_OK;
    if (opt->mask) {
        if (!(region = malloc(npix * sizeof *region))) s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (mask)");
        else s = mask_regions(ctx, opt->mask, h, w, 1, h, w, (size_t)R, region);
    }
    for (int i = 0; i < r->style.n && s == IMPASTO_OK; i++) {
        const int l = r->style.index[i];
        const size_t len = (size_t)lh[l] * lw[l];
        r->region_mask[i] = malloc((size_t)R * len * sizeof(float));
        r->region_mass[i] = calloc((size_t)R, sizeof(double));
        if (!r->region_mask[i] || !r->region_mass[i])
            s = ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory (mask of %dx%d)", w, h);
    }
    for (int k = 0; k < R && s == IMPASTO_OK; k++) {
        if (region) {
            for (size_t p = 0; p < npix; p++) full[p] = region[p] == k ? 1.0f : 0.0f;
        } else if ((s = soft_weights(ctx, opt->style_masks[k], h, w, full)) != IMPASTO_OK) {
            break;
        }
        for (int i = 0; i < r->style.n; i++) {
            const int l = r->style.index[i];
            const size_t len = (size_t)lh[l] * lw[l];
            float *m = r->region_mask[i] + (size_t)k * len;
            area_average(full, h, w, stride[l], lh[l], lw[l], m);
            double mass = 0;
            for (size_t p = 0; p < len; p++) mass += (double)m[p] * m[p];
            r->region_mass[i][k] = mass;
        }
    }
    free(region);
    free(full);
    return s;
}
