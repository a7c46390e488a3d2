/* test_pool.c — the thread pool and the CPU topology it is built on:
 *   - every share of every run runs exactly once, for pools of 1..4
 *     threads and for 4 threads confined to one CPU (the oversubscribed,
 *     non-spinning path, where late threads' shares are run by others);
 *   - a reduction split by lp_split_range gives the same bits whatever
 *     the thread count;
 *   - lp_split_range covers [0, n) in order without overlap;
 *   - the topology calls respect the affinity mask: the CPU order holds
 *     each allowed CPU once, its first lp_cpu_physical_cores() entries sit
 *     on distinct cores (per /sys), and confining the process to one CPU
 *     makes that the only CPU and core. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "threadpool.h"
#include "sysinfo.h"

enum { MAX_SHARES = 8, RUNS = 20000 };

typedef struct count_task {
    atomic_int runs[MAX_SHARES];
    pthread_t caller;
    atomic_int by_other_thread; /* shares != 0 the caller ran itself */
    int want_nth;
    atomic_int bad_nth;
} count_task;

static void count_share(void *ctx, int ith, int nth)
{
    count_task *t = ctx;
    if (nth != t->want_nth || ith < 0 || ith >= nth)
        atomic_fetch_add(&t->bad_nth, 1);
    else
        atomic_fetch_add(&t->runs[ith], 1);
    if (ith != 0 && pthread_equal(pthread_self(), t->caller))
        atomic_fetch_add(&t->by_other_thread, 1);
}

/* RUNS runs of an n-thread pool; every share must have run RUNS times. */
static void check_exactly_once(int n, const char *what)
{
    lp_err err = {0};
    lp_threadpool *p = lp_threadpool_create(n, &err);
    assert_non_null(p);
    assert_int_equal(lp_threadpool_size(p), n);
    count_task *t = calloc(1, sizeof *t);
    t->caller = pthread_self();
    t->want_nth = n;
    for (int r = 0; r < RUNS; r++) {
        lp_threadpool_run(p, count_share, t);
        /* After lp_threadpool_run returns, this run's shares are all done. */
        for (int i = 0; i < n; i++)
            if (atomic_load(&t->runs[i]) != r + 1)
                fail_msg("%s: run %d: share %d ran %d times in all", what, r, i,
                         atomic_load(&t->runs[i]));
    }
    assert_int_equal(atomic_load(&t->bad_nth), 0);
    print_message("[ pool ] %s, %d threads: %d runs, every share once; the caller ran %d "
                  "of the others' shares\n", what, n, RUNS, atomic_load(&t->by_other_thread));
    free(t);
    lp_threadpool_destroy(p);
}

static void test_every_share_once(void **state)
{
    (void)state;
    for (int n = 1; n <= 4; n++)
        check_exactly_once(n, "as the machine allows");
}

/* One CPU for four threads: they take turns, the pool must not spin, and a
 * share whose thread is not running gets run by another. */
static void test_oversubscribed(void **state)
{
    (void)state;
    cpu_set_t old, one;
    assert_int_equal(sched_getaffinity(0, sizeof old, &old), 0);
    int cpus[CPU_SETSIZE];
    assert_true(lp_cpu_order(cpus, CPU_SETSIZE) >= 1);
    CPU_ZERO(&one);
    CPU_SET(cpus[0], &one);
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    check_exactly_once(4, "on one CPU");
    assert_int_equal(sched_setaffinity(0, sizeof old, &old), 0);
}

typedef struct acc_task {
    const float *x;
    float *y;
    long n;
} acc_task;

/* y += x over this share's rows: a share skipped or run twice would show. */
static void acc_share(void *ctx, int ith, int nth)
{
    acc_task *t = ctx;
    long lo, hi;
    lp_split_range(t->n, ith, nth, &lo, &hi);
    for (long i = lo; i < hi; i++)
        t->y[i] += t->x[i];
}

