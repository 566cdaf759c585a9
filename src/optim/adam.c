/* Adam (Kingma & Ba 2015, Algorithm 1) as torch/optim's adam.lua, which neural-style calls once
 * per iteration. adam.lua folds the bias corrections into the step size (the paper's "more
 * efficient" ordering at the end of section 2):
 *   m = b1 m + (1-b1) g,  v = b2 v + (1-b2) g^2,
 *   x -= lr * sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)
 * torch.optim.Adam instead adds eps to sqrt(v)/sqrt(1-b2^t), i.e. its eps is larger by
 * 1/sqrt(1-b2^t); the two agree whenever sqrt(v) >> eps, which holds for any gradient that is not
 * ~1e-8 in size. */
#include "optim/optim.h"

#include <math.h>
#include <stdlib.h>

#define ADAM_PAR_MIN 32768

struct adam_state {
    size_t n;
    adam_params p;
    long long t;  /* steps taken */
    float *m, *v; /* (n) each: the first and second moment estimates */
};

void adam_params_init(adam_params *p) {
    p->max_iter = 1000;
    p->learning_rate = 1e-3;
    p->beta1 = 0.9;
    p->beta2 = 0.999;
    p->eps = 1e-8;
    p->torch_eps = 0;
}

adam_state *adam_create(size_t n, const adam_params *p) {
    adam_state *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->n = n;
    if (p) s->p = *p;
    else adam_params_init(&s->p);
    /* calloc: both moments start at zero (Algorithm 1) and the size product is checked */
    s->m = calloc(n ? n : 1, sizeof(float));
    s->v = calloc(n ? n : 1, sizeof(float));
    if (!s->m || !s->v) {
        adam_free(s);
        return NULL;
    }
    return s;
}

void adam_free(adam_state *s) {
    if (!s) return;
    free(s->m);
    free(s->v);
    free(s);
}

/* x, g (n). */
void adam_step(adam_state *s, float *x, const float *g) {
    const double b1 = s->p.beta1, b2 = s->p.beta2;
    s->t++;
    const double bc1 = 1.0 - pow(b1, (double)s->t), bc2 = 1.0 - pow(b2, (double)s->t);
    const double step = s->p.learning_rate * sqrt(bc2) / bc1;
    /* torch.optim.Adam's sqrt(v / bc2) + eps is (sqrt(v) + eps sqrt(bc2)) / sqrt(bc2): the same
     * update with eps scaled by sqrt(bc2) */
    const double eps = s->p.torch_eps ? s->p.eps * sqrt(bc2) : s->p.eps;
    const float fb1 = (float)b1, fb2 = (float)b2, fa1 = (float)(1.0 - b1), fa2 = (float)(1.0 - b2);
    const float feps = (float)eps, fstep = (float)step;
    float *m = s->m, *v = s->v;
    const long long len = (long long)s->n;
#pragma omp parallel for simd schedule(static) if (s->n >= ADAM_PAR_MIN)
    for (long long i = 0; i < len; i++) {
        float mi = fb1 * m[i] + fa1 * g[i];
        float vi = fb2 * v[i] + fa2 * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        x[i] -= fstep * mi / (sqrtf(vi) + feps);
    }
}

long long adam_steps(const adam_state *s) { return s->t; }
void adam_set_learning_rate(adam_state *s, double lr) { s->p.learning_rate = lr; }
void adam_set_steps(adam_state *s, long long t) { s->t = t; }
float *adam_first_moment(adam_state *s) { return s->m; }
float *adam_second_moment(adam_state *s) { return s->v; }

int adam_minimize(size_t n, float *x, const adam_params *p, optim_evaluate_fn evaluate,
                  optim_progress_fn progress, void *user, double *fx) {
    adam_params defaults;
    if (!p) {
        adam_params_init(&defaults);
        p = &defaults;
    }
    adam_state *s = adam_create(n, p);
    float *g = calloc(n ? n : 1, sizeof(float)); /* calloc checks n * 4 */
    int status = OPTIM_NOMEM;
    if (!s || !g) goto done;
    /* as neural-style's loop: each iteration evaluates at x, then steps, so f is that of the
     * point before the step */
    status = OPTIM_MAX_ITER;
    for (int iter = 1; iter <= p->max_iter; iter++) {
        double f = 0.0;
        if ((status = evaluate(user, x, g, n, &f))) goto done;
        if (fx) *fx = f;
        adam_step(s, x, g);
        if (progress && progress(user, x, n, f, iter, iter)) {
            status = OPTIM_CANCELLED;
            goto done;
        }
    }
done:
    adam_free(s);
    free(g);
    return status;
}
