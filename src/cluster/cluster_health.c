/* cluster_health.c — heartbeats, lost workers, and loading a worker again
 * once it answers after being lost (a restarted process holds nothing). */
#include "cluster_internal.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

int cl_send_load(lp_cluster *c, int i, uint64_t *request_id, lp_err *err)
{
    cl_worker *w = &c->w[i];
    Lp__LoadShard ls = LP__LOAD_SHARD__INIT;
    ls.model_id = (ProtobufCBinaryData){LP_SHA256_BYTES, c->model_id};
    ls.model_path = w->from_shard ? "" : w->model_path;
    if (w->from_shard)
        ls.shard_id = (ProtobufCBinaryData){LP_SHA256_BYTES, w->shard_id};
    ls.first_layer = (uint32_t)w->info.first;
    ls.last_layer = (uint32_t)w->info.last;
    ls.n_ctx = (uint32_t)c->o.n_ctx;
    ls.n_slots = (uint32_t)c->o.n_slots;
    ls.n_batch = (uint32_t)c->o.n_batch;
    ls.n_threads = (uint32_t)c->o.n_threads;
    ls.wire_dtype = (Lp__HiddenDtype)c->o.wire_dtype;
    ls.next_endpoint = w->info.sends_to;
    ls.next_public_key = i + 1 < c->n_workers ? c->w[i + 1].pub : "";
    ls.prev_public_key = i > 0 ? c->w[i - 1].pub : "";
    ls.result_endpoint = w->info.result;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.request_id = *request_id = ++c->hb_seq;
    env.body_case = LP__ENVELOPE__BODY_LOAD_SHARD;
    env.load_shard = &ls;
    w->loaded = false;
    return lp_wire_send(w->ctl, NULL, &env, 5000, err) == 0 ? 0 : -1;
}

static void send_heartbeat(lp_cluster *c, cl_worker *w, int64_t now)
{
    Lp__Heartbeat hb = LP__HEARTBEAT__INIT;
    hb.seq = ++c->hb_seq;
    hb.sent_us = (uint64_t)now * 1000;
    Lp__Envelope env = LP__ENVELOPE__INIT;
    env.request_id = hb.seq;
    env.body_case = LP__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    lp_wire_send(w->ctl, NULL, &env, 0, NULL); /* a full queue is itself a sign */
}

static void reload(lp_cluster *c, int i, const char *what);

/* A worker lost (what: "no answer for 3.0 s", ...): every session in
 * flight waits for recovery or fails, naming it. */
static void lose_worker(lp_cluster *c, cl_worker *w, const char *what)
{
    char why[512];
    w->info.alive = false;
    w->loaded = false;
    c->ready = false;
    snprintf(why, sizeof why, "worker %s (%s, layers %d-%d) lost: %s", w->info.name,
             w->info.control, w->info.first, w->info.last - 1, what);
    if (!c->lost_since_ms) {
        c->lost_since_ms = lp_now_ms();
        snprintf(c->lost_why, sizeof c->lost_why, "%s", why);
    }
    cl_log(c, "%s", why);
    cl_interrupt_all(c, why);
    const int i = w->index;
    if (cl_promote_spare(c, i)) { /* the spare is reloaded, and the neighbours relinked */
        reload(c, i, "takes the layers");
        if (i > 0 && c->w[i - 1].info.alive)
            reload(c, i - 1, "sends to it");
        if (i + 1 < c->n_workers && c->w[i + 1].info.alive)
            reload(c, i + 1, "takes from it");
    }
}

bool cl_recovering(const lp_cluster *c, int64_t now)
{
    return !c->ready && c->lost_since_ms && now - c->lost_since_ms < c->o.recover_ms;
}

