/* One public call's OpenMP team size (threads.h). */
#include "core/threads.h"

#include "core/ctx.h"
#include "core/gemm.h"

#include <omp.h>

int thread_scope_enter(thread_scope *ts, const impasto_ctx *ctx) {
    ts->saved = omp_get_max_threads();
    ts->nthreads = ctx_threads(ctx);
    gemm_set_threads(ts->nthreads);
    omp_set_num_threads(ts->nthreads);
    return ts->nthreads;
}

void thread_scope_leave(const thread_scope *ts) {
    if (ts->saved > 0) omp_set_num_threads(ts->saved);
}
