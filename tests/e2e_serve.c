/* `coord serve` over a local pool of two workers (stories260K), spoken to
 * as an HTTP client would: every endpoint; completions and chat, whole and
 * streamed, against llama.cpp's greedy text; stop strings; logprobs;
 * usage; bad input (malformed JSON, wrong types, unknown fields tolerated,
 * huge bodies, prompts beyond the context, unknown routes and models).
 * The server must stop cleanly on SIGTERM (exit 0: under ASan that also
 * means no leak). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support.h"
#include "support_serve.h"

enum { CTX = 4096 };

typedef sv_t_fixture fixture;

static int setup(void **state)
{
    return sv_t_fixture_start(state, 2, CTX, 4, NULL, "--listen 127.0.0.1:0");
}


static void expect_error(cJSON *o, int status, int want_status, const char *needle)
{
    const char *msg = sv_t_str(o, "error.message");
    if (status != want_status || !msg || !strstr(msg, needle) || !sv_t_str(o, "error.type") ||
        sv_t_num(o, "error.code") != want_status)
        fail_msg("wanted %d naming '%s', got %d: %s", want_status, needle, status,
                 cJSON_PrintUnformatted(o));
    cJSON_Delete(o);
}

/* /health, /v1/models, /v1/pool, /metrics, and what is not there. */
static void test_status_endpoints(void **state)
{
    fixture *f = *state;
    int port = f->srv.port, st;
    cJSON *o = sv_t_get(port, "/health", &st);
    assert_int_equal(st, 200);
    assert_string_equal(sv_t_str(o, "status"), "ok");
    cJSON_Delete(o);

    o = sv_t_get(port, "/v1/models", &st);
    assert_int_equal(st, 200);
    assert_string_equal(sv_t_str(o, "object"), "list");
    assert_string_equal(sv_t_str(o, "data.0.id"), "stories260K.gguf");
    assert_string_equal(sv_t_str(o, "data.0.object"), "model");
    cJSON_Delete(o);

    /* Two workers whose layer ranges tile the model's 5 layers. */
    o = sv_t_get(port, "/v1/pool", &st);
    assert_int_equal(st, 200);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "ready")));
    assert_int_equal((int)sv_t_num(o, "n_layers"), 5);
    assert_int_equal((int)sv_t_num(o, "n_ctx"), CTX);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "workers")), 2);
    assert_int_equal((int)sv_t_num(o, "workers.0.first_layer"), 0);
    assert_int_equal((int)sv_t_num(o, "workers.1.first_layer"),
                     (int)sv_t_num(o, "workers.0.last_layer") + 1);
    assert_int_equal((int)sv_t_num(o, "workers.1.last_layer"), 4);
    for (int i = 0; i < 2; i++) {
        cJSON *w = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "workers"), i);
        assert_string_equal(sv_t_str(w, "state"), "alive");
        /* no API key: the workers' addresses are not for everyone */
        assert_null(cJSON_GetObjectItem(w, "endpoint"));
        assert_null(cJSON_GetObjectItem(w, "data_endpoint"));
        assert_null(cJSON_GetObjectItem(w, "result_endpoint"));
        assert_true(sv_t_num(w, "mem_limit") == 1024.0 * 1024 * 1024);
        assert_false(isnan(sv_t_num(w, "sessions_open")));
    }
    cJSON_Delete(o);

    lp_http_resp r;
    assert_int_equal(lp_http(port, "GET", "/metrics", NULL, NULL, 0, &r, SV_T_TIMEOUT_MS), 0);
    assert_int_equal(r.status, 200);
    const char *want[] = {"\nlayerpool_ready 1\n", "# TYPE layerpool_requests_total counter",
                          "layerpool_generated_tokens_total ", "layerpool_requests_queued 0",
                          "layerpool_worker_layers{worker=\"local-0\"} ",
                          "layerpool_worker_up{worker=\"local-1\"} 1",
                          "layerpool_worker_sent_bytes_total{worker=\"local-0\"} "};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(r.body, want[i]))
            fail_msg("/metrics lacks '%s':\n%s", want[i], r.body);
    lp_http_free(&r);

    /* The page, built into the binary. */
    char type[64];
    assert_int_equal(lp_http(port, "GET", "/", NULL, NULL, 0, &r, SV_T_TIMEOUT_MS), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(lp_http_header(&r, "Content-Type", type, sizeof type), "text/html"));
    assert_non_null(strstr(r.body, "<html"));
    lp_http_free(&r);

    o = sv_t_get(port, "/v1/nothing", &st);
    expect_error(o, st, 404, "/v1/nothing");
    assert_int_equal(lp_http(port, "GET", "/v1/completions", NULL, NULL, 0, &r, 30000), 0);
    char allow[64];
    assert_int_equal(r.status, 405);
    assert_string_equal(lp_http_header(&r, "Allow", allow, sizeof allow), "POST");
    lp_http_free(&r);
    o = sv_t_post(port, "/v1/models", "{}", NULL, &st);
    expect_error(o, st, 405, "POST");
}

