/* Limited-memory BFGS as torch/optim's lbfgs.lua, which neural-style calls (Nocedal & Wright,
 * "Numerical Optimization", 2nd ed., Algorithm 7.4 two-loop recursion with the scaling
 * H0 = s'y / y'y of eq. 7.20). PyTorch's torch.optim.LBFGS is a port of the same code; this file
 * follows its step rules:
 *   - direction: -g on the first iteration, then the two-loop recursion over the stored (s, y);
 *   - a pair is stored only when y's > 1e-10 (curvature condition), the oldest dropped when full;
 *   - step: t = min(1, 1/|g|_1) * lr on the first iteration, lr afterwards; with no line search
 *     x += t d and f is re-evaluated except on the last iteration (so the last progress call
 *     reports f of the previous point, and *fx too, exactly as lbfgs.lua returns it);
 *   - line_search = 1 is the strong Wolfe search of lswolfe.lua / PyTorch's _strong_wolfe
 *     (bracketing, then zoom by safeguarded cubic interpolation; c1 = 1e-4, c2 = 0.9, at most
 *     25 evaluations, bracket tolerance 1e-9).
 * Stopping tests, in lbfgs.lua's order after each iteration: max_iter, max_eval, |g|_1 <= tol_fun,
 * |t d|_1 <= tol_x, |f - f_prev| < tol_x; before a step, g'd > -tol_x. lbfgs.lua measures the
 * gradient and the step with the L1 norm; PyTorch uses the max-abs norm for both — the L1 norm
 * is kept here (neural-style disables both with tolFun = tolX = -1 anyway). max_eval defaults to
 * 1.25 max_iter unrounded, as lbfgs.lua (PyTorch floors it).
 *
 * Variables and stored pairs are float32; every inner product is accumulated in double.
 *
 * The vector work runs on one thread, vectorised. It is memory-bound (each iteration streams the
 * 2 * history stored vectors about twice), so a second thread gained only 1.5x, and the two-loop
 * recursion needs a reduction between each of its ~2 * history steps: with one core taken by
 * another process those ~200 barriers per iteration made a two-thread version 5x slower than
 * this one. At 512x512 with a full history of 100 an iteration costs ~80 ms (measured on the
 * baseline x86-64 build), small beside one evaluation of VGG-19.
 * When evaluate fails, x is left at the point it was asked about. */
#include "optim/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctx.h"

void lbfgs_params_init(lbfgs_params *p) {
    p->max_iter = 1000;
    p->max_eval = 0;
    p->history = 100;
    p->learning_rate = 1.0;
    p->tol_fun = 1e-5;
    p->tol_x = 1e-9;
    p->line_search = 0;
}

/* ---- vector kernels (all n-length; sums in double) ---- */

static double vec_dot(size_t n, const float *a, const float *b) {
    double s = 0.0;
    const long long len = (long long)n;
#pragma omp simd reduction(+ : s)
    for (long long i = 0; i < len; i++) s += (double)a[i] * (double)b[i];
    return s;
}

static double vec_asum(size_t n, const float *a) {
    double s = 0.0;
    const long long len = (long long)n;
#pragma omp simd reduction(+ : s)
    for (long long i = 0; i < len; i++) s += fabs((double)a[i]);
    return s;
}

static double vec_amax(size_t n, const float *a) {
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) m = fabsf(a[i]) > m ? fabsf(a[i]) : m;
    return m;
}

/* q = -g, returning s'q (0 without s): the start of the recursion's first loop, fused with its
 * first inner product so q is read once. */
static double vec_neg_dot(size_t n, const float *g, float *q, const float *s) {
    double acc = 0.0;
    const long long len = (long long)n;
    if (!s) {
#pragma omp simd
        for (long long i = 0; i < len; i++) q[i] = -g[i];
        return 0.0;
    }
#pragma omp simd reduction(+ : acc)
    for (long long i = 0; i < len; i++) {
        q[i] = -g[i];
        acc += (double)s[i] * (double)q[i];
    }
    return acc;
}

