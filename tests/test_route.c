/* test_route.c — endpoints split and joined, loopback and wildcard hosts,
 * the local address that reaches a peer, and TCP probes (refused,
 * answered, unresolvable), all on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "route.h"
#include "support_net.h"

static void test_split_join(void **state)
{
    (void)state;
    char host[64], out[128];
    int port;
    lp_err err = {{0}};
    assert_int_equal(lp_route_split("tcp://10.0.0.2:5555", host, sizeof host, &port, &err), 0);
    assert_string_equal(host, "10.0.0.2");
    assert_int_equal(port, 5555);
    assert_int_equal(lp_route_split("tcp://[fd00::1]:7", host, sizeof host, &port, &err), 0);
    assert_string_equal(host, "fd00::1");
    assert_int_equal(port, 7);
    assert_int_equal(lp_route_split("tcp://*:*", host, sizeof host, &port, &err), 0);
    assert_string_equal(host, "*");
    assert_int_equal(port, 0);
    static const char *const bad[] = {"ipc:///x", "tcp://h", "tcp://:5", "tcp://h:65536",
                                      "tcp://h:x", "tcp://[::1:5", "tcp://h:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = 0;
        assert_int_equal(lp_route_split(bad[i], host, sizeof host, &port, &err), -1);
        assert_non_null(strstr(err.msg, bad[i]));
    }
    assert_int_equal(lp_route_split("tcp://a-very-long-host-name:1", host, 8, &port, &err), -1);
    lp_route_join("10.0.0.2", 5556, out, sizeof out);
    assert_string_equal(out, "tcp://10.0.0.2:5556");
    lp_route_join("fd00::1", 5556, out, sizeof out);
    assert_string_equal(out, "tcp://[fd00::1]:5556");
}

static void test_split_host(void **state)
{
    (void)state;
    char host[64];
    int port;
    lp_err err = {{0}};
    assert_int_equal(lp_route_split_host("192.168.1.2", host, sizeof host, &port, &err), 0);
    assert_string_equal(host, "192.168.1.2");
    assert_int_equal(port, 0);
    assert_int_equal(lp_route_split_host("coord.lan:5600", host, sizeof host, &port, &err), 0);
    assert_string_equal(host, "coord.lan");
    assert_int_equal(port, 5600);
    assert_int_equal(lp_route_split_host("fd00::2", host, sizeof host, &port, &err), 0);
    assert_string_equal(host, "fd00::2");
    assert_int_equal(port, 0);
    assert_int_equal(lp_route_split_host("[fd00::2]:9", host, sizeof host, &port, &err), 0);
    assert_string_equal(host, "fd00::2");
    assert_int_equal(port, 9);
    static const char *const bad[] = {"", "h:0", "h:70000", "h:", ":5", "a b", "h/x",
                                      "[fd00::2", "[fd00::2]x", "[]:5", "tcp://h:5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (lp_route_split_host(bad[i], host, sizeof host, &port, &err) != -1)
            fail_msg("'%s' accepted", bad[i]);
}

static void test_kinds_of_host(void **state)
{
    (void)state;
    assert_true(lp_route_is_loopback("127.0.0.1"));
    assert_true(lp_route_is_loopback("127.8.9.10"));
    assert_true(lp_route_is_loopback("::1"));
    assert_true(lp_route_is_loopback("localhost"));
    assert_false(lp_route_is_loopback("10.0.0.1"));
    assert_false(lp_route_is_loopback("128.0.0.1"));
    assert_false(lp_route_is_loopback("fd00::1"));
    assert_true(lp_route_is_wildcard("*"));
    assert_true(lp_route_is_wildcard("0.0.0.0"));
    assert_true(lp_route_is_wildcard("::"));
    assert_false(lp_route_is_wildcard("10.0.0.1"));
    assert_true(lp_route_is_local("127.0.0.1"));
    assert_false(lp_route_is_local("192.0.2.77")); /* TEST-NET-1: nobody's */
}

static void test_source(void **state)
{
    (void)state;
    char a[64];
    lp_err err = {{0}};
    assert_int_equal(lp_route_source("127.0.0.1", a, sizeof a, &err), 0);
    assert_string_equal(a, "127.0.0.1");
    assert_int_equal(lp_route_source("127.3.4.5", a, sizeof a, &err), 0);
    assert_true(lp_route_is_loopback(a));
    assert_int_equal(lp_route_source("no-such-host.invalid", a, sizeof a, &err), -1);
    assert_non_null(strstr(err.msg, "no-such-host.invalid"));
}

static void test_probe(void **state)
{
    (void)state;
    char ep[64], why[256];
    int fd = lp_test_listener(ep, sizeof ep);
    assert_int_equal(lp_route_probe(ep, 1000, why, sizeof why), 0);
    close(fd); /* nobody listens there now */
    assert_int_equal(lp_route_probe(ep, 1000, why, sizeof why), -1);
    assert_string_equal(why, "Connection refused");
    assert_int_equal(lp_route_probe("tcp://no-such-host.invalid:5", 500, why, sizeof why), -1);
    assert_non_null(strstr(why, "cannot resolve 'no-such-host.invalid'"));
    assert_int_equal(lp_route_probe("bogus", 500, why, sizeof why), -1);
    assert_non_null(strstr(why, "not a tcp:// endpoint"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_join), cmocka_unit_test(test_split_host),
        cmocka_unit_test(test_kinds_of_host), cmocka_unit_test(test_source),
        cmocka_unit_test(test_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
