/* transfer.h — the coordinator's side of shard transfers: stream a shard
 * file to a worker in ShardChunk messages that its cache (shard_cache.h)
 * checks and stores, resuming from what the worker already holds.
 *
 * Protocol on the worker's control line (a DEALER from wire.h): an empty
 * chunk at offset 0 asks where the worker stands (its ChunkAck says how
 * many bytes it holds, or that the shard is complete: then nothing is
 * sent). Chunks of LP_WIRE_CHUNK bytes, each with its SHA-256, then go
 * out from that point, a few in flight at once so that reading, hashing,
 * the network and the worker's disk overlap. Each ack must say the bytes
 * now held; one that says otherwise (the worker restarted, or another
 * sender filled the same shard) makes the sender drain what it has in
 * flight and go on from where the worker stands. The last chunk has
 * `last` set and its ack must say `complete`: the worker has checked the
 * whole file's hash against the id. A file whose every byte the worker
 * holds but never verified gets an empty last chunk at its end.
 *
 * Replies to other requests on the same socket (request ids not ours) are
 * dropped. If the transfer stops early (timeout, error, the progress
 * callback said stop), acks of chunks still in flight may arrive later:
 * callers that go on using the socket must drop replies they did not ask
 * for, as lp_cluster does.
 *
 * Ownership: everything is the caller's; nothing outlives the call. */
#ifndef LP_TRANSFER_H
#define LP_TRANSFER_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "sha256.h"

#define LP_TRANSFER_WINDOW 4 /* chunks in flight */

/* Called after each acknowledged chunk (and once at the start with what
 * the worker already held): bytes the worker holds, the file's size, and
 * the rate of this call's sending in MB/s (10^6 bytes). Return false to
 * stop the transfer (lp_transfer_shard then fails with "stopped"). */
typedef bool (*lp_transfer_progress)(void *ctx, uint64_t done, uint64_t total, double mb_s);

typedef struct lp_transfer_stats {
    uint64_t size;         /* of the file */
    uint64_t resumed_from; /* bytes the worker held when we began */
    uint64_t bytes_sent;   /* chunk payload bytes sent by this call */
    int chunks_sent;
    double seconds;
} lp_transfer_stats;

/* Send the shard file at path, whose SHA-256 is shard_id, over sock.
 * timeout_ms bounds each wait for the worker (> 0). request_id is the
 * caller's request counter: each message takes ++*request_id, so ids never
 * collide with the caller's other requests; NULL takes ids from above
 * 2^62 derived from the clock, distinct from any earlier call's. stats may be
 * NULL. 0 once the worker holds the verified shard; -1 with err (the
 * worker's own message when it refused a chunk). */
int lp_transfer_shard(void *sock, const char *path, const uint8_t shard_id[LP_SHA256_BYTES],
                      lp_transfer_progress progress, void *ctx, int timeout_ms,
                      uint64_t *request_id, lp_transfer_stats *stats, lp_err *err);

#endif
