/* Jobs: a queue served by --jobs worker threads, each job run through the library's own method
 * with its progress callback (which is also where a cancel is noticed), its result written into
 * the data folder with a record beside it, so results outlive the server until deleted. */
#include "server.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *job_state_name(job_state st) {
    static const char *const names[] = {"queued", "running", "done", "failed", "cancelled"};
    return names[st];
}

double serve_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int serve_random_hex(char *out, size_t nbytes) {
    unsigned char buf[64];
    if (nbytes > sizeof buf) return 0;
    size_t got = 0;
    while (got < nbytes) {
        ssize_t r = getrandom(buf + got, nbytes - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        got += (size_t)r;
    }
    for (size_t i = 0; i < nbytes; i++) snprintf(out + 2 * i, 3, "%02x", buf[i]);
    return 1;
}

int job_file(const server *s, const job *j, const char *suffix, char *out, size_t n) {
    return snprintf(out, n, "%s/%s%s", s->cfg->data_dir, j->id, suffix) < (int)n;
}

void job_free(job *j) {
    if (!j) return;
    impasto_image_free(j->content);
    for (int i = 0; i < j->nstyles; i++) impasto_image_free(j->styles[i]);
    free(j);
}

static void drop_inputs(job *j) {
    impasto_image_free(j->content);
    j->content = NULL;
    for (int i = 0; i < j->nstyles; i++) impasto_image_free(j->styles[i]);
    j->nstyles = 0;
}

/* Under the lock. */
static void touch(server *s, job *j) {
    j->version++;
    pthread_cond_broadcast(&s->changed);
}

void job_release(server *s, job *j) {
    pthread_mutex_lock(&s->lock);
    int last = --j->refs == 0;
    pthread_mutex_unlock(&s->lock);
    if (last) job_free(j);
}

static int table_add(server *s, job *j) {
    if (s->njobs == s->capjobs) {
        size_t cap = s->capjobs ? 2 * s->capjobs : 64;
        job **p = realloc(s->jobs, cap * sizeof *p);
        if (!p) return 0;
        s->jobs = p;
        s->capjobs = cap;
    }
    s->jobs[s->njobs++] = j;
    j->refs++;
    return 1;
}

job *jobs_get(server *s, const char *id) {
    job *found = NULL;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->njobs; i++)
        if (!strcmp(s->jobs[i]->id, id)) {
            found = s->jobs[i];
            found->refs++;
            break;
        }
    pthread_mutex_unlock(&s->lock);
    return found;
}

int jobs_submit(server *s, job *j) {
    pthread_mutex_lock(&s->lock);
    if (s->nqueued >= SERVE_MAX_QUEUED) {
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    int ok = !s->stopping && table_add(s, j);
    if (ok) {
        s->nqueued++;
        j->state = JOB_QUEUED;
        j->created = serve_now();
        j->eta = -1;
        snprintf(j->stage, sizeof j->stage, "queued");
        j->next = NULL;
        if (s->queue_tail) s->queue_tail->next = j;
        else s->queue_head = j;
        s->queue_tail = j;
        j->refs++;  /* the queue's, passed on to the worker */
        pthread_cond_signal(&s->work);
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

/* ---- records: DIR/<id>.json beside DIR/<id>.png, written by temp file and rename ---- */

static cJSON *record_json(const job *j) {
    cJSON *o = job_json(j);
    if (o) cJSON_AddStringToObject(o, "network_name", j->network);
    return o;
}

static void write_record(server *s, const job *j) {
    char path[4096], tmp[4200];
    if (!job_file(s, j, ".json", path, sizeof path)) return;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    pthread_mutex_lock(&s->lock);
    cJSON *o = record_json(j);
    pthread_mutex_unlock(&s->lock);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) return;
    FILE *f = fopen(tmp, "wb");
    int ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) == 0) ok = 2;
    if (ok != 2) {
        unlink(tmp);
        fprintf(stderr, "impasto serve: warning: cannot write %s: %s\n", path, strerror(errno));
    }
    free(text);
}

