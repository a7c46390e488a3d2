/* bench_stream.c — a STREAM-like triad on the lp_threadpool. */
#include "bench_stream.h"

#include <stdbool.h>
#include <stdlib.h>

#include "bench_time.h"
#include "clock.h"
#include "threadpool.h"
#include "sysinfo.h"

enum { MIN_ARRAY_MIB = 256, MAX_REPS = 100 };

typedef struct triad_task {
    double *a, *b, *c;
    long n;
    double scalar;
    bool init;
} triad_task;

/* Each thread touches only its own part: the first touch places the pages
 * on its NUMA node, and the timed runs reuse the same split. */
static void triad_part(void *ctx, int ith, int nth)
{
    triad_task *t = ctx;
    long lo, hi;
    lp_split_range(t->n, ith, nth, &lo, &hi);
    double *restrict a = t->a;
    const double *restrict b = t->b, *restrict c = t->c;
    if (t->init) {
        for (long i = lo; i < hi; i++)
            t->a[i] = 1.0, t->b[i] = 2.0, t->c[i] = 0.5;
        return;
    }
    const double s = t->scalar;
    for (long i = lo; i < hi; i++)
        a[i] = b[i] + s * c[i];
}

/* Each array: at least 4x the L3 (STREAM's rule) and 256 MiB, as L3
 * sizes in /sys are per cache instance, not per machine; at most a
 * quarter of the memory available. */
static uint64_t array_bytes(void)
{
    uint64_t want = 4 * lp_cpu_cache_bytes(3), min = (uint64_t)MIN_ARRAY_MIB << 20;
    if (want < min)
        want = min;
    lp_sysinfo si;
    if (lp_sysinfo_read(&si, NULL) == 0 && si.ram_available / 4 < want)
        want = si.ram_available / 4;
    return want & ~(uint64_t)4095;
}

static int run_reps(lp_threadpool *tp, triad_task *t, int reps, bench_triad *out, lp_err *err)
{
    double gbs[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        double t0 = lp_now_s();
        lp_threadpool_run(tp, triad_part, t);
        double secs = lp_now_s() - t0;
        gbs[r] = 3.0 * sizeof(double) * (double)t->n / (secs > 0 ? secs : 1e-9) / 1e9;
    }
    /* a = b + s*c with b = 2, c = 0.5: every element must be 2 + 0.5 s. */
    const double want = 2.0 + t->scalar * 0.5;
    if (t->a[0] != want || t->a[t->n / 2] != want || t->a[t->n - 1] != want)
        return lp_err_set(err, "triad: wrong result");
    bench_stats st;
    bench_stats_of(gbs, reps, &st);
    out->best_gbs = st.max;
    out->median_gbs = st.median;
    return 0;
}

int bench_triad_run(int n_threads, int reps, uint64_t want_bytes, bench_triad *out,
                    lp_err *err)
{
    if (reps < 1 || reps > MAX_REPS)
        return lp_err_set(err, "triad: %d runs is out of range 1..%d", reps, MAX_REPS);
    const uint64_t bytes = want_bytes ? (want_bytes + 4095) & ~(uint64_t)4095 : array_bytes();
    triad_task t = {.n = (long)(bytes / sizeof(double)), .scalar = 3.0, .init = true};
    t.a = aligned_alloc(4096, bytes);
    t.b = aligned_alloc(4096, bytes);
    t.c = aligned_alloc(4096, bytes);
    lp_threadpool *tp = NULL;
    int rc = -1;
    if (!t.a || !t.b || !t.c)
        lp_err_set(err, "triad: cannot allocate 3 x %llu bytes", (unsigned long long)bytes);
    else if ((tp = lp_threadpool_create(n_threads, err))) {
        lp_threadpool_run(tp, triad_part, &t);
        t.init = false;
        *out = (bench_triad){.array_bytes = bytes, .threads = n_threads, .reps = reps};
        rc = run_reps(tp, &t, reps, out, err);
    }
    lp_threadpool_destroy(tp);
    free(t.c);
    free(t.b);
    free(t.a);
    return rc;
}
