/* impasto grid: a contact sheet of images, each fitted into a square cell, optionally labelled
 * with its file name — so the README's side-by-side pictures are made by the tool itself.
 *
 * Layout (all in pixels; s = the font scale, max(1, cell / 128)):
 *   width  = cols * cell + (cols + 1) * gap
 *   height = rows * (cell + label) + (rows + 1) * gap,   label = 9 * s with --labels, else 0
 * Each image keeps its aspect ratio, is centred in its cell and composited over white; with --crop
 * its centred square fills the cell instead (as AdaIN-style's and pytorch-AdaIN's -crop show inputs). */
#include "opts.h"
#include "sheet.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *CMD = "grid";

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* img's centred square (a new image; img is freed), NULL when out of memory. */
static impasto_image *centre_square(impasto_ctx *ctx, impasto_image *img) {
    const int w = impasto_image_width(img), h = impasto_image_height(img), ch = impasto_image_channels(img);
    const int side = w < h ? w : h, x0 = (w - side) / 2, y0 = (h - side) / 2;
    impasto_image *sq = NULL;
    if (impasto_image_create(ctx, side, side, ch, &sq) == IMPASTO_OK) {
        const float *src = impasto_image_cdata(img);
        float *dst = impasto_image_data(sq);
        for (int y = 0; y < side; y++)
            memcpy(dst + (size_t)y * (size_t)side * (size_t)ch,
                   src + ((size_t)(y0 + y) * (size_t)w + (size_t)x0) * (size_t)ch, (size_t)side * (size_t)ch * sizeof *dst);
    }
    impasto_image_free(img);
    return sq;
}

typedef struct grid_settings {
    cli_common common;
    const char *output;
    int cols, cell, gap, labels, crop;
} grid_settings;

#define S grid_settings
static const cli_opt OPTS[] = {
    {"Layout", "output", 'o', CLI_STRING, offsetof(S, output), "FILE", 0, 0, NULL, NULL,
     "the sheet, .png or .jpg (written atomically)", CLI_COMPLETE_FILE, NULL},
    {"Layout", "cols", 0, CLI_INT, offsetof(S, cols), "N", 1, 1000, NULL, "all in one row", "images per row", 0, NULL},
    {"Layout", "cell", 0, CLI_INT, offsetof(S, cell), "N", 16, 4096, NULL, NULL, "side of each cell in pixels", 0, NULL},
    {"Layout", "gap", 0, CLI_INT, offsetof(S, gap), "N", 0, 256, NULL, NULL, "white space between and around cells", 0,
     NULL},
    {"Layout", "labels", 0, CLI_FLAG, offsetof(S, labels), NULL, 0, 0, NULL, NULL, "the file's name under each cell", 0,
     NULL},
    {"Layout", "crop", 0, CLI_FLAG, offsetof(S, crop), NULL, 0, 0, NULL, NULL, "each image's centred square fills its cell",
     0, NULL},
    CLI_OPT_MAX_PIXELS(S),
    {CLI_G_COMMON, "quiet", 'q', CLI_FLAG, offsetof(S, common.quiet), NULL, 0, 0, NULL, NULL, "no \"wrote\" line", 0,
     NULL},
    CLI_OPTS_END};
#undef S

static void init(void *p) {
    grid_settings *s = p;
    s->cell = 256;
    s->gap = 4;
}