static int is_id(const char *p) {
    for (int i = 0; i < SERVE_ID_LEN; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) return 0;
    return 1;
}

static double num(const cJSON *o, const char *key, double def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

/* One record read back: only its id's own files are ever opened, and the record may only say
 * what the server itself would (a finished state, a known method). */
static void restore_one(server *s, const char *name) {
    job *j = calloc(1, sizeof *j);
    if (!j) return;
    memcpy(j->id, name, SERVE_ID_LEN);
    char path[4096];
    cJSON *o = NULL;
    char *text = NULL;
    if (!job_file(s, j, ".json", path, sizeof path)) goto out;
    FILE *f = fopen(path, "rb");
    if (!f) goto out;
    text = malloc(SERVE_MAX_RECORD + 1);
    size_t n = text ? fread(text, 1, SERVE_MAX_RECORD + 1, f) : 0;
    fclose(f);
    if (!text || n > SERVE_MAX_RECORD) goto out;
    text[n] = 0;
    o = cJSON_Parse(text);
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(o, "method");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(o, "state");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(o, "error");
    const cJSON *network = cJSON_GetObjectItemCaseSensitive(o, "network_name");
    if (!cJSON_IsString(method) || !cJSON_IsString(state)) goto out;
    int m = -1;
    for (int k = 0; k < METHOD_COUNT; k++)
        if (!strcmp(method->valuestring, SERVE_METHOD_NAMES[k])) m = k;
    int st = !strcmp(state->valuestring, "done") ? JOB_DONE
           : !strcmp(state->valuestring, "failed") ? JOB_FAILED
           : !strcmp(state->valuestring, "cancelled") ? JOB_CANCELLED : -1;
    if (m < 0 || st < 0) goto out;
    j->method = (serve_method)m;
    j->state = (job_state)st;
    job_options_init(&j->opt);
    char why[256];
    job_options_from_json(&j->opt, j->method, cJSON_GetObjectItemCaseSensitive(o, "options"), why, sizeof why);
    j->fraction = st == JOB_DONE ? 1 : num(o, "progress", 0);
    if (!(j->fraction >= 0 && j->fraction <= 1)) j->fraction = 0;
    j->created = num(o, "created", 0);
    j->seconds = num(o, "seconds", 0);
    j->iteration = (int)num(o, "iteration", 0);
    j->iterations = (int)num(o, "iterations", 0);
    j->eta = -1;
    snprintf(j->stage, sizeof j->stage, "%s", job_state_name(j->state));
    if (cJSON_IsString(error)) snprintf(j->error, sizeof j->error, "%s", error->valuestring);
    if (cJSON_IsString(network)) snprintf(j->network, sizeof j->network, "%s", network->valuestring);
    char png[4096];
    struct stat sb;
    if (job_file(s, j, ".png", png, sizeof png) && stat(png, &sb) == 0 && S_ISREG(sb.st_mode)) {
        j->has_result = 1;
        j->width = (int)num(o, "width", 0);
        j->height = (int)num(o, "height", 0);
    }
    pthread_mutex_lock(&s->lock);
    int added = table_add(s, j);
    pthread_mutex_unlock(&s->lock);
    if (added) j = NULL;
out:
    cJSON_Delete(o);
    free(text);
    free(j);
}

static int cmp_created(const void *a, const void *b) {
    double x = (*(job *const *)a)->created, y = (*(job *const *)b)->created;
    return x < y ? -1 : x > y;
}

void jobs_restore(server *s) {
    DIR *d = opendir(s->cfg->data_dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));)
        if (strlen(e->d_name) == SERVE_ID_LEN + 5 && is_id(e->d_name) && !strcmp(e->d_name + SERVE_ID_LEN, ".json"))
            restore_one(s, e->d_name);
    closedir(d);
    if (s->njobs > 1) qsort(s->jobs, s->njobs, sizeof *s->jobs, cmp_created);
}

/* ---- running ---- */

typedef struct run_ctx {
    server *s;
    job *j;
} run_ctx;

