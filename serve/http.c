/* HTTP, by libmicrohttpd (one thread per connection, so an event stream may wait for its job):
 * the page's files, the JSON API, and the checks every request passes first. Nothing from a
 * request ever names a file: the page is compiled in, and a job's files are named from its id
 * after the id was found among the server's jobs. */
#include "server.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

/* ---- responses ---- */

static void security_headers(struct MHD_Response *r) {
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Cache-Control", "no-store");
}

static enum MHD_Result send_buffer(struct MHD_Connection *c, unsigned code, const char *type, const void *data,
                                   size_t size, enum MHD_ResponseMemoryMode mode) {
    struct MHD_Response *r = MHD_create_response_from_buffer(size, (void *)data, mode);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    security_headers(r);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* Takes o. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned code, cJSON *o) {
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) return send_buffer(c, 500, "application/json", "{\"error\":\"out of memory\"}", 25, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = send_buffer(c, code, "application/json", text, strlen(text), MHD_RESPMEM_MUST_COPY);
    free(text);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned code, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    if (o) cJSON_AddStringToObject(o, "error", msg);
    return send_json(c, code, o);
}

/* ---- the checks before anything else ---- */

static const char *header(struct MHD_Connection *c, const char *name) {
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* An IPv4 or bracketed IPv6 literal ("127.0.0.1", "[::1]"). */
static int is_ip_literal(const char *h, size_t len) {
    char buf[64];
    unsigned char addr[16];
    if (len == 0 || len >= sizeof buf) return 0;
    if (h[0] == '[') {
        if (len < 3 || h[len - 1] != ']') return 0;
        memcpy(buf, h + 1, len - 2);
        buf[len - 2] = 0;
        return inet_pton(AF_INET6, buf, addr) == 1;
    }
    memcpy(buf, h, len);
    buf[len] = 0;
    return inet_pton(AF_INET, buf, addr) == 1;
}

/* Against DNS rebinding: a page of another site whose name was made to point at this machine
 * sends that name as Host. Loopback bind: localhost, a loopback address or the bound one. Any
 * other bind: also an address literal (no name to rebind) or this machine's own name. The port,
 * when given, must be ours. */
static int host_ok(const server *s, const char *host) {
    if (!host) return 0;
    size_t len = strlen(host);
    const char *colon = host[0] == '[' ? strstr(host, "]:") : strchr(host, ':');
    if (colon && host[0] == '[') colon++;
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || end == colon + 1 || port != s->port) return 0;
        len = (size_t)(colon - host);
    }
    char bracketed[80];
    const char *bind = s->cfg->bind;
    if (strchr(bind, ':')) snprintf(bracketed, sizeof bracketed, "[%s]", bind), bind = bracketed;
    static const char *const names[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && !strncasecmp(host, names[i], len)) return 1;
    if (strlen(bind) == len && !strncasecmp(host, bind, len)) return 1;
    if (s->loopback) return 0;
    if (is_ip_literal(host, len)) return 1;
    return s->hostname[0] && strlen(s->hostname) == len && !strncasecmp(host, s->hostname, len);
}

/* A request from a page carries Origin; it must be this server itself. */
static int origin_ok(struct MHD_Connection *c) {
    const char *origin = header(c, "Origin"), *host = header(c, "Host");
    if (!origin) return 1;
    return host && !strncmp(origin, "http://", 7) && !strcmp(origin + 7, host);
}

/* X-Impasto-Token, compared in constant time. */
static int token_ok(const server *s, struct MHD_Connection *c) {
    const char *t = header(c, "X-Impasto-Token");
    if (!t || strlen(t) != SERVE_TOKEN_LEN) return 0;
    unsigned char diff = 0;
    for (int i = 0; i < SERVE_TOKEN_LEN; i++) diff |= (unsigned char)(t[i] ^ s->token[i]);
    return diff == 0;
}

/* ---- uploads: POST /api/jobs, multipart/form-data through MHD's post processor ---- */

