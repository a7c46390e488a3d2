/* bpool_point.h — one point of `coord bench-pool`: a pool already up
 * (coord_pool), measured as users would feel it.
 *
 *   decode: S sessions at once, each a short prompt then n_gen tokens
 *           (greedy, no end-of-text stop); per-session tok/s from its
 *           first token to its last, the sum over sessions, and the time
 *           to first token;
 *   prompt: one session of n_prompt tokens; prompt tok/s is n_prompt over
 *           the time to its first token.
 * Prompts are token ids drawn from a fixed seed, as llama-bench's are.
 * The workers' counters before and after give the bytes each hop moved
 * per decoded token, the total bytes, the steps run as batches and the
 * share of a decode step spent computing (the rest: wire, serializing
 * and queues). */
#ifndef LP_COORD_BPOOL_POINT_H
#define LP_COORD_BPOOL_POINT_H

#include "bench_time.h"
#include "pool.h"

typedef struct bpool_point_opts {
    int sessions, n_prompt, n_gen, reps;
} bpool_point_opts;

typedef struct bpool_result {
    bench_stats tg_session; /* decode tok/s of one session (median over all) */
    bench_stats tg_total;   /* decode tok/s of all sessions together, while all
                               of them are in flight (the prompts go one after
                               another, so the sessions start apart) */
    bench_stats pp;         /* prompt tok/s (n_prompt > 0) */
    bench_stats ttft_ms;    /* time to first token of the decode runs */
    double hop_bytes;       /* bytes per token per hop between workers
                               (0 with one worker: its hop is the result) */
    double result_bytes;    /* bytes of the last hop's answer per token */
    double total_mb;        /* MB the workers sent during the point */
    double compute_share;   /* of a decode step, the workers' compute */
    double stage_ms[LP_CLUSTER_MAX_WORKERS]; /* each worker's ms per decode step */
    int n_workers;
    double batched;         /* share of decode steps that ran in a batch */
    int prompt_chunk;       /* tokens per step of the last timed prompt */
} bpool_result;

/* 0, or -1 with err (the pool failed). */
int bpool_point_run(coord_pool *p, const bpool_point_opts *o, bpool_result *r, lp_err *err);

#endif
