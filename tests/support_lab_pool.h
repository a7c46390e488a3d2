/* support_lab_pool.h — workers on the hosts of a lab (lab.h), one
 * per host, and the cluster files and runs of `coord` that use them: a
 * pool whose every hop crosses a veth link, as between machines. */
#ifndef LP_TEST_SUPPORT_LAB_POOL_H
#define LP_TEST_SUPPORT_LAB_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lab.h"
#include "support_worker.h"

typedef struct lab_pool {
    lp_lab lab;
    lp_test_worker w[LP_LAB_MAX];
    char endpoint[LP_LAB_MAX][64]; /* how a cluster file names worker i */
    char dir[2048];           /* a temp dir: configs, caches, shards */
} lab_pool;

/* Open a lab of n hosts and start a worker on each, listening on
 * tcp://ADDR:5555 (its own address), or on tcp://0.0.0.0:5555 where
 * wildcard[i] (wildcard may be NULL), with its own --cache-dir. 0, 1 (no
 * lab here: the caller skips), or -1. */
int lab_pool_start(lab_pool *p, int n, lp_lab_mode mode, const bool *wildcard);

/* The same with worker i listening on listen[i] and named in cluster
 * files as endpoint[i] (e.g. "tcp://[::]:5555" and "tcp://[fd77::11]:5555"). */
int lab_pool_start_on(lab_pool *p, int n, lp_lab_mode mode, const char *const *listen,
                      const char *const *endpoint);
void lab_pool_stop(lab_pool *p);

/* Write a cluster file at dir/NAME for the model (absolute path) over
 * workers 0..n-1 (by their endpoints), ctx 256, batch 16; own[i]: that
 * worker reads its own copy (model_path), else it gets a shard streamed.
 * server: extra lines for [server] ("" for none). Returns the path in
 * out. */
char *lab_pool_config(const lab_pool *p, const char *name, const char *model, int n,
                      const bool *own, const char *server, char *out, size_t cap);

/* `coord ARGS` in our namespace (the coordinator's host), stdout into
 * out, stderr into dir/coord.err (read back into err, cap bytes, when not
 * NULL). Its exit status. */
int lab_pool_coord(const lab_pool *p, const char *args, char *out, size_t cap, char *err,
                   size_t err_cap);

/* Absolute path of shared/models/STEM.gguf. */
char *lab_model(const char *stem, char *out, size_t cap);

#endif