static char *completion_body(const char *prompt, int max_tokens, const char *more)
{
    char *b = malloc(8192);
    snprintf(b, 8192, "{\"prompt\":\"%s\",\"max_tokens\":%d,\"temperature\":0%s%s}", prompt,
             max_tokens, more ? "," : "", more ? more : "");
    return b;
}

/* temperature 0: llama.cpp's greedy text, exactly; usage counts. */
static void test_completions_greedy(void **state)
{
    fixture *f = *state;
    for (int c = 0; c < SV_T_CASES; c++) {
        int st;
        char *body = completion_body(f->ref.prompt[c], f->ref.n_gen[c], "\"model\":\"stories260K\"");
        cJSON *o = sv_t_post(f->srv.port, "/v1/completions", body, NULL, &st);
        assert_int_equal(st, 200);
        assert_string_equal(sv_t_str(o, "object"), "text_completion");
        assert_non_null(strstr(sv_t_str(o, "id"), "cmpl-"));
        assert_string_equal(sv_t_str(o, "choices.0.text"), f->ref.want[c]);
        assert_string_equal(sv_t_str(o, "choices.0.finish_reason"), "length");
        assert_int_equal((int)sv_t_num(o, "usage.prompt_tokens"), f->ref.n_prompt[c]);
        assert_int_equal((int)sv_t_num(o, "usage.completion_tokens"), f->ref.n_gen[c]);
        assert_int_equal((int)sv_t_num(o, "usage.total_tokens"),
                         f->ref.n_prompt[c] + f->ref.n_gen[c]);
        cJSON_Delete(o);
        free(body);
    }
    /* A prompt may come as an array of one string (the legacy batch form). */
    int st;
    cJSON *o = sv_t_post(f->srv.port, "/v1/completions",
                         "{\"prompt\":[\"Once upon a time\"],\"max_tokens\":32,\"temperature\":0}",
                         NULL, &st);
    assert_int_equal(st, 200);
    assert_string_equal(sv_t_str(o, "choices.0.text"), f->ref.want[0]);
    cJSON_Delete(o);
}

static char *complete_text(int port, const char *params)
{
    int st;
    char *body = completion_body("Once upon a time", 32, params);
    cJSON *o = sv_t_post(port, "/v1/completions", body, NULL, &st);
    free(body);
    if (st != 200 || !sv_t_str(o, "choices.0.text"))
        fail_msg("%s: %d", params, st);
    char *text = strdup(sv_t_str(o, "choices.0.text"));
    cJSON_Delete(o);
    return text;
}

/* The sampling fields reach the last worker's sampler: truncations that
 * leave one token are greedy at any temperature, a seed repeats its draws,
 * and each penalty changes the greedy text. */
