/* impasto train: trains a fast style network (Johnson et al. 2016) on a folder of photos, with
 * the PyTorch examples' fast_neural_style `train` options and defaults (kebab-case). Ctrl-C
 * writes a checkpoint and exits 130; --resume continues from one. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *CMD = "train";

#define MAX_PHOTOS 1000000

static void usage(FILE *f) {
    fputs("usage: impasto train -s STYLE -d PHOTOS/ -o MODEL.safetensors [options]\n"
          "\n"
          "Trains a fast style network (Johnson et al. 2016, the PyTorch examples' fast_neural_style)\n"
          "to repaint photos in the style of STYLE, on every PNG/JPEG in the folder PHOTOS\n"
          "(`make train-data` assembles one). The result runs with `impasto fast -m MODEL`.\n"
          "\n"
          "  -s, --style FILE            the style image\n"
          "  -d, --data DIR              the training photos\n"
          "  -o, --output FILE           the trained model (.safetensors)\n"
          "  -m, --model FILE            converted VGG-19 (default models/vgg19.safetensors)\n"
          "      --content-weight W      (1e5)\n"
          "      --style-weight W        (1e10)\n"
          "      --content-layers L,...  (relu2_2)\n"
          "      --style-layers L,...    (relu1_2,relu2_2,relu3_3,relu4_3)\n"
          "      --lr R                  Adam's learning rate (1e-3)\n"
          "      --batch-size N          (4)\n"
          "      --image-size N          training crops, a multiple of 4 (256)\n"
          "      --style-size N          longer side of the style image (as given)\n"
          "      --epochs N              passes over the photos (2)\n"
          "      --steps N               stop after N steps in all instead\n"
          "      --checkpoint-every N    write a checkpoint every N steps (0: only on Ctrl-C)\n"
          "      --checkpoint-dir DIR    where checkpoints go (the output's folder)\n"
          "      --resume CKPT           continue from a checkpoint\n"
          "      --preview-every N       save OUT_preview_<step>.png every N steps (0: never)\n"
          "      --preview-image FILE    the photo to preview (the first training photo)\n"
          "      --seed N                initialisation, order and crops (42)\n"
          "      --print-every N         log a line every N steps (10 on a terminal, 0 when piped)\n"
          "      --threads N             worker threads (all cores)\n"
          "  -q, --quiet                 no progress display\n"
          "  -h, --help\n",
          f);
}

enum {
    O_CONTENT_WEIGHT = 256, O_STYLE_WEIGHT, O_CONTENT_LAYERS, O_STYLE_LAYERS, O_LR, O_BATCH, O_IMAGE_SIZE,
    O_STYLE_SIZE, O_EPOCHS, O_STEPS, O_CKPT_EVERY, O_CKPT_DIR, O_RESUME, O_PREVIEW_EVERY, O_PREVIEW_IMAGE,
    O_SEED, O_PRINT_EVERY, O_THREADS
};

static const struct option LONG_OPTS[] = {
    {"style", required_argument, 0, 's'},
    {"data", required_argument, 0, 'd'},
    {"output", required_argument, 0, 'o'},
    {"model", required_argument, 0, 'm'},
    {"quiet", no_argument, 0, 'q'},
    {"help", no_argument, 0, 'h'},
    {"content-weight", required_argument, 0, O_CONTENT_WEIGHT},
    {"style-weight", required_argument, 0, O_STYLE_WEIGHT},
    {"content-layers", required_argument, 0, O_CONTENT_LAYERS},
    {"style-layers", required_argument, 0, O_STYLE_LAYERS},
    {"lr", required_argument, 0, O_LR},
    {"batch-size", required_argument, 0, O_BATCH},
    {"image-size", required_argument, 0, O_IMAGE_SIZE},
    {"style-size", required_argument, 0, O_STYLE_SIZE},
    {"epochs", required_argument, 0, O_EPOCHS},
    {"steps", required_argument, 0, O_STEPS},
    {"checkpoint-every", required_argument, 0, O_CKPT_EVERY},
    {"checkpoint-dir", required_argument, 0, O_CKPT_DIR},
    {"resume", required_argument, 0, O_RESUME},
    {"preview-every", required_argument, 0, O_PREVIEW_EVERY},
    {"preview-image", required_argument, 0, O_PREVIEW_IMAGE},
    {"seed", required_argument, 0, O_SEED},
    {"print-every", required_argument, 0, O_PRINT_EVERY},
    {"threads", required_argument, 0, O_THREADS},
    {0, 0, 0, 0}};

/* Ctrl-C asks the run to stop after the current step (and write a checkpoint); a second kills. */
static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
    interrupted = 1;
    signal(sig, SIG_DFL);
}

