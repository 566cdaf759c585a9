/* AdaIN spatial control (impasto_adain_options.mask): each gray level of the mask is a region
 * painted in its own style with the content's AdaIN moments taken per region.
 *
 * - A two-level mask (left half dark, right half light, at a different size than the content)
 *   with a red and a blue style: away from the border (8 pixels either side of the middle, one
 *   relu4_1 cell), each half is closer (mean absolute difference over RGB) to the unmasked
 *   transfer with its own style than to the one with the other style, and redder / bluer.
 * - A one-level mask with one style is the unmasked transfer (same positions, same moments).
 * - A mask whose level count differs from the style count, or style weights with a mask, are
 *   refused with IMPASTO_ERR_INVALID_ARG.
 * Needs models/adain.safetensors (`make models`); skipped without it. */
#include "impasto.h"
#include "mask_util.h"
#include "test.h"

#include <sys/stat.h>

#define W 64
#define H 48

static impasto_model *model;

/* Mean |a - b| over RGB, and mean R - B of a, over columns [x0, x1). */
static void region_stats(const impasto_image *a, const impasto_image *b, int x0, int x1, double *diff,
                         double *redness) {
    const float *pa = impasto_image_cdata(a), *pb = impasto_image_cdata(b);
    double s = 0, r = 0;
    size_t n = 0;
    for (int y = 0; y < H; y++)
        for (int x = x0; x < x1; x++, n++) {
            const size_t i = ((size_t)y * W + (size_t)x) * 3;
            for (int c = 0; c < 3; c++) s += fabs(pa[i + (size_t)c] - pb[i + (size_t)c]);
            r += pa[i] - pa[i + 2];
        }
    *diff = s / (3.0 * (double)n);
    *redness = r / (double)n;
}

static void test_regions_follow_styles(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, 1);
    impasto_image *content = picture(ctx, W, H, 0.5f, 0.5f, 0.5f, 1);
    impasto_image *red = picture(ctx, 40, 40, 0.85f, 0.15f, 0.1f, 2), *blue = picture(ctx, 40, 40, 0.1f, 0.2f, 0.85f, 3);
    impasto_image *mask = split_mask(ctx, 30, 20, 0.0f, 1.0f);
    const impasto_image *styles[2] = {red, blue};
    impasto_adain_options opt;
    impasto_adain_options_init(&opt);
    opt.content_size = opt.style_size = 0;
    impasto_image *only_red = NULL, *only_blue = NULL, *masked = NULL;
    CHECK(impasto_adain(ctx, model, content, &styles[0], 1, &opt, &only_red) == IMPASTO_OK);
    CHECK(impasto_adain(ctx, model, content, &styles[1], 1, &opt, &only_blue) == IMPASTO_OK);
    opt.mask = mask;
    CHECK(impasto_adain(ctx, model, content, styles, 2, &opt, &masked) == IMPASTO_OK);
    if (only_red && only_blue && masked) {
        double lr, lb, rr, rb, left_red, right_red, dummy;
        region_stats(masked, only_red, 0, W / 2 - 8, &lr, &left_red);
        region_stats(masked, only_blue, 0, W / 2 - 8, &lb, &dummy);
        region_stats(masked, only_red, W / 2 + 8, W, &rr, &right_red);
        region_stats(masked, only_blue, W / 2 + 8, W, &rb, &dummy);
        printf("  left: |masked - red| %.3f, |masked - blue| %.3f, R-B %.3f\n", lr, lb, left_red);
        printf("  right: |masked - red| %.3f, |masked - blue| %.3f, R-B %.3f\n", rr, rb, right_red);
        CHECK(lr < lb);
        CHECK(rb < rr);
        CHECK(left_red > 0.1 && right_red < -0.1);
    }
    impasto_image_free(only_red);
    impasto_image_free(only_blue);
    impasto_image_free(masked);
    impasto_image_free(mask);
    impasto_image_free(content);
    impasto_image_free(red);
    impasto_image_free(blue);
    impasto_ctx_free(ctx);
}

static void test_one_level_is_unmasked(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, 1);
    impasto_image *content = picture(ctx, W, H, 0.4f, 0.6f, 0.3f, 4), *style = picture(ctx, 32, 32, 0.7f, 0.3f, 0.5f, 5);
    impasto_image *mask = split_mask(ctx, 7, 5, 0.5f, 0.5f), *a = NULL, *b = NULL;
    const impasto_image *styles[1] = {style};
    impasto_adain_options opt;
    impasto_adain_options_init(&opt);
    opt.content_size = opt.style_size = 0;
    opt.alpha = 0.7;
    CHECK(impasto_adain(ctx, model, content, styles, 1, &opt, &a) == IMPASTO_OK);
    opt.mask = mask;
    CHECK(impasto_adain(ctx, model, content, styles, 1, &opt, &b) == IMPASTO_OK);
    if (a && b) {
        double d, r;
        region_stats(a, b, 0, W, &d, &r);
        CHECK_MSG(d < 1e-6, "one-level mask differs by %g", d);
    }
    impasto_image_free(a);
    impasto_image_free(b);
    impasto_image_free(mask);
    impasto_image_free(content);
    impasto_image_free(style);
    impasto_ctx_free(ctx);
}

static void test_mask_errors(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, 1);
    impasto_image *content = picture(ctx, W, H, 0.5f, 0.5f, 0.5f, 6), *style = picture(ctx, 32, 32, 0.2f, 0.5f, 0.5f, 7);
    impasto_image *mask = split_mask(ctx, 16, 16, 0.0f, 1.0f), *out = NULL;
    float *m = impasto_image_data(mask);
    m[0] = 0.5f;  // a third level
    const impasto_image *styles[2] = {style, style};
    impasto_adain_options opt;
    impasto_adain_options_init(&opt);
    opt.content_size = opt.style_size = 0;
    opt.mask = mask;
    CHECK(impasto_adain(ctx, model, content, styles, 2, &opt, &out) == IMPASTO_ERR_INVALID_ARG && !out);
    CHECK(strstr(impasto_ctx_error(ctx), "3 gray levels for 2 style") != NULL);
    m[0] = 0.0f;
    const double weights[2] = {1, 2};
    opt.style_weights = weights;
    CHECK(impasto_adain(ctx, model, content, styles, 2, &opt, &out) == IMPASTO_ERR_INVALID_ARG && !out);
    opt.style_weights = NULL;
    CHECK(impasto_adain(ctx, model, content, styles, 2, &opt, &out) == IMPASTO_OK);
    impasto_image_free(out);
    impasto_image_free(mask);
    impasto_image_free(content);
    impasto_image_free(style);
    impasto_ctx_free(ctx);
}

int main(void) {
    struct stat st;
    impasto_ctx *ctx = impasto_ctx_create();
    if (stat("models/adain.safetensors", &st) != 0) {
        printf("no models/adain.safetensors: skipped\n");
        impasto_ctx_free(ctx);
        return test_summary();
    }
    if (impasto_model_load(ctx, "models/adain.safetensors", &model) != IMPASTO_OK) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        test_failed_count++;
    } else {
        RUN(test_regions_follow_styles);
        RUN(test_one_level_is_unmasked);
        RUN(test_mask_errors);
    }
    impasto_model_free(model);
    impasto_ctx_free(ctx);
    return test_summary();
}
