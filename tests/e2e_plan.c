/* `coord plan` as a user runs it: the table for a shared model and for the
 * shipped configs, the 70B-shaped model over 3x16 GiB (fits) and 2x16 GiB
 * (exit 1, and by how much), every synth shape and type by name (weights as
 * coord synth's file holds them), and clear errors for bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "size.h"
#include "support.h"
#include "synth.h"

/* Runs `coord plan ARGS` from the project root; stdout+stderr in out. */
static int plan(const char *args, char *out, size_t cap)
{
    char bin[4096], cmd[8192];
    snprintf(cmd, sizeof cmd, "%s plan %s 2>&1", lp_test_bin(bin, sizeof bin, "coord"), args);
    return lp_test_run(cmd, out, cap);
}

static void expect(const char *args, int status, const char *const *needles)
{
    char out[16384];
    int st = plan(args, out, sizeof out);
    if (st != status)
        fail_msg("coord plan %s: status %d (want %d)\n%s", args, st, status, out);
    for (; *needles; needles++)
        if (!strstr(out, *needles))
            fail_msg("coord plan %s: no '%s' in\n%s", args, *needles, out);
}

static void test_shared_model(void **state)
{
    (void)state;
    char model[4096], args[8192];
    lp_test_shared(model, sizeof model, "models/stories260K.gguf");
    /* 5 layers, speeds 1,1,2: a token's cost (the last layer's with the
     * head) split 1:1:2 ends nearest after 1, 2 and 2 layers. */
    snprintf(args, sizeof args, "-m %s --workers-mem 1G,1G,2G --workers-speed 1,1,2 -c 512",
             model);
    const char *fit[] = {"0 (1) +embed", "1-2 (2) ", "3-4 (2) +head", "context 512 x 1 session",
                         "fits: every worker within its budget", NULL};
    expect(args, 0, fit);
    /* Budgets far too small: the same table, marked, and what is missing. */
    snprintf(args, sizeof args, "-m %s --workers-mem 100K,100K", model);
    const char *nofit[] = {"OVER", "coord: plan: does not fit: needs ",
                           "the 2 workers offer 200.0 KiB",
                           "worker 0 cannot hold even one layer", NULL};
    expect(args, 1, nofit);
}

static void test_configs(void **state)
{
    (void)state;
    const char *local[] = {"local0", "local1", "context 512 x 4 sessions",
                           "fits: every worker within its budget", NULL};
    expect("--config configs/local-2.ini", 0, local);
    const char *home[] = {"laptop-a", "laptop-c", "+head", "fits", NULL};
    expect("--config configs/home-3x16g-70b.ini --shape llama70b-q4_k_m", 0, home);
    /* More sessions than the laptops hold. */
    const char *home4[] = {"does not fit: needs ", "the 3 workers offer 43.5 GiB", NULL};
    expect("--config configs/home-3x16g-70b.ini --shape llama70b-q4_k_m --sessions 4", 1,
           home4);
}

static void test_70b(void **state)
{
    (void)state;
    const char *fit[] = {"0-26 (27) +embed", "27-54 (28)", "55-79 (25) +head", "39.6 GiB",
                         "fits", NULL};
    expect("--shape llama70b-q4_k_m --workers-mem 16G,16G,16G -c 8192", 0, fit);
    const char *short2[] = {"coord: plan: does not fit: needs 42.5 GiB, the 2 workers offer "
                            "32.0 GiB (10.5 GiB short)",
                            "worker 1 (layers 41-79) needs 20.9 GiB of its 16.0 GiB", NULL};
    expect("--shape llama70b-q4_k_m --workers-mem 16G,16G -c 8192", 1, short2);
}

/* `coord plan --shape ARGS` on one worker: its weights column holds
 * lp_synth_totals' tensor bytes of the same shape and type. */
static void expect_synth_weights(const char *args, const char *shape, lp_ftype ft)
{
    lp_err err = {{0}};
    const lp_synth_opts o = {.shape = lp_synth_shape_find(shape), .ftype = ft, .n_threads = 1};
    lp_synth *s = lp_synth_new(&o, &err);
    if (!s)
        fail_msg("%s: %s", shape, err.msg);
    lp_synth_totals t;
    lp_synth_totals_get(s, &t);
    lp_synth_free(s);
    char want[32], out[16384];
    lp_size_format(t.tensor_bytes, want, sizeof want);
    assert_int_equal(plan(args, out, sizeof out), 0);
    const char *row = strstr(out, "+embed +head");
    assert_non_null(row);
    row += strlen("+embed +head");
    row += strspn(row, " ");
    if (strncmp(row, want, strlen(want)) != 0)
        fail_msg("coord plan %s: weights not %s in\n%s", args, want, out);
}

