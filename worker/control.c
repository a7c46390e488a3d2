/* control.c — the control thread: answers what needs no shard at once
 * (Hello, Heartbeat, StatsRequest, ShardChunk), so a coordinator sees this
 * worker alive even during a long prefill; passes LoadShard, EndSession
 * and Shutdown to the compute thread with the peer to answer, and relays
 * the answers. Stops after the compute thread acknowledged a Shutdown
 * (from a coordinator, or from SIGINT/SIGTERM). */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels.h"
#include "loop.h"
#include "shard_cache.h"
#include "worker.h"

enum { POLL_MS = 200, REPLY_TIMEOUT_MS = 1000, MAX_CACHED_LIST = 256 };

typedef struct control {
    wk_ctx *ctx;
    void *router, *pair;
    int pending;   /* requests passed to the compute thread, not yet answered */
    bool stopping; /* a Shutdown went to the compute thread */
    lp_loop *loop; /* serves router and pair; stopped once the compute
                      thread answered everything up to the Shutdown (owned) */
    bool cache_ok; /* the cache directory exists and is writable */
} control;

/* mkdir -p of dir's parents (lp_cache_open makes dir itself). */
static void make_parents(const char *dir)
{
    char path[sizeof ((wk_opts *)0)->cache_dir];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        mkdir(path, 0755);
        *p = '/';
    }
}

static void send_reply(control *k, const lp_wire_peer *peer, Lp__Envelope *env)
{
    lp_err err = {0};
    if (peer->len > 0 && lp_wire_send(k->router, peer, env, REPLY_TIMEOUT_MS, &err) < 0)
        fprintf(stderr, "worker %s: reply: %s\n", k->ctx->opts.name, err.msg);
}

static void send_error(control *k, const lp_wire_peer *peer, uint64_t rid, uint32_t code,
                       const char *msg)
{
    lp_wire_error_msg em;
    Lp__Envelope *env = lp_wire_error(&em, rid, code, msg);
    em.error.worker = k->ctx->opts.name;
    atomic_fetch_add(&k->ctx->stats.refused, 1);
    send_reply(k, peer, env);
}

static void on_hello(control *k, const lp_wire_peer *peer, const Lp__Envelope *req)
{
    const wk_ctx *ctx = k->ctx;
    lp_sysinfo si = ctx->si;
    lp_sysinfo_read(&si, NULL); /* fresh RAM figures; the start-up ones if this fails */
    uint8_t ids[MAX_CACHED_LIST][LP_SHA256_BYTES];
    ProtobufCBinaryData cached[MAX_CACHED_LIST];
    int n = ctx->opts.cache_dir[0] ? lp_cache_list(ctx->opts.cache_dir, ids, MAX_CACHED_LIST, NULL)
                                   : 0;
    for (int i = 0; i < n; i++)
        cached[i] = (ProtobufCBinaryData){LP_SHA256_BYTES, ids[i]};
    Lp__Capabilities caps = LP__CAPABILITIES__INIT;
    caps.name = (char *)ctx->opts.name;
    caps.ram_total = si.ram_total;
    caps.ram_available = si.ram_available;
    caps.mem_limit = ctx->opts.mem_limit;
    caps.cores = (uint32_t)si.n_cores;
    caps.isa = (char *)lp_isa_name(lp_cpu_best_isa());
    caps.matmul_gflops = ctx->gflops;
    caps.data_endpoint = (char *)ctx->data_ep;
    caps.n_cached_shards = n > 0 ? (size_t)n : 0;
    caps.cached_shards = cached;
    caps.incarnation = ctx->incarnation;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.request_id = req->request_id;
    env.body_case = LP__ENVELOPE__BODY_CAPABILITIES;
    env.capabilities = &caps;
    send_reply(k, peer, &env);
}

