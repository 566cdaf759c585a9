/* AdaIN: the protobuf / GraphDef readers (hand-built graphs, TensorFlow's MIN_FIRST dequantisation,
 * hostile input), the AdaIN op (moments, alpha, backward by finite differences), colour matching,
 * and the network and method against PyTorch (tests/data/adain_golden.safetensors,
 * tools/gen_golden_adain.py: naoto0804/pytorch-AdaIN's vgg and decoder run in float64 from
 * impasto's converted weights). Nearest upsampling is tested with the other layers in test_norm.c.
 *
 * Golden tolerances: encoder features and decoder output within 1e-4 of the tensor's max |value|
 * (PyTorch's own float32 run lands within 1.4e-6; summation order is the only legitimate
 * difference, a wrong kernel orientation, padding or pooling rule is off by order 1); the AdaIN
 * step, pure arithmetic on the golden features, within 1e-5 of the max; the whole method's
 * clamped picture within 1e-3 (absolute, on 0..1). Also progress and cancel, the thread count
 * inside a call and after it, and bad weights (NaN refused at load, huge ones giving
 * IMPASTO_ERR_NOT_FINITE).
 *
 * Weights: models/adain.safetensors when present (`make models`), else converted afresh from
 * ../shared/models/upstream/adain; the parts needing them print "skipped" without either. */
#include "core/ctx.h"
#include "core/image.h"
#include "formats/graphdef.h"
#include "formats/protobuf.h"
#include "formats/safetensors.h"
#include "methods/color.h"
#include "models/adain.h"
#include "models/model.h"
#include "nn/nn.h"
#include "model_patch.h"
#include "test.h"

#include <omp.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define GOLDEN "tests/data/adain_golden.safetensors"

static char model_path[512], tmp_model[256], adain_dir[512], lst_dir[512];
static safetensors *golden;
static impasto_model *model;

/* ---- a tiny protobuf writer for hand-built graphs ------------------------------------------- */

typedef struct pbw {
    unsigned char b[4096];
    size_t n;
} pbw;

