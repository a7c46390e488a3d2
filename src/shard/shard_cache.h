/* shard_cache.h — a worker's disk cache of shard files, filled by chunks
 * the coordinator streams (ShardChunk messages), resumable and verified.
 *
 * A shard's id is the SHA-256 of the whole shard file (as `coord split`
 * wrote it). While it arrives it lives in <dir>/<hex id>.part; a chunk is
 * accepted only at the current end of that file (offset == bytes held),
 * with a matching chunk hash; when the last byte arrives the whole file's
 * hash is compared with the id and, if equal, the file is renamed to
 * <dir>/<hex id>.gguf. A transfer that is cut off resumes from the bytes
 * held (the ack says how many), even after the worker restarts.
 *
 * The whole-file hash is computed as the bytes arrive, not by reading the
 * file again at the end (which would stall the worker's control thread for
 * a minute on a 20 GB shard): after each chunk the SHA-256 state of the
 * bytes held is saved next to the .part, in <dir>/<hex id>.hash (the
 * state, the total size, and a checksum of both; replaced atomically). If
 * a .part is longer than that state says (the worker died between the two
 * writes) it is cut back to it; if the state is missing or damaged the
 * .part is hashed again once. Names in the directory are only ever the hex
 * of an id, so no peer can choose a path.
 *
 * Every call takes an exclusive flock on the directory, so two workers
 * that share a cache directory never interleave writes to one file.
 *
 * Nothing here is kept in memory between calls: the directory is the
 * state, owned by the worker process. */
#ifndef LP_SHARD_CACHE_H
#define LP_SHARD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sha256.h"

#define LP_CACHE_MAX_CHUNK ((size_t)64 << 20)     /* bytes in one chunk */
#define LP_CACHE_MAX_SHARD ((uint64_t)1 << 40)    /* bytes in one shard */

/* Create dir (one level) if needed and check that files can be created in
 * it (by creating one: permission bits do not bind root). */
int lp_cache_open(const char *dir, lp_err *err);

/* Path of a complete shard (caller's buffer); 0 if present, 1 if absent,
 * -1 on error (the path does not fit, or stat fails otherwise). */
int lp_cache_path(const char *dir, const uint8_t id[LP_SHA256_BYTES], char *path,
                  size_t cap, lp_err *err);

/* Apply one chunk; *have gets the contiguous bytes now held and *complete
 * whether the file is whole and verified. If the shard is already
 * complete, nothing is written and *have is its size. A chunk at the wrong
 * offset is not an error: nothing is written and *have tells the sender
 * where to resume. A chunk of 0 bytes at offset == total_size completes a
 * file whose bytes all arrived before the worker could verify them.
 * Errors (-1 with err, nothing written): len over LP_CACHE_MAX_CHUNK,
 * total_size 0 or over LP_CACHE_MAX_SHARD, offset + len past total_size, a
 * bad chunk hash, `last` on a chunk that does not end the file, and a
 * total_size that disagrees with the one the .part was started with (the
 * .part is removed then, as when the whole file's hash is not the id). */
int lp_cache_put_chunk(const char *dir, const uint8_t id[LP_SHA256_BYTES], uint64_t offset,
                       uint64_t total_size, const void *data, size_t len,
                       const uint8_t chunk_hash[LP_SHA256_BYTES], bool last, uint64_t *have,
                       bool *complete, lp_err *err);

/* Whether a shard of total_size bytes (id) may go into dir under a quota:
 * the bytes of every other shard there, whole or partial, plus
 * total_size, at most quota. 0, or -1 with err (a peer announcing a 1 TiB
 * shard is refused before it can fill the disk). */
int lp_cache_room(const char *dir, const uint8_t id[LP_SHA256_BYTES], uint64_t total_size,
                  uint64_t quota, lp_err *err);

/* Ids of the complete shards in dir (up to max, in no particular order);
 * returns how many it stored, -1 on error. */
int lp_cache_list(const char *dir, uint8_t (*ids)[LP_SHA256_BYTES], int max, lp_err *err);

#endif
