/* impasto serve: a web page and a JSON API on the user's own machine (docs/serve.md).
 *
 * Application code beside cli/, not part of libimpasto: it owns sockets, threads, signals and a
 * data folder, and links libmicrohttpd, none of which a library user should inherit. It uses only
 * the public API (include/impasto.h); cli/cmd_serve.c parses the options, finds the models and
 * calls serve_run. Built only when the Makefile finds libmicrohttpd (IMPASTO_HAVE_MHD). */
#ifndef IMPASTO_SERVE_H
#define IMPASTO_SERVE_H

#include <stddef.h>

/* Fast networks one server offers, at most. */
#define SERVE_MAX_NETWORKS 64

typedef struct serve_network {
    const char *name;   /* what the API and the page call it ("candy") */
    const char *path;   /* its .safetensors */
} serve_network;

typedef struct serve_config {
    const char *bind;           /* an IPv4 or IPv6 address literal */
    int port;                   /* 0: any free port (the ready line names it) */
    int jobs;                   /* jobs run at once */
    int threads;                /* each job's worker threads (0: all cores) */
    size_t max_upload;          /* bytes of one request body */
    size_t max_pixels;          /* width x height of any picture decoded or made */
    const char *data_dir;       /* results and their records; made (0700) when missing */
    /* Model files, NULL when absent (their methods are then refused, and listed as unavailable). */
    const char *vgg19, *adain, *lst_r31;
    const serve_network *networks;
    int nnetworks;
} serve_config;

/* Runs the server until SIGTERM or SIGINT: then no new job is taken, running jobs are cancelled
 * (a transfer keeps its picture so far), the workers are joined and every socket is closed.
 * Prints one line "listening on http://ADDR:PORT/" on stdout when ready, then nothing but
 * warnings. Returns 0 after a clean stop, or 1 with a message in err when it cannot start. */
int serve_run(const serve_config *cfg, char *err, size_t nerr);

#endif
