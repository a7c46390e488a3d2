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

#include "gguf.h"
#include "support.h"
#include "support_ids.h"
#include "support_ref.h"
#include "tokenizer.h"

static char *coord(char *buf, size_t cap)
{
    return lp_test_bin(buf, cap, "coord");
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
    int n = lp_test_parse_ids(out, ids, 64);
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

/* Text in, text out: llama.cpp's greedy ids for the stories260K prompts,
 * rendered as pieces after the echoed prompt. */
static void test_text_matches_llama_cpp(void **state)
{
    (void)state;
    char bin[4096], model[4096], cmd[8192], out[8192];
    lp_test_shared(model, sizeof model, "models/stories260K.gguf");
    const char *texts[] = {"Once upon a time", "The little dog was",
                           "Lily and Ben went to the park. They saw"};
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open(model, &err);
    lp_tokenizer *tok = g ? lp_tokenizer_load(g, &err) : NULL;
    assert_non_null(tok);
    ref_model m;
    assert_int_equal(ref_load("stories260K", &m), 0);
    for (int ci = 0; ci < m.n_cases; ci++) {
        char want[8192];
        size_t k = (size_t)snprintf(want, sizeof want, "%s", texts[ci]), len;
        for (int i = 0; i < m.cases[ci].n_greedy; i++) {
            const char *piece = lp_token_piece(tok, m.cases[ci].greedy[i], false, &len);
            memcpy(want + k, piece, len);
            k += len;
        }
        snprintf(want + k, sizeof want - k, "\n");
        snprintf(cmd, sizeof cmd, "%s run -m %s -p '%s' -n 32 2>/dev/null", coord(bin, sizeof bin),
                 model, texts[ci]);
        assert_int_equal(lp_test_run(cmd, out, sizeof out), 0);
        assert_string_equal(out, want);
    }
    print_message("[ coord run -p ] %d stories260K prompts give llama.cpp's text\n", m.n_cases);
    ref_free(&m);
    lp_tokenizer_free(tok);
    lp_gguf_close(g);
}

/* --stop: the text ends right before the stop string's first occurrence. */
static void test_stop_string(void **state)
{
    (void)state;
    char bin[4096], model[4096], cmd[8192], out[8192];
    lp_test_shared(model, sizeof model, "models/stories260K.gguf");
    snprintf(cmd, sizeof cmd, "%s run -m %s -p 'Once upon a time' -n 100 --stop ball "
             "--stop 'not in it' 2>/dev/null", coord(bin, sizeof bin), model);
    assert_int_equal(lp_test_run(cmd, out, sizeof out), 0);
    assert_string_equal(out, "Once upon a time, there was a little girl named Lily. She loved "
                             "to play outside in the park. One day, she saw a big, red \n");
}

/* Two user turns on stdin: two streamed replies, a clean exit at EOF. */
static void test_chat_turns(void **state)
{
    (void)state;
    char bin[4096], model[4096], cmd[16384], out[16384];
    lp_test_shared(model, sizeof model, "models/stories260K.gguf");
    snprintf(cmd, sizeof cmd, "printf 'Tell me a story.\\nWhat happened next?\\n' | "
             "%s run -m %s --chat -n 12 2>/dev/null", coord(bin, sizeof bin), model);
    assert_int_equal(lp_test_run(cmd, out, sizeof out), 0);
    int prompts = 0;
    for (const char *p = out; (p = strstr(p, "> ")); p += 2)
        prompts++;
    if (prompts != 3) /* one per turn, plus the one EOF answers */
        fail_msg("expected 3 prompts, got %d: %s", prompts, out);
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
    expect_error("run -m models/stories260K.gguf -p \"$(printf 'bad \\377 byte')\"", 1, "UTF-8");
    /* An empty prompt is BOS alone (unconditional text) where the model adds
     * BOS, as llama-cli does; one that adds none fails with "the prompt is
     * empty" (no such model among the shared ones). */
    expect_error("run -m models/stories260K.gguf -p '' -n 4", 0, "generation:");
    expect_error("run -m models/stories260K.gguf -p 'Once upon a time there was' -c 8", 1,
                 "exceed the context");
    expect_error("run -m models/stories260K.gguf -p x --temp -1", 2, "--temp");
    expect_error("run -m models/stories260K.gguf --chat --chat-template nope", 1, "nope");
    expect_error("frobnicate", 2, "unknown command");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_matches_llama_cpp),
        cmocka_unit_test(test_text_matches_llama_cpp),
        cmocka_unit_test(test_stop_string),
        cmocka_unit_test(test_chat_turns),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
