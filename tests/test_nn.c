/* The CPU engine's layers (src/nn/): forward and backward against PyTorch's values
 * (tests/data/nn_golden.bin, made by tools/gen_golden_nn.py), backward against central finite
 * differences of L = sum(y * r), and the banded convolution against a direct convolution
 * written here. */
#include "test.h"

#include "nn/nn.h"

#include <stdint.h>

/* ---- golden file (layout in tools/gen_golden_nn.py) -------------------------------------- */

typedef struct golden_rec {
    char name[32];
    int ndim;
    int dims[4];
    size_t n;
    float *data;
} golden_rec;

static golden_rec g_recs[256];
static int g_nrecs;
static unsigned char *g_bytes;

static uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int golden_load(void) {
    if (g_bytes) return 1;
    FILE *f = fopen("tests/data/nn_golden.bin", "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    g_bytes = malloc((size_t)size);
    if (!g_bytes || fread(g_bytes, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        return 0;
    }
    fclose(f);
    size_t pos = 0, end = (size_t)size;
    while (pos + 8 <= end && g_nrecs < 256) {
        golden_rec *r = &g_recs[g_nrecs];
        uint32_t len = rd_u32(g_bytes + pos);
        if (len >= sizeof r->name || pos + 8 + len > end) return 0;
        memcpy(r->name, g_bytes + pos + 4, len);
        r->name[len] = 0;
        pos += 4 + len;
        r->ndim = (int)rd_u32(g_bytes + pos);
        pos += 4;
        if (r->ndim < 1 || r->ndim > 4 || pos + 4 * (size_t)r->ndim > end) return 0;
        r->n = 1;
        for (int i = 0; i < r->ndim; i++) {
            r->dims[i] = (int)rd_u32(g_bytes + pos + 4 * (size_t)i);
            r->n *= (size_t)r->dims[i];
        }
        pos += 4 * (size_t)r->ndim;
        if (pos + 4 * r->n > end) return 0;
        r->data = malloc(r->n * sizeof(float));
        for (size_t i = 0; i < r->n; i++) {
            uint32_t u = rd_u32(g_bytes + pos + 4 * i);
            memcpy(&r->data[i], &u, 4);
        }
        pos += 4 * r->n;
        g_nrecs++;
    }
    return pos == end;
}

static const golden_rec *golden_get(const char *fmt, int i, const char *field) {
    char name[32];
    snprintf(name, sizeof name, fmt, i, field);
    for (int k = 0; k < g_nrecs; k++)
        if (!strcmp(g_recs[k].name, name)) return &g_recs[k];
    return NULL;
}

/* Largest |a - b| / (1 + |b|) over n elements. */
static double max_rel_err(const float *a, const float *b, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]) / (1.0 + fabs((double)b[i]));
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

static float *ws_alloc(const conv2d_desc *d) { return test_falloc(conv2d_workspace(d)); }

static conv2d_desc desc_from_cfg(const float *cfg) {
    conv2d_desc d = {(int)cfg[0], (int)cfg[1], (int)cfg[2], (int)cfg[3], (int)cfg[4],
                     (int)cfg[5], (int)cfg[6], (int)cfg[7], cfg[8] != 0.0f ? PAD_REFLECT : PAD_ZERO, 2};
    return d;
}

/* ---- PyTorch golden values --------------------------------------------------------------- */

static void test_conv_golden(void) {
    CHECK(golden_load());
    int count = 0;
    for (int i = 0; golden_get("conv%d.%s", i, "cfg"); i++, count++) {
        conv2d_desc d = desc_from_cfg(golden_get("conv%d.%s", i, "cfg")->data);
        const golden_rec *x = golden_get("conv%d.%s", i, "x"), *w = golden_get("conv%d.%s", i, "w");
        const golden_rec *b = golden_get("conv%d.%s", i, "b"), *y = golden_get("conv%d.%s", i, "y");
        const golden_rec *dy = golden_get("conv%d.%s", i, "dy"), *dx = golden_get("conv%d.%s", i, "dx");
        const golden_rec *dw = golden_get("conv%d.%s", i, "dw"), *db = golden_get("conv%d.%s", i, "db");
        CHECK(x && w && b && y && dy && dx && dw && db);
        if (!(x && w && b && y && dy && dx && dw && db)) return;
        CHECK(y->dims[0] == d.oc && y->dims[1] == conv2d_out_h(&d) && y->dims[2] == conv2d_out_w(&d));
        float *ws = ws_alloc(&d), *out = test_falloc(y->n), *gx = test_falloc(x->n);
        float *gw = test_falloc(w->n), *gb = test_falloc(b->n);
        conv2d_forward(&d, x->data, w->data, b->data, out, 0, ws);
        double e = max_rel_err(out, y->data, y->n);
        CHECK_MSG(e < 1e-4, "conv%d forward rel err %g", i, e);
        /* fused ReLU */
        conv2d_forward(&d, x->data, w->data, b->data, out, 1, ws);
        double er = 0.0;
        for (size_t k = 0; k < y->n; k++) {
            float t = y->data[k] > 0.0f ? y->data[k] : 0.0f;
            double ek = fabs((double)out[k] - t) / (1.0 + fabs(t));
            if (ek > er) er = ek;
        }
        CHECK_MSG(er < 1e-4, "conv%d forward+relu rel err %g", i, er);
        /* Parameter gradients accumulate: start them at 1 and expect 1 + PyTorch's. */
        for (size_t k = 0; k < w->n; k++) gw[k] = 1.0f;
        for (size_t k = 0; k < b->n; k++) gb[k] = 1.0f;
        conv2d_backward(&d, x->data, w->data, dy->data, gx, gw, gb, ws);
        for (size_t k = 0; k < w->n; k++) gw[k] -= 1.0f;
        for (size_t k = 0; k < b->n; k++) gb[k] -= 1.0f;
        double ex = max_rel_err(gx, dx->data, dx->n), ew = max_rel_err(gw, dw->data, dw->n);
        double eb = max_rel_err(gb, db->data, db->n);
        CHECK_MSG(ex < 1e-4 && ew < 2e-4 && eb < 2e-4, "conv%d backward rel err dx %g dw %g db %g",
                  i, ex, ew, eb);
        free(ws), free(out), free(gx), free(gw), free(gb);
    }
    CHECK(count == 8);
}

static void test_pool_golden(void) {
    CHECK(golden_load());
    int count = 0;
    for (int j = 0; golden_get("pool%d.%s", j, "cfg"); j++, count++) {
        const float *cfg = golden_get("pool%d.%s", j, "cfg")->data;
        pool_desc d = {(int)cfg[0], (int)cfg[1], (int)cfg[2], (int)cfg[3], (int)cfg[4], (int)cfg[5],
                       (int)cfg[6], cfg[7] != 0.0f ? POOL_AVG : POOL_MAX};
        const golden_rec *x = golden_get("pool%d.%s", j, "x"), *y = golden_get("pool%d.%s", j, "y");
        const golden_rec *dy = golden_get("pool%d.%s", j, "dy"), *dx = golden_get("pool%d.%s", j, "dx");
        CHECK(x && y && dy && dx);
        if (!(x && y && dy && dx)) return;
        CHECK_MSG(y->dims[1] == pool_out_h(&d) && y->dims[2] == pool_out_w(&d),
                  "pool%d shape %dx%d, ours %dx%d", j, y->dims[1], y->dims[2], pool_out_h(&d),
                  pool_out_w(&d));
        if (y->dims[1] != pool_out_h(&d) || y->dims[2] != pool_out_w(&d)) continue;
        float *out = test_falloc(y->n), *gx = test_falloc(x->n);
        pool_forward(&d, x->data, out);
        double e = max_rel_err(out, y->data, y->n);
        CHECK_MSG(e < 1e-5, "pool%d forward rel err %g", j, e);
        pool_backward(&d, x->data, dy->data, gx);
        double ex = max_rel_err(gx, dx->data, dx->n);
        CHECK_MSG(ex < 1e-5, "pool%d backward rel err %g", j, ex);
        free(out), free(gx);
    }
    CHECK(count == 7);
}

/* ---- finite differences ------------------------------------------------------------------ */

static void fill(float *p, size_t n, unsigned long long *s, float lo, float hi) {
    for (size_t i = 0; i < n; i++) p[i] = test_uniform(s, lo, hi);
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

/* Analytic gradient g against the central difference of f along each element of p (the step is
 * measured on the float values actually stored). */
typedef double (*loss_fn)(void *ctx);

static int fd_check(const char *what, float *p, size_t n, const float *g, loss_fn f, void *ctx,
                    float eps, double tol) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = p[i];
        p[i] = keep + eps;
        float hi = p[i];
        double lp = f(ctx);
        p[i] = keep - eps;
        float lo = p[i];
        double lm = f(ctx);
        p[i] = keep;
        double num = (lp - lm) / ((double)hi - (double)lo);
        if (!(fabs(num - g[i]) <= tol * (1.0 + fabs(num)))) {
            if (bad < 3)
                fprintf(stderr, "  %s[%zu]: analytic %.7g, numeric %.7g\n", what, i, g[i], num);
            bad++;
        }
    }
    return bad;
}