static int run(void *p, int argc, char **argv) {
    const grid_settings *gs = p;
    const char *output = gs->output;
    long cols = gs->cols, cell = gs->cell, gap = gs->gap;
    const int labels = gs->labels, crop = gs->crop, quiet = gs->common.quiet;
    const size_t max_pixels = gs->common.max_pixels;
    const int first = 0;
    int n = argc - first;
    if (!output) { cli_error(CMD, 1, "no output file (-o SHEET.png)"); return EXIT_USAGE; }
    if (n < 1) { cli_error(CMD, 1, "no images to lay out"); return EXIT_USAGE; }
    if (!cli_output_format_ok(CMD, output)) return EXIT_USAGE;
    cli_inputs in = {0};
    int ok = 1;
    for (int i = 0; ok && i < n; i++) ok = cli_inputs_add(CMD, &in, argv[first + i]);
    int not_input = ok && cli_output_not_input(CMD, &in, output);
    cli_inputs_free(&in);
    if (!ok) return 1;
    if (!not_input) return EXIT_USAGE;
    if (!cli_output_folder_ok(CMD, output)) return 1;
    if (cols == 0 || cols > n) cols = n;
    long rows = (n + cols - 1) / cols;
    int s = cell / 128 > 1 ? (int)(cell / 128) : 1, label_h = labels ? 9 * s : 0;
    long sw = cols * cell + (cols + 1) * gap, sh = rows * (cell + label_h) + (rows + 1) * gap;
    if (sw > 65535 || sh > 65535) {
        cli_error(CMD, 0, "the sheet would be %ldx%ld pixels; use fewer columns or a smaller --cell", sw, sh);
        return EXIT_USAGE;
    }

    int rc = 1;
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *sheet = NULL;
    if (!ctx) { cli_error(CMD, 0, "out of memory"); return 1; }
    if (max_pixels) impasto_ctx_set_max_pixels(ctx, max_pixels);
    impasto_status st;
    if ((st = impasto_image_create(ctx, (int)sw, (int)sh, 3, &sheet)) != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, st, NULL);
        goto done;
    }
    float *px = impasto_image_data(sheet);
    for (size_t i = 0; i < (size_t)sw * sh * 3; i++) px[i] = 1.0f;
    for (int i = 0; i < n; i++) {
        const char *path = argv[first + i];
        impasto_image *img = NULL, *fitted = NULL;
        if ((st = impasto_image_load(ctx, path, &img)) != IMPASTO_OK) {
            rc = cli_fail(CMD, ctx, st, path);
            goto done;
        }
        if (crop && !(img = centre_square(ctx, img))) {
            cli_error(CMD, 0, "%s: %s", path, impasto_ctx_error(ctx));
            goto done;
        }
        int w = impasto_image_width(img), h = impasto_image_height(img);
        int fw = w >= h ? (int)cell : (int)((double)cell * w / h + 0.5);
        int fh = h >= w ? (int)cell : (int)((double)cell * h / w + 0.5);
        if (fw < 1) fw = 1;
        if (fh < 1) fh = 1;
        st = impasto_image_resize(ctx, img, fw, fh, &fitted);
        impasto_image_free(img);
        if (st != IMPASTO_OK) {
            cli_error(CMD, 0, "%s: %s", path, impasto_ctx_error(ctx));
            goto done;
        }
        int cx = (int)(gap + (i % cols) * (cell + gap)), cy = (int)(gap + (i / cols) * (cell + label_h + gap));
        sheet_paste(px, (int)sw, fitted, cx + ((int)cell - fw) / 2, cy + ((int)cell - fh) / 2);
        impasto_image_free(fitted);
        if (labels) sheet_label(px, (int)sw, (int)sh, base_name(path), cx + (int)cell / 2, cy + (int)cell + s, s, (int)cell);
    }
    if ((st = impasto_image_save(ctx, sheet, output, 0)) != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, st, NULL);
        goto done;
    }
    if (!quiet && isatty(STDOUT_FILENO)) printf("wrote %s\n", output);
    rc = 0;
done:
    impasto_image_free(sheet);
    impasto_ctx_free(ctx);
    return rc;
}

const cli_command CLI_GRID = {
    .name = "grid",
    .summary = "a contact sheet of images, optionally labelled",
    .synopsis = "-o SHEET.png [--cols N] [--cell N] [--gap N] [--labels] [--crop] IMAGE...",
    .description = "Lays the images out left to right, top to bottom, each fitted into a square cell (the\n"
                   "README's side-by-side pictures are made with it).",
    .opts = OPTS,
    .settings_size = sizeof(grid_settings),
    .init = init,
    .run = run,
    .positional = "IMAGE...",
    .positional_complete = CLI_COMPLETE_IMAGE,
};
