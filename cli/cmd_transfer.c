/* impasto transfer: neural-style's options (kebab-case, same meanings and defaults) on top of
 * impasto_transfer(). */
#include "cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *CMD = "transfer";

static void usage(FILE *f) {
    fputs("usage: impasto transfer -c CONTENT -s STYLE[,STYLE...] [-o OUT] [options]\n"
          "\n"
          "Repaints CONTENT in the style of STYLE (Gatys et al., as jcjohnson/neural-style).\n"
          "\n"
          "  -c, --content FILE          content photo (PNG or JPEG)\n"
          "  -s, --style FILE[,FILE]     style image(s); repeat -s or give a comma list to blend\n"
          "  -o, --output FILE           result, .png or .jpg (default out.png)\n"
          "  -m, --model FILE            converted VGG-19 (default models/vgg19.safetensors)\n"
          "      --image-size N          longest side of the output (512)\n"
          "      --scales A,B,...        coarse to fine, e.g. 256,512,1024; each starts from the last\n"
          "      --num-iterations N[,N...] iterations per scale (1000); with --scales, one each or one for all\n"
          "      --content-weight W      (5)\n"
          "      --style-weight W        (100)\n"
          "      --tv-weight W           total variation smoothing (0.001)\n"
          "      --style-scale S         style images resized to image-size * S (1.0)\n"
          "      --style-blend-weights W,W,...   one per style image (equal)\n"
          "      --init random|image     start from noise or the content image (random)\n"
          "      --init-image FILE       start from FILE (implies --init image)\n"
          "      --seed N                random seed (-1: from the clock)\n"
          "      --optimizer lbfgs|adam  (lbfgs)\n"
          "      --learning-rate R       Adam's step size (10)\n"
          "      --lbfgs-history N       L-BFGS corrections kept (100)\n"
          "      --line-search           L-BFGS with a strong Wolfe line search (off, as neural-style)\n"
          "      --pooling max|avg       (max)\n"
          "      --content-layers L,...  (relu4_2)\n"
          "      --style-layers L,...    (relu1_1,relu2_1,relu3_1,relu4_1,relu5_1)\n"
          "      --style-layer-weights W,...   one per style layer (1 each)\n"
          "      --original-colors       keep the content's colours (luminance transfer)\n"
          "      --normalize-gradients   divide each loss's gradient by its L1 norm\n"
          "      --print-iter N          log a line every N iterations (50 on a terminal, 0 when piped)\n"
          "      --save-iter N           save OUT_<iteration> every N iterations (100; 0 = never)\n"
          "      --threads N             worker threads (all cores)\n"
          "  -q, --quiet                 no progress display\n"
          "  -h, --help\n",
          f);
}

enum {
    O_CONTENT_WEIGHT = 256, O_STYLE_WEIGHT, O_TV_WEIGHT, O_NUM_ITER, O_INIT, O_INIT_IMAGE, O_SEED,
    O_OPTIMIZER, O_LR, O_LBFGS_HISTORY, O_LINE_SEARCH, O_IMAGE_SIZE, O_STYLE_SCALE, O_BLEND,
    O_POOLING, O_CONTENT_LAYERS, O_STYLE_LAYERS, O_STYLE_LAYER_WEIGHTS, O_ORIGINAL_COLORS,
    O_NORMALIZE, O_PRINT_ITER, O_SAVE_ITER, O_SCALES, O_THREADS
};

static const struct option LONG_OPTS[] = {
    {"content", required_argument, 0, 'c'},
    {"style", required_argument, 0, 's'},
    {"output", required_argument, 0, 'o'},
    {"model", required_argument, 0, 'm'},
    {"quiet", no_argument, 0, 'q'},
    {"help", no_argument, 0, 'h'},
    {"content-weight", required_argument, 0, O_CONTENT_WEIGHT},
    {"style-weight", required_argument, 0, O_STYLE_WEIGHT},
    {"tv-weight", required_argument, 0, O_TV_WEIGHT},
    {"num-iterations", required_argument, 0, O_NUM_ITER},
    {"init", required_argument, 0, O_INIT},
    {"init-image", required_argument, 0, O_INIT_IMAGE},
    {"seed", required_argument, 0, O_SEED},
    {"optimizer", required_argument, 0, O_OPTIMIZER},
    {"learning-rate", required_argument, 0, O_LR},
    {"lbfgs-history", required_argument, 0, O_LBFGS_HISTORY},
    {"line-search", no_argument, 0, O_LINE_SEARCH},
    {"image-size", required_argument, 0, O_IMAGE_SIZE},
    {"style-scale", required_argument, 0, O_STYLE_SCALE},
    {"style-blend-weights", required_argument, 0, O_BLEND},
    {"pooling", required_argument, 0, O_POOLING},
    {"content-layers", required_argument, 0, O_CONTENT_LAYERS},
    {"style-layers", required_argument, 0, O_STYLE_LAYERS},
    {"style-layer-weights", required_argument, 0, O_STYLE_LAYER_WEIGHTS},
    {"original-colors", optional_argument, 0, O_ORIGINAL_COLORS},
    {"normalize-gradients", optional_argument, 0, O_NORMALIZE},
    {"print-iter", required_argument, 0, O_PRINT_ITER},
    {"save-iter", required_argument, 0, O_SAVE_ITER},
    {"scales", required_argument, 0, O_SCALES},
    {"threads", required_argument, 0, O_THREADS},
    {0, 0, 0, 0}};