typedef struct conv_case {
    conv2d_desc d;
    float *x, *w, *b, *y, *r, *ws;
} conv_case;

static double conv_loss(void *p) {
    conv_case *c = p;
    conv2d_forward(&c->d, c->x, c->w, c->b, c->y, 0, c->ws);
    return dot(c->y, c->r, (size_t)c->d.oc * conv2d_out_h(&c->d) * conv2d_out_w(&c->d));
}

static void test_conv_fd(void) {
    static const conv2d_desc cases[] = {
        /* the last field is the thread count: the split paths are checked too */
        {3, 7, 9, 4, 3, 3, 1, 1, PAD_ZERO, 1},    {4, 9, 8, 3, 3, 3, 2, 1, PAD_ZERO, 2},
        {2, 11, 10, 3, 9, 9, 1, 4, PAD_REFLECT, 3}, {5, 6, 7, 4, 1, 1, 1, 0, PAD_ZERO, 2},
        {3, 11, 9, 2, 5, 5, 2, 2, PAD_REFLECT, 2}, {3, 7, 5, 2, 3, 5, 1, 2, PAD_ZERO, 1},
        {2, 5, 6, 3, 3, 3, 1, 1, PAD_REFLECT, 2},  {3, 8, 7, 2, 1, 1, 2, 0, PAD_ZERO, 3},
    };
    unsigned long long s = 12345;
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        conv_case c = {cases[t], 0, 0, 0, 0, 0, 0};
        const conv2d_desc *d = &c.d;
        size_t nx = (size_t)d->c * d->h * d->w, nw = (size_t)d->oc * d->c * d->kh * d->kw;
        size_t ny = (size_t)d->oc * conv2d_out_h(d) * conv2d_out_w(d);
        c.x = test_falloc(nx), c.w = test_falloc(nw), c.b = test_falloc(d->oc), c.y = test_falloc(ny), c.r = test_falloc(ny);
        c.ws = ws_alloc(d);
        fill(c.x, nx, &s, -1, 1), fill(c.w, nw, &s, -1, 1), fill(c.b, d->oc, &s, -1, 1);
        fill(c.r, ny, &s, -1, 1);
        float *gx = test_falloc(nx), *gw = test_falloc(nw), *gb = test_falloc(d->oc);
        memset(gw, 0, nw * sizeof *gw), memset(gb, 0, d->oc * sizeof *gb);
        conv2d_backward(d, c.x, c.w, c.r, gx, gw, gb, c.ws);
        int bad = fd_check("dx", c.x, nx, gx, conv_loss, &c, 1e-2f, 2e-3);
        bad += fd_check("dw", c.w, nw, gw, conv_loss, &c, 1e-2f, 2e-3);
        bad += fd_check("db", c.b, d->oc, gb, conv_loss, &c, 1e-2f, 2e-3);
        CHECK_MSG(bad == 0, "conv case %zu: %d gradient elements off", t, bad);
        /* dx alone (dw, db NULL) is the same. */
        float *gx2 = test_falloc(nx);
        conv2d_backward(d, NULL, c.w, c.r, gx2, NULL, NULL, c.ws);
        CHECK(memcmp(gx, gx2, nx * sizeof *gx) == 0);
        free(gx2), free(gx), free(gw), free(gb);
        free(c.x), free(c.w), free(c.b), free(c.y), free(c.r), free(c.ws);
    }
}

