/* Files and folders on the command line: style lists, output checks, the inputs no output may
 * replace, and the one folder lister every command uses. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* A folder with more image files than this is refused rather than listed. */
#define CLI_MAX_FOLDER_FILES 1000000

int cli_add_styles(const char *arg, const char **styles, int *n, char **owned, int *nowned) {
    if (access(arg, F_OK) == 0 || !strchr(arg, ',')) {
        if (*n == CLI_MAX_STYLES) return 0;
        styles[(*n)++] = arg;
        return 1;
    }
    /* Every list kept adds at least one image, so nowned stays below CLI_MAX_STYLES too. */
    if (*n == CLI_MAX_STYLES) return 0;
    char *copy = strdup(arg);
    if (!copy) return 0;
    int before = *n;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == CLI_MAX_STYLES) {
            *n = before;
            free(copy);
            return 0;
        }
        styles[(*n)++] = tok;
    }
    if (*n == before) {
        free(copy);
        return -1;
    }
    owned[(*nowned)++] = copy;
    return 1;
}

int cli_has_image_ext(const char *name) {
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash ? slash + 1 : name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

int cli_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* An output whose format cannot be told from its name, or whose folder cannot be written, is
 * refused before any work: otherwise a long run would fail only at its very end. */
int cli_output_format_ok(const char *cmd, const char *output) {
    if (cli_has_image_ext(output)) return 1;
    cli_error(cmd, 1, "cannot tell the format of '%s' from its name (use .png, .jpg or .jpeg)", output);
    return 0;
}

void cli_parent_dir(const char *path, char *buf, size_t n) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(buf, n, ".");
    else snprintf(buf, n, "%.*s", slash == path ? 1 : (int)(slash - path), path);
}

void cli_sibling_path(const char *path, const char *suffix, char *buf, size_t n) {
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash)) dot = path + strlen(path);
    snprintf(buf, n, "%.*s%s", (int)(dot - path), path, suffix);
}

int cli_output_folder_ok(const char *cmd, const char *output) {
    char dir[PATH_MAX];
    cli_parent_dir(output, dir, sizeof dir);
    if (access(dir, W_OK) == 0) return 1;
    cli_error(cmd, 0, "cannot write %s: the folder %s is missing or not writable", output, dir);
    return 0;
}

int cli_model_output_ok(const char *cmd, const char *output) {
    size_t n = strlen(output), k = strlen(".safetensors");
    if (n > k && !strcasecmp(output + n - k, ".safetensors")) return 1;
    cli_error(cmd, 1, "the output is a model: name it FILE.safetensors, got '%s'", output);
    return 0;
}

int cli_inputs_add(const char *cmd, cli_inputs *in, const char *path) {
    struct stat st;
    if (!path || stat(path, &st) != 0) return 1;
    if (in->n == in->cap) {
        int cap = in->cap ? in->cap * 2 : 16;
        dev_t *d = realloc(in->dev, (size_t)cap * sizeof *d);
        if (d) in->dev = d;
        ino_t *i = realloc(in->ino, (size_t)cap * sizeof *i);
        if (i) in->ino = i;
        const char **p = realloc(in->path, (size_t)cap * sizeof *p);
        if (p) in->path = p;
        if (!d || !i || !p) {
            cli_error(cmd, 0, "out of memory");
            return 0;
        }
        in->cap = cap;
    }
    in->dev[in->n] = st.st_dev;
    in->ino[in->n] = st.st_ino;
    in->path[in->n] = path;
    in->n++;
    return 1;
}

void cli_inputs_free(cli_inputs *in) {
    free(in->dev);
    free(in->ino);
    free(in->path);
    memset(in, 0, sizeof *in);
}

int cli_output_not_input(const char *cmd, const cli_inputs *in, const char *output) {
    struct stat st;
    if (stat(output, &st) != 0) return 1;
    for (int i = 0; i < in->n; i++)
        if (in->dev[i] == st.st_dev && in->ino[i] == st.st_ino) {
            if (!strcmp(in->path[i], output))
                cli_error(cmd, 1, "the output %s is also an input: it would be overwritten (choose another -o)", output);
            else
                cli_error(cmd, 1, "the output %s is the input %s (the same file): it would be overwritten (choose "
                          "another -o)", output, in->path[i]);
            return 0;
        }
    return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void cli_list_free(cli_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->path[i]);
    free(l->path);
    memset(l, 0, sizeof *l);
}

int cli_list_images(const char *cmd, const char *arg, cli_list *out) {
    memset(out, 0, sizeof *out);
    if (!cli_is_dir(arg)) {
        if (!(out->path = malloc(sizeof *out->path)) || !(out->path[0] = strdup(arg))) {
            free(out->path);
            out->path = NULL;
            cli_error(cmd, 0, "out of memory");
            return 1;
        }
        out->n = 1;
        return 0;
    }
    DIR *d = opendir(arg);
    if (!d) {
        cli_error(cmd, 0, "cannot open the folder %s: %s", arg, strerror(errno));
        return 1;
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !cli_has_image_ext(e->d_name)) continue;
        size_t len = strlen(arg) + strlen(e->d_name) + 2;
        char *p = malloc(len);
        if (!p) {
            cli_error(cmd, 0, "out of memory");
            rc = 1;
            break;
        }
        snprintf(p, len, "%s/%s", arg, e->d_name);
        /* stat, not open: opening a FIFO for reading would wait for a writer forever. */
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            cli_error(cmd, 0, "skipping %s: not a regular file", p);
            out->skipped++;
            free(p);
            continue;
        }
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **q = nc <= CLI_MAX_FOLDER_FILES ? realloc(out->path, nc * sizeof *q) : NULL;
            if (!q) {
                cli_error(cmd, 0, "%s: too many files (at most %d) or out of memory", arg, CLI_MAX_FOLDER_FILES);
                free(p);
                rc = 1;
                break;
            }
            out->path = q;
            cap = nc;
        }
        out->path[out->n++] = p;
    }
    closedir(d);
    if (rc == 0 && out->n == 0) {
        cli_error(cmd, 0, "no .png, .jpg or .jpeg files in %s", arg);
        rc = 1;
    }
    if (rc == 0) qsort(out->path, out->n, sizeof *out->path, cmp_str);
    else cli_list_free(out);
    return rc;
}
