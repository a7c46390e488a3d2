/* A real worker given wrong and hostile input answers each with its own
 * clear Error and goes on serving: another protocol version, garbage,
 * truncated and oversized messages on both endpoints, unknown sessions,
 * positions out of order or beyond the context, oversized steps, bad
 * token ids and hidden states, a LoadShard for another model, a range the
 * model lacks, a shard over --mem-limit. Also: a worker SIGKILLed under a
 * pipeline leaves the others serving; idle sessions expire; a shard
 * streamed in chunks into the cache loads by its id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model_id.h"
#include "sha256.h"
#include "support_pipe.h"

enum { CTX = 8, BATCH = 4 };

static void start_small(e2e_pipe *p)
{
    e2e_pipe_start_opts(p, "stories260K", 1, 0, CTX, BATCH);
}

/* A worker still serving: Hello answered and a short greedy run works. */
static void still_serving(e2e_pipe *p, uint64_t session)
{
    lp_wire_env_free(e2e_hello(&p->c, 0));
    const int32_t prompt[] = {1, 403, 407};
    int32_t ids[2];
    e2e_generate_batch(&p->c, session, prompt, 3, 2, ids, p->n, BATCH);
    for (int i = 0; i < p->n; i++)
        e2e_end_session(&p->c, i, session);
}

static void test_bad_bytes_on_control(void **state)
{
    (void)state;
    e2e_pipe p;
    start_small(&p);
    /* another protocol version: both named, the request id echoed */
    Lp__Hello h = LP__HELLO__INIT;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.version = LP_PROTOCOL_VERSION + 1;
    env.request_id = 4242;
    env.body_case = LP__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    uint8_t buf[256];
    size_t n = lp__envelope__pack(&env, buf);
    Lp__Envelope *r = lp_test_request_raw(&p.c, 0, buf, n, E2E_WAIT_MS);
    assert_non_null(r);
    assert_int_equal(r->request_id, 4242);
    char want[160];
    snprintf(want, sizeof want, "protocol version %u from the peer, but this side speaks "
             "version %u", LP_PROTOCOL_VERSION + 1, LP_PROTOCOL_VERSION);
    e2e_expect_error(r, LP_WIRE_EVERSION, want);
    /* garbage */
    const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x13};
    e2e_expect_error(lp_test_request_raw(&p.c, 0, junk, sizeof junk, E2E_WAIT_MS),
                     LP_WIRE_EBADMSG, "not a valid Envelope");
    /* a LoadShard cut in half */
    env.version = LP_PROTOCOL_VERSION;
    Lp__LoadShard ls = LP__LOAD_SHARD__INIT;
    ls.model_path = "/some/model/path/that/is/long/enough.gguf";
    ls.result_endpoint = "tcp://127.0.0.1:1";
    env.body_case = LP__ENVELOPE__BODY_LOAD_SHARD;
    env.load_shard = &ls;
    n = lp__envelope__pack(&env, buf);
    e2e_expect_error(lp_test_request_raw(&p.c, 0, buf, n / 2, E2E_WAIT_MS), LP_WIRE_EBADMSG,
                     "not a valid Envelope");
    /* whole, but without a model id: refused by its own rules */
    e2e_expect_error(lp_test_request_raw(&p.c, 0, buf, n, E2E_WAIT_MS), LP_WIRE_EBADMSG,
                     "model_id is 0 bytes");
    /* a message just over the size cap, then one far over it (the link
     * is dropped by ZeroMQ; the DEALER reconnects) */
    size_t big = LP_WIRE_MAX_MSG + 1;
    uint8_t *data = calloc(1, LP_WIRE_MAX_FRAME + 1024);
    e2e_expect_error(lp_test_request_raw(&p.c, 0, data, big, E2E_WAIT_MS), LP_WIRE_EBADMSG,
                     "over the 64 MiB cap");
    lp_err err = {0};
    assert_int_equal(lp_wire_send_raw(p.c.ctl[0], NULL, data, LP_WIRE_MAX_FRAME + 1024, 5000,
                                      &err), 0);
    free(data);
    /* a message that has no place on the control endpoint */
    Lp__Result res = LP__RESULT__INIT;
    env.body_case = LP__ENVELOPE__BODY_RESULT;
    env.result = &res;
    e2e_expect_error(lp_test_request(&p.c, 0, &env, E2E_WAIT_MS), LP_WIRE_EBADMSG,
                     "result does not belong on the control endpoint");
    still_serving(&p, 1);
    e2e_pipe_stop(&p);
}

