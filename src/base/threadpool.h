/* threadpool.h — a fixed set of threads that run one data-parallel task at a time.
 *
 * lp_threadpool_run(p, fn, ctx) calls fn(ctx, ith, nth) once for every ith in
 * [0, nth) and returns when all have finished. Tasks split work by ith so
 * that each output element is computed by exactly one share with the same
 * code whatever nth is: results do not depend on the thread count.
 *
 * Share ith usually runs on pool thread ith (the caller's thread is 0),
 * but a share whose thread is late (preempted, still waking) is run by
 * whichever thread gets to it first, possibly after another share on the
 * same thread. So a task must depend on ith only, never on which thread
 * runs it, and must never wait for another share of the same run (no
 * barriers inside a task: split the work into two runs instead).
 * Per-share scratch indexed by ith is fine: a share runs exactly once.
 *
 * Threads: worker threads are pinned one per core when the pool takes
 * every core the process may use, unless env LP_NO_PIN=1 (threadpool.c says
 * why); a pool with more threads than usable CPUs never spins.
 *
 * Ownership: lp_threadpool_create returns a pool the caller owns;
 * lp_threadpool_destroy joins the threads and frees it. Not reentrant: one
 * run at a time. */
#ifndef LP_THREADPOOL_H
#define LP_THREADPOOL_H

#include "err.h"

typedef struct lp_threadpool lp_threadpool;
typedef void (*lp_task_fn)(void *ctx, int ith, int nth);

lp_threadpool *lp_threadpool_create(int n_threads, lp_err *err); /* n_threads >= 1 */
void lp_threadpool_destroy(lp_threadpool *p);
int lp_threadpool_size(const lp_threadpool *p);
void lp_threadpool_run(lp_threadpool *p, lp_task_fn fn, void *ctx);

/* Split [0, n) into nth nearly equal parts; part ith is [*lo, *hi). */
void lp_split_range(long n, int ith, int nth, long *lo, long *hi);

#endif
