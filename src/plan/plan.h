/* plan.h — shard planning: which contiguous layer range each worker of a
 * pool holds, computed from the GGUF header alone (no tensor data is read),
 * never over any worker's memory budget.
 *
 * What a worker holding layers [first, last) needs (all in bytes):
 *   weights  its layers' blk.N.* tensors; token_embd.weight if first == 0;
 *            output_norm + output.weight if last == n_layer (token_embd
 *            itself when the output is tied, so a tied model maps it on both
 *            ends); rope_freqs.weight on every shard (every layer uses it).
 *            Weights are mapped from the GGUF or a shard file: once touched
 *            they occupy RAM (page cache), so they count in full.
 *   kv       lp_kv_bytes of its layers for n_ctx positions x n_sessions,
 *            in the cache types the options name (q8_0 about halves it).
 *   buffers  exactly what lp_run_new allocates for a batch of n_batch
 *            tokens, a context of n_ctx and n_threads threads
 *            (lp_plan_run_bytes; with -fa lp_plan_run_bytes_attn), plus `reserve` for the process itself
 *            (code, thread stacks, ZeroMQ queues, Forward messages).
 *
 * The planner (lp_plan_make) gives every worker at least one layer, in
 * worker order, a share of a token's cost in proportion to its speed: a
 * token reads every weight once, so a layer costs its bytes, and the last
 * one also the head's (output.weight, or token_embd when tied: on a large
 * vocabulary several layers' worth, which would otherwise make the last
 * worker the pipeline's bottleneck). Each worker's layers end where the
 * cost so far is nearest its share (ties: the earlier worker takes the
 * layer). When that split overflows some worker's budget but another
 * split fits, it picks the split with the smallest bottleneck
 * max(cost_i / speed_i) among those that fit, and
 * among those the one whose boundaries lie closest to the proportional
 * ones. A worker is never left out: when one cannot hold even one layer,
 * the plan fails and says so (a pool is what the user listed; dropping a
 * machine silently would surprise more than an error that names it).
 * Deterministic: the same inputs give the same plan on every machine.
 *
 * Ownership: lp_plan_model_* fill a caller-owned lp_plan_model whose two
 * arrays they allocate; lp_plan_model_free releases them. Everything else
 * writes into caller arrays and allocates nothing that outlives the call. */
#ifndef LP_PLAN_H
#define LP_PLAN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "gguf.h"
#include "kv.h"
#include "hparams.h"
#include "quant_mix.h"

#define LP_PLAN_MAX_WORKERS 64
#define LP_PLAN_RESERVE_DEFAULT ((uint64_t)128 << 20) /* 128 MiB per worker */

/* A model as the planner sees it. */
typedef struct lp_plan_model {
    char arch[32];
    uint32_t n_layer, n_embd, n_ff, n_head, n_head_kv, head_dim, n_rot, n_vocab;
    uint32_t n_ctx_train;      /* 0 if the file does not say */
    uint64_t *layer_bytes;     /* [n_layer] sum of blk.N.* nbytes (owned) */
    uint64_t *layer_dot_row;   /* [n_layer] bytes of one activation row in the
                                  widest dot type of layer N's matmuls, i.e.
                                  lp_matmul_scratch_bytes(type, cols, 1) (owned) */
    uint64_t embed_bytes;      /* token_embd.weight */
    uint64_t output_bytes;     /* output.weight; 0 when tied */
    uint64_t output_norm_bytes;
    uint64_t rope_freqs_bytes; /* 0 when absent */
    uint64_t head_dot_row;     /* dot row of the head matmul (output or token_embd) */
    uint64_t embed_dot_row;    /* dot row of token_embd (the head when tied) */
    bool output_tied;
    uint64_t kv_bytes_token_layer; /* K+V of one position in one layer in
                                      f16: 2 x n_head_kv x head_dim x 2 */
} lp_plan_model;

/* From a parsed GGUF: hyperparameters via lp_hparams_read, byte counts
 * from the tensor index (no tensor data is touched). 0 or -1 with err. */
int lp_plan_model_from_gguf(const lp_gguf *g, lp_plan_model *m, lp_err *err);
/* The same, opening and closing the file. */
int lp_plan_model_open(const char *path, lp_plan_model *m, lp_err *err);

/* A model from a list of tensors rather than a file (synth_plan.h builds
 * one for a shape that is not here): begin with its hyperparameters, add
 * each tensor as a GGUF's index holds it, end (the tied head, and that every
 * layer had tensors). A model so built counts the same bytes as
 * lp_plan_model_from_gguf on the file with those tensors. */