static void test_bad_bytes_on_data(void **state)
{
    (void)state;
    e2e_pipe p;
    start_small(&p);
    lp_err err = {0};
    const uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef};
    assert_int_equal(lp_wire_send_raw(p.c.push, NULL, junk, sizeof junk, 1000, &err), 0);
    e2e_expect_error(lp_test_result(&p.c, E2E_WAIT_MS), LP_WIRE_EBADMSG,
                     "data endpoint: message of 4 bytes is not a valid Envelope");
    /* sampling parameters the sampler refuses */
    Lp__SamplingParams sp = LP__SAMPLING_PARAMS__INIT; /* top_p 0, repeat_penalty 0 */
    int32_t tok = 1;
    Lp__Forward f = LP__FORWARD__INIT;
    f.session = 3;
    f.n_tokens = 1;
    f.n_token_ids = 1;
    f.token_ids = &tok;
    f.new_session = true;
    f.sampling = &sp;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.request_id = 31;
    env.body_case = LP__ENVELOPE__BODY_FORWARD;
    env.forward = &f;
    assert_int_equal(lp_wire_send(p.c.push, NULL, &env, 1000, &err), 0);
    Lp__Envelope *r = lp_test_result(&p.c, E2E_WAIT_MS);
    assert_non_null(r);
    assert_int_equal(r->request_id, 31);
    e2e_expect_error(r, LP_WIRE_EBADMSG, "top_p");
    /* a control message on the data endpoint */
    Lp__Hello h = LP__HELLO__INIT;
    env.body_case = LP__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    assert_int_equal(lp_wire_send(p.c.push, NULL, &env, 1000, &err), 0);
    e2e_expect_error(lp_test_result(&p.c, E2E_WAIT_MS), LP_WIRE_EBADMSG,
                     "only Forward messages");
    still_serving(&p, 2);
    e2e_pipe_stop(&p);
}

static uint64_t worker_rss(e2e_pipe *p)
{
    Lp__Envelope *st = e2e_stats(&p->c, 0);
    uint64_t rss = st->stats->rss_bytes;
    lp_wire_env_free(st);
    return rss;
}

/* A Forward bigger than any step of the loaded shard can be is refused
 * before it is decoded (before: 60 MB of packed ids grew the worker by
 * 272 MB each, the ids decoded at 4 bytes a byte). */
static void test_oversized_forward(void **state)
{
    (void)state;
    e2e_pipe p;
    start_small(&p);
    const size_t n = (size_t)60 << 20; /* one-byte varints: 60 M ids */
    int32_t *ids = calloc(n, sizeof *ids);
    assert_non_null(ids);
    Lp__Forward f = LP__FORWARD__INIT;
    f.session = 5;
    f.n_tokens = 1;
    f.n_token_ids = n;
    f.token_ids = ids;
    f.new_session = true;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.request_id = 41;
    env.body_case = LP__ENVELOPE__BODY_FORWARD;
    env.forward = &f;
    uint64_t rss0 = worker_rss(&p);
    lp_err err = {0};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lp_wire_send(p.c.push, NULL, &env, 5000, &err), 0);
        e2e_expect_error(lp_test_result(&p.c, E2E_WAIT_MS), LP_WIRE_EBADMSG,
                         "this endpoint takes");
    }
    free(ids);
    uint64_t grew = worker_rss(&p) - rss0;
    print_message("[ hostile ] 3 x 60 MB Forward: worker RSS grew %.1f MB\n", grew / 1e6);
#if !defined(__SANITIZE_ADDRESS__) /* ASan's quarantine keeps what was freed */
    assert_true(grew < ((uint64_t)100 << 20)); /* at most the message's own buffer */
#endif
    still_serving(&p, 6);
    e2e_pipe_stop(&p);
}

/* A flood of garbage on the data endpoint of a worker with no coordinator
 * to tell: counted in Stats.refused, but a few log lines a minute, not one
 * a message (a flood filled the disk). The worker's stderr goes to a file. */
