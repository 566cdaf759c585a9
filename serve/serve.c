/* serve_run: the server's life from start to SIGTERM (serve.h). */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* mkdir -p, the last folder private to the user (results are the user's pictures). */
static int make_dirs(const char *path, char *err, size_t nerr) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        snprintf(err, nerr, "the data folder's path is too long");
        return 0;
    }
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) break;
            *p = '/';
        }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
        snprintf(err, nerr, "cannot make the data folder %s: %s", path, strerror(errno));
        return 0;
    }
    struct stat sb;
    if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, nerr, "the data folder %s is not a folder", path);
        return 0;
    }
    return 1;
}

int serve_run(const serve_config *cfg, char *err, size_t nerr) {
    server s;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    if (!make_dirs(cfg->data_dir, err, nerr)) return 1;
    if (!serve_random_hex(s.token, SERVE_TOKEN_LEN / 2)) {
        snprintf(err, nerr, "the system gives no randomness for the token");
        return 1;
    }
    pthread_mutex_init(&s.lock, NULL);
    pthread_mutex_init(&s.model_lock, NULL);
    pthread_mutex_init(&s.record_lock, NULL);
    pthread_cond_init(&s.work, NULL);
    pthread_cond_init(&s.changed, NULL);
    /* SIGTERM and SIGINT are taken by sigwait below: blocked here, before any thread starts, so
     * every thread inherits the mask and none is interrupted. */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    signal(SIGPIPE, SIG_IGN);
    jobs_restore(&s);
    int rc = 1;
    struct MHD_Daemon *d = NULL;
    if (jobs_start(&s, err, nerr) && (d = http_start(&s, err, nerr)) != NULL) {
        const char *b = cfg->bind;
        printf("listening on http://%s%s%s:%d/\n", strchr(b, ':') ? "[" : "", b, strchr(b, ':') ? "]" : "", s.port);
        fflush(stdout);
        int sig = 0;
        while (sigwait(&stop, &sig) != 0) {}
        rc = 0;
    }
    size_t running = 0;
    pthread_mutex_lock(&s.lock);
    for (size_t i = 0; i < s.njobs; i++) running += s.jobs[i]->state == JOB_RUNNING || s.jobs[i]->state == JOB_QUEUED;
    pthread_mutex_unlock(&s.lock);
    if (rc == 0 && running) fprintf(stderr, "impasto serve: stopping: cancelling %zu job%s\n", running, running == 1 ? "" : "s");
    jobs_stop(&s);
    http_stop(d);
    jobs_free(&s);
    pthread_cond_destroy(&s.changed);
    pthread_cond_destroy(&s.work);
    pthread_mutex_destroy(&s.model_lock);
    pthread_mutex_destroy(&s.record_lock);
    pthread_mutex_destroy(&s.lock);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
