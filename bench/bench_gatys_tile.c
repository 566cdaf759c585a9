/* The cost of one evaluation of Gatys' loss untiled, in exact tiles and in random tiles, and the
 * loss and seams of finished pictures (issue #20, README's tiled vs untiled table).
 *
 *   bench_gatys_tile [--mask] MODEL CONTENT STYLE[,STYLE2] SIZE TILE [PICTURE...]
 *
 * (--mask, with two styles: a half/half mask, left STYLE, right STYLE2, guided Gram matrices —
 * each way run with the two styles blended first, then with the mask, for the mask's cost)
 * prints, for the content itself as the picture, each way's CPU seconds for one evaluation (the
 * process's CPU time, so that a loaded machine's waiting is not counted), its loss and the L2
 * difference of its gradient from the untiled one; then for each PICTURE its loss under the
 * untiled (true) objective at SIZE and its seam ratio on the grid of TILE (metrics_seam_ratio). */
#include "core/image.h"
#include "impasto.h"
#include "methods/gatys.h"
#include "methods/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    const int masked = argc > 1 && strcmp(argv[1], "--mask") == 0;
    argc -= masked;
    argv += masked;
    if (argc < 6) {
        fprintf(stderr, "usage: bench_gatys_tile [--mask] MODEL CONTENT STYLE[,STYLE2] SIZE TILE [PICTURE...]\n");
        return 2;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_model *vgg = NULL;
    impasto_image *content = NULL, *style = NULL, *style2 = NULL, *mask = NULL;
    char *comma = strchr(argv[3], ',');
    if (comma) *comma = 0;
    if (impasto_model_load(ctx, argv[1], &vgg) || impasto_image_load(ctx, argv[2], &content) ||
        impasto_image_load(ctx, argv[3], &style) || (comma && impasto_image_load(ctx, comma + 1, &style2))) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        return 1;
    }
    const impasto_image *styles[2] = {style, style2};
    const size_t nstyles = style2 ? 2 : 1;
    if (masked) {
        if (!style2) {
            fprintf(stderr, "--mask needs two styles (STYLE,STYLE2)\n");
            return 2;
        }
        const int mw = impasto_image_width(content), mh = impasto_image_height(content);
        if (image_alloc(ctx, mw, mh, 1, &mask)) {
            fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
            return 1;
        }
        for (int y = 0; y < mh; y++)
            for (int x = mw / 2; x < mw; x++) mask->data[(size_t)y * mw + x] = 1.0f;
    }
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    opt.image_size = atoi(argv[4]);
    const int tile = atoi(argv[5]);
    float *g0 = NULL;
    size_t n = 0;
    const char *names[6] = {"untiled", "exact", "random", "untiled, mask", "exact, mask", "random, mask"};
    for (int k = 0; k < (masked ? 6 : 3); k++) {
        if (k == 3) {
            opt.mask = mask;
            free(g0);
            g0 = NULL;
        }
        opt.tile = k % 3 == 0 ? 0 : tile;
        opt.tiling = k % 3 == 2 ? IMPASTO_TILING_RANDOM : IMPASTO_TILING_EXACT;
        float *g = NULL;
        double parts[4];
        int tiles = 0;
        double t0 = cpu_seconds();
        if (gatys_evaluate_at(ctx, vgg, content, styles, nstyles, &opt, content, &g, parts, &tiles)) {
            fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
            return 1;
        }
        double t = cpu_seconds() - t0;
        if (k % 3 == 0) {
            int w = impasto_image_width(content), h = impasto_image_height(content);
            double s = (double)opt.image_size / (w > h ? w : h);
            n = (size_t)3 * (size_t)lround(w * s) * (size_t)lround(h * s);
            g0 = g;
        }
        double d2 = 0, n2 = 0;
        for (size_t i = 0; k % 3 && i < n; i++) {
            d2 += ((double)g[i] - g0[i]) * ((double)g[i] - g0[i]);
            n2 += (double)g0[i] * g0[i];
        }
        printf("%-14s tiles %3d  cpu %.2f s (setup and one evaluation)  loss %.6g (content %.6g style %.6g tv %.6g)"
               "  |g - g_untiled| / |g_untiled| %.3g\n", names[k], tiles, t, parts[0], parts[1], parts[2], parts[3],
               k % 3 ? sqrt(d2 / n2) : 0.0);
        if (k % 3) free(g);
    }
    free(g0);
    opt.tile = 0;
    opt.mask = NULL;
    for (int i = 6; i < argc; i++) {
        impasto_image *pic = NULL;
        float *g = NULL;
        double parts[4];
        if (impasto_image_load(ctx, argv[i], &pic) ||
            gatys_evaluate_at(ctx, vgg, content, styles, nstyles, &opt, pic, &g, parts, NULL)) {
            fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
            return 1;
        }
        printf("%s  loss %.6g (content %.6g style %.6g tv %.6g)  seam ratio %.3f on the grid of %d\n", argv[i],
               parts[0], parts[1], parts[2], parts[3], metrics_seam_ratio(pic, tile, tile), tile);
        free(g);
        impasto_image_free(pic);
    }
    impasto_image_free(content);
    impasto_image_free(style);
    impasto_image_free(style2);
    impasto_image_free(mask);
    impasto_model_free(vgg);
    impasto_ctx_free(ctx);
    return 0;
}
