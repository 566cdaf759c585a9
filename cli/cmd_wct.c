/* impasto wct: universal style transfer by whitening and colouring transforms (Li et al. 2017),
 * multi-level relu4_1 then relu3_1, on top of impasto_wct(). */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *CMD = "wct";

static void usage(FILE *f) {
    fputs("usage: impasto wct -c CONTENT -s STYLE [-o OUT] [options]\n"
          "\n"
          "Repaints CONTENT in the style of STYLE by whitening its VGG features and colouring them with\n"
          "the style's covariance (Li et al. 2017, \"Universal Style Transfer via Feature Transforms\"),\n"
          "coarse to fine: relu4_1 (the AdaIN model's decoder), then relu3_1 (the lst-r31 pair).\n"
          "CONTENT and STYLE may be folders: every pair is written to the folder OUT as\n"
          "<content>_<style>.png.\n"
          "\n"
          "  -c, --content FILE|DIR      content photo (PNG or JPEG), or a folder of them\n"
          "  -s, --style FILE|DIR        style image, or a folder of them\n"
          "  -o, --output FILE|DIR       result, .png or .jpg (default out.png); a folder for folders\n"
          "  -m, --model FILE            converted AdaIN network (default models/adain.safetensors)\n"
          "      --model-r31 FILE        converted lst-r31 pair (default models/lst-r31.safetensors)\n"
          "      --levels N              2: relu4_1 then relu3_1; 1: relu4_1 only (2)\n"
          "      --alpha A               style strength at each level, 0 (content) .. 1 (full) (1)\n"
          "      --content-size N        longest side the content is resized to; 0 keeps it (512)\n"
          "      --style-size N          the same for the style (512)\n"
          "      --tile N                run each level in tiles of N x N pixels (a multiple of 8, >= 32);\n"
          "                              0 never tiles (default: only when a level needs more than --memory)\n"
          "      --tile-halo N           pixels around each tile, a multiple of 8 (exact: 64 and 24)\n"
          "      --memory MB             working memory automatic tiling keeps to (1536)\n"
          "      --threads N             worker threads (all cores)\n"
          "  -h, --help\n",
          f);
}

enum { O_ALPHA = 256, O_CONTENT_SIZE, O_STYLE_SIZE, O_THREADS, O_MODEL_R31, O_LEVELS, O_TILE, O_HALO, O_MEMORY };

static const struct option LONG_OPTS[] = {
    {"content", required_argument, 0, 'c'},
    {"style", required_argument, 0, 's'},
    {"output", required_argument, 0, 'o'},
    {"model", required_argument, 0, 'm'},
    {"model-r31", required_argument, 0, O_MODEL_R31},
    {"levels", required_argument, 0, O_LEVELS},
    {"help", no_argument, 0, 'h'},
    {"alpha", required_argument, 0, O_ALPHA},
    {"content-size", required_argument, 0, O_CONTENT_SIZE},
    {"style-size", required_argument, 0, O_STYLE_SIZE},
    {"threads", required_argument, 0, O_THREADS},
    {"tile", required_argument, 0, O_TILE},
    {"tile-halo", required_argument, 0, O_HALO},
    {"memory", required_argument, 0, O_MEMORY},
    {0, 0, 0, 0}};

typedef struct wct_job {
    const impasto_model *adain, *lst;
    const impasto_wct_options *opt;
} wct_job;

static impasto_status run_pair(void *user, impasto_ctx *ctx, const impasto_image *content, const impasto_image *style,
                               impasto_image **out) {
    const wct_job *j = user;
    return impasto_wct(ctx, j->adain, j->lst, content, style, j->opt, out);
}