static void test_sampling_params(void **state)
{
    fixture *f = *state;
    int port = f->srv.port;
    const char *greedy_same[] = {"\"temperature\":1.0,\"top_k\":1", "\"temperature\":1.0,\"top_p\":0",
                                 "\"temperature\":5,\"min_p\":1,\"top_k\":0"};
    for (int i = 0; i < 3; i++) {
        char *t = complete_text(port, greedy_same[i]);
        if (strcmp(t, f->ref.want[0]))
            fail_msg("%s gave '%s'", greedy_same[i], t);
        free(t);
    }
    char *a = complete_text(port, "\"temperature\":0.9,\"seed\":42");
    char *b = complete_text(port, "\"temperature\":0.9,\"seed\":42");
    assert_string_equal(a, b);
    free(a);
    free(b);
    const char *penalties[] = {"\"presence_penalty\":2", "\"frequency_penalty\":1",
                               "\"repeat_penalty\":1.5"};
    for (int i = 0; i < 3; i++) {
        char *t = complete_text(port, penalties[i]);
        if (!strcmp(t, f->ref.want[0]))
            fail_msg("%s changed nothing", penalties[i]);
        free(t);
    }
}

/* The same text in chunks, usage at the end, then [DONE]. */
static void test_completions_stream(void **state)
{
    fixture *f = *state;
    for (int c = 0; c < SV_T_CASES; c++) {
        char *body = completion_body(f->ref.prompt[c], f->ref.n_gen[c],
                                     "\"stream\":true,\"stream_options\":{\"include_usage\":true}");
        sv_t_stream s;
        sv_t_stream_run(f->srv.port, "/v1/completions", body, NULL, &s);
        if (s.error[0])
            fail_msg("stream: %s", s.error);
        assert_int_equal(s.status, 200);
        assert_true(s.done);
        assert_string_equal(s.text, f->ref.want[c]);
        assert_true(s.n_chunks > 10); /* token by token, not one lump */
        assert_string_equal(s.finish, "length");
        assert_int_equal(s.usage_prompt, f->ref.n_prompt[c]);
        assert_int_equal(s.usage_completion, f->ref.n_gen[c]);
        assert_int_equal(s.usage_total, f->ref.n_prompt[c] + f->ref.n_gen[c]);
        sv_t_stream_free(&s);
        free(body);
    }
}

/* Chat: the model's template (chatml for stories260K, which has none), BOS
 * as the model says: the same tokens as that text sent as a completion, so
 * the same greedy reply, whole or streamed. */
static void test_chat(void **state)
{
    fixture *f = *state;
    int st;
    const char *chat = "{\"model\":\"stories260K.gguf\",\"messages\":["
                       "{\"role\":\"system\",\"content\":\"Be kind.\"},"
                       "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Tell me\"},"
                       "{\"type\":\"text\",\"text\":\" a story.\"}]}],"
                       "\"max_tokens\":24,\"temperature\":0,\"unknown_field\":{\"x\":1}%s}";
    const char *as_text = "{\"prompt\":\"<|im_start|>system\\nBe kind.<|im_end|>\\n"
                          "<|im_start|>user\\nTell me a story.<|im_end|>\\n"
                          "<|im_start|>assistant\\n\",\"max_tokens\":24,\"temperature\":0}";
    char body[2048];
    snprintf(body, sizeof body, chat, "");
    cJSON *o = sv_t_post(f->srv.port, "/v1/chat/completions", body, NULL, &st);
    assert_int_equal(st, 200);
    assert_string_equal(sv_t_str(o, "object"), "chat.completion");
    assert_string_equal(sv_t_str(o, "choices.0.message.role"), "assistant");
    const char *reply = sv_t_str(o, "choices.0.message.content");
    assert_non_null(reply);
    cJSON *t = sv_t_post(f->srv.port, "/v1/completions", as_text, NULL, &st);
    assert_int_equal(st, 200);
    assert_string_equal(reply, sv_t_str(t, "choices.0.text"));
    assert_int_equal((int)sv_t_num(o, "usage.prompt_tokens"), (int)sv_t_num(t, "usage.prompt_tokens"));
    assert_int_equal((int)sv_t_num(o, "usage.completion_tokens"),
                     (int)sv_t_num(t, "usage.completion_tokens"));
    assert_true(strlen(reply) > 10);

    snprintf(body, sizeof body, chat, ",\"stream\":true");
    sv_t_stream s;
    sv_t_stream_run(f->srv.port, "/v1/chat/completions", body, NULL, &s);
    if (s.error[0])
        fail_msg("stream: %s", s.error);
    assert_true(s.done);
    assert_string_equal(s.text, reply);
    assert_int_equal(s.usage_prompt, -1); /* no include_usage: no usage chunk */
    assert_string_equal(s.finish, sv_t_str(o, "choices.0.finish_reason"));
    sv_t_stream_free(&s);
    cJSON_Delete(o);
    cJSON_Delete(t);
}