typedef struct pw_case {
    size_t n;
    float *x, *y, *r;
    pool_desc pd;
} pw_case;

static double relu_loss(void *p) {
    pw_case *c = p;
    relu_forward(c->n, c->x, c->y);
    return dot(c->y, c->r, c->n);
}

static void test_relu(void) {
    unsigned long long s = 777;
    pw_case c = {1000, test_falloc(1000), test_falloc(1000), test_falloc(1000), {0}};
    for (size_t i = 0; i < c.n; i++) {
        float v = test_uniform(&s, 0.05f, 1.0f);  /* away from the kink at 0 */
        c.x[i] = (i % 3 == 0) ? -v : v;
    }
    fill(c.r, c.n, &s, -1, 1);
    float *g = test_falloc(c.n);
    relu_forward(c.n, c.x, c.y);
    relu_backward(c.n, c.y, c.r, g);
    CHECK(fd_check("relu dx", c.x, c.n, g, relu_loss, &c, 1e-2f, 1e-4) == 0);
    for (size_t i = 0; i < c.n; i++) CHECK(c.y[i] == (c.x[i] > 0 ? c.x[i] : 0.0f));
    /* in place: y = relu(y), dx = dy */
    float *t = test_falloc(c.n);
    memcpy(t, c.x, c.n * sizeof *t);
    relu_forward(c.n, t, t);
    CHECK(memcmp(t, c.y, c.n * sizeof *t) == 0);
    memcpy(t, c.r, c.n * sizeof *t);
    relu_backward(c.n, c.y, t, t);
    CHECK(memcmp(t, g, c.n * sizeof *t) == 0);
    free(t), free(g), free(c.x), free(c.y), free(c.r);
}

