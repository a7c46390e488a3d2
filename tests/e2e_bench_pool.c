/* `coord bench-pool` end to end on stories260K: workers in network
 * namespaces on veth links capped by tc, every dtype on the wire, one and
 * two sessions; the CSV, JSON and charts it leaves, and the figures in
 * them that must hold: bytes per token per hop within a row of the dtype
 * plus 64 bytes, f16 under f32 and q8_0 under f16, a model prediction
 * beside every layerpool point. Without root (no namespaces) the bench
 * falls back to 127.0.0.1 and says so; bad options are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

enum { OUT_CAP = 1 << 16, N_EMBD = 64 /* stories260K */ };

static int bench(const char *args, const char *dir, char *out)
{
    char bin[4096], model[4096], cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s' bench-pool -m '%s' -o '%s' %s 2>&1",
             lp_test_bin(bin, sizeof bin, "coord"),
             lp_test_shared(model, sizeof model, "models/stories260K.gguf"), dir, args);
    return lp_test_run(cmd, out, OUT_CAP);
}

typedef struct row {
    char engine[32], link[16], dtype[8];
    int shards, sessions;
    double tg, pp, hop, model_tg;
} row;

/* The CSV's rows (the columns this test reads). */
static int read_csv(const char *dir, row *rows, int cap)
{
    char path[4200], line[2048];
    snprintf(path, sizeof path, "%s/bench-pool.csv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(strstr(line, "engine,shards,threads,link"));
    int n = 0;
    while (n < cap && fgets(line, sizeof line, f)) {
        row *r = &rows[n++];
        char *save = NULL, *c[32];
        int k = 0;
        for (char *t = strtok_r(line, ",", &save); t && k < 32; t = strtok_r(NULL, ",", &save))
            c[k++] = t;
        assert_true(k >= 25);
        snprintf(r->engine, sizeof r->engine, "%s", c[0]);
        r->shards = atoi(c[1]);
        snprintf(r->link, sizeof r->link, "%s", c[3]);
        snprintf(r->dtype, sizeof r->dtype, "%s", c[5]);
        r->sessions = atoi(c[6]);
        r->tg = atof(c[7]);
        r->pp = atof(c[13]);
        r->hop = atof(c[17]);
        r->model_tg = atof(c[22]);
    }
    fclose(f);
    return n;
}

static const row *find(const row *rows, int n, int shards, const char *link, const char *dtype,
                       int sessions)
{
    for (int i = 0; i < n; i++)
        if (rows[i].shards == shards && !strcmp(rows[i].link, link) &&
            !strcmp(rows[i].dtype, dtype) && rows[i].sessions == sessions)
            return &rows[i];
    return NULL;
}

static bool exists(const char *dir, const char *name)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 && st.st_size > 0;
}

static void test_sweep_over_links(void **state)
{
    (void)state;
    char dir[4096], *out = malloc(OUT_CAP);
    lp_test_tmpdir(dir, sizeof dir);
    int rc = bench("--shards 1,2 --links unlimited,100mbit --dtypes f32,f16,q8_0 "
                   "--sessions 1,2 -p 32 -n 6 -r 1", dir, out);
    if (rc != 0)
        fail_msg("bench-pool failed (%d):\n%s", rc, out);
    if (strstr(out, "no link emulation")) {
        print_message("[ bench-pool ] no namespaces here: loopback only\n");
        free(out);
        lp_test_rmtree(dir);
        skip();
    }
    assert_non_null(strstr(out, "workers in network namespaces on veth links"));
    row rows[64];
    int n = read_csv(dir, rows, 64);
    assert_int_equal(n, 2 * 3 * 2 * 2); /* shards x dtypes x links x sessions */
    const double size[3] = {4, 2, 34.0 / 32};
    const char *dt[3] = {"f32", "f16", "q8_0"};
    double hop[3];
    for (int d = 0; d < 3; d++) {
        const row *r = find(rows, n, 2, "100mbit", dt[d], 1);
        assert_non_null(r);
        hop[d] = r->hop;
        assert_true(r->hop > N_EMBD * size[d] && r->hop <= N_EMBD * size[d] + 64);
        assert_true(r->tg > 0 && r->pp > 0 && r->model_tg > 0);
        assert_non_null(find(rows, n, 2, "unlimited", dt[d], 2));
    }
    assert_true(hop[1] < hop[0] && hop[2] < hop[1]);
    print_message("[ bench-pool ] 2 shards at 100 Mbit: %.0f / %.0f / %.0f B per token per hop "
                  "(f32 / f16 / q8_0)\n", hop[0], hop[1], hop[2]);
    assert_true(exists(dir, "bench-pool.json"));
    size_t len;
    char path[4200];
    snprintf(path, sizeof path, "%s/bench-pool.json", dir);
    char *json = lp_test_read_file(path, &len);
    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "points")), n);
    cJSON_Delete(root);
    free(json);
    if (system("command -v gnuplot >/dev/null 2>&1") == 0)
        for (int k = 0; k < 3; k++) {
            const char *what[3] = {"decode", "prompt", "bytes"};
            char svg[64], png[64];
            snprintf(svg, sizeof svg, "bench-pool-%s.svg", what[k]);
            snprintf(png, sizeof png, "bench-pool-%s.png", what[k]);
            assert_true(exists(dir, svg) && exists(dir, png));
        }
    free(out);
    lp_test_rmtree(dir);
}