/* q = a*q + b*y (y may be NULL when b is unused), returning w'q for the updated q (0 without w):
 * each step of the two loops updates q with one stored vector and needs the inner product of
 * the next one with the result, so both share a pass over memory. */
static double vec_axpby_dot(size_t n, float a, float b, const float *y, float *q, const float *w) {
    double acc = 0.0;
    const long long len = (long long)n;
    if (!w) {
#pragma omp simd
        for (long long i = 0; i < len; i++) q[i] = a * q[i] + (y ? b * y[i] : 0.0f);
        return 0.0;
    }
    if (!y) {
#pragma omp simd reduction(+ : acc)
        for (long long i = 0; i < len; i++) {
            q[i] = a * q[i];
            acc += (double)w[i] * (double)q[i];
        }
        return acc;
    }
#pragma omp simd reduction(+ : acc)
    for (long long i = 0; i < len; i++) {
        q[i] = a * q[i] + b * y[i];
        acc += (double)w[i] * (double)q[i];
    }
    return acc;
}

/* ---- history: the last m pairs (s, y), oldest first, in a ring ---- */

typedef struct lbfgs_history {
    size_t n;
    int m, start, count;
    float *pairs;  /* (m, 2, n): slot j holds s at 2j and y at 2j+1 */
    double *rho;   /* (m) 1 / y's, by slot */
    double *alpha; /* (m) the first loop's coefficients, by age */
} lbfgs_history;

static float *hist_s(const lbfgs_history *h, int age) {
    return h->pairs + (size_t)(2 * ((h->start + age) % h->m)) * h->n;
}
static float *hist_y(const lbfgs_history *h, int age) {
    return h->pairs + (size_t)(2 * ((h->start + age) % h->m) + 1) * h->n;
}
static double hist_rho(const lbfgs_history *h, int age) { return h->rho[(h->start + age) % h->m]; }

/* Offers the pair s = t d, y = g - g_old; stores it if y's > 1e-10 and returns 1 with y's and
 * y'y, else leaves the history alone (the oldest pair is only overwritten once the new one is
 * known to be kept, which is why y's is computed before anything is written). */
static int hist_offer(lbfgs_history *h, double t, const float *d, const float *g, const float *g_old,
                      double *ys_out, double *yy_out) {
    const size_t n = h->n;
    const long long len = (long long)n;
    const float tf = (float)t;
    double ys = 0.0, yy = 0.0;
#pragma omp simd reduction(+ : ys, yy)
    for (long long i = 0; i < len; i++) {
        float y = g[i] - g_old[i], s = tf * d[i];
        ys += (double)y * (double)s;
        yy += (double)y * (double)y;
    }
    if (!(ys > 1e-10)) return 0;
    int slot;
    if (h->count < h->m) {
        slot = (h->start + h->count) % h->m;
        h->count++;
    } else {
        slot = h->start;
        h->start = (h->start + 1) % h->m;
    }
    float *s = h->pairs + (size_t)(2 * slot) * n, *y = s + n;
#pragma omp simd
    for (long long i = 0; i < len; i++) {
        s[i] = tf * d[i];
        y[i] = g[i] - g_old[i];
    }
    h->rho[slot] = 1.0 / ys;
    *ys_out = ys;
    *yy_out = yy;
    return 1;
}

/* d = -H g by the two-loop recursion (Nocedal & Wright, Algorithm 7.4), H0 = h0 * I. */
static void hist_direction(const lbfgs_history *h, double h0, const float *g, float *d) {
    const size_t n = h->n;
    const int k = h->count;
    double *al = h->alpha;
    double dot = vec_neg_dot(n, g, d, k ? hist_s(h, k - 1) : NULL);
    for (int i = k - 1; i >= 0; i--) {
        al[i] = dot * hist_rho(h, i);
        dot = vec_axpby_dot(n, 1.0f, (float)-al[i], hist_y(h, i), d, i ? hist_s(h, i - 1) : NULL);
    }
    dot = vec_axpby_dot(n, (float)h0, 0.0f, NULL, d, k ? hist_y(h, 0) : NULL);
    for (int i = 0; i < k; i++) {
        double be = dot * hist_rho(h, i);
        dot = vec_axpby_dot(n, 1.0f, (float)(al[i] - be), hist_s(h, i), d,
                            i + 1 < k ? hist_y(h, i + 1) : NULL);
    }
}

