/* A shard file crosses to a real worker process and is used: `coord
 * split` output streamed with lp_transfer_shard into `worker --cache-dir`;
 * the worker is SIGKILLed after the first chunk, the sender notices, a new
 * worker on the same cache directory receives only the rest, the cached
 * file passes its checksum (it is the shard, byte for byte), and the
 * worker loads it from the cache (LoadShard by shard id) and answers a
 * Forward with the token the single-process run picks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "generate.h"
#include "model_id.h"
#include "sampler.h"
#include "sha256.h"
#include "shard.h"
#include "shard_cache.h"
#include "shard_split.h"
#include "support.h"
#include "transfer.h"
#include "wire.h"
#include "wire_sampling.h"

static const int32_t PROMPT[] = {1, 403, 407, 261, 378, 300, 45};
enum { N_PROMPT = sizeof PROMPT / sizeof PROMPT[0] };

typedef struct worker_proc {
    pid_t pid;
    char control[256], data[256];
} worker_proc;

/* Start `worker` on a free port with this cache; wait for the line that
 * names its endpoints (written to a file, so the worker never blocks on a
 * pipe nobody reads). */
static void worker_start(worker_proc *w, const char *dir, const char *cache)
{
    char bin[4096], log[4200];
    lp_test_bin(bin, sizeof bin, "worker");
    snprintf(log, sizeof log, "%s/worker.%ld.out", dir, (long)time(NULL) ^ (long)random());
    w->pid = fork();
    assert_true(w->pid >= 0);
    if (w->pid == 0) {
        if (!freopen(log, "w", stdout))
            _exit(127);
        execl(bin, bin, "--listen", "tcp://127.0.0.1:0", "--cache-dir", cache, "-t", "1",
              "--name", "e2e-transfer", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        size_t n = 0;
        char *out = lp_test_read_file(log, &n);
        const char *c = out ? strstr(out, "control=") : NULL;
        const char *d = out ? strstr(out, "data=") : NULL;
        if (c && d && strchr(d, '\n')) {
            assert_int_equal(sscanf(c, "control=%255s", w->control), 1);
            assert_int_equal(sscanf(d, "data=%255s", w->data), 1);
            free(out);
            return;
        }
        free(out);
        usleep(50 * 1000);
    }
    kill(w->pid, SIGKILL);
    fail_msg("worker did not report its endpoints in 10 s");
}

static void worker_kill(worker_proc *w)
{
    if (w->pid > 0) {
        kill(w->pid, SIGKILL);
        waitpid(w->pid, NULL, 0);
        w->pid = 0;
    }
}

typedef struct killer {
    worker_proc *w;
    int acks, kill_after;
    uint64_t killed_at;
} killer;

/* Progress callback that SIGKILLs the worker after kill_after acks and
 * lets the sender go on, so it meets a dead peer. */
static bool kill_halfway(void *ctx, uint64_t done, uint64_t total, double mb_s)
{
    (void)total;
    (void)mb_s;
    killer *k = ctx;
    if (++k->acks == k->kill_after) {
        worker_kill(k->w);
        k->killed_at = done;
    }
    return true;
}

/* The greedy token after PROMPT, computed in this process. */
static int32_t local_greedy(const char *model)
{
    lp_shard_opts o;
    lp_shard_opts_default(&o);
    o.n_ctx = 64;
    lp_err err = {0};
    lp_shard *s = lp_shard_open(model, &o, &err);
    if (!s)
        fail_msg("%s", err.msg);
    assert_int_equal(lp_kv_open(s->kv, 1, &err), 0);
    const float *lg = NULL;
    lp_fwd_in in = {.n = N_PROMPT, .pos0 = 0, .tokens = PROMPT};
    assert_int_equal(lp_forward(s->run, s->kv, 0, &in, &lg, &err), 0);
    int32_t t = lp_argmax(lg, (int)s->model->hp.n_vocab);
    lp_shard_close(s);
    return t;
}

static Lp__Envelope *request(void *sock, Lp__Envelope *env, uint64_t id)
{
    lp_err err = {0};
    env->request_id = id;
    assert_int_equal(lp_wire_send(sock, NULL, env, 5000, &err), 0);
    for (;;) {
        Lp__Envelope *r = NULL;
        if (lp_wire_recv(sock, NULL, &r, 30000, &err) != 0)
            fail_msg("no reply to request %llu: %s", (unsigned long long)id, err.msg);
        if (r->request_id == id)
            return r;
        lp_wire_env_free(r); /* a late ack of the first transfer */
    }
}

/* LoadShard by shard id, then one Forward: the Result's token. */
static int32_t load_and_forward(lp_wire *wire, void *ctl, const worker_proc *w,
                                const uint8_t model_id[32], const uint8_t shard_id[32],
                                int n_layer)
{
    lp_err err = {0};
    void *results = lp_wire_socket(wire, LP_SOCK_PULL, "tcp://127.0.0.1:0", &err);
    char rep[256];
    assert_non_null(results);
    assert_int_equal(lp_wire_endpoint(results, rep, sizeof rep, &err), 0);
    Lp__LoadShard ls = LP__LOAD_SHARD__INIT;
    ls.model_id = (ProtobufCBinaryData){32, (uint8_t *)model_id};
    ls.shard_id = (ProtobufCBinaryData){32, (uint8_t *)shard_id};
    ls.model_path = "";
    ls.first_layer = 0;
    ls.last_layer = (uint32_t)n_layer;
    ls.n_ctx = 64;
    ls.n_slots = 1;
    ls.n_batch = 16;
    ls.n_threads = 1;
    ls.next_endpoint = "";
    ls.result_endpoint = rep;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.body_case = LP__ENVELOPE__BODY_LOAD_SHARD;
    env.load_shard = &ls;
    Lp__Envelope *r = request(ctl, &env, 1u << 20);
    if (r->body_case != LP__ENVELOPE__BODY_SHARD_READY)
        fail_msg("LoadShard from the cache: %s",
                 r->body_case == LP__ENVELOPE__BODY_ERROR ? r->error->message : "no ShardReady");
    lp_wire_env_free(r);

    void *push = lp_wire_socket(wire, LP_SOCK_PUSH, w->data, &err);
    assert_non_null(push);
    lp_sampler_params sp = lp_sampler_params_default();
    sp.temp = 0;
    Lp__SamplingParams wsp = LP__SAMPLING_PARAMS__INIT;
    lp_wire_sampling_from(&wsp, &sp);
    Lp__Forward f = LP__FORWARD__INIT;
    f.session = 5;
    f.pos0 = 0;
    f.n_tokens = N_PROMPT;
    f.n_token_ids = N_PROMPT;
    f.token_ids = (int32_t *)PROMPT;
    f.sampling = &wsp;
    f.new_session = true;
    Lp__Envelope fe = LP__ENVELOPE__INIT;
    fe.request_id = 9;
    fe.body_case = LP__ENVELOPE__BODY_FORWARD;
    fe.forward = &f;
    assert_int_equal(lp_wire_send(push, NULL, &fe, 5000, &err), 0);
    Lp__Envelope *res = NULL;
    if (lp_wire_recv(results, NULL, &res, 30000, &err) != 0)
        fail_msg("no Result: %s", err.msg);
    if (res->body_case != LP__ENVELOPE__BODY_RESULT)
        fail_msg("Forward: %s",
                 res->body_case == LP__ENVELOPE__BODY_ERROR ? res->error->message : "no Result");
    int32_t token = res->result->token;
    assert_int_equal(res->result->session, 5);
    lp_wire_env_free(res);
    lp_wire_close(push);
    lp_wire_close(results);
    return token;
}

static void test_killed_transfer_resumes_and_loads(void **state)
{
    worker_proc *w = *state; /* so teardown kills it if an assert fails */
    char dir[4096], out[4200], cache[4200], model[4096];
    assert_non_null(lp_test_tmpdir(dir, sizeof dir));
    snprintf(out, sizeof out, "%s/shards", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    lp_test_shared(model, sizeof model, "models/synth-llama-f32.gguf"); /* 13.6 MB */

    /* One shard of every layer: 4 chunks, and a worker alone can run it. */
    lp_err err = {0};
    lp_gguf *g = lp_gguf_open(model, &err);
    lp_hparams hp;
    uint8_t model_id[32];
    assert_non_null(g);
    assert_int_equal(lp_hparams_read(g, &hp, &err), 0);
    assert_int_equal(lp_model_id(g, model_id, &err), 0);
    lp_gguf_close(g);
    lp_layer_range all = {0, (int)hp.n_layer};
    lp_split_result sr;
    if (lp_split_model(model, &all, 1, out, NULL, NULL, &sr, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(sr.size > 3 * (uint64_t)LP_WIRE_CHUNK);

    lp_wire *wire = lp_wire_new(&err);
    assert_non_null(wire);
    worker_start(w, dir, cache);
    void *ctl = lp_wire_socket(wire, LP_SOCK_DEALER, w->control, &err);
    assert_non_null(ctl);
    /* Killed at the first chunk's ack, with three more in flight: the worker
     * cannot have applied them all in the microseconds the kill takes. */
    killer k = {.w = w, .kill_after = 2};
    uint64_t req = 0;
    lp_transfer_stats st;
    assert_int_equal(lp_transfer_shard(ctl, sr.path, sr.id, kill_halfway, &k, 2000, &req, &st,
                                       &err), -1);
    assert_non_null(strstr(err.msg, "no answer from the worker"));
    assert_int_equal(k.killed_at, (uint64_t)LP_WIRE_CHUNK);
    lp_wire_close(ctl);

    char hex[65], part[4400], path[4400];
    lp_model_id_hex(sr.id, hex);
    snprintf(part, sizeof part, "%s/%s.part", cache, hex);
    struct stat pst;
    if (stat(part, &pst) != 0)
        fail_msg("no .part after the kill (did the worker finish first?)");
    assert_true((uint64_t)pst.st_size >= k.killed_at && (uint64_t)pst.st_size < sr.size);
    assert_int_equal(lp_cache_path(cache, sr.id, path, sizeof path, &err), 1);

    /* A new worker process on the same cache: only the rest is sent. */
    worker_start(w, dir, cache);
    ctl = lp_wire_socket(wire, LP_SOCK_DEALER, w->control, &err);
    assert_non_null(ctl);
    if (lp_transfer_shard(ctl, sr.path, sr.id, NULL, NULL, 10000, &req, &st, &err) != 0)
        fail_msg("resumed transfer: %s", err.msg);
    /* From what the cache's hash state covers: the .part may hold one
     * more chunk whose state the kill cut off (then that chunk is resent). */
    assert_true(st.resumed_from >= k.killed_at && st.resumed_from <= (uint64_t)pst.st_size);
    assert_int_equal(st.bytes_sent, sr.size - st.resumed_from);
    assert_int_equal(lp_cache_path(cache, sr.id, path, sizeof path, &err), 0);
    uint8_t got[32];
    uint64_t size = 0;
    assert_int_equal(lp_sha256_file(path, got, &size, &err), 0);
    assert_memory_equal(got, sr.id, 32);
    assert_int_equal(size, sr.size);
    print_message("[ e2e_transfer ] %.1f MB shard: killed at %.1f MB, resumed from %.1f MB, "
                  "%.1f MB sent after restart\n", sr.size / 1e6, k.killed_at / 1e6,
                  st.resumed_from / 1e6, st.bytes_sent / 1e6);

    /* Loaded from the cache, it computes what this process does. */
    int32_t want = local_greedy(model);
    int32_t token = load_and_forward(wire, ctl, w, model_id, sr.id, (int)hp.n_layer);
    assert_int_equal(token, want);

    worker_kill(w);
    lp_wire_close(ctl);
    lp_wire_free(wire);
    lp_test_rmtree(dir);
}

static int setup(void **state)
{
    *state = calloc(1, sizeof(worker_proc));
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    worker_kill(*state);
    free(*state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_killed_transfer_resumes_and_loads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
