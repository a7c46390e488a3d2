/* shard_mem.h — what a loaded shard's memory is made of, and how many
 * weight bytes one decode step reads.
 *
 * Weights are used in place from the mapped file, never copied, so a
 * process holding a shard should be resident at about weights + KV +
 * buffers: lp_shard_mem_line prints that breakdown next to the RSS the
 * kernel reports, which makes a copy (or a leak) visible at load.
 *
 * Nothing here allocates beyond the call. */
#ifndef LP_SHARD_MEM_H
#define LP_SHARD_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "shard.h"
#include "sysinfo.h"

typedef struct lp_shard_mem {
    uint64_t weights;     /* bytes of the tensors the shard binds, each once
                             (a tied embedding/head table counts once) */
    uint64_t token_bytes; /* weight bytes one decode step reads: all of
                             those, but a single row of token_embd unless
                             it is also the (tied) head */
    uint64_t kv;          /* the KV cache, reserved (pages fill as used) */
    uint64_t buffers;     /* run state and scratch (what lp_run_new allocates) */
} lp_shard_mem;

int lp_shard_mem_of(const lp_shard *s, lp_shard_mem *m, lp_err *err);

/* "weights 1.2 GiB (mapped) + KV 64.0 MiB + buffers 9.1 MiB = 1.3 GiB;
 * RSS 1.3 GiB (file 1.2 GiB, anon 80.0 MiB)", the RSS part only when
 * pm is non-NULL. Returns buf. */
char *lp_shard_mem_line(const lp_shard_mem *m, const lp_proc_mem *pm, char *buf, size_t cap);

#endif
