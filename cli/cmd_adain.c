/* impasto adain: arbitrary style transfer in one pass (Huang & Belongie 2017), with
 * naoto0804/pytorch-AdaIN's test.py options (kebab-case) on top of impasto_adain(). */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *CMD = "adain";

static void usage(FILE *f) {
    fputs("usage: impasto adain -c CONTENT -s STYLE[,STYLE...] [-o OUT] [options]\n"
          "\n"
          "Repaints CONTENT in the style of STYLE in one pass of the AdaIN network (Huang & Belongie\n"
          "2017, as naoto0804/pytorch-AdaIN). CONTENT and STYLE may be folders (with one -s): every\n"
          "pair is written to the folder OUT as <content>_<style>.png.\n"
          "\n"
          "  -c, --content FILE|DIR      content photo (PNG or JPEG), or a folder of them\n"
          "  -s, --style FILE[,FILE]|DIR style image(s); repeat -s or give a comma list to interpolate;\n"
          "                              or one folder of them\n"
          "  -o, --output FILE|DIR       result, .png or .jpg (default out.png); a folder for folders\n"
          "  -m, --model FILE            converted AdaIN network (default models/adain.safetensors)\n"
          "      --alpha A               style strength, 0 (content) .. 1 (full style) (1)\n"
          "      --style-weights W,W,... one per style image (equal)\n"
          "      --preserve-color        match each style's colours to the content's first\n"
          "      --mask FILE             spatial control: each gray level of FILE (a PNG) is a region,\n"
          "                              darkest first, painted in the matching -s style alone\n"
          "      --content-size N        longest side the content is resized to; 0 keeps it (512)\n"
          "      --style-size N          the same for the styles (512)\n"
          "      --crop                  resize the SHORTER sides to those sizes and centre-crop squares\n"
          "      --tile N                run in tiles of N x N pixels (a multiple of 8, >= 32); 0 never\n"
          "                              tiles (default: tiles only when the run needs more than --memory)\n"
          "      --tile-halo N           pixels around each tile, a multiple of 8 (64: exact)\n"
          "      --memory MB             working memory automatic tiling keeps to (1536)\n"
          "      --threads N             worker threads (all cores)\n"
          "  -h, --help\n",
          f);
}

enum { O_ALPHA = 256, O_WEIGHTS, O_PRESERVE, O_CONTENT_SIZE, O_STYLE_SIZE, O_THREADS, O_MASK, O_TILE, O_HALO, O_MEMORY, O_CROP };

typedef struct adain_job {
    const impasto_model *model;
    const impasto_adain_options *opt;
} adain_job;

/* One content x style pair of a folder run. */
static impasto_status run_pair(void *user, impasto_ctx *ctx, const impasto_image *content, const impasto_image *style,
                               impasto_image **out) {
    const adain_job *j = user;
    return impasto_adain(ctx, j->model, content, &style, 1, j->opt, out);
}

static const struct option LONG_OPTS[] = {
    {"content", required_argument, 0, 'c'},
    {"style", required_argument, 0, 's'},
    {"output", required_argument, 0, 'o'},
    {"model", required_argument, 0, 'm'},
    {"help", no_argument, 0, 'h'},
    {"alpha", required_argument, 0, O_ALPHA},
    {"style-weights", required_argument, 0, O_WEIGHTS},
    {"preserve-color", optional_argument, 0, O_PRESERVE},
    {"content-size", required_argument, 0, O_CONTENT_SIZE},
    {"style-size", required_argument, 0, O_STYLE_SIZE},
    {"threads", required_argument, 0, O_THREADS},
    {"mask", required_argument, 0, O_MASK},
    {"tile", required_argument, 0, O_TILE},
    {"tile-halo", required_argument, 0, O_HALO},
    {"memory", required_argument, 0, O_MEMORY},
    {"crop", no_argument, 0, O_CROP},
    {0, 0, 0, 0}};

