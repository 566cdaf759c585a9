#include "cli.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void progress_init(cli_progress *p, int quiet, int print_every) {
    p->live = !quiet && isatty(STDERR_FILENO);
    p->print_every = quiet ? 0 : print_every;
    p->line_open = 0;
    p->last_draw = 0;
    p->scale_seen = -1;
    p->scale_t0 = 0;
    p->scale_i0 = 0;
}

void progress_clear(cli_progress *p) {
    if (p->line_open) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->line_open = 0;
    }
}

void cli_format_duration(double s, char *buf, size_t n) {
    if (s < 0) s = 0;
    if (s < 90) snprintf(buf, n, "%.0fs", s);
    else if (s < 5400) snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

/* The ETA is for the scale being run, from that scale's own rate: later, larger scales would
 * need their sizes' costs, which only the finished run knows. */
void progress_update(cli_progress *p, const impasto_progress *st) {
    int done = st->iteration, total = st->num_iterations;
    if (p->print_every > 0 && (done % p->print_every == 0 || done == total)) {
        progress_clear(p);
        if (st->num_scales > 1) printf("scale %d/%d %dx%d ", st->scale_index + 1, st->num_scales, st->width, st->height);
        printf("iteration %d/%d  loss %.6g  content %.6g  style %.6g  tv %.6g  %.1fs\n", done, total,
               st->loss, st->content_loss, st->style_loss, st->tv_loss, st->seconds);
        fflush(stdout);
    }
    if (!p->live) return;
    double t = now();
    if (done != total && t - p->last_draw < 0.1) return;
    p->last_draw = t;
    /* st->seconds counts from the start of the run: remember when this scale began. */
    if (st->scale_index != p->scale_seen || done <= 1) {
        p->scale_seen = st->scale_index;
        p->scale_t0 = st->seconds;
        p->scale_i0 = done;
    }
    char eta[32] = "?", el[32];
    if (done > p->scale_i0 && st->seconds > p->scale_t0) {
        double rate = (st->seconds - p->scale_t0) / (done - p->scale_i0);
        cli_format_duration(rate * (total - done), eta, sizeof eta);
    }
    cli_format_duration(st->seconds, el, sizeof el);
    char scale[48] = "";
    if (st->num_scales > 1) snprintf(scale, sizeof scale, "scale %d/%d ", st->scale_index + 1, st->num_scales);
    fprintf(stderr, "\r\033[K%s%dx%d  iter %d/%d  loss %.4g (content %.3g style %.3g tv %.3g)  %s  ETA %s",
            scale, st->width, st->height, done, total, st->loss, st->content_loss, st->style_loss,
            st->tv_loss, el, eta);
    fflush(stderr);
    p->line_open = 1;
}
