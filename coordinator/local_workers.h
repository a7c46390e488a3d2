/* local_workers.h — worker processes the coordinator starts itself on
 * 127.0.0.1 (`--local-workers N`, or a config's [local] section), on free
 * ports, and stops at exit. */
#ifndef LP_COORD_LOCAL_WORKERS_H
#define LP_COORD_LOCAL_WORKERS_H

#include <sys/types.h>

#include "err.h"

#define LP_LOCAL_MAX 16

typedef struct local_workers {
    int n;
    pid_t pid[LP_LOCAL_MAX];
    int out_fd[LP_LOCAL_MAX];      /* the worker's stdout, kept open */
    char control[LP_LOCAL_MAX][256];
} local_workers;

/* Start n workers (`worker --listen tcp://127.0.0.1:0 -t threads`), each
 * found beside this program (or $LP_WORKER_BIN), and wait for the line
 * each prints with its endpoints. On failure the started ones are
 * stopped. mem_limit: passed as --mem-limit when non-NULL. */
int local_workers_start(local_workers *lw, int n, int threads, const char *mem_limit,
                        lp_err *err);

/* Wait up to a second for each to exit (after a Shutdown), then kill. */
void local_workers_stop(local_workers *lw);

#endif
