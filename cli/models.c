/* Where models are found (cli.h lists the places) and what to say when one is not. */
#include "opts.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PLACES 5
#define MAX_FOUND 64

typedef struct place {
    char dir[PATH_MAX];
    char label[PATH_MAX + 64];  /* how the error names it */
} place;

/* The search folders in order (cli.h); a folder that is not set is still named, so the user
 * sees what could have been used. Returns the count. */
static int model_places(place *p) {
    int n = 0;
    const char *env = getenv("IMPASTO_MODEL_DIR");
    if (env && *env) {
        snprintf(p[n].dir, sizeof p[n].dir, "%s", env);
        snprintf(p[n].label, sizeof p[n].label, "$IMPASTO_MODEL_DIR=%s%s", env, cli_is_dir(env) ? "" : " (not a folder)");
        n++;
    }
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) snprintf(p[n].dir, sizeof p[n].dir, "%s/impasto/models", xdg);
    else if (home && *home) snprintf(p[n].dir, sizeof p[n].dir, "%s/.local/share/impasto/models", home);
    if (p[n].dir[0]) {
        snprintf(p[n].label, sizeof p[n].label, "%s", p[n].dir);
        n++;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char bindir[PATH_MAX] = "";
    if (len > 0) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(bindir, sizeof bindir, "%s", exe);
        }
    }
    if (bindir[0]) {
        snprintf(p[n].dir, sizeof p[n].dir, "%s/../share/impasto/models", bindir);
        if (!realpath(p[n].dir, p[n].label)) snprintf(p[n].label, sizeof p[n].label, "%s", p[n].dir);
        n++;
    }
    snprintf(p[n].dir, sizeof p[n].dir, "models");
    snprintf(p[n].label, sizeof p[n].label, "./models");
    n++;
    if (bindir[0]) {
        snprintf(p[n].dir, sizeof p[n].dir, "%s/../models", bindir);
        if (!realpath(p[n].dir, p[n].label)) snprintf(p[n].label, sizeof p[n].label, "%s", p[n].dir);
        /* Run from the source tree, this is ./models again: search and list it once. */
        char a[PATH_MAX], b[PATH_MAX];
        if (!(realpath(p[n].dir, a) && realpath("models", b) && !strcmp(a, b))) n++;
    }
    return n;
}

/* Lower case, '-' as '_': "Rain-Princess" and "rain_princess" are the same name to a user. */
static void normalise(const char *s, char *out, size_t n) {
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++) out[i] = s[i] == '-' ? '_' : (char)tolower((unsigned char)s[i]);
    out[i] = 0;
}

/* Levenshtein distance, for "did you mean". */
static int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 1000;
    int row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

static int cmp_name(const void *a, const void *b) { return strcmp(a, b); }
static int cmp_str_ptr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The networks a user can name: every NAME.safetensors in the places, except the encoders that
 * are not fast networks, each name once. */
static int list_networks(const place *pl, int np, char found[][128]) {
    static const char *not_fast[] = {"vgg19", "adain", "lst-r31"};
    int n = 0;
    for (int i = 0; i < np; i++) {
        DIR *d = opendir(pl[i].dir);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL && n < MAX_FOUND) {
            size_t len = strlen(e->d_name), k = strlen(".safetensors");
            if (e->d_name[0] == '.' || len <= k || len - k >= 128 || strcmp(e->d_name + len - k, ".safetensors")) continue;
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(len - k), e->d_name);
            /* training checkpoints (train's, gan train's) are not networks to pick */
            int skip = !strncmp(name, "ckpt_step_", 10) || !strncmp(name, "gan_step_", 9);
            for (size_t j = 0; j < sizeof not_fast / sizeof not_fast[0]; j++) skip |= !strcmp(name, not_fast[j]);
            for (int j = 0; j < n && !skip; j++) skip = !strcmp(found[j], name);
            if (!skip) snprintf(found[n++], 128, "%s", name);
        }
        closedir(d);
    }
    qsort(found, (size_t)n, sizeof found[0], cmp_name);
    return n;
}

