/* Real `worker` processes on 127.0.0.1 (random ports, as printed on their
 * start-up line), driven message by message from the test as a
 * coordinator would: Hello/Capabilities; a whole model on one worker and
 * the same model cut in two across a chain of two workers, whose greedy
 * ids must equal the single-process run exactly and llama.cpp's reference;
 * heartbeats answered while a long prefill runs; Stats before and after
 * EndSession; a clean Shutdown; the RSS of half a model against the whole.
 * Hostile input is in e2e_worker_hostile.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "support_pipe.h"
#include "support_ref.h"

static void test_hello(void **state)
{
    (void)state;
    char dir[4096], args[4400];
    lp_test_tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "--name w-hello --mem-limit 1G --cache-dir %s", dir);
    lp_test_worker w;
    assert_int_equal(lp_test_worker_start(&w, args), 0);
    assert_string_equal(w.name, "w-hello");
    assert_null(strstr(w.control, ":0"));
    assert_string_not_equal(w.control, w.data);
    lp_test_coord c;
    assert_int_equal(lp_test_coord_open(&c), 0);
    assert_int_equal(lp_test_coord_connect(&c, 0, w.control), 0);
    Lp__Envelope *r = e2e_hello(&c, 0);
    const Lp__Capabilities *caps = r->capabilities;
    assert_string_equal(caps->name, "w-hello");
    assert_int_equal(caps->mem_limit, (uint64_t)1 << 30);
    assert_true(caps->ram_total > 0 && caps->ram_available <= caps->ram_total);
    assert_true(caps->cores >= 1);
    assert_true(caps->isa[0] != 0);
    assert_true(caps->matmul_gflops > 0.01);
    assert_string_equal(caps->data_endpoint, w.data);
    assert_int_equal(caps->n_cached_shards, 0);
    print_message("[ worker ] %s: %u cores, %s, %.1f GFLOP/s Q4_K matvec\n", caps->name,
                  caps->cores, caps->isa, caps->matmul_gflops);
    lp_wire_env_free(r);
    e2e_shutdown(&c, 0, &w);
    lp_test_coord_close(&c);
    lp_test_rmtree(dir);
}

/* The single-process run with the same chunking (n_batch) as the workers. */
static void single_process(const char *stem, const ref_case *rc, int32_t *ids)
{
    char rel[256], path[4096];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    lp_shard_opts o;
    lp_shard_opts_default(&o);
    o.n_ctx = E2E_CTX;
    o.n_batch = E2E_BATCH;
    lp_err err = {0};
    lp_shard *s = lp_shard_open(lp_test_shared(path, sizeof path, rel), &o, &err);
    if (!s)
        fail_msg("%s", err.msg);
    int slot = lp_kv_open(s->kv, 1, &err);
    const float *lg;
    assert_int_equal(lp_prefill(s, slot, rc->prompt, rc->n_prompt, &lg, &err), 0);
    for (int i = 0; i < rc->n_greedy; i++) {
        ids[i] = lp_argmax(lg, (int)s->model->hp.n_vocab);
        if (i + 1 < rc->n_greedy)
            assert_int_equal(lp_decode_one(s, slot, ids[i], &lg, &err), 0);
    }
    lp_shard_close(s);
}

/* Every reference case of a model through `n_workers` chained workers
 * that split its layers at `cut` (when two). */
static void pipeline_matches(const char *stem, int n_workers, int cut)
{
    ref_model m;
    assert_int_equal(ref_load(stem, &m), 0);
    e2e_pipe p;
    e2e_pipe_start(&p, stem, n_workers, cut);
    for (int ci = 0; ci < m.n_cases; ci++) {
        const ref_case *rc = &m.cases[ci];
        int32_t got[64], want[64];
        assert_true(rc->n_greedy <= 64);
        e2e_generate(&p.c, 100 + (uint64_t)ci, rc->prompt, rc->n_prompt, rc->n_greedy, got,
                     n_workers);
        single_process(stem, rc, want);
        for (int i = 0; i < rc->n_greedy; i++)
            if (got[i] != want[i])
                fail_msg("%s case %d, %d worker(s): step %d: pipeline %d, single process %d",
                         stem, ci, n_workers, i, got[i], want[i]);
        bool noise;
        int bad = ref_greedy_mismatch(rc, got, rc->n_greedy, &noise);
        if (bad >= 0)
            fail_msg("%s case %d: step %d: pipeline %d, llama.cpp %d", stem, ci, bad, got[bad],
                     rc->greedy[bad]);
        for (int i = 0; i < n_workers; i++)
            e2e_end_session(&p.c, i, 100 + (uint64_t)ci);
    }
    print_message("[ worker ] %s: %d cases, %d worker(s)%s: ids equal the single-process run\n",
                  stem, m.n_cases, n_workers, n_workers > 1 ? " chained" : "");
    e2e_pipe_stop(&p);
    ref_free(&m);
}