static void test_refusals_not_a_log_flood(void **state)
{
    (void)state;
    char dir[4096], log[4200];
    lp_test_tmpdir(dir, sizeof dir);
    snprintf(log, sizeof log, "%s/worker.log", dir);
    fflush(stderr);
    int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    e2e_pipe p;
    e2e_pipe_spawn(&p, 1, NULL); /* its stderr: the file */
    dup2(saved, 2);
    close(saved);
    close(fd);
    const uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef};
    lp_err err = {0};
    enum { N = 500 };
    for (int i = 0; i < N; i++)
        assert_int_equal(lp_wire_send_raw(p.c.push, NULL, junk, sizeof junk, 1000, &err), 0);
    uint64_t refused = 0;
    for (int t = 0; t < 200 && refused < N; t++) {
        usleep(20 * 1000);
        Lp__Envelope *st = e2e_stats(&p.c, 0);
        refused = st->stats->refused;
        lp_wire_env_free(st);
    }
    assert_true(refused >= N);
    e2e_pipe_stop(&p);
    size_t n;
    char *text = lp_test_read_file(log, &n);
    assert_non_null(text);
    int lines = 0;
    for (const char *s = text; (s = strstr(s, "no coordinator to tell")); s++)
        lines++;
    print_message("[ hostile ] %d garbage messages: %llu refused, %d log lines\n", N,
                  (unsigned long long)refused, lines);
    assert_true(lines >= 1 && lines <= 10);
    free(text);
    lp_test_rmtree(dir);
}

static void test_bad_steps(void **state)
{
    (void)state;
    e2e_pipe p;
    start_small(&p);
    lp_test_coord *c = &p.c;
    const int32_t t4[] = {1, 403, 407, 261, 378}, oov[] = {1, 600};
    e2e_expect_error(e2e_step(c, 777, 0, t4, 1, false, true), LP_WIRE_ESESSION,
                     "session 777: unknown on this worker");
    e2e_expect_error(e2e_step(c, 5, 2, t4, 2, true, false), LP_WIRE_EPOS,
                     "session 5: step at position 2, but the session holds 0");
    e2e_expect_error(e2e_step(c, 5, 0, t4, 5, true, false), LP_WIRE_EBADMSG,
                     "5 tokens in one step, more than n_batch 4");
    e2e_expect_error(e2e_step(c, 5, 0, oov, 2, true, false), LP_WIRE_EBADMSG,
                     "session 5: token id 600 outside the vocabulary of 512");
    /* none of those left a session behind */
    Lp__Envelope *st = e2e_stats(c, 0);
    assert_int_equal(st->stats->sessions_open, 0);
    lp_wire_env_free(st);

    Lp__Envelope *r = e2e_step(c, 5, 0, t4, 4, true, false);
    assert_int_equal(r->body_case, LP__ENVELOPE__BODY_RESULT);
    assert_int_equal(r->result->token, -1);
    lp_wire_env_free(r);
    e2e_expect_error(e2e_step(c, 5, 0, t4, 1, true, false), LP_WIRE_ESESSION,
                     "session 5: already open");
    e2e_expect_error(e2e_step(c, 5, 6, t4, 1, false, false), LP_WIRE_EPOS,
                     "step at position 6, but the session holds 4 positions (out of order?)");
    r = e2e_step(c, 5, 4, t4, 1, false, false);
    assert_int_equal(r->body_case, LP__ENVELOPE__BODY_RESULT);
    lp_wire_env_free(r);
    r = e2e_step(c, 5, 5, t4, 3, false, true); /* positions 5..7: the context's end */
    assert_int_equal(r->body_case, LP__ENVELOPE__BODY_RESULT);
    assert_true(r->result->token >= 0);
    lp_wire_env_free(r);
    e2e_expect_error(e2e_step(c, 5, 8, t4, 1, false, true), LP_WIRE_EPOS,
                     "session 5: positions 8..8 are beyond the context of 8");
    e2e_end_session(c, 0, 5);
    still_serving(&p, 6);
    e2e_pipe_stop(&p);
}

/* Steps sent straight to the second worker of a chain: it wants whole
 * rows of hidden states of a dtype it knows (f32, f16, bf16, q8_0). */
