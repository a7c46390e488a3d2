/* shard_cache.h — a worker's disk cache of shard files, filled by chunks
 * the coordinator streams (ShardChunk messages), resumable and verified.
 *
 * A shard's id is the SHA-256 of the whole shard file (as `coord split`
 * wrote it). While it arrives it lives in <dir>/<hex id>.part; a chunk is
 * accepted only at the current end of that file (offset == bytes held),
 * with a matching chunk hash; when the last byte arrives the whole file is
 * hashed and, if it equals the id, renamed to <dir>/<hex id>.gguf. A
 * transfer that is cut off resumes from the bytes held (the ack says how
 * many), even after the worker restarts.
 *
 * Nothing here is kept in memory between calls: the directory is the
 * state, owned by the worker process. */
#ifndef LP_SHARD_CACHE_H
#define LP_SHARD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define LP_SHARD_ID_BYTES 32

/* Create dir if needed and check it is writable. */
int lp_cache_open(const char *dir, lp_err *err);

/* Path of a complete shard (caller's buffer); 0 if present, 1 if absent,
 * -1 on error. */
int lp_cache_path(const char *dir, const uint8_t id[LP_SHARD_ID_BYTES], char *path,
                  size_t cap, lp_err *err);

/* Apply one chunk; *have gets the contiguous bytes now held and *complete
 * whether the file is whole and verified. A chunk at the wrong offset is
 * not an error: nothing is written and *have tells the sender where to
 * resume. A bad chunk hash, a size that disagrees with the .part file, or
 * a whole file whose hash is not the id are errors (the .part is removed
 * in the last case). */
int lp_cache_put_chunk(const char *dir, const uint8_t id[LP_SHARD_ID_BYTES], uint64_t offset,
                       uint64_t total_size, const void *data, size_t len,
                       const uint8_t chunk_hash[32], bool last, uint64_t *have, bool *complete,
                       lp_err *err);

/* Ids of the complete shards in dir (up to max); returns the count. */
int lp_cache_list(const char *dir, uint8_t (*ids)[LP_SHARD_ID_BYTES], int max, lp_err *err);

#endif
