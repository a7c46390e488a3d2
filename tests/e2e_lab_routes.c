/* The addresses a pool hands its workers, tested across namespaces
 * (lab.h): every worker must be told addresses it can reach, and
 * one it cannot reach fails the load within seconds, naming the worker
 * and the address, never a silent hang.
 *
 * - [server] advertise wrong (an address nobody has; 127.0.0.1, which on
 *   the worker's host is the worker's own machine): coord run fails in
 *   under 10 s naming the worker and the address; right, with a fixed
 *   port: the pool runs and the workers send there.
 * - Hosts on links of their own, routed through the coordinator's host:
 *   each worker reaches us at another of our addresses, and is told that
 *   one; the pool equals one process.
 * - The same links not routed: the first worker cannot reach the next
 *   one's data endpoint, and the load says so.
 * - IPv6: workers at [fd77::11] and on [::] (both families), every
 *   address bracketed, results to our IPv6 address.
 * - coord plan --config --live shows each worker's route. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "support.h"
#include "support_lab_pool.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void start(lab_pool *p, int n, lp_lab_mode mode)
{
    int rc = lab_pool_start(p, n, mode, NULL);
    if (rc == 1)
        skip();
    assert_int_equal(rc, 0);
}

static const char PROMPT[] = "-p 'Once upon a time' -n 8";

/* coord run over cfg must fail within 10 s, its message holding every
 * one of want[] (NULL-terminated). */
static void expect_load_fails(lab_pool *p, const char *cfg, const char *const *want)
{
    char args[4096], out[4096], err[8192];
    snprintf(args, sizeof args, "run --config %s %s", cfg, PROMPT);
    int64_t t0 = now_ms();
    int st = lab_pool_coord(p, args, out, sizeof out, err, sizeof err);
    int64_t took = now_ms() - t0;
    if (st == 0)
        fail_msg("%s: coord run succeeded: %s", cfg, out);
    for (int i = 0; want[i]; i++)
        if (!strstr(err, want[i]))
            fail_msg("%s: the error does not say '%s':\n%s", cfg, want[i], err);
    if (took >= 10000)
        fail_msg("%s: took %.1f s to fail", cfg, took / 1000.0);
    print_message("[ lab ] failed in %.1f s: %s", took / 1000.0, strstr(err, "coord run:"));
}

/* coord run over cfg equals one process; its stderr into err. */
static void expect_runs(lab_pool *p, const char *cfg, char *err, size_t cap)
{
    char model[4096], args[8192], one[4096], pool[4096];
    lab_model("stories260K", model, sizeof model);
    snprintf(args, sizeof args, "run -m %s %s", model, PROMPT);
    assert_int_equal(lab_pool_coord(p, args, one, sizeof one, NULL, 0), 0);
    snprintf(args, sizeof args, "run --config %s %s", cfg, PROMPT);
    int st = lab_pool_coord(p, args, pool, sizeof pool, err, cap);
    if (st != 0)
        fail_msg("%s: exit %d: %s", cfg, st, err);
    assert_string_equal(pool, one);
}

static void test_advertise(void **state)
{
    (void)state;
    lab_pool p;
    start(&p, 1, LP_LAB_SWITCH);
    char model[4096], cfg[2300], err[8192];
    lab_model("stories260K", model, sizeof model);
    const bool own[1] = {true};
    lab_pool_config(&p, "nobody.ini", model, 1, own, "advertise = 10.77.0.99", cfg, sizeof cfg);
    expect_load_fails(&p, cfg, (const char *const[]){"worker h0", "tcp://10.77.0.11:5555",
                                                     "result endpoint", "tcp://10.77.0.99:",
                                                     "advertise = 10.77.0.99", NULL});
    lab_pool_config(&p, "loop.ini", model, 1, own, "advertise = 127.0.0.1", cfg, sizeof cfg);
    expect_load_fails(&p, cfg, (const char *const[]){"worker h0", "tcp://127.0.0.1:",
                                                     "Connection refused", NULL});
    lab_pool_config(&p, "right.ini", model, 1, own, "advertise = 10.77.0.1:5600", cfg,
                    sizeof cfg);
    expect_runs(&p, cfg, err, sizeof err);
    assert_non_null(strstr(err, "sends to tcp://10.77.0.1:5600"));
    lab_pool_stop(&p);
}