lp_pool_state lp_cluster_state(const lp_cluster *c, char *why, size_t cap)
{
    if (cap)
        why[0] = 0;
    if (c->ready)
        return LP_POOL_READY;
    if (!c->lost_since_ms)
        return LP_POOL_LOADING;
    if (cap)
        snprintf(why, cap, "%s", c->lost_why);
    return cl_recovering(c, lp_now_ms()) ? LP_POOL_RECOVERING : LP_POOL_DOWN;
}

const char *lp_pool_state_name(lp_pool_state s)
{
    static const char *const NAMES[] = {"ready", "loading", "recovering", "down"};
    return (unsigned)s < 4 ? NAMES[s] : "?";
}

int64_t cl_heartbeat_timer(void *cluster, int64_t now)
{
    lp_cluster *c = cluster;
    cl_check_deadlines(c, now);
    for (int i = 0; i < c->n_workers + c->n_spares; i++) {
        cl_worker *w = &c->w[i];
        send_heartbeat(c, w, now);
        if (i >= c->n_workers && w->info.alive && now - w->info.last_seen_ms > c->o.dead_after_ms) {
            w->info.alive = false; /* a spare: nothing waits on it */
            cl_log(c, "spare %s (%s) lost", w->info.name, w->info.control);
        } else if (w->info.alive && now - w->info.last_seen_ms > c->o.dead_after_ms) {
            char what[64];
            snprintf(what, sizeof what, "no answer for %.1f s",
                     (now - w->info.last_seen_ms) / 1000.0);
            lose_worker(c, w, what);
        }
    }
    return c->o.heartbeat_ms;
}

/* Load worker i's layers again (a worker holding them already keeps
 * them and only makes its links anew). */
static void reload(lp_cluster *c, int i, const char *what)
{
    cl_worker *w = &c->w[i];
    uint64_t id;
    if (w->info.last > w->info.first && !w->reloading && cl_send_load(c, i, &id, NULL) == 0) {
        w->reloading = true;
        cl_log(c, "worker %s (%s) %s: loading layers %d-%d on it", w->info.name,
                w->info.control, what, w->info.first, w->info.last - 1);
    }
}

/* Heard from a worker we had lost: it was restarted (it holds nothing) or
 * stalled (its sessions moved on): load it again. The worker before it
 * links to it anew: under CURVE the restarted one refused that link until
 * its load, and ZeroMQ does not try again after a refusal. */
static void revive(lp_cluster *c, int i)
{
    c->w[i].info.alive = true;
    reload(c, i, "answers again");
    if (i > 0 && c->w[i - 1].info.alive)
        reload(c, i - 1, "sends to it");
}

static void update_ready(lp_cluster *c)
{
    bool all = c->n_workers > 0;
    for (int i = 0; i < c->n_workers; i++)
        all = all && c->w[i].loaded && c->w[i].info.alive;
    c->ready = all;
    if (all)
        c->lost_since_ms = 0;
}

/* Another process answers on the worker's endpoint (restarted faster than
 * a heartbeat timeout): it holds nothing, so it is lost and loaded anew. */
static void check_incarnation(lp_cluster *c, int i, uint64_t incarnation)
{
    cl_worker *w = &c->w[i];
    if (incarnation && w->incarnation && incarnation != w->incarnation && i < c->n_workers) {
        lose_worker(c, w, "restarted (a new process answers)");
        revive(c, i);
    }
    if (incarnation)
        w->incarnation = incarnation;
}

/* A worker back, but refusing its layers (another model file on it now,
 * too little memory): said once per reason, tried again on each sign of
 * life. */
static void load_refused(lp_cluster *c, cl_worker *w, const char *msg)
{
    if (!strncmp(w->load_error, msg, sizeof w->load_error - 1))
        return;
    snprintf(w->load_error, sizeof w->load_error, "%s", msg);
    snprintf(c->lost_why, sizeof c->lost_why, "worker %.40s (%.60s) is back but refuses "
             "layers %d-%d of %.150s: %.150s", w->info.name, w->info.control, w->info.first,
             w->info.last - 1, w->from_shard ? "the shard sent to its cache" : w->model_path,
             msg);
    cl_log(c, "%s", c->lost_why);
}