/* The text ends right before the first stop string, whole or streamed
 * (the same cut as `coord run --stop`). */
static void test_stop_strings(void **state)
{
    fixture *f = *state;
    const char *want = ", there was a little girl named Lily. She loved to play outside in the "
                       "park. One day, she saw a big, red ";
    char *body = completion_body("Once upon a time", 100, "\"stop\":[\"ball\",\"not in it\"]");
    int st;
    cJSON *o = sv_t_post(f->srv.port, "/v1/completions", body, NULL, &st);
    assert_int_equal(st, 200);
    assert_string_equal(sv_t_str(o, "choices.0.text"), want);
    assert_string_equal(sv_t_str(o, "choices.0.finish_reason"), "stop");
    int n = (int)sv_t_num(o, "usage.completion_tokens");
    assert_true(n > 20 && n < 100);
    cJSON_Delete(o);
    free(body);

    body = completion_body("Once upon a time", 100,
                           "\"stop\":\"ball\",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    sv_t_stream s;
    sv_t_stream_run(f->srv.port, "/v1/completions", body, NULL, &s);
    if (s.error[0])
        fail_msg("stream: %s", s.error);
    assert_string_equal(s.text, want);
    assert_string_equal(s.finish, "stop");
    assert_int_equal(s.usage_completion, n);
    sv_t_stream_free(&s);
    free(body);
}

/* At temperature 0 the chosen token is the most likely one: its logprob is
 * the largest of the alternatives, which come in descending order. */
static void check_chat_logprobs(const cJSON *content, int n_gen, int top)
{
    assert_int_equal(cJSON_GetArraySize(content), n_gen);
    const cJSON *e;
    cJSON_ArrayForEach(e, content) {
        const cJSON *alts = cJSON_GetObjectItem(e, "top_logprobs");
        double lp = sv_t_num(e, "logprob");
        assert_int_equal(cJSON_GetArraySize(alts), top);
        assert_true(lp <= 0);
        if (top > 0) {
            assert_true(sv_t_num(alts, "0.logprob") == lp);
            assert_true(sv_t_num(alts, "0.id") == sv_t_num(e, "id"));
            assert_string_equal(sv_t_str(alts, "0.token"), sv_t_str(e, "token"));
        }
        for (int i = 1; i < top; i++) {
            char a[32], b[32];
            snprintf(a, sizeof a, "%d.logprob", i - 1);
            snprintf(b, sizeof b, "%d.logprob", i);
            assert_true(sv_t_num(alts, a) >= sv_t_num(alts, b));
        }
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(e, "bytes")),
                         (int)strlen(sv_t_str(e, "token")));
    }
}

/* choices[0].logprobs.content of a chat answer */
static const cJSON *content_of(const cJSON *o)
{
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "choices"), 0);
    return cJSON_GetObjectItem(cJSON_GetObjectItem(c, "logprobs"), "content");
}