/* Ctrl-C asks the run to stop at the end of the current iteration; a second one kills. */
static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
    interrupted = 1;
    signal(sig, SIG_DFL);
}

typedef struct run_state {
    impasto_ctx *ctx;
    cli_progress progress;
    const char *output;
    int save_failed;
    int multi_scale;
} run_state;

/* "out.png" + iteration 100 -> "out_100.png" (with scales: "out_512px_100.png"). */
static void numbered_path(const char *output, const char *tag, char *buf, size_t n) {
    const char *slash = strrchr(output, '/');
    const char *dot = strrchr(output, '.');
    if (!dot || (slash && dot < slash)) dot = output + strlen(output);
    snprintf(buf, n, "%.*s_%s%s", (int)(dot - output), output, tag, dot);
}

static int on_progress(const impasto_progress *p, void *user) {
    run_state *rs = user;
    progress_update(&rs->progress, p);
    if (p->image) {
        char tag[64], path[4096];
        if (rs->multi_scale) snprintf(tag, sizeof tag, "%dpx_%d", p->width > p->height ? p->width : p->height, p->iteration);
        else snprintf(tag, sizeof tag, "%d", p->iteration);
        numbered_path(rs->output, tag, path, sizeof path);
        if (impasto_image_save(rs->ctx, p->image, path, 0) != IMPASTO_OK && !rs->save_failed) {
            progress_clear(&rs->progress);
            cli_error(CMD, 0, "warning: %s", impasto_ctx_error(rs->ctx));
            rs->save_failed = 1;
        }
    }
    return interrupted != 0;
}

static impasto_image *load_or_report(impasto_ctx *ctx, const char *path) {
    impasto_image *img = NULL;
    if (impasto_image_load(ctx, path, &img) != IMPASTO_OK) cli_error(CMD, 0, "%s", impasto_ctx_error(ctx));
    return img;
}