static void test_bad_hidden_states(void **state)
{
    (void)state;
    e2e_pipe p;
    e2e_pipe_start_opts(&p, "stories260K", 2, 2, CTX, BATCH);
    assert_int_equal(lp_test_coord_push_to(&p.c, p.w[1].data), 0);
    float hidden[2 * 64] = {0};
    Lp__Forward f = LP__FORWARD__INIT;
    f.session = 9;
    f.n_tokens = 2;
    f.new_session = true;
    f.hidden = (ProtobufCBinaryData){sizeof hidden - 2 * 4, (uint8_t *)hidden};
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.body_case = LP__ENVELOPE__BODY_FORWARD;
    env.forward = &f;
    lp_err err = {0};
    assert_int_equal(lp_wire_send(p.c.push, NULL, &env, 1000, &err), 0);
    e2e_expect_error(lp_test_result(&p.c, E2E_WAIT_MS), LP_WIRE_EBADMSG,
                     "session 9: 504 bytes of hidden states, expected 2 x 64 f32 (512 bytes)");
    /* f16 rows of the right size are taken (the wire's smaller dtypes) */
    f.session = 19;
    f.hidden.len = 2 * 64 * 2;
    f.dtype = LP__HIDDEN_DTYPE__HIDDEN_F16;
    assert_int_equal(lp_wire_send(p.c.push, NULL, &env, 1000, &err), 0);
    Lp__Envelope *r = lp_test_result(&p.c, E2E_WAIT_MS);
    assert_non_null(r);
    assert_int_equal(r->body_case, LP__ENVELOPE__BODY_RESULT);
    lp_wire_env_free(r);
    e2e_end_session(&p.c, 1, 19);
    /* q8_0 rows of the wrong width, of no whole width, and a dtype that is
     * none of the four */
    f.session = 9;
    f.dtype = LP__HIDDEN_DTYPE__HIDDEN_Q8_0;
    f.hidden.len = 2 * 3 * 34;
    assert_int_equal(lp_wire_send(p.c.push, NULL, &env, 1000, &err), 0);
    e2e_expect_error(lp_test_result(&p.c, E2E_WAIT_MS), LP_WIRE_EBADMSG,
                     "session 9: 204 bytes of hidden states, expected 2 x 64 q8_0 (136 bytes)");
    f.hidden.len = 2 * 2 * 34 + 34;
    assert_int_equal(lp_wire_send(p.c.push, NULL, &env, 1000, &err), 0);
    e2e_expect_error(lp_test_result(&p.c, E2E_WAIT_MS), LP_WIRE_EBADMSG,
                     "170 bytes of q8_0 hidden states are not 2 whole rows");
    f.dtype = (Lp__HiddenDtype)9;
    f.hidden.len = 2 * 64 * 4;
    assert_int_equal(lp_wire_send(p.c.push, NULL, &env, 1000, &err), 0);
    e2e_expect_error(lp_test_result(&p.c, E2E_WAIT_MS), LP_WIRE_EBADMSG,
                     "unknown hidden dtype 9");
    const int32_t toks[2] = {1, 2};
    e2e_expect_error(e2e_step(&p.c, 9, 0, toks, 2, true, false), LP_WIRE_EBADMSG,
                     "layers from 2 need hidden states, not token ids");
    assert_int_equal(lp_test_coord_push_to(&p.c, p.w[0].data), 0);
    still_serving(&p, 10);
    e2e_pipe_stop(&p);
}

/* A LoadShard's model_path opens nothing outside the worker's
 * --models-dir folders, and answers alike whether the path exists or not
 * (before: "bad magic 'root'" for /etc/shadow, a file oracle). */
