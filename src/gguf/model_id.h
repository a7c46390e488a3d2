/* model_id.h — the identity of a model file, so that shards of different
 * files can never be mixed in one pipeline.
 *
 * The id is SHA-256 over the GGUF's header, metadata and tensor infos
 * (bytes [0, data_offset)), so it is cheap to compute for a 40 GB file and
 * changes whenever the architecture, tokenizer, tensor names, types or
 * shapes change. A shard file written by `coord split` carries the id of
 * the model it was cut from (key layerpool.shard.model_id) and reports
 * that, not its own. */
#ifndef LP_MODEL_ID_H
#define LP_MODEL_ID_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "gguf.h"
#include "sha256.h"

#define LP_MODEL_ID_KEY "layerpool.shard.model_id"

/* The source model's id: layerpool.shard.model_id if the file is a shard,
 * else the hash of its own header. */
int lp_model_id(const lp_gguf *g, uint8_t out[LP_SHA256_BYTES], lp_err *err);

/* Lower-case hex of an id (65 bytes with the NUL). */
void lp_model_id_hex(const uint8_t id[LP_SHA256_BYTES], char out[2 * LP_SHA256_BYTES + 1]);

/* Parse exactly 64 hex digits (len of them, no NUL needed) into an id;
 * 0 or -1. */
int lp_model_id_parse(const char *hex, size_t len, uint8_t out[LP_SHA256_BYTES]);

#endif
