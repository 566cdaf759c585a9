/* Tiled AdaIN and WCT (issue #4): a 200x136 photo with 64x64 tiles (4 x 3 tiles: every kind of
 * tile, corners, edges, inner, and a last row and column narrower than the rest) against the
 * untiled run of the same options, on the clamped 0..1 outputs.
 *
 * Tolerance: with the exact halos (64 px at relu4_1, 24 px at relu3_1, methods/tile.h) the only
 * differences are float rounding (Winograd's 4x4 output tiles fall differently on a tile's
 * smaller maps, the moments are summed in another order): max |tiled - untiled| <= 2e-4, mean
 * <= 1e-5 (measured 6e-6 / 3e-7 for AdaIN, 2.3e-5 / 1.6e-6 for WCT; one step of an 8-bit output
 * is 3.9e-3). A smaller halo (48 px) is measured and printed, not checked (1.4e-3 / 1.2e-5). Also: the automatic plan, bad tiling options,
 * and the progress of tiled runs (one unit per tile of each pass) with a cancel in the middle.
 *
 * Needs models/adain.safetensors and models/lst-r31.safetensors (`make models`), and the bundled
 * examples/images; the model parts are skipped without them. */
#include "impasto.h"
#include "methods/tile.h"
#include "test.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>

#define W 200
#define H 136
#define MAX_TOL 2e-4
#define MEAN_TOL 1e-5

static impasto_model *adain, *lst;
static impasto_image *photo, *painting, *painting2;

/* max and mean |a - b| over the colour channels (same size and channels). */
static void diff(const impasto_image *a, const impasto_image *b, double *mx, double *mean) {
    const float *pa = impasto_image_cdata(a), *pb = impasto_image_cdata(b);
    const size_t n = (size_t)impasto_image_width(a) * (size_t)impasto_image_height(a), ch = (size_t)impasto_image_channels(a);
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < 3; c++) {
            double d = fabs((double)pa[i * ch + c] - pb[i * ch + c]);
            m = fmax(m, d);
            s += d;
        }
    *mx = m;
    *mean = s / (3.0 * (double)n);
}

static impasto_image *load_sized(impasto_ctx *ctx, const char *path, int w, int h) {
    impasto_image *img = NULL, *r = NULL;
    if (impasto_image_load(ctx, path, &img) != IMPASTO_OK) return NULL;
    if (impasto_image_resize(ctx, img, w, h, &r) != IMPASTO_OK) r = NULL;
    impasto_image_free(img);
    return r;
}