static double pool_loss(void *p) {
    pw_case *c = p;
    pool_forward(&c->pd, c->x, c->y);
    return dot(c->y, c->r, (size_t)c->pd.c * pool_out_h(&c->pd) * pool_out_w(&c->pd));
}

static void test_pool_fd(void) {
    static const pool_desc cases[] = {
        {3, 7, 9, 2, 2, 0, 1, POOL_MAX}, {3, 7, 9, 2, 2, 0, 1, POOL_AVG},
        {2, 9, 11, 3, 2, 1, 0, POOL_MAX}, {2, 9, 11, 3, 2, 1, 0, POOL_AVG},
        {2, 10, 7, 3, 2, 1, 1, POOL_MAX}, {2, 10, 7, 3, 2, 1, 1, POOL_AVG},
        {2, 5, 7, 2, 2, 1, 1, POOL_AVG},
    };
    unsigned long long s = 4242;
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        pw_case c = {0, 0, 0, 0, cases[t]};
        size_t nx = (size_t)c.pd.c * c.pd.h * c.pd.w;
        size_t ny = (size_t)c.pd.c * pool_out_h(&c.pd) * pool_out_w(&c.pd);
        c.x = test_falloc(nx), c.y = test_falloc(ny), c.r = test_falloc(ny);
        /* Distinct values 0.05 apart (a shuffled ramp), so a step of 0.01 never changes which
         * cell is a window's maximum. */
        for (size_t i = 0; i < nx; i++) c.x[i] = 0.05f * (float)i - 2.0f;
        for (size_t i = nx - 1; i > 0; i--) {
            size_t j = (size_t)test_uniform(&s, 0.0f, (float)(i + 1));
            if (j > i) j = i;
            float tmp = c.x[i];
            c.x[i] = c.x[j], c.x[j] = tmp;
        }
        fill(c.r, ny, &s, -1, 1);
        float *g = test_falloc(nx);
        pool_backward(&c.pd, c.x, c.r, g);
        CHECK_MSG(fd_check("pool dx", c.x, nx, g, pool_loss, &c, 1e-2f, 1e-3) == 0, "pool case %zu", t);
        free(g), free(c.x), free(c.y), free(c.r);
    }
}

