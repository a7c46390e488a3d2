/* The coordinator's cluster API against real worker processes on
 * loopback: several sessions in flight at once, each equal to llama.cpp's
 * greedy ids; KV freed on every worker when sessions end; a worker killed
 * mid-generation ends the request with a clear error within 5 s, and once
 * it is started again on its endpoints the next request succeeds; a
 * Result from anyone but a session's last worker changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "gguf.h"
#include "local_workers.h"
#include "model_id.h"
#include "support.h"
#include "support_ref.h"

enum { MAX_SESS = 8 };

typedef struct sess_out {
    int32_t ids[64];
    int n;
    int budget;     /* tokens to take; the callback ends the session there */
    bool done;
    char error[512];
    int kill_after; /* tokens after which the test kills a worker (0: never) */
    pid_t victim;
} sess_out;

typedef struct pool {
    lp_wire *wire;
    lp_cluster *cl;
    lp_local_workers lw;
    char model[4096];
} pool;

static bool on_token(void *user, uint64_t session, const lp_sampled *t, const char *error)
{
    sess_out *s = user;
    (void)session;
    if (!t) {
        s->done = true;
        if (error)
            snprintf(s->error, sizeof s->error, "%s", error);
        return false;
    }
    if (s->n < 64)
        s->ids[s->n++] = t->token;
    if (s->kill_after && s->n == s->kill_after)
        kill(s->victim, SIGKILL);
    return s->n < s->budget;
}