/* Under the lock: the fraction done and an ETA from the rate so far. */
static void set_progress(server *s, job *j, double fraction, const char *stage) {
    j->fraction = fraction < 0 ? 0 : fraction > 1 ? 1 : fraction;
    snprintf(j->stage, sizeof j->stage, "%s", stage);
    j->seconds = serve_now() - j->started;
    j->eta = j->fraction > 0.01 ? j->seconds * (1 - j->fraction) / j->fraction : -1;
    touch(s, j);
}

static int on_transfer(const impasto_progress *p, void *user) {
    run_ctx *r = user;
    pthread_mutex_lock(&r->s->lock);
    int scales = p->num_scales > 0 ? p->num_scales : 1;
    int per = p->num_iterations > 0 ? p->num_iterations : 1;
    r->j->iteration = p->scale_index * per + p->iteration;
    r->j->iterations = scales * per;
    r->j->loss = p->loss;
    set_progress(r->s, r->j, (double)r->j->iteration / r->j->iterations, "optimising");
    int stop = r->j->cancel;
    pthread_mutex_unlock(&r->s->lock);
    return stop;
}

static int on_pass(const impasto_pass_progress *p, void *user) {
    run_ctx *r = user;
    pthread_mutex_lock(&r->s->lock);
    r->j->iteration = p->done;
    r->j->iterations = p->total;
    set_progress(r->s, r->j, p->total > 0 ? (double)p->done / p->total : 0, p->stage ? p->stage : "");
    int stop = r->j->cancel;
    pthread_mutex_unlock(&r->s->lock);
    return stop;
}

/* A shared model, loaded by the first job that needs it. */
static impasto_status shared_model(server *s, impasto_ctx *ctx, impasto_model **slot, const char *path,
                                   const impasto_model **out) {
    impasto_status st = IMPASTO_OK;
    pthread_mutex_lock(&s->model_lock);
    if (!*slot) {
        /* Never without a path: a method whose model is missing is refused at submission. */
        st = path ? impasto_model_load(ctx, path, slot) : IMPASTO_ERR_IO;
    }
    *out = *slot;
    pthread_mutex_unlock(&s->model_lock);
    return st;
}

static const char *network_path(const server *s, const char *name) {
    for (int i = 0; i < s->cfg->nnetworks; i++)
        if (!strcmp(s->cfg->networks[i].name, name)) return s->cfg->networks[i].path;
    return NULL;
}