typedef struct run_state {
    impasto_ctx *ctx;
    const char *output;
    int live, print_every, line_open, preview_failed;
    double last_draw;
    long first_step;      /* the step the run started from (resumed runs start later) */
} run_state;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void clear_line(run_state *rs) {
    if (!rs->line_open) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    rs->line_open = 0;
}

/* "out/mystyle.safetensors" + 100 -> "out/mystyle_preview_100.png". */
static void preview_path(const char *output, long step, char *buf, size_t n) {
    const char *slash = strrchr(output, '/'), *dot = strrchr(output, '.');
    if (!dot || (slash && dot < slash)) dot = output + strlen(output);
    snprintf(buf, n, "%.*s_preview_%ld.png", (int)(dot - output), output, step);
}

static int on_progress(const impasto_train_progress *p, void *user) {
    run_state *rs = user;
    if (rs->first_step < 0) rs->first_step = p->step - 1;
    if (p->preview) {
        char path[PATH_MAX];
        preview_path(rs->output, p->step, path, sizeof path);
        if (impasto_image_save(rs->ctx, p->preview, path, 0) != IMPASTO_OK && !rs->preview_failed) {
            clear_line(rs);
            cli_error(CMD, 0, "warning: %s", impasto_ctx_error(rs->ctx));
            rs->preview_failed = 1;
        }
    }
    const long done = p->step - rs->first_step;
    const double per_step = done > 0 ? p->seconds / (double)done : 0;
    if (rs->print_every > 0 && (p->step % rs->print_every == 0 || p->step == p->num_steps)) {
        clear_line(rs);
        printf("step %ld/%ld  epoch %d  loss %.6g  content %.6g  style %.6g  %.2fs/step%s%s\n", p->step, p->num_steps,
               p->epoch + 1, p->loss, p->content_loss, p->style_loss, per_step, p->checkpoint ? "  checkpoint " : "",
               p->checkpoint ? p->checkpoint : "");
        fflush(stdout);
    }
    double t = now();
    if (rs->live && (t - rs->last_draw >= 0.1 || p->step == p->num_steps)) {
        char el[32], eta[32];
        cli_format_duration(p->seconds, el, sizeof el);
        cli_format_duration(per_step * (double)(p->num_steps - p->step), eta, sizeof eta);
        fprintf(stderr, "\r\033[Kstep %ld/%ld  epoch %d  loss %.4g (content %.3g style %.3g)  %.2fs/step  %s  ETA %s",
                p->step, p->num_steps, p->epoch + 1, p->loss, p->content_loss, p->style_loss, per_step, el, eta);
        fflush(stderr);
        rs->line_open = 1;
        rs->last_draw = t;
    }
    return interrupted != 0;
}

static int has_image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every PNG/JPEG of dir as "dir/name", sorted (so runs repeat). Returns the count, or -1 after
 * reporting an error; *out is malloc'd (free each and the array). */
