/* The shard sender (transfer.h) against an in-test worker: a ROUTER on
 * loopback whose thread applies chunks with lp_cache_put_chunk, as the
 * real worker does, or misbehaves on purpose. A real model file crosses
 * in several chunks; a second transfer sends nothing; a transfer stopped
 * halfway resumes (past the late acks of the first); a partial .part is
 * continued from an offset that is not a chunk boundary; a wrong id, a
 * silent worker, a lying one, a moving one and replies to other requests
 * are all handled. (e2e_transfer.c does the same against the real worker
 * program, killed halfway.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sha256.h"
#include "shard_cache.h"
#include "support.h"
#include "transfer.h"
#include "wire.h"

typedef enum mode {
    HONEST,      /* as the worker: lp_cache_put_chunk */
    CHATTY,      /* honest, but answers an unrelated request id first */
    SILENT,      /* never answers */
    LIAR,        /* claims more bytes than the shard has */
    OTHER_SHARD, /* acks with another shard id */
    FORGETFUL,   /* always says it holds nothing */
} mode;

typedef struct fake {
    lp_wire *wire;
    void *router;
    char ep[256];
    char dir[4096];
    mode mode;
    atomic_bool stop;
    atomic_int chunks; /* non-empty chunks applied */
    pthread_t th;
} fake;

static void reply(fake *f, const lp_wire_peer *peer, Lp__Envelope *env)
{
    lp_err err = {0};
    if (lp_wire_send(f->router, peer, env, 1000, &err) != 0)
        fprintf(stderr, "fake worker: %s\n", err.msg);
}

static void on_chunk(fake *f, const lp_wire_peer *peer, const Lp__Envelope *req)
{
    const Lp__ShardChunk *ch = req->shard_chunk;
    uint64_t have = 0;
    bool complete = false;
    lp_err err = {0};
    if (f->mode == SILENT)
        return;
    if (f->mode == CHATTY) {
        Lp__Heartbeat hb = LP__HEARTBEAT__INIT;
        Lp__Envelope env = LP__ENVELOPE__INIT;
        env.request_id = 777777;
        env.body_case = LP__ENVELOPE__BODY_HEARTBEAT;
        env.heartbeat = &hb;
        reply(f, peer, &env);
    }
    if (lp_cache_put_chunk(f->dir, ch->shard_id.data, ch->offset, ch->total_size,
                           ch->data.data, ch->data.len, ch->chunk_hash.data, ch->last, &have,
                           &complete, &err) != 0) {
        lp_wire_error_msg m;
        reply(f, peer, lp_wire_error(&m, req->request_id, LP_WIRE_ELOAD, err.msg));
        return;
    }
    if (ch->data.len && ch->offset + ch->data.len == have)
        atomic_fetch_add(&f->chunks, 1);
    uint8_t other[32] = {1};
    Lp__ChunkAck ack = LP__CHUNK_ACK__INIT;
    ack.shard_id = f->mode == OTHER_SHARD ? (ProtobufCBinaryData){32, other} : ch->shard_id;
    ack.have = f->mode == LIAR ? ch->total_size + 5 : f->mode == FORGETFUL ? 0 : have;
    ack.complete = f->mode == FORGETFUL ? false : complete;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.request_id = req->request_id;
    env.body_case = LP__ENVELOPE__BODY_CHUNK_ACK;
    env.chunk_ack = &ack;
    reply(f, peer, &env);
}

static void *serve(void *arg)
{
    fake *f = arg;
    while (!atomic_load(&f->stop)) {
        lp_wire_peer peer;
        Lp__Envelope *env = NULL;
        lp_err err = {0};
        if (lp_wire_recv(f->router, &peer, &env, 50, &err) != 0)
            continue;
        if (env->body_case == LP__ENVELOPE__BODY_SHARD_CHUNK)
            on_chunk(f, &peer, env);
        lp_wire_env_free(env);
    }
    return NULL;
}

static fake *fake_start(lp_wire *w, mode m)
{
    fake *f = calloc(1, sizeof *f);
    lp_err err = {0};
    f->wire = w;
    f->mode = m;
    assert_non_null(lp_test_tmpdir(f->dir, sizeof f->dir));
    assert_int_equal(lp_cache_open(f->dir, &err), 0);
    f->router = lp_wire_socket(w, LP_SOCK_ROUTER, "tcp://127.0.0.1:0", &err);
    if (!f->router)
        fail_msg("%s", err.msg);
    assert_int_equal(lp_wire_endpoint(f->router, f->ep, sizeof f->ep, &err), 0);
    assert_int_equal(pthread_create(&f->th, NULL, serve, f), 0);
    return f;
}