static void on_heartbeat(control *k, const lp_wire_peer *peer, const Lp__Envelope *req)
{
    Lp__Heartbeat hb = LP__HEARTBEAT__INIT;
    hb.seq = req->heartbeat->seq;
    hb.sent_us = req->heartbeat->sent_us;
    hb.incarnation = k->ctx->incarnation;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.request_id = req->request_id;
    env.body_case = LP__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    send_reply(k, peer, &env);
}

static void on_stats(control *k, const lp_wire_peer *peer, const Lp__Envelope *req)
{
    wk_stats *st = &k->ctx->stats;
    Lp__Stats s = LP__STATS__INIT;
    s.sessions_open = (uint32_t)atomic_load(&st->sessions_open);
    s.kv_bytes_used = atomic_load(&st->kv_bytes_used);
    s.kv_bytes_reserved = atomic_load(&st->kv_bytes_reserved);
    s.tokens_processed = atomic_load(&st->tokens_processed);
    s.compute_us = atomic_load(&st->compute_us);
    s.bytes_in = atomic_load(&st->bytes_in);
    s.bytes_out = atomic_load(&st->bytes_out);
    s.decode_bytes_out = atomic_load(&st->decode_bytes_out);
    s.decode_msgs_out = atomic_load(&st->decode_msgs_out);
    s.batches = atomic_load(&st->batches);
    s.batched_steps = atomic_load(&st->batched_steps);
    s.refused = atomic_load(&st->refused);
    s.rss_bytes = wk_rss_bytes();
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.request_id = req->request_id;
    env.body_case = LP__ENVELOPE__BODY_STATS;
    env.stats = &s;
    send_reply(k, peer, &env);
}

/* --cache-max, or twice the memory budget: a shard is at most what the
 * worker can hold, and a second model's may wait beside it. */
static uint64_t cache_quota(const wk_ctx *ctx)
{
    if (ctx->opts.cache_max)
        return ctx->opts.cache_max;
    const uint64_t mem = ctx->opts.mem_limit ? ctx->opts.mem_limit : ctx->si.ram_total;
    return mem > UINT64_MAX / 2 ? UINT64_MAX : 2 * mem;
}

static void on_chunk(control *k, const lp_wire_peer *peer, const Lp__Envelope *req)
{
    const Lp__ShardChunk *ch = req->shard_chunk;
    uint64_t have = 0;
    bool complete = false;
    lp_err err = {0};
    if (!k->cache_ok) {
        make_parents(k->ctx->opts.cache_dir);
        k->cache_ok = lp_cache_open(k->ctx->opts.cache_dir, &err) == 0;
    }
    if (!k->cache_ok ||
        lp_cache_room(k->ctx->opts.cache_dir, ch->shard_id.data, ch->total_size,
                      cache_quota(k->ctx), &err) != 0 ||
        lp_cache_put_chunk(k->ctx->opts.cache_dir, ch->shard_id.data, ch->offset, ch->total_size,
                           ch->data.data, ch->data.len, ch->chunk_hash.data, ch->last, &have,
                           &complete, &err) != 0) {
        send_error(k, peer, req->request_id, LP_WIRE_ELOAD, err.msg);
        return;
    }
    Lp__ChunkAck ack = LP__CHUNK_ACK__INIT;
    ack.shard_id = ch->shard_id;
    ack.have = have;
    ack.complete = complete;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.request_id = req->request_id;
    env.body_case = LP__ENVELOPE__BODY_CHUNK_ACK;
    env.chunk_ack = &ack;
    send_reply(k, peer, &env);
}

/* Hand a request to the compute thread; its answer comes back on the PAIR. */
static void pass_on(control *k, const lp_wire_peer *peer, Lp__Envelope *req)
{
    lp_err err = {0};
    if (lp_wire_send(k->pair, peer, req, -1, &err) != 0) {
        send_error(k, peer, req->request_id, LP_WIRE_EINTERNAL, err.msg);
        return;
    }
    k->pending++;
    if (req->body_case == LP__ENVELOPE__BODY_SHUTDOWN)
        k->stopping = true;
}