int cli_model_path(const char *name, char *out, size_t n) {
    place pl[MAX_PLACES];
    memset(pl, 0, sizeof pl);
    int np = model_places(pl);
    for (int i = 0; i < np; i++) {
        struct stat st;
        if (snprintf(out, n, "%s/%s.safetensors", pl[i].dir, name) < (int)n && stat(out, &st) == 0 && S_ISREG(st.st_mode))
            return 1;
    }
    return 0;
}

int cli_network_names(char names[][128], int max) {
    place pl[MAX_PLACES];
    memset(pl, 0, sizeof pl);
    int np = model_places(pl);
    char found[MAX_FOUND][128];
    int n = list_networks(pl, np, found);
    if (n > max) n = max;
    for (int i = 0; i < n; i++) memcpy(names[i], found[i], sizeof found[i]);
    return n;
}

int cli_find_model(const char *cmd, const char *arg, const char *default_name, int fast_network, char *out,
                   size_t n) {
    if (arg && (strchr(arg, '/') || strchr(arg, '.') || access(arg, F_OK) == 0)) {
        snprintf(out, n, "%s", arg);
        return 1;
    }
    const char *name = arg ? arg : default_name;
    place pl[MAX_PLACES];
    memset(pl, 0, sizeof pl);
    int np = model_places(pl);
    for (int i = 0; i < np; i++) {
        snprintf(out, n, "%s/%s.safetensors", pl[i].dir, name);
        struct stat st;
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return 1;
    }
    char where[MAX_PLACES * (PATH_MAX + 80)];
    size_t w = 0;
    for (int i = 0; i < np && w < sizeof where; i++)
        w += (size_t)snprintf(where + w, sizeof where - w, "%s%s", i ? ", " : "", pl[i].label);
    if (w >= sizeof where) where[sizeof where - 1] = 0;
    if (!fast_network) {
        cli_error(cmd, 0, "cannot find the model %s.safetensors (looked in %s%s); run 'make models' or "
                  "'make install-models' (docs/models.md), or give -m FILE", name, where,
                  getenv("IMPASTO_MODEL_DIR") ? "" : "; $IMPASTO_MODEL_DIR is not set");
        return 0;
    }
    char found[MAX_FOUND][128], list[MAX_FOUND * 130] = "", want[128], cand[128], mean[200] = "";
    int nf = list_networks(pl, np, found), best = 1000;
    normalise(name, want, sizeof want);
    size_t l = 0;
    for (int i = 0; i < nf; i++) {
        l += (size_t)snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", found[i]);
        normalise(found[i], cand, sizeof cand);
        int d = edit_distance(want, cand), limit = (int)strlen(want) / 3 > 2 ? (int)strlen(want) / 3 : 2;
        if (d < best && d <= limit) {
            best = d;
            snprintf(mean, sizeof mean, "did you mean '%.127s'? ", found[i]);
        }
    }
    if (nf)
        cli_error(cmd, 0, "no network named '%s'; %snetworks found: %s (looked in %s)", name, mean, list, where);
    else
        cli_error(cmd, 0, "no network named '%s', and no networks at all (looked in %s%s); run 'make models' or "
                  "'make install-models' (docs/models.md), or give -m FILE.safetensors", name, where,
                  getenv("IMPASTO_MODEL_DIR") ? "" : "; $IMPASTO_MODEL_DIR is not set");
    return 0;
}

/* ---- impasto models ---------------------------------------------------------------------------- */

typedef struct models_settings {
    cli_common common;
    int names, fetch;
    const char *only, *into;
} models_settings;

#define S models_settings
static const cli_opt OPTS[] = {
    {"Options", "names", 0, CLI_FLAG, offsetof(S, names), NULL, 0, 0, NULL, NULL,
     "only the names -m takes, one a line (for scripts and completion)", 0, NULL},
    {"Options", "fetch", 0, CLI_FLAG, offsetof(S, fetch), NULL, 0, 0, NULL, NULL,
     "download the upstream weights from their pinned addresses ($MODELS_MIRROR overrides), check their "
     "SHA-256 and convert them (fetch-models.sh)", 0, NULL},
    {"Options", "only", 0, CLI_STRING, offsetof(S, only), "M,...", 0, 0, NULL, "all",
     "with --fetch: only these models (vgg19, adain, lst-r31, candy, ..., fast)", 0, NULL},
    {"Options", "into", 0, CLI_STRING, offsetof(S, into), "DIR", 0, 0, NULL, "the user's data folder",
     "with --fetch: where the models go (the upstream files go to DIR/upstream)", CLI_COMPLETE_DIR, NULL},
    CLI_OPTS_END};