static void fake_stop(fake *f)
{
    atomic_store(&f->stop, true);
    pthread_join(f->th, NULL);
    lp_wire_close(f->router);
    lp_test_rmtree(f->dir);
    free(f);
}

/* ---- the file we send --------------------------------------------------- */

typedef struct file {
    char path[4096];
    uint8_t *bytes;
    size_t size;
    uint8_t id[32];
} file;

/* synth-llama-f32: 13.6 MB, so 4 chunks of LP_WIRE_CHUNK. */
static void load_file(file *fl)
{
    lp_test_shared(fl->path, sizeof fl->path, "models/synth-llama-f32.gguf");
    fl->bytes = lp_test_read_file(fl->path, &fl->size);
    assert_non_null(fl->bytes);
    assert_true(fl->size > 3 * (size_t)LP_WIRE_CHUNK);
    lp_sha256(fl->bytes, fl->size, fl->id);
}

static void assert_cached(const fake *f, const file *fl)
{
    char path[4300];
    lp_err err = {0};
    assert_int_equal(lp_cache_path(f->dir, fl->id, path, sizeof path, &err), 0);
    size_t n = 0;
    uint8_t *got = lp_test_read_file(path, &n);
    assert_non_null(got);
    assert_int_equal(n, fl->size);
    assert_memory_equal(got, fl->bytes, n);
    free(got);
}

typedef struct prog {
    uint64_t last_done, total;
    int calls, stop_after;
} prog;

static bool on_progress(void *ctx, uint64_t done, uint64_t total, double mb_s)
{
    prog *p = ctx;
    assert_true(done >= p->last_done || p->calls == 0);
    assert_true(done <= total && mb_s >= 0);
    p->last_done = done;
    p->total = total;
    p->calls++;
    return p->stop_after == 0 || p->calls < p->stop_after;
}

static void *dealer(lp_wire *w, const fake *f)
{
    lp_err err = {0};
    void *s = lp_wire_socket(w, LP_SOCK_DEALER, f->ep, &err);
    if (!s)
        fail_msg("%s", err.msg);
    return s;
}

/* ---- tests -------------------------------------------------------------- */

static void test_send_then_nothing_to_send(void **state)
{
    lp_wire *w = *state;
    file fl;
    load_file(&fl);
    fake *f = fake_start(w, CHATTY);
    void *s = dealer(w, f);
    prog p = {0};
    lp_transfer_stats st;
    uint64_t req = 100;
    lp_err err = {0};
    if (lp_transfer_shard(s, fl.path, fl.id, on_progress, &p, 5000, &req, &st, &err) != 0)
        fail_msg("%s", err.msg);
    assert_cached(f, &fl);
    assert_int_equal(st.size, fl.size);
    assert_int_equal(st.resumed_from, 0);
    assert_int_equal(st.bytes_sent, fl.size);
    assert_int_equal(st.chunks_sent, (fl.size + LP_WIRE_CHUNK - 1) / LP_WIRE_CHUNK);
    assert_int_equal(p.last_done, fl.size);
    assert_int_equal(req, 100 + 1 + st.chunks_sent); /* the probe and each chunk */
    print_message("[ transfer ] %.1f MB in %.3f s over loopback (%.0f MB/s)\n",
                  fl.size / 1e6, st.seconds, fl.size / 1e6 / st.seconds);
    /* Again: the worker has it, nothing is sent. */
    assert_int_equal(lp_transfer_shard(s, fl.path, fl.id, NULL, NULL, 5000, &req, &st, &err), 0);
    assert_int_equal(st.bytes_sent, 0);
    assert_int_equal(st.resumed_from, fl.size);
    lp_wire_close(s);
    fake_stop(f);
    free(fl.bytes);
}

/* The caller stops after two acks; acks of chunks in flight arrive late,
 * during the next transfer, which ignores them and sends only the rest. */
