/* support_pipe.c — pipelines of real workers for end-to-end tests
 * (support_pipe.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gguf.h"
#include "model.h"
#include "support_pipe.h"

int64_t e2e_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void e2e_pipe_spawn(e2e_pipe *p, int n, const char *args)
{
    memset(p, 0, sizeof *p);
    assert_true(n >= 1 && n <= E2E_MAX_WORKERS);
    p->n = n;
    assert_int_equal(lp_test_coord_open(&p->c), 0);
    for (int i = 0; i < n; i++) {
        if (lp_test_worker_start(&p->w[i], args) != 0)
            fail_msg("worker %d did not start", i);
        assert_int_equal(lp_test_coord_connect(&p->c, i, p->w[i].control), 0);
    }
    assert_int_equal(lp_test_coord_push_to(&p->c, p->w[0].data), 0);
}

Lp__Envelope *e2e_load_req(lp_test_coord *c, int i, const uint8_t id[32], const char *path,
                           int first, int last, int n_ctx, int n_batch, const char *next)
{
    Lp__LoadShard ls = LP__LOAD_SHARD__INIT;
    ls.model_id = (ProtobufCBinaryData){32, (uint8_t *)id};
    ls.model_path = (char *)path;
    ls.first_layer = (uint32_t)first;
    ls.last_layer = (uint32_t)last;
    ls.n_ctx = (uint32_t)n_ctx;
    ls.n_slots = 4; /* e2e_worker runs 3 sessions and a 4th at once */
    ls.n_batch = (uint32_t)n_batch;
    ls.next_endpoint = (char *)(next ? next : "");
    ls.result_endpoint = c->result_ep;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.body_case = LP__ENVELOPE__BODY_LOAD_SHARD;
    env.load_shard = &ls;
    return lp_test_request(c, i, &env, E2E_WAIT_MS);
}

void e2e_pipe_load(e2e_pipe *p, const char *stem, const int *first, const int *last, int n_ctx,
                   int n_batch)
{
    char rel[256], path[4096];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    lp_test_shared(path, sizeof path, rel);
    lp_test_model_id(stem, p->model_id);
    for (int i = 0; i < p->n; i++) {
        Lp__Envelope *r = e2e_load_req(&p->c, i, p->model_id, path, first[i], last[i], n_ctx,
                                       n_batch, i + 1 < p->n ? p->w[i + 1].data : NULL);
        if (!r)
            fail_msg("worker %d: no answer to LoadShard", i);
        if (r->body_case == LP__ENVELOPE__BODY_ERROR)
            fail_msg("worker %d: LoadShard: %s", i, r->error->message);
        assert_int_equal(r->body_case, LP__ENVELOPE__BODY_SHARD_READY);
        assert_int_equal(r->shard_ready->first_layer, first[i]);
        assert_int_equal(r->shard_ready->last_layer, last[i]);
        assert_memory_equal(r->shard_ready->model_id.data, p->model_id, 32);
        assert_true(r->shard_ready->weight_bytes > 0 && r->shard_ready->kv_bytes > 0);
        lp_wire_env_free(r);
    }
}

void e2e_pipe_start_opts(e2e_pipe *p, const char *stem, int n_workers, int cut, int n_ctx,
                         int n_batch)
{
    e2e_pipe_spawn(p, n_workers, NULL);
    int first[2] = {0, cut}, last[2] = {n_workers == 1 ? 0 : cut, 0};
    /* last = n_layer, read from the file */
    char rel[256], path[4096];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open(lp_test_shared(path, sizeof path, rel), &err);
    assert_non_null(g);
    lp_hparams hp;
    assert_int_equal(lp_hparams_read(g, &hp, &err), 0);
    lp_gguf_close(g);
    last[n_workers - 1] = (int)hp.n_layer;
    e2e_pipe_load(p, stem, first, last, n_ctx, n_batch);
}

void e2e_pipe_start(e2e_pipe *p, const char *stem, int n_workers, int cut)
{
    e2e_pipe_start_opts(p, stem, n_workers, cut, E2E_CTX, E2E_BATCH);
}