/* Ties: max pooling routes the gradient to the FIRST maximum of a window in row-major order,
 * as PyTorch does (the ramps above have no ties). Inputs of 0s and 1s; the reference scans
 * each window, clipped to the image, for its first 1 (or takes its first cell if all are 0). */
static void test_pool_ties(void) {
    const pool_desc d = {2, 5, 6, 3, 2, 1, 1, POOL_MAX};
    const int oh = pool_out_h(&d), ow = pool_out_w(&d);
    float x[60], dy[64], dx[60], want[60] = {0};
    unsigned long long s = 31;
    for (int i = 0; i < 60; i++) x[i] = test_uniform(&s, 0, 1) < 0.5f ? 0.0f : 1.0f;
    for (int i = 0; i < 2 * oh * ow; i++) dy[i] = (float)(i + 1);
    for (int c = 0; c < 2; c++) {
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                int first = -1, any = -1;
                for (int iy = oy * 2 - 1; iy < oy * 2 + 2; iy++) {
                    for (int ix = ox * 2 - 1; ix < ox * 2 + 2; ix++) {
                        if (iy < 0 || iy >= 5 || ix < 0 || ix >= 6) continue;
                        int i = c * 30 + iy * 6 + ix;
                        if (any < 0) any = i;
                        if (first < 0 && x[i] == 1.0f) first = i;
                    }
                }
                want[first >= 0 ? first : any] += dy[(c * oh + oy) * ow + ox];
            }
        }
    }
    pool_backward(&d, x, dy, dx);
    for (int i = 0; i < 60; i++) CHECK_NEAR(dx[i], want[i], 1e-6);
}

/* bitmap_select and bitmap_or_positive against one bit at a time, for every start bit in two words
 * and runs crossing up to three word boundaries (the 32-bit chunks read and write across words). */
static void test_bitmap_runs(void) {
    enum { WORDS = 5, BITS = 64 * WORDS };
    uint64_t plane[WORDS], got[WORDS];
    float src[BITS], dst[BITS], v[BITS];
    unsigned long long s = 77;
    for (int i = 0; i < WORDS; i++) {
        plane[i] = 0;
        for (int b = 0; b < 64; b++) plane[i] |= (uint64_t)(test_uniform(&s, 0, 1) < 0.5f) << b;
    }
    fill(src, BITS, &s, 1, 2);
    for (int i = 0; i < BITS; i++) v[i] = test_uniform(&s, 0, 1) < 0.5f ? 0.0f : test_uniform(&s, -1, 1);
    int bad = 0;
    for (size_t k0 = 0; k0 < 128; k0++) {
        for (size_t n = 0; k0 + n <= BITS && n <= 150; n += 1 + n / 16) {
            for (size_t i = 0; i < n; i++) dst[i] = -1.0f;
            bitmap_select(plane, k0, n, src, dst);
            for (size_t i = 0; i < n; i++) bad += dst[i] != (bitmap_get(plane, k0 + i) ? src[i] : 0.0f);
            memset(got, 0, sizeof got);
            bitmap_or_positive(v, n, got, k0);
            for (size_t k = 0; k < BITS; k++)
                bad += bitmap_get(got, k) != (k >= k0 && k < k0 + n && v[k - k0] > 0.0f);
        }
    }
    CHECK_MSG(bad == 0, "%d bits or values differ", bad);
    bad = 0;
    memcpy(dst, src, sizeof dst);  /* in place */
    bitmap_select(plane, 3, 200, dst, dst);
    for (size_t i = 0; i < 200; i++) bad += dst[i] != (bitmap_get(plane, 3 + i) ? src[i] : 0.0f);
    CHECK_MSG(bad == 0, "in place: %d values differ", bad);
}

/* VGG's 2x2 stride-2 pooling has its own loop (whole windows, 16 at a time): on rows long enough
 * for several runs, odd sizes (ceil mode's clipped last row and column), ties and NaNs, each output
 * must be its window's first maximum in reading order, or its first NaN, as PyTorch's, and the route
 * must send the gradient to that cell. The reference scans each window here. */
