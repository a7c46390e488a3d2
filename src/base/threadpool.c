/* threadpool.c — fork/join thread pool for data-parallel kernels.
 *
 * A decode step runs hundreds of short parallel sections (one per matmul),
 * so the hand-off must cost well under a microsecond: a waiting thread
 * spins on a counter instead of sleeping, and whoever publishes work or
 * finishes the last share takes no lock unless someone really sleeps.
 *
 * Spinning is also what breaks when CPUs are oversubscribed (two workers
 * on one machine, or anything else running): a spinner holds the core the
 * thread with the work needs. So every wait has three stages: a few
 * microseconds of plain spinning (the gaps inside a step), then spinning
 * that yields the CPU between looks (any runnable thread on this CPU goes
 * first), then sleep on a condition variable. A pool with more threads
 * than usable CPUs never spins.
 *
 * And a thread that is not running (preempted, or still waking up) must
 * not hold up the others: share ith is claimed, not owned. Thread ith
 * claims its own share first (so shares stay on the same cores from run
 * to run, with their cache lines), then every thread, the caller
 * included, claims and runs any share nobody has started. Each share runs
 * exactly once, and a task's result depends on ith alone, so who runs it
 * does not change the result (threadpool.h).
 *
 * Worker threads are pinned, one per physical core, when the pool claims
 * every core or CPU the process may use (the default thread count) and
 * LP_NO_PIN is not set. A smaller pool shares the machine with threads it
 * cannot see (another worker, say), and fixed pins could stack them all
 * on the same cores, so it is left to the scheduler. The caller's thread
 * (ith 0) is never pinned: threads it creates later would inherit it. */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sysinfo.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "clock.h"
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

enum {
    PURE_SPIN_NS = 5000,   /* gaps inside a decode step are shorter */
    SPIN_NS = 200000,      /* then sleep: the next step is far away */
    LOOKS_PER_CLOCK = 32,  /* ~1 us of pause between clock reads */
};

typedef struct worker_arg {
    lp_threadpool *tp;
    int ith;
    int cpu; /* to pin to, or -1 */
} worker_arg;

/* Share ith's claim: the gen of the last run that claimed it. Every share
 * of a run is claimed before the next run starts, so at the start of run g
 * every slot holds g - 1 and the claim is a CAS from g - 1 to g; a thread
 * that slept through runs (and holds a stale g) can claim nothing. */
typedef struct share_slot {
    alignas(64) atomic_uint claimed;
} share_slot;

struct lp_threadpool {
    int n;
    bool spin;             /* false when threads outnumber usable CPUs */
    pthread_t *threads;    /* n - 1 workers; the caller is thread 0 */
    worker_arg *args;
    share_slot *slots;     /* n; slot 0 unused: share 0 is the caller's */
    pthread_mutex_t mu;
    pthread_cond_t cv_start;
    pthread_cond_t cv_done;
    lp_task_fn fn;         /* published by the seq_cst increment of gen */
    void *ctx;
    /* Written by the caller, read by every worker: a line of their own. */
    alignas(64) atomic_uint gen; /* bumped once per run */
    atomic_int sleepers;         /* workers asleep (or going to sleep) on cv_start */
    atomic_bool quit;
    /* Written by every worker at the end of a run. */
    alignas(64) atomic_int pending; /* shares 1..n-1 not yet finished */
    atomic_bool caller_asleep;      /* the caller sleeps (or will) on cv_done */
};

/* What a thread waits for: a new run (workers) or the end of one (caller). */
static inline bool wait_over(lp_threadpool *p, bool for_gen, unsigned seen)
{
    return for_gen ? atomic_load_explicit(&p->gen, memory_order_acquire) != seen
                   : atomic_load_explicit(&p->pending, memory_order_acquire) == 0;
}

/* The spinning stages of a wait; true if it ended in them. */
static bool spin_wait(lp_threadpool *p, bool for_gen, unsigned seen)
{
    if (!p->spin)
        return wait_over(p, for_gen, seen);
    const int64_t t0 = lp_now_ns();
    for (int64_t el = 0; el < SPIN_NS; el = lp_now_ns() - t0) {
        for (int i = 0; i < LOOKS_PER_CLOCK; i++) {
            if (wait_over(p, for_gen, seen))
                return true;
            cpu_relax();
        }
        if (el > PURE_SPIN_NS)
            sched_yield();
    }
    return wait_over(p, for_gen, seen);
}

/* sleepers and gen are seq_cst on both sides (here and in publish): either
 * the publisher sees this thread counted and wakes it under the mutex, or
 * this thread sees the new gen and does not sleep. */
static void wait_for_new_gen(lp_threadpool *p, unsigned seen)
{
    if (spin_wait(p, true, seen))
        return;
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->sleepers, 1);
    while (atomic_load(&p->gen) == seen)
        pthread_cond_wait(&p->cv_start, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
}

static void publish(lp_threadpool *p)
{
    atomic_fetch_add(&p->gen, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv_start);
        pthread_mutex_unlock(&p->mu);
    }
}

