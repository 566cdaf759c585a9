/* impasto eval: one row per output image, side by side, of how much of the content it kept
 * (SSIM, PSNR, edge agreement, VGG content loss) and how close it came to the style (Gram loss,
 * sliced Wasserstein distance, colour-histogram distance) — impasto_evaluate() on each. */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_STYLES 32
static const char *CMD = "eval";

static void usage(FILE *f) {
    fputs("usage: impasto eval -c CONTENT -s STYLE[,STYLE...] [options] OUTPUT...\n"
          "\n"
          "Measures each OUTPUT against the content photo and the style image(s), one row each.\n"
          "Content kept (output vs the content resized to the output's size):\n"
          "  SSIM     mean SSIM of the luminance (1 = identical)\n"
          "  PSNR     dB of the luminance (inf = identical)\n"
          "  edge     correlation of the Sobel edge strengths (1 = same edges)\n"
          "  content  VGG-19 content loss (neural-style's, weight 1; 0 = same features)\n"
          "Style matched (output vs the style images, resized to the output's longest side):\n"
          "  style    VGG-19 Gram-matrix style loss summed over the style layers (weight 1)\n"
          "  SWD      sliced Wasserstein distance of the VGG-19 features, mean over the layers\n"
          "  colour   colour-histogram distance (earth mover's, 0..1 of intensity)\n"
          "Lower is closer for content, style, SWD and colour.\n"
          "\n"
          "  -c, --content FILE          content photo\n"
          "  -s, --style FILE[,FILE]     style image(s); several are pooled (equal weights)\n"
          "  -m, --model FILE            converted VGG-19 (default models/vgg19.safetensors)\n"
          "      --content-layers L,...  (relu4_2)\n"
          "      --style-layers L,...    (relu1_1,relu2_1,relu3_1,relu4_1,relu5_1)\n"
          "      --swd-layers L,...      (the style layers)\n"
          "      --style-size N          longest side of the style images (the output's)\n"
          "      --projections N         SWD random directions (64)\n"
          "      --seed N                seed of the SWD directions (1)\n"
          "      --pooling max|avg       (max)\n"
          "      --json                  JSON instead of a table (PSNR of identical images: null)\n"
          "  -v, --verbose               also a column per layer\n"
          "      --threads N             worker threads (all cores)\n"
          "  -h, --help\n",
          f);
}

enum { O_CONTENT_LAYERS = 256, O_STYLE_LAYERS, O_SWD_LAYERS, O_STYLE_SIZE, O_PROJ, O_SEED, O_POOLING,
       O_JSON, O_THREADS };

static const struct option LONG_OPTS[] = {
    {"content", required_argument, 0, 'c'},
    {"style", required_argument, 0, 's'},
    {"model", required_argument, 0, 'm'},
    {"verbose", no_argument, 0, 'v'},
    {"help", no_argument, 0, 'h'},
    {"content-layers", required_argument, 0, O_CONTENT_LAYERS},
    {"style-layers", required_argument, 0, O_STYLE_LAYERS},
    {"swd-layers", required_argument, 0, O_SWD_LAYERS},
    {"style-size", required_argument, 0, O_STYLE_SIZE},
    {"projections", required_argument, 0, O_PROJ},
    {"seed", required_argument, 0, O_SEED},
    {"pooling", required_argument, 0, O_POOLING},
    {"json", no_argument, 0, O_JSON},
    {"threads", required_argument, 0, O_THREADS},
    {0, 0, 0, 0}};

/* Adds one -s argument: a file, or a comma-separated list when no file has the whole name. */
static int add_styles(char *arg, const char **styles, int *n) {
    if (access(arg, F_OK) == 0 || !strchr(arg, ',')) {
        if (*n == MAX_STYLES) return 0;
        styles[(*n)++] = arg;
        return 1;
    }
    for (char *tok = strtok(arg, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == MAX_STYLES) return 0;
        styles[(*n)++] = tok;
    }
    return 1;
}

typedef struct row {
    const char *path;
    int width, height;
    impasto_eval_result r;
} row;

/* ---- table ------------------------------------------------------------------------------ */

#define MAX_COLS (8 + 3 * IMPASTO_MAX_LAYERS)
#define CELL 32

typedef struct table {
    int ncols;
    char head[MAX_COLS][CELL];
} table;

static void fmt_num(char *buf, const char *f, double v) {
    if (isinf(v)) snprintf(buf, CELL, "%s", v > 0 ? "inf" : "-inf");
    else snprintf(buf, CELL, f, v);
}

/* The cells of one output's row after the file name, in column order; with head != NULL the
 * column titles too. */
