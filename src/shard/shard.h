/* shard.h — everything one process needs to run a layer range: the mapped
 * GGUF, the bound weights, the kernels, the thread pool, the KV cache and
 * the run state. A worker holds one; `coord run` holds one covering every
 * layer. The pieces stay accessible for callers that need them.
 *
 * Ownership: lp_shard_open returns a shard the caller owns; lp_shard_close
 * frees everything it holds. */
#ifndef LP_SHARD_H
#define LP_SHARD_H

#include "gguf.h"
#include "kernels.h"
#include "kv.h"
#include "model.h"
#include "threadpool.h"

typedef struct lp_shard_opts {
    int first, last;  /* layer range; last = -1 for all */
    int n_threads;    /* >= 1 */
    int n_ctx;        /* positions per session; 0 = min(train ctx, 4096) */
    int n_batch;      /* tokens per forward step (prefill chunk) */
    int n_slots;      /* sessions at once */
    int isa;          /* lp_isa, or -1 for the best the CPU has */
    lp_attn_opts attn; /* -fa, -ctk, -ctv (kv.h); zero = llama.cpp's defaults */
    bool prefault;    /* make the weights resident at open (lp_model_prefault) */
} lp_shard_opts;

void lp_shard_opts_default(lp_shard_opts *o);

typedef struct lp_shard {
    lp_gguf *gguf;
    lp_model *model;
    lp_kernels kernels;
    lp_threadpool *tp;
    lp_kv *kv;
    lp_run *run;
    lp_shard_opts opts; /* with defaults resolved */
} lp_shard;

lp_shard *lp_shard_open(const char *path, const lp_shard_opts *o, lp_err *err);
void lp_shard_close(lp_shard *s);

#endif
