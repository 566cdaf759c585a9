/* The cost of one evaluation of Gatys' loss untiled, in exact tiles and in random tiles, and the
 * loss and seams of finished pictures (issue #20, README's tiled vs untiled table).
 *
 *   bench_gatys_tile MODEL CONTENT STYLE SIZE TILE [PICTURE...]
 *
 * prints, for the content itself as the picture, each way's CPU seconds for one evaluation (the
 * process's CPU time, so that a loaded machine's waiting is not counted), its loss and the L2
 * difference of its gradient from the untiled one; then for each PICTURE its loss under the
 * untiled (true) objective at SIZE and its seam ratio on the grid of TILE (metrics_seam_ratio). */
#include "impasto.h"
#include "methods/gatys.h"
#include "methods/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: bench_gatys_tile MODEL CONTENT STYLE SIZE TILE [PICTURE...]\n");
        return 2;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_model *vgg = NULL;
    impasto_image *content = NULL, *style = NULL;
    if (impasto_model_load(ctx, argv[1], &vgg) || impasto_image_load(ctx, argv[2], &content) ||
        impasto_image_load(ctx, argv[3], &style)) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        return 1;
    }
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    opt.image_size = atoi(argv[4]);
    const int tile = atoi(argv[5]);
    float *g0 = NULL;
    size_t n = 0;
    const char *names[3] = {"untiled", "exact", "random"};
    for (int k = 0; k < 3; k++) {
        opt.tile = k == 0 ? 0 : tile;
        opt.tiling = k == 2 ? IMPASTO_TILING_RANDOM : IMPASTO_TILING_EXACT;
        float *g = NULL;
        double parts[4];
        int tiles = 0;
        double t0 = cpu_seconds();
        if (gatys_evaluate_at(ctx, vgg, content, (const impasto_image *const *)&style, 1, &opt, content, &g, parts, &tiles)) {
            fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
            return 1;
        }
        double t = cpu_seconds() - t0;
        if (k == 0) {
            int w = impasto_image_width(content), h = impasto_image_height(content);
            double s = (double)opt.image_size / (w > h ? w : h);
            n = (size_t)3 * (size_t)lround(w * s) * (size_t)lround(h * s);
            g0 = g;
        }
        double d2 = 0, n2 = 0;
        for (size_t i = 0; k && i < n; i++) {
            d2 += ((double)g[i] - g0[i]) * ((double)g[i] - g0[i]);
            n2 += (double)g0[i] * g0[i];
        }
        printf("%-8s tiles %3d  cpu %.2f s (setup and one evaluation)  loss %.6g (content %.6g style %.6g tv %.6g)"
               "  |g - g_untiled| / |g_untiled| %.3g\n", names[k], tiles, t, parts[0], parts[1], parts[2], parts[3],
               k ? sqrt(d2 / n2) : 0.0);
        if (k) free(g);
    }
    free(g0);
    opt.tile = 0;
    for (int i = 6; i < argc; i++) {
        impasto_image *pic = NULL;
        float *g = NULL;
        double parts[4];
        if (impasto_image_load(ctx, argv[i], &pic) ||
            gatys_evaluate_at(ctx, vgg, content, (const impasto_image *const *)&style, 1, &opt, pic, &g, parts, NULL)) {
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
    impasto_model_free(vgg);
    impasto_ctx_free(ctx);
    return 0;
}