static int row_cells(const row *rw, int verbose, char cells[MAX_COLS][CELL], table *t) {
    const impasto_eval_result *r = &rw->r;
    int n = 0;
#define COL(title, f, v)                                                 \
    do {                                                                 \
        if (t) snprintf(t->head[n], CELL, "%s", title);                  \
        fmt_num(cells[n++], f, v);                                       \
    } while (0)
    snprintf(cells[n], CELL, "%dx%d", rw->width, rw->height);
    if (t) snprintf(t->head[n], CELL, "size");
    n++;
    COL("SSIM", "%.4f", r->ssim);
    COL("PSNR", "%.2f", r->psnr);
    COL("edge", "%.4f", r->edge);
    COL("content", "%.4g", r->content_loss);
    char title[CELL];
    for (int i = 0; verbose && i < r->num_content_layers; i++) {
        snprintf(title, sizeof title, "c:%s", r->content_layer_name[i]);
        COL(title, "%.4g", r->content_layer_loss[i]);
    }
    COL("style", "%.4g", r->style_loss);
    for (int i = 0; verbose && i < r->num_style_layers; i++) {
        snprintf(title, sizeof title, "s:%s", r->style_layer_name[i]);
        COL(title, "%.4g", r->style_layer_loss[i]);
    }
    COL("SWD", "%.4g", r->swd);
    for (int i = 0; verbose && i < r->num_swd_layers; i++) {
        snprintf(title, sizeof title, "swd:%s", r->swd_layer_name[i]);
        COL(title, "%.4g", r->swd_layer[i]);
    }
    COL("colour", "%.4f", r->color);
#undef COL
    if (t) t->ncols = n;
    return n;
}

static void print_table(const row *rows, int nrows, int verbose) {
    char cells[MAX_COLS][CELL];
    table t;
    int width[MAX_COLS], name_w = (int)strlen("output");
    row_cells(&rows[0], verbose, cells, &t);
    for (int j = 0; j < t.ncols; j++) width[j] = (int)strlen(t.head[j]);
    for (int i = 0; i < nrows; i++) {
        int len = (int)strlen(rows[i].path);
        if (len > name_w) name_w = len;
        row_cells(&rows[i], verbose, cells, NULL);
        for (int j = 0; j < t.ncols; j++)
            if ((int)strlen(cells[j]) > width[j]) width[j] = (int)strlen(cells[j]);
    }
    printf("%-*s", name_w, "output");
    for (int j = 0; j < t.ncols; j++) printf("  %*s", width[j], t.head[j]);
    printf("\n");
    for (int i = 0; i < nrows; i++) {
        row_cells(&rows[i], verbose, cells, NULL);
        printf("%-*s", name_w, rows[i].path);
        for (int j = 0; j < t.ncols; j++) printf("  %*s", width[j], cells[j]);
        printf("\n");
    }
}

/* ---- JSON ------------------------------------------------------------------------------- */

static void json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

/* A finite number, or null (JSON has no infinity). */
static void json_number(double v) {
    if (isfinite(v)) printf("%.9g", v);
    else printf("null");
}

static void json_layers(const char *key, int n, const char *const *names, const double *v) {
    printf(", \"%s\": {", key);
    for (int i = 0; i < n; i++) {
        printf("%s", i ? ", " : "");
        json_string(names[i]);
        printf(": ");
        json_number(v[i]);
    }
    printf("}");
}

static void print_json(const char *content, const char *const *styles, int nstyles, const row *rows, int nrows) {
    printf("{\"content\": ");
    json_string(content);
    printf(", \"styles\": [");
    for (int i = 0; i < nstyles; i++) {
        printf("%s", i ? ", " : "");
        json_string(styles[i]);
    }
    printf("],\n \"results\": [\n");
    for (int i = 0; i < nrows; i++) {
        const impasto_eval_result *r = &rows[i].r;
        printf("  {\"output\": ");
        json_string(rows[i].path);
        printf(", \"width\": %d, \"height\": %d, \"ssim\": ", rows[i].width, rows[i].height);
        json_number(r->ssim);
        printf(", \"psnr\": ");
        json_number(r->psnr);
        printf(", \"edge\": ");
        json_number(r->edge);
        printf(", \"content_loss\": ");
        json_number(r->content_loss);
        json_layers("content_layers", r->num_content_layers, r->content_layer_name, r->content_layer_loss);
        printf(", \"style_loss\": ");
        json_number(r->style_loss);
        json_layers("style_layers", r->num_style_layers, r->style_layer_name, r->style_layer_loss);
        printf(", \"swd\": ");
        json_number(r->swd);
        json_layers("swd_layers", r->num_swd_layers, r->swd_layer_name, r->swd_layer);
        printf(", \"color\": ");
        json_number(r->color);
        printf("}%s\n", i + 1 < nrows ? "," : "");
    }
    printf(" ]}\n");
}

/* ---- the command ------------------------------------------------------------------------ */

static impasto_image *load_or_report(impasto_ctx *ctx, const char *path) {
    impasto_image *img = NULL;
    if (impasto_image_load(ctx, path, &img) != IMPASTO_OK) cli_error(CMD, 0, "%s", impasto_ctx_error(ctx));
    return img;
}

