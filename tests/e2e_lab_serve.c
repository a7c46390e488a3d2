/* `coord serve` over workers on other hosts (network namespaces on one
 * bridge, lab.h): 1, 2 and 3 workers, weights from their own
 * files and from streamed shards, each completion equal to llama.cpp's
 * greedy text, and /v1/pool showing each worker's route (reached from,
 * sends to, result endpoint). Then the example cluster files of configs/,
 * with their workers' addresses mapped onto the lab's hosts and their 70B
 * model swapped for stories260K, planned live and served as written
 * (workers started as their comments say, on 0.0.0.0:5555). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "support_lab_pool.h"
#include "support_serve.h"

static void start(lab_pool *p, int n, const bool *wildcard)
{
    int rc = lab_pool_start(p, n, LP_LAB_SWITCH, wildcard);
    if (rc == 1)
        skip();
    assert_int_equal(rc, 0);
}

static void serve(const char *cfg, lp_test_server *srv)
{
    char log[2400];
    /* a log of its own: an old one could show the port of a server gone */
    snprintf(log, sizeof log, "%s.log", cfg);
    if (lp_test_server_start(srv, cfg, "--listen 127.0.0.1:0", log, SV_T_TIMEOUT_MS) != 0) {
        size_t n;
        lp_test_server_stop(srv, 5000);
        char *text = lp_test_read_file(log, &n);
        fail_msg("coord serve over %s did not come up:\n%s", cfg, text ? text : "");
    }
}

/* Every case's completion is llama.cpp's text. */
static void expect_greedy(int port, const sv_t_ref *ref, const char *auth)
{
    for (int c = 0; c < SV_T_CASES; c++) {
        char body[1024];
        int st;
        snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"max_tokens\":%d,\"temperature\":0}",
                 ref->prompt[c], ref->n_gen[c]);
        cJSON *o = sv_t_post(port, "/v1/completions", body, auth, &st);
        assert_int_equal(st, 200);
        assert_string_equal(sv_t_str(o, "choices.0.text"), ref->want[c]);
        cJSON_Delete(o);
    }
}

/* /v1/pool: worker i reached from us at 10.77.0.1, sending hidden states
 * to the next one's data endpoint and results to us; with no API key
 * (auth NULL) none of those addresses is shown. */
static void expect_routes(int port, const lab_pool *p, int n, const char *auth)
{
    int st;
    cJSON *o = sv_t_get_with(port, "/v1/pool", auth, &st);
    assert_int_equal(st, 200);
    for (int i = 0; !auth && i < n; i++) {
        char key[64];
        snprintf(key, sizeof key, "workers.%d.result_endpoint", i);
        assert_null(sv_t_str(o, key));
        snprintf(key, sizeof key, "workers.%d.data_endpoint", i);
        assert_null(sv_t_str(o, key));
    }
    for (int i = 0; auth && i < n; i++) {
        char key[64], want[64];
        snprintf(key, sizeof key, "workers.%d.reached_from", i);
        assert_string_equal(sv_t_str(o, key), p->lab.us[i]);
        snprintf(key, sizeof key, "workers.%d.sends_to", i);
        snprintf(want, sizeof want, "tcp://%s:5556", i + 1 < n ? p->lab.addr[i + 1] : "");
        assert_string_equal(sv_t_str(o, key), i + 1 < n ? want : "");
        snprintf(key, sizeof key, "workers.%d.result_endpoint", i);
        snprintf(want, sizeof want, "tcp://%s:", p->lab.us[i]);
        assert_non_null(strstr(sv_t_str(o, key), want));
        snprintf(key, sizeof key, "workers.%d.data_endpoint", i);
        snprintf(want, sizeof want, "tcp://%s:5556", p->lab.addr[i]);
        assert_string_equal(sv_t_str(o, key), want);
    }
    cJSON_Delete(o);
}

static const char *const LAB_AUTH = "Authorization: Bearer lab-key\r\n";

static void test_serve_across_hosts(void **state)
{
    (void)state;
    const bool wildcard[3] = {false, true, false};
    lab_pool p;
    sv_t_ref ref;
    start(&p, 3, wildcard);
    sv_t_ref_load(&ref);
    char model[4096], cfg[2300], name[32];
    lab_model("stories260K", model, sizeof model);
    for (int n = 1; n <= 3; n++)
        for (int own = 1; own >= 0; own--) {
            const bool files[3] = {own, own, own};
            lp_test_server srv;
            snprintf(name, sizeof name, "serve-%d-%s.ini", n, own ? "a" : "b");
            lab_pool_config(&p, name, model, n, files, "api_key = lab-key", cfg, sizeof cfg);
            serve(cfg, &srv);
            expect_greedy(srv.port, &ref, LAB_AUTH);
            expect_routes(srv.port, &p, n, LAB_AUTH);
            sv_t_stop_cleanly(&srv);
        }
    print_message("[ lab ] coord serve over 1-3 namespaced workers, own files and streamed "
                  "shards: llama.cpp's text, routes in /v1/pool\n");
    sv_t_ref_free(&ref);
    lab_pool_stop(&p);
}

/* configs/NAME with its worker addresses (192.168.1.x, in the file's
 * order) mapped onto the lab's hosts and every model path onto model. */
static char *lab_copy(const lab_pool *p, const char *name, const char *model, char *out,
                      size_t cap)
{
    char src[256], line[1024];
    snprintf(src, sizeof src, "configs/%s", name);
    snprintf(out, cap, "%s/%s", p->dir, name);
    FILE *in = fopen(src, "r"), *f = fopen(out, "w");
    assert_non_null(in);
    assert_non_null(f);
    int k = 0;
    while (fgets(line, sizeof line, in)) {
        if (!strncmp(line, "endpoint = tcp://192.168.1.", 27))
            fprintf(f, "endpoint = tcp://%s:5555\n", p->lab.addr[k++]);
        else if (!strncmp(line, "path = ", 7) || !strncmp(line, "model_path = ", 13))
            fprintf(f, "%.*s= %s\n", (int)(strchr(line, '=') - line), line, model);
        else
            fputs(line, f);
    }
    fclose(in);
    fclose(f);
    assert_int_equal(k, 3);
    return out;
}

static void check_example(lab_pool *p, const char *name, const sv_t_ref *ref, const char *auth)
{
    char model[4096], cfg[2300], args[4096], out[8192], err[4096];
    lab_model("stories260K", model, sizeof model);
    lab_copy(p, name, model, cfg, sizeof cfg);
    snprintf(args, sizeof args, "plan --config %s --live", cfg);
    if (lab_pool_coord(p, args, out, sizeof out, err, sizeof err) != 0 ||
        !strstr(out, "fits: every worker within its budget"))
        fail_msg("%s: coord plan --live:\n%s%s", name, out, err);
    lp_test_server srv;
    serve(cfg, &srv);
    expect_greedy(srv.port, ref, auth);
    expect_routes(srv.port, p, 3, auth);
    sv_t_stop_cleanly(&srv);
}

static void test_config_examples(void **state)
{
    (void)state;
    const bool wildcard[3] = {true, true, true};
    lab_pool p;
    sv_t_ref ref;
    start(&p, 3, wildcard);
    sv_t_ref_load(&ref);
    check_example(&p, "home-3x16g-70b.ini", &ref, NULL);
    check_example(&p, "mixed.ini", &ref, "Authorization: Bearer change-me\r\n");
    print_message("[ lab ] configs/home-3x16g-70b.ini and configs/mixed.ini served across "
                  "namespaces\n");
    sv_t_ref_free(&ref);
    lab_pool_stop(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serve_across_hosts),
        cmocka_unit_test(test_config_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
