/* shard_supply.h — weights for workers that have no copy of the model:
 * the coordinator cuts the plan's layer ranges into shard files (once per
 * model and plan, kept in a cache directory), and streams each worker its
 * shard (resumable: a worker that holds part of it gets only the rest). */
#ifndef LP_COORD_SHARD_SUPPLY_H
#define LP_COORD_SHARD_SUPPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster.h"

/* For every worker i with need[i]: make sure it holds the shard of layers
 * [first[i], last[i]) of model_path, and set ids[i] to that shard's id.
 * The shard files live under $LP_SHARD_DIR, else $XDG_CACHE_HOME or
 * ~/.cache, in layerpool/shards/<model id>/<ranges>/. */
int shard_supply(lp_cluster *cl, const char *model_path, const uint8_t model_id[LP_SHA256_BYTES],
                 const int *first, const int *last, const bool *need, int n,
                 uint8_t (*ids)[LP_SHA256_BYTES], lp_err *err);

#endif
