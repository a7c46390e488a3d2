/* loop.c — sources and timers served from one zmq_poll (loop.h).
 *
 * Callbacks may watch, unwatch and set timers while a turn runs: removal
 * only marks an entry, and entries are compacted between turns, so the
 * arrays a turn walks never shift under it. */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <zmq.h>

#include "clock.h"

typedef struct source {
    void *sock; /* NULL: fd */
    int fd;
    lp_loop_read_fn fn; /* NULL once unwatched */
    void *ctx;
} source;

typedef struct timer {
    uint64_t id; /* 0 once cancelled or done */
    int64_t due;
    lp_loop_timer_fn fn;
    void *ctx;
} timer;

struct lp_loop {
    source src[LP_LOOP_MAX_SOURCES];
    int n_src;
    timer tm[LP_LOOP_MAX_TIMERS];
    int n_tm;
    uint64_t next_id;
    bool stop;
};

lp_loop *lp_loop_new(lp_err *err)
{
    lp_loop *l = calloc(1, sizeof *l);
    if (!l)
        lp_err_set(err, "loop: out of memory");
    return l;
}

void lp_loop_free(lp_loop *l)
{
    free(l);
}

int lp_loop_watch(lp_loop *l, void *sock, int fd, lp_loop_read_fn fn, void *ctx, lp_err *err)
{
    if (l->n_src == LP_LOOP_MAX_SOURCES)
        return lp_err_set(err, "loop: more than %d sources", LP_LOOP_MAX_SOURCES);
    l->src[l->n_src++] = (source){.sock = sock, .fd = sock ? -1 : fd, .fn = fn, .ctx = ctx};
    return 0;
}

void lp_loop_unwatch(lp_loop *l, void *sock, int fd)
{
    for (int i = 0; i < l->n_src; i++)
        if (sock ? l->src[i].sock == sock : !l->src[i].sock && l->src[i].fd == fd)
            l->src[i].fn = NULL;
}

uint64_t lp_loop_timer(lp_loop *l, int64_t in_ms, lp_loop_timer_fn fn, void *ctx, lp_err *err)
{
    if (l->n_tm == LP_LOOP_MAX_TIMERS) {
        lp_err_set(err, "loop: more than %d timers", LP_LOOP_MAX_TIMERS);
        return 0;
    }
    l->tm[l->n_tm++] = (timer){.id = ++l->next_id, .due = lp_now_ms() + in_ms, .fn = fn,
                               .ctx = ctx};
    return l->next_id;
}

void lp_loop_cancel(lp_loop *l, uint64_t id)
{
    for (int i = 0; i < l->n_tm; i++)
        if (l->tm[i].id == id)
            l->tm[i].id = 0;
}

/* Drop what was unwatched or cancelled. */
static void compact(lp_loop *l)
{
    int n = 0;
    for (int i = 0; i < l->n_src; i++)
        if (l->src[i].fn)
            l->src[n++] = l->src[i];
    l->n_src = n;
    n = 0;
    for (int i = 0; i < l->n_tm; i++)
        if (l->tm[i].id)
            l->tm[n++] = l->tm[i];
    l->n_tm = n;
}

/* How long the poll may wait: until the first timer, at most max_ms. */
static long wait_ms(const lp_loop *l, int max_ms, int64_t now)
{
    long w = max_ms;
    for (int i = 0; i < l->n_tm; i++) {
        int64_t left = l->tm[i].due > now ? l->tm[i].due - now : 0;
        if (w < 0 || left < w)
            w = (long)left;
    }
    return w;
}

static int fire_timers(lp_loop *l)
{
    int calls = 0;
    const int n = l->n_tm; /* timers added now wait for the next turn */
    for (int i = 0; i < n; i++) {
        int64_t now = lp_now_ms();
        timer *t = &l->tm[i];
        if (!t->id || t->due > now)
            continue;
        int64_t again = t->fn(t->ctx, now);
        calls++;
        t = &l->tm[i]; /* the callback may have added timers (after n) or cancelled this */
        if (t->id && again == LP_LOOP_DONE)
            t->id = 0;
        else if (t->id)
            t->due = now + again;
    }
    return calls;
}

int lp_loop_turn(lp_loop *l, int max_ms, lp_err *err)
{
    zmq_pollitem_t items[LP_LOOP_MAX_SOURCES];
    compact(l);
    const int n = l->n_src;
    for (int i = 0; i < n; i++)
        items[i] = (zmq_pollitem_t){.socket = l->src[i].sock, .fd = l->src[i].fd,
                                    .events = ZMQ_POLLIN};
    int rc = zmq_poll(items, n, wait_ms(l, max_ms, lp_now_ms()));
    if (rc < 0 && errno != EINTR)
        return lp_err_set(err, "loop: poll: %s", zmq_strerror(errno));
    int calls = 0;
    for (int i = 0; rc > 0 && i < n; i++)
        if ((items[i].revents & ZMQ_POLLIN) && l->src[i].fn) {
            l->src[i].fn(l->src[i].ctx);
            calls++;
        }
    return calls + fire_timers(l);
}

int lp_loop_run(lp_loop *l, lp_err *err)
{
    l->stop = false;
    while (!l->stop)
        if (lp_loop_turn(l, -1, err) < 0)
            return -1;
    return 0;
}

void lp_loop_stop(lp_loop *l)
{
    l->stop = true;
}