/* AdaIN untiled and with 64-pixel tiles; halo -1 (exact) is checked, others printed. */
static void adain_pair(impasto_ctx *ctx, const char *name, const impasto_image *const *styles, size_t n,
                       impasto_adain_options *opt, int halo) {
    impasto_image *whole = NULL, *tiled = NULL;
    opt->tile = 0;
    opt->tile_halo = -1;
    CHECK_MSG(impasto_adain(ctx, adain, photo, styles, n, opt, &whole) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    opt->tile = 64;
    opt->tile_halo = halo;
    CHECK_MSG(impasto_adain(ctx, adain, photo, styles, n, opt, &tiled) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    if (whole && tiled) {
        CHECK(impasto_image_width(tiled) == W && impasto_image_height(tiled) == H);
        double mx, mean;
        diff(whole, tiled, &mx, &mean);
        char hs[16];
        snprintf(hs, sizeof hs, halo < 0 ? "exact" : "%d px", halo);
        printf("  %-16s halo %-6s max |tiled - untiled| %.2e, mean %.2e\n", name, hs, mx, mean);
        if (halo < 0) CHECK_MSG(mx <= MAX_TOL && mean <= MEAN_TOL, "%s: max %g, mean %g", name, mx, mean);
    }
    impasto_image_free(whole);
    impasto_image_free(tiled);
}

static void test_adain_tiled(void) {
    if (!adain || !photo) {
        printf("  skipped (no models/adain.safetensors or examples/images)\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_adain_options opt;
    impasto_adain_options_init(&opt);
    opt.content_size = 0;
    opt.style_size = 128;
    const impasto_image *one[1] = {painting}, *two[2] = {painting, painting2};
    adain_pair(ctx, "adain", one, 1, &opt, -1);
    adain_pair(ctx, "adain", one, 1, &opt, 48);
    /* Interpolated styles, alpha, colour preservation. */
    const double weights[2] = {1, 3};
    opt.style_weights = weights;
    opt.alpha = 0.7;
    opt.preserve_color = 1;
    adain_pair(ctx, "adain 2 styles", two, 2, &opt, -1);
    impasto_ctx_free(ctx);
}

static void test_adain_mask_tiled(void) {
    if (!adain || !photo) {
        printf("  skipped (no models/adain.safetensors or examples/images)\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *mask = NULL;
    CHECK(impasto_image_create(ctx, 50, 34, 1, &mask) == IMPASTO_OK);
    float *m = impasto_image_data(mask);
    for (int y = 0; y < 34; y++)
        for (int x = 0; x < 50; x++) m[y * 50 + x] = x + y < 45 ? 0.0f : 1.0f;  /* a diagonal across tiles */
    impasto_adain_options opt;
    impasto_adain_options_init(&opt);
    opt.content_size = 0;
    opt.style_size = 128;
    opt.mask = mask;
    const impasto_image *two[2] = {painting, painting2};
    adain_pair(ctx, "adain mask", two, 2, &opt, -1);
    impasto_image_free(mask);
    impasto_ctx_free(ctx);
}

static void wct_pair(impasto_ctx *ctx, const impasto_model *r31, const char *name, impasto_wct_options *opt, int halo) {
    impasto_image *whole = NULL, *tiled = NULL;
    opt->tile = 0;
    opt->tile_halo = -1;
    CHECK_MSG(impasto_wct(ctx, adain, r31, photo, painting, opt, &whole) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    opt->tile = 64;
    opt->tile_halo = halo;
    CHECK_MSG(impasto_wct(ctx, adain, r31, photo, painting, opt, &tiled) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    if (whole && tiled) {
        double mx, mean;
        diff(whole, tiled, &mx, &mean);
        char hs[16];
        snprintf(hs, sizeof hs, halo < 0 ? "exact" : "%d px", halo);
        printf("  %-16s halo %-6s max |tiled - untiled| %.2e, mean %.2e\n", name, hs, mx, mean);
        if (halo < 0) CHECK_MSG(mx <= MAX_TOL && mean <= MEAN_TOL, "%s: max %g, mean %g", name, mx, mean);
    }
    impasto_image_free(whole);
    impasto_image_free(tiled);
}

static void test_wct_tiled(void) {
    if (!adain || !lst || !photo) {
        printf("  skipped (no models or examples/images)\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_wct_options opt;
    impasto_wct_options_init(&opt);
    opt.content_size = 0;
    opt.style_size = 128;
    opt.alpha = 0.8;
    wct_pair(ctx, NULL, "wct 1 level", &opt, -1);
    wct_pair(ctx, lst, "wct 2 levels", &opt, -1);
    impasto_ctx_free(ctx);
}

/* The automatic plan: small images untiled, large ones in tiles that fit the budget. */
static void test_plan(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    tile_plan p;
    CHECK(tile_plan_make(ctx, TILE_NET_ADAIN, 512, 512, -1, -1, 0, &p) == IMPASTO_OK);
    CHECK(p.ny == 1 && p.nx == 1 && p.th == 512 && p.tw == 512);
    CHECK(tile_plan_make(ctx, TILE_NET_ADAIN, 4096, 4096, -1, -1, 0, &p) == IMPASTO_OK);
    printf("  4096x4096 at %d MB: %d x %d tiles of %dx%d, halo %d\n", TILE_DEFAULT_MEMORY_MB, p.ny, p.nx, p.th, p.tw,
           p.halo);
    CHECK(p.ny > 1 && p.nx > 1 && p.th % 8 == 0 && p.tw % 8 == 0 && p.halo == 64);
    CHECK((size_t)(p.th + 128) * (size_t)(p.tw + 128) * TILE_BYTES_PER_PIXEL + TILE_FIXED_BYTES <=
          (size_t)TILE_DEFAULT_MEMORY_MB << 20);
    CHECK((p.ny - 1) * p.th < 4096 && p.ny * p.th >= 4096);
    /* Never tile; a forced tile; a narrow last column merged into the one before. */
    CHECK(tile_plan_make(ctx, TILE_NET_ADAIN, 4096, 4096, 0, -1, 0, &p) == IMPASTO_OK && p.ny == 1 && p.nx == 1);
    CHECK(tile_plan_make(ctx, TILE_NET_LST, 136, 200, 64, -1, 0, &p) == IMPASTO_OK);
    CHECK(p.ny == 2 && p.nx == 3 && p.halo == 24 && p.enc_halo == 16);  /* 136 = 64 + 72, 200 = 64 + 64 + 72 */
    /* A budget too small for any tile. */
    CHECK(tile_plan_make(ctx, TILE_NET_ADAIN, 4096, 4096, -1, -1, 100, &p) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(ctx), "too small") != NULL);
    impasto_ctx_free(ctx);
}

static void test_bad_options(void) {
    if (!adain || !photo) {
        printf("  skipped (no models/adain.safetensors or examples/images)\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *out = NULL;
    const impasto_image *one[1] = {painting};
    impasto_adain_options a;
    impasto_wct_options w;
    const int bad_tile[] = {7, 12, 24, -2}, bad_halo[] = {12, -3, 264};
    for (size_t i = 0; i < sizeof bad_tile / sizeof *bad_tile; i++) {
        impasto_adain_options_init(&a);
        a.tile = bad_tile[i];
        CHECK(impasto_adain(ctx, adain, photo, one, 1, &a, &out) == IMPASTO_ERR_INVALID_ARG && !out);
        CHECK(strstr(impasto_ctx_error(ctx), "tile size") != NULL);
        impasto_wct_options_init(&w);
        w.tile = bad_tile[i];
        CHECK(impasto_wct(ctx, adain, NULL, photo, painting, &w, &out) == IMPASTO_ERR_INVALID_ARG && !out);
    }
    for (size_t i = 0; i < sizeof bad_halo / sizeof *bad_halo; i++) {
        impasto_adain_options_init(&a);
        a.tile_halo = bad_halo[i];
        CHECK(impasto_adain(ctx, adain, photo, one, 1, &a, &out) == IMPASTO_ERR_INVALID_ARG && !out);
        CHECK(strstr(impasto_ctx_error(ctx), "halo") != NULL);
    }
    impasto_ctx_free(ctx);
}

/* What a progress callback saw: per call "<level>:<stage>" (the first 64), checks as calls come
 * (total fixed, done up by one), a cancel at call number cancel_at (0: never). */
typedef struct pass_log {
    int calls, total, last_done, bad, cancel_at;
    char seen[64][24];
} pass_log;

static int log_pass(const impasto_pass_progress *p, void *user) {
    pass_log *l = user;
    if (l->calls == 0) l->total = p->total;
    if (p->total != l->total || p->done != l->last_done + 1 || p->done > p->total || !p->stage) l->bad++;
    if (l->calls < 64) snprintf(l->seen[l->calls], sizeof l->seen[0], "%d:%s", p->level, p->stage ? p->stage : "");
    l->last_done = p->done;
    l->calls++;
    return l->cancel_at && l->calls == l->cancel_at;
}

/* n calls from `from` are all `what`. */
static int seen_run(const pass_log *l, int from, int n, const char *what) {
    for (int i = from; i < from + n; i++)
        if (i >= 64 || strcmp(l->seen[i], what) != 0) return 0;
    return 1;
}

/* Tiled progress: one unit per tile of each pass (the plan's ny * nx), one per style. AdaIN:
 * statistics tile by tile, the style, stylize tile by tile. WCT, two levels (the second on the
 * picture padded to multiples of 4): per level the style, then the two passes. A cancel in the
 * middle of a pass gives IMPASTO_ERR_CANCELLED and no image. */
static void test_progress_tiled(void) {
    if (!adain || !lst || !photo) {
        printf("  skipped (no models/adain.safetensors, models/lst-r31.safetensors or examples/images)\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    const impasto_image *one[1] = {painting};
    impasto_image *out = NULL;
    tile_plan pa, pl;
    CHECK(tile_plan_make(ctx, TILE_NET_ADAIN, H, W, 64, -1, TILE_DEFAULT_MEMORY_MB, &pa) == IMPASTO_OK);
    CHECK(tile_plan_make(ctx, TILE_NET_LST, (H + 3) / 4 * 4, (W + 3) / 4 * 4, 64, -1, TILE_DEFAULT_MEMORY_MB, &pl) ==
          IMPASTO_OK);
    const int na = tile_count(&pa), nl = tile_count(&pl);
    CHECK(na > 1 && nl > 1);

    impasto_adain_options a;
    impasto_adain_options_init(&a);
    a.content_size = a.style_size = 0;
    a.tile = 64;
    pass_log la = {0};
    a.progress = log_pass;
    a.progress_user = &la;
    CHECK_MSG(impasto_adain(ctx, adain, photo, one, 1, &a, &out) == IMPASTO_OK && out, "%s", impasto_ctx_error(ctx));
    CHECK_MSG(la.calls == 1 + 2 * na && la.total == la.calls && la.last_done == la.total && !la.bad,
              "adain: calls %d total %d done %d bad %d, %d tiles", la.calls, la.total, la.last_done, la.bad, na);
    CHECK(seen_run(&la, 0, na, "0:statistics") && seen_run(&la, na, 1, "0:style") &&
          seen_run(&la, na + 1, na, "0:stylize"));
    impasto_image_free(out);
    out = NULL;

    impasto_wct_options w;
    impasto_wct_options_init(&w);
    w.content_size = w.style_size = 0;
    w.tile = 64;
    pass_log lw = {0};
    w.progress = log_pass;
    w.progress_user = &lw;
    CHECK_MSG(impasto_wct(ctx, adain, lst, photo, painting, &w, &out) == IMPASTO_OK && out, "%s", impasto_ctx_error(ctx));
    const int t1 = 1 + 2 * na;
    CHECK_MSG(lw.calls == t1 + 1 + 2 * nl && lw.total == lw.calls && lw.last_done == lw.total && !lw.bad,
              "wct: calls %d total %d done %d bad %d, %d and %d tiles", lw.calls, lw.total, lw.last_done, lw.bad, na, nl);
    CHECK(seen_run(&lw, 0, 1, "0:style") && seen_run(&lw, 1, na, "0:statistics") && seen_run(&lw, 1 + na, na, "0:stylize"));
    CHECK(seen_run(&lw, t1, 1, "1:style") && seen_run(&lw, t1 + 1, nl, "1:statistics") &&
          seen_run(&lw, t1 + 1 + nl, nl, "1:stylize"));
    impasto_image_free(out);

    pass_log ca = {.cancel_at = 2}, cw = {.cancel_at = t1 + 2 + nl};
    a.progress_user = &ca;
    out = (impasto_image *)1;  /* must come back NULL */
    CHECK(impasto_adain(ctx, adain, photo, one, 1, &a, &out) == IMPASTO_ERR_CANCELLED && out == NULL && ca.calls == 2);
    w.progress_user = &cw;
    out = (impasto_image *)1;
    CHECK(impasto_wct(ctx, adain, lst, photo, painting, &w, &out) == IMPASTO_ERR_CANCELLED && out == NULL &&
          cw.calls == cw.cancel_at);
    impasto_ctx_free(ctx);
}

int main(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    struct stat st;
    if (stat("models/adain.safetensors", &st) == 0 && impasto_model_load(ctx, "models/adain.safetensors", &adain) != IMPASTO_OK) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        test_failed_count++;
    }
    if (stat("models/lst-r31.safetensors", &st) == 0 &&
        impasto_model_load(ctx, "models/lst-r31.safetensors", &lst) != IMPASTO_OK) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        test_failed_count++;
    }
    photo = load_sized(ctx, "examples/images/horses.jpg", W, H);
    painting = load_sized(ctx, "examples/images/scream.jpg", 120, 150);
    painting2 = load_sized(ctx, "examples/images/horses.jpg", 96, 64);
    RUN(test_plan);
    RUN(test_adain_tiled);
    RUN(test_adain_mask_tiled);
    RUN(test_wct_tiled);
    RUN(test_bad_options);
    RUN(test_progress_tiled);
    impasto_image_free(photo);
    impasto_image_free(painting);
    impasto_image_free(painting2);
    impasto_model_free(adain);
    impasto_model_free(lst);
    impasto_ctx_free(ctx);
    return test_summary();
}
