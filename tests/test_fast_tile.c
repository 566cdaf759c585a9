/* Tiled fast style networks (methods/fast_tile.h) against the untiled run.
 *
 * - Exact statistics and the exact halo: a 250x61 picture (sides not multiples of 4 or 8) in
 *   tiles of 64 (4 crops of 192x61: small enough to run the exact pass's 16 networks per tile quickly) gives the untiled picture within TOL_EXACT (0..1 units; float rounding of sums
 *   over tiles and Winograd's tiles falling differently: measured ~1e-5), and so does a single
 *   forced tile (tile larger than the picture).
 * - The seam metric (mean |step| between neighbouring pixels across the tile edges over the mean
 *   step elsewhere) of the exact tiled run is within 2% of the untiled run's own ratio on the same
 *   lines.
 * - Estimated statistics: from a copy that is the picture itself they are the untiled run's
 *   (within TOL_EXACT); from a copy shrunk to 96 pixels the difference from the untiled run is
 *   printed and is far larger than the exact run's (the network's statistics depend on scale).
 * - A halo of 16 pixels (below the receptive field) with exact statistics differs more than the
 *   exact halo: the halo is what makes it exact.
 * - Statistics recorded by tnet_forward_stats and handed back in reproduce the untiled output.
 * - Regions (impasto_fast_stylize_regions): see test_regions.
 * - A memory budget too small for the smallest tile is refused naming the minimum; the grid's
 *   crops start on multiples of 4 and the interiors cover the picture.
 * Needs models/candy.safetensors (`make models`); skipped without it. */
#include "core/ctx.h"
#include "core/image.h"
#include "methods/fast_tile.h"
#include "models/transformer_net.h"
#include "test.h"

#include <sys/stat.h>

#define MODEL "models/candy.safetensors"
#define W 250
#define H 61
#define TOL_EXACT 1e-3

static impasto_fast_model *model;
static impasto_image *content;

static impasto_image *picture(impasto_ctx *ctx, int w, int h) {
    impasto_image *img = NULL;
    CHECK(impasto_image_create(ctx, w, h, 3, &img) == IMPASTO_OK);
    float *d = impasto_image_data(img);
    unsigned long long st = 7;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float *p = d + ((size_t)y * (size_t)w + (size_t)x) * 3;
            const float a = 0.5f + 0.3f * sinf(0.11f * (float)x) * cosf(0.07f * (float)y);
            const float b = (x - w / 3) * (x - w / 3) + (y - h / 2) * (y - h / 2) < 1600 ? 0.8f : 0.2f;
            p[0] = fminf(fmaxf(a + test_uniform(&st, -0.05f, 0.05f), 0), 1);
            p[1] = fminf(fmaxf(0.5f * (a + b) + test_uniform(&st, -0.05f, 0.05f), 0), 1);
            p[2] = fminf(fmaxf(b + test_uniform(&st, -0.05f, 0.05f), 0), 1);
        }
    return img;
}