void cl_on_control(lp_cluster *c, int i, const Lp__Envelope *env)
{
    cl_worker *w = &c->w[i];
    if (!w->info.alive)
        revive(c, i);
    switch (env->body_case) {
    case LP__ENVELOPE__BODY_SHARD_READY:
        w->loaded = true;
        w->reloading = false;
        w->load_error[0] = 0;
        update_ready(c);
        break;
    case LP__ENVELOPE__BODY_STATS:
        w->info.bytes_in = env->stats->bytes_in;
        w->info.bytes_out = env->stats->bytes_out;
        w->info.decode_bytes_out = env->stats->decode_bytes_out;
        w->info.decode_msgs_out = env->stats->decode_msgs_out;
        w->info.batches = env->stats->batches;
        w->info.batched_steps = env->stats->batched_steps;
        w->info.refused = env->stats->refused;
        w->info.busy_us = env->stats->compute_us;
        w->info.sessions_open = env->stats->sessions_open;
        w->info.kv_bytes_used = env->stats->kv_bytes_used;
        w->info.kv_bytes_reserved = env->stats->kv_bytes_reserved;
        break;
    case LP__ENVELOPE__BODY_ERROR:
        if (w->reloading) { /* the reload failed: try again on the next sign of life */
            w->reloading = false;
            w->info.alive = false;
            load_refused(c, w, env->error->message);
        }
        break;
    case LP__ENVELOPE__BODY_OK: /* an EndSession done: its slot is free */
        cl_on_end_ack(c, i, env->request_id);
        break;
    case LP__ENVELOPE__BODY_HEARTBEAT:
        check_incarnation(c, i, env->heartbeat->incarnation);
        break;
    default: /* heartbeat replies: last_seen is enough */
        break;
    }
}

void lp_cluster_request_stats(lp_cluster *c)
{
    Lp__StatsRequest sr = LP__STATS_REQUEST__INIT;
    for (int i = 0; i < c->n_workers; i++) {
        if (!c->w[i].info.alive)
            continue;
        Lp__Envelope env = LP__ENVELOPE__INIT;
        env.request_id = ++c->hb_seq;
        env.body_case = LP__ENVELOPE__BODY_STATS_REQUEST;
        env.stats_request = &sr;
        lp_wire_send(c->w[i].ctl, NULL, &env, 0, NULL);
    }
}

int lp_cluster_refresh_stats(lp_cluster *c, lp_err *err)
{
    Lp__StatsRequest sr = LP__STATS_REQUEST__INIT;
    for (int i = 0; i < c->n_workers; i++) {
        Lp__Envelope env = LP__ENVELOPE__INIT;
        env.request_id = ++c->hb_seq;
        env.body_case = LP__ENVELOPE__BODY_STATS_REQUEST;
        env.stats_request = &sr;
        if (lp_wire_send(c->w[i].ctl, NULL, &env, 1000, err) != 0)
            return -1;
        int64_t deadline = lp_now_ms() + 2000;
        bool got = false;
        while (!got && lp_now_ms() < deadline) {
            Lp__Envelope *r;
            int rc = lp_wire_recv(c->w[i].ctl, NULL, &r, (int)(deadline - lp_now_ms()), err);
            if (rc < 0)
                return -1;
            if (rc > 0)
                break;
            c->w[i].info.last_seen_ms = lp_now_ms();
            got = r->request_id == env.request_id && r->body_case == LP__ENVELOPE__BODY_STATS;
            cl_on_control(c, i, r);
            lp_wire_env_free(r);
        }
        if (!got)
            return lp_err_set(err, "worker %s did not answer a stats request", c->w[i].info.name);
    }
    return 0;
}

bool lp_cluster_ready(const lp_cluster *c)
{
    return c->ready;
}