static void test_logprobs(void **state)
{
    fixture *f = *state;
    int st;
    cJSON *o = sv_t_post(f->srv.port, "/v1/chat/completions",
                         "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":12,"
                         "\"temperature\":0,\"logprobs\":true,\"top_logprobs\":5}", NULL, &st);
    assert_int_equal(st, 200);
    int n_gen = (int)sv_t_num(o, "usage.completion_tokens");
    check_chat_logprobs(content_of(o), n_gen, 5);

    /* logprobs without alternatives: the same figures (the last worker
     * computes them only when asked, so a lost flag shows as zeros). */
    cJSON *o0 = sv_t_post(f->srv.port, "/v1/chat/completions",
                          "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                          "\"max_tokens\":12,\"temperature\":0,\"logprobs\":true}", NULL, &st);
    assert_int_equal(st, 200);
    const cJSON *c0 = content_of(o0), *c5 = content_of(o);
    check_chat_logprobs(c0, n_gen, 0);
    double sum = 0;
    for (int i = 0; i < n_gen; i++) {
        double lp = sv_t_num(cJSON_GetArrayItem(c0, i), "logprob");
        assert_true(lp == sv_t_num(cJSON_GetArrayItem(c5, i), "logprob"));
        sum += lp;
    }
    assert_true(sum < 0);
    cJSON_Delete(o0);
    cJSON_Delete(o);

    /* Completions: tokens, token_logprobs, top_logprobs maps, text_offset;
     * the tokens joined are the text. */
    char *body = completion_body("Once upon a time", 32, "\"logprobs\":3");
    o = sv_t_post(f->srv.port, "/v1/completions", body, NULL, &st);
    free(body);
    assert_int_equal(st, 200);
    cJSON *lp = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "choices"), 0),
                                    "logprobs");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(lp, "tokens")), 32);
    char joined[4096] = "";
    for (int i = 0; i < 32; i++) {
        char k[64];
        snprintf(k, sizeof k, "text_offset.%d", i);
        assert_int_equal((int)sv_t_num(lp, k), (int)strlen(joined));
        snprintf(k, sizeof k, "tokens.%d", i);
        strcat(joined, sv_t_str(lp, k));
        snprintf(k, sizeof k, "token_logprobs.%d", i);
        double chosen = sv_t_num(lp, k), best = -INFINITY;
        const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(lp, "top_logprobs"), i), *e;
        assert_int_equal(cJSON_GetArraySize(m), 3);
        cJSON_ArrayForEach(e, m) best = fmax(best, e->valuedouble);
        assert_true(chosen == best);
    }
    assert_string_equal(joined, f->ref.want[0]);
    cJSON_Delete(o);

    /* Streamed: one entry per token over the chunks. */
    body = completion_body("Once upon a time", 32, "\"logprobs\":2,\"stream\":true");
    sv_t_stream s;
    sv_t_stream_run(f->srv.port, "/v1/completions", body, NULL, &s);
    free(body);
    assert_int_equal(s.n_logprobs, 32);
    assert_string_equal(s.text, f->ref.want[0]);
    sv_t_stream_free(&s);
}

static void bad(int port, const char *path, const char *json, int want, const char *needle)
{
    int st;
    cJSON *o = sv_t_post(port, path, json, NULL, &st);
    expect_error(o, st, want, needle);
}

