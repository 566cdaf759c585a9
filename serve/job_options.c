/* The options a job takes, by the CLI's names (impasto fast/adain/wct/transfer --help), parsed
 * from the text of a multipart field or a JSON value, each checked against the range the CLI
 * accepts. */
#include "server.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const SERVE_METHOD_NAMES[METHOD_COUNT] = {"fast", "adain", "wct", "transfer"};

enum { T_INT, T_LONG, T_DOUBLE, T_FLAG, T_CHOICE, T_LIST };
#define M_FAST (1 << METHOD_FAST)
#define M_ADAIN (1 << METHOD_ADAIN)
#define M_WCT (1 << METHOD_WCT)
#define M_TRANSFER (1 << METHOD_TRANSFER)

typedef struct opt_def {
    const char *name;
    int methods;       /* M_* mask */
    int type;
    size_t offset;
    double lo, hi;
    const char *choices;  /* T_CHOICE: "a|b" */
} opt_def;

#define O(f) offsetof(job_options, f)
static const opt_def OPTS[] = {
    {"alpha", M_ADAIN | M_WCT, T_DOUBLE, O(alpha), 0, 1, NULL},
    {"content-size", M_ADAIN | M_WCT, T_INT, O(content_size), 0, IMPASTO_MAX_SIDE, NULL},
    {"style-size", M_ADAIN | M_WCT, T_INT, O(style_size), 0, IMPASTO_MAX_SIDE, NULL},
    {"preserve-color", M_ADAIN, T_FLAG, O(preserve_color), 0, 1, NULL},
    {"crop", M_ADAIN, T_FLAG, O(crop), 0, 1, NULL},
    {"style-weights", M_ADAIN, T_LIST, O(weights), 0, 1e9, NULL},
    {"levels", M_WCT, T_INT, O(levels), 1, 2, NULL},
    {"content-scale", M_FAST, T_DOUBLE, O(content_scale), 1e-3, 1e3, NULL},
    {"image-size", M_TRANSFER, T_INT, O(image_size), 16, IMPASTO_MAX_SIDE, NULL},
    {"num-iterations", M_TRANSFER, T_INT, O(num_iterations), 1, 100000, NULL},
    {"content-weight", M_TRANSFER, T_DOUBLE, O(content_weight), 0, 1e12, NULL},
    {"style-weight", M_TRANSFER, T_DOUBLE, O(style_weight), 0, 1e12, NULL},
    {"tv-weight", M_TRANSFER, T_DOUBLE, O(tv_weight), 0, 1e12, NULL},
    {"style-scale", M_TRANSFER, T_DOUBLE, O(style_scale), 1e-3, 16, NULL},
    {"style-blend-weights", M_TRANSFER, T_LIST, O(weights), 0, 1e9, NULL},
    {"learning-rate", M_TRANSFER, T_DOUBLE, O(learning_rate), 1e-12, 1e9, NULL},
    {"init", M_TRANSFER, T_CHOICE, O(init), 0, 0, "random|image"},
    {"optimizer", M_TRANSFER, T_CHOICE, O(optimizer), 0, 0, "lbfgs|adam"},
    {"pooling", M_TRANSFER, T_CHOICE, O(pooling), 0, 0, "max|avg"},
    {"original-colors", M_TRANSFER, T_FLAG, O(original_colors), 0, 1, NULL},
    {"seed", M_TRANSFER, T_LONG, O(seed), -1, 0x7fffffff, NULL},
};
#undef O
#define NOPTS (sizeof OPTS / sizeof OPTS[0])

void job_options_init(job_options *o) {
    memset(o, 0, sizeof *o);
    impasto_adain_options a;
    impasto_adain_options_init(&a);
    impasto_wct_options w;
    impasto_wct_options_init(&w);
    impasto_fast_options f;
    impasto_fast_options_init(&f);
    impasto_transfer_options t;
    impasto_transfer_options_init(&t);
    o->alpha = a.alpha;
    o->content_size = a.content_size;
    o->style_size = a.style_size;
    o->levels = 2;
    o->content_scale = f.content_scale;
    /* A page's picture: 512 and 1000 iterations as neural-style, which the page's sliders lower. */
    o->image_size = t.image_size;
    o->num_iterations = t.num_iterations;
    o->content_weight = t.content_weight;
    o->style_weight = t.style_weight;
    o->tv_weight = t.tv_weight;
    o->style_scale = t.style_scale;
    o->learning_rate = t.learning_rate;
    o->init = (int)t.init;
    o->optimizer = (int)t.optimizer;
    o->pooling = (int)t.pooling;
    o->seed = (long)t.seed;
    (void)w;
}

/* The whole text must be a finite number in [lo, hi]. */
static int parse_number(const char *v, double lo, double hi, double *out) {
    if (!*v) return 0;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (*end || errno || !isfinite(d) || d < lo || d > hi) return 0;
    *out = d;
    return 1;
}

static int choice_index(const char *choices, const char *v) {
    int i = 0;
    for (const char *p = choices;; i++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (strlen(v) == len && !strncmp(p, v, len)) return i;
        if (!bar) return -1;
        p = bar + 1;
    }
}

