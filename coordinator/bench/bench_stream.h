/* bench_stream.h — the memory bandwidth this machine sustains, measured
 * as STREAM's triad does: a[i] = b[i] + s * c[i] over three arrays of
 * doubles much larger than the last-level cache, split across a thread
 * pool, counting 24 bytes per element (two reads, one write; like STREAM,
 * not the write-allocate read). Decoding reads each weight once a token,
 * so this is the ceiling its tokens/s x bytes/token is held against. */
#ifndef LP_COORD_BENCH_STREAM_H
#define LP_COORD_BENCH_STREAM_H

#include <stdint.h>

#include "err.h"

typedef struct bench_triad {
    double best_gbs;      /* 1e9 bytes/s, the best run (STREAM reports the best) */
    double median_gbs;
    uint64_t array_bytes; /* each of the three arrays */
    int threads, reps;
} bench_triad;

/* reps timed runs (>= 1) after a first-touch pass on n_threads threads
 * (the same pool, pinning and all, that the model runs on). array_bytes 0
 * picks the size: at least 4x the L3 (STREAM's rule) and 256 MiB. */
int bench_triad_run(int n_threads, int reps, uint64_t array_bytes, bench_triad *out,
                    lp_err *err);

#endif