typedef struct field {
    char key[SERVE_MAX_KEY];
    int is_file;
    unsigned char *data;
    size_t len, cap;
} field;

typedef struct upload {
    struct MHD_PostProcessor *pp;
    field fields[SERVE_MAX_FIELDS];
    int nfields;
    size_t total;
    int too_large;
    char bad[200];  /* why the body is refused, "" while it is fine */
} upload;

static void upload_free(upload *u) {
    if (!u) return;
    if (u->pp) MHD_destroy_post_processor(u->pp);
    for (int i = 0; i < u->nfields; i++) free(u->fields[i].data);
    free(u);
}

static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                const char *content_type, const char *transfer_encoding, const char *data,
                                uint64_t off, size_t size) {
    upload *u = cls;
    (void)kind, (void)content_type, (void)transfer_encoding;
    if (u->bad[0]) return MHD_NO;
    if (!key || !*key || strlen(key) >= SERVE_MAX_KEY) {
        snprintf(u->bad, sizeof u->bad, "a multipart field without a name, or with one too long");
        return MHD_NO;
    }
    field *f = u->nfields ? &u->fields[u->nfields - 1] : NULL;
    /* A new part begins at offset 0 (parts of the same name, several styles, follow each other). */
    if (!f || strcmp(f->key, key) || (off == 0 && f->len > 0)) {
        if (u->nfields == SERVE_MAX_FIELDS) {
            snprintf(u->bad, sizeof u->bad, "more than %d multipart fields", SERVE_MAX_FIELDS);
            return MHD_NO;
        }
        f = &u->fields[u->nfields++];
        snprintf(f->key, sizeof f->key, "%s", key);
        f->is_file = filename != NULL;
    }
    if (!f->is_file && f->len + size > SERVE_MAX_TEXT_FIELD) {
        snprintf(u->bad, sizeof u->bad, "the field '%s' is longer than %zu bytes", key, SERVE_MAX_TEXT_FIELD);
        return MHD_NO;
    }
    if (f->len + size + 1 > f->cap) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap < f->len + size + 1) cap *= 2;
        unsigned char *p = realloc(f->data, cap);
        if (!p) {
            snprintf(u->bad, sizeof u->bad, "out of memory");
            return MHD_NO;
        }
        f->data = p;
        f->cap = cap;
    }
    if (size) memcpy(f->data + f->len, data, size);
    f->len += size;
    f->data[f->len] = 0;
    return MHD_YES;
}

static const field *find_field(const upload *u, const char *key) {
    for (int i = 0; i < u->nfields; i++)
        if (!strcmp(u->fields[i].key, key)) return &u->fields[i];
    return NULL;
}

static int network_known(const server *s, const char *name) {
    for (int i = 0; i < s->cfg->nnetworks; i++)
        if (!strcmp(s->cfg->networks[i].name, name)) return 1;
    return 0;
}

/* Why method m cannot run here ("" when it can). */
static const char *method_missing(const server *s, serve_method m, int levels) {
    const serve_config *cfg = s->cfg;
    switch (m) {
    case METHOD_FAST: return cfg->nnetworks ? "" : "no fast style network is installed";
    case METHOD_ADAIN: return cfg->adain ? "" : "the adain model is not installed";
    case METHOD_WCT:
        if (!cfg->adain) return "the adain model is not installed";
        return levels == 2 && !cfg->lst_r31 ? "the lst-r31 model is not installed (or use levels 1)" : "";
    case METHOD_TRANSFER: return cfg->vgg19 ? "" : "the vgg19 model is not installed";
    default: return "unknown method";
    }
}

/* Decodes one uploaded picture; the pixel limit is checked from its header before any pixel is
 * decoded. Returns 0 (ok), or the HTTP status with a message in err. */