int cmd_wct(int argc, char **argv) {
    impasto_wct_options opt;
    impasto_wct_options_init(&opt);
    const char *content_path = NULL, *style_path = NULL, *output = NULL, *model_arg = NULL, *r31_arg = NULL;
    long l, threads = 0, levels = 2;

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":c:s:o:m:h", LONG_OPTS, NULL)) != -1) {
        switch (c) {
        case 'c': content_path = optarg; break;
        case 's': style_path = optarg; break;
        case 'o': output = optarg; break;
        case 'm': model_arg = optarg; break;
        case O_MODEL_R31: r31_arg = optarg; break;
        case O_LEVELS: if (!cli_parse_int(CMD, "--levels", optarg, 1, 2, &levels)) return EXIT_USAGE; break;
        case 'h': usage(stdout); return 0;
        case O_ALPHA: if (!cli_parse_double(CMD, "--alpha", optarg, 0, 1, &opt.alpha)) return EXIT_USAGE; break;
        case O_CONTENT_SIZE: if (!cli_parse_int(CMD, "--content-size", optarg, 0, 16384, &l)) return EXIT_USAGE; opt.content_size = (int)l; break;
        case O_STYLE_SIZE: if (!cli_parse_int(CMD, "--style-size", optarg, 0, 16384, &l)) return EXIT_USAGE; opt.style_size = (int)l; break;
        case O_THREADS: if (!cli_parse_int(CMD, "--threads", optarg, 0, 1024, &threads)) return EXIT_USAGE; break;
        case O_TILE: if (!cli_parse_tile(CMD, optarg, &opt.tile)) return EXIT_USAGE; break;
        case O_HALO: if (!cli_parse_tile_halo(CMD, optarg, &opt.tile_halo)) return EXIT_USAGE; break;
        case O_MEMORY:
            if (!cli_parse_int(CMD, "--memory", optarg, 128, 1 << 24, &l)) return EXIT_USAGE;
            opt.memory_mb = (int)l;
            break;
        case ':': cli_error(CMD, 1, "%s needs a value", argv[optind - 1]); return EXIT_USAGE;
        default: cli_error(CMD, 1, "unknown option '%s'", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (optind < argc) { cli_error(CMD, 1, "unexpected argument '%s'", argv[optind]); return EXIT_USAGE; }
    if (!content_path) { cli_error(CMD, 1, "no content image (-c FILE or folder)"); return EXIT_USAGE; }
    if (!style_path) { cli_error(CMD, 1, "no style image (-s FILE or folder)"); return EXIT_USAGE; }
    const int folders = cli_is_dir(content_path) || cli_is_dir(style_path);
    if (folders) {
        if (!output) { cli_error(CMD, 1, "-c or -s is a folder: give an output folder (-o DIR)"); return EXIT_USAGE; }
        int r = cli_pairs_prepare(CMD, content_path, style_path, output);
        if (r) return r;
    } else {
        if (!output) output = "out.png";
        if (!cli_output_format_ok(CMD, output)) return EXIT_USAGE;
        if (!cli_output_folder_ok(CMD, output)) return 1;
    }

    impasto_ctx *ctx = impasto_ctx_create();
    if (!ctx) { cli_error(CMD, 0, "out of memory"); return 1; }
    impasto_ctx_set_threads(ctx, (int)threads);
    impasto_model *adain = NULL, *lst = NULL;
    impasto_image *content = NULL, *style = NULL, *result = NULL;
    int rc = 1;
    const char *model_path = cli_find_model(model_arg, "adain.safetensors", argv[0]);
    if (impasto_model_load(ctx, model_path, &adain) != IMPASTO_OK) {
        cli_error(CMD, 0, "%s%s", impasto_ctx_error(ctx),
                  model_arg ? "" : " (run 'make models', or give --model; docs/models.md says where to get AdaIN)");
        goto cleanup;
    }
    if (levels == 2) {
        const char *r31_path = cli_find_model(r31_arg, "lst-r31.safetensors", argv[0]);
        if (impasto_model_load(ctx, r31_path, &lst) != IMPASTO_OK) {
            cli_error(CMD, 0, "%s%s", impasto_ctx_error(ctx),
                      r31_arg ? "" : " (run 'make models', give --model-r31, or --levels 1)");
            goto cleanup;
        }
    }
    wct_job job = {adain, lst, &opt};
    if (folders) {
        rc = cli_pairs_run(CMD, ctx, content_path, style_path, output, run_pair, &job, isatty(STDOUT_FILENO));
        goto cleanup;
    }
    if (impasto_image_load(ctx, content_path, &content) != IMPASTO_OK ||
        impasto_image_load(ctx, style_path, &style) != IMPASTO_OK ||
        run_pair(&job, ctx, content, style, &result) != IMPASTO_OK ||
        impasto_image_save(ctx, result, output, 0) != IMPASTO_OK) {
        cli_error(CMD, 0, "%s", impasto_ctx_error(ctx));
        goto cleanup;
    }
    rc = 0;

cleanup:
    impasto_image_free(result);
    impasto_image_free(style);
    impasto_image_free(content);
    impasto_model_free(lst);
    impasto_model_free(adain);
    impasto_ctx_free(ctx);
    return rc;
}
