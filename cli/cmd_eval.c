/* impasto eval: one row per output image, side by side, of how much of the content it kept
 * (SSIM, PSNR, edge agreement, VGG content loss) and how close it came to the style (Gram loss,
 * sliced Wasserstein distance, colour-histogram distance) — impasto_evaluate() on each. */
#include "opts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_STYLES CLI_MAX_STYLES
static const char *CMD = "eval";

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
    impasto_status s = impasto_image_load(ctx, path, &img);
    if (s != IMPASTO_OK) cli_fail(CMD, ctx, s, path);
    return img;
}

typedef struct eval_settings {
    cli_common common;
    const char *content, *model;
    const char *temporal, *reference;  /* --temporal OUT --reference IN: the warping error */
    cli_paths styles;
    int verbose;
    impasto_eval_options opt;
} eval_settings;

#define S eval_settings
#define G_MEASURE "Measures"
static const cli_opt OPTS[] = {
    {CLI_G_IO, "content", 'c', CLI_STRING, offsetof(S, content), "FILE", 0, 0, NULL, NULL, "the content photo",
     CLI_COMPLETE_IMAGE, NULL},
    {CLI_G_IO, "style", 's', CLI_PATHS, offsetof(S, styles), "FILE[,FILE...]", 0, 0, NULL, NULL,
     "style image(s); several are pooled (equal weights)", CLI_COMPLETE_IMAGE, NULL},
    {CLI_G_IO, "temporal", 0, CLI_STRING, offsetof(S, temporal), "VIDEO", 0, 0, NULL, NULL,
     "instead: the warping error of a stylised video against --reference (flicker; lower is steadier)",
     CLI_COMPLETE_FILE, NULL},
    {CLI_G_IO, "reference", 0, CLI_STRING, offsetof(S, reference), "VIDEO", 0, 0, NULL, NULL,
     "the input video --temporal's output was made from", CLI_COMPLETE_FILE, NULL},
    {CLI_G_IO, "json", 0, CLI_FLAG, offsetof(S, common.json), NULL, 0, 0, NULL, NULL,
     "JSON instead of a table (PSNR of identical images: null)", 0, NULL},
    {CLI_G_IO, "verbose", 'v', CLI_FLAG, offsetof(S, verbose), NULL, 0, 0, NULL, NULL, "also a column per layer", 0,
     NULL},
    CLI_OPT_MODEL(S, model, "the converted VGG-19 (default vgg19)"),
    {G_MEASURE, "content-layers", 0, CLI_STRING, offsetof(S, opt.content_layers), "L,...", 0, 0, NULL, NULL,
     "VGG-19 layers of the content loss", 0, cli_check_layers},
    {G_MEASURE, "style-layers", 0, CLI_STRING, offsetof(S, opt.style_layers), "L,...", 0, 0, NULL, NULL,
     "VGG-19 layers of the style loss", 0, cli_check_layers},
    {G_MEASURE, "swd-layers", 0, CLI_STRING, offsetof(S, opt.swd_layers), "L,...", 0, 0, NULL, "the style layers",
     "VGG-19 layers of the sliced Wasserstein distance", 0, cli_check_layers},
    {G_MEASURE, "style-size", 0, CLI_INT, offsetof(S, opt.style_size), "N", 16, IMPASTO_MAX_SIDE, NULL, "the output's",
     "longest side of the style images", 0, NULL},
    {G_MEASURE, "projections", 0, CLI_INT, offsetof(S, opt.swd_projections), "N", 1, 4096, NULL, NULL,
     "SWD random directions", 0, NULL},
    {G_MEASURE, "seed", 0, CLI_U64, offsetof(S, opt.seed), "N", 0, CLI_MAX_SEED, NULL, NULL, "seed of the SWD directions",
     0, NULL},
    {G_MEASURE, "pooling", 0, CLI_CHOICE, offsetof(S, opt.pooling), NULL, 0, 0, "max|avg", NULL, "VGG's pooling", 0,
     NULL},
    {CLI_G_COMMON, "threads", 0, CLI_INT, offsetof(S, common.threads), "N", 0, 1024, NULL, "all cores",
     "worker threads", 0, NULL},
    CLI_OPT_MAX_PIXELS(S),
    CLI_OPTS_END};