static void check_path_refusals(lp_test_coord *c, const uint8_t *id)
{
    const char *outside = "model_path is not an absolute path inside this worker's --models-dir";
    const char *paths[] = {"/etc/shadow", "/etc/passwd", "/nonexistent.gguf", "relative.gguf",
                           "/tmp/../etc/passwd"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        e2e_expect_error(e2e_load_req(c, 0, id, paths[i], 0, 5, CTX, BATCH, NULL), LP_WIRE_ELOAD,
                         outside);
    /* Inside a folder (TMPDIR is one for test workers): a missing file is
     * said so; a link that leads outside is refused unopened. */
    char dir[4096], missing[4200], link[4200];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    snprintf(missing, sizeof missing, "%s/missing.gguf", dir);
    snprintf(link, sizeof link, "%s/shadow.gguf", dir);
    assert_int_equal(symlink("/etc/passwd", link), 0);
    e2e_expect_error(e2e_load_req(c, 0, id, missing, 0, 5, CTX, BATCH, NULL), LP_WIRE_ELOAD,
                     "No such file");
    e2e_expect_error(e2e_load_req(c, 0, id, link, 0, 5, CTX, BATCH, NULL), LP_WIRE_ELOAD,
                     "leads outside this worker's --models-dir folders");
    lp_test_rmtree(dir);
}

static void test_bad_loads(void **state)
{
    (void)state;
    e2e_pipe p;
    start_small(&p);
    char path[4096], qwen[4096];
    lp_test_shared(path, sizeof path, "models/stories260K.gguf");
    lp_test_shared(qwen, sizeof qwen, "models/synth-qwen2-Q8_0.gguf");
    uint8_t other[32];
    char have[65];
    lp_test_model_id("synth-qwen2-Q8_0", other);
    lp_model_id_hex(p.model_id, have);
    lp_test_coord *c = &p.c;
    /* The error says the file is another model, never which one. */
    Lp__Envelope *e = e2e_load_req(c, 0, other, path, 0, 5, CTX, BATCH, NULL);
    assert_int_equal(e->body_case, LP__ENVELOPE__BODY_ERROR);
    assert_int_equal(e->error->code, LP_WIRE_EMODEL);
    assert_non_null(strstr(e->error->message, "holds another model than the one asked for"));
    assert_null(strstr(e->error->message, have));
    lp_wire_env_free(e);
    e2e_expect_error(e2e_load_req(c, 0, p.model_id, path, 0, 9, CTX, BATCH, NULL), LP_WIRE_EMODEL,
                     "layers [0, 9) are outside the model's 5 layers");
    e2e_expect_error(e2e_load_req(c, 0, p.model_id, path, 0, 3, CTX, BATCH, NULL), LP_WIRE_ELOAD,
                     "layers [0, 3) do not end the model, so next_endpoint is needed");
    check_path_refusals(c, p.model_id);
    e2e_expect_error(e2e_load_req(c, 0, p.model_id, qwen, 0, 3, CTX, BATCH, NULL),
                     LP_WIRE_EMODEL, "another model");
    char f32[4096];
    uint8_t f32_id[32];
    lp_test_shared(f32, sizeof f32, "models/synth-llama-f32.gguf");
    lp_test_model_id("synth-llama-f32", f32_id);
    e2e_expect_error(e2e_load_req(c, 0, f32_id, f32, 0, 4, 65536, 65536, NULL), LP_WIRE_ELOAD,
                     "n_batch 65536 x n_embd 256 f32 hidden states are 67108864 bytes per step");
    Lp__LoadShard ls = LP__LOAD_SHARD__INIT;
    ls.model_id = (ProtobufCBinaryData){32, p.model_id};
    ls.model_path = path;
    ls.last_layer = 5;
    ls.n_slots = 1;
    ls.n_batch = 4;
    ls.result_endpoint = c->result_ep;
    ls.wire_dtype = (Lp__HiddenDtype)9;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.body_case = LP__ENVELOPE__BODY_LOAD_SHARD;
    env.load_shard = &ls;
    e2e_expect_error(lp_test_request(c, 0, &env, E2E_WAIT_MS), LP_WIRE_EBADMSG,
                     "LoadShard: unknown wire dtype 9");
    /* the shard loaded before is still there */
    still_serving(&p, 11);
    e2e_pipe_stop(&p);

    /* a worker whose limit is below what the shard needs */
    e2e_pipe_spawn(&p, 1, "--mem-limit 256K");
    lp_test_model_id("stories260K", p.model_id);
    e2e_expect_error(e2e_load_req(&p.c, 0, p.model_id, path, 0, 5, 4096, 512, NULL), LP_WIRE_ELOAD,
                     "over --mem-limit of 256.0 KiB");
    e2e_pipe_stop(&p);
}

/* A SIGKILLed stage: the stage before it keeps answering and exits
 * cleanly; nothing waits forever. */
static void test_sigkill_downstream(void **state)
{
    (void)state;
    e2e_pipe p;
    e2e_pipe_start_opts(&p, "stories260K", 2, 3, CTX, BATCH);
    const int32_t prompt[] = {1, 403};
    int32_t ids[2];
    e2e_generate_batch(&p.c, 12, prompt, 2, 2, ids, 2, BATCH);
    lp_test_worker_kill(&p.w[1]);
    e2e_send_step(&p.c, 12, 3, &ids[1], 1, false, true);
    int64_t t0 = e2e_now_ms();
    Lp__Envelope *r = lp_test_result(&p.c, 1500);
    assert_null(r); /* nobody left to answer; the coordinator's heartbeats notice */
    assert_true(e2e_now_ms() - t0 < 5000);
    Lp__Envelope *hb = e2e_heartbeat(&p.c, 0);
    assert_non_null(hb);
    lp_wire_env_free(hb);
    e2e_shutdown(&p.c, 0, &p.w[0]);
    lp_test_coord_close(&p.c);
}

static void test_idle_sessions_expire(void **state)
{
    (void)state;
    e2e_pipe p;
    e2e_pipe_spawn(&p, 1, "--session-ttl 1");
    e2e_pipe_load(&p, "stories260K", (int[]){0}, (int[]){5}, CTX, BATCH);
    const int32_t prompt[] = {1, 403};
    int32_t ids[1];
    e2e_generate_batch(&p.c, 13, prompt, 2, 1, ids, 1, BATCH);
    Lp__Envelope *st = e2e_stats(&p.c, 0);
    assert_int_equal(st->stats->sessions_open, 1);
    lp_wire_env_free(st);
    int64_t t0 = e2e_now_ms();
    uint64_t open = 1;
    while (open && e2e_now_ms() - t0 < 10000) {
        usleep(200000);
        st = e2e_stats(&p.c, 0);
        open = st->stats->sessions_open;
        lp_wire_env_free(st);
    }
    assert_int_equal(open, 0);
    assert_true(e2e_now_ms() - t0 >= 900);
    e2e_expect_error(e2e_step(&p.c, 13, 2, ids, 1, false, true), LP_WIRE_ESESSION,
                     "session 13: unknown");
    e2e_pipe_stop(&p);
}

/* A shard file streamed in chunks lands in the cache, is listed by Hello
 * and loads by its id; a chunk with a wrong checksum is refused. */
/* One ShardChunk of shard id (n bytes at off of a total_size shard), its
 * hash spoiled if bad_hash; the answer (the caller frees it). */
static Lp__Envelope *send_chunk(e2e_pipe *p, const uint8_t *id, uint64_t off, uint64_t total_size,
                                const uint8_t *data, size_t n, bool bad_hash)
{
    uint8_t h[32];
    lp_sha256(data, n, h);
    h[0] ^= bad_hash;
    Lp__ShardChunk ch = LP__SHARD_CHUNK__INIT;
    ch.shard_id = (ProtobufCBinaryData){32, (uint8_t *)id};
    ch.offset = off;
    ch.total_size = total_size;
    ch.data = (ProtobufCBinaryData){n, (uint8_t *)data};
    ch.chunk_hash = (ProtobufCBinaryData){32, h};
    ch.last = off + n == total_size;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.body_case = LP__ENVELOPE__BODY_SHARD_CHUNK;
    env.shard_chunk = &ch;
    Lp__Envelope *r = lp_test_request(&p->c, 0, &env, E2E_WAIT_MS);
    assert_non_null(r);
    return r;
}

static void expect_ack(Lp__Envelope *r, uint64_t have, bool complete)
{
    if (r->body_case == LP__ENVELOPE__BODY_ERROR)
        fail_msg("chunk refused: %s", r->error->message);
    assert_int_equal(r->body_case, LP__ENVELOPE__BODY_CHUNK_ACK);
    assert_int_equal(r->chunk_ack->have, have);
    assert_int_equal(r->chunk_ack->complete, complete);
    lp_wire_env_free(r);
}

/* The shard cache has a quota (--cache-max, default twice the memory
 * budget): a shard announced bigger than what is left is refused before a
 * byte is written (before: a ShardChunk announcing 1 TiB was taken). */
static void test_cache_quota(void **state)
{
    (void)state;
    char dir[4096], args[4200], part[4300];
    lp_test_tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "--cache-dir %s/cache --cache-max 2M", dir);
    e2e_pipe p;
    e2e_pipe_spawn(&p, 1, args);
    uint8_t data[4096] = {1, 2, 3}, a[32] = {0xa}, b[32] = {0xb}, c[32] = {0xc};
    char hex[65];
    e2e_expect_error(send_chunk(&p, a, 0, (uint64_t)1 << 40, data, sizeof data, false),
                     LP_WIRE_ELOAD,
                     "does not fit this worker's cache quota of 2097152 bytes");
    lp_model_id_hex(a, hex);
    snprintf(part, sizeof part, "%s/cache/%s.part", dir, hex);
    assert_int_equal(access(part, F_OK), -1); /* nothing written */
    /* 1.5 MiB partly held, then 0.5 MiB more fits and one byte more does not */
    expect_ack(send_chunk(&p, b, 0, 3 << 19, data, sizeof data, false), sizeof data, false);
    e2e_expect_error(send_chunk(&p, c, 0, (1 << 19) + 1, data, sizeof data, false), LP_WIRE_ELOAD,
                     "(1572864 held by other shards; --cache-max)");
    expect_ack(send_chunk(&p, c, 0, 1 << 19, data, sizeof data, false), sizeof data, false);
    e2e_pipe_stop(&p);
    lp_test_rmtree(dir);
}

