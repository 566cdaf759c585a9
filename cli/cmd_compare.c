/* impasto compare: SSIM and PSNR between two images (include/impasto.h, "evaluating results"),
 * e.g. to see how far two runs or two settings drifted apart. */
#include "opts.h"

#include <unistd.h>
#include <math.h>

static const char *CMD = "compare";

typedef struct compare_settings {
    cli_common common;
    int resize;
} compare_settings;

#define S compare_settings
static const cli_opt OPTS[] = {
    {"Options", "resize", 0, CLI_FLAG, offsetof(S, resize), NULL, 0, 0, NULL, NULL,
     "resize B to A's size first (else images of different sizes are an error)", 0, NULL},
    {"Options", "json", 0, CLI_FLAG, offsetof(S, common.json), NULL, 0, 0, NULL, NULL,
     "print {\"ssim\": ..., \"psnr\": ...} (psnr null for identical images)", 0, NULL},
    CLI_OPT_MAX_PIXELS(S),
    CLI_OPTS_END};
#undef S

static void init(void *p) { (void)p; }

static int run(void *p, int argc, char **argv) {
    const compare_settings *st = p;
    const int resize = st->resize, json = st->common.json;
    if (argc != 2) {
        cli_error(CMD, 1, "expects two images, got %d", argc);
        return EXIT_USAGE;
    }
    const char *pa = argv[0], *pb = argv[1];

    int rc = 1;
    impasto_ctx *ctx = impasto_ctx_create();
    if (!ctx) { cli_error(CMD, 0, "out of memory"); return 1; }
    if (st->common.max_pixels) impasto_ctx_set_max_pixels(ctx, st->common.max_pixels);
    impasto_status s;
    impasto_image *a = NULL, *b = NULL;
    double ssim, psnr;
    if ((s = impasto_image_load(ctx, pa, &a)) != IMPASTO_OK || (s = impasto_image_load(ctx, pb, &b)) != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, s, NULL);
        goto done;
    }
    int wa = impasto_image_width(a), ha = impasto_image_height(a);
    int wb = impasto_image_width(b), hb = impasto_image_height(b);
    if (wa != wb || ha != hb) {
        if (!resize) {
            cli_error(CMD, 1, "%s is %dx%d but %s is %dx%d (give --resize to resize the second to the first's size)",
                      pa, wa, ha, pb, wb, hb);
            rc = EXIT_USAGE;
            goto done;
        }
        impasto_image *r = NULL;
        if (impasto_image_resize(ctx, b, wa, ha, &r) != IMPASTO_OK) {
            cli_error(CMD, 0, "%s", impasto_ctx_error(ctx));
            goto done;
        }
        impasto_image_free(b);
        b = r;
    }
    if (impasto_ssim(ctx, a, b, &ssim) != IMPASTO_OK || impasto_psnr(ctx, a, b, &psnr) != IMPASTO_OK) {
        cli_error(CMD, 0, "%s", impasto_ctx_error(ctx));
        goto done;
    }
    if (json) {
        if (isinf(psnr)) printf("{\"ssim\": %.6f, \"psnr\": null}\n", ssim);
        else printf("{\"ssim\": %.6f, \"psnr\": %.4f}\n", ssim, psnr);
    } else {
        printf("SSIM %.4f  PSNR %s", ssim, isinf(psnr) ? "inf" : "");
        if (!isinf(psnr)) printf("%.2f", psnr);
        printf(" dB\n");
    }
    rc = 0;
done:
    impasto_image_free(a);
    impasto_image_free(b);
    impasto_ctx_free(ctx);
    return rc;
}

const cli_command CLI_COMPARE = {
    .name = "compare",
    .summary = "SSIM and PSNR between two images",
    .synopsis = "A B [--resize] [--json]",
    .description = "SSIM (Wang et al. 2004, 11x11 Gaussian window) and PSNR of B against A on luminance, e.g. to\n"
                   "see how far two runs or two settings drifted apart.",
    .opts = OPTS,
    .settings_size = sizeof(compare_settings),
    .init = init,
    .run = run,
    .positional = "A B",
    .positional_complete = CLI_COMPLETE_IMAGE,
};
