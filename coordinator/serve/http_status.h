/* http_status.h — the bodies of the endpoints that show the pool rather
 * than run it, all from the hub's snapshot (sv_hub_stats):
 *
 *   GET /health     {"status":"ok"} (200) once every worker holds its
 *                   layers, else {"status":"loading"} (503)
 *   GET /v1/models  {"object":"list","data":[{"id":MODEL,"object":"model",
 *                   "created":T,"owned_by":"layerpool"}]}
 *   GET /v1/pool    {"model","ready","n_layers","n_ctx","tokens_per_second",
 *                   "requests":{"total","failed","refused","running","queued"},
 *                   "tokens":{"prompt","generated"},
 *                   "workers":[{"name","endpoint","data_endpoint",
 *                   "first_layer","last_layer" (inclusive),"n_layers",
 *                   "mem_limit","mem_available","ram_total" (bytes),"cores",
 *                   "isa","gflops","state":"alive"|"lost",
 *                   "compute_ms_per_step","compute_s","steps" (from the
 *                   Results: a step's latency, a batch's in each member),
 *                   "busy_s" (the worker's own compute time),
 *                   "batches","batched_steps" (decode steps run together),
 *                   "bytes_in","bytes_out","sessions_open",
 *                   "kv_bytes_used","kv_bytes_reserved"}]}
 *   GET /metrics    Prometheus text (version 0.0.4): layerpool_* counters
 *                   and gauges, per worker with a worker="NAME" label.
 *
 * Ownership: each returns a malloc'd NUL-terminated body the caller frees;
 * NULL on out of memory. */
#ifndef LP_COORD_HTTP_STATUS_H
#define LP_COORD_HTTP_STATUS_H

#include <stdbool.h>

#include "serve_hub.h"

char *sv_status_health(sv_hub *h, int *status);
char *sv_status_models(const char *model, long long created);
/* endpoints: the workers' addresses too (only behind an API key). */
char *sv_status_pool(sv_hub *h, const char *model, int n_ctx, bool endpoints);
char *sv_status_metrics(sv_hub *h);

#endif