/* ---- strong Wolfe line search (lswolfe.lua; PyTorch's _strong_wolfe) ---- */

typedef struct wolfe_search {
    size_t n;
    optim_evaluate_fn evaluate;
    void *user;
    float *x;        /* (n) the trial point, and the accepted one on return */
    const float *x0; /* (n) the point the search starts from */
    const float *d;  /* (n) the direction */
    float *buf[3];   /* (n) each: gradients at trial points */
    int evals;
} wolfe_search;

/* Python's max/min (the first argument wins ties and NaNs), as the reference computes them. */
static double py_max(double a, double b) { return b > a ? b : a; }
static double py_min(double a, double b) { return b < a ? b : a; }

/* Minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to [lo, hi]; the
 * midpoint when the cubic has no real stationary point (polyinterp.lua's two-point case). */
static double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                                double lo, double hi) {
    double d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    double d2sq = d1 * d1 - g1 * g2;
    if (d2sq >= 0.0) {
        double d2 = sqrt(d2sq), pos;
        if (x1 <= x2) pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2));
        else pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2));
        return py_min(py_max(pos, lo), hi);
    }
    return (lo + hi) / 2.0;
}

/* A gradient buffer that neither a nor b points at. */
static float *wolfe_free_buf(wolfe_search *w, const float *a, const float *b) {
    for (int i = 0; i < 3; i++)
        if (w->buf[i] != a && w->buf[i] != b) return w->buf[i];
    return NULL;
}

/* f, g and g'd at x0 + t d. */
static int wolfe_eval(wolfe_search *w, double t, float *g, double *f, double *gtd) {
    const long long len = (long long)w->n;
#pragma omp simd
    for (long long i = 0; i < len; i++) w->x[i] = (float)((double)w->x0[i] + t * (double)w->d[i]);
    int rc = w->evaluate(w->user, w->x, g, w->n, f);
    w->evals++;
    if (rc) return rc;
    *gtd = vec_dot(w->n, g, w->d);
    return 0;
}

/* From x0 with f, g (n; overwritten with the gradient at the accepted point) and slope gtd < 0
 * along d, starting at step *t. On return x = x0 + *t d and *f_io = f there. */