static void w_varint(pbw *w, uint64_t v) {
    do {
        unsigned char c = v & 0x7f;
        v >>= 7;
        w->b[w->n++] = c | (v ? 0x80 : 0);
    } while (v);
}
static void w_key(pbw *w, unsigned field, unsigned wire) { w_varint(w, (uint64_t)field << 3 | wire); }
static void w_bytes(pbw *w, unsigned field, const void *p, size_t n) {
    w_key(w, field, PB_LEN);
    w_varint(w, n);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void w_str(pbw *w, unsigned field, const char *s) { w_bytes(w, field, s, strlen(s)); }
static void w_msg(pbw *w, unsigned field, const pbw *m) { w_bytes(w, field, m->b, m->n); }
static void w_f32(pbw *w, unsigned field, float f) {
    w_key(w, field, PB_I32);
    memcpy(w->b + w->n, &f, 4);
    w->n += 4;
}

/* NodeDef attr entry {key, AttrValue}. */
static void w_attr(pbw *node, const char *key, const pbw *value) {
    pbw e = {0};
    w_str(&e, 1, key);
    w_msg(&e, 2, value);
    w_msg(node, 5, &e);
}

/* A Const node named `name`: dtype, shape dims, and either raw content or float_vals. */
static void w_const(pbw *g, const char *name, int dtype, const int64_t *dims, int nd, const void *content,
                    size_t clen, const float *fvals, int nf) {
    pbw shape = {0}, tensor = {0}, av = {0}, node = {0};
    for (int i = 0; i < nd; i++) {
        pbw dim = {0};
        w_key(&dim, 1, PB_VARINT);
        w_varint(&dim, (uint64_t)dims[i]);
        w_msg(&shape, 2, &dim);
    }
    w_key(&tensor, 1, PB_VARINT);
    w_varint(&tensor, (uint64_t)dtype);
    w_msg(&tensor, 2, &shape);
    if (content) w_bytes(&tensor, 4, content, clen);
    for (int i = 0; i < nf; i++) w_f32(&tensor, 5, fvals[i]);
    w_msg(&av, 8, &tensor);
    w_str(&node, 1, name);
    w_str(&node, 2, "Const");
    w_attr(&node, "value", &av);
    w_msg(g, 1, &node);
}

static void test_graphdef_values(void) {
    pbw g = {0};
    /* float_val with fewer values than elements: the last one repeats (TensorFlow's rule). */
    const int64_t d4[1] = {4}, d1[1] = {1}, d0[1] = {0};
    const float fv[2] = {1.5f, -2.0f};
    w_const(&g, "f", TF_DT_FLOAT, d4, 1, NULL, 0, fv, 2);
    /* quint8 MIN_FIRST: min -0.3 is not a whole number of steps (1/255): -76.5 steps rounds to -77. */
    const unsigned char q[3] = {0, 1, 255};
    const int64_t d3[1] = {3};
    w_const(&g, "q", TF_DT_QUINT8, d3, 1, q, 3, NULL, 0);
    float lo = -0.3f, hi = 0.7f;
    w_const(&g, "qmin", TF_DT_FLOAT, d1, 0, &lo, 4, NULL, 0);
    w_const(&g, "qmax", TF_DT_FLOAT, d0, 0, NULL, 0, &hi, 1);
    pbw node = {0}, mode = {0}, T = {0};
    w_str(&node, 1, "deq");
    w_str(&node, 2, "Dequantize");
    w_str(&node, 3, "q");
    w_str(&node, 3, "qmin:0");
    w_str(&node, 3, "qmax");
    w_str(&mode, 2, "MIN_FIRST");
    w_attr(&node, "mode", &mode);
    w_key(&T, 6, PB_VARINT);
    w_varint(&T, TF_DT_QUINT8);
    w_attr(&node, "T", &T);
    w_msg(&g, 1, &node);

    impasto_ctx *ctx = impasto_ctx_create();
    graphdef *gd = NULL;
    CHECK_MSG(graphdef_parse(ctx, g.b, g.n, "hand.pb", &gd) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    if (gd) {
        CHECK(gd->nnodes == 5);
        float *v = NULL;
        int nd = 0;
        int64_t sh[TENSOR_MAX_DIMS];
        CHECK(graphdef_tensor_f32(ctx, gd, "f", &v, &nd, sh) == IMPASTO_OK);
        if (v) {
            CHECK(nd == 1 && sh[0] == 4);
            CHECK(v[0] == 1.5f && v[1] == -2.0f && v[2] == -2.0f && v[3] == -2.0f);
        }
        free(v);
        v = NULL;
        CHECK_MSG(graphdef_tensor_f32(ctx, gd, "deq", &v, &nd, sh) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
        if (v) {
            const float step = (float)(1.0 / 255.0), min_rounded = -77.0f * step;
            CHECK_NEAR(v[0], min_rounded, 1e-7);  /* not -0.3: the minimum snaps to a whole step */
            CHECK_NEAR(v[1], min_rounded + step, 1e-7);
            CHECK_NEAR(v[2], min_rounded + 255.0f * step, 1e-6);
        }
        free(v);
        v = NULL;
        CHECK(graphdef_tensor_f32(ctx, gd, "nothere", &v, &nd, sh) == IMPASTO_ERR_FORMAT && !v);
    }
    graphdef_free(gd);
    gd = NULL;
    /* A 2^28-element tensor "filled" from one float_val, and one whose content is a byte short:
     * refused before anything that size is allocated. */
    pbw h = {0};
    const int64_t big[1] = {(int64_t)1 << 28}, two[1] = {2};
    const float one = 1.0f;
    const unsigned char seven[7] = {0};
    w_const(&h, "fill", TF_DT_FLOAT, big, 1, NULL, 0, &one, 1);
    w_const(&h, "short", TF_DT_FLOAT, two, 1, seven, 7, NULL, 0);
    CHECK(graphdef_parse(ctx, h.b, h.n, "fill.pb", &gd) == IMPASTO_OK);
    if (gd) {
        float *v = NULL;
        int nd = 0;
        int64_t sh[TENSOR_MAX_DIMS];
        CHECK(graphdef_tensor_f32(ctx, gd, "fill", &v, &nd, sh) == IMPASTO_ERR_FORMAT && !v);
        CHECK(graphdef_tensor_f32(ctx, gd, "short", &v, &nd, sh) == IMPASTO_ERR_FORMAT && !v);
    }
    graphdef_free(gd);
    impasto_ctx_free(ctx);
}

/* Parses bytes that must be refused with a format error (and, under the sanitizers, no crash). */
static void expect_bad(const unsigned char *b, size_t n, const char *what) {
    impasto_ctx *ctx = impasto_ctx_create();
    graphdef *g = NULL;
    impasto_status s = graphdef_parse(ctx, b, n, what, &g);
    CHECK_MSG(s == IMPASTO_ERR_FORMAT && !g, "%s: status %d", what, (int)s);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), what) != NULL, "%s: message '%s'", what, impasto_ctx_error(ctx));
    graphdef_free(g);
    impasto_ctx_free(ctx);
}

