/* generate.h — driving a whole-model shard through a prompt and a
 * continuation, one session at a time: chunked prefill, single-token
 * decode, argmax. (Sampling beyond greedy lives in sampler.h.) */
#ifndef LP_GENERATE_H
#define LP_GENERATE_H

#include <stdint.h>

#include "shard.h"

/* Run n prompt tokens through the shard's session slot in chunks of the
 * shard's n_batch. *logits: the last token's logits (owned by the shard). */
int lp_prefill(lp_shard *s, int slot, const int32_t *tokens, int n,
               const float **logits, lp_err *err);

/* Feed one token at the slot's next position. */
int lp_decode_one(lp_shard *s, int slot, int32_t token, const float **logits,
                  lp_err *err);

/* Index of the largest value; the lowest index on ties (as llama.cpp). */
int32_t lp_argmax(const float *x, int n);

#endif