static int wolfe_search_run(wolfe_search *w, double *t_io, double *f_io, float *g, double gtd) {
    const double c1 = 1e-4, c2 = 0.9, tol_change = 1e-9;
    const int max_ls = 25;
    const double f = *f_io, d_norm = vec_amax(w->n, w->d);
    double t = *t_io, f_new, gtd_new;
    float *g_new = w->buf[0];
    int rc = wolfe_eval(w, t, g_new, &f_new, &gtd_new);
    if (rc) return rc;

    double t_prev = 0.0, f_prev = f, gtd_prev = gtd;
    const float *g_prev = g;
    double br[2] = {0, 0}, bf[2] = {0, 0}, bgtd[2] = {0, 0};
    const float *bg[2] = {NULL, NULL};
    int nbr = 0, done = 0, ls_iter = 0;
    while (ls_iter < max_ls) {
        if (f_new > f + c1 * t * gtd || (ls_iter > 1 && f_new >= f_prev)) {
            /* too long a step (Armijo fails) or f rose: a minimiser lies in [t_prev, t] */
            nbr = 2;
            br[0] = t_prev, bf[0] = f_prev, bg[0] = g_prev, bgtd[0] = gtd_prev;
            br[1] = t, bf[1] = f_new, bg[1] = g_new, bgtd[1] = gtd_new;
            break;
        }
        if (fabs(gtd_new) <= -c2 * gtd) {
            nbr = 1; /* t meets both conditions */
            done = 1;
            br[0] = t, bf[0] = f_new, bg[0] = g_new, bgtd[0] = gtd_new;
            break;
        }
        if (gtd_new >= 0.0) {
            /* the slope turned: a minimiser lies in [t_prev, t] */
            nbr = 2;
            br[0] = t_prev, bf[0] = f_prev, bg[0] = g_prev, bgtd[0] = gtd_prev;
            br[1] = t, bf[1] = f_new, bg[1] = g_new, bgtd[1] = gtd_new;
            break;
        }
        /* extrapolate: the slope is still negative and f still falling */
        double min_step = t + 0.01 * (t - t_prev), max_step = t * 10.0, tmp = t;
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, min_step, max_step);
        t_prev = tmp;
        f_prev = f_new;
        g_prev = g_new;
        gtd_prev = gtd_new;
        g_new = wolfe_free_buf(w, g_prev, NULL);
        if ((rc = wolfe_eval(w, t, g_new, &f_new, &gtd_new))) return rc;
        ls_iter++;
    }
    if (ls_iter == max_ls) {
        nbr = 2;
        br[0] = 0.0, bf[0] = f, bg[0] = g, bgtd[0] = gtd;
        br[1] = t, bf[1] = f_new, bg[1] = g_new, bgtd[1] = gtd_new;
    }

    /* zoom: shrink the bracket until a point meets the strong Wolfe conditions */
    int insuf_progress = 0;
    int low = bf[0] <= bf[nbr - 1] ? 0 : 1, high = 1 - low;
    while (!done && ls_iter < max_ls) {
        if (fabs(br[1] - br[0]) * d_norm < tol_change) break;
        t = cubic_interpolate(br[0], bf[0], bgtd[0], br[1], bf[1], bgtd[1], py_min(br[0], br[1]),
                              py_max(br[0], br[1]));
        /* keep the trial a tenth of the bracket away from its ends when interpolation stalls
         * there twice in a row, or lands on or beyond an end */
        double bmax = py_max(br[0], br[1]), bmin = py_min(br[0], br[1]);
        double eps = 0.1 * (bmax - bmin);
        if (py_min(bmax - t, t - bmin) < eps) {
            if (insuf_progress || t >= bmax || t <= bmin) {
                t = fabs(t - bmax) < fabs(t - bmin) ? bmax - eps : bmin + eps;
                insuf_progress = 0;
            } else {
                insuf_progress = 1;
            }
        } else {
            insuf_progress = 0;
        }
        g_new = wolfe_free_buf(w, bg[0], bg[1]);
        if ((rc = wolfe_eval(w, t, g_new, &f_new, &gtd_new))) return rc;
        ls_iter++;

        if (f_new > f + c1 * t * gtd || f_new >= bf[low]) {
            br[high] = t, bf[high] = f_new, bg[high] = g_new, bgtd[high] = gtd_new;
            low = bf[0] <= bf[1] ? 0 : 1;
            high = 1 - low;
        } else {
            if (fabs(gtd_new) <= -c2 * gtd) {
                done = 1;
            } else if (gtd_new * (br[high] - br[low]) >= 0.0) {
                br[high] = br[low], bf[high] = bf[low], bg[high] = bg[low], bgtd[high] = bgtd[low];
            }
            br[low] = t, bf[low] = f_new, bg[low] = g_new, bgtd[low] = gtd_new;
        }
    }

    *t_io = br[low];
    *f_io = bf[low];
    if (bg[low] != g) memcpy(g, bg[low], w->n * sizeof *g);
    const long long len = (long long)w->n;
    const double ts = br[low];
#pragma omp simd
    for (long long i = 0; i < len; i++) w->x[i] = (float)((double)w->x0[i] + ts * (double)w->d[i]);
    return 0;
}

/* ---- the optimiser ---- */