static void test_loopback(void **state)
{
    (void)state;
    char dir[4096], *out = malloc(OUT_CAP);
    lp_test_tmpdir(dir, sizeof dir);
    int rc = bench("--loopback --shards 2 --links unlimited,1gbit --sessions 1 -p 16 -n 4 -r 1",
                   dir, out);
    if (rc != 0)
        fail_msg("bench-pool --loopback failed (%d):\n%s", rc, out);
    assert_non_null(strstr(out, "workers on 127.0.0.1 (no link caps)"));
    row rows[8];
    assert_int_equal(read_csv(dir, rows, 8), 1); /* a cap needs the lab: skipped */
    assert_string_equal(rows[0].link, "unlimited");
    free(out);
    lp_test_rmtree(dir);
}

static void test_refused(void **state)
{
    (void)state;
    char dir[4096], *out = malloc(OUT_CAP);
    lp_test_tmpdir(dir, sizeof dir);
    assert_int_equal(bench("--links 5gbit", dir, out), 2);
    assert_non_null(strstr(out, "--links: unknown '5gbit'"));
    assert_int_equal(bench("--shards 0", dir, out), 2);
    assert_int_equal(bench("--dtypes f8", dir, out), 2);
    char bin[4096], cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' bench-pool -m /nonexistent.gguf --loopback 2>&1",
             lp_test_bin(bin, sizeof bin, "coord"));
    assert_int_equal(lp_test_run(cmd, out, OUT_CAP), 1);
    assert_non_null(strstr(out, "cannot open /nonexistent.gguf"));
    free(out);
    lp_test_rmtree(dir);
}

/* The 70B table: one row per pool, decode tok/s from the model. */
static void test_predict(void **state)
{
    (void)state;
    char bin[4096], cmd[8192], *out = malloc(OUT_CAP);
    snprintf(cmd, sizeof cmd, "'%s' bench-pool --predict 2>&1", lp_test_bin(bin, sizeof bin, "coord"));
    assert_int_equal(lp_test_run(cmd, out, OUT_CAP), 0);
    const char *rows[] = {"| 3 laptops", "| 3 desktops", "| 4 mini PCs"};
    for (int i = 0; i < 3; i++) {
        const char *r = strstr(out, rows[i]);
        assert_non_null(r);
        double triad, gflops, tg;
        char link[64];
        if (sscanf(strchr(r + 1, '|') + 1, " %63[^|]| %lf | %lf | %lf", link, &triad, &gflops, &tg) != 4)
            fail_msg("row: %.200s", r);
        /* decoding reads 42.5 GB a token at 85 % of the pool's slowest triad, one after another */
        if (!(tg > 0.95 * triad * 0.85 / 42.5 && tg <= triad * 0.85 / 42.5))
            fail_msg("%s: %g tok/s from a triad of %g GB/s", rows[i], tg, triad);
    }
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep_over_links),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_predict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
