/* local_workers.h — worker processes the coordinator starts itself on
 * 127.0.0.1 (`--local-workers N`, or a config's [local] section), on free
 * ports, and stops at exit.
 *
 * Placement: several workers share one machine, and each one's thread
 * pool pins its threads when it takes every core it may use (pool.h). So
 * when n workers x threads fit in the CPUs we may use, each worker is
 * started on a CPU set of its own (disjoint; whole physical cores, one
 * per thread, while there are enough) and its pool pins inside that set.
 * When they do not fit, the workers get LP_NO_PIN=1, so no two pools pin
 * onto the same cores and the scheduler spreads them. A single worker, or
 * LP_NO_PIN set in our own environment, leaves the workers as we are. */
#ifndef LP_LOCAL_WORKERS_H
#define LP_LOCAL_WORKERS_H

#include <sched.h>
#include <stdbool.h>
#include <sys/types.h>

#include "err.h"
#include "keys.h"

#define LP_LOCAL_MAX 16

typedef enum lp_local_place {
    LP_LOCAL_INHERIT = 0, /* the workers run where we may, as we do */
    LP_LOCAL_OWN_CPUS,    /* worker i asked for cpus[i] (refused: LP_NO_PIN) */
    LP_LOCAL_NO_PIN,      /* too many threads: unpinned, LP_NO_PIN=1 */
} lp_local_place;

typedef struct lp_local_workers {
    int n;
    pid_t pid[LP_LOCAL_MAX];
    int out_fd[LP_LOCAL_MAX];      /* the worker's stdout, kept open */
    char control[LP_LOCAL_MAX][256];
    lp_local_place place;
    cpu_set_t cpus[LP_LOCAL_MAX];  /* with LP_LOCAL_OWN_CPUS */
    /* Keyed workers (the default) take orders and data only over CURVE:
     * fresh pairs each start, each worker's handed to it over a pipe
     * (never on disk or its command line), so no other process on this
     * machine can drive, read or feed them. */
    bool keyed;
    lp_keypair coord;              /* ours: the coordinator's pair for them */
    lp_keypair key[LP_LOCAL_MAX];  /* worker i's */
} lp_local_workers;

/* Start n keyed workers (`worker --listen tcp://127.0.0.1:0 -t threads`), each
 * found beside this program (or $LP_WORKER_BIN), placed as said above,
 * and wait for the line each prints with its endpoints. On failure the
 * started ones are stopped. mem_limit: passed as --mem-limit when
 * non-NULL; model: the file they are to load, whose folder they get as
 * --models-dir (NULL: none, shards are streamed to them). */
int lp_local_workers_start(lp_local_workers *lw, int n, int threads, const char *mem_limit,
                           const char *model, lp_err *err);

/* The same, worker i in the network namespace netns[i] (an open fd, e.g.
 * a host of lab.h; netns NULL: ours) listening on listen[i] (NULL: on
 * 127.0.0.1): a pool on one machine whose hops cross links. keyed false:
 * plain links (`--insecure` in namespaces), e.g. to measure against an
 * engine whose links are plain. */
int lp_local_workers_start_in(lp_local_workers *lw, int n, int threads, const char *mem_limit,
                              const char *model, const int *netns,
                              const char *const *listen, bool keyed, lp_err *err);

/* How n workers of `threads` threads each are placed on the CPUs this
 * process may use (what lp_local_workers_start does); cpus[i] gets worker
 * i's set with LP_LOCAL_OWN_CPUS. cpus: n entries (n <= LP_LOCAL_MAX). */
lp_local_place lp_local_workers_place(int n, int threads, cpu_set_t *cpus);

/* One worker listening on the given endpoints (data may be NULL: the
 * worker's default), e.g. to restart one on the endpoints it had; key
 * (NULL: plain links) is handed to it over a pipe as its --key, and then
 * extra_args must name --coordinator-key; extra_args (NULL-terminated,
 * may be NULL) are appended. It runs where we may, with our environment. Its
 * pid, or -1; control (cap bytes) gets its control endpoint and *out_fd
 * its stdout, which the caller closes after the worker is gone. */
pid_t lp_local_worker_spawn(const char *listen, const char *data, int threads,
                            const char *mem_limit, const char *name, const lp_keypair *key,
                            const char *const *extra_args, char *control, size_t cap,
                            int *out_fd, lp_err *err);

/* Has worker i exited? Then it is reaped (its pid -1, its stdout closed)
 * and why[cap] says how ("killed by signal 9 (Killed)"). */
bool lp_local_workers_exited(lp_local_workers *lw, int i, char *why, size_t cap);

/* Start worker i, which exited, again: on the control endpoint it had and
 * data (the one it reported), with its key, as lp_local_workers_start
 * would (threads, mem_limit, model's folder). 0, or -1 with err. */
int lp_local_workers_restart(lp_local_workers *lw, int i, const char *data, int threads,
                             const char *mem_limit, const char *model, lp_err *err);

/* Wait up to a second for each to exit (after a Shutdown), then kill. */
void lp_local_workers_stop(lp_local_workers *lw);

#endif