static void test_one_worker_stories(void **state)
{
    (void)state;
    pipeline_matches("stories260K", 1, 0);
}

static void test_one_worker_qwen2(void **state)
{
    (void)state;
    pipeline_matches("synth-qwen2-Q8_0", 1, 0);
}

static void test_two_workers_stories(void **state)
{
    (void)state;
    pipeline_matches("stories260K", 2, 2);
}

static void test_two_workers_qwen2(void **state)
{
    (void)state;
    pipeline_matches("synth-qwen2-Q8_0", 2, 1);
}

/* Stats count the session's positions; EndSession gives them back. */
static void test_stats_and_end_session(void **state)
{
    (void)state;
    e2e_pipe p;
    e2e_pipe_start(&p, "stories260K", 2, 3);
    const int32_t prompt[] = {1, 403, 407, 261, 378, 300};
    int32_t ids[4];
    e2e_generate(&p.c, 7, prompt, 6, 4, ids, 2);
    /* 6 prompt positions + 3 fed-back tokens; the last sampled id is not fed */
    const uint64_t positions = 6 + 3;
    for (int i = 0; i < 2; i++) {
        Lp__Envelope *st = e2e_stats(&p.c, i);
        const uint64_t layers = i == 0 ? 3 : 2, kv_dim = 32; /* 4 kv heads x 8 */
        assert_int_equal(st->stats->sessions_open, 1);
        assert_int_equal(st->stats->kv_bytes_used, positions * layers * kv_dim * 2 * 2);
        assert_true(st->stats->kv_bytes_reserved >= st->stats->kv_bytes_used);
        assert_int_equal(st->stats->tokens_processed, positions);
        assert_true(st->stats->bytes_in > 0 && st->stats->bytes_out > 0);
        assert_true(st->stats->rss_bytes > 0);
        lp_wire_env_free(st);
        e2e_end_session(&p.c, i, 7);
        st = e2e_stats(&p.c, i);
        assert_int_equal(st->stats->sessions_open, 0);
        assert_int_equal(st->stats->kv_bytes_used, 0);
        lp_wire_env_free(st);
    }
    /* the session is gone: its next step is refused by worker 0 */
    Lp__Envelope *r = e2e_step(&p.c, 7, (uint32_t)positions, &ids[3], 1, false, true);
    e2e_expect_error(r, LP_WIRE_ESESSION, "session 7: unknown");
    /* and the slots are free for a new one on both workers */
    e2e_generate(&p.c, 8, prompt, 6, 2, ids, 2);
    e2e_pipe_stop(&p);
}

/* The control thread answers at once while the compute thread works
 * through a queue of long prefill chunks. */
