/* compute.c — the compute thread: between Forward messages from the data
 * endpoint it serves what the control thread passes on (LoadShard,
 * EndSession, Shutdown), which therefore never race a running step; and
 * it frees sessions idle longer than --session-ttl. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "compute.h"

enum { TTL_CHECK_MS = 1000 };

void wk_send_error(wk_compute *c, uint64_t request_id, uint64_t session, uint32_t code,
                   const char *msg)
{
    lp_wire_error_msg em;
    Lp__Envelope *env = lp_wire_error(&em, request_id, code, msg);
    em.error.session = session;
    em.error.worker = c->ctx->opts.name;
    lp_err err = {0};
    atomic_fetch_add(&c->ctx->stats.refused, 1);
    uint64_t held = 0;
    if ((!c->result || lp_wire_send(c->result, NULL, env, 1000, &err) != 0) &&
        lp_ratelog_allow(&c->unsent_log, lp_now_ms(), &held)) {
        if (held)
            fprintf(stderr, "worker %s: %llu more such errors not logged\n", c->ctx->opts.name,
                    (unsigned long long)held);
        fprintf(stderr, "worker %s: %s (no coordinator to tell%s%s)\n", c->ctx->opts.name, msg,
                err.msg[0] ? ": " : "", err.msg);
    }
}

void wk_publish_stats(wk_compute *c)
{
    wk_stats *st = &c->ctx->stats;
    if (!c->shard) {
        atomic_store(&st->sessions_open, 0);
        atomic_store(&st->kv_bytes_used, 0);
        atomic_store(&st->kv_bytes_reserved, 0);
        return;
    }
    const lp_kv_shape *ks = lp_kv_get_shape(c->shard->kv);
    const uint64_t per_pos = (uint64_t)ks->n_layer * (uint64_t)ks->kv_dim * 2 * sizeof(lp_half);
    atomic_store(&st->sessions_open, (uint64_t)wk_sessions_count(c->sessions));
    atomic_store(&st->kv_bytes_used, per_pos * wk_sessions_positions(c->sessions, c->shard->kv));
    atomic_store(&st->kv_bytes_reserved, (uint64_t)lp_kv_bytes(ks));
}

static void reply(wk_compute *c, const lp_wire_peer *peer, Lp__Envelope *env)
{
    lp_err err = {0};
    if (lp_wire_send(c->pair, peer, env, -1, &err) != 0)
        fprintf(stderr, "worker %s: cannot answer the control thread: %s\n", c->ctx->opts.name,
                err.msg);
}

static void reply_ok(wk_compute *c, const lp_wire_peer *peer, uint64_t request_id)
{
    Lp__Ok ok = LP__OK__INIT;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.request_id = request_id;
    env.body_case = LP__ENVELOPE__BODY_OK;
    env.ok = &ok;
    reply(c, peer, &env);
}

static void on_load(wk_compute *c, const lp_wire_peer *peer, const Lp__Envelope *req)
{
    Lp__ShardReady ready = LP__SHARD_READY__INIT;
    uint32_t code = LP_WIRE_ELOAD;
    lp_err err = {0};
    if (wk_load(c, req->load_shard, &ready, &code, &err) != 0) {
        lp_wire_error_msg em;
        Lp__Envelope *env = lp_wire_error(&em, req->request_id, code, err.msg);
        em.error.worker = c->ctx->opts.name;
        fprintf(stderr, "worker %s: cannot load layers %u-%u: %s\n", c->ctx->opts.name,
                req->load_shard->first_layer, req->load_shard->last_layer - 1, err.msg);
        reply(c, peer, env);
        return;
    }
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.request_id = req->request_id;
    env.body_case = LP__ENVELOPE__BODY_SHARD_READY;
    env.shard_ready = &ready;
    reply(c, peer, &env);
}

/* Ending a session that is not open is not an error: it may have expired,
 * or never reached this worker because an earlier one refused it. */
static void on_end(wk_compute *c, const lp_wire_peer *peer, const Lp__Envelope *req)
{
    if (c->shard) {
        int slot = lp_kv_find(c->shard->kv, req->end_session->session);
        if (slot >= 0)
            wk_sessions_close(c->sessions, c->shard->kv, slot);
        wk_publish_stats(c);
    }
    reply_ok(c, peer, req->request_id);
}

/* One request passed on by the control thread; false when none waits. */
static bool control_one(wk_compute *c)
{
    lp_wire_peer peer;
    Lp__Envelope *env;
    lp_err err = {0};
    if (lp_wire_recv(c->pair, &peer, &env, 0, &err) != 0)
        return false; /* the control thread checked it; nothing else can arrive */
    switch (env->body_case) {
    case LP__ENVELOPE__BODY_LOAD_SHARD: on_load(c, &peer, env); break;
    case LP__ENVELOPE__BODY_END_SESSION: on_end(c, &peer, env); break;
    case LP__ENVELOPE__BODY_SHUTDOWN:
        lp_loop_stop(c->loop);
        reply_ok(c, &peer, env->request_id);
        break;
    default: {
        lp_wire_error_msg em;
        reply(c, &peer, lp_wire_error(&em, env->request_id, LP_WIRE_EINTERNAL,
                                      "compute thread: unexpected request"));
    }
    }
    lp_wire_env_free(env);
    return true;
}

/* Everything the control thread passed on, before the next Forward. */
static void on_control(void *ctx)
{
    while (control_one(ctx)) {
    }
}

