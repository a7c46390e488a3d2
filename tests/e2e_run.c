/* `coord run --tokens ... --ids` as a user runs it: for every model and
 * prompt the reference covers, the printed greedy ids equal llama.cpp's;
 * and bad input ends in a clear error, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "support_ref.h"

static char *coord(char *buf, size_t cap)
{
    return lp_test_bin(buf, cap, "coord");
}

static int parse_ids(const char *s, int32_t *ids, int cap)
{
    int n = 0;
    while (*s && *s != '\n' && n < cap) {
        char *end;
        ids[n++] = (int32_t)strtol(s, &end, 10);
        if (end == s)
            return -1;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

static void run_ref_case(const char *stem, const ref_case *c, int threads, int *noise)
{
    char bin[4096], model[4096], rel[256], cmd[16384], out[8192];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    int k = snprintf(cmd, sizeof cmd, "%s run -m %s -n %d -t %d -c 512 --ids --ignore-eos --tokens ",
                     coord(bin, sizeof bin), lp_test_shared(model, sizeof model, rel),
                     c->n_greedy, threads);
    for (int i = 0; i < c->n_prompt; i++)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, "%s%d", i ? "," : "", c->prompt[i]);
    snprintf(cmd + k, sizeof cmd - (size_t)k, " 2>/dev/null");
    assert_int_equal(lp_test_run(cmd, out, sizeof out), 0);
    int32_t ids[64];
    int n = parse_ids(out, ids, 64);
    bool stop;
    int bad = ref_greedy_mismatch(c, ids, n, &stop);
    if (bad >= 0)
        fail_msg("%s: step %d: coord printed %d, llama.cpp %d", stem, bad,
                 bad < n ? ids[bad] : -1, c->greedy[bad]);
    *noise += stop;
}

static void test_greedy_matches_llama_cpp(void **state)
{
    (void)state;
    int cases = 0, noise = 0;
    for (int mi = 0; REF_MODELS[mi]; mi++) {
        ref_model m;
        assert_int_equal(ref_load(REF_MODELS[mi], &m), 0);
        for (int ci = 0; ci < m.n_cases; ci++, cases++)
            run_ref_case(m.name, &m.cases[ci], 1 + ci % 2, &noise);
        ref_free(&m);
    }
    print_message("[ coord run ] %d cases equal llama.cpp's greedy ids (%d ended at a "
                  "near-tie)\n", cases, noise);
}

/* Runs coord with args; expects exit status `want` and `needle` in stderr. */
static void expect_error(const char *args, int want, const char *needle)
{
    char bin[4096], cmd[8192], out[8192], shared[4096];
    lp_test_shared(shared, sizeof shared, "");
    snprintf(cmd, sizeof cmd, "cd %s && %s %s 2>&1", shared, coord(bin, sizeof bin), args);
    int st = lp_test_run(cmd, out, sizeof out);
    if (st != want || !strstr(out, needle))
        fail_msg("coord %s: status %d (want %d), output: %s", args, st, want, out);
}

static void test_bad_input(void **state)
{
    (void)state;
    expect_error("run -m models/nope.gguf --tokens 1 --ids", 1, "nope.gguf");
    expect_error("run -m models/stories260K.gguf --tokens 1,x --ids", 2, "token ids");
    expect_error("run -m models/stories260K.gguf --tokens 1,99999 --ids", 1, "outside the vocabulary");
    expect_error("run -m models/stories260K.gguf --tokens 1,2,3 -c 4 -n 8 --ids", 1, "exceed the context");
    expect_error("run -m models/stories260K.gguf --tokens 1 -t 0 --ids", 2, "-t");
    expect_error("run -m models/stories260K.gguf", 2, "exactly one of");
    expect_error("run -m vocab/ggml-vocab-llama-spm.gguf --tokens 1 --ids", 1, "token_embd");
    expect_error("inspect models/PROVENANCE.md", 1, "gguf");
    expect_error("frobnicate", 2, "unknown command");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_matches_llama_cpp),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