static impasto_image *run(impasto_ctx *ctx, int tile, int halo, impasto_fast_stats stats, int side) {
    impasto_fast_options opt;
    impasto_fast_options_init(&opt);
    opt.tile = tile;
    opt.tile_halo = halo;
    opt.stats = stats;
    opt.stats_side = side;
    impasto_image *out = NULL;
    impasto_status s = impasto_fast_stylize(ctx, model, content, &opt, &out);
    CHECK_MSG(s == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    return out;
}

static double max_diff(const impasto_image *a, const impasto_image *b) {
    if (!a || !b) return INFINITY;
    const float *pa = impasto_image_cdata(a), *pb = impasto_image_cdata(b);
    double m = 0;
    for (size_t i = 0; i < (size_t)W * H * 3; i++) m = fmax(m, fabs((double)pa[i] - pb[i]));
    return m;
}

static double mean_diff(const impasto_image *a, const impasto_image *b) {
    if (!a || !b) return INFINITY;
    const float *pa = impasto_image_cdata(a), *pb = impasto_image_cdata(b);
    double m = 0;
    for (size_t i = 0; i < (size_t)W * H * 3; i++) m += fabs((double)pa[i] - pb[i]);
    return m / (W * H * 3.0);
}

/* Mean |step| across the vertical lines x = k * t (k >= 1) over the mean |step| between every
 * other pair of horizontal neighbours. */
static double seam_ratio(const impasto_image *a, int t) {
    const float *p = impasto_image_cdata(a);
    double on = 0, off = 0;
    size_t non = 0, noff = 0;
    for (int y = 0; y < H; y++)
        for (int x = 1; x < W; x++) {
            double d = 0;
            for (int c = 0; c < 3; c++)
                d += fabs((double)p[((size_t)y * W + (size_t)x) * 3 + (size_t)c] -
                          p[((size_t)y * W + (size_t)x - 1) * 3 + (size_t)c]);
            if (x % t == 0) on += d, non++;
            else off += d, noff++;
        }
    return (on / (double)non) / (off / (double)noff);
}

static void test_exact_matches_untiled(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *whole = run(ctx, 0, -1, IMPASTO_FAST_STATS_EXACT, 1024);
    impasto_image *tiled = run(ctx, 64, -1, IMPASTO_FAST_STATS_EXACT, 1024);
    impasto_image *one = run(ctx, 512, -1, IMPASTO_FAST_STATS_EXACT, 1024);
    const double e = max_diff(whole, tiled);
    printf("  exact statistics, tiles of 64, halo 64: max |tiled - untiled| = %.2e\n", e);
    CHECK(e <= TOL_EXACT);
    CHECK(max_diff(whole, one) <= TOL_EXACT);
    if (whole && tiled) {
        const double rw = seam_ratio(whole, 64), rt = seam_ratio(tiled, 64);
        printf("  seam ratio on the tile edges: untiled %.4f, tiled %.4f\n", rw, rt);
        CHECK(fabs(rt - rw) <= 0.02 * rw);
    }
    impasto_image_free(whole);
    impasto_image_free(tiled);
    impasto_image_free(one);
    impasto_ctx_free(ctx);
}

static void test_estimate_and_short_halo(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *whole = run(ctx, 0, -1, IMPASTO_FAST_STATS_EXACT, 1024);
    impasto_image *exact = run(ctx, 64, -1, IMPASTO_FAST_STATS_EXACT, 1024);
    impasto_image *est = run(ctx, 64, -1, IMPASTO_FAST_STATS_ESTIMATE, 96);
    impasto_image *estfull = run(ctx, 64, -1, IMPASTO_FAST_STATS_ESTIMATE, 1024);
    printf("  estimate from the full picture: max %.2e\n", max_diff(whole, estfull));
    CHECK(max_diff(whole, estfull) <= TOL_EXACT);
    impasto_image *shorth = run(ctx, 64, 16, IMPASTO_FAST_STATS_EXACT, 1024);
    const double ee = mean_diff(whole, est), es = mean_diff(whole, shorth), ex = mean_diff(whole, exact);
    printf("  mean |tiled - untiled| (0..1): exact %.2e, estimate from 96 px %.2e (max %.3f), halo 16 %.2e "
           "(max %.3f)\n", ex, ee, max_diff(whole, est), es, max_diff(whole, shorth));
    CHECK(ee > 10 * ex);
    CHECK(es > ex);
    impasto_image_free(whole);
    impasto_image_free(exact);
    impasto_image_free(estfull);
    impasto_image_free(est);
    impasto_image_free(shorth);
    impasto_ctx_free(ctx);
}

static void test_recorded_stats(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    transformer_net *net = NULL;
    tnet_plan *p = NULL;
    CHECK(transformer_net_load(ctx, MODEL, &net) == IMPASTO_OK);
    CHECK(tnet_plan_create(ctx, 40, 36, 1, &p) == IMPASTO_OK);
    if (net && p) {
        const size_t n = 3 * 40 * 36;
        float *x = tnet_plan_input(p), *ref = malloc(3 * 40 * 36 * sizeof *ref);
        unsigned long long st = 3;
        for (size_t i = 0; i < n; i++) x[i] = test_uniform(&st, 0, 255);
        float *x0 = malloc(n * sizeof *x0);
        memcpy(x0, x, n * sizeof *x0);
        memcpy(ref, tnet_forward(net, p), n * sizeof *ref);
        tnet_stats *rec = malloc(sizeof *rec);
        memcpy(x, x0, n * sizeof *x0);
        const float *y = tnet_forward_stats(net, p, NULL, 0, rec, TNET_NUM_CONV);
        double m = 0;
        for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)y[i] - ref[i]));
        memcpy(x, x0, n * sizeof *x0);
        y = tnet_forward_stats(net, p, rec, TNET_NUM_CONV, NULL, TNET_NUM_CONV);
        for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)y[i] - ref[i]));
        CHECK_MSG(m <= 1e-2, "max |recorded - plain| = %g (0..255)", m);
        free(rec);
        free(x0);
        free(ref);
    }
    tnet_plan_free(p);
    transformer_net_free(net);
    impasto_ctx_free(ctx);
}

