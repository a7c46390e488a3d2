/* The pipeline as a user runs it: `coord run --local-workers N` starts N
 * real worker processes on loopback, plans, loads, and generates through
 * ZeroMQ. For every model the reference covers and 1, 2 and 3 workers, the
 * greedy ids equal llama.cpp's (and so the single-process run's). The
 * 60-token prompt goes in chunks of 16, so chunks pipeline across workers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "support_ids.h"
#include "support_ref.h"

/* Returns false when the model has fewer layers than workers (coord says so). */
static bool run_pool(const char *stem, const ref_case *c, int n_workers)
{
    char bin[4096], model[4096], rel[256], cmd[16384], out[8192];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    int k = snprintf(cmd, sizeof cmd,
                     "%s run -m %s --local-workers %d -n %d -c 512 -b 16 --ids --ignore-eos "
                     "--tokens ", lp_test_bin(bin, sizeof bin, "coord"),
                     lp_test_shared(model, sizeof model, rel), n_workers, c->n_greedy);
    for (int i = 0; i < c->n_prompt; i++)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, "%s%d", i ? "," : "", c->prompt[i]);
    snprintf(cmd + k, sizeof cmd - (size_t)k, " 2>&1");
    int st = lp_test_run(cmd, out, sizeof out);
    if (st != 0 && strstr(out, "every worker needs a layer"))
        return false;
    if (st != 0)
        fail_msg("%s with %d workers: exit %d: %s", stem, n_workers, st, out);
    /* stderr (progress lines) comes first; the ids are the line of digits */
    const char *line = out;
    while (*line && !(*line >= '0' && *line <= '9'))
        line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line);
    int32_t ids[64];
    int n = lp_test_parse_ids(line, ids, 64);
    bool noise;
    int bad = ref_greedy_mismatch(c, ids, n, &noise);
    if (bad >= 0 || noise)
        fail_msg("%s with %d workers: step %d: got %d, llama.cpp %d\n%s", stem, n_workers, bad,
                 bad >= 0 && bad < n ? ids[bad] : -1, bad >= 0 ? c->greedy[bad] : -1, out);
    return true;
}

static void test_every_model_1_2_3_workers(void **state)
{
    (void)state;
    int runs = 0;
    for (int mi = 0; REF_MODELS[mi]; mi++) {
        ref_model m;
        assert_int_equal(ref_load(REF_MODELS[mi], &m), 0);
        const ref_case *longest = &m.cases[0];
        for (int ci = 1; ci < m.n_cases; ci++)
            if (m.cases[ci].n_prompt > longest->n_prompt)
                longest = &m.cases[ci];
        for (int w = 1; w <= 3; w++)
            runs += run_pool(m.name, longest, w);
        ref_free(&m);
    }
    print_message("[ pool ] %d pipeline runs equal llama.cpp's greedy ids\n", runs);
}

/* --chat through two workers prints exactly what it prints in one process. */
static void test_chat_through_pool(void **state)
{
    (void)state;
    char bin[4096], model[4096], cmd[16384], one[8192], two[8192];
    lp_test_bin(bin, sizeof bin, "coord");
    lp_test_shared(model, sizeof model, "models/stories260K.gguf");
    const char *turns = "printf 'Tell me a story.\\nWhat happened next?\\n'";
    snprintf(cmd, sizeof cmd, "%s | %s run -m %s --chat -n 16 2>/dev/null", turns, bin, model);
    assert_int_equal(lp_test_run(cmd, one, sizeof one), 0);
    snprintf(cmd, sizeof cmd, "%s | %s run -m %s --local-workers 2 --chat -n 16 2>/dev/null",
             turns, bin, model);
    assert_int_equal(lp_test_run(cmd, two, sizeof two), 0);
    assert_string_equal(two, one);
    assert_non_null(strstr(one, "> "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_model_1_2_3_workers),
        cmocka_unit_test(test_chat_through_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
