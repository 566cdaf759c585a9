/* impasto fast: one forward pass of a pretrained fast style network (Johnson et al. 2016) over a
 * photo, or over every PNG/JPEG in a folder (one output per input, same file name), as the PyTorch
 * examples' `neural_style.py eval` with its --content-scale. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *CMD = "fast";

#define MAX_FOLDER_FILES 100000

static void usage(FILE *f) {
    fputs("usage: impasto fast -m MODEL -c CONTENT -o OUT [options]\n"
          "\n"
          "Repaints CONTENT with a pretrained fast style network (Johnson et al. 2016; convert one with\n"
          "`impasto convert ncnn-transformernet`, or `make models`). CONTENT may be a folder: then every\n"
          "PNG and JPEG in it is repainted into the folder OUT under the same file name.\n"
          "\n"
          "  -m, --model FILE|NAME       converted network (.safetensors), or a name such as 'candy'\n"
          "                              for models/candy.safetensors\n"
          "  -c, --content FILE|DIR      photo (PNG or JPEG; alpha is carried to the output), or a folder\n"
          "  -o, --output FILE|DIR       result, .png or .jpg (default out.png); a folder for a folder\n"
          "      --content-scale F       shrink the content by F first (1: full size)\n"
          "      --threads N             worker threads (all cores)\n"
          "  -q, --quiet                 say nothing on success\n"
          "  -h, --help\n",
          f);
}

static int has_image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* -m NAME without a slash or extension names models/NAME.safetensors (cli_find_model's places). */
static const char *resolve_model(const char *arg, const char *argv0) {
    if (strchr(arg, '/') || strchr(arg, '.') || access(arg, F_OK) == 0) return arg;
    char name[256];
    snprintf(name, sizeof name, "%s.safetensors", arg);
    return cli_find_model(NULL, name, argv0);
}

static int stylize_one(impasto_ctx *ctx, impasto_fast_model *m, const impasto_fast_options *opt,
                       const char *in, const char *out, int verbose) {
    impasto_image *img = NULL, *res = NULL;
    int ok = impasto_image_load(ctx, in, &img) == IMPASTO_OK &&
             impasto_fast_stylize(ctx, m, img, opt, &res) == IMPASTO_OK &&
             impasto_image_save(ctx, res, out, 0) == IMPASTO_OK;
    if (!ok) cli_error(CMD, 0, "%s: %s", in, impasto_ctx_error(ctx));
    else if (verbose) printf("wrote %s\n", out);
    impasto_image_free(img);
    impasto_image_free(res);
    return ok;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every image file of `dir` (sorted, so runs are repeatable) into `outdir`. */
static int stylize_folder(impasto_ctx *ctx, impasto_fast_model *m, const impasto_fast_options *opt,
                          const char *dir, const char *outdir, int verbose) {
    DIR *d = opendir(dir);
    if (!d) {
        cli_error(CMD, 0, "cannot open folder %s: %s", dir, strerror(errno));
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !has_image_ext(e->d_name)) continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **q = nc <= MAX_FOLDER_FILES ? realloc(names, nc * sizeof *q) : NULL;
            if (!q) {
                cli_error(CMD, 0, "%s: too many files (at most %d) or out of memory", dir, MAX_FOLDER_FILES);
                rc = 1;
                break;
            }
            names = q;
            cap = nc;
        }
        if (!(names[n] = strdup(e->d_name))) {
            cli_error(CMD, 0, "out of memory");
            rc = 1;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0 && n == 0) {
        cli_error(CMD, 0, "no .png, .jpg or .jpeg files in %s", dir);
        rc = 1;
    }
    if (rc == 0) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char in[PATH_MAX], out[PATH_MAX];
        if (snprintf(in, sizeof in, "%s/%s", dir, names[i]) >= (int)sizeof in ||
            snprintf(out, sizeof out, "%s/%s", outdir, names[i]) >= (int)sizeof out) {
            cli_error(CMD, 0, "path too long: %s/%s", dir, names[i]);
            continue;
        }
        /* A bad image is reported and skipped; the others are still made. */
        if (!stylize_one(ctx, m, opt, in, out, verbose)) rc = -1;
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc != 0;
}

int cmd_fast(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"content", required_argument, 0, 'c'},
        {"output", required_argument, 0, 'o'},  {"content-scale", required_argument, 0, 'S'},
        {"threads", required_argument, 0, 'T'}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *model_arg = NULL, *content = NULL, *output = NULL;
    impasto_fast_options opt;
    impasto_fast_options_init(&opt);
    long threads = 0;
    int quiet = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:c:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_arg = optarg; break;
        case 'c': content = optarg; break;
        case 'o': output = optarg; break;
        case 'q': quiet = 1; break;
        case 'S': if (!cli_parse_double(CMD, "--content-scale", optarg, 1e-3, 1e3, &opt.content_scale)) return EXIT_USAGE; break;
        case 'T': if (!cli_parse_int(CMD, "--threads", optarg, 0, 1024, &threads)) return EXIT_USAGE; break;
        case 'h': usage(stdout); return 0;
        case ':': cli_error(CMD, 1, "%s needs a value", argv[optind - 1]); return EXIT_USAGE;
        default: cli_error(CMD, 1, "unknown option '%s'", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (optind < argc) { cli_error(CMD, 1, "unexpected argument '%s'", argv[optind]); return EXIT_USAGE; }
    if (!model_arg) { cli_error(CMD, 1, "no model (-m FILE, e.g. models/candy.safetensors)"); return EXIT_USAGE; }
    if (!content) { cli_error(CMD, 1, "no content image (-c FILE or folder)"); return EXIT_USAGE; }
    const int folder = is_dir(content);
    if (!output) output = folder ? NULL : "out.png";
    if (!output) { cli_error(CMD, 1, "-c is a folder: give an output folder (-o DIR)"); return EXIT_USAGE; }
    if (folder) {
        if (!is_dir(output) && mkdir(output, 0777) != 0) {
            cli_error(CMD, 0, "cannot make the output folder %s: %s", output, strerror(errno));
            return 1;
        }
        char a[PATH_MAX], b[PATH_MAX];
        if (realpath(content, a) && realpath(output, b) && !strcmp(a, b)) {
            cli_error(CMD, 1, "the output folder is the content folder: the photos would be overwritten");
            return EXIT_USAGE;
        }
    } else if (!has_image_ext(output)) {
        cli_error(CMD, 1, "cannot tell the format of '%s' from its name (use .png, .jpg or .jpeg)", output);
        return EXIT_USAGE;
    }

    impasto_ctx *ctx = impasto_ctx_create();
    if (!ctx) { cli_error(CMD, 0, "out of memory"); return 1; }
    impasto_ctx_set_threads(ctx, (int)threads);
    impasto_fast_model *m = NULL;
    int rc = 1;
    const char *model_path = resolve_model(model_arg, argv[0]);
    if (impasto_fast_load(ctx, model_path, &m) != IMPASTO_OK) {
        cli_error(CMD, 0, "%s (run 'make models', or see docs/models.md)", impasto_ctx_error(ctx));
    } else {
        int verbose = !quiet && isatty(STDOUT_FILENO);
        rc = folder ? stylize_folder(ctx, m, &opt, content, output, verbose)
                    : !stylize_one(ctx, m, &opt, content, output, verbose);
    }
    impasto_fast_free(m);
    impasto_ctx_free(ctx);
    return rc;
}