static void test_grid(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_fast_options opt;
    impasto_fast_options_init(&opt);
    fast_grid g;
    opt.memory_mb = 1;
    CHECK(fast_grid_make(ctx, 6000, 8000, 1, &opt, &g) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(ctx), "too small") && strstr(impasto_ctx_error(ctx), "need"));
    opt.memory_mb = 400;
    CHECK(fast_grid_make(ctx, 6001, 7999, 1, &opt, &g) == IMPASTO_OK);
    CHECK(g.ny * g.nx > 1 && tnet_plan_size(g.ch, g.cw, 1) <= (size_t)400 << 20);
    CHECK((g.h - g.ch) % 4 == 0 && (g.w - g.cw) % 4 == 0 && g.th % 8 == 0 && g.tw % 8 == 0);
    CHECK((g.ny - 1) * g.th < g.h && g.ny * g.th >= g.h && (g.nx - 1) * g.tw < g.w && g.nx * g.tw >= g.w);
    printf("  400 MB for 7999x6001: %d x %d tiles of %dx%d, crops %dx%d\n", g.nx, g.ny, g.tw, g.th, g.cw, g.ch);
    opt.memory_mb = 1 << 20;
    CHECK(fast_grid_make(ctx, 600, 800, 1, &opt, &g) == IMPASTO_OK && g.ny * g.nx == 1);
    impasto_ctx_free(ctx);
}

/* Regions: a mask with the left half dark and the right half light (at another size than the
 * picture), candy and mosaic (mosaic when present, else candy twice with the test's check
 * reduced to the blend). Away from the feathered edge each half is its own network's untiled
 * output (within TOL_EXACT); at the edge the blend lies between the two. */
static void test_regions(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    struct stat sb;
    impasto_fast_model *mosaic = NULL;
    const int have_mosaic = stat("models/mosaic.safetensors", &sb) == 0;
    CHECK(impasto_fast_load(ctx, have_mosaic ? "models/mosaic.safetensors" : MODEL, &mosaic) == IMPASTO_OK);
    impasto_image *mask = NULL;
    CHECK(impasto_image_create(ctx, 50, 13, 1, &mask) == IMPASTO_OK);
    float *m = impasto_image_data(mask);
    for (int y = 0; y < 13; y++)
        for (int x = 0; x < 50; x++) m[y * 50 + x] = x < 25 ? 0.2f : 0.9f;
    impasto_fast_model *const models[2] = {model, mosaic};
    impasto_image *a = run(ctx, 0, -1, IMPASTO_FAST_STATS_EXACT, 1024), *b = NULL, *mixed = NULL;
    CHECK(impasto_fast_stylize(ctx, mosaic, content, NULL, &b) == IMPASTO_OK);
    CHECK(impasto_fast_stylize_regions(ctx, models, 2, content, mask, 8, NULL, &mixed) == IMPASTO_OK);
    if (a && b && mixed) {
        const float *pa = impasto_image_cdata(a), *pb = impasto_image_cdata(b), *pm = impasto_image_cdata(mixed);
        double left = 0, right = 0, between = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 3; c++) {
                    const size_t i = ((size_t)y * W + (size_t)x) * 3 + (size_t)c;
                    /* The edge at x = 125 (the mask's 25 of 50 stretched), feathered 8 pixels either side. */
                    if (x < 115) left = fmax(left, fabs((double)pm[i] - pa[i]));
                    if (x > 135) right = fmax(right, fabs((double)pm[i] - pb[i]));
                    const double lo = fmin(pa[i], pb[i]), hi = fmax(pa[i], pb[i]);
                    between = fmax(between, fmax(lo - pm[i], pm[i] - hi));
                }
        CHECK_MSG(left <= TOL_EXACT && right <= TOL_EXACT, "left %g, right %g", left, right);
        CHECK(between <= 1e-5);
    }
    impasto_image_free(mixed);
    /* Three levels for two networks; one network for two levels. */
    m[0] = 0.5f;
    CHECK(impasto_fast_stylize_regions(ctx, models, 2, content, mask, 8, NULL, &mixed) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(ctx), "3 gray levels for 2 networks") != NULL);
    m[0] = 0.2f;
    CHECK(impasto_fast_stylize_regions(ctx, models, 1, content, mask, 8, NULL, &mixed) == IMPASTO_ERR_INVALID_ARG);
    CHECK(mixed == NULL);
    impasto_image_free(a);
    impasto_image_free(b);
    impasto_image_free(mask);
    impasto_fast_free(mosaic);
    impasto_ctx_free(ctx);
}

int main(void) {
    struct stat sb;
    if (stat(MODEL, &sb) != 0) {
        printf("skip: %s missing (make models)\n", MODEL);
        return test_summary();
    }
    impasto_ctx *ctx = impasto_ctx_create();
    if (impasto_fast_load(ctx, MODEL, &model) != IMPASTO_OK) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        return 1;
    }
    content = picture(ctx, W, H);
    RUN(test_exact_matches_untiled);
    RUN(test_estimate_and_short_halo);
    RUN(test_recorded_stats);
    RUN(test_grid);
    RUN(test_regions);
    impasto_image_free(content);
    impasto_fast_free(model);
    impasto_ctx_free(ctx);
    return test_summary();
}
