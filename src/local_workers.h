/* local_workers.h — worker processes the coordinator starts itself on
 * 127.0.0.1 (`--local-workers N`, or a config's [local] section), on free
 * ports, and stops at exit. */
#ifndef LP_LOCAL_WORKERS_H
#define LP_LOCAL_WORKERS_H

#include <sys/types.h>

#include "err.h"

#define LP_LOCAL_MAX 16

typedef struct lp_local_workers {
    int n;
    pid_t pid[LP_LOCAL_MAX];
    int out_fd[LP_LOCAL_MAX];      /* the worker's stdout, kept open */
    char control[LP_LOCAL_MAX][256];
} lp_local_workers;

/* Start n workers (`worker --listen tcp://127.0.0.1:0 -t threads`), each
 * found beside this program (or $LP_WORKER_BIN), and wait for the line
 * each prints with its endpoints. On failure the started ones are
 * stopped. mem_limit: passed as --mem-limit when non-NULL. */
int lp_local_workers_start(lp_local_workers *lw, int n, int threads, const char *mem_limit,
                        lp_err *err);

/* One worker listening on the given endpoints (data may be NULL: the
 * worker's default), e.g. to restart one on the endpoints it had;
 * extra_args (NULL-terminated, may be NULL) are appended. Its
 * pid, or -1; control (cap bytes) gets its control endpoint and *out_fd
 * its stdout, which the caller closes after the worker is gone. */
pid_t lp_local_worker_spawn(const char *listen, const char *data, int threads,
                            const char *mem_limit, const char *name,
                            const char *const *extra_args, char *control, size_t cap,
                            int *out_fd, lp_err *err);

/* Wait up to a second for each to exit (after a Shutdown), then kill. */
void lp_local_workers_stop(lp_local_workers *lw);

#endif
