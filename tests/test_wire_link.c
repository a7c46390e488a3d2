/* test_wire_link.c — lp_wire_push_checked on loopback: a link to a real
 * PULL is up and delivers; a closed port, a listener that never speaks
 * ZeroMQ and a port that answers with junk are each refused within the
 * time given, naming the endpoint and why; several links are checked at
 * once, and a failure leaves no socket open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "route.h"
#include "support_net.h"
#include "wire.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_link_up_delivers(void **state)
{
    (void)state;
    lp_err err = {{0}};
    lp_wire *w = lp_wire_new(&err);
    char ep[256];
    void *pull = lp_wire_socket(w, LP_SOCK_PULL, "tcp://127.0.0.1:0", &err);
    assert_non_null(pull);
    assert_int_equal(lp_wire_endpoint(pull, ep, sizeof ep, &err), 0);
    const char *eps[2] = {ep, ""};
    void *socks[2] = {(void *)1, (void *)1};
    int failed = 7;
    int64_t t0 = now_ms();
    assert_int_equal(lp_wire_push_checked(w, 2, eps, NULL, 5000, socks, &failed, &err), 0);
    assert_true(now_ms() - t0 < 2000);
    assert_non_null(socks[0]);
    assert_null(socks[1]);
    Lp__Ok ok = LP__OK__INIT;
    Lp__Envelope env = LP__ENVELOPE__INIT, *got = NULL;
    env.request_id = 42;
    env.body_case = LP__ENVELOPE__BODY_OK;
    env.ok = &ok;
    assert_int_equal(lp_wire_send(socks[0], NULL, &env, 1000, &err), 0);
    assert_int_equal(lp_wire_recv(pull, NULL, &got, 2000, &err), 0);
    assert_int_equal(got->request_id, 42);
    lp_wire_env_free(got);
    lp_wire_close(socks[0]);
    lp_wire_close(pull);
    lp_wire_free(w);
}

/* What a refused link reports: the endpoint and the reason, in time. */
static void expect_down(lp_wire *w, const char *const *eps, int n, int want_failed,
                        const char *want_why)
{
    void *socks[4];
    int failed = -1;
    lp_err err = {{0}};
    int64_t t0 = now_ms();
    assert_int_equal(lp_wire_push_checked(w, n, eps, NULL, 800, socks, &failed, &err), -1);
    int64_t took = now_ms() - t0;
    assert_int_equal(failed, want_failed);
    for (int i = 0; i < n; i++)
        assert_null(socks[i]);
    if (!strstr(err.msg, eps[want_failed]) || !strstr(err.msg, want_why))
        fail_msg("'%s' does not name %s and '%s'", err.msg, eps[want_failed], want_why);
    assert_true(took < 800 + 2000); /* the wait, then a probe of at most 1.5 s */
}

static void test_closed_port(void **state)
{
    (void)state;
    lp_err err = {{0}};
    lp_wire *w = lp_wire_new(&err);
    char ep[256];
    close(lp_test_listener(ep, sizeof ep));
    const char *eps[1] = {ep};
    expect_down(w, eps, 1, 0, "Connection refused");
    lp_wire_free(w);
}

/* The second of two links is down: it is the one named, and the first
 * one's socket is closed too. */
static void test_one_of_two(void **state)
{
    (void)state;
    lp_err err = {{0}};
    lp_wire *w = lp_wire_new(&err);
    char up[256], down[256];
    void *pull = lp_wire_socket(w, LP_SOCK_PULL, "tcp://127.0.0.1:0", &err);
    assert_int_equal(lp_wire_endpoint(pull, up, sizeof up, &err), 0);
    close(lp_test_listener(down, sizeof down));
    const char *eps[2] = {up, down};
    expect_down(w, eps, 2, 1, "cannot reach");
    lp_wire_close(pull);
    lp_wire_free(w); /* would hang if a socket were left open */
}

/* A port that accepts but never speaks ZeroMQ. */
static void test_silent_listener(void **state)
{
    (void)state;
    lp_err err = {{0}};
    lp_wire *w = lp_wire_new(&err);
    char ep[256];
    int fd = lp_test_listener(ep, sizeof ep);
    const char *eps[1] = {ep};
    expect_down(w, eps, 1, 0, "no ZeroMQ handshake completed");
    close(fd);
    lp_wire_free(w);
}

/* A port that answers with something else (an HTTP server, say). */
static void *answer_junk(void *arg)
{
    int fd = *(int *)arg;
    for (int i = 0; i < 8; i++) {
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            break;
        static const char junk[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
        ssize_t n = write(c, junk, sizeof junk - 1);
        (void)n;
        close(c);
    }
    return NULL;
}

static void test_junk_listener(void **state)
{
    (void)state;
    lp_err err = {{0}};
    lp_wire *w = lp_wire_new(&err);
    char ep[256];
    int fd = lp_test_listener(ep, sizeof ep);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, answer_junk, &fd), 0);
    const char *eps[1] = {ep};
    expect_down(w, eps, 1, 0, "not a layerpool endpoint");
    shutdown(fd, SHUT_RDWR);
    close(fd);
    pthread_join(th, NULL);
    lp_wire_free(w);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    lp_err err = {{0}};
    lp_wire *w = lp_wire_new(&err);
    const char *eps[1] = {"bogus://x"};
    void *socks[9];
    int failed = -1;
    assert_int_equal(lp_wire_push_checked(w, 1, eps, NULL, 100, socks, &failed, &err), -1);
    assert_int_equal(failed, 0);
    assert_non_null(strstr(err.msg, "bogus://x"));
    assert_int_equal(lp_wire_push_checked(w, 9, eps, NULL, 100, socks, &failed, &err), -1);
    lp_wire_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_up_delivers), cmocka_unit_test(test_closed_port),
        cmocka_unit_test(test_one_of_two),       cmocka_unit_test(test_silent_listener),
        cmocka_unit_test(test_junk_listener),    cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