static void test_shard_from_cache(void **state)
{
    (void)state;
    char dir[4096], args[4200], path[4096];
    lp_test_tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "--cache-dir %s/sub/cache", dir);
    e2e_pipe p;
    e2e_pipe_spawn(&p, 1, args);
    size_t size;
    uint8_t *file = lp_test_read_file(lp_test_shared(path, sizeof path, "models/stories260K.gguf"),
                                      &size);
    assert_non_null(file);
    uint8_t id[32];
    lp_sha256(file, size, id);
    const size_t chunk = 256 << 10;
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (off == chunk) /* once: a corrupted chunk */
            e2e_expect_error(send_chunk(&p, id, off, size, file + off, n, true), LP_WIRE_ELOAD, "");
        expect_ack(send_chunk(&p, id, off, size, file + off, n, false), off + n, off + n == size);
    }
    free(file);
    Lp__Envelope *caps = e2e_hello(&p.c, 0);
    assert_int_equal(caps->capabilities->n_cached_shards, 1);
    assert_memory_equal(caps->capabilities->cached_shards[0].data, id, 32);
    lp_wire_env_free(caps);

    Lp__LoadShard ls = LP__LOAD_SHARD__INIT;
    lp_test_model_id("stories260K", p.model_id);
    ls.model_id = (ProtobufCBinaryData){32, p.model_id};
    ls.shard_id = (ProtobufCBinaryData){32, id};
    ls.last_layer = 5;
    ls.n_ctx = CTX;
    ls.n_slots = 1;
    ls.n_batch = BATCH;
    ls.result_endpoint = p.c.result_ep;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.body_case = LP__ENVELOPE__BODY_LOAD_SHARD;
    env.load_shard = &ls;
    Lp__Envelope *r = lp_test_request(&p.c, 0, &env, E2E_WAIT_MS);
    assert_non_null(r);
    if (r->body_case == LP__ENVELOPE__BODY_ERROR)
        fail_msg("LoadShard by id: %s", r->error->message);
    assert_int_equal(r->body_case, LP__ENVELOPE__BODY_SHARD_READY);
    lp_wire_env_free(r);
    still_serving(&p, 14);
    id[0] ^= 1; /* a shard the cache does not hold */
    e2e_expect_error(lp_test_request(&p.c, 0, &env, E2E_WAIT_MS), LP_WIRE_ELOAD,
                     "is not in this worker's cache");
    e2e_pipe_stop(&p);
    lp_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_bytes_on_control),
        cmocka_unit_test(test_bad_bytes_on_data),
        cmocka_unit_test(test_oversized_forward),
        cmocka_unit_test(test_refusals_not_a_log_flood),
        cmocka_unit_test(test_bad_steps),
        cmocka_unit_test(test_bad_hidden_states),
        cmocka_unit_test(test_bad_loads),
        cmocka_unit_test(test_sigkill_downstream),
        cmocka_unit_test(test_idle_sessions_expire),
        cmocka_unit_test(test_shard_from_cache),
        cmocka_unit_test(test_cache_quota),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
