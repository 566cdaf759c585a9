/* impasto breed: Artbreeder's way of working with styles. The parents' genes (each painting's
 * relu4_1 mean, deviation and covariance: impasto_genes) are mixed into children with Dirichlet
 * weights and a small mutation; the photo is painted once per child through AdaIN, the children
 * are laid out on a labelled contact sheet, and each child's genes are written as
 * child<i>.genes.safetensors, to be a parent again or a style for adain and wct. */
#include "breed.h"
#include "opts.h"
#include "sheet.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *CMD = "breed";

#define BREED_MAX_CHILDREN 64
#define BREED_MAX_COLS 4

int cli_is_genes(const char *path) {
    static const char ext[] = ".safetensors";
    const size_t n = strlen(path), k = sizeof ext - 1;
    return n > k && strcmp(path + n - k, ext) == 0;
}

typedef struct breed_settings {
    cli_common common;
    const char *content, *output, *model, *genes_dir;
    cli_paths parents;
    int children;
    uint64_t seed;
    double mutation;
    impasto_adain_options opt;
} breed_settings;

#define S breed_settings
static const cli_opt OPTS[] = {
    {CLI_G_IO, "content", 'c', CLI_STRING, offsetof(S, content), "FILE", 0, 0, NULL, NULL,
     "the photo painted once per child", CLI_COMPLETE_IMAGE, NULL},
    {CLI_G_IO, "style", 's', CLI_PATHS, offsetof(S, parents), "FILE[,FILE...]", 0, 0, NULL, NULL,
     "the parents: paintings or genes files (*.genes.safetensors); repeat -s or give a comma list",
     CLI_COMPLETE_IMAGE, NULL},
    {CLI_G_IO, "output", 'o', CLI_STRING, offsetof(S, output), "FILE", 0, 0, NULL, "sheet.png",
     "the contact sheet of the children, .png or .jpg, written atomically", CLI_COMPLETE_FILE, NULL},
    {CLI_G_IO, "genes-dir", 0, CLI_STRING, offsetof(S, genes_dir), "DIR", 0, 0, NULL, "the sheet's folder",
     "where child<i>.genes.safetensors are written", CLI_COMPLETE_FILE, NULL},
    CLI_OPT_MODEL(S, model, "the converted AdaIN network (default adain): reads the genes and paints"),
    {"Breeding", "children", 'n', CLI_INT, offsetof(S, children), "N", 1, BREED_MAX_CHILDREN, NULL, NULL,
     "how many children", 0, NULL},
    {"Breeding", "seed", 0, CLI_U64, offsetof(S, seed), "N", 0, 9.2e18, NULL, NULL,
     "the draws: child i of a seed is always the same child", 0, NULL},
    {"Breeding", "mutation", 0, CLI_DOUBLE, offsetof(S, mutation), "M", 0, 1, NULL, NULL,
     "spread of the mutation: deviations scaled by exp(M z), means moved by M sigma z", 0, NULL},
    {"Breeding", "alpha", 0, CLI_DOUBLE, offsetof(S, opt.alpha), "A", 0, 1, NULL, NULL,
     "style strength of each child's picture", 0, NULL},
    CLI_OPTS_SIZES(S, opt.content_size, opt.style_size),
    CLI_OPTS_COMMON(S),
    CLI_OPT_JSON(S),
    CLI_OPTS_END};
#undef S

static void init(void *p) {
    breed_settings *s = p;
    impasto_adain_options_init(&s->opt);
    s->opt.content_size = 256;
    s->children = 8;
    s->mutation = 0.1;
}

/* The pass progress of adain inside one child, shown as the breed's own units. */
typedef struct breed_meter {
    cli_progress *progress;
    impasto_pass_progress p;
    double t0;
} breed_meter;

static int tick(breed_meter *m, const char *stage) {
    m->p.done++;
    m->p.stage = stage;
    m->p.seconds = cli_now() - m->t0;
    progress_pass(m->progress, &m->p);
    return cli_interrupted();
}

