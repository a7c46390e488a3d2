/* loop.h — an event loop after redis's ae.c: sources (ZeroMQ sockets and
 * file descriptors) that call a function when readable, and timers that
 * call one when due. One thread owns a loop and everything its callbacks
 * touch, so nothing here locks.
 *
 * The pool's coordinator runs on one (lp_cluster: the result socket, each
 * worker's control line, the heartbeat timer; coord serve adds the hub's
 * eventfd, the signalfd and its periodic stats), and so do the worker's two
 * threads (control: its sockets and the signal check; compute: its sockets
 * and the session TTL). Callers never look at clocks to decide what is
 * due: a timer says how long until it is due again.
 *
 * Ownership: lp_loop_new returns a loop the caller owns (lp_loop_free);
 * sources are borrowed (the caller closes them after removing them, or
 * after freeing the loop). */
#ifndef LP_LOOP_H
#define LP_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define LP_LOOP_MAX_SOURCES 80
#define LP_LOOP_MAX_TIMERS 16

typedef struct lp_loop lp_loop;

/* A source is readable: read what it holds (at least one message, or the
 * loop calls again at once). */
typedef void (*lp_loop_read_fn)(void *ctx);

/* A timer is due (now: lp_now_ms()): return the milliseconds until it is
 * due again, or LP_LOOP_DONE to remove it. */
typedef int64_t (*lp_loop_timer_fn)(void *ctx, int64_t now);
#define LP_LOOP_DONE (-1)

lp_loop *lp_loop_new(lp_err *err);
void lp_loop_free(lp_loop *l);

/* Watch a ZeroMQ socket, or (sock NULL) a file descriptor. Sources are
 * served in the order added. 0, or -1 with err when full. */
int lp_loop_watch(lp_loop *l, void *sock, int fd, lp_loop_read_fn fn, void *ctx, lp_err *err);
/* Stop watching it (the socket, or the fd when sock is NULL). */
void lp_loop_unwatch(lp_loop *l, void *sock, int fd);

/* Call fn in_ms from now (0: on the next turn), then as it says. Its id
 * (> 0), or 0 when full (err). */
uint64_t lp_loop_timer(lp_loop *l, int64_t in_ms, lp_loop_timer_fn fn, void *ctx, lp_err *err);
void lp_loop_cancel(lp_loop *l, uint64_t timer);

/* One turn: wait at most max_ms (-1: until something happens) for a
 * readable source or a due timer, then serve every readable source once, in
 * order, and every due timer. The number of callbacks made, or -1 with err
 * (a poll error other than a signal). */
int lp_loop_turn(lp_loop *l, int max_ms, lp_err *err);

/* Turn until lp_loop_stop is called (from a callback). 0, or -1 with err. */
int lp_loop_run(lp_loop *l, lp_err *err);
void lp_loop_stop(lp_loop *l);

#endif
