/* The run's display (cli.h): the live progress line, log lines, "wrote" lines and Ctrl-C. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

double cli_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void progress_init(cli_progress *p, int quiet, int print_every) {
    /* In a job of several processes only the first draws the live line and logs steps: the
     * others' would interleave with it. */
    const int first = cluster_rank() == 0;
    p->live = !quiet && first && isatty(STDERR_FILENO);
    p->quiet = quiet;
    p->print_every = quiet || !first ? 0 : print_every;
    p->line_open = 0;
    p->last_draw = 0;
    p->scale_seen = -1;
    p->scale_t0 = 0;
    p->scale_i0 = 0;
    p->item = 0;
    p->items = 0;
    p->item_name = NULL;
    p->t0 = cli_now();
    p->json = NULL;
}

void progress_clear(cli_progress *p) {
    if (p->line_open) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->line_open = 0;
    }
}

void cli_wrote(cli_progress *p, const char *path, int width, int height) {
    if (p->json) {
        cJSON *list = cJSON_GetObjectItem(p->json, "outputs"), *o = cJSON_CreateObject();
        if (list && o && cJSON_AddStringToObject(o, "path", path) && (width <= 0 ||
            (cJSON_AddNumberToObject(o, "width", width) && cJSON_AddNumberToObject(o, "height", height))))
            cJSON_AddItemToArray(list, o);
        else
            cJSON_Delete(o);
        return;
    }
    if (p->quiet || !isatty(STDOUT_FILENO)) return;
    progress_clear(p);
    printf("wrote %s\n", path);
    fflush(stdout);
}

int cli_json_begin(cli_progress *p, const char *cmd) {
    cJSON *j = cJSON_CreateObject();
    if (!j || !cJSON_AddStringToObject(j, "command", cmd) || !cJSON_AddArrayToObject(j, "outputs") ||
        !cJSON_AddArrayToObject(j, "failed")) {
        cJSON_Delete(j);
        return 0;
    }
    p->json = j;
    return 1;
}

