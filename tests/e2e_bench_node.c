/* `coord bench-node` as a script reads it:
 *   - one line per test per thread count, "ppN t=T X tok/s (min A, max B,
 *     R runs)", with min <= median <= max and the run count asked for;
 *   - the weight bytes a token reads equal the model's tensor bytes with
 *     one row of token_embd (all of it when the head is tied to it),
 *     computed here from the file, and the bandwidth line is that times
 *     the tg median;
 *   - a triad figure for every thread count;
 *   - with LLAMA_BENCH naming a program that prints llama-bench's JSON,
 *     llama.cpp's median/min/max of its samples_ts and ours/llama.cpp;
 *     one that fails makes bench-node fail and say what it printed.
 * (Stand-in llama-bench scripts: the real one is not part of the build.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "gguf.h"
#include "support.h"

enum { OUT_CAP = 1 << 16 };

static int bench(const char *env, const char *stem, const char *args, char *out)
{
    char bin[4096], model[4096], rel[256], cmd[16384];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    snprintf(cmd, sizeof cmd, "%s '%s' bench-node -m '%s' %s 2>&1", env,
             lp_test_bin(bin, sizeof bin, "coord"), lp_test_shared(model, sizeof model, rel),
             args);
    return lp_test_run(cmd, out, OUT_CAP);
}

/* The line of out that starts with prefix (and, if want_t > 0, names
 * t=want_t), or NULL. */
static const char *line_of(const char *out, const char *prefix, int want_t)
{
    char t[16];
    snprintf(t, sizeof t, "t=%d ", want_t);
    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *end = strchr(l, '\n');
        size_t len = end ? (size_t)(end - l) : strlen(l);
        if (strncmp(l, prefix, strlen(prefix)) != 0)
            continue;
        const char *tt = strstr(l, t);
        if (want_t <= 0 || (tt && tt < l + len))
            return l;
    }
    return NULL;
}

/* "pp16    t=1  123.45 tok/s  (min 1.00, max 2.00, 3 runs)" */
static void parse_test(const char *out, const char *label, int t, int runs, double *median)
{
    const char *l = line_of(out, label, t);
    if (!l)
        fail_msg("no '%s' line for t=%d in:\n%s", label, t, out);
    char lab[32];
    int tt, n;
    double med, lo, hi;
    if (sscanf(l, "%31s t=%d %lf tok/s (min %lf, max %lf, %d runs)", lab, &tt, &med, &lo, &hi,
               &n) != 6)
        fail_msg("cannot read: %.200s", l);
    assert_string_equal(lab, label);
    assert_int_equal(tt, t);
    assert_int_equal(n, runs);
    assert_true(med > 0 && lo <= med && med <= hi);
    *median = med;
}

/* Every tensor's bytes, token_embd with one row unless it is the head. */
static unsigned long long expected_token_bytes(const char *stem)
{
    char rel[256], path[4096];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open(lp_test_shared(path, sizeof path, rel), &err);
    assert_non_null(g);
    const bool tied = lp_gguf_find_tensor(g, "output.weight") == NULL;
    unsigned long long sum = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const lp_gguf_tensor *t = &g->tensors[i];
        bool embd = t->name.len == 17 && !memcmp(t->name.ptr, "token_embd.weight", 17);
        sum += embd && !tied ? t->nbytes / t->ne[1] : t->nbytes;
    }
    lp_gguf_close(g);
    return sum;
}

static void check_bandwidth(const char *out, const char *stem, int t, double tg)
{
    const char *l = line_of(out, "bytes/token", t);
    assert_non_null(l);
    const char *paren = strchr(l, '(');
    unsigned long long bytes;
    double gbs;
    assert_non_null(paren);
    assert_int_equal(sscanf(paren, "(%llu B)", &bytes), 1);
    assert_true(bytes == expected_token_bytes(stem));
    assert_non_null(strstr(l, "= "));
    assert_int_equal(sscanf(strstr(l, "= ") + 2, "%lf GB/s", &gbs), 1);
    assert_true(fabs(gbs - bytes * tg / 1e9) <= 0.01 + 1e-3 * gbs);
    const char *tr = line_of(out, "triad", t);
    double triad;
    assert_non_null(tr);
    assert_int_equal(sscanf(strstr(tr, "t=") + 2, "%*d %lf GB/s", &triad), 1);
    assert_true(triad > 0);
}

static void test_lines_scripts_read(void **state)
{
    (void)state;
    static char out[OUT_CAP];
    const char *stems[] = {"stories260K", "synth-llama31-tied-Q4_K_M"};
    for (int k = 0; k < 2; k++) {
        int st = bench("LLAMA_BENCH=", stems[k],
                       "-p 16 -n 8 -r 3 -t 1,2 --triad-reps 2 --triad-mib 4", out);
        if (st != 0)
            fail_msg("exit %d: %s", st, out);
        for (int t = 1; t <= 2; t++) {
            double pp, tg;
            parse_test(out, "pp16", t, 3, &pp);
            parse_test(out, "tg8", t, 3, &tg);
            check_bandwidth(out, stems[k], t, tg);
        }
        assert_non_null(strstr(out, "llama.cpp:  not run"));
    }
}

