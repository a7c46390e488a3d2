/* pool.h — a fixed set of threads that run one data-parallel task at a time.
 *
 * lp_pool_run(p, fn, ctx) calls fn(ctx, ith, nth) once for every ith in
 * [0, nth) — the caller's thread is ith 0 — and returns when all have
 * finished. Tasks split work by ith so that each output element is computed
 * by exactly one thread with the same code whatever nth is: results do not
 * depend on the thread count.
 *
 * Ownership: lp_pool_create returns a pool the caller owns; lp_pool_destroy
 * joins the threads and frees it. Not reentrant: one run at a time. */
#ifndef LP_POOL_H
#define LP_POOL_H

#include "err.h"

typedef struct lp_pool lp_pool;
typedef void (*lp_task_fn)(void *ctx, int ith, int nth);

lp_pool *lp_pool_create(int n_threads, lp_err *err); /* n_threads >= 1 */
void lp_pool_destroy(lp_pool *p);
int lp_pool_size(const lp_pool *p);
void lp_pool_run(lp_pool *p, lp_task_fn fn, void *ctx);

/* Split [0, n) into nth nearly equal parts; part ith is [*lo, *hi). */
void lp_split_range(long n, int ith, int nth, long *lo, long *hi);

#endif
