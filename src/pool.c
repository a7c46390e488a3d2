/* pool.c — fork/join thread pool for data-parallel kernels.
 *
 * A decode step runs hundreds of short parallel sections (one per matmul),
 * so the hand-off must be cheap: workers spin briefly on a generation
 * counter before falling back to a condition variable, and the caller
 * spins briefly on the pending count before sleeping. */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* ~50-100 us of pause: long enough to bridge back-to-back kernels, short
 * enough not to burn a core when the pool is idle between tokens. */
enum { SPIN_ITERS = 1 << 14 };

typedef struct worker_arg {
    lp_pool *pool;
    int ith;
} worker_arg;

struct lp_pool {
    int n;
    pthread_t *threads;    /* n - 1 workers; the caller is thread 0 */
    worker_arg *args;
    pthread_mutex_t mu;
    pthread_cond_t cv_start;
    pthread_cond_t cv_done;
    lp_task_fn fn;         /* published by the release store to gen */
    void *ctx;
    atomic_uint gen;       /* bumped once per run */
    atomic_int pending;    /* workers still inside the current run */
    atomic_bool quit;
};

static unsigned wait_for_new_gen(lp_pool *p, unsigned seen)
{
    unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
    for (int i = 0; i < SPIN_ITERS && g == seen; i++) {
        cpu_relax();
        g = atomic_load_explicit(&p->gen, memory_order_acquire);
    }
    if (g != seen)
        return g;
    pthread_mutex_lock(&p->mu);
    while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen)
        pthread_cond_wait(&p->cv_start, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    lp_pool *p = wa->pool;
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_new_gen(p, seen);
        if (atomic_load(&p->quit))
            return NULL;
        p->fn(p->ctx, wa->ith, p->n);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void bump_gen(lp_pool *p)
{
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv_start);
    pthread_mutex_unlock(&p->mu);
}

lp_pool *lp_pool_create(int n_threads, lp_err *err)
{
    if (n_threads < 1 || n_threads > 1024) {
        lp_err_set(err, "pool: thread count %d out of range 1..1024", n_threads);
        return NULL;
    }
    lp_pool *p = calloc(1, sizeof *p);
    if (!p) {
        lp_err_set(err, "pool: out of memory");
        return NULL;
    }
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_start, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    p->args = calloc((size_t)n_threads, sizeof *p->args);
    if (!p->threads || !p->args) {
        lp_pool_destroy(p);
        lp_err_set(err, "pool: out of memory");
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        p->args[i] = (worker_arg){p, i};
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->args[i]) != 0) {
            p->n = i; /* destroy joins only the threads that started */
            lp_pool_destroy(p);
            lp_err_set(err, "pool: could not start thread %d of %d", i, n_threads);
            return NULL;
        }
    }
    return p;
}

void lp_pool_destroy(lp_pool *p)
{
    if (!p)
        return;
    if (p->threads) {
        atomic_store(&p->quit, true);
        bump_gen(p);
        for (int i = 1; i < p->n; i++)
            pthread_join(p->threads[i], NULL);
    }
    pthread_cond_destroy(&p->cv_done);
    pthread_cond_destroy(&p->cv_start);
    pthread_mutex_destroy(&p->mu);
    free(p->args);
    free(p->threads);
    free(p);
}

int lp_pool_size(const lp_pool *p)
{
    return p->n;
}

void lp_pool_run(lp_pool *p, lp_task_fn fn, void *ctx)
{
    if (p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    bump_gen(p);
    fn(ctx, 0, p->n);
    for (int i = 0; i < SPIN_ITERS; i++) {
        if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0)
            return;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0)
        pthread_cond_wait(&p->cv_done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void lp_split_range(long n, int ith, int nth, long *lo, long *hi)
{
    long base = n / nth, extra = n % nth;
    *lo = ith * base + (ith < extra ? ith : extra);
    *hi = *lo + base + (ith < extra ? 1 : 0);
}