void e2e_shutdown(lp_test_coord *c, int i, lp_test_worker *w)
{
    Lp__Shutdown sd = LP__SHUTDOWN__INIT;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.body_case = LP__ENVELOPE__BODY_SHUTDOWN;
    env.shutdown = &sd;
    Lp__Envelope *r = lp_test_request(c, i, &env, E2E_WAIT_MS);
    if (!r)
        fail_msg("worker %s: no answer to Shutdown", w->name);
    assert_int_equal(r->body_case, LP__ENVELOPE__BODY_OK);
    lp_wire_env_free(r);
    int st = lp_test_worker_wait(w, E2E_WAIT_MS);
    if (st != 0) {
        lp_test_worker_kill(w);
        fail_msg("worker %s: exit status %d after Shutdown", w->name, st);
    }
}

void e2e_pipe_stop(e2e_pipe *p)
{
    for (int i = 0; i < p->n; i++)
        e2e_shutdown(&p->c, i, &p->w[i]);
    lp_test_coord_close(&p->c);
}

static Lp__Envelope *simple(lp_test_coord *c, int i, Lp__Envelope__BodyCase body, void *msg,
                            int timeout_ms)
{
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.body_case = body;
    env.hello = msg; /* the body union: any member */
    return lp_test_request(c, i, &env, timeout_ms);
}

Lp__Envelope *e2e_hello(lp_test_coord *c, int i)
{
    Lp__Hello h = LP__HELLO__INIT;
    Lp__Envelope *r = simple(c, i, LP__ENVELOPE__BODY_HELLO, &h, E2E_WAIT_MS);
    assert_non_null(r);
    assert_int_equal(r->body_case, LP__ENVELOPE__BODY_CAPABILITIES);
    return r;
}

Lp__Envelope *e2e_stats(lp_test_coord *c, int i)
{
    Lp__StatsRequest s = LP__STATS_REQUEST__INIT;
    Lp__Envelope *r = simple(c, i, LP__ENVELOPE__BODY_STATS_REQUEST, &s, E2E_WAIT_MS);
    assert_non_null(r);
    assert_int_equal(r->body_case, LP__ENVELOPE__BODY_STATS);
    return r;
}

Lp__Envelope *e2e_heartbeat(lp_test_coord *c, int i)
{
    Lp__Heartbeat hb = LP__HEARTBEAT__INIT;
    hb.seq = 77;
    Lp__Envelope *r = simple(c, i, LP__ENVELOPE__BODY_HEARTBEAT, &hb, 2000);
    if (r) {
        assert_int_equal(r->body_case, LP__ENVELOPE__BODY_HEARTBEAT);
        assert_int_equal(r->heartbeat->seq, 77);
    }
    return r;
}

void e2e_end_session(lp_test_coord *c, int i, uint64_t session)
{
    Lp__EndSession es = LP__END_SESSION__INIT;
    es.session = session;
    Lp__Envelope *r = simple(c, i, LP__ENVELOPE__BODY_END_SESSION, &es, E2E_WAIT_MS);
    assert_non_null(r);
    assert_int_equal(r->body_case, LP__ENVELOPE__BODY_OK);
    lp_wire_env_free(r);
}

void e2e_send_forward(lp_test_coord *c, uint64_t session, uint32_t pos0, const int32_t *toks,
                      int n, bool new_session, bool sample, const int32_t *hist, int n_hist,
                      uint32_t top_logprobs)
{
    lp_sampler_params greedy;
    lp_wire_sampling_to(NULL, &greedy, NULL);
    e2e_send_forward_sp(c, session, pos0, toks, n, new_session, sample ? &greedy : NULL, hist,
                        n_hist, top_logprobs);
}

void e2e_send_forward_sp(lp_test_coord *c, uint64_t session, uint32_t pos0, const int32_t *toks,
                         int n, bool new_session, const lp_sampler_params *params,
                         const int32_t *hist, int n_hist, uint32_t top_logprobs)
{
    Lp__SamplingParams sp;
    if (params)
        lp_wire_sampling_from(&sp, params);
    Lp__Forward f = LP__FORWARD__INIT;
    f.session = session;
    f.pos0 = pos0;
    f.n_tokens = (uint32_t)n;
    f.n_token_ids = (size_t)n;
    f.token_ids = (int32_t *)toks;
    f.new_session = new_session;
    f.sampling = params ? &sp : NULL;
    f.n_history = (size_t)n_hist;
    f.history = (int32_t *)hist;
    f.top_logprobs = top_logprobs;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.request_id = ++c->next_id;
    env.body_case = LP__ENVELOPE__BODY_FORWARD;
    env.forward = &f;
    lp_err err = {0};
    if (lp_wire_send(c->push, NULL, &env, E2E_WAIT_MS, &err) != 0)
        fail_msg("send Forward: %s", err.msg[0] ? err.msg : "timed out");
}