/* The sheet of the first n children (all w x h): up to BREED_MAX_COLS a row, each labelled. */
static impasto_status make_sheet(impasto_ctx *ctx, impasto_image *const *kids, int n, impasto_image **out) {
    const int w = impasto_image_width(kids[0]), h = impasto_image_height(kids[0]), gap = 4;
    const int s = w / 128 > 1 ? w / 128 : 1, label = 9 * s;
    const int cols = n < BREED_MAX_COLS ? n : BREED_MAX_COLS, rows = (n + cols - 1) / cols;
    const int sw = cols * w + (cols + 1) * gap, sh = rows * (h + label) + (rows + 1) * gap;
    impasto_status st = impasto_image_create(ctx, sw, sh, 3, out);
    if (st != IMPASTO_OK) return st;
    float *px = impasto_image_data(*out);
    for (size_t i = 0; i < (size_t)sw * (size_t)sh * 3; i++) px[i] = 1.0f;
    for (int i = 0; i < n; i++) {
        const int cx = gap + (i % cols) * (w + gap), cy = gap + (i / cols) * (h + label + gap);
        char text[32];
        snprintf(text, sizeof text, "child %d", i + 1);
        sheet_paste(px, sw, kids[i], cx, cy);
        sheet_label(px, sw, sh, text, cx + w / 2, cy + h + s, s, w);
    }
    return IMPASTO_OK;
}

/* OUT with "_interrupted" before its extension. */
static void interrupted_name(const char *output, char *buf, size_t n) {
    const char *dot = strrchr(output, '.'), *slash = strrchr(output, '/');
    if (!dot || (slash && dot < slash)) dot = output + strlen(output);
    snprintf(buf, n, "%.*s_interrupted%s", (int)(dot - output), output, dot);
}