static unsigned decode(const server *s, const field *f, impasto_image **out, char *err, size_t nerr) {
    impasto_ctx *ctx = impasto_ctx_create();
    if (!ctx) return snprintf(err, nerr, "out of memory"), 503;
    impasto_ctx_set_max_pixels(ctx, s->cfg->max_pixels);
    impasto_status st = impasto_image_load_memory(ctx, f->data ? f->data : (const unsigned char *)"", f->len, out);
    unsigned code = 0;
    if (st != IMPASTO_OK) {
        snprintf(err, nerr, "%s: %s", f->key, impasto_ctx_error(ctx));
        code = st == IMPASTO_ERR_TOO_LARGE ? 413 : st == IMPASTO_ERR_NOMEM ? 503 : 400;
    }
    impasto_ctx_free(ctx);
    return code;
}

/* Makes the job from a complete body. Returns 0 with the job, or the status with a message. */
static unsigned make_job(server *s, const upload *u, job **out, char *err, size_t nerr) {
    const field *method = find_field(u, "method");
    if (!method || method->is_file) return snprintf(err, nerr, "no method (fast, adain, wct or transfer)"), 400;
    int m = -1;
    for (int k = 0; k < METHOD_COUNT; k++)
        if (!strcmp((const char *)method->data, SERVE_METHOD_NAMES[k])) m = k;
    if (m < 0) return snprintf(err, nerr, "method is fast, adain, wct or transfer, got '%.40s'", method->data), 400;
    job *j = calloc(1, sizeof *j);
    if (!j) return snprintf(err, nerr, "out of memory"), 503;
    j->method = (serve_method)m;
    job_options_init(&j->opt);
    unsigned code = 400;
    int have_content = 0;
    for (int i = 0; i < u->nfields; i++) {
        const field *f = &u->fields[i];
        const char *v = f->data ? (const char *)f->data : "";
        if (!strcmp(f->key, "content")) {
            if (have_content++) { snprintf(err, nerr, "one content picture per job"); goto fail; }
            if ((code = decode(s, f, &j->content, err, nerr)) != 0) goto fail;
            code = 400;
        } else if (!strcmp(f->key, "style")) {
            if (j->nstyles == SERVE_MAX_STYLES) { snprintf(err, nerr, "at most %d style pictures", SERVE_MAX_STYLES); goto fail; }
            if ((code = decode(s, f, &j->styles[j->nstyles], err, nerr)) != 0) goto fail;
            j->nstyles++;
            code = 400;
        } else if (f->is_file) {
            snprintf(err, nerr, "unexpected file field '%s' (content and style are the pictures)", f->key);
            goto fail;
        } else if (!strcmp(f->key, "method")) {
        } else if (!strcmp(f->key, "network")) {
            snprintf(j->network, sizeof j->network, "%.127s", v);
        } else if (!strcmp(f->key, "options")) {
            cJSON *o = cJSON_ParseWithLength(v, f->len);
            if (!o) { snprintf(err, nerr, "options is not valid JSON"); goto fail; }
            int ok = job_options_from_json(&j->opt, j->method, o, err, nerr);
            cJSON_Delete(o);
            if (!ok) goto fail;
        } else if (!job_options_set(&j->opt, j->method, f->key, v, err, nerr)) {
            goto fail;
        }
    }
    const char *missing = method_missing(s, j->method, j->opt.levels);
    if (missing[0]) { snprintf(err, nerr, "%s: %s", SERVE_METHOD_NAMES[m], missing); code = 409; goto fail; }
    if (!j->content) { snprintf(err, nerr, "no content picture (the field 'content')"); goto fail; }
    if (j->method == METHOD_FAST) {
        if (!j->network[0]) { snprintf(err, nerr, "fast needs a network (GET /api/models lists them)"); goto fail; }
        if (!network_known(s, j->network)) { snprintf(err, nerr, "no fast network '%.64s' (GET /api/models lists them)", j->network); code = 404; goto fail; }
        if (j->nstyles) { snprintf(err, nerr, "fast takes no style picture: the network is the style"); goto fail; }
    } else {
        if (j->network[0]) { snprintf(err, nerr, "network is for method fast"); goto fail; }
        if (!j->nstyles) { snprintf(err, nerr, "no style picture (the field 'style')"); goto fail; }
        if (j->method == METHOD_WCT && j->nstyles > 1) { snprintf(err, nerr, "wct takes one style picture"); goto fail; }
        if (j->opt.nweights && j->opt.nweights != j->nstyles) {
            snprintf(err, nerr, "%d style weights for %d style pictures", j->opt.nweights, j->nstyles);
            goto fail;
        }
    }
    if (!serve_random_hex(j->id, SERVE_ID_LEN / 2)) { snprintf(err, nerr, "no randomness for a job id"); code = 503; goto fail; }
    *out = j;
    return 0;
fail:
    job_free(j);
    return code;
}