/* Three hosts on three links: each worker is told our address on its own
 * link for results, and the next host's address for hidden states. */
static void test_routed(void **state)
{
    (void)state;
    lab_pool p;
    start(&p, 3, LP_LAB_ROUTED);
    char model[4096], cfg[2300], err[8192];
    lab_model("stories260K", model, sizeof model);
    const bool own[3] = {true, false, true};
    lab_pool_config(&p, "routed.ini", model, 3, own, "", cfg, sizeof cfg);
    expect_runs(&p, cfg, err, sizeof err);
    static const char *const want[] = {
        "on h0 (tcp://10.77.1.2:5555, reached from 10.77.1.1), sends to tcp://10.77.2.2:5556",
        "on h1 (tcp://10.77.2.2:5555, reached from 10.77.2.1) from its shard cache, sends to "
        "tcp://10.77.3.2:5556",
        "on h2 (tcp://10.77.3.2:5555, reached from 10.77.3.1), sends to tcp://10.77.3.1:"};
    for (int i = 0; i < 3; i++)
        if (!strstr(err, want[i]))
            fail_msg("no '%s' in:\n%s", want[i], err);
    lab_pool_stop(&p);
}

static void test_apart(void **state)
{
    (void)state;
    lab_pool p;
    start(&p, 2, LP_LAB_APART);
    char model[4096], cfg[2300];
    lab_model("stories260K", model, sizeof model);
    const bool own[2] = {true, true};
    lab_pool_config(&p, "apart.ini", model, 2, own, "", cfg, sizeof cfg);
    expect_load_fails(&p, cfg, (const char *const[]){"worker h0", "next worker's data endpoint",
                                                     "tcp://10.77.2.2:5556", NULL});
    lab_pool_stop(&p);
}

static void test_ipv6(void **state)
{
    (void)state;
    const char *listen[2] = {"tcp://[fd77::11]:5555", "tcp://[::]:5555"};
    const char *endpoint[2] = {"tcp://[fd77::11]:5555", "tcp://[fd77::12]:5555"};
    lab_pool p;
    int rc = lab_pool_start_on(&p, 2, LP_LAB_SWITCH, listen, endpoint);
    if (rc == 0 && !p.lab.v6) {
        print_message("[ lab ] this kernel has no IPv6: skipped\n");
        lab_pool_stop(&p);
        skip();
    }
    if (rc == 1)
        skip();
    assert_int_equal(rc, 0);
    char model[4096], cfg[2300], err[8192];
    lab_model("stories260K", model, sizeof model);
    const bool own[2] = {true, false};
    lab_pool_config(&p, "v6.ini", model, 2, own, "", cfg, sizeof cfg);
    expect_runs(&p, cfg, err, sizeof err);
    static const char *const want[] = {
        "on h0 (tcp://[fd77::11]:5555, reached from fd77::1), sends to tcp://[fd77::12]:5556",
        "on h1 (tcp://[fd77::12]:5555, reached from fd77::1) from its shard cache, sends to "
        "tcp://[fd77::1]:"};
    for (int i = 0; i < 2; i++)
        if (!strstr(err, want[i]))
            fail_msg("no '%s' in:\n%s", want[i], err);
    lab_pool_stop(&p);
}

static void test_plan_live(void **state)
{
    (void)state;
    lab_pool p;
    start(&p, 2, LP_LAB_SWITCH);
    char model[4096], cfg[2300], args[4096], out[8192], err[4096];
    lab_model("stories260K", model, sizeof model);
    lab_pool_config(&p, "plan.ini", model, 2, NULL, "", cfg, sizeof cfg);
    snprintf(args, sizeof args, "plan --config %s --live", cfg);
    assert_int_equal(lab_pool_coord(&p, args, out, sizeof out, err, sizeof err), 0);
    static const char *const want[] = {
        "h0           tcp://10.77.0.11:5555        10.77.0.1        tcp://10.77.0.12:5556 "
        "       tcp://10.77.0.1:",
        "h1           tcp://10.77.0.12:5555        10.77.0.1        -                    "
        "        tcp://10.77.0.1:"};
    for (int i = 0; i < 2; i++)
        if (!strstr(out, want[i]))
            fail_msg("no '%s' in:\n%s", want[i], out);
    lab_pool_stop(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_advertise),
        cmocka_unit_test(test_routed),
        cmocka_unit_test(test_apart),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_plan_live),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
