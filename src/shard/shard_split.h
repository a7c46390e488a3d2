/* shard_split.h — cut a GGUF model into shard files, one per contiguous
 * layer range (`coord split`).
 *
 * Each shard is a valid GGUF v3 holding every metadata key of the source,
 * byte for byte, plus
 *   layerpool.shard.model_id   STRING, the source's lp_model_id (64 hex)
 *   layerpool.shard.first      UINT32, first layer held
 *   layerpool.shard.last       UINT32, one past the last layer held
 *   layerpool.shard.n_layer    UINT32, the source's layer count
 *   layerpool.shard.n_vocab    UINT32, rows of the source's token_embd (a
 *                              shard may lack that tensor)
 *   layerpool.shard.index      UINT32, position in the pipeline, from 0
 *   layerpool.shard.count      UINT32, number of shards
 *   layerpool.shard.has_embed  BOOL, it holds token_embd (first == 0)
 *   layerpool.shard.has_head   BOOL, it holds the output (last == n_layer)
 * and only the tensors its range needs, with their source names, types,
 * shapes and bytes, in source order: blk.N.* for N in [first, last);
 * token_embd.weight if first == 0, or if it has the head and the output is
 * tied (no output.weight); output_norm.weight and output.weight if it has
 * the head; and every other tensor outside blk.* (rope_freqs.weight) in
 * every shard. Layers keep their global numbers, so a shard opens with
 * lp_shard_open(first, last) like the whole file. shard_info.h reads the
 * keys back, checked.
 *
 * Tensor data streams from the mapped source to disk (the process never
 * holds a shard in memory), is hashed as it is written (a shard's id is
 * the SHA-256 of the whole file), and appears under its final name only
 * when complete: it is written to a hidden temporary in the same directory
 * and renamed. If any shard fails, the shards this call already wrote are
 * removed too, so a failed split leaves nothing behind. */
#ifndef LP_SHARD_SPLIT_H
#define LP_SHARD_SPLIT_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "sha256.h"
#include "shard_info.h"

#define LP_SPLIT_MAX_SHARDS 256

typedef struct lp_layer_range {
    int first, last; /* layers [first, last) */
} lp_layer_range;

/* Parse "0-11,11-22,22-32" (half-open ranges, as the next one starts
 * where the previous ended) into out (up to max entries). Only checks
 * syntax; lp_split_check_ranges checks them against a model. */
int lp_split_parse_ranges(const char *s, lp_layer_range *out, int max, int *n, lp_err *err);

/* The ranges must be non-empty, contiguous, start at 0 and end at n_layer. */
int lp_split_check_ranges(const lp_layer_range *r, int n, uint32_t n_layer, lp_err *err);

typedef struct lp_split_progress {
    int index, count;     /* shard being written, of count */
    uint64_t done, total; /* bytes of this shard */
    double seconds;       /* since this shard began */
} lp_split_progress;

/* Called after each piece written (every few MiB) and once at each
 * shard's end (done == total). */
typedef void (*lp_split_progress_fn)(const lp_split_progress *p, void *ctx);

typedef struct lp_split_result {
    char path[4096];      /* the shard file written */
    uint8_t id[LP_SHA256_BYTES]; /* SHA-256 of the whole file: LoadShard.shard_id */
    uint64_t size;        /* bytes */
    int first, last;
    bool has_embed, has_head;
    double seconds;       /* to write it */
} lp_split_result;

/* Write <out_dir>/<stem>.shard-<i>-of-<n>.gguf for each range (i from 1,
 * as llama.cpp's gguf-split counts; the index key counts from 0; stem: the
 * model's file name less ".gguf"), creating out_dir (one level)
 * if it does not exist. out gets n results. The source may not itself be
 * a shard. 0, or -1 with err and no files left behind. */
int lp_split_model(const char *model_path, const lp_layer_range *ranges, int n,
                   const char *out_dir, lp_split_progress_fn progress, void *ctx,
                   lp_split_result *out, lp_err *err);

#endif