static long list_photos(const char *dir, char ***out) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) {
        cli_error(CMD, 0, "cannot open the photo folder %s: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    long n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !has_image_ext(e->d_name)) continue;
        if (n == cap) {
            long nc = cap ? cap * 2 : 64;
            char **q = nc <= MAX_PHOTOS ? realloc(names, (size_t)nc * sizeof *q) : NULL;
            if (!q) break;
            names = q;
            cap = nc;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(len))) break;
        snprintf(names[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    int failed = e != NULL;
    closedir(d);
    if (failed) cli_error(CMD, 0, "%s: too many files (at most %d) or out of memory", dir, MAX_PHOTOS);
    else if (n == 0) cli_error(CMD, 0, "no .png, .jpg or .jpeg files in %s", dir);
    if (failed || n == 0) {
        for (long i = 0; i < n; i++) free(names[i]);
        free(names);
        return -1;
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    *out = names;
    return n;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcasecmp(s + a - b, suffix);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cmd_train(int argc, char **argv) {
    impasto_train_options opt;
    impasto_train_options_init(&opt);
    const char *style_path = NULL, *data = NULL, *output = NULL, *model_arg = NULL, *preview_image = NULL;
    const char *ckpt_dir = NULL;
    int quiet = 0, print_every = -1, c;
    long l, threads = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:d:o:m:qh", LONG_OPTS, NULL)) != -1) {
        switch (c) {
        case 's': style_path = optarg; break;
        case 'd': data = optarg; break;
        case 'o': output = optarg; break;
        case 'm': model_arg = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case O_CONTENT_WEIGHT: if (!cli_parse_double(CMD, "--content-weight", optarg, 0, 1e20, &opt.content_weight)) return EXIT_USAGE; break;
        case O_STYLE_WEIGHT: if (!cli_parse_double(CMD, "--style-weight", optarg, 0, 1e20, &opt.style_weight)) return EXIT_USAGE; break;
        case O_CONTENT_LAYERS: opt.content_layers = optarg; break;
        case O_STYLE_LAYERS: opt.style_layers = optarg; break;
        case O_LR: if (!cli_parse_double(CMD, "--lr", optarg, 1e-12, 100, &opt.learning_rate)) return EXIT_USAGE; break;
        case O_BATCH: if (!cli_parse_int(CMD, "--batch-size", optarg, 1, 1024, &l)) return EXIT_USAGE; opt.batch_size = (int)l; break;
        case O_IMAGE_SIZE:
            if (!cli_parse_int(CMD, "--image-size", optarg, 16, 4096, &l)) return EXIT_USAGE;
            if (l % 4) { cli_error(CMD, 1, "--image-size must be a multiple of 4, got %ld", l); return EXIT_USAGE; }
            opt.image_size = (int)l;
            break;
        case O_STYLE_SIZE: if (!cli_parse_int(CMD, "--style-size", optarg, 0, 8192, &l)) return EXIT_USAGE; opt.style_size = (int)l; break;
        case O_EPOCHS: if (!cli_parse_int(CMD, "--epochs", optarg, 1, 1000000, &l)) return EXIT_USAGE; opt.epochs = (int)l; break;
        case O_STEPS: if (!cli_parse_int(CMD, "--steps", optarg, 1, 1000000000, &l)) return EXIT_USAGE; opt.steps = l; break;
        case O_CKPT_EVERY: if (!cli_parse_int(CMD, "--checkpoint-every", optarg, 0, 1000000000, &l)) return EXIT_USAGE; opt.checkpoint_every = (int)l; break;
        case O_CKPT_DIR: ckpt_dir = optarg; break;
        case O_RESUME: opt.resume = optarg; break;
        case O_PREVIEW_EVERY: if (!cli_parse_int(CMD, "--preview-every", optarg, 0, 1000000000, &l)) return EXIT_USAGE; opt.preview_every = (int)l; break;
        case O_PREVIEW_IMAGE: preview_image = optarg; break;
        case O_SEED: if (!cli_parse_int(CMD, "--seed", optarg, 0, 0x7fffffffL, &l)) return EXIT_USAGE; opt.seed = (uint64_t)l; break;
        case O_PRINT_EVERY: if (!cli_parse_int(CMD, "--print-every", optarg, 0, 1000000000, &l)) return EXIT_USAGE; print_every = (int)l; break;
        case O_THREADS: if (!cli_parse_int(CMD, "--threads", optarg, 0, 1024, &threads)) return EXIT_USAGE; break;
        case ':': cli_error(CMD, 1, "%s needs a value", argv[optind - 1]); return EXIT_USAGE;
        default: cli_error(CMD, 1, "unknown option '%s'", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (optind < argc) { cli_error(CMD, 1, "unexpected argument '%s'", argv[optind]); return EXIT_USAGE; }
    if (!style_path) { cli_error(CMD, 1, "no style image (-s FILE)"); return EXIT_USAGE; }
    if (!data) { cli_error(CMD, 1, "no photo folder (-d DIR; `make train-data` makes one)"); return EXIT_USAGE; }
    if (!output) { cli_error(CMD, 1, "no output model (-o FILE.safetensors)"); return EXIT_USAGE; }
    if (!ends_with(output, ".safetensors")) {
        cli_error(CMD, 1, "the output is a model: name it FILE.safetensors, got '%s'", output);
        return EXIT_USAGE;
    }
    /* Checkpoints go beside the output unless told: Ctrl-C always has somewhere to write. */
    char outdir[PATH_MAX];
    const char *slash = strrchr(output, '/');
    if (!slash) snprintf(outdir, sizeof outdir, ".");
    else snprintf(outdir, sizeof outdir, "%.*s", slash == output ? 1 : (int)(slash - output), output);
    if (!ckpt_dir) ckpt_dir = outdir;
    if (access(outdir, W_OK) != 0) {
        cli_error(CMD, 0, "cannot write %s: the folder %s is missing or not writable", output, outdir);
        return 1;
    }
    if (!is_dir(ckpt_dir) && mkdir(ckpt_dir, 0777) != 0) {
        cli_error(CMD, 0, "cannot make the checkpoint folder %s: %s", ckpt_dir, strerror(errno));
        return 1;
    }
    opt.checkpoint_dir = ckpt_dir;

    char **photos = NULL;
    long nphotos = list_photos(data, &photos);
    if (nphotos < 0) return 1;
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_model *vgg = NULL;
    impasto_image *style = NULL, *preview = NULL;
    int rc = 1;
    if (!ctx) { cli_error(CMD, 0, "out of memory"); goto cleanup; }
    impasto_ctx_set_threads(ctx, (int)threads);
    if (impasto_image_load(ctx, style_path, &style) != IMPASTO_OK ||
        (preview_image && impasto_image_load(ctx, preview_image, &preview) != IMPASTO_OK)) {
        cli_error(CMD, 0, "%s", impasto_ctx_error(ctx));
        goto cleanup;
    }
    const char *model_path = cli_find_model(model_arg, "vgg19.safetensors", argv[0]);
    if (impasto_model_load(ctx, model_path, &vgg) != IMPASTO_OK) {
        cli_error(CMD, 0, "%s%s", impasto_ctx_error(ctx),
                  model_arg ? "" : " (run 'make models', or give --model; docs/models.md says where to get VGG-19)");
        goto cleanup;
    }
    /* The style's name: its file name without folder or extension. */
    char name[128];
    const char *base = strrchr(style_path, '/');
    base = base ? base + 1 : style_path;
    snprintf(name, sizeof name, "%.*s", (int)(strchr(base, '.') ? strchr(base, '.') - base : (long)strlen(base)), base);
    opt.style_name = name;
    opt.preview_image = preview;

    run_state rs = {.ctx = ctx, .output = output, .first_step = -1};
    rs.live = !quiet && isatty(STDERR_FILENO);
    rs.print_every = quiet ? 0 : print_every >= 0 ? print_every : (isatty(STDOUT_FILENO) ? 10 : 0);
    opt.progress = on_progress;
    opt.progress_user = &rs;
    interrupted = 0;
    signal(SIGINT, on_sigint);
    impasto_status s = impasto_train(ctx, vgg, style, (const char *const *)photos, (size_t)nphotos, &opt, output);
    signal(SIGINT, SIG_DFL);
    clear_line(&rs);
    if (s == IMPASTO_ERR_CANCELLED) {
        cli_error(CMD, 0, "interrupted: %s", impasto_ctx_error(ctx));
        rc = EXIT_INTERRUPTED;
    } else if (s != IMPASTO_OK) {
        cli_error(CMD, 0, "%s", impasto_ctx_error(ctx));
    } else {
        if (!quiet && isatty(STDOUT_FILENO)) printf("wrote %s\n", output);
        rc = 0;
    }

cleanup:
    for (long i = 0; i < nphotos; i++) free(photos[i]);
    free(photos);
    impasto_image_free(style);
    impasto_image_free(preview);
    impasto_model_free(vgg);
    impasto_ctx_free(ctx);
    return rc;
}