static void test_pool_2x2(void) {
    static const pool_desc cases[] = {{2, 7, 75, 2, 2, 0, 1, POOL_MAX}, {1, 4, 130, 2, 2, 0, 0, POOL_MAX}};
    unsigned long long s = 4242;
    for (size_t t = 0; t < 2; t++) {
        const pool_desc *d = &cases[t];
        const int oh = pool_out_h(d), ow = pool_out_w(d);
        const size_t hw = (size_t)d->h * d->w, nx = (size_t)d->c * hw, ny = (size_t)d->c * oh * ow;
        float *x = test_falloc(nx), *y = test_falloc(ny), *dy = test_falloc(ny), *dx = test_falloc(nx), *want = test_falloc(nx);
        uint64_t *bits = malloc((size_t)d->c * bitmap_plane_words(hw) * sizeof *bits);
        for (size_t i = 0; i < nx; i++) {
            const float u = test_uniform(&s, 0, 1);
            x[i] = u < 0.15f ? NAN : u < 0.45f ? 0.0f : (float)(int)test_uniform(&s, -2, 3);
        }
        for (size_t i = 0; i < ny; i++) dy[i] = (float)(i + 1);
        memset(want, 0, nx * sizeof *want);
        pool_forward_route(d, x, y, bits);
        pool_backward_route(d, bits, dy, dx);
        int bad = 0;
        for (int c = 0; c < d->c; c++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    long best = -1;
                    for (int iy = 2 * oy; iy < 2 * oy + 2 && iy < d->h && !(best >= 0 && isnan(x[best])); iy++)
                        for (int ix = 2 * ox; ix < 2 * ox + 2 && ix < d->w; ix++) {
                            const long i = (long)((size_t)c * hw + (size_t)iy * d->w + ix);
                            if (best < 0 || x[i] > x[best] || isnan(x[i])) best = i;
                            if (isnan(x[best])) break;
                        }
                    const size_t o = ((size_t)c * oh + oy) * ow + ox;
                    bad += isnan(x[best]) ? !isnan(y[o]) : y[o] != x[best];
                    want[best] = dy[o];
                }
        CHECK_MSG(bad == 0, "case %zu: %d outputs differ", t, bad);
        CHECK_MSG(memcmp(dx, want, nx * sizeof *dx) == 0, "case %zu: route backward", t);
        free(x), free(y), free(dy), free(dx), free(want), free(bits);
    }
}

/* The bitmap forms (what VGG-19's plan keeps instead of float maps) give the same numbers as the
 * float forms: relu_backward_bits as relu_backward, pool_backward_route as pool_backward, on maps
 * whose planes end mid-word, with ties and zeros (ReLU outputs). */
static void test_bitmaps(void) {
    static const pool_desc cases[] = {
        {3, 7, 9, 2, 2, 0, 1, POOL_MAX}, {2, 9, 15, 2, 2, 0, 1, POOL_MAX}, {2, 5, 7, 2, 2, 1, 1, POOL_MAX},
        {4, 16, 8, 2, 2, 0, 0, POOL_MAX}, {2, 9, 11, 2, 3, 0, 0, POOL_MAX},
    };
    unsigned long long s = 5150;
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const pool_desc *d = &cases[t];
        CHECK(pool_route_supported(d));
        const size_t hw = (size_t)d->h * d->w, nx = (size_t)d->c * hw;
        const size_t ny = (size_t)d->c * pool_out_h(d) * pool_out_w(d);
        float *x = test_falloc(nx), *g = test_falloc(nx), *dx = test_falloc(nx), *want = test_falloc(nx);
        float *y = test_falloc(ny), *y2 = test_falloc(ny), *dy = test_falloc(ny);
        uint64_t *bits = malloc((size_t)d->c * bitmap_plane_words(hw) * sizeof *bits);
        /* ReLU outputs: a third zero, the rest from a few levels, so windows tie. */
        for (size_t i = 0; i < nx; i++) x[i] = test_uniform(&s, 0, 1) < 0.33f ? 0.0f : (float)(1 + (int)test_uniform(&s, 0, 3));
        fill(g, nx, &s, -1, 1);
        fill(dy, ny, &s, -1, 1);
        relu_mask_bits(d->c, hw, x, bits);
        relu_backward(nx, x, g, want);
        relu_backward_bits(d->c, hw, bits, g, dx);
        CHECK_MSG(memcmp(dx, want, nx * sizeof *dx) == 0, "relu bits, case %zu", t);
        memset(bits, 0xa5, (size_t)d->c * bitmap_plane_words(hw) * sizeof *bits);  /* overwritten */
        pool_forward(d, x, y);
        pool_forward_route(d, x, y2, bits);
        CHECK_MSG(memcmp(y, y2, ny * sizeof *y) == 0, "pool route forward, case %zu", t);
        pool_backward(d, x, dy, want);
        pool_backward_route(d, bits, dy, dx);
        CHECK_MSG(memcmp(dx, want, nx * sizeof *dx) == 0, "pool route backward, case %zu", t);
        free(x), free(g), free(dx), free(want), free(y), free(y2), free(dy), free(bits);
    }
    const pool_desc overlapping = {1, 5, 5, 3, 2, 1, 0, POOL_MAX}, avg = {1, 4, 4, 2, 2, 0, 0, POOL_AVG};
    CHECK(!pool_route_supported(&overlapping) && !pool_route_supported(&avg));
}