static impasto_status run_method(server *s, job *j, impasto_ctx *ctx, impasto_image **out) {
    run_ctx r = {s, j};
    const job_options *o = &j->opt;
    const impasto_image *const *styles = (const impasto_image *const *)j->styles;
    const impasto_model *m = NULL, *m2 = NULL;
    impasto_status st;
    switch (j->method) {
    case METHOD_FAST: {
        const char *path = network_path(s, j->network);
        impasto_fast_model *fm = NULL;
        impasto_fast_options fo;
        impasto_fast_options_init(&fo);
        fo.content_scale = o->content_scale;
        pthread_mutex_lock(&s->lock);
        set_progress(s, j, 0, "stylize");
        pthread_mutex_unlock(&s->lock);
        /* One model per job: a fast model serves one thread at a time. */
        st = impasto_fast_load(ctx, path, &fm);
        if (st == IMPASTO_OK) st = impasto_fast_stylize(ctx, fm, j->content, &fo, out);
        impasto_fast_free(fm);
        return st;
    }
    case METHOD_ADAIN: {
        if ((st = shared_model(s, ctx, &s->adain, s->cfg->adain, &m)) != IMPASTO_OK) return st;
        impasto_adain_options ao;
        impasto_adain_options_init(&ao);
        ao.alpha = o->alpha;
        ao.content_size = o->content_size;
        ao.style_size = o->style_size;
        ao.preserve_color = o->preserve_color;
        ao.crop = o->crop;
        ao.style_weights = o->nweights ? o->weights : NULL;
        ao.progress = on_pass;
        ao.progress_user = &r;
        return impasto_adain(ctx, m, j->content, styles, (size_t)j->nstyles, &ao, out);
    }
    case METHOD_WCT: {
        if ((st = shared_model(s, ctx, &s->adain, s->cfg->adain, &m)) != IMPASTO_OK) return st;
        if (o->levels == 2 && (st = shared_model(s, ctx, &s->lst_r31, s->cfg->lst_r31, &m2)) != IMPASTO_OK)
            return st;
        impasto_wct_options wo;
        impasto_wct_options_init(&wo);
        wo.alpha = o->alpha;
        wo.content_size = o->content_size;
        wo.style_size = o->style_size;
        wo.progress = on_pass;
        wo.progress_user = &r;
        return impasto_wct(ctx, m, o->levels == 2 ? m2 : NULL, j->content, j->styles[0], &wo, out);
    }
    case METHOD_TRANSFER: {
        if ((st = shared_model(s, ctx, &s->vgg19, s->cfg->vgg19, &m)) != IMPASTO_OK) return st;
        impasto_transfer_options t;
        impasto_transfer_options_init(&t);
        t.image_size = o->image_size;
        t.num_iterations = o->num_iterations;
        t.content_weight = o->content_weight;
        t.style_weight = o->style_weight;
        t.tv_weight = o->tv_weight;
        t.style_scale = o->style_scale;
        t.learning_rate = o->learning_rate;
        t.init = (impasto_init)o->init;
        t.optimizer = (impasto_optimizer)o->optimizer;
        t.pooling = (impasto_pooling)o->pooling;
        t.original_colors = o->original_colors;
        t.seed = o->seed;
        t.style_blend_weights = o->nweights ? o->weights : NULL;
        t.save_iter = 0;
        t.progress = on_transfer;
        t.progress_user = &r;
        return impasto_transfer(ctx, m, j->content, styles, (size_t)j->nstyles, &t, out);
    }
    default: return IMPASTO_ERR_INVALID_ARG;
    }
}

/* The result as DIR/<id>.png, and the photo at the result's size as DIR/<id>-content.jpg (the
 * page's before/after view). Returns 1 when the result was written. */
static int save_result(server *s, job *j, impasto_ctx *ctx, const impasto_image *out) {
    char path[4096];
    if (!job_file(s, j, ".png", path, sizeof path) || impasto_image_save(ctx, out, path, 0) != IMPASTO_OK) {
        fprintf(stderr, "impasto serve: warning: %s\n", impasto_ctx_error(ctx));
        return 0;
    }
    impasto_image *photo = NULL;
    if (job_file(s, j, "-content.jpg", path, sizeof path) &&
        impasto_image_resize(ctx, j->content, impasto_image_width(out), impasto_image_height(out), &photo) == IMPASTO_OK)
        impasto_image_save(ctx, photo, path, 90);
    impasto_image_free(photo);
    return 1;
}

static void run_job(server *s, job *j, impasto_ctx *ctx) {
    impasto_image *out = NULL;
    impasto_status st = run_method(s, j, ctx, &out);
    const char *msg = st == IMPASTO_OK ? "" : impasto_ctx_error(ctx);
    int saved = out ? save_result(s, j, ctx, out) : 0;
    pthread_mutex_lock(&s->record_lock);
    pthread_mutex_lock(&s->lock);
    j->seconds = serve_now() - j->started;
    j->eta = 0;
    if (saved) {
        j->has_result = 1;
        j->width = impasto_image_width(out);
        j->height = impasto_image_height(out);
    }
    if (st == IMPASTO_OK) {
        j->state = saved ? JOB_DONE : JOB_FAILED;
        j->fraction = 1;
        if (!saved) snprintf(j->error, sizeof j->error, "the result could not be written to the data folder");
    } else if (st == IMPASTO_ERR_CANCELLED || j->cancel) {
        j->state = JOB_CANCELLED;
    } else {
        j->state = JOB_FAILED;
        snprintf(j->error, sizeof j->error, "%s", msg[0] ? msg : impasto_status_string(st));
    }
    snprintf(j->stage, sizeof j->stage, "%s", job_state_name(j->state));
    drop_inputs(j);
    touch(s, j);
    pthread_mutex_unlock(&s->lock);
    impasto_image_free(out);
    write_record(s, j);
    pthread_mutex_unlock(&s->record_lock);
}

