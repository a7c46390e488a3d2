/* pool.h — a pool brought up: the coordinator's view of the model (GGUF
 * header, tokenizer) and the workers holding its layers, started (local
 * pools), planned and loaded. Shared by `coord run --config/--local-workers`
 * and `coord serve`.
 *
 * Ownership: coord_pool_up fills a caller-owned pool and takes ownership of cfg
 * (heap-allocated); coord_pool_down frees everything and stops local workers. */
#ifndef LP_COORD_POOL_H
#define LP_COORD_POOL_H

#include "cluster.h"
#include "config.h"
#include "gguf.h"
#include "keys.h"
#include "local_workers.h"
#include "model.h"
#include "tokenizer.h"
#include "wire.h"

/* Restarts of a local pool's workers (tend.c), per worker. */
typedef struct coord_tend {
    int restarts[LP_LOCAL_MAX];     /* in a row, without a steady minute */
    int64_t restart_at[LP_LOCAL_MAX]; /* CLOCK_MONOTONIC ms; 0: none due */
    int64_t started_ms[LP_LOCAL_MAX];
} coord_tend;

typedef struct coord_pool {
    lp_config *cfg;       /* owned */
    lp_gguf *g;           /* header and vocabulary only: no weights are read */
    lp_tokenizer *tok;    /* NULL if the model has none */
    lp_hparams hp;
    lp_wire *wire;
    lp_cluster *cl;
    lp_local_workers lw;
    int local_threads;    /* threads per local worker when cfg->threads is 0 */
    lp_keypair key;       /* ours, from [server] key (CURVE links) */
    coord_tend tend;      /* a local pool's workers kept alive */
} coord_pool;

/* Open the model, start or reach the workers, plan, stream shards where
 * needed, load. On failure coord_pool_down still must be called. */
int coord_pool_up(coord_pool *p, lp_config *cfg, int local_threads, lp_err *err);
void coord_pool_down(coord_pool *p);

/* tend.c: keep a local pool's workers alive from now on (a timer on the
 * cluster's loop: a worker that exits is reaped, logged and started
 * again). coord_pool_up calls it for local pools. 0, or -1 with err. */
int coord_pool_tend_start(coord_pool *p, lp_err *err);

/* The context a session may use (cfg->ctx, else the model's, at most 4096). */
int coord_pool_n_ctx(const coord_pool *p);

#endif
