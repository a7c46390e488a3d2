/* local.h — one conversation on a local whole-model shard: the shard,
 * tokenizer, sampler and output stream that `coord run` (one prompt) and
 * `coord run --chat` (many turns) share. */
#ifndef LP_COORD_RUN_LOCAL_H
#define LP_COORD_RUN_LOCAL_H

#include <stddef.h>

#include "output.h"
#include "run_opts.h"
#include "sampler.h"
#include "shard.h"
#include "stopstr.h"
#include "tokenizer.h"

typedef struct run_local {
    lp_shard *shard;
    lp_tokenizer *tok;      /* NULL if the model has none (ids only) */
    lp_sampler *sampler;
    out_stream out;         /* ids or streamed text */
    int slot;               /* the session's KV slot */
    const run_opts *opts;   /* borrowed: the options it was opened with */
    lp_token *past;         /* tokens now in the KV cache, owned */
    size_t n_past, cap_past;
    long n_prompt_eval;     /* counters for the speed report */
    double t_prompt, t_gen;
    long n_gen;
} run_local;

int run_local_open(run_local *s, const run_opts *o, lp_err *err);
void run_local_close(run_local *s);

/* Make the KV cache hold exactly `toks`: keep the longest common prefix
 * with what it holds, drop the rest, prefill the remainder. *logits: those
 * of the last token. n must be >= 1. */
int run_local_set_context(run_local *s, const lp_token *toks, size_t n, const float **logits,
                        lp_err *err);

/* Sample from *logits onwards, feeding each token back, for as long as the
 * reply's generation (out_gen: -n, --stop, end tokens, the context) goes
 * on. Each token is printed (ids or streamed text). If reply is non-NULL
 * the generated ids are appended to it (a caller-owned growable array). */
typedef struct run_tokens {
    lp_token *ids;
    size_t n, cap;
} run_tokens;

int run_local_generate(run_local *s, const run_opts *o, const float *logits, run_tokens *reply,
                     lp_err *err);

void run_local_report_speed(const run_local *s);

int run_tokens_push(run_tokens *l, lp_token t);

#endif