static void *worker(void *arg) {
    server *s = arg;
    impasto_ctx *ctx = impasto_ctx_create();
    if (ctx) {
        impasto_ctx_set_threads(ctx, s->cfg->threads);
        impasto_ctx_set_max_pixels(ctx, s->cfg->max_pixels);
    }
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->stopping && !s->queue_head) pthread_cond_wait(&s->work, &s->lock);
        if (s->stopping) break;
        job *j = s->queue_head;
        s->nqueued--;
        s->queue_head = j->next;
        if (!s->queue_head) s->queue_tail = NULL;
        j->next = NULL;
        j->state = JOB_RUNNING;
        j->started = serve_now();
        snprintf(j->stage, sizeof j->stage, "starting");
        touch(s, j);
        pthread_mutex_unlock(&s->lock);
        if (ctx) {
            run_job(s, j, ctx);
        } else {
            pthread_mutex_lock(&s->lock);
            j->state = JOB_FAILED;
            snprintf(j->error, sizeof j->error, "out of memory");
            touch(s, j);
            pthread_mutex_unlock(&s->lock);
        }
        job_release(s, j);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    impasto_ctx_free(ctx);
    return NULL;
}

int jobs_start(server *s, char *err, size_t nerr) {
    s->workers = calloc((size_t)s->cfg->jobs, sizeof *s->workers);
    if (!s->workers) {
        snprintf(err, nerr, "out of memory");
        return 0;
    }
    for (int i = 0; i < s->cfg->jobs; i++) {
        if (pthread_create(&s->workers[i], NULL, worker, s) != 0) {
            snprintf(err, nerr, "cannot start a worker thread");
            return 0;
        }
        s->nworkers++;
    }
    return 1;
}

/* Removes j from the queue (under the lock); 1 if it was there (the queue's reference is then
 * the caller's to drop). */
static int unqueue(server *s, job *j) {
    job **pp = &s->queue_head, *prev = NULL;
    while (*pp && *pp != j) prev = *pp, pp = &(*pp)->next;
    if (!*pp) return 0;
    *pp = j->next;
    if (s->queue_tail == j) s->queue_tail = prev;
    s->nqueued--;
    j->next = NULL;
    return 1;
}

static void cancel_queued(server *s, job *j) {
    j->state = JOB_CANCELLED;
    snprintf(j->stage, sizeof j->stage, "cancelled");
    drop_inputs(j);
    touch(s, j);
}

void jobs_stop(server *s) {
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    job *queued = s->queue_head;
    s->queue_head = s->queue_tail = NULL;
    s->nqueued = 0;
    for (size_t i = 0; i < s->njobs; i++)
        if (s->jobs[i]->state == JOB_RUNNING) s->jobs[i]->cancel = 1;
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    while (queued) {
        job *next = queued->next;
        pthread_mutex_lock(&s->record_lock);
        pthread_mutex_lock(&s->lock);
        cancel_queued(s, queued);
        pthread_mutex_unlock(&s->lock);
        write_record(s, queued);
        pthread_mutex_unlock(&s->record_lock);
        job_release(s, queued);
        queued = next;
    }
    for (int i = 0; i < s->nworkers; i++) pthread_join(s->workers[i], NULL);
    s->nworkers = 0;
}

void jobs_free(server *s) {
    for (size_t i = 0; i < s->njobs; i++) job_release(s, s->jobs[i]);
    free(s->jobs);
    free(s->workers);
    impasto_model_free(s->vgg19);
    impasto_model_free(s->adain);
    impasto_model_free(s->lst_r31);
}

