/* The OpenMP team size of one public call, as a value: every method that runs parallel work
 * enters a thread_scope with its context at the start and leaves it on every return, so the
 * context's thread count holds inside the call and the caller's own OpenMP setting (the calling
 * thread's nthreads-var, which omp_set_num_threads changes for the rest of the process) is the
 * same afterwards as before. Two contexts with different counts used one after the other each
 * get their own. */
#ifndef IMPASTO_CORE_THREADS_H
#define IMPASTO_CORE_THREADS_H

#include "impasto.h"

typedef struct thread_scope {
    int saved;     /* omp_get_max_threads() of the calling thread before the call */
    int nthreads;  /* the context's count, in force until thread_scope_leave */
} thread_scope;

/* Sets the context's thread count for OpenMP and the GEMM (gemm_set_threads) and remembers the
 * previous one; returns the count now in force. */
int thread_scope_enter(thread_scope *ts, const impasto_ctx *ctx);
/* Puts the previous count back. */
void thread_scope_leave(const thread_scope *ts);

#endif