static const char *body_name(Lp__Envelope__BodyCase b)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&lp__envelope__descriptor, (unsigned)b);
    return f ? f->name : "an unknown message";
}

static void dispatch(control *k, const lp_wire_peer *peer, Lp__Envelope *req)
{
    switch (req->body_case) {
    case LP__ENVELOPE__BODY_HELLO: on_hello(k, peer, req); break;
    case LP__ENVELOPE__BODY_HEARTBEAT: on_heartbeat(k, peer, req); break;
    case LP__ENVELOPE__BODY_STATS_REQUEST: on_stats(k, peer, req); break;
    case LP__ENVELOPE__BODY_SHARD_CHUNK: on_chunk(k, peer, req); break;
    case LP__ENVELOPE__BODY_LOAD_SHARD:
    case LP__ENVELOPE__BODY_END_SESSION:
    case LP__ENVELOPE__BODY_SHUTDOWN:
        if (k->stopping)
            send_error(k, peer, req->request_id, LP_WIRE_ESTATE, "this worker is shutting down");
        else
            pass_on(k, peer, req);
        break;
    default: {
        char msg[160];
        snprintf(msg, sizeof msg, "%s does not belong on the control endpoint",
                 body_name(req->body_case));
        send_error(k, peer, req->request_id, LP_WIRE_EBADMSG, msg);
    }
    }
}

static void on_router(void *ctx)
{
    control *k = ctx;
    lp_wire_peer peer;
    Lp__Envelope *req;
    lp_wire_info info;
    lp_err err = {0};
    int rc = lp_wire_recv_info(k->router, &peer, &req, 0, &info, &err);
    if (rc == -1)
        send_error(k, &peer, info.request_id, info.code, err.msg);
    else if (rc == -2)
        fprintf(stderr, "worker %s: control socket: %s\n", k->ctx->opts.name, err.msg);
    if (rc != 0)
        return;
    dispatch(k, &peer, req);
    lp_wire_env_free(req);
}

static void on_pair(void *ctx)
{
    control *k = ctx;
    lp_wire_peer peer;
    Lp__Envelope *ans;
    lp_err err = {0};
    if (lp_wire_recv(k->pair, &peer, &ans, 0, &err) != 0)
        return;
    k->pending--;
    if (k->stopping && k->pending == 0)
        lp_loop_stop(k->loop); /* answers come in order: the last is the Shutdown's */
    send_reply(k, &peer, ans);
    lp_wire_env_free(ans);
}

static void check_signals(control *k)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    struct timespec zero = {0, 0};
    if (k->stopping || sigtimedwait(&set, NULL, &zero) < 0)
        return;
    Lp__Shutdown sd = LP__SHUTDOWN__INIT;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.body_case = LP__ENVELOPE__BODY_SHUTDOWN;
    env.shutdown = &sd;
    lp_wire_peer none = {.len = 0};
    pass_on(k, &none, &env);
}

/* SIGINT/SIGTERM, looked for every POLL_MS. */
static int64_t signal_timer(void *ctx, int64_t now)
{
    (void)now;
    check_signals(ctx);
    return POLL_MS;
}

int wk_control_run(wk_ctx *ctx, void *router, void *pair)
{
    lp_err err = {0};
    control k = {.ctx = ctx, .router = router, .pair = pair};
    /* Answers first each turn: the compute thread's replies go out before
     * new requests are passed to it. */
    int rc = (k.loop = lp_loop_new(&err)) &&
                     lp_loop_watch(k.loop, pair, -1, on_pair, &k, &err) == 0 &&
                     lp_loop_watch(k.loop, router, -1, on_router, &k, &err) == 0 &&
                     lp_loop_timer(k.loop, POLL_MS, signal_timer, &k, &err)
                 ? lp_loop_run(k.loop, &err)
                 : -1;
    if (rc != 0)
        fprintf(stderr, "worker %s: %s\n", ctx->opts.name, err.msg);
    lp_loop_free(k.loop);
    return rc;
}