static void test_shapes(void **state)
{
    (void)state;
    const char *l8[] = {"plan for llama3-8b:Q4_K_M over 1 worker", "model: llama, 32 layers",
                        "fits", NULL};
    expect("--shape llama3-8b:q4_k_m --workers-mem 16G", 0, l8);
    expect_synth_weights("--shape llama3-8b:q4_k_m --workers-mem 16G", "llama3-8b",
                         LP_FTYPE_Q4_K_M);
    const char *q[] = {"plan for qwen2.5-7b:Q8_0 over 1 worker", "model: qwen2, 28 layers",
                       "fits", NULL};
    expect("--shape qwen2.5-7b --type Q8_0 --workers-mem 16G -c 4096", 0, q);
    expect_synth_weights("--shape qwen2.5-7b --type Q8_0 --workers-mem 16G -c 4096",
                         "qwen2.5-7b", LP_FTYPE_Q8_0);
    const char *tied[] = {"plan for llama3-1b:Q4_K_M over 2 workers", "tied output",
                          "0-10 (11) +embed", "11-15 (5) +head", NULL}; /* the tied head
                                                                     weighs 6 layers */
    expect("--shape llama3-1b --workers-mem 2G,2G", 0, tied);
    const char *help[] = {"--shape NAME[:TYPE]", "--type TYPE", "shapes:", "tiny",
                          "llama3-1b", "llama3-70b", "qwen2.5-7b", "types:", "Q4_0",
                          "Q4_K_M", "Q8_0", "BF16", NULL};
    expect("--help", 0, help);
}

static void test_bad_input(void **state)
{
    (void)state;
    const char *size[] = {"--workers-mem: '16Q' is not a size", NULL};
    expect("--shape llama70b-q4_k_m --workers-mem 16G,16Q", 2, size);
    const char *neg[] = {"'-16G' is not a size", NULL};
    expect("--shape llama70b-q4_k_m --workers-mem -16G", 2, neg);
    const char *none[] = {"give -m MODEL or --shape NAME with --workers-mem", NULL};
    expect("--shape llama70b-q4_k_m", 2, none);
    const char *speeds[] = {"--workers-speed: expected 2 values", NULL};
    expect("--shape llama70b-q4_k_m --workers-mem 16G,16G --workers-speed 1", 2, speeds);
    const char *shape[] = {"coord: plan: unknown shape 'llama3-13b' (shapes: tiny, llama3-1b, "
                           "llama3-8b, llama3-70b, qwen2.5-7b; or llama70b-q4_k_m)", NULL};
    expect("--shape llama3-13b --workers-mem 16G", 2, shape);
    const char *type[] = {"coord: plan: unknown file type 'Q7_K' (types: Q4_0, Q4_1, ",
                          "Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, Q8_0, F16, BF16, F32)", NULL};
    expect("--shape llama3-8b:Q7_K --workers-mem 16G", 2, type);
    expect("--shape llama3-8b --type Q7_K --workers-mem 16G", 2, type);
    const char *alias[] = {"give --shape llama3-70b:Q8_0", NULL};
    expect("--shape llama70b-q4_k_m --type Q8_0 --workers-mem 16G", 2, alias);
    const char *gguf_type[] = {"--type goes with --shape", NULL};
    expect("-m model.gguf --type Q8_0 --workers-mem 16G", 2, gguf_type);
    const char *missing[] = {"coord: plan: ", "'/nonexistent.gguf'", NULL};
    expect("-m /nonexistent.gguf --workers-mem 16G", 1, missing);
    /* A broken config: file, line and key. */
    char dir[4096], path[4200], args[8400];
    lp_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/bad.ini", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[model]\npath = m.gguf\n\n[worker.a]\nendpoint = tcp://h:5555\nmem = 16Q\n", f);
    fclose(f);
    snprintf(args, sizeof args, "--config %s", path);
    char want[4400];
    snprintf(want, sizeof want, "%s:6: key 'mem' in [worker.a]: '16Q' is not a size", path);
    const char *cfg[] = {want, NULL};
    expect(args, 1, cfg);
    lp_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_model), cmocka_unit_test(test_configs),
        cmocka_unit_test(test_70b),          cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