static void test_heartbeat_during_prefill(void **state)
{
    (void)state;
    enum { CHUNK = 128, N_CHUNKS = 8 };
    e2e_pipe p;
    e2e_pipe_start_opts(&p, "synth-llama-f32", 1, 0, CHUNK * N_CHUNKS + 8, CHUNK);
    int32_t toks[CHUNK];
    for (int i = 0; i < CHUNK; i++)
        toks[i] = 1 + (i * 37) % 500;
    int64_t t0 = e2e_now_ms();
    for (int k = 0; k < N_CHUNKS; k++)
        e2e_send_step(&p.c, 9, (uint32_t)(k * CHUNK), toks, CHUNK, k == 0, false);
    /* Heartbeat, then collect whatever results came, then wait a little:
     * every heartbeat answered before the last result overlapped work. */
    int during = 0;
    int64_t worst = 0;
    for (int got = 0; got < N_CHUNKS;) {
        int64_t h0 = e2e_now_ms();
        Lp__Envelope *hb = e2e_heartbeat(&p.c, 0);
        assert_non_null(hb);
        lp_wire_env_free(hb);
        worst = e2e_now_ms() - h0 > worst ? e2e_now_ms() - h0 : worst;
        Lp__Envelope *r;
        for (int wait = 0; (r = lp_test_result(&p.c, wait)) != NULL; wait = 0, got++) {
            assert_int_equal(r->body_case, LP__ENVELOPE__BODY_RESULT);
            lp_wire_env_free(r);
        }
        during += got < N_CHUNKS;
        if (e2e_now_ms() - t0 > 60000)
            fail_msg("prefill of %d chunks did not finish in 60 s (%d done)", N_CHUNKS, got);
        if (got < N_CHUNKS && (r = lp_test_result(&p.c, 20)) != NULL) {
            lp_wire_env_free(r);
            got++;
        }
    }
    print_message("[ worker ] %d heartbeats answered during a %d-token prefill of %lld ms "
                  "(slowest %lld ms)\n", during, CHUNK * N_CHUNKS,
                  (long long)(e2e_now_ms() - t0), (long long)worst);
    assert_true(during >= 3);  /* heartbeats really overlapped the compute */
    assert_true(worst < 1000); /* and none waited for it */
    e2e_pipe_stop(&p);
}

/* Decode steps of several sessions waiting at a worker run as one batch
 * (Stats.batches counts them), and every session's ids equal its run
 * alone. To make steps wait, each round first sends a long unsampled
 * prompt chunk of another session, which keeps worker 0 busy while the
 * round's single-token steps queue behind it. */
static void test_decode_batch(void **state)
{
    (void)state;
    enum { N = 3, GEN = 6, BLOCK = 64, CTX = 512 };
    e2e_pipe p;
    e2e_pipe_start_opts(&p, "stories260K", 2, 3, CTX, BLOCK);
    const int32_t prompts[N][4] = {{1, 403, 407, 261}, {1, 378, 300, 261}, {1, 306, 411, 280}};
    int32_t solo[N][GEN], got[N][GEN], block[BLOCK];
    for (int i = 0; i < BLOCK; i++)
        block[i] = 1 + (i * 37) % 500;
    for (int s = 0; s < N; s++) {
        e2e_generate_batch(&p.c, 50 + (uint64_t)s, prompts[s], 4, GEN, solo[s], 2, BLOCK);
        e2e_end_session(&p.c, 0, 50 + (uint64_t)s);
        e2e_end_session(&p.c, 1, 50 + (uint64_t)s);
    }
    for (int s = 0; s < N; s++)
        e2e_generate_batch(&p.c, 60 + (uint64_t)s, prompts[s], 4, 1, got[s], 2, BLOCK);
    for (int k = 1; k < GEN; k++) {
        e2e_send_step(&p.c, 69, (uint32_t)((k - 1) * BLOCK), block, BLOCK, k == 1, false);
        for (int s = 0; s < N; s++)
            e2e_send_step(&p.c, 60 + (uint64_t)s, (uint32_t)(4 + k - 1), &got[s][k - 1], 1, false,
                          true);
        for (int n = 0; n < N + 1; n++) {
            Lp__Envelope *r = lp_test_result(&p.c, E2E_WAIT_MS);
            assert_non_null(r);
            if (r->body_case == LP__ENVELOPE__BODY_ERROR)
                fail_msg("round %d: Error %u: %s", k, r->error->code, r->error->message);
            const uint64_t s = r->result->session - 60;
            if (s < N) {
                assert_int_equal(r->result->pos, 4 + k);
                got[s][k] = r->result->token;
            }
            lp_wire_env_free(r);
        }
    }
    for (int s = 0; s < N; s++)
        for (int k = 0; k < GEN; k++)
            if (got[s][k] != solo[s][k])
                fail_msg("session %d step %d: batched %d, alone %d", s, k, got[s][k], solo[s][k]);
    Lp__Envelope *st = e2e_stats(&p.c, 0);
    print_message("[ worker ] %d sessions x %d tokens: worker 0 ran %llu batches of %llu steps; "
                  "ids equal each session's run alone\n", N, GEN,
                  (unsigned long long)st->stats->batches,
                  (unsigned long long)st->stats->batched_steps);
    assert_true(st->stats->batches >= 1);
    assert_true(st->stats->batched_steps >= 2 * st->stats->batches);
    lp_wire_env_free(st);
    e2e_pipe_stop(&p);
}

