/* TensorFlow GraphDef reader (see graphdef.h). The schema fixes the nesting depth
 * (GraphDef > NodeDef > attr entry > AttrValue > TensorProto > TensorShapeProto > Dim), so
 * hostile nesting in unknown fields is skipped, never recursed into. */
#include "formats/graphdef.h"

#include "core/ctx.h"
#include "core/fileio.h"
#include "core/limits.h"
#include "formats/protobuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The parse state: the first problem found, so nested readers need not thread a status. */
typedef struct gd_parser {
    const char *err;  /* static reason, or NULL */
    int oom;
} gd_parser;

static char *gd_strdup(gd_parser *ps, const unsigned char *p, size_t n) {
    if (memchr(p, 0, n)) {
        ps->err = "a name contains a NUL byte";
        return NULL;
    }
    char *s = malloc(n + 1);
    if (!s) {
        ps->oom = 1;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* Grows *arr (elements of `size` bytes, *n used) by one; returns the new element (zeroed). */
static void *gd_push(gd_parser *ps, void **arr, size_t *n, size_t size) {
    size_t cap = 1;
    while (cap < *n + 1) cap *= 2;
    if ((*n & (*n - 1)) == 0 || *n == 0) {
        size_t bytes;
        if (!size_mul(cap, size, &bytes)) {
            ps->oom = 1;
            return NULL;
        }
        void *q = realloc(*arr, bytes);
        if (!q) {
            ps->oom = 1;
            return NULL;
        }
        *arr = q;
    }
    char *e = (char *)*arr + *n * size;
    memset(e, 0, size);
    (*n)++;
    return e;
}

static int gd_ok(const gd_parser *ps) { return !ps->err && !ps->oom; }

/* Walks the fields of one message; `r` and `f` are declared by the caller. */
#define GD_FIELDS(ps, r, f) while (gd_ok(ps) && pb_next(&(r), &(f), &(ps)->err) > 0)

static void gd_tensor_clear(gd_tensor *t) {
    if (!t) return;
    free(t->fval);
    free(t->ival);
}

static void gd_shape(gd_parser *ps, const unsigned char *p, size_t n, gd_tensor *t) {
    pb_reader r;
    pb_field f;
    pb_init(&r, p, n);
    GD_FIELDS(ps, r, f) {
        if (f.number != 2 || f.wire != PB_LEN) continue;
        if (t->ndim == TENSOR_MAX_DIMS) {
            ps->err = "tensor has more than 8 dimensions";
            return;
        }
        int64_t size = 0;
        pb_reader rd;
        pb_field fd;
        pb_init(&rd, f.data, f.len);
        GD_FIELDS(ps, rd, fd) if (fd.number == 1 && fd.wire == PB_VARINT) size = (int64_t)fd.u;
        if (size < 0) {
            ps->err = "negative or unknown tensor dimension";
            return;
        }
        t->shape[t->ndim++] = size;
    }
}

/* A repeated scalar field, packed (one LEN field) or not (one field per value). */
static void gd_floats(gd_parser *ps, const pb_field *f, gd_tensor *t) {
    if (f->wire == PB_I32) {
        float *v = gd_push(ps, (void **)&t->fval, &t->nfval, sizeof(float));
        if (v) *v = pb_float(f->u);
    } else if (f->wire == PB_LEN) {
        if (f->len % 4) {
            ps->err = "packed float_val length is not a multiple of 4";
            return;
        }
        for (size_t i = 0; i < f->len && gd_ok(ps); i += 4) {
            float *v = gd_push(ps, (void **)&t->fval, &t->nfval, sizeof(float));
            uint32_t b = (uint32_t)f->data[i] | (uint32_t)f->data[i + 1] << 8 |
                         (uint32_t)f->data[i + 2] << 16 | (uint32_t)f->data[i + 3] << 24;
            if (v) *v = pb_float(b);
        }
    }
}

static void gd_ints(gd_parser *ps, const pb_field *f, int64_t **arr, size_t *n) {
    if (f->wire == PB_VARINT) {
        int64_t *v = gd_push(ps, (void **)arr, n, sizeof(int64_t));
        if (v) *v = (int64_t)f->u;
    } else if (f->wire == PB_LEN) {
        const unsigned char *p = f->data, *end = f->data + f->len;
        while (p < end && gd_ok(ps)) {
            uint64_t u;
            if (!pb_varint(&p, end, &u)) {
                ps->err = "truncated packed integer";
                return;
            }
            int64_t *v = gd_push(ps, (void **)arr, n, sizeof(int64_t));
            if (v) *v = (int64_t)u;
        }
    }
}

static gd_tensor *gd_tensor_parse(gd_parser *ps, const unsigned char *p, size_t n) {
    gd_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        ps->oom = 1;
        return NULL;
    }
    pb_reader r;
    pb_field f;
    pb_init(&r, p, n);
    GD_FIELDS(ps, r, f) {
        if (f.number == 1 && f.wire == PB_VARINT) t->dtype = (int)f.u;
        else if (f.number == 2 && f.wire == PB_LEN) gd_shape(ps, f.data, f.len, t);
        else if (f.number == 4 && f.wire == PB_LEN) {
            t->content = f.data;
            t->content_len = f.len;
        } else if (f.number == 5) gd_floats(ps, &f, t);
        else if (f.number == 7 || f.number == 10) gd_ints(ps, &f, &t->ival, &t->nival);
    }
    t->nelem = 1;
    for (int d = 0; d < t->ndim && gd_ok(ps); d++)
        if (!size_mul(t->nelem, (size_t)t->shape[d], &t->nelem) || t->nelem > GD_MAX_FILE)
            ps->err = "tensor shape is absurdly large";
    return t;
}

static void gd_attr_value(gd_parser *ps, const unsigned char *p, size_t n, gd_attr *a) {
    pb_reader r;
    pb_field f;
    pb_init(&r, p, n);
    GD_FIELDS(ps, r, f) {
        if (f.number == 2 && f.wire == PB_LEN) {
            free(a->s);
            a->kind = GD_ATTR_S;
            a->s = gd_strdup(ps, f.data, f.len);
        } else if ((f.number == 3 || f.number == 5 || f.number == 6) && f.wire == PB_VARINT) {
            a->kind = f.number == 3 ? GD_ATTR_I : f.number == 5 ? GD_ATTR_B : GD_ATTR_TYPE;
            a->i = (int64_t)f.u;
        } else if (f.number == 4 && f.wire == PB_I32) {
            a->kind = GD_ATTR_F;
            a->f = pb_float(f.u);
        } else if (f.number == 7 && f.wire == PB_LEN) {
            a->kind = GD_ATTR_SHAPE;
        } else if (f.number == 8 && f.wire == PB_LEN) {
            if (a->tensor) {
                gd_tensor_clear(a->tensor);
                free(a->tensor);
            }
            a->kind = GD_ATTR_TENSOR;
            a->tensor = gd_tensor_parse(ps, f.data, f.len);
        } else if (f.number == 1 && f.wire == PB_LEN) {
            a->kind = GD_ATTR_LIST;
            pb_reader rl;
            pb_field fl;
            pb_init(&rl, f.data, f.len);
            GD_FIELDS(ps, rl, fl) if (fl.number == 3) gd_ints(ps, &fl, &a->list_i, &a->nlist_i);
        }
    }
}

static void gd_node_parse(gd_parser *ps, const unsigned char *p, size_t n, gd_node *nd) {
    pb_reader r;
    pb_field f;
    pb_init(&r, p, n);
    GD_FIELDS(ps, r, f) {
        if (f.wire != PB_LEN) continue;
        if (f.number == 1) {
            free(nd->name);
            nd->name = gd_strdup(ps, f.data, f.len);
        } else if (f.number == 2) {
            free(nd->op);
            nd->op = gd_strdup(ps, f.data, f.len);
        } else if (f.number == 3) {
            char **in = gd_push(ps, (void **)&nd->inputs, &nd->ninputs, sizeof(char *));
            if (in) *in = gd_strdup(ps, f.data, f.len);
        } else if (f.number == 5) {
            gd_attr *a = gd_push(ps, (void **)&nd->attrs, &nd->nattrs, sizeof(gd_attr));
            if (!a) return;
            pb_reader re;
            pb_field fe;
            pb_init(&re, f.data, f.len);
            GD_FIELDS(ps, re, fe) {
                if (fe.wire != PB_LEN) continue;
                if (fe.number == 1) {
                    free(a->key);
                    a->key = gd_strdup(ps, fe.data, fe.len);
                } else if (fe.number == 2) {
                    gd_attr_value(ps, fe.data, fe.len, a);
                }
            }
            if (gd_ok(ps) && !a->key) ps->err = "an attribute without a name";
        }
    }
    if (gd_ok(ps) && (!nd->name || !nd->op)) ps->err = "a node without a name or op";
}

static void gd_attr_clear(gd_attr *a) {
    free(a->key);
    free(a->s);
    if (a->tensor) {
        gd_tensor_clear(a->tensor);
        free(a->tensor);
    }
    free(a->list_i);
}

void graphdef_free(graphdef *g) {
    if (!g) return;
    for (size_t i = 0; i < g->nnodes; i++) {
        gd_node *nd = &g->nodes[i];
        free(nd->name);
        free(nd->op);
        for (size_t j = 0; j < nd->ninputs; j++) free(nd->inputs[j]);
        free(nd->inputs);
        for (size_t j = 0; j < nd->nattrs; j++) gd_attr_clear(&nd->attrs[j]);
        free(nd->attrs);
    }
    free(g->nodes);
    free(g->bytes);
    free(g);
}

/* Parses g->bytes (already owned by g). */
static impasto_status gd_parse_owned(impasto_ctx *ctx, graphdef *g) {
    gd_parser ps = {0};
    pb_reader r;
    pb_field f;
    pb_init(&r, g->bytes, g->size);
    GD_FIELDS(&ps, r, f) {
        if (f.number != 1 || f.wire != PB_LEN) continue;
        gd_node *nd = gd_push(&ps, (void **)&g->nodes, &g->nnodes, sizeof(gd_node));
        if (nd) gd_node_parse(&ps, f.data, f.len, nd);
    }
    if (ps.oom) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", g->source);
    if (ps.err) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: not a valid TensorFlow GraphDef (%s)", g->source, ps.err);
    if (g->nnodes == 0) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: a TensorFlow GraphDef with no nodes", g->source);
    return IMPASTO_OK;
}

impasto_status graphdef_parse(impasto_ctx *ctx, const unsigned char *bytes, size_t size,
                              const char *name_for_errors, graphdef **out) {
    *out = NULL;
    graphdef *g = calloc(1, sizeof *g);
    if (!g || !(g->bytes = malloc(size ? size : 1))) {
        free(g);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    if (size) memcpy(g->bytes, bytes, size);
    g->size = size;
    snprintf(g->source, sizeof g->source, "%s", name_for_errors ? name_for_errors : "graph");
    impasto_status s = gd_parse_owned(ctx, g);
    if (s != IMPASTO_OK) {
        graphdef_free(g);
        return s;
    }
    *out = g;
    return IMPASTO_OK;
}

impasto_status graphdef_open(impasto_ctx *ctx, const char *path, graphdef **out) {
    *out = NULL;
    graphdef *g = calloc(1, sizeof *g);
    if (!g) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    impasto_status s = file_read_all(ctx, path, GD_MAX_FILE, &g->bytes, &g->size);
    snprintf(g->source, sizeof g->source, "%s", path);
    if (s == IMPASTO_OK) s = gd_parse_owned(ctx, g);
    if (s != IMPASTO_OK) {
        graphdef_free(g);
        return s;
    }
    *out = g;
    return IMPASTO_OK;
}

const gd_node *graphdef_find(const graphdef *g, const char *name) {
    if (!g || !name) return NULL;
    if (*name == '^') name++;
    size_t n = strcspn(name, ":");
    for (size_t i = 0; i < g->nnodes; i++)
        if (strlen(g->nodes[i].name) == n && !strncmp(g->nodes[i].name, name, n)) return &g->nodes[i];
    return NULL;
}

const gd_attr *gd_node_attr(const gd_node *nd, const char *key) {
    for (size_t i = 0; nd && i < nd->nattrs; i++)
        if (!strcmp(nd->attrs[i].key, key)) return &nd->attrs[i];
    return NULL;
}

/* A Const node's tensor, or NULL with a message. */
static const gd_tensor *gd_const(impasto_ctx *ctx, const graphdef *g, const gd_node *nd, impasto_status *s) {
    const gd_attr *v = gd_node_attr(nd, "value");
    if (strcmp(nd->op, "Const") != 0 || !v || v->kind != GD_ATTR_TENSOR || !v->tensor) {
        *s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: node '%s' (%s) is not a constant tensor", g->source,
                      nd->name, nd->op);
        return NULL;
    }
    return v->tensor;
}

/* A float tensor's values: tensor_content, or float_val with its last value repeated. */
static impasto_status gd_float_values(impasto_ctx *ctx, const graphdef *g, const gd_node *nd,
                                      const gd_tensor *t, float *out) {
    if (t->content) {
        size_t need;
        if (!size_mul(t->nelem, 4, &need) || need != t->content_len)
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: node '%s' holds %zu bytes for %zu floats", g->source,
                            nd->name, t->content_len, t->nelem);
        for (size_t i = 0; i < t->nelem; i++) {
            const unsigned char *q = t->content + 4 * i;
            out[i] = pb_float((uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24);
        }
        return IMPASTO_OK;
    }
    if (t->nfval > t->nelem)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: node '%s' has %zu values for %zu elements", g->source,
                        nd->name, t->nfval, t->nelem);
    for (size_t i = 0; i < t->nelem; i++) out[i] = t->nfval ? t->fval[i < t->nfval ? i : t->nfval - 1] : 0.0f;
    return IMPASTO_OK;
}