static enum MHD_Result finish_upload(server *s, struct MHD_Connection *c, upload *u) {
    if (u->too_large) return send_error(c, 413, "the request is larger than --max-upload (%zu MB)", s->cfg->max_upload >> 20);
    int complete = MHD_destroy_post_processor(u->pp) == MHD_YES;
    u->pp = NULL;
    if (u->bad[0]) return send_error(c, 400, "%s", u->bad);
    if (!complete) return send_error(c, 400, "the multipart body is malformed or truncated");
    char err[600] = "";
    job *j = NULL;
    unsigned code = make_job(s, u, &j, err, sizeof err);
    if (code) return send_error(c, code, "%s", err);
    char id[SERVE_ID_LEN + 1];
    memcpy(id, j->id, sizeof id);
    int queued = jobs_submit(s, j);
    if (queued <= 0) {
        job_free(j);
        if (queued < 0) return send_error(c, 503, "%d jobs are waiting already: try again later", SERVE_MAX_QUEUED);
        return send_error(c, 503, "the server is stopping");
    }
    cJSON *o = cJSON_CreateObject();
    if (o) {
        char url[80];
        snprintf(url, sizeof url, "/api/jobs/%s", id);
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddStringToObject(o, "state", "queued");
        cJSON_AddStringToObject(o, "url", url);
    }
    return send_json(c, 201, o);
}

/* ---- event streams: GET /api/jobs/ID/events ---- */

typedef struct stream {
    server *s;
    job *j;
    unsigned seen;
    int started, ended;
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    stream *e = cls;
    server *s = e->s;
    (void)pos;
    if (e->ended) return MHD_CONTENT_READER_END_OF_STREAM;
    pthread_mutex_lock(&s->lock);
    if (e->started) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += SERVE_SSE_KEEPALIVE;
        while (e->j->version == e->seen && !s->stopping)
            if (pthread_cond_timedwait(&s->changed, &s->lock, &until) == ETIMEDOUT) break;
    }
    int n;
    if (e->started && e->j->version == e->seen && !s->stopping) {
        n = snprintf(buf, max, ": keep-alive\n\n");
    } else {
        const job *j = e->j;
        int end = j->state == JOB_DONE || j->state == JOB_FAILED || j->state == JOB_CANCELLED || s->stopping;
        cJSON *o = job_json(j);
        e->seen = j->version;
        char *text = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        n = snprintf(buf, max, "%sevent: %s\ndata: %s\n\n", e->started ? "" : "retry: 2000\n", end ? "end" : "progress",
                     text ? text : "{}");
        free(text);
        if (n < 0 || (size_t)n >= max) n = snprintf(buf, max, "event: end\ndata: {}\n\n");
        e->ended = end;
    }
    e->started = 1;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void stream_free(void *cls) {
    stream *e = cls;
    job_release(e->s, e->j);
    free(e);
}