/* The largest Forward this shard can be sent: a full step of f32 hidden
 * states (or ids, scoring targets), the history a first sampling step
 * carries, and room for the rest. Without a shard no Forward is served,
 * so a small one suffices to be answered. */
static size_t forward_cap(const wk_compute *c)
{
    if (!c->shard)
        return 1u << 16;
    const lp_shard_opts *o = &c->shard->opts;
    const size_t e = c->shard->model->hp.n_embd;
    return (size_t)o->n_batch * (e * 4 + 16) + (size_t)o->n_ctx * 5 + (1u << 16);
}

/* One message off the data endpoint: 1 and *env for a Forward; 0 when
 * nothing waits; -1 for anything else (answered here, or a socket error). */
static int data_one(wk_compute *c, Lp__Envelope **env)
{
    lp_wire_info info;
    lp_err err = {0};
    int rc = lp_wire_recv_capped(c->pull, NULL, env, 0, forward_cap(c), &info, &err);
    if (rc == 1)
        return 0;
    if (rc == -2) {
        fprintf(stderr, "worker %s: data socket: %s\n", c->ctx->opts.name, err.msg);
        return 0;
    }
    atomic_fetch_add(&c->ctx->stats.bytes_in, info.bytes);
    if (rc == -1) {
        char msg[600];
        snprintf(msg, sizeof msg, "data endpoint: %s", err.msg);
        wk_send_error(c, info.request_id, 0, info.code, msg);
        return -1;
    }
    if ((*env)->body_case == LP__ENVELOPE__BODY_FORWARD && ++c->forwards_in == c->drop_at) {
        fprintf(stderr, "worker %s: failpoint: Forward %llu dropped\n", c->ctx->opts.name,
                (unsigned long long)c->forwards_in);
        lp_wire_env_free(*env);
        return 0;
    }
    if ((*env)->body_case == LP__ENVELOPE__BODY_FORWARD)
        return 1;
    wk_send_error(c, (*env)->request_id, 0, LP_WIRE_EBADMSG,
                  "data endpoint: only Forward messages belong here");
    lp_wire_env_free(*env);
    return -1;
}

/* Forwards waiting at the data endpoint appended to envs[n..]: the new n. */
static int drain(wk_compute *c, Lp__Envelope **envs, int n)
{
    int rc;
    while (n < WK_MAX_BATCH && (rc = data_one(c, &envs[n])) != 0)
        n += rc > 0;
    return n;
}

/* Everything waiting at the data endpoint (up to a batch), run together:
 * decode steps of different sessions as one batch (batch.c). */
static void on_data(void *ctx)
{
    wk_compute *c = ctx;
    Lp__Envelope *envs[WK_MAX_BATCH];
    int n = drain(c, envs, 0);
    bool readable = false;
    lp_err err = {0};
    if (wk_batch_may_grow(c, envs, n) &&
        lp_wire_poll(&c->pull, 1, &readable, WK_BATCH_WAIT_MS, &err) > 0 && readable)
        n = drain(c, envs, n);
    wk_forward_all(c, envs, n);
    for (int i = 0; i < n; i++)
        lp_wire_env_free(envs[i]);
}

/* Sessions idle past --session-ttl are freed, checked once a second. */
static int64_t expire(void *ctx, int64_t now)
{
    wk_compute *c = ctx;
    if (c->shard && wk_sessions_expire(c->sessions, c->shard->kv, now,
                                       (int64_t)c->ctx->opts.session_ttl_s * 1000) > 0)
        wk_publish_stats(c);
    return TTL_CHECK_MS;
}

/* The control line is served first each turn: an EndSession frees room
 * for the next Forward. */
static void run_loop(wk_compute *c)
{
    lp_err err = {0};
    if (!(c->loop = lp_loop_new(&err)) ||
        lp_loop_watch(c->loop, c->pair, -1, on_control, c, &err) != 0 ||
        lp_loop_watch(c->loop, c->pull, -1, on_data, c, &err) != 0 ||
        (c->ctx->opts.session_ttl_s > 0 &&
         !lp_loop_timer(c->loop, TTL_CHECK_MS, expire, c, &err)) ||
        lp_loop_run(c->loop, &err) != 0)
        fprintf(stderr, "worker %s: %s\n", c->ctx->opts.name, err.msg);
    lp_loop_free(c->loop);
    c->loop = NULL;
}

/* A failpoint for the tests of the coordinator's step deadline, a fault no
 * outside action can cause (the control thread answers heartbeats while a
 * step is lost here): LP_WORKER_FAULT=NAME:drop:N makes worker NAME drop
 * the N-th Forward it receives without a word. */
static uint64_t failpoint(const char *name)
{
    const char *f = getenv("LP_WORKER_FAULT");
    size_t n = strlen(name);
    if (!f || strncmp(f, name, n) != 0 || strncmp(f + n, ":drop:", 6) != 0)
        return 0;
    return strtoull(f + n + 6, NULL, 10);
}

void *wk_compute_main(void *arg)
{
    const wk_compute_start *st = arg;
    wk_compute c = {.ctx = st->ctx, .pull = st->pull, .pair = st->pair,
                    .drop_at = failpoint(st->ctx->opts.name)};
    lp_ratelog_init(&c.unsent_log, 10, 60 * 1000);
    run_loop(&c);
    wk_unload(&c);
    lp_wire_close(c.next);
    lp_wire_close(c.result);
    lp_wire_close(c.pair);
    lp_wire_close(c.pull);
    return NULL;
}