int cmd_transfer(int argc, char **argv) {
    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);
    const char *content_path = NULL, *output = "out.png", *model_arg = NULL, *init_image_path = NULL;
    const char *styles[CLI_MAX_STYLES];
    char *owned[CLI_MAX_STYLES];
    int nstyles = 0, nowned = 0, quiet = 0, print_iter = -1;
    const char *init_arg = NULL;  /* --init as given, to refuse "--init random --init-image F" */
    double blend[CLI_MAX_STYLES], layer_w[IMPASTO_MAX_LAYERS];
    int nblend = 0, nlayer_w = 0;
    double its[IMPASTO_MAX_SCALES];  /* --num-iterations, one per scale or one for all */
    int nits = 0;
    long threads = 0;
    int rc = EXIT_USAGE;

    optind = 1;
    opterr = 0;
    int c;
    long l;
    while ((c = getopt_long(argc, argv, ":c:s:o:m:qh", LONG_OPTS, NULL)) != -1) {
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
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); rc = 0; goto done;
        case O_CONTENT_WEIGHT: if (!cli_parse_double(CMD, "--content-weight", optarg, 0, 1e12, &opt.content_weight)) goto done; break;
        case O_STYLE_WEIGHT: if (!cli_parse_double(CMD, "--style-weight", optarg, 0, 1e12, &opt.style_weight)) goto done; break;
        case O_TV_WEIGHT: if (!cli_parse_double(CMD, "--tv-weight", optarg, 0, 1e12, &opt.tv_weight)) goto done; break;
        case O_NUM_ITER: {
            if (!strchr(optarg, ',')) {
                if (!cli_parse_int(CMD, "--num-iterations", optarg, 0, 1000000, &l)) goto done;
                its[0] = (double)l;
                nits = 1;
            } else if ((nits = cli_parse_double_list(CMD, "--num-iterations", optarg, 0, 1000000, its,
                                                     IMPASTO_MAX_SCALES)) < 0) {
                goto done;
            }
            for (int i = 0; i < nits; i++)
                if (its[i] != (int)its[i]) {
                    cli_error(CMD, 1, "--num-iterations takes whole numbers, got '%s'", optarg);
                    goto done;
                }
            opt.num_iterations = (int)its[0];
            break;
        }
        case O_INIT:
            if (!strcmp(optarg, "random")) opt.init = IMPASTO_INIT_RANDOM;
            else if (!strcmp(optarg, "image")) opt.init = IMPASTO_INIT_IMAGE;
            else { cli_error(CMD, 1, "--init is 'random' or 'image', got '%s'", optarg); goto done; }
            init_arg = optarg;
            break;
        case O_INIT_IMAGE: init_image_path = optarg; opt.init = IMPASTO_INIT_IMAGE; break;
        case O_SEED: if (!cli_parse_int(CMD, "--seed", optarg, -1, 0x7fffffffL, &l)) goto done; opt.seed = l; break;
        case O_OPTIMIZER:
            if (!strcmp(optarg, "lbfgs")) opt.optimizer = IMPASTO_OPTIM_LBFGS;
            else if (!strcmp(optarg, "adam")) opt.optimizer = IMPASTO_OPTIM_ADAM;
            else { cli_error(CMD, 1, "--optimizer is 'lbfgs' or 'adam', got '%s'", optarg); goto done; }
            break;
        case O_LR: if (!cli_parse_double(CMD, "--learning-rate", optarg, 1e-12, 1e9, &opt.learning_rate)) goto done; break;
        case O_LBFGS_HISTORY: if (!cli_parse_int(CMD, "--lbfgs-history", optarg, 1, 1000, &l)) goto done; opt.lbfgs_history = (int)l; break;
        case O_LINE_SEARCH: opt.lbfgs_line_search = 1; break;
        case O_IMAGE_SIZE: if (!cli_parse_int(CMD, "--image-size", optarg, 16, 16384, &l)) goto done; opt.image_size = (int)l; break;
        case O_STYLE_SCALE: if (!cli_parse_double(CMD, "--style-scale", optarg, 1e-3, 16, &opt.style_scale)) goto done; break;
        case O_BLEND:
            if ((nblend = cli_parse_double_list(CMD, "--style-blend-weights", optarg, 0, 1e9, blend, CLI_MAX_STYLES)) < 0) goto done;
            break;
        case O_POOLING:
            if (!strcmp(optarg, "max")) opt.pooling = IMPASTO_POOL_MAX;
            else if (!strcmp(optarg, "avg")) opt.pooling = IMPASTO_POOL_AVG;
            else { cli_error(CMD, 1, "--pooling is 'max' or 'avg', got '%s'", optarg); goto done; }
            break;
        case O_CONTENT_LAYERS: opt.content_layers = optarg; break;
        case O_STYLE_LAYERS: opt.style_layers = optarg; break;
        case O_STYLE_LAYER_WEIGHTS:
            if ((nlayer_w = cli_parse_double_list(CMD, "--style-layer-weights", optarg, 0, 1e12, layer_w, IMPASTO_MAX_LAYERS)) < 0) goto done;
            opt.style_layer_weights = layer_w;
            break;
        case O_ORIGINAL_COLORS:
            opt.original_colors = 1;
            if (optarg && !cli_parse_bool(CMD, "--original-colors", optarg, &opt.original_colors)) goto done;
            break;
        case O_NORMALIZE:
            opt.normalize_gradients = 1;
            if (optarg && !cli_parse_bool(CMD, "--normalize-gradients", optarg, &opt.normalize_gradients)) goto done;
            break;
        case O_PRINT_ITER: if (!cli_parse_int(CMD, "--print-iter", optarg, 0, 1000000, &l)) goto done; print_iter = (int)l; break;
        case O_SAVE_ITER: if (!cli_parse_int(CMD, "--save-iter", optarg, 0, 1000000, &l)) goto done; opt.save_iter = (int)l; break;
        case O_SCALES: {
            double sc[IMPASTO_MAX_SCALES];
            int n = cli_parse_double_list(CMD, "--scales", optarg, 16, 16384, sc, IMPASTO_MAX_SCALES);
            if (n < 0) goto done;
            for (int i = 0; i < n; i++) {
                opt.scales[i] = (int)sc[i];
                if (opt.scales[i] != sc[i] || (i && sc[i] < sc[i - 1])) {
                    cli_error(CMD, 1, "--scales takes whole sizes from coarse to fine, got '%s'", optarg);
                    goto done;
                }
            }
            opt.num_scales = n;
            break;
        }
        case O_THREADS: if (!cli_parse_int(CMD, "--threads", optarg, 0, 1024, &threads)) goto done; break;
        case ':': cli_error(CMD, 1, "%s needs a value", argv[optind - 1]); goto done;
        default: cli_error(CMD, 1, "unknown option '%s'", argv[optind - 1]); goto done;
        }
    }
    if (optind < argc) { cli_error(CMD, 1, "unexpected argument '%s'", argv[optind]); goto done; }
    /* Whichever came last, the two say opposite things: refuse rather than guess. */
    if (init_image_path && init_arg && !strcmp(init_arg, "random")) {
        cli_error(CMD, 1, "--init random conflicts with --init-image (which starts from that picture)");
        goto done;
    }
    if (!cli_output_format_ok(CMD, output)) goto done;
    if (!content_path) { cli_error(CMD, 1, "no content image (-c FILE)"); goto done; }
    if (nstyles == 0) { cli_error(CMD, 1, "no style image (-s FILE)"); goto done; }
    if (nblend && nblend != nstyles) {
        cli_error(CMD, 1, "--style-blend-weights has %d values for %d style images", nblend, nstyles);
        goto done;
    }
    if (nblend) opt.style_blend_weights = blend;
    if (nlayer_w) {
        /* Counted as the library splits the list (commas or spaces, empty items skipped), so the
         * library never reads a weight past the ones given. */
        int nlayers = 0;
        for (const char *p = opt.style_layers; *p; p++)
            nlayers += *p != ',' && *p != ' ' && (p == opt.style_layers || p[-1] == ',' || p[-1] == ' ');
        if (nlayer_w != nlayers) {
            cli_error(CMD, 1, "--style-layer-weights has %d values for %d style layers", nlayer_w, nlayers);
            goto done;
        }
    }
    if (nits > 1 && nits != opt.num_scales) {
        cli_error(CMD, 1, "--num-iterations has %d values for %d scales (give one, or one per scale)", nits,
                  opt.num_scales);
        goto done;
    }
    for (int i = 0; nits > 1 && i < nits; i++) opt.scale_iterations[i] = (int)its[i];
    if (opt.num_scales) opt.image_size = opt.scales[opt.num_scales - 1];

    rc = 1;
    if (!cli_output_folder_ok(CMD, output)) goto done;
    impasto_ctx *ctx = impasto_ctx_create();
    if (!ctx) { cli_error(CMD, 0, "out of memory"); goto done; }
    impasto_ctx_set_threads(ctx, (int)threads);
    impasto_model *vgg = NULL;
    impasto_image *content = NULL, *init = NULL, *result = NULL;
    impasto_image *style_imgs[CLI_MAX_STYLES] = {0};
    const char *model_path = cli_find_model(model_arg, "vgg19.safetensors", argv[0]);

    if (!(content = load_or_report(ctx, content_path))) goto cleanup;
    for (int i = 0; i < nstyles; i++)
        if (!(style_imgs[i] = load_or_report(ctx, styles[i]))) goto cleanup;
    if (init_image_path && !(init = load_or_report(ctx, init_image_path))) goto cleanup;
    if (impasto_model_load(ctx, model_path, &vgg) != IMPASTO_OK) {
        cli_error(CMD, 0, "%s%s", impasto_ctx_error(ctx),
                  model_arg ? "" : " (run 'make models', or give --model; docs/models.md says where to get VGG-19)");
        goto cleanup;
    }
    opt.init_image = init;

    run_state rs = {.ctx = ctx, .output = output, .multi_scale = opt.num_scales > 1};
    int tty = isatty(STDERR_FILENO);
    progress_init(&rs.progress, quiet, print_iter >= 0 ? print_iter : (tty ? 50 : 0));
    opt.progress = on_progress;
    opt.progress_user = &rs;
    interrupted = 0;
    signal(SIGINT, on_sigint);
    impasto_status s = impasto_transfer(ctx, vgg, content, (const impasto_image *const *)style_imgs,
                                        (size_t)nstyles, &opt, &result);
    signal(SIGINT, SIG_DFL);
    progress_clear(&rs.progress);
    if (s == IMPASTO_ERR_CANCELLED && result) {
        /* Keep the user's previous output; the picture so far goes beside it. */
        char path[4096];
        numbered_path(output, "interrupted", path, sizeof path);
        if (impasto_image_save(ctx, result, path, 0) == IMPASTO_OK)
            cli_error(CMD, 0, "interrupted; the picture so far is in %s", path);
        else
            cli_error(CMD, 0, "interrupted; %s", impasto_ctx_error(ctx));
        rc = EXIT_INTERRUPTED;
        goto cleanup;
    }
    if (s != IMPASTO_OK) {
        cli_error(CMD, 0, "%s", impasto_ctx_error(ctx));
        goto cleanup;
    }
    if (impasto_image_save(ctx, result, output, 0) != IMPASTO_OK) {
        cli_error(CMD, 0, "%s", impasto_ctx_error(ctx));
        goto cleanup;
    }
    rc = 0;

cleanup:
    impasto_image_free(result);
    impasto_image_free(content);
    impasto_image_free(init);
    for (int i = 0; i < nstyles; i++) impasto_image_free(style_imgs[i]);
    impasto_model_free(vgg);
    impasto_ctx_free(ctx);
done:
    for (int i = 0; i < nowned; i++) free(owned[i]);
    return rc;
}
