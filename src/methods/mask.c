/* Spatial control masks (see mask.h). */
#include "methods/mask.h"

#include "core/ctx.h"
#include "core/image.h"

#include <math.h>

int mask_level(const impasto_image *m, size_t i) {
    const int ch = m->channels;
    const float *p = m->data + i * (size_t)ch;
    float v = ch >= 3 ? (p[0] + p[1] + p[2]) / 3.0f : p[0];
    return (int)lrintf(fminf(fmaxf(v, 0.0f), 1.0f) * 255.0f);
}

impasto_status mask_ranks(impasto_ctx *ctx, const impasto_image *mask, size_t nregions, const char *what,
                          int *rank) {
    for (int l = 0; l < 256; l++) rank[l] = 0;
    const size_t mn = (size_t)mask->width * (size_t)mask->height;
    for (size_t i = 0; i < mn; i++) rank[mask_level(mask, i)] = 1;
    int levels = 0;
    for (int l = 0; l < 256; l++) rank[l] = rank[l] ? levels++ : -1;
    if ((size_t)levels != nregions)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the mask has %d gray level%s for %zu %s%s (one per level, "
                        "darkest first; save masks as PNG, JPEG adds levels)", levels, levels == 1 ? "" : "s",
                        nregions, what, nregions == 1 ? "" : "s");
    return IMPASTO_OK;
}

int mask_region_at(const impasto_image *mask, const int *rank, int h, int w, int py, int px) {
    const size_t my = (size_t)(((double)py + 0.5) * mask->height / h);
    const size_t mx = (size_t)(((double)px + 0.5) * mask->width / w);
    return rank[mask_level(mask, my * (size_t)mask->width + mx)];
}

void mask_region_map(const impasto_image *mask, const int *rank, int h, int w, int scale, int fh, int fw,
                     int *region) {
    for (int fy = 0; fy < fh; fy++)
        for (int fx = 0; fx < fw; fx++) {
            const int py = scale * fy + scale / 2 < h ? scale * fy + scale / 2 : h - 1;
            const int px = scale * fx + scale / 2 < w ? scale * fx + scale / 2 : w - 1;
            region[(size_t)fy * (size_t)fw + (size_t)fx] = mask_region_at(mask, rank, h, w, py, px);
        }
}

impasto_status mask_regions(impasto_ctx *ctx, const impasto_image *mask, int h, int w, int scale, int fh, int fw,
                            size_t nstyles, int *region) {
    int rank[256];
    impasto_status s = mask_ranks(ctx, mask, nstyles, "style image", rank);
    if (s == IMPASTO_OK) mask_region_map(mask, rank, h, w, scale, fh, fw, region);
    return s;
}
