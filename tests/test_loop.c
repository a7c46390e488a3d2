/* lp_loop: timers fire no earlier than asked, again after the delay they
 * return, never after LP_LOOP_DONE or a cancel (also from inside a
 * callback); ZeroMQ sockets and file descriptors call their function when
 * readable, in the order watched, and no more once unwatched (also from a
 * callback); lp_loop_run ends at lp_loop_stop; full tables are errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"
#include "wire.h"

typedef struct ticks {
    int n;
    int64_t at[8];
    int64_t every; /* returned while n < 3, then LP_LOOP_DONE */
    lp_loop *l;
    uint64_t victim; /* a timer to cancel from inside this one */
} ticks;

static int64_t tick(void *ctx, int64_t now)
{
    ticks *t = ctx;
    if (t->n < 8)
        t->at[t->n] = now;
    t->n++;
    if (t->victim)
        lp_loop_cancel(t->l, t->victim);
    return t->n < 3 ? t->every : LP_LOOP_DONE;
}

static void test_timers(void **state)
{
    (void)state;
    lp_err err = {{0}};
    lp_loop *l = lp_loop_new(&err);
    ticks a = {.every = 20}, b = {.every = 1000}, c = {.every = 5};
    int64_t t0 = lp_now_ms();
    assert_true(lp_loop_timer(l, 30, tick, &a, &err) > 0);
    uint64_t bid = lp_loop_timer(l, 10, tick, &b, &err);
    assert_true(bid > 0);
    lp_loop_cancel(l, bid); /* never fires */
    while (a.n < 3)
        assert_true(lp_loop_turn(l, -1, &err) >= 0);
    assert_true(a.at[0] - t0 >= 30);
    assert_true(a.at[1] - a.at[0] >= 20);
    assert_true(a.at[2] - a.at[1] >= 20);
    assert_int_equal(b.n, 0);
    /* done: a's timer is gone, so a turn with nothing to do waits max_ms */
    assert_int_equal(lp_loop_turn(l, 30, &err), 0);
    assert_int_equal(a.n, 3);
    /* a timer cancelled by another's callback */
    ticks victim = {.every = 5};
    c.l = l;
    c.victim = lp_loop_timer(l, 15, tick, &victim, &err);
    assert_true(lp_loop_timer(l, 0, tick, &c, &err) > 0);
    while (c.n < 3)
        assert_true(lp_loop_turn(l, -1, &err) >= 0);
    assert_int_equal(victim.n, 0);
    /* full */
    for (int i = 0; i < LP_LOOP_MAX_TIMERS; i++)
        lp_loop_timer(l, 100000, tick, &b, &err);
    assert_int_equal(lp_loop_timer(l, 1, tick, &b, &err), 0);
    assert_non_null(strstr(err.msg, "timers"));
    lp_loop_free(l);
}

typedef struct reader {
    int calls, order, *seq;
    int fd;
    void *sock;
    lp_loop *l;
    bool unwatch_self;
} reader;

static void on_fd(void *ctx)
{
    reader *r = ctx;
    uint64_t v;
    if (read(r->fd, &v, sizeof v) != sizeof v)
        return;
    r->calls++;
    r->order = ++*r->seq;
    if (r->unwatch_self)
        lp_loop_unwatch(r->l, NULL, r->fd);
}

static void on_sock(void *ctx)
{
    reader *r = ctx;
    Lp__Envelope *env;
    lp_err err = {{0}};
    while (lp_wire_recv(r->sock, NULL, &env, 0, &err) == 0) {
        r->calls++;
        lp_wire_env_free(env);
    }
    r->order = ++*r->seq;
}

static void poke(int fd)
{
    uint64_t one = 1;
    assert_int_equal(write(fd, &one, sizeof one), (ssize_t)sizeof one);
}

static int64_t stop_it(void *ctx, int64_t now)
{
    (void)now;
    lp_loop_stop(ctx);
    return LP_LOOP_DONE;
}

static void test_sources(void **state)
{
    (void)state;
    lp_err err = {{0}};
    lp_loop *l = lp_loop_new(&err);
    lp_wire *w = lp_wire_new(&err);
    char ep[256];
    int seq = 0;
    void *pull = lp_wire_socket(w, LP_SOCK_PULL, "tcp://127.0.0.1:0", &err);
    assert_int_equal(lp_wire_endpoint(pull, ep, sizeof ep, &err), 0);
    void *push = lp_wire_socket(w, LP_SOCK_PUSH, ep, &err);
    reader a = {.fd = eventfd(0, EFD_NONBLOCK), .seq = &seq, .l = l, .unwatch_self = true};
    reader s = {.sock = pull, .seq = &seq};
    assert_int_equal(lp_loop_watch(l, NULL, a.fd, on_fd, &a, &err), 0);
    assert_int_equal(lp_loop_watch(l, pull, -1, on_sock, &s, &err), 0);
    /* both readable: served in the order watched */
    Lp__Ok ok = LP__OK__INIT;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.body_case = LP__ENVELOPE__BODY_OK;
    env.ok = &ok;
    for (int i = 0; i < 3; i++)
        assert_int_equal(lp_wire_send(push, NULL, &env, 1000, &err), 0);
    poke(a.fd);
    while (s.calls < 3)
        assert_true(lp_loop_turn(l, 2000, &err) >= 0);
    assert_int_equal(a.calls, 1);
    assert_true(a.order < s.order);
    /* a unwatched itself: poked again, it is not called */
    poke(a.fd);
    assert_true(lp_loop_turn(l, 50, &err) >= 0);
    assert_int_equal(a.calls, 1);
    /* run until a timer stops the loop */
    assert_true(lp_loop_timer(l, 10, stop_it, l, &err) > 0);
    assert_int_equal(lp_loop_run(l, &err), 0);
    close(a.fd);
    lp_wire_close(push);
    lp_wire_close(pull);
    lp_wire_free(w);
    /* full */
    for (int i = 0; i < LP_LOOP_MAX_SOURCES; i++)
        lp_loop_watch(l, NULL, 0, on_fd, &a, &err);
    assert_int_equal(lp_loop_watch(l, NULL, 0, on_fd, &a, &err), -1);
    assert_non_null(strstr(err.msg, "sources"));
    lp_loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers),
        cmocka_unit_test(test_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