/* Shutdown ends the process with status 0 (under ASan: no leaks); so
 * does SIGTERM. */
static void test_shutdown_and_sigterm(void **state)
{
    (void)state;
    e2e_pipe p;
    e2e_pipe_start(&p, "stories260K", 1, 0);
    const int32_t prompt[] = {1, 403};
    int32_t ids[2];
    e2e_generate(&p.c, 3, prompt, 2, 2, ids, 1); /* a session still open at exit */
    e2e_pipe_stop(&p);                           /* asserts exit status 0 */

    lp_test_worker w;
    assert_int_equal(lp_test_worker_start(&w, NULL), 0);
    kill(w.pid, SIGTERM);
    assert_int_equal(lp_test_worker_wait(&w, 10000), 0);
}

/* Expected top-k of raw logits: log softmax, best first, ties to the lower id. */
static void expect_top(const float *lg, int nv, int k, int32_t *ids, float *lps, float *lse_out)
{
    double max = -INFINITY, sum = 0;
    for (int i = 0; i < nv; i++)
        max = lg[i] > max ? lg[i] : max;
    for (int i = 0; i < nv; i++)
        sum += exp((double)lg[i] - max);
    double lse = max + log(sum);
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < nv; i++) {
            bool taken = false;
            for (int q = 0; q < j; q++)
                taken |= ids[q] == i;
            if (!taken && (best < 0 || lg[i] > lg[best]))
                best = i;
        }
        ids[j] = best;
        lps[j] = (float)(lg[best] - lse);
    }
    *lse_out = (float)lse;
}

/* Seeded sampling with penalties, through two workers, draws exactly what
 * the same sampler draws from the single-process logits (the last worker
 * keeps the session's sampler and its history); top logprobs are the log
 * softmax of the raw logits. */
static void test_sampling_and_logprobs(void **state)
{
    (void)state;
    enum { N = 12, TOP = 5, NV = 512 };
    const int32_t prompt[] = {1, 403, 407, 261, 378, 300, 45, 99, 12, 470, 5};
    const int np = sizeof prompt / sizeof prompt[0];
    lp_sampler_params sp = lp_sampler_params_default();
    sp.seed = 1234;
    sp.temp = 0.9f;
    sp.repeat_penalty = 1.3f;
    sp.penalty_last_n = 16;
    /* the single-process run */
    char path[4096];
    lp_shard_opts o;
    lp_shard_opts_default(&o);
    o.n_ctx = E2E_CTX;
    o.n_batch = E2E_BATCH;
    lp_err err = {0};
    lp_shard *sh = lp_shard_open(lp_test_shared(path, sizeof path, "models/stories260K.gguf"), &o,
                                 &err);
    assert_non_null(sh);
    lp_sampler *smp = lp_sampler_new(&sp, NV, &err);
    assert_non_null(smp);
    for (int i = 0; i < np; i++)
        lp_sampler_accept(smp, prompt[i], &err);
    int32_t want[N], want_top[N][TOP];
    float want_lp[N][TOP], want_tok_lp[N];
    const float *lg;
    int slot = lp_kv_open(sh->kv, 1, &err);
    assert_int_equal(lp_prefill(sh, slot, prompt, np, &lg, &err), 0);
    for (int i = 0; i < N; i++) {
        float lse;
        expect_top(lg, NV, TOP, want_top[i], want_lp[i], &lse);
        want[i] = lp_sampler_sample(smp, lg, &err);
        want_tok_lp[i] = lg[want[i]] - lse;
        lp_sampler_accept(smp, want[i], &err);
        if (i + 1 < N)
            assert_int_equal(lp_decode_one(sh, slot, want[i], &lg, &err), 0);
    }
    lp_sampler_free(smp);
    lp_shard_close(sh);
    /* the pipeline */
    e2e_pipe p;
    e2e_pipe_start(&p, "stories260K", 2, 2);
    int32_t tok = 0;
    for (int i = 0; i < N; i++) {
        if (i == 0)
            e2e_send_forward_sp(&p.c, 21, 0, prompt, np, true, &sp, prompt, np, TOP);
        else
            e2e_send_forward_sp(&p.c, 21, (uint32_t)(np + i - 1), &tok, 1, false, &sp, NULL, 0,
                                TOP);
        Lp__Envelope *r = lp_test_result(&p.c, E2E_WAIT_MS);
        assert_non_null(r);
        if (r->body_case == LP__ENVELOPE__BODY_ERROR)
            fail_msg("step %d: %s", i, r->error->message);
        const Lp__Result *res = r->result;
        tok = res->token;
        if (tok != want[i])
            fail_msg("step %d: pipeline drew %d, single process %d", i, tok, want[i]);
        assert_true(fabsf(res->logprob - want_tok_lp[i]) < 1e-4f);
        assert_int_equal(res->n_top, TOP);
        for (int k = 0; k < TOP; k++) {
            assert_int_equal(res->top[k]->token, want_top[i][k]);
            assert_true(fabsf(res->top[k]->logprob - want_lp[i][k]) < 1e-4f);
        }
        lp_wire_env_free(r);
    }
    print_message("[ worker ] %d seeded samples with penalties through 2 workers equal the "
                  "single-process draws; top-%d logprobs match\n", N, TOP);
    e2e_pipe_stop(&p);
}

