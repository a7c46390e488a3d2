/* bench_time.h — timed prompt processing and generation on one shard that
 * holds the whole model, as llama-bench times them: a prompt of n random
 * token ids in one prefill (pp), or n single-token decode steps from an
 * empty context (tg); one untimed warm-up run, then `reps` timed runs,
 * each in a fresh KV slot. */
#ifndef LP_COORD_BENCH_TIME_H
#define LP_COORD_BENCH_TIME_H

#include <stdbool.h>

#include "shard.h"

enum { BENCH_MAX_REPS = 1000 };

/* Tokens per second over repeated runs. */
typedef struct bench_stats {
    double median, min, max, mean, sd;
    int n;
} bench_stats;

/* Summary of n samples (n >= 1); sorts xs in place. */
void bench_stats_of(double *xs, int n, bench_stats *st);

/* n tokens as pp (gen false) or tg (gen true), reps times (1 ..
 * BENCH_MAX_REPS) after a warm-up. idle_ms > 0 (tg only): that long asleep
 * after each step, not counted, as a pipeline stage idles while the other
 * stages compute; what the pause costs the next step is this machine's,
 * not the pool's (a VM's idle vCPU may be given away, its caches cooled).
 * 0, or -1 with err. */
int bench_time_tokens(lp_shard *s, bool gen, int n, int reps, int idle_ms, bench_stats *st,
                      lp_err *err);

#endif