static void pin_self(int cpu)
{
    if (cpu < 0 || cpu >= CPU_SETSIZE)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    /* A container or seccomp policy may refuse: run unpinned then. */
    (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static bool claim(lp_threadpool *p, int k, unsigned g)
{
    unsigned prev = g - 1;
    return atomic_compare_exchange_strong(&p->slots[k].claimed, &prev, g);
}

/* Same pairing as sleepers/gen, with caller_asleep/pending. */
static void finish_share(lp_threadpool *p)
{
    if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_asleep)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_signal(&p->cv_done);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Run the shares of run g nobody has started, looking from first on. A
 * plain load first: a claimed slot costs no write. */
static void help(lp_threadpool *p, unsigned g, int first)
{
    for (int j = 0; j < p->n - 1; j++) {
        const int k = 1 + (first - 1 + j) % (p->n - 1);
        if (atomic_load_explicit(&p->slots[k].claimed, memory_order_relaxed) == g - 1 &&
            claim(p, k, g)) {
            p->fn(p->ctx, k, p->n);
            finish_share(p);
        }
    }
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    lp_threadpool *p = wa->tp;
    unsigned seen = 0;
    pin_self(wa->cpu);
    for (;;) {
        wait_for_new_gen(p, seen);
        seen = atomic_load(&p->gen);
        if (atomic_load(&p->quit))
            return NULL;
        /* fn and ctx are this run's while any of its shares is unclaimed:
         * the caller publishes the next run only after all finished. */
        if (claim(p, wa->ith, seen)) {
            p->fn(p->ctx, wa->ith, p->n);
            finish_share(p);
        }
        help(p, seen, wa->ith + 1);
    }
}

static bool pin_wanted(int n, int usable)
{
    const char *off = getenv("LP_NO_PIN");
    if (off && *off && strcmp(off, "0") != 0)
        return false;
    return n > 1 && n <= usable && (n == usable || n == lp_cpu_physical_cores());
}

/* Threads, their CPUs and the spin policy, for a pool of p->n. */
static int start_threads(lp_threadpool *p, lp_err *err)
{
    int cpus[CPU_SETSIZE], usable = lp_cpu_usable();
    int n_cpus = lp_cpu_order(cpus, CPU_SETSIZE);
    bool pin = pin_wanted(p->n, usable < n_cpus ? usable : n_cpus);
    p->spin = p->n <= usable;
    const int n = p->n;
    for (int i = 1; i < n; i++) {
        p->args[i] = (worker_arg){p, i, pin ? cpus[i] : -1};
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->args[i]) != 0) {
            p->n = i; /* destroy joins only the threads that started */
            return lp_err_set(err, "thread pool: could not start thread %d of %d", i, n);
        }
    }
    return 0;
}

lp_threadpool *lp_threadpool_create(int n_threads, lp_err *err)
{
    if (n_threads < 1 || n_threads > 1024) {
        lp_err_set(err, "thread pool: thread count %d out of range 1..1024", n_threads);
        return NULL;
    }
    /* aligned_alloc: the counters' alignas(64) must hold on the heap too. */
    const size_t size = (sizeof(lp_threadpool) + 63) & ~(size_t)63;
    lp_threadpool *p = aligned_alloc(64, size);
    if (!p) {
        lp_err_set(err, "thread pool: out of memory");
        return NULL;
    }
    memset(p, 0, size);
    p->n = n_threads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->quit, false);
    atomic_init(&p->pending, 0);
    atomic_init(&p->caller_asleep, false);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_start, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    p->args = calloc((size_t)n_threads, sizeof *p->args);
    p->slots = aligned_alloc(64, (size_t)n_threads * sizeof *p->slots);
    for (int i = 0; p->slots && i < n_threads; i++)
        atomic_init(&p->slots[i].claimed, 0);
    if (!p->threads || !p->args || !p->slots) {
        lp_threadpool_destroy(p);
        lp_err_set(err, "thread pool: out of memory");
        return NULL;
    }
    if (start_threads(p, err) != 0) {
        lp_threadpool_destroy(p);
        return NULL;
    }
    return p;
}

void lp_threadpool_destroy(lp_threadpool *p)
{
    if (!p)
        return;
    if (p->threads) {
        atomic_store(&p->quit, true);
        publish(p);
        for (int i = 1; i < p->n; i++)
            pthread_join(p->threads[i], NULL);
    }
    pthread_cond_destroy(&p->cv_done);
    pthread_cond_destroy(&p->cv_start);
    pthread_mutex_destroy(&p->mu);
    free(p->slots);
    free(p->args);
    free(p->threads);
    free(p);
}

int lp_threadpool_size(const lp_threadpool *p)
{
    return p->n;
}

void lp_threadpool_run(lp_threadpool *p, lp_task_fn fn, void *ctx)
{
    if (p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    publish(p);
    fn(ctx, 0, p->n);
    help(p, atomic_load_explicit(&p->gen, memory_order_relaxed), 1);
    if (spin_wait(p, false, 0))
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->caller_asleep, true);
    while (atomic_load(&p->pending) != 0)
        pthread_cond_wait(&p->cv_done, &p->mu);
    atomic_store(&p->caller_asleep, false);
    pthread_mutex_unlock(&p->mu);
}

void lp_split_range(long n, int ith, int nth, long *lo, long *hi)
{
    long base = n / nth, extra = n % nth;
    *lo = ith * base + (ith < extra ? ith : extra);
    *hi = *lo + base + (ith < extra ? 1 : 0);
}