/* A scalar float Const (a Dequantize range). */
static impasto_status gd_scalar(impasto_ctx *ctx, const graphdef *g, const char *name, float *v) {
    const gd_node *nd = graphdef_find(g, name);
    if (!nd) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: node '%s' is missing", g->source, name);
    impasto_status s = IMPASTO_OK;
    const gd_tensor *t = gd_const(ctx, g, nd, &s);
    if (!t) return s;
    if (t->dtype != TF_DT_FLOAT || t->nelem != 1)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: node '%s' is not a float scalar", g->source, name);
    return gd_float_values(ctx, g, nd, t, v);
}

impasto_status graphdef_tensor_f32(impasto_ctx *ctx, const graphdef *g, const char *name,
                                   float **out, int *ndim, int64_t *shape) {
    *out = NULL;
    const gd_node *nd = graphdef_find(g, name);
    /* Identity chains (bounded, so a cycle cannot loop forever). */
    for (int hops = 0; nd && !strcmp(nd->op, "Identity") && nd->ninputs >= 1 && hops < GD_MAX_IDENTITY_HOPS; hops++)
        nd = graphdef_find(g, nd->inputs[0]);
    if (!nd) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: node '%s' is missing", g->source, name);
    impasto_status s = IMPASTO_OK;
    const int deq = !strcmp(nd->op, "Dequantize");
    const gd_node *data = nd;
    float lo = 0, hi = 0;
    if (deq) {
        const gd_attr *mode = gd_node_attr(nd, "mode"), *T = gd_node_attr(nd, "T");
        if (!mode || mode->kind != GD_ATTR_S || strcmp(mode->s, "MIN_FIRST") != 0 || !T || T->i != TF_DT_QUINT8)
            return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: Dequantize node '%s' is not quint8 MIN_FIRST",
                            g->source, nd->name);
        if (nd->ninputs < 3)
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: Dequantize node '%s' has %zu inputs, not 3", g->source,
                            nd->name, nd->ninputs);
        data = graphdef_find(g, nd->inputs[0]);
        if (!data) return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: node '%s' is missing", g->source, nd->inputs[0]);
        if ((s = gd_scalar(ctx, g, nd->inputs[1], &lo)) != IMPASTO_OK ||
            (s = gd_scalar(ctx, g, nd->inputs[2], &hi)) != IMPASTO_OK)
            return s;
        if (!(hi >= lo) || !isfinite(lo) || !isfinite(hi))
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: Dequantize node '%s' has range [%g, %g]", g->source,
                            nd->name, lo, hi);
    }
    const gd_tensor *t = gd_const(ctx, g, data, &s);
    if (!t) return s;
    if (t->dtype != (deq ? TF_DT_QUINT8 : TF_DT_FLOAT))
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: node '%s' has data type %d, expected %s", g->source,
                        data->name, t->dtype, deq ? "quint8" : "float");
    /* The allocation is bounded by the file: stored bytes must match the shape, and a shape filled
     * from a few float_val entries may not claim more than GD_MAX_FILLED elements. */
    if (deq && (!t->content || t->content_len != t->nelem))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: node '%s' holds %zu bytes for %zu quint8 values", g->source,
                        data->name, t->content_len, t->nelem);
    if (!deq && !t->content && t->nelem > GD_MAX_FILLED)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: node '%s' claims %zu elements for %zu stored values",
                        g->source, data->name, t->nelem, t->nfval);
    if (!deq && t->content && t->content_len / 4 != t->nelem)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: node '%s' holds %zu bytes for %zu floats", g->source,
                        data->name, t->content_len, t->nelem);
    float *v = malloc((t->nelem ? t->nelem : 1) * sizeof *v);  // the tensor's shape, row-major
    if (!v) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", g->source);
    if (deq) {
        /* Float arithmetic throughout, as TensorFlow's Eigen path does (QuantizedToFloatStruct):
         * the range minimum is rounded to a whole number of steps first. */
        const float scale = (float)(((double)hi - (double)lo) / 255.0);
        const float min_rounded = hi == lo ? lo : roundf(lo / scale) * scale;
        for (size_t i = 0; i < t->nelem; i++) v[i] = min_rounded + (float)t->content[i] * scale;
    } else if ((s = gd_float_values(ctx, g, data, t, v)) != IMPASTO_OK) {
        free(v);
        return s;
    }
    *ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) shape[d] = t->shape[d];
    *out = v;
    return IMPASTO_OK;
}
