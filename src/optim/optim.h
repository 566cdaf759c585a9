/* Optimisers behind one callback interface (after liblbfgs): the caller supplies an evaluate
 * function (f and its gradient at x) and an optional progress function that can cancel.
 * Variables are float32; sums inside are double. */
#ifndef IMPASTO_OPTIM_H
#define IMPASTO_OPTIM_H

#include <stddef.h>

/* Returns f(x) in *f and the gradient in g (n floats). Non-zero return aborts the optimiser,
 * which then returns that value. */
typedef int (*optim_evaluate_fn)(void *user, const float *x, float *g, size_t n, double *f);
/* Called after each iteration with the new x and f. Non-zero return stops the optimiser
 * (which returns OPTIM_CANCELLED). */
typedef int (*optim_progress_fn)(void *user, const float *x, size_t n, double f, int iteration,
                                 int evaluations);

enum {
    OPTIM_MAX_ITER = 0,      /* ran all iterations */
    OPTIM_CONVERGED = 1,     /* a tolerance was met */
    OPTIM_CANCELLED = -1,    /* progress returned non-zero */
    OPTIM_NOMEM = -2         /* history could not be allocated */
    /* any other value: what evaluate returned */
};

/* L-BFGS as torch/optim's lbfgs.lua, which neural-style uses: first step min(1, 1/|g|_1) * lr,
 * then lr; stops when |g|_1 <= tol_fun, |step|_1 <= tol_x, |f - f_prev| < tol_x, max_iter or
 * max_eval. line_search 1 = strong Wolfe (cubic interpolation) instead of the fixed step. */
typedef struct lbfgs_params {
    int max_iter;          /* 1000 */
    int max_eval;          /* 0 = max_iter * 1.25 */
    int history;           /* 100 */
    double learning_rate;  /* 1 */
    double tol_fun;        /* 1e-5 */
    double tol_x;          /* 1e-9 */
    int line_search;       /* 0 */
} lbfgs_params;

void lbfgs_params_init(lbfgs_params *p);
/* Minimises from x (updated in place); *fx receives the last f. History needs
 * 2 * history * n floats, allocated once at the start. */
int lbfgs_minimize(size_t n, float *x, const lbfgs_params *p, optim_evaluate_fn evaluate,
                   optim_progress_fn progress, void *user, double *fx);

/* Adam (Kingma & Ba 2015, Algorithm 1), as torch/optim's adam.lua. */
typedef struct adam_params {
    int max_iter;          /* 1000 */
    double learning_rate;  /* 1e-3 */
    double beta1, beta2;   /* 0.9, 0.999 */
    double eps;            /* 1e-8 */
    int torch_eps;         /* 0: adam.lua's eps; 1: torch.optim.Adam's (adam.c's top comment) */
} adam_params;

void adam_params_init(adam_params *p);
int adam_minimize(size_t n, float *x, const adam_params *p, optim_evaluate_fn evaluate,
                  optim_progress_fn progress, void *user, double *fx);

/* A stepping interface for training loops that evaluate outside the optimiser. */
typedef struct adam_state adam_state;
adam_state *adam_create(size_t n, const adam_params *p);  /* NULL when out of memory */
void adam_free(adam_state *s);
/* One update of x (n floats) with gradient g. */
void adam_step(adam_state *s, float *x, const float *g);
/* The learning rate of the following steps (schedules). */
void adam_set_learning_rate(adam_state *s, double lr);
/* The state, for checkpoints: the steps taken (t of Algorithm 1) and the moments m, v (n floats
 * each, writable so a checkpoint can be restored into them). */
long long adam_steps(const adam_state *s);
void adam_set_steps(adam_state *s, long long t);
float *adam_first_moment(adam_state *s);
float *adam_second_moment(adam_state *s);

#endif