static void test_stopped_then_resumed(void **state)
{
    lp_wire *w = *state;
    file fl;
    load_file(&fl);
    fake *f = fake_start(w, HONEST);
    void *s = dealer(w, f);
    prog p = {.stop_after = 2};
    lp_transfer_stats st;
    lp_err err = {0};
    assert_int_equal(lp_transfer_shard(s, fl.path, fl.id, on_progress, &p, 5000, NULL, &st, &err),
                     -1);
    assert_non_null(strstr(err.msg, "stopped"));
    char path[4300];
    assert_int_equal(lp_cache_path(f->dir, fl.id, path, sizeof path, &err), 1);
    prog q = {0};
    if (lp_transfer_shard(s, fl.path, fl.id, on_progress, &q, 5000, NULL, &st, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(st.resumed_from >= LP_WIRE_CHUNK);
    assert_int_equal(st.bytes_sent, fl.size - st.resumed_from);
    assert_cached(f, &fl);
    lp_wire_close(s);
    fake_stop(f);
    free(fl.bytes);
}

/* The worker already holds 1.5 MB (not a chunk boundary), from an
 * earlier sender: the transfer goes on from there. */
static void test_resume_mid_chunk(void **state)
{
    lp_wire *w = *state;
    file fl;
    load_file(&fl);
    fake *f = fake_start(w, HONEST);
    enum { PART = 1500000 };
    uint8_t h[32];
    uint64_t have;
    bool complete;
    lp_err err = {0};
    lp_sha256(fl.bytes, PART, h);
    assert_int_equal(lp_cache_put_chunk(f->dir, fl.id, 0, fl.size, fl.bytes, PART, h, false,
                                        &have, &complete, &err), 0);
    void *s = dealer(w, f);
    lp_transfer_stats st;
    if (lp_transfer_shard(s, fl.path, fl.id, NULL, NULL, 5000, NULL, &st, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(st.resumed_from, PART);
    assert_int_equal(st.bytes_sent, fl.size - PART);
    assert_cached(f, &fl);
    lp_wire_close(s);
    fake_stop(f);
    free(fl.bytes);
}

static void expect_failure(lp_wire *w, mode m, const uint8_t *id_override, const char *part)
{
    file fl;
    load_file(&fl);
    if (id_override)
        memcpy(fl.id, id_override, 32);
    fake *f = fake_start(w, m);
    void *s = dealer(w, f);
    lp_err err = {0};
    /* Only the silent worker is waited out; the others answer, but hashing
     * a 4 MiB chunk can take most of a second under ASan on a busy machine. */
    int wait_ms = m == SILENT ? 400 : 10000;
    if (lp_transfer_shard(s, fl.path, fl.id, NULL, NULL, wait_ms, NULL, NULL, &err) == 0)
        fail_msg("mode %d: the transfer succeeded", (int)m);
    if (!strstr(err.msg, part))
        fail_msg("mode %d: '%s' does not say '%s'", (int)m, err.msg, part);
    lp_wire_close(s);
    fake_stop(f);
    free(fl.bytes);
}

static void test_failures(void **state)
{
    lp_wire *w = *state;
    uint8_t wrong[32];
    lp_sha256("not the file", 12, wrong);
    expect_failure(w, HONEST, wrong, "do not hash to the shard id");
    expect_failure(w, SILENT, NULL, "no answer from the worker for 400 ms");
    expect_failure(w, LIAR, NULL, "claims");
    expect_failure(w, OTHER_SHARD, NULL, "another shard");
    expect_failure(w, FORGETFUL, NULL, "keeps moving");
    /* Files that cannot be sent. */
    fake *f = fake_start(w, HONEST);
    void *s = dealer(w, f);
    lp_err err = {0};
    assert_int_equal(lp_transfer_shard(s, "/nonexistent.gguf", wrong, NULL, NULL, 400, NULL,
                                       NULL, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent.gguf"));
    assert_int_equal(lp_transfer_shard(s, "/tmp", wrong, NULL, NULL, 400, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "regular file"));
    lp_wire_close(s);
    fake_stop(f);
}

static int setup(void **state)
{
    lp_err err = {0};
    *state = lp_wire_new(&err);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    lp_wire_free(*state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_then_nothing_to_send),
        cmocka_unit_test(test_stopped_then_resumed),
        cmocka_unit_test(test_resume_mid_chunk),
        cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
