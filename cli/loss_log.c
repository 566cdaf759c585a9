/* The losses of a GAN training run as CSV, one row a step (cli.h), so a run's curves can be
 * plotted while it goes and after it stops. Every row is flushed: an interrupted or killed run
 * keeps every step it finished. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_loss_log_init(cli_loss_log *l, const char *cmd, const char *path, int resumed) {
    memset(l, 0, sizeof *l);
    l->cmd = cmd;
    l->path = path;
    l->resumed = resumed;
}

static void warn(cli_loss_log *l, cli_progress *p, const char *why) {
    progress_clear(p);
    cli_error(l->cmd, 0, "warning: %s %s; the losses are not logged", why, l->path);
    l->failed = 1;
    if (l->f) fclose(l->f);
    l->f = NULL;
}

/* "step,epoch,lr,D_A,...,seconds" */
static void header(const impasto_gan_progress *p, char *buf, size_t n) {
    size_t w = (size_t)snprintf(buf, n, "step,epoch,lr");
    for (int i = 0; i < p->nlosses && w < n; i++) w += (size_t)snprintf(buf + w, n - w, ",%s", p->loss_names[i]);
    if (w < n) snprintf(buf + w, n - w, ",seconds");
}

/* A resumed run's log: the rows up to first_step stay (the checkpoint holds those steps), later
 * ones go (a run that went on past its checkpoint wrote them, and this run redoes them). Returns
 * the offset to append at, or -1 when the file is another run's (another header) or unreadable. */
static long keep_rows(cli_loss_log *l, const char *want, long first_step) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, l->f);
    long keep = len <= 0 ? 0 : -1;  /* an empty file is a fresh log */
    if (len > 0 && line[len - 1] == '\n') {
        line[len - 1] = 0;
        if (!strcmp(line, want)) keep = ftell(l->f);
    }
    while (keep > 0 && (len = getline(&line, &cap, l->f)) > 0) {
        /* a row cut short by a killed run ends without its newline: dropped */
        char *end;
        long step = strtol(line, &end, 10);
        if (line[len - 1] != '\n' || *end != ',' || step > first_step) break;
        const char *last = strrchr(line, ',');
        l->seconds0 = last ? strtod(last + 1, NULL) : 0;
        keep = ftell(l->f);
    }
    free(line);
    return keep;
}

static int open_log(cli_loss_log *l, cli_progress *pr, const impasto_gan_progress *p, long first_step) {
    char want[1024];
    header(p, want, sizeof want);
    long keep = -1;
    if (l->resumed && (l->f = fopen(l->path, "r+")) != NULL) {
        if ((keep = keep_rows(l, want, first_step)) < 0) {
            progress_clear(pr);
            cli_error(l->cmd, 0, "warning: %s holds another run's losses (not the columns %s): it is started afresh",
                      l->path, want);
            keep = 0;
            l->seconds0 = 0;
        }
        if (fflush(l->f) != 0 || ftruncate(fileno(l->f), keep) != 0 || fseek(l->f, keep, SEEK_SET) != 0) {
            warn(l, pr, "cannot rewrite");
            return 0;
        }
    } else if (!(l->f = fopen(l->path, "w"))) {
        warn(l, pr, "cannot write");
        return 0;
    }
    if (keep <= 0 && fprintf(l->f, "%s\n", want) < 0) {
        warn(l, pr, "cannot write");
        return 0;
    }
    return 1;
}

void cli_loss_log_step(cli_loss_log *l, cli_progress *pr, const impasto_gan_progress *p, long first_step) {
    if (l->failed || !l->path) return;
    if (!l->f && !open_log(l, pr, p, first_step)) return;
    int bad = fprintf(l->f, "%ld,%d,%.9g", p->step, p->epoch + 1, p->learning_rate) < 0;
    for (int i = 0; i < p->nlosses; i++) bad |= fprintf(l->f, ",%.9g", p->losses[i]) < 0;
    bad |= fprintf(l->f, ",%.3f\n", l->seconds0 + p->seconds) < 0;
    if (bad || fflush(l->f) != 0) warn(l, pr, "cannot write");
}

void cli_loss_log_close(cli_loss_log *l) {
    if (l->f) fclose(l->f);
    l->f = NULL;
}