int jobs_delete(server *s, job *j) {
    pthread_mutex_lock(&s->record_lock);
    pthread_mutex_lock(&s->lock);
    int state = j->state;
    if (state == JOB_QUEUED) {
        int was = unqueue(s, j);
        cancel_queued(s, j);
        pthread_mutex_unlock(&s->lock);
        write_record(s, j);
        pthread_mutex_unlock(&s->record_lock);
        if (was) job_release(s, j);
        return JOB_CANCELLED;
    }
    if (state == JOB_RUNNING) {
        j->cancel = 1;
        snprintf(j->stage, sizeof j->stage, "cancelling");
        touch(s, j);
        pthread_mutex_unlock(&s->lock);
        pthread_mutex_unlock(&s->record_lock);
        return JOB_RUNNING;
    }
    int in_table = 0;
    for (size_t i = 0; i < s->njobs; i++)
        if (s->jobs[i] == j) {
            memmove(&s->jobs[i], &s->jobs[i + 1], (s->njobs - i - 1) * sizeof *s->jobs);
            s->njobs--;
            in_table = 1;
            break;
        }
    if (in_table) {
        j->state = JOB_CANCELLED;
        j->version++;
        j->has_result = 0;
        snprintf(j->stage, sizeof j->stage, "deleted");
        pthread_cond_broadcast(&s->changed);
    }
    pthread_mutex_unlock(&s->lock);
    if (!in_table) {
        pthread_mutex_unlock(&s->record_lock);
        return -1;
    }
    static const char *const suffixes[] = {".png", "-content.jpg", ".json"};
    for (size_t k = 0; k < sizeof suffixes / sizeof suffixes[0]; k++) {
        char path[4096];
        if (job_file(s, j, suffixes[k], path, sizeof path) && unlink(path) != 0 && errno != ENOENT)
            fprintf(stderr, "impasto serve: warning: cannot delete %s: %s\n", path, strerror(errno));
    }
    pthread_mutex_unlock(&s->record_lock);
    job_release(s, j);  /* the table's */
    return -1;
}

cJSON *job_json(const job *j) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "method", SERVE_METHOD_NAMES[j->method]);
    if (j->method == METHOD_FAST) cJSON_AddStringToObject(o, "network", j->network);
    cJSON_AddStringToObject(o, "state", job_state_name(j->state));
    cJSON_AddStringToObject(o, "stage", j->stage);
    cJSON_AddNumberToObject(o, "progress", j->fraction);
    cJSON_AddNumberToObject(o, "iteration", j->iteration);
    cJSON_AddNumberToObject(o, "iterations", j->iterations);
    if (j->method == METHOD_TRANSFER) cJSON_AddNumberToObject(o, "loss", j->loss);
    cJSON_AddNumberToObject(o, "created", j->created);
    cJSON_AddNumberToObject(o, "seconds", j->seconds);
    if (j->eta >= 0) cJSON_AddNumberToObject(o, "eta", j->eta);
    else cJSON_AddNullToObject(o, "eta");
    if (j->error[0]) cJSON_AddStringToObject(o, "error", j->error);
    else cJSON_AddNullToObject(o, "error");
    if (j->has_result) {
        char url[128];
        snprintf(url, sizeof url, "/api/jobs/%s/result.png", j->id);
        cJSON_AddStringToObject(o, "result", url);
        cJSON_AddNumberToObject(o, "width", j->width);
        cJSON_AddNumberToObject(o, "height", j->height);
    } else {
        cJSON_AddNullToObject(o, "result");
    }
    cJSON *opts = job_options_json(&j->opt, j->method);
    if (opts) cJSON_AddItemToObject(o, "options", opts);
    return o;
}

cJSON *jobs_list_json(server *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON *a = o ? cJSON_AddArrayToObject(o, "jobs") : NULL;
    if (!a) {
        cJSON_Delete(o);
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->njobs; i++) {
        cJSON *item = job_json(s->jobs[i]);
        if (item) cJSON_AddItemToArray(a, item);
    }
    pthread_mutex_unlock(&s->lock);
    return o;
}