int lbfgs_minimize(size_t n, float *x, const lbfgs_params *p, optim_evaluate_fn evaluate,
                   optim_progress_fn progress, void *user, double *fx) {
    lbfgs_params defaults;
    if (!p) {
        lbfgs_params_init(&defaults);
        p = &defaults;
    }
    /* No more than max_iter - 1 pairs can ever be stored: size the history to what is used. */
    int m = p->history < 1 ? 1 : p->history;
    if (p->max_iter > 0 && m > p->max_iter) m = p->max_iter;
    const size_t nvec = p->line_search ? 7 : 3; /* g, g_old, d (+ x0 and 3 gradients) */
    const size_t nalloc = n ? n : 1;
    size_t work_len, hist_len;
    if (!size_mul(nvec, nalloc, &work_len) || !size_mul3(2, (size_t)m, nalloc, &hist_len) ||
        !size_mul(work_len, sizeof(float), &work_len) || !size_mul(hist_len, sizeof(float), &hist_len))
        return OPTIM_NOMEM;

    float *work = malloc(work_len);
    lbfgs_history h = {n, m, 0, 0, malloc(hist_len), calloc((size_t)m, sizeof(double)),
                       calloc((size_t)m, sizeof(double))};
    int status = OPTIM_NOMEM;
    if (!work || !h.pairs || !h.rho || !h.alpha) goto done;
    float *g = work, *g_old = work + n, *d = work + 2 * n;
    wolfe_search ws = {n, evaluate, user, x, work + 3 * n, d, {NULL, NULL, NULL}, 0};
    if (p->line_search)
        for (int i = 0; i < 3; i++) ws.buf[i] = work + (size_t)(4 + i) * n;

    double f = 0.0;
    status = evaluate(user, x, g, n, &f);
    if (fx) *fx = f;
    if (status) goto done;
    int evals = 1;
    if (vec_asum(n, g) <= p->tol_fun) {
        status = OPTIM_CONVERGED;
        goto done;
    }

    const double max_eval = p->max_eval > 0 ? (double)p->max_eval : p->max_iter * 1.25;
    double t = 0.0, h0 = 1.0;
    status = OPTIM_MAX_ITER;
    for (int iter = 1; iter <= p->max_iter; iter++) {
        if (iter == 1) {
            vec_neg_dot(n, g, d, NULL);
        } else {
            double ys, yy;
            if (hist_offer(&h, t, d, g, g_old, &ys, &yy)) h0 = ys / yy;
            hist_direction(&h, h0, g, d);
        }
        memcpy(g_old, g, n * sizeof *g);
        const double f_old = f;

        const double gtd = vec_dot(n, g, d);
        if (gtd > -p->tol_x) {
            status = OPTIM_CONVERGED; /* no descent along d */
            break;
        }
        t = iter == 1 ? fmin(1.0, 1.0 / vec_asum(n, g)) * p->learning_rate : p->learning_rate;

        if (p->line_search) {
            memcpy(work + 3 * n, x, n * sizeof *x);
            ws.evals = 0;
            status = wolfe_search_run(&ws, &t, &f, g, gtd);
            evals += ws.evals;
            if (status) goto done;
        } else {
            const long long len = (long long)n;
#pragma omp simd
            for (long long i = 0; i < len; i++) x[i] = (float)((double)x[i] + t * (double)d[i]);
            if (iter != p->max_iter) {
                if ((status = evaluate(user, x, g, n, &f))) goto done;
                evals++;
            }
        }
        if (fx) *fx = f;
        if (progress && progress(user, x, n, f, iter, evals)) {
            status = OPTIM_CANCELLED;
            break;
        }

        if (iter == p->max_iter || evals >= max_eval) {
            status = OPTIM_MAX_ITER;
            break;
        }
        /* norms are never negative: a negative tolerance (neural-style's -1) skips its pass */
        if ((p->tol_fun >= 0 && vec_asum(n, g) <= p->tol_fun) ||
            (p->tol_x >= 0 && fabs(t) * vec_asum(n, d) <= p->tol_x) || fabs(f - f_old) < p->tol_x) {
            status = OPTIM_CONVERGED;
            break;
        }
    }

done:
    free(work);
    free(h.pairs);
    free(h.rho);
    free(h.alpha);
    return status;
}