int cmd_eval(int argc, char **argv) {
    impasto_eval_options opt;
    impasto_eval_options_init(&opt);
    const char *content_path = NULL, *model_arg = NULL, *styles[MAX_STYLES];
    int nstyles = 0, json = 0, verbose = 0;
    long l, threads = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":c:s:m:vh", LONG_OPTS, NULL)) != -1) {
        switch (c) {
        case 'c': content_path = optarg; break;
        case 's':
            if (!add_styles(optarg, styles, &nstyles)) {
                cli_error(CMD, 0, "at most %d style images", MAX_STYLES);
                return EXIT_USAGE;
            }
            break;
        case 'm': model_arg = optarg; break;
        case 'v': verbose = 1; break;
        case 'h': usage(stdout); return 0;
        case O_CONTENT_LAYERS: opt.content_layers = optarg; break;
        case O_STYLE_LAYERS: opt.style_layers = optarg; break;
        case O_SWD_LAYERS: opt.swd_layers = optarg; break;
        case O_STYLE_SIZE: if (!cli_parse_int(CMD, "--style-size", optarg, 16, 16384, &l)) return EXIT_USAGE; opt.style_size = (int)l; break;
        case O_PROJ: if (!cli_parse_int(CMD, "--projections", optarg, 1, 4096, &l)) return EXIT_USAGE; opt.swd_projections = (int)l; break;
        case O_SEED: if (!cli_parse_int(CMD, "--seed", optarg, 0, 0x7fffffffL, &l)) return EXIT_USAGE; opt.seed = (uint64_t)l; break;
        case O_POOLING:
            if (!strcmp(optarg, "max")) opt.pooling = IMPASTO_POOL_MAX;
            else if (!strcmp(optarg, "avg")) opt.pooling = IMPASTO_POOL_AVG;
            else { cli_error(CMD, 1, "--pooling is 'max' or 'avg', got '%s'", optarg); return EXIT_USAGE; }
            break;
        case O_JSON: json = 1; break;
        case O_THREADS: if (!cli_parse_int(CMD, "--threads", optarg, 0, 1024, &threads)) return EXIT_USAGE; break;
        case ':': cli_error(CMD, 1, "%s needs a value", argv[optind - 1]); return EXIT_USAGE;
        default: cli_error(CMD, 1, "unknown option '%s'", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (!content_path) { cli_error(CMD, 1, "no content image (-c FILE)"); return EXIT_USAGE; }
    if (nstyles == 0) { cli_error(CMD, 1, "no style image (-s FILE)"); return EXIT_USAGE; }
    int nout = argc - optind;
    if (nout < 1) { cli_error(CMD, 1, "no output images to evaluate"); return EXIT_USAGE; }

    int rc = 1;
    impasto_ctx *ctx = impasto_ctx_create();
    row *rows = calloc((size_t)nout, sizeof *rows);
    if (!ctx || !rows) {
        cli_error(CMD, 0, "out of memory");
        free(rows);
        impasto_ctx_free(ctx);
        return 1;
    }
    impasto_ctx_set_threads(ctx, (int)threads);
    impasto_model *vgg = NULL;
    impasto_image *content = NULL, *style_imgs[MAX_STYLES] = {0};
    const char *model_path = cli_find_model(model_arg, "vgg19.safetensors", argv[0]);
    if (!(content = load_or_report(ctx, content_path))) goto done;
    for (int i = 0; i < nstyles; i++)
        if (!(style_imgs[i] = load_or_report(ctx, styles[i]))) goto done;
    if (impasto_model_load(ctx, model_path, &vgg) != IMPASTO_OK) {
        cli_error(CMD, 0, "%s%s", impasto_ctx_error(ctx),
                  model_arg ? "" : " (run 'make models', or give --model; docs/models.md says where to get VGG-19)");
        goto done;
    }
    for (int i = 0; i < nout; i++) {
        row *rw = &rows[i];
        rw->path = argv[optind + i];
        impasto_image *out = load_or_report(ctx, rw->path);
        if (!out) goto done;
        rw->width = impasto_image_width(out);
        rw->height = impasto_image_height(out);
        impasto_status s = impasto_evaluate(ctx, vgg, out, content, (const impasto_image *const *)style_imgs,
                                            (size_t)nstyles, &opt, &rw->r);
        impasto_image_free(out);
        if (s != IMPASTO_OK) {
            cli_error(CMD, s == IMPASTO_ERR_INVALID_ARG ? 1 : 0, "%s: %s", rw->path, impasto_ctx_error(ctx));
            if (s == IMPASTO_ERR_INVALID_ARG) rc = EXIT_USAGE;
            goto done;
        }
    }
    if (json) print_json(content_path, styles, nstyles, rows, nout);
    else print_table(rows, nout, verbose);
    rc = 0;
done:
    free(rows);
    impasto_image_free(content);
    for (int i = 0; i < nstyles; i++) impasto_image_free(style_imgs[i]);
    impasto_model_free(vgg);
    impasto_ctx_free(ctx);
    return rc;
}