#undef S

/* The fetch script: installed beside the models' share folder, or in the source tree's tools/. */
static int find_fetch_script(char *out, size_t n) {
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return 0;
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return 0;
    *slash = 0;
    static const char *const where[] = {"%s/../share/impasto/fetch-models.sh", "%s/../tools/fetch-models.sh"};
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        if (snprintf(out, n, where[i], exe) >= (int)n) continue;
        if (access(out, R_OK) == 0) return 1;
    }
    return 0;
}

/* impasto models --fetch: runs fetch-models.sh with this binary as the converter. */
static int fetch(const models_settings *st) {
    char script[PATH_MAX + 64], into[PATH_MAX], dest[PATH_MAX + 16], exe[PATH_MAX];
    if (!find_fetch_script(script, sizeof script)) {
        cli_error("models", 0, "cannot find fetch-models.sh (installed in <bindir>/../share/impasto, or tools/ in "
                  "the source tree)");
        return 1;
    }
    if (st->into) {
        snprintf(into, sizeof into, "%s", st->into);
    } else {
        place pl[MAX_PLACES];
        memset(pl, 0, sizeof pl);
        model_places(pl);
        /* The user's data folder: the first place unless $IMPASTO_MODEL_DIR came first. */
        const char *env = getenv("IMPASTO_MODEL_DIR");
        if (snprintf(into, sizeof into, "%s", pl[env && *env ? 1 : 0].dir) >= (int)sizeof into) {
            cli_error("models", 0, "the user's data folder's path is too long");
            return 1;
        }
    }
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        cli_error("models", 0, "cannot find this program's own path");
        return 1;
    }
    exe[len] = 0;
    snprintf(dest, sizeof dest, "%s/upstream", into);
    char *argv[16];
    int k = 0;
    argv[k++] = "sh";
    argv[k++] = script;
    argv[k++] = "--dest";
    argv[k++] = dest;
    argv[k++] = "--models";
    argv[k++] = into;
    argv[k++] = "--convert";
    argv[k++] = exe;
    if (st->only) {
        argv[k++] = "--only";
        argv[k++] = (char *)st->only;
    }
    argv[k] = NULL;
    /* mkdir -p of the models folder: the script makes --dest, not its parents' parents. */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", into);
    for (char *q = path + 1; *q; q++)
        if (*q == '/') {
            *q = 0;
            mkdir(path, 0777);
            *q = '/';
        }
    mkdir(path, 0777);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execvp("sh", argv);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) {
        cli_error("models", 0, "cannot run %s", script);
        return 1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static void models_init(void *p) { (void)p; }

/* What a model file is for, by loading it (a listing of a few models reads them in a second). */
static void describe(impasto_ctx *ctx, const char *path, char *buf, size_t n) {
    impasto_fast_model *fm = NULL;
    impasto_model *m = NULL;
    if (impasto_fast_load(ctx, path, &fm) == IMPASTO_OK) {
        snprintf(buf, n, "fast style network (style '%s'): impasto fast", impasto_fast_style(fm));
        impasto_fast_free(fm);
        return;
    }
    impasto_gan_model *gm = NULL;
    if (impasto_gan_load(ctx, path, &gm) == IMPASTO_OK) {
        const char *kind = impasto_gan_kind(gm);
        const char *what = !strcmp(kind, "cyclegan") ? "CycleGAN" : !strcmp(kind, "pix2pix") ? "pix2pix" : "generator";
        snprintf(buf, n, "%s (%s, %s): impasto translate", what, impasto_gan_generator(gm),
                 impasto_gan_has_reverse(gm) ? "A <-> B" : "A -> B");
        impasto_gan_free(gm);
        return;
    }
    if (impasto_model_load(ctx, path, &m) != IMPASTO_OK) {
        snprintf(buf, n, "unusable: %s", impasto_ctx_error(ctx));
        return;
    }
    const char *kind = impasto_model_kind(m);
    if (!strcmp(kind, "vgg19")) snprintf(buf, n, "VGG-19: impasto transfer, train and eval");
    else if (!strcmp(kind, "adain")) snprintf(buf, n, "AdaIN encoder and decoder: impasto adain, and wct's relu4_1 level");
    else if (!strcmp(kind, "lst-r31")) snprintf(buf, n, "relu3_1 encoder and decoder: impasto wct's second level");
    else snprintf(buf, n, "model of kind '%s'", kind);
    impasto_model_free(m);
}

static int models_run(void *p, int argc, char **argv) {
    const models_settings *st = p;
    if (st->fetch) return fetch(st);
    if (st->only || st->into) {
        cli_error("models", 1, "--only and --into go with --fetch");
        return EXIT_USAGE;
    }
    place pl[MAX_PLACES];
    memset(pl, 0, sizeof pl);
    int np = model_places(pl), found = 0;
    impasto_ctx *ctx = st->names ? NULL : impasto_ctx_create();
    if (!st->names && !ctx) {
        cli_error("models", 0, "out of memory");
        return 1;
    }
    char seen[256][128];
    int nseen = 0;
    for (int i = 0; i < np; i++) {
        if (!st->names) printf("%s%s\n", pl[i].label, cli_is_dir(pl[i].dir) ? "" : "  (missing)");
        DIR *d = opendir(pl[i].dir);
        if (!d) continue;
        char *names[256];
        int nn = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL && nn < 256) {
            size_t len = strlen(e->d_name), k = strlen(".safetensors");
            if (e->d_name[0] == '.' || len <= k || len - k >= 128 || strcmp(e->d_name + len - k, ".safetensors")) continue;
            if ((names[nn] = strdup(e->d_name)) != NULL) nn++;
        }
        closedir(d);
        qsort(names, (size_t)nn, sizeof names[0], cmp_str_ptr);
        for (int j = 0; j < nn; j++) {
            char name[128], path[PATH_MAX + 256], what[600];
            snprintf(name, sizeof name, "%.*s", (int)(strlen(names[j]) - strlen(".safetensors")), names[j]);
            int shadowed = 0;
            for (int k = 0; k < nseen; k++) shadowed |= !strcmp(seen[k], name);
            if (!shadowed && nseen < 256) snprintf(seen[nseen++], 128, "%s", name);
            if (st->names) {
                if (!shadowed) printf("%s\n", name);
            } else {
                if (snprintf(path, sizeof path, "%s/%s", pl[i].dir, names[j]) >= (int)sizeof path)
                    snprintf(what, sizeof what, "unusable: the path is too long");
                else
                    describe(ctx, path, what, sizeof what);
                printf("  %-16s %s%s\n", name, what, shadowed ? "  (hidden by the same name above)" : "");
            }
            found++;
            free(names[j]);
        }
    }
    if (!st->names && !found)
        printf("no models found; run 'make models' (or 'make install-models') as docs/models.md says\n");
    impasto_ctx_free(ctx);
    (void)argc;
    (void)argv;
    return 0;
}

const cli_command CLI_MODELS = {
    .name = "models",
    .summary = "list the models -m NAME can use, where they are and what each is for",
    .synopsis = "[--names] [--fetch [--only M,...] [--into DIR]]",
    .description = "Lists every NAME.safetensors in the folders -m NAME searches, in search order, with what it\n"
                   "is (VGG-19, AdaIN, relu3_1 pair, a fast network's style, a CycleGAN or pix2pix model) and\n"
                   "which commands use it. A name found in an earlier folder hides the same name further down.\n"
                   "With --fetch, downloads the upstream weights, checks them and converts them into the user's\n"
                   "data folder.",
    .opts = OPTS,
    .settings_size = sizeof(models_settings),
    .init = models_init,
    .run = models_run,
};