static void write_script(const char *path, const char *body)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(body, f);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
}

static void test_llama_bench(void **state)
{
    (void)state;
    static char out[OUT_CAP];
    char dir[4096], ok[4200], bad[4200], env[4300];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    snprintf(ok, sizeof ok, "%s/llama-bench", dir);
    /* Its arguments must be ours; it answers as llama-bench -o json. */
    write_script(ok, "#!/bin/sh\n"
                     "case \"$*\" in *'-p 16 -n 8 -t 1 -r 2 -o json'*) ;; *) exit 9;; esac\n"
                     "echo 'loading...' >&2\n"
                     "cat <<EOF\n[\n"
                     " {\"n_threads\": 1, \"n_prompt\": 16, \"n_gen\": 0, \"avg_ts\": 200,\n"
                     "  \"samples_ts\": [ 300.0, 100.0, 200.0 ]},\n"
                     " {\"n_threads\": 1, \"n_prompt\": 0, \"n_gen\": 8, \"avg_ts\": 50.0,\n"
                     "  \"stddev_ts\": 1.5}\n]\nEOF\n");
    snprintf(env, sizeof env, "LLAMA_BENCH='%s'", ok);
    int st = bench(env, "stories260K", "-p 16 -n 8 -r 2 -t 1 --triad-reps 1 --triad-mib 4", out);
    if (st != 0)
        fail_msg("exit %d: %s", st, out);
    double pp, tg, lpp, ltg, ratio;
    parse_test(out, "pp16", 1, 2, &pp);
    parse_test(out, "tg8", 1, 2, &tg);
    double lo, hi;
    int n;
    const char *l = line_of(out, "llama.cpp pp16", 1);
    assert_non_null(l);
    assert_int_equal(sscanf(l, "llama.cpp pp16 t=1 %lf tok/s (min %lf, max %lf, %d runs)", &lpp,
                            &lo, &hi, &n), 4);
    assert_true(lpp == 200.0 && lo == 100.0 && hi == 300.0 && n == 3);
    l = line_of(out, "llama.cpp tg8", 1); /* no samples_ts: its avg_ts */
    assert_non_null(l);
    assert_int_equal(sscanf(l, "llama.cpp tg8 t=1 %lf tok/s (min %lf, max %lf, %d runs)", &ltg,
                            &lo, &hi, &n), 4);
    assert_true(ltg == 50.0 && lo == 50.0 && hi == 50.0 && n == 0);
    l = strstr(out, "pp16 ours/llama.cpp ");
    assert_non_null(l);
    assert_int_equal(sscanf(l, "pp16 ours/llama.cpp %lf", &ratio), 1);
    assert_true(fabs(ratio - pp / 200.0) <= 0.006 * ratio + 0.006);

    snprintf(bad, sizeof bad, "%s/broken-bench", dir);
    write_script(bad, "#!/bin/sh\necho 'error: failed to load model' >&2\nexit 3\n");
    snprintf(env, sizeof env, "LLAMA_BENCH='%s'", bad);
    st = bench(env, "stories260K", "-p 16 -n 8 -r 1 -t 1 --triad-reps 1 --triad-mib 4", out);
    assert_int_equal(st, 1);
    assert_non_null(strstr(out, "failed (status 3): error: failed to load model"));
    lp_test_rmtree(dir);
}

/* --idle-ms sleeps after each generated token without counting it: the
 * run takes the sleeps' time, the rate stays far above one token a sleep. */
static void test_idle_not_counted(void **state)
{
    (void)state;
    static char out[OUT_CAP];
    double t0 = lp_now_s();
    int st = bench("LLAMA_BENCH=", "stories260K",
                   "-p 0 -n 8 -r 1 -t 1 --idle-ms 25 --triad-reps 1 --triad-mib 4", out);
    double secs = lp_now_s() - t0;
    if (st != 0)
        fail_msg("exit %d: %s", st, out);
    double tg;
    parse_test(out, "tg8", 1, 1, &tg);
    assert_true(tg > 100); /* 40 a second if the sleeps counted */
    assert_true(secs >= 2 * 8 * 0.025); /* warm-up and run both slept */
    assert_non_null(strstr(out, "25 ms asleep after each token"));
}

static void test_bad_arguments(void **state)
{
    (void)state;
    static char out[OUT_CAP];
    assert_int_equal(bench("", "stories260K", "-t 0", out), 2);
    assert_non_null(strstr(out, "-t wants"));
    assert_int_equal(bench("", "stories260K", "-r 0", out), 2);
    assert_int_equal(bench("", "stories260K", "--what 1", out), 2);
    assert_non_null(strstr(out, "unknown option"));
    assert_int_equal(bench("", "stories260K", "--idle-ms -1", out), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_scripts_read),
        cmocka_unit_test(test_llama_bench),
        cmocka_unit_test(test_idle_not_counted),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
