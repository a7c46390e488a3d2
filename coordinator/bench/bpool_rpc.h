/* bpool_rpc.h — llama.cpp's RPC backend on the same hosts and links, for
 * coord bench-pool's side-by-side rows: one `rpc-server` per host (its
 * namespace, its address, -t threads), and `llama-bench --rpc` over them
 * from our namespace, all layers on the servers (-ngl 99), as llama.cpp's
 * documentation runs a model across machines.
 *
 * Ownership: the caller owns the bpool_rpc; bpool_rpc_stop kills and reaps
 * the servers (they also die with us: PR_SET_PDEATHSIG). */
#ifndef LP_COORD_BPOOL_RPC_H
#define LP_COORD_BPOOL_RPC_H

#include <sys/types.h>

#include "bench_llama.h"
#include "lab.h"

typedef struct bpool_rpc {
    int n;
    pid_t pid[LP_LAB_MAX];
    char servers[LP_LAB_MAX * 40]; /* "10.77.0.11:50052,..." */
} bpool_rpc;

/* Start servers on hosts 0..n-1 of lab (NULL: n on 127.0.0.1, distinct
 * ports) and wait until each answers. 0, or -1 with err. */
int bpool_rpc_start(bpool_rpc *r, const char *exe, const lp_lab *lab, int n, int threads,
                    lp_err *err);
void bpool_rpc_stop(bpool_rpc *r);

/* pp n_prompt and tg n_gen through the servers: reps runs each. */
int bpool_rpc_bench(const bpool_rpc *r, const char *llama_bench, const char *model,
                    int n_prompt, int n_gen, int threads, int reps, bench_stats *pp,
                    bench_stats *tg, lp_err *err);

#endif
