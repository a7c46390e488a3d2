/* shard_info.h — what a shard file written by `coord split` says about
 * itself (its layerpool.shard.* keys, listed in shard_split.h), for the
 * code that opens one: the model binding (the vocabulary size when the
 * shard has no token_embd), the planner (which layers it holds) and the
 * worker (that the layers LoadShard asks for are the ones the file has).
 *
 * The keys come from a file, so they are checked: all present with their
 * types, first < last <= n_layer, index < count, and the roles agreeing
 * with the range (has_embed iff first == 0, has_head iff last == n_layer). */
#ifndef LP_SHARD_INFO_H
#define LP_SHARD_INFO_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "gguf.h"
#include "sha256.h"

/* The keys `coord split` adds (shard_split.h lists them). */
#define LP_SHARD_KEY_PREFIX "layerpool.shard."

typedef struct lp_shard_info {
    bool is_shard;        /* false: a whole model, the rest is zero */
    uint8_t model_id[LP_SHA256_BYTES]; /* the source model's lp_model_id */
    uint32_t first, last; /* layers [first, last) */
    uint32_t n_layer;     /* the source's layer count */
    uint32_t n_vocab;     /* rows of the source's token_embd */
    uint32_t index, count;
    bool has_embed, has_head;
} lp_shard_info;

/* 0 and *out (is_shard false when the file has no layerpool.shard.* key);
 * -1 with err when it has some but they are missing, mistyped or do not
 * agree. */
int lp_shard_info_read(const lp_gguf *g, lp_shard_info *out, lp_err *err);

#endif
