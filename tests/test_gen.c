/* lp_gen, where every generation's end and text are decided: an end token
 * ends it unshown and uncounted (or, ignored, counts like any other); the
 * budget and the context's room end it after the token that fills them;
 * a stop string split across tokens ends it with nothing of it shown;
 * text equals the detokenized ids; OpenAI's finish reasons; -n 0; a model
 * without a tokenizer ends on its eos id. On stories260K's vocabulary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "gguf.h"
#include "support.h"

typedef struct fixture {
    lp_gguf *g;
    lp_tokenizer *tok;
    lp_token *ids; /* "Once upon a time, there was a little girl" without BOS */
    size_t n;
    lp_token eos;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char path[1024];
    lp_err err = {{0}};
    static const char text[] = "Once upon a time, there was a little girl";
    f->g = lp_gguf_open(lp_test_shared(path, sizeof path, "models/stories260K.gguf"), &err);
    if (!f->g || !(f->tok = lp_tokenizer_load(f->g, &err)) ||
        lp_tokenize(f->tok, text, strlen(text), false, false, &f->ids, &f->n, &err) != 0)
        return -1;
    uint32_t eos;
    if (lp_gguf_get_u32(f->g, "tokenizer.ggml.eos_token_id", &eos) != 0)
        return -1;
    f->eos = (lp_token)eos;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    free(f->ids);
    lp_tokenizer_free(f->tok);
    lp_gguf_close(f->g);
    free(f);
    return 0;
}

/* Push ids until the generation stops: the text shown, tokens counted. */
static long run(lp_gen *g, const lp_token *ids, size_t n, char *text, size_t cap)
{
    lp_gen_step st = {.go_on = lp_gen_why(g) == LP_GEN_GOING};
    lp_err err = {{0}};
    size_t k = 0, len;
    for (size_t i = 0; i < n && st.go_on; i++) {
        assert_int_equal(lp_gen_push(g, ids[i], &st, &err), 0);
        assert_true(k + st.len < cap);
        memcpy(text + k, st.text, st.len);
        k += st.len;
    }
    const char *tail = lp_gen_flush(g, &len);
    assert_true(k + len < cap);
    memcpy(text + k, tail, len);
    text[k + len] = 0;
    return lp_gen_count(g);
}

static lp_gen *gen(const fixture *f, long n_predict, long n_ctx, long n_prompt,
                   const char *const *stops, size_t n_stops, bool ignore_eos)
{
    lp_err err = {{0}};
    const lp_gen_opts o = {.tok = f->tok, .eos = -1, .ignore_eos = ignore_eos, .text = true,
                           .n_predict = n_predict, .n_ctx = n_ctx, .n_prompt = n_prompt,
                           .stops = stops, .n_stops = n_stops};
    lp_gen *g = lp_gen_new(&o, &err);
    if (!g)
        fail_msg("%s", err.msg);
    return g;
}

static void test_text_and_budget(void **state)
{
    fixture *f = *state;
    char text[512], whole[512];
    size_t len;
    char *t;
    lp_err err = {{0}};
    assert_int_equal(lp_detokenize(f->tok, f->ids, f->n, false, false, &t, &len, &err), 0);
    /* A continuation keeps the first piece's SPM space (lp_detokenize drops it) */
    snprintf(whole, sizeof whole, " %.*s", (int)len, t);
    free(t);
    lp_gen *g = gen(f, 1000, 512, 0, NULL, 0, false);
    assert_int_equal(run(g, f->ids, f->n, text, sizeof text), (long)f->n);
    assert_string_equal(text, whole);
    assert_int_equal(lp_gen_why(g), LP_GEN_GOING); /* ran out of ids, not of budget */
    lp_gen_free(g);
    g = gen(f, 3, 512, 0, NULL, 0, false); /* the budget: 3 tokens, the third says stop */
    assert_int_equal(run(g, f->ids, f->n, text, sizeof text), 3);
    assert_int_equal(lp_gen_why(g), LP_GEN_BUDGET);
    assert_string_equal(lp_gen_finish_reason(g), "length");
    lp_gen_free(g);
    g = gen(f, 0, 512, 0, NULL, 0, false); /* -n 0: over before it starts */
    assert_int_equal(lp_gen_why(g), LP_GEN_BUDGET);
    assert_int_equal(run(g, f->ids, f->n, text, sizeof text), 0);
    assert_string_equal(text, "");
    lp_gen_free(g);
}

