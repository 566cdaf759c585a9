/* Content x style pairs for the one-pass methods (adain, wct): -c and -s each a file or a folder,
 * one output per pair into the -o folder as <content>_<style>.png (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <dirent.h>

#define MAX_FOLDER_FILES 100000

int cli_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct path_list {
    char **p;  /* full paths, sorted */
    size_t n;
} path_list;

static void list_free(path_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->p[i]);
    free(l->p);
}

/* A file is a one-entry list; a folder lists its .png/.jpg/.jpeg files (not hidden ones), sorted
 * so runs are repeatable. Returns 0, or 1 after printing why not. */
static int list_images(const char *cmd, const char *arg, path_list *out) {
    memset(out, 0, sizeof *out);
    if (!cli_is_dir(arg)) {
        if (!(out->p = malloc(sizeof *out->p)) || !(out->p[0] = strdup(arg))) {
            free(out->p);
            out->p = NULL;
            cli_error(cmd, 0, "out of memory");
            return 1;
        }
        out->n = 1;
        return 0;
    }
    DIR *d = opendir(arg);
    if (!d) {
        cli_error(cmd, 0, "cannot open folder %s: %s", arg, strerror(errno));
        return 1;
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !has_image_ext(e->d_name)) continue;
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **q = nc <= MAX_FOLDER_FILES ? realloc(out->p, nc * sizeof *q) : NULL;
            if (!q) {
                cli_error(cmd, 0, "%s: too many files (at most %d) or out of memory", arg, MAX_FOLDER_FILES);
                rc = 1;
                break;
            }
            out->p = q;
            cap = nc;
        }
        size_t len = strlen(arg) + strlen(e->d_name) + 2;
        if (!(out->p[out->n] = malloc(len))) {
            cli_error(cmd, 0, "out of memory");
            rc = 1;
            break;
        }
        snprintf(out->p[out->n], len, "%s/%s", arg, e->d_name);
        out->n++;
    }
    closedir(d);
    if (rc == 0 && out->n == 0) {
        cli_error(cmd, 0, "no .png, .jpg or .jpeg files in %s", arg);
        rc = 1;
    }
    if (rc == 0) qsort(out->p, out->n, sizeof *out->p, cmp_str);
    else list_free(out);
    return rc;
}

/* The file name of path without its folder and last extension, as a length into path. */
static const char *stem(const char *path, int *len) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    *len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    return base;
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
static int find_duplicates(const path_list *l, unsigned char *dup) {
    stem_ref *r = malloc(l->n * sizeof *r);
    if (!r) return 1;
    for (size_t i = 0; i < l->n; i++) {
        r[i].s = stem(l->p[i], &r[i].len);
        r[i].i = i;
        dup[i] = 0;
    }
    qsort(r, l->n, sizeof *r, cmp_stem);
    for (size_t k = 1; k < l->n; k++)
        if (r[k].len == r[k - 1].len && !strncmp(r[k].s, r[k - 1].s, (size_t)r[k].len)) dup[r[k].i] = 1;
    free(r);
    return 0;
}

int cli_pairs_prepare(const char *cmd, const char *content, const char *style, const char *outdir) {
    if (!cli_is_dir(outdir) && mkdir(outdir, 0777) != 0) {
        cli_error(cmd, 0, "cannot make the output folder %s: %s", outdir, strerror(errno));
        return 1;
    }
    char o[PATH_MAX], in[PATH_MAX];
    if (!realpath(outdir, o)) {
        cli_error(cmd, 0, "cannot resolve the output folder %s: %s", outdir, strerror(errno));
        return 1;
    }
    const char *ins[2] = {content, style};
    for (int i = 0; i < 2; i++)
        if (cli_is_dir(ins[i]) && realpath(ins[i], in) && !strcmp(in, o)) {
            cli_error(cmd, 1, "the output folder is the %s folder: outputs are never written among the inputs",
                      i ? "style" : "content");
            return EXIT_USAGE;
        }
    return 0;
}

int cli_pairs_run(const char *cmd, impasto_ctx *ctx, const char *content, const char *style, const char *outdir,
                  cli_pair_fn fn, void *user, int verbose) {
    path_list cl, sl;
    if (list_images(cmd, content, &cl)) return 1;
    if (list_images(cmd, style, &sl)) {
        list_free(&cl);
        return 1;
    }
    int rc = 0;
    /* Styles are read once; a bad one is reported and every pair with it skipped. Inputs whose
     * names differ only in the extension would share outputs: all but the first are skipped. */
    impasto_image **simg = calloc(sl.n, sizeof *simg);
    unsigned char *cdup = malloc(cl.n), *sdup = malloc(sl.n);
    if (!simg || !cdup || !sdup || find_duplicates(&cl, cdup) || find_duplicates(&sl, sdup)) {
        cli_error(cmd, 0, "out of memory");
        free(simg);
        simg = NULL;
        rc = 1;
    }
    for (size_t j = 0; simg && j < sl.n; j++)
        if (sdup[j]) {
            cli_error(cmd, 0, "skipping style %s: another style has the same name before its extension", sl.p[j]);
            rc = 1;
        } else if (impasto_image_load(ctx, sl.p[j], &simg[j]) != IMPASTO_OK) {
            cli_error(cmd, 0, "skipping style %s: %s", sl.p[j], impasto_ctx_error(ctx));
            rc = 1;
        }
    for (size_t i = 0; simg && i < cl.n; i++) {
        impasto_image *cimg = NULL;
        if (cdup[i]) {
            cli_error(cmd, 0, "skipping content %s: another content has the same name before its extension", cl.p[i]);
            rc = 1;
            continue;
        }
        if (impasto_image_load(ctx, cl.p[i], &cimg) != IMPASTO_OK) {
            cli_error(cmd, 0, "skipping content %s: %s", cl.p[i], impasto_ctx_error(ctx));
            rc = 1;
            continue;
        }
        for (size_t j = 0; j < sl.n; j++) {
            if (!simg[j]) continue;
            int cn, sn;
            const char *cs = stem(cl.p[i], &cn), *ss = stem(sl.p[j], &sn);
            char out[PATH_MAX];
            if (snprintf(out, sizeof out, "%s/%.*s_%.*s.png", outdir, cn, cs, sn, ss) >= (int)sizeof out) {
                cli_error(cmd, 0, "skipping %s with %s: output path too long", cl.p[i], sl.p[j]);
                rc = 1;
                continue;
            }
            impasto_image *res = NULL;
            if (fn(user, ctx, cimg, simg[j], &res) != IMPASTO_OK ||
                impasto_image_save(ctx, res, out, 0) != IMPASTO_OK) {
                cli_error(cmd, 0, "skipping %s with %s: %s", cl.p[i], sl.p[j], impasto_ctx_error(ctx));
                rc = 1;
            } else if (verbose) {
                printf("wrote %s\n", out);
            }
            impasto_image_free(res);
        }
        impasto_image_free(cimg);
    }
    for (size_t j = 0; simg && j < sl.n; j++) impasto_image_free(simg[j]);
    free(simg);
    free(cdup);
    free(sdup);
    list_free(&cl);
    list_free(&sl);
    return rc;
}
