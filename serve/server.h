/* The server's internals shared by its files: jobs and their queue (jobs.c), the options a job
 * takes (job_options.c), HTTP (http.c) and the page's files (page.c). */
#ifndef IMPASTO_SERVE_SERVER_H
#define IMPASTO_SERVE_SERVER_H

#include "serve.h"

#include <impasto.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

/* A job id: 16 random bytes as 32 lower-case hex digits (128 bits: not guessable). */
#define SERVE_ID_LEN 32
/* Style pictures one job takes (adain blends them; transfer too). */
#define SERVE_MAX_STYLES 8
/* The token: 32 random bytes as hex. */
#define SERVE_TOKEN_LEN 64
/* Fields in one multipart body; a field name's longest. */
#define SERVE_MAX_FIELDS 64
#define SERVE_MAX_KEY 64
/* Text fields (method, network, options...) are small; only pictures are large. */
#define SERVE_MAX_TEXT_FIELD ((size_t)64 << 10)
/* Jobs waiting at once: each holds its decoded pictures, so the queue is bounded (503 beyond). */
#define SERVE_MAX_QUEUED 32
/* Connections at once (each has a thread), and how long an idle one is kept. */
#define SERVE_MAX_CONNECTIONS 512
#define SERVE_CONNECTION_TIMEOUT 30
/* Seconds between keep-alive comments on an idle event stream. */
#define SERVE_SSE_KEEPALIVE 10
/* The largest job record read back from the data folder. */
#define SERVE_MAX_RECORD ((size_t)64 << 10)

typedef enum { METHOD_FAST, METHOD_ADAIN, METHOD_WCT, METHOD_TRANSFER, METHOD_COUNT } serve_method;
typedef enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_CANCELLED } job_state;

extern const char *const SERVE_METHOD_NAMES[METHOD_COUNT];
const char *job_state_name(job_state s);

/* Every option a job may give, under the CLI's names; which methods take each is in
 * job_options.c's table. Defaults are the library's (its *_options_init). */
typedef struct job_options {
    double alpha;            /* adain, wct */
    int content_size;        /* adain, wct */
    int style_size;          /* adain, wct */
    int preserve_color;      /* adain */
    int crop;                /* adain */
    int levels;              /* wct: 1 or 2 */
    double content_scale;    /* fast */
    int image_size;          /* transfer */
    int num_iterations;      /* transfer */
    double content_weight, style_weight, tv_weight;  /* transfer */
    double style_scale;      /* transfer */
    double learning_rate;    /* transfer */
    int init, optimizer, pooling, original_colors;   /* transfer */
    long seed;               /* transfer: -1 from the clock */
    int nweights;            /* adain's style-weights / transfer's style-blend-weights */
    double weights[SERVE_MAX_STYLES];
} job_options;

void job_options_init(job_options *o);
/* Sets option `name` (the CLI's name) of method m from its text value; 0 with a message in err
 * when the name is not one of m's options or the value is out of range. */
int job_options_set(job_options *o, serve_method m, const char *name, const char *value, char *err, size_t nerr);
/* Sets every member of a JSON object as job_options_set (numbers, strings, booleans, arrays of
 * numbers for the weight lists); 0 with a message at the first it refuses. NULL sets nothing. */
int job_options_from_json(job_options *o, serve_method m, const struct cJSON *obj, char *err, size_t nerr);
/* The options as a JSON object (only those method m takes). */
struct cJSON *job_options_json(const job_options *o, serve_method m);

typedef struct job {
    char id[SERVE_ID_LEN + 1];
    int refs;                 /* the table's, a worker's, each event stream's */
    serve_method method;
    job_state state;
    int cancel;               /* asked to stop */
    char network[128];        /* fast: the network's name */
    job_options opt;
    impasto_image *content;   /* decoded at upload; freed when the job ends */
    impasto_image *styles[SERVE_MAX_STYLES];
    int nstyles;
    /* Progress, under the server's lock. */
    double fraction;          /* 0..1 */
    char stage[32];
    int iteration, iterations;
    double loss;
    double created, started, seconds;  /* wall clock at creation and start; seconds running */
    double eta;               /* seconds left, -1 unknown */
    unsigned version;         /* bumped on every change (event streams wait for it) */
    char error[512];
    int has_result;
    int width, height;        /* the result's */
    struct job *next;         /* the queue */
} job;

typedef struct server {
    const serve_config *cfg;
    char token[SERVE_TOKEN_LEN + 1];
    int port;                 /* the bound one */
    char hostname[256];       /* this machine's name, accepted as Host on a non-loopback bind */
    int loopback;             /* bound to a loopback address */
    pthread_mutex_t lock;
    /* Held from a job's final state being set until its record is written, and by a DELETE, so
     * that a job deleted just as it finishes cannot leave its record behind (taken before lock). */
    pthread_mutex_t record_lock;
    pthread_cond_t work;      /* a job was queued, or stopping */
    pthread_cond_t changed;   /* some job's version moved */
    job **jobs;               /* every job, by creation */
    size_t njobs, capjobs;
    job *queue_head, *queue_tail;
    int nqueued;
    int stopping;
    pthread_t *workers;
    int nworkers;
    /* Models shared by every job (read-only once loaded), loaded on first use. */
    pthread_mutex_t model_lock;
    impasto_model *vgg19, *adain, *lst_r31;
} server;

/* ---- jobs.c ---- */
int jobs_start(server *s, char *err, size_t nerr);
/* Cancels what runs, empties the queue and joins the workers. */
void jobs_stop(server *s);
void jobs_free(server *s);
/* Reads the records of earlier results from the data folder. */
void jobs_restore(server *s);
/* 32 random hex digits (getrandom); 0 when the system has no randomness to give. */
int serve_random_hex(char *out, size_t nbytes);
/* Queues a job (the server then owns it): 1, or 0 when stopping, -1 when the queue is full. */
int jobs_submit(server *s, job *j);
/* The job with this id, with a reference taken (job_release), or NULL. The id must already
 * be checked to be SERVE_ID_LEN hex digits. */
job *jobs_get(server *s, const char *id);
void job_release(server *s, job *j);
/* DELETE: a queued job is cancelled, a running one asked to stop, a finished one deleted with its
 * files. Returns the state it leaves the job in, or -1 when it was deleted. */
int jobs_delete(server *s, job *j);
/* The job as JSON (under the lock). */
struct cJSON *job_json(const job *j);
/* The list of every job. */
struct cJSON *jobs_list_json(server *s);
/* DIR/<id><suffix> of a job's own files; 0 if it does not fit. */
int job_file(const server *s, const job *j, const char *suffix, char *out, size_t n);
void job_free(job *j);
double serve_now(void);

/* ---- http.c ---- */
struct MHD_Daemon;
/* Starts listening (s->port is then the bound port); NULL with a message in err. */
struct MHD_Daemon *http_start(server *s, char *err, size_t nerr);
/* Closes every connection (event streams end when s->stopping is set) and the socket. */
void http_stop(struct MHD_Daemon *d);

/* ---- page.c ---- */
typedef struct page_file {
    const char *path;          /* "/", "/app.js" */
    const char *content_type;
    const unsigned char *data;
    size_t size;
} page_file;
/* The compiled-in file at `path`; 0 when there is none. */
int page_find(const char *path, page_file *out);

#endif
