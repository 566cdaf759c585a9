/* impasto serve: the web page and JSON API of serve/ (docs/serve.md). This file parses the
 * options and finds the models; serve_run does the rest. Without libmicrohttpd at build time the
 * command is still listed (the man page and completion do not depend on the build) and says so. */
#include "opts.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef IMPASTO_HAVE_MHD
#include "serve.h"
#endif

static const char *CMD = "serve";

#define SERVE_DEFAULT_PORT 8189
#define SERVE_DEFAULT_MAX_UPLOAD_MB 64

typedef struct serve_settings {
    cli_common common;
    int port, jobs, max_upload_mb;
    const char *bind, *data;
} serve_settings;

#define S serve_settings
#define G_SERVER "Server"
static const cli_opt OPTS[] = {
    {G_SERVER, "port", 'p', CLI_INT, offsetof(S, port), "N", 0, 65535, NULL, NULL,
     "the TCP port; 0 takes any free one (the ready line names it)", 0, NULL},
    {G_SERVER, "bind", 0, CLI_STRING, offsetof(S, bind), "ADDR", 0, 0, NULL, NULL,
     "the address to listen on (IPv4 or IPv6); another than loopback lets other machines in", 0, NULL},
    {G_SERVER, "jobs", 'j', CLI_INT, offsetof(S, jobs), "N", 1, 64, NULL, NULL,
     "jobs run at once (one job already uses every core)", 0, NULL},
    {G_SERVER, "max-upload", 0, CLI_INT, offsetof(S, max_upload_mb), "MB", 1, 4096, NULL, NULL,
     "the largest request (the pictures of one job together)", 0, NULL},
    {G_SERVER, "data", 0, CLI_STRING, offsetof(S, data), "DIR", 0, 0, NULL, "$XDG_DATA_HOME/impasto/serve",
     "where results are kept until deleted (made, private to the user)", CLI_COMPLETE_DIR, NULL},
    CLI_OPTS_COMMON(S),
    CLI_OPTS_END};
#undef S

static void init(void *p) {
    serve_settings *s = p;
    s->port = SERVE_DEFAULT_PORT;
    s->bind = "127.0.0.1";
    s->jobs = 1;
    s->max_upload_mb = SERVE_DEFAULT_MAX_UPLOAD_MB;
}

#ifdef IMPASTO_HAVE_MHD
static int is_loopback(const char *addr) {
    unsigned char a[16];
    if (inet_pton(AF_INET, addr, a) == 1) return a[0] == 127;
    if (inet_pton(AF_INET6, addr, a) == 1) {
        static const unsigned char one[16] = {[15] = 1};
        return !memcmp(a, one, 16);
    }
    return -1;
}

static int run(void *p, int argc, char **argv) {
    serve_settings *st = p;
    (void)argv;
    if (argc > 1) {
        cli_error(CMD, 1, "serve takes no file arguments");
        return EXIT_USAGE;
    }
    int lo = is_loopback(st->bind);
    if (lo < 0) {
        cli_error(CMD, 1, "--bind takes an IPv4 or IPv6 address (127.0.0.1, ::1, 0.0.0.0), got '%s'", st->bind);
        return EXIT_USAGE;
    }
    if (!lo)
        fprintf(stderr, "impasto serve: warning: listening on %s, not only on this machine: anyone who can reach "
                        "it and load the page can run jobs and see every result\n", st->bind);
    char data[PATH_MAX];
    if (st->data) {
        snprintf(data, sizeof data, "%s", st->data);
    } else {
        const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
        if (xdg && *xdg) snprintf(data, sizeof data, "%s/impasto/serve", xdg);
        else if (home && *home) snprintf(data, sizeof data, "%s/.local/share/impasto/serve", home);
        else {
            cli_error(CMD, 1, "neither $XDG_DATA_HOME nor $HOME is set: give --data DIR");
            return EXIT_USAGE;
        }
    }
    static char vgg[PATH_MAX], adain[PATH_MAX], lst[PATH_MAX];
    static char names[SERVE_MAX_NETWORKS][128], paths[SERVE_MAX_NETWORKS][PATH_MAX];
    serve_network nets[SERVE_MAX_NETWORKS];
    serve_config cfg = {.bind = st->bind, .port = st->port, .jobs = st->jobs, .threads = st->common.threads,
                        .max_upload = (size_t)st->max_upload_mb << 20, .max_pixels = st->common.max_pixels,
                        .data_dir = data};
    cfg.vgg19 = cli_model_path("vgg19", vgg, sizeof vgg) ? vgg : NULL;
    cfg.adain = cli_model_path("adain", adain, sizeof adain) ? adain : NULL;
    cfg.lst_r31 = cli_model_path("lst-r31", lst, sizeof lst) ? lst : NULL;
    /* The fast networks among the other models (a CycleGAN model is not one). */
    impasto_ctx *ctx = impasto_ctx_create();
    int n = cli_network_names(names, SERVE_MAX_NETWORKS);
    for (int i = 0; ctx && i < n; i++) {
        impasto_fast_model *m = NULL;
        if (!cli_model_path(names[i], paths[cfg.nnetworks], PATH_MAX)) continue;
        if (impasto_fast_load(ctx, paths[cfg.nnetworks], &m) != IMPASTO_OK) continue;
        impasto_fast_free(m);
        nets[cfg.nnetworks] = (serve_network){names[i], paths[cfg.nnetworks]};
        cfg.nnetworks++;
    }
    impasto_ctx_free(ctx);
    cfg.networks = nets;
    if (!st->common.quiet && !cfg.vgg19 && !cfg.adain && !cfg.nnetworks)
        fprintf(stderr, "impasto serve: warning: no models found, so no method can run ('impasto models' says "
                        "where they are looked for; 'impasto models --fetch' gets them)\n");
    char err[600] = "";
    int rc = serve_run(&cfg, err, sizeof err);
    if (rc) cli_error(CMD, 0, "%s", err);
    return rc;
}
#else
static int run(void *p, int argc, char **argv) {
    (void)p, (void)argc, (void)argv;
    cli_error(CMD, 0, "this impasto was built without the server (libmicrohttpd was not found): install it "
                      "(bash tools/install-deps.sh --serve) and run make again");
    return 1;
}
#endif

const cli_command CLI_SERVE = {
    .name = "serve",
    .summary = "a web page for style transfer on this machine, and its JSON API",
    .synopsis = "[--port N] [--bind ADDR] [--jobs N] [--max-upload MB] [--data DIR]",
    .description = "Serves a page (open the address it prints in a browser) where a photo and a painting, or a\n"
                   "fast network, are turned into a picture by fast, adain, wct or transfer, with their options,\n"
                   "a progress bar and a gallery; scripts use the same JSON API (docs/serve.md). Pictures never\n"
                   "leave this machine. Listens on 127.0.0.1 unless --bind says otherwise; answers only to\n"
                   "localhost and its own address (Host), and starts or cancels jobs only for requests that\n"
                   "carry the token of GET /api/token. SIGTERM or Ctrl-C stops it: running jobs are cancelled\n"
                   "(a transfer keeps its picture so far) and the results stay in --data.",
    .opts = OPTS,
    .settings_size = sizeof(serve_settings),
    .init = init,
    .run = run,
};