static int run(void *p, int argc, char **argv) {
    breed_settings *st = p;
    impasto_adain_options *opt = &st->opt;
    const char *content_path = st->content, *output = st->output ? st->output : "sheet.png";
    const int np = st->parents.n, nkids = st->children;
    if (!content_path) { cli_error(CMD, 1, "no content image (-c FILE)"); return EXIT_USAGE; }
    if (np == 0) { cli_error(CMD, 1, "no parents (-s FILE[,FILE...]: paintings or genes files)"); return EXIT_USAGE; }
    if (np > IMPASTO_GENES_MAX_PARENTS) {
        cli_error(CMD, 1, "at most %d parents, got %d", IMPASTO_GENES_MAX_PARENTS, np);
        return EXIT_USAGE;
    }
    if (cli_is_dir(content_path)) { cli_error(CMD, 1, "-c is one photo, not a folder"); return EXIT_USAGE; }
    for (int i = 0; i < np; i++)
        if (cli_is_dir(st->parents.v[i])) { cli_error(CMD, 1, "-s takes files, not folders: %s", st->parents.v[i]); return EXIT_USAGE; }
    if (!cli_output_format_ok(CMD, output)) return EXIT_USAGE;
    /* The genes files' folder: --genes-dir, else the sheet's. */
    char dir[4096], paths[BREED_MAX_CHILDREN][4200];
    if (st->genes_dir) snprintf(dir, sizeof dir, "%s", st->genes_dir);
    else {
        const char *slash = strrchr(output, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - output) : 1, slash ? output : ".");
        if (!dir[0]) snprintf(dir, sizeof dir, "/");
    }
    if (!cli_is_dir(dir)) { cli_error(CMD, 1, "--genes-dir %s is not a folder", dir); return EXIT_USAGE; }
    char model_path[4096];
    if (!cli_find_model(CMD, st->model, "adain", 0, model_path, sizeof model_path)) return 1;
    cli_inputs in = {0};
    int rc = 1, ok = cli_inputs_add(CMD, &in, model_path) && cli_inputs_add(CMD, &in, content_path);
    for (int i = 0; ok && i < np; i++) ok = cli_inputs_add(CMD, &in, st->parents.v[i]);
    if (ok && (rc = cli_output_check(CMD, &in, output)) != 0) ok = 0;
    for (int i = 0; ok && i < nkids; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/child%d.genes.safetensors", dir, i + 1);
        if (!cli_output_not_input(CMD, &in, paths[i])) rc = EXIT_USAGE, ok = 0;
    }
    impasto_ctx *ctx = ok ? cli_ctx_create(CMD, &st->common) : NULL;
    if (!ctx) {
        cli_inputs_free(&in);
        return rc ? rc : 1;
    }
    rc = 1;
    impasto_model *model = NULL;
    impasto_image *content = NULL, *sheet = NULL, *kids[BREED_MAX_CHILDREN] = {0};
    impasto_genes *parents[IMPASTO_GENES_MAX_PARENTS] = {0};
    int made = 0;
    cli_progress progress;
    progress_init(&progress, st->common.quiet, 0);
    if (st->common.json && !cli_json_begin(&progress, CMD)) cli_error(CMD, 0, "out of memory for --json");
    breed_meter meter = {&progress, {NULL, 0, 1, 0, np + nkids, 0}, cli_now()};
    cli_sigint_begin();
    impasto_status s = impasto_model_load(ctx, model_path, &model);
    if (s == IMPASTO_OK) s = impasto_image_load(ctx, content_path, &content);
    /* The parents' genes: read from a genes file, or from a painting through the encoder. */
    for (int i = 0; i < np && s == IMPASTO_OK; i++) {
        const char *path = st->parents.v[i];
        if (cli_is_genes(path)) {
            s = impasto_genes_load(ctx, path, &parents[i]);
        } else {
            impasto_image *img = NULL;
            if ((s = impasto_image_load(ctx, path, &img)) == IMPASTO_OK)
                s = impasto_genes_from_image(ctx, model, img, opt->style_size, &parents[i]);
            impasto_image_free(img);
        }
        if (s == IMPASTO_OK && tick(&meter, "parent")) s = IMPASTO_ERR_CANCELLED;
    }
    /* Each child: its genes, its picture, its genes file. */
    for (int i = 0; i < nkids && s == IMPASTO_OK; i++) {
        impasto_genes *child = NULL;
        s = impasto_genes_breed(ctx, (const impasto_genes *const *)parents, (size_t)np, st->seed, (uint64_t)i + 1,
                                st->mutation, &child);
        const impasto_image *none[1] = {NULL};
        const impasto_genes *g[1] = {child};
        opt->style_genes = g;
        if (s == IMPASTO_OK) s = impasto_adain(ctx, model, content, none, 1, opt, &kids[i]);
        if (s == IMPASTO_OK) s = impasto_genes_save(ctx, child, paths[i]);
        if (s == IMPASTO_OK) {
            made++;
            progress_clear(&progress);
            if (!st->common.quiet && !st->common.json && isatty(STDOUT_FILENO)) {
                const double *w = NULL;
                const size_t nw = impasto_genes_weights(child, &w);
                printf("child %d:", i + 1);
                for (size_t k = 0; k < nw; k++) printf(" %.2f", w[k]);
                printf("  (weights of -s in order)\n");
            }
            cli_wrote(&progress, paths[i], 0, 0);
        }
        impasto_genes_free(child);
        if (s == IMPASTO_OK && tick(&meter, "child")) s = IMPASTO_ERR_CANCELLED;
    }
    if (s == IMPASTO_OK) {
        if ((s = make_sheet(ctx, kids, nkids, &sheet)) == IMPASTO_OK) s = impasto_image_save(ctx, sheet, output, 0);
        rc = cli_finish_one(CMD, ctx, &progress, s, NULL, content_path, output, sheet);
    } else if (s == IMPASTO_ERR_CANCELLED && made > 0) {
        /* Ctrl-C: the children made so far, on a sheet beside the output. */
        char part[4300];
        interrupted_name(output, part, sizeof part);
        progress_clear(&progress);
        if (make_sheet(ctx, kids, made, &sheet) == IMPASTO_OK && impasto_image_save(ctx, sheet, part, 0) == IMPASTO_OK)
            cli_error(CMD, 0, "interrupted after %d of %d children; their sheet is %s, %s is as it was", made, nkids,
                      part, output);
        else cli_error(CMD, 0, "interrupted; %s is as it was", output);
        rc = EXIT_INTERRUPTED;
    } else {
        rc = cli_finish_one(CMD, ctx, &progress, s, NULL, content_path, output, NULL);
    }
    cli_sigint_end();
    cli_json_end(&progress, rc);
    impasto_image_free(sheet);
    for (int i = 0; i < nkids; i++) impasto_image_free(kids[i]);
    for (int i = 0; i < np; i++) impasto_genes_free(parents[i]);
    impasto_image_free(content);
    impasto_model_free(model);
    impasto_ctx_free(ctx);
    cli_inputs_free(&in);
    (void)argc;
    (void)argv;
    return rc;
}

const cli_command CLI_BREED = {
    .name = "breed",
    .summary = "breed styles: children of paintings' genes on a contact sheet (Artbreeder's way)",
    .synopsis = "-c CONTENT -s PARENT,PARENT[,...] [--children N] [--seed N] [-o SHEET] [options]",
    .description = "Mixes the genes of the parents (paintings, or genes files of earlier children): each\n"
                   "painting's relu4_1 mean, deviation and covariance per channel. Each child takes Dirichlet\n"
                   "weights over the parents and a small mutation; the photo is painted once per child through\n"
                   "AdaIN and the children are laid out on a labelled sheet. Each child's genes are written as\n"
                   "child<i>.genes.safetensors: give one to -s of breed (a parent), adain or wct (a style).",
    .opts = OPTS,
    .settings_size = sizeof(breed_settings),
    .init = init,
    .run = run,
};