static enum MHD_Result send_events(server *s, struct MHD_Connection *c, job *j) {
    stream *e = calloc(1, sizeof *e);
    if (!e) {
        job_release(s, j);
        return send_error(c, 503, "out of memory");
    }
    e->s = s;
    e->j = j;
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 8192, stream_read, e, stream_free);
    if (!r) {
        stream_free(e);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    security_headers(r);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- files of a job ---- */

static enum MHD_Result send_file(server *s, struct MHD_Connection *c, job *j, const char *suffix, const char *type) {
    char path[4096];
    pthread_mutex_lock(&s->lock);
    int has = j->has_result;
    pthread_mutex_unlock(&s->lock);
    if (!has) return send_error(c, 404, "job %s has no result (yet)", j->id);
    if (!job_file(s, j, suffix, path, sizeof path)) return send_error(c, 500, "the data folder's path is too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0) close(fd);
        return send_error(c, 404, "job %s's file is gone from the data folder", j->id);
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    security_headers(r);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* result.jpg: made from the PNG on request. */
static enum MHD_Result send_jpeg(server *s, struct MHD_Connection *c, job *j) {
    char path[4096];
    pthread_mutex_lock(&s->lock);
    int has = j->has_result;
    pthread_mutex_unlock(&s->lock);
    if (!has) return send_error(c, 404, "job %s has no result (yet)", j->id);
    if (!job_file(s, j, ".png", path, sizeof path)) return send_error(c, 500, "the data folder's path is too long");
    impasto_ctx *ctx = impasto_ctx_create();
    if (!ctx) return send_error(c, 503, "out of memory");
    impasto_ctx_set_max_pixels(ctx, s->cfg->max_pixels);
    impasto_image *img = NULL;
    void *data = NULL;
    size_t size = 0;
    enum MHD_Result ret;
    if (impasto_image_load(ctx, path, &img) != IMPASTO_OK ||
        impasto_image_save_memory(ctx, img, "jpeg", 92, &data, &size) != IMPASTO_OK)
        ret = send_error(c, 500, "%s", impasto_ctx_error(ctx));
    else
        ret = send_buffer(c, 200, "image/jpeg", data, size, MHD_RESPMEM_MUST_COPY);
    impasto_free(data);
    impasto_image_free(img);
    impasto_ctx_free(ctx);
    return ret;
}

/* ---- the API's other routes ---- */

static enum MHD_Result send_models(server *s, struct MHD_Connection *c) {
    const serve_config *cfg = s->cfg;
    cJSON *o = cJSON_CreateObject();
    cJSON *methods = o ? cJSON_AddArrayToObject(o, "methods") : NULL;
    for (int m = 0; methods && m < METHOD_COUNT; m++) {
        cJSON *item = cJSON_CreateObject();
        if (!item) break;
        const char *why = method_missing(s, (serve_method)m, m == METHOD_WCT && !cfg->lst_r31 ? 1 : 2);
        cJSON_AddStringToObject(item, "name", SERVE_METHOD_NAMES[m]);
        cJSON_AddBoolToObject(item, "available", !why[0]);
        if (why[0]) cJSON_AddStringToObject(item, "why", why);
        if (m == METHOD_WCT) cJSON_AddNumberToObject(item, "max_levels", cfg->lst_r31 ? 2 : 1);
        job_options def;
        job_options_init(&def);
        cJSON *opts = job_options_json(&def, (serve_method)m);
        if (opts) cJSON_AddItemToObject(item, "defaults", opts);
        cJSON_AddItemToArray(methods, item);
    }
    cJSON *nets = o ? cJSON_AddArrayToObject(o, "networks") : NULL;
    for (int i = 0; nets && i < cfg->nnetworks; i++) cJSON_AddItemToArray(nets, cJSON_CreateString(cfg->networks[i].name));
    if (o) {
        cJSON_AddNumberToObject(o, "max_upload", (double)cfg->max_upload);
        cJSON_AddNumberToObject(o, "max_pixels", (double)cfg->max_pixels);
        cJSON_AddStringToObject(o, "version", impasto_version());
    }
    return send_json(c, 200, o);
}

static int is_hex_id(const char *p) {
    for (int i = 0; i < SERVE_ID_LEN; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) return 0;
    return 1;
}

static enum MHD_Result job_route(server *s, struct MHD_Connection *c, const char *rest, const char *method) {
    const size_t L = SERVE_ID_LEN;
    if (strlen(rest) < L || !is_hex_id(rest)) return send_error(c, 404, "no such job");
    char id[SERVE_ID_LEN + 1];
    memcpy(id, rest, L);
    id[L] = 0;
    const char *tail = rest + L;
    int is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    static const char *const tails[] = {"", "/events", "/result.png", "/result.jpg", "/content.jpg"};
    int which = -1;
    for (int i = 0; i < 5; i++)
        if (!strcmp(tail, tails[i])) which = i;
    if (which < 0) return send_error(c, 404, "no such resource");
    if (!is_get && !(which == 0 && !strcmp(method, "DELETE"))) return send_error(c, 405, "method %s not allowed here", method);
    if (!is_get && !token_ok(s, c)) return send_error(c, 403, "missing or wrong X-Impasto-Token (GET /api/token)");
    job *j = jobs_get(s, id);
    if (!j) return send_error(c, 404, "no such job");
    enum MHD_Result ret;
    if (which == 1) return send_events(s, c, j);  /* the stream keeps the reference */
    if (which == 0 && !is_get) {
        int left = jobs_delete(s, j);
        cJSON *o = cJSON_CreateObject();
        if (o) {
            cJSON_AddStringToObject(o, "id", id);
            cJSON_AddStringToObject(o, "state", left < 0 ? "deleted" : left == JOB_RUNNING ? "cancelling" : job_state_name((job_state)left));
        }
        ret = send_json(c, left == JOB_RUNNING ? 202 : 200, o);
    } else if (which == 0) {
        pthread_mutex_lock(&s->lock);
        cJSON *o = job_json(j);
        pthread_mutex_unlock(&s->lock);
        ret = send_json(c, 200, o);
    } else if (which == 2) {
        ret = send_file(s, c, j, ".png", "image/png");
    } else if (which == 3) {
        ret = send_jpeg(s, c, j);
    } else {
        ret = send_file(s, c, j, "-content.jpg", "image/jpeg");
    }
    job_release(s, j);
    return ret;
}

static enum MHD_Result send_page(struct MHD_Connection *c, const page_file *f) {
    struct MHD_Response *r = MHD_create_response_from_buffer(f->size, (void *)f->data, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", f->content_type);
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; "
                            "frame-ancestors 'none'; form-action 'none'");
    security_headers(r);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* Every request but an upload: answered at its first call. */
static enum MHD_Result route(server *s, struct MHD_Connection *c, const char *url, const char *method) {
    int is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    const char *jobs_prefix = "/api/jobs/";
    if (!strncmp(url, jobs_prefix, strlen(jobs_prefix))) return job_route(s, c, url + strlen(jobs_prefix), method);
    if (!strcmp(url, "/api/jobs")) {
        if (!is_get) return send_error(c, 405, "method %s not allowed here", method);
        return send_json(c, 200, jobs_list_json(s));
    }
    if (!strcmp(url, "/api/models")) {
        if (!is_get) return send_error(c, 405, "method %s not allowed here", method);
        return send_models(s, c);
    }
    if (!strcmp(url, "/api/token")) {
        if (!is_get) return send_error(c, 405, "method %s not allowed here", method);
        /* A cross-site fetch could not read the answer anyway (no CORS headers); refuse it outright. */
        const char *site = header(c, "Sec-Fetch-Site");
        if (site && strcmp(site, "same-origin") && strcmp(site, "none"))
            return send_error(c, 403, "the token is only for this server's own page");
        cJSON *o = cJSON_CreateObject();
        if (o) cJSON_AddStringToObject(o, "token", s->token);
        return send_json(c, 200, o);
    }
    page_file f;
    if (page_find(url, &f)) {
        if (!is_get) return send_error(c, 405, "method %s not allowed here", method);
        return send_page(c, &f);
    }
    return send_error(c, 404, "not found");
}

/* A sentinel for requests answered at their first call (any body they have is discarded). */
static int answered;

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls) {
    server *s = cls;
    (void)version;
    if (*con_cls == &answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!*con_cls) {
        if (!header(c, "Host")) {
            *con_cls = &answered;
            return send_error(c, 400, "no Host header");
        }
        if (!host_ok(s, header(c, "Host"))) {
            *con_cls = &answered;
            return send_error(c, 403, "this server answers to localhost and its own address only (Host: %.80s)",
                              header(c, "Host"));
        }
        if (!origin_ok(c)) {
            *con_cls = &answered;
            return send_error(c, 403, "requests from another site's page are refused");
        }
        if (strcmp(method, "POST") || strcmp(url, "/api/jobs")) {
            *con_cls = &answered;
            return route(s, c, url, method);
        }
        if (!token_ok(s, c)) {
            *con_cls = &answered;
            return send_error(c, 403, "missing or wrong X-Impasto-Token (GET /api/token)");
        }
        const char *cl = header(c, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (*end || errno || n > s->cfg->max_upload) {
                *con_cls = &answered;
                return send_error(c, 413, "the request is larger than --max-upload (%zu MB)", s->cfg->max_upload >> 20);
            }
        }
        upload *u = calloc(1, sizeof *u);
        if (!u) return MHD_NO;
        u->pp = MHD_create_post_processor(c, 64 * 1024, on_field, u);
        if (!u->pp) {
            free(u);
            *con_cls = &answered;
            return send_error(c, 400, "a job is posted as multipart/form-data");
        }
        *con_cls = u;
        return MHD_YES;
    }
    upload *u = *con_cls;
    if (*upload_data_size) {
        u->total += *upload_data_size;
        if (u->total > s->cfg->max_upload) u->too_large = 1;
        else if (!u->bad[0] && MHD_post_process(u->pp, upload_data, *upload_data_size) != MHD_YES && !u->bad[0])
            snprintf(u->bad, sizeof u->bad, "the multipart body is malformed");
        *upload_data_size = 0;
        /* A body without Content-Length that runs past the cap: stop reading it. */
        return u->too_large ? MHD_NO : MHD_YES;
    }
    return finish_upload(s, c, u);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)c, (void)toe;
    if (*con_cls && *con_cls != &answered) upload_free(*con_cls);
    *con_cls = NULL;
}

struct MHD_Daemon *http_start(server *s, char *err, size_t nerr) {
    const char *addr = s->cfg->bind;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t slen;
    int family;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
        family = AF_INET;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)s->cfg->port);
        slen = sizeof *a4;
        s->loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
        family = AF_INET6;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)s->cfg->port);
        slen = sizeof *a6;
        s->loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
    } else {
        snprintf(err, nerr, "--bind takes an IPv4 or IPv6 address, got '%s'", addr);
        return NULL;
    }
    /* Our own socket, so a port in use is reported as such. */
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, slen) != 0 || listen(fd, 128) != 0) {
        snprintf(err, nerr, "cannot listen on %s port %d: %s", addr, s->cfg->port, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    struct sockaddr_storage got;
    socklen_t glen = sizeof got;
    getsockname(fd, (struct sockaddr *)&got, &glen);
    s->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port : ((struct sockaddr_in6 *)&got)->sin6_port);
    if (gethostname(s->hostname, sizeof s->hostname) != 0) s->hostname[0] = 0;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | (family == AF_INET6 ? MHD_USE_IPv6 : 0), 0,
        NULL, NULL, handle, s, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)SERVE_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVE_CONNECTION_TIMEOUT,
        MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
    if (!d) {
        snprintf(err, nerr, "cannot start the HTTP server on %s port %d", addr, s->port);
        close(fd);
    }
    return d;
}

void http_stop(struct MHD_Daemon *d) {
    if (d) MHD_stop_daemon(d);
}