int lp_plan_model_begin(lp_plan_model *m, const lp_hparams *hp, lp_err *err);
void lp_plan_model_add(lp_plan_model *m, const lp_gguf_tensor *t);
int lp_plan_model_end(lp_plan_model *m, lp_err *err);
void lp_plan_model_free(lp_plan_model *m);

/* ---- what one shard needs ----------------------------------------------
 * Saturating at UINT64_MAX, which is also the answer for a range outside
 * [0, n_layer) or options outside lp_plan_opts's ranges. */

/* Weights of shard [first, last) as described at the top. */
uint64_t lp_plan_weight_bytes(const lp_plan_model *m, int first, int last);
/* K/V of its layers: lp_kv_bytes for (last - first) layers, f16 K and V. */
uint64_t lp_plan_kv_bytes(const lp_plan_model *m, int first, int last, int n_ctx,
                          int n_sessions);
/* The same in the cache types (and layout) attn gives. */
uint64_t lp_plan_kv_bytes_attn(const lp_plan_model *m, int first, int last, int n_ctx,
                               int n_sessions, const lp_attn_opts *attn);
/* What lp_run_new allocates for that shard (model.c; keep them in step). */
uint64_t lp_plan_run_bytes(const lp_plan_model *m, int first, int last, int n_batch,
                           int n_ctx, int n_threads);
/* What lp_run_new_attn allocates with these attention options. */
uint64_t lp_plan_run_bytes_attn(const lp_plan_model *m, int first, int last, int n_batch,
                                int n_ctx, int n_threads, const lp_attn_opts *attn);

/* ---- the planner ------------------------------------------------------- */

typedef struct lp_plan_worker {
    uint64_t budget; /* bytes it may use, > 0 */
    double speed;    /* relative decode speed, > 0 (e.g. measured GFLOP/s) */
} lp_plan_worker;

typedef struct lp_plan_opts {
    int n_ctx;       /* positions per session, 1 .. 2^24 */
    int n_sessions;  /* sessions held at once (KV slots), 1 .. 4096 */
    int n_batch;     /* tokens per forward step (prefill chunk), 1 .. 65536 */
    int n_threads;   /* threads per worker, 1 .. 1024 */
    uint64_t reserve; /* per worker, for the process itself */
    lp_attn_opts attn; /* the cache types (-ctk/-ctv); zero = f16 */
} lp_plan_opts;

/* n_ctx 4096, 1 session, batch 256, 16 threads, LP_PLAN_RESERVE_DEFAULT. */
void lp_plan_opts_default(lp_plan_opts *o);

typedef struct lp_plan_shard {
    int first, last;       /* layers [first, last) */
    bool has_embed, has_head;
    uint64_t weight_bytes, kv_bytes, buffer_bytes; /* buffer = lp_run's */
    uint64_t reserve;
    uint64_t total;        /* weights + kv + buffers + reserve */
    uint64_t budget;
    bool fits;             /* total <= budget */
} lp_plan_shard;

#define LP_PLAN_NO_FIT (-2)

/* Plan n_workers (1 .. LP_PLAN_MAX_WORKERS) workers, in the order given.
 * Returns 0 with out[0 .. n_workers) filled (every shard fits); -1 with err
 * for invalid input (zero budget, speed <= 0 or not finite, more workers
 * than layers, options out of range); LP_PLAN_NO_FIT with err saying how
 * much is missing in all and on which workers ("does not fit: needs 42.5
 * GiB, the 2 workers offer 32.0 GiB (10.5 GiB short); worker 0 (layers
 * 0-39) needs 21.1 GiB of its 16.0 GiB (5.1 GiB short); ..."; a worker too
 * small for any layer is named as such), out then holding the
 * proportional split it measured (fits says which overflow) so a caller can
 * print the table. */
int lp_plan_make(const lp_plan_model *m, const lp_plan_worker *workers, int n_workers,
                 const lp_plan_opts *o, lp_plan_shard *out, lp_err *err);

/* The plan as a table, one row per worker (worker, layers, weights, KV,
 * buffers incl. reserve, total, budget, speed) and a total line, to f.
 * names[i] labels worker i (NULL: its index). The only function here that
 * writes; it writes where the caller says. */
void lp_plan_print(FILE *f, const lp_plan_model *m, const lp_plan_worker *workers,
                   const char *const *names, const lp_plan_shard *plan, int n_workers,
                   const lp_plan_opts *o);

#endif