#undef S

static void init(void *p) {
    eval_settings *s = p;
    impasto_eval_options_init(&s->opt);
}

static int run(void *p, int argc, char **argv) {
    eval_settings *st = p;
    impasto_eval_options opt = st->opt;
    const char *content_path = st->content, *model_arg = st->model;
    const char *const *styles = st->styles.v;
    const int nstyles = st->styles.n, json = st->common.json, verbose = st->verbose, threads = st->common.threads;
    const size_t max_pixels = st->common.max_pixels;
    const int first = 0;
    if (st->temporal || st->reference) return cli_eval_temporal(st->temporal, st->reference, json, verbose, threads, max_pixels);
    if (!content_path) { cli_error(CMD, 1, "no content image (-c FILE)"); return EXIT_USAGE; }
    if (nstyles == 0) { cli_error(CMD, 1, "no style image (-s FILE)"); return EXIT_USAGE; }
    int nout = argc - first;
    if (nout < 1) { cli_error(CMD, 1, "no output images to evaluate"); return EXIT_USAGE; }

    char model_path[4096];
    if (!cli_find_model(CMD, model_arg, "vgg19", 0, model_path, sizeof model_path)) return 1;
    int rc = 1;
    impasto_ctx *ctx = impasto_ctx_create();
    row *rows = calloc((size_t)nout, sizeof *rows);
    if (!ctx || !rows) {
        cli_error(CMD, 0, "out of memory");
        free(rows);
        impasto_ctx_free(ctx);
        return 1;
    }
    impasto_ctx_set_threads(ctx, threads);
    if (max_pixels) impasto_ctx_set_max_pixels(ctx, max_pixels);
    impasto_model *vgg = NULL;
    impasto_image *content = NULL, *style_imgs[MAX_STYLES] = {0};
    impasto_status s = impasto_model_load(ctx, model_path, &vgg);
    if (s != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, s, NULL);
        goto done;
    }
    if (strcmp(impasto_model_kind(vgg), "vgg19")) {
        cli_error(CMD, 1, "-m %s is a model of kind '%s'; eval measures with VGG-19 (vgg19)", model_path,
                  impasto_model_kind(vgg));
        rc = EXIT_USAGE;
        goto done;
    }
    if (!(content = load_or_report(ctx, content_path))) goto done;
    for (int i = 0; i < nstyles; i++)
        if (!(style_imgs[i] = load_or_report(ctx, styles[i]))) goto done;
    for (int i = 0; i < nout; i++) {
        row *rw = &rows[i];
        rw->path = argv[first + i];
        impasto_image *out = load_or_report(ctx, rw->path);
        if (!out) goto done;
        rw->width = impasto_image_width(out);
        rw->height = impasto_image_height(out);
        s = impasto_evaluate(ctx, vgg, out, content, (const impasto_image *const *)style_imgs,
                                            (size_t)nstyles, &opt, &rw->r);
        impasto_image_free(out);
        if (s != IMPASTO_OK) {
            rc = cli_fail(CMD, ctx, s, rw->path);
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

const cli_command CLI_EVAL = {
    .name = "eval",
    .summary = "measure outputs: content kept (SSIM, PSNR, edges, VGG) and style matched",
    .synopsis = "-c CONTENT -s STYLE[,STYLE...] [options] OUTPUT...",
    .description = "Measures each OUTPUT against the content photo and the style image(s), one row each.\n"
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
                   "With --temporal OUT --reference IN (videos or folders of frames): the warping error of OUT,\n"
                   "the mean squared difference between each frame and the previous one carried along IN's\n"
                   "optical flow, outside occlusions (Lai et al. 2018), per frame pair and its mean.",
    .opts = OPTS,
    .settings_size = sizeof(eval_settings),
    .init = init,
    .run = run,
    .positional = "OUTPUT...",
    .positional_complete = CLI_COMPLETE_IMAGE,
};
