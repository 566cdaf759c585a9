/* Folders of photos, for every command that takes one (fast, adain, wct, translate): one lister,
 * one naming rule, one way of skipping what cannot be read, one progress line (cli.h). */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* The file name of path without its folder and last extension, as a length into path. */
static const char *stem(const char *path, int *len) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    *len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    return base;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

typedef struct stem_ref {
    const char *s;
    int len;
    size_t i;
} stem_ref;

static int cmp_stem(const void *a, const void *b) {
    const stem_ref *x = a, *y = b;
    int n = x->len < y->len ? x->len : y->len, c = strncmp(x->s, y->s, (size_t)n);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Marks dup[i] = 1 for every file whose name without extension repeats an earlier one's
 * (photo.jpg and photo.png would write the same output). Returns 0, or 1 when out of memory. */
static int find_duplicates(const cli_list *l, unsigned char *dup) {
    stem_ref *r = malloc(l->n * sizeof *r);
    if (!r) return 1;
    for (size_t i = 0; i < l->n; i++) {
        r[i].s = stem(l->path[i], &r[i].len);
        r[i].i = i;
        dup[i] = 0;
    }
    qsort(r, l->n, sizeof *r, cmp_stem);
    for (size_t k = 1; k < l->n; k++)
        if (r[k].len == r[k - 1].len && !strncmp(r[k].s, r[k - 1].s, (size_t)r[k].len)) dup[r[k].i] = 1;
    free(r);
    return 0;
}

int cli_batch_check(const char *cmd, const char *content, const char *style, const char *outdir) {
    struct stat st;
    const char *which = cli_is_dir(content) ? "-c" : "-s";
    if (stat(outdir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        cli_error(cmd, 1, "%s is a folder, so -o must be a folder (%s is a file)", which, outdir);
        return EXIT_USAGE;
    }
    if (stat(outdir, &st) != 0 && cli_has_image_ext(outdir)) {
        cli_error(cmd, 1, "%s is a folder, so -o must be a folder, not an image name (%s)", which, outdir);
        return EXIT_USAGE;
    }
    char o[PATH_MAX], in[PATH_MAX];
    const char *ins[2] = {content, style};
    if (cli_is_dir(outdir) && realpath(outdir, o))
        for (int i = 0; i < 2; i++)
            if (ins[i] && cli_is_dir(ins[i]) && realpath(ins[i], in) && !strcmp(in, o)) {
                cli_error(cmd, 1, "the output folder is the %s folder: outputs are never written among the inputs",
                          i ? "style" : "content");
                return EXIT_USAGE;
            }
    return 0;
}

/* The output folder, made just before the first output is written, so a run that writes
 * nothing leaves nothing behind. */
static int make_outdir(const char *cmd, const char *outdir) {
    /* Another process of the job may make it at the same moment. */
    if (cli_is_dir(outdir) || mkdir(outdir, 0777) == 0 || (errno == EEXIST && cli_is_dir(outdir))) return 1;
    cli_error(cmd, 0, "cannot make the output folder %s: %s", outdir, strerror(errno));
    return 0;
}

typedef struct batch_run {
    const cli_batch *b;
    impasto_ctx *ctx;
    cli_list cl, sl;
    impasto_image **simg;   /* styles, read once; NULL where one could not be read */
    cli_inputs in;          /* every content and style file, and b->inputs */
    int rc;
    int outdir_made;
} batch_run;

/* Makes one output: refuses a path that is an input, makes the folder when the first output is
 * ready. A failure is reported and counted; an interruption ends the run. */
static void make_one(batch_run *r, const char *what, const impasto_image *content, const impasto_image *style,
                     const char *out) {
    const cli_batch *b = r->b;
    if (!cli_output_not_input(b->cmd, &r->in, out)) {
        r->rc = 1;
        return;
    }
    impasto_image *res = NULL;
    impasto_status s = b->fn(b->user, r->ctx, content, style, &res);
    if (s == IMPASTO_OK && !r->outdir_made) {
        if (!make_outdir(b->cmd, b->outdir)) {
            impasto_image_free(res);
            r->rc = 1;
            return;
        }
        r->outdir_made = 1;
    }
    if (s == IMPASTO_OK) s = impasto_image_save(r->ctx, res, out, 0);
    const int w = impasto_image_width(res), h = impasto_image_height(res);
    impasto_image_free(res);
    if (s == IMPASTO_OK) {
        cli_wrote(b->progress, out, w, h);
    } else if (s == IMPASTO_ERR_CANCELLED || cli_interrupted()) {
        r->rc = EXIT_INTERRUPTED;
    } else {
        progress_clear(b->progress);
        const char *msg = impasto_ctx_error(r->ctx);
        if (strstr(msg, what)) cli_error(b->cmd, 0, "skipping %s: %s", what, msg);
        else cli_error(b->cmd, 0, "skipping %s: %s: %s", what, what, msg);
        cli_json_failed(b->progress, what, msg);
        r->rc = 1;
    }
}

/* Reads one input, reporting and counting a failure. */
static impasto_image *load(batch_run *r, const char *kind, const char *path) {
    impasto_image *img = NULL;
    if (impasto_image_load(r->ctx, path, &img) == IMPASTO_OK) return img;
    progress_clear(r->b->progress);
    const char *msg = impasto_ctx_error(r->ctx);
    if (strstr(msg, path)) cli_error(r->b->cmd, 0, "skipping %s%s: %s", kind, path, msg);
    else cli_error(r->b->cmd, 0, "skipping %s%s: %s: %s", kind, path, path, msg);
    cli_json_failed(r->b->progress, path, msg);
    r->rc = 1;
    return NULL;
}

int cli_batch_run(impasto_ctx *ctx, const cli_batch *b) {
    batch_run r = {.b = b, .ctx = ctx};
    unsigned char *cdup = NULL, *sdup = NULL;
    if (cli_list_images(b->cmd, b->content, &r.cl)) return 1;
    if (b->style && cli_list_images(b->cmd, b->style, &r.sl)) {
        cli_list_free(&r.cl);
        return 1;
    }
    const size_t ns = b->style ? r.sl.n : 1, total = r.cl.n * ns;
    if (r.cl.skipped || r.sl.skipped) r.rc = 1;
    int ok = (r.simg = calloc(ns, sizeof *r.simg)) != NULL && (cdup = calloc(r.cl.n, 1)) != NULL &&
             (sdup = calloc(ns, 1)) != NULL;
    /* Pair outputs are named without extensions, so a.jpg and a.png would share them. */
    if (ok && b->style) ok = !find_duplicates(&r.cl, cdup) && !find_duplicates(&r.sl, sdup);
    if (!ok) {
        cli_error(b->cmd, 0, "out of memory");
        r.rc = 1;
    }
    for (size_t i = 0; ok && i < r.cl.n; i++) ok = cli_inputs_add(b->cmd, &r.in, r.cl.path[i]);
    for (size_t j = 0; ok && b->style && j < r.sl.n; j++) ok = cli_inputs_add(b->cmd, &r.in, r.sl.path[j]);
    for (int k = 0; ok && b->inputs && k < b->inputs->n; k++) ok = cli_inputs_add(b->cmd, &r.in, b->inputs->path[k]);
    if (!ok) r.rc = 1;

    for (size_t j = 0; ok && b->style && j < r.sl.n; j++) {
        if (sdup[j]) {
            cli_error(b->cmd, 0, "skipping style %s: another style has the same name before its extension", r.sl.path[j]);
            r.rc = 1;
        } else {
            r.simg[j] = load(&r, "style ", r.sl.path[j]);
        }
    }
    /* In a job of several processes (docs/cluster.md), process r makes the items k = i * ns + j
     * with k % processes == r, and loads only the contents it needs. */
    const size_t rank = (size_t)cluster_rank(), nproc = (size_t)cluster_size();
    size_t item = 0;
    for (size_t i = 0; ok && i < r.cl.n && r.rc != EXIT_INTERRUPTED; i++, item += ns) {
        if (item + (rank + nproc - item % nproc) % nproc >= item + ns) continue;  /* none of this content's items are this process's */
        if (cdup[i]) {
            cli_error(b->cmd, 0, "skipping %s: another content has the same name before its extension", r.cl.path[i]);
            r.rc = 1;
            continue;
        }
        impasto_image *cimg = load(&r, "", r.cl.path[i]);
        for (size_t j = 0; cimg && j < ns && r.rc != EXIT_INTERRUPTED; j++) {
            if ((item + j) % nproc != rank || (b->style && !r.simg[j])) continue;
            char out[PATH_MAX], what[2 * PATH_MAX + 8];
            int cn, sn, len;
            const char *cs = stem(r.cl.path[i], &cn);
            if (b->style) {
                const char *ss = stem(r.sl.path[j], &sn);
                len = snprintf(out, sizeof out, "%s/%.*s_%.*s.png", b->outdir, cn, cs, sn, ss);
                snprintf(what, sizeof what, "%s with %s", r.cl.path[i], r.sl.path[j]);
            } else {
                len = snprintf(out, sizeof out, "%s/%s", b->outdir, base_name(r.cl.path[i]));
                snprintf(what, sizeof what, "%s", r.cl.path[i]);
            }
            if (len >= (int)sizeof out) {
                cli_error(b->cmd, 0, "skipping %s: the output path is too long", what);
                r.rc = 1;
                continue;
            }
            progress_item(b->progress, item + j, total, base_name(out));
            if (b->out_now) *b->out_now = out;
            make_one(&r, what, cimg, b->style ? r.simg[j] : NULL, out);
        }
        impasto_image_free(cimg);
        if (cli_interrupted()) r.rc = EXIT_INTERRUPTED;
    }
    progress_clear(b->progress);
    if (r.rc == EXIT_INTERRUPTED) cli_error(b->cmd, 0, "interrupted; the outputs written so far are kept");
    for (size_t j = 0; r.simg && j < ns; j++) impasto_image_free(r.simg[j]);
    free(r.simg);
    free(cdup);
    free(sdup);
    cli_inputs_free(&r.in);
    cli_list_free(&r.cl);
    cli_list_free(&r.sl);
    return r.rc;
}

int cli_one_or_folder_check(const char *cmd, const char *content, const char **output) {
    if (cli_is_dir(content)) {
        if (!*output) {
            cli_error(cmd, 1, "-c is a folder: give an output folder (-o DIR)");
            return EXIT_USAGE;
        }
        return cli_batch_check(cmd, content, NULL, *output);
    }
    if (!*output) *output = "out.png";
    return cli_output_format_ok(cmd, *output) ? 0 : EXIT_USAGE;
}

int cli_styles_check(const char *cmd, const char *content, const char *const *styles, int nstyles,
                     const char *mask, const double *weights, int nweights, const char *noun, const char **output,
                     int *folders) {
    const int nw = nweights;
    if (!content) { cli_error(cmd, 1, "no content image (-c FILE or folder)"); return EXIT_USAGE; }
    if (nstyles == 0) { cli_error(cmd, 1, "no style image (-s FILE or folder)"); return EXIT_USAGE; }
    int dirs = cli_is_dir(content);
    for (int i = 0; i < nstyles; i++) dirs |= cli_is_dir(styles[i]);
    *folders = dirs;
    if (dirs && mask) { cli_error(cmd, 1, "--mask takes one content file, not folders"); return EXIT_USAGE; }
    if (mask && nw) {
        cli_error(cmd, 1, "--mask gives each of the %s its own region: no --style-weights", noun);
        return EXIT_USAGE;
    }
    if (dirs && nstyles > 1) { cli_error(cmd, 1, "with folders, give one -s (a file or a folder)"); return EXIT_USAGE; }
    if (nw && nw != nstyles) {
        cli_error(cmd, 1, "--style-weights has %d values for %d %s", nw, nstyles, noun);
        return EXIT_USAGE;
    }
    double sum = 0;
    for (int i = 0; i < nw; i++) sum += weights[i];
    if (nw && !(sum > 0)) { cli_error(cmd, 1, "--style-weights sum to zero"); return EXIT_USAGE; }
    if (dirs) {
        if (!*output) { cli_error(cmd, 1, "-c or -s is a folder: give an output folder (-o DIR)"); return EXIT_USAGE; }
        return cli_batch_check(cmd, content, styles[0], *output);
    }
    if (!*output) *output = "out.png";
    return cli_output_format_ok(cmd, *output) ? 0 : EXIT_USAGE;
}

int cli_one_process(const char *cmd) {
    if (cluster_size() < 2) return 0;
    if (cluster_rank() == 0)
        cli_error(cmd, 1, "one picture is one process's work: give a folder (-c DIR or -s DIR) to share it over "
                  "%d processes", cluster_size());
    return EXIT_USAGE;
}

int cli_one_or_folder_run(impasto_ctx *ctx, const cli_batch *b) {
    if (cli_is_dir(b->content)) return cli_batch_run(ctx, b);
    if (cli_one_process(b->cmd)) return EXIT_USAGE;
    cli_inputs in = {0};
    int ok = cli_inputs_add(b->cmd, &in, b->content);
    for (int k = 0; ok && b->inputs && k < b->inputs->n; k++) ok = cli_inputs_add(b->cmd, &in, b->inputs->path[k]);
    int rc = !ok ? 1 : !cli_output_not_input(b->cmd, &in, b->outdir) ? EXIT_USAGE
                 : !cli_output_folder_ok(b->cmd, b->outdir)          ? 1 : 0;
    cli_inputs_free(&in);
    if (rc) return rc;
    impasto_image *img = NULL, *res = NULL;
    impasto_status s = impasto_image_load(ctx, b->content, &img);
    if (s == IMPASTO_OK && (s = b->fn(b->user, ctx, img, NULL, &res)) == IMPASTO_OK)
        s = impasto_image_save(ctx, res, b->outdir, 0);
    rc = cli_finish_one(b->cmd, ctx, b->progress, s, b->content, b->content, b->outdir, res);
    impasto_image_free(img);
    impasto_image_free(res);
    return rc;
}