/* RSS gained from loading a shard and running 8 steps through it. */
static void rss_growth(const char *stem, int n_workers, const int *first, const int *last,
                       uint64_t *grew)
{
    e2e_pipe p;
    uint64_t before[2];
    e2e_pipe_spawn(&p, n_workers, NULL);
    for (int i = 0; i < n_workers; i++) {
        Lp__Envelope *st = e2e_stats(&p.c, i);
        before[i] = st->stats->rss_bytes;
        lp_wire_env_free(st);
    }
    e2e_pipe_load(&p, stem, first, last, E2E_CTX, E2E_BATCH);
    const int32_t prompt[] = {1, 403, 407, 261};
    int32_t ids[5];
    e2e_generate(&p.c, 1, prompt, 4, 5, ids, n_workers);
    for (int i = 0; i < n_workers; i++) {
        Lp__Envelope *st = e2e_stats(&p.c, i);
        grew[i] = st->stats->rss_bytes - before[i];
        lp_wire_env_free(st);
    }
    e2e_pipe_stop(&p);
}

/* Weights are mapped and only a shard's own layers are touched: each half
 * of a model costs about half its weights. */
static void test_rss_half_vs_whole(void **state)
{
    (void)state;
    const char *stem = "synth-llama-f32"; /* 13.6 MB of f32 weights, 4 layers */
    uint64_t whole, half[2];
    rss_growth(stem, 1, (int[]){0}, (int[]){4}, &whole);
    rss_growth(stem, 2, (int[]){0, 2}, (int[]){2, 4}, half);
    print_message("[ worker ] RSS growth from load + 8 steps of %s: whole %.1f MiB, layers "
                  "[0,2) %.1f MiB, [2,4) %.1f MiB\n", stem, whole / 1048576.0,
                  half[0] / 1048576.0, half[1] / 1048576.0);
    assert_true(whole > (uint64_t)12 << 20); /* the whole model's weights: ~13 MB */
    for (int k = 0; k < 2; k++)
        assert_true(half[k] < whole * 2 / 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_one_worker_stories),
        cmocka_unit_test(test_one_worker_qwen2),
        cmocka_unit_test(test_two_workers_stories),
        cmocka_unit_test(test_two_workers_qwen2),
        cmocka_unit_test(test_sampling_and_logprobs),
        cmocka_unit_test(test_stats_and_end_session),
        cmocka_unit_test(test_heartbeat_during_prefill),
        cmocka_unit_test(test_decode_batch),
        cmocka_unit_test(test_shutdown_and_sigterm),
        cmocka_unit_test(test_rss_half_vs_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