/* ---- banded convolution against a direct one --------------------------------------------- */

/* The padded input pixel, mirror written independently of conv2d.c's. */
static double ref_at(const conv2d_desc *d, const float *x, int c, int iy, int ix) {
    if (d->padding == PAD_ZERO) {
        if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) return 0.0;
    } else {
        iy = iy < 0 ? -iy : iy >= d->h ? 2 * d->h - 2 - iy : iy;
        ix = ix < 0 ? -ix : ix >= d->w ? 2 * d->w - 2 - ix : ix;
    }
    return x[((size_t)c * d->h + iy) * d->w + ix];
}

/* Where the padded pixel's gradient lands, or -1 (zero padding). */
static long ref_index(const conv2d_desc *d, int c, int iy, int ix) {
    if (d->padding == PAD_ZERO) {
        if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) return -1;
    } else {
        iy = iy < 0 ? -iy : iy >= d->h ? 2 * d->h - 2 - iy : iy;
        ix = ix < 0 ? -ix : ix >= d->w ? 2 * d->w - 2 - ix : ix;
    }
    return (long)(((size_t)c * d->h + iy) * d->w + ix);
}

static void test_conv_banded(void) {
    static const conv2d_desc cases[] = {
        {16, 150, 300, 8, 3, 3, 1, 1, PAD_ZERO, 1},   /* several bands of a VGG-like layer */
        {32, 160, 200, 4, 5, 5, 2, 2, PAD_REFLECT, 1}, /* bands overlapping on input rows */
        {8, 64, 80, 5, 1, 1, 1, 0, PAD_ZERO, 1},     /* pointwise, several column chunks */
        /* Few input channels, split unevenly between 2 and 3 threads, the map in one band. */
        {3, 150, 70, 8, 3, 3, 1, 1, PAD_ZERO, 1},     /* VGG's conv1_1 */
        {2, 41, 33, 4, 5, 5, 1, 2, PAD_ZERO, 1},      /* a 4-row halo */
        {3, 37, 30, 4, 3, 3, 1, 0, PAD_ZERO, 1},      /* unpadded: OH < H */
    };
    enum { BANDED = 3 };  /* the cases whose maps need several workspace bands */
    unsigned long long s = 99;
    /* Each case on 1, 2 and 3 threads: the rows, channels and columns split unevenly. */
    for (size_t t = 0; t < 3 * sizeof cases / sizeof cases[0]; t++) {
        conv2d_desc dd = cases[t / 3];
        dd.threads = 1 + (int)(t % 3);
        const conv2d_desc *d = &dd;
        const int oh = conv2d_out_h(d), ow = conv2d_out_w(d);
        const size_t k = (size_t)d->c * d->kh * d->kw, npix = (size_t)oh * ow;
        size_t nx = (size_t)d->c * d->h * d->w, nw = (size_t)d->oc * k, ny = (size_t)d->oc * npix;
        if (d->kh > 1 && t / 3 < BANDED)
            CHECK_MSG(conv2d_workspace(d) / (size_t)d->threads < k * npix / 2, "case %zu not banded", t / 3);
        float *x = test_falloc(nx), *w = test_falloc(nw), *b = test_falloc(d->oc), *y = test_falloc(ny);
        float *dy = test_falloc(ny), *dx = test_falloc(nx), *dw = test_falloc(nw), *ws = ws_alloc(d);
        fill(x, nx, &s, -1, 1), fill(w, nw, &s, -0.2f, 0.2f), fill(b, d->oc, &s, -1, 1);
        fill(dy, ny, &s, -1, 1);
        memset(dw, 0, nw * sizeof *dw);
        conv2d_forward(d, x, w, b, y, 0, ws);
        conv2d_backward(d, x, w, dy, dx, dw, NULL, ws);
        double *rdx = calloc(nx, sizeof *rdx), *rdw = calloc(nw, sizeof *rdw);
        double ey = 0.0, edx = 0.0, edw = 0.0;
        for (int o = 0; o < d->oc; o++) {
            for (int oy = 0; oy < oh; oy++) {
                for (int ox = 0; ox < ow; ox++) {
                    double acc = b[o], g = dy[((size_t)o * oh + oy) * ow + ox];
                    for (int c = 0; c < d->c; c++) {
                        for (int ki = 0; ki < d->kh; ki++) {
                            for (int kj = 0; kj < d->kw; kj++) {
                                int iy = oy * d->stride - d->pad + ki, ix = ox * d->stride - d->pad + kj;
                                size_t wi = (((size_t)o * d->c + c) * d->kh + ki) * d->kw + kj;
                                double xv = ref_at(d, x, c, iy, ix);
                                acc += w[wi] * xv;
                                rdw[wi] += g * xv;
                                long xi = ref_index(d, c, iy, ix);
                                if (xi >= 0) rdx[xi] += g * w[wi];
                            }
                        }
                    }
                    double e = fabs(y[((size_t)o * oh + oy) * ow + ox] - acc) / (1.0 + fabs(acc));
                    if (e > ey) ey = e;
                }
            }
        }
        for (size_t i = 0; i < nx; i++) {
            double e = fabs(dx[i] - rdx[i]) / (1.0 + fabs(rdx[i]));
            if (e > edx) edx = e;
        }
        /* dw sums over every output position: compare relative to the largest entry. */
        double wmax = 0.0;
        for (size_t i = 0; i < nw; i++) wmax = fmax(wmax, fabs(rdw[i]));
        for (size_t i = 0; i < nw; i++) edw = fmax(edw, fabs(dw[i] - rdw[i]) / (1.0 + wmax));
        CHECK_MSG(ey < 1e-5 && edx < 1e-5 && edw < 1e-5, "case %zu, %d threads: y %g dx %g dw %g", t / 3,
                  d->threads, ey, edx, edw);
        /* Backward-data alone (Gatys' pass: no weight gradient); dx starts as garbage, since it is
         * overwritten. */
        fill(dx, nx, &s, -9, 9);
        conv2d_backward(d, NULL, w, dy, dx, NULL, NULL, ws);
        double edx2 = 0.0;
        for (size_t i = 0; i < nx; i++) edx2 = fmax(edx2, fabs(dx[i] - rdx[i]) / (1.0 + fabs(rdx[i])));
        CHECK_MSG(edx2 < 1e-5, "case %zu, %d threads: dx alone %g", t / 3, d->threads, edx2);
        free(rdx), free(rdw);
        free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(ws);
    }
}

int main(void) {
    RUN(test_conv_golden);
    RUN(test_pool_golden);
    RUN(test_conv_fd);
    RUN(test_relu);
    RUN(test_pool_fd);
    RUN(test_pool_ties);
    RUN(test_bitmap_runs);
    RUN(test_pool_2x2);
    RUN(test_bitmaps);
    RUN(test_conv_banded);
    for (int k = 0; k < g_nrecs; k++) free(g_recs[k].data);
    free(g_bytes);
    return test_summary();
}