int cmd_adain(int argc, char **argv) {
    impasto_adain_options opt;
    impasto_adain_options_init(&opt);
    const char *content_path = NULL, *output = NULL, *model_arg = NULL, *mask_path = NULL;
    const char *styles[CLI_MAX_STYLES];
    char *owned[CLI_MAX_STYLES];
    double weights[CLI_MAX_STYLES];
    int nstyles = 0, nowned = 0, nweights = 0;
    long l, threads = 0;
    int rc = EXIT_USAGE;

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":c:s:o:m:h", LONG_OPTS, NULL)) != -1) {
        switch (c) {
        case 'c': content_path = optarg; break;
        case 's': {
            int added = cli_add_styles(optarg, styles, &nstyles, owned, &nowned);
            if (added == 0) cli_error(CMD, 0, "at most %d style images", CLI_MAX_STYLES);
            if (added < 0) cli_error(CMD, 1, "-s expects a file name or a comma-separated list of them, got '%s'", optarg);
            if (added <= 0) goto done;
            break;
        }
        case 'o': output = optarg; break;
        case 'm': model_arg = optarg; break;
        case 'h': usage(stdout); rc = 0; goto done;
        case O_ALPHA: if (!cli_parse_double(CMD, "--alpha", optarg, 0, 1, &opt.alpha)) goto done; break;
        case O_WEIGHTS:
            if ((nweights = cli_parse_double_list(CMD, "--style-weights", optarg, 0, 1e9, weights, CLI_MAX_STYLES)) < 0)
                goto done;
            break;
        case O_PRESERVE:
            opt.preserve_color = 1;
            if (optarg && !cli_parse_bool(CMD, "--preserve-color", optarg, &opt.preserve_color)) goto done;
            break;
        case O_CONTENT_SIZE: if (!cli_parse_int(CMD, "--content-size", optarg, 0, 16384, &l)) goto done; opt.content_size = (int)l; break;
        case O_STYLE_SIZE: if (!cli_parse_int(CMD, "--style-size", optarg, 0, 16384, &l)) goto done; opt.style_size = (int)l; break;
        case O_THREADS: if (!cli_parse_int(CMD, "--threads", optarg, 0, 1024, &threads)) goto done; break;
        case O_MASK: mask_path = optarg; break;
        case O_CROP: opt.crop = 1; break;
        case O_TILE: if (!cli_parse_tile(CMD, optarg, &opt.tile)) goto done; break;
        case O_HALO: if (!cli_parse_tile_halo(CMD, optarg, &opt.tile_halo)) goto done; break;
        case O_MEMORY: if (!cli_parse_int(CMD, "--memory", optarg, 128, 1 << 24, &l)) goto done; opt.memory_mb = (int)l; break;
        case ':': cli_error(CMD, 1, "%s needs a value", argv[optind - 1]); goto done;
        default: cli_error(CMD, 1, "unknown option '%s'", argv[optind - 1]); goto done;
        }
    }
    if (optind < argc) { cli_error(CMD, 1, "unexpected argument '%s'", argv[optind]); goto done; }
    if (!content_path) { cli_error(CMD, 1, "no content image (-c FILE)"); goto done; }
    if (nstyles == 0) { cli_error(CMD, 1, "no style image (-s FILE)"); goto done; }
    int folders = cli_is_dir(content_path);
    for (int i = 0; i < nstyles; i++) folders |= cli_is_dir(styles[i]);
    if (folders && mask_path) { cli_error(CMD, 1, "--mask takes one content file, not folders"); goto done; }
    if (mask_path && nweights) { cli_error(CMD, 1, "--mask gives each style its own region: no --style-weights"); goto done; }
    if (folders && nstyles > 1) { cli_error(CMD, 1, "with folders, give one -s (a file or a folder)"); goto done; }
    if (folders && !output) { cli_error(CMD, 1, "-c or -s is a folder: give an output folder (-o DIR)"); goto done; }
    if (!output) output = "out.png";
    if (!folders && !cli_output_format_ok(CMD, output)) goto done;
    if (nweights && nweights != nstyles) {
        cli_error(CMD, 1, "--style-weights has %d values for %d style images", nweights, nstyles);
        goto done;
    }
    if (nweights) {
        double sum = 0;
        for (int i = 0; i < nweights; i++) sum += weights[i];
        if (!(sum > 0)) { cli_error(CMD, 1, "--style-weights sum to zero"); goto done; }
        opt.style_weights = weights;
    }

    if (folders && (rc = cli_pairs_prepare(CMD, content_path, styles[0], output)) != 0) goto done;
    rc = 1;
    if (!folders && !cli_output_folder_ok(CMD, output)) goto done;
    impasto_ctx *ctx = impasto_ctx_create();
    if (!ctx) { cli_error(CMD, 0, "out of memory"); goto done; }
    impasto_ctx_set_threads(ctx, (int)threads);
    impasto_model *model = NULL;
    impasto_image *content = NULL, *result = NULL, *mask = NULL;
    impasto_image *style_imgs[CLI_MAX_STYLES] = {0};
    const char *model_path = cli_find_model(model_arg, "adain.safetensors", argv[0]);

    if (impasto_model_load(ctx, model_path, &model) != IMPASTO_OK) {
        cli_error(CMD, 0, "%s%s", impasto_ctx_error(ctx),
                  model_arg ? "" : " (run 'make models', or give --model; docs/models.md says where to get AdaIN)");
        goto cleanup;
    }
    if (folders) {
        adain_job job = {model, &opt};
        rc = cli_pairs_run(CMD, ctx, content_path, styles[0], output, run_pair, &job, isatty(STDOUT_FILENO));
        goto cleanup;
    }
    if (impasto_image_load(ctx, content_path, &content) != IMPASTO_OK) {
        cli_error(CMD, 0, "%s", impasto_ctx_error(ctx));
        goto cleanup;
    }
    for (int i = 0; i < nstyles; i++)
        if (impasto_image_load(ctx, styles[i], &style_imgs[i]) != IMPASTO_OK) {
            cli_error(CMD, 0, "%s", impasto_ctx_error(ctx));
            goto cleanup;
        }
    if (mask_path) {
        if (impasto_image_load(ctx, mask_path, &mask) != IMPASTO_OK) {
            cli_error(CMD, 0, "%s", impasto_ctx_error(ctx));
            goto cleanup;
        }
        opt.mask = mask;
    }
    if (impasto_adain(ctx, model, content, (const impasto_image *const *)style_imgs, (size_t)nstyles, &opt,
                      &result) != IMPASTO_OK ||
        impasto_image_save(ctx, result, output, 0) != IMPASTO_OK) {
        cli_error(CMD, 0, "%s", impasto_ctx_error(ctx));
        goto cleanup;
    }
    rc = 0;

cleanup:
    impasto_image_free(result);
    impasto_image_free(mask);
    impasto_image_free(content);
    for (int i = 0; i < nstyles; i++) impasto_image_free(style_imgs[i]);
    impasto_model_free(model);
    impasto_ctx_free(ctx);
done:
    for (int i = 0; i < nowned; i++) free(owned[i]);
    return rc;
}