int job_options_set(job_options *o, serve_method m, const char *name, const char *v, char *err, size_t nerr) {
    const opt_def *d = NULL;
    for (size_t i = 0; i < NOPTS; i++)
        if (!strcmp(OPTS[i].name, name) && (OPTS[i].methods & (1 << m))) d = &OPTS[i];
    if (!d) {
        snprintf(err, nerr, "%s takes no option '%.64s'", SERVE_METHOD_NAMES[m], name);
        return 0;
    }
    void *f = (char *)o + d->offset;
    double x;
    switch (d->type) {
    case T_INT:
    case T_LONG:
        if (!parse_number(v, d->lo, d->hi, &x) || x != floor(x)) {
            snprintf(err, nerr, "%s is a whole number from %.0f to %.0f, got '%.40s'", name, d->lo, d->hi, v);
            return 0;
        }
        if (d->type == T_INT) *(int *)f = (int)x;
        else *(long *)f = (long)x;
        return 1;
    case T_DOUBLE:
        if (!parse_number(v, d->lo, d->hi, &x)) {
            snprintf(err, nerr, "%s is a number from %g to %g, got '%.40s'", name, d->lo, d->hi, v);
            return 0;
        }
        *(double *)f = x;
        return 1;
    case T_FLAG:
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "yes")) *(int *)f = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "no")) *(int *)f = 0;
        else {
            snprintf(err, nerr, "%s is true or false, got '%.40s'", name, v);
            return 0;
        }
        return 1;
    case T_CHOICE: {
        int k = choice_index(d->choices, v);
        if (k < 0) {
            snprintf(err, nerr, "%s is one of %s, got '%.40s'", name, d->choices, v);
            return 0;
        }
        *(int *)f = k;
        return 1;
    }
    case T_LIST: {
        int n = 0;
        const char *p = v;
        while (*p) {
            char item[64];
            size_t len = strcspn(p, ",");
            if (len == 0 || len >= sizeof item || n == SERVE_MAX_STYLES) {
                snprintf(err, nerr, "%s is up to %d numbers separated by commas", name, SERVE_MAX_STYLES);
                return 0;
            }
            memcpy(item, p, len);
            item[len] = 0;
            if (!parse_number(item, d->lo, d->hi, &o->weights[n])) {
                snprintf(err, nerr, "%s: '%.40s' is not a number from %g to %g", name, item, d->lo, d->hi);
                return 0;
            }
            n++;
            p += len;
            if (*p == ',') p++;
        }
        o->nweights = n;
        return 1;
    }
    }
    return 0;
}

cJSON *job_options_json(const job_options *o, serve_method m) {
    cJSON *obj = cJSON_CreateObject();
    if (!obj) return NULL;
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_def *d = &OPTS[i];
        if (!(d->methods & (1 << m))) continue;
        const void *f = (const char *)o + d->offset;
        switch (d->type) {
        case T_INT: cJSON_AddNumberToObject(obj, d->name, *(const int *)f); break;
        case T_LONG: cJSON_AddNumberToObject(obj, d->name, (double)*(const long *)f); break;
        case T_DOUBLE: cJSON_AddNumberToObject(obj, d->name, *(const double *)f); break;
        case T_FLAG: cJSON_AddBoolToObject(obj, d->name, *(const int *)f); break;
        case T_CHOICE: {
            char buf[64];
            const char *p = d->choices;
            for (int k = *(const int *)f; k > 0 && p; k--) p = strchr(p, '|'), p = p ? p + 1 : NULL;
            snprintf(buf, sizeof buf, "%.*s", p ? (int)strcspn(p, "|") : 0, p ? p : "");
            cJSON_AddStringToObject(obj, d->name, buf);
            break;
        }
        case T_LIST:
            if (o->nweights) {
                cJSON *a = cJSON_AddArrayToObject(obj, d->name);
                for (int k = 0; a && k < o->nweights; k++) cJSON_AddItemToArray(a, cJSON_CreateNumber(o->weights[k]));
            }
            break;
        }
    }
    return obj;
}

int job_options_from_json(job_options *o, serve_method m, const cJSON *obj, char *err, size_t nerr) {
    if (!obj) return 1;
    if (!cJSON_IsObject(obj)) {
        snprintf(err, nerr, "options must be a JSON object");
        return 0;
    }
    for (const cJSON *it = obj->child; it; it = it->next) {
        char text[1024];
        size_t w = 0;
        if (!it->string) continue;
        if (cJSON_IsNumber(it)) {
            snprintf(text, sizeof text, "%.17g", it->valuedouble);
        } else if (cJSON_IsBool(it)) {
            snprintf(text, sizeof text, "%s", cJSON_IsTrue(it) ? "1" : "0");
        } else if (cJSON_IsString(it)) {
            snprintf(text, sizeof text, "%.1000s", it->valuestring);
        } else if (cJSON_IsArray(it)) {
            text[0] = 0;
            for (const cJSON *e = it->child; e && w < sizeof text; e = e->next) {
                if (!cJSON_IsNumber(e)) {
                    snprintf(err, nerr, "%.64s: a list of numbers", it->string);
                    return 0;
                }
                w += (size_t)snprintf(text + w, sizeof text - w, "%s%.17g", w ? "," : "", e->valuedouble);
            }
        } else {
            snprintf(err, nerr, "%.64s: a number, a string or true/false", it->string);
            return 0;
        }
        if (!job_options_set(o, m, it->string, text, err, nerr)) return 0;
    }
    return 1;
}