/* A chat reply drops that space, as lp_detokenize does. */
static void test_chat_reply(void **state)
{
    fixture *f = *state;
    char text[512];
    lp_err err = {{0}};
    const lp_gen_opts o = {.tok = f->tok, .eos = -1, .text = true, .strip_first_space = true,
                           .n_predict = 4, .n_ctx = 512};
    lp_gen *g = lp_gen_new(&o, &err);
    assert_non_null(g);
    assert_int_equal(run(g, f->ids, f->n, text, sizeof text), 4);
    assert_string_equal(text, "Once upon a time");
    lp_gen_free(g);
}

/* A context of 10 positions with 6 taken: tokens can come while the one
 * before still fits, 10 - 6 + 1 = 5 of them. */
static void test_context(void **state)
{
    fixture *f = *state;
    char text[512];
    lp_gen *g = gen(f, 1000, 10, 6, NULL, 0, false);
    assert_int_equal(run(g, f->ids, f->n, text, sizeof text), 5);
    assert_int_equal(lp_gen_why(g), LP_GEN_CONTEXT);
    assert_string_equal(lp_gen_finish_reason(g), "length");
    lp_gen_free(g);
}

static void test_end_token(void **state)
{
    fixture *f = *state;
    char text[512];
    lp_token ids[4] = {f->ids[0], f->ids[1], f->eos, f->ids[2]};
    lp_gen *g = gen(f, 1000, 512, 0, NULL, 0, false);
    assert_int_equal(run(g, ids, 4, text, sizeof text), 2); /* the end token is not counted */
    assert_int_equal(lp_gen_why(g), LP_GEN_EOG);
    assert_string_equal(lp_gen_finish_reason(g), "stop");
    assert_null(strstr(text, "</s>"));
    lp_gen_free(g);
    g = gen(f, 1000, 512, 0, NULL, 0, true); /* --ignore-eos: a token like any other */
    assert_int_equal(run(g, ids, 4, text, sizeof text), 4);
    assert_int_equal(lp_gen_why(g), LP_GEN_GOING);
    lp_gen_free(g);
    /* No tokenizer: ids only, ending on the eos id the caller names. */
    lp_err err = {{0}};
    const lp_gen_opts o = {.eos = f->eos, .n_predict = 1000, .n_ctx = 512};
    g = lp_gen_new(&o, &err);
    assert_non_null(g);
    assert_int_equal(run(g, ids, 4, text, sizeof text), 2);
    assert_int_equal(lp_gen_why(g), LP_GEN_EOG);
    assert_string_equal(text, "");
    lp_gen_free(g);
}

/* "a little" spans several tokens: nothing of it, nor after it, shows. */
static void test_stop_string(void **state)
{
    fixture *f = *state;
    char text[512];
    const char *stops[] = {"a little"};
    lp_gen *g = gen(f, 1000, 512, 0, stops, 1, false);
    long n = run(g, f->ids, f->n, text, sizeof text);
    assert_int_equal(lp_gen_why(g), LP_GEN_STOPSTR);
    assert_string_equal(lp_gen_finish_reason(g), "stop");
    assert_string_equal(text, " Once upon a time, there was ");
    assert_true(n < (long)f->n);
    lp_gen_free(g);
    /* A partial match held back is released at the end. */
    const char *later[] = {"girls"};
    g = gen(f, 1000, 512, 0, later, 1, false);
    run(g, f->ids, f->n, text, sizeof text);
    assert_string_equal(text, " Once upon a time, there was a little girl");
    lp_gen_free(g);
    /* More stop strings than the filter holds is an error, not a crash. */
    const char *many[LP_STOPSTR_MAX + 1];
    for (int i = 0; i <= LP_STOPSTR_MAX; i++)
        many[i] = "x";
    lp_err err = {{0}};
    const lp_gen_opts o = {.tok = f->tok, .text = true, .n_predict = 1, .n_ctx = 8,
                           .stops = many, .n_stops = LP_STOPSTR_MAX + 1};
    assert_null(lp_gen_new(&o, &err));
    assert_non_null(strstr(err.msg, "stop strings"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_and_budget),
        cmocka_unit_test(test_chat_reply),
        cmocka_unit_test(test_context),
        cmocka_unit_test(test_end_token),
        cmocka_unit_test(test_stop_string),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