static void test_bad_input(void **state)
{
    fixture *f = *state;
    int p = f->srv.port;
    const char *chat = "/v1/chat/completions", *cmpl = "/v1/completions";
    bad(p, chat, "{\"messages\":[{\"role\":\"user\",", 400, "not valid JSON");
    bad(p, chat, "[1,2]", 400, "object");
    /* a NUL would cut the prompt where C strings end (it was served as
     * "Once upon a time"); anything after the value is refused too, but an
     * escaped backslash before "u0000" is two characters, not a NUL */
    bad(p, cmpl, "{\"prompt\":\"Once upon a time\\u0000 the dragon\"}", 400, "\\u0000 (NUL)");
    bad(p, chat, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000\"}]}", 400,
        "\\u0000 (NUL)");
    bad(p, cmpl, "{\"prompt\":\"Once\",\"max_tokens\":2} garbage", 400, "more after its JSON");
    bad(p, cmpl, "{\"prompt\":\"Once\",\"max_tokens\":2}{}", 400, "more after its JSON");
    int st0;
    cJSON *ok = sv_t_post(p, cmpl, "{\"prompt\":\"a\\\\u0000b\",\"max_tokens\":1}  \n", NULL,
                          &st0);
    assert_int_equal(st0, 200);
    cJSON_Delete(ok);
    /* two framings of one body (request smuggling) */
    lp_http_resp hr;
    const char *two = "{\"prompt\":\"Once\",\"max_tokens\":2}";
    assert_int_equal(lp_http(p, "POST", cmpl, "Transfer-Encoding: chunked\r\n", two,
                             strlen(two), &hr, SV_T_TIMEOUT_MS), 0);
    assert_int_equal(hr.status, 400);
    assert_non_null(strstr(hr.body, "both Content-Length and Transfer-Encoding"));
    lp_http_free(&hr);
    bad(p, chat, "{}", 400, "messages");
    bad(p, chat, "{\"messages\":\"hi\"}", 400, "messages");
    bad(p, chat, "{\"messages\":[{\"role\":\"user\",\"content\":5}]}", 400, "messages[0].content");
    bad(p, chat, "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", 400, "role");
    bad(p, chat, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}",
        400, "'temperature'");
    bad(p, chat, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"logprobs\":1}", 400,
        "'logprobs'");
    bad(p, cmpl, "{\"prompt\":\"x\",\"max_tokens\":1.5}", 400, "'max_tokens'");
    bad(p, cmpl, "{\"prompt\":\"x\",\"max_tokens\":0}", 400, "'max_tokens'");
    bad(p, cmpl, "{\"prompt\":\"x\",\"stop\":5}", 400, "'stop'");
    bad(p, cmpl, "{\"prompt\":\"x\",\"top_p\":2}", 400, "'top_p'");
    bad(p, cmpl, "{\"prompt\":\"x\",\"seed\":\"1\"}", 400, "'seed'");
    bad(p, cmpl, "{\"prompt\":\"x\",\"stream\":1}", 400, "'stream'");
    bad(p, cmpl, "{\"prompt\":\"x\",\"n\":2}", 400, "'n'");
    bad(p, cmpl, "{\"prompt\":7}", 400, "'prompt'");
    bad(p, cmpl, "{\"prompt\":\"x\",\"model\":\"gpt-4\"}", 404, "gpt-4");
    /* Unknown fields are tolerated; null means unset. */
    int st;
    cJSON *o = sv_t_post(p, cmpl, "{\"prompt\":\"Once\",\"max_tokens\":2,\"foo\":[1,{}],"
                                  "\"stop\":null,\"user\":\"u\",\"temperature\":0}", NULL, &st);
    assert_int_equal(st, 200);
    assert_int_equal((int)sv_t_num(o, "usage.completion_tokens"), 2);
    cJSON_Delete(o);

    /* The context: a prompt that does not fit, and one whose max_tokens
     * does not; the numbers are said. */
    char *big = malloc(4 * (CTX + 10) + 64);
    strcpy(big, "{\"prompt\":\"");
    size_t k = strlen(big);
    for (size_t i = 0; i < CTX + 10; i++, k += 4)
        memcpy(big + k, "cat ", 4);
    strcpy(big + k, "\"}");
    bad(p, cmpl, big, 413, "context of 4096");
    bad(p, cmpl, "{\"prompt\":\"Once upon a time\",\"max_tokens\":4095}", 413, "4100");
    free(big);
    /* One far beyond it is refused from its length, before it is tokenized. */
    size_t far = 3u << 20;
    big = malloc(far + 64);
    strcpy(big, "{\"prompt\":\"");
    k = strlen(big);
    memset(big + k, 'a', far);
    strcpy(big + k + far, "\"}");
    bad(p, cmpl, big, 413, "at least");
    free(big);

    /* A body over the 4 MiB limit is refused before it is read. */
    size_t huge = (5u << 20);
    char *h = malloc(huge + 1);
    memset(h, ' ', huge);
    h[0] = '{';
    h[huge - 1] = '}';
    h[huge] = 0;
    bad(p, cmpl, h, 413, "limit");
    free(h);

    /* The server is still well after all that. */
    char *body = completion_body("Once upon a time", 32, NULL);
    o = sv_t_post(p, cmpl, body, NULL, &st);
    assert_string_equal(sv_t_str(o, "choices.0.text"), f->ref.want[0]);
    cJSON_Delete(o);
    free(body);
}