void e2e_send_step(lp_test_coord *c, uint64_t session, uint32_t pos0, const int32_t *toks,
                   int n, bool new_session, bool sample)
{
    e2e_send_forward(c, session, pos0, toks, n, new_session, sample, NULL, 0, 0);
}

Lp__Envelope *e2e_step(lp_test_coord *c, uint64_t session, uint32_t pos0, const int32_t *toks,
                       int n, bool new_session, bool sample)
{
    e2e_send_step(c, session, pos0, toks, n, new_session, sample);
    Lp__Envelope *r = lp_test_result(c, E2E_WAIT_MS);
    if (!r)
        fail_msg("session %llu: no Result or Error within %d ms", (unsigned long long)session,
                 E2E_WAIT_MS);
    return r;
}

static int32_t expect_result(lp_test_coord *c, uint64_t session, uint32_t pos, int n_hops)
{
    Lp__Envelope *r = lp_test_result(c, E2E_WAIT_MS);
    if (!r)
        fail_msg("session %llu: no Result within %d ms", (unsigned long long)session, E2E_WAIT_MS);
    if (r->body_case == LP__ENVELOPE__BODY_ERROR)
        fail_msg("session %llu: Error %u: %s", (unsigned long long)session, r->error->code,
                 r->error->message);
    assert_int_equal(r->body_case, LP__ENVELOPE__BODY_RESULT);
    assert_int_equal(r->result->session, session);
    assert_int_equal(r->result->pos, pos);
    assert_int_equal(r->result->n_compute_us, n_hops);
    int32_t t = r->result->token;
    lp_wire_env_free(r);
    return t;
}

void e2e_generate_batch(lp_test_coord *c, uint64_t session, const int32_t *prompt, int n_prompt,
                        int n_gen, int32_t *ids, int n_hops, int n_batch)
{
    int n_chunks = 0;
    for (int done = 0; done < n_prompt; done += n_batch, n_chunks++) {
        int n = n_prompt - done < n_batch ? n_prompt - done : n_batch;
        bool last = done + n == n_prompt;
        e2e_send_forward(c, session, (uint32_t)done, prompt + done, n, done == 0, last,
                         last ? prompt : NULL, last ? n_prompt : 0, 0);
    }
    for (int k = 0; k < n_chunks; k++) {
        uint32_t end = (uint32_t)(k + 1 == n_chunks ? n_prompt : (k + 1) * n_batch);
        int32_t t = expect_result(c, session, end, n_hops);
        if (k + 1 < n_chunks)
            assert_int_equal(t, -1); /* unsampled chunk */
        else
            ids[0] = t;
    }
    for (int i = 1; i < n_gen; i++) {
        uint32_t pos = (uint32_t)(n_prompt + i - 1);
        e2e_send_step(c, session, pos, &ids[i - 1], 1, false, true);
        ids[i] = expect_result(c, session, pos + 1, n_hops);
        assert_true(ids[i] >= 0);
    }
}

void e2e_generate(lp_test_coord *c, uint64_t session, const int32_t *prompt, int n_prompt,
                  int n_gen, int32_t *ids, int n_hops)
{
    e2e_generate_batch(c, session, prompt, n_prompt, n_gen, ids, n_hops, E2E_BATCH);
}

void e2e_expect_error(Lp__Envelope *r, uint32_t code, const char *needle)
{
    if (!r)
        fail_msg("no answer (expected an Error with '%s')", needle);
    if (r->body_case != LP__ENVELOPE__BODY_ERROR)
        fail_msg("got body %d, expected an Error with '%s'", (int)r->body_case, needle);
    if (r->error->code != code || !strstr(r->error->message, needle))
        fail_msg("Error %u '%s', expected %u with '%s'", r->error->code, r->error->message, code,
                 needle);
    lp_wire_env_free(r);
}
