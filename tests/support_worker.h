/* support_worker.h — real `worker` processes for end-to-end tests, and a
 * minimal coordinator to talk to them (the lp_wire sockets a coordinator
 * has: a DEALER per worker, a PUSH to the first data endpoint, a PULL for
 * results). Every wait has a timeout, so a dead or stuck worker fails a
 * test instead of hanging it. */
#ifndef LP_TEST_SUPPORT_WORKER_H
#define LP_TEST_SUPPORT_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

typedef struct lp_test_worker {
    pid_t pid;           /* 0 once reaped */
    char name[64];
    char control[256];   /* endpoints from its start-up line */
    char data[256];
} lp_test_worker;

/* Start `$LP_BIN/worker --listen tcp://127.0.0.1:0 -t 1 ARGS` (ARGS split
 * on spaces, may be NULL) and read its line (at most 30 s). 0 on success. */
int lp_test_worker_start(lp_test_worker *w, const char *args);
/* The same listening on `listen`, in the network namespace whose fd is
 * netns (-1: ours), e.g. a host of lab.h. */
int lp_test_worker_start_in(lp_test_worker *w, int netns, const char *listen, const char *args);
/* Wait up to timeout_ms for it to exit: its exit status (128 + signal if
 * killed), or -1 if it is still running. */
int lp_test_worker_wait(lp_test_worker *w, int timeout_ms);
/* SIGKILL it (if still running) and reap it. */
void lp_test_worker_kill(lp_test_worker *w);

/* One coordinator's sockets. */
typedef struct lp_test_coord {
    lp_wire *wire;
    void *ctl[4];        /* DEALER per worker */
    void *push;          /* to the first worker's data endpoint, or NULL */
    void *results;       /* bound PULL */
    char result_ep[256];
    uint64_t next_id;
} lp_test_coord;

int lp_test_coord_open(lp_test_coord *c);
void lp_test_coord_close(lp_test_coord *c);
/* Add a control line to worker i. */
int lp_test_coord_connect(lp_test_coord *c, int i, const char *control);
/* PUSH to a data endpoint (replacing any earlier one). */
int lp_test_coord_push_to(lp_test_coord *c, const char *data);

/* Send env on worker i's control line (request id assigned) and wait up
 * to timeout_ms for the reply with that id. NULL on timeout. */
Lp__Envelope *lp_test_request(lp_test_coord *c, int i, Lp__Envelope *env, int timeout_ms);
/* The same with raw bytes (hostile input); the reply is the first message
 * that arrives. */
Lp__Envelope *lp_test_request_raw(lp_test_coord *c, int i, const void *data, size_t len,
                                  int timeout_ms);

/* Next message on the result endpoint within timeout_ms, or NULL. */
Lp__Envelope *lp_test_result(lp_test_coord *c, int timeout_ms);

/* The 32-byte identity of a model file under shared/models. */
void lp_test_model_id(const char *stem, uint8_t id[32]);

#endif