static int get_status(int port, const char *path, const char *extra, const char *needle)
{
    lp_http_resp r;
    assert_int_equal(lp_http(port, "GET", path, extra, NULL, 0, &r, 30000), 0);
    cJSON *o = cJSON_Parse(r.body); /* MHD's own answers are HTML: not JSON */
    const char *msg = sv_t_str(o, "error.message");
    if (!msg || !strstr(msg, needle) || sv_t_num(o, "error.code") != r.status)
        fail_msg("%d answered without a JSON error naming '%s': %s", r.status, needle, r.body);
    int st = r.status;
    cJSON_Delete(o);
    lp_http_free(&r);
    return st;
}

/* A TCP connection to port that sends nothing. */
static int idle_connection(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* The URL and header limits answer in the API's JSON and are counted per
 * route in /metrics; one address holds at most 64 connections, and the
 * others' requests go on. */
static void test_http_limits(void **state)
{
    fixture *f = *state;
    int p = f->srv.port;
    char *path = malloc(20000), *extra = malloc(20000);
    strcpy(path, "/v1/models?x=");
    memset(path + 13, 'a', 9000);
    path[9013] = 0;
    assert_int_equal(get_status(p, path, NULL, "URL"), 414);
    strcpy(extra, "X-Big: ");
    memset(extra + 7, 'b', 17000);
    strcpy(extra + 17007, "\r\n");
    assert_int_equal(get_status(p, "/v1/models", extra, "headers"), 431);
    free(path);
    free(extra);
    int st;
    lp_http_resp r;
    assert_int_equal(lp_http(p, "GET", "/metrics", NULL, NULL, 0, &r, 30000), 0);
    const char *want[] = {"layerpool_http_errors_total{route=\"models\",code=\"414\"} 1\n",
                          "layerpool_http_errors_total{route=\"models\",code=\"431\"} 1\n",
                          "layerpool_http_errors_total{route=\"completions\",code=\"413\"} ",
                          "layerpool_http_errors_total{route=\"none\",code=\"404\"} "};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(r.body, want[i]))
            fail_msg("/metrics lacks %s", want[i]);
    lp_http_free(&r);

    int fds[64];
    for (int i = 0; i < 64; i++)
        fds[i] = idle_connection(p);
    usleep(200 * 1000);
    /* the 65th from this address is closed at once: no answer */
    assert_int_equal(lp_http(p, "GET", "/health", NULL, NULL, 0, &r, 5000), -1);
    close(fds[0]);
    usleep(200 * 1000);
    cJSON_Delete(sv_t_get(p, "/health", &st));
    assert_int_equal(st, 200);
    for (int i = 1; i < 64; i++)
        close(fds[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_endpoints),
        cmocka_unit_test(test_completions_greedy),
        cmocka_unit_test(test_sampling_params),
        cmocka_unit_test(test_completions_stream),
        cmocka_unit_test(test_chat),
        cmocka_unit_test(test_stop_strings),
        cmocka_unit_test(test_logprobs),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_http_limits),
        cmocka_unit_test(sv_t_test_stops_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, sv_t_fixture_teardown);
}
