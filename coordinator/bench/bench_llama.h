/* bench_llama.h — llama.cpp's own figures for the same file in the same
 * run: `$LLAMA_BENCH -m MODEL -p P -n N -t T,.. -r R -o json`, a
 * llama-bench binary the user already has, parsed into the same
 * statistics coord bench-node prints (the median of its per-run
 * samples_ts, min and max). */
#ifndef LP_COORD_BENCH_LLAMA_H
#define LP_COORD_BENCH_LLAMA_H

#include "bench_time.h"
#include "err.h"
#include "kv.h"

enum { BENCH_LLAMA_MAX_ROWS = 64 };

typedef struct bench_llama_row {
    int threads, n_prompt, n_gen;
    bench_stats st; /* st.n = 0: the file gave avg_ts/stddev_ts only */
} bench_llama_row;

typedef struct bench_llama {
    bench_llama_row rows[BENCH_LLAMA_MAX_ROWS];
    int n;
} bench_llama;

/* 0, or -1 with err (the end of llama-bench's stderr when it failed). */
/* attn: the attention options ours ran with, passed on as llama-bench's
 * -fa/-ctk/-ctv so both run the same attention. */
int bench_llama_run(const char *exe, const char *model, int n_prompt, int n_gen,
                    const int *threads, int n_threads, int reps, const lp_attn_opts *attn,
                    bench_llama *out, lp_err *err);

/* The same with extra arguments (NULL-terminated, at most 12), e.g.
 * --rpc HOST:PORT,.. for llama.cpp's RPC backend. */
int bench_llama_run_with(const char *exe, const char *model, int n_prompt, int n_gen,
                         const int *threads, int n_threads, int reps, const lp_attn_opts *attn,
                         const char *const *extra, bench_llama *out, lp_err *err);

/* The row for a test (pp: n_gen 0; tg: n_prompt 0), or NULL. */
const bench_llama_row *bench_llama_find(const bench_llama *b, int threads, int n_prompt,
                                        int n_gen);

#endif