static void test_same_bits_any_thread_count(void **state)
{
    (void)state;
    enum { N = 4099, REPS = 300 };
    float *x = malloc(N * sizeof *x), *serial = calloc(N, sizeof(float));
    for (int i = 0; i < N; i++)
        x[i] = (float)((i * 7919) % 1001 - 500) / 37.0f;
    for (int r = 0; r < REPS; r++)
        for (int i = 0; i < N; i++)
            serial[i] += x[i];
    for (int n = 1; n <= 5; n++) {
        lp_err err = {0};
        lp_threadpool *p = lp_threadpool_create(n, &err);
        assert_non_null(p);
        acc_task t = {x, calloc(N, sizeof(float)), N};
        for (int r = 0; r < REPS; r++)
            lp_threadpool_run(p, acc_share, &t);
        assert_memory_equal(t.y, serial, N * sizeof(float));
        free(t.y);
        lp_threadpool_destroy(p);
    }
    free(serial);
    free(x);
}

static void test_split_range(void **state)
{
    (void)state;
    const long ns[] = {0, 1, 2, 7, 64, 1000, 4097};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
        for (int nth = 1; nth <= 9; nth++) {
            long next = 0;
            for (int ith = 0; ith < nth; ith++) {
                long lo, hi;
                lp_split_range(ns[k], ith, nth, &lo, &hi);
                assert_int_equal(lo, next);
                assert_true(hi >= lo && hi - lo <= ns[k] / nth + 1);
                next = hi;
            }
            assert_int_equal(next, ns[k]);
        }
}

/* The lowest CPU of cpu's core per /sys, or cpu itself without /sys. */
static int core_of(int cpu)
{
    char path[128];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_cpus_list", cpu);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", cpu);
        f = fopen(path, "r");
    }
    int first = cpu;
    if (f) {
        if (fscanf(f, "%d", &first) != 1)
            first = cpu;
        fclose(f);
    }
    return first;
}

static void test_topology(void **state)
{
    (void)state;
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    int cpus[CPU_SETSIZE], n = lp_cpu_order(cpus, CPU_SETSIZE);
    int phys = lp_cpu_physical_cores(), usable = lp_cpu_usable();
    assert_int_equal(n, CPU_COUNT(&set));
    assert_true(phys >= 1 && phys <= n && usable >= phys && usable <= n);
    cpu_set_t seen;
    CPU_ZERO(&seen);
    for (int i = 0; i < n; i++) {
        assert_true(CPU_ISSET(cpus[i], &set));
        assert_false(CPU_ISSET(cpus[i], &seen));
        CPU_SET(cpus[i], &seen);
    }
    for (int i = 0; i < phys; i++)
        for (int j = 0; j < i; j++)
            assert_int_not_equal(core_of(cpus[i]), core_of(cpus[j]));
    lp_sysinfo si;
    assert_int_equal(lp_sysinfo_read(&si, NULL), 0);
    assert_int_equal(si.n_physical, phys);
    print_message("[ pool ] %d CPUs allowed, %d physical cores, %d usable; L3 %llu KiB\n", n,
                  phys, usable, (unsigned long long)(lp_cpu_cache_bytes(3) >> 10));

    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[n - 1], &one);
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    int only[CPU_SETSIZE];
    assert_int_equal(lp_cpu_order(only, CPU_SETSIZE), 1);
    assert_int_equal(only[0], cpus[n - 1]);
    assert_int_equal(lp_cpu_physical_cores(), 1);
    assert_int_equal(lp_cpu_usable(), 1);
    assert_int_equal(sched_setaffinity(0, sizeof set, &set), 0);
}

static void test_proc_mem(void **state)
{
    (void)state;
    lp_proc_mem before, after;
    assert_int_equal(lp_proc_mem_read(0, &before), 0);
    assert_true(before.rss > 0 && before.rss >= before.rss_anon);
    /* 64 MiB of heap, touched: RSS and its anon part grow by about that. */
    const size_t big = (size_t)64 << 20;
    unsigned char *b = malloc(big);
    assert_non_null(b);
    memset(b, 1, big);
    assert_int_equal(lp_proc_mem_read(0, &after), 0);
    assert_true(after.rss_anon >= before.rss_anon + big / 2);
    assert_true(after.rss >= before.rss + big / 2);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_share_once),
        cmocka_unit_test(test_oversubscribed),
        cmocka_unit_test(test_same_bits_any_thread_count),
        cmocka_unit_test(test_split_range),
        cmocka_unit_test(test_topology),
        cmocka_unit_test(test_proc_mem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