/* A pool of the model file at path (p->model). */
static void pool_open_at(pool *p, int n_workers, int slots, int recover_ms)
{
    lp_err err = {0};
    lp_cluster_opts co;
    lp_cluster_opts_default(&co);
    co.n_ctx = 512;
    co.n_slots = slots;
    co.n_batch = 16;
    co.dead_after_ms = 2000;
    co.recover_ms = recover_ms;
    p->wire = lp_wire_new(&err);
    assert_non_null(p->wire);
    if (lp_local_workers_start(&p->lw, n_workers, 1, NULL, p->model, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(p->lw.keyed); /* local workers take orders over CURVE, from our fresh key */
    co.key = &p->lw.coord;
    if (!(p->cl = lp_cluster_new(p->wire, &co, &err)))
        fail_msg("%s", err.msg);
    for (int i = 0; i < n_workers; i++)
        if (lp_cluster_add_worker_keyed(p->cl, p->lw.control[i], p->lw.key[i].pub, &err) != 0)
            fail_msg("%s", err.msg);
    lp_gguf *g = lp_gguf_open(p->model, &err);
    uint8_t id[LP_SHA256_BYTES];
    assert_non_null(g);
    assert_int_equal(lp_model_id(g, id, &err), 0);
    uint32_t n_layer = 0, n_vocab;
    lp_gguf_get_u32(g, "llama.block_count", &n_layer);
    n_vocab = (uint32_t)lp_gguf_find_tensor(g, "token_embd.weight")->ne[1];
    lp_gguf_close(g);
    int first[8], last[8];
    const char *paths[8];
    for (int i = 0; i < n_workers; i++) {
        first[i] = (int)n_layer * i / n_workers;
        last[i] = (int)n_layer * (i + 1) / n_workers;
        paths[i] = p->model;
    }
    if (lp_cluster_load(p->cl, id, paths, NULL, first, last, n_vocab, &err) != 0)
        fail_msg("%s", err.msg);
}

static void pool_open(pool *p, const char *stem, int n_workers, int slots, int recover_ms)
{
    char rel[256];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    lp_test_shared(p->model, sizeof p->model, rel);
    pool_open_at(p, n_workers, slots, recover_ms);
}

static void pool_close(pool *p)
{
    lp_cluster_shutdown_workers(p->cl);
    lp_local_workers_stop(&p->lw);
    lp_cluster_free(p->cl);
    lp_wire_free(p->wire);
}

static uint64_t start(pool *p, const ref_case *c, int n_predict, sess_out *out)
{
    lp_err err = {0};
    out->budget = n_predict;
    lp_session_req req = {.prompt = c->prompt, .n_prompt = c->n_prompt,
                          .sampling = lp_sampler_params_default(), .cb = on_token, .user = out};
    req.sampling.temp = 0.0f;
    uint64_t id = lp_cluster_start(p->cl, &req, &err);
    if (!id)
        fail_msg("start: %s", err.msg);
    return id;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Poll until every session is done or `secs` pass. */
static void run_until_done(pool *p, sess_out *s, int n, double secs)
{
    lp_err err = {0};
    double t0 = now_s();
    for (;;) {
        bool all = true;
        for (int i = 0; i < n; i++)
            all = all && s[i].done;
        if (all)
            return;
        if (now_s() - t0 > secs)
            fail_msg("sessions still running after %.0f s", secs);
        if (lp_cluster_poll(p->cl, 50, &err) < 0)
            fail_msg("poll: %s", err.msg);
    }
}

static void expect_ref(const ref_case *c, const sess_out *s)
{
    if (s->error[0])
        fail_msg("session failed: %s", s->error);
    assert_int_equal(s->n, c->n_greedy);
    assert_memory_equal(s->ids, c->greedy, sizeof(int32_t) * (size_t)c->n_greedy);
}

static void expect_sessions_freed(pool *p)
{
    lp_err err = {0};
    double t0 = now_s();
    for (;;) {
        assert_int_equal(lp_cluster_refresh_stats(p->cl, &err), 0);
        uint32_t open = 0;
        for (int i = 0; i < lp_cluster_n_workers(p->cl); i++)
            open += lp_cluster_get_worker(p->cl, i)->sessions_open;
        if (open == 0)
            return;
        if (now_s() - t0 > 5)
            fail_msg("%u sessions still open on the workers", open);
        lp_cluster_poll(p->cl, 50, &err);
    }
}

/* Resident memory of this process (the coordinator), in bytes. */
static long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    if (f)
        fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static void test_sessions_in_flight(void **state)
{
    (void)state;
    pool p;
    ref_model m;
    lp_err err = {0};
    sess_out out[6] = {0};
    assert_int_equal(ref_load("synth-llama-Q4_K_M", &m), 0);
    pool_open(&p, "synth-llama-Q4_K_M", 2, 4, 0);
    long rss0 = rss_bytes();
    uint64_t ids[6];
    for (int i = 0; i < 6; i++) /* 6 sessions on 4 slots: two wait */
        ids[i] = start(&p, &m.cases[i % m.n_cases], m.cases[i % m.n_cases].n_greedy, &out[i]);
    /* Session ids are random 64-bit numbers, not 1, 2, 3 (a Result names
     * its session: a guessable id lets a peer aim at another stream).
     * Each is below 2^20 with odds 2^-44. */
    for (int i = 0; i < 6; i++) {
        assert_true(ids[i] >= (1u << 20));
        for (int j = 0; j < i; j++)
            assert_true(ids[i] != ids[j]);
    }
    run_until_done(&p, out, 6, 60);
    for (int i = 0; i < 6; i++)
        expect_ref(&m.cases[i % m.n_cases], &out[i]);
    expect_sessions_freed(&p);
    /* The KV lives on the workers, sized for their own layers only (2 of
     * 4 layers, 512 positions, 4 slots, 512 B per position and layer);
     * the coordinator holds none of it. */
    assert_int_equal(lp_cluster_refresh_stats(p.cl, &err), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(lp_cluster_get_worker(p.cl, i)->kv_bytes_reserved, 2 * 512 * 4 * 512);
    /* Every stage's compute is counted per prompt token and per decode
     * step (what the prompt chunk is chosen from), and no chunk passes
     * n_batch. */
    uint64_t prompt_tokens = 0, decode_steps = 0;
    for (int i = 0; i < 6; i++) {
        prompt_tokens += (uint64_t)m.cases[i % m.n_cases].n_prompt;
        decode_steps += (uint64_t)m.cases[i % m.n_cases].n_greedy - 1;
    }
    for (int i = 0; i < 2; i++) {
        const lp_cluster_worker *w = lp_cluster_get_worker(p.cl, i);
        assert_int_equal(w->prompt_tokens, prompt_tokens);
        assert_int_equal(w->decode_steps, decode_steps);
        assert_true(w->prompt_us > 0 && w->decode_us > 0);
    }
    assert_int_equal(lp_cluster_prompt_chunk(p.cl, 4096), 16);
    long grew = rss_bytes() - rss0;
#if !defined(__SANITIZE_THREAD__) /* TSan's shadow of what the sessions touched counts in RSS */
    if (grew > 1 << 20)
        fail_msg("the coordinator grew by %ld bytes over six sessions", grew);
#else
    (void)grew;
#endif
    pool_close(&p);
    ref_free(&m);
}

/* Worker i's control and data endpoints, as the cluster reaches them. */
static void endpoints_of(const pool *p, int i, char control[256], char data[256])
{
    const lp_cluster_worker *w = lp_cluster_get_worker(p->cl, i);
    snprintf(control, 256, "%s", w->control);
    snprintf(data, 256, "%s", w->data);
}

/* Worker 1 killed: wait for it, and start it again on the endpoints it
 * had, with its key; then wait until the cluster has loaded it again. */
static void restart_worker1(pool *p, const char *control, const char *data)
{
    lp_err err = {0};
    waitpid(p->lw.pid[1], NULL, 0);
    close(p->lw.out_fd[1]);
    char ctl2[256];
    char models[4200];
    snprintf(models, sizeof models, "%s", p->model);
    const char *extra[] = {"--models-dir", dirname(models), "--coordinator-key",
                           p->lw.coord.pub, NULL};
    p->lw.pid[1] = lp_local_worker_spawn(control, data, 1, NULL, "local-1", &p->lw.key[1], extra,
                                         ctl2, sizeof ctl2, &p->lw.out_fd[1], &err);
    if (p->lw.pid[1] < 0)
        fail_msg("restart: %s", err.msg);
    double t0 = now_s();
    while (!lp_cluster_ready(p->cl)) {
        if (now_s() - t0 > 15)
            fail_msg("the restarted worker was not loaded again");
        lp_cluster_poll(p->cl, 50, &err);
    }
}

static void test_lost_worker_then_back(void **state)
{
    (void)state;
    pool p;
    ref_model m;
    assert_int_equal(ref_load("stories260K", &m), 0);
    pool_open(&p, "stories260K", 2, 2, 0);
    char control[256], data[256];
    endpoints_of(&p, 1, control, data);
    sess_out doomed = {.kill_after = 5, .victim = p.lw.pid[1]};
    start(&p, &m.cases[0], 400, &doomed);
    double t_kill = now_s();
    run_until_done(&p, &doomed, 1, 20);
    double waited = now_s() - t_kill;
    assert_true(doomed.n >= 5 && doomed.n < 400);
    const char *name = lp_cluster_get_worker(p.cl, 1)->name;
    if (!strstr(doomed.error, "lost") || !strstr(doomed.error, name))
        fail_msg("error does not name the lost worker: '%s'", doomed.error);
    assert_true(waited < 5.0);
    restart_worker1(&p, control, data);
    sess_out again = {0};
    start(&p, &m.cases[0], m.cases[0].n_greedy, &again);
    run_until_done(&p, &again, 1, 30);
    expect_ref(&m.cases[0], &again);
    print_message("[ cluster ] lost worker reported after %.2f s; reloaded and served again\n",
                  waited);
    pool_close(&p);
    ref_free(&m);
}

/* Send a Result naming session (token 7) to the coordinator's result
 * endpoint as `as` (NULL: plainly, no key). */
static void forge_result(pool *p, const lp_keypair *as, uint64_t session)
{
    lp_err err = {0};
    const lp_cluster_worker *last = lp_cluster_get_worker(p->cl, lp_cluster_n_workers(p->cl) - 1);
    const lp_curve cv = {.pub = as ? as->pub : NULL, .sec = as ? as->sec : NULL,
                         .server_pub = p->lw.coord.pub};
    void *push = lp_wire_socket_curve(p->wire, LP_SOCK_PUSH, last->result, as ? &cv : NULL, &err);
    if (!push)
        fail_msg("forger: %s", err.msg);
    Lp__Envelope env = LP__ENVELOPE__INIT;
    Lp__Result res = LP__RESULT__INIT;
    res.session = session;
    res.token = 7;
    env.body_case = LP__ENVELOPE__BODY_RESULT;
    env.result = &res;
    lp_wire_send(push, NULL, &env, 1000, &err); /* a plain one only queues: no handshake */
    lp_wire_close(push);
}

/* A Result for a live session, sent to the coordinator by the pool's first
 * worker (whose key the result endpoint accepts: its Errors count) or by
 * anyone without a key, changes nothing: only the last worker's count. */
static void test_forged_results_dropped(void **state)
{
    (void)state;
    pool p;
    ref_model m;
    lp_err err = {0};
    assert_int_equal(ref_load("synth-llama-Q4_K_M", &m), 0);
    pool_open(&p, "synth-llama-Q4_K_M", 2, 2, 0);
    sess_out out = {0};
    uint64_t id = start(&p, &m.cases[0], m.cases[0].n_greedy, &out);
    while (out.n < 1 && !out.done)
        assert_true(lp_cluster_poll(p.cl, 5, &err) >= 0);
    forge_result(&p, &p.lw.key[0], id);
    forge_result(&p, NULL, id);
    double t0 = now_s();
    while (lp_cluster_results_dropped(p.cl) < 1 && now_s() - t0 < 10)
        assert_true(lp_cluster_poll(p.cl, 5, &err) >= 0);
    run_until_done(&p, &out, 1, 30);
    expect_ref(&m.cases[0], &out);
    assert_int_equal(lp_cluster_results_dropped(p.cl), 1);
    pool_close(&p);
    ref_free(&m);
}

/* With recovery on, a session whose worker is lost waits; once the worker
 * is back and loaded, the session is replayed (the steps it took, resent)
 * and goes on: its ids are llama.cpp's greedy ids, exactly as if nothing
 * happened. */
static void test_replay_after_loss(void **state)
{
    (void)state;
    pool p;
    ref_model m;
    assert_int_equal(ref_load("stories260K", &m), 0);
    pool_open(&p, "stories260K", 2, 2, 30000);
    char control[256], data[256];
    endpoints_of(&p, 1, control, data);
    sess_out out = {.kill_after = 5, .victim = p.lw.pid[1]};
    start(&p, &m.cases[0], m.cases[0].n_greedy, &out);
    lp_err err = {0};
    while (!out.done && lp_cluster_ready(p.cl)) /* until the loss is noticed */
        assert_true(lp_cluster_poll(p.cl, 20, &err) >= 0);
    assert_false(out.done);
    restart_worker1(&p, control, data);
    run_until_done(&p, &out, 1, 30);
    expect_ref(&m.cases[0], &out);
    lp_cluster_recovery r = lp_cluster_get_recovery(p.cl);
    assert_int_equal(r.replays, 1);
    assert_true(r.replayed_tokens >= (uint64_t)m.cases[0].n_prompt + 5);
    pool_close(&p);
    ref_free(&m);
}

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *data = lp_test_read_file(from, &n);
    FILE *f = fopen(to, "wb");
    assert_true(data && f && fwrite(data, 1, n, f) == n);
    fclose(f);
    free(data);
}

/* A worker restarted holding another model under the same file name is
 * refused by the coordinator, which says so naming both files (the one it
 * asked for and the worker's), and keeps the pool down rather than mix
 * models. (Here the two workers share the file, so the one still running
 * finds it changed too when it is asked to relink.) */
static void test_restarted_with_other_model(void **state)
{
    (void)state;
    pool p;
    char dir[2048], real[4096], other[4096];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    lp_test_shared(real, sizeof real, "models/stories260K.gguf");
    lp_test_shared(other, sizeof other, "models/synth-llama-Q4_K_M.gguf");
    snprintf(p.model, sizeof p.model, "%s/model.gguf", dir);
    copy_file(real, p.model);
    pool_open_at(&p, 2, 2, 30000);
    char control[256], data[256];
    endpoints_of(&p, 1, control, data);
    kill(p.lw.pid[1], SIGKILL);
    waitpid(p.lw.pid[1], NULL, 0);
    close(p.lw.out_fd[1]);
    char swap[4200]; /* another model under the same name, as a new file: the
                        old one stays mapped where it is in use */
    snprintf(swap, sizeof swap, "%s.new", p.model);
    copy_file(other, swap);
    assert_int_equal(rename(swap, p.model), 0);
    lp_err err = {0};
    char ctl2[256];
    const char *extra[] = {"--models-dir", dir, "--coordinator-key", p.lw.coord.pub, NULL};
    p.lw.pid[1] = lp_local_worker_spawn(control, data, 1, NULL, "local-1", &p.lw.key[1], extra,
                                        ctl2, sizeof ctl2, &p.lw.out_fd[1], &err);
    assert_true(p.lw.pid[1] > 0);
    char why[512] = "";
    double t0 = now_s();
    while (!strstr(why, "refuses") && now_s() - t0 < 15) {
        lp_cluster_poll(p.cl, 50, &err);
        lp_cluster_state(p.cl, why, sizeof why);
    }
    int named = 0; /* the coordinator's file, and the worker's */
    for (const char *q = why; (q = strstr(q, p.model)); q++)
        named++;
    if (!strstr(why, "refuses layers") || !strstr(why, "holds another model") || named != 2)
        fail_msg("the pool's state does not name the refusal and both files: '%s'", why);
    assert_false(lp_cluster_ready(p.cl));
    pool_close(&p);
    lp_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sessions_in_flight),
        cmocka_unit_test(test_lost_worker_then_back),
        cmocka_unit_test(test_forged_results_dropped),
        cmocka_unit_test(test_replay_after_loss),
        cmocka_unit_test(test_restarted_with_other_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