/* JSON has no NaN or infinity: such a value is null. */
static void add_number(cJSON *o, const char *key, double v) {
    if (v == v && v - v == 0) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

void cli_json_number(cli_progress *p, const char *key, double v) {
    if (!p->json) return;
    cJSON_DeleteItemFromObject(p->json, key);
    add_number(p->json, key, v);
}

void cli_json_string(cli_progress *p, const char *key, const char *v) {
    if (!p->json) return;
    cJSON_DeleteItemFromObject(p->json, key);
    cJSON_AddStringToObject(p->json, key, v);
}

void cli_json_failed(cli_progress *p, const char *input, const char *message) {
    if (!p->json) return;
    cJSON *list = cJSON_GetObjectItem(p->json, "failed"), *o = cJSON_CreateObject();
    if (list && o && cJSON_AddStringToObject(o, "input", input) && cJSON_AddStringToObject(o, "error", message))
        cJSON_AddItemToArray(list, o);
    else
        cJSON_Delete(o);
}

void cli_json_numbers(cli_progress *p, const char *key, const char *const *names, const double *v, int n) {
    if (!p->json) return;
    cJSON_DeleteItemFromObject(p->json, key);
    cJSON *o = cJSON_AddObjectToObject(p->json, key);
    for (int i = 0; o && i < n; i++) add_number(o, names[i], v[i]);
}

void cli_json_end(cli_progress *p, int exit_code) {
    if (!p->json) return;
    cli_json_number(p, "exit", exit_code);
    cli_json_number(p, "seconds", cli_now() - p->t0);
    /* Several processes: each reports what it did, on one line so the reports cannot interleave. */
    const int several = cluster_size() > 1;
    if (several) {
        cli_json_number(p, "rank", cluster_rank());
        cli_json_number(p, "processes", cluster_size());
    }
    char *text = several ? cJSON_PrintUnformatted(p->json) : cJSON_Print(p->json);
    progress_clear(p);
    if (text) printf("%s\n", text);
    fflush(stdout);
    cJSON_free(text);
    cJSON_Delete(p->json);
    p->json = NULL;
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
    /* Within a folder run (progress_item): which photo. */
    char item[300] = "";
    if (p->items) snprintf(item, sizeof item, "%zu/%zu %s  ", p->item + 1, p->items, p->item_name ? p->item_name : "");
    if (st->tile_runs > 0) {
        /* A tiled evaluation under way (impasto_progress.tile_done): the live line says which tile. */
        if (!p->live) return;
        double t = cli_now();
        if (t - p->last_draw < 0.1) return;
        p->last_draw = t;
        char el[32];
        cli_format_duration(st->seconds, el, sizeof el);
        fprintf(stderr, "\r\033[K%s%dx%d  iter %d/%d  tile %d/%d  loss %.4g  %s", item, st->width, st->height, done + 1,
                total, st->tile_done, st->tile_runs, st->loss, el);
        fflush(stderr);
        p->line_open = 1;
        return;
    }
    if (p->print_every > 0 && (done % p->print_every == 0 || done == total)) {
        /* With --json, stdout is the summary's alone. */
        FILE *log = p->json ? stderr : stdout;
        progress_clear(p);
        fputs(item, log);
        if (st->num_scales > 1) fprintf(log, "scale %d/%d %dx%d ", st->scale_index + 1, st->num_scales, st->width, st->height);
        fprintf(log, "iteration %d/%d  loss %.6g  content %.6g  style %.6g  tv %.6g  %.1fs", done, total,
                st->loss, st->content_loss, st->style_loss, st->tv_loss, st->seconds);
        if (st->num_tiles > 1) fprintf(log, "  tiles %d", st->num_tiles);
        if (st->num_tiles > 1 && st->lbfgs_history > 0) fprintf(log, "  history %d", st->lbfgs_history);
        fputc('\n', log);
        fflush(log);
    }
    if (!p->live) return;
    double t = cli_now();
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
    fprintf(stderr, "\r\033[K%s%s%dx%d  iter %d/%d  loss %.4g (content %.3g style %.3g tv %.3g)  %s  ETA %s",
            item, scale, st->width, st->height, done, total, st->loss, st->content_loss, st->style_loss,
            st->tv_loss, el, eta);
    fflush(stderr);
    p->line_open = 1;
}

/* Training: a log line every print_every steps, the live line (step, epoch, losses, time per
 * step, ETA). first_step is the step the run started from (a resumed run starts later). */
void progress_train(cli_progress *p, const impasto_train_progress *st, long first_step) {
    const long done = st->step - first_step;
    const double per_step = done > 0 ? st->seconds / (double)done : 0;
    if (p->print_every > 0 && (st->step % p->print_every == 0 || st->step == st->num_steps)) {
        FILE *log = p->json ? stderr : stdout;
        progress_clear(p);
        char adv[80] = "";
        if (st->adversarial_loss != 0 || st->discriminator_loss != 0)
            snprintf(adv, sizeof adv, "  adversarial %.6g  D %.4g", st->adversarial_loss, st->discriminator_loss);
        fprintf(log, "step %ld/%ld  epoch %d  loss %.6g  content %.6g  style %.6g%s  %.2fs/step%s%s\n", st->step,
                st->num_steps, st->epoch + 1, st->loss, st->content_loss, st->style_loss, adv, per_step,
                st->checkpoint ? "  checkpoint " : "", st->checkpoint ? st->checkpoint : "");
        fflush(log);
    }
    double t = cli_now();
    if (!p->live || (t - p->last_draw < 0.1 && st->step != st->num_steps)) return;
    char el[32], eta[32];
    cli_format_duration(st->seconds, el, sizeof el);
    cli_format_duration(per_step * (double)(st->num_steps - st->step), eta, sizeof eta);
    fprintf(stderr, "\r\033[Kstep %ld/%ld  epoch %d  loss %.4g (content %.3g style %.3g)  %.2fs/step  %s  ETA %s",
            st->step, st->num_steps, st->epoch + 1, st->loss, st->content_loss, st->style_loss, per_step, el, eta);
    fflush(stderr);
    p->line_open = 1;
    p->last_draw = t;
}

/* The terminal's width, for live lines that must not wrap (a wrapped line cannot be redrawn). */
static int terminal_columns(void) {
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
    return 80;
}

/* "D_A 0.251  G_A 0.312 ..." into buf. */
static void format_losses(const impasto_gan_progress *st, int digits, char *buf, size_t n) {
    size_t w = 0;
    buf[0] = 0;
    for (int i = 0; i < st->nlosses && w < n; i++)
        w += (size_t)snprintf(buf + w, n - w, "%s%s %.*g", i ? "  " : "", st->loss_names[i], digits, st->losses[i]);
}

/* CycleGAN's eight losses make a long line: the live one puts the step, time and ETA first and is
 * cut at the terminal's edge; log lines carry everything. */
void progress_gan(cli_progress *p, const impasto_gan_progress *st, long first_step) {
    const long done = st->step - first_step;
    const double per_step = done > 0 ? st->seconds / (double)done : 0;
    char losses[512];
    if (p->print_every > 0 && (st->step % p->print_every == 0 || st->step == st->num_steps)) {
        FILE *log = p->json ? stderr : stdout;
        progress_clear(p);
        format_losses(st, 6, losses, sizeof losses);
        fprintf(log, "step %ld/%ld  epoch %d  lr %.6g  %s  %.2fs/step%s%s\n", st->step, st->num_steps, st->epoch + 1,
                st->learning_rate, losses, per_step, st->checkpoint ? "  checkpoint " : "",
                st->checkpoint ? st->checkpoint : "");
        fflush(log);
    }
    double t = cli_now();
    if (!p->live || (t - p->last_draw < 0.1 && st->step != st->num_steps)) return;
    char el[32], eta[32], line[768];
    cli_format_duration(st->seconds, el, sizeof el);
    cli_format_duration(per_step * (double)(st->num_steps - st->step), eta, sizeof eta);
    format_losses(st, 3, losses, sizeof losses);
    int len = snprintf(line, sizeof line, "step %ld/%ld  epoch %d  %.2fs/step  %s  ETA %s  %s", st->step,
                       st->num_steps, st->epoch + 1, per_step, el, eta, losses);
    const int room = terminal_columns() - 1;
    if (len > room) len = room;
    fprintf(stderr, "\r\033[K%.*s", len, line);
    fflush(stderr);
    p->line_open = 1;
    p->last_draw = t;
}

/* The share of the whole run done: within a folder run, finished items plus this one's share. */
static double run_share(const cli_progress *p, double item_share) {
    if (p->items == 0) return item_share;
    return ((double)p->item + item_share) / (double)p->items;
}

static void draw(cli_progress *p, const char *what, double share) {
    double t = cli_now(), el = t - p->t0;
    if (share < 1.0 && t - p->last_draw < 0.1) return;
    p->last_draw = t;
    char eta[32] = "?", els[32], item[300] = "";
    if (share > 0.0) cli_format_duration(el * (1.0 - share) / share, eta, sizeof eta);
    cli_format_duration(el, els, sizeof els);
    if (p->items) snprintf(item, sizeof item, "%zu/%zu %s  ", p->item + 1, p->items, p->item_name ? p->item_name : "");
    fprintf(stderr, "\r\033[K%s%s  %3.0f%%  %s  ETA %s", item, what, 100.0 * share, els, eta);
    fflush(stderr);
    p->line_open = 1;
}

void progress_pass(cli_progress *p, const impasto_pass_progress *st) {
    if (!p->live) return;
    char what[96];
    if (st->num_levels > 1) snprintf(what, sizeof what, "level %d/%d %s", st->level + 1, st->num_levels, st->stage);
    else snprintf(what, sizeof what, "%s", st->stage);
    draw(p, what, run_share(p, st->total > 0 ? (double)st->done / st->total : 0.0));
}

void progress_item(cli_progress *p, size_t item, size_t items, const char *name) {
    p->item = item;
    p->items = items;
    p->item_name = name;
    if (p->live) draw(p, "", run_share(p, 0.0));
}

int cli_finish_one(const char *cmd, impasto_ctx *ctx, cli_progress *p, impasto_status s, const char *what,
                   const char *input, const char *output, const impasto_image *result) {
    progress_clear(p);
    if (s == IMPASTO_OK) {
        cli_wrote(p, output, impasto_image_width(result), impasto_image_height(result));
        return 0;
    }
    if (s == IMPASTO_ERR_CANCELLED) cli_error(cmd, 0, "interrupted; %s is as it was", output);
    else cli_fail(cmd, ctx, s, what);
    cli_json_failed(p, input, impasto_ctx_error(ctx));
    return cli_exit_code(s);
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    interrupted = 1;
    signal(sig, SIG_DFL);
}

void cli_sigint_begin(void) {
    interrupted = 0;
    signal(SIGINT, on_sigint);
    /* A cluster stops a job with SIGTERM (Slurm's scancel and time limit, mpirun passing on a
     * Ctrl-C): the processes of a job stop as after a Ctrl-C, keeping what was done. */
    if (cluster_size() > 1) signal(SIGTERM, on_sigint);
}

void cli_sigint_end(void) {
    signal(SIGINT, SIG_DFL);
    if (cluster_size() > 1) signal(SIGTERM, SIG_DFL);
}

int cli_interrupted(void) { return interrupted != 0; }
