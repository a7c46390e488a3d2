/* `coord run --config` over workers on other hosts: each worker in a
 * network namespace of its own, every hop (coordinator -> worker 0 ->
 * worker 1 -> ... -> coordinator) crossing a veth link through a bridge,
 * as machines on a home switch. On 127.0.0.1 an address that means "this
 * machine" works by accident; here it cannot.
 *
 * - The reproduction of a pool across hosts: one worker on another host,
 *   "Once upon a time", 8 tokens, text equal to one process.
 * - stories260K and a synthetic Q4_K_M model on 1, 2 and 3 workers, weights
 *   (a) from the workers' own files and (b) as shards streamed into their
 *   caches: greedy ids equal to one process and to llama.cpp.
 * Workers bind their own address, or 0.0.0.0 (addressed at the host the
 * coordinator reached them on). Skipped where namespaces cannot be made. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "support_ids.h"
#include "support_lab_pool.h"
#include "support_ref.h"

static void start(lab_pool *p, int n)
{
    const bool wildcard[LP_LAB_MAX] = {false, true, false, true};
    int rc = lab_pool_start(p, n, LP_LAB_SWITCH, wildcard);
    if (rc == 1)
        skip();
    assert_int_equal(rc, 0);
}

static void test_one_worker_on_another_host(void **state)
{
    (void)state;
    lab_pool p;
    start(&p, 1);
    char model[4096], cfg[2300], args[8192], one[4096], pool[4096], err[4096];
    lab_model("stories260K", model, sizeof model);
    const bool own[1] = {true};
    lab_pool_config(&p, "one.ini", model, 1, own, "", cfg, sizeof cfg);
    snprintf(args, sizeof args, "run -m %s -p 'Once upon a time' -n 8", model);
    assert_int_equal(lab_pool_coord(&p, args, one, sizeof one, err, sizeof err), 0);
    snprintf(args, sizeof args, "run --config %s -p 'Once upon a time' -n 8", cfg);
    int st = lab_pool_coord(&p, args, pool, sizeof pool, err, sizeof err);
    if (st != 0)
        fail_msg("coord run over a namespaced worker: exit %d: %s", st, err);
    assert_string_equal(pool, one);
    assert_true(strlen(one) > strlen("Once upon a time"));
    print_message("[ lab ] one worker on 10.77.0.11: \"%s\" as one process\n", pool);
    lab_pool_stop(&p);
}

static void run_ids(lab_pool *p, const char *how, const ref_case *c, int32_t *ids, int *n)
{
    char args[16384], out[8192], err[8192];
    int k = snprintf(args, sizeof args, "run %s -n %d --ids --ignore-eos --tokens ", how,
                     c->n_greedy);
    for (int i = 0; i < c->n_prompt; i++)
        k += snprintf(args + k, sizeof args - (size_t)k, "%s%d", i ? "," : "", c->prompt[i]);
    int st = lab_pool_coord(p, args, out, sizeof out, err, sizeof err);
    if (st != 0)
        fail_msg("coord run %s: exit %d: %s", how, st, err);
    *n = lp_test_parse_ids(out, ids, 64);
    assert_true(*n > 0);
}

/* One model on the first n workers, weights by (a) or (b). */
static void check_pool(lab_pool *p, const char *stem, int n, bool own_files)
{
    char model[4096], cfg[2300], how[4200], name[64];
    ref_model m;
    assert_int_equal(ref_load(stem, &m), 0);
    const ref_case *c = &m.cases[m.n_cases - 1];
    lab_model(stem, model, sizeof model);
    const bool own[LP_LAB_MAX] = {own_files, own_files, own_files, own_files};
    snprintf(name, sizeof name, "%s-%d-%s.ini", stem, n, own_files ? "a" : "b");
    lab_pool_config(p, name, model, n, own, "", cfg, sizeof cfg);
    int32_t one[64], pool[64];
    int n_one, n_pool;
    snprintf(how, sizeof how, "-m %s -c 256", model);
    run_ids(p, how, c, one, &n_one);
    snprintf(how, sizeof how, "--config %s", cfg);
    run_ids(p, how, c, pool, &n_pool);
    assert_int_equal(n_pool, n_one);
    for (int i = 0; i < n_one; i++)
        if (pool[i] != one[i])
            fail_msg("%s on %d namespaced workers (%s): id %d is %d, one process %d", stem, n,
                     own_files ? "own files" : "streamed shards", i, pool[i], one[i]);
    bool noise;
    int bad = ref_greedy_mismatch(c, pool, n_pool, &noise);
    if (bad >= 0)
        fail_msg("%s on %d workers: step %d differs from llama.cpp", stem, n, bad);
    ref_free(&m);
}

static void test_pools_across_hosts(void **state)
{
    (void)state;
    const char *models[] = {"stories260K", "synth-llama-Q4_K_M"};
    lab_pool p;
    start(&p, 3);
    int runs = 0;
    for (int mi = 0; mi < 2; mi++)
        for (int n = 1; n <= 3; n++)
            for (int own = 1; own >= 0; own--, runs++)
                check_pool(&p, models[mi], n, own);
    print_message("[ lab ] %d pools of 1-3 workers in namespaces (own files and streamed "
                  "shards) equal one process and llama.cpp\n", runs);
    lab_pool_stop(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_worker_on_another_host),
        cmocka_unit_test(test_pools_across_hosts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