static void test_protobuf_hostile(void) {
    expect_bad((const unsigned char *)"", 0, "empty");
    /* A varint that never ends, and one longer than 10 bytes. */
    const unsigned char unterminated[] = {0x0a, 0xff, 0xff};
    expect_bad(unterminated, sizeof unterminated, "unterminated");
    unsigned char overlong[16];
    overlong[0] = 0x08;
    memset(overlong + 1, 0xff, 14);
    overlong[15] = 0x01;
    expect_bad(overlong, sizeof overlong, "overlong");
    /* Field 1 claims 2^62 bytes; then one that runs past the end by one byte. */
    const unsigned char absurd[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00};
    expect_bad(absurd, sizeof absurd, "absurd-length");
    const unsigned char past[] = {0x0a, 0x03, 0x0a, 0x01};
    expect_bad(past, sizeof past, "past-end");
    /* Field number 0, a group (wire type 3), wire type 7. */
    const unsigned char zero[] = {0x00, 0x01}, group[] = {0x0b, 0x0c}, wire7[] = {0x0f};
    expect_bad(zero, sizeof zero, "field-zero");
    expect_bad(group, sizeof group, "group");
    expect_bad(wire7, sizeof wire7, "wire-seven");
    /* A node whose shape has a 2^40 x 2^40 tensor. */
    pbw g = {0};
    const int64_t huge[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
    w_const(&g, "big", TF_DT_FLOAT, huge, 2, NULL, 0, NULL, 0);
    expect_bad(g.b, g.n, "huge-shape");
    /* A node without a name. */
    pbw nameless = {0}, nd = {0};
    w_str(&nd, 2, "Const");
    w_msg(&nameless, 1, &nd);
    expect_bad(nameless.b, nameless.n, "nameless");

    /* Deep nesting inside an unknown field: 20000 levels of length-delimited messages are skipped
     * in one step (the reader never recurses into fields it does not know). The one valid node
     * keeps the graph acceptable. */
    const size_t depth = 20000;
    size_t cap = depth * 4 + 64, n = 0;
    unsigned char *deep = malloc(cap), *tmp = malloc(cap);
    deep[n++] = 0x08;  /* innermost: field 1 varint 0 */
    deep[n++] = 0x00;
    for (size_t i = 0; i < depth; i++) {
        size_t m = 0;
        tmp[m++] = 0x7a; /* field 15, LEN */
        size_t len = n;
        do {
            unsigned char c = len & 0x7f;
            len >>= 7;
            tmp[m++] = c | (len ? 0x80 : 0);
        } while (len);
        memcpy(tmp + m, deep, n);
        n += m;
        memcpy(deep, tmp, n);
    }
    pbw ok = {0};
    w_const(&ok, "x", TF_DT_FLOAT, NULL, 0, NULL, 0, NULL, 0);
    memcpy(deep + n, ok.b, ok.n);
    impasto_ctx *ctx = impasto_ctx_create();
    graphdef *gd = NULL;
    CHECK_MSG(graphdef_parse(ctx, deep, n + ok.n, "deep", &gd) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    CHECK(gd && gd->nnodes == 1);
    graphdef_free(gd);
    /* The same nesting as the graph's node field: refused as a malformed node, not recursed. */
    deep[0] = 0x0a;
    expect_bad(deep, n, "deep-node");
    free(deep);
    free(tmp);

    /* Every truncation of a small valid graph is refused or parsed, never a crash. */
    pbw v = {0};
    const float one = 1.0f;
    w_const(&v, "a", TF_DT_FLOAT, NULL, 0, NULL, 0, &one, 1);
    w_const(&v, "b", TF_DT_FLOAT, NULL, 0, &one, 4, NULL, 0);
    for (size_t cut = 0; cut < v.n; cut++) {
        graphdef *t = NULL;
        impasto_status s = graphdef_parse(ctx, v.b, cut, "cut", &t);
        CHECK(s == IMPASTO_ERR_FORMAT || s == IMPASTO_OK);
        graphdef_free(t);
    }
    impasto_ctx_free(ctx);
}

/* The real upstream files: a truncated copy is refused; both graphs parse. */
static void test_graphdef_upstream(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/encoder_opt_quantized.pb", adain_dir);
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("  skipped (no %s)\n", path);
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    graphdef *g = NULL;
    CHECK_MSG(graphdef_open(ctx, path, &g) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    CHECK(g && graphdef_find(g, "output/Relu") && graphdef_find(g, "block1_conv1/kernel"));
    if (g) {
        graphdef *t = NULL;
        CHECK(graphdef_parse(ctx, g->bytes, g->size / 2, "half.pb", &t) == IMPASTO_ERR_FORMAT && !t);
        CHECK(graphdef_parse(ctx, g->bytes, g->size - 1, "one-short.pb", &t) == IMPASTO_ERR_FORMAT && !t);
    }
    graphdef_free(g);
    CHECK(graphdef_open(ctx, "/nonexistent/x.pb", &g) == IMPASTO_ERR_IO && !g);
    impasto_ctx_free(ctx);
}

/* The AdaIN encoder and the LinearStyleTransfer r31 encoder are the same network where they
 * overlap: the quint8 kernels are the float32 ones rounded to the nearest step (at most half a
 * step apart, which only TensorFlow's rounding of the range minimum achieves), the biases equal. */
static void test_encoders_agree(void) {
    struct stat st;
    if (stat(lst_dir, &st) != 0 || stat(adain_dir, &st) != 0) {
        printf("  skipped (no %s or %s)\n", adain_dir, lst_dir);
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    char a[256], l[256];
    snprintf(a, sizeof a, "/tmp/impasto-test-adain-a-%d.safetensors", (int)getpid());
    snprintf(l, sizeof l, "/tmp/impasto-test-adain-l-%d.safetensors", (int)getpid());
    CHECK_MSG(impasto_convert_adain(ctx, adain_dir, a) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    CHECK_MSG(impasto_convert_lst_r31(ctx, lst_dir, l) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    safetensors *sa = NULL, *sl = NULL;
    CHECK(safetensors_open(ctx, a, &sa) == IMPASTO_OK && safetensors_open(ctx, l, &sl) == IMPASTO_OK);
    static const char *const an[] = {"encoder.0", "encoder.2", "encoder.5", "encoder.9", "encoder.12", "encoder.16"};
    static const char *const ln[] = {"encoder.conv1", "encoder.conv2", "encoder.conv3", "encoder.conv4",
                                     "encoder.conv5", "encoder.conv6"};
    for (int i = 0; sa && sl && i < 6; i++) {
        for (int b = 0; b < 2; b++) {
            char na[64], nl[64];
            snprintf(na, sizeof na, "%s.%s", an[i], b ? "bias" : "weight");
            snprintf(nl, sizeof nl, "%s.%s", ln[i], b ? "bias" : "weight");
            const st_tensor *ta = safetensors_find(sa, na), *tl = safetensors_find(sl, nl);
            CHECK_MSG(ta && tl && ta->nelem == tl->nelem, "%s / %s", na, nl);
            if (!ta || !tl || ta->nelem != tl->nelem) continue;
            float *x = malloc(ta->nelem * sizeof *x), *y = malloc(ta->nelem * sizeof *y);
            CHECK(safetensors_get_f32(ctx, sa, na, ta->ndim, ta->shape, x) == IMPASTO_OK);
            CHECK(safetensors_get_f32(ctx, sl, nl, tl->ndim, tl->shape, y) == IMPASTO_OK);
            float lo = x[0], hi = x[0];
            double d = 0;
            for (size_t k = 0; k < ta->nelem; k++) {
                lo = fminf(lo, x[k]);
                hi = fmaxf(hi, x[k]);
                d = fmax(d, fabs((double)x[k] - y[k]));
            }
            double step = (hi - lo) / 255.0;
            if (b || i == 0) CHECK_MSG(d == 0, "%s differs by %g", na, d);
            else CHECK_MSG(d <= 0.501 * step, "%s: %.3f steps apart", na, d / step);
            free(x);
            free(y);
        }
    }
    safetensors_close(sa);
    safetensors_close(sl);
    unlink(a);
    unlink(l);
    CHECK(impasto_convert_adain(ctx, "/nonexistent", a) == IMPASTO_ERR_IO);
    impasto_ctx_free(ctx);
}

/* ---- the op ----------------------------------------------------------------------------------- */

static void test_adain_moments(void) {
    enum { C = 4, N = 97, NS = 61 };
    unsigned long long r = 7;
    float x[C * N], s[C * NS], y[C * N], ms[C], ss[C], my[C], sy[C];
    for (int i = 0; i < C * N; i++) x[i] = test_uniform(&r, -3, 5);
    for (int c = 0; c < C; c++)
        for (int i = 0; i < NS; i++) s[c * NS + i] = (float)(c + 1) * test_uniform(&r, 0, 2) - (float)c;
    adain_moments(C, NS, s, ms, ss);
    adain_forward(C, N, x, ms, ss, 1.0f, y);
    adain_moments(C, N, y, my, sy);
    for (int c = 0; c < C; c++) {
        CHECK_NEAR(my[c], ms[c], 1e-5 * (1 + fabs(ms[c])));
        /* sigma(t) = sigma_s * sqrt(var_c) / sqrt(var_c + eps), so equal up to eps / var_c. */
        CHECK_NEAR(sy[c], ss[c], 1e-4 * ss[c]);
    }
    /* alpha 0 gives the content back; in place works. */
    memcpy(y, x, sizeof x);
    adain_forward(C, N, y, ms, ss, 0.0f, y);
    for (int i = 0; i < C * N; i++) CHECK(y[i] == x[i]);
    /* A constant channel has sigma sqrt(eps), no division by zero. */
    float flat[8] = {2, 2, 2, 2, 2, 2, 2, 2}, m1, s1, out[8];
    adain_moments(1, 8, flat, &m1, &s1);
    CHECK_NEAR(s1, sqrtf(ADAIN_EPS), 1e-7);
    adain_forward(1, 8, flat, ms, ss, 1.0f, out);
    for (int i = 0; i < 8; i++) CHECK_NEAR(out[i], ms[0], 1e-5);
}

/* L = sum(g * AdaIN_alpha(c, s)); analytic gradients vs central differences in c and s. */
static double adain_loss(int C, size_t n, const float *c, size_t ns, const float *s, float alpha, const float *g) {
    float ms[8], ss[8], y[64];
    adain_moments(C, ns, s, ms, ss);
    adain_forward(C, n, c, ms, ss, alpha, y);
    double l = 0;
    for (size_t i = 0; i < (size_t)C * n; i++) l += (double)g[i] * y[i];
    return l;
}

static void test_adain_backward(void) {
    enum { C = 3, N = 11, NS = 7 };
    unsigned long long r = 99;
    float c[C * N], s[C * NS], g[C * N], dc[C * N], ds[C * NS];
    for (int i = 0; i < C * N; i++) c[i] = test_uniform(&r, -2, 2);
    for (int i = 0; i < C * NS; i++) s[i] = test_uniform(&r, -1, 3);
    for (int i = 0; i < C * N; i++) g[i] = test_uniform(&r, -1, 1);
    const float alphas[2] = {1.0f, 0.7f};
    for (int a = 0; a < 2; a++) {
        adain_backward(C, N, c, NS, s, alphas[a], g, dc, ds);
        double worst = 0;
        for (int i = 0; i < C * N + C * NS; i++) {
            float *p = i < C * N ? &c[i] : &s[i - C * N];
            const float h = 1e-2f, keep = *p;
            *p = keep + h;
            double lp = adain_loss(C, N, c, NS, s, alphas[a], g);
            *p = keep - h;
            double lm = adain_loss(C, N, c, NS, s, alphas[a], g);
            *p = keep;
            double fd = (lp - lm) / (2.0 * h), an = i < C * N ? dc[i] : ds[i - C * N];
            double err = fabs(fd - an) / (1e-2 + fabs(fd));
            if (err > worst) worst = err;
            CHECK_MSG(err < 2e-2, "alpha %g, %s[%d]: analytic %g, finite difference %g", alphas[a],
                      i < C * N ? "dc" : "ds", i < C * N ? i : i - C * N, an, fd);
        }
        printf("  alpha %.1f: worst relative gradient error %.2g\n", alphas[a], worst);
    }
}

static void test_color_match(void) {
    enum { N = 500, M = 300 };
    unsigned long long r = 5;
    float s[3 * N], c[3 * M];
    for (int i = 0; i < N; i++) {
        float u = test_uniform(&r, 0, 1), v = test_uniform(&r, 0, 1), w = test_uniform(&r, 0, 1);
        s[i] = u, s[N + i] = 0.5f * u + 0.2f * v, s[2 * N + i] = 0.9f - 0.3f * v + 0.2f * w;
    }
    for (int i = 0; i < M; i++) {
        float u = test_uniform(&r, 0, 1), v = test_uniform(&r, 0, 1), w = test_uniform(&r, 0, 1);
        c[i] = 0.2f + 0.3f * u, c[M + i] = 0.4f * v + 0.1f * u, c[2 * M + i] = 0.5f * w;
    }
    color_match_style(s, N, c, M);
    for (int a = 0; a < 3; a++) {
        double ms = 0, mc = 0;
        for (int i = 0; i < N; i++) ms += s[a * N + i];
        for (int i = 0; i < M; i++) mc += c[a * M + i];
        ms /= N, mc /= M;
        CHECK_NEAR(ms, mc, 1e-5);
        for (int b = 0; b < 3; b++) {
            double vs = 0, vc = 0, mbs = 0, mbc = 0;
            for (int i = 0; i < N; i++) mbs += s[b * N + i] / N;
            for (int i = 0; i < M; i++) mbc += c[b * M + i] / M;
            for (int i = 0; i < N; i++) vs += (s[a * N + i] - ms) * (s[b * N + i] - mbs) / N;
            for (int i = 0; i < M; i++) vc += (c[a * M + i] - mc) * (c[b * M + i] - mbc) / M;
            CHECK_NEAR(vs, vc, 2e-4);  /* off by the 1e-5 I regularisation, amplified by 1 / the style's smallest variance */
        }
    }
}

/* ---- against PyTorch -------------------------------------------------------------------------- */

static float *golden_get(const char *name, const st_tensor **t) {
    *t = safetensors_find(golden, name);
    CHECK_MSG(*t != NULL, "golden tensor %s", name);
    if (!*t) return NULL;
    float *v = malloc((*t)->nelem * sizeof *v);
    CHECK(safetensors_get_f32(NULL, golden, name, (*t)->ndim, (*t)->shape, v) == IMPASTO_OK);
    return v;
}

/* max |y - ref| <= rel * max |ref| (or <= abs when rel is 0). */
static void compare(const char *name, const float *y, const float *ref, size_t n, double rel, double abs_tol) {
    double mr = 0, me = 0;
    for (size_t i = 0; i < n; i++) {
        mr = fmax(mr, fabs(ref[i]));
        me = fmax(me, fabs((double)y[i] - ref[i]));
    }
    printf("  %-8s max|ref| %9.4g  max err %9.3g (%.2g of max)\n", name, mr, me, me / mr);
    double tol = rel > 0 ? rel * mr : abs_tol;
    CHECK_MSG(me <= tol, "%s: max error %g > %g", name, me, tol);
}

static void test_golden_network(void) {
    if (!model) {
        printf("  skipped (no AdaIN model)\n");
        return;
    }
    const st_tensor *tc, *ts, *tfc, *tfs, *tt, *to;
    float *c = golden_get("content", &tc), *s = golden_get("style", &ts), *fc_ref = golden_get("feat_c", &tfc);
    float *fs_ref = golden_get("feat_s", &tfs), *t_ref = golden_get("t", &tt), *out_ref = golden_get("out", &to);
    impasto_ctx *ctx = impasto_ctx_create();
    float *fc = NULL, *fs = NULL, *img = NULL, t[512 * 9];
    int fh = 0, fw = 0, sh = 0, sw = 0;
    if (c && s && fc_ref && fs_ref && t_ref && out_ref) {
        CHECK(adain_encode(ctx, model->adain, c, (int)tc->shape[1], (int)tc->shape[2], &fc, &fh, &fw) == IMPASTO_OK);
        CHECK(adain_encode(ctx, model->adain, s, (int)ts->shape[1], (int)ts->shape[2], &fs, &sh, &sw) == IMPASTO_OK);
        CHECK(fh == tfc->shape[1] && fw == tfc->shape[2] && sh == tfs->shape[1] && sw == tfs->shape[2]);
        if (fc && fs && fh == 3 && fw == 3) {
            compare("feat_c", fc, fc_ref, tfc->nelem, 1e-4, 0);
            compare("feat_s", fs, fs_ref, tfs->nelem, 1e-4, 0);
            /* The AdaIN step on the golden features, then the decoder on the golden t. */
            float ms[512], ss[512];
            adain_moments(512, (size_t)(sh * sw), fs_ref, ms, ss);
            adain_forward(512, 9, fc_ref, ms, ss, 1.0f, t);
            compare("t", t, t_ref, tt->nelem, 1e-5, 0);
            CHECK(adain_decode(ctx, model->adain, t_ref, 3, 3, &img) == IMPASTO_OK);
            if (img) compare("out", img, out_ref, to->nelem, 1e-4, 0);
        }
    }
    free(fc), free(fs), free(img), free(c), free(s), free(fc_ref), free(fs_ref), free(t_ref), free(out_ref);
    impasto_ctx_free(ctx);
}

/* A (3, H, W) planes tensor as an RGB image. */
static impasto_image *planes_image(impasto_ctx *ctx, const float *p, int h, int w) {
    impasto_image *img = NULL;
    if (image_alloc(ctx, w, h, 3, &img) != IMPASTO_OK) return NULL;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < h * w; i++) img->data[i * 3 + c] = p[c * h * w + i];
    return img;
}

static void test_golden_method(void) {
    if (!model) {
        printf("  skipped (no AdaIN model)\n");
        return;
    }
    const st_tensor *tc, *ts, *ts2, *tm;
    float *c = golden_get("content", &tc), *s = golden_get("style", &ts), *s2 = golden_get("style2", &ts2);
    float *mix = golden_get("out_mix", &tm);
    impasto_ctx *ctx = impasto_ctx_create();
    if (c && s && s2 && mix) {
        const int h = (int)tc->shape[1], w = (int)tc->shape[2];
        impasto_image *ci = planes_image(ctx, c, h, w), *si = planes_image(ctx, s, (int)ts->shape[1], (int)ts->shape[2]);
        impasto_image *s2i = planes_image(ctx, s2, (int)ts2->shape[1], (int)ts2->shape[2]), *out = NULL;
        const impasto_image *styles[2] = {si, s2i};
        const double weights[2] = {1.0, 3.0};  /* normalised to 0.25, 0.75 */
        impasto_adain_options opt;
        impasto_adain_options_init(&opt);
        opt.alpha = 0.6;
        opt.style_weights = weights;
        opt.content_size = 0;
        opt.style_size = 0;
        CHECK_MSG(impasto_adain(ctx, model, ci, styles, 2, &opt, &out) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
        if (out) {
            CHECK(out->width == w && out->height == h && out->channels == 3);
            float *p = malloc((size_t)3 * h * w * sizeof *p);
            for (int k = 0; k < 3; k++)
                for (int i = 0; i < h * w; i++) p[k * h * w + i] = out->data[i * 3 + k];
            compare("out_mix", p, mix, tm->nelem, 0, 1e-3);
            free(p);
        }
        impasto_image_free(out);
        out = NULL;
        /* Bad options are refused with a message. */
        opt.alpha = 1.5;
        CHECK(impasto_adain(ctx, model, ci, styles, 2, &opt, &out) == IMPASTO_ERR_INVALID_ARG && !out);
        opt.alpha = 1;
        CHECK(impasto_adain(ctx, model, ci, styles, 0, &opt, &out) == IMPASTO_ERR_INVALID_ARG && !out);
        /* The smallest sides: 5 pools three times (5 -> 3 -> 2 -> 1), 4 does not (4 -> 2 -> 1 -> ?). */
        opt.style_weights = NULL;
        for (int side = 4; side <= 5; side++) {
            impasto_image *tiny = NULL;
            CHECK(image_alloc(ctx, side, 7, 3, &tiny) == IMPASTO_OK);
            impasto_status st = impasto_adain(ctx, model, tiny, styles, 1, &opt, &out);
            CHECK_MSG(side == 4 ? st == IMPASTO_ERR_INVALID_ARG && !out : st == IMPASTO_OK && out && out->width == 5,
                      "side %d: %s", side, impasto_ctx_error(ctx));
            impasto_image_free(out);
            out = NULL;
            impasto_image_free(tiny);
        }
        /* An RGBA content keeps its alpha; preserve_color runs. */
        impasto_image *rgba = NULL;
        CHECK(image_alloc(ctx, w, h, 4, &rgba) == IMPASTO_OK);
        for (int i = 0; rgba && i < h * w; i++) {
            memcpy(rgba->data + 4 * i, ci->data + 3 * i, 3 * sizeof(float));
            rgba->data[4 * i + 3] = (float)(i % 7) / 6.0f;
        }
        opt.style_weights = NULL;
        opt.preserve_color = 1;
        CHECK_MSG(impasto_adain(ctx, model, rgba, styles, 1, &opt, &out) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
        CHECK(out && out->channels == 4);
        for (int i = 0; out && i < h * w; i++) CHECK(out->data[4 * i + 3] == rgba->data[4 * i + 3]);
        impasto_image_free(out);
        impasto_image_free(rgba);
        impasto_image_free(ci);
        impasto_image_free(si);
        impasto_image_free(s2i);
    }
    free(c), free(s), free(s2), free(mix);
    impasto_ctx_free(ctx);
}

/* An RGB w x h image of smooth colours (seeded), for runs whose result is not compared. */
static impasto_image *smooth_image(impasto_ctx *ctx, int w, int h, unsigned long long seed) {
    impasto_image *img = NULL;
    if (impasto_image_create(ctx, w, h, 3, &img) != IMPASTO_OK) return NULL;
    const float a = test_uniform(&seed, 0.2f, 0.8f), b = test_uniform(&seed, 0.1f, 0.9f);
    float *d = impasto_image_data(img);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                d[((size_t)y * (size_t)w + (size_t)x) * 3 + (size_t)c] = fmodf(a * (float)(x + 3 * c) / (float)w + b * (float)y / (float)h, 1.0f);
    return img;
}

/* What a progress callback saw: every call checked as it comes (total fixed from the first call,
 * done counting up by one, seconds not going back), the OpenMP team size inside the call, and a
 * cancel at call number cancel_at (0: never). */
typedef struct pass_log {
    int calls, total, last_done, level_max, bad, cancel_at, threads_inside;
    double last_seconds;
    char stages[16][16];
} pass_log;

static int log_pass(const impasto_pass_progress *p, void *user) {
    pass_log *l = user;
    if (l->calls == 0) l->total = p->total;
    if (p->total != l->total || p->done != l->last_done + 1 || p->done > p->total || p->seconds < l->last_seconds ||
        p->level < 0 || p->level >= p->num_levels || p->num_levels != 1 || !p->stage)
        l->bad++;
    if (l->calls < 16) snprintf(l->stages[l->calls], sizeof l->stages[0], "%s", p->stage ? p->stage : "");
    l->last_done = p->done;
    l->last_seconds = p->seconds;
    l->threads_inside = omp_get_max_threads();
    l->calls++;
    return l->cancel_at && l->calls == l->cancel_at;
}

/* Progress and cancel: untiled with one style of weight 1 and one of weight 0 (not encoded), the
 * units are the content's statistics (1 tile), the one style, the stylize pass (1 tile); total 3,
 * reached on the last call. The call runs on its context's 2 threads and leaves the caller's 1. A
 * cancel at the 2nd call gives IMPASTO_ERR_CANCELLED and no image (ASan's leak check covers the
 * rest). */
static void test_progress_and_cancel(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, 2);
    impasto_image *c = smooth_image(ctx, 48, 40, 3), *s1 = smooth_image(ctx, 32, 36, 4), *out = NULL;
    const impasto_image *styles[2] = {s1, s1};
    const double weights[2] = {1, 0};
    impasto_adain_options opt;
    impasto_adain_options_init(&opt);
    CHECK(opt.progress == NULL && opt.progress_user == NULL);
    pass_log log = {0};
    opt.content_size = opt.style_size = 0;
    opt.tile = 0;
    opt.style_weights = weights;
    opt.progress = log_pass;
    opt.progress_user = &log;
    omp_set_num_threads(1);
    CHECK_MSG(impasto_adain(ctx, model, c, styles, 2, &opt, &out) == IMPASTO_OK && out, "%s", impasto_ctx_error(ctx));
    CHECK_MSG(log.calls == 3 && log.total == 3 && log.last_done == 3 && !log.bad, "calls %d total %d done %d bad %d",
              log.calls, log.total, log.last_done, log.bad);
    CHECK(!strcmp(log.stages[0], "statistics") && !strcmp(log.stages[1], "style") && !strcmp(log.stages[2], "stylize"));
    CHECK_MSG(log.threads_inside == 2, "%d threads inside the call", log.threads_inside);
    CHECK_MSG(omp_get_max_threads() == 1, "the caller's OpenMP threads are now %d", omp_get_max_threads());
    impasto_image_free(out);
    out = NULL;
    /* Another context, another count inside; the caller's again untouched. */
    impasto_ctx *ctx3 = impasto_ctx_create();
    impasto_ctx_set_threads(ctx3, 3);
    pass_log log3 = {0};
    opt.progress_user = &log3;
    CHECK(impasto_adain(ctx3, model, c, styles, 1, &opt, &out) == IMPASTO_OK && out);
    CHECK(log3.threads_inside == 3 && log3.calls == 3 && omp_get_max_threads() == 1);
    impasto_image_free(out);
    out = (impasto_image *)1;  /* must come back NULL */
    pass_log cancel = {.cancel_at = 2};
    opt.progress_user = &cancel;
    CHECK(impasto_adain(ctx, model, c, styles, 2, &opt, &out) == IMPASTO_ERR_CANCELLED && out == NULL);
    CHECK(cancel.calls == 2 && omp_get_max_threads() == 1);
    omp_set_num_threads(omp_get_num_procs());
    impasto_image_free(c);
    impasto_image_free(s1);
    impasto_ctx_free(ctx);
    impasto_ctx_free(ctx3);
}

/* Bad weights: NaN refused at load naming the tensor; finite but huge ones (3e38) in the decoder's
 * last convolution overflow its picture: IMPASTO_ERR_NOT_FINITE and no image, not a clamped
 * picture. (Inside the encoder an overflow does not reach the features: its ReLUs, x > 0 ? x : 0,
 * turn the NaN that inf - inf makes into 0.) The wrong kind of model is named. */
static void test_bad_weights(void) {
    char nan_path[96], dec_path[96], want[200];
    snprintf(nan_path, sizeof nan_path, "/tmp/impasto-test-adain-nan-%d.safetensors", (int)getpid());
    snprintf(dec_path, sizeof dec_path, "/tmp/impasto-test-adain-dec-%d.safetensors", (int)getpid());
    CHECK(model_patch_copy(model_path, nan_path, "decoder.14.bias", 3, 1, -INFINITY));
    CHECK(model_patch_copy(model_path, dec_path, "decoder.28.weight", 0, SIZE_MAX, 3e38f));
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_model *bad = NULL, *dec = NULL;
    CHECK(impasto_model_load(ctx, nan_path, &bad) == IMPASTO_ERR_FORMAT && !bad);
    snprintf(want, sizeof want, "%s: tensor 'decoder.14.bias' holds NaN or infinite values", nan_path);
    CHECK_MSG(strcmp(impasto_ctx_error(ctx), want) == 0, "message: %s", impasto_ctx_error(ctx));
    CHECK(impasto_model_load(ctx, dec_path, &dec) == IMPASTO_OK);
    impasto_image *c = smooth_image(ctx, 40, 32, 5), *st = smooth_image(ctx, 24, 24, 6), *out = NULL;
    const impasto_image *styles[1] = {st};
    impasto_adain_options opt;
    impasto_adain_options_init(&opt);
    opt.content_size = opt.style_size = 0;
    CHECK(dec && impasto_adain(ctx, dec, c, styles, 1, &opt, &out) == IMPASTO_ERR_NOT_FINITE && !out);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "decoded picture holds NaN or infinite values"), "%s",
              impasto_ctx_error(ctx));
    /* Messages name the kinds, not library functions. */
    CHECK(impasto_adain(ctx, NULL, c, styles, 1, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strcmp(impasto_ctx_error(ctx), "AdaIN needs a model of kind 'adain' (impasto convert adain); none was given") == 0);
    impasto_model *lst = NULL;
    if (impasto_model_load(ctx, "models/lst-r31.safetensors", &lst) == IMPASTO_OK) {
        CHECK(impasto_adain(ctx, lst, c, styles, 1, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
        CHECK_MSG(strcmp(impasto_ctx_error(ctx), "AdaIN needs a model of kind 'adain' (impasto convert adain); this "
                         "one is of kind 'lst-r31'") == 0, "%s", impasto_ctx_error(ctx));
    }
    const impasto_image *missing[2] = {st, NULL};
    CHECK(impasto_adain(ctx, model, c, missing, 2, &opt, &out) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strcmp(impasto_ctx_error(ctx), "AdaIN: style image 2 is missing") == 0);
    impasto_model_free(lst);
    impasto_model_free(dec);
    impasto_image_free(c);
    impasto_image_free(st);
    impasto_ctx_free(ctx);
    unlink(nan_path);
    unlink(dec_path);
}

int main(void) {
    snprintf(adain_dir, sizeof adain_dir, "%s/models/upstream/adain", test_shared_dir());
    snprintf(lst_dir, sizeof lst_dir, "%s/models/upstream/lst-r31", test_shared_dir());
    impasto_ctx *ctx = impasto_ctx_create();
    struct stat st;
    if (stat("models/adain.safetensors", &st) == 0) {
        snprintf(model_path, sizeof model_path, "models/adain.safetensors");
    } else if (stat(adain_dir, &st) == 0) {
        snprintf(tmp_model, sizeof tmp_model, "/tmp/impasto-test-adain-%d.safetensors", (int)getpid());
        if (impasto_convert_adain(ctx, adain_dir, tmp_model) != IMPASTO_OK) {
            fprintf(stderr, "conversion failed: %s\n", impasto_ctx_error(ctx));
            return 1;
        }
        snprintf(model_path, sizeof model_path, "%s", tmp_model);
    } else {
        printf("no models/adain.safetensors and no %s: the network tests are skipped\n", adain_dir);
    }
    if (model_path[0] && impasto_model_load(ctx, model_path, &model) != IMPASTO_OK) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        test_failed_count++;
    }
    if (safetensors_open(ctx, GOLDEN, &golden) != IMPASTO_OK) {
        fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
        test_failed_count++;
    }
    RUN(test_graphdef_values);
    RUN(test_protobuf_hostile);
    RUN(test_graphdef_upstream);
    RUN(test_encoders_agree);
    RUN(test_adain_moments);
    RUN(test_adain_backward);
    RUN(test_color_match);
    if (golden) {
        RUN(test_golden_network);
        RUN(test_golden_method);
    }
    if (model) {
        RUN(test_progress_and_cancel);
        RUN(test_bad_weights);
    }
    impasto_model_free(model);
    safetensors_close(golden);
    impasto_ctx_free(ctx);
    if (tmp_model[0]) unlink(tmp_model);
    return test_summary();
}
