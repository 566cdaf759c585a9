/* impasto compare: SSIM and PSNR between two images (include/impasto.h, "evaluating results"),
 * e.g. to see how far two runs or two settings drifted apart. */
#include "cli.h"

#include <getopt.h>
#include <math.h>

static const char *CMD = "compare";

static void usage(FILE *f) {
    fputs("usage: impasto compare A B [--resize] [--json]\n"
          "\n"
          "SSIM (Wang et al. 2004, 11x11 Gaussian window) and PSNR of B against A on luminance.\n"
          "\n"
          "      --resize   resize B to A's size first (else images of different sizes are an error)\n"
          "      --json     print {\"ssim\": ..., \"psnr\": ...} (psnr null for identical images)\n"
          "  -h, --help\n",
          f);
}

static const struct option LONG_OPTS[] = {
    {"resize", no_argument, 0, 'r'}, {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};

int cmd_compare(int argc, char **argv) {
    int resize = 0, json = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", LONG_OPTS, NULL)) != -1) {
        switch (c) {
        case 'r': resize = 1; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        default: cli_error(CMD, 1, "unknown option '%s'", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        cli_error(CMD, 1, "expects two images, got %d", argc - optind);
        return EXIT_USAGE;
    }
    const char *pa = argv[optind], *pb = argv[optind + 1];

    int rc = 1;
    impasto_ctx *ctx = impasto_ctx_create();
    if (!ctx) { cli_error(CMD, 0, "out of memory"); return 1; }
    impasto_image *a = NULL, *b = NULL;
    double ssim, psnr;
    if (impasto_image_load(ctx, pa, &a) != IMPASTO_OK || impasto_image_load(ctx, pb, &b) != IMPASTO_OK) {
        cli_error(CMD, 0, "%s", impasto_ctx_error(ctx));
        goto done;
    }
    int wa = impasto_image_width(a), ha = impasto_image_height(a);
    int wb = impasto_image_width(b), hb = impasto_image_height(b);
    if (wa != wb || ha != hb) {
        if (!resize) {
            cli_error(CMD, 0, "%s is %dx%d but %s is %dx%d (give --resize to resize the second to the first's size)",
                      pa, wa, ha, pb, wb, hb);
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
