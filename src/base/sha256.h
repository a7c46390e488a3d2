/* sha256.h — SHA-256 (FIPS 180-4), streaming.
 *
 * Used for model ids (model_id.h), shard ids and chunk checksums
 * (shard_cache.h, transfer.h). Plain portable C; the context lives on the
 * caller's stack and holds no pointers, so it may be copied to hash a
 * common prefix once and finish it two ways. */
#ifndef LP_SHA256_H
#define LP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define LP_SHA256_BYTES 32

typedef struct lp_sha256_ctx {
    uint32_t h[8];
    uint64_t nbytes;  /* message bytes so far */
    uint8_t buf[64];  /* a partial block */
    size_t nbuf;
} lp_sha256_ctx;

void lp_sha256_init(lp_sha256_ctx *s);
/* Any number of calls with pieces of any size (len 0 and data NULL allowed). */
void lp_sha256_update(lp_sha256_ctx *s, const void *data, size_t len);
/* Writes the digest; the context must be initialised again before reuse. */
void lp_sha256_final(lp_sha256_ctx *s, uint8_t out[LP_SHA256_BYTES]);

/* One-shot digest of a buffer. */
void lp_sha256(const void *data, size_t len, uint8_t out[LP_SHA256_BYTES]);

/* Digest of the first `len` bytes of an open file descriptor, read from
 * offset 0 with pread (the fd's position is untouched). -1 with err if the
 * file is shorter or a read fails. */
int lp_sha256_fd(int fd, uint64_t len, uint8_t out[LP_SHA256_BYTES], lp_err *err);

/* The same bytes fed to s, for a caller that goes on hashing after them
 * (s is then in an unspecified state on failure). */
int lp_sha256_update_fd(lp_sha256_ctx *s, int fd, uint64_t len, lp_err *err);

/* Digest of a whole file; *size (may be NULL) gets its length. */
int lp_sha256_file(const char *path, uint8_t out[LP_SHA256_BYTES], uint64_t *size,
                   lp_err *err);

#endif
